/*
 * test_config.c: orchd's flags and YAML file (core/config.c): values read,
 * flags win over the file, malformed files refused with line and column.
 * Owns the temporary files it writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char *write_temp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/orchd-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_flags_are_read(void **state)
{
	(void)state;
	struct orchd_config cfg;
	config_defaults(&cfg);
	char *argv[] = { "orchd", "--plugins=/p", "--data-root", "/d", "-H", "unix:///tmp/x.sock", NULL };
	char err[256];
	assert_int_equal(config_parse_args(&cfg, 6, argv, err, sizeof(err)), 0);
	assert_string_equal(cfg.plugins, "/p");
	assert_string_equal(cfg.data_root, "/d");
	assert_string_equal(config_socket_path(&cfg), "/tmp/x.sock");
	assert_int_equal(config_check(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);
}

static void test_bad_flags_are_named(void **state)
{
	(void)state;
	struct orchd_config cfg;
	config_defaults(&cfg);
	char err[256];
	char *unknown[] = { "orchd", "--frobnicate", NULL };
	assert_int_equal(config_parse_args(&cfg, 2, unknown, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--frobnicate"));
	char *missing[] = { "orchd", "--data-root", NULL };
	assert_int_equal(config_parse_args(&cfg, 2, missing, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "data-root"));
	char *level[] = { "orchd", "--plugins", "/p", "--log-level", "loud", NULL };
	assert_int_equal(config_parse_args(&cfg, 5, level, err, sizeof(err)), 0);
	assert_int_equal(config_check(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "loud"));
	config_free(&cfg);
}

static void test_file_is_read_and_flags_win(void **state)
{
	(void)state;
	struct orchd_config cfg;
	config_defaults(&cfg);
	char *path = write_temp("# orchd\nplugins: /from-file\ndata-root: /file-root\nlog-level: debug\n");
	char err[256];
	assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), 0);
	char *argv[] = { "orchd", "--data-root", "/flag-root", NULL };
	assert_int_equal(config_parse_args(&cfg, 3, argv, err, sizeof(err)), 0);
	assert_string_equal(cfg.plugins, "/from-file");
	assert_string_equal(cfg.data_root, "/flag-root");
	assert_string_equal(cfg.log_level, "debug");
	unlink(path);
	config_free(&cfg);
}

static void test_malformed_file_names_line_and_column(void **state)
{
	(void)state;
	struct orchd_config cfg;
	config_defaults(&cfg);
	char err[256];
	char *path = write_temp("plugins: /p\ndata-root: [unclosed\n");
	assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line "));
	assert_non_null(strstr(err, "column "));
	unlink(path);
	path = write_temp("plugins: /p\ncolour: blue\n");
	assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 2"));
	assert_non_null(strstr(err, "colour"));
	unlink(path);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags_are_read),
		cmocka_unit_test(test_bad_flags_are_named),
		cmocka_unit_test(test_file_is_read_and_flags_win),
		cmocka_unit_test(test_malformed_file_names_line_and_column),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

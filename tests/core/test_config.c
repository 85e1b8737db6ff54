/*
 * test_config.c: orchd's flags and YAML file (core/config.c): values read,
 * flags win over the file, malformed files refused with line and column;
 * plugin options and transports from flags and from the file (old and new
 * forms of `plugins:`).
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

static void test_plugin_options_from_flags(void **state)
{
	(void)state;
	struct orchd_config cfg;
	config_defaults(&cfg);
	char err[256];
	char *argv[] = { "orchd", "--plugins", "/p", "--plugin-opt",
			 "docker.socket=unix:///run/other/docker.sock",
			 "--plugin-opt=docker.api=1.41", "--plugin-opt", "process.shim=/s=1", NULL };
	assert_int_equal(config_parse_args(&cfg, 8, argv, err, sizeof(err)), 0);
	assert_string_equal(config_plugin_options(&cfg, "docker"),
			    "{\"socket\":\"unix:///run/other/docker.sock\",\"api\":\"1.41\"}");
	assert_string_equal(config_plugin_options(&cfg, "process"), "{\"shim\":\"/s=1\"}");
	assert_string_equal(config_plugin_options(&cfg, "spread"), "{}");
	assert_int_equal(config_check(&cfg, err, sizeof(err)), 0);
	const char *bad[] = { "nodot=1", "docker.=x", ".key=x", "docker.key" };
	for (size_t i = 0; i < 4; i++) {
		char *one[] = { "orchd", "--plugin-opt", (char *)bad[i], NULL };
		assert_int_equal(config_parse_args(&cfg, 3, one, err, sizeof(err)), -1);
		assert_non_null(strstr(err, bad[i]));
		assert_non_null(strstr(err, "NAME.KEY=VALUE"));
	}
	config_free(&cfg);
}

static void test_plugin_transports_from_flags(void **state)
{
	(void)state;
	struct orchd_config cfg;
	config_defaults(&cfg);
	char err[256];
	assert_string_equal(cfg.plugin_transport, "ipc");
	char *argv[] = { "orchd", "--plugins", "/p", "--plugin-transport", "inproc",
			 "--plugin-transport", "docker=ipc", "--plugin-transport", "docker=inproc",
			 NULL };
	assert_int_equal(config_parse_args(&cfg, 9, argv, err, sizeof(err)), 0);
	assert_string_equal(cfg.plugin_transport, "inproc");
	assert_string_equal(json_string_value(json_object_get(cfg.plugin_transports, "docker")),
			    "inproc");
	assert_int_equal(config_check(&cfg, err, sizeof(err)), 0);
	char *bad[] = { "orchd", "--plugin-transport", "docker=tcp", NULL };
	assert_int_equal(config_parse_args(&cfg, 3, bad, err, sizeof(err)), 0);
	assert_int_equal(config_check(&cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid transport \"tcp\" for plugin \"docker\": inproc or ipc");
	config_free(&cfg);
}

static void test_plugin_settings_from_file(void **state)
{
	(void)state;
	struct orchd_config cfg;
	config_defaults(&cfg);
	char err[256];
	char *path = write_temp("plugin-dir: /p\nplugin-transport: inproc\nplugins:\n"
				"  docker:\n    socket: unix:///file.sock\n    api: \"1.41\"\n"
				"plugin-transports:\n  docker: inproc\n");
	assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), 0);
	unlink(path);
	char *argv[] = { "orchd", "--plugin-opt", "docker.socket=unix:///flag.sock", NULL };
	assert_int_equal(config_parse_args(&cfg, 3, argv, err, sizeof(err)), 0);
	assert_string_equal(cfg.plugins, "/p");
	assert_string_equal(cfg.plugin_transport, "inproc");
	assert_string_equal(config_plugin_options(&cfg, "docker"),
			    "{\"socket\":\"unix:///flag.sock\",\"api\":\"1.41\"}");
	assert_string_equal(json_string_value(json_object_get(cfg.plugin_transports, "docker")),
			    "inproc");
	assert_int_equal(config_check(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);

	/* The old form: plugins is the directory. */
	config_defaults(&cfg);
	path = write_temp("plugins: /old\n");
	assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), 0);
	unlink(path);
	assert_string_equal(cfg.plugins, "/old");
	assert_string_equal(config_plugin_options(&cfg, "docker"), "{}");
	config_free(&cfg);

	const char *bad[][2] = {
		{ "plugins: [a, b]\n", "line 1" },
		{ "plugin-dir: /p\nplugins:\n  docker: unix:///x\n", "line 3" },
		{ "plugins:\n  docker:\n    socket: [a]\n", "docker: options must be KEY: VALUE" },
		{ "plugin-transports: ipc\n", "plugin-transports: want a mapping" },
		{ "plugin-opt: docker.a=b\n", "unknown key \"plugin-opt\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&cfg);
		path = write_temp(bad[i][0]);
		assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), -1);
		unlink(path);
		if (!strstr(err, bad[i][1]))
			fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i][0], err, bad[i][1]);
		config_free(&cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags_are_read),
		cmocka_unit_test(test_bad_flags_are_named),
		cmocka_unit_test(test_file_is_read_and_flags_win),
		cmocka_unit_test(test_malformed_file_names_line_and_column),
		cmocka_unit_test(test_plugin_options_from_flags),
		cmocka_unit_test(test_plugin_transports_from_flags),
		cmocka_unit_test(test_plugin_settings_from_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

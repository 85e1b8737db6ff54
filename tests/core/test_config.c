/*
 * test_config.c: orchd's flags and YAML file (core/config.c): values read,
 * flags win over the file, malformed files refused with line and column;
 * plugin options and transports from flags and from the file (old and new
 * forms of `plugins:`).
 * Owns its fixture (one config, defaults to free) and the temporary
 * files it writes.
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

struct fixture {
	struct orchd_config cfg;
	char err[256];
};

static int setup(void **state)
{
	static struct fixture f;
	config_defaults(&f.cfg);
	f.err[0] = '\0';
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	config_free(&f->cfg);
	return 0;
}

/* Back to the defaults, for a test that reads several configurations. */
static void reset(struct fixture *f)
{
	config_free(&f->cfg);
	config_defaults(&f->cfg);
}

static int parse(struct fixture *f, int argc, char **argv)
{
	return config_parse_args(&f->cfg, argc, argv, f->err, sizeof(f->err));
}

/* Loads text as the config file (a temporary file, gone on return). */
static int load_text(struct fixture *f, const char *text)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/orchd-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	int rc = config_load_file(&f->cfg, path, f->err, sizeof(f->err));
	unlink(path);
	return rc;
}

static void test_flags_are_read(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "orchd", "--plugins=/p", "--data-root", "/d", "-H", "unix:///tmp/x.sock", NULL };
	assert_int_equal(parse(f, 6, argv), 0);
	assert_string_equal(f->cfg.plugins, "/p");
	assert_string_equal(f->cfg.data_root, "/d");
	assert_string_equal(config_socket_path(&f->cfg), "/tmp/x.sock");
	assert_int_equal(config_check(&f->cfg, f->err, sizeof(f->err)), 0);
}

static void test_bad_flags_are_named(void **state)
{
	struct fixture *f = *state;
	char *unknown[] = { "orchd", "--frobnicate", NULL };
	assert_int_equal(parse(f, 2, unknown), -1);
	assert_non_null(strstr(f->err, "--frobnicate"));
	char *missing[] = { "orchd", "--data-root", NULL };
	assert_int_equal(parse(f, 2, missing), -1);
	assert_non_null(strstr(f->err, "data-root"));
	char *level[] = { "orchd", "--plugins", "/p", "--log-level", "loud", NULL };
	assert_int_equal(parse(f, 5, level), 0);
	assert_int_equal(config_check(&f->cfg, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "loud"));
}

static void test_file_is_read_and_flags_win(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load_text(f, "# orchd\nplugins: /from-file\ndata-root: /file-root\nlog-level: debug\n"), 0);
	char *argv[] = { "orchd", "--data-root", "/flag-root", NULL };
	assert_int_equal(parse(f, 3, argv), 0);
	assert_string_equal(f->cfg.plugins, "/from-file");
	assert_string_equal(f->cfg.data_root, "/flag-root");
	assert_string_equal(f->cfg.log_level, "debug");
}

static void test_malformed_file_names_line_and_column(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load_text(f, "plugins: /p\ndata-root: [unclosed\n"), -1);
	assert_non_null(strstr(f->err, "line "));
	assert_non_null(strstr(f->err, "column "));
	assert_int_equal(load_text(f, "plugins: /p\ncolour: blue\n"), -1);
	assert_non_null(strstr(f->err, "line 2"));
	assert_non_null(strstr(f->err, "colour"));
}

static void test_plugin_options_from_flags(void **state)
{
	struct fixture *f = *state;
	char *argv[] = { "orchd", "--plugins", "/p", "--plugin-opt",
			 "docker.socket=unix:///run/other/docker.sock",
			 "--plugin-opt=docker.api=1.41", "--plugin-opt", "process.shim=/s=1", NULL };
	assert_int_equal(parse(f, 8, argv), 0);
	assert_string_equal(config_plugin_options(&f->cfg, "docker"),
			    "{\"socket\":\"unix:///run/other/docker.sock\",\"api\":\"1.41\"}");
	assert_string_equal(config_plugin_options(&f->cfg, "process"), "{\"shim\":\"/s=1\"}");
	assert_string_equal(config_plugin_options(&f->cfg, "spread"), "{}");
	assert_int_equal(config_check(&f->cfg, f->err, sizeof(f->err)), 0);
	const char *bad[] = { "nodot=1", "docker.=x", ".key=x", "docker.key" };
	for (size_t i = 0; i < 4; i++) {
		char *one[] = { "orchd", "--plugin-opt", (char *)bad[i], NULL };
		assert_int_equal(parse(f, 3, one), -1);
		assert_non_null(strstr(f->err, bad[i]));
		assert_non_null(strstr(f->err, "NAME.KEY=VALUE"));
	}
}

static void test_plugin_transports_from_flags(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(f->cfg.plugin_transport, "ipc");
	char *argv[] = { "orchd", "--plugins", "/p", "--plugin-transport", "inproc",
			 "--plugin-transport", "docker=ipc", "--plugin-transport", "docker=inproc",
			 NULL };
	assert_int_equal(parse(f, 9, argv), 0);
	assert_string_equal(f->cfg.plugin_transport, "inproc");
	assert_string_equal(json_string_value(json_object_get(f->cfg.plugin_transports, "docker")),
			    "inproc");
	assert_int_equal(config_check(&f->cfg, f->err, sizeof(f->err)), 0);
	char *bad[] = { "orchd", "--plugin-transport", "docker=tcp", NULL };
	assert_int_equal(parse(f, 3, bad), 0);
	assert_int_equal(config_check(&f->cfg, f->err, sizeof(f->err)), -1);
	assert_string_equal(f->err, "invalid transport \"tcp\" for plugin \"docker\": inproc or ipc");
}

static void test_plugin_settings_from_file(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load_text(f, "plugin-dir: /p\nplugin-transport: inproc\nplugins:\n"
				"  docker:\n    socket: unix:///file.sock\n    api: \"1.41\"\n"
				"plugin-transports:\n  docker: inproc\n"), 0);
	char *argv[] = { "orchd", "--plugin-opt", "docker.socket=unix:///flag.sock", NULL };
	assert_int_equal(parse(f, 3, argv), 0);
	assert_string_equal(f->cfg.plugins, "/p");
	assert_string_equal(f->cfg.plugin_transport, "inproc");
	assert_string_equal(config_plugin_options(&f->cfg, "docker"),
			    "{\"socket\":\"unix:///flag.sock\",\"api\":\"1.41\"}");
	assert_string_equal(json_string_value(json_object_get(f->cfg.plugin_transports, "docker")),
			    "inproc");
	assert_int_equal(config_check(&f->cfg, f->err, sizeof(f->err)), 0);

	/* The old form: plugins is the directory. */
	reset(f);
	assert_int_equal(load_text(f, "plugins: /old\n"), 0);
	assert_string_equal(f->cfg.plugins, "/old");
	assert_string_equal(config_plugin_options(&f->cfg, "docker"), "{}");

	const char *bad[][2] = {
		{ "plugins: [a, b]\n", "line 1" },
		{ "plugin-dir: /p\nplugins:\n  docker: unix:///x\n", "line 3" },
		{ "plugins:\n  docker:\n    socket: [a]\n", "docker: options must be KEY: VALUE" },
		{ "plugin-transports: ipc\n", "plugin-transports: want a mapping" },
		{ "plugin-opt: docker.a=b\n", "unknown key \"plugin-opt\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reset(f);
		assert_int_equal(load_text(f, bad[i][0]), -1);
		if (!strstr(f->err, bad[i][1]))
			fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i][0], f->err, bad[i][1]);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_flags_are_read),
		T(test_bad_flags_are_named),
		T(test_file_is_read_and_flags_win),
		T(test_malformed_file_names_line_and_column),
		T(test_plugin_options_from_flags),
		T(test_plugin_transports_from_flags),
		T(test_plugin_settings_from_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_fsutil.c: core/util/fsutil.c on a real temporary directory: mkdir -p
 * makes every level and says which one failed, files are written atomically
 * with their mode and read back whole, errors name the path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fsutil.h"
#include "test_common.h"

static char root[64];

static int make_root(void **state)
{
	(void)state;
	return test_tmpdir_make(root, sizeof(root), "fsutil");
}

static int remove_root(void **state)
{
	(void)state;
	return test_tmpdir_remove(root);
}

static void test_mkdir_p_makes_every_level(void **state)
{
	(void)state;
	char path[128], err[256] = "";
	snprintf(path, sizeof(path), "%s/a/b/c/", root);
	assert_int_equal(util_mkdir_p(path, 0700, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(util_mkdir_p(path, 0700, err, sizeof(err)), 0); /* again: fine */
}

static void test_mkdir_p_names_what_failed(void **state)
{
	(void)state;
	char file[128], path[160], err[256] = "";
	snprintf(file, sizeof(file), "%s/plain", root);
	assert_int_equal(util_write_file(file, "x", 0600, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/sub", file);
	assert_int_equal(util_mkdir_p(path, 0700, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "Not a directory"));
	assert_int_equal(util_mkdir_p("", 0700, err, sizeof(err)), -1);
}

static void test_write_then_read(void **state)
{
	(void)state;
	char path[128], err[256] = "";
	snprintf(path, sizeof(path), "%s/key.pem", root);
	assert_int_equal(util_write_file(path, "secret\n", 0600, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char *text = util_read_file(path, err, sizeof(err));
	assert_non_null(text);
	assert_string_equal(text, "secret\n");
	free(text);
	char tmp[140];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1); /* renamed, not left behind */
}

static void test_read_missing_names_it(void **state)
{
	(void)state;
	char path[128], err[256] = "";
	snprintf(path, sizeof(path), "%s/none", root);
	assert_null(util_read_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_int_equal(util_write_file("/proc/orchd-no/x", "x", 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/proc/orchd-no/x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mkdir_p_makes_every_level),
		cmocka_unit_test(test_mkdir_p_names_what_failed),
		cmocka_unit_test(test_write_then_read),
		cmocka_unit_test(test_read_missing_names_it),
	};
	return cmocka_run_group_tests(tests, make_root, remove_root);
}

/*
 * test_common.c: the shared helpers of orchd's tests (test_common.h):
 * temporary directories, JSON fixtures, a stderr log, a clock. No state.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "test_common.h"

int test_tmpdir_make(char *dir, size_t len, const char *name)
{
	if ((size_t)snprintf(dir, len, "/tmp/orchd-%s-XXXXXX", name) >= len)
		return -1;
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int test_tmpdir_remove(const char *dir)
{
	if (dir[0] == '\0')
		return 0;
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

json_t *test_json(const char *text)
{
	json_error_t jerr;
	json_t *value = json_loads(text, 0, &jerr);

	if (value == NULL)
		fail_msg("bad test JSON: %s (%s)", jerr.text, text);
	return value;
}

const char *test_json_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

void test_log_stderr(enum orch_log_level level, const char *plugin_name,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "[%d %s] ", (int)level, plugin_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

long long test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

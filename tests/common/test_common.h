/*
 * test_common.h: what many of orchd's cmocka tests repeat, in one place:
 * a temporary directory and its removal, JSON fixtures from literal text,
 * a plugin's log lines on stderr, and a bound on every wait. Include it
 * after <cmocka.h>; link orchd_test_common. plugin_fixture.h (same
 * library) is a tiny orchd host for a plugin's tests.
 */
#ifndef TEST_COMMON_H
#define TEST_COMMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "orch_plugin.h"

/* Makes /tmp/orchd-<name>-XXXXXX into dir (size len); 0, or -1 (errno). */
int test_tmpdir_make(char *dir, size_t len, const char *name);
/* Removes dir and everything below it (links are not followed); 0 or
 * -1. An empty dir string is nothing to remove. */
int test_tmpdir_remove(const char *dir);

/* The JSON value of text; fails the test (naming the error) when text is
 * not JSON. Returns a new reference. */
json_t *test_json(const char *text);
/* The string at obj[key], or "" when absent or not a string. */
const char *test_json_str(json_t *obj, const char *key);

/* An orch_host log function: "[level plugin] line" on stderr. */
void test_log_stderr(enum orch_log_level level, const char *plugin_name,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Milliseconds on a monotonic clock. */
long long test_now_ms(void);

#endif

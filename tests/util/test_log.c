/*
 * test_log.c: the log line format of core/util/log.c: dockerd's text form
 * and JSON, RFC 3339 UTC time with microseconds, quoting, cutting long
 * messages, level and format names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "log.h"

/* 2026-12-04T16:50:01.123456Z */
#define AT_NS (1796403001LL * 1000000000LL + 123456789LL)

static void test_text_line(void **state)
{
	(void)state;
	char buf[512];
	size_t n = log_format_line(buf, sizeof(buf), LOG_FORMAT_TEXT, AT_NS, LOG_WARN,
				   "manager", "node abc is down");
	assert_string_equal(buf, "time=\"2026-12-04T16:50:01.123456Z\" level=warn "
				 "component=manager msg=\"node abc is down\"\n");
	assert_int_equal(n, strlen(buf));
}

static void test_json_line_parses(void **state)
{
	(void)state;
	char buf[512];
	log_format_line(buf, sizeof(buf), LOG_FORMAT_JSON, AT_NS, LOG_ERROR, NULL,
			"say \"hi\"\nback\\slash\ttab");
	json_error_t jerr;
	json_t *o = json_loads(buf, 0, &jerr);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "time")),
			    "2026-12-04T16:50:01.123456Z");
	assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
	assert_string_equal(json_string_value(json_object_get(o, "component")), "core");
	assert_string_equal(json_string_value(json_object_get(o, "msg")),
			    "say \"hi\"\nback\\slash\ttab");
	json_decref(o);
	assert_int_equal(buf[strlen(buf) - 1], '\n');
}

static void test_long_message_is_cut_and_ends_the_line(void **state)
{
	(void)state;
	char msg[300], buf[128];
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	size_t n = log_format_line(buf, sizeof(buf), LOG_FORMAT_JSON, AT_NS, LOG_INFO, "agent",
				   msg);
	assert_true(n < sizeof(buf));
	assert_int_equal(strlen(buf), n);
	assert_string_equal(buf + n - 3, "\"}\n");
}

static void test_names(void **state)
{
	(void)state;
	enum log_level level;
	enum log_format format;
	assert_int_equal(log_level_parse("debug", &level), 0);
	assert_int_equal(level, LOG_DEBUG);
	assert_int_equal(log_level_parse("verbose", &level), -1);
	assert_int_equal(log_format_parse("json", &format), 0);
	assert_int_equal(format, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("xml", &format), -1);
	log_configure(LOG_WARN, LOG_FORMAT_TEXT);
	assert_true(log_enabled(LOG_ERROR));
	assert_false(log_enabled(LOG_INFO));
	log_configure(LOG_INFO, LOG_FORMAT_TEXT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_line),
		cmocka_unit_test(test_json_line_parses),
		cmocka_unit_test(test_long_message_is_cut_and_ends_the_line),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

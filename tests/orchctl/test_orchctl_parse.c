/*
 * test_orchctl_parse.c: cmocka tests of orchctl/parse.c and
 * orchctl/format.c: for every parser the accepted forms with their exact
 * values and the rejected forms with their reasons (the service verbs'
 * flags and the cluster verbs': node update, swarm join); for the
 * formatters the docker-compatible output (ages, sizes, durations, tables).
 * No state beyond each test's locals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "parse.h"

/* A text the parser must refuse, and a word its reason must hold. */
struct refusal {
	const char *text;
	const char *reason;
};

/* Fails unless rc (the parser's result on bad->text) is a refusal whose
 * reason err holds bad->reason. */
static void expect_refused(int rc, const struct refusal *bad, const char *err)
{
	if (rc == 0)
		fail_msg("%s accepted", bad->text);
	if (strstr(err, bad->reason) == NULL)
		fail_msg("%s: reason '%s' lacks '%s'", bad->text, err, bad->reason);
}

struct i64_case {
	const char *text;
	int64_t value;
};

static void test_uint64(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	uint64_t v;
	assert_int_equal(parse_uint64("0", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_uint64("3", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 3);
	assert_int_equal(
		parse_uint64("18446744073709551615", &v, err, sizeof(err)), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_uint64("abc", &v, err, sizeof(err)), -1);
	assert_string_equal(err, "strconv.ParseUint: parsing \"abc\": invalid syntax");
	assert_int_equal(parse_uint64("-1", &v, err, sizeof(err)), -1);
	assert_string_equal(err, "strconv.ParseUint: parsing \"-1\": invalid syntax");
	assert_int_equal(
		parse_uint64("18446744073709551616", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "value out of range"));
	const char *bad[] = { "", " 1", "1 ", "1.5", "+1", "0x10", "1e3" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_uint64(bad[i], &v, err, sizeof(err)), -1);
}

static void test_duration_good(void **state)
{
	(void)state;
	static const struct i64_case good[] = {
		{ "0", 0 },
		{ "300ms", 300000000LL },
		{ "1.5s", 1500000000LL },
		{ "1m30s", 90000000000LL },
		{ "2h", 7200000000000LL },
		{ "10s", 10000000000LL },
		{ "1h2m3s4ms5us6ns", 3723004005006LL },
		{ "5\xc2\xb5s", 5000LL },
		{ "5\xce\xbcs", 5000LL },
		{ ".5s", 500000000LL },
		{ "1.s", 1000000000LL },
		{ "+5s", 5000000000LL },
		{ "0s", 0 },
		{ "2562047h", 2562047LL * 3600 * 1000000000LL },
		{ "0.000000001s", 1 },
	};
	char err[PARSE_ERR_LEN];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t ns = -1;
		if (parse_duration_ns(good[i].text, &ns, err, sizeof(err)) != 0)
			fail_msg("%s rejected: %s", good[i].text, err);
		if (ns != good[i].value)
			fail_msg("%s -> %lld, want %lld", good[i].text,
				 (long long)ns, (long long)good[i].value);
	}
}

static void test_duration_bad(void **state)
{
	(void)state;
	static const struct refusal bad[] = {
		{ "", "invalid duration" },
		{ "5", "missing unit" },
		{ "5x", "unknown unit \"x\"" },
		{ "1m30", "missing unit" },
		{ "-5s", "negative" },
		{ "s", "invalid duration" },
		{ "1..5s", "missing unit" },
		{ "3000000h", "out of range" },
		{ "5 s", "unknown unit \" s\"" },
		{ "abc", "invalid duration" },
		{ ".s", "invalid duration" },
	};
	char err[PARSE_ERR_LEN];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ns;
		expect_refused(parse_duration_ns(bad[i].text, &ns, err, sizeof(err)),
			       &bad[i], err);
	}
}

static void test_memory(void **state)
{
	(void)state;
	static const struct i64_case good[] = {
		{ "0", 0 },
		{ "1024", 1024 },
		{ "100b", 100 },
		{ "1k", 1024 },
		{ "1kb", 1024 },
		{ "1KiB", 1024 },
		{ "512m", 512LL << 20 },
		{ "512M", 512LL << 20 },
		{ "1g", 1LL << 30 },
		{ "1.5GiB", 3LL << 29 },
		{ "1.5g", 3LL << 29 },
		{ "2 GB", 2LL << 30 },
		{ "1t", 1LL << 40 },
		{ "1p", 1LL << 50 },
		{ "0.5k", 512 },
		{ "1 ", 1 },
	};
	char err[PARSE_ERR_LEN];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t bytes = -1;
		if (parse_memory_bytes(good[i].text, &bytes, err, sizeof(err)) != 0)
			fail_msg("%s rejected: %s", good[i].text, err);
		if (bytes != good[i].value)
			fail_msg("%s -> %lld, want %lld", good[i].text,
				 (long long)bytes, (long long)good[i].value);
	}
	const char *bad[] = { "",       "abc", "12q",      "-1m",
			      "1mm",    " 1",  "1  m",     "m",
			      "1.5.5m", "1x",  "9999999p", "1gib2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t bytes;
		if (parse_memory_bytes(bad[i], &bytes, err, sizeof(err)) == 0)
			fail_msg("%s accepted as %lld", bad[i], (long long)bytes);
	}
	int64_t bytes;
	parse_memory_bytes("12q", &bytes, err, sizeof(err));
	assert_string_equal(err, "invalid size: '12q'");
}

static void test_nano_cpus(void **state)
{
	(void)state;
	static const struct i64_case good[] = {
		{ "0.5", 500000000LL },
		{ "2", 2000000000LL },
		{ "1.25", 1250000000LL },
		{ "0.000000001", 1 },
		{ "0", 0 },
		{ ".5", 500000000LL },
		{ "1.0000000000", 1000000000LL },
		{ "16", 16000000000LL },
	};
	char err[PARSE_ERR_LEN];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t nano = -1;
		if (parse_nano_cpus(good[i].text, &nano, err, sizeof(err)) != 0)
			fail_msg("%s rejected: %s", good[i].text, err);
		if (nano != good[i].value)
			fail_msg("%s -> %lld, want %lld", good[i].text,
				 (long long)nano, (long long)good[i].value);
	}
	int64_t nano;
	assert_int_equal(parse_nano_cpus("0.0000000001", &nano, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "value is too precise");
	assert_int_equal(parse_nano_cpus("abc", &nano, err, sizeof(err)), -1);
	assert_string_equal(err, "failed to parse abc as a rational number");
	const char *bad[] = { "",    "-1", "1,5", "1.5.", "99999999999",
			      "1e3", " 1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_nano_cpus(bad[i], &nano, err, sizeof(err)) == 0)
			fail_msg("%s accepted", bad[i]);
	}
}

static void test_mode_and_restart_condition(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	enum parse_service_mode mode = PARSE_MODE_GLOBAL;
	assert_int_equal(parse_service_mode("replicated", &mode, err, sizeof(err)), 0);
	assert_int_equal(mode, PARSE_MODE_REPLICATED);
	assert_int_equal(parse_service_mode("global", &mode, err, sizeof(err)), 0);
	assert_int_equal(mode, PARSE_MODE_GLOBAL);
	assert_int_equal(parse_service_mode("Global", &mode, err, sizeof(err)), -1);
	assert_int_equal(
		parse_service_mode("replicated-job", &mode, err, sizeof(err)), -1);
	assert_int_equal(parse_service_mode("", &mode, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "replicated or global"));
	assert_int_equal(parse_restart_condition("none", err, sizeof(err)), 0);
	assert_int_equal(parse_restart_condition("on-failure", err, sizeof(err)), 0);
	assert_int_equal(parse_restart_condition("any", err, sizeof(err)), 0);
	assert_int_equal(parse_restart_condition("always", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "always"));
	assert_int_equal(parse_restart_condition("", err, sizeof(err)), -1);
}

static void test_constraint(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	const char *good[] = { "node.role==manager", "node.role!=worker",
			       "node.labels.zone == eu-1", "node.hostname==n1.example",
			       "engine.labels.os==linux" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (parse_constraint(good[i], err, sizeof(err)) != 0)
			fail_msg("%s rejected: %s", good[i], err);
	}
	assert_int_equal(parse_constraint("node.role=manager", err, sizeof(err)), -1);
	assert_string_equal(err, "constraint expected one operator from ==, !=");
	const char *bad[] = { "node.role", "==manager", "node.role==",
			      "a==b==c",   "a==b!=c",   "node role==x",
			      "a!=b!=c",   "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_constraint(bad[i], err, sizeof(err)) == 0)
			fail_msg("%s accepted", bad[i]);
	}
}

static void test_mount_good(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	struct parse_mount m;
	assert_int_equal(parse_mount("type=bind,source=/srv/data,target=/data,readonly",
				     &m, err, sizeof(err)),
			 0);
	assert_string_equal(m.type, "bind");
	assert_string_equal(m.source, "/srv/data");
	assert_string_equal(m.target, "/data");
	assert_true(m.readonly);
	parse_mount_free(&m);
	assert_int_equal(parse_mount("type=bind,src=/a,dst=/b,ro=false", &m,
				     err, sizeof(err)),
			 0);
	assert_false(m.readonly);
	assert_string_equal(m.source, "/a");
	assert_string_equal(m.target, "/b");
	parse_mount_free(&m);
	assert_int_equal(parse_mount("target=/cache", &m, err, sizeof(err)), 0);
	assert_string_equal(m.type, "volume");
	assert_null(m.source);
	parse_mount_free(&m);
	assert_int_equal(
		parse_mount("type=tmpfs,destination=/tmp", &m, err, sizeof(err)), 0);
	assert_string_equal(m.type, "tmpfs");
	parse_mount_free(&m);
}

static void test_mount_bad(void **state)
{
	(void)state;
	static const struct refusal bad[] = {
		{ "type=bind,target=/x", "source is required" },
		{ "type=bind,source=/a", "target is required" },
		{ "type=bind,source=rel,target=/x", "absolute" },
		{ "type=bind,source=/a,target=rel", "absolute" },
		{ "type=nfs,source=/a,target=/b", "invalid mount type" },
		{ "type=bind,source=/a,target=/b,color=red", "unexpected key 'color'" },
		{ "type=bind,source=/a,target=/b,readonly=maybe", "invalid value" },
		{ "bogus", "key=value" },
		{ "type=tmpfs,source=/a,target=/b", "tmpfs" },
		{ "", "target is required" },
	};
	char err[PARSE_ERR_LEN];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct parse_mount m;
		expect_refused(parse_mount(bad[i].text, &m, err, sizeof(err)),
			       &bad[i], err);
		assert_null(m.type);
	}
}

static void test_key_value_and_env(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	char *key, *value, *env;
	assert_int_equal(
		parse_key_value("tier=web", &key, &value, err, sizeof(err)), 0);
	assert_string_equal(key, "tier");
	assert_string_equal(value, "web");
	free(key);
	free(value);
	assert_int_equal(parse_key_value("a=b=c", &key, &value, err, sizeof(err)), 0);
	assert_string_equal(key, "a");
	assert_string_equal(value, "b=c");
	free(key);
	free(value);
	assert_int_equal(parse_key_value("flag", &key, &value, err, sizeof(err)), 0);
	assert_string_equal(key, "flag");
	assert_null(value);
	free(key);
	assert_int_equal(parse_key_value("=x", &key, &value, err, sizeof(err)), -1);
	assert_int_equal(parse_key_value("", &key, &value, err, sizeof(err)), -1);
	assert_int_equal(parse_key_value("a b=c", &key, &value, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "whitespace"));

	assert_int_equal(parse_env("A=1", &env, err, sizeof(err)), 0);
	assert_string_equal(env, "A=1");
	free(env);
	assert_int_equal(setenv("ORCHCTL_TEST_ENV", "from-env", 1), 0);
	assert_int_equal(parse_env("ORCHCTL_TEST_ENV", &env, err, sizeof(err)), 0);
	assert_string_equal(env, "ORCHCTL_TEST_ENV=from-env");
	free(env);
	assert_int_equal(unsetenv("ORCHCTL_TEST_ENV"), 0);
	assert_int_equal(parse_env("ORCHCTL_TEST_ENV", &env, err, sizeof(err)), 0);
	assert_string_equal(env, "ORCHCTL_TEST_ENV");
	free(env);
	assert_int_equal(parse_env("=1", &env, err, sizeof(err)), -1);
}

static void test_bool(void **state)
{
	(void)state;
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0",     "f",     "F",
					  "FALSE", "false", "False" };
	static const char *const bad[] = { "",  "yes",   "on", "tRUE",
					   "2", " true", "-1" };
	char err[PARSE_ERR_LEN];
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		bool v = false;
		assert_int_equal(parse_bool(yes[i], &v, err, sizeof(err)), 0);
		assert_true(v);
		v = true;
		assert_int_equal(parse_bool(no[i], &v, err, sizeof(err)), 0);
		assert_false(v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool v;
		if (parse_bool(bad[i], &v, err, sizeof(err)) == 0)
			fail_msg("'%s' accepted as a bool", bad[i]);
	}
	assert_int_equal(parse_bool("maybe", &(bool){ false }, err, sizeof(err)), -1);
	assert_string_equal(err, "strconv.ParseBool: parsing \"maybe\": invalid syntax");
}

static void test_update_enums_and_ratio(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	assert_int_equal(parse_failure_action("pause", err, sizeof(err)), 0);
	assert_int_equal(parse_failure_action("continue", err, sizeof(err)), 0);
	assert_int_equal(parse_failure_action("rollback", err, sizeof(err)), 0);
	assert_int_equal(parse_failure_action("Pause", err, sizeof(err)), -1);
	assert_string_equal(err,
			    "invalid failure action \"Pause\": must be pause, continue or "
			    "rollback");
	assert_int_equal(parse_update_order("stop-first", err, sizeof(err)), 0);
	assert_int_equal(parse_update_order("start-first", err, sizeof(err)), 0);
	assert_int_equal(parse_update_order("first", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid update order \"first\""));

	static const struct {
		const char *text;
		double value;
	} good[] = { { "0", 0 },    { "1", 1 },     { "0.25", 0.25 },
		     { ".5", 0.5 }, { "1.000", 1 }, { "-0", 0 },
		     { "0.1", 0.1 } };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		double v = -1;
		if (parse_failure_ratio(good[i].text, &v, err, sizeof(err)) != 0)
			fail_msg("%s rejected: %s", good[i].text, err);
		if (v != good[i].value)
			fail_msg("%s -> %g, want %g", good[i].text, v, good[i].value);
	}
	static const struct refusal bad[] = {
		{ "1.5", "between 0 and 1" },
		{ "2", "between 0 and 1" },
		{ "-0.1", "between 0 and 1" },
		{ "1.0000000000000000001", "between 0 and 1" },
		{ "abc", "invalid syntax" },
		{ "", "invalid syntax" },
		{ "0.5x", "invalid syntax" },
		{ "50%", "invalid syntax" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double v;
		expect_refused(parse_failure_ratio(bad[i].text, &v, err, sizeof(err)),
			       &bad[i], err);
	}
}

/* Splits text and compares with want (NULL-terminated). */
static void expect_words(const char *text, const char *const *want)
{
	char err[PARSE_ERR_LEN];
	char **words;
	size_t count, n = 0;
	if (parse_shell_words(text, &words, &count, err, sizeof(err)) != 0)
		fail_msg("[%s] rejected: %s", text, err);
	for (; want[n] != NULL; n++) {
		if (n >= count)
			fail_msg("[%s]: %zu words, want more", text, count);
		if (strcmp(words[n], want[n]) != 0)
			fail_msg("[%s] word %zu: [%s], want [%s]", text, n,
				 words[n], want[n]);
	}
	if (count != n)
		fail_msg("[%s]: %zu words, want %zu", text, count, n);
	parse_words_free(words, count);
}

static void test_shell_words(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	char **words = (char **)1;
	size_t count = 7;
	expect_words("", (const char *const[]){ NULL });
	expect_words("   \t ", (const char *const[]){ NULL });
	expect_words("sleep 100", (const char *const[]){ "sleep", "100", NULL });
	expect_words("  -g  'daemon off;' ",
		     (const char *const[]){ "-g", "daemon off;", NULL });
	expect_words("a\\ b \"c \\\"d\\\"\" 'e\\f'",
		     (const char *const[]){ "a b", "c \"d\"", "e\\f", NULL });
	expect_words("x''y \"\"", (const char *const[]){ "xy", "", NULL });
	expect_words("pre'quoted part'post",
		     (const char *const[]){ "prequoted partpost", NULL });
	assert_int_equal(parse_shell_words("echo 'open", &words, &count, err,
					   sizeof(err)),
			 -1);
	assert_string_equal(err, "EOF found when expecting closing quote");
	assert_null(words);
	assert_int_equal(count, 0);
	assert_int_equal(parse_shell_words("echo \"open", &words, &count, err,
					   sizeof(err)),
			 -1);
	assert_int_equal(parse_shell_words("trailing\\", &words, &count, err,
					   sizeof(err)),
			 -1);
	assert_string_equal(err, "EOF found after escape character");
}

static void test_scale_spec(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	char *name;
	uint64_t n;
	assert_int_equal(parse_scale_spec("web=3", &name, &n, err, sizeof(err)), 0);
	assert_string_equal(name, "web");
	assert_int_equal(n, 3);
	free(name);
	assert_int_equal(parse_scale_spec("web=0", &name, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(name);
	assert_int_equal(parse_scale_spec("web", &name, &n, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid scale specifier 'web'");
	assert_int_equal(parse_scale_spec("web=abc", &name, &n, err, sizeof(err)),
			 -1);
	assert_string_equal(err,
			    "invalid replicas value abc: strconv.ParseUint: parsing \"abc\": "
			    "invalid syntax");
	assert_null(name);
	const char *bad[] = { "=3", "web=", "web=-1", "web=1.5", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_scale_spec(bad[i], &name, &n, err, sizeof(err)) == 0)
			fail_msg("%s accepted", bad[i]);
	}
}

static void test_service_name(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	const char *good[] = { "web", "web-1", "a", "my_service", "W3b" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(parse_service_name(good[i], err, sizeof(err)), 0);
	char long_name[70];
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	const char *bad[] = { "",     "-web",  "web-",   "web.1",
			      "we b", "web/x", long_name };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_service_name(bad[i], err, sizeof(err)) == 0)
			fail_msg("%s accepted", bad[i]);
	}
}

static void test_task_filter(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	char *key, *value;
	assert_int_equal(parse_task_filter("desired-state=running", &key,
					   &value, err, sizeof(err)),
			 0);
	assert_string_equal(key, "desired-state");
	assert_string_equal(value, "running");
	free(key);
	free(value);
	assert_int_equal(
		parse_task_filter("node=n1", &key, &value, err, sizeof(err)), 0);
	free(key);
	free(value);
	assert_int_equal(parse_task_filter("desired-state=sleeping", &key,
					   &value, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "sleeping"));
	assert_int_equal(
		parse_task_filter("color=red", &key, &value, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid filter 'color'");
	assert_int_equal(
		parse_task_filter("running", &key, &value, err, sizeof(err)), -1);
	assert_string_equal(err, "bad format of filter (expected name=value)");
	assert_null(key);
}

static void test_node_availability_and_role(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	const char *availability[] = { "active", "pause", "drain" };
	for (size_t i = 0; i < sizeof(availability) / sizeof(availability[0]); i++)
		assert_int_equal(parse_node_availability(availability[i], err,
							 sizeof(err)),
				 0);
	assert_int_equal(parse_node_availability("paused", err, sizeof(err)), -1);
	assert_string_equal(err,
			    "invalid availability \"paused\", only active, pause and drain are "
			    "supported");
	const char *bad_availability[] = { "", "Active", "DRAIN", " active",
					   "active " };
	for (size_t i = 0;
	     i < sizeof(bad_availability) / sizeof(bad_availability[0]); i++) {
		if (parse_node_availability(bad_availability[i], err, sizeof(err)) == 0)
			fail_msg("availability '%s' accepted", bad_availability[i]);
	}
	assert_int_equal(parse_node_role("worker", err, sizeof(err)), 0);
	assert_int_equal(parse_node_role("manager", err, sizeof(err)), 0);
	assert_int_equal(parse_node_role("leader", err, sizeof(err)), -1);
	assert_string_equal(
		err, "invalid role \"leader\", only worker and manager are supported");
	assert_int_equal(parse_node_role("", err, sizeof(err)), -1);
	assert_int_equal(parse_node_role("Manager", err, sizeof(err)), -1);
}

static void test_label(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	char *key, *value;
	assert_int_equal(parse_label("zone=eu-1", &key, &value, err, sizeof(err)), 0);
	assert_string_equal(key, "zone");
	assert_string_equal(value, "eu-1");
	free(key);
	free(value);
	assert_int_equal(parse_label("ssd=", &key, &value, err, sizeof(err)), 0);
	assert_string_equal(key, "ssd");
	assert_string_equal(value, "");
	free(key);
	free(value);
	assert_int_equal(parse_label("a=b=c", &key, &value, err, sizeof(err)), 0);
	assert_string_equal(value, "b=c");
	free(key);
	free(value);
	assert_int_equal(parse_label("ssd", &key, &value, err, sizeof(err)), -1);
	assert_string_equal(err, "bad attribute format: ssd");
	assert_null(key);
	assert_null(value);
	assert_int_equal(parse_label("=x", &key, &value, err, sizeof(err)), -1);
	assert_string_equal(err, "empty key in '=x'");
	assert_int_equal(parse_label("a b=c", &key, &value, err, sizeof(err)), -1);
	assert_int_equal(parse_label("", &key, &value, err, sizeof(err)), -1);
}

static void test_host_port(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	const char *good[] = { "10.0.0.1:2377",  "manager-1:2377",
			       "[fd00::1]:2377", "h:1",
			       "h:65535",        "m.example.com:4000" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (parse_host_port(good[i], err, sizeof(err)) != 0)
			fail_msg("%s rejected: %s", good[i], err);
	}
	assert_int_equal(parse_host_port("10.0.0.1", err, sizeof(err)), -1);
	assert_string_equal(err, "missing port in address \"10.0.0.1\"");
	assert_int_equal(parse_host_port("h:65536", err, sizeof(err)), -1);
	assert_string_equal(
		err, "invalid port \"65536\" in \"h:65536\": must be 1 to 65535");
	assert_int_equal(parse_host_port(":2377", err, sizeof(err)), -1);
	assert_string_equal(err, "missing host in address \":2377\"");
	assert_int_equal(parse_host_port("fd00::1:2377", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many colons"));
	const char *bad[] = { "",          "h:",
			      "h:0",       "h:-1",
			      "h:2377x",   "h :2377",
			      "[fd00::1]", "[fd00::1]2377",
			      "[]:2377",   "[fd00::1:2377",
			      "h:+80" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_host_port(bad[i], err, sizeof(err)) == 0)
			fail_msg("'%s' accepted", bad[i]);
	}
}

static void test_join_token(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	const char *good = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx";
	assert_int_equal(parse_join_token(good, err, sizeof(err)), 0);
	assert_int_equal(parse_join_token("SWMTKN-1-a-b", err, sizeof(err)), 0);
	assert_int_equal(parse_join_token("swmtkn-1-a-b", err, sizeof(err)), -1);
	assert_string_equal(err, "invalid join token: must start with SWMTKN-1-");
	assert_int_equal(parse_join_token("SWMTKN-2-a-b", err, sizeof(err)), -1);
	assert_string_equal(err, "invalid join token: must start with SWMTKN-1-");
	assert_int_equal(parse_join_token("SWMTKN-1-abc", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "expected SWMTKN-1-<digest>-<secret>"));
	/* The secret is never echoed. */
	assert_null(strstr(err, "abc"));
	const char *bad[] = { "",
			      "SWMTKN-1-",
			      "SWMTKN-1--b",
			      "SWMTKN-1-a-",
			      "SWMTKN-1-a-b-c",
			      "SWMTKN-1-A-b",
			      "SWMTKN-1-a-b ",
			      "SWMTKN-1-a_b-c" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_join_token(bad[i], err, sizeof(err)) == 0)
			fail_msg("'%s' accepted", bad[i]);
	}
}

static void test_host(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	char *path;
	assert_int_equal(parse_host("unix:///run/orchd/orchd.sock", &path, err,
				    sizeof(err)),
			 0);
	assert_string_equal(path, "/run/orchd/orchd.sock");
	free(path);
	assert_int_equal(parse_host("tcp://1.2.3.4:2375", &path, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "only unix"));
	assert_int_equal(
		parse_host("unix://relative.sock", &path, err, sizeof(err)), -1);
	assert_int_equal(parse_host("/run/orchd.sock", &path, err, sizeof(err)), -1);
	char long_host[200] = "unix:///";
	memset(long_host + 8, 'a', 150);
	long_host[158] = '\0';
	assert_int_equal(parse_host(long_host, &path, err, sizeof(err)), -1);
}

static void test_rfc3339(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	int64_t t;
	assert_int_equal(
		parse_rfc3339("1970-01-01T00:00:00Z", &t, err, sizeof(err)), 0);
	assert_int_equal(t, 0);
	assert_int_equal(parse_rfc3339("2024-05-01T10:00:00.123456789Z", &t,
				       err, sizeof(err)),
			 0);
	assert_int_equal(t, 1714557600);
	assert_int_equal(
		parse_rfc3339("2024-05-01T12:00:00+02:00", &t, err, sizeof(err)), 0);
	assert_int_equal(t, 1714557600);
	assert_int_equal(
		parse_rfc3339("2024-05-01T08:30:00-01:30", &t, err, sizeof(err)), 0);
	assert_int_equal(t, 1714557600);
	const char *bad[] = { "",
			      "2024-05-01",
			      "2024-05-01T10:00:00",
			      "2024-13-01T10:00:00Z",
			      "2024-05-01T10:00:00.Z",
			      "2024-05-01 10:00:00Z",
			      "yesterday",
			      "2024-05-01T10:00:00Zjunk" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_rfc3339(bad[i], &t, err, sizeof(err)) == 0)
			fail_msg("%s accepted", bad[i]);
	}
}

static void test_format_human_duration(void **state)
{
	(void)state;
	static const struct {
		int64_t seconds;
		const char *text;
	} cases[] = {
		{ 0, "Less than a second" }, { 1, "1 second" },
		{ 59, "59 seconds" },        { 60, "About a minute" },
		{ 119, "About a minute" },   { 120, "2 minutes" },
		{ 3599, "59 minutes" },      { 3600, "About an hour" },
		{ 5399, "About an hour" },   { 5400, "2 hours" },
		{ 47 * 3600, "47 hours" },   { 48 * 3600, "2 days" },
		{ 14 * 86400, "2 weeks" },   { 60 * 86400, "2 months" },
		{ 800 * 86400, "2 years" },
	};
	char buf[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		format_human_duration(cases[i].seconds, buf, sizeof(buf));
		if (strcmp(buf, cases[i].text) != 0)
			fail_msg("%lld -> '%s', want '%s'",
				 (long long)cases[i].seconds, buf, cases[i].text);
	}
}

static void test_format_quantities(void **state)
{
	(void)state;
	char buf[64];
	format_bytes_size(512.0 * 1024 * 1024, buf, sizeof(buf));
	assert_string_equal(buf, "512MiB");
	format_bytes_size(1.5 * 1024 * 1024 * 1024, buf, sizeof(buf));
	assert_string_equal(buf, "1.5GiB");
	format_bytes_size(100, buf, sizeof(buf));
	assert_string_equal(buf, "100B");
	format_go_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	format_go_duration(500000000, buf, sizeof(buf));
	assert_string_equal(buf, "500ms");
	format_go_duration(90000000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "1m30s");
	format_go_duration(7200000000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "2h0m0s");
	format_go_duration(1500000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "1.5s");
	format_go_duration(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1.5\xc2\xb5s");
	format_nano_cpus(500000000, buf, sizeof(buf));
	assert_string_equal(buf, "0.5");
	format_nano_cpus(2000000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "2");
	format_nano_cpus(1250000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "1.25");
}

static void test_format_text(void **state)
{
	(void)state;
	char buf[128];
	format_id("0123456789abcdefghij", false, buf, sizeof(buf));
	assert_string_equal(buf, "0123456789ab");
	format_id("0123456789abcdefghij", true, buf, sizeof(buf));
	assert_string_equal(buf, "0123456789abcdefghij");
	format_capitalize("running", buf, sizeof(buf));
	assert_string_equal(buf, "Running");
	format_task_error("", false, buf, sizeof(buf));
	assert_string_equal(buf, "");
	format_task_error("No such image: nginx:nope-not-here", false, buf,
			  sizeof(buf));
	assert_string_equal(buf, "\"No such image: nginx:nope-not\xe2\x80\xa6\"");
	format_task_error("No such image: nginx:nope-not-here", true, buf,
			  sizeof(buf));
	assert_string_equal(buf, "\"No such image: nginx:nope-not-here\"");
	format_image("nginx:1.25@sha256:abcdef", false, buf, sizeof(buf));
	assert_string_equal(buf, "nginx:1.25");
	format_image("nginx:1.25@sha256:abcdef", true, buf, sizeof(buf));
	assert_string_equal(buf, "nginx:1.25@sha256:abcdef");
	assert_true(format_natural_cmp("web.2", "web.10") < 0);
	assert_true(format_natural_cmp("web.10", "web.9") > 0);
	assert_true(format_natural_cmp("api.1", "web.1") < 0);
	assert_int_equal(format_natural_cmp("web.1", "web.1"), 0);
	assert_true(format_natural_cmp("web", "web.1") < 0);
	assert_int_equal(format_text_width("a\xe2\x80\xa6"), 2);
}

static void test_format_table(void **state)
{
	(void)state;
	static const char *const titles[] = { "ID", "NAME", "PORTS" };
	static const char *const row1[] = { "abc", "a-rather-long-name", "" };
	static const char *const row2[] = { "d", NULL, "*:80->80/tcp" };
	struct format_table t;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(format_table_init(&t, 3, titles), 0);
	assert_int_equal(format_table_add(&t, row1), 0);
	assert_int_equal(format_table_add(&t, row2), 0);
	format_table_print(&t, out);
	fclose(out);
	/* Widths: max(10, widest + 3); the last column is not padded. */
	char want[256];
	snprintf(want, sizeof(want), "%-10s%-21s%s\n%-10s%-21s%s\n%-10s%-21s%s\n",
		 "ID", "NAME", "PORTS", "abc", "a-rather-long-name", "", "d",
		 "", "*:80->80/tcp");
	assert_string_equal(text, want);
	free(text);
	format_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint64),
		cmocka_unit_test(test_duration_good),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_nano_cpus),
		cmocka_unit_test(test_mode_and_restart_condition),
		cmocka_unit_test(test_constraint),
		cmocka_unit_test(test_mount_good),
		cmocka_unit_test(test_mount_bad),
		cmocka_unit_test(test_key_value_and_env),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_update_enums_and_ratio),
		cmocka_unit_test(test_shell_words),
		cmocka_unit_test(test_scale_spec),
		cmocka_unit_test(test_service_name),
		cmocka_unit_test(test_task_filter),
		cmocka_unit_test(test_node_availability_and_role),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_host_port),
		cmocka_unit_test(test_join_token),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_format_human_duration),
		cmocka_unit_test(test_format_quantities),
		cmocka_unit_test(test_format_text),
		cmocka_unit_test(test_format_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

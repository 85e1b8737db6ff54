/*
 * test_orchctl_spec.c: cmocka tests of orchctl/service_spec.c, the spec
 * changes of the flags `service create` and `service update` share: each
 * flag applied to a known ServiceSpec gives an exact spec; removals of
 * what is not there change nothing; bad values are refused with their
 * reason; --force counts up; the --update-* flags start from docker's
 * defaults. No state beyond each test's locals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "service_spec.h"

/* A replicated service's spec as the daemon returns it. */
static json_t *base_spec(void)
{
	json_t *spec = json_loads(
		"{\"Name\": \"web\", \"Labels\": {\"tier\": \"web\"},"
		" \"Mode\": {\"Replicated\": {\"Replicas\": 3}},"
		" \"TaskTemplate\": {\"ContainerSpec\": {\"Image\": \"/bin/sleep\","
		"   \"Args\": [\"100\"], \"Env\": [\"A=1\", \"B=2\", \"A=3\"]},"
		"   \"Placement\": {\"Constraints\": [\"node.role==manager\"]}}}",
		0, NULL);
	assert_non_null(spec);
	return spec;
}

static void apply_ok(json_t *spec, int flag, const char *value)
{
	char err[PARSE_ERR_LEN] = "";
	if (svcspec_apply(spec, flag, value, err, sizeof(err)) != 0)
		fail_msg("%s %s refused: %s", svcspec_flag_name(flag),
			 value ? value : "(none)", err);
}

/* A flag and its value, as given on the command line. */
struct flag_value {
	int flag;
	const char *value;
};

/* apply_ok of each row in order, up to the row whose flag is 0. */
static void apply_all(json_t *spec, const struct flag_value *rows)
{
	for (; rows->flag != 0; rows++)
		apply_ok(spec, rows->flag, rows->value);
}

/* apply_all of the rows given: APPLY_ALL(spec, { FLAG, "value" }, ...). */
#define APPLY_ALL(spec, ...) \
	apply_all((spec), (const struct flag_value[]){ __VA_ARGS__, { 0, NULL } })

/* Compares spec with the JSON text want. */
static void expect_spec(json_t *spec, const char *want_text)
{
	json_error_t jerr;
	json_t *want = json_loads(want_text, 0, &jerr);
	if (want == NULL)
		fail_msg("bad wanted JSON: %s", jerr.text);
	if (!json_equal(spec, want)) {
		char *got = json_dumps(spec, JSON_SORT_KEYS);
		char *wanted = json_dumps(want, JSON_SORT_KEYS);
		fail_msg("spec differs\n--- got ---\n%s\n--- want ---\n%s", got,
			 wanted);
	}
	json_decref(want);
}

static json_t *at(json_t *spec, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(spec, a);
	if (b != NULL)
		v = json_object_get(v, b);
	if (c != NULL)
		v = json_object_get(v, c);
	return v;
}

static void test_env_add_rm(void **state)
{
	(void)state;
	json_t *spec = base_spec();
	APPLY_ALL(spec, { SVCSPEC_ENV_ADD, "B=20" }, /* replaced in place */
		  { SVCSPEC_ENV_ADD, "C=30" },       /* appended */
		  { SVCSPEC_ENV_RM, "A" });          /* every A goes */
	expect_spec(at(spec, "TaskTemplate", "ContainerSpec", "Env"),
		    "[\"B=20\", \"C=30\"]");
	apply_ok(spec, SVCSPEC_ENV, "B=again"); /* create's --env appends */
	expect_spec(at(spec, "TaskTemplate", "ContainerSpec", "Env"),
		    "[\"B=20\", \"C=30\", \"B=again\"]");
	apply_ok(spec, SVCSPEC_ENV_RM, "B");
	apply_ok(spec, SVCSPEC_ENV_RM, "C");
	/* Emptied: the key goes, as if there never was an Env. */
	assert_null(at(spec, "TaskTemplate", "ContainerSpec", "Env"));
	json_decref(spec);
}

static void test_removing_nothing_changes_nothing(void **state)
{
	(void)state;
	json_t *spec = base_spec();
	json_t *copy = json_deep_copy(spec);
	APPLY_ALL(spec, { SVCSPEC_ENV_RM, "NOPE" }, { SVCSPEC_LABEL_RM, "nope" },
		  { SVCSPEC_CONTAINER_LABEL_RM, "nope" },
		  { SVCSPEC_CONSTRAINT_RM, "node.role==worker" },
		  { SVCSPEC_CONSTRAINT_ADD, "node.role==manager" }); /* already there */
	assert_true(json_equal(spec, copy));
	json_t *bare = json_pack("{s:{s:{s:s}}}", "TaskTemplate",
				 "ContainerSpec", "Image", "x");
	json_t *bare_copy = json_deep_copy(bare);
	APPLY_ALL(bare, { SVCSPEC_ENV_RM, "A" }, { SVCSPEC_CONTAINER_LABEL_RM, "a" },
		  { SVCSPEC_CONSTRAINT_RM, "a==b" }, { SVCSPEC_LABEL_RM, "a" });
	assert_true(json_equal(bare, bare_copy));
	json_decref(bare);
	json_decref(bare_copy);
	json_decref(spec);
	json_decref(copy);
}

static void test_labels_and_constraints(void **state)
{
	(void)state;
	json_t *spec = base_spec();
	APPLY_ALL(spec, { SVCSPEC_LABEL_ADD, "zone=eu" },
		  { SVCSPEC_LABEL_ADD, "flag" }, { SVCSPEC_LABEL_RM, "tier" });
	expect_spec(json_object_get(spec, "Labels"),
		    "{\"zone\": \"eu\", \"flag\": \"\"}");
	apply_ok(spec, SVCSPEC_CONTAINER_LABEL_ADD, "app=web");
	expect_spec(at(spec, "TaskTemplate", "ContainerSpec", "Labels"),
		    "{\"app\": \"web\"}");
	apply_ok(spec, SVCSPEC_CONTAINER_LABEL_RM, "app");
	assert_null(at(spec, "TaskTemplate", "ContainerSpec", "Labels"));
	apply_ok(spec, SVCSPEC_CONSTRAINT_ADD, "node.labels.zone == eu");
	expect_spec(at(spec, "TaskTemplate", "Placement", "Constraints"),
		    "[\"node.role==manager\", \"node.labels.zone == eu\"]");
	apply_ok(spec, SVCSPEC_CONSTRAINT_RM, "node.role==manager");
	apply_ok(spec, SVCSPEC_CONSTRAINT_RM, "node.labels.zone == eu");
	/* The emptied list and Placement go. */
	assert_null(at(spec, "TaskTemplate", "Placement", NULL));
	json_decref(spec);
}

static void test_image_args_replicas(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	json_t *spec = base_spec();
	APPLY_ALL(spec, { SVCSPEC_IMAGE, "/bin/sh" },
		  { SVCSPEC_ARGS, "-c 'echo hi; sleep 5'" },
		  { SVCSPEC_REPLICAS, "7" });
	expect_spec(at(spec, "TaskTemplate", "ContainerSpec", NULL),
		    "{\"Image\": \"/bin/sh\", \"Args\": [\"-c\", \"echo hi; sleep 5\"],"
		    " \"Env\": [\"A=1\", \"B=2\", \"A=3\"]}");
	assert_int_equal(
		json_integer_value(at(spec, "Mode", "Replicated", "Replicas")), 7);
	apply_ok(spec, SVCSPEC_ARGS, "");
	assert_null(at(spec, "TaskTemplate", "ContainerSpec", "Args"));
	assert_int_equal(svcspec_apply(spec, SVCSPEC_IMAGE, "", err, sizeof(err)),
			 -1);
	assert_string_equal(err, "image must not be empty");
	json_t *global = json_pack("{s:{s:{}}}", "Mode", "Global");
	assert_int_equal(
		svcspec_apply(global, SVCSPEC_REPLICAS, "2", err, sizeof(err)), -1);
	assert_string_equal(err, "replicas can only be used with replicated mode");
	json_decref(global);
	json_decref(spec);
}

static void test_force_and_rebalance(void **state)
{
	(void)state;
	char err[PARSE_ERR_LEN];
	json_t *spec = base_spec();
	apply_ok(spec, SVCSPEC_FORCE, NULL);
	assert_int_equal(
		json_integer_value(at(spec, "TaskTemplate", "ForceUpdate", NULL)), 1);
	apply_ok(spec, SVCSPEC_FORCE, "true");
	assert_int_equal(
		json_integer_value(at(spec, "TaskTemplate", "ForceUpdate", NULL)), 2);
	apply_ok(spec, SVCSPEC_FORCE, "false");
	assert_int_equal(
		json_integer_value(at(spec, "TaskTemplate", "ForceUpdate", NULL)), 2);
	assert_int_equal(
		svcspec_apply(spec, SVCSPEC_FORCE, "yes", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "strconv.ParseBool"));
	apply_ok(spec, SVCSPEC_REBALANCE, NULL);
	assert_true(json_is_true(json_object_get(spec, "OrchRebalance")));
	apply_ok(spec, SVCSPEC_REBALANCE, "false");
	assert_true(json_is_false(json_object_get(spec, "OrchRebalance")));
	apply_ok(spec, SVCSPEC_REBALANCE, "1");
	assert_true(json_is_true(json_object_get(spec, "OrchRebalance")));
	json_decref(spec);
}

static void test_update_config(void **state)
{
	(void)state;
	json_t *spec = base_spec();
	apply_ok(spec, SVCSPEC_UPDATE_DELAY, "10s");
	/* The other fields come from the defaults. */
	expect_spec(json_object_get(spec, "UpdateConfig"),
		    "{\"Parallelism\": 1, \"Delay\": 10000000000, \"FailureAction\": \"pause\","
		    " \"Monitor\": 5000000000, \"MaxFailureRatio\": 0.0,"
		    " \"Order\": \"stop-first\"}");
	APPLY_ALL(spec, { SVCSPEC_UPDATE_PARALLELISM, "0" },
		  { SVCSPEC_UPDATE_FAILURE_ACTION, "continue" },
		  { SVCSPEC_UPDATE_MONITOR, "1m" },
		  { SVCSPEC_UPDATE_MAX_FAILURE_RATIO, "0.5" },
		  { SVCSPEC_UPDATE_ORDER, "start-first" });
	expect_spec(json_object_get(spec, "UpdateConfig"),
		    "{\"Parallelism\": 0, \"Delay\": 10000000000, \"FailureAction\": \"continue\","
		    " \"Monitor\": 60000000000, \"MaxFailureRatio\": 0.5,"
		    " \"Order\": \"start-first\"}");
	/* An existing UpdateConfig is kept as it is. */
	json_t *other = json_pack("{s:{s:i}}", "UpdateConfig", "Parallelism", 4);
	assert_int_equal(svcspec_update_defaults(other), 0);
	expect_spec(other, "{\"UpdateConfig\": {\"Parallelism\": 4}}");
	apply_ok(other, SVCSPEC_UPDATE_ORDER, "stop-first");
	expect_spec(other,
		    "{\"UpdateConfig\": {\"Parallelism\": 4, \"Order\": \"stop-first\"}}");
	json_decref(other);
	json_decref(spec);
}

static void test_resources_and_restart(void **state)
{
	(void)state;
	json_t *spec = json_object();
	APPLY_ALL(spec, { SVCSPEC_RESERVE_CPU, "0.25" },
		  { SVCSPEC_RESERVE_MEMORY, "64m" }, { SVCSPEC_LIMIT_CPU, "2" },
		  { SVCSPEC_LIMIT_MEMORY, "1g" },
		  { SVCSPEC_RESTART_CONDITION, "none" },
		  { SVCSPEC_RESTART_DELAY, "2s" },
		  { SVCSPEC_RESTART_MAX_ATTEMPTS, "4" },
		  { SVCSPEC_RESTART_WINDOW, "1m" },
		  { SVCSPEC_STOP_GRACE_PERIOD, "3s" },
		  { SVCSPEC_RUNTIME, "process" },
		  { SVCSPEC_MOUNT, "type=bind,src=/a,dst=/b,ro" });
	expect_spec(spec,
		    "{\"TaskTemplate\": {"
		    "  \"Resources\": {\"Reservations\": {\"NanoCPUs\": 250000000,"
		    "     \"MemoryBytes\": 67108864},"
		    "   \"Limits\": {\"NanoCPUs\": 2000000000, \"MemoryBytes\": 1073741824}},"
		    "  \"RestartPolicy\": {\"Condition\": \"none\", \"Delay\": 2000000000,"
		    "   \"MaxAttempts\": 4, \"Window\": 60000000000},"
		    "  \"Runtime\": \"process\","
		    "  \"ContainerSpec\": {\"StopGracePeriod\": 3000000000,"
		    "   \"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/a\", \"Target\": \"/b\","
		    "     \"ReadOnly\": true}]}}}");
	json_decref(spec);
}

static void test_refusals(void **state)
{
	(void)state;
	static const struct {
		int flag;
		const char *value;
		const char *reason;
	} bad[] = {
		{ SVCSPEC_ENV_ADD, "=1", "empty key" },
		{ SVCSPEC_ENV_RM, "A=1", "expected a key without '='" },
		{ SVCSPEC_ENV_RM, "", "empty key" },
		{ SVCSPEC_LABEL_RM, "a b", "whitespace" },
		{ SVCSPEC_CONTAINER_LABEL_ADD, "=v", "empty key" },
		{ SVCSPEC_CONSTRAINT_ADD, "node.role=manager", "one operator" },
		{ SVCSPEC_CONSTRAINT_RM, "nonsense", "one operator" },
		{ SVCSPEC_ARGS, "echo 'half", "closing quote" },
		{ SVCSPEC_REPLICAS, "-1", "invalid syntax" },
		{ SVCSPEC_REPLICAS, "9223372036854775808", "out of range" },
		{ SVCSPEC_RESERVE_MEMORY, "12q", "invalid size" },
		{ SVCSPEC_LIMIT_CPU, "lots", "rational number" },
		{ SVCSPEC_RESTART_CONDITION, "always", "invalid restart condition" },
		{ SVCSPEC_RESTART_MAX_ATTEMPTS, "x", "invalid syntax" },
		{ SVCSPEC_UPDATE_PARALLELISM, "-2", "invalid syntax" },
		{ SVCSPEC_UPDATE_DELAY, "10", "missing unit" },
		{ SVCSPEC_UPDATE_MONITOR, "-5s", "negative" },
		{ SVCSPEC_UPDATE_FAILURE_ACTION, "explode", "invalid failure action" },
		{ SVCSPEC_UPDATE_MAX_FAILURE_RATIO, "1.5", "between 0 and 1" },
		{ SVCSPEC_UPDATE_ORDER, "random", "invalid update order" },
		{ SVCSPEC_REBALANCE, "maybe", "ParseBool" },
		{ SVCSPEC_RUNTIME, "Bad Name", "runtime names" },
		{ SVCSPEC_MOUNT, "type=bind,target=/x", "source is required" },
		{ SVCSPEC_IMAGE, NULL, "a value is required" },
		{ SVCSPEC_FLAG_END, "x", "not a service spec flag" },
	};
	char err[PARSE_ERR_LEN];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (svcspec_check(bad[i].flag, bad[i].value, err, sizeof(err)) == 0)
			fail_msg("%s %s accepted",
				 svcspec_flag_name(bad[i].flag), bad[i].value);
		if (strstr(err, bad[i].reason) == NULL)
			fail_msg("%s %s: reason '%s' lacks '%s'",
				 svcspec_flag_name(bad[i].flag), bad[i].value,
				 err, bad[i].reason);
	}
	/* The replicas check needs the service: a scratch spec is replicated. */
	assert_int_equal(svcspec_check(SVCSPEC_REPLICAS, "2", err, sizeof(err)), 0);
}

static void test_flag_names(void **state)
{
	(void)state;
	assert_string_equal(svcspec_flag_name(SVCSPEC_ENV), "--env");
	assert_string_equal(svcspec_flag_name(SVCSPEC_CONTAINER_LABEL_RM),
			    "--container-label-rm");
	assert_string_equal(svcspec_flag_name(SVCSPEC_UPDATE_MAX_FAILURE_RATIO),
			    "--update-max-failure-ratio");
	assert_string_equal(svcspec_flag_name(SVCSPEC_FORCE), "--force");
	assert_string_equal(svcspec_flag_name('e'), "");
	for (int f = SVCSPEC_ENV; f < SVCSPEC_FLAG_END; f++) {
		const char *name = svcspec_flag_name(f);
		if (name == NULL || strncmp(name, "--", 2) != 0)
			fail_msg("flag %d has no name", f);
		assert_true(svcspec_is_removal(f) == (strstr(name, "-rm") != NULL));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_add_rm),
		cmocka_unit_test(test_removing_nothing_changes_nothing),
		cmocka_unit_test(test_labels_and_constraints),
		cmocka_unit_test(test_image_args_replicas),
		cmocka_unit_test(test_force_and_rebalance),
		cmocka_unit_test(test_update_config),
		cmocka_unit_test(test_resources_and_restart),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_flag_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

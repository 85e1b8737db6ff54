/*
 * test_spec.c: checks of user specs (core/spec.c): defaults filled, and
 * each bad input named in the error. Owns only its fixtures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "spec.h"

/* Runs spec_service_check on text; returns rc and leaves err. */
static int check(const char *text, char *err, size_t errlen, json_t **out)
{
	json_error_t jerr;
	json_t *spec = json_loads(text, 0, &jerr);
	assert_non_null(spec);
	int rc = spec_service_check(spec, err, errlen);
	if (out)
		*out = spec;
	else
		json_decref(spec);
	return rc;
}

static void expect_error(const char *text, const char *fragment)
{
	char err[512] = "";
	assert_int_equal(check(text, err, sizeof(err), NULL), -1);
	if (!strstr(err, fragment))
		fail_msg("error \"%s\" does not mention \"%s\"", err, fragment);
}

static void test_minimal_spec_gets_defaults(void **state)
{
	(void)state;
	char err[512];
	json_t *spec;
	assert_int_equal(check("{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx\"}}}",
			       err, sizeof(err), &spec), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(spec, "Mode"), "Replicated"), "Replicas")), 1);
	json_decref(spec);
}

static void test_bad_specs_are_named(void **state)
{
	(void)state;
	expect_error("{\"Name\":\"-bad\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}", "Name");
	expect_error("{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{}}}", "Image");
	expect_error("{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":-1}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}", "Replicas");
	expect_error("{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":\"3\"}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}", "Replicas");
	expect_error("{\"Name\":\"web\",\"Mode\":{\"Sharded\":{}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}", "unknown mode \"Sharded\"");
	expect_error("{\"Name\":\"web\",\"Mode\":{\"Global\":{},\"Replicated\":{}},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}", "mutually exclusive");
	expect_error("{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\",\"Env\":[1]}}}", "Env[0]");
	expect_error("{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"},\"Resources\":{\"Limits\":{\"MemoryBytes\":-5}}}}", "Limits.MemoryBytes");
	expect_error("{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"},\"RestartPolicy\":{\"Condition\":\"sometimes\"}}}", "Condition");
	expect_error("{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"},\"Placement\":{\"Constraints\":[\"node.color=red\"]}}}", "node.color=red");
	expect_error("{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"},\"Placement\":{\"Constraints\":[\"node.colour==red\"]}}}", "unknown key");
	expect_error("{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\",\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"rel\",\"Target\":\"/a\"}]}}}", "Mounts[0].Source");
}

static void test_constraints(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(spec_constraint_check("node.labels.zone==east", err, sizeof(err)), 0);
	assert_int_equal(spec_constraint_check("node.role != manager", err, sizeof(err)), 0);
	assert_int_equal(spec_constraint_check("node.labels.==x", err, sizeof(err)), -1);
}

static void test_node_specs(void **state)
{
	(void)state;
	char err[256];
	json_t *ok = json_pack("{s:s,s:s,s:{s:s}}", "Role", "worker", "Availability", "drain", "Labels", "a", "b");
	json_t *bad = json_pack("{s:s}", "Availability", "sleep");
	assert_int_equal(spec_node_check(ok, err, sizeof(err)), 0);
	assert_int_equal(spec_node_check(bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Availability"));
	json_decref(ok);
	json_decref(bad);
}

#define SPEC_WITH(extra) \
	"{\"Name\":\"web\"," extra ",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"x\"}}}"
#define TEMPLATE_WITH(extra) \
	"{\"Name\":\"web\",\"TaskTemplate\":{" extra ",\"ContainerSpec\":{\"Image\":\"x\"}}}"

static void test_update_config_is_checked(void **state)
{
	(void)state;
	char err[512];
	assert_int_equal(check(SPEC_WITH("\"OrchRebalance\":true,\"UpdateConfig\":{\"Parallelism\":0,\"Delay\":10000000000,"
					 "\"FailureAction\":\"rollback\",\"Monitor\":5000000000,\"MaxFailureRatio\":0.25,"
					 "\"Order\":\"start-first\"}"),
			       err, sizeof(err), NULL), 0);
	assert_int_equal(check(SPEC_WITH("\"UpdateConfig\":{\"MaxFailureRatio\":1}"), err, sizeof(err), NULL), 0);
	assert_int_equal(check(TEMPLATE_WITH("\"ForceUpdate\":3"), err, sizeof(err), NULL), 0);
	expect_error(SPEC_WITH("\"UpdateConfig\":[]"), "UpdateConfig: must be an object");
	/* Every optional object of the spec is refused when not one, by its path;
	 * the same members as objects pass. */
	const char *not_objects[][2] = {
		{ "\"Resources\":7", "TaskTemplate.Resources: must be an object" },
		{ "\"Resources\":{\"Limits\":[]}", "TaskTemplate.Resources.Limits: must be an object" },
		{ "\"Resources\":{\"Reservations\":\"x\"}", "TaskTemplate.Resources.Reservations: must be an object" },
		{ "\"RestartPolicy\":true", "TaskTemplate.RestartPolicy: must be an object" },
		{ "\"Placement\":[]", "TaskTemplate.Placement: must be an object" },
	};
	for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), TEMPLATE_WITH("%s"), not_objects[i][0]);
		expect_error(text, not_objects[i][1]);
	}
	assert_int_equal(check(TEMPLATE_WITH("\"Resources\":{\"Limits\":{},\"Reservations\":{}},"
					     "\"RestartPolicy\":{},\"Placement\":{}"),
			       err, sizeof(err), NULL), 0);
	expect_error(SPEC_WITH("\"UpdateConfig\":{\"Parallelism\":-1}"), "UpdateConfig.Parallelism: must be a non-negative integer");
	expect_error(SPEC_WITH("\"UpdateConfig\":{\"Delay\":\"10s\"}"), "UpdateConfig.Delay");
	expect_error(SPEC_WITH("\"UpdateConfig\":{\"Monitor\":-5}"), "UpdateConfig.Monitor");
	expect_error(SPEC_WITH("\"UpdateConfig\":{\"MaxFailureRatio\":1.5}"), "UpdateConfig.MaxFailureRatio: must be a number from 0 to 1");
	expect_error(SPEC_WITH("\"UpdateConfig\":{\"MaxFailureRatio\":\"0.1\"}"), "UpdateConfig.MaxFailureRatio");
	expect_error(SPEC_WITH("\"UpdateConfig\":{\"FailureAction\":\"retry\"}"),
		     "UpdateConfig.FailureAction: must be \"pause\", \"continue\" or \"rollback\"");
	expect_error(SPEC_WITH("\"UpdateConfig\":{\"Order\":\"random\"}"),
		     "UpdateConfig.Order: must be \"stop-first\" or \"start-first\"");
	expect_error(SPEC_WITH("\"OrchRebalance\":\"yes\""), "OrchRebalance: must be a boolean");
	expect_error(TEMPLATE_WITH("\"ForceUpdate\":-1"), "TaskTemplate.ForceUpdate: must be a non-negative integer");
	expect_error(TEMPLATE_WITH("\"ForceUpdate\":1.5"), "TaskTemplate.ForceUpdate");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_spec_gets_defaults),
		cmocka_unit_test(test_bad_specs_are_named),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_node_specs),
		cmocka_unit_test(test_update_config_is_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

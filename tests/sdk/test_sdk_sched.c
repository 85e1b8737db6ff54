/*
 * test_sdk_sched.c: cmocka tests of the SDK's scheduler helpers: decoding a
 * schedule request (defaults, strict types, errors naming the field),
 * constraint parsing and matching, node bookkeeping and reply building.
 *
 * State: none shared; every test builds its JSON from literal text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_sdk.h"

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *value = json_loads(text, 0, &jerr);

	if (value == NULL)
		fail_msg("bad test JSON: %s", jerr.text);
	return value;
}

static const char *full_request =
	"{\"v\":1,\"op\":\"schedule\","
	"\"nodes\":[{\"id\":\"n1\",\"hostname\":\"alpha\",\"role\":\"manager\","
	"\"state\":\"ready\",\"availability\":\"active\","
	"\"labels\":{\"zone\":\"eu\",\"disk\":\"ssd\"},"
	"\"runtimes\":[\"docker\",\"process\"],"
	"\"resources\":{\"nano_cpus\":4000000000,\"memory_bytes\":8192},"
	"\"reserved\":{\"nano_cpus\":1000000000,\"memory_bytes\":1024},"
	"\"tasks_total\":3,\"tasks_by_service\":{\"web\":2,\"db\":1},"
	"\"future_field\":true},"
	"{\"id\":\"n2\",\"state\":\"down\",\"availability\":\"drain\"}],"
	"\"tasks\":[{\"id\":\"t1\",\"service_id\":\"web\",\"runtime\":\"docker\","
	"\"constraints\":[\"node.labels.zone==eu\"],"
	"\"reservations\":{\"nano_cpus\":500000000,\"memory_bytes\":512}}]}";

static void test_decode_full(void **state)
{
	struct orch_sched_request req;
	struct orch_sched_node *n;
	char err[256] = "";
	json_t *json = parse(full_request);

	(void)state;
	assert_int_equal(orch_sched_request_decode(json, &req, err,
						   sizeof(err)),
			 0);
	json_decref(json); /* the decoded request keeps its own reference */
	assert_int_equal(req.n_nodes, 2);
	assert_int_equal(req.n_tasks, 1);
	n = &req.nodes[0];
	assert_string_equal(n->id, "n1");
	assert_string_equal(n->hostname, "alpha");
	assert_string_equal(n->role, "manager");
	assert_int_equal(n->n_labels, 2);
	assert_int_equal(n->n_runtimes, 2);
	assert_string_equal(n->runtimes[1], "process");
	assert_int_equal(n->resources.nano_cpus, 4000000000LL);
	assert_int_equal(n->reserved.memory_bytes, 1024);
	assert_int_equal(n->tasks_total, 3);
	assert_int_equal(orch_sched_node_service_tasks(n, "web"), 2);
	assert_int_equal(orch_sched_node_service_tasks(n, "db"), 1);
	assert_int_equal(orch_sched_node_service_tasks(n, "cache"), 0);
	assert_int_equal(orch_sched_node_free(n).nano_cpus, 3000000000LL);
	assert_int_equal(orch_sched_node_free(n).memory_bytes, 7168);
	assert_true(orch_sched_node_available(n));
	assert_true(orch_sched_node_offers_runtime(n, "docker"));
	assert_false(orch_sched_node_offers_runtime(n, "wasm"));
	/* no runtime named: the node's default, which it offers */
	assert_true(orch_sched_node_offers_runtime(n, ""));
	assert_true(orch_sched_node_offers_runtime(n, NULL));

	/* Defaults of the optional fields. */
	n = &req.nodes[1];
	assert_string_equal(n->hostname, "");
	assert_string_equal(n->role, "worker");
	assert_int_equal(n->n_labels, 0);
	assert_int_equal(n->n_runtimes, 0);
	assert_false(orch_sched_node_offers_runtime(n, ""));
	assert_int_equal(n->tasks_total, 0);
	assert_false(orch_sched_node_available(n));

	assert_string_equal(req.tasks[0].id, "t1");
	assert_string_equal(req.tasks[0].runtime, "docker");
	assert_int_equal(req.tasks[0].n_constraints, 1);
	assert_int_equal(req.tasks[0].reservations.memory_bytes, 512);
	orch_sched_request_free(&req);
	orch_sched_request_free(&req); /* twice is harmless */
}

/* Each bad request fails with an error naming the field. */
static void expect_decode_error(const char *text, const char *want)
{
	struct orch_sched_request req;
	char err[256] = "";
	json_t *json = parse(text);

	assert_int_equal(orch_sched_request_decode(json, &req, err,
						   sizeof(err)),
			 -1);
	json_decref(json);
	if (strcmp(err, want) != 0)
		fail_msg("request %s: error \"%s\", want \"%s\"", text, err,
			 want);
	assert_int_equal(req.n_nodes, 0);
	assert_null(req.nodes);
}

#define NODE_OK "\"id\":\"n\",\"state\":\"ready\",\"availability\":\"active\""
#define TASK_OK "\"id\":\"t\",\"service_id\":\"s\",\"runtime\":\"process\""

static void test_decode_errors(void **state)
{
	(void)state;
	expect_decode_error("{\"tasks\":[]}", "nodes: expected an array");
	expect_decode_error("{\"nodes\":[],\"tasks\":{}}",
			    "tasks: expected an array");
	expect_decode_error("{\"nodes\":[1],\"tasks\":[]}",
			    "nodes[0]: expected an object");
	expect_decode_error("{\"nodes\":[{" NODE_OK "},{\"id\":\"m\","
			    "\"availability\":\"active\"}],\"tasks\":[]}",
			    "nodes[1].state: missing");
	expect_decode_error("{\"nodes\":[{\"id\":5,\"state\":\"ready\","
			    "\"availability\":\"active\"}],\"tasks\":[]}",
			    "nodes[0].id: expected a string");
	expect_decode_error("{\"nodes\":[{" NODE_OK ",\"labels\":[]}],"
			    "\"tasks\":[]}",
			    "nodes[0].labels: expected an object");
	expect_decode_error("{\"nodes\":[{" NODE_OK ",\"labels\":{\"a\":1}}],"
			    "\"tasks\":[]}",
			    "nodes[0].labels: label values must be strings");
	expect_decode_error("{\"nodes\":[{" NODE_OK ",\"runtimes\":[\"a\",2]}"
			    "],\"tasks\":[]}",
			    "nodes[0].runtimes: expected an array of strings");
	expect_decode_error("{\"nodes\":[{" NODE_OK ",\"resources\":"
			    "{\"memory_bytes\":-1}}],\"tasks\":[]}",
			    "nodes[0].resources.memory_bytes: expected a "
			    "non-negative integer");
	expect_decode_error("{\"nodes\":[{" NODE_OK ",\"reserved\":"
			    "{\"nano_cpus\":1.5}}],\"tasks\":[]}",
			    "nodes[0].reserved.nano_cpus: expected a "
			    "non-negative integer");
	expect_decode_error("{\"nodes\":[{" NODE_OK ",\"tasks_total\":\"3\"}"
			    "],\"tasks\":[]}",
			    "nodes[0].tasks_total: expected an integer");
	expect_decode_error("{\"nodes\":[{" NODE_OK ",\"tasks_by_service\":"
			    "{\"s\":-2}}],\"tasks\":[]}",
			    "nodes[0].tasks_by_service: counts must be "
			    "non-negative integers");
	expect_decode_error("{\"nodes\":[],\"tasks\":[{\"id\":\"t\","
			    "\"service_id\":\"s\"}]}",
			    "tasks[0].runtime: missing");
	expect_decode_error("{\"nodes\":[],\"tasks\":[{" TASK_OK
			    ",\"constraints\":\"node.role==manager\"}]}",
			    "tasks[0].constraints: expected an array of "
			    "strings");
	expect_decode_error("{\"nodes\":[],\"tasks\":[{" TASK_OK
			    ",\"reservations\":7}]}",
			    "tasks[0].reservations: expected an object");
}

/* -------------------------------------------------------- constraints */

static struct orch_sched_node test_node(void)
{
	static struct orch_sched_label labels[] = {{"zone", "eu-West"},
						   {"Disk", "ssd"}};
	struct orch_sched_node node = {
		.id = "node-1",
		.hostname = "alpha",
		.role = "manager",
		.state = "ready",
		.availability = "active",
		.labels = labels,
		.n_labels = 2,
	};

	return node;
}

static bool matches(const char *expression)
{
	struct orch_sched_node node = test_node();
	struct orch_sched_constraint c;
	char err[256];

	if (orch_sched_constraint_parse(expression, &c, err, sizeof(err)))
		fail_msg("%s: %s", expression, err);
	return orch_sched_constraint_match(&c, &node);
}

static void test_constraint_match(void **state)
{
	(void)state;
	assert_true(matches("node.id==node-1"));
	assert_false(matches("node.id!=node-1"));
	assert_true(matches("node.hostname == alpha"));
	assert_true(matches("  node.hostname!=beta "));
	assert_true(matches("node.role==manager"));
	assert_false(matches("node.role==worker"));
	assert_true(matches("node.role!=worker"));
	/* Values ignore case; the "node." part of a key too. */
	assert_true(matches("node.labels.zone==eu-west"));
	assert_true(matches("Node.Labels.zone==EU-WEST"));
	assert_true(matches("NODE.ROLE==Manager"));
	/* Label names are case-sensitive; a missing label is "". */
	assert_true(matches("node.labels.Disk==ssd"));
	assert_false(matches("node.labels.disk==ssd"));
	assert_true(matches("node.labels.disk!=ssd"));
	assert_false(matches("node.labels.gpu==true"));
	assert_true(matches("node.labels.gpu!=true"));
}

static void expect_parse_error(const char *expression, const char *want)
{
	struct orch_sched_constraint c;
	char err[256] = "";

	assert_int_equal(orch_sched_constraint_parse(expression, &c, err,
						     sizeof(err)),
			 -1);
	if (strcmp(err, want) != 0)
		fail_msg("%s: error \"%s\", want \"%s\"", expression, err,
			 want);
}

static void test_constraint_errors(void **state)
{
	(void)state;
	expect_parse_error("node.role=manager",
			   "invalid constraint \"node.role=manager\": no "
			   "operator (== or !=)");
	expect_parse_error("node.platform==linux",
			   "invalid constraint \"node.platform==linux\": "
			   "unknown key \"node.platform\"");
	expect_parse_error("engine.labels.a==b",
			   "invalid constraint \"engine.labels.a==b\": unknown "
			   "key \"engine.labels.a\"");
	expect_parse_error("node.labels.==b",
			   "invalid constraint \"node.labels.==b\": unknown "
			   "key \"node.labels.\"");
	expect_parse_error("node.role==",
			   "invalid constraint \"node.role==\": missing or bad "
			   "value");
	expect_parse_error("node.role==a==b",
			   "invalid constraint \"node.role==a==b\": missing or "
			   "bad value");
}

static void test_constraints_of_task(void **state)
{
	const char *good[] = {"node.role==manager", "node.labels.zone!=us"};
	const char *bad[] = {"node.role==manager", "node.colour==red"};
	struct orch_sched_task task = {.id = "t", .constraints = good,
				       .n_constraints = 2};
	struct orch_sched_node node = test_node();
	char err[256] = "";
	bool match = false;

	(void)state;
	assert_int_equal(orch_sched_constraints_match(&task, &node, &match,
						      err, sizeof(err)),
			 0);
	assert_true(match);
	node.role = "worker";
	assert_int_equal(orch_sched_constraints_match(&task, &node, &match,
						      err, sizeof(err)),
			 0);
	assert_false(match);
	task.constraints = bad;
	assert_int_equal(orch_sched_constraints_match(&task, &node, &match,
						      err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "node.colour==red"));
}

/* ---------------------------------------------------- bookkeeping, reply */

static void test_commit(void **state)
{
	struct orch_sched_request req;
	struct orch_sched_node *n;
	struct orch_sched_task task = {.id = "x", .service_id = "s0",
				       .runtime = "docker"};
	char err[256], service[8][8];
	json_t *json = parse(full_request);
	int i;

	(void)state;
	assert_int_equal(orch_sched_request_decode(json, &req, err,
						   sizeof(err)),
			 0);
	json_decref(json);
	n = &req.nodes[0];
	assert_int_equal(orch_sched_node_commit(n, &req.tasks[0]), 0);
	assert_int_equal(orch_sched_node_service_tasks(n, "web"), 3);
	assert_int_equal(n->tasks_total, 4);
	assert_int_equal(n->reserved.nano_cpus, 1500000000LL);
	assert_int_equal(n->reserved.memory_bytes, 1536);
	/* New services grow the table past its decoded size. */
	for (i = 0; i < 8; i++) {
		snprintf(service[i], sizeof(service[i]), "s%d", i);
		task.service_id = service[i];
		assert_int_equal(orch_sched_node_commit(n, &task), 0);
		assert_int_equal(orch_sched_node_commit(n, &task), 0);
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(orch_sched_node_service_tasks(n, service[i]),
				 2);
	assert_int_equal(n->tasks_total, 20);
	/* Over-reserved nodes have no room, never negative room. */
	n->reserved.memory_bytes = 1 << 20;
	assert_int_equal(orch_sched_node_free(n).memory_bytes, 0);
	orch_sched_request_free(&req);
}

static void test_reply(void **state)
{
	json_t *reply = orch_sched_reply_new(), *entry;

	(void)state;
	assert_int_equal(orch_sched_reply_place(reply, "t1", "n1"), 0);
	assert_int_equal(
		orch_sched_reply_unplaced(reply, "t2", "no suitable node (%s)",
					  "x"),
		0);
	assert_int_equal(json_array_size(json_object_get(reply, "placements")),
			 1);
	entry = json_array_get(json_object_get(reply, "placements"), 0);
	assert_string_equal(
		json_string_value(json_object_get(entry, "node_id")), "n1");
	entry = json_array_get(json_object_get(reply, "unplaced"), 0);
	assert_string_equal(
		json_string_value(json_object_get(entry, "task_id")), "t2");
	assert_string_equal(json_string_value(json_object_get(entry, "error")),
			    "no suitable node (x)");
	json_decref(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_full),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_constraint_match),
		cmocka_unit_test(test_constraint_errors),
		cmocka_unit_test(test_constraints_of_task),
		cmocka_unit_test(test_commit),
		cmocka_unit_test(test_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

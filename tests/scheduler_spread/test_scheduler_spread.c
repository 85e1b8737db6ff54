/*
 * test_scheduler_spread.c: cmocka tests of the "spread" scheduler plugin
 * (plugins/scheduler/spread/spread.c, linked into this test), driven
 * through its protocol: the test starts it with an orch_host on an
 * inproc:// URL and sends whole schedule requests with orch_sdk_client.
 *
 * State: one plugin instance and one client for the whole group (set up
 * and torn down by the group fixtures); each test builds its own request.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_sdk.h"
#include "test_common.h"

#define SPREAD_URL "inproc://test-scheduler-spread"
#define CALL_MS 10000
#define GiB (1024LL * 1024 * 1024)

static const struct orch_plugin *plugin;
static void *plugin_state;
static struct orch_sdk_client *client;

static void quiet_log(enum orch_log_level level, const char *name,
		      const char *fmt, ...)
{
	(void)level;
	(void)name;
	(void)fmt;
}

static int group_setup(void **state)
{
	struct orch_host host = {
		.version = ORCH_PLUGIN_ABI_VERSION,
		.plugin_name = "spread",
		.request_url = SPREAD_URL,
		.event_url = "inproc://test-scheduler-spread-events",
		.node_id = "n0",
		.data_dir = "/tmp",
		.config_json = "{}",
		.log = quiet_log,
	};
	char err[256];

	(void)state;
	plugin = orch_plugin_entry();
	if (plugin->kind != ORCH_PLUGIN_SCHEDULER ||
	    strcmp(plugin->name, "spread") != 0)
		return -1;
	if (plugin->init(&host, &plugin_state, err, sizeof(err)) != 0 ||
	    orch_sdk_client_open(SPREAD_URL, &client, err, sizeof(err)) != 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	orch_sdk_client_close(client);
	plugin->fini(plugin_state);
	return 0;
}

/* ------------------------------------------------------ request builder */

/* A ready, active worker offering "process" with 4 CPUs and 4 GiB. */
static json_t *node(const char *id)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{}, s:[s], "
			 "s:{s:I, s:I}, s:{s:I, s:I}, s:i, s:{}}",
			 "id", id, "hostname", id, "role", "worker", "state",
			 "ready", "availability", "active", "labels",
			 "runtimes", "process", "resources", "nano_cpus",
			 (json_int_t)4000000000LL, "memory_bytes",
			 (json_int_t)(4 * GiB), "reserved", "nano_cpus",
			 (json_int_t)0, "memory_bytes", (json_int_t)0,
			 "tasks_total", 0, "tasks_by_service");
}

static json_t *set(json_t *obj, const char *key, json_t *value)
{
	json_object_set_new(obj, key, value);
	return obj;
}

static json_t *with_label(json_t *n, const char *key, const char *value)
{
	json_object_set_new(json_object_get(n, "labels"), key,
			    json_string(value));
	return n;
}

static json_t *with_counts(json_t *n, int total, const char *service,
			   int count)
{
	set(n, "tasks_total", json_integer(total));
	json_object_set_new(json_object_get(n, "tasks_by_service"), service,
			    json_integer(count));
	return n;
}

static json_t *task(const char *id, const char *service)
{
	return json_pack("{s:s, s:s, s:s, s:[], s:{s:i, s:i}}", "id", id,
			 "service_id", service, "runtime", "process",
			 "constraints", "reservations", "nano_cpus", 0,
			 "memory_bytes", 0);
}

static json_t *with_constraint(json_t *t, const char *expression)
{
	json_array_append_new(json_object_get(t, "constraints"),
			      json_string(expression));
	return t;
}

static json_t *with_reservation(json_t *t, json_int_t cpus,
				json_int_t memory)
{
	return set(t, "reservations",
		   json_pack("{s:I, s:I}", "nano_cpus", cpus, "memory_bytes",
			     memory));
}

/* Sends {"op":"schedule","nodes":nodes,"tasks":tasks} (both stolen). */
static json_t *schedule(json_t *nodes, json_t *tasks)
{
	char err[256] = "";
	json_t *reply = NULL;

	if (orch_sdk_client_call(client,
				 json_pack("{s:s, s:o, s:o}", "op", "schedule",
					   "nodes", nodes, "tasks", tasks),
				 CALL_MS, &reply, err, sizeof(err)) != 0)
		fail_msg("schedule call: %s", err);
	return reply;
}

/* Where task_id went in reply: the node id, or "!<error>" if unplaced.
 * Checks that the task appears exactly once. Returns a static buffer. */
static const char *where(json_t *reply, const char *task_id)
{
	/* Each list of the reply, the field it gives and how it is shown. */
	static const struct {
		const char *list, *field, *prefix;
	} lists[] = {{"placements", "node_id", ""}, {"unplaced", "error", "!"}};
	static char buf[512];
	json_t *entry;
	size_t i, l;
	int seen = 0;

	buf[0] = '\0';
	for (l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
		json_array_foreach(json_object_get(reply, lists[l].list), i,
				   entry)
		{
			if (strcmp(test_json_str(entry, "task_id"), task_id))
				continue;
			snprintf(buf, sizeof(buf), "%s%s", lists[l].prefix,
				 test_json_str(entry, lists[l].field));
			seen++;
		}
	if (seen != 1)
		fail_msg("task %s appears %d times in the reply", task_id,
			 seen);
	return buf;
}

static void expect(json_t *reply, const char *task_id, const char *want)
{
	const char *got = where(reply, task_id);

	if (strcmp(got, want) != 0)
		fail_msg("task %s: got \"%s\", want \"%s\"", task_id, got,
			 want);
}

static size_t placed_count(json_t *reply)
{
	return json_array_size(json_object_get(reply, "placements"));
}

/* ------------------------------------------------------------ spreading */

static void test_spreads_replicas(void **state)
{
	json_t *tasks = json_array(), *reply;
	char id[8];
	int i;

	(void)state;
	for (i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "t%d", i);
		json_array_append_new(tasks, task(id, "web"));
	}
	reply = schedule(json_pack("[o,o,o]", node("n3"), node("n1"),
				   node("n2")),
			 tasks);
	/* Round robin in id order, since all counts start equal. */
	expect(reply, "t0", "n1");
	expect(reply, "t1", "n2");
	expect(reply, "t2", "n3");
	expect(reply, "t3", "n1");
	expect(reply, "t4", "n2");
	expect(reply, "t5", "n3");
	assert_int_equal(json_array_size(json_object_get(reply, "unplaced")),
			 0);
	assert_int_equal(json_integer_value(json_object_get(reply, "v")), 1);
	json_decref(reply);
}

static void test_fewest_of_service_then_total(void **state)
{
	json_t *reply;

	(void)state;
	reply = schedule(json_pack("[o,o,o]", with_counts(node("n1"), 5, "db", 5),
				   with_counts(node("n2"), 1, "web", 1),
				   with_counts(node("n3"), 2, "db", 2)),
			 json_pack("[o,o,o,o]", task("a", "web"),
				   task("b", "web"), task("c", "web"),
				   task("d", "db")));
	/* web: n1 and n3 have none; n3 has fewer tasks in all. */
	expect(reply, "a", "n3");
	/* n1 is the only node without web now. */
	expect(reply, "b", "n1");
	/* All have one web task; n2 has the fewest in total (1). */
	expect(reply, "c", "n2");
	/* db: n2 has none (n1 5, n3 2). */
	expect(reply, "d", "n2");
	json_decref(reply);
}

static void test_whole_batch_mixed_services(void **state)
{
	json_t *tasks = json_array(), *reply;
	char id[8];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "a%d", i);
		json_array_append_new(tasks, task(id, "svc-a"));
	}
	json_array_append_new(tasks, task("b0", "svc-b"));
	json_array_append_new(tasks, task("b1", "svc-b"));
	json_array_append_new(tasks, task("b2", "svc-b"));
	reply = schedule(json_pack("[o,o]", node("n1"), node("n2")), tasks);
	expect(reply, "a0", "n1");
	expect(reply, "a1", "n2");
	expect(reply, "a2", "n1");
	expect(reply, "a3", "n2");
	/* svc-b sees its own zero counts, then the totals (2 and 2). */
	expect(reply, "b0", "n1");
	expect(reply, "b1", "n2");
	expect(reply, "b2", "n1");
	assert_int_equal(placed_count(reply), 7);
	json_decref(reply);
}

/* ------------------------------------------------------------- filters */

static void test_skips_unavailable_nodes(void **state)
{
	json_t *reply;

	(void)state;
	reply = schedule(
		json_pack("[o,o,o,o]",
			  set(node("n1"), "availability", json_string("drain")),
			  set(node("n2"), "availability", json_string("pause")),
			  set(node("n3"), "state", json_string("down")),
			  node("n4")),
		json_pack("[o,o]", task("t1", "s"), task("t2", "s")));
	expect(reply, "t1", "n4");
	expect(reply, "t2", "n4");
	json_decref(reply);

	reply = schedule(
		json_pack("[o,o,o]",
			  set(node("n1"), "availability", json_string("drain")),
			  set(node("n2"), "availability", json_string("pause")),
			  set(node("n3"), "state", json_string("down"))),
		json_pack("[o]", task("t1", "s")));
	expect(reply, "t1",
	       "!no suitable node (3 nodes not available for new tasks)");
	json_decref(reply);
}

static void test_constraints(void **state)
{
	json_t *nodes, *reply;

	(void)state;
	nodes = json_pack("[o,o,o]",
			  with_label(set(node("n1"), "role",
					 json_string("manager")),
				     "zone", "eu"),
			  with_label(set(node("n2"), "hostname",
					 json_string("alpha")),
				     "zone", "us"),
			  node("n3"));
	reply = schedule(
		nodes,
		json_pack("[o,o,o,o,o,o,o,o]",
			  with_constraint(task("role-eq", "s"),
					  "node.role==manager"),
			  with_constraint(task("role-ne", "s2"),
					  "node.role!=manager"),
			  with_constraint(task("label", "s3"),
					  "node.labels.zone==us"),
			  with_constraint(task("host", "s4"),
					  "node.hostname==alpha"),
			  with_constraint(with_constraint(task("id-ne", "s5"),
							  "node.id!=n2"),
					  "node.id!=n1"),
			  with_constraint(task("nolabel", "s6"),
					  "node.labels.zone!=eu"),
			  with_constraint(task("bad", "s"),
					  "node.colour==red"),
			  with_constraint(task("none", "s"),
					  "node.labels.zone==asia")));
	expect(reply, "role-eq", "n1");
	expect(reply, "role-ne", "n2"); /* n2, n3 empty for s2: id order */
	expect(reply, "label", "n2");
	expect(reply, "host", "n2");
	expect(reply, "id-ne", "n3");
	/* n2 (us) and n3 (no label) qualify; n3 has fewer tasks (1 < 3). */
	expect(reply, "nolabel", "n3");
	expect(reply, "bad",
	       "!invalid constraint \"node.colour==red\": unknown key "
	       "\"node.colour\"");
	expect(reply, "none",
	       "!no suitable node (scheduling constraints not satisfied on 3 "
	       "nodes)");
	json_decref(reply);
}

static void test_reservations(void **state)
{
	json_t *small1, *small2, *reply;
	const json_int_t MiB = 1024 * 1024;

	(void)state;
	/* Two nodes with 1 GiB and 2 CPUs; n2 has 256 MiB reserved already. */
	small1 = node("n1");
	set(small1, "resources",
	    json_pack("{s:I, s:I}", "nano_cpus", (json_int_t)2000000000,
		      "memory_bytes", (json_int_t)GiB));
	small2 = json_deep_copy(small1);
	set(small2, "id", json_string("n2"));
	set(small2, "reserved",
	    json_pack("{s:I, s:I}", "nano_cpus", (json_int_t)0,
		      "memory_bytes", 256 * MiB));
	reply = schedule(
		json_pack("[o,o]", small1, small2),
		json_pack("[o,o,o,o,o]",
			  with_reservation(task("m1", "s"), 0, 600 * MiB),
			  with_reservation(task("m2", "s"), 0, 600 * MiB),
			  with_reservation(task("m3", "s"), 0, 600 * MiB),
			  with_reservation(task("c1", "t"), 3000000000LL, 0),
			  with_reservation(task("c2", "t"), 2000000000LL, 0)));
	/* m1 fills n1 to 600 MiB, m2 n2 to 856 MiB: m3 fits nowhere, which
	 * it would without counting the batch's own reservations. */
	expect(reply, "m1", "n1");
	expect(reply, "m2", "n2");
	expect(reply, "m3",
	       "!no suitable node (insufficient memory on 2 nodes)");
	expect(reply, "c1", "!no suitable node (insufficient cpu on 2 nodes)");
	/* Exactly the free CPU fits; both nodes hold one task: id order. */
	expect(reply, "c2", "n1");
	json_decref(reply);
}

/* The example of the brief: one node too small, two without the label. */
static void test_mixed_reasons(void **state)
{
	json_t *n1, *reply;

	(void)state;
	n1 = with_label(node("n1"), "zone", "eu");
	set(n1, "reserved",
	    json_pack("{s:I, s:I}", "nano_cpus", (json_int_t)0,
		      "memory_bytes", (json_int_t)(4 * GiB)));
	reply = schedule(json_pack("[o,o,o]", n1, node("n2"), node("n3")),
			 json_pack("[o]", with_reservation(
					 with_constraint(task("t", "s"),
							 "node.labels.zone==eu"),
					 0, 1024)));
	expect(reply, "t",
	       "!no suitable node (insufficient memory on 1 node; scheduling "
	       "constraints not satisfied on 2 nodes)");
	json_decref(reply);
}

static void test_runtime_filter(void **state)
{
	json_t *docker1, *docker2, *reply;

	(void)state;
	docker1 = set(node("n1"), "runtimes", json_pack("[s]", "docker"));
	docker2 = set(node("n2"), "runtimes", json_pack("[s]", "docker"));
	reply = schedule(json_pack("[o,o,o]", docker1, docker2, node("n3")),
			 json_pack("[o,o]", task("p", "s"),
				   set(task("d", "s"), "runtime",
				       json_string("docker"))));
	expect(reply, "p", "n3");
	expect(reply, "d", "n1");
	json_decref(reply);

	reply = schedule(
		json_pack("[o,o]",
			  set(node("n1"), "runtimes", json_pack("[s]", "docker")),
			  set(node("n2"), "runtimes", json_array())),
		json_pack("[o]", task("p", "s")));
	expect(reply, "p",
	       "!no suitable node (runtime process not offered by 2 nodes)");
	json_decref(reply);
}

/* ------------------------------------------------------------- protocol */

static void test_protocol_errors(void **state)
{
	char err[256] = "";
	json_t *reply;

	(void)state;
	reply = schedule(json_pack("[{s:s}]", "id", "n1"), json_array());
	assert_string_equal(
		json_string_value(json_object_get(reply, "error")),
		"bad schedule request: nodes[0].state: missing");
	json_decref(reply);

	reply = schedule(json_array(), json_pack("[o]", task("t", "s")));
	expect(reply, "t", "!no suitable node (no nodes)");
	json_decref(reply);

	assert_int_equal(orch_sdk_client_call(client,
					      json_pack("{s:s}", "op", "info"),
					      CALL_MS, &reply, err,
					      sizeof(err)),
			 0);
	assert_string_equal(json_string_value(json_object_get(reply, "kind")),
			    "scheduler");
	json_decref(reply);
	assert_int_equal(orch_sdk_client_call(client,
					      json_pack("{s:s}", "op", "start"),
					      CALL_MS, &reply, err,
					      sizeof(err)),
			 0);
	assert_string_equal(json_string_value(json_object_get(reply, "error")),
			    "scheduler spread does not know op \"start\"");
	json_decref(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spreads_replicas),
		cmocka_unit_test(test_fewest_of_service_then_total),
		cmocka_unit_test(test_whole_batch_mixed_services),
		cmocka_unit_test(test_skips_unavailable_nodes),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_reservations),
		cmocka_unit_test(test_mixed_reasons),
		cmocka_unit_test(test_runtime_filter),
		cmocka_unit_test(test_protocol_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

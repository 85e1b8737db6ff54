/*
 * test_examples.c: the example plugins driven as orchd drives them. Each
 * test is a tiny host: a temporary data dir, an nng PULL socket for events,
 * the plugin dlopened from the build (firstfit.so, child.so, skeleton.so:
 * the example
 * sources built by this directory's CMakeLists.txt), its init called with
 * a struct orch_host, and requests sent with orch_sdk_client_call.
 *
 * firstfit: first-fit placement, the filters and reasons of the SDK's
 * scheduler helper, info and unknown ops. child: real child processes
 * (sh, sleep) started, seen running, read, stopped (SIGTERM, SIGKILL after
 * the grace), listed and removed; refusals; its option. skeleton: the
 * same life of a task, how tasks end, refusals, fini. Every wait is for
 * an event, bounded; nothing sleeps. Teardown runs the plugin's fini,
 * which kills any task still running (children of this process), and
 * removes the data dir. State: one struct plugin_fixture
 * (tests/common) per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin_fixture.h"

#define WAIT_MS 10000

static int setup(void **state)
{
	struct plugin_fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fixture_open(f, "examples");
	f->host.node_id = "n0";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_close(*state); /* child.so's fini kills what still runs */
	free(*state);
	return 0;
}

/* Loads so_path (firstfit.so: a scheduler, else a runtime) and runs its
 * init with config; returns init's result (err holds the reason). */
static int host_load(struct plugin_fixture *f, const char *so_path,
		     const char *config, char *err, size_t errlen)
{
	fixture_load(f, so_path,
		     strcmp(so_path, FIRSTFIT_SO) == 0 ? ORCH_PLUGIN_SCHEDULER
						       : ORCH_PLUGIN_RUNTIME);
	return fixture_init(f, config, err, errlen);
}

static void load_ok(struct plugin_fixture *f, const char *so_path,
		    const char *config)
{
	char err[512] = "";

	if (host_load(f, so_path, config, err, sizeof(err)) != 0)
		fail_msg("init of %s: %s", so_path, err);
}

/* ------------------------------------------------------------- firstfit */

/* Where task_id went in reply: the node id, or "!<error>" if unplaced. */
static const char *placed(json_t *reply, const char *task_id)
{
	static char buf[512];
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(reply, "placements"), i, e)
		if (strcmp(test_json_str(e, "task_id"), task_id) == 0)
			return test_json_str(e, "node_id");
	json_array_foreach(json_object_get(reply, "unplaced"), i, e)
		if (strcmp(test_json_str(e, "task_id"), task_id) == 0) {
			snprintf(buf, sizeof(buf), "!%s", test_json_str(e, "error"));
			return buf;
		}
	return "(absent)";
}

#define NODE(id, avail, extra)                                               \
	"{\"id\":\"" id "\",\"state\":\"ready\",\"availability\":\"" avail   \
	"\",\"runtimes\":[\"process\"],"                                     \
	"\"resources\":{\"memory_bytes\":1000}" extra "}"
#define TASK(id, extra)                                                      \
	"{\"id\":\"" id "\",\"service_id\":\"s\",\"runtime\":\"process\","   \
	"\"reservations\":{\"memory_bytes\":600}" extra "}"

static void test_firstfit_places_first_fit(void **state)
{
	struct plugin_fixture *h = *state;
	json_t *reply;

	load_ok(h, FIRSTFIT_SO, "{}");
	/* n1 is drained; n2 takes t1 and is then too full for t2; t3 may
	 * only go to n2 (zone eu). */
	reply = fixture_call(h, test_json("{\"v\":1,\"op\":\"schedule\",\"nodes\":["
			      NODE("n1", "drain", "") ","
			      NODE("n2", "active", ",\"labels\":{\"zone\":\"eu\"}") ","
			      NODE("n3", "active", "") "],\"tasks\":["
			      TASK("t1", "") "," TASK("t2", "") ","
			      TASK("t3", ",\"constraints\":[\"node.labels.zone==eu\"]")
			      "]}"));
	assert_string_equal(placed(reply, "t1"), "n2");
	assert_string_equal(placed(reply, "t2"), "n3");
	assert_string_equal(placed(reply, "t3"),
			    "!no suitable node (1 node not available for new "
			    "tasks; insufficient memory on 2 nodes)");
	json_decref(reply);

	/* Small tasks all fit on the first node: first fit, not spread. */
	reply = fixture_call(h, test_json("{\"v\":1,\"op\":\"schedule\",\"nodes\":["
			      NODE("a", "active", "") "," NODE("b", "active", "")
			      "],\"tasks\":[{\"id\":\"x\",\"service_id\":\"s\","
			      "\"runtime\":\"process\"},{\"id\":\"y\","
			      "\"service_id\":\"s\",\"runtime\":\"process\"},"
			      "{\"id\":\"z\",\"service_id\":\"s\",\"runtime\":\"\","
			      "\"constraints\":[\"node.colour==red\"]}]}"));
	assert_string_equal(placed(reply, "x"), "a");
	assert_string_equal(placed(reply, "y"), "a");
	assert_string_equal(placed(reply, "z"),
			    "!invalid constraint \"node.colour==red\": unknown "
			    "key \"node.colour\"");
	json_decref(reply);
}

static void test_firstfit_protocol(void **state)
{
	struct plugin_fixture *h = *state;
	json_t *reply;

	load_ok(h, FIRSTFIT_SO, "{}");
	assert_null(h->plugin->options);
	reply = fixture_call(h, test_json("{\"v\":1,\"op\":\"info\"}"));
	assert_string_equal(test_json_str(reply, "name"), "firstfit");
	assert_string_equal(test_json_str(reply, "kind"), "scheduler");
	assert_true(json_is_true(json_object_get(reply, "available")));
	json_decref(reply);
	reply = fixture_call(h, test_json("{\"v\":1,\"op\":\"schedule\",\"nodes\":{}}"));
	assert_string_equal(test_json_str(reply, "error"),
			    "bad schedule request: nodes: expected an array");
	json_decref(reply);
	reply = fixture_call(h, test_json("{\"v\":1,\"op\":\"start\",\"tasks\":[]}"));
	assert_string_equal(test_json_str(reply, "error"),
			    "scheduler firstfit does not know op \"start\"");
	json_decref(reply);
}

/* ---------------------------------------------------------------- child */

static json_t *wait_status(struct plugin_fixture *h, const char *task_id,
			   const char *want)
{
	return fixture_wait(h, task_id, want, WAIT_MS);
}

/* A task running `sh -c script`; grace_ms < 0: it sets no stop grace. */
static json_t *rtask(const char *id, const char *script, int grace_ms)
{
	json_t *task = json_pack("{s:s, s:s, s:s, s:[s, s], s:[s]}", "id", id,
				 "service_id", "svc", "image", "sh", "command",
				 "-c", script, "env", "GREETING=hello");

	if (grace_ms >= 0)
		json_object_set_new(task, "stop_grace_ms",
				    json_integer(grace_ms));
	return task;
}

static json_t *batch(const char *op, json_t *tasks)
{
	return json_pack("{s:i, s:s, s:o}", "v", 1, "op", op, "tasks", tasks);
}

/* Polls logs until it contains want (bounded). */
static void wait_logs(struct plugin_fixture *h, const char *task_id,
		      const char *want)
{
	long long deadline = test_now_ms() + WAIT_MS;
	json_t *reply;
	bool found;

	do {
		reply = fixture_call(h, json_pack("{s:i, s:s, s:s, s:i}", "v", 1, "op",
					  "logs", "task_id", task_id, "tail",
					  1));
		found = strstr(test_json_str(reply, "data"), want) != NULL;
		json_decref(reply);
		if (!found)
			fixture_receive(h, 20); /* lets the task run on */
	} while (!found && test_now_ms() < deadline);
	assert_true(found);
}

/* Checks that a "list" shows task_id in state (NULL: lists nothing). */
static void expect_listed(struct plugin_fixture *h, const char *task_id,
			  const char *state)
{
	json_t *reply = fixture_call(h, test_json("{\"v\":1,\"op\":\"list\"}"));
	json_t *s = fixture_listed(reply, task_id);

	if (state == NULL) /* nothing listed at all */
		assert_int_equal(json_array_size(json_object_get(reply, "tasks")),
				 0);
	else
		assert_string_equal(test_json_str(s, "state"), state);
	json_decref(reply);
}

/* Sends op for one task; returns the reply's first error ("" if none;
 * valid until the next call) and checks that `list` of the reply (e.g.
 * "accepted") holds the task otherwise. */
static const char *one_task(struct plugin_fixture *h, const char *op,
			    json_t *task, const char *list)
{
	static char error[256];
	json_t *reply = fixture_call(h, batch(op, json_pack("[o]", task)));
	json_t *errors = json_object_get(reply, "errors");

	snprintf(error, sizeof(error), "%s",
		 test_json_str(json_array_get(errors, 0), "error"));
	if (error[0] == '\0')
		assert_int_equal(json_array_size(json_object_get(reply, list)),
				 1);
	json_decref(reply);
	return error;
}

/* A task's whole life on a child-process runtime (child.so, skeleton.so):
 * started, seen running (its output read when the plugin has logs),
 * listed, not removable while it runs, stopped (SIGTERM), listed as ended,
 * removed, gone; its process reaped. */
static void child_life(struct plugin_fixture *h, const char *so_path,
		       bool logs)
{
	json_t *s;
	pid_t pid;

	load_ok(h, so_path, "{}");
	assert_string_equal(one_task(h, "start", rtask("web.1",
		"echo first; echo $GREETING; exec sleep 30", 5000),
		"accepted"), "");
	s = wait_status(h, "web.1", "running");
	pid = (pid_t)atoi(test_json_str(s, "runtime_id"));
	assert_true(pid > 0);
	assert_int_equal(kill(pid, 0), 0);
	if (logs)
		wait_logs(h, "web.1", "hello");
	expect_listed(h, "web.1", "running");

	/* A running task cannot be removed. */
	assert_string_equal(one_task(h, "remove", json_pack("{s:s}", "task_id",
							    "web.1"), NULL),
			    "task has not ended; stop it first");
	assert_string_equal(one_task(h, "stop", json_pack("{s:s, s:i}",
		"task_id", "web.1", "grace_ms", 5000), "accepted"), "");
	s = wait_status(h, "web.1", "shutdown");
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")),
			 128 + SIGTERM);
	expect_listed(h, "web.1", "shutdown");
	assert_string_equal(one_task(h, "remove", json_pack("{s:s}", "task_id",
							    "web.1"),
				     "removed"), "");
	expect_listed(h, "web.1", NULL);
	errno = 0;
	assert_int_equal(kill(pid, 0), -1); /* reaped: the pid is gone */
	assert_int_equal(errno, ESRCH);
}

static void test_child_start_stop_list_remove(void **state)
{
	child_life(*state, CHILD_SO, true);
}

static void test_skeleton_start_stop_list_remove(void **state)
{
	child_life(*state, SKELETON_SO, false);
}

/* Starts "ok" (exit 0) and "bad" (exit 3); checks how each ended. */
static void expect_exit_statuses(struct plugin_fixture *h)
{
	json_t *s;

	assert_string_equal(one_task(h, "start", rtask("ok", "exit 0", 0),
				     "accepted"), "");
	assert_string_equal(one_task(h, "start", rtask("bad", "exit 3", 0),
				     "accepted"), "");
	s = wait_status(h, "ok", "complete");
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")), 0);
	s = wait_status(h, "bad", "failed");
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")), 3);
	assert_string_equal(test_json_str(s, "error"), "exit code 3");
}

/* The skeleton: how tasks end, its refusals, fini kills what runs. */
static void test_skeleton_ends_refusals_fini(void **state)
{
	struct plugin_fixture *h = *state;
	pid_t pid;

	load_ok(h, SKELETON_SO, "{}");
	expect_exit_statuses(h);
	expect_listed(h, "bad", "failed");

	assert_string_equal(one_task(h, "start", rtask("long", "exec sleep 30",
						       0), "accepted"), "");
	assert_string_equal(one_task(h, "start", rtask("long", "exit 0", 0),
				     NULL), "task already exists");
	assert_string_equal(one_task(h, "start", json_pack("{s:s}", "id",
							   "noimage"), NULL),
			    "missing \"image\" (the program to run)");
	assert_string_equal(one_task(h, "stop", json_pack("{s:s}", "task_id",
							  "ghost"), NULL),
			    "no such task");
	assert_string_equal(one_task(h, "remove", json_pack("{s:s}", "task_id",
							    "ghost"), NULL),
			    "no such task");
	pid = (pid_t)atoi(test_json_str(wait_status(h, "long", "running"),
					"runtime_id"));
	fixture_fini(h);
	wait_status(h, "long", "shutdown"); /* sent before fini returned */
	errno = 0;
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void test_child_ends_and_kill_after_grace(void **state)
{
	struct plugin_fixture *h = *state;
	long long asked;
	json_t *reply, *s;

	load_ok(h, CHILD_SO, "{\"default_grace_ms\":300}");
	assert_string_equal(one_task(h, "start", rtask("stubborn",
		"trap '' TERM; echo trapped; while :; do sleep 1; done", -1),
		"accepted"), "");
	expect_exit_statuses(h);

	/* Ignores SIGTERM: killed once the grace (the option's 300 ms; the
	 * task set none and the stop gives none) has run out. */
	wait_status(h, "stubborn", "running");
	wait_logs(h, "stubborn", "trapped");
	asked = test_now_ms();
	reply = fixture_call(h, batch("stop", json_pack("[{s:s}]", "task_id",
						"stubborn")));
	json_decref(reply);
	s = wait_status(h, "stubborn", "shutdown");
	assert_true(test_now_ms() - asked >= 300);
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")),
			 128 + SIGKILL);
}

static void test_child_refusals(void **state)
{
	struct plugin_fixture *h = *state;
	json_t *reply, *errors;

	load_ok(h, CHILD_SO, "{}");
	reply = fixture_call(h, batch("start", json_pack("[o, o]",
		rtask("dup", "exec sleep 30", 0),
		rtask("dup", "exec sleep 30", 0))));
	errors = json_object_get(reply, "errors");
	assert_int_equal(json_array_size(errors), 1);
	assert_string_equal(test_json_str(json_array_get(errors, 0), "error"),
			    "task already exists");
	json_decref(reply);
	reply = fixture_call(h, batch("start", test_json(
		"[{\"id\":\"noimage\"},"
		"{\"id\":\"nothere\",\"image\":\"/nonexistent/prog\"},"
		"{\"id\":\"../up\",\"image\":\"sh\"},"
		"{\"id\":\"badcmd\",\"image\":\"sh\",\"command\":\"ls\"},"
		"{\"id\":\"mnt\",\"image\":\"sh\",\"mounts\":[{\"source\":\"/a\","
		"\"target\":\"/b\"}]}, 7]")));
	errors = json_object_get(reply, "errors");
	assert_int_equal(json_array_size(json_object_get(reply, "accepted")), 0);
	assert_int_equal(json_array_size(errors), 6);
	assert_string_equal(test_json_str(json_array_get(errors, 0), "error"),
			    "missing \"image\" (the program to run)");
	assert_string_equal(test_json_str(json_array_get(errors, 1), "error"),
			    "cannot run /nonexistent/prog: No such file or "
			    "directory");
	assert_string_equal(test_json_str(json_array_get(errors, 2), "error"),
			    "bad task id (want [A-Za-z0-9_.-])");
	assert_string_equal(test_json_str(json_array_get(errors, 3), "error"),
			    "tasks[3].command: expected an array of strings");
	assert_string_equal(test_json_str(json_array_get(errors, 4), "error"),
			    "mounts are not supported");
	assert_string_equal(test_json_str(json_array_get(errors, 5), "error"),
			    "tasks[5]: expected an object");
	json_decref(reply);
	reply = fixture_call(h, batch("stop", test_json("[{\"task_id\":\"ghost\"},"
					    "{\"task_id\":\"dup\","
					    "\"grace_ms\":-1}]")));
	errors = json_object_get(reply, "errors");
	assert_string_equal(test_json_str(json_array_get(errors, 0), "error"),
			    "no such task");
	assert_string_equal(test_json_str(json_array_get(errors, 1), "error"),
			    "tasks[1].grace_ms: must not be negative");
	json_decref(reply);
	reply = fixture_call(h, test_json("{\"v\":1,\"op\":\"schedule\"}"));
	assert_string_equal(test_json_str(reply, "error"),
			    "runtime child does not know op \"schedule\"");
	json_decref(reply);
	reply = fixture_call(h, test_json("{\"v\":1,\"op\":\"info\"}"));
	assert_true(json_is_true(json_object_get(reply, "available")));
	assert_true(json_integer_value(json_object_get(
			    json_object_get(reply, "resources"), "nano_cpus")) >=
		    1000000000);
	json_decref(reply);
	/* teardown's fini kills "dup", still running */
}

static void test_child_option(void **state)
{
	struct plugin_fixture *h = *state;
	char err[256] = "";

	assert_int_equal(host_load(h, CHILD_SO, "{\"default_grace_ms\":\"soon\"}",
				   err, sizeof(err)),
			 -1);
	assert_string_equal(err, "option default_grace_ms: want milliseconds, "
				 "got \"soon\"");
	assert_string_equal(h->plugin->options[0], "default_grace_ms");
	assert_null(h->plugin->options[1]);
}

/* fini kills the tasks still running: they are orchd's children. */
static void test_child_fini_kills_tasks(void **state)
{
	struct plugin_fixture *h = *state;
	json_t *reply;
	pid_t pid;

	load_ok(h, CHILD_SO, "{}");
	reply = fixture_call(h, batch("start", json_pack("[o]", rtask("long",
		"exec sleep 30", 0))));
	json_decref(reply);
	pid = (pid_t)atoi(test_json_str(wait_status(h, "long", "running"), "runtime_id"));
	assert_int_equal(kill(pid, 0), 0);
	fixture_fini(h);
	wait_status(h, "long", "shutdown"); /* sent before fini returned */
	errno = 0;
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_firstfit_places_first_fit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_firstfit_protocol, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_child_start_stop_list_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_child_ends_and_kill_after_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_skeleton_start_stop_list_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_skeleton_ends_refusals_fini, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_child_option, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_child_fini_kills_tasks,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_examples.c: the example plugins driven as orchd drives them. Each
 * test is a tiny host: a temporary data dir, an nng PULL socket for events,
 * the plugin dlopened from the build (firstfit.so, child.so: the example
 * sources built by this directory's CMakeLists.txt), its init called with
 * a struct orch_host, and requests sent with orch_sdk_client_call.
 *
 * firstfit: first-fit placement, the filters and reasons of the SDK's
 * scheduler helper, info and unknown ops. child: real child processes
 * (sh, sleep) started, seen running, read, stopped (SIGTERM, SIGKILL after
 * the grace), listed and removed; refusals; its option. Every wait is for
 * an event, bounded; nothing sleeps. Teardown runs the plugin's fini,
 * which kills any task still running (children of this process), and
 * removes the data dir. State: one struct test_host per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/supplemental/util/platform.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orch_sdk.h"

#define WAIT_MS 10000
#define CALL_MS 10000

struct test_host {
	char root[64];
	char request_url[PATH_MAX];
	char event_url[PATH_MAX];
	nng_socket events;
	void *dl;
	const struct orch_plugin *plugin;
	void *state;
	struct orch_sdk_client *client;
	struct orch_host host;
	json_t *seen; /* every STATUS received, in order */
};

static void host_log(enum orch_log_level level, const char *plugin_name,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "[%d %s] ", (int)level, plugin_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int setup(void **state)
{
	struct test_host *h = calloc(1, sizeof(*h));

	snprintf(h->root, sizeof(h->root), "/tmp/orchd-examples-XXXXXX");
	if (h == NULL || mkdtemp(h->root) == NULL)
		return -1;
	snprintf(h->request_url, sizeof(h->request_url), "ipc://%s/req",
		 h->root);
	snprintf(h->event_url, sizeof(h->event_url), "ipc://%s/events",
		 h->root);
	h->seen = json_array();
	if (nng_pull0_open(&h->events) != 0 ||
	    nng_listen(h->events, h->event_url, NULL, 0) != 0)
		return -1;
	*state = h;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct test_host *h = *state;

	orch_sdk_client_close(h->client);
	if (h->plugin != NULL && h->state != NULL)
		h->plugin->fini(h->state); /* child.so kills what still runs */
	if (h->dl != NULL)
		dlclose(h->dl);
	nng_close(h->events);
	nftw(h->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	json_decref(h->seen);
	free(h);
	return 0;
}

/* dlopens so_path and runs its init with config; returns init's result
 * (err holds the reason). */
static int host_load(struct test_host *h, const char *so_path,
		     const char *config, char *err, size_t errlen)
{
	const struct orch_plugin *(*entry)(void);

	h->dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h->dl);
	entry = (const struct orch_plugin *(*)(void))dlsym(
		h->dl, ORCH_PLUGIN_ENTRY_SYMBOL);
	assert_non_null(entry);
	h->plugin = entry();
	assert_int_equal(h->plugin->abi_version, ORCH_PLUGIN_ABI_VERSION);
	h->host = (struct orch_host){
		.version = ORCH_PLUGIN_ABI_VERSION,
		.plugin_name = h->plugin->name,
		.request_url = h->request_url,
		.event_url = h->event_url,
		.node_id = "n0",
		.data_dir = h->root,
		.config_json = config,
		.log = host_log,
	};
	if (h->plugin->init(&h->host, &h->state, err, errlen) != 0) {
		h->state = NULL;
		return -1;
	}
	assert_int_equal(orch_sdk_client_open(h->request_url, &h->client, err,
					      errlen),
			 0);
	return 0;
}

static json_t *call(struct test_host *h, json_t *request)
{
	char err[512] = "";
	json_t *reply = NULL;

	if (orch_sdk_client_call(h->client, request, CALL_MS, &reply, err,
				 sizeof(err)) != 0)
		fail_msg("call: %s", err);
	return reply;
}

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *value = json_loads(text, 0, &jerr);

	if (value == NULL)
		fail_msg("bad test JSON: %s", jerr.text);
	return value;
}

static const char *str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

/* ------------------------------------------------------------- firstfit */

/* Where task_id went in reply: the node id, or "!<error>" if unplaced. */
static const char *placed(json_t *reply, const char *task_id)
{
	static char buf[512];
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(reply, "placements"), i, e)
		if (strcmp(str(e, "task_id"), task_id) == 0)
			return str(e, "node_id");
	json_array_foreach(json_object_get(reply, "unplaced"), i, e)
		if (strcmp(str(e, "task_id"), task_id) == 0) {
			snprintf(buf, sizeof(buf), "!%s", str(e, "error"));
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
	struct test_host *h = *state;
	char err[256];
	json_t *reply;

	assert_int_equal(host_load(h, FIRSTFIT_SO, "{}", err, sizeof(err)), 0);
	/* n1 is drained; n2 takes t1 and is then too full for t2; t3 may
	 * only go to n2 (zone eu). */
	reply = call(h, parse("{\"v\":1,\"op\":\"schedule\",\"nodes\":["
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
	reply = call(h, parse("{\"v\":1,\"op\":\"schedule\",\"nodes\":["
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
	struct test_host *h = *state;
	char err[256];
	json_t *reply;

	assert_int_equal(host_load(h, FIRSTFIT_SO, "{}", err, sizeof(err)), 0);
	assert_null(h->plugin->options);
	reply = call(h, parse("{\"v\":1,\"op\":\"info\"}"));
	assert_string_equal(str(reply, "name"), "firstfit");
	assert_string_equal(str(reply, "kind"), "scheduler");
	assert_true(json_is_true(json_object_get(reply, "available")));
	json_decref(reply);
	reply = call(h, parse("{\"v\":1,\"op\":\"schedule\",\"nodes\":{}}"));
	assert_string_equal(str(reply, "error"),
			    "bad schedule request: nodes: expected an array");
	json_decref(reply);
	reply = call(h, parse("{\"v\":1,\"op\":\"start\",\"tasks\":[]}"));
	assert_string_equal(str(reply, "error"),
			    "scheduler firstfit does not know op \"start\"");
	json_decref(reply);
}

/* ---------------------------------------------------------------- child */

/* Takes the next event (up to timeout_ms) into h->seen. */
static bool receive(struct test_host *h, nng_duration timeout_ms)
{
	char *buf = NULL;
	size_t len = 0;
	json_t *event;

	nng_socket_set_ms(h->events, NNG_OPT_RECVTIMEO, timeout_ms);
	if (nng_recv(h->events, &buf, &len, NNG_FLAG_ALLOC) != 0)
		return false;
	event = json_loadb(buf, len, 0, NULL);
	nng_free(buf, len);
	assert_string_equal(str(event, "op"), "task_status");
	assert_string_equal(str(event, "plugin"), "child");
	json_array_extend(h->seen, json_object_get(event, "statuses"));
	json_decref(event);
	return true;
}

/* Waits for a status of task_id in state; returns it (borrowed). */
static json_t *wait_status(struct test_host *h, const char *task_id,
			   const char *want)
{
	nng_time deadline = nng_clock() + WAIT_MS;
	size_t i, from = 0;
	json_t *s;

	for (;;) {
		for (i = from; i < json_array_size(h->seen); i++) {
			s = json_array_get(h->seen, i);
			if (strcmp(str(s, "task_id"), task_id) == 0 &&
			    strcmp(str(s, "state"), want) == 0)
				return s;
		}
		from = i;
		if (nng_clock() >= deadline ||
		    !receive(h, (nng_duration)(deadline - nng_clock())))
			fail_msg("no status %s for %s within %d ms", want,
				 task_id, WAIT_MS);
	}
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

/* The status of task_id in a list reply, or NULL. */
static json_t *listed(json_t *reply, const char *task_id)
{
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(reply, "tasks"), i, s)
		if (strcmp(str(s, "task_id"), task_id) == 0)
			return s;
	return NULL;
}

/* Polls logs until it contains want (bounded). */
static void wait_logs(struct test_host *h, const char *task_id,
		      const char *want)
{
	nng_time deadline = nng_clock() + WAIT_MS;
	json_t *reply;
	bool found;

	do {
		reply = call(h, json_pack("{s:i, s:s, s:s, s:i}", "v", 1, "op",
					  "logs", "task_id", task_id, "tail",
					  1));
		found = strstr(str(reply, "data"), want) != NULL;
		json_decref(reply);
		if (!found)
			receive(h, 20); /* lets the task run on */
	} while (!found && nng_clock() < deadline);
	assert_true(found);
}

static void test_child_start_stop_list_remove(void **state)
{
	struct test_host *h = *state;
	char err[256];
	json_t *reply, *s;
	pid_t pid;

	assert_int_equal(host_load(h, CHILD_SO, "{}", err, sizeof(err)), 0);
	reply = call(h, batch("start", json_pack("[o]", rtask("web.1",
		"echo first; echo $GREETING; exec sleep 30", 5000))));
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(reply, "accepted"), 0)),
			    "web.1");
	json_decref(reply);
	s = wait_status(h, "web.1", "running");
	pid = (pid_t)atoi(str(s, "runtime_id"));
	assert_true(pid > 0);
	assert_int_equal(kill(pid, 0), 0);
	wait_logs(h, "web.1", "hello");

	reply = call(h, parse("{\"v\":1,\"op\":\"list\"}"));
	assert_string_equal(str(listed(reply, "web.1"), "state"), "running");
	json_decref(reply);

	/* A running task cannot be removed. */
	reply = call(h, batch("remove", json_pack("[{s:s}]", "task_id",
						  "web.1")));
	assert_string_equal(str(json_array_get(json_object_get(reply, "errors"),
					       0), "error"),
			    "task has not ended; stop it first");
	json_decref(reply);

	reply = call(h, batch("stop", json_pack("[{s:s, s:i}]", "task_id",
						"web.1", "grace_ms", 5000)));
	assert_int_equal(json_array_size(json_object_get(reply, "accepted")),
			 1);
	json_decref(reply);
	s = wait_status(h, "web.1", "shutdown");
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")),
			 128 + SIGTERM);
	reply = call(h, parse("{\"v\":1,\"op\":\"list\"}"));
	assert_string_equal(str(listed(reply, "web.1"), "state"), "shutdown");
	json_decref(reply);

	reply = call(h, batch("remove", json_pack("[{s:s}]", "task_id",
						  "web.1")));
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(reply, "removed"), 0)),
			    "web.1");
	json_decref(reply);
	reply = call(h, parse("{\"v\":1,\"op\":\"list\"}"));
	assert_int_equal(json_array_size(json_object_get(reply, "tasks")), 0);
	json_decref(reply);
	errno = 0;
	assert_int_equal(kill(pid, 0), -1); /* reaped: the pid is gone */
	assert_int_equal(errno, ESRCH);
}

static void test_child_ends_and_kill_after_grace(void **state)
{
	struct test_host *h = *state;
	char err[256];
	nng_time asked;
	json_t *reply, *s;

	assert_int_equal(host_load(h, CHILD_SO, "{\"default_grace_ms\":300}",
				   err, sizeof(err)),
			 0);
	reply = call(h, batch("start", json_pack("[o, o, o]",
		rtask("ok", "exit 0", 0), rtask("bad", "exit 3", 0),
		rtask("stubborn", "trap '' TERM; echo trapped; "
				  "while :; do sleep 1; done", -1))));
	assert_int_equal(json_array_size(json_object_get(reply, "accepted")),
			 3);
	json_decref(reply);
	s = wait_status(h, "ok", "complete");
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")), 0);
	s = wait_status(h, "bad", "failed");
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")), 3);
	assert_string_equal(str(s, "error"), "exit code 3");

	/* Ignores SIGTERM: killed once the grace (the option's 300 ms; the
	 * task set none and the stop gives none) has run out. */
	wait_status(h, "stubborn", "running");
	wait_logs(h, "stubborn", "trapped");
	asked = nng_clock();
	reply = call(h, batch("stop", json_pack("[{s:s}]", "task_id",
						"stubborn")));
	json_decref(reply);
	s = wait_status(h, "stubborn", "shutdown");
	assert_true(nng_clock() - asked >= 300);
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")),
			 128 + SIGKILL);
}

static void test_child_refusals(void **state)
{
	struct test_host *h = *state;
	char err[256];
	json_t *reply, *errors;

	assert_int_equal(host_load(h, CHILD_SO, "{}", err, sizeof(err)), 0);
	reply = call(h, batch("start", json_pack("[o, o]",
		rtask("dup", "exec sleep 30", 0),
		rtask("dup", "exec sleep 30", 0))));
	errors = json_object_get(reply, "errors");
	assert_int_equal(json_array_size(errors), 1);
	assert_string_equal(str(json_array_get(errors, 0), "error"),
			    "task already exists");
	json_decref(reply);
	reply = call(h, batch("start", parse(
		"[{\"id\":\"noimage\"},"
		"{\"id\":\"nothere\",\"image\":\"/nonexistent/prog\"},"
		"{\"id\":\"../up\",\"image\":\"sh\"},"
		"{\"id\":\"badcmd\",\"image\":\"sh\",\"command\":\"ls\"},"
		"{\"id\":\"mnt\",\"image\":\"sh\",\"mounts\":[{\"source\":\"/a\","
		"\"target\":\"/b\"}]}, 7]")));
	errors = json_object_get(reply, "errors");
	assert_int_equal(json_array_size(json_object_get(reply, "accepted")), 0);
	assert_int_equal(json_array_size(errors), 6);
	assert_string_equal(str(json_array_get(errors, 0), "error"),
			    "missing \"image\" (the program to run)");
	assert_string_equal(str(json_array_get(errors, 1), "error"),
			    "cannot run /nonexistent/prog: No such file or "
			    "directory");
	assert_string_equal(str(json_array_get(errors, 2), "error"),
			    "bad task id (want [A-Za-z0-9_.-])");
	assert_string_equal(str(json_array_get(errors, 3), "error"),
			    "tasks[3].command: expected an array of strings");
	assert_string_equal(str(json_array_get(errors, 4), "error"),
			    "mounts are not supported");
	assert_string_equal(str(json_array_get(errors, 5), "error"),
			    "tasks[5]: expected an object");
	json_decref(reply);
	reply = call(h, batch("stop", parse("[{\"task_id\":\"ghost\"},"
					    "{\"task_id\":\"dup\","
					    "\"grace_ms\":-1}]")));
	errors = json_object_get(reply, "errors");
	assert_string_equal(str(json_array_get(errors, 0), "error"),
			    "no such task");
	assert_string_equal(str(json_array_get(errors, 1), "error"),
			    "tasks[1].grace_ms: must not be negative");
	json_decref(reply);
	reply = call(h, parse("{\"v\":1,\"op\":\"schedule\"}"));
	assert_string_equal(str(reply, "error"),
			    "runtime child does not know op \"schedule\"");
	json_decref(reply);
	reply = call(h, parse("{\"v\":1,\"op\":\"info\"}"));
	assert_true(json_is_true(json_object_get(reply, "available")));
	assert_true(json_integer_value(json_object_get(
			    json_object_get(reply, "resources"), "nano_cpus")) >=
		    1000000000);
	json_decref(reply);
	/* teardown's fini kills "dup", still running */
}

static void test_child_option(void **state)
{
	struct test_host *h = *state;
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
	struct test_host *h = *state;
	char err[256];
	json_t *reply;
	pid_t pid;

	assert_int_equal(host_load(h, CHILD_SO, "{}", err, sizeof(err)), 0);
	reply = call(h, batch("start", json_pack("[o]", rtask("long",
		"exec sleep 30", 0))));
	json_decref(reply);
	pid = (pid_t)atoi(str(wait_status(h, "long", "running"), "runtime_id"));
	assert_int_equal(kill(pid, 0), 0);
	orch_sdk_client_close(h->client);
	h->client = NULL;
	h->plugin->fini(h->state);
	h->state = NULL;
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
		cmocka_unit_test_setup_teardown(test_child_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_child_option, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_child_fini_kills_tasks,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_runtime_docker.c: tests of the `docker` runtime plugin against the
 * real local dockerd and the image busybox:local (scripts/docker-up.sh),
 * through the fixture of docker_test_host.h. The plugin's data directory
 * is a fresh one of this run (mkdtemp), since the plugin removes the
 * containers of its data directory that carry another node id; the
 * containers a test makes itself under other labels it removes by id.
 * Without a reachable dockerd the test is skipped (exit 77), or fails
 * when ORCHD_REQUIRE_DOCKER=1.
 *
 * State owned here: for the previous-identity test, a follower of the
 * engine's destroy events.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_test_host.h"
#include "orch_protocol.h"

/* ---------------------------------------------------------------- tests */

static void test_info_available(void **state)
{
	struct test_host *h = *state;
	json_t *reply = fixture_call(&h->f, json_pack("{s:i,s:s}", "v", 1, "op",
					       ORCH_OP_INFO));
	json_t *res = json_object_get(reply, "resources");

	assert_true(json_is_true(json_object_get(reply, "available")));
	assert_string_equal(test_json_str(reply, "kind"), "runtime");
	assert_true(json_integer_value(json_object_get(res, "nano_cpus")) >=
		    1000000000);
	assert_true(json_integer_value(json_object_get(res, "memory_bytes")) >
		    0);
	json_decref(reply);
}

static void test_start_three_then_stop(void **state)
{
	struct test_host *h = *state;
	const char *ids[3] = {"t3a", "t3b", "t3c"};
	json_t *filters, *list = NULL, *c;
	char err[512], hist[256];
	size_t i, j, found = 0;

	host_start(h, json_pack("[ooo]", sleeper(ids[0]), sleeper(ids[1]),
				sleeper(ids[2])));
	for (i = 0; i < 3; i++) {
		json_t *s = host_wait(h, ids[i], "running|failed|rejected");

		assert_string_equal(test_json_str(s, "state"), "running");
		assert_string_not_equal(test_json_str(s, "runtime_id"), "");
		assert_string_equal(host_history(h, ids[i], hist, sizeof(hist)),
				    "preparing,starting,running");
	}
	filters = node_filters();
	assert_int_equal(docker_api_container_list(h->api, filters, &list, err,
						   sizeof(err)),
			 DOCKER_API_OK);
	json_decref(filters);
	assert_int_equal(json_array_size(list), 3);
	json_array_foreach(list, i, c) {
		json_t *labels = json_object_get(c, "Labels");

		assert_string_equal(test_json_str(c, "State"), "running");
		assert_string_equal(test_json_str(labels, "orchd.service.id"),
				    "svc1");
		assert_string_equal(test_json_str(labels, "orchd.service.name"),
				    "web");
		assert_string_equal(test_json_str(labels, "orchd.node.id"),
				    test_node_id);
		assert_string_equal(test_json_str(labels, "orchd.data-dir"),
				    test_data_dir);
		assert_string_equal(test_json_str(labels, "orchd.stop-grace-ms"),
				    "2000");
		for (j = 0; j < 3; j++)
			if (strcmp(test_json_str(labels, "orchd.task.id"),
				   ids[j]) == 0)
				found++;
	}
	assert_int_equal(found, 3);
	json_decref(list);

	for (i = 0; i < 3; i++)
		host_stop(h, ids[i], 1000);
	for (i = 0; i < 3; i++) {
		json_t *s = host_wait(h, ids[i], "shutdown|complete|failed");

		assert_string_equal(test_json_str(s, "state"), "shutdown");
	}
}

/* A stop that arrives while the start job is still at work: the task
 * ends in shutdown and no container of it is left running. */
static void test_stop_while_starting(void **state)
{
	struct test_host *h = *state;
	json_t *filters, *list = NULL, *c, *s;
	char err[512], hist[256];
	const char *last;
	size_t i;

	host_start(h, json_pack("[o]", sleeper("early1")));
	host_stop(h, "early1", 1000);
	s = host_wait(h, "early1", "shutdown|complete|failed|rejected");
	assert_string_equal(test_json_str(s, "state"), "shutdown");
	host_history(h, "early1", hist, sizeof(hist));
	last = strrchr(hist, ',');
	assert_string_equal(last ? last + 1 : hist, "shutdown");
	filters = node_filters();
	assert_int_equal(docker_api_container_list(h->api, filters, &list, err,
						   sizeof(err)),
			 DOCKER_API_OK);
	json_decref(filters);
	json_array_foreach(list, i, c)
		assert_string_not_equal(test_json_str(c, "State"), "running");
	json_decref(list);
}

static void test_exit_codes(void **state)
{
	struct test_host *h = *state;
	json_t *s;

	host_start(h, json_pack("[oo]",
				rtask("exit3", TEST_IMAGE,
				      json_pack("[sss]", "sh", "-c", "exit 3")),
				rtask("exit0", TEST_IMAGE,
				      json_pack("[sss]", "sh", "-c", "exit 0"))));
	s = host_wait(h, "exit3", "complete|failed|shutdown|rejected");
	assert_string_equal(test_json_str(s, "state"), "failed");
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")), 3);
	assert_string_equal(test_json_str(s, "error"), "task: non-zero exit (3)");
	s = host_wait(h, "exit0", "complete|failed|shutdown|rejected");
	assert_string_equal(test_json_str(s, "state"), "complete");
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")), 0);
}

static void test_unknown_image_rejected(void **state)
{
	struct test_host *h = *state;
	char engine_says[512];
	json_t *s;

	/* What the engine itself answers to this pull. */
	assert_int_not_equal(docker_api_image_pull(h->api, TEST_MISSING_IMAGE,
						   engine_says,
						   sizeof(engine_says)),
			     DOCKER_API_OK);
	host_start(h, json_pack("[o]", rtask("noimg", TEST_MISSING_IMAGE,
					     json_pack("[s]", "true"))));
	s = host_wait(h, "noimg", "rejected|running|failed");
	assert_string_equal(test_json_str(s, "state"), "rejected");
	assert_non_null(strstr(test_json_str(s, "error"), engine_says));
	assert_non_null(strstr(test_json_str(s, "error"), TEST_MISSING_IMAGE));
}

static void test_container_config(void **state)
{
	struct test_host *h = *state;
	json_t *task = rtask("cfg1", TEST_IMAGE, json_pack("[s]", "sleep"));
	json_t *info = NULL, *hc, *config, *s, *env;
	bool found_env = false;
	char err[512];
	size_t i;

	json_object_set_new(task, "args", json_pack("[s]", "1000"));
	json_object_set_new(task, "env", json_pack("[s]", "COLOR=blue"));
	json_object_set_new(task, "limits",
			    json_pack("{s:I,s:I}", "memory_bytes",
				      (json_int_t)64 << 20, "nano_cpus",
				      (json_int_t)500000000));
	json_object_set_new(task, "reservations",
			    json_pack("{s:I}", "memory_bytes",
				      (json_int_t)32 << 20));
	json_object_set_new(task, "labels", json_pack("{s:s}", "team", "a"));
	host_start(h, json_pack("[o]", task));
	s = host_wait(h, "cfg1", "running|failed|rejected");
	assert_string_equal(test_json_str(s, "state"), "running");
	assert_int_equal(docker_api_container_inspect(
				 h->api, test_json_str(s, "runtime_id"), &info,
				 err, sizeof(err)),
			 DOCKER_API_OK);
	hc = json_object_get(info, "HostConfig");
	config = json_object_get(info, "Config");
	assert_int_equal(json_integer_value(json_object_get(hc, "Memory")),
			 64 << 20);
	assert_int_equal(json_integer_value(json_object_get(hc, "NanoCpus")),
			 500000000);
	assert_int_equal(
		json_integer_value(json_object_get(hc, "MemoryReservation")),
		32 << 20);
	assert_true(json_is_true(json_object_get(hc, "Init")));
	assert_string_equal(test_json_str(json_object_get(hc, "RestartPolicy"),
				       "Name"),
			    "no");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(config, "Entrypoint"), 0)),
			    "sleep");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(config, "Cmd"), 0)),
			    "1000");
	assert_string_equal(test_json_str(json_object_get(config, "Labels"),
				       "team"),
			    "a");
	assert_string_equal(test_json_str(info, "Name"), "/orchd-web.1.cfg1");
	json_array_foreach(json_object_get(config, "Env"), i, env) {
		if (strcmp(json_string_value(env), "COLOR=blue") == 0)
			found_env = true;
	}
	assert_true(found_env);
	json_decref(info);
}

static void test_logs(void **state)
{
	struct test_host *h = *state;
	json_t *reply, *s;

	/* stdout and stderr are copied by separate readers in the engine:
	 * their relative order is not defined, so each task uses one. */
	host_start(h, json_pack("[oo]",
				rtask("logs1", TEST_IMAGE,
				      json_pack("[sss]", "sh", "-c",
						"echo hello; echo two; "
						"echo three")),
				rtask("logs2", TEST_IMAGE,
				      json_pack("[sss]", "sh", "-c",
						"echo oops >&2; printf "
						"'\\377\\303\\251\\n' >&2"))));
	s = host_wait(h, "logs1", "complete|failed|rejected");
	assert_string_equal(test_json_str(s, "state"), "complete");
	s = host_wait(h, "logs2", "complete|failed|rejected");
	assert_string_equal(test_json_str(s, "state"), "complete");
	reply = fixture_call(&h->f, json_pack("{s:i,s:s,s:s,s:i}", "v", 1, "op",
				       ORCH_OP_LOGS, "task_id", "logs1",
				       "tail", 0));
	assert_string_equal(test_json_str(reply, "data"), "hello\ntwo\nthree\n");
	json_decref(reply);
	reply = fixture_call(&h->f, json_pack("{s:i,s:s,s:s,s:i}", "v", 1, "op",
				       ORCH_OP_LOGS, "task_id", "logs1",
				       "tail", 1));
	assert_string_equal(test_json_str(reply, "data"), "three\n");
	json_decref(reply);
	reply = fixture_call(&h->f, json_pack("{s:i,s:s,s:s,s:i}", "v", 1, "op",
				       ORCH_OP_LOGS, "task_id", "logs2",
				       "tail", 0));
	/* The invalid byte arrives replaced (by the engine's json-file log
	 * driver with U+FFFD, else by the plugin with '?'), the valid UTF-8
	 * (e-acute) as is. */
	if (strcmp(test_json_str(reply, "data"), "oops\n\xef\xbf\xbd\xc3\xa9\n") != 0)
		assert_string_equal(test_json_str(reply, "data"),
				    "oops\n?\xc3\xa9\n");
	json_decref(reply);
}

static void test_restart_adoption(void **state)
{
	struct test_host *h = *state;
	json_t *s, *reply, *listed;
	char runtime_id[128];

	host_start(h, json_pack("[o]", sleeper("adopt1")));
	s = host_wait(h, "adopt1", "running|failed|rejected");
	assert_string_equal(test_json_str(s, "state"), "running");
	snprintf(runtime_id, sizeof(runtime_id), "%s",
		 test_json_str(s, "runtime_id"));

	host_plugin_fini(h);
	host_plugin_init(h, NULL);
	reply = fixture_call(&h->f, json_pack("{s:i,s:s}", "v", 1, "op",
				       ORCH_OP_LIST));
	listed = fixture_listed(reply, "adopt1");
	assert_non_null(listed);
	assert_string_equal(test_json_str(listed, "state"), "running");
	assert_string_equal(test_json_str(listed, "runtime_id"), runtime_id);
	json_decref(reply);

	/* The new instance stops what the old one started. */
	json_array_clear(h->f.seen);
	host_stop(h, "adopt1", 1000);
	s = host_wait(h, "adopt1", "shutdown|complete|failed");
	assert_string_equal(test_json_str(s, "state"), "shutdown");
	reply = fixture_call(&h->f, json_pack("{s:i,s:s}", "v", 1, "op",
				       ORCH_OP_LIST));
	listed = fixture_listed(reply, "adopt1");
	assert_non_null(listed);
	assert_string_equal(test_json_str(listed, "state"), "shutdown");
	json_decref(reply);
}

static void test_remove(void **state)
{
	struct test_host *h = *state;
	json_t *s, *reply;
	char err[512], runtime_id[128];

	host_start(h, json_pack("[o]", sleeper("rm1")));
	s = host_wait(h, "rm1", "running|failed|rejected");
	assert_string_equal(test_json_str(s, "state"), "running");
	snprintf(runtime_id, sizeof(runtime_id), "%s",
		 test_json_str(s, "runtime_id"));
	reply = fixture_call(&h->f, json_pack("{s:i,s:s,s:[{s:s}]}", "v", 1, "op",
				       ORCH_OP_REMOVE, "tasks", "task_id",
				       "rm1"));
	assert_int_equal(json_array_size(json_object_get(reply, "removed")), 1);
	assert_int_equal(json_array_size(json_object_get(reply, "errors")), 0);
	json_decref(reply);
	assert_int_equal(docker_api_container_inspect(h->api, runtime_id, NULL,
						      err, sizeof(err)),
			 DOCKER_API_NOT_FOUND);
	reply = fixture_call(&h->f, json_pack("{s:i,s:s}", "v", 1, "op",
				       ORCH_OP_LIST));
	assert_null(fixture_listed(reply, "rm1"));
	json_decref(reply);
}

static void test_exec_helper(void **state)
{
	struct test_host *h = *state;
	const char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 7",
			      NULL};
	char err[512], *output = NULL;
	size_t len = 0;
	int exit_code = -1;
	json_t *s;

	host_start(h, json_pack("[o]", sleeper("exec1")));
	s = host_wait(h, "exec1", "running|failed|rejected");
	assert_string_equal(test_json_str(s, "state"), "running");
	if (docker_api_exec(h->api, test_json_str(s, "runtime_id"), argv,
			    &output, &len, &exit_code, err,
			    sizeof(err)) != DOCKER_API_OK)
		fail_msg("exec: %s", err);
	assert_int_equal(exit_code, 7);
	assert_non_null(strstr(output, "out\n"));
	assert_non_null(strstr(output, "err\n"));
	assert_int_equal(len, strlen(output));
	free(output);
}

/* ------------------------------------------- containers of a previous identity */

/* Follows the engine's destroy events of containers labelled with the
 * run's data directory; records their ids. */
struct destroy_watch {
	nng_mtx *mu;
	nng_cv *cv;
	bool connected;
	json_t *destroyed; /* container ids */
	struct docker_events *events;
};

static void destroy_watch_on_event(void *ctx, json_t *event)
{
	struct destroy_watch *w = ctx;
	json_t *id = json_object_get(json_object_get(event, "Actor"), "ID");

	nng_mtx_lock(w->mu);
	if (json_is_string(id))
		json_array_append(w->destroyed, id);
	nng_cv_wake(w->cv);
	nng_mtx_unlock(w->mu);
}

static void destroy_watch_on_connected(void *ctx)
{
	struct destroy_watch *w = ctx;

	nng_mtx_lock(w->mu);
	w->connected = true;
	nng_cv_wake(w->cv);
	nng_mtx_unlock(w->mu);
}

static bool destroy_watch_has(struct destroy_watch *w, const char *id)
{
	json_t *item;
	size_t i;

	json_array_foreach(w->destroyed, i, item) {
		if (strcmp(json_string_value(item), id) == 0)
			return true;
	}
	return false;
}

/* Starts the follower and waits (bounded) until it is connected, so that
 * no destroy after this call is missed. */
static void destroy_watch_start(struct destroy_watch *w)
{
	char label[PATH_MAX + 32], err[512];
	nng_time deadline = nng_clock() + TEST_EVENT_TIMEOUT_MS;
	json_t *filters;

	assert_int_equal(nng_mtx_alloc(&w->mu), 0);
	assert_int_equal(nng_cv_alloc(&w->cv, w->mu), 0);
	w->destroyed = json_array();
	snprintf(label, sizeof(label), "orchd.data-dir=%s", test_data_dir);
	filters = json_pack("{s:[s],s:[s],s:[s]}", "type", "container", "event",
			    "destroy", "label", label);
	if (docker_events_start(NULL, filters, destroy_watch_on_event,
				destroy_watch_on_connected, w, &w->events, err,
				sizeof(err)) != DOCKER_API_OK)
		fail_msg("events: %s", err);
	json_decref(filters);
	nng_mtx_lock(w->mu);
	while (!w->connected && nng_cv_until(w->cv, deadline) == 0)
		;
	nng_mtx_unlock(w->mu);
	assert_true(w->connected);
}

/* Waits (bounded) for the destroy of container id. */
static bool destroy_watch_wait(struct destroy_watch *w, const char *id)
{
	nng_time deadline = nng_clock() + TEST_EVENT_TIMEOUT_MS;
	bool seen;

	nng_mtx_lock(w->mu);
	while (!(seen = destroy_watch_has(w, id)) &&
	       nng_cv_until(w->cv, deadline) == 0)
		;
	nng_mtx_unlock(w->mu);
	return seen;
}

static void destroy_watch_stop(struct destroy_watch *w)
{
	docker_events_stop(w->events);
	json_decref(w->destroyed);
	nng_cv_free(w->cv);
	nng_mtx_free(w->mu);
}

/* Creates and starts a sleeping container with these labels (stolen)
 * the way orchd would have; its id goes into id. */
static void engine_run_labelled(struct test_host *h, json_t *labels, char *id,
				size_t idlen)
{
	json_t *config = json_pack(
		"{s:s,s:o,s:[ss],s:{s:b}}", "Image", TEST_IMAGE, "Labels",
		labels, "Entrypoint", "sleep", "1000", "HostConfig", "Init", 1);
	char err[512], *cid = NULL;

	if (docker_api_container_create(h->api, NULL, config, &cid, err,
					sizeof(err)) != DOCKER_API_OK)
		fail_msg("create: %s", err);
	json_decref(config);
	snprintf(id, idlen, "%s", cid);
	free(cid);
	if (docker_api_container_start(h->api, id, err, sizeof(err)) !=
	    DOCKER_API_OK)
		fail_msg("start %s: %s", id, err);
}

static bool engine_running(struct test_host *h, const char *id)
{
	json_t *info = NULL;
	char err[512];
	bool running = false;

	if (docker_api_container_inspect(h->api, id, &info, err,
					 sizeof(err)) == DOCKER_API_OK)
		running = json_is_true(json_object_get(
			json_object_get(info, "State"), "Running"));
	json_decref(info);
	return running;
}

static void engine_remove_quietly(struct test_host *h, const char *id)
{
	char err[512];
	int rc;

	if (id[0] == '\0')
		return;
	rc = docker_api_container_remove(h->api, id, true, err, sizeof(err));
	if (rc != DOCKER_API_OK && rc != DOCKER_API_NOT_FOUND)
		fprintf(stderr, "cleanup: remove %s: %s\n", id, err);
}

/* The node's data root was wiped, orchd came back as a new node: at start
 * the plugin removes the containers of its data directory made under the
 * old node id, and leaves those of another data directory and those
 * without the label (older orchd) alone. */
static void test_previous_identity_removed(void **state)
{
	struct test_host *h = *state;
	char old_node[96], other_dir[PATH_MAX + 16];
	char stale[128] = "", other[128] = "", unlabelled[128] = "";
	struct destroy_watch watch = { 0 };
	char expected[256], *logged;
	bool stale_destroyed;

	snprintf(old_node, sizeof(old_node), "%s-old", test_node_id);
	snprintf(other_dir, sizeof(other_dir), "%s-elsewhere", test_data_dir);
	host_plugin_fini(h);
	destroy_watch_start(&watch);
	engine_run_labelled(h,
			    json_pack("{s:s,s:s,s:s,s:s}", "orchd.node.id",
				      old_node, "orchd.data-dir", test_data_dir,
				      "orchd.task.id", "old1",
				      "orchd.stop-grace-ms", "1000"),
			    stale, sizeof(stale));
	engine_run_labelled(h,
			    json_pack("{s:s,s:s,s:s}", "orchd.node.id", old_node,
				      "orchd.data-dir", other_dir,
				      "orchd.task.id", "old2"),
			    other, sizeof(other));
	engine_run_labelled(h,
			    json_pack("{s:s,s:s}", "orchd.node.id", old_node,
				      "orchd.task.id", "old3"),
			    unlabelled, sizeof(unlabelled));
	assert_true(engine_running(h, stale));

	snprintf(expected, sizeof(expected),
		 "removed container %s of a previous identity of this node "
		 "(node %s)",
		 stale, old_node);
	test_log_keep(expected);
	host_plugin_init(h, NULL);
	stale_destroyed = destroy_watch_wait(&watch, stale);
	logged = test_log_wait();
	destroy_watch_stop(&watch);
	bool other_running = engine_running(h, other);
	bool unlabelled_running = engine_running(h, unlabelled);
	engine_remove_quietly(h, stale);
	engine_remove_quietly(h, other);
	engine_remove_quietly(h, unlabelled);
	assert_true(stale_destroyed);
	assert_non_null(logged);
	free(logged);
	assert_true(other_running);
	assert_true(unlabelled_running);
}

static void test_demux(void **state)
{
	const char in[] = "\x01\0\0\0\0\0\0\x03"
			  "ab\n"
			  "\x02\0\0\0\0\0\0\x02"
			  "c\n"
			  "\x01\0\0\0\0\0\0\x09"
			  "cut";
	char *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(docker_api_demux(in, sizeof(in) - 1, &out, &len),
			 DOCKER_API_OK);
	assert_int_equal(len, 8);
	assert_string_equal(out, "ab\nc\ncut");
	free(out);
	assert_int_equal(docker_api_demux("raw text", 8, &out, &len),
			 DOCKER_API_OK);
	assert_string_equal(out, "raw text");
	free(out);
}

/* ----------------------------------------------------------------- main */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demux),
		cmocka_unit_test_setup_teardown(test_info_available, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_start_three_then_stop,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_while_starting,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_codes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_image_rejected,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_container_config, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_adoption, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_helper, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_previous_identity_removed,
						setup, teardown),
	};

	return docker_test_main("test_runtime_docker", tests,
				sizeof(tests) / sizeof(tests[0]));
}

/*
 * test_manager_fixture.c: the manager driven step by step without its
 * thread (manager_fixture.h): a fake clock and fake ids, messages posted to
 * its inbox by the test, one manager_run_once at a time, the scheduler
 * plugin answered by the test. The raft replica is real (a single voter,
 * its WAL in a temporary directory); workers arrive as node.put commands
 * (a join needs the network) and then speak for themselves: sessions to
 * the dispatcher, task status reports. Covers placement (and the re-check
 * of a stale reply), the scheduler's deadline, the restart policy, node
 * liveness, a rolling update and a membership step. Owns its fixture.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager.h"
#include "manager_fixture.h"
#include "raft_node.h"
#include "timefmt.h"

#define MS 1000000LL
#define SEC 1000000000LL

struct fx {
	char dir[64];
	struct manager *m;
	int64_t mono, wall;
	unsigned ids;
	uint64_t rnd;
	json_t *proposed; /* every command the manager proposed */
	json_t *requests; /* schedule requests not answered: [{seq, request}] */
	json_t *sessions; /* node id -> the dispatcher's last reply */
};

/* ------------------------------------------------------------ the env */

static int64_t fx_mono(void *ctx)
{
	return ((struct fx *)ctx)->mono;
}

static int64_t fx_wall(void *ctx)
{
	return ((struct fx *)ctx)->wall;
}

static void fx_new_id(void *ctx, char *buf)
{
	struct fx *f = ctx;
	snprintf(buf, 26, "id%023u", ++f->ids);
}

static uint64_t fx_random(void *ctx)
{
	struct fx *f = ctx;
	f->rnd = f->rnd * 6364136223846793005ULL + 1442695040888963407ULL;
	return f->rnd >> 11;
}

static void fx_schedule(void *ctx, uint64_t seq, const char *plugin,
			json_t *request, int timeout_ms)
{
	struct fx *f = ctx;
	assert_string_equal(plugin, "fake");
	assert_true(timeout_ms > 0);
	json_array_append_new(f->requests, json_pack("{s:I,s:o}", "seq", (json_int_t)seq,
						     "request", request));
}

static void fx_proposed(void *ctx, const json_t *cmd)
{
	struct fx *f = ctx;
	json_array_append_new(f->proposed, json_deep_copy(cmd));
}

/* ------------------------------------------------------------ driving */

static void run(struct fx *f)
{
	manager_run_once(f->m);
}

/* Lets time pass in raft ticks (100 ms), one step each. */
static void advance(struct fx *f, int64_t ns)
{
	for (int64_t t = 0; t < ns; t += 100 * MS) {
		f->mono += 100 * MS;
		f->wall += 100 * MS;
		run(f);
	}
}

static void now_text(struct fx *f, char *buf, size_t len)
{
	timefmt_rfc3339(f->wall, buf, len);
}

/* An API call answered by the core thread; returns the status, the JSON
 * body in *out (if not NULL). */
static int api(struct fx *f, const char *method, const char *path,
	       const char *version, const char *body, json_t **out)
{
	struct api_pair q = { .name = (char *)"version", .value = (char *)version };
	struct api_request req = { .method = method, .path = path, .raw_target = path,
				   .body = body ? body : "", .body_len = body ? strlen(body) : 0,
				   .query = version ? &q : NULL, .query_count = version ? 1 : 0 };
	struct api_response resp = { 0 };
	struct api_call ac = { .req = &req, .resp = &resp };
	struct inbox_call call;
	inbox_call_init(&call, &ac);
	assert_int_equal(inbox_post(manager_inbox(f->m), INBOX_API, NULL, &call), 0);
	for (int i = 0; i < 20 && !latch_is_set(&call.done); i++)
		run(f);
	assert_true(latch_is_set(&call.done));
	inbox_call_fini(&call);
	if (out)
		*out = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
	free(resp.body);
	return resp.status ? resp.status : 200;
}

struct session_box {
	struct inbox_reply_to to;
	struct fx *f;
	char node[32];
};

static void on_session_reply(void *ctx, json_t *reply)
{
	struct session_box *b = ctx;
	json_object_set_new(b->f->sessions, b->node, reply);
	free(b);
}

/* The agent of node asks for its tasks (its heartbeat). */
static void heartbeat(struct fx *f, const char *node)
{
	struct session_box *b = calloc(1, sizeof(*b));
	assert_non_null(b);
	b->to = (struct inbox_reply_to){ .fn = on_session_reply, .ctx = b };
	b->f = f;
	snprintf(b->node, sizeof(b->node), "%s", node);
	json_t *req = json_pack("{s:s,s:s,s:s,s:i}", "op", "session", "node_id", node,
				"session_id", node, "ack", 0);
	assert_int_equal(inbox_post_ptr(manager_inbox(f->m), INBOX_CLUSTER_REQUEST, req,
					&b->to), 0);
}

/* Time passes with the agents of the nodes named (NULL-terminated) alive. */
static void advance_alive(struct fx *f, int64_t ns, const char *const *nodes)
{
	for (int64_t t = 0; t < ns; t += 500 * MS) {
		for (size_t i = 0; nodes[i]; i++)
			heartbeat(f, nodes[i]);
		advance(f, 500 * MS);
	}
}

static void report(struct fx *f, const char *node, const char *task, const char *state)
{
	char now[40];
	now_text(f, now, sizeof(now));
	json_t *u = json_pack("{s:s,s:s,s:s}", "id", task, "state", state, "now", now);
	if (strcmp(state, "failed") == 0)
		json_object_set_new(u, "exit_code", json_integer(1));
	assert_int_equal(inbox_post(manager_inbox(f->m), INBOX_TASK_STATUSES,
				    json_pack("{s:s,s:[o]}", "node", node, "updates", u), NULL),
			 0);
	run(f);
}

static void add_worker(struct fx *f, const char *id)
{
	char now[40], text[700];
	now_text(f, now, sizeof(now));
	snprintf(text, sizeof(text),
		 "{\"op\":\"node.put\",\"node\":{\"ID\":\"%s\",\"CreatedAt\":\"%s\","
		 "\"Spec\":{\"Role\":\"worker\",\"Availability\":\"active\",\"Labels\":{}},"
		 "\"Description\":{\"Hostname\":\"%s\",\"Resources\":{\"NanoCPUs\":4000000000,"
		 "\"MemoryBytes\":4000000000},\"OrchRuntimes\":[\"process\"]},"
		 "\"Status\":{\"State\":\"ready\",\"Addr\":\"10.0.0.1\"}}}",
		 id, now, id);
	assert_int_equal(manager_inject(f->m, json_loads(text, 0, NULL)), 0);
	heartbeat(f, id);
	run(f);
}

/* ------------------------------------------------------------ reading */

static const struct store *store(struct fx *f)
{
	return manager_store(f->m);
}

static const char *task_state(struct fx *f, const char *id)
{
	return task_state_name(store_task_state(store_task(store(f), id)));
}

static const char *task_err(struct fx *f, const char *id)
{
	return json_string_value(json_object_get(
		json_object_get(store_task(store(f), id), "Status"), "Err"));
}

/* Ids of the tasks of service `name` (desired running) in state, at most
 * max; returns how many. */
static size_t tasks_in(struct fx *f, const char *name, const char *state,
		       const char **ids, size_t max)
{
	size_t n = 0;
	const char *id;
	json_t *t;
	json_object_foreach(store(f)->tasks, id, t) {
		const char *svc = json_string_value(json_object_get(t, "ServiceName"));
		const char *desired = store_task_desired(t);
		if (!svc || strcmp(svc, name) != 0 || !desired || strcmp(desired, "running") != 0 ||
		    (state && strcmp(task_state_name(store_task_state(t)), state) != 0))
			continue;
		if (n < max)
			ids[n] = id;
		n++;
	}
	return n;
}

/* The oldest unanswered schedule request (borrowed), or NULL. */
static json_t *request_pending(struct fx *f)
{
	return json_array_get(f->requests, 0);
}

static size_t request_n_tasks(struct fx *f)
{
	return json_array_size(json_object_get(json_object_get(request_pending(f), "request"),
					       "tasks"));
}

static const char *request_task(struct fx *f, size_t i)
{
	return json_string_value(json_object_get(
		json_array_get(json_object_get(json_object_get(request_pending(f), "request"),
					       "tasks"), i), "id"));
}

/* Answers the oldest request, which must ask about n tasks: task i of it
 * placed on nodes[i] (NULL: unplaced, "no room"). */
static void answer_n(struct fx *f, const char *const *nodes, size_t n)
{
	json_t *r = request_pending(f);
	assert_non_null(r);
	assert_int_equal(request_n_tasks(f), n);
	json_t *placements = json_array(), *unplaced = json_array();
	for (size_t i = 0; i < request_n_tasks(f); i++) {
		if (nodes[i])
			json_array_append_new(placements,
					      json_pack("{s:s,s:s}", "task_id", request_task(f, i),
							"node_id", nodes[i]));
		else
			json_array_append_new(unplaced, json_pack("{s:s,s:s}", "task_id",
								  request_task(f, i), "error",
								  "no room"));
	}
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(r, "seq"));
	assert_int_equal(manager_scheduler_answer(manager_inbox(f->m), seq,
						  json_pack("{s:o,s:o}", "placements", placements,
							    "unplaced", unplaced),
						  NULL),
			 0);
	json_array_remove(f->requests, 0);
	run(f);
	run(f);
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define answer(f, nodes) answer_n(f, nodes, N_OF(nodes))

static int count_ops(struct fx *f, const char *op)
{
	int n = 0;
	size_t i;
	json_t *cmd;
	json_array_foreach(f->proposed, i, cmd)
		n += strcmp(json_string_value(json_object_get(cmd, "op")), op) == 0;
	return n;
}

static json_int_t service_version(struct fx *f, const char *name, char *buf, size_t len)
{
	json_t *svc = store_service_find(store(f), name);
	json_int_t v = json_integer_value(json_object_get(json_object_get(svc, "Version"), "Index"));
	snprintf(buf, len, "%lld", (long long)v);
	return v;
}

/* ------------------------------------------------------------ fixture */

static int setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/tmp/orchd-fixture-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	f.mono = 1000 * SEC;
	f.wall = 1767225600LL * SEC; /* 2026-01-01 */
	f.rnd = 42;
	f.proposed = json_array();
	f.requests = json_array();
	f.sessions = json_object();
	struct manager_config cfg = { .data_root = f.dir, .hostname = "mgr",
				      .node_id = "mgr000000000000000000000", .raft_id = 1,
				      .scheduler = "fake" };
	struct manager_env env = { .ctx = &f, .mono_ns = fx_mono, .wall_ns = fx_wall,
				   .new_id = fx_new_id, .random = fx_random,
				   .schedule = fx_schedule, .proposed = fx_proposed };
	char err[512] = "";
	if (manager_open(&cfg, &env, &f.m, err, sizeof(err)) != 0)
		fail_msg("manager_open: %s", err);
	if (manager_bootstrap(f.m, err, sizeof(err)) != 0)
		fail_msg("manager_bootstrap: %s", err);
	run(&f);
	assert_true(raft_node_is_leader(manager_replica(f.m)));
	assert_false(json_is_null(store(&f)->cluster));
	add_worker(&f, "w1");
	add_worker(&f, "w2");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	manager_close(f->m);
	json_decref(f->proposed);
	json_decref(f->requests);
	json_decref(f->sessions);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static const char *const both[] = { "w1", "w2", NULL };

/* Creates service name with `replicas` and extra spec fields (JSON text
 * after the TaskTemplate, may be ""); its tasks get as far as the
 * scheduler. */
static void create_service(struct fx *f, const char *name, int replicas,
			   const char *restart, const char *extra)
{
	char body[800];
	snprintf(body, sizeof(body),
		 "{\"Name\":\"%s\",\"Mode\":{\"Replicated\":{\"Replicas\":%d}},"
		 "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"img:1\"},"
		 "\"RestartPolicy\":%s}%s}",
		 name, replicas, restart, extra);
	assert_int_equal(api(f, "POST", "/services/create", NULL, body, NULL), 201);
	run(f);
}

/* The n tasks of the oldest request placed (in its order) on nodes and
 * running. */
static void place_and_run_n(struct fx *f, const char *const *nodes, size_t n)
{
	char ids[8][32];
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		snprintf(ids[i], sizeof(ids[i]), "%s", request_task(f, i));
	answer_n(f, nodes, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(task_state(f, ids[i]), "assigned");
		assert_string_equal(store_task_node(store_task(store(f), ids[i])), nodes[i]);
		report(f, nodes[i], ids[i], "running");
		assert_string_equal(task_state(f, ids[i]), "running");
	}
}

#define place_and_run(f, nodes) place_and_run_n(f, nodes, N_OF(nodes))

/* -------------------------------------------------------------- tests */

/* The scheduler's placements become assignments; a reply for another
 * request is ignored; a placement that no longer holds (its node drained
 * since the request) is dropped and the task asked about again. */
static void test_placement(void **state)
{
	struct fx *f = *state;
	create_service(f, "web", 2, "{}", "");
	const char *ids[4];
	assert_int_equal(tasks_in(f, "web", "pending", ids, 4), 2);
	assert_int_equal(json_array_size(f->requests), 1);
	assert_int_equal(request_n_tasks(f), 2);
	/* The request lists every node with its usage. */
	assert_int_equal(json_array_size(json_object_get(
				 json_object_get(request_pending(f), "request"), "nodes")), 3);
	/* An answer to a request never made changes nothing. */
	manager_scheduler_answer(manager_inbox(f->m), 999,
				 json_pack("{s:[{s:s,s:s}]}", "placements", "task_id", ids[0],
					   "node_id", "w1"), NULL);
	run(f);
	assert_string_equal(task_state(f, ids[0]), "pending");
	const char *const nodes[] = { "w1", "w2" };
	place_and_run(f, nodes);
	assert_int_equal(tasks_in(f, "web", "running", ids, 4), 2);

	char version[24];
	service_version(f, "web", version, sizeof(version));
	/* What the routes find by {id} is the real thing; else a 404 says what. */
	const char *missing[][3] = { { "GET", "/nodes/nope", "node nope not found" },
				     { "GET", "/services/nope", "service nope not found" },
				     { "POST", "/services/nope/update", "service nope not found" } };
	for (size_t i = 0; i < N_OF(missing); i++) {
		json_t *err = NULL;
		assert_int_equal(api(f, missing[i][0], missing[i][1], version, "{}", &err), 404);
		assert_string_equal(json_string_value(json_object_get(err, "message")), missing[i][2]);
		json_decref(err);
	}
	json_t *found = NULL;
	assert_int_equal(api(f, "GET", "/services/web", NULL, NULL, &found), 200);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(found, "Spec"), "Name")), "web");
	json_decref(found);
	assert_int_equal(api(f, "POST", "/services/web/update", version,
			     "{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":3}},"
			     "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"img:1\"},"
			     "\"RestartPolicy\":{}}}", NULL), 200);
	run(f);
	assert_int_equal(json_array_size(f->requests), 1);
	char third[32];
	snprintf(third, sizeof(third), "%s", request_task(f, 0));
	/* w2 is drained before the answer placing the task there arrives. */
	json_t *w2 = json_deep_copy(store_node(store(f), "w2"));
	json_object_set_new(json_object_get(w2, "Spec"), "Availability", json_string("drain"));
	assert_int_equal(manager_inject(f->m, json_pack("{s:s,s:o}", "op", "node.put", "node", w2)), 0);
	run(f);
	const char *const to_w2[] = { "w2" };
	answer(f, to_w2);
	assert_string_equal(task_state(f, third), "pending");
	assert_null(store_task_node(store_task(store(f), third)));
	/* Asked again within the retry period (with the replacement of w2's
	 * task, drained), placed where it fits. */
	advance_alive(f, 1500 * MS, both);
	assert_int_equal(json_array_size(f->requests), 1);
	const char *const to_w1[] = { "w1", "w1" };
	answer(f, to_w1);
	assert_string_equal(task_state(f, third), "assigned");
	assert_string_equal(store_task_node(store_task(store(f), third)), "w1");
}

/* A scheduler that does not answer: the core thread goes on (raft leads,
 * writes commit), the tasks say why after 5 s, no second request goes out
 * meanwhile; a late answer still places them (checked again), and the
 * next request waits out a back-off. */
static void test_scheduler_deadline(void **state)
{
	struct fx *f = *state;
	create_service(f, "slow", 1, "{}", "");
	const char *ids[4];
	assert_int_equal(tasks_in(f, "slow", "pending", ids, 4), 1);
	const char *task = ids[0];
	assert_int_equal(json_array_size(f->requests), 1);
	advance_alive(f, 4500 * MS, both);
	assert_null(task_err(f, task));
	advance_alive(f, 1000 * MS, both);
	assert_string_equal(task_err(f, task), "scheduler fake did not answer in 5 s");
	assert_true(raft_node_is_leader(manager_replica(f->m)));
	/* A write is acknowledged while the request is still out. */
	create_service(f, "other", 1, "{}", "");
	assert_int_equal(tasks_in(f, "other", "pending", ids, 4), 1);
	advance_alive(f, 2 * SEC, both);
	assert_int_equal(json_array_size(f->requests), 1); /* one in flight */
	const char *const to_w1[] = { "w1" };
	answer(f, to_w1);
	assert_string_equal(task_state(f, task), "assigned");
	/* The late answer means a back-off before the next request. */
	run(f);
	assert_int_equal(json_array_size(f->requests), 0);
	advance_alive(f, 1500 * MS, both);
	assert_int_equal(json_array_size(f->requests), 1);
	assert_int_equal(request_n_tasks(f), 1);
}

/* on-failure with a 2 s delay: a failed task is replaced after the delay,
 * not before; a task that completes is not replaced. */
static void test_restart_policy(void **state)
{
	struct fx *f = *state;
	create_service(f, "job", 1, "{\"Condition\":\"on-failure\",\"Delay\":2000000000}", "");
	const char *ids[4];
	const char *const to_w1[] = { "w1" };
	place_and_run(f, to_w1);
	assert_int_equal(tasks_in(f, "job", "running", ids, 4), 1);
	char first[32];
	snprintf(first, sizeof(first), "%s", ids[0]);
	report(f, "w1", first, "failed");
	assert_string_equal(task_state(f, first), "failed");
	advance_alive(f, 1500 * MS, both);
	assert_int_equal(tasks_in(f, "job", NULL, ids, 4), 1); /* the failed one */
	advance_alive(f, 1000 * MS, both);
	assert_int_equal(tasks_in(f, "job", "pending", ids, 4), 1);
	assert_string_not_equal(ids[0], first);
	assert_int_equal(store_task_slot(store_task(store(f), ids[0])),
			 store_task_slot(store_task(store(f), first)));
	place_and_run(f, to_w1);
	tasks_in(f, "job", "running", ids, 4);
	report(f, "w1", ids[0], "complete");
	advance_alive(f, 3 * SEC, both);
	assert_int_equal(json_array_size(f->requests), 0);
	assert_int_equal(tasks_in(f, "job", "pending", ids, 4), 0);
}

/* w1's agent goes silent: w1 is marked down, its task replaced; a stale
 * answer placing the replacement on w1 is refused; it goes to w2. */
static void test_node_liveness(void **state)
{
	struct fx *f = *state;
	create_service(f, "web", 2, "{}", "");
	const char *const nodes[] = { "w1", "w2" };
	place_and_run(f, nodes);
	const char *const only_w2[] = { "w2", NULL };
	advance_alive(f, 2 * SEC, only_w2);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(store_node(store(f), "w1"), "Status"), "State")),
			    "ready");
	advance_alive(f, 1500 * MS, only_w2);
	json_t *status = json_object_get(store_node(store(f), "w1"), "Status");
	assert_string_equal(json_string_value(json_object_get(status, "State")), "down");
	assert_string_equal(json_string_value(json_object_get(status, "Message")),
			    "heartbeat failure");
	assert_int_equal(json_array_size(f->requests), 1);
	char replacement[32];
	snprintf(replacement, sizeof(replacement), "%s", request_task(f, 0));
	const char *const to_w1[] = { "w1" };
	answer(f, to_w1);
	assert_string_equal(task_state(f, replacement), "pending");
	advance_alive(f, 1500 * MS, only_w2);
	const char *const to_w2[] = { "w2" };
	answer(f, to_w2);
	const char *ids[4];
	assert_int_equal(tasks_in(f, "web", "assigned", ids, 4), 1);
	assert_string_equal(store_task_node(store_task(store(f), ids[0])), "w2");
	/* w1's agent comes back: ready again. */
	advance_alive(f, 1 * SEC, both);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(store_node(store(f), "w1"), "Status"), "State")),
			    "ready");
}

/* Parallelism 1, Delay 2 s, Monitor 1 s: one task replaced at a time, the
 * next 2 s after the previous one runs; completed once the last ran for
 * Monitor. */
static void test_rolling_update(void **state)
{
	struct fx *f = *state;
	const char *update = ",\"UpdateConfig\":{\"Parallelism\":1,\"Delay\":2000000000,"
			     "\"Monitor\":1000000000}";
	create_service(f, "web", 2, "{}", update);
	const char *const nodes[] = { "w1", "w2" };
	place_and_run(f, nodes);
	char version[24], body[600];
	service_version(f, "web", version, sizeof(version));
	snprintf(body, sizeof(body),
		 "{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":2}},"
		 "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"img:2\"},"
		 "\"RestartPolicy\":{}}%s}", update);
	assert_int_equal(api(f, "POST", "/services/web/update", version, body, NULL), 200);
	run(f);
	const char *ids[4];
	assert_int_equal(tasks_in(f, "web", "pending", ids, 4), 1);
	assert_int_equal(tasks_in(f, "web", "running", ids, 4), 1);
	const char *const to_w1[] = { "w1" };
	place_and_run(f, to_w1);
	/* Delay not yet over: the second is still the old one. */
	advance_alive(f, 1500 * MS, both);
	assert_int_equal(tasks_in(f, "web", "pending", ids, 4), 0);
	assert_int_equal(json_array_size(f->requests), 0);
	advance_alive(f, 1 * SEC, both);
	assert_int_equal(tasks_in(f, "web", "pending", ids, 4), 1);
	const char *const to_w2[] = { "w2" };
	place_and_run(f, to_w2);
	advance_alive(f, 3 * SEC, both);
	json_t *svc = store_service_find(store(f), "web");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(svc, "UpdateStatus"), "State")),
			    "completed");
	assert_int_equal(tasks_in(f, "web", "running", ids, 4), 2);
}

static bool conf_has(struct fx *f, uint64_t id, bool *voter)
{
	struct raft_status st;
	raft_node_status(manager_replica(f->m), &st);
	*voter = false;
	for (uint32_t i = 0; i < st.conf.n_voters; i++)
		if (st.conf.voters[i] == id)
			return *voter = true;
	for (uint32_t i = 0; i < st.conf.n_learners; i++)
		if (st.conf.learners[i] == id)
			return true;
	return false;
}

/* A manager Node appears: its replica is added as a learner (not a voter:
 * it never catches up here). Demoted through the API: its ManagerStatus
 * is dropped, and after the grace it is removed from raft. */
static void test_membership(void **state)
{
	struct fx *f = *state;
	assert_int_equal(manager_inject(f->m, json_pack(
		"{s:s,s:{s:s,s:{s:s,s:s},s:{s:s},s:{s:b,s:s,s:s},s:s}}", "op", "node.put",
		"node", "ID", "m2", "Spec", "Role", "manager", "Availability", "active",
		"Status", "State", "ready", "ManagerStatus", "Leader", 0, "Reachability",
		"unknown", "Addr", "10.0.0.2:2377", "OrchRaftID", "2")), 0);
	bool voter;
	advance_alive(f, 500 * MS, both);
	assert_true(conf_has(f, 2, &voter));
	assert_false(voter);
	char version[24];
	snprintf(version, sizeof(version), "%lld", (long long)json_integer_value(json_object_get(
		json_object_get(store_node(store(f), "m2"), "Version"), "Index")));
	assert_int_equal(api(f, "POST", "/nodes/m2/update", version,
			     "{\"Role\":\"worker\",\"Availability\":\"active\"}", NULL), 200);
	advance_alive(f, 500 * MS, both);
	assert_null(json_object_get(store_node(store(f), "m2"), "ManagerStatus"));
	assert_true(conf_has(f, 2, &voter));
	advance_alive(f, 6 * SEC, both);
	assert_false(conf_has(f, 2, &voter));
	assert_true(raft_node_is_leader(manager_replica(f->m)));
	assert_true(count_ops(f, "node.put") > 0);
}

/* A node that joined is "unknown" until its agent describes it (runtimes,
 * resources), although its sessions come: a spread could not see it yet.
 * Once described it is ready. */
static void test_joined_node_waits_for_description(void **state)
{
	struct fx *f = *state;
	assert_int_equal(manager_inject(f->m, json_pack(
		"{s:s,s:{s:s,s:{s:s,s:s,s:{}},s:{s:s},s:{s:s,s:s}}}", "op", "node.put",
		"node", "ID", "w3", "Spec", "Role", "worker", "Availability", "active",
		"Labels", "Description", "Hostname", "w3", "Status", "State", "unknown",
		"Addr", "10.0.0.3")), 0);
	const char *const all[] = { "w1", "w2", "w3", NULL };
	advance_alive(f, 1 * SEC, all);
	json_t *status = json_object_get(store_node(store(f), "w3"), "Status");
	assert_string_equal(json_string_value(json_object_get(status, "State")), "unknown");
	json_t *info = json_pack("{s:s,s:[s],s:{s:I,s:I}}", "node", "w3", "runtimes", "process",
				 "resources", "nano_cpus", (json_int_t)4000000000LL,
				 "memory_bytes", (json_int_t)4000000000LL);
	assert_int_equal(inbox_post(manager_inbox(f->m), INBOX_NODE_INFO, info, NULL), 0);
	advance_alive(f, 1 * SEC, all);
	status = json_object_get(store_node(store(f), "w3"), "Status");
	assert_string_equal(json_string_value(json_object_get(status, "State")), "ready");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_placement),
		T(test_scheduler_deadline),
		T(test_restart_policy),
		T(test_node_liveness),
		T(test_rolling_update),
		T(test_membership),
		T(test_joined_node_waits_for_description),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

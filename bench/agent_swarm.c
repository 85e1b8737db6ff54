/*
 * agent_swarm.c: how many agents one orchd manager serves (issue 4). It
 * joins N simulated worker nodes to a real manager with the real join
 * protocol (cluster_worker_join: CA fetched and checked against the token,
 * CSR, a certificate per node, mutual TLS on port 2377), then runs each
 * node's agent the way core/agent.c does over a remote link: one long-poll
 * session at a time carrying the acknowledged version, the node description
 * once (process runtime, resources), and for every task a session reply
 * assigns, a status batch "accepted" then a batch "running". No runtime,
 * no containers: the simulated agents are the load, the manager is the
 * component measured.
 *
 * Phases, each timed: all N joined; GET /nodes on the manager's API socket
 * shows the N nodes ready and offering the process runtime; --create-cmd
 * (the driver's `orchctl service create --replicas N`) is run and GET
 * /tasks polled until N tasks of --service run; then a steady window of
 * --duration seconds in which only heartbeats flow. The manager's CPU time
 * and RSS (/proc/PID/stat, /proc/PID/status) are read between phases.
 *
 * One thread per simulated agent, with a small stack: cluster_worker_session
 * is a blocking call that holds its thread for the whole long poll (half a
 * heartbeat period), exactly as the agent's session thread does, and the
 * link offers no asynchronous form; driving several agents from one thread
 * would need a different client than the one real workers use. The real
 * agent posts statuses from a second thread; here the same thread posts
 * them right after the session reply that caused them, before its next
 * session request.
 *
 * State: struct swarm (options, the agents, the join gate, phase flags,
 * counters of errors by message); each struct sim_agent (its link, its view
 * of assigned tasks, its unsent status updates, its latency samples) is
 * touched only by its own thread until that thread is joined. Each agent's
 * certificate and key live under --workdir/agent-NNNNN (the caller removes
 * the directory).
 *
 * Usage: agent-swarm --manager IP:PORT --token SWMTKN-... --agents N
 *        --duration SECONDS --workdir DIR --api-socket PATH --manager-pid PID
 *        --create-cmd CMD [--service NAME] [--join-parallel K]
 *        [--timeout SECONDS]
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "swarm_measure.h"
#include "inbox.h"
#include "timefmt.h"

#define SWARM_STACK_BYTES (256 * 1024)
#define SWARM_RETRY_NS 500000000LL     /* as the agent: failed session or post */
#define SWARM_POLL_NS 250000000LL      /* GET /nodes, GET /tasks */
#define SWARM_JOIN_ATTEMPTS 3
#define SWARM_NODE_CPUS 2000000000LL   /* what each simulated node offers */
#define SWARM_NODE_MEMORY (4LL << 30)
#define SWARM_MAX_ERROR_KINDS 16

/* ------------------------------------------------------------- options */

struct swarm_options {
	const char *manager;
	const char *token;
	const char *workdir;
	const char *api_socket;
	const char *create_cmd;
	const char *service;
	long agents;
	long duration_s;
	long manager_pid;
	long join_parallel;
	long timeout_s;
};

static int usage(void)
{
	fprintf(stderr,
		"usage: agent-swarm --manager IP:PORT --token TOKEN --agents N --duration S\n"
		"                   --workdir DIR --api-socket PATH --manager-pid PID\n"
		"                   --create-cmd CMD [--service NAME] [--join-parallel K]\n"
		"                   [--timeout S]\n");
	return 2;
}

static int parse_long(const char *text, long min, long *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || !end || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

static int parse_options(int argc, char **argv, struct swarm_options *o)
{
	static const struct option longs[] = {
		{ "manager", required_argument, NULL, 'm' },
		{ "token", required_argument, NULL, 't' },
		{ "agents", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "api-socket", required_argument, NULL, 's' },
		{ "manager-pid", required_argument, NULL, 'p' },
		{ "create-cmd", required_argument, NULL, 'c' },
		{ "service", required_argument, NULL, 'S' },
		{ "join-parallel", required_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct swarm_options){ .service = "swarm-bench", .join_parallel = 8,
				     .timeout_s = 600 };
	int c, bad = 0;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'm': o->manager = optarg; break;
		case 't': o->token = optarg; break;
		case 'w': o->workdir = optarg; break;
		case 's': o->api_socket = optarg; break;
		case 'c': o->create_cmd = optarg; break;
		case 'S': o->service = optarg; break;
		case 'n': bad |= parse_long(optarg, 1, &o->agents); break;
		case 'd': bad |= parse_long(optarg, 1, &o->duration_s); break;
		case 'p': bad |= parse_long(optarg, 1, &o->manager_pid); break;
		case 'j': bad |= parse_long(optarg, 1, &o->join_parallel); break;
		case 'T': bad |= parse_long(optarg, 1, &o->timeout_s); break;
		default: bad = 1; break;
		}
	}
	if (bad || optind != argc || !o->manager || !o->token || !o->workdir ||
	    !o->api_socket || !o->create_cmd || !o->agents || !o->duration_s ||
	    !o->manager_pid)
		return -1;
	return 0;
}

/* --------------------------------------------------------- the agents */

/* Errors seen by the agents, counted by message (the first few kinds). */
struct error_kinds {
	pthread_mutex_t lock;
	char text[SWARM_MAX_ERROR_KINDS][160];
	long count[SWARM_MAX_ERROR_KINDS];
	long other;
};

struct swarm;

struct sim_agent {
	struct swarm *swarm;
	long index;
	char node_id[40];
	char hostname[40];
	char dir[600];
	pthread_t thread;
	bool started;
	struct cluster_worker *link;
	char session_id[32];
	json_int_t version;
	json_t *assigned;  /* task id -> state this agent reported last */
	json_t *outbox;    /* status updates not yet taken by the manager */
	int64_t joined_ns;
	int64_t first_task_ns;
	int64_t running_posted_ns;
	struct samples session_rtt;    /* every session, whole run */
	struct samples steady_rtt;     /* sessions ended in the steady window */
	struct samples post_rtt;       /* status posts */
	long sessions, session_errors, post_errors, join_attempts;
};

struct swarm {
	struct swarm_options opt;
	struct sim_agent *agents;
	pthread_mutex_t lock;     /* guards the join gate and counters below */
	pthread_cond_t cond;
	long joining;             /* joins in progress (at most join_parallel) */
	long joined, join_failed;
	char join_error[512];
	atomic_bool stop;
	atomic_bool steady;       /* inside the steady window */
	atomic_long steady_sessions;
	struct error_kinds errors;
};

static void error_count(struct error_kinds *e, const char *text)
{
	pthread_mutex_lock(&e->lock);
	size_t i;
	for (i = 0; i < SWARM_MAX_ERROR_KINDS && e->text[i][0]; i++)
		if (strncmp(e->text[i], text, sizeof(e->text[i]) - 1) == 0)
			break;
	if (i == SWARM_MAX_ERROR_KINDS) {
		e->other++;
	} else {
		if (!e->text[i][0])
			snprintf(e->text[i], sizeof(e->text[i]), "%s", text);
		e->count[i]++;
	}
	pthread_mutex_unlock(&e->lock);
}

/* Waits for a free join slot. */
static void join_gate_enter(struct swarm *sw)
{
	pthread_mutex_lock(&sw->lock);
	while (sw->joining >= sw->opt.join_parallel)
		pthread_cond_wait(&sw->cond, &sw->lock);
	sw->joining++;
	pthread_mutex_unlock(&sw->lock);
}

static void join_gate_leave(struct swarm *sw, bool ok, const char *err)
{
	pthread_mutex_lock(&sw->lock);
	sw->joining--;
	if (ok) {
		sw->joined++;
	} else {
		sw->join_failed++;
		if (!sw->join_error[0])
			snprintf(sw->join_error, sizeof(sw->join_error), "%s", err);
	}
	pthread_cond_broadcast(&sw->cond);
	pthread_mutex_unlock(&sw->lock);
}

/* `swarm join` of this agent's node, retried a few times as an operator
 * would; each failure is counted by its message. */
static int agent_join(struct sim_agent *a, char *err, size_t errlen)
{
	struct swarm *sw = a->swarm;
	json_t *body = json_pack("{s:[s],s:s,s:s}", "RemoteAddrs", sw->opt.manager,
				 "JoinToken", sw->opt.token, "AdvertiseAddr", "127.0.0.1");
	int rc = -1;
	while (rc != 0 && a->join_attempts < SWARM_JOIN_ATTEMPTS && !atomic_load(&sw->stop)) {
		if (a->join_attempts++ > 0)
			pause_ns(1000000000LL);
		rc = cluster_worker_join(a->dir, a->node_id, a->hostname, body, &a->link, err,
					 errlen);
		if (rc != 0) {
			char kind[200];
			snprintf(kind, sizeof(kind), "join: %s", err);
			error_count(&sw->errors, kind);
		}
	}
	json_decref(body);
	return rc;
}

/* The node description the agent sends (agent_refresh_runtimes). */
static int agent_send_info(struct sim_agent *a)
{
	json_t *info = json_pack("{s:s,s:[s],s:{s:I,s:I},s:s,s:s}", "node", a->node_id,
				 "runtimes", "process", "resources", "nano_cpus",
				 (json_int_t)SWARM_NODE_CPUS, "memory_bytes",
				 (json_int_t)SWARM_NODE_MEMORY, "default_runtime", "process",
				 "hostname", a->hostname);
	if (!info)
		return -1;
	return cluster_worker_send(a->link, INBOX_NODE_INFO, info);
}

static void agent_report(struct sim_agent *a, const char *task_id, const char *state)
{
	char now[40];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	timefmt_rfc3339((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, now, sizeof(now));
	json_array_append_new(a->outbox, json_pack("{s:s,s:s,s:s,s:s}", "id", task_id,
						   "state", state, "now", now, "message",
						   state));
	json_object_set_new(a->assigned, task_id, json_string(state));
}

/* One status post of everything in the outbox (agent_flush); kept for the
 * next try when the manager does not take it. */
static void agent_flush(struct sim_agent *a)
{
	if (json_array_size(a->outbox) == 0)
		return;
	json_t *msg = json_pack("{s:s,s:o}", "node", a->node_id, "updates",
				json_copy(a->outbox));
	bool has_running = false;
	size_t i;
	json_t *u;
	json_array_foreach(a->outbox, i, u)
		has_running |= strcmp(json_string_value(json_object_get(u, "state")), "running") == 0;
	int64_t t0 = now_ns();
	if (cluster_worker_send(a->link, INBOX_TASK_STATUSES, msg) != 0) {
		a->post_errors++;
		error_count(&a->swarm->errors, "status post refused or failed");
		return;
	}
	int64_t t1 = now_ns();
	samples_add(&a->post_rtt, t1 - t0);
	if (has_running)
		a->running_posted_ns = t1;
	json_array_clear(a->outbox);
}

/* What a reply changes: new tasks the manager wants running are accepted
 * (one batch) and then running (a second batch, as the runtime's events
 * would come); tasks it wants stopped are reported shut down. */
static void agent_apply(struct sim_agent *a, const json_t *reply)
{
	size_t i;
	json_t *t;
	bool started = false;
	json_array_foreach(json_object_get(reply, "tasks"), i, t) {
		const char *id = json_string_value(json_object_get(t, "ID"));
		const char *desired = json_string_value(json_object_get(t, "DesiredState"));
		if (!id || !desired)
			continue;
		const char *mine = json_string_value(json_object_get(a->assigned, id));
		if (strcmp(desired, "running") == 0 && !mine) {
			agent_report(a, id, "accepted");
			started = true;
		} else if (strcmp(desired, "running") != 0 && mine &&
			   strcmp(mine, "shutdown") != 0) {
			agent_report(a, id, "shutdown");
		}
	}
	if (started && !a->first_task_ns)
		a->first_task_ns = now_ns();
	agent_flush(a);
	if (!started)
		return;
	const char *id;
	json_t *state;
	void *iter = json_object_iter(a->assigned);
	while (iter) {
		id = json_object_iter_key(iter);
		state = json_object_iter_value(iter);
		iter = json_object_iter_next(a->assigned, iter);
		if (strcmp(json_string_value(state), "accepted") == 0)
			agent_report(a, id, "running");
	}
	agent_flush(a);
}

/* One session request (agent_session_main); false when it failed. */
static bool agent_session(struct sim_agent *a)
{
	json_t *req = json_pack("{s:i,s:s,s:s,s:s,s:I}", "v", 1, "op", "session", "node_id",
				a->node_id, "session_id", a->session_id, "ack", a->version);
	json_t *reply = NULL;
	char err[512] = "";
	int64_t t0 = now_ns();
	int rc = cluster_worker_session(a->link, req, &reply, err, sizeof(err));
	int64_t t1 = now_ns();
	const char *error = json_string_value(json_object_get(reply, "error"));
	if (rc != 0 || error) {
		char kind[600];
		snprintf(kind, sizeof(kind), "session: %s", error ? error : err);
		error_count(&a->swarm->errors, kind);
		a->session_errors++;
		a->session_id[0] = '\0';
		json_decref(reply);
		return false;
	}
	a->sessions++;
	samples_add(&a->session_rtt, t1 - t0);
	if (atomic_load(&a->swarm->steady)) {
		samples_add(&a->steady_rtt, t1 - t0);
		atomic_fetch_add(&a->swarm->steady_sessions, 1);
	}
	const char *sid = json_string_value(json_object_get(reply, "session_id"));
	snprintf(a->session_id, sizeof(a->session_id), "%s", sid ? sid : "");
	a->version = json_integer_value(json_object_get(reply, "version"));
	agent_apply(a, reply);
	json_decref(reply);
	return true;
}

static void *agent_main(void *arg)
{
	struct sim_agent *a = arg;
	struct swarm *sw = a->swarm;
	char err[512] = "";
	join_gate_enter(sw);
	int rc = agent_join(a, err, sizeof(err));
	if (rc == 0)
		a->joined_ns = now_ns();
	join_gate_leave(sw, rc == 0, err);
	if (rc != 0)
		return NULL;
	agent_send_info(a); /* kept by the link and resent on each connection */
	while (!atomic_load(&sw->stop)) {
		if (!agent_session(a))
			pause_ns(SWARM_RETRY_NS);
		else if (json_array_size(a->outbox))
			agent_flush(a);
	}
	return NULL;
}

static int agent_init(struct sim_agent *a, struct swarm *sw, long index)
{
	a->swarm = sw;
	a->index = index;
	snprintf(a->node_id, sizeof(a->node_id), SWARM_NODE_PREFIX "%05ld", index);
	snprintf(a->hostname, sizeof(a->hostname), "sim-%05ld", index);
	snprintf(a->dir, sizeof(a->dir), "%s/agent-%05ld", sw->opt.workdir, index);
	a->assigned = json_object();
	a->outbox = json_array();
	return a->assigned && a->outbox ? 0 : -1;
}

static void agent_fini(struct sim_agent *a)
{
	cluster_worker_free(a->link);
	json_decref(a->assigned);
	json_decref(a->outbox);
	samples_free(&a->session_rtt);
	samples_free(&a->steady_rtt);
	samples_free(&a->post_rtt);
}

/* ------------------------------------------------------------ phases */

static int start_agents(struct swarm *sw, char *err, size_t errlen)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SWARM_STACK_BYTES);
	int rc = 0;
	for (long i = 0; i < sw->opt.agents; i++) {
		int e = pthread_create(&sw->agents[i].thread, &attr, agent_main, &sw->agents[i]);
		if (e != 0) {
			snprintf(err, errlen, "thread of agent %ld: %s", i, strerror(e));
			rc = -1;
			break;
		}
		sw->agents[i].started = true;
	}
	pthread_attr_destroy(&attr);
	return rc;
}

static void stop_agents(struct swarm *sw)
{
	atomic_store(&sw->stop, true);
	pthread_mutex_lock(&sw->lock);
	pthread_cond_broadcast(&sw->cond);
	pthread_mutex_unlock(&sw->lock);
	for (long i = 0; i < sw->opt.agents; i++)
		if (sw->agents[i].started)
			pthread_join(sw->agents[i].thread, NULL);
}

/* Waits until every agent joined or gave up; -1 when one gave up. */
static int wait_joined(struct swarm *sw, char *err, size_t errlen)
{
	pthread_mutex_lock(&sw->lock);
	while (sw->joined + sw->join_failed < sw->opt.agents)
		pthread_cond_wait(&sw->cond, &sw->lock);
	int rc = sw->join_failed ? -1 : 0;
	if (rc)
		snprintf(err, errlen, "%ld of %ld joins failed; first: %s", sw->join_failed,
			 sw->opt.agents, sw->join_error);
	pthread_mutex_unlock(&sw->lock);
	return rc;
}

static int wait_nodes_ready(struct swarm *sw, int64_t deadline, char *err, size_t errlen)
{
	long ready = 0, down = 0;
	for (;;) {
		if (api_count_nodes(sw->opt.api_socket, &ready, &down, err, errlen) != 0)
			return -1;
		if (ready == sw->opt.agents)
			return 0;
		if (now_ns() > deadline) {
			snprintf(err, errlen, "only %ld of %ld nodes ready (%ld down) after %ld s",
				 ready, sw->opt.agents, down, sw->opt.timeout_s);
			return -1;
		}
		pause_ns(SWARM_POLL_NS);
	}
}

static int wait_tasks_running(struct swarm *sw, int64_t deadline, char *err, size_t errlen)
{
	long running = 0;
	for (;;) {
		if (api_count_running(sw->opt.api_socket, sw->opt.service, &running, err,
				      errlen) != 0)
			return -1;
		if (running >= sw->opt.agents)
			return 0;
		if (now_ns() > deadline) {
			snprintf(err, errlen, "only %ld of %ld tasks running after %ld s", running,
				 sw->opt.agents, sw->opt.timeout_s);
			return -1;
		}
		pause_ns(SWARM_POLL_NS);
	}
}

static int run_create(struct swarm *sw, char *err, size_t errlen)
{
	int rc = system(sw->opt.create_cmd);
	if (rc != 0) {
		snprintf(err, errlen, "--create-cmd exited with status %d", rc);
		return -1;
	}
	return 0;
}

/* Everything after a phase failed or the run ended. */
struct swarm_result {
	struct proc_sample start, joined, ready, running, steady_from, steady_to;
	int64_t t0, t_joined, t_ready, t_create, t_running;
	long down_at_end;
	bool failed;
	char why[600];
};

static void print_errors(struct swarm *sw)
{
	struct error_kinds *e = &sw->errors;
	for (size_t i = 0; i < SWARM_MAX_ERROR_KINDS && e->text[i][0]; i++)
		printf("errors: %6ld x %s\n", e->count[i], e->text[i]);
	if (e->other)
		printf("errors: %6ld x (other kinds)\n", e->other);
}

/* Distribution over agents of (when it got its task - create). */
static void print_assignment_spread(struct swarm *sw, int64_t t_create)
{
	struct samples got = { 0 }, posted = { 0 };
	for (long i = 0; i < sw->opt.agents; i++) {
		struct sim_agent *a = &sw->agents[i];
		if (a->first_task_ns >= t_create)
			samples_add(&got, a->first_task_ns - t_create);
		if (a->running_posted_ns >= t_create)
			samples_add(&posted, a->running_posted_ns - t_create);
	}
	printf("agents got a task after create: n %zu p50 %.0f ms p99 %.0f ms max %.0f ms\n",
	       got.n, samples_pct_ms(&got, 50), samples_pct_ms(&got, 99),
	       samples_pct_ms(&got, 100));
	printf("agents posted running after create: n %zu p50 %.0f ms p99 %.0f ms max %.0f ms\n",
	       posted.n, samples_pct_ms(&posted, 50), samples_pct_ms(&posted, 99),
	       samples_pct_ms(&posted, 100));
	samples_free(&got);
	samples_free(&posted);
}

static double cpu_pct(const struct proc_sample *a, const struct proc_sample *b)
{
	double wall = seconds_between(a->at_ns, b->at_ns);
	return wall > 0 ? 100.0 * (b->cpu_s - a->cpu_s) / wall : 0.0;
}

static void print_result(struct swarm *sw, struct swarm_result *r)
{
	struct samples all = { 0 }, steady = { 0 }, posts = { 0 };
	long sessions = 0, session_errors = 0, post_errors = 0, retried_joins = 0;
	for (long i = 0; i < sw->opt.agents; i++) {
		struct sim_agent *a = &sw->agents[i];
		samples_merge(&all, &a->session_rtt);
		samples_merge(&steady, &a->steady_rtt);
		samples_merge(&posts, &a->post_rtt);
		sessions += a->sessions;
		session_errors += a->session_errors;
		post_errors += a->post_errors;
		retried_joins += a->join_attempts > 1;
	}
	printf("sessions %ld (errors %ld), status post errors %ld, joins retried %ld\n", sessions,
	       session_errors, post_errors, retried_joins);
	printf("session rtt, whole run: p50 %.1f ms p99 %.1f ms max %.1f ms (n %zu)\n",
	       samples_pct_ms(&all, 50), samples_pct_ms(&all, 99), samples_pct_ms(&all, 100), all.n);
	double p50 = samples_pct_ms(&steady, 50), p99 = samples_pct_ms(&steady, 99);
	printf("session rtt, steady window (idle long polls, hold = heartbeat/2): "
	       "p50 %.1f ms p99 %.1f ms max %.1f ms (n %zu)\n",
	       p50, p99, samples_pct_ms(&steady, 100), steady.n);
	printf("status post rtt: p50 %.1f ms p99 %.1f ms (n %zu)\n", samples_pct_ms(&posts, 50),
	       samples_pct_ms(&posts, 99), posts.n);
	double steady_s = seconds_between(r->steady_from.at_ns, r->steady_to.at_ns);
	printf("steady window %.1f s: %.0f sessions/s answered, manager cpu %.0f%%\n", steady_s,
	       steady_s > 0 ? (double)atomic_load(&sw->steady_sessions) / steady_s : 0.0,
	       cpu_pct(&r->steady_from, &r->steady_to));
	if (r->t_create)
		print_assignment_spread(sw, r->t_create);
	print_errors(sw);
	printf("RESULT n=%ld join_s=%.2f ready_s=%.2f running_s=%.2f "
	       "cpu_join_s=%.2f cpu_place_s=%.2f cpu_steady_pct=%.0f "
	       "rss_start_mib=%.1f rss_end_mib=%.1f p50_ms=%.1f p99_ms=%.1f "
	       "session_errors=%ld down_at_end=%ld status=%s\n",
	       sw->opt.agents, phase_s(r->t0, r->t_joined), phase_s(r->t_joined, r->t_ready),
	       phase_s(r->t_create, r->t_running),
	       r->t_ready ? r->ready.cpu_s - r->start.cpu_s : -1.0,
	       r->t_running ? r->running.cpu_s - r->ready.cpu_s : -1.0,
	       cpu_pct(&r->steady_from, &r->steady_to), r->start.rss_kib / 1024.0,
	       r->steady_to.rss_kib / 1024.0, p50, p99, session_errors, r->down_at_end,
	       r->failed ? "FAILED" : "ok");
	if (r->failed)
		printf("FAILED: %s\n", r->why);
	samples_free(&all);
	samples_free(&steady);
	samples_free(&posts);
}

/* Ends a phase begun at since: prints fmt with the agent count and the
 * seconds it took; returns the time it ended. */
static int64_t phase_end(int64_t since, long agents, const char *fmt)
	__attribute__((format(printf, 3, 0)));
static int64_t phase_end(int64_t since, long agents, const char *fmt)
{
	int64_t now = now_ns();

	printf(fmt, agents, seconds_between(since, now));
	return now;
}

/* The measured phases, in order; stops at the first that fails. */
static int run_phases(struct swarm *sw, struct swarm_result *r, char *err, size_t errlen)
{
	long pid = sw->opt.manager_pid;
	int64_t deadline = now_ns() + (int64_t)sw->opt.timeout_s * 1000000000LL;
	if (proc_sample(pid, &r->start, "at start", err, errlen) != 0)
		return -1;
	r->t0 = now_ns();
	if (start_agents(sw, err, errlen) != 0 || wait_joined(sw, err, errlen) != 0)
		return -1;
	r->t_joined = phase_end(r->t0, sw->opt.agents, "joined %ld agents in %.2f s\n");
	if (wait_nodes_ready(sw, deadline, err, errlen) != 0)
		return -1;
	r->t_ready = phase_end(r->t_joined, sw->opt.agents,
			       "all %ld nodes ready in GET /nodes %.2f s after the last join\n");
	if (proc_sample(pid, &r->ready, "all ready", err, errlen) != 0)
		return -1;
	r->t_create = now_ns();
	if (run_create(sw, err, errlen) != 0 || wait_tasks_running(sw, deadline, err, errlen) != 0)
		return -1;
	r->t_running = phase_end(r->t_create, sw->opt.agents,
				 "%ld tasks running in GET /tasks %.2f s after create\n");
	if (proc_sample(pid, &r->running, "all running", err, errlen) != 0)
		return -1;
	if (proc_sample(pid, &r->steady_from, NULL, err, errlen) != 0)
		return -1;
	atomic_store(&sw->steady, true);
	pause_ns((int64_t)sw->opt.duration_s * 1000000000LL);
	atomic_store(&sw->steady, false);
	if (proc_sample(pid, &r->steady_to, "after steady", err, errlen) != 0)
		return -1;
	long ready = 0;
	return api_count_nodes(sw->opt.api_socket, &ready, &r->down_at_end, err, errlen);
}

/* Every agent holds a TCP connection to the manager. */
static int raise_fd_limit(char *err, size_t errlen)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		snprintf(err, errlen, "getrlimit: %s", strerror(errno));
		return -1;
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		snprintf(err, errlen, "setrlimit: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int swarm_init(struct swarm *sw, const struct swarm_options *opt, char *err,
		      size_t errlen)
{
	memset(sw, 0, sizeof(*sw));
	sw->opt = *opt;
	pthread_mutex_init(&sw->lock, NULL);
	pthread_cond_init(&sw->cond, NULL);
	pthread_mutex_init(&sw->errors.lock, NULL);
	if (mkdir(opt->workdir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", opt->workdir, strerror(errno));
		return -1;
	}
	sw->agents = calloc((size_t)opt->agents, sizeof(*sw->agents));
	if (!sw->agents) {
		snprintf(err, errlen, "out of memory for %ld agents", opt->agents);
		return -1;
	}
	for (long i = 0; i < opt->agents; i++)
		if (agent_init(&sw->agents[i], sw, i) != 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	return 0;
}

static void swarm_fini(struct swarm *sw)
{
	if (sw->agents)
		for (long i = 0; i < sw->opt.agents; i++)
			agent_fini(&sw->agents[i]);
	free(sw->agents);
	pthread_mutex_destroy(&sw->errors.lock);
	pthread_cond_destroy(&sw->cond);
	pthread_mutex_destroy(&sw->lock);
}

int main(int argc, char **argv)
{
	struct swarm_options opt;
	if (parse_options(argc, argv, &opt) != 0)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	char err[600] = "";
	if (raise_fd_limit(err, sizeof(err)) != 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "agent-swarm: %s\n", err[0] ? err : "curl_global_init failed");
		return 1;
	}
	static struct swarm sw;
	struct swarm_result r = { 0 };
	int rc = swarm_init(&sw, &opt, err, sizeof(err));
	if (rc == 0) {
		printf("agent-swarm: %ld agents -> %s, join %ld at a time, steady window %ld s\n",
		       opt.agents, opt.manager, opt.join_parallel, opt.duration_s);
		rc = run_phases(&sw, &r, err, sizeof(err));
		stop_agents(&sw);
		r.failed = rc != 0;
		snprintf(r.why, sizeof(r.why), "%s", err);
		print_result(&sw, &r);
	} else {
		fprintf(stderr, "agent-swarm: %s\n", err);
	}
	swarm_fini(&sw);
	curl_global_cleanup();
	return rc == 0 ? 0 : 1;
}

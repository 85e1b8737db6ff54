/*
 * manager.c: the core thread (see manager.h): its loop, its inbox, and the
 * manager's life (start, stop, or open without a thread for a test, see
 * manager_fixture.h). Each step handles what the inbox holds, ticks raft,
 * runs the replica's ready loop and the leader's pipelines, and answers the
 * calls that became answerable. Owns struct manager (manager_internal.h);
 * the other manager_*.c files each own one part of its work.
 */
#include "manager_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ids.h"
#include "timefmt.h"

#define MANAGER_BATCH 256

/* ------------------------------------------------------- time and ids */

static int64_t real_mono_ns(void *ctx)
{
	(void)ctx;
	return inbox_now_ns();
}

static int64_t real_wall_ns(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t manager_mono_ns(struct manager *m)
{
	return m->env.mono_ns(m->env.ctx);
}

int64_t manager_wall_ns(struct manager *m)
{
	return m->env.wall_ns(m->env.ctx);
}

void manager_now_text(struct manager *m, char *buf, size_t len)
{
	timefmt_rfc3339(manager_wall_ns(m), buf, len);
}

void manager_new_id(struct manager *m, char *buf)
{
	m->env.new_id(m->env.ctx, buf);
}

uint64_t manager_random(struct manager *m)
{
	return m->env.random(m->env.ctx);
}

/* -------------------------------------------------------------- inbox */

static void manager_handle_statuses(struct manager *m, json_t *body)
{
	json_t *updates = json_object_get(body, "updates");
	if (!m->raft || !m->leader || json_array_size(updates) == 0)
		return;
	manager_propose_internal(m, json_pack("{s:s,s:O}", "op", "task.status",
					      "updates", updates));
}

/* A request from an agent or another node. A join is signed on the
 * leader; a raft batch is stepped into the replica; an agent's session is
 * answered by the dispatcher on the leader (a node not in a swarm has an
 * empty store, so its agent learns it has no tasks and stops what it still
 * runs), and redirected to the leader's address by a follower. */
static void manager_handle_cluster_request(struct manager *m, json_t *request,
				   struct inbox_reply_to *reply_to)
{
	const char *op = json_string_value(json_object_get(request, "op"));
	if (op && strcmp(op, "join") == 0) {
		manager_cluster_join(m, request, reply_to); /* body stays the message's */
		return;
	}
	if (op && strcmp(op, "raft") == 0) {
		manager_step_raft(m, request);
		return;
	}
	if (op && strcmp(op, "managers") == 0) {
		reply_to->fn(reply_to->ctx, json_pack("{s:o}", "managers", manager_addrs(m)));
		return;
	}
	if (m->demoted) {
		reply_to->fn(reply_to->ctx,
			     json_pack("{s:s,s:s}", "error", "this node is no longer a manager",
				       "leader_addr", m->demoted_leader_addr));
		return;
	}
	if (m->raft && !m->leader) {
		/* The agent (of a worker or of this node) goes to the leader. */
		const char *leader = manager_addr_of(m, m->leader_raft_id);
		reply_to->fn(reply_to->ctx,
			     json_pack("{s:s,s:s}", "error", "this manager is not the leader",
				       "leader_addr", leader ? leader : ""));
		return;
	}
	if (op && strcmp(op, "renew") == 0) {
		manager_cluster_renew(m, request, reply_to);
		return;
	}
	/* Its last-seen time changed; the pipelines' periodic pass (liveness)
	 * reads it: a session alone does not make the state dirty. */
	dispatcher_request(m->dispatcher, &m->store, request, reply_to,
			   manager_mono_ns(m), manager_heartbeat_ns(m));
}

static void manager_handle(struct manager *m, struct inbox_msg *msg)
{
	switch (msg->kind) {
	case INBOX_STOP:
		m->stopping = true;
		break;
	case INBOX_API:
		manager_api_handle(m, msg->call);
		break;
	case INBOX_CALL:
		msg->call->response = manager_api_internal(m, msg->call->request);
		inbox_call_finish(msg->call);
		break;
	case INBOX_TASK_STATUSES:
		manager_handle_statuses(m, msg->body);
		break;
	case INBOX_NODE_INFO: {
		const char *node = json_string_value(json_object_get(msg->body, "node"));
		if (node)
			json_object_set(m->node_infos, node, msg->body);
		m->dirty = true;
		break;
	}
	case INBOX_CLUSTER_REQUEST:
		manager_handle_cluster_request(m, msg->body, msg->ptr);
		break;
	case INBOX_SCHEDULER_REPLY:
		manager_scheduler_replied(m, msg->body);
		break;
	default:
		break;
	}
}

/* Handles msg and up to MANAGER_BATCH - 1 more that are queued, then the
 * raft and pipeline work once for all of them (thousands of agents'
 * sessions arrive each period). */
static void manager_step(struct manager *m, struct inbox_msg *msg)
{
	for (int n = 1; msg; n++) {
		manager_handle(m, msg);
		inbox_msg_free(msg);
		if (atomic_load(&m->stop_requested))
			m->stopping = true;
		msg = m->stopping || n >= MANAGER_BATCH ? NULL : inbox_wait(m->inbox, 0);
	}
	if (m->stopping)
		return;
	int64_t now = manager_mono_ns(m);
	if (now >= m->next_tick_ns) {
		if (m->raft)
			raft_node_tick(m->raft);
		m->next_tick_ns = now + (int64_t)m->tick_ms * 1000000LL;
	}
	if (m->raft)
		manager_process_raft(m);
	manager_check_demoted(m);
	manager_renew_own_cert(m, now);
	manager_sync_peers(m);
	manager_reissue_reads(m);
	manager_run_pipelines(m, now);
	manager_finish_calls(m);
	if ((!m->raft && !m->demoted) || m->leader)
		dispatcher_step(m->dispatcher, &m->store, manager_mono_ns(m),
				manager_heartbeat_ns(m));
}

/* The next time the loop must wake without a message. */
static int64_t manager_wake_at(const struct manager *m)
{
	int64_t at = m->next_tick_ns;
	if (m->orchestrator_wakeup_ns < at)
		at = m->orchestrator_wakeup_ns;
	return at;
}

static void *manager_main(void *arg)
{
	struct manager *m = arg;
	while (!m->stopping)
		manager_step(m, inbox_wait(m->inbox, manager_wake_at(m)));
	return NULL;
}

void manager_run_once(struct manager *m)
{
	manager_step(m, inbox_wait(m->inbox, 0));
}

/* --------------------------------------------------------------- life */

/* Everything but the threads; a failure frees what it made. */
static struct manager *manager_new(const struct manager_config *cfg,
				   const struct manager_env *env, char *err,
				   size_t errlen)
{
	struct manager *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->cfg = *cfg;
	m->env = *env;
	if (!m->cfg.history_limit)
		m->cfg.history_limit = 5;
	snprintf(m->data_dir, sizeof(m->data_dir), "%s/swarm", cfg->data_root);
	store_init(&m->store);
	m->inbox = inbox_new();
	m->node_infos = json_object();
	m->joined_at = json_object();
	m->dispatcher = dispatcher_new();
	m->orchestrator_wakeup_ns = INT64_MAX;
	m->next_tick_ns = manager_mono_ns(m);
	m->tick_ms = 100; /* until a raft replica sets its own */
	if (!m->inbox) {
		snprintf(err, errlen, "out of memory");
		manager_free(m);
		return NULL;
	}
	if (manager_resume(m, err, errlen) != 0) {
		manager_free(m);
		return NULL;
	}
	return m;
}

int manager_start(const struct manager_config *cfg, struct manager **out,
		  char *err, size_t errlen)
{
	struct manager_env env = { .mono_ns = real_mono_ns,
				   .wall_ns = real_wall_ns,
				   .new_id = ids_new_id,
				   .random = ids_random };
	struct manager *m = manager_new(cfg, &env, err, errlen);
	if (!m)
		return -1;
	if (manager_sched_start(m, err, errlen) != 0) {
		manager_free(m);
		return -1;
	}
	if (thread_start(&m->thread, manager_main, m, "the manager thread", err, errlen) != 0) {
		manager_free(m);
		return -1;
	}
	m->threaded = true;
	*out = m;
	return 0;
}

int manager_open(const struct manager_config *cfg,
		 const struct manager_env *env, struct manager **out,
		 char *err, size_t errlen)
{
	if (!env->mono_ns || !env->wall_ns || !env->new_id || !env->random ||
	    !env->schedule) {
		snprintf(err, errlen, "manager_open: the env needs clocks, ids and schedule");
		return -1;
	}
	struct manager *m = manager_new(cfg, env, err, errlen);
	if (!m)
		return -1;
	*out = m;
	return 0;
}

void manager_stop(struct manager *m)
{
	if (!m || m->stopped)
		return;
	if (m->threaded) {
		atomic_store(&m->stop_requested, true);
		inbox_post(m->inbox, INBOX_STOP, NULL, NULL);
		pthread_join(m->thread, NULL);
	}
	m->stopped = true;
	if (m->inbox)
		inbox_close(m->inbox);
	manager_sched_stop(m);
	dispatcher_reset(m->dispatcher);
	manager_close_replica(m, "the manager is stopping");
	for (size_t i = 0; i < m->n_writes; i++) {
		struct api_call *ac = (void *)m->writes[i].call->request;
		api_response_error(ac->resp, 503, "orchd is shutting down");
		json_decref(m->writes[i].ok_body);
		inbox_call_finish(m->writes[i].call);
	}
	for (size_t i = 0; i < m->n_reads; i++) {
		struct api_call *ac = (void *)m->reads[i].call->request;
		api_response_error(ac->resp, 503, "orchd is shutting down");
		inbox_call_finish(m->reads[i].call);
	}
	m->n_writes = m->n_reads = 0;
}

void manager_free(struct manager *m)
{
	if (!m)
		return;
	manager_stop(m);
	free(m->writes);
	free(m->reads);
	inbox_free(m->inbox);
	json_decref(m->node_infos);
	json_decref(m->joined_at);
	json_decref(m->sched.task_ids);
	free(m->joins);
	dispatcher_free(m->dispatcher);
	store_fini(&m->store);
	free(m);
}

void manager_close(struct manager *m)
{
	manager_free(m);
}

struct inbox *manager_inbox(struct manager *m)
{
	return m->inbox;
}

const struct store *manager_store(const struct manager *m)
{
	return &m->store;
}

const struct raft_node *manager_replica(const struct manager *m)
{
	return m->raft;
}

int manager_inject(struct manager *m, json_t *cmd)
{
	char err[256];
	uint64_t index = 0, term = 0;
	int rc = manager_propose(m, cmd, &index, &term, err, sizeof(err));
	json_decref(cmd);
	if (rc != 0)
		return -1;
	m->internal_index = index;
	return 0;
}

/*
 * manager_pipelines.c: the leader's pipelines. Each is a pure step of
 * core/orchestrator (store, time and ids in; commands out): node refresh
 * and liveness (nodes.h), reconciliation (orchestrator.h), the allocator
 * and the scheduling round (scheduling.h, the plugin call itself in
 * manager_sched.c); membership and ManagerStatus come from
 * manager_members.c. This file only feeds them and proposes what they
 * return. Owns m->dirty's consumption and the pipelines' wake-up times.
 */
#include "manager_internal.h"
#include "log.h"

#include <stdio.h>

#include "orchestrator.h"

/* The pipelines run when the state changed (an entry applied, a node
 * described itself, leadership moved) and otherwise every
 * MANAGER_PIPELINE_PERIOD_NS for what time alone changes (liveness,
 * restart delays, reachability). */
#define MANAGER_PIPELINE_PERIOD_NS (100LL * 1000000LL)

/* A node is down when its agent has not asked for its tasks for two and a
 * half heartbeat periods (1 s by default: detection within 2.5 s). */
static int64_t manager_down_after_ns(int64_t heartbeat_ns)
{
	return heartbeat_ns * 5 / 2;
}

void manager_propose_internal(struct manager *m, json_t *cmd)
{
	char err[256];
	uint64_t index = 0, term = 0;
	if (m->env.proposed)
		m->env.proposed(m->env.ctx, cmd);
	if (manager_propose(m, cmd, &index, &term, err, sizeof(err)) == 0)
		m->internal_index = index;
	else
		log_msg(LOG_WARN, "manager", "%s", err);
	json_decref(cmd);
}

bool manager_propose_all(struct manager *m, json_t *cmds)
{
	bool any = json_array_size(cmds) > 0;
	size_t i;
	json_t *cmd;
	json_array_foreach(cmds, i, cmd)
		manager_propose_internal(m, json_incref(cmd));
	json_decref(cmds);
	return any;
}

int64_t manager_heartbeat_ns(const struct manager *m)
{
	json_t *hb = json_object_get(
		json_object_get(json_object_get(m->store.cluster, "Spec"), "Dispatcher"),
		"HeartbeatPeriod");
	json_int_t ns = json_integer_value(hb);
	return json_is_integer(hb) && ns > 0 ? ns : 1000000000LL;
}

/* The cluster's TaskHistoryRetentionLimit, or the configured default. */
static unsigned manager_history_limit(const struct manager *m)
{
	json_t *limit = json_object_get(
		json_object_get(json_object_get(m->store.cluster, "Spec"), "Orchestration"),
		"TaskHistoryRetentionLimit");
	json_int_t n = json_integer_value(limit);
	return json_is_integer(limit) && n > 0 ? (unsigned)n : m->cfg.history_limit;
}

static bool run_orchestrator(struct manager *m, int64_t now)
{
	if (!m->dirty && now < m->orchestrator_wakeup_ns)
		return false;
	struct orchestrator_input in = { .store = &m->store,
					 .now_ns = manager_wall_ns(m),
					 .history_limit = manager_history_limit(m),
					 .new_id = m->env.new_id,
					 .id_ctx = m->env.ctx };
	int64_t wake_wall = INT64_MAX;
	json_t *cmds = orchestrator_reconcile(&in, &wake_wall);
	m->orchestrator_wakeup_ns = wake_wall == INT64_MAX
					    ? INT64_MAX
					    : now + (wake_wall - in.now_ns);
	return manager_propose_all(m, cmds);
}

static bool run_allocator(struct manager *m)
{
	char now[40];
	manager_now_text(m, now, sizeof(now));
	json_t *cmd = scheduling_allocate(&m->store, now);
	if (!cmd)
		return false;
	manager_propose_internal(m, cmd);
	return true;
}

static bool run_node_refresh(struct manager *m)
{
	char now[40];
	manager_now_text(m, now, sizeof(now));
	return manager_propose_all(m, nodes_refresh(&m->store, m->node_infos, now));
}

static int64_t last_seen(void *ctx, const char *node_id)
{
	struct manager *m = ctx;
	return dispatcher_last_seen(m->dispatcher, node_id);
}

static bool run_node_liveness(struct manager *m, int64_t now)
{
	char now_text[40];
	manager_now_text(m, now_text, sizeof(now_text));
	struct nodes_liveness_input in = {
		.store = &m->store,
		.now_ns = now,
		.now_text = now_text,
		.self_id = m->cfg.node_id,
		.down_after_ns = manager_down_after_ns(manager_heartbeat_ns(m)),
		.leader_since_ns = m->leader_since_ns,
		.joined_at = m->joined_at,
		.last_seen = last_seen,
		.last_seen_ctx = m,
	};
	return manager_propose_all(m, nodes_liveness(&in));
}

void manager_run_pipelines(struct manager *m, int64_t now)
{
	if (!m->raft || !m->leader || json_is_null(m->store.cluster))
		return;
	if (!m->dirty && now < m->pipelines_due_ns)
		return;
	m->pipelines_due_ns = now + MANAGER_PIPELINE_PERIOD_NS;
	for (int round = 0; round < 8; round++) {
		if (m->internal_index > raft_node_applied(m->raft))
			return; /* wait for our own proposals to apply */
		/* A membership step that rewrote a Node runs alone this round,
		 * so that no other pipeline writes an older copy of it. */
		bool proposed = manager_run_membership(m, now);
		if (!proposed) {
			proposed = manager_run_manager_status(m, now);
			proposed |= run_node_refresh(m);
			proposed |= run_node_liveness(m, now);
			proposed |= run_orchestrator(m, now);
			proposed |= run_allocator(m);
			proposed |= manager_run_scheduler(m, now);
		}
		m->dirty = false;
		char err[512];
		if (raft_node_process(m->raft, err, sizeof(err)) != 0) {
			log_msg(LOG_ERROR, "raft", "%s", err);
			return;
		}
		if (!proposed)
			return;
	}
}

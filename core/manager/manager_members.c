/*
 * manager_members.c: the raft membership of the managers, kept in step
 * with the manager Nodes of the store by the leader: a new manager added as
 * a learner, promoted to voter once caught up; a demoted one (Spec.Role
 * worker) made a learner, its ManagerStatus dropped, then removed; each
 * manager's Leader flag and Reachability written into its Node. A follower
 * that sees itself demoted closes its replica. Owns m->demote_wait_*.
 */
#include "manager_internal.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

static bool conf_has(const struct raft_conf *c, uint64_t id)
{
	for (uint32_t i = 0; i < c->n_voters; i++)
		if (c->voters[i] == id)
			return true;
	for (uint32_t i = 0; i < c->n_learners; i++)
		if (c->learners[i] == id)
			return true;
	return false;
}

static json_t *manager_node_by_raft_id(struct manager *m, uint64_t id)
{
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node)
		if (json_object_get(node, "ManagerStatus") && manager_node_raft_id(node) == id)
			return node;
	return NULL;
}

bool manager_node_is_worker(const json_t *node)
{
	const char *role = json_string_value(
		json_object_get(json_object_get(node, "Spec"), "Role"));
	return role && strcmp(role, "worker") == 0;
}

static bool conf_has_voter(const struct raft_conf *c, uint64_t id)
{
	for (uint32_t i = 0; i < c->n_voters; i++)
		if (c->voters[i] == id)
			return true;
	return false;
}

static const struct raft_progress *progress_of(const struct raft_status *st, uint64_t id)
{
	for (uint32_t i = 0; i < st->n_progress; i++)
		if (st->progress[i].id == id)
			return &st->progress[i];
	return NULL;
}

bool manager_demotion_keeps_quorum(struct manager *m, uint64_t raft_id)
{
	if (!m->raft)
		return false;
	struct raft_status st;
	raft_node_status(m->raft, &st);
	if (!conf_has_voter(&st.conf, raft_id))
		return true; /* a learner or a stranger: no vote lost */
	uint32_t remaining = 0, reachable = 0;
	for (uint32_t i = 0; i < st.conf.n_voters; i++) {
		uint64_t id = st.conf.voters[i];
		if (id == raft_id)
			continue;
		remaining++;
		const struct raft_progress *p = progress_of(&st, id);
		if (id == m->cfg.raft_id || (p && p->recent_active))
			reachable++;
	}
	return remaining > 0 && reachable >= remaining / 2 + 1;
}

/* Proposes the Node of a demoted manager without its ManagerStatus (its
 * OrchRaftID stays, so that the raft side can still find it). */
static void demotion_drop_manager_status(struct manager *m, const json_t *node)
{
	char now[40];
	manager_now_text(m, now, sizeof(now));
	json_t *copy = json_deep_copy(node);
	json_object_del(copy, "ManagerStatus");
	json_object_set_new(copy, "UpdatedAt", json_string(now));
	manager_propose_internal(m, json_pack("{s:s,s:o}", "op", "node.put", "node", copy));
}

/* Leader: hands leadership to a caught-up, active voter before this
 * manager's own demotion (the new leader carries it out). */
static void demotion_transfer_leadership(struct manager *m, const struct raft_status *st)
{
	if (st->transferee)
		return;
	for (uint32_t i = 0; i < st->n_progress; i++) {
		const struct raft_progress *p = &st->progress[i];
		if (p->id == m->cfg.raft_id || p->is_learner || !p->recent_active ||
		    p->match < st->commit)
			continue;
		int rc = raft_node_transfer_leader(m->raft, p->id);
		if (rc != 0)
			log_msg(LOG_WARN, "manager", "handing leadership to %llu: %s",
				(unsigned long long)p->id, raft_strerror(rc));
		return;
	}
}

/* Proposes one raft membership change, logging failures other than
 * RAFT_ECONFPENDING (tried again on the next step). */
static void membership_propose(struct manager *m, enum raft_conf_change change,
			       uint64_t id, const char *what)
{
	int rc = raft_node_propose_conf(m->raft, change, id);
	if (rc != 0 && rc != RAFT_ECONFPENDING)
		log_msg(LOG_WARN, "manager", "%s raft member %llu: %s", what,
			(unsigned long long)id, raft_strerror(rc));
}

/* Carries out one step of the demotion of the manager `node` (its
 * Spec.Role says worker): leadership handed over if it is this manager,
 * voter -> learner (while quorum allows), ManagerStatus dropped (the node
 * applies that and closes its replica), then removed from raft a second
 * later. Returns whether it proposed a store change. */
static bool demotion_step(struct manager *m, const struct raft_status *st,
			  const json_t *node, uint64_t id, int64_t now)
{
	bool member = conf_has(&st->conf, id);
	bool has_status = json_object_get(node, "ManagerStatus") != NULL;
	if (!member) {
		if (has_status)
			demotion_drop_manager_status(m, node);
		return has_status;
	}
	if (id == m->cfg.raft_id) {
		demotion_transfer_leadership(m, st);
		return false;
	}
	if (conf_has_voter(&st->conf, id)) {
		if (manager_demotion_keeps_quorum(m, id))
			membership_propose(m, RAFT_CONF_DEMOTE, id, "demoting");
		return false;
	}
	if (has_status) {
		demotion_drop_manager_status(m, node);
		return true;
	}
	if (m->demote_wait_id != id) {
		m->demote_wait_id = id;
		m->demote_wait_since_ns = now;
		m->demote_wait_commit = st->commit;
		return false;
	}
	/* Its replica closes once it applied its Node: its log stops there.
	 * It gets one second once it holds that entry, five at most. */
	const struct raft_progress *p = progress_of(st, id);
	int64_t waited = now - m->demote_wait_since_ns;
	bool holds = p && p->match >= m->demote_wait_commit;
	if (waited < 1000000000LL || (!holds && waited < 5000000000LL))
		return false;
	membership_propose(m, RAFT_CONF_REMOVE, id, "removing");
	return false;
}

/* Keeps the raft membership in step with the manager Nodes: a new one is
 * added as a learner, and promoted to voter once its log reached the
 * leader's commit index; a demoted one (Spec.Role worker) goes the other
 * way (demotion_step). One change at a time (RAFT_ECONFPENDING until the
 * previous one committed: tried again on the next step). Returns whether
 * it proposed a store change. */
bool manager_run_membership(struct manager *m, int64_t now)
{
	struct raft_status st;
	raft_node_status(m->raft, &st);
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node) {
		uint64_t id = manager_node_raft_id(node);
		if (id && manager_node_is_worker(node) &&
		    (json_object_get(node, "ManagerStatus") || conf_has(&st.conf, id)))
			return demotion_step(m, &st, node, id, now);
	}
	json_object_foreach(m->store.nodes, nid, node) {
		uint64_t id = manager_node_raft_id(node);
		if (!id || !json_object_get(node, "ManagerStatus") || conf_has(&st.conf, id))
			continue;
		membership_propose(m, RAFT_CONF_ADD_LEARNER, id, "adding");
		return false;
	}
	for (uint32_t i = 0; i < st.n_progress; i++) {
		const struct raft_progress *p = &st.progress[i];
		json_t *owner = manager_node_by_raft_id(m, p->id);
		if (!p->is_learner || p->match < st.commit || !owner ||
		    manager_node_is_worker(owner))
			continue;
		membership_propose(m, RAFT_CONF_PROMOTE, p->id, "promoting");
		return false;
	}
	return false;
}

/* Reachability of the manager with raft id `id` as the leader sees it. */
static const char *manager_reachability(struct manager *m,
					const struct raft_status *st, uint64_t id)
{
	if (id == m->cfg.raft_id)
		return "reachable";
	for (uint32_t i = 0; i < st->n_progress; i++)
		if (st->progress[i].id == id)
			return st->progress[i].recent_active ? "reachable" : "unreachable";
	return "unknown";
}

/* Writes each manager's Leader flag and Reachability (from raft progress)
 * into its Node, so that every manager shows them. Waits one election
 * timeout after taking over, until the progress says something. */
bool manager_run_manager_status(struct manager *m, int64_t now)
{
	if (now - m->leader_since_ns < 2000000000LL)
		return false;
	struct raft_status st;
	raft_node_status(m->raft, &st);
	bool proposed = false;
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node) {
		json_t *ms = json_object_get(node, "ManagerStatus");
		uint64_t id = manager_node_raft_id(node);
		if (!ms || !id || manager_node_is_worker(node))
			continue;
		bool leader = id == m->cfg.raft_id;
		const char *reach = manager_reachability(m, &st, id);
		const char *have = str_or(json_string_value(json_object_get(ms, "Reachability")), "");
		if (json_is_true(json_object_get(ms, "Leader")) == leader &&
		    strcmp(have, reach) == 0)
			continue;
		char nowtext[40];
		manager_now_text(m, nowtext, sizeof(nowtext));
		json_t *copy = json_deep_copy(node);
		json_t *cms = json_object_get(copy, "ManagerStatus");
		json_object_set_new(cms, "Leader", json_boolean(leader));
		json_object_set_new(cms, "Reachability", json_string(reach));
		json_object_set_new(copy, "UpdatedAt", json_string(nowtext));
		manager_propose_internal(m, json_pack("{s:s,s:o}", "op", "node.put", "node", copy));
		proposed = true;
	}
	return proposed;
}

/* A follower whose own Node lost its ManagerStatus (the leader demoted it
 * to worker) closes its raft replica, its raft transport and its port-2377
 * server; its agent then goes to the leader it last knew. Its certificate
 * (role manager) and raft directory stay as they are. */
void manager_check_demoted(struct manager *m)
{
	if (!m->raft || m->leader || m->demoted)
		return;
	json_t *self = store_node(&m->store, m->cfg.node_id);
	if (!self || json_object_get(self, "ManagerStatus") || !manager_node_is_worker(self))
		return;
	/* A leader that just handed over may not know its successor yet:
	 * then any manager, which redirects to the leader. */
	const char *leader = manager_addr_of(m, m->leader_raft_id);
	json_t *others = manager_addrs(m);
	if (!leader || !*leader)
		leader = json_string_value(json_array_get(others, 0));
	snprintf(m->demoted_leader_addr, sizeof(m->demoted_leader_addr), "%s",
		 leader ? leader : "");
	json_decref(others);
	log_msg(LOG_INFO, "manager",
		"this node was demoted to worker; closing its raft replica (leader %s)",
		m->demoted_leader_addr);
	manager_close_replica(m, "this node was demoted to worker");
	m->demoted = true;
}

/*
 * manager_raft.c: the manager's raft replica (core/replica) and its
 * transport to the other managers: the callbacks through which committed
 * entries reach the store, snapshots are taken and restored, reads are
 * confirmed and leadership changes are seen. Owns m->raft's callbacks and
 * m->transport's peer list.
 */
#include "manager_internal.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_apply(void *ctx, const struct raft_entry *e)
{
	struct manager *m = ctx;
	char err[512] = "";
	json_error_t jerr;
	json_t *cmd = json_loadb((const char *)e->data, e->len, 0, &jerr);
	int rc = cmd ? store_apply(&m->store, cmd, e->index, err, sizeof(err)) : -1;
	if (!cmd)
		snprintf(err, sizeof(err), "committed entry %llu is not JSON: %s",
			 (unsigned long long)e->index, jerr.text);
	json_decref(cmd);
	m->store.applied_index = e->index;
	m->dirty = true;
	manager_answer_writes(m, e->index, e->term, rc, err);
}

static int on_restore(void *ctx, const uint8_t *data, size_t len, char *err,
		      size_t errlen)
{
	struct manager *m = ctx;
	m->dirty = true;
	return store_load(&m->store, (const char *)data, len, err, errlen);
}

static uint8_t *on_snapshot(void *ctx, size_t *len)
{
	struct manager *m = ctx;
	char *text = store_dump(&m->store);
	*len = text ? strlen(text) : 0;
	return (uint8_t *)text;
}

static void on_read_ready(void *ctx, uint64_t context, uint64_t index)
{
	struct manager *m = ctx;
	for (size_t i = 0; i < m->n_reads; i++)
		if (m->reads[i].context == context)
			m->reads[i].index = index ? index : 1;
}

static void on_send(void *ctx, const struct raft_msg *msg)
{
	struct manager *m = ctx;
	if (m->transport)
		raft_transport_send(m->transport, msg); /* a drop is retried by raft */
}

static void on_role_changed(void *ctx, enum raft_role role, uint64_t leader)
{
	struct manager *m = ctx;
	if (leader != m->leader_raft_id)
		m->reissue_reads = true;
	m->leader_raft_id = leader;
	if (leader)
		m->leaderless_since_ns = 0;
	else if (!m->leaderless_since_ns)
		m->leaderless_since_ns = manager_mono_ns(m);
	bool was_leader = m->leader;
	m->leader = role == RAFT_LEADER;
	m->dirty = true;
	if (m->leader && !was_leader) {
		m->leader_since_ns = manager_mono_ns(m);
		m->leader_epoch++;
	}
	if (!m->leader && was_leader)
		dispatcher_reset(m->dispatcher);
}

int manager_open_raft(struct manager *m, bool bootstrap, char *err,
			     size_t errlen)
{
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/raft", m->data_dir);
	struct raft_node_config cfg;
	raft_node_config_defaults(&cfg);
	m->tick_ms = cfg.tick_ms;
	cfg.dir = dir;
	cfg.id = m->cfg.raft_id;
	cfg.bootstrap = bootstrap;
	cfg.rand = m->env.random;
	cfg.rand_ctx = m->env.ctx;
	struct raft_node_callbacks cb = { .ctx = m,
					  .apply = on_apply,
					  .restore = on_restore,
					  .snapshot = on_snapshot,
					  .send = on_send,
					  .read_ready = on_read_ready,
					  .role_changed = on_role_changed };
	if (raft_node_open(&cfg, &cb, &m->raft, err, errlen) != 0)
		return -1;
	m->leaderless_since_ns = manager_mono_ns(m); /* until a leader is heard of */
	struct raft_status st;
	raft_node_status(m->raft, &st);
	/* Alone in the cluster: no one to wait for, campaign at once. */
	if (st.conf.n_voters == 1 && st.conf.voters[0] == m->cfg.raft_id)
		raft_node_campaign(m->raft);
	return raft_node_process(m->raft, err, errlen);
}

void manager_process_raft(struct manager *m)
{
	char err[512];
	if (raft_node_process(m->raft, err, sizeof(err)) != 0)
		log_msg(LOG_ERROR, "raft", "%s", err);
}

uint64_t manager_node_raft_id(const json_t *node)
{
	const char *text = json_string_value(json_object_get(node, "OrchRaftID"));
	return text ? strtoull(text, NULL, 10) : 0;
}

const char *manager_addr_of(struct manager *m, uint64_t id)
{
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node)
		if (id && manager_node_raft_id(node) == id)
			return json_string_value(json_object_get(
				json_object_get(node, "ManagerStatus"), "Addr"));
	return NULL;
}

int manager_open_transport(struct manager *m, char *err, size_t errlen)
{
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/certificates", m->data_dir);
	return raft_transport_new(dir, &m->transport, err, errlen);
}

void manager_sync_peers(struct manager *m)
{
	if (!m->transport || m->peers_synced_index == m->store.applied_index)
		return;
	m->peers_synced_index = m->store.applied_index;
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node) {
		uint64_t id = manager_node_raft_id(node);
		const char *addr = json_string_value(
			json_object_get(json_object_get(node, "ManagerStatus"), "Addr"));
		if (id && id != m->cfg.raft_id && addr && *addr &&
		    raft_transport_set_peer(m->transport, id, addr) != 0)
			log_msg(LOG_WARN, "manager", "cannot reach raft peer %llu",
				(unsigned long long)id);
	}
}

/* See raft_transport.h for the encoding. */
void manager_step_raft(struct manager *m, const json_t *request)
{
	if (!m->raft)
		return;
	size_t i;
	json_t *hex;
	json_array_foreach(json_object_get(request, "msgs"), i, hex) {
		uint8_t *buf = NULL;
		struct raft_msg msg;
		if (!json_is_string(hex) ||
		    raft_transport_decode(json_string_value(hex), &buf, &msg) != 0) {
			log_msg(LOG_WARN, "manager", "a malformed raft message was dropped");
			continue;
		}
		if (msg.to == m->cfg.raft_id)
			raft_node_step(m->raft, &msg);
		raft_msg_decoded_free(&msg);
		free(buf);
	}
}

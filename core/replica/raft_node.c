/*
 * raft_node.c: the ready loop of one manager's raft replica (see
 * raft_node.h). Owns the engine, the write-ahead log and the snapshot
 * schedule; the state machine stays the caller's, reached through callbacks.
 */
#include "raft_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_wal.h"

struct raft_node {
	struct raft_node_config cfg;
	struct raft_node_callbacks cb;
	struct raft *raft;
	struct wal *wal;
	uint64_t applied;
	uint64_t last_snapshot_index;
	enum raft_role role;
	uint64_t leader;
	char failure[512];
};

void raft_node_config_defaults(struct raft_node_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* 50 ms ticks, elections after 0.5 to 0.95 s of silence: a new leader
	 * within 2 s of the old one's death even when the first election splits
	 * (bench/raft_failover.c measures it). Heartbeats every tick. */
	cfg->tick_ms = 50;
	cfg->election_ticks = 10;
	cfg->heartbeat_ticks = 1;
	cfg->snapshot_every = 10000;
}

static int node_restore_snapshot(struct raft_node *n,
				 const struct raft_snapshot *snap, char *err,
				 size_t errlen)
{
	if (n->cb.restore(n->cb.ctx, snap->data, snap->len, err, errlen) != 0)
		return -1;
	n->applied = snap->meta.index;
	n->last_snapshot_index = snap->meta.index;
	return 0;
}

int raft_node_open(const struct raft_node_config *cfg,
		   const struct raft_node_callbacks *cb, struct raft_node **out,
		   char *err, size_t errlen)
{
	struct raft_node *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "raft: out of memory");
		return -1;
	}
	n->cfg = *cfg;
	n->cb = *cb;
	struct wal_recovered rec;
	memset(&rec, 0, sizeof(rec));
	if (wal_open(cfg->dir, NULL, &n->wal, &rec, err, errlen) != 0) {
		free(n);
		return -1;
	}
	struct raft_restore restore;
	memset(&restore, 0, sizeof(restore));
	wal_recovered_to_restore(&rec, &restore);
	if (cfg->bootstrap) {
		restore.bootstrap.n_voters = 1;
		restore.bootstrap.voters[0] = cfg->id;
	}
	struct raft_config rc;
	raft_config_defaults(&rc, cfg->id);
	rc.election_ticks = cfg->election_ticks;
	rc.heartbeat_ticks = cfg->heartbeat_ticks;
	rc.rand = cfg->rand;
	rc.rand_ctx = cfg->rand_ctx;
	if (rec.snapshot && node_restore_snapshot(n, rec.snapshot, err, errlen) != 0)
		goto fail;
	n->raft = raft_new(&rc, &restore, err, errlen);
	if (!n->raft)
		goto fail;
	wal_recovered_free(&rec);
	*out = n;
	return 0;
fail:
	wal_recovered_free(&rec);
	wal_close(n->wal);
	free(n);
	return -1;
}

void raft_node_close(struct raft_node *n)
{
	if (!n)
		return;
	raft_free(n->raft);
	wal_close(n->wal);
	free(n);
}

void raft_node_tick(struct raft_node *n)
{
	raft_tick(n->raft);
}

int raft_node_step(struct raft_node *n, const struct raft_msg *msg)
{
	return raft_step(n->raft, msg);
}

int raft_node_propose(struct raft_node *n, const void *data, size_t len,
		      uint64_t *index, uint64_t *term)
{
	if (n->failure[0])
		return RAFT_EINVAL;
	return raft_propose(n->raft, data, len, index, term);
}

int raft_node_read(struct raft_node *n, uint64_t context)
{
	return raft_read_index(n->raft, context);
}

int raft_node_propose_conf(struct raft_node *n, enum raft_conf_change change,
			   uint64_t node)
{
	if (n->failure[0])
		return RAFT_EINVAL;
	return raft_propose_conf(n->raft, change, node, NULL);
}

int raft_node_transfer_leader(struct raft_node *n, uint64_t to)
{
	return raft_transfer_leader(n->raft, to);
}

int raft_node_campaign(struct raft_node *n)
{
	return raft_campaign(n->raft);
}

/* Makes the ready's snapshot, entries and hard state durable. */
static int node_persist(struct raft_node *n, const struct raft_ready *rd)
{
	if (rd->snapshot && wal_save_snapshot(n->wal, rd->snapshot) != 0)
		return -1;
	if (rd->n_entries && wal_append(n->wal, rd->entries, rd->n_entries) != 0)
		return -1;
	if (rd->hard_state_changed &&
	    wal_save_hard_state(n->wal, &rd->hard_state) != 0)
		return -1;
	if ((rd->snapshot || rd->n_entries || rd->hard_state_changed) &&
	    wal_sync(n->wal) != 0)
		return -1;
	return 0;
}

/* Takes a snapshot of the state machine when enough was applied since the
 * last one, unless a membership change newer than it is still in the log
 * (the snapshot must carry the membership as of its own index). */
static int node_maybe_snapshot(struct raft_node *n)
{
	if (n->applied - n->last_snapshot_index < n->cfg.snapshot_every)
		return 0;
	struct raft_status st;
	raft_status(n->raft, &st);
	for (uint64_t i = n->applied + 1; i <= st.last_index; i++) {
		const struct raft_entry *e = raft_log_entry(n->raft, i);
		if (e && e->type == RAFT_ENTRY_CONF)
			return 0;
	}
	const struct raft_entry *at = raft_log_entry(n->raft, n->applied);
	if (!at)
		return 0;
	size_t len = 0;
	uint8_t *data = n->cb.snapshot(n->cb.ctx, &len);
	if (!data)
		return -1;
	struct raft_snapshot snap = { .meta = { .index = n->applied,
						.term = at->term,
						.conf = st.conf },
				      .len = len,
				      .data = data };
	int rc = wal_save_snapshot(n->wal, &snap);
	if (rc == 0)
		rc = raft_snapshot_taken(n->raft, n->applied, data, len, 1000);
	if (rc == 0 && wal_sync(n->wal) == 0)
		wal_compact(n->wal, n->applied > 1000 ? n->applied - 1000 : 0);
	n->last_snapshot_index = n->applied;
	free(data);
	return rc;
}

static void node_apply(struct raft_node *n, const struct raft_ready *rd)
{
	for (uint32_t i = 0; i < rd->n_committed; i++) {
		const struct raft_entry *e = &rd->committed[i];
		if (e->index <= n->applied)
			continue;
		if (e->type == RAFT_ENTRY_NORMAL)
			n->cb.apply(n->cb.ctx, e);
		n->applied = e->index;
	}
}

static int node_process_one(struct raft_node *n, char *err, size_t errlen)
{
	struct raft_ready rd;
	raft_ready(n->raft, &rd);
	if (node_persist(n, &rd) != 0) {
		snprintf(n->failure, sizeof(n->failure), "%s", wal_error(n->wal));
		snprintf(err, errlen, "%s", n->failure);
		return -1;
	}
	for (uint32_t i = 0; i < rd.n_msgs && n->cb.send; i++)
		n->cb.send(n->cb.ctx, &rd.msgs[i]);
	if (rd.snapshot && node_restore_snapshot(n, rd.snapshot, err, errlen) != 0) {
		snprintf(n->failure, sizeof(n->failure), "%s", err);
		return -1;
	}
	node_apply(n, &rd);
	for (uint32_t i = 0; i < rd.n_reads; i++)
		n->cb.read_ready(n->cb.ctx, rd.reads[i].context, rd.reads[i].index);
	if (rd.soft_state_changed) {
		n->role = rd.role;
		n->leader = rd.leader;
		n->cb.role_changed(n->cb.ctx, rd.role, rd.leader);
	}
	raft_advance(n->raft, &rd);
	if (node_maybe_snapshot(n) != 0) {
		snprintf(err, errlen, "raft: snapshot failed: %s", wal_error(n->wal));
		return -1;
	}
	return 0;
}

int raft_node_process(struct raft_node *n, char *err, size_t errlen)
{
	if (n->failure[0]) {
		snprintf(err, errlen, "%s", n->failure);
		return -1;
	}
	while (raft_has_ready(n->raft))
		if (node_process_one(n, err, errlen) != 0)
			return -1;
	return 0;
}

void raft_node_status(const struct raft_node *n, struct raft_status *st)
{
	raft_status(n->raft, st);
}

bool raft_node_is_leader(const struct raft_node *n)
{
	return n->role == RAFT_LEADER;
}

uint64_t raft_node_applied(const struct raft_node *n)
{
	return n->applied;
}

const char *raft_node_failure(const struct raft_node *n)
{
	return n->failure[0] ? n->failure : NULL;
}

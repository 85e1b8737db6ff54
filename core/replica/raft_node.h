/*
 * raft_node.h: one manager's raft replica: the pure engine (raft/raft.h)
 * driven with durable storage (raft/raft_wal.h) and the caller's state
 * machine. It runs the ready loop: persist and fsync, send, apply, answer
 * reads, advance; and it takes snapshots of the state machine to keep the
 * log short. Owned by the core thread, like the engine inside it.
 */
#ifndef ORCHD_RAFT_NODE_H
#define ORCHD_RAFT_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"

struct raft_node_callbacks {
	void *ctx;
	/* A committed normal entry, in log order. */
	void (*apply)(void *ctx, const struct raft_entry *entry);
	/* Replace the state machine with a snapshot's bytes. */
	int (*restore)(void *ctx, const uint8_t *data, size_t len, char *err,
		       size_t errlen);
	/* The whole state machine as bytes (malloc'd), for a snapshot. */
	uint8_t *(*snapshot)(void *ctx, size_t *len);
	/* A message for a peer (queued by the transport; must not block). */
	void (*send)(void *ctx, const struct raft_msg *msg);
	/* A linearizable read finished: answer it once index is applied
	 * (raft_node_process applies before it reports reads). */
	void (*read_ready)(void *ctx, uint64_t context, uint64_t index);
	/* Role or leader changed. */
	void (*role_changed)(void *ctx, enum raft_role role, uint64_t leader);
};

struct raft_node_config {
	const char *dir;        /* storage directory (created if missing) */
	uint64_t id;            /* this replica's raft id (never 0) */
	bool bootstrap;         /* a new cluster: this node is its only voter */
	uint32_t tick_ms;       /* length of one tick (for the caller's timer) */
	uint32_t election_ticks;
	uint32_t heartbeat_ticks;
	uint64_t snapshot_every; /* entries applied between snapshots */
	uint64_t (*rand)(void *ctx);
	void *rand_ctx;
};
void raft_node_config_defaults(struct raft_node_config *cfg);

struct raft_node;

int raft_node_open(const struct raft_node_config *cfg,
		   const struct raft_node_callbacks *cb, struct raft_node **out,
		   char *err, size_t errlen);
void raft_node_close(struct raft_node *n);

void raft_node_tick(struct raft_node *n);
int raft_node_step(struct raft_node *n, const struct raft_msg *msg);
int raft_node_propose(struct raft_node *n, const void *data, size_t len,
		      uint64_t *index, uint64_t *term);
int raft_node_read(struct raft_node *n, uint64_t context);
/* One membership change (see raft_propose_conf). */
int raft_node_propose_conf(struct raft_node *n, enum raft_conf_change change,
			   uint64_t node);
/* Hands leadership to the voter `to` (see raft_transfer_leader). */
int raft_node_transfer_leader(struct raft_node *n, uint64_t to);
int raft_node_campaign(struct raft_node *n);

/* Runs the ready loop until there is nothing left to do. Returns 0, or -1
 * when storage failed (err says why): the node then refuses all writes. */
int raft_node_process(struct raft_node *n, char *err, size_t errlen);

void raft_node_status(const struct raft_node *n, struct raft_status *st);
bool raft_node_is_leader(const struct raft_node *n);
/* Index of the last entry applied (of any type: no-op and membership
 * entries count, though only normal ones reach the apply callback). */
uint64_t raft_node_applied(const struct raft_node *n);
/* The storage error that stopped the node, or NULL. */
const char *raft_node_failure(const struct raft_node *n);

#endif

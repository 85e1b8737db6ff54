/*
 * manager_fixture.h: the manager without its thread, for tests (after
 * canonical raft's raft_fixture and etcd's Ready loop). Time, ids and the
 * scheduler plugin call come from the caller's table; the test posts
 * messages to manager_inbox(), calls manager_run_once() to handle them and
 * run one step (raft, pipelines, dispatcher), and reads what the manager
 * proposed (env.proposed) and its store after apply. The raft replica is
 * real (a single voter, its WAL under cfg.data_root): proposals go through
 * it and apply as they would in orchd.
 *
 * manager_start (manager.h) fills this table with the real clocks, the ids
 * of core/util/ids.h and a caller thread for the plugin.
 */
#ifndef ORCHD_MANAGER_FIXTURE_H
#define ORCHD_MANAGER_FIXTURE_H

#include <jansson.h>
#include <stdint.h>

#include "inbox.h"
#include "store.h"

struct manager;
struct manager_config;
struct raft_node;

struct manager_env {
	void *ctx;
	int64_t (*mono_ns)(void *ctx);       /* monotonic clock */
	int64_t (*wall_ns)(void *ctx);       /* wall clock (timestamps) */
	void (*new_id)(void *ctx, char *buf); /* a new 25-character id */
	uint64_t (*random)(void *ctx);
	/* Hands schedule request `seq` (stolen) for plugin `plugin` to whoever
	 * calls it; the answer comes back through manager_scheduler_answer.
	 * NULL: the manager's caller thread does it. */
	void (*schedule)(void *ctx, uint64_t seq, const char *plugin,
			 json_t *request, int timeout_ms);
	/* Sees each command the manager proposes (may be NULL). */
	void (*proposed)(void *ctx, const json_t *cmd);
};

/* Opens the manager without a thread (no caller thread either: env must
 * have schedule). */
int manager_open(const struct manager_config *cfg,
		 const struct manager_env *env, struct manager **out,
		 char *err, size_t errlen);
/* Handles every queued message, then one step: raft tick when due, ready
 * loop, pipelines, pending calls, dispatcher. Never waits. */
void manager_run_once(struct manager *m);
/* Stops (pending calls answered 503) and frees a manager_open one. */
void manager_close(struct manager *m);
/* A new single-voter swarm without the network (no raft transport, no
 * cluster server, no certificates): the replica opened as a new cluster
 * and the cluster with this node proposed. Returns 0, or -1 with err. */
int manager_bootstrap(struct manager *m, char *err, size_t errlen);
const struct store *manager_store(const struct manager *m);
/* The raft replica (NULL outside a swarm), for its status. */
const struct raft_node *manager_replica(const struct manager *m);
/* Proposes a command as the pipelines do (a test's shortcut for state that
 * needs a network to arrive, such as a worker's join). Returns 0 or -1. */
int manager_inject(struct manager *m, json_t *cmd);

/* Posts the answer to schedule request seq: the plugin's reply (stolen),
 * or NULL and the error of the call. Returns 0, or -1 when the inbox is
 * closed. */
int manager_scheduler_answer(struct inbox *inbox, uint64_t seq,
			     json_t *reply, const char *err);

#endif

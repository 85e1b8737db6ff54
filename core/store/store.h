/*
 * store.h: the replicated cluster state of orchd and the commands that
 * change it.
 *
 * The store is the state machine behind raft: one JSON document holding the
 * cluster, its nodes, services and tasks, each object already in the shape
 * of the Docker Engine API (Node, Service, Task), so the API serves them as
 * they are. It changes only through store_apply() of a command that raft
 * committed; applying the same command sequence gives the same document on
 * every manager (commands carry their own timestamps and ids: no clock and no
 * randomness in here). The core thread owns the store.
 */
#ifndef ORCHD_STORE_H
#define ORCHD_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Task states in Swarm's order; a task's observed state only moves forward. */
enum task_state {
	TASK_NEW = 0,
	TASK_PENDING,
	TASK_ASSIGNED,
	TASK_ACCEPTED,
	TASK_PREPARING,
	TASK_READY,
	TASK_STARTING,
	TASK_RUNNING,
	TASK_COMPLETE,
	TASK_SHUTDOWN,
	TASK_FAILED,
	TASK_REJECTED,
	TASK_REMOVE,
	TASK_ORPHANED,
	TASK_STATE_COUNT,
};
const char *task_state_name(enum task_state s);
/* Returns the state for a name, or -1. */
int task_state_parse(const char *name);
static inline bool task_state_ended(enum task_state s)
{
	return s >= TASK_COMPLETE;
}

struct store {
	json_t *cluster;  /* null until swarm init; Docker's Swarm object */
	json_t *nodes;    /* id -> Node */
	json_t *services; /* id -> Service */
	json_t *tasks;    /* id -> Task */
	uint64_t applied_index;
};

void store_init(struct store *s);
void store_fini(struct store *s);

/* Applies one committed command (a JSON object with "op"). index is its raft
 * index (it becomes the Version.Index of what it touches). A command that is
 * not valid against the current state changes nothing and returns -1 with a
 * reason in err (the proposer saw it succeed or fail through the same rule).
 */
int store_apply(struct store *s, const json_t *cmd, uint64_t index,
		char *err, size_t errlen);

/* Snapshot: the whole document as one JSON text (malloc'd), and back. */
char *store_dump(const struct store *s);
int store_load(struct store *s, const char *text, size_t len, char *err,
	       size_t errlen);

/* Lookups (borrowed references; NULL when absent). */
json_t *store_node(const struct store *s, const char *id);
json_t *store_service(const struct store *s, const char *id);
/* A service by id, id prefix (unique) or name. */
json_t *store_service_find(const struct store *s, const char *ref);
/* A node by id, id prefix (unique) or hostname. */
json_t *store_node_find(const struct store *s, const char *ref);
json_t *store_task(const struct store *s, const char *id);

/* Task field accessors. */
enum task_state store_task_state(const json_t *task);
const char *store_task_desired(const json_t *task);
const char *store_task_node(const json_t *task);
const char *store_task_service(const json_t *task);
int64_t store_task_slot(const json_t *task);

#endif

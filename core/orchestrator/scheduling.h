/*
 * scheduling.h: the decisions around the scheduler plugin, as pure
 * functions of the store (store and time in; commands out), like
 * orchestrator_reconcile. The allocator turns new tasks pending; a round
 * lists the pending tasks, assigns those pinned to a node (global services)
 * and builds the plugin's schedule request (sdk/orch_protocol.h) for the
 * others; the plugin's reply becomes assignments only after each placement
 * is checked again against the store as it is when the reply arrives (task
 * still pending and unplaced, node still eligible and with room), so that a
 * late reply cannot place a task wrongly. Owns no state; the manager makes
 * the plugin call (off its core thread) and proposes the commands.
 */
#ifndef ORCHD_SCHEDULING_H
#define ORCHD_SCHEDULING_H

#include <jansson.h>
#include <stdbool.h>

#include "store.h"

/* The allocator: a task.status command turning every new task pending, or
 * NULL when no task is new. */
json_t *scheduling_allocate(const struct store *s, const char *now_text);

/* One scheduling round as decided from the store. */
struct scheduling_round {
	json_t *request;  /* the plugin's schedule request, or NULL: no task
			     needs the plugin */
	json_t *task_ids; /* ids of the tasks in request (an object used as
			     a set: id -> true) */
	json_t *commands; /* task.assign / task.pending_reason commands for
			     tasks pinned to their node (array, maybe empty) */
};

/* Fills *round from the pending tasks (desired running) of the store;
 * without with_request (one is still out), only task_ids and commands. */
void scheduling_prepare(const struct store *s, const char *now_text,
			bool with_request, struct scheduling_round *round);
void scheduling_round_fini(struct scheduling_round *round);

/* The commands a plugin's reply to the round of task_ids leads to, against
 * the store as it is now: placements that still hold (others dropped),
 * reasons of the unplaced tasks. A JSON array, maybe empty. */
json_t *scheduling_accept(const struct store *s, const json_t *task_ids,
			  const json_t *reply, const char *now_text);

/* Gives each task of task_ids still pending the reason `why` (a failed or
 * unanswered plugin call). A JSON array of commands, maybe empty. */
json_t *scheduling_fail(const struct store *s, const json_t *task_ids,
			const char *why);

#endif

/*
 * orchestrator.h: the reconciliation loops of the manager (replicated,
 * global, restart, task history, removal, rolling updates with updater.c,
 * opt-in rebalancing) as one pure function: from the
 * store and the time, the commands that move the cluster toward its desired
 * state. Running it twice on the same state gives the same commands;
 * running it after the commands applied gives none (idempotent), which is
 * what makes it safe to run after any restart of orchd. Owns no state.
 *
 * This header is the room's door: it also brings the room's other pure
 * steps, each declared in its own part: the allocator, the scheduling
 * request and the check of its answer (scheduling.h), whether a node can
 * take a task (placement.h), node refresh and liveness (nodes.h), and the
 * rolling updater the loops use (updater.h). Other rooms include only
 * orchestrator.h.
 */
#ifndef ORCHD_ORCHESTRATOR_H
#define ORCHD_ORCHESTRATOR_H

#include <jansson.h>
#include <stdint.h>

#include "nodes.h"
#include "placement.h"
#include "scheduling.h"
#include "store.h"

struct orchestrator_input {
	const struct store *store;
	int64_t now_ns;
	unsigned history_limit; /* tasks kept per slot, Swarm's default 5 */
	/* Makes a new unique task id into buf (at least 26 bytes). */
	void (*new_id)(void *ctx, char *buf);
	void *id_ctx;
};

/* Returns a JSON array of store commands (see store.c) to propose, possibly
 * empty. *next_wakeup_ns (if not NULL) receives the earliest time at which
 * reconciling again can produce something new without any change of state
 * (a restart delay, an update's Delay or Monitor running out), or
 * INT64_MAX. */
json_t *orchestrator_reconcile(const struct orchestrator_input *in,
			       int64_t *next_wakeup_ns);

#endif

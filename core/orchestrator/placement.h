/*
 * placement.h: whether a node can take a task, as the orchestrator and the
 * scheduling steps judge it: ready and active, offering the task's runtime,
 * matching its placement constraints, with room for its reservations. Pure
 * functions of the store; owns no state.
 */
#ifndef ORCHD_PLACEMENT_H
#define ORCHD_PLACEMENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct placement_resources {
	int64_t nano_cpus;
	int64_t memory_bytes;
};

/* Spec.Availability of a node ("active" when unset). */
const char *placement_node_availability(const json_t *node);
/* Status.State is "ready". */
bool placement_node_ready(const json_t *node);
/* Whether a node can run new tasks: ready and availability active. */
bool placement_node_takes_tasks(const json_t *node);

/* Resources.Reservations of a task Spec (or a service's TaskTemplate). */
struct placement_resources placement_reservations(const json_t *task_spec);

/* Ready, active, offering the runtime of task_spec (a task's Spec or a
 * service's TaskTemplate) and matching each of its placement constraints. */
bool placement_node_eligible(const json_t *task_spec, const char *node_id,
			     const json_t *node);

/* Capacity minus the reservations of the tasks not ended on the node, and
 * minus `extra` (tasks placed on it in the same batch; may be NULL), fits
 * `need`. */
bool placement_node_has_room(const struct store *s, const char *node_id,
			     const json_t *node, struct placement_resources need,
			     const struct placement_resources *extra);

#endif

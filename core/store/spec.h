/*
 * spec.h: checking the specs users send (Docker's ServiceSpec and NodeSpec
 * shapes) before anything is proposed. Pure functions; own no state. A spec
 * that passes is normalized (defaults filled) so that every manager stores
 * the same thing.
 */
#ifndef ORCHD_SPEC_H
#define ORCHD_SPEC_H

#include <jansson.h>
#include <stddef.h>

/* Checks a ServiceSpec and fills defaults (Mode replicated 1, restart
 * policy). Returns 0, or -1 with err naming the field and what is wrong
 * ("Mode.Replicated.Replicas: must be a non-negative integer, got -1").
 * UpdateConfig, TaskTemplate.ForceUpdate and OrchRebalance are checked; their
 * defaults are left to the orchestrator. */
int spec_service_check(json_t *spec, char *err, size_t errlen);

/* Checks a NodeSpec (Role, Availability, Labels). */
int spec_node_check(const json_t *spec, char *err, size_t errlen);

/* Checks one placement constraint ("node.labels.zone==east"). */
int spec_constraint_check(const char *expr, char *err, size_t errlen);

#endif

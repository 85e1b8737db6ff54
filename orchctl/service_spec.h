/*
 * service_spec.h: the flags that `service create` and `service update`
 * share, and how each one changes a ServiceSpec (Docker Engine API v1.41
 * shape, as a jansson object).
 *
 * create applies its flags to a fresh spec; update fetches the service,
 * checks every flag first (svcspec_check, before any request), then
 * applies the removals (the *-rm flags) and after them the other flags,
 * in command-line order (docker's rule: --env-rm A --env-add A=1 keeps
 * A=1). Errors come back as a one-line reason; the caller names the flag
 * and value (cli_flag_error). Pure functions: no I/O, no state; the only
 * outside input is orchctl's environment for a bare --env KEY.
 */
#ifndef ORCHCTL_SERVICE_SPEC_H
#define ORCHCTL_SERVICE_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cli_flag.h"

/* getopt_long codes of the spec flags (long-only, above any character). */
enum svcspec_flag {
	SVCSPEC_ENV = 256, /* create -e/--env: append */
	SVCSPEC_ENV_ADD,   /* replace the variable of that key, or append */
	SVCSPEC_ENV_RM,    /* remove by key */
	SVCSPEC_LABEL,     /* create --label */
	SVCSPEC_LABEL_ADD,
	SVCSPEC_LABEL_RM,
	SVCSPEC_CONTAINER_LABEL, /* create --container-label */
	SVCSPEC_CONTAINER_LABEL_ADD,
	SVCSPEC_CONTAINER_LABEL_RM,
	SVCSPEC_CONSTRAINT,     /* create --constraint: append */
	SVCSPEC_CONSTRAINT_ADD, /* append unless already there */
	SVCSPEC_CONSTRAINT_RM,  /* remove the exact expression */
	SVCSPEC_MOUNT,
	SVCSPEC_IMAGE,
	SVCSPEC_ARGS,
	SVCSPEC_REPLICAS, /* update only: needs Mode.Replicated */
	SVCSPEC_RESERVE_CPU,
	SVCSPEC_RESERVE_MEMORY,
	SVCSPEC_LIMIT_CPU,
	SVCSPEC_LIMIT_MEMORY,
	SVCSPEC_RESTART_CONDITION,
	SVCSPEC_RESTART_DELAY,
	SVCSPEC_RESTART_MAX_ATTEMPTS,
	SVCSPEC_RESTART_WINDOW,
	SVCSPEC_STOP_GRACE_PERIOD,
	SVCSPEC_RUNTIME,
	SVCSPEC_UPDATE_PARALLELISM,
	SVCSPEC_UPDATE_DELAY,
	SVCSPEC_UPDATE_FAILURE_ACTION,
	SVCSPEC_UPDATE_MONITOR,
	SVCSPEC_UPDATE_MAX_FAILURE_RATIO,
	SVCSPEC_UPDATE_ORDER,
	SVCSPEC_REBALANCE, /* value optional: NULL means true */
	SVCSPEC_FORCE,     /* update only; value optional like a bool */
	SVCSPEC_FLAG_END,
	/* Flags of create that are no spec change of their own: create
	 * builds Name and Mode itself. */
	SVCSPEC_CREATE_NAME = SVCSPEC_FLAG_END,
	SVCSPEC_CREATE_MODE,
};

/* The flags of both commands (and -d, -q, --name, --mode), one row each
 * (two where create's help differs from update's): the getopt options
 * and the help of create (flag_set SVCSPEC_IN_CREATE) and update. */
#define SVCSPEC_IN_CREATE 1u
#define SVCSPEC_IN_UPDATE 2u
extern const struct cli_flag svcspec_flags[];
extern const struct cli_flag_default svcspec_create_defaults[];

/* Spec.UpdateConfig defaults (docker's and the orchestrator's). */
#define SVCSPEC_DEFAULT_PARALLELISM 1
#define SVCSPEC_DEFAULT_MONITOR_NS 5000000000LL

/* The flag as typed, "--env-add"; "" for a code that is no spec flag. */
const char *svcspec_flag_name(int flag);

/* True for a code of enum svcspec_flag. */
bool svcspec_is_flag(int flag);

/* True for the removals (--env-rm, --label-rm, --container-label-rm,
 * --constraint-rm), which update applies before the other flags. */
bool svcspec_is_removal(int flag);

/* Applies one flag with its value (NULL for a bool flag given without
 * one) to spec, creating TaskTemplate, ContainerSpec, Resources... as
 * needed. Returns 0, or -1 with the reason in err (spec may then be
 * partly changed: the caller drops it). */
int svcspec_apply(json_t *spec, int flag, const char *value, char *err,
		  size_t err_len);

/* Checks one flag's value without a service at hand (applies it to a
 * scratch replicated spec). */
int svcspec_check(int flag, const char *value, char *err, size_t err_len);

/* Sets spec.UpdateConfig to the defaults (Parallelism 1, Delay 0,
 * FailureAction pause, Monitor 5s, MaxFailureRatio 0, Order stop-first)
 * when it has none; keeps an existing one. 0, or -1 out of memory. */
int svcspec_update_defaults(json_t *spec);

/* The object at parent[key], created empty when missing or not an
 * object; NULL out of memory. */
json_t *svcspec_child(json_t *parent, const char *key);

#endif

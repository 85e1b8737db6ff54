/*
 * plugin_calls.h: how the manager and the agent reach plugins. orchd.c
 * fills this table from the plugin host; the components only see names and
 * request/reply calls in the protocol of sdk/orch_protocol.h. Owns nothing.
 */
#ifndef ORCHD_PLUGIN_CALLS_H
#define ORCHD_PLUGIN_CALLS_H

#include <jansson.h>
#include <stddef.h>

#include "orch_plugin.h"

struct plugin_calls {
	void *ctx;
	/* Names of the loaded plugins of a kind (borrowed, valid while the
	 * host runs); returns how many there are, fills at most max. */
	size_t (*list)(void *ctx, enum orch_plugin_kind kind,
		       const char **names, size_t max);
	/* One request/reply with plugin `name`; steals request. Returns 0
	 * with *reply (new reference; may carry "error"), or -1 with err. */
	int (*call)(void *ctx, const char *name, json_t *request,
		    int timeout_ms, json_t **reply, char *err, size_t errlen);
};

#endif

/*
 * nodes.h: the node steps of the manager as pure functions (store, time
 * and what the agents reported in; node.put commands out): each node's
 * Description kept in step with its agent's last report, and its
 * Status.State with whether its agent still asks for its tasks. Owns no
 * state.
 */
#ifndef ORCHD_NODES_H
#define ORCHD_NODES_H

#include <jansson.h>
#include <stdint.h>

#include "store.h"

/* A node's Description from its agent's report {runtimes, resources,
 * default_runtime} (new reference). */
json_t *nodes_description(const json_t *info, const char *hostname);

/* node.put commands for the nodes whose Description differs from what
 * their agent last reported (infos: node id -> report). */
json_t *nodes_refresh(const struct store *s, const json_t *infos,
		      const char *now_text);

struct nodes_liveness_input {
	const struct store *store;
	int64_t now_ns;          /* monotonic */
	const char *now_text;    /* wall clock, RFC 3339 */
	const char *self_id;     /* this manager's node: ready while it runs */
	int64_t down_after_ns;   /* silence after which a node is down */
	int64_t leader_since_ns; /* a new leader gives every node this long */
	const json_t *joined_at; /* node id -> monotonic ns of its join */
	/* When the node's agent last asked for its tasks (0: never). */
	int64_t (*last_seen)(void *ctx, const char *node_id);
	void *last_seen_ctx;
};

/* node.put commands marking down the nodes whose agent went silent, and
 * ready again those whose agent came back. */
json_t *nodes_liveness(const struct nodes_liveness_input *in);

#endif

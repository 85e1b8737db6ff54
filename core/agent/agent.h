/*
 * agent.h: the worker side of orchd, on every node (a manager node runs one
 * too). It receives the tasks assigned to its node, drives the runtime
 * plugins to start, stop and remove them, and reports every status change
 * to the manager. After an orchd restart it re-adopts what the runtimes still
 * run instead of starting it again. It owns its thread, its inbox and its
 * view of the local tasks; it talks to the manager only through messages
 * (INBOX_TASK_STATUSES and INBOX_NODE_INFO into the manager's inbox).
 */
#ifndef ORCHD_AGENT_H
#define ORCHD_AGENT_H

#include "inbox.h"
#include "plugin_calls.h"

/* How the agent reaches its manager: in-process for the manager node's own
 * agent, over the cluster network for a worker. */
struct agent_link {
	void *ctx;
	/* Sends a status batch (INBOX_TASK_STATUSES) or the node's
	 * description (INBOX_NODE_INFO); steals body. Returns 0, or -1 when
	 * it could not be sent (the agent keeps it and tries again). */
	int (*send)(void *ctx, enum inbox_kind kind, json_t *body);
	/* One dispatcher session request (see core/dispatcher.h); blocks up
	 * to about one heartbeat period; steals request. Returns 0 with the
	 * reply, or -1 with err. */
	int (*session)(void *ctx, json_t *request, json_t **reply, char *err,
		       size_t errlen);
};

struct agent_config {
	const char *node_id;
	const char *hostname;
	/* Runtime for tasks whose service names none; NULL: docker when it
	 * answers, else process. */
	const char *default_runtime;
	struct plugin_calls plugins;
	struct agent_link link;
};

struct agent;

int agent_start(const struct agent_config *cfg, struct agent **out, char *err,
		size_t errlen);
/* Stops the thread; the tasks keep running (the next orchd adopts them). */
void agent_stop(struct agent *a);
struct inbox *agent_inbox(struct agent *a);

#endif

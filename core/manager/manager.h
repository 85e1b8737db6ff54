/*
 * manager.h: the manager side of orchd, the core thread. It owns the raft
 * replica, the cluster store, the pipelines that feed the pure steps of
 * core/orchestrator (reconciliation, allocator, scheduling round, node
 * liveness) and the dispatcher that hands tasks to agents. The scheduler
 * plugin is called by a small thread of its own, never on the core thread
 * (manager_sched.c). Every other thread talks to it through its inbox: API
 * requests (INBOX_API, a call carrying struct api_call), agent status
 * reports (INBOX_TASK_STATUSES, INBOX_NODE_INFO), internal calls
 * (INBOX_CALL) and the scheduler's answers (INBOX_SCHEDULER_REPLY). For
 * tests, manager_fixture.h opens it without threads.
 */
#ifndef ORCHD_MANAGER_H
#define ORCHD_MANAGER_H

#include <stdint.h>

#include "api_http.h"
#include "inbox.h"
#include "plugin_calls.h"

struct manager_config {
	const char *data_root;  /* state lives under data_root/swarm */
	const char *hostname;
	const char *node_id;    /* this node's id (orchd.c keeps it stable) */
	uint64_t raft_id;       /* this node's raft replica id */
	const char *scheduler;  /* scheduler plugin name; NULL: the first */
	unsigned history_limit; /* task history per slot; 0: 5 */
	struct plugin_calls plugins;
};

struct manager;

int manager_start(const struct manager_config *cfg, struct manager **out,
		  char *err, size_t errlen);
/* Stops the thread, answers pending calls with 503 and closes the inbox
 * (later posts are refused); running tasks are left alone. */
void manager_stop(struct manager *m);
/* Frees what manager_stop left (after every poster stopped posting). */
void manager_free(struct manager *m);
struct inbox *manager_inbox(struct manager *m);

#endif

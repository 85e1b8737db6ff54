/*
 * manager_internal.h: the manager's state, shared by the files of the core
 * thread only (manager.c: the loop, raft and pipelines; manager_api.c: the
 * API routes). Nothing here is touched by any other thread.
 */
#ifndef ORCHD_MANAGER_INTERNAL_H
#define ORCHD_MANAGER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cluster.h"
#include "dispatcher.h"
#include "manager.h"
#include "raft_node.h"
#include "raft_transport.h"
#include "store.h"

/* A write an API call waits on: answered when its entry is applied. */
struct pending_write {
	uint64_t index;
	uint64_t term;
	struct inbox_call *call;
	json_t *ok_body;   /* sent when the command applies cleanly */
	int ok_status;
	int fail_status;   /* when the store refuses the command */
	bool leave_after;  /* swarm leave: wipe state once answered */
};

/* A read an API call waits on: answered once index is applied. */
struct pending_read {
	uint64_t context;
	uint64_t index; /* 0 until raft confirmed the read */
	struct inbox_call *call;
	int64_t deadline_ns; /* unconfirmed by then: 503 (the leader is gone) */
};

/* A join the core thread answers once its node.put is applied. */
struct pending_join {
	uint64_t index;
	char node_id[72];
	struct inbox_reply_to *reply_to;
	json_t *reply;
};

struct manager {
	struct manager_config cfg;
	char data_dir[512];  /* data_root/swarm */
	struct inbox *inbox;
	pthread_t thread;
	bool stopping;
	/* Set by manager_stop from another thread: seen before the messages
	 * still queued ahead of INBOX_STOP (a loaded manager stops at once). */
	atomic_bool stop_requested;
	bool stopped;            /* thread joined, inbox closed */

	struct store store;
	struct raft_node *raft; /* NULL while not in a swarm */
	bool leader;
	char advertise_addr[128];

	struct pending_write *writes;
	size_t n_writes, cap_writes;
	struct pending_read *reads;
	size_t n_reads, cap_reads;
	uint64_t next_read_context;
	uint64_t internal_index; /* last index the pipelines proposed */

	bool dirty;              /* store changed since the pipelines ran */
	int64_t next_tick_ns;
	uint32_t tick_ms;        /* the raft replica's tick */
	int64_t orchestrator_wakeup_ns;
	int64_t scheduler_retry_ns;
	int64_t pipelines_due_ns; /* next periodic pass (see run_pipelines) */
	json_t *node_infos;      /* node id -> its agent's last report */
	struct dispatcher *dispatcher;
	int64_t leader_since_ns; /* when this manager last became leader */
	struct cluster_server *cluster; /* the port-2377 server, or NULL */
	char listen_addr[160];   /* where it listens (IP:PORT) */
	char manager_addr[200];  /* advertise address:port of this manager */
	char cluster_error[512]; /* why the server is not running, or "" */
	struct pending_join *joins;
	size_t n_joins, cap_joins;
	json_t *joined_at;       /* node id -> monotonic ns of its join */
	struct raft_transport *transport; /* raft to other managers, or NULL */
	uint64_t peers_synced_index; /* store index the peers were read at */
	uint64_t leader_raft_id;  /* the raft leader, as this replica knows */
	int64_t leaderless_since_ns; /* since when it knows none (0: it does) */
	/* Set once this manager saw itself demoted to worker: its raft replica
	 * is closed and its agent is sent to the leader it last knew. */
	bool demoted;
	char demoted_leader_addr[256];
	/* This manager's own certificate: when to look at it next, and the
	 * point of its validity (per mille, 500..800) to renew it at. */
	int64_t cert_check_ns;
	unsigned cert_renew_permille;
	/* Leader: the demoted learner about to be removed from raft, and since
	 * when (it gets a second or so to apply its Node without ManagerStatus). */
	uint64_t demote_wait_id;
	int64_t demote_wait_since_ns;
	uint64_t demote_wait_commit; /* leader's commit index then */
	bool reissue_reads;       /* the leader changed: ask the new one */
};

/* A manager Node's raft id ("OrchRaftID", decimal text), or 0. */
uint64_t manager_node_raft_id(const json_t *node);
/* The manager address of the node whose raft id is id, or NULL. */
const char *manager_addr_of(struct manager *m, uint64_t id);

static inline const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* manager.c */
/* This node as a Node object (a manager), described as the agent reported. */
json_t *manager_self_node(struct manager *m, const char *now);
int64_t manager_wall_ns(void);
void manager_now_text(char *buf, size_t len);
/* Proposes a command; on success index and term name its entry. Returns 0,
 * or an HTTP status (503) with err filled. */
int manager_propose(struct manager *m, json_t *cmd, uint64_t *index,
		    uint64_t *term, char *err, size_t errlen);
void manager_add_write(struct manager *m, const struct pending_write *w);
/* Opens raft and starts the cluster server; *ca and *secrets (for the
 * cluster Spec) receive the new cluster's PKI material. */
int manager_swarm_init(struct manager *m, const char *advertise_addr,
		       const char *listen_addr, const char *cluster_id,
		       json_t **ca, json_t **secrets, char *err, size_t errlen);
void manager_swarm_wipe(struct manager *m);
/* Every manager's address ("IP:PORT"), from the store. */
json_t *manager_addrs(struct manager *m);
/* Internal op "swarm_join_manager" {advertise_addr, listen_addr,
 * leader_raft_id, leader_addr}: starts this node's replica empty. */
json_t *manager_swarm_join(struct manager *m, const json_t *request);
/* Internal op "raft_state": {member, voter, leader, leader_addr}. */
json_t *manager_raft_state(struct manager *m);

/* manager_api.c */
/* Handles an API request on the core thread: answers reads once raft
 * confirms them, writes once applied. */
void manager_api_handle(struct manager *m, struct inbox_call *call);
/* Builds the answer of a read now (the read barrier passed). */
void manager_api_answer_read(struct manager *m, struct inbox_call *call);
/* Internal synchronous calls from other threads ({"op": ...}). */
json_t *manager_api_internal(struct manager *m, const json_t *request);

/* Leader: whether raft keeps a quorum of reachable voters once the
 * voter `raft_id` is gone (swarmkit's CanRemoveMember rule). */
bool manager_demotion_keeps_quorum(struct manager *m, uint64_t raft_id);

#endif

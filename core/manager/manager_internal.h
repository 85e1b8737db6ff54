/*
 * manager_internal.h: the manager's state, shared by the files of the core
 * thread only. Nothing here is touched by any other thread (the scheduler
 * caller of manager_sched.c keeps its own state behind its own lock).
 *
 *   manager.c           the core thread: its loop, the inbox, start/stop
 *   manager_calls.c     pending API calls: writes answered when applied,
 *                       reads once raft confirmed them
 *   manager_raft.c      the raft replica's callbacks, the raft transport
 *   manager_swarm.c     swarm init, join as a manager, leave, resume
 *   manager_join.c      nodes joining and renewing their certificates
 *   manager_members.c   raft membership: promotion, demotion, ManagerStatus
 *   manager_cert.c      renewal of this manager's own certificate
 *   manager_pipelines.c the leader's pipelines: it moves the store into the
 *                       pure steps of core/orchestrator and proposes what
 *                       they return
 *   manager_sched.c     the scheduler plugin call, off the core thread
 *   manager_api*.c      the API routes
 */
#ifndef ORCHD_MANAGER_INTERNAL_H
#define ORCHD_MANAGER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cluster.h"
#include "dispatcher.h"
#include "manager.h"
#include "manager_fixture.h"
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

/* The schedule request in flight to the scheduler plugin (at most one), and
 * when the next may go out. */
struct manager_sched {
	bool in_flight;
	uint64_t seq;          /* of the request in flight, or of the last */
	uint64_t leader_epoch; /* m->leader_epoch when it went out */
	int64_t deadline_ns;   /* unanswered by then: the tasks say so */
	bool overdue;          /* the deadline passed, the reasons written */
	json_t *task_ids;      /* the tasks it asks about (id -> true) */
	char plugin[128];
	int64_t next_ns;       /* no new request before (back-off) */
	int64_t backoff_ns;    /* next back-off after a failure */
	int64_t retry_ns;      /* periodic pass without a change of state */
	struct sched_caller *caller; /* the caller thread, or NULL (a test's
					env.schedule takes the requests) */
};

struct manager {
	struct manager_config cfg;
	struct manager_env env;  /* clocks and ids (real, or a test's) */
	bool threaded;           /* started by manager_start (its own thread) */
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
	struct manager_sched sched;
	uint64_t leader_epoch;   /* counts the times it became leader */
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

static inline const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

static inline const char *str_or(const char *s, const char *fallback)
{
	return s ? s : fallback;
}

/* manager.c: time and ids, from m->env. */
int64_t manager_mono_ns(struct manager *m);
int64_t manager_wall_ns(struct manager *m);
void manager_now_text(struct manager *m, char *buf, size_t len);
void manager_new_id(struct manager *m, char *buf);
uint64_t manager_random(struct manager *m);

/* manager_calls.c */
/* Proposes a command; on success index and term name its entry. Returns 0,
 * or an HTTP status (503) with err filled. */
int manager_propose(struct manager *m, json_t *cmd, uint64_t *index,
		    uint64_t *term, char *err, size_t errlen);
void manager_add_write(struct manager *m, const struct pending_write *w);
/* The entry index (of term) applied with status rc (err): answers the
 * write that waits on it. */
void manager_answer_writes(struct manager *m, uint64_t index, uint64_t term,
			   int rc, const char *err);
/* Finishes answered writes and reads that raft confirmed and the store
 * applied; fails writes whose entry was lost to a new leader. */
void manager_finish_calls(struct manager *m);
/* The leader changed: unconfirmed reads ask the new one. */
void manager_reissue_reads(struct manager *m);

/* manager_raft.c */
int manager_open_raft(struct manager *m, bool bootstrap, char *err,
		      size_t errlen);
/* The raft transport, from this manager's certificates. */
int manager_open_transport(struct manager *m, char *err, size_t errlen);
/* Tells the transport where every other manager listens. */
void manager_sync_peers(struct manager *m);
/* Raft messages from another manager (hex encoded). */
void manager_step_raft(struct manager *m, const json_t *request);
/* Runs the replica's ready loop, logging a storage failure. */
void manager_process_raft(struct manager *m);
/* A manager Node's raft id ("OrchRaftID", decimal text), or 0. */
uint64_t manager_node_raft_id(const json_t *node);
/* The manager address of the node whose raft id is id, or NULL. */
const char *manager_addr_of(struct manager *m, uint64_t id);

/* manager_swarm.c */
/* This node as a Node object (a manager), described as the agent reported. */
json_t *manager_self_node(struct manager *m, const char *now);
/* Opens raft and starts the cluster server; *ca and *secrets (for the
 * cluster Spec) receive the new cluster's PKI material. */
int manager_swarm_init(struct manager *m, const char *advertise_addr,
		       const char *listen_addr, const char *cluster_id,
		       json_t **ca, json_t **secrets, char *err, size_t errlen);
void manager_swarm_wipe(struct manager *m);
/* The cluster.init command of a new swarm (this node its first manager). */
json_t *manager_cluster_init_cmd(struct manager *m, const char *cluster_id,
				 const char *now);
/* Internal op "swarm_join_manager" {advertise_addr, listen_addr,
 * leader_raft_id, leader_addr}: starts this node's replica empty. */
json_t *manager_swarm_join(struct manager *m, const json_t *request);
/* Internal op "raft_state": {member, voter, leader, leader_addr}. */
json_t *manager_raft_state(struct manager *m);
/* Stops being a raft member: waiting joins fail with why, the port-2377
 * server, the replica and the raft transport close. */
void manager_close_replica(struct manager *m, const char *why);
/* Starts the cluster server from the material in data_dir/certificates. */
void manager_start_cluster(struct manager *m);
/* Reopens the swarm this node was part of before orchd stopped. */
int manager_resume(struct manager *m, char *err, size_t errlen);

/* manager_join.c */
/* Every manager's address ("IP:PORT"), from the store. */
json_t *manager_addrs(struct manager *m);
void manager_cluster_join(struct manager *m, json_t *request,
			  struct inbox_reply_to *reply_to);
void manager_cluster_renew(struct manager *m, json_t *request,
			   struct inbox_reply_to *reply_to);
/* Answers the joins whose node is now applied. */
void manager_finish_joins(struct manager *m, uint64_t applied);
/* Answers every join still waiting (the swarm is going away). */
void manager_fail_joins(struct manager *m, const char *why);

/* manager_members.c */
/* Spec.Role is "worker". */
bool manager_node_is_worker(const json_t *node);
/* Leader: whether raft keeps a quorum of reachable voters once the
 * voter `raft_id` is gone (swarmkit's CanRemoveMember rule). */
bool manager_demotion_keeps_quorum(struct manager *m, uint64_t raft_id);
/* One membership step (learner, voter, demotion); returns whether it
 * proposed a store change. */
bool manager_run_membership(struct manager *m, int64_t now);
/* Leader flag and Reachability of each manager into its Node. */
bool manager_run_manager_status(struct manager *m, int64_t now);
/* A follower demoted to worker closes its replica. */
void manager_check_demoted(struct manager *m);

/* manager_cert.c */
void manager_renew_own_cert(struct manager *m, int64_t now);

/* manager_pipelines.c */
/* Proposes a command of the pipelines (steals cmd); logs a refusal. */
void manager_propose_internal(struct manager *m, json_t *cmd);
/* Proposes each command of the array cmds (steals it); whether any. */
bool manager_propose_all(struct manager *m, json_t *cmds);
/* The cluster's Dispatcher.HeartbeatPeriod (1 s unless changed). */
int64_t manager_heartbeat_ns(const struct manager *m);
void manager_run_pipelines(struct manager *m, int64_t now);

/* manager_sched.c */
/* The scheduling step of the pipelines: pinned tasks assigned, one request
 * to the plugin when none is in flight, overdue requests reported. */
bool manager_run_scheduler(struct manager *m, int64_t now);
/* The answer to request seq arrived (INBOX_SCHEDULER_REPLY). */
void manager_scheduler_replied(struct manager *m, const json_t *body);
/* The caller thread, for a manager that has its own thread. */
int manager_sched_start(struct manager *m, char *err, size_t errlen);
void manager_sched_stop(struct manager *m);

/* manager_api.c */
/* Handles an API request on the core thread: answers reads once raft
 * confirms them, writes once applied. */
void manager_api_handle(struct manager *m, struct inbox_call *call);
/* Builds the answer of a read now (the read barrier passed). */
void manager_api_answer_read(struct manager *m, struct inbox_call *call);
/* Internal synchronous calls from other threads ({"op": ...}). */
json_t *manager_api_internal(struct manager *m, const json_t *request);

#endif

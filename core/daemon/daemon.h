/*
 * daemon.h: the daemon room's own header (not a door: only the files of core/daemon
 * include it). struct orchd holds the process-wide pieces that main wires
 * together; each field says which file owns it.
 */
#ifndef ORCHD_DAEMON_H
#define ORCHD_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent.h"
#include "api_http.h"
#include "cluster.h"
#include "config.h"
#include "inbox.h"
#include "log.h"
#include "manager.h"
#include "plugin_host.h"
#include "latch.h"

#define ORCHD_VERSION "0.1.0"

struct link_ref;

struct orchd {
	struct orchd_config cfg;
	char hostname[256];
	char node_id[32];
	uint64_t raft_id;
	struct plugin_host *plugins;
	struct manager *manager;
	/* The agent; the plugin host's event thread reads it under agent_lock
	 * (it is detached there before agent_stop frees it). */
	struct agent *agent;
	pthread_mutex_t agent_lock;
	struct api_http_server *api;
	/* The agent's link: remote when this node joined a swarm as a worker
	 * (daemon_link.c). Callers take a reference for the length of a call,
	 * so join and leave never wait for a session's long poll. */
	pthread_mutex_t link_lock;     /* guards worker and its users count */
	pthread_cond_t link_idle;      /* a user released the worker link */
	struct link_ref *worker;       /* NULL: the local manager */
	/* On a manager that is not the raft leader, the agent reaches the
	 * leader over the network with the manager's certificate. Made once,
	 * retargeted after, freed at exit; leader_active says whether to use
	 * it (guarded by leader_lock). */
	pthread_mutex_t leader_lock;
	struct cluster_worker *leader_link;
	bool leader_active;
	pthread_mutex_t info_lock;
	json_t *node_info;             /* the agent's last description */
	char worker_dir[600];          /* data_root/swarm/worker */
	char desired_role[16];         /* from the last session (info_lock) */
	/* The role keeper thread (see "roles and certificates" below). */
	pthread_t role_thread;
	bool role_thread_started;
	struct latch role_stop;
	unsigned cert_renew_permille;  /* this node's point of renewal */
	time_t next_role_probe;        /* see role_probe_demoted */
};

/* daemon_plugins.c */
size_t plugins_list(void *ctx, enum orch_plugin_kind kind,
			   const char **names, size_t max);
int plugins_call(void *ctx, const char *name, json_t *request,
			int timeout_ms, json_t **reply, char *err, size_t errlen);
int orchd_load_plugins(struct orchd *o, char *err, size_t errlen);

/* daemon_link.c */
void leader_link_drop(struct orchd *o);
/* Whether the local manager is part of a swarm (then it cannot join). */
bool orchd_is_manager(struct orchd *o);
/* An internal call into the manager (see manager_api_internal); steals
 * ask; NULL when the manager is stopping. */
json_t *orchd_manager_call(struct orchd *o, json_t *ask);
int link_send(void *ctx, enum inbox_kind kind, json_t *body);
int link_session(void *ctx, json_t *request, json_t **reply, char *err,
			size_t errlen);
void link_set_worker(struct orchd *o, struct cluster_worker *w);
bool link_is_worker(struct orchd *o);
struct cluster_worker *link_take_worker(struct orchd *o, struct cluster_worker *w);
int local_link_send(void *ctx, enum inbox_kind kind, json_t *body);
/* The worker link for one call, or NULL (the local manager); give it back
 * with link_worker_release. */
struct cluster_worker *link_worker_acquire(struct orchd *o, struct link_ref **ref);
void link_worker_release(struct orchd *o, struct link_ref *ref);
/* At exit: drops the worker link (after every user stopped). */
void link_close(struct orchd *o);

/* daemon_join.c */
void orchd_join_manager_addr(const json_t *body, char *out, size_t len);
int orchd_become_manager(struct orchd *o, struct cluster_worker *w,
				const json_t *body, char *err, size_t errlen);
bool orchd_api_worker(struct orchd *o, const struct api_request *req,
			     struct api_response *resp);

/* daemon_role.c */
void *role_main(void *arg);
void role_keeper_signal(struct orchd *o);
void role_keeper_join(struct orchd *o);

/* daemon_routes.c */
void orchd_api_handler(void *ctx, const struct api_request *req,
			      struct api_response *resp);

#endif

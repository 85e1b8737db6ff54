/*
 * orchd.c: the daemon's entry point. Reads the configuration, makes the node
 * identity, loads the plugins, starts the manager (core thread), the agent
 * and the API server, then waits for SIGTERM/SIGINT and stops them in
 * reverse order. Its role keeper thread makes the node the role the
 * cluster gives it (promotion, demotion) and renews its certificate. Owns
 * the process-wide pieces: the pidfile, the plugin host and the wiring
 * between components; the state of each component stays with its own
 * thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "agent.h"
#include "api_http.h"
#include "cluster.h"
#include "config.h"
#include "fsutil.h"
#include "ids.h"
#include "inbox.h"
#include "manager.h"
#include "plugin_host.h"

#define ORCHD_VERSION "0.1.0"

struct orchd {
	struct orchd_config cfg;
	char hostname[256];
	char node_id[32];
	uint64_t raft_id;
	struct plugin_host *plugins;
	struct manager *manager;
	struct agent *agent;
	struct api_http_server *api;
	int log_level;
	/* The agent's link: remote when this node joined a swarm as a worker.
	 * Link calls hold it for reading; join and leave for writing. */
	pthread_rwlock_t link_lock;
	struct cluster_worker *worker; /* NULL: the local manager */
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
	pthread_mutex_t role_lock;
	pthread_cond_t role_wake;
	bool role_stop;                /* guarded by role_lock */
	unsigned cert_renew_permille;  /* this node's point of renewal */
	time_t next_role_probe;        /* see role_probe_demoted */
};

static struct orchd *orchd_global_for_log; /* read-only after start */

static void orchd_log(enum orch_log_level level, const char *plugin,
		      const char *fmt, ...)
{
	if (orchd_global_for_log && (int)level > orchd_global_for_log->log_level)
		return;
	static const char *const names[] = { "error", "warn", "info", "debug" };
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "orchd: %s: %s: ", names[level], plugin ? plugin : "core");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ------------------------------------------------------------ identity */

/* Loads data_root/identity.json, or makes it on the first start. */
static int orchd_identity(struct orchd *o, char *err, size_t errlen)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/identity.json", o->cfg.data_root);
	json_error_t jerr;
	json_t *id = json_load_file(path, 0, &jerr);
	if (!id && access(path, F_OK) == 0) {
		snprintf(err, errlen, "%s is damaged: %s", path, jerr.text);
		return -1;
	}
	if (!id) {
		char node_id[32];
		ids_new_id(NULL, node_id);
		uint64_t raft_id = 0;
		while ((raft_id >> 1) == 0)
			raft_id = ids_random(NULL);
		id = json_pack("{s:s,s:I}", "NodeID", node_id, "RaftID", (json_int_t)(raft_id >> 1));
		if (json_dump_file(id, path, JSON_COMPACT) != 0) {
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
			json_decref(id);
			return -1;
		}
		chmod(path, 0600);
	}
	snprintf(o->node_id, sizeof(o->node_id), "%s",
		 json_string_value(json_object_get(id, "NodeID")));
	o->raft_id = (uint64_t)json_integer_value(json_object_get(id, "RaftID"));
	json_decref(id);
	if (strlen(o->node_id) != 25 || o->raft_id == 0) {
		snprintf(err, errlen, "%s is damaged: NodeID/RaftID missing", path);
		return -1;
	}
	return 0;
}

/* Writes the pidfile, refusing when another live process holds it. */
static int orchd_pidfile(const char *path, char *err, size_t errlen)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		(void)util_mkdir_p(dir, 0755, NULL, 0); /* fopen below says why */
	}
	FILE *f = fopen(path, "r");
	if (f) {
		long pid = 0;
		if (fscanf(f, "%ld", &pid) == 1 && pid > 0 && pid != getpid() &&
		    kill((pid_t)pid, 0) == 0) {
			fclose(f);
			snprintf(err, errlen, "pid file found, ensure orchd is not running or delete %s (held by pid %ld)",
				 path, pid);
			return -1;
		}
		fclose(f);
	}
	f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "cannot write pid file %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
	return 0;
}

/* ---------------------------------------------------- plugins, wiring */

static size_t plugins_list(void *ctx, enum orch_plugin_kind kind,
			   const char **names, size_t max)
{
	struct orchd *o = ctx;
	size_t found = 0;
	for (size_t i = 0; i < plugin_host_count(o->plugins); i++) {
		struct plugin_host_info info;
		plugin_host_info(plugin_host_get(o->plugins, i), &info);
		if (info.kind != kind)
			continue;
		if (found < max)
			names[found] = info.name;
		found++;
	}
	return found;
}

static int plugins_call(void *ctx, const char *name, json_t *request,
			int timeout_ms, json_t **reply, char *err, size_t errlen)
{
	struct orchd *o = ctx;
	for (size_t i = 0; i < plugin_host_count(o->plugins); i++) {
		struct plugin_host_plugin *p = plugin_host_get(o->plugins, i);
		struct plugin_host_info info;
		plugin_host_info(p, &info);
		if (strcmp(info.name, name) == 0)
			return plugin_host_call(p, request, timeout_ms, reply, err, errlen);
	}
	json_decref(request);
	snprintf(err, errlen, "no plugin named %s is loaded", name);
	return -1;
}

/* Runtime events go to the agent; the host's thread only posts them. */
static void on_plugin_event(void *ctx, json_t *event)
{
	struct orchd *o = ctx;
	const char *op = json_string_value(json_object_get(event, "op"));
	if (o->agent && op && strcmp(op, "task_status") == 0)
		inbox_post(agent_inbox(o->agent), INBOX_RUNTIME_EVENT, event, NULL);
	else
		json_decref(event);
}

static void on_plugin_refused(void *ctx, const char *file, const char *reason)
{
	(void)ctx;
	orchd_log(ORCH_LOG_ERROR, NULL, "plugin %s refused: %s", file, reason);
}

static int orchd_load_plugins(struct orchd *o, char *err, size_t errlen)
{
	char instance[64];
	snprintf(instance, sizeof(instance), "orchd-%ld", (long)getpid());
	struct plugin_host_options opts = {
		.plugin_dir = o->cfg.plugins,
		.data_root = o->cfg.data_root,
		.node_id = o->node_id,
		.instance = instance,
		.transport = strcmp(o->cfg.plugin_transport, "ipc") == 0
				     ? PLUGIN_HOST_IPC
				     : PLUGIN_HOST_INPROC,
		.on_event = on_plugin_event,
		.on_refused = on_plugin_refused,
		.log = orchd_log,
		.ctx = o,
	};
	if (plugin_host_open(&opts, &o->plugins, err, errlen) != 0)
		return -1;
	const enum orch_plugin_kind needed[] = { ORCH_PLUGIN_SCHEDULER,
						 ORCH_PLUGIN_RUNTIME };
	for (size_t i = 0; i < 2; i++)
		if (plugin_host_count_kind(o->plugins, needed[i]) == 0) {
			snprintf(err, errlen, "no %s plugin loaded from %s: orchd needs at least one",
				 plugin_host_kind_name(needed[i]), o->cfg.plugins);
			return -1;
		}
	for (size_t i = 0; i < plugin_host_count(o->plugins); i++) {
		struct plugin_host_info info;
		plugin_host_info(plugin_host_get(o->plugins, i), &info);
		orchd_log(ORCH_LOG_INFO, NULL, "plugin %s (%s %s) loaded from %s", info.name,
			  plugin_host_kind_name(info.kind), info.version, info.file);
	}
	return 0;
}

/* ------------------------------------------- the local agent's link */

/* The manager node's own agent talks to the manager through its inbox. */
static int local_link_send(void *ctx, enum inbox_kind kind, json_t *body)
{
	struct orchd *o = ctx;
	return inbox_post(manager_inbox(o->manager), kind, body, NULL);
}

/* The link to the leader when the local manager is a follower, or NULL. */
static struct cluster_worker *leader_link_get(struct orchd *o)
{
	pthread_mutex_lock(&o->leader_lock);
	struct cluster_worker *w = o->leader_active ? o->leader_link : NULL;
	pthread_mutex_unlock(&o->leader_lock);
	return w;
}

/* The local manager named the leader at addr: the agent goes there. */
static void leader_link_use(struct orchd *o, const char *addr)
{
	char dir[700], err[512];
	snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
	pthread_mutex_lock(&o->leader_lock);
	if (!o->leader_link &&
	    cluster_worker_for_manager(dir, o->node_id, addr, &o->leader_link, err,
				       sizeof(err)) != 0) {
		o->leader_link = NULL;
		orchd_log(ORCH_LOG_WARN, NULL, "cannot link to the leader: %s", err);
	}
	if (o->leader_link) {
		cluster_worker_retarget(o->leader_link, addr);
		pthread_mutex_lock(&o->info_lock);
		cluster_worker_set_node_info(o->leader_link, o->node_info);
		pthread_mutex_unlock(&o->info_lock);
		o->leader_active = true;
	}
	pthread_mutex_unlock(&o->leader_lock);
}

static void leader_link_drop(struct orchd *o)
{
	pthread_mutex_lock(&o->leader_lock);
	o->leader_active = false;
	pthread_mutex_unlock(&o->leader_lock);
}

/* The agent's link: to the remote manager on a worker, else local. The
 * node description is kept so that a new link can send it again. */
static int link_send(void *ctx, enum inbox_kind kind, json_t *body)
{
	struct orchd *o = ctx;
	if (kind == INBOX_NODE_INFO) {
		pthread_mutex_lock(&o->info_lock);
		json_decref(o->node_info);
		o->node_info = json_deep_copy(body);
		pthread_mutex_unlock(&o->info_lock);
	}
	pthread_rwlock_rdlock(&o->link_lock);
	struct cluster_worker *leader = o->worker ? NULL : leader_link_get(o);
	int rc = o->worker   ? cluster_worker_send(o->worker, kind, body)
		 : leader ? cluster_worker_send(leader, kind, body)
			  : local_link_send(o, kind, body);
	pthread_rwlock_unlock(&o->link_lock);
	return rc;
}

static void local_session_reply(void *ctx, json_t *reply)
{
	struct inbox_call *call = ctx;
	call->response = reply;
	inbox_call_finish(call);
}

static int local_link_session(void *ctx, json_t *request, json_t **reply,
			      char *err, size_t errlen)
{
	struct orchd *o = ctx;
	struct inbox_call call;
	inbox_call_init(&call, NULL);
	struct inbox_reply_to to = { .fn = local_session_reply, .ctx = &call };
	if (inbox_post_ptr(manager_inbox(o->manager), INBOX_CLUSTER_REQUEST, request, &to) != 0) {
		inbox_call_fini(&call);
		snprintf(err, errlen, "the manager is stopping");
		return -1;
	}
	inbox_call_wait(&call);
	*reply = call.response;
	inbox_call_fini(&call);
	return 0;
}

/* A session of this node's agent while its manager may be a follower:
 * through the leader link when one is in use (a failure falls back to the
 * local manager, which may have become the leader), else locally (an
 * answer naming the leader switches to the link). */
static int manager_node_session(struct orchd *o, json_t *request, json_t **reply,
				char *err, size_t errlen)
{
	struct cluster_worker *leader = leader_link_get(o);
	if (leader) {
		int rc = cluster_worker_session(leader, request, reply, err, errlen);
		if (rc != 0)
			leader_link_drop(o);
		return rc;
	}
	int rc = local_link_session(o, request, reply, err, errlen);
	const char *addr = rc == 0 ? json_string_value(json_object_get(*reply, "leader_addr")) : NULL;
	if (addr && *addr)
		leader_link_use(o, addr);
	return rc;
}

static int link_session(void *ctx, json_t *request, json_t **reply, char *err,
			size_t errlen)
{
	struct orchd *o = ctx;
	pthread_rwlock_rdlock(&o->link_lock);
	int rc = o->worker ? cluster_worker_session(o->worker, request, reply, err, errlen)
			   : manager_node_session(o, request, reply, err, errlen);
	pthread_rwlock_unlock(&o->link_lock);
	const char *role = rc == 0 ? json_string_value(json_object_get(*reply, "role")) : NULL;
	if (role) {
		pthread_mutex_lock(&o->info_lock);
		snprintf(o->desired_role, sizeof(o->desired_role), "%s", role);
		pthread_mutex_unlock(&o->info_lock);
	}
	return rc;
}

/* Makes w the agent's link (NULL: back to the local manager). */
static void link_set_worker(struct orchd *o, struct cluster_worker *w)
{
	if (w) {
		pthread_mutex_lock(&o->info_lock);
		cluster_worker_set_node_info(w, o->node_info);
		pthread_mutex_unlock(&o->info_lock);
	}
	pthread_rwlock_wrlock(&o->link_lock);
	struct cluster_worker *old = o->worker;
	o->worker = w;
	pthread_rwlock_unlock(&o->link_lock);
	cluster_worker_free(old);
	if (!w) { /* the local manager hears this node's description again */
		pthread_mutex_lock(&o->info_lock);
		json_t *info = json_deep_copy(o->node_info);
		pthread_mutex_unlock(&o->info_lock);
		if (info)
			local_link_send(o, INBOX_NODE_INFO, info);
	}
}

static bool link_is_worker(struct orchd *o)
{
	pthread_rwlock_rdlock(&o->link_lock);
	bool worker = o->worker != NULL;
	pthread_rwlock_unlock(&o->link_lock);
	return worker;
}

/* ------------------------------------------------------------- workers */

/* Whether the local manager is part of a swarm (then it cannot join). */
static bool orchd_is_manager(struct orchd *o)
{
	struct inbox_call call;
	json_t *ask = json_pack("{s:s}", "op", "swarm_state");
	inbox_call_init(&call, ask);
	int rc = inbox_call(manager_inbox(o->manager), INBOX_CALL, NULL, &call);
	json_t *state = call.response;
	inbox_call_fini(&call);
	json_decref(ask);
	bool manager = rc == 0 && json_is_true(json_object_get(state, "manager"));
	json_decref(state);
	return manager;
}

/* Where a joining manager's raft listens for the others: the advertise
 * address (or the listen address' IP) with the listen port. */
static void orchd_join_manager_addr(const json_t *body, char *out, size_t len)
{
	const char *listen = json_string_value(json_object_get(body, "ListenAddr"));
	const char *adv = json_string_value(json_object_get(body, "AdvertiseAddr"));
	char host[128];
	snprintf(host, sizeof(host), "%s", adv && *adv ? adv : listen ? listen : "127.0.0.1");
	char *colon = strchr(host, ':');
	if (colon)
		*colon = '\0';
	const char *port = listen ? strrchr(listen, ':') : NULL;
	snprintf(out, len, "%s:%s", host, port && port[1] ? port + 1 : "2377");
}

/* An internal call into the manager (see manager_api_internal). */
static json_t *orchd_manager_call(struct orchd *o, json_t *ask)
{
	struct inbox_call call;
	inbox_call_init(&call, ask);
	int rc = inbox_call(manager_inbox(o->manager), INBOX_CALL, NULL, &call);
	json_t *answer = rc == 0 ? call.response : NULL;
	if (rc != 0)
		json_decref(call.response);
	inbox_call_fini(&call);
	json_decref(ask);
	return answer;
}

/* The join made this node a manager: install the certificates, start its
 * raft replica, and wait (bounded) until the leader made it a voter. */
#define ORCHD_MANAGER_JOIN_WAIT_MS 20000
static int orchd_become_manager(struct orchd *o, struct cluster_worker *w,
				const json_t *body, char *err, size_t errlen)
{
	char dir[700], manager_addr[200];
	json_t *joined = NULL;
	snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
	int rc = cluster_worker_install_manager(w, dir, &joined, err, errlen);
	cluster_worker_free(w);
	cluster_worker_forget(o->worker_dir, err, 0);
	if (rc != 0)
		return -1;
	orchd_join_manager_addr(body, manager_addr, sizeof(manager_addr));
	const char *listen = json_string_value(json_object_get(body, "ListenAddr"));
	char advertise[128];
	snprintf(advertise, sizeof(advertise), "%s", manager_addr);
	*strrchr(advertise, ':') = '\0';
	json_t *answer = orchd_manager_call(
		o, json_pack("{s:s,s:s,s:s,s:O,s:O}", "op", "swarm_join_manager",
			     "advertise_addr", advertise, "listen_addr",
			     listen && *listen ? listen : "0.0.0.0:2377", "leader_raft_id",
			     json_object_get(joined, "leader_raft_id"), "leader_addr",
			     json_object_get(joined, "leader_addr")));
	json_decref(joined);
	const char *e = json_string_value(json_object_get(answer, "error"));
	if (!answer || e) {
		snprintf(err, errlen, "%s", e ? e : "the manager is stopping");
		json_decref(answer);
		return -1;
	}
	json_decref(answer);
	for (int waited = 0; waited < ORCHD_MANAGER_JOIN_WAIT_MS; waited += 100) {
		json_t *state = orchd_manager_call(o, json_pack("{s:s}", "op", "raft_state"));
		bool voter = json_is_true(json_object_get(state, "voter"));
		json_decref(state);
		if (voter)
			break;
		usleep(100 * 1000);
	}
	orchd_log(ORCH_LOG_INFO, NULL, "joined the swarm as manager %s", o->node_id);
	return 0;
}

static void orchd_api_join(struct orchd *o, const struct api_request *req,
			   struct api_response *resp)
{
	if (link_is_worker(o) || orchd_is_manager(o)) {
		api_response_error(resp, 503, "This node is already part of a swarm. Use \"orchctl swarm leave\" to leave this swarm and join another one.");
		return;
	}
	json_error_t jerr;
	json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
	if (!json_is_object(body)) {
		api_response_error(resp, 400, "invalid JSON in request body: %s", jerr.text);
		json_decref(body);
		return;
	}
	char err[1024] = "";
	struct cluster_worker *w = NULL;
	char swarm_dir[600];
	snprintf(swarm_dir, sizeof(swarm_dir), "%s/swarm", o->cfg.data_root);
	(void)util_mkdir_p(swarm_dir, 0700, NULL, 0); /* the join says why */
	char raft_id[24], manager_addr[200];
	snprintf(raft_id, sizeof(raft_id), "%llu", (unsigned long long)o->raft_id);
	json_object_set_new(body, "OrchRaftID", json_string(raft_id));
	orchd_join_manager_addr(body, manager_addr, sizeof(manager_addr));
	json_object_set_new(body, "OrchManagerAddr", json_string(manager_addr));
	int rc = cluster_worker_join(o->worker_dir, o->node_id, o->hostname, body, &w, err,
				     sizeof(err));
	if (rc == 0 && cluster_worker_is_manager(w)) {
		rc = orchd_become_manager(o, w, body, err, sizeof(err));
		json_decref(body);
		if (rc != 0)
			api_response_error(resp, 500, "%s", err);
		else
			api_response_set(resp, 200, "text/plain", "", 0);
		return;
	}
	json_decref(body);
	if (rc != 0) {
		api_response_error(resp, 400, "%s", err);
		return;
	}
	link_set_worker(o, w);
	orchd_log(ORCH_LOG_INFO, NULL, "joined the swarm as worker %s", o->node_id);
	api_response_set(resp, 200, "text/plain", "", 0);
}

static void orchd_api_leave(struct orchd *o, struct api_response *resp)
{
	char err[700] = "";
	link_set_worker(o, NULL);
	if (cluster_worker_forget(o->worker_dir, err, sizeof(err)) != 0) {
		api_response_error(resp, 500, "%s", err);
		return;
	}
	orchd_log(ORCH_LOG_INFO, NULL, "left the swarm");
	api_response_set(resp, 200, "text/plain", "", 0);
}

/* GET /info on a worker: the local part, with the worker's Swarm. */
static void orchd_api_worker_info(struct orchd *o, struct api_response *resp)
{
	pthread_rwlock_rdlock(&o->link_lock);
	json_t *swarm = o->worker ? cluster_worker_info(o->worker) : NULL;
	pthread_rwlock_unlock(&o->link_lock);
	pthread_mutex_lock(&o->info_lock);
	json_t *runtimes = json_incref(json_object_get(o->node_info, "runtimes"));
	pthread_mutex_unlock(&o->info_lock);
	api_response_json(resp, 200,
			  json_pack("{s:s,s:s,s:s,s:o,s:o}", "ID", o->node_id, "Name",
				    o->hostname, "ServerVersion", ORCHD_VERSION, "Swarm",
				    swarm ? swarm : json_object(), "OrchRuntimes",
				    runtimes ? runtimes : json_array()));
}

/* Requests a worker answers itself; true when handled. */
static bool orchd_api_worker(struct orchd *o, const struct api_request *req,
			     struct api_response *resp)
{
	bool post = strcmp(req->method, "POST") == 0;
	if (post && strcmp(req->path, "/swarm/join") == 0) {
		orchd_api_join(o, req, resp);
		return true;
	}
	if (!link_is_worker(o))
		return false;
	if (post && strcmp(req->path, "/swarm/leave") == 0)
		orchd_api_leave(o, resp);
	else if (strcmp(req->method, "GET") == 0 && strcmp(req->path, "/info") == 0)
		orchd_api_worker_info(o, resp);
	else if (strcmp(req->path, "/_ping") == 0 || strcmp(req->path, "/version") == 0)
		return false;
	else if (post && strcmp(req->path, "/swarm/init") == 0)
		api_response_error(resp, 503, "This node is already part of a swarm. Use \"orchctl swarm leave\" to leave this swarm and join another one.");
	else
		api_response_error(resp, 503, "%s", CLUSTER_NOT_MANAGER_MESSAGE);
	return true;
}

/* ------------------------------------------- roles and certificates */
/*
 * The role keeper thread makes this node what the cluster says it is, and
 * keeps its certificate fresh, once a second:
 * - a worker whose session says role "manager" (node promote) asks for a
 *   manager certificate and starts its raft replica (as a manager join);
 * - a manager the leader demoted gets a worker certificate, forgets raft and
 *   the CA, and carries on as a worker (also after a restart);
 * - a worker renews its certificate through the leader at a random point
 *   between 50% and 80% of its validity (a manager renews its own in the
 *   manager, and the link to the leader rereads it here).
 */

/* The local IP this host uses to reach addr ("IP:PORT"): the advertise
 * address of a worker that joined without --advertise-addr. */
static int local_ip_towards(const char *addr, char *out, size_t len)
{
	char host[128];
	snprintf(host, sizeof(host), "%s", addr);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct sockaddr_in me;
	socklen_t me_len = sizeof(me);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int rc = fd >= 0 && inet_pton(AF_INET, host, &to.sin_addr) == 1 &&
			 connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
			 getsockname(fd, (struct sockaddr *)&me, &me_len) == 0 &&
			 inet_ntop(AF_INET, &me.sin_addr, out, (socklen_t)len)
		 ? 0
		 : -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Whether orchd is stopping: a keeper going through the managers one
 * network call at a time gives up between two of them. */
static bool role_stopping(struct orchd *o)
{
	pthread_mutex_lock(&o->role_lock);
	bool stop = o->role_stop;
	pthread_mutex_unlock(&o->role_lock);
	return stop;
}

/* Takes the worker link out of the agent's hands (it goes local). */
static struct cluster_worker *link_take_worker(struct orchd *o, struct cluster_worker *w)
{
	pthread_rwlock_wrlock(&o->link_lock);
	bool ours = o->worker == w;
	if (ours)
		o->worker = NULL;
	pthread_rwlock_unlock(&o->link_lock);
	return ours ? w : NULL;
}

/* node promote: a manager certificate, then a raft replica that the leader
 * adds as a learner and makes a voter once it caught up. */
static void role_promote(struct orchd *o)
{
	char err[1024] = "", ip[64] = "", manager_addr[200];
	pthread_rwlock_rdlock(&o->link_lock);
	struct cluster_worker *w = o->worker;
	json_t *info = w ? cluster_worker_info(w) : NULL;
	const char *leader = json_string_value(json_object_get(
		json_array_get(json_object_get(info, "RemoteManagers"), 0), "Addr"));
	const char *advertise = json_string_value(json_object_get(info, "NodeAddr"));
	const char *port = leader ? strrchr(leader, ':') : NULL;
	if (advertise && *advertise)
		snprintf(ip, sizeof(ip), "%s", advertise);
	else if (leader)
		local_ip_towards(leader, ip, sizeof(ip));
	json_t *body = json_pack("{s:s,s:s}", "AdvertiseAddr", ip, "ListenAddr", "");
	char listen[80];
	snprintf(listen, sizeof(listen), "0.0.0.0:%s", port ? port + 1 : "2377");
	json_object_set_new(body, "ListenAddr", json_string(listen));
	orchd_join_manager_addr(body, manager_addr, sizeof(manager_addr));
	char raft_id[24];
	snprintf(raft_id, sizeof(raft_id), "%llu", (unsigned long long)o->raft_id);
	int rc = !w || !*ip ? -1
			    : cluster_worker_renew(w, json_pack("{s:s,s:s}", "raft_id", raft_id,
								"manager_addr", manager_addr),
						   err, sizeof(err));
	bool manager = rc == 0 && cluster_worker_is_manager(w);
	pthread_rwlock_unlock(&o->link_lock);
	json_decref(info);
	if (rc != 0 || !manager) {
		orchd_log(ORCH_LOG_WARN, NULL, "promotion to manager: %s",
			  *err ? err : !*ip ? "no address to advertise" : "the leader kept this node a worker");
		json_decref(body);
		return;
	}
	if (!link_take_worker(o, w)) {
		json_decref(body);
		return; /* the node left the swarm meanwhile */
	}
	rc = orchd_become_manager(o, w, body, err, sizeof(err));
	json_decref(body);
	link_set_worker(o, NULL); /* the local manager hears the description */
	json_t *state = rc == 0 ? orchd_manager_call(o, json_pack("{s:s}", "op", "raft_state")) : NULL;
	if (rc != 0)
		orchd_log(ORCH_LOG_ERROR, NULL, "promotion to manager failed: %s", err);
	else
		orchd_log(ORCH_LOG_INFO, NULL, "promoted to manager %s (raft %s)", manager_addr,
			  json_is_true(json_object_get(state, "voter")) ? "voter" : "learner for now");
	json_decref(state);
}

/* A worker certificate for this demoted manager from the manager at
 * addr (any manager redirects to the leader), on a link saved as the
 * worker's; NULL with err. */
static struct cluster_worker *demoted_link(struct orchd *o, const char *addr,
					   const char *advertise, const json_t *managers,
					   char *err, size_t errlen)
{
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
	struct cluster_worker *w = NULL;
	if (cluster_worker_for_manager(dir, o->node_id, addr, &w, err, errlen) != 0)
		return NULL;
	if (cluster_worker_renew(w, NULL, err, errlen) != 0 ||
	    (cluster_worker_is_manager(w) &&
	     snprintf(err, errlen, "the leader still gives this node a manager certificate")) ||
	    cluster_worker_adopt(w, o->worker_dir, advertise, managers, err, errlen) != 0) {
		cluster_worker_free(w);
		return NULL;
	}
	return w;
}

/* node demote done by the leader: this node gets a worker certificate and
 * its agent a worker link saved under worker_dir; raft and the CA go. The
 * leader it knew may have been demoted since: every manager it knew is
 * asked in turn. */
static void role_demoted(struct orchd *o, const char *leader_addr, const char *advertise,
			 const json_t *managers)
{
	char err[1024] = "";
	struct cluster_worker *w = NULL;
	if (leader_addr && *leader_addr)
		w = demoted_link(o, leader_addr, advertise, managers, err, sizeof(err));
	size_t i;
	json_t *addr;
	json_array_foreach(managers, i, addr) {
		if (w || role_stopping(o))
			break;
		w = demoted_link(o, json_string_value(addr), advertise, managers, err, sizeof(err));
	}
	if (!w) {
		orchd_log(ORCH_LOG_WARN, NULL, "demotion to worker: %s",
			  *err ? err : "no manager known to ask for a worker certificate");
		return;
	}
	json_decref(orchd_manager_call(o, json_pack("{s:s}", "op", "drop_manager_state")));
	leader_link_drop(o);
	pthread_mutex_lock(&o->info_lock); /* until a session says otherwise */
	snprintf(o->desired_role, sizeof(o->desired_role), "worker");
	pthread_mutex_unlock(&o->info_lock);
	link_set_worker(o, w);
	orchd_log(ORCH_LOG_INFO, NULL, "demoted: carrying on as a worker of %s",
		  cluster_worker_addr(w));
}

/* A manager whose replica has known no leader for a while asks the other
 * managers for a certificate: a worker's means it was demoted while it was
 * away (its replica, no longer a member, will never hear of it), and it
 * carries on as a worker. A manager's answer (a quorum is just missing) is
 * thrown away. */
#define ROLE_LEADERLESS_PROBE_MS 10000
static void role_probe_demoted(struct orchd *o, const char *advertise, const json_t *managers)
{
	char err[1024] = "", dir[700];
	snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
	size_t i;
	json_t *addr;
	json_array_foreach(managers, i, addr) {
		if (role_stopping(o))
			return;
		struct cluster_worker *w = NULL;
		if (cluster_worker_for_manager(dir, o->node_id, json_string_value(addr), &w, err,
					       sizeof(err)) != 0)
			continue;
		bool worker = cluster_worker_renew(w, NULL, err, sizeof(err)) == 0 &&
			      !cluster_worker_is_manager(w);
		cluster_worker_free(w);
		if (worker) {
			role_demoted(o, json_string_value(addr), advertise, managers);
			return;
		}
	}
}

/* A worker's certificate, renewed through the leader when due. */
static void role_renew_worker(struct orchd *o)
{
	char err[1024] = "";
	int64_t at = 0;
	pthread_rwlock_rdlock(&o->link_lock);
	if (o->worker && cluster_worker_renew_at(o->worker, o->cert_renew_permille, &at, err,
						 sizeof(err)) == 0 &&
	    time(NULL) >= at) {
		if (cluster_worker_renew(o->worker, NULL, err, sizeof(err)) == 0) {
			orchd_log(ORCH_LOG_INFO, NULL, "renewed this node's certificate");
			o->cert_renew_permille = 500 + (unsigned)(ids_random(NULL) % 301);
		} else {
			orchd_log(ORCH_LOG_WARN, NULL, "certificate renewal: %s", err);
		}
	}
	pthread_rwlock_unlock(&o->link_lock);
}

static void role_step(struct orchd *o)
{
	if (link_is_worker(o)) {
		pthread_mutex_lock(&o->info_lock);
		bool promote = strcmp(o->desired_role, "manager") == 0;
		pthread_mutex_unlock(&o->info_lock);
		if (promote)
			role_promote(o);
		else
			role_renew_worker(o);
		return;
	}
	json_t *state = orchd_manager_call(o, json_pack("{s:s}", "op", "swarm_state"));
	if (json_is_true(json_object_get(state, "demoted"))) {
		role_demoted(o, json_string_value(json_object_get(state, "leader_addr")),
			     json_string_value(json_object_get(state, "advertise_addr")),
			     json_object_get(state, "managers"));
	} else if (json_integer_value(json_object_get(state, "leaderless_ms")) >=
			   ROLE_LEADERLESS_PROBE_MS &&
		   time(NULL) >= o->next_role_probe) {
		/* Demoted while it was down? Its replica cannot know: the
		 * others' answer to a renewal tells. */
		o->next_role_probe = time(NULL) + ROLE_LEADERLESS_PROBE_MS / 1000;
		role_probe_demoted(o, json_string_value(json_object_get(state, "advertise_addr")),
				   json_object_get(state, "managers"));
	} else if (json_is_true(json_object_get(state, "manager"))) {
		char dir[700], err[512];
		snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
		pthread_mutex_lock(&o->leader_lock);
		if (o->leader_link && cluster_worker_reload(o->leader_link, dir, err, sizeof(err)) != 0)
			orchd_log(ORCH_LOG_WARN, NULL, "link to the leader: %s", err);
		pthread_mutex_unlock(&o->leader_lock);
	}
	json_decref(state);
}

static void *role_main(void *arg)
{
	struct orchd *o = arg;
	pthread_mutex_lock(&o->role_lock);
	while (!o->role_stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&o->role_wake, &o->role_lock, &until);
		if (o->role_stop)
			break;
		pthread_mutex_unlock(&o->role_lock);
		role_step(o);
		pthread_mutex_lock(&o->role_lock);
	}
	pthread_mutex_unlock(&o->role_lock);
	return NULL;
}

/* Tells the role keeper to stop at its next look; role_keeper_join
 * waits for it (after the manager stopped, so that a call of the keeper
 * queued behind a loaded manager's inbox is refused, not waited for). */
static void role_keeper_signal(struct orchd *o)
{
	pthread_mutex_lock(&o->role_lock);
	o->role_stop = true;
	pthread_cond_signal(&o->role_wake);
	pthread_mutex_unlock(&o->role_lock);
}

static void role_keeper_join(struct orchd *o)
{
	if (!o->role_thread_started)
		return;
	pthread_join(o->role_thread, NULL);
	o->role_thread_started = false;
}

/* ---------------------------------------------------------------- API */

/* Logs are the one request answered outside the core thread: the manager
 * names the tasks, the agent reads their output from the runtime. */
static void orchd_api_logs(struct orchd *o, const char *ref,
			   const struct api_request *req, struct api_response *resp)
{
	struct inbox_call call;
	json_t *ask = json_pack("{s:s,s:s}", "op", "log_targets", "ref", ref);
	inbox_call_init(&call, ask);
	int rc = inbox_call(manager_inbox(o->manager), INBOX_CALL, NULL, &call);
	json_t *targets = call.response;
	inbox_call_fini(&call);
	json_decref(ask);
	if (rc != 0) {
		api_response_error(resp, 503, "orchd is shutting down");
		json_decref(targets);
		return;
	}
	const char *e = json_string_value(json_object_get(targets, "error"));
	if (e) {
		api_response_error(resp, 404, "%s: %s", ref, e);
		json_decref(targets);
		return;
	}
	const char *tail = api_request_query(req, "tail");
	long tail_n = tail && strcmp(tail, "all") != 0 ? strtol(tail, NULL, 10) : -1;
	char *out = NULL;
	size_t out_len = 0;
	FILE *mem = open_memstream(&out, &out_len);
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(targets, "tasks"), i, t) {
		if (strcmp(json_string_value(json_object_get(t, "node")), o->node_id) != 0)
			continue;
		json_t *q = json_pack("{s:O,s:I}", "task_id", json_object_get(t, "task_id"),
				      "tail", (json_int_t)tail_n);
		struct inbox_call lc;
		inbox_call_init(&lc, q);
		if (inbox_call(agent_inbox(o->agent), INBOX_CALL, NULL, &lc) != 0)
			fprintf(mem, "%s: the agent is stopping\n",
				json_string_value(json_object_get(t, "name")));
		json_t *r = lc.response;
		inbox_call_fini(&lc);
		json_decref(q);
		const char *data = json_string_value(json_object_get(r, "data"));
		char *copy = strdup(data ? data : "");
		for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(mem, "%s@%s    | %s\n", json_string_value(json_object_get(t, "name")),
				json_string_value(json_object_get(t, "hostname")), line);
		free(copy);
		json_decref(r);
	}
	fclose(mem);
	api_response_set(resp, 200, "text/plain; charset=utf-8", out, out_len);
	free(out);
	json_decref(targets);
}

/* Whether path is PREFIX{ref}/logs; copies ref. */
static bool logs_path(const char *path, const char *prefix, char *ref,
		      size_t reflen)
{
	size_t plen = strlen(prefix);
	if (strncmp(path, prefix, plen) != 0)
		return false;
	const char *rest = path + plen;
	const char *slash = strchr(rest, '/');
	if (!slash || slash == rest || strcmp(slash, "/logs") != 0 ||
	    (size_t)(slash - rest) >= reflen)
		return false;
	memcpy(ref, rest, (size_t)(slash - rest));
	ref[slash - rest] = '\0';
	return true;
}

/* A write on a manager that is not the raft leader goes to the leader,
 * which runs it; true when handled here. Joining, leaving and init stay
 * local. */
static bool orchd_forward_write(struct orchd *o, const struct api_request *req,
				struct api_response *resp)
{
	if (strcmp(req->method, "POST") != 0 && strcmp(req->method, "DELETE") != 0)
		return false;
	if (strncmp(req->path, "/swarm/join", 11) == 0 ||
	    strcmp(req->path, "/swarm/leave") == 0 || strcmp(req->path, "/swarm/init") == 0)
		return false;
	json_t *state = orchd_manager_call(o, json_pack("{s:s}", "op", "raft_state"));
	const char *leader = json_string_value(json_object_get(state, "leader_addr"));
	bool forward = state && !json_is_true(json_object_get(state, "leader")) && leader &&
		       *leader && json_is_true(json_object_get(state, "member"));
	if (forward) {
		char dir[700], err[512];
		snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
		if (cluster_forward_api(dir, leader, req, resp, err, sizeof(err)) != 0)
			api_response_error(resp, 503, "%s; retry", err);
	}
	json_decref(state);
	return forward;
}

static void orchd_api_handler(void *ctx, const struct api_request *req,
			      struct api_response *resp)
{
	struct orchd *o = ctx;
	char ref[256];
	if (orchd_api_worker(o, req, resp))
		return;
	if (strcmp(req->method, "GET") == 0 &&
	    (logs_path(req->path, "/services/", ref, sizeof(ref)) ||
	     logs_path(req->path, "/tasks/", ref, sizeof(ref)))) {
		orchd_api_logs(o, ref, req, resp);
		return;
	}
	if (orchd_forward_write(o, req, resp))
		return;
	struct api_call ac = { .req = req, .resp = resp };
	struct inbox_call call;
	inbox_call_init(&call, &ac);
	if (inbox_call(manager_inbox(o->manager), INBOX_API, NULL, &call) != 0)
		api_response_error(resp, 503, "orchd is shutting down");
	inbox_call_fini(&call);
}

/* --------------------------------------------------------------- main */

/* Stops in the order that lets every waiting thread go: the manager first
 * (its pending API calls are answered, later ones refused), then the API
 * server, the agent, the plugins. */
/* Says which stage of a stop took over a second (a slow stop under load
 * is being tracked down). Returns the time now. */
static int64_t stop_stage_done(const char *stage, int64_t since_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (since_ns && now - since_ns > 1000000000LL)
		orchd_log(ORCH_LOG_WARN, NULL, "stopping: %s took %lld ms", stage,
			  (long long)((now - since_ns) / 1000000));
	return now;
}

static void orchd_stop(struct orchd *o)
{
	int64_t t = stop_stage_done("", 0);
	role_keeper_signal(o);
	manager_stop(o->manager);
	t = stop_stage_done("the manager", t);
	role_keeper_join(o);
	t = stop_stage_done("the role keeper", t);
	api_http_stop(o->api);
	t = stop_stage_done("the API server", t);
	agent_stop(o->agent);
	stop_stage_done("the agent", t);
	cluster_worker_free(o->worker);
	o->worker = NULL;
	cluster_worker_free(o->leader_link);
	o->leader_link = NULL;
	json_decref(o->node_info);
	o->node_info = NULL;
	manager_free(o->manager);
	plugin_host_close(o->plugins);
}

static int orchd_configure(struct orchd *o, int argc, char **argv, char *err,
			   size_t errlen)
{
	config_defaults(&o->cfg);
	if (config_parse_args(&o->cfg, argc, argv, err, errlen) != 0)
		return -1;
	if (o->cfg.config_file) {
		if (config_load_file(&o->cfg, o->cfg.config_file, err, errlen) != 0 ||
		    config_parse_args(&o->cfg, argc, argv, err, errlen) != 0)
			return -1;
	}
	if (o->cfg.help || o->cfg.version)
		return 0;
	if (config_check(&o->cfg, err, errlen) != 0)
		return -1;
	const char *levels[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++)
		if (strcmp(o->cfg.log_level, levels[i]) == 0)
			o->log_level = i;
	if (o->cfg.hostname)
		snprintf(o->hostname, sizeof(o->hostname), "%s", o->cfg.hostname);
	else
		gethostname(o->hostname, sizeof(o->hostname) - 1);
	return 0;
}

static int orchd_start(struct orchd *o, char *err, size_t errlen,
		       bool *own_pidfile)
{
	if (util_mkdir_p(o->cfg.data_root, 0700, err, errlen) != 0)
		return -1;
	if (orchd_pidfile(o->cfg.pidfile, err, errlen) != 0)
		return -1;
	*own_pidfile = true;
	if (orchd_identity(o, err, errlen) != 0 ||
	    orchd_load_plugins(o, err, errlen) != 0)
		return -1;
	struct plugin_calls calls = { .ctx = o, .list = plugins_list, .call = plugins_call };
	struct manager_config mc = { .data_root = o->cfg.data_root,
				     .hostname = o->hostname,
				     .node_id = o->node_id,
				     .raft_id = o->raft_id,
				     .scheduler = o->cfg.scheduler,
				     .plugins = calls };
	if (manager_start(&mc, &o->manager, err, errlen) != 0)
		return -1;
	struct agent_config ac = { .node_id = o->node_id,
				   .hostname = o->hostname,
				   .default_runtime = o->cfg.default_runtime,
				   .plugins = calls,
				   .link = { .ctx = o,
					     .send = link_send,
					     .session = link_session } };
	snprintf(o->worker_dir, sizeof(o->worker_dir), "%s/swarm/worker", o->cfg.data_root);
	struct cluster_worker *w = NULL;
	if (cluster_worker_resume(o->worker_dir, o->node_id, &w, err, errlen) != 0)
		return -1;
	o->worker = w;
	if (agent_start(&ac, &o->agent, err, errlen) != 0)
		return -1;
	struct api_http_config hc = { .socket_path = config_socket_path(&o->cfg),
				      .handler = orchd_api_handler,
				      .handler_ctx = o,
				      .concurrent_handlers = true };
	if (api_http_start(&hc, &o->api, err, errlen) != 0)
		return -1;
	o->cert_renew_permille = 500 + (unsigned)(ids_random(NULL) % 301);
	if (pthread_create(&o->role_thread, NULL, role_main, o) != 0) {
		snprintf(err, errlen, "cannot start the role keeper thread");
		return -1;
	}
	o->role_thread_started = true;
	return 0;
}

int main(int argc, char **argv)
{
	static struct orchd o;
	char err[1024] = "";
	pthread_rwlockattr_t rwattr;
	pthread_rwlockattr_init(&rwattr);
	pthread_rwlockattr_setkind_np(&rwattr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&o.link_lock, &rwattr);
	pthread_rwlockattr_destroy(&rwattr);
	pthread_mutex_init(&o.info_lock, NULL);
	pthread_mutex_init(&o.leader_lock, NULL);
	pthread_mutex_init(&o.role_lock, NULL);
	pthread_cond_init(&o.role_wake, NULL);
	if (orchd_configure(&o, argc, argv, err, sizeof(err)) != 0) {
		fprintf(stderr, "orchd: %s\n", err);
		config_free(&o.cfg);
		return 1;
	}
	if (o.cfg.help || o.cfg.version) {
		if (o.cfg.help)
			config_usage();
		else
			printf("orchd version %s\n", ORCHD_VERSION);
		config_free(&o.cfg);
		return 0;
	}
	orchd_global_for_log = &o;
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	int rc = 0;
	bool own_pidfile = false;
	if (orchd_start(&o, err, sizeof(err), &own_pidfile) != 0) {
		fprintf(stderr, "orchd: %s\n", err);
		rc = 1;
	} else {
		orchd_log(ORCH_LOG_INFO, NULL, "API listening on %s; node %s (%s)",
			  o.cfg.host, o.node_id, o.hostname);
		int sig = 0;
		sigwait(&stop_signals, &sig);
		orchd_log(ORCH_LOG_INFO, NULL, "signal %d: stopping (tasks keep running)", sig);
	}
	orchd_stop(&o);
	if (own_pidfile)
		unlink(o.cfg.pidfile);
	config_free(&o.cfg);
	return rc;
}

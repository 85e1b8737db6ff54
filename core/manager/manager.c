/*
 * manager.c: the core thread (see manager.h). Owns the store, the raft
 * replica, the pending API calls and the pipelines that run on the leader:
 * orchestrator (desired state -> tasks), allocator (new -> pending),
 * scheduler (pending -> assigned, through the scheduler plugin) and the
 * dispatcher (assigned tasks -> the node's agent). With several managers
 * it also owns the raft transport to the other managers, keeps the raft
 * membership in step with the manager Nodes of the store (learner, then
 * voter once caught up) and their ManagerStatus (Leader, Reachability).
 */
#include "manager_internal.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "ids.h"
#include "jsonref.h"
#include "orchestrator.h"
#include "timefmt.h"

#define MANAGER_SCHEDULER_TIMEOUT_MS 5000
#define MANAGER_SCHEDULER_RETRY_NS 1000000000LL
/* A node is down when its agent has not asked for its tasks for two and a
 * half heartbeat periods (1 s by default: detection within 2.5 s). */
static int64_t manager_down_after_ns(int64_t heartbeat_ns)
{
	return heartbeat_ns * 5 / 2;
}

int64_t manager_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void manager_now_text(char *buf, size_t len)
{
	timefmt_rfc3339(manager_wall_ns(), buf, len);
}

static const char *str_or(const char *s, const char *fallback)
{
	return s ? s : fallback;
}

/* ---------------------------------------------------------------- raft */

static void on_apply(void *ctx, const struct raft_entry *e)
{
	struct manager *m = ctx;
	char err[512] = "";
	json_error_t jerr;
	json_t *cmd = json_loadb((const char *)e->data, e->len, 0, &jerr);
	int rc = cmd ? store_apply(&m->store, cmd, e->index, err, sizeof(err)) : -1;
	if (!cmd)
		snprintf(err, sizeof(err), "committed entry %llu is not JSON: %s",
			 (unsigned long long)e->index, jerr.text);
	json_decref(cmd);
	m->store.applied_index = e->index;
	m->dirty = true;
	for (size_t i = 0; i < m->n_writes; i++) {
		struct pending_write *w = &m->writes[i];
		if (w->index != e->index)
			continue;
		struct api_call *ac = (void *)w->call->request;
		if (w->term != e->term)
			api_response_error(ac->resp, 503,
					   "leadership changed before the change was committed; retry");
		else if (rc != 0)
			api_response_error(ac->resp, w->fail_status, "%s", err);
		else if (w->ok_body)
			api_response_json(ac->resp, w->ok_status, json_incref(w->ok_body));
		else
			api_response_set(ac->resp, w->ok_status, "text/plain", "", 0);
		w->index = 0; /* answered; swept after processing */
		if (rc != 0 || w->term != e->term)
			w->leave_after = false;
	}
}

static int on_restore(void *ctx, const uint8_t *data, size_t len, char *err,
		      size_t errlen)
{
	struct manager *m = ctx;
	m->dirty = true;
	return store_load(&m->store, (const char *)data, len, err, errlen);
}

static uint8_t *on_snapshot(void *ctx, size_t *len)
{
	struct manager *m = ctx;
	char *text = store_dump(&m->store);
	*len = text ? strlen(text) : 0;
	return (uint8_t *)text;
}

static void on_read_ready(void *ctx, uint64_t context, uint64_t index)
{
	struct manager *m = ctx;
	for (size_t i = 0; i < m->n_reads; i++)
		if (m->reads[i].context == context)
			m->reads[i].index = index ? index : 1;
}

static void on_send(void *ctx, const struct raft_msg *msg)
{
	struct manager *m = ctx;
	if (m->transport)
		raft_transport_send(m->transport, msg); /* a drop is retried by raft */
}

static void on_role_changed(void *ctx, enum raft_role role, uint64_t leader)
{
	struct manager *m = ctx;
	if (leader != m->leader_raft_id)
		m->reissue_reads = true;
	m->leader_raft_id = leader;
	if (leader)
		m->leaderless_since_ns = 0;
	else if (!m->leaderless_since_ns)
		m->leaderless_since_ns = inbox_now_ns();
	bool was_leader = m->leader;
	m->leader = role == RAFT_LEADER;
	m->dirty = true;
	if (m->leader && !was_leader)
		m->leader_since_ns = inbox_now_ns();
	if (!m->leader && was_leader)
		dispatcher_reset(m->dispatcher);
}

static int manager_open_raft(struct manager *m, bool bootstrap, char *err,
			     size_t errlen)
{
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/raft", m->data_dir);
	struct raft_node_config cfg;
	raft_node_config_defaults(&cfg);
	m->tick_ms = cfg.tick_ms;
	cfg.dir = dir;
	cfg.id = m->cfg.raft_id;
	cfg.bootstrap = bootstrap;
	cfg.rand = ids_random;
	struct raft_node_callbacks cb = { .ctx = m,
					  .apply = on_apply,
					  .restore = on_restore,
					  .snapshot = on_snapshot,
					  .send = on_send,
					  .read_ready = on_read_ready,
					  .role_changed = on_role_changed };
	if (raft_node_open(&cfg, &cb, &m->raft, err, errlen) != 0)
		return -1;
	m->leaderless_since_ns = inbox_now_ns(); /* until a leader is heard of */
	struct raft_status st;
	raft_node_status(m->raft, &st);
	/* Alone in the cluster: no one to wait for, campaign at once. */
	if (st.conf.n_voters == 1 && st.conf.voters[0] == m->cfg.raft_id)
		raft_node_campaign(m->raft);
	return raft_node_process(m->raft, err, errlen);
}

uint64_t manager_node_raft_id(const json_t *node)
{
	const char *text = json_string_value(json_object_get(node, "OrchRaftID"));
	return text ? strtoull(text, NULL, 10) : 0;
}

const char *manager_addr_of(struct manager *m, uint64_t id)
{
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node)
		if (id && manager_node_raft_id(node) == id)
			return json_string_value(json_object_get(
				json_object_get(node, "ManagerStatus"), "Addr"));
	return NULL;
}

/* The raft transport, from this manager's certificates. */
static int manager_open_transport(struct manager *m, char *err, size_t errlen)
{
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/certificates", m->data_dir);
	return raft_transport_new(dir, &m->transport, err, errlen);
}

/* Tells the transport where every other manager listens. */
static void manager_sync_peers(struct manager *m)
{
	if (!m->transport || m->peers_synced_index == m->store.applied_index)
		return;
	m->peers_synced_index = m->store.applied_index;
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node) {
		uint64_t id = manager_node_raft_id(node);
		const char *addr = json_string_value(
			json_object_get(json_object_get(node, "ManagerStatus"), "Addr"));
		if (id && id != m->cfg.raft_id && addr && *addr &&
		    raft_transport_set_peer(m->transport, id, addr) != 0)
			fprintf(stderr, "orchd: manager: cannot reach raft peer %llu\n",
				(unsigned long long)id);
	}
}

int manager_propose(struct manager *m, json_t *cmd, uint64_t *index,
		    uint64_t *term, char *err, size_t errlen)
{
	if (!m->raft) {
		snprintf(err, errlen, "This node is not a swarm manager. Use \"orchctl swarm init\" to create a swarm and try again.");
		return 503;
	}
	if (!m->leader) {
		snprintf(err, errlen, "this manager is not the raft leader; retry on the leader");
		return 503;
	}
	char *text = json_dumps(cmd, JSON_COMPACT);
	if (!text) {
		snprintf(err, errlen, "out of memory encoding a command");
		return 500;
	}
	int rc = raft_node_propose(m->raft, text, strlen(text), index, term);
	free(text);
	if (rc != 0) {
		const char *failure = raft_node_failure(m->raft);
		snprintf(err, errlen, "cannot accept writes: %s",
			 failure ? failure : raft_strerror(rc));
		return 503;
	}
	return 0;
}

void manager_add_write(struct manager *m, const struct pending_write *w)
{
	if (m->n_writes == m->cap_writes) {
		m->cap_writes = m->cap_writes ? 2 * m->cap_writes : 16;
		m->writes = realloc(m->writes, m->cap_writes * sizeof(*m->writes));
	}
	m->writes[m->n_writes++] = *w;
}

static void manager_finish_joins(struct manager *m, uint64_t applied);

/* Finishes answered writes and reads that raft confirmed and the store
 * applied; fails writes whose entry was lost to a new leader. */
static void manager_finish_calls(struct manager *m)
{
	bool wipe = false;
	size_t kept = 0;
	uint64_t applied = m->raft ? raft_node_applied(m->raft) : 0;
	for (size_t i = 0; i < m->n_writes; i++) {
		struct pending_write *w = &m->writes[i];
		if (w->index != 0 && w->index <= applied) {
			struct api_call *ac = (void *)w->call->request;
			api_response_error(ac->resp, 503, "the change was lost in a leader change; retry");
			w->index = 0;
		}
		if (w->index == 0) {
			wipe |= w->leave_after;
			json_decref(w->ok_body);
			inbox_call_finish(w->call);
			continue;
		}
		m->writes[kept++] = *w;
	}
	m->n_writes = kept;
	kept = 0;
	for (size_t i = 0; i < m->n_reads; i++) {
		struct pending_read *r = &m->reads[i];
		if (r->index != 0 && r->index <= applied) {
			manager_api_answer_read(m, r->call);
			inbox_call_finish(r->call);
			continue;
		}
		if (r->index == 0 && inbox_now_ns() > r->deadline_ns) {
			struct api_call *ac = (void *)r->call->request;
			api_response_error(ac->resp, 503,
					   "no raft leader confirmed the read in time; retry");
			inbox_call_finish(r->call);
			continue;
		}
		m->reads[kept++] = *r;
	}
	m->n_reads = kept;
	manager_finish_joins(m, applied);
	if (wipe)
		manager_swarm_wipe(m);
}

/* --------------------------------------------------------- swarm state */

/* A node's Description from its agent's report (runtimes that answer,
 * resources, default runtime). */
static json_t *node_description(const json_t *info, const char *hostname)
{
	json_t *res = json_object_get(info, "resources");
	return json_pack(
		"{s:s,s:{s:s,s:s},s:{s:I,s:I},s:{s:s},s:o,s:s}", "Hostname", hostname,
		"Platform", "Architecture", "x86_64", "OS", "linux", "Resources",
		"NanoCPUs", json_integer_value(json_object_get(res, "nano_cpus")),
		"MemoryBytes", json_integer_value(json_object_get(res, "memory_bytes")),
		"Engine", "EngineVersion", "orchd-0.1.0", "OrchRuntimes",
		json_ref_or_array(json_object_get(info, "runtimes")), "OrchDefaultRuntime",
		str_or(json_string_value(json_object_get(info, "default_runtime")), ""));
}

json_t *manager_self_node(struct manager *m, const char *now)
{
	json_t *info = json_object_get(m->node_infos, m->cfg.node_id);
	const char *manager_addr = m->manager_addr;
	char raft_id[24];
	snprintf(raft_id, sizeof(raft_id), "%llu", (unsigned long long)m->cfg.raft_id);
	return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:{}},s:o,s:{s:s,s:s},s:{s:b,s:s,s:s},s:s}",
			 "ID", m->cfg.node_id, "CreatedAt", now, "UpdatedAt", now, "Spec",
			 "Role", "manager", "Availability", "active", "Labels",
			 "Description", node_description(info, m->cfg.hostname), "Status",
			 "State", "ready", "Addr", m->advertise_addr, "ManagerStatus",
			 "Leader", 1, "Reachability", "reachable", "Addr", manager_addr,
			 "OrchRaftID", raft_id);
}

/* The port of an "IP:PORT" address, or 2377. */
static const char *addr_port(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	return colon && colon[1] ? colon + 1 : "2377";
}

/* Starts the cluster server from the material in data_dir/certificates.
 * A failure (the port is taken) leaves the swarm usable on this node only;
 * the reason shows in GET /info (Swarm.Error) and in the log. */
static void manager_start_cluster(struct manager *m)
{
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/certificates", m->data_dir);
	m->cluster_error[0] = '\0';
	char err[400];
	if (cluster_server_start(m->listen_addr, dir, m->inbox, &m->cluster, err,
				 sizeof(err)) != 0) {
		m->cluster = NULL;
		snprintf(m->cluster_error, sizeof(m->cluster_error),
			 "cannot listen for other nodes on %s: %s", m->listen_addr, err);
		fprintf(stderr, "orchd: manager: %s\n", m->cluster_error);
	}
}

/* data_dir/cluster.json: where this manager listens and is reached. */
static int manager_save_addrs(struct manager *m, char *err, size_t errlen)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/cluster.json", m->data_dir);
	json_t *o = json_pack("{s:s,s:s,s:s}", "listen_addr", m->listen_addr,
			      "manager_addr", m->manager_addr, "advertise_addr",
			      m->advertise_addr);
	int rc = json_dump_file(o, path, JSON_COMPACT);
	json_decref(o);
	if (rc != 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	return rc != 0 ? -1 : 0;
}

int manager_swarm_init(struct manager *m, const char *advertise_addr,
		       const char *listen_addr, const char *cluster_id,
		       json_t **ca, json_t **secrets, char *err, size_t errlen)
{
	if (m->raft) {
		snprintf(err, errlen, "This node is already part of a swarm. Use \"orchctl swarm leave\" to leave this swarm and join another one.");
		return 503;
	}
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/certificates", m->data_dir);
	if (util_mkdir_p(m->data_dir, 0700, err, errlen) != 0 ||
	    cluster_material_make(dir, m->cfg.node_id, cluster_id, ca, secrets, err,
				  errlen) != 0)
		return 500;
	snprintf(m->advertise_addr, sizeof(m->advertise_addr), "%s", advertise_addr);
	if (strchr(listen_addr, ':'))
		snprintf(m->listen_addr, sizeof(m->listen_addr), "%s", listen_addr);
	else
		snprintf(m->listen_addr, sizeof(m->listen_addr), "%s:2377", listen_addr);
	snprintf(m->manager_addr, sizeof(m->manager_addr), "%s:%s", advertise_addr,
		 addr_port(m->listen_addr));
	if (manager_save_addrs(m, err, errlen) != 0 ||
	    manager_open_transport(m, err, errlen) != 0 ||
	    manager_open_raft(m, true, err, errlen) != 0) {
		raft_transport_free(m->transport);
		m->transport = NULL;
		json_decref(*ca);
		json_decref(*secrets);
		return 500;
	}
	manager_start_cluster(m);
	return 0;
}

/* This node joined as a manager (orchd installed the certificates): an
 * empty raft replica that the leader adds as a learner and fills. */
json_t *manager_swarm_join(struct manager *m, const json_t *request)
{
	char err[512];
	const char *advertise = json_string_value(json_object_get(request, "advertise_addr"));
	const char *listen = json_string_value(json_object_get(request, "listen_addr"));
	const char *leader_addr = json_string_value(json_object_get(request, "leader_addr"));
	const char *leader_id = json_string_value(json_object_get(request, "leader_raft_id"));
	if (m->raft)
		return json_pack("{s:s}", "error", "This node is already part of a swarm.");
	if (!advertise || !listen || !leader_addr || !leader_id)
		return json_pack("{s:s}", "error", "manager join: addresses missing");
	snprintf(m->advertise_addr, sizeof(m->advertise_addr), "%s", advertise);
	snprintf(m->listen_addr, sizeof(m->listen_addr), "%s", listen);
	snprintf(m->manager_addr, sizeof(m->manager_addr), "%s:%s", advertise,
		 addr_port(listen));
	if (util_mkdir_p(m->data_dir, 0700, err, sizeof(err)) != 0 ||
	    manager_save_addrs(m, err, sizeof(err)) != 0 ||
	    manager_open_transport(m, err, sizeof(err)) != 0)
		return json_pack("{s:s}", "error", err);
	raft_transport_set_peer(m->transport, strtoull(leader_id, NULL, 10), leader_addr);
	if (manager_open_raft(m, false, err, sizeof(err)) != 0) {
		raft_transport_free(m->transport);
		m->transport = NULL;
		return json_pack("{s:s}", "error", err);
	}
	manager_start_cluster(m);
	/* Sessions held while this node was alone go to the leader now. */
	dispatcher_reset(m->dispatcher);
	return json_pack("{s:b}", "ok", 1);
}

/* Whether this node is in a swarm (member), its replica a voter, and
 * where the leader is. */
json_t *manager_raft_state(struct manager *m)
{
	bool voter = false;
	if (m->raft) {
		struct raft_status st;
		raft_node_status(m->raft, &st);
		for (uint32_t i = 0; i < st.conf.n_voters; i++)
			voter |= st.conf.voters[i] == m->cfg.raft_id;
	}
	const char *leader = m->leader ? m->manager_addr
				       : manager_addr_of(m, m->leader_raft_id);
	return json_pack("{s:b,s:b,s:b,s:s}", "voter", voter, "member", m->raft != NULL,
			 "leader", m->leader, "leader_addr", leader ? leader : "");
}

/* Answers every join still waiting (the swarm is going away). */
static void manager_fail_joins(struct manager *m, const char *why)
{
	for (size_t i = 0; i < m->n_joins; i++) {
		json_decref(m->joins[i].reply);
		m->joins[i].reply_to->fn(m->joins[i].reply_to->ctx,
					 json_pack("{s:s}", "error", why));
	}
	m->n_joins = 0;
}

/* Every manager's address, from the store. */
json_t *manager_addrs(struct manager *m)
{
	json_t *list = json_array();
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node) {
		json_t *addr = json_object_get(json_object_get(node, "ManagerStatus"), "Addr");
		if (json_is_string(addr) && json_string_length(addr))
			json_array_append(list, addr);
	}
	return list;
}

static void manager_put_node_then_reply(struct manager *m, json_t *node, json_t *reply,
					struct inbox_reply_to *reply_to);
static bool node_role_is_worker(const json_t *node);

/* A node asks to join (from the cluster server): the token and CSR are
 * checked, the node is proposed, and the answer waits for it to apply. */
static void manager_cluster_join(struct manager *m, json_t *request,
				 struct inbox_reply_to *reply_to)
{
	char err[512] = "", now[40];
	const char *node_id = json_string_value(json_object_get(request, "node_id"));
	const char *host = json_string_value(json_object_get(request, "hostname"));
	const char *addr = json_string_value(json_object_get(request, "advertise_addr"));
	if (!m->raft || !m->leader || json_is_null(m->store.cluster)) {
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error",
						      "this node is not the leader of a swarm"));
		return;
	}
	json_t *spec = json_object_get(m->store.cluster, "Spec");
	const char *cluster_id = json_string_value(json_object_get(m->store.cluster, "ID"));
	char certs[700];
	snprintf(certs, sizeof(certs), "%s/certificates", m->data_dir);
	json_t *reply = cluster_join_sign(certs, spec, cluster_id ? cluster_id : "", request,
					  err, sizeof(err));
	if (!reply) {
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error", err));
		return;
	}
	if (store_node(&m->store, node_id) &&
	    json_object_get(store_node(&m->store, node_id), "ManagerStatus")) {
		json_decref(reply);
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error",
						      "a manager of this swarm has this node id"));
		return;
	}
	json_object_set_new(reply, "node_id", json_string(node_id));
	json_object_set_new(reply, "manager_node_id", json_string(m->cfg.node_id));
	json_object_set_new(reply, "managers", manager_addrs(m));
	bool manager = strcmp(str_or(json_string_value(json_object_get(reply, "role")), ""),
			      "manager") == 0;
	const char *raft_id = json_string_value(json_object_get(request, "raft_id"));
	const char *maddr = json_string_value(json_object_get(request, "manager_addr"));
	if (manager && (!raft_id || !strtoull(raft_id, NULL, 10) || !maddr)) {
		json_decref(reply);
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error",
						      "a manager join needs raft_id and manager_addr"));
		return;
	}
	manager_now_text(now, sizeof(now));
	json_t *node = json_pack(
		"{s:s,s:s,s:s,s:{s:s,s:s,s:{}},s:{s:s},s:{s:s,s:s}}", "ID", node_id,
		"CreatedAt", now, "UpdatedAt", now, "Spec", "Role",
		manager ? "manager" : "worker", "Availability", "active", "Labels",
		"Description", "Hostname", host && *host ? host : node_id, "Status",
		"State", "ready", "Addr", addr && *addr ? addr : "");
	if (manager) {
		char leader_id[24];
		snprintf(leader_id, sizeof(leader_id), "%llu", (unsigned long long)m->cfg.raft_id);
		json_object_set_new(node, "ManagerStatus",
				    json_pack("{s:b,s:s,s:s}", "Leader", 0, "Reachability",
					      "unknown", "Addr", maddr));
		json_object_set_new(node, "OrchRaftID", json_string(raft_id));
		json_object_set_new(reply, "leader_raft_id", json_string(leader_id));
		json_object_set_new(reply, "leader_addr", json_string(m->manager_addr));
	}
	manager_put_node_then_reply(m, node, reply, reply_to);
}

/* Proposes node (stolen) and answers reply_to with reply (stolen) once it
 * applied (manager_finish_joins), or at once with the error. */
static void manager_put_node_then_reply(struct manager *m, json_t *node, json_t *reply,
					struct inbox_reply_to *reply_to)
{
	char err[512];
	const char *node_id = json_string_value(json_object_get(node, "ID"));
	json_t *cmd = json_pack("{s:s,s:o}", "op", "node.put", "node", node);
	uint64_t index = 0, term = 0;
	int rc = manager_propose(m, cmd, &index, &term, err, sizeof(err));
	if (rc != 0) {
		json_decref(cmd);
		json_decref(reply);
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error", err));
		return;
	}
	if (m->n_joins == m->cap_joins) {
		m->cap_joins = m->cap_joins ? 2 * m->cap_joins : 8;
		m->joins = realloc(m->joins, m->cap_joins * sizeof(*m->joins));
	}
	struct pending_join *j = &m->joins[m->n_joins++];
	j->index = index;
	snprintf(j->node_id, sizeof(j->node_id), "%s", node_id);
	j->reply_to = reply_to;
	j->reply = reply;
	json_object_set_new(m->joined_at, node_id, json_integer(inbox_now_ns()));
	json_decref(cmd);
}

/* A node asks for a new certificate (cluster.c checked that the peer is
 * that node): signed for the role its Node has now. A worker whose Spec.Role
 * became manager (node promote) gets a manager certificate and the CA key,
 * and its Node a ManagerStatus, so that the membership step adds its raft
 * replica as a learner, then a voter. */
static void manager_cluster_renew(struct manager *m, json_t *request,
				  struct inbox_reply_to *reply_to)
{
	char err[512] = "", certs[700];
	const char *node_id = json_string_value(json_object_get(request, "node_id"));
	json_t *node = store_node(&m->store, node_id);
	if (!node) {
		reply_to->fn(reply_to->ctx,
			     json_pack("{s:s}", "error", "this node is not part of the swarm (it was removed)"));
		return;
	}
	bool manager = !node_role_is_worker(node);
	json_t *spec = json_object_get(m->store.cluster, "Spec");
	const char *cluster_id = json_string_value(json_object_get(m->store.cluster, "ID"));
	snprintf(certs, sizeof(certs), "%s/certificates", m->data_dir);
	json_t *reply = cluster_renew_sign(certs, spec, cluster_id ? cluster_id : "", request,
					   manager, err, sizeof(err));
	if (!reply) {
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error", err));
		return;
	}
	if (!manager || json_object_get(node, "ManagerStatus")) {
		reply_to->fn(reply_to->ctx, reply);
		return;
	}
	const char *raft_id = json_string_value(json_object_get(request, "raft_id"));
	const char *maddr = json_string_value(json_object_get(request, "manager_addr"));
	if (!raft_id || !strtoull(raft_id, NULL, 10) || !maddr || !*maddr) {
		json_decref(reply);
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error",
						      "a promotion needs raft_id and manager_addr"));
		return;
	}
	char now[40], leader_id[24];
	manager_now_text(now, sizeof(now));
	snprintf(leader_id, sizeof(leader_id), "%llu", (unsigned long long)m->cfg.raft_id);
	json_t *copy = json_deep_copy(node);
	json_object_set_new(copy, "ManagerStatus",
			    json_pack("{s:b,s:s,s:s}", "Leader", 0, "Reachability", "unknown",
				      "Addr", maddr));
	json_object_set_new(copy, "OrchRaftID", json_string(raft_id));
	json_object_set_new(copy, "UpdatedAt", json_string(now));
	json_object_set_new(reply, "leader_raft_id", json_string(leader_id));
	json_object_set_new(reply, "leader_addr", json_string(m->manager_addr));
	json_object_set_new(reply, "managers", manager_addrs(m));
	manager_put_node_then_reply(m, copy, reply, reply_to);
}

/* Answers the joins whose node is now applied. */
static void manager_finish_joins(struct manager *m, uint64_t applied)
{
	size_t kept = 0;
	for (size_t i = 0; i < m->n_joins; i++) {
		struct pending_join *j = &m->joins[i];
		if (j->index > applied) {
			m->joins[kept++] = *j;
			continue;
		}
		if (store_node(&m->store, j->node_id)) {
			j->reply_to->fn(j->reply_to->ctx, j->reply);
		} else {
			json_decref(j->reply);
			j->reply_to->fn(j->reply_to->ctx,
					json_pack("{s:s}", "error",
						  "the join was lost in a leader change; retry"));
		}
	}
	m->n_joins = kept;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "orchd: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* Stops being a raft member: waiting joins fail with why, the port-2377
 * server, the replica and the raft transport close. */
static void manager_close_replica(struct manager *m, const char *why)
{
	manager_fail_joins(m, why);
	cluster_server_stop(m->cluster);
	m->cluster = NULL;
	raft_node_close(m->raft);
	m->raft = NULL;
	raft_transport_free(m->transport);
	m->transport = NULL;
}

/* Removes every trace of the swarm on this node (swarm leave): the raft
 * state, the store, and (through empty assignments) the agent's tasks. */
void manager_swarm_wipe(struct manager *m)
{
	manager_close_replica(m, "this manager left the swarm");
	m->leader = false;
	store_fini(&m->store);
	store_init(&m->store);
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/raft", m->data_dir);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(dir, sizeof(dir), "%s/certificates", m->data_dir);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(dir, sizeof(dir), "%s/cluster.json", m->data_dir);
	unlink(dir);
	m->cluster_error[0] = '\0';
	dispatcher_reset(m->dispatcher);
}

/* ----------------------------------------------------------- pipelines */

static void manager_propose_internal(struct manager *m, json_t *cmd)
{
	char err[256];
	uint64_t index = 0, term = 0;
	if (manager_propose(m, cmd, &index, &term, err, sizeof(err)) == 0)
		m->internal_index = index;
	else
		fprintf(stderr, "orchd: manager: %s\n", err);
	json_decref(cmd);
}

/* The cluster's Dispatcher.HeartbeatPeriod (1 s unless changed). */
static int64_t manager_heartbeat_ns(const struct manager *m)
{
	json_t *hb = json_object_get(
		json_object_get(json_object_get(m->store.cluster, "Spec"), "Dispatcher"),
		"HeartbeatPeriod");
	json_int_t ns = json_integer_value(hb);
	return json_is_integer(hb) && ns > 0 ? ns : 1000000000LL;
}

/* The cluster's TaskHistoryRetentionLimit, or the configured default. */
static unsigned manager_history_limit(const struct manager *m)
{
	json_t *limit = json_object_get(
		json_object_get(json_object_get(m->store.cluster, "Spec"), "Orchestration"),
		"TaskHistoryRetentionLimit");
	json_int_t n = json_integer_value(limit);
	return json_is_integer(limit) && n > 0 ? (unsigned)n : m->cfg.history_limit;
}

static bool run_orchestrator(struct manager *m, int64_t now)
{
	if (!m->dirty && now < m->orchestrator_wakeup_ns)
		return false;
	struct orchestrator_input in = { .store = &m->store,
					 .now_ns = manager_wall_ns(),
					 .history_limit = manager_history_limit(m),
					 .new_id = ids_new_id };
	int64_t wake_wall = INT64_MAX;
	json_t *cmds = orchestrator_reconcile(&in, &wake_wall);
	m->orchestrator_wakeup_ns = wake_wall == INT64_MAX
					    ? INT64_MAX
					    : now + (wake_wall - in.now_ns);
	bool any = json_array_size(cmds) > 0;
	size_t i;
	json_t *cmd;
	json_array_foreach(cmds, i, cmd)
		manager_propose_internal(m, json_incref(cmd));
	json_decref(cmds);
	return any;
}

/* The allocator: new tasks become pending (no network resources to
 * allocate yet: that comes with overlay networks). */
static bool run_allocator(struct manager *m)
{
	char now[40];
	manager_now_text(now, sizeof(now));
	json_t *updates = json_array();
	const char *id;
	json_t *task;
	json_object_foreach(m->store.tasks, id, task)
		if (store_task_state(task) == TASK_NEW)
			json_array_append_new(updates,
					      json_pack("{s:s,s:s,s:s,s:s}", "id", id,
							"state", "pending", "now", now,
							"message", "pending task scheduling"));
	if (json_array_size(updates) == 0) {
		json_decref(updates);
		return false;
	}
	manager_propose_internal(m, json_pack("{s:s,s:o}", "op", "task.status",
					      "updates", updates));
	return true;
}

static const char *first_plugin(struct manager *m, enum orch_plugin_kind kind)
{
	const char *names[1];
	if (m->cfg.plugins.list(m->cfg.plugins.ctx, kind, names, 1) == 0)
		return NULL;
	return names[0];
}

static json_t *task_reservations(const json_t *task)
{
	json_t *r = json_object_get(json_object_get(json_object_get(task, "Spec"),
						    "Resources"),
				    "Reservations");
	return json_pack("{s:I,s:I}", "nano_cpus",
			 json_integer_value(json_object_get(r, "NanoCPUs")),
			 "memory_bytes",
			 json_integer_value(json_object_get(r, "MemoryBytes")));
}

/* One NODE object of the scheduler protocol (sdk/orch_protocol.h):
 * reservations of every task not ended, counts of those still wanted. */
static json_t *scheduler_node(struct manager *m, const char *node_id,
			      const json_t *node)
{
	json_int_t cpu = 0, mem = 0, total = 0;
	json_t *by_service = json_object();
	const char *tid;
	json_t *task;
	json_object_foreach(m->store.tasks, tid, task) {
		const char *on = store_task_node(task);
		if (!on || strcmp(on, node_id) != 0 ||
		    task_state_ended(store_task_state(task)))
			continue;
		json_t *r = task_reservations(task);
		cpu += json_integer_value(json_object_get(r, "nano_cpus"));
		mem += json_integer_value(json_object_get(r, "memory_bytes"));
		json_decref(r);
		/* A task being shut down still holds its resources, but no
		 * longer counts for spreading (swarmkit's rule too): its
		 * replacement must not avoid a node for it. */
		const char *desired = store_task_desired(task);
		if (desired && strcmp(desired, "running") != 0)
			continue;
		total++;
		const char *svc = store_task_service(task);
		json_int_t n = json_integer_value(json_object_get(by_service, svc));
		json_object_set_new(by_service, svc, json_integer(n + 1));
	}
	json_t *spec = json_object_get(node, "Spec");
	json_t *desc = json_object_get(node, "Description");
	json_t *res = json_object_get(desc, "Resources");
	json_t *labels = json_object_get(spec, "Labels");
	json_t *runtimes = json_object_get(desc, "OrchRuntimes");
	return json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:{s:I,s:I},s:{s:I,s:I},s:I,s:o}",
		"id", node_id, "hostname",
		str_or(json_string_value(json_object_get(desc, "Hostname")), ""),
		"role", str_or(json_string_value(json_object_get(spec, "Role")), "worker"),
		"state",
		str_or(json_string_value(json_object_get(json_object_get(node, "Status"), "State")), "down"),
		"availability",
		str_or(json_string_value(json_object_get(spec, "Availability")), "active"),
		"labels", json_ref_or_object(labels), "runtimes",
		json_ref_or_array(runtimes), "resources", "nano_cpus",
		json_integer_value(json_object_get(res, "NanoCPUs")), "memory_bytes",
		json_integer_value(json_object_get(res, "MemoryBytes")), "reserved",
		"nano_cpus", cpu, "memory_bytes", mem, "tasks_total", total,
		"tasks_by_service", by_service);
}

static json_t *scheduler_task(const char *id, const json_t *task)
{
	json_t *spec = json_object_get(task, "Spec");
	json_t *constraints = json_object_get(json_object_get(spec, "Placement"),
					      "Constraints");
	return json_pack("{s:s,s:s,s:s,s:o,s:o}", "id", id, "service_id",
			 str_or(store_task_service(task), ""), "runtime",
			 str_or(json_string_value(json_object_get(spec, "Runtime")), ""),
			 "constraints", json_ref_or_array(constraints),
			 "reservations", task_reservations(task));
}

static void reason_if_changed(json_t *reasons, const json_t *task,
			      const char *id, const char *reason)
{
	const char *old = json_string_value(
		json_object_get(json_object_get(task, "Status"), "Err"));
	if (!old || strcmp(old, reason) != 0)
		json_array_append_new(reasons, json_pack("{s:s,s:s}", "id", id,
							 "err", reason));
}

/* Global tasks come with their node: assign them where the node can run
 * them, or say why not. */
static void schedule_pinned(struct manager *m, const char *id,
			    const json_t *task, json_t *assign, json_t *reasons)
{
	json_t *node = store_node(&m->store, store_task_node(task));
	if (node && orchestrator_node_takes_tasks(node))
		json_array_append_new(assign, json_pack("{s:s,s:s}", "id", id, "node",
							store_task_node(task)));
	else
		reason_if_changed(reasons, task, id, "node not ready or not active");
}

static void scheduler_reply(struct manager *m, json_t *reply, json_t *assign,
			    json_t *reasons)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(reply, "placements"), i, p)
		json_array_append_new(assign,
				      json_pack("{s:O,s:O}", "id",
						json_object_get(p, "task_id"), "node",
						json_object_get(p, "node_id")));
	json_array_foreach(json_object_get(reply, "unplaced"), i, p) {
		const char *id = json_string_value(json_object_get(p, "task_id"));
		const char *why = json_string_value(json_object_get(p, "error"));
		json_t *task = store_task(&m->store, id);
		if (task)
			reason_if_changed(reasons, task, id, why ? why : "no suitable node");
	}
}

static bool run_scheduler(struct manager *m, int64_t now)
{
	if (!m->dirty && now < m->scheduler_retry_ns)
		return false;
	m->scheduler_retry_ns = now + MANAGER_SCHEDULER_RETRY_NS;
	json_t *tasks = json_array(), *assign = json_array(), *reasons = json_array();
	const char *id;
	json_t *task;
	json_object_foreach(m->store.tasks, id, task) {
		const char *desired = store_task_desired(task);
		if (store_task_state(task) != TASK_PENDING || !desired ||
		    strcmp(desired, "running") != 0)
			continue;
		if (store_task_node(task))
			schedule_pinned(m, id, task, assign, reasons);
		else
			json_array_append_new(tasks, scheduler_task(id, task));
	}
	const char *plugin = m->cfg.scheduler ? m->cfg.scheduler
					      : first_plugin(m, ORCH_PLUGIN_SCHEDULER);
	if (json_array_size(tasks) > 0) {
		json_t *nodes = json_array();
		const char *nid;
		json_t *node;
		json_object_foreach(m->store.nodes, nid, node)
			json_array_append_new(nodes, scheduler_node(m, nid, node));
		json_t *req = json_pack("{s:i,s:s,s:o,s:O}", "v", 1, "op", "schedule",
					"nodes", nodes, "tasks", tasks);
		json_t *reply = NULL;
		char err[512] = "";
		int rc = plugin ? m->cfg.plugins.call(m->cfg.plugins.ctx, plugin, req,
						     MANAGER_SCHEDULER_TIMEOUT_MS,
						     &reply, err, sizeof(err))
				: (json_decref(req), snprintf(err, sizeof(err), "no scheduler plugin loaded"), -1);
		const char *reply_err = json_string_value(json_object_get(reply, "error"));
		if (rc == 0 && !reply_err) {
			scheduler_reply(m, reply, assign, reasons);
		} else {
			char why[700];
			snprintf(why, sizeof(why), "scheduler %s: %s", plugin ? plugin : "",
				 rc == 0 ? reply_err : err);
			size_t i;
			json_t *t;
			json_array_foreach(tasks, i, t) {
				const char *tid = json_string_value(json_object_get(t, "id"));
				reason_if_changed(reasons, store_task(&m->store, tid), tid, why);
			}
		}
		json_decref(reply);
	}
	json_decref(tasks);
	bool any = json_array_size(assign) || json_array_size(reasons);
	char nowtext[40];
	manager_now_text(nowtext, sizeof(nowtext));
	if (json_array_size(assign))
		manager_propose_internal(m, json_pack("{s:s,s:s,s:O}", "op", "task.assign",
						      "now", nowtext, "assignments", assign));
	if (json_array_size(reasons))
		manager_propose_internal(m, json_pack("{s:s,s:O}", "op",
						      "task.pending_reason",
						      "updates", reasons));
	json_decref(assign);
	json_decref(reasons);
	return any;
}

/* Proposes a node with a new state/description. */
static void node_put(struct manager *m, const json_t *node, const char *state,
		     json_t *description)
{
	char now[40];
	manager_now_text(now, sizeof(now));
	json_t *copy = json_deep_copy(node);
	if (description)
		json_object_set_new(copy, "Description", description);
	json_t *status = json_object_get(copy, "Status");
	if (!json_is_object(status)) {
		status = json_object();
		json_object_set_new(copy, "Status", status);
	}
	json_object_set_new(status, "State", json_string(state));
	if (strcmp(state, "down") == 0)
		json_object_set_new(status, "Message", json_string("heartbeat failure"));
	else
		json_object_del(status, "Message");
	json_object_set_new(copy, "UpdatedAt", json_string(now));
	manager_propose_internal(m, json_pack("{s:s,s:o}", "op", "node.put", "node", copy));
}

/* Keeps each node's description in step with what its agent last
 * reported (runtimes that answer, resources). */
static bool run_node_refresh(struct manager *m)
{
	bool proposed = false;
	const char *id;
	json_t *info;
	json_object_foreach(m->node_infos, id, info) {
		json_t *node = store_node(&m->store, id);
		if (!node)
			continue;
		json_t *desc = json_object_get(node, "Description");
		const char *host = str_or(json_string_value(json_object_get(desc, "Hostname")),
					  str_or(json_string_value(json_object_get(info, "hostname")), id));
		json_t *fresh = node_description(info, host);
		if (json_equal(fresh, desc)) {
			json_decref(fresh);
			continue;
		}
		const char *state = json_string_value(
			json_object_get(json_object_get(node, "Status"), "State"));
		node_put(m, node, str_or(state, "ready"), fresh);
		proposed = true;
	}
	return proposed;
}

/* Marks down the nodes whose agent stopped asking for its tasks, and ready
 * again those whose agent came back. This manager's own node is ready as
 * long as it runs. */
static bool run_node_liveness(struct manager *m, int64_t now)
{
	int64_t down_after = manager_down_after_ns(manager_heartbeat_ns(m));
	bool proposed = false;
	const char *id;
	json_t *node;
	json_object_foreach(m->store.nodes, id, node) {
		const char *state = str_or(json_string_value(
			json_object_get(json_object_get(node, "Status"), "State")), "");
		int64_t seen = dispatcher_last_seen(m->dispatcher, id);
		bool self = strcmp(id, m->cfg.node_id) == 0;
		bool alive = self || (seen && now - seen <= down_after);
		json_int_t joined = json_integer_value(json_object_get(m->joined_at, id));
		bool grace = !seen && (now - m->leader_since_ns <= down_after ||
				       (joined && now - joined <= 2 * down_after));
		if (strcmp(state, "ready") == 0 && !alive && !grace) {
			node_put(m, node, "down", NULL);
			proposed = true;
		} else if (strcmp(state, "ready") != 0 && alive) {
			node_put(m, node, "ready", NULL);
			proposed = true;
		}
	}
	return proposed;
}

static bool conf_has(const struct raft_conf *c, uint64_t id)
{
	for (uint32_t i = 0; i < c->n_voters; i++)
		if (c->voters[i] == id)
			return true;
	for (uint32_t i = 0; i < c->n_learners; i++)
		if (c->learners[i] == id)
			return true;
	return false;
}

static json_t *manager_node_by_raft_id(struct manager *m, uint64_t id)
{
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node)
		if (json_object_get(node, "ManagerStatus") && manager_node_raft_id(node) == id)
			return node;
	return NULL;
}

static bool node_role_is_worker(const json_t *node)
{
	const char *role = json_string_value(
		json_object_get(json_object_get(node, "Spec"), "Role"));
	return role && strcmp(role, "worker") == 0;
}

static bool conf_has_voter(const struct raft_conf *c, uint64_t id)
{
	for (uint32_t i = 0; i < c->n_voters; i++)
		if (c->voters[i] == id)
			return true;
	return false;
}

static const struct raft_progress *progress_of(const struct raft_status *st, uint64_t id)
{
	for (uint32_t i = 0; i < st->n_progress; i++)
		if (st->progress[i].id == id)
			return &st->progress[i];
	return NULL;
}

bool manager_demotion_keeps_quorum(struct manager *m, uint64_t raft_id)
{
	if (!m->raft)
		return false;
	struct raft_status st;
	raft_node_status(m->raft, &st);
	if (!conf_has_voter(&st.conf, raft_id))
		return true; /* a learner or a stranger: no vote lost */
	uint32_t remaining = 0, reachable = 0;
	for (uint32_t i = 0; i < st.conf.n_voters; i++) {
		uint64_t id = st.conf.voters[i];
		if (id == raft_id)
			continue;
		remaining++;
		const struct raft_progress *p = progress_of(&st, id);
		if (id == m->cfg.raft_id || (p && p->recent_active))
			reachable++;
	}
	return remaining > 0 && reachable >= remaining / 2 + 1;
}

/* Proposes the Node of a demoted manager without its ManagerStatus (its
 * OrchRaftID stays, so that the raft side can still find it). */
static void demotion_drop_manager_status(struct manager *m, const json_t *node)
{
	char now[40];
	manager_now_text(now, sizeof(now));
	json_t *copy = json_deep_copy(node);
	json_object_del(copy, "ManagerStatus");
	json_object_set_new(copy, "UpdatedAt", json_string(now));
	manager_propose_internal(m, json_pack("{s:s,s:o}", "op", "node.put", "node", copy));
}

/* Leader: hands leadership to a caught-up, active voter before this
 * manager's own demotion (the new leader carries it out). */
static void demotion_transfer_leadership(struct manager *m, const struct raft_status *st)
{
	if (st->transferee)
		return;
	for (uint32_t i = 0; i < st->n_progress; i++) {
		const struct raft_progress *p = &st->progress[i];
		if (p->id == m->cfg.raft_id || p->is_learner || !p->recent_active ||
		    p->match < st->commit)
			continue;
		int rc = raft_node_transfer_leader(m->raft, p->id);
		if (rc != 0)
			fprintf(stderr, "orchd: manager: handing leadership to %llu: %s\n",
				(unsigned long long)p->id, raft_strerror(rc));
		return;
	}
}

/* Proposes one raft membership change, logging failures other than
 * RAFT_ECONFPENDING (tried again on the next step). */
static void membership_propose(struct manager *m, enum raft_conf_change change,
			       uint64_t id, const char *what)
{
	int rc = raft_node_propose_conf(m->raft, change, id);
	if (rc != 0 && rc != RAFT_ECONFPENDING)
		fprintf(stderr, "orchd: manager: %s raft member %llu: %s\n", what,
			(unsigned long long)id, raft_strerror(rc));
}

/* Carries out one step of the demotion of the manager `node` (its
 * Spec.Role says worker): leadership handed over if it is this manager,
 * voter -> learner (while quorum allows), ManagerStatus dropped (the node
 * applies that and closes its replica), then removed from raft a second
 * later. Returns whether it proposed a store change. */
static bool demotion_step(struct manager *m, const struct raft_status *st,
			  const json_t *node, uint64_t id, int64_t now)
{
	bool member = conf_has(&st->conf, id);
	bool has_status = json_object_get(node, "ManagerStatus") != NULL;
	if (!member) {
		if (has_status)
			demotion_drop_manager_status(m, node);
		return has_status;
	}
	if (id == m->cfg.raft_id) {
		demotion_transfer_leadership(m, st);
		return false;
	}
	if (conf_has_voter(&st->conf, id)) {
		if (manager_demotion_keeps_quorum(m, id))
			membership_propose(m, RAFT_CONF_DEMOTE, id, "demoting");
		return false;
	}
	if (has_status) {
		demotion_drop_manager_status(m, node);
		return true;
	}
	if (m->demote_wait_id != id) {
		m->demote_wait_id = id;
		m->demote_wait_since_ns = now;
		m->demote_wait_commit = st->commit;
		return false;
	}
	/* Its replica closes once it applied its Node: its log stops there.
	 * It gets one second once it holds that entry, five at most. */
	const struct raft_progress *p = progress_of(st, id);
	int64_t waited = now - m->demote_wait_since_ns;
	bool holds = p && p->match >= m->demote_wait_commit;
	if (waited < 1000000000LL || (!holds && waited < 5000000000LL))
		return false;
	membership_propose(m, RAFT_CONF_REMOVE, id, "removing");
	return false;
}

/* Keeps the raft membership in step with the manager Nodes: a new one is
 * added as a learner, and promoted to voter once its log reached the
 * leader's commit index; a demoted one (Spec.Role worker) goes the other
 * way (demotion_step). One change at a time (RAFT_ECONFPENDING until the
 * previous one committed: tried again on the next step). Returns whether
 * it proposed a store change. */
static bool run_membership(struct manager *m, int64_t now)
{
	struct raft_status st;
	raft_node_status(m->raft, &st);
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node) {
		uint64_t id = manager_node_raft_id(node);
		if (id && node_role_is_worker(node) &&
		    (json_object_get(node, "ManagerStatus") || conf_has(&st.conf, id)))
			return demotion_step(m, &st, node, id, now);
	}
	json_object_foreach(m->store.nodes, nid, node) {
		uint64_t id = manager_node_raft_id(node);
		if (!id || !json_object_get(node, "ManagerStatus") || conf_has(&st.conf, id))
			continue;
		membership_propose(m, RAFT_CONF_ADD_LEARNER, id, "adding");
		return false;
	}
	for (uint32_t i = 0; i < st.n_progress; i++) {
		const struct raft_progress *p = &st.progress[i];
		json_t *owner = manager_node_by_raft_id(m, p->id);
		if (!p->is_learner || p->match < st.commit || !owner ||
		    node_role_is_worker(owner))
			continue;
		membership_propose(m, RAFT_CONF_PROMOTE, p->id, "promoting");
		return false;
	}
	return false;
}

/* Reachability of the manager with raft id `id` as the leader sees it. */
static const char *manager_reachability(struct manager *m,
					const struct raft_status *st, uint64_t id)
{
	if (id == m->cfg.raft_id)
		return "reachable";
	for (uint32_t i = 0; i < st->n_progress; i++)
		if (st->progress[i].id == id)
			return st->progress[i].recent_active ? "reachable" : "unreachable";
	return "unknown";
}

/* Writes each manager's Leader flag and Reachability (from raft progress)
 * into its Node, so that every manager shows them. Waits one election
 * timeout after taking over, until the progress says something. */
static bool run_manager_status(struct manager *m, int64_t now)
{
	if (now - m->leader_since_ns < 2000000000LL)
		return false;
	struct raft_status st;
	raft_node_status(m->raft, &st);
	bool proposed = false;
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node) {
		json_t *ms = json_object_get(node, "ManagerStatus");
		uint64_t id = manager_node_raft_id(node);
		if (!ms || !id || node_role_is_worker(node))
			continue;
		bool leader = id == m->cfg.raft_id;
		const char *reach = manager_reachability(m, &st, id);
		const char *have = str_or(json_string_value(json_object_get(ms, "Reachability")), "");
		if (json_is_true(json_object_get(ms, "Leader")) == leader &&
		    strcmp(have, reach) == 0)
			continue;
		char nowtext[40];
		manager_now_text(nowtext, sizeof(nowtext));
		json_t *copy = json_deep_copy(node);
		json_t *cms = json_object_get(copy, "ManagerStatus");
		json_object_set_new(cms, "Leader", json_boolean(leader));
		json_object_set_new(cms, "Reachability", json_string(reach));
		json_object_set_new(copy, "UpdatedAt", json_string(nowtext));
		manager_propose_internal(m, json_pack("{s:s,s:o}", "op", "node.put", "node", copy));
		proposed = true;
	}
	return proposed;
}

/* The pipelines run when the state changed (an entry applied, a node
 * described itself, leadership moved) and otherwise every
 * MANAGER_PIPELINE_PERIOD_NS for what time alone changes (liveness,
 * restart delays, reachability). */
#define MANAGER_PIPELINE_PERIOD_NS (100LL * 1000000LL)

static void manager_run_pipelines(struct manager *m, int64_t now)
{
	if (!m->raft || !m->leader || json_is_null(m->store.cluster))
		return;
	if (!m->dirty && now < m->pipelines_due_ns)
		return;
	m->pipelines_due_ns = now + MANAGER_PIPELINE_PERIOD_NS;
	for (int round = 0; round < 8; round++) {
		if (m->internal_index > raft_node_applied(m->raft))
			return; /* wait for our own proposals to apply */
		/* A membership step that rewrote a Node runs alone this round,
		 * so that no other pipeline writes an older copy of it. */
		bool proposed = run_membership(m, now);
		if (!proposed) {
			proposed = run_manager_status(m, now);
			proposed |= run_node_refresh(m);
			proposed |= run_node_liveness(m, now);
			proposed |= run_orchestrator(m, now);
			proposed |= run_allocator(m);
			proposed |= run_scheduler(m, now);
		}
		m->dirty = false;
		char err[512];
		if (raft_node_process(m->raft, err, sizeof(err)) != 0) {
			fprintf(stderr, "orchd: raft: %s\n", err);
			return;
		}
		if (!proposed)
			return;
	}
}

/* -------------------------------------------------------------- inbox */

static void manager_handle_statuses(struct manager *m, json_t *body)
{
	json_t *updates = json_object_get(body, "updates");
	if (!m->raft || !m->leader || json_array_size(updates) == 0)
		return;
	manager_propose_internal(m, json_pack("{s:s,s:O}", "op", "task.status",
					      "updates", updates));
}

/* Raft messages from another manager (hex encoded, see raft_transport.h). */
static void manager_step_raft(struct manager *m, const json_t *request)
{
	if (!m->raft)
		return;
	size_t i;
	json_t *hex;
	json_array_foreach(json_object_get(request, "msgs"), i, hex) {
		uint8_t *buf = NULL;
		struct raft_msg msg;
		if (!json_is_string(hex) ||
		    raft_transport_decode(json_string_value(hex), &buf, &msg) != 0) {
			fprintf(stderr, "orchd: manager: a malformed raft message was dropped\n");
			continue;
		}
		if (msg.to == m->cfg.raft_id)
			raft_node_step(m->raft, &msg);
		raft_msg_decoded_free(&msg);
		free(buf);
	}
}

/* A request from an agent or another node. A join is signed on the
 * leader; a raft batch is stepped into the replica; an agent's session is
 * answered by the dispatcher on the leader (a node not in a swarm has an
 * empty store, so its agent learns it has no tasks and stops what it still
 * runs), and redirected to the leader's address by a follower. */
static void manager_handle_cluster_request(struct manager *m, json_t *request,
				   struct inbox_reply_to *reply_to)
{
	const char *op = json_string_value(json_object_get(request, "op"));
	if (op && strcmp(op, "join") == 0) {
		manager_cluster_join(m, request, reply_to); /* body stays the message's */
		return;
	}
	if (op && strcmp(op, "raft") == 0) {
		manager_step_raft(m, request);
		return;
	}
	if (op && strcmp(op, "managers") == 0) {
		reply_to->fn(reply_to->ctx, json_pack("{s:o}", "managers", manager_addrs(m)));
		return;
	}
	if (m->demoted) {
		reply_to->fn(reply_to->ctx,
			     json_pack("{s:s,s:s}", "error", "this node is no longer a manager",
				       "leader_addr", m->demoted_leader_addr));
		return;
	}
	if (m->raft && !m->leader) {
		/* The agent (of a worker or of this node) goes to the leader. */
		const char *leader = manager_addr_of(m, m->leader_raft_id);
		reply_to->fn(reply_to->ctx,
			     json_pack("{s:s,s:s}", "error", "this manager is not the leader",
				       "leader_addr", leader ? leader : ""));
		return;
	}
	if (op && strcmp(op, "renew") == 0) {
		manager_cluster_renew(m, request, reply_to);
		return;
	}
	/* Its last-seen time changed; the pipelines' periodic pass (liveness)
	 * reads it: a session alone does not make the state dirty. */
	dispatcher_request(m->dispatcher, &m->store, request, reply_to,
			   inbox_now_ns(), manager_heartbeat_ns(m));
}

static void manager_handle(struct manager *m, struct inbox_msg *msg)
{
	switch (msg->kind) {
	case INBOX_STOP:
		m->stopping = true;
		break;
	case INBOX_API:
		manager_api_handle(m, msg->call);
		break;
	case INBOX_CALL:
		msg->call->response = manager_api_internal(m, msg->call->request);
		inbox_call_finish(msg->call);
		break;
	case INBOX_TASK_STATUSES:
		manager_handle_statuses(m, msg->body);
		break;
	case INBOX_NODE_INFO: {
		const char *node = json_string_value(json_object_get(msg->body, "node"));
		if (node)
			json_object_set(m->node_infos, node, msg->body);
		m->dirty = true;
		break;
	}
	case INBOX_CLUSTER_REQUEST:
		manager_handle_cluster_request(m, msg->body, msg->ptr);
		break;
	default:
		break;
	}
}

/* Reads a follower forwarded to a leader that is gone would wait for
 * their deadline: ask the new leader instead. */
static void manager_reissue_reads(struct manager *m)
{
	if (!m->reissue_reads || !m->raft || !m->leader_raft_id)
		return;
	m->reissue_reads = false;
	for (size_t i = 0; i < m->n_reads; i++)
		if (m->reads[i].index == 0)
			raft_node_read(m->raft, m->reads[i].context);
	char err[512];
	if (raft_node_process(m->raft, err, sizeof(err)) != 0)
		fprintf(stderr, "orchd: raft: %s\n", err);
}

/* A follower whose own Node lost its ManagerStatus (the leader demoted it
 * to worker) closes its raft replica, its raft transport and its port-2377
 * server; its agent then goes to the leader it last knew. Its certificate
 * (role manager) and raft directory stay as they are. */
static void manager_check_demoted(struct manager *m)
{
	if (!m->raft || m->leader || m->demoted)
		return;
	json_t *self = store_node(&m->store, m->cfg.node_id);
	if (!self || json_object_get(self, "ManagerStatus") || !node_role_is_worker(self))
		return;
	/* A leader that just handed over may not know its successor yet:
	 * then any manager, which redirects to the leader. */
	const char *leader = manager_addr_of(m, m->leader_raft_id);
	json_t *others = manager_addrs(m);
	if (!leader || !*leader)
		leader = json_string_value(json_array_get(others, 0));
	snprintf(m->demoted_leader_addr, sizeof(m->demoted_leader_addr), "%s",
		 leader ? leader : "");
	json_decref(others);
	fprintf(stderr, "orchd: manager: this node was demoted to worker; "
		"closing its raft replica (leader %s)\n", m->demoted_leader_addr);
	manager_close_replica(m, "this node was demoted to worker");
	m->demoted = true;
}

/* New certificates for the cluster server and the raft transport: both
 * start again with them (nng fixes a TLS configuration once it is used). */
static void manager_reload_tls(struct manager *m)
{
	char err[512];
	cluster_server_stop(m->cluster);
	m->cluster = NULL;
	manager_start_cluster(m);
	struct raft_transport *old = m->transport;
	m->transport = NULL;
	if (manager_open_transport(m, err, sizeof(err)) != 0) {
		fprintf(stderr, "orchd: manager: raft transport with the new certificate: %s\n", err);
		m->transport = old; /* keeps the old certificate until it expires */
		return;
	}
	m->peers_synced_index = 0;
	manager_sync_peers(m);
	raft_transport_free(old);
}

#define MANAGER_CERT_CHECK_NS (5LL * 1000000000LL)

/* Renews this manager's own certificate with the cluster CA once the
 * chosen point of its validity has passed (Swarm: 50% to 80%). */
static void manager_renew_own_cert(struct manager *m, int64_t now)
{
	if (!m->raft || m->demoted || now < m->cert_check_ns)
		return;
	m->cert_check_ns = now + MANAGER_CERT_CHECK_NS;
	if (!m->cert_renew_permille)
		m->cert_renew_permille = 500 + (unsigned)(ids_random(NULL) % 301);
	char dir[700], path[760], err[512];
	int64_t at = 0;
	snprintf(dir, sizeof(dir), "%s/certificates", m->data_dir);
	snprintf(path, sizeof(path), "%s/swarm-node.crt", dir);
	char *pem = util_read_file(path, err, sizeof(err));
	int rc = pem ? cluster_cert_renew_at(pem, m->cert_renew_permille, &at, err, sizeof(err)) : -1;
	free(pem);
	json_t *self = store_node(&m->store, m->cfg.node_id);
	if (rc != 0 || time(NULL) < at || !self || node_role_is_worker(self)) {
		if (rc != 0)
			fprintf(stderr, "orchd: manager: own certificate: %s\n", err);
		return;
	}
	const char *cluster_id = json_string_value(json_object_get(m->store.cluster, "ID"));
	if (cluster_renew_self(dir, json_object_get(m->store.cluster, "Spec"), m->cfg.node_id,
			       cluster_id ? cluster_id : "", err, sizeof(err)) != 0) {
		fprintf(stderr, "orchd: manager: cannot renew its certificate: %s\n", err);
		return;
	}
	fprintf(stderr, "orchd: manager: renewed this manager's certificate\n");
	m->cert_renew_permille = 500 + (unsigned)(ids_random(NULL) % 301);
	manager_reload_tls(m);
}

#define MANAGER_BATCH 256

static void manager_step(struct manager *m)
{
	int64_t now = inbox_now_ns();
	int64_t deadline = m->next_tick_ns;
	if (m->orchestrator_wakeup_ns < deadline)
		deadline = m->orchestrator_wakeup_ns;
	/* Up to MANAGER_BATCH messages, then the raft and pipeline work once
	 * for all of them (thousands of agents' sessions arrive each period). */
	struct inbox_msg *msg = inbox_wait(m->inbox, deadline);
	for (int n = 1; msg; n++) {
		manager_handle(m, msg);
		inbox_msg_free(msg);
		if (atomic_load(&m->stop_requested))
			m->stopping = true;
		msg = m->stopping || n >= MANAGER_BATCH ? NULL : inbox_wait(m->inbox, 0);
	}
	if (m->stopping)
		return;
	now = inbox_now_ns();
	if (m->raft && now >= m->next_tick_ns) {
		raft_node_tick(m->raft);
		m->next_tick_ns = now + (int64_t)m->tick_ms * 1000000LL;
	} else if (!m->raft && now >= m->next_tick_ns) {
		m->next_tick_ns = now + (int64_t)m->tick_ms * 1000000LL;
	}
	if (m->raft) {
		char err[512];
		if (raft_node_process(m->raft, err, sizeof(err)) != 0)
			fprintf(stderr, "orchd: raft: %s\n", err);
	}
	manager_check_demoted(m);
	manager_renew_own_cert(m, now);
	manager_sync_peers(m);
	manager_reissue_reads(m);
	manager_run_pipelines(m, now);
	manager_finish_calls(m);
	if ((!m->raft && !m->demoted) || m->leader)
		dispatcher_step(m->dispatcher, &m->store, inbox_now_ns(),
				manager_heartbeat_ns(m));
}

static void *manager_main(void *arg)
{
	struct manager *m = arg;
	while (!m->stopping)
		manager_step(m);
	return NULL;
}

/* Reopens the swarm this node was part of before orchd stopped. */
static int manager_resume(struct manager *m, char *err, size_t errlen)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/raft", m->data_dir);
	struct stat st;
	if (stat(path, &st) != 0)
		return 0; /* never joined a swarm */
	snprintf(path, sizeof(path), "%s/certificates", m->data_dir);
	if (stat(path, &st) == 0 && manager_open_transport(m, err, errlen) != 0)
		return -1;
	if (manager_open_raft(m, false, err, errlen) != 0)
		return -1;
	manager_sync_peers(m);
	json_t *self = store_node(&m->store, m->cfg.node_id);
	const char *addr = json_string_value(
		json_object_get(json_object_get(self, "Status"), "Addr"));
	snprintf(m->advertise_addr, sizeof(m->advertise_addr), "%s",
		 addr ? addr : "127.0.0.1");
	snprintf(path, sizeof(path), "%s/cluster.json", m->data_dir);
	json_t *addrs = json_load_file(path, 0, NULL);
	const char *listen = json_string_value(json_object_get(addrs, "listen_addr"));
	const char *maddr = json_string_value(json_object_get(addrs, "manager_addr"));
	snprintf(m->listen_addr, sizeof(m->listen_addr), "%s",
		 listen ? listen : CLUSTER_DEFAULT_LISTEN);
	if (maddr)
		snprintf(m->manager_addr, sizeof(m->manager_addr), "%s", maddr);
	else
		snprintf(m->manager_addr, sizeof(m->manager_addr), "%s:2377", m->advertise_addr);
	json_decref(addrs);
	snprintf(path, sizeof(path), "%s/certificates", m->data_dir);
	if (stat(path, &st) == 0)
		manager_start_cluster(m);
	return 0;
}

int manager_start(const struct manager_config *cfg, struct manager **out,
		  char *err, size_t errlen)
{
	struct manager *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->cfg = *cfg;
	if (!m->cfg.history_limit)
		m->cfg.history_limit = 5;
	snprintf(m->data_dir, sizeof(m->data_dir), "%s/swarm", cfg->data_root);
	store_init(&m->store);
	m->inbox = inbox_new();
	m->node_infos = json_object();
	m->joined_at = json_object();
	m->dispatcher = dispatcher_new();
	m->orchestrator_wakeup_ns = INT64_MAX;
	m->next_tick_ns = inbox_now_ns();
	m->tick_ms = 100; /* until a raft replica sets its own */
	if (!m->inbox || manager_resume(m, err, errlen) != 0) {
		inbox_free(m->inbox);
		store_fini(&m->store);
		free(m);
		return -1;
	}
	if (pthread_create(&m->thread, NULL, manager_main, m) != 0) {
		snprintf(err, errlen, "cannot start the manager thread");
		raft_node_close(m->raft);
		inbox_free(m->inbox);
		store_fini(&m->store);
		free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void manager_stop(struct manager *m)
{
	if (!m || m->stopped)
		return;
	atomic_store(&m->stop_requested, true);
	inbox_post(m->inbox, INBOX_STOP, NULL, NULL);
	pthread_join(m->thread, NULL);
	m->stopped = true;
	inbox_close(m->inbox);
	dispatcher_reset(m->dispatcher);
	manager_fail_joins(m, "the manager is stopping");
	cluster_server_stop(m->cluster);
	m->cluster = NULL;
	for (size_t i = 0; i < m->n_writes; i++) {
		struct api_call *ac = (void *)m->writes[i].call->request;
		api_response_error(ac->resp, 503, "orchd is shutting down");
		json_decref(m->writes[i].ok_body);
		inbox_call_finish(m->writes[i].call);
	}
	for (size_t i = 0; i < m->n_reads; i++) {
		struct api_call *ac = (void *)m->reads[i].call->request;
		api_response_error(ac->resp, 503, "orchd is shutting down");
		inbox_call_finish(m->reads[i].call);
	}
	m->n_writes = m->n_reads = 0;
	raft_node_close(m->raft);
	m->raft = NULL;
	raft_transport_free(m->transport);
	m->transport = NULL;
}

void manager_free(struct manager *m)
{
	if (!m)
		return;
	manager_stop(m);
	free(m->writes);
	free(m->reads);
	inbox_free(m->inbox);
	json_decref(m->node_infos);
	json_decref(m->joined_at);
	free(m->joins);
	dispatcher_free(m->dispatcher);
	store_fini(&m->store);
	free(m);
}

struct inbox *manager_inbox(struct manager *m)
{
	return m->inbox;
}

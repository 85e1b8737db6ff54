/*
 * manager_api.c: the API routes, run on the core thread (see manager.h).
 * Paths and JSON fields are those of the Docker Engine API v1.41 swarm
 * endpoints. Reads wait for a raft read barrier (ReadIndex) so that they
 * never show state older than the last acknowledged write; writes are
 * answered once their command is committed and applied. Owns nothing beyond
 * the calls it answers.
 */
#include "manager_api_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonref.h"

#define ORCHD_VERSION "0.1.0"
/* A read raft has not confirmed by then is refused: its leader is gone
 * (a follower forwards ReadIndex to the leader it knows). */
#define MANAGER_READ_TIMEOUT_NS 3000000000LL

const char *const manager_not_manager_message =
	"This node is not a swarm manager. Use \"orchctl swarm init\" or "
	"\"orchctl swarm join\" to connect this node to swarm and try again.";

/* Splits "/services/abc/update" against "/services/" + suffix. */
static bool path_match(const char *path, const char *prefix, const char *suffix,
		       char *arg, size_t arglen)
{
	size_t plen = strlen(prefix);
	if (strncmp(path, prefix, plen) != 0)
		return false;
	const char *rest = path + plen;
	const char *slash = strchr(rest, '/');
	size_t alen = slash ? (size_t)(slash - rest) : strlen(rest);
	if (alen == 0 || alen >= arglen)
		return false;
	const char *tail = rest + alen;
	if (strcmp(tail, suffix) != 0)
		return false;
	memcpy(arg, rest, alen);
	arg[alen] = '\0';
	return true;
}
/* ---------------------------------------------------------- local ones */

static void local_ping(struct route_ctx *rc)
{
	api_response_set(rc->resp, 200, "text/plain", "OK", 2);
}

static void local_version(struct route_ctx *rc)
{
	api_response_json(rc->resp, 200,
			  json_pack("{s:s,s:s,s:s,s:s,s:s}", "Version", ORCHD_VERSION,
				    "ApiVersion", "1.41", "MinAPIVersion", "1.41",
				    "Os", "linux", "Arch", "amd64"));
}

static void local_info(struct route_ctx *rc)
{
	struct manager *m = rc->m;
	bool active = m->raft && !json_is_null(m->store.cluster);
	json_t *managers = json_array();
	json_int_t n_managers = 0;
	const char *id;
	json_t *node;
	json_object_foreach(m->store.nodes, id, node) {
		json_t *ms = json_object_get(node, "ManagerStatus");
		if (!ms)
			continue;
		n_managers++;
		json_array_append_new(managers,
				      json_pack("{s:s,s:O}", "NodeID", id, "Addr",
						json_object_get(ms, "Addr")));
	}
	json_t *swarm = json_pack(
		"{s:s,s:s,s:s,s:b,s:s,s:o,s:I,s:I}", "NodeID",
		active ? m->cfg.node_id : "", "NodeAddr",
		active ? m->advertise_addr : "", "LocalNodeState",
		active ? "active" : "inactive", "ControlAvailable", active,
		"Error", m->raft && raft_node_failure(m->raft) ? raft_node_failure(m->raft)
							       : m->cluster_error,
		"RemoteManagers", managers, "Nodes",
		(json_int_t)json_object_size(m->store.nodes), "Managers", n_managers);
	if (active)
		json_object_set_new(swarm, "Cluster",
				    json_pack("{s:O,s:O}", "ID",
					      json_object_get(m->store.cluster, "ID"),
					      "CreatedAt",
					      json_object_get(m->store.cluster, "CreatedAt")));
	json_t *info = json_pack("{s:s,s:s,s:s,s:o,s:o}", "ID", m->cfg.node_id,
				 "Name", m->cfg.hostname, "ServerVersion",
				 ORCHD_VERSION, "Swarm", swarm, "OrchRuntimes",
				 json_ref_or_array(json_object_get(
					 json_object_get(m->node_infos, m->cfg.node_id), "runtimes")));
	api_response_json(rc->resp, 200, info);
}

static const struct route local_routes[] = {
	{ "GET", "/_ping", NULL, local_ping, true },
	{ "HEAD", "/_ping", NULL, local_ping, true },
	{ "GET", "/version", NULL, local_version, true },
	{ "GET", "/info", NULL, local_info, true },
};

/* ------------------------------------------------------------ dispatch */

json_t *route_found(struct route_ctx *rc, const char *what, json_t *obj)
{
	if (!obj)
		api_response_error(rc->resp, 404, "%s %s not found", what, rc->arg);
	return obj;
}

static const struct route *route_find(const struct route *routes, size_t n,
				      const struct api_request *req, char *arg,
				      size_t arglen)
{
	for (size_t i = 0; i < n; i++) {
		const struct route *r = &routes[i];
		if (strcmp(req->method, r->method) != 0)
			continue;
		if (!r->suffix && strcmp(req->path, r->prefix) == 0) {
			arg[0] = '\0';
			return r;
		}
		if (r->suffix && path_match(req->path, r->prefix, r->suffix, arg, arglen))
			return r;
	}
	return NULL;
}

#define N_ROUTES(a) (sizeof(a) / sizeof((a)[0]))

void manager_api_handle(struct manager *m, struct inbox_call *call)
{
	struct api_call *ac = (void *)call->request;
	char arg[256];
	struct route_ctx rc = { .m = m, .call = call, .req = ac->req,
				.resp = ac->resp, .arg = arg };
	const struct route *r;
	if ((r = route_find(local_routes, N_ROUTES(local_routes), ac->req, arg, sizeof(arg)))) {
		r->fn(&rc);
	} else if ((r = route_find(manager_write_routes, manager_n_write_routes, ac->req, arg,
				   sizeof(arg)))) {
		if (!m->raft && !r->outside_swarm)
			api_response_error(ac->resp, 503, "%s", manager_not_manager_message);
		else
			r->fn(&rc);
		for (size_t i = 0; i < m->n_writes; i++)
			if (m->writes[i].call == call)
				return; /* answered when applied */
	} else if (route_find(manager_read_routes, manager_n_read_routes, ac->req, arg,
			      sizeof(arg))) {
		uint64_t context = ++m->next_read_context;
		if (!m->raft) {
			api_response_error(ac->resp, 503, "%s", manager_not_manager_message);
		} else if (raft_node_read(m->raft, context) != 0) {
			api_response_error(ac->resp, 503,
					   "no raft leader: the read cannot be served now; retry");
		} else {
			if (m->n_reads == m->cap_reads) {
				m->cap_reads = m->cap_reads ? 2 * m->cap_reads : 16;
				m->reads = realloc(m->reads, m->cap_reads * sizeof(*m->reads));
			}
			m->reads[m->n_reads++] = (struct pending_read){
				.context = context,
				.call = call,
				.deadline_ns = manager_mono_ns(m) + MANAGER_READ_TIMEOUT_NS
			};
			return;
		}
	} else {
		api_response_error(ac->resp, 404, "page not found: %s %s",
				   ac->req->method, ac->req->path);
	}
	inbox_call_finish(call);
}

void manager_api_answer_read(struct manager *m, struct inbox_call *call)
{
	struct api_call *ac = (void *)call->request;
	char arg[256];
	struct route_ctx rc = { .m = m, .call = call, .req = ac->req,
				.resp = ac->resp, .arg = arg };
	const struct route *r = route_find(manager_read_routes, manager_n_read_routes,
					   ac->req, arg, sizeof(arg));
	if (r)
		r->fn(&rc);
}

/* Tasks of a service (or one task) with their display names, for logs. */
static json_t *internal_log_targets(struct manager *m, const char *ref)
{
	json_t *service = store_service_find(&m->store, ref);
	json_t *single = service ? NULL : store_task(&m->store, ref);
	if (!service && !single)
		return json_pack("{s:s}", "error", "no such service or task");
	json_t *list = json_array();
	const char *id;
	json_t *task;
	json_object_foreach(m->store.tasks, id, task) {
		if (single ? task != single
			   : strcmp(str_or_empty(store_task_service(task)),
				    json_string_value(json_object_get(service, "ID"))) != 0)
			continue;
		char name[256];
		const char *svc_name = json_string_value(json_object_get(task, "ServiceName"));
		if (store_task_slot(task) > 0)
			snprintf(name, sizeof(name), "%s.%lld.%s", svc_name ? svc_name : "",
				 (long long)store_task_slot(task), id);
		else
			snprintf(name, sizeof(name), "%s.%s.%s", svc_name ? svc_name : "",
				 str_or_empty(store_task_node(task)), id);
		json_t *node = store_node(&m->store, store_task_node(task));
		const char *host = json_string_value(
			json_object_get(json_object_get(node, "Description"), "Hostname"));
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s}", "task_id", id,
						      "name", name, "node",
						      str_or_empty(store_task_node(task)),
						      "hostname", host ? host : ""));
	}
	return json_pack("{s:o}", "tasks", list);
}

json_t *manager_api_internal(struct manager *m, const json_t *request)
{
	const char *op = json_string_value(json_object_get(request, "op"));
	if (op && strcmp(op, "swarm_state") == 0)
		return json_pack("{s:b,s:b,s:s,s:s,s:o,s:I}", "manager", m->raft != NULL,
				 "demoted", m->demoted, "leader_addr", m->demoted_leader_addr,
				 "advertise_addr", m->advertise_addr, "managers",
				 manager_addrs(m), "leaderless_ms",
				 (json_int_t)(m->raft && m->leaderless_since_ns
						      ? (manager_mono_ns(m) - m->leaderless_since_ns) / 1000000
						      : 0));
	if (op && strcmp(op, "drop_manager_state") == 0) {
		/* A demoted manager now runs as a worker: forget raft and the CA. */
		manager_swarm_wipe(m);
		m->demoted = false;
		return json_pack("{s:b}", "ok", 1);
	}
	if (op && strcmp(op, "swarm_join_manager") == 0)
		return manager_swarm_join(m, request);
	if (op && strcmp(op, "raft_state") == 0)
		return manager_raft_state(m);
	if (op && strcmp(op, "log_targets") == 0)
		return internal_log_targets(
			m, str_or_empty(json_string_value(json_object_get(request, "ref"))));
	return json_pack("{s:s}", "error", "unknown internal call");
}


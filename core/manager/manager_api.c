/*
 * manager_api.c: the API routes, run on the core thread (see manager.h).
 * Paths and JSON fields are those of the Docker Engine API v1.41 swarm
 * endpoints. Reads wait for a raft read barrier (ReadIndex) so that they
 * never show state older than the last acknowledged write; writes are
 * answered once their command is committed and applied. Owns nothing beyond
 * the calls it answers.
 */
#include "manager_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "jsonref.h"
#include "orchestrator.h"
#include "spec.h"

#define ORCHD_VERSION "0.1.0"
/* A read raft has not confirmed by then is refused: its leader is gone
 * (a follower forwards ReadIndex to the leader it knows). */
#define MANAGER_READ_TIMEOUT_NS 3000000000LL

struct route_ctx {
	struct manager *m;
	struct inbox_call *call;
	const struct api_request *req;
	struct api_response *resp;
	const char *arg; /* the {id} of the path, when there is one */
};

static const char *not_manager_message =
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

/* ------------------------------------------------------------- helpers */

static json_t *parse_body(struct route_ctx *rc)
{
	json_error_t jerr;
	json_t *body = json_loadb(rc->req->body, rc->req->body_len, 0, &jerr);
	if (!body)
		api_response_error(rc->resp, 400,
				   "invalid JSON in request body: %s (line %d, column %d)",
				   jerr.text, jerr.line, jerr.column);
	else if (!json_is_object(body)) {
		api_response_error(rc->resp, 400, "request body must be a JSON object");
		json_decref(body);
		body = NULL;
	}
	return body;
}

/* Proposes cmd; the call is answered when it applies. Steals cmd and
 * ok_body. Returns true when the call is now pending. */
static bool propose_write(struct route_ctx *rc, json_t *cmd, json_t *ok_body,
			  int ok_status, int fail_status)
{
	char err[512];
	uint64_t index = 0, term = 0;
	int status = manager_propose(rc->m, cmd, &index, &term, err, sizeof(err));
	json_decref(cmd);
	if (status != 0) {
		api_response_error(rc->resp, status, "%s", err);
		json_decref(ok_body);
		return false;
	}
	struct pending_write w = { .index = index,
				   .term = term,
				   .call = rc->call,
				   .ok_body = ok_body,
				   .ok_status = ok_status,
				   .fail_status = fail_status };
	manager_add_write(rc->m, &w);
	return true;
}

static bool parse_version(struct route_ctx *rc, json_int_t *version)
{
	const char *v = api_request_query(rc->req, "version");
	char *end = NULL;
	long long n = v ? strtoll(v, &end, 10) : -1;
	if (!v || !*v || *end || n < 0) {
		api_response_error(rc->resp, 400,
				   "invalid or missing version query parameter \"%s\"",
				   v ? v : "");
		return false;
	}
	*version = n;
	return true;
}

typedef int (*spec_check_fn)(json_t *spec, char *err, size_t errlen);

static int check_node_spec(json_t *spec, char *err, size_t errlen)
{
	return spec_node_check(spec, err, errlen);
}

/* The checked JSON body of an update request; NULL when it is bad (the
 * call is then answered with the reason). */
static json_t *read_update_body(struct route_ctx *rc, spec_check_fn check,
				const char *what)
{
	json_t *spec = parse_body(rc);
	if (!spec)
		return NULL;
	char err[512];
	if (check(spec, err, sizeof(err)) != 0) {
		api_response_error(rc->resp, 400, "invalid %s spec: %s", what, err);
		json_decref(spec);
		return NULL;
	}
	return spec;
}

/* -------------------------------------------------------------- reads */

static json_t *service_with_status(struct manager *m, json_t *service)
{
	json_t *copy = json_deep_copy(service);
	const char *sid = json_string_value(json_object_get(service, "ID"));
	json_int_t running = 0, desired = 0;
	const char *id;
	json_t *task;
	json_object_foreach(m->store.tasks, id, task) {
		const char *svc = store_task_service(task);
		const char *want = store_task_desired(task);
		if (!svc || strcmp(svc, sid) != 0)
			continue;
		if (want && strcmp(want, "running") == 0) {
			desired++;
			running += store_task_state(task) == TASK_RUNNING;
		}
	}
	json_t *mode = json_object_get(json_object_get(service, "Spec"), "Mode");
	json_t *replicated = json_object_get(mode, "Replicated");
	if (replicated)
		desired = json_integer_value(json_object_get(replicated, "Replicas"));
	json_object_set_new(copy, "ServiceStatus",
			    json_pack("{s:I,s:I}", "RunningTasks", running,
				      "DesiredTasks", desired));
	return copy;
}

static void read_services(struct route_ctx *rc)
{
	bool status = api_request_query_bool(rc->req, "status");
	json_t *list = json_array();
	const char *id;
	json_t *service;
	json_object_foreach(rc->m->store.services, id, service)
		json_array_append_new(list, status ? service_with_status(rc->m, service)
						   : json_deep_copy(service));
	api_response_json(rc->resp, 200, list);
}

static void read_service(struct route_ctx *rc)
{
	json_t *service = store_service_find(&rc->m->store, rc->arg);
	if (!service)
		api_response_error(rc->resp, 404, "service %s not found", rc->arg);
	else
		api_response_json(rc->resp, 200, service_with_status(rc->m, service));
}

static void read_nodes(struct route_ctx *rc)
{
	json_t *list = json_array();
	const char *id;
	json_t *node;
	json_object_foreach(rc->m->store.nodes, id, node)
		json_array_append_new(list, json_deep_copy(node));
	api_response_json(rc->resp, 200, list);
}

static void read_node(struct route_ctx *rc)
{
	json_t *node = store_node_find(&rc->m->store, rc->arg);
	if (!node)
		api_response_error(rc->resp, 404, "node %s not found", rc->arg);
	else
		api_response_json(rc->resp, 200, json_deep_copy(node));
}

/* Values of one Docker filter: {"k":{"v":true}} or {"k":["v"]}. */
static bool filter_allows(const json_t *filters, const char *key,
			  const char *const *candidates, size_t n)
{
	json_t *f = json_object_get(filters, key);
	if (!f)
		return true;
	const char *value;
	json_t *v;
	size_t i;
	if (json_is_object(f)) {
		json_object_foreach(f, value, v)
			for (size_t c = 0; c < n; c++)
				if (candidates[c] && strcmp(candidates[c], value) == 0)
					return true;
	} else {
		json_array_foreach(f, i, v)
			for (size_t c = 0; c < n; c++)
				if (candidates[c] && json_string_value(v) &&
				    strcmp(candidates[c], json_string_value(v)) == 0)
					return true;
	}
	return false;
}

static void read_tasks(struct route_ctx *rc)
{
	json_t *filters = NULL;
	const char *text = api_request_query(rc->req, "filters");
	if (text && *text) {
		json_error_t jerr;
		filters = json_loads(text, 0, &jerr);
		if (!json_is_object(filters)) {
			json_decref(filters);
			api_response_error(rc->resp, 400, "invalid filters: %s", text);
			return;
		}
	}
	json_t *list = json_array();
	const char *id;
	json_t *task;
	json_object_foreach(rc->m->store.tasks, id, task) {
		json_t *svc = store_service(&rc->m->store, store_task_service(task));
		json_t *node = store_node(&rc->m->store, store_task_node(task));
		const char *svc_c[] = { store_task_service(task),
					json_string_value(json_object_get(task, "ServiceName")) };
		const char *node_c[] = { store_task_node(task),
					 json_string_value(json_object_get(
						 json_object_get(node, "Description"), "Hostname")) };
		const char *desired_c[] = { store_task_desired(task) };
		const char *id_c[] = { id };
		(void)svc;
		if (!filter_allows(filters, "service", svc_c, 2) ||
		    !filter_allows(filters, "node", node_c, 2) ||
		    !filter_allows(filters, "desired-state", desired_c, 1) ||
		    !filter_allows(filters, "id", id_c, 1))
			continue;
		json_array_append_new(list, json_deep_copy(task));
	}
	json_decref(filters);
	api_response_json(rc->resp, 200, list);
}

static void read_task(struct route_ctx *rc)
{
	json_t *task = store_task(&rc->m->store, rc->arg);
	if (!task)
		api_response_error(rc->resp, 404, "task %s not found", rc->arg);
	else
		api_response_json(rc->resp, 200, json_deep_copy(task));
}

static void read_swarm(struct route_ctx *rc)
{
	if (json_is_null(rc->m->store.cluster)) {
		api_response_error(rc->resp, 503, "%s", not_manager_message);
		return;
	}
	/* The CA key and the raw join secrets never leave the store. */
	json_t *swarm = json_deep_copy(rc->m->store.cluster);
	json_t *spec = json_object_get(rc->m->store.cluster, "Spec");
	json_t *tokens = cluster_join_tokens(spec);
	json_object_set_new(swarm, "Spec", cluster_spec_public(spec));
	json_object_set_new(swarm, "JoinTokens",
			    tokens ? tokens : json_pack("{s:s,s:s}", "Worker", "", "Manager", ""));
	api_response_json(rc->resp, 200, swarm);
}

typedef void (*route_fn)(struct route_ctx *rc);

struct route {
	const char *method;
	const char *prefix;
	const char *suffix; /* NULL: exact path, no {id} */
	route_fn fn;
};

static const struct route read_routes[] = {
	{ "GET", "/swarm", NULL, read_swarm },
	{ "GET", "/services", NULL, read_services },
	{ "GET", "/services/", "", read_service },
	{ "GET", "/nodes", NULL, read_nodes },
	{ "GET", "/nodes/", "", read_node },
	{ "GET", "/tasks", NULL, read_tasks },
	{ "GET", "/tasks/", "", read_task },
};

/* -------------------------------------------------------------- writes */

static void write_swarm_init(struct route_ctx *rc)
{
	json_t *body = parse_body(rc);
	if (!body)
		return;
	const char *addr = json_string_value(json_object_get(body, "AdvertiseAddr"));
	const char *listen = json_string_value(json_object_get(body, "ListenAddr"));
	char err[512], advertise[128];
	/* An advertise address with a port: the port belongs to ListenAddr. */
	snprintf(advertise, sizeof(advertise), "%s", addr && *addr ? addr : "127.0.0.1");
	char *colon = strchr(advertise, ':');
	if (colon)
		*colon = '\0';
	char now[40], cluster_id[32];
	ids_new_id(NULL, cluster_id);
	json_t *ca = NULL, *secrets = NULL;
	int status = manager_swarm_init(rc->m, advertise,
					listen && *listen ? listen : CLUSTER_DEFAULT_LISTEN,
					cluster_id, &ca, &secrets, err, sizeof(err));
	json_decref(body);
	if (status != 0) {
		api_response_error(rc->resp, status, "%s", err);
		return;
	}
	manager_now_text(now, sizeof(now));
	json_t *node = manager_self_node(rc->m, now);
	json_t *cmd = json_pack(
		"{s:s,s:{s:s,s:s,s:s,s:{s:s,s:{s:i},s:{s:I}}},s:o}", "op",
		"cluster.init", "cluster", "ID", cluster_id, "CreatedAt", now,
		"UpdatedAt", now, "Spec", "Name", "default", "Orchestration",
		"TaskHistoryRetentionLimit", (int)rc->m->cfg.history_limit,
		"Dispatcher", "HeartbeatPeriod", (json_int_t)1000000000LL, "node", node);
	json_t *spec = json_object_get(json_object_get(cmd, "cluster"), "Spec");
	json_object_set_new(spec, CLUSTER_SPEC_CA, ca);
	json_object_set_new(spec, CLUSTER_SPEC_SECRETS, secrets);
	propose_write(rc, cmd, json_string(rc->m->cfg.node_id), 200, 503);
}

static void write_swarm_leave(struct route_ctx *rc)
{
	if (!rc->m->raft) {
		api_response_error(rc->resp, 503, "This node is not part of a swarm");
		return;
	}
	if (!api_request_query_bool(rc->req, "force")) {
		api_response_error(rc->resp, 503,
				   "You are attempting to leave the swarm on a node that is participating as a manager. "
				   "Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.");
		return;
	}
	manager_swarm_wipe(rc->m);
	api_response_set(rc->resp, 200, "text/plain", "", 0);
}

static void write_service_create(struct route_ctx *rc)
{
	json_t *spec = parse_body(rc);
	if (!spec)
		return;
	char id[32], now[40], err[512];
	ids_new_id(NULL, id);
	if (!json_object_get(spec, "Name")) {
		char name[32];
		snprintf(name, sizeof(name), "service-%.8s", id);
		json_object_set_new(spec, "Name", json_string(name));
	}
	if (spec_service_check(spec, err, sizeof(err)) != 0) {
		api_response_error(rc->resp, 400, "invalid service spec: %s", err);
		json_decref(spec);
		return;
	}
	const char *name = json_string_value(json_object_get(spec, "Name"));
	if (store_service_find(&rc->m->store, name)) {
		api_response_error(rc->resp, 409, "service %s already exists", name);
		json_decref(spec);
		return;
	}
	manager_now_text(now, sizeof(now));
	json_t *cmd = json_pack("{s:s,s:{s:s,s:s,s:s,s:o,s:{s:{}}}}", "op",
				"service.create", "service", "ID", id, "CreatedAt",
				now, "UpdatedAt", now, "Spec", spec, "Endpoint",
				"Spec");
	propose_write(rc, cmd, json_pack("{s:s,s:n}", "ID", id, "Warnings"), 201, 409);
}

static void write_service_update(struct route_ctx *rc)
{
	json_t *service = store_service_find(&rc->m->store, rc->arg);
	json_int_t version;
	if (!service) {
		api_response_error(rc->resp, 404, "service %s not found", rc->arg);
		return;
	}
	if (!parse_version(rc, &version))
		return;
	json_t *spec = read_update_body(rc, spec_service_check, "service");
	if (!spec)
		return;
	char now[40];
	manager_now_text(now, sizeof(now));
	json_t *cmd = json_pack("{s:s,s:O,s:I,s:o,s:s}", "op", "service.update",
				"id", json_object_get(service, "ID"), "version",
				version, "spec", spec, "now", now);
	propose_write(rc, cmd, json_pack("{s:n}", "Warnings"), 200, 409);
}

static void write_service_remove(struct route_ctx *rc)
{
	json_t *service = store_service_find(&rc->m->store, rc->arg);
	if (!service) {
		api_response_error(rc->resp, 404, "service %s not found", rc->arg);
		return;
	}
	char now[40];
	manager_now_text(now, sizeof(now));
	json_t *cmd = json_pack("{s:s,s:O,s:s}", "op", "service.remove", "id",
				json_object_get(service, "ID"), "now", now);
	propose_write(rc, cmd, NULL, 200, 404);
}

/* Managers among the nodes (those with a ManagerStatus). */
static size_t count_managers(const struct store *s)
{
	size_t n = 0;
	const char *id;
	json_t *node;
	json_object_foreach(s->nodes, id, node)
		n += json_object_get(node, "ManagerStatus") != NULL;
	return n;
}

static const char *node_role(const json_t *node)
{
	return str_or_empty(json_string_value(
		json_object_get(json_object_get(node, "Spec"), "Role")));
}

static void write_node_update(struct route_ctx *rc)
{
	json_t *node = store_node_find(&rc->m->store, rc->arg);
	json_int_t version;
	if (!node) {
		api_response_error(rc->resp, 404, "node %s not found", rc->arg);
		return;
	}
	if (!parse_version(rc, &version))
		return;
	json_int_t have = json_integer_value(
		json_object_get(json_object_get(node, "Version"), "Index"));
	if (have != version) {
		api_response_error(rc->resp, 409,
				   "update out of sequence: node is at version %lld, not %lld",
				   (long long)have, (long long)version);
		return;
	}
	json_t *spec = read_update_body(rc, check_node_spec, "node");
	if (!spec)
		return;
	char now[40];
	manager_now_text(now, sizeof(now));
	const char *role = json_string_value(json_object_get(spec, "Role"));
	if (role && strcmp(role, "worker") == 0 && json_object_get(node, "ManagerStatus") &&
	    count_managers(&rc->m->store) <= 1) {
		api_response_error(rc->resp, 400,
				   "attempting to demote the last manager of the swarm");
		json_decref(spec);
		return;
	}
	/* A demotion is recorded in Spec.Role; the leader's membership step
	 * then hands leadership over if needed, takes the node out of raft and
	 * drops its ManagerStatus (see run_membership in manager.c). */
	if (role && strcmp(role, "worker") == 0 && json_object_get(node, "ManagerStatus") &&
	    !manager_demotion_keeps_quorum(rc->m, manager_node_raft_id(node))) {
		api_response_error(rc->resp, 400,
				   "can't demote node %s: raft: member cannot be removed, "
				   "because removing it may result in loss of quorum",
				   json_string_value(json_object_get(node, "ID")));
		json_decref(spec);
		return;
	}
	/* A promotion is recorded in Spec.Role too: the node's agent learns it
	 * from its session and asks for a manager certificate
	 * (manager_cluster_renew), then its raft replica joins as a learner. */
	json_t *copy = json_deep_copy(node);
	json_t *merged = json_deep_copy(json_object_get(node, "Spec"));
	json_object_update(merged, spec);
	json_decref(spec);
	json_object_set_new(copy, "Spec", merged);
	json_object_set_new(copy, "UpdatedAt", json_string(now));
	propose_write(rc, json_pack("{s:s,s:o}", "op", "node.put", "node", copy),
		      NULL, 200, 409);
}

static void write_node_remove(struct route_ctx *rc)
{
	json_t *node = store_node_find(&rc->m->store, rc->arg);
	if (!node) {
		api_response_error(rc->resp, 404, "node %s not found", rc->arg);
		return;
	}
	const char *id = json_string_value(json_object_get(node, "ID"));
	const char *state = json_string_value(
		json_object_get(json_object_get(node, "Status"), "State"));
	if (strcmp(node_role(node), "manager") == 0 || json_object_get(node, "ManagerStatus")) {
		api_response_error(rc->resp, 400,
				   "node %s is a cluster manager and is a member of the raft cluster. "
				   "It must be demoted to worker before removal", id);
		return;
	}
	if (!api_request_query_bool(rc->req, "force") && state &&
	    strcmp(state, "down") != 0) {
		api_response_error(rc->resp, 400,
				   "node %s is not down and can't be removed (use --force)", id);
		return;
	}
	propose_write(rc, json_pack("{s:s,s:s}", "op", "node.remove", "id", id), NULL,
		      200, 404);
}

/* Checks the parts of a swarm Spec that orchd uses. */
#define SWARM_MIN_CERT_EXPIRY_NS (3600LL * 1000000000LL)

/* Swarm's floor of one hour; tests of certificate renewal lower it with
 * the environment variable ORCHD_MIN_CERT_EXPIRY (seconds). */
static long long min_cert_expiry_ns(void)
{
	const char *env = getenv("ORCHD_MIN_CERT_EXPIRY");
	long long s = env ? atoll(env) : 0;
	return s > 0 ? s * 1000000000LL : SWARM_MIN_CERT_EXPIRY_NS;
}

static int check_swarm_spec(json_t *spec, char *err, size_t errlen)
{
	json_t *limit = json_object_get(json_object_get(spec, "Orchestration"),
					"TaskHistoryRetentionLimit");
	json_t *hb = json_object_get(json_object_get(spec, "Dispatcher"), "HeartbeatPeriod");
	json_t *expiry = json_object_get(json_object_get(spec, "CAConfig"), "NodeCertExpiry");
	if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 0)) {
		snprintf(err, errlen, "Orchestration.TaskHistoryRetentionLimit: must be a non-negative integer");
		return -1;
	}
	if (hb && (!json_is_integer(hb) || json_integer_value(hb) <= 0)) {
		snprintf(err, errlen, "Dispatcher.HeartbeatPeriod: must be a positive number of nanoseconds");
		return -1;
	}
	if (expiry && (!json_is_integer(expiry) ||
		       json_integer_value(expiry) < min_cert_expiry_ns())) {
		snprintf(err, errlen, "CAConfig.NodeCertExpiry: must be at least %s",
			 min_cert_expiry_ns() == SWARM_MIN_CERT_EXPIRY_NS ? "1 hour"
									   : "ORCHD_MIN_CERT_EXPIRY seconds");
		return -1;
	}
	json_t *rebalance = json_object_get(json_object_get(spec, "Orchestration"), "OrchRebalance");
	if (rebalance && !json_is_boolean(rebalance)) {
		snprintf(err, errlen, "Orchestration.OrchRebalance: must be true or false");
		return -1;
	}
	return 0;
}

static void write_swarm_update(struct route_ctx *rc)
{
	json_int_t version;
	if (json_is_null(rc->m->store.cluster)) {
		api_response_error(rc->resp, 503, "%s", not_manager_message);
		return;
	}
	if (!parse_version(rc, &version))
		return;
	json_t *spec = read_update_body(rc, check_swarm_spec, "swarm");
	if (!spec)
		return;
	char err[512], now[40];
	/* The hidden fields come from the store, never from the client. */
	json_t *current = json_object_get(rc->m->store.cluster, "Spec");
	json_object_set(spec, CLUSTER_SPEC_CA, json_object_get(current, CLUSTER_SPEC_CA));
	json_object_set(spec, CLUSTER_SPEC_SECRETS,
			json_object_get(current, CLUSTER_SPEC_SECRETS));
	if ((api_request_query_bool(rc->req, "rotateWorkerToken") &&
	     cluster_rotate_secret(spec, false, err, sizeof(err)) != 0) ||
	    (api_request_query_bool(rc->req, "rotateManagerToken") &&
	     cluster_rotate_secret(spec, true, err, sizeof(err)) != 0)) {
		api_response_error(rc->resp, 500, "%s", err);
		json_decref(spec);
		return;
	}
	manager_now_text(now, sizeof(now));
	propose_write(rc, json_pack("{s:s,s:I,s:o,s:s}", "op", "cluster.update", "version",
				    version, "spec", spec, "now", now),
		      NULL, 200, 409);
}

static const struct route write_routes[] = {
	{ "POST", "/swarm/init", NULL, write_swarm_init },
	{ "POST", "/swarm/leave", NULL, write_swarm_leave },
	{ "POST", "/services/create", NULL, write_service_create },
	{ "POST", "/services/", "/update", write_service_update },
	{ "DELETE", "/services/", "", write_service_remove },
	{ "POST", "/nodes/", "/update", write_node_update },
	{ "DELETE", "/nodes/", "", write_node_remove },
	{ "POST", "/swarm/update", NULL, write_swarm_update },
};

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
	{ "GET", "/_ping", NULL, local_ping },
	{ "HEAD", "/_ping", NULL, local_ping },
	{ "GET", "/version", NULL, local_version },
	{ "GET", "/info", NULL, local_info },
};

/* ------------------------------------------------------------ dispatch */

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
	} else if ((r = route_find(write_routes, N_ROUTES(write_routes), ac->req, arg,
				   sizeof(arg)))) {
		if (!m->raft && r->fn != write_swarm_init && r->fn != write_swarm_leave)
			api_response_error(ac->resp, 503, "%s", not_manager_message);
		else
			r->fn(&rc);
		for (size_t i = 0; i < m->n_writes; i++)
			if (m->writes[i].call == call)
				return; /* answered when applied */
	} else if (route_find(read_routes, N_ROUTES(read_routes), ac->req, arg,
			      sizeof(arg))) {
		uint64_t context = ++m->next_read_context;
		if (!m->raft) {
			api_response_error(ac->resp, 503, "%s", not_manager_message);
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
				.deadline_ns = inbox_now_ns() + MANAGER_READ_TIMEOUT_NS
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
	const struct route *r = route_find(read_routes, N_ROUTES(read_routes),
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
						      ? (inbox_now_ns() - m->leaderless_since_ns) / 1000000
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

/*
 * manager_api_write.c: the write routes (swarm init/leave/update, service
 * create/update/remove, node update/remove): each checks its input, then
 * proposes one command; the call is answered once that command applied
 * (manager_calls.c). Owns nothing.
 */
#include "manager_api_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

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
	manager_new_id(rc->m, cluster_id);
	json_t *ca = NULL, *secrets = NULL;
	int status = manager_swarm_init(rc->m, advertise,
					listen && *listen ? listen : CLUSTER_DEFAULT_LISTEN,
					cluster_id, &ca, &secrets, err, sizeof(err));
	json_decref(body);
	if (status != 0) {
		api_response_error(rc->resp, status, "%s", err);
		return;
	}
	manager_now_text(rc->m, now, sizeof(now));
	json_t *cmd = manager_cluster_init_cmd(rc->m, cluster_id, now);
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
	manager_new_id(rc->m, id);
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
	manager_now_text(rc->m, now, sizeof(now));
	json_t *cmd = json_pack("{s:s,s:{s:s,s:s,s:s,s:o,s:{s:{}}}}", "op",
				"service.create", "service", "ID", id, "CreatedAt",
				now, "UpdatedAt", now, "Spec", spec, "Endpoint",
				"Spec");
	propose_write(rc, cmd, json_pack("{s:s,s:n}", "ID", id, "Warnings"), 201, 409);
}

static void write_service_update(struct route_ctx *rc)
{
	json_t *service = route_found(rc, "service", store_service_find(&rc->m->store, rc->arg));
	json_int_t version;
	if (!service)
		return;
	if (!parse_version(rc, &version))
		return;
	json_t *spec = read_update_body(rc, spec_service_check, "service");
	if (!spec)
		return;
	char now[40];
	manager_now_text(rc->m, now, sizeof(now));
	json_t *cmd = json_pack("{s:s,s:O,s:I,s:o,s:s}", "op", "service.update",
				"id", json_object_get(service, "ID"), "version",
				version, "spec", spec, "now", now);
	propose_write(rc, cmd, json_pack("{s:n}", "Warnings"), 200, 409);
}

static void write_service_remove(struct route_ctx *rc)
{
	json_t *service = route_found(rc, "service", store_service_find(&rc->m->store, rc->arg));
	if (!service)
		return;
	char now[40];
	manager_now_text(rc->m, now, sizeof(now));
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
	json_t *node = route_found(rc, "node", store_node_find(&rc->m->store, rc->arg));
	json_int_t version;
	if (!node)
		return;
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
	manager_now_text(rc->m, now, sizeof(now));
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
	 * drops its ManagerStatus (see manager_members.c). */
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
	json_t *node = route_found(rc, "node", store_node_find(&rc->m->store, rc->arg));
	if (!node)
		return;
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
		api_response_error(rc->resp, 503, "%s", manager_not_manager_message);
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
	manager_now_text(rc->m, now, sizeof(now));
	propose_write(rc, json_pack("{s:s,s:I,s:o,s:s}", "op", "cluster.update", "version",
				    version, "spec", spec, "now", now),
		      NULL, 200, 409);
}

const struct route manager_write_routes[] = {
	{ "POST", "/swarm/init", NULL, write_swarm_init, true },
	{ "POST", "/swarm/leave", NULL, write_swarm_leave, true },
	{ "POST", "/services/create", NULL, write_service_create, false },
	{ "POST", "/services/", "/update", write_service_update, false },
	{ "DELETE", "/services/", "", write_service_remove, false },
	{ "POST", "/nodes/", "/update", write_node_update, false },
	{ "DELETE", "/nodes/", "", write_node_remove, false },
	{ "POST", "/swarm/update", NULL, write_swarm_update, false },
};

const size_t manager_n_write_routes =
	sizeof(manager_write_routes) / sizeof(manager_write_routes[0]);

/*
 * manager_api_read.c: the read routes (GET /swarm, /services, /nodes,
 * /tasks): answered from the store once raft confirmed the read (see
 * manager_api.c). Owns nothing.
 */
#include "manager_api_routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonref.h"

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
	json_t *service = route_found(rc, "service", store_service_find(&rc->m->store, rc->arg));
	if (service)
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
	json_t *node = route_found(rc, "node", store_node_find(&rc->m->store, rc->arg));
	if (node)
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
	json_t *task = route_found(rc, "task", store_task(&rc->m->store, rc->arg));
	if (task)
		api_response_json(rc->resp, 200, json_deep_copy(task));
}

static void read_swarm(struct route_ctx *rc)
{
	if (json_is_null(rc->m->store.cluster)) {
		api_response_error(rc->resp, 503, "%s", manager_not_manager_message);
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

const struct route manager_read_routes[] = {
	{ "GET", "/swarm", NULL, read_swarm, false },
	{ "GET", "/services", NULL, read_services, false },
	{ "GET", "/services/", "", read_service, false },
	{ "GET", "/nodes", NULL, read_nodes, false },
	{ "GET", "/nodes/", "", read_node, false },
	{ "GET", "/tasks", NULL, read_tasks, false },
	{ "GET", "/tasks/", "", read_task, false },
};

const size_t manager_n_read_routes =
	sizeof(manager_read_routes) / sizeof(manager_read_routes[0]);

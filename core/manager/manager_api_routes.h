/*
 * manager_api_routes.h: the API routes of the core thread, shared by the
 * files that answer them (manager_api.c: dispatch, local routes, internal
 * calls; manager_api_read.c; manager_api_write.c).
 */
#ifndef ORCHD_MANAGER_API_ROUTES_H
#define ORCHD_MANAGER_API_ROUTES_H

#include "manager_internal.h"

struct route_ctx {
	struct manager *m;
	struct inbox_call *call;
	const struct api_request *req;
	struct api_response *resp;
	const char *arg; /* the {id} of the path, when there is one */
};

typedef void (*route_fn)(struct route_ctx *rc);

struct route {
	const char *method;
	const char *prefix;
	const char *suffix; /* NULL: exact path, no {id} */
	route_fn fn;
	bool outside_swarm; /* also served by a node not in a swarm */
};

/* obj, the {what} named by the route's {id}; or NULL, the route then
 * answered 404 "{what} {id} not found". */
json_t *route_found(struct route_ctx *rc, const char *what, json_t *obj);

/* "This node is not a swarm manager..." */
extern const char *const manager_not_manager_message;

extern const struct route manager_read_routes[];
extern const size_t manager_n_read_routes;
extern const struct route manager_write_routes[];
extern const size_t manager_n_write_routes;

#endif

/*
 * orch_sdk.h: helpers for plugin authors. With orch_plugin.h and
 * orch_protocol.h this is all a plugin needs: a request server that decodes
 * the core's JSON requests and encodes replies, an event sender, and (below)
 * helpers for scheduler plugins. Link with liborch-sdk
 * (`pkg-config --cflags --libs orch-sdk`).
 */
#ifndef ORCH_SDK_H
#define ORCH_SDK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch_plugin.h"
#include "orch_protocol.h"

/* ------------------------------------------------------- request server */

/* Called for every request, possibly from several worker threads at once
 * (one per worker context). `request` is the decoded JSON object (borrowed);
 * `op` its "op" string. Returns a NEW reply object (the server adds "v");
 * returning NULL sends {"error":"internal error: no reply"}. */
typedef json_t *(*orch_sdk_handler)(void *ctx, const char *op,
				    json_t *request);

struct orch_sdk_server;

/* Listens (nng REP) on url with `workers` concurrent contexts (>= 1). A
 * request that is not a JSON object with "v" == 1 and a string "op" is
 * answered with an error reply without calling the handler. */
int orch_sdk_server_start(const char *url, unsigned workers,
			  orch_sdk_handler handler, void *ctx,
			  struct orch_sdk_server **out, char *err,
			  size_t errlen);
/* Stops serving; waits for running handlers to return. NULL is fine. */
void orch_sdk_server_stop(struct orch_sdk_server *server);

/* New error reply {"error": "<formatted>"}. */
json_t *orch_sdk_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* --------------------------------------------------------------- events */

struct orch_sdk_events;

/* Dials (nng PUSH) the host's event_url. */
int orch_sdk_events_open(const char *url, struct orch_sdk_events **out,
			 char *err, size_t errlen);
/* Sends one event object; steals the reference; adds "v". Thread-safe.
 * Returns 0 or an nng error number. */
int orch_sdk_events_send(struct orch_sdk_events *events, json_t *event);
/* Convenience: builds a STATUS object (orch_protocol.h) with timestamp now.
 * error and runtime_id may be NULL. Returns a new object. */
json_t *orch_sdk_task_status(const char *task_id, const char *state,
			     int exit_code, const char *error,
			     const char *runtime_id);
/* Sends {"op":"task_status","plugin":plugin,"statuses":statuses};
 * steals statuses (a JSON array). */
int orch_sdk_events_send_statuses(struct orch_sdk_events *events,
				  const char *plugin, json_t *statuses);
void orch_sdk_events_close(struct orch_sdk_events *events);

/* ---------------------------------------------------- client (the host's) */

/* Sends one request to a plugin's request_url and waits up to timeout_ms
 * for the reply. Used by orchd's core and by tests. Steals request; *reply
 * is a new object. Returns 0, or -1 with err filled (transport failure,
 * timeout, garbage reply). A reply carrying "error" is still returned (0). */
struct orch_sdk_client;
int orch_sdk_client_open(const char *url, struct orch_sdk_client **out,
			 char *err, size_t errlen);
int orch_sdk_client_call(struct orch_sdk_client *client, json_t *request,
			 int timeout_ms, json_t **reply, char *err,
			 size_t errlen);
void orch_sdk_client_close(struct orch_sdk_client *client);

/* Scheduler helpers are declared below this line (added by the SDK's
 * scheduler part: decoding a "schedule" request into C structs, matching
 * constraints, building the reply). */

/* ------------------------------------------------------ scheduler helpers */

/* A decoded "schedule" request (orch_protocol.h). Every string points into
 * the JSON request, which the decoded request keeps a reference to: it is
 * valid until orch_sched_request_free. Required fields: node "id", "state",
 * "availability"; task "id", "service_id", "runtime". Optional fields
 * default to "" (hostname), "worker" (role), empty (labels, runtimes,
 * tasks_by_service, constraints) and 0 (resources, reserved, tasks_total,
 * reservations). A field of the wrong type, or a negative number, makes
 * the whole request invalid. */
struct orch_sched_resources {
	int64_t nano_cpus;
	int64_t memory_bytes;
};

struct orch_sched_label {
	const char *key;
	const char *value;
};

struct orch_sched_service_count {
	const char *service_id;
	int64_t count;
};

struct orch_sched_node {
	const char *id;
	const char *hostname;
	const char *role;         /* "manager" | "worker" */
	const char *state;        /* "ready" | "down" | ... */
	const char *availability; /* "active" | "pause" | "drain" */
	struct orch_sched_label *labels;
	size_t n_labels;
	const char **runtimes;
	size_t n_runtimes;
	struct orch_sched_resources resources; /* capacity */
	struct orch_sched_resources reserved;  /* already reserved */
	int64_t tasks_total;
	struct orch_sched_service_count *tasks_by_service;
	size_t n_tasks_by_service;
	size_t cap_tasks_by_service; /* allocated entries (private) */
};

struct orch_sched_task {
	const char *id;
	const char *service_id;
	const char *runtime;
	const char **constraints;
	size_t n_constraints;
	struct orch_sched_resources reservations;
};

struct orch_sched_request {
	struct orch_sched_node *nodes;
	size_t n_nodes;
	struct orch_sched_task *tasks;
	size_t n_tasks;
	json_t *json; /* the request the strings point into (a reference) */
};

/* Decodes a schedule request. Returns 0, or -1 with err naming the field
 * ("nodes[1].labels: expected an object"); *out is then empty (free is a
 * no-op). Takes its own reference on request. */
int orch_sched_request_decode(json_t *request, struct orch_sched_request *out,
			      char *err, size_t errlen);
void orch_sched_request_free(struct orch_sched_request *request);

/* A parsed constraint "node.labels.zone==eu". key and value point into the
 * expression, which must outlive the constraint; they are NOT
 * NUL-terminated (use the lengths). Keys are node.id, node.hostname,
 * node.role and node.labels.<label> (the "node." part is
 * case-insensitive, a label name case-sensitive); values are compared
 * case-insensitively, and a missing label matches as the empty string, as
 * in Swarm. */
enum orch_sched_constraint_key {
	ORCH_SCHED_KEY_ID = 1,
	ORCH_SCHED_KEY_HOSTNAME,
	ORCH_SCHED_KEY_ROLE,
	ORCH_SCHED_KEY_LABEL,
};

struct orch_sched_constraint {
	enum orch_sched_constraint_key key;
	bool equal; /* true for ==, false for != */
	const char *label;
	size_t label_len; /* ORCH_SCHED_KEY_LABEL only */
	const char *value;
	size_t value_len;
};

/* Parses one expression. Returns 0, or -1 with err naming it:
 * invalid constraint "node.foo==x": unknown key "node.foo". */
int orch_sched_constraint_parse(const char *expression,
				struct orch_sched_constraint *out, char *err,
				size_t errlen);
bool orch_sched_constraint_match(const struct orch_sched_constraint *c,
				 const struct orch_sched_node *node);
/* Checks every constraint of task against node. Returns 0 with *match set,
 * or -1 with err when a constraint is invalid (whatever the node). */
int orch_sched_constraints_match(const struct orch_sched_task *task,
				 const struct orch_sched_node *node,
				 bool *match, char *err, size_t errlen);

/* Node filters and bookkeeping for a batch. */
/* state "ready" and availability "active". */
bool orch_sched_node_available(const struct orch_sched_node *node);
/* A task without a runtime ("" or NULL) runs on the node's default one:
 * any node that offers a runtime takes it. */
bool orch_sched_node_offers_runtime(const struct orch_sched_node *node,
				    const char *runtime);
/* Unreserved capacity (capacity - reserved, never below 0). */
struct orch_sched_resources
orch_sched_node_free(const struct orch_sched_node *node);
/* Tasks of service_id already on node (0 when none). */
int64_t orch_sched_node_service_tasks(const struct orch_sched_node *node,
				      const char *service_id);
/* Records task as placed on node: adds its reservations to node->reserved
 * and counts it in tasks_total and tasks_by_service. Returns 0, or -1 when
 * out of memory. */
int orch_sched_node_commit(struct orch_sched_node *node,
			   const struct orch_sched_task *task);

/* Reply building: a new {"placements":[],"unplaced":[]} (the server adds
 * "v"), then one call per task. Both return 0, or -1 when out of memory. */
json_t *orch_sched_reply_new(void);
int orch_sched_reply_place(json_t *reply, const char *task_id,
			   const char *node_id);
int orch_sched_reply_unplaced(json_t *reply, const char *task_id,
			      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

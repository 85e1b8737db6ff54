/*
 * orch_sdk.h: the one header of orchd's plugin SDK. A plugin includes only
 * this file and links only liborch-sdk (`pkg-config --cflags --libs
 * orch-sdk`). It declares:
 *
 *   - the plugin ABI (orch_plugin.h: struct orch_plugin, struct orch_host,
 *     ORCH_PLUGIN_EXPORT) and the protocol's names (orch_protocol.h);
 *   - host helpers: reading an option (orch_option), logging (orch_logf),
 *     an error text (orch_errorf);
 *   - the low-level layer the helpers are built on: a JSON request server,
 *     an event sender, a client. Only this layer uses jansson types; a
 *     plugin built on the helpers below never touches JSON;
 *   - the scheduler helper (orch_scheduler_start, with the decoded request
 *     structs it hands out): the plugin writes only its choice among the
 *     nodes that fit a task;
 *   - the runtime helper (orch_runtime_start): the plugin writes callbacks
 *     that start, stop, remove, list and read the logs of one task, and
 *     reports what its tasks do with orch_runtime_report;
 *   - child processes (orch_children_start): tasks run as child
 *     processes, their statuses reported, stopped with a signal.
 *
 * sdk/README.md is the guide; examples/ holds one plugin of each kind.
 */
#ifndef ORCH_SDK_H
#define ORCH_SDK_H

#include <jansson.h> /* the low-level layer's json_t (the helpers need none) */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch_plugin.h"
#include "orch_protocol.h"

/* --------------------------------------------------------- host helpers */

/* What orch_option found. */
enum orch_option_result {
	ORCH_OPTION_ERROR = -1,  /* buf holds why (bad type, too long, ...) */
	ORCH_OPTION_ABSENT = 0,  /* not set (or set to null); buf is "" */
	ORCH_OPTION_FOUND = 1,   /* buf holds the value as text */
};

/* Writes a printf-style error text into err (errlen bytes, cut to fit;
 * nothing when err is NULL or errlen 0), as every SDK call and callback
 * that fails does. */
void orch_errorf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Looks key up in host->config_json (the plugin's options, set with
 * `orchd --plugin-opt NAME.KEY=VALUE` or the config file). A string value
 * is copied as is; a number or boolean as its JSON text ("30", "true").
 * An object or array, a value longer than len - 1 bytes, or a config that
 * is not a JSON object is an error whose text (naming the key) is written
 * into buf. Declare the keys in struct orch_plugin's `options`. */
enum orch_option_result orch_option(const struct orch_host *host,
				    const char *key, char *buf, size_t len);

/* Logs one line through host->log, the plugin's name attached (to stderr
 * when the host gave no log function). */
void orch_logf(const struct orch_host *host, enum orch_log_level level,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

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

/* ---------------------------------------------- scheduler: decoded data */

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

/* ----------------------------------------------------- scheduler helper */

/* A placement plugin that only decides. The SDK serves the plugin's
 * request_url, decodes every "schedule" request, and for each task of the
 * batch, in order: drops the nodes that cannot take it (not ready or not
 * active, runtime not offered, not enough unreserved CPU or memory,
 * constraints not satisfied), asks `pick` to choose among the rest, counts
 * the choice on the node (orch_sched_node_commit, so later tasks of the
 * batch see it) and replies. A task no node fits is unplaced with a reason
 * in Swarm's words: "no suitable node (insufficient memory on 1 node;
 * scheduling constraints not satisfied on 2 nodes)"; a task with an invalid
 * constraint with the constraint's error. "info" is answered too. */
#define ORCH_SCHEDULER_VERSION 1

struct orch_scheduler {
	uint32_t version; /* ORCH_SCHEDULER_VERSION the plugin was built for */
	unsigned workers; /* requests served at once; 0 means 1 */
	/* Returns the node for task among fit[0..n_fit-1] (n_fit >= 1, in the
	 * order the core listed the nodes; every one fits), or NULL to leave
	 * the task unplaced. With workers > 1 it runs on several threads at
	 * once (for different requests; one request is placed by one thread). */
	struct orch_sched_node *(*pick)(void *ctx,
					const struct orch_sched_task *task,
					struct orch_sched_node *const *fit,
					size_t n_fit);
	void *ctx; /* handed to pick */
};

/* Starts serving host->request_url for scheduler (read at once, not kept).
 * Shaped like struct orch_plugin's init: *state receives the server, which
 * orch_scheduler_stop (shaped like fini) stops and frees. Returns 0, or -1
 * with err filled. */
int orch_scheduler_start(const struct orch_host *host,
			 const struct orch_scheduler *scheduler, void **state,
			 char *err, size_t errlen);
void orch_scheduler_stop(void *state);

/* ------------------------------------------------------- runtime helper */

/* A task's state as runtimes report it (orch_protocol.h's STATUS). */
enum orch_task_state {
	ORCH_TASK_PREPARING = 1,
	ORCH_TASK_STARTING,
	ORCH_TASK_RUNNING,
	ORCH_TASK_COMPLETE, /* ended by itself with exit code 0 */
	ORCH_TASK_FAILED,   /* ended by itself otherwise, or could not run */
	ORCH_TASK_SHUTDOWN, /* ended because it was asked to stop */
	ORCH_TASK_REJECTED, /* never started: the runtime refused it */
};

/* "preparing" ... "rejected"; "?" for a value outside the enum. */
const char *orch_task_state_name(enum orch_task_state state);

struct orch_task_status {
	const char *task_id;
	enum orch_task_state state;
	int exit_code;          /* for ended states (-1: none) */
	const char *error;      /* why it failed or was rejected; NULL: none */
	const char *runtime_id; /* pid or container id; NULL: none */
};

struct orch_rt_mount {
	const char *source;
	const char *target;
	bool readonly;
};

/* A decoded RTASK (orch_protocol.h). Strings and arrays are valid only
 * during the callback that receives it: copy what you keep. Absent fields
 * are "" / empty / 0; stop_grace_ms is -1 when the core gave none. */
struct orch_rt_task {
	const char *id; /* never empty */
	const char *service_id;
	const char *service_name;
	int64_t slot;
	const char *node_id;
	const char *image; /* an image, or a program for process runtimes */
	const char **command;
	size_t n_command;
	const char **args;
	size_t n_args;
	const char **env; /* "KEY=VALUE" */
	size_t n_env;
	struct orch_rt_mount *mounts;
	size_t n_mounts;
	struct orch_sched_resources limits;
	struct orch_sched_resources reservations;
	int64_t stop_grace_ms;
	struct orch_sched_label *labels;
	size_t n_labels;
};

/* What "info" answers. The SDK fills it first with available = true, no
 * error and this node's capacity (orch_node_capacity); info() changes what
 * differs. */
struct orch_rt_info {
	bool available;
	char error[512]; /* why not available */
	struct orch_sched_resources resources;
};

/* Collects the answer to "list" (opaque). */
struct orch_rt_list;
/* Adds one task's current status. Returns 0, or -1 when out of memory. */
int orch_rt_list_add(struct orch_rt_list *list,
		     const struct orch_task_status *status);

#define ORCH_RUNTIME_VERSION 1

/* The callbacks of a runtime. Every task operation gets one task (the SDK
 * splits the core's batches and answers them whole); on refusal a callback
 * returns -1 with a reason in err, which the core shows for that task.
 * Callbacks may run on several threads at once (workers > 1). */
struct orch_runtime {
	uint32_t version; /* ORCH_RUNTIME_VERSION the plugin was built for */
	unsigned workers; /* requests served at once; 0 means 1 */
	void *ctx;        /* handed to every callback */
	/* Optional: availability and resources (see struct orch_rt_info). */
	void (*info)(void *ctx, struct orch_rt_info *info);
	/* Takes the task on: 0 means accepted, and from then on the task's
	 * progress is reported with orch_runtime_report (running, then how it
	 * ended). Must not block for long: start in the background. */
	int (*start)(void *ctx, const struct orch_rt_task *task, char *err,
		     size_t errlen);
	/* Asks the task to stop: SIGTERM (or the engine's stop), then SIGKILL
	 * after grace_ms (-1: the task's own stop_grace_ms). Returns at once;
	 * the end is reported as a status (shutdown). */
	int (*stop)(void *ctx, const char *task_id, int64_t grace_ms,
		    char *err, size_t errlen);
	/* Forgets an ended task and frees everything it held. */
	int (*remove)(void *ctx, const char *task_id, char *err,
		      size_t errlen);
	/* Adds the status of every task held (running or ended and not
	 * removed) with orch_rt_list_add: orchd adopts them after a restart. */
	int (*list)(void *ctx, struct orch_rt_list *list, char *err,
		    size_t errlen);
	/* Optional: the task's output, its last `tail` lines (all when
	 * tail <= 0), in a malloc'd buffer the SDK frees (it replaces bytes
	 * that are not UTF-8). */
	int (*logs)(void *ctx, const char *task_id, int64_t tail, char **data,
		    size_t *len, char *err, size_t errlen);
};

struct orch_runtime_server;

/* Opens the event channel to host->event_url and serves
 * host->request_url with runtime's callbacks (runtime is read at once, not
 * kept). *out is set before the first request can arrive, so callbacks may
 * use it. Returns 0, or -1 with err filled. */
int orch_runtime_start(const struct orch_host *host,
		       const struct orch_runtime *runtime,
		       struct orch_runtime_server **out, char *err,
		       size_t errlen);
/* Queues a task_status event; thread-safe, never blocks on the host. A
 * sender thread sends what is queued in batches, in order. Returns 0, or -1
 * when out of memory or stopped. */
int orch_runtime_report(struct orch_runtime_server *server,
			const struct orch_task_status *status);
/* Stops serving, sends what is still queued, closes. Call it once nothing
 * reports any more (stop your own threads first). NULL is fine. */
void orch_runtime_stop(struct orch_runtime_server *server);

/* ------------------------------------------------------ runtime toolbox */

/* This node's CPUs (those this process may run on) and memory (MemTotal).
 * Returns 0, or -1 (fields 0) when neither can be read. */
int orch_node_capacity(struct orch_sched_resources *out);
/* Replaces every byte of text[0..len) that is not part of valid UTF-8 with
 * '?' (a JSON string must be UTF-8; task output may be anything). */
void orch_utf8_sanitize(char *text, size_t len);
/* Reads the last `lines` lines (all when lines <= 0) of at most the last
 * max_bytes of the file at path (a partial first line is dropped), into a
 * malloc'd, NUL-terminated *data of *len bytes, sanitized as UTF-8. A file
 * that does not exist reads as empty. Returns 0, or -1 with err. */
int orch_file_tail(const char *path, int64_t lines, size_t max_bytes,
		   char **data, size_t *len, char *err, size_t errlen);

/* ------------------------------------------------------ child processes */

/* The tasks of a runtime that runs them as child processes of the plugin
 * (orch_sdk_child.c). A task's argv is image (looked up in PATH), then
 * command, then args; its environment is env, plus a default PATH when env
 * sets none; stdin is /dev/null, stdout and stderr go to a log file; it
 * runs in a session (and process group) of its own. The set reports, with
 * orch_runtime_report, "running" once a task is spawned and, when it
 * ends, "complete" (exit code 0), "failed" (another exit code, or 128 + N
 * and "killed by signal N") or "shutdown" (it ended after a stop). A
 * thread per task waits for its end. Every call is thread-safe; the
 * refusals are the err texts the core shows for the task. */
struct orch_children;

/* A new, empty set; default_grace_ms is the stop grace of a task that
 * sets no stop_grace_ms. NULL when out of memory. */
struct orch_children *orch_children_new(int64_t default_grace_ms);
/* Spawns the task, reported through server. log_path receives its output
 * (created or truncated; NULL: /dev/null). Refuses a task id it holds
 * ("task already exists"), a task without image or with mounts, and any
 * start once orch_children_free has begun. Returns 0, or -1 with err
 * ("cannot run sh: ..."). */
int orch_children_start(struct orch_children *set,
			struct orch_runtime_server *server,
			const struct orch_rt_task *task, const char *log_path,
			char *err, size_t errlen);
/* Sends SIGTERM to the task's process group, then SIGKILL once grace_ms
 * (< 0: the task's grace) has run out. Returns at once: 0 (also when the
 * task has ended or is stopping), or -1 with err "no such task". */
int orch_children_stop(struct orch_children *set, const char *task_id,
		       int64_t grace_ms, char *err, size_t errlen);
/* Forgets an ended task; -1 with err "no such task" or "task has not
 * ended; stop it first". */
int orch_children_remove(struct orch_children *set, const char *task_id,
			 char *err, size_t errlen);
/* Adds the status of every task held to list (for "list"). */
int orch_children_list(struct orch_children *set, struct orch_rt_list *list,
		       char *err, size_t errlen);
bool orch_children_has(struct orch_children *set, const char *task_id);
/* SIGKILLs the tasks still running, waits until each end is reported
 * (shutdown), frees the set: for fini, before orch_runtime_stop. NULL is
 * fine. */
void orch_children_free(struct orch_children *set);

#endif

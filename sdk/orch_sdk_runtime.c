/*
 * orch_sdk_runtime.c: the runtime helper (orch_sdk.h). It serves a runtime
 * plugin's request_url: decodes the core's batched requests (start, stop,
 * remove with many tasks; info, list, logs), calls the plugin's callback
 * once per task and answers the batch whole. It also owns the plugin's
 * event channel: orch_runtime_report queues a status, and one sender
 * thread pushes what is queued as task_status events, in order, many
 * statuses to an event, so that a slow host never blocks a callback.
 *
 * State owned here: struct orch_runtime_server from start to stop: a copy
 * of the plugin's callbacks, the request server, the event socket and the
 * queue of unsent statuses (guarded by `lock`).
 */
#include "sdk_decode.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct orch_rt_list {
	json_t *tasks; /* STATUS objects */
};

struct orch_runtime_server {
	struct orch_runtime rt; /* the fields of its version */
	const struct orch_host *host;
	char name[64];
	struct orch_sdk_server *server;
	struct orch_sdk_events *events;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	json_t *queued; /* STATUS objects not sent yet */
	bool stopping;
	bool sender_running;
	pthread_t sender;
};

/* --------------------------------------------------------------- status */

const char *orch_task_state_name(enum orch_task_state state)
{
	static const char *const names[] = {
		[ORCH_TASK_PREPARING] = "preparing",
		[ORCH_TASK_STARTING] = "starting",
		[ORCH_TASK_RUNNING] = "running",
		[ORCH_TASK_COMPLETE] = "complete",
		[ORCH_TASK_FAILED] = "failed",
		[ORCH_TASK_SHUTDOWN] = "shutdown",
		[ORCH_TASK_REJECTED] = "rejected",
	};

	if ((int)state < ORCH_TASK_PREPARING || state > ORCH_TASK_REJECTED)
		return "?";
	return names[state];
}

static json_t *status_json(const struct orch_task_status *status)
{
	if (status->task_id == NULL)
		return NULL;
	return orch_sdk_task_status(status->task_id,
				    orch_task_state_name(status->state),
				    status->exit_code, status->error,
				    status->runtime_id);
}

int orch_rt_list_add(struct orch_rt_list *list,
		     const struct orch_task_status *status)
{
	return json_array_append_new(list->tasks, status_json(status));
}

/* --------------------------------------------------------------- events */

/* Sends what is queued until stopped and the queue is empty. */
static void *sender_main(void *arg)
{
	struct orch_runtime_server *rs = arg;
	json_t *batch;
	size_t count;
	int rc;

	pthread_mutex_lock(&rs->lock);
	for (;;) {
		while (json_array_size(rs->queued) == 0 && !rs->stopping)
			pthread_cond_wait(&rs->wake, &rs->lock);
		if (json_array_size(rs->queued) == 0)
			break;
		batch = rs->queued;
		rs->queued = json_array();
		pthread_mutex_unlock(&rs->lock);
		count = json_array_size(batch);
		rc = orch_sdk_events_send_statuses(rs->events, rs->name,
						   batch);
		if (rc != 0)
			orch_logf(rs->host, ORCH_LOG_WARN,
				  "%zu task statuses not delivered to the host "
				  "(nng error %d); orchd learns them from the "
				  "next list",
				  count, rc);
		pthread_mutex_lock(&rs->lock);
	}
	pthread_mutex_unlock(&rs->lock);
	return NULL;
}

int orch_runtime_report(struct orch_runtime_server *rs,
			const struct orch_task_status *status)
{
	json_t *item = status_json(status);
	int rc = -1;

	if (item == NULL)
		return -1;
	pthread_mutex_lock(&rs->lock);
	if (!rs->stopping && rs->queued != NULL &&
	    json_array_append_new(rs->queued, item) == 0) {
		item = NULL;
		rc = 0;
		pthread_cond_signal(&rs->wake);
	}
	pthread_mutex_unlock(&rs->lock);
	json_decref(item);
	return rc;
}

/* --------------------------------------------------------------- decode */

static int decode_mounts(json_t *obj, struct orch_rt_task *t,
			 const struct sdk_where *w)
{
	json_t *mounts = json_object_get(obj, "mounts"), *m, *ro;
	struct orch_rt_mount *out;
	size_t i;

	if (mounts == NULL || json_is_null(mounts))
		return 0;
	if (!json_is_array(mounts))
		return sdk_field_error(w, "mounts", "expected an array");
	if (json_array_size(mounts) == 0)
		return 0;
	t->mounts = calloc(json_array_size(mounts), sizeof(*t->mounts));
	if (t->mounts == NULL)
		return sdk_field_error(w, "mounts", "out of memory");
	json_array_foreach(mounts, i, m)
	{
		out = &t->mounts[t->n_mounts++];
		ro = json_object_get(m, "readonly");
		if (!json_is_object(m) ||
		    sdk_dec_string(m, "source", NULL, &out->source, w) ||
		    sdk_dec_string(m, "target", NULL, &out->target, w) ||
		    (ro != NULL && !json_is_boolean(ro)))
			return sdk_field_error(w, "mounts",
					       "want {\"source\", \"target\", "
					       "\"readonly\": bool}");
		out->readonly = json_is_true(ro);
	}
	return 0;
}

static void task_free(struct orch_rt_task *t)
{
	free(t->command);
	free(t->args);
	free(t->env);
	free(t->mounts);
	free(t->labels);
}

/* An RTASK (orch_protocol.h) into t; its strings point into obj. */
static int decode_task(json_t *obj, struct orch_rt_task *t,
		       const struct sdk_where *w)
{
	memset(t, 0, sizeof(*t));
	t->stop_grace_ms = -1;
	if (sdk_dec_object(obj, w) ||
	    sdk_dec_string(obj, "id", NULL, &t->id, w) ||
	    sdk_dec_string(obj, "service_id", "", &t->service_id, w) ||
	    sdk_dec_string(obj, "service_name", "", &t->service_name, w) ||
	    sdk_dec_count(obj, "slot", &t->slot, w) ||
	    sdk_dec_string(obj, "node_id", "", &t->node_id, w) ||
	    sdk_dec_string(obj, "image", "", &t->image, w) ||
	    sdk_dec_strings(obj, "command", &t->command, &t->n_command, w) ||
	    sdk_dec_strings(obj, "args", &t->args, &t->n_args, w) ||
	    sdk_dec_strings(obj, "env", &t->env, &t->n_env, w) ||
	    decode_mounts(obj, t, w) ||
	    sdk_dec_resources(obj, "limits", &t->limits, w) ||
	    sdk_dec_resources(obj, "reservations", &t->reservations, w) ||
	    sdk_dec_labels(obj, "labels", &t->labels, &t->n_labels, w))
		return -1;
	if (t->id[0] == '\0')
		return sdk_field_error(w, "id", "must not be empty");
	if (json_object_get(obj, "stop_grace_ms") != NULL &&
	    sdk_dec_count(obj, "stop_grace_ms", &t->stop_grace_ms, w))
		return -1;
	return 0;
}

/* ------------------------------------------------------------- requests */

/* The answer to one batch: ids that went well and per-task errors. */
struct rt_batch {
	json_t *done;
	json_t *errors;
};

static void batch_error(struct rt_batch *b, const char *task_id,
			const char *why)
{
	json_array_append_new(b->errors,
			      json_pack("{s:s, s:s}", "task_id",
					task_id ? task_id : "", "error",
					why[0] ? why : "refused (no reason "
						       "given)"));
}

static void batch_result(struct rt_batch *b, const char *task_id, int rc,
			 const char *why)
{
	if (rc == 0)
		json_array_append_new(b->done, json_string(task_id));
	else
		batch_error(b, task_id, why);
}

static void start_one(struct orch_runtime_server *rs, json_t *obj,
		      size_t index, struct rt_batch *b)
{
	char err[1024] = "";
	struct orch_rt_task task;
	struct sdk_where w = {"tasks", index, err, sizeof(err)};
	int rc;

	rc = decode_task(obj, &task, &w);
	if (rc == 0)
		rc = rs->rt.start(rs->rt.ctx, &task, err, sizeof(err));
	batch_result(b, json_string_value(json_object_get(obj, "id")), rc,
		     err);
	task_free(&task);
}

/* One entry {"task_id", "grace_ms"} of a stop or remove batch. */
static void stop_or_remove_one(struct orch_runtime_server *rs, bool stop,
			       json_t *obj, size_t index, struct rt_batch *b)
{
	char err[1024] = "";
	struct sdk_where w = {"tasks", index, err, sizeof(err)};
	int64_t grace_ms = -1;
	const char *id = NULL;
	int rc;

	rc = sdk_dec_object(obj, &w) ||
	     sdk_dec_string(obj, "task_id", NULL, &id, &w);
	if (rc == 0 && stop && json_object_get(obj, "grace_ms") != NULL)
		rc = sdk_dec_count(obj, "grace_ms", &grace_ms, &w);
	if (rc == 0 && stop)
		rc = rs->rt.stop(rs->rt.ctx, id, grace_ms, err, sizeof(err));
	else if (rc == 0)
		rc = rs->rt.remove(rs->rt.ctx, id, err, sizeof(err));
	batch_result(b, id, rc, err);
}

static json_t *handle_batch(struct orch_runtime_server *rs, const char *op,
			    json_t *request)
{
	json_t *tasks = json_object_get(request, "tasks"), *obj;
	struct rt_batch b;
	size_t i;

	if (!json_is_array(tasks))
		return orch_sdk_error("%s: \"tasks\" must be an array", op);
	b.done = json_array();
	b.errors = json_array();
	json_array_foreach(tasks, i, obj)
	{
		if (strcmp(op, ORCH_OP_START) == 0)
			start_one(rs, obj, i, &b);
		else
			stop_or_remove_one(rs, strcmp(op, ORCH_OP_STOP) == 0,
					   obj, i, &b);
	}
	return json_pack("{s:o, s:o}",
			 strcmp(op, ORCH_OP_REMOVE) == 0 ? "removed"
							 : "accepted",
			 b.done, "errors", b.errors);
}

static json_t *handle_info(struct orch_runtime_server *rs)
{
	struct orch_rt_info info = {.available = true};
	json_t *reply;

	orch_node_capacity(&info.resources);
	if (rs->rt.info != NULL)
		rs->rt.info(rs->rt.ctx, &info);
	reply = json_pack("{s:s, s:s, s:b, s:{s:I, s:I}}", "name", rs->name,
			  "kind", "runtime", "available", info.available,
			  "resources", "nano_cpus",
			  (json_int_t)info.resources.nano_cpus, "memory_bytes",
			  (json_int_t)info.resources.memory_bytes);
	if (reply != NULL && !info.available)
		json_object_set_new(reply, "error",
				    json_string(info.error[0] ? info.error
							      : "unavailable"));
	return reply;
}

static json_t *handle_list(struct orch_runtime_server *rs)
{
	struct orch_rt_list list = {.tasks = json_array()};
	char err[1024] = "";

	if (rs->rt.list(rs->rt.ctx, &list, err, sizeof(err)) != 0) {
		json_decref(list.tasks);
		return orch_sdk_error("list: %s", err);
	}
	return json_pack("{s:o}", "tasks", list.tasks);
}

static json_t *handle_logs(struct orch_runtime_server *rs, json_t *request)
{
	const char *id = json_string_value(json_object_get(request, "task_id"));
	json_t *tail = json_object_get(request, "tail"), *reply;
	char err[1024] = "", *data = NULL;
	size_t len = 0;

	if (rs->rt.logs == NULL)
		return orch_sdk_error("runtime %s keeps no logs", rs->name);
	if (id == NULL)
		return orch_sdk_error("logs: missing \"task_id\"");
	if (tail != NULL && !json_is_integer(tail))
		return orch_sdk_error("logs: \"tail\" must be an integer");
	if (rs->rt.logs(rs->rt.ctx, id, tail ? json_integer_value(tail) : 0,
			&data, &len, err, sizeof(err)) != 0) {
		free(data);
		return orch_sdk_error("logs: %s", err);
	}
	orch_utf8_sanitize(data, len);
	reply = json_pack("{s:s%}", "data", data ? data : "", len);
	free(data);
	return reply;
}

static json_t *runtime_handle(void *ctx, const char *op, json_t *request)
{
	struct orch_runtime_server *rs = ctx;

	if (strcmp(op, ORCH_OP_INFO) == 0)
		return handle_info(rs);
	if (strcmp(op, ORCH_OP_START) == 0 || strcmp(op, ORCH_OP_STOP) == 0 ||
	    strcmp(op, ORCH_OP_REMOVE) == 0)
		return handle_batch(rs, op, request);
	if (strcmp(op, ORCH_OP_LIST) == 0)
		return handle_list(rs);
	if (strcmp(op, ORCH_OP_LOGS) == 0)
		return handle_logs(rs, request);
	return orch_sdk_error("runtime %s does not know op \"%s\"", rs->name,
			      op);
}

/* ------------------------------------------------------------ lifecycle */

static const char *runtime_invalid(const struct orch_runtime *rt)
{
	if (rt == NULL || rt->version < 1)
		return "struct orch_runtime has no version";
	if (rt->start == NULL || rt->stop == NULL || rt->remove == NULL ||
	    rt->list == NULL)
		return "start, stop, remove and list are required";
	return NULL;
}

int orch_runtime_start(const struct orch_host *host,
		       const struct orch_runtime *runtime,
		       struct orch_runtime_server **out, char *err,
		       size_t errlen)
{
	const char *why = runtime_invalid(runtime);
	struct orch_runtime_server *rs;

	*out = NULL;
	if (why != NULL) {
		orch_errorf(err, errlen, "orch_runtime_start: %s", why);
		return -1;
	}
	rs = calloc(1, sizeof(*rs));
	if (rs == NULL || (rs->queued = json_array()) == NULL) {
		free(rs);
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	rs->rt = *runtime; /* version 1 is every field of today's struct */
	rs->host = host;
	snprintf(rs->name, sizeof(rs->name), "%s",
		 host->plugin_name ? host->plugin_name : "runtime");
	pthread_mutex_init(&rs->lock, NULL);
	pthread_cond_init(&rs->wake, NULL);
	*out = rs;
	if (orch_sdk_events_open(host->event_url, &rs->events, err, errlen))
		goto fail;
	if (pthread_create(&rs->sender, NULL, sender_main, rs) != 0) {
		orch_errorf(err, errlen, "cannot start the event sender thread");
		goto fail;
	}
	rs->sender_running = true;
	if (orch_sdk_server_start(host->request_url,
				  runtime->workers ? runtime->workers : 1,
				  runtime_handle, rs, &rs->server, err, errlen))
		goto fail;
	return 0;
fail:
	orch_runtime_stop(rs);
	*out = NULL;
	return -1;
}

void orch_runtime_stop(struct orch_runtime_server *rs)
{
	if (rs == NULL)
		return;
	orch_sdk_server_stop(rs->server);
	pthread_mutex_lock(&rs->lock);
	rs->stopping = true;
	pthread_cond_signal(&rs->wake);
	pthread_mutex_unlock(&rs->lock);
	if (rs->sender_running)
		pthread_join(rs->sender, NULL);
	orch_sdk_events_close(rs->events);
	json_decref(rs->queued);
	pthread_cond_destroy(&rs->wake);
	pthread_mutex_destroy(&rs->lock);
	free(rs);
}

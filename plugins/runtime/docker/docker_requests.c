/*
 * docker_requests.c: the requests of the core that the `docker` runtime
 * answers at once: info (is the engine there, what it offers), start
 * (checks each RTASK and queues a start job), stop (queues a stop job)
 * and remove (removes the container and forgets the task). A task the
 * table does not hold is looked up in the engine by its labels and
 * adopted: after a restart of orchd, its containers are still its own.
 *
 * State owned here: none; the handlers work on the task table under
 * tasks_mu and make engine calls with the api the dispatcher lent them.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"
#include "orch_sdk.h"

/* {"label": ["orchd.node.id=<node>", more...]} */
json_t *node_filters(struct docker_plugin *p, const char *task_id)
{
	json_t *labels = json_array();
	char *label = NULL;

	if (asprintf(&label, DOCKER_LABEL_NODE "=%s", p->node_id) >= 0)
		json_array_append_new(labels, json_string(label));
	free(label);
	label = NULL;
	if (task_id != NULL &&
	    asprintf(&label, DOCKER_LABEL_TASK "=%s", task_id) >= 0)
		json_array_append_new(labels, json_string(label));
	free(label);
	return json_pack("{so}", "label", labels);
}

/* Finds the task, adopting it from the engine (by its labels) when the
 * table does not have it. Returns a referenced task or NULL with err:
 * "no such task" when the engine has no container for it either. */
struct docker_task *task_lookup(struct docker_plugin *p,
				struct docker_api *api,
				const char *task_id, char *err,
				size_t errlen)
{
	json_t *filters = node_filters(p, task_id), *list = NULL, *c;
	struct docker_task *t;
	char why[DOCKER_ERR];
	const char *cid, *state;
	int rc;

	pthread_mutex_lock(&p->tasks_mu);
	t = task_find(p, task_id);
	if (t != NULL)
		t->refs++;
	pthread_mutex_unlock(&p->tasks_mu);
	if (t != NULL) {
		json_decref(filters);
		return t;
	}
	rc = docker_api_container_list(api, filters, &list, why, sizeof(why));
	json_decref(filters);
	if (rc != DOCKER_API_OK) {
		snprintf(err, errlen, "docker: %s", why);
		return NULL;
	}
	c = json_array_get(list, 0);
	cid = json_string_value(json_object_get(c, "Id"));
	state = json_string_value(json_object_get(c, "State"));
	if (cid == NULL) {
		snprintf(err, errlen, "no such task: %s", task_id);
		json_decref(list);
		return NULL;
	}
	pthread_mutex_lock(&p->tasks_mu);
	t = task_find(p, task_id); /* the events thread may have been first */
	if (t == NULL)
		t = task_adopt(p, task_id, cid,
			       state && strcmp(state, "running") == 0
				       ? DOCKER_PHASE_RUNNING
				       : DOCKER_PHASE_ENDED);
	if (t != NULL)
		t->refs++;
	else
		snprintf(err, errlen, "docker: out of memory");
	pthread_mutex_unlock(&p->tasks_mu);
	json_decref(list);
	return t;
}

static void reply_error_item(json_t *errors, const char *task_id,
			     const char *error)
{
	json_array_append_new(errors, json_pack("{s:s,s:s}", "task_id",
						task_id ? task_id : "",
						"error", error));
}

/* --------------------------------------------------------------- info */

json_t *handle_info(struct docker_plugin *p, struct docker_api *api)
{
	json_t *reply = json_pack("{s:s,s:s}", "name", DOCKER_PLUGIN_NAME,
				  "kind", "runtime");
	json_t *info = NULL;
	char err[DOCKER_ERR], why[DOCKER_ERR + 16];
	int rc;

	(void)p;
	rc = docker_api_ping(api, err, sizeof(err));
	if (rc == DOCKER_API_OK)
		rc = docker_api_info(api, &info, err, sizeof(err));
	if (rc != DOCKER_API_OK) {
		snprintf(why, sizeof(why), "docker: %s", err);
		json_object_set_new(reply, "available", json_false());
		json_object_set_new(reply, "error", json_string(why));
		json_object_set_new(reply, "resources",
				    json_pack("{s:i,s:i}", "nano_cpus", 0,
					      "memory_bytes", 0));
		return reply;
	}
	json_object_set_new(reply, "available", json_true());
	json_object_set_new(
		reply, "resources",
		json_pack("{s:I,s:I}", "nano_cpus",
			  (json_int_t)json_integer_value(
				  json_object_get(info, "NCPU")) *
				  1000000000,
			  "memory_bytes",
			  json_integer_value(json_object_get(info, "MemTotal"))));
	json_decref(info);
	return reply;
}

/* --------------------------------------------------------------- start */

static bool json_strings(json_t *v, bool allow_missing)
{
	json_t *item;
	size_t i;

	if (v == NULL)
		return allow_missing;
	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, item) {
		if (!json_is_string(item))
			return false;
	}
	return true;
}

bool task_id_ok(const char *id)
{
	size_t i, n = id ? strlen(id) : 0;

	if (n == 0 || n > 128)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x21 || id[i] == '/' || id[i] == '"')
			return false;
	return true;
}

/* Checks one RTASK; returns NULL when it is fine, else the reason. */
static const char *rtask_check(json_t *task, char *why, size_t whylen)
{
	json_t *mounts = json_object_get(task, "mounts"), *m;
	const char *image = json_string_value(json_object_get(task, "image"));
	size_t i;

	if (!task_id_ok(json_string_value(json_object_get(task, "id"))))
		return "task needs an \"id\" (1-128 printable characters)";
	if (image == NULL || image[0] == '\0')
		return "task needs an \"image\"";
	if (!json_strings(json_object_get(task, "command"), true) ||
	    !json_strings(json_object_get(task, "args"), true) ||
	    !json_strings(json_object_get(task, "env"), true))
		return "\"command\", \"args\" and \"env\" must be arrays of "
		       "strings";
	if (mounts != NULL && !json_is_array(mounts))
		return "\"mounts\" must be an array";
	json_array_foreach(mounts, i, m) {
		const char *src = json_string_value(json_object_get(m, "source"));
		const char *dst = json_string_value(json_object_get(m, "target"));

		if (src == NULL || dst == NULL || strchr(src, ':') ||
		    strchr(dst, ':') || dst[0] != '/') {
			snprintf(why, whylen,
				 "mount %zu needs a \"source\" and an absolute "
				 "\"target\" without ':'",
				 i);
			return why;
		}
	}
	return NULL;
}

/* Takes one checked RTASK on: a table entry and a start job. A task the
 * table already holds is accepted again without a second start. */
static const char *start_one(struct docker_plugin *p, json_t *rtask)
{
	const char *task_id = json_string_value(json_object_get(rtask, "id"));
	struct docker_task *t;
	const char *error = NULL;

	pthread_mutex_lock(&p->tasks_mu);
	t = task_find(p, task_id);
	if (t != NULL) {
		if (t->removed)
			error = "task is being removed";
		pthread_mutex_unlock(&p->tasks_mu);
		return error;
	}
	t = task_new(task_id);
	if (t == NULL || (t->spec = json_deep_copy(rtask)) == NULL) {
		error = "out of memory";
	} else {
		t->stop_grace_ms = spec_grace_ms(rtask);
		task_link(p, t);
		if (jobs_push(p, DOCKER_JOB_START, t) != 0) {
			task_unlink(p, t);
			error = "out of memory";
		}
		t = NULL;
	}
	if (t != NULL)
		task_unref(t);
	pthread_mutex_unlock(&p->tasks_mu);
	return error;
}

json_t *handle_start(struct docker_plugin *p, struct docker_api *api,
		     json_t *request)
{
	json_t *tasks = json_object_get(request, "tasks"), *task;
	json_t *accepted = json_array(), *errors = json_array();
	char err[DOCKER_ERR], unreachable[DOCKER_ERR + 16], why[128];
	const char *error;
	size_t i;

	if (!json_is_array(tasks)) {
		json_decref(accepted);
		json_decref(errors);
		return orch_sdk_error("start: \"tasks\" must be an array");
	}
	unreachable[0] = '\0';
	if (docker_api_ping(api, err, sizeof(err)) != DOCKER_API_OK)
		snprintf(unreachable, sizeof(unreachable), "docker: %s", err);
	json_array_foreach(tasks, i, task) {
		const char *task_id =
			json_string_value(json_object_get(task, "id"));

		error = unreachable[0] ? unreachable
				       : rtask_check(task, why, sizeof(why));
		if (error == NULL)
			error = start_one(p, task);
		if (error != NULL)
			reply_error_item(errors, task_id, error);
		else
			json_array_append_new(accepted, json_string(task_id));
	}
	return json_pack("{s:o,s:o}", "accepted", accepted, "errors", errors);
}

/* ------------------------------------------------- per-task requests */

/* Does a request's work on one task (a reference the caller holds).
 * Returns NULL or the reason of a failure (may be written into err). */
typedef const char *(*task_item_fn)(struct docker_plugin *p,
				    struct docker_api *api,
				    struct docker_task *t, json_t *item,
				    char *err, size_t errlen);

/* Serves a request {"tasks": [{"task_id": ...}, ...]}: looks every task
 * up (adopting it from the engine if need be) and calls fn on it. Replies
 * {<done_key>: [task ids], "errors": [{task_id, error}]}; a task that
 * neither the table nor the engine knows is done when missing_done. */
static json_t *handle_each(struct docker_plugin *p, struct docker_api *api,
			   json_t *request, const char *op,
			   const char *done_key, bool missing_done,
			   task_item_fn fn)
{
	json_t *tasks = json_object_get(request, "tasks"), *item;
	json_t *done, *errors;
	char err[DOCKER_ERR];
	struct docker_task *t;
	const char *error;
	size_t i;

	if (!json_is_array(tasks))
		return orch_sdk_error("%s: \"tasks\" must be an array", op);
	done = json_array();
	errors = json_array();
	json_array_foreach(tasks, i, item) {
		const char *task_id =
			json_string_value(json_object_get(item, "task_id"));

		t = NULL;
		if (!task_id_ok(task_id))
			error = "invalid task_id";
		else if ((t = task_lookup(p, api, task_id, err,
					  sizeof(err))) == NULL)
			error = missing_done && strncmp(err, "no such task",
							12) == 0
					? NULL
					: err;
		else
			error = fn(p, api, t, item, err, sizeof(err));
		if (t != NULL)
			task_release(p, t);
		if (error != NULL)
			reply_error_item(errors, task_id, error);
		else
			json_array_append_new(done, json_string(task_id));
	}
	return json_pack("{s:o,s:o}", done_key, done, "errors", errors);
}

/* ---------------------------------------------------------------- stop */

/* Caller holds tasks_mu. */
static void stop_one(struct docker_plugin *p, struct docker_task *t,
		     int grace_ms)
{
	t->stop_requested = true;
	t->stop_grace_ms = grace_ms;
	if (t->phase == DOCKER_PHASE_ENDED || t->starting || t->removed ||
	    t->container_id == NULL || t->stop_queued)
		return; /* nothing to stop, or the start job does it */
	if (jobs_push(p, DOCKER_JOB_STOP, t) == 0)
		t->stop_queued = true;
}

/* The stop of one task (item: {"task_id", "grace_ms"}). */
static const char *stop_item(struct docker_plugin *p, struct docker_api *api,
			     struct docker_task *t, json_t *item, char *err,
			     size_t errlen)
{
	json_int_t grace = json_integer_value(json_object_get(item, "grace_ms"));

	(void)api, (void)err, (void)errlen;
	pthread_mutex_lock(&p->tasks_mu);
	stop_one(p, t, grace > 0 && grace < INT32_MAX ? (int)grace : 0);
	pthread_mutex_unlock(&p->tasks_mu);
	return NULL;
}

json_t *handle_stop(struct docker_plugin *p, struct docker_api *api,
		    json_t *request)
{
	return handle_each(p, api, request, "stop", "accepted", false,
			   stop_item);
}

/* -------------------------------------------------------------- remove */

/* Removes the task's container (force) and forgets the task. The table
 * keeps a tombstone until the container's "destroy" event, so that its
 * die is not reported. Returns NULL or the reason of a failure. */
static const char *remove_one(struct docker_plugin *p, struct docker_api *api,
			      struct docker_task *t, char *err,
			      size_t errlen)
{
	char why[DOCKER_ERR];
	char *id = NULL;
	int rc;

	pthread_mutex_lock(&p->tasks_mu);
	t->removed = true;
	if (t->starting || t->container_id == NULL) {
		/* A start job in progress removes what it made; a task
		 * with no container has nothing left. */
		if (!t->starting)
			task_unlink(p, t);
		pthread_mutex_unlock(&p->tasks_mu);
		return NULL;
	}
	id = strdup(t->container_id);
	pthread_mutex_unlock(&p->tasks_mu);
	if (id == NULL) {
		snprintf(err, errlen, "docker: out of memory");
		return err;
	}
	rc = docker_api_container_remove(api, id, true, why, sizeof(why));
	free(id);
	pthread_mutex_lock(&p->tasks_mu);
	if (rc == DOCKER_API_NOT_FOUND)
		task_unlink(p, t);
	else if (rc != DOCKER_API_OK)
		t->removed = false;
	pthread_mutex_unlock(&p->tasks_mu);
	if (rc == DOCKER_API_OK || rc == DOCKER_API_NOT_FOUND)
		return NULL;
	snprintf(err, errlen, "docker: remove container: %s", why);
	return err;
}

/* The remove of one task (item: {"task_id"}). */
static const char *remove_item(struct docker_plugin *p,
			       struct docker_api *api, struct docker_task *t,
			       json_t *item, char *err, size_t errlen)
{
	(void)item;
	return remove_one(p, api, t, err, errlen);
}

/* Removing a task nobody holds is done already (idempotent). */
json_t *handle_remove(struct docker_plugin *p, struct docker_api *api,
		      json_t *request)
{
	return handle_each(p, api, request, "remove", "removed", true,
			   remove_item);
}

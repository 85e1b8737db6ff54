/*
 * docker_list.c: the requests list and logs of the `docker` runtime.
 * "list" reports every task of this node: the table's view of a task it
 * holds (while starting, or once ended), else the engine's view of the
 * container labelled with the node id (adoption after a restart).
 * "logs" returns a task's container output, stdout and stderr, made valid
 * UTF-8 for the JSON reply.
 *
 * State owned here: none.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"
#include "orch_sdk.h"

/* ---------------------------------------------------------------- list */

/* STATUS of a container the engine reports (list's entry c). */
static json_t *list_status(struct docker_plugin *p, struct docker_api *api,
			   json_t *c, const char *task_id)
{
	const char *cid = json_string_value(json_object_get(c, "Id"));
	const char *state = json_string_value(json_object_get(c, "State"));
	json_t *info = NULL, *st;
	char err[DOCKER_ERR], why[DOCKER_ERR + 64];
	bool oom;
	int code;

	(void)p;
	if (state == NULL)
		state = "";
	if (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0 ||
	    strcmp(state, "restarting") == 0)
		return orch_sdk_task_status(task_id, "running", 0, NULL, cid);
	if (strcmp(state, "created") == 0)
		return orch_sdk_task_status(
			task_id, "failed", 0,
			"docker: container created but never started", cid);
	if (docker_api_container_inspect(api, cid, &info, err, sizeof(err)) !=
	    DOCKER_API_OK) {
		snprintf(why, sizeof(why), "docker: inspect: %s", err);
		return orch_sdk_task_status(task_id, "failed", -1, why, cid);
	}
	st = json_object_get(info, "State");
	code = (int)json_integer_value(json_object_get(st, "ExitCode"));
	oom = json_is_true(json_object_get(st, "OOMKilled"));
	json_decref(info);
	if (code == 0 && !oom)
		return orch_sdk_task_status(task_id, "complete", 0, NULL, cid);
	snprintf(why, sizeof(why), "task: non-zero exit (%d)%s", code,
		 oom ? " (OOM killed)" : "");
	return orch_sdk_task_status(task_id, "failed", code, why, cid);
}

/* The table's view of t; NULL when the container's view should be used.
 * Caller holds tasks_mu. */
static json_t *list_table_status(struct docker_task *t)
{
	if (t->removed)
		return NULL;
	if (t->phase == DOCKER_PHASE_ENDED && t->last_state != NULL)
		return orch_sdk_task_status(t->task_id, t->last_state,
					    t->last_exit_code, t->last_error,
					    t->container_id);
	if (t->starting || t->phase < DOCKER_PHASE_STARTING)
		return orch_sdk_task_status(
			t->task_id,
			t->phase == DOCKER_PHASE_STARTING ? "starting"
							  : "preparing",
			0, NULL, t->container_id);
	return NULL;
}

json_t *handle_list(struct docker_plugin *p, struct docker_api *api)
{
	json_t *filters = node_filters(p, NULL), *list = NULL, *c, *out;
	json_t *seen = json_object();
	struct docker_task *t;
	char err[DOCKER_ERR];
	size_t i;
	int rc;

	rc = docker_api_container_list(api, filters, &list, err, sizeof(err));
	json_decref(filters);
	if (rc != DOCKER_API_OK) {
		json_decref(seen);
		return orch_sdk_error("docker: %s", err);
	}
	out = json_array();
	json_array_foreach(list, i, c) {
		const char *task_id = json_string_value(json_object_get(
			json_object_get(c, "Labels"), DOCKER_LABEL_TASK));
		json_t *status = NULL;
		bool skip = false;

		if (task_id == NULL ||
		    json_object_get(seen, task_id) != NULL)
			continue;
		pthread_mutex_lock(&p->tasks_mu);
		t = task_find(p, task_id);
		if (t != NULL) {
			skip = t->removed;
			status = list_table_status(t);
		}
		pthread_mutex_unlock(&p->tasks_mu);
		json_object_set_new(seen, task_id, json_true());
		if (skip)
			continue;
		if (status == NULL)
			status = list_status(p, api, c, task_id);
		json_array_append_new(out, status);
	}
	pthread_mutex_lock(&p->tasks_mu);
	for (t = p->tasks; t != NULL; t = t->next) {
		json_t *status;

		if (json_object_get(seen, t->task_id) != NULL)
			continue;
		status = list_table_status(t);
		if (status == NULL && !t->removed)
			status = orch_sdk_task_status(
				t->task_id, "failed", -1,
				"docker: container not found", t->container_id);
		if (status != NULL)
			json_array_append_new(out, status);
	}
	pthread_mutex_unlock(&p->tasks_mu);
	json_decref(seen);
	json_decref(list);
	return json_pack("{s:o}", "tasks", out);
}

/* ---------------------------------------------------------------- logs */

/* The second byte of a multi-byte sequence led by c: no overlong forms,
 * no surrogates, nothing above U+10FFFF (RFC 3629, section 4). */
static bool utf8_second_ok(unsigned char c, unsigned char next)
{
	if (c < 0xE0)
		return true;
	if (c == 0xE0)
		return next >= 0xA0;
	if (c == 0xED)
		return next < 0xA0;
	if (c == 0xF0)
		return next >= 0x90;
	if (c == 0xF4)
		return next < 0x90;
	return true;
}

/* JSON strings must be UTF-8: any byte of an invalid sequence becomes
 * '?'. Works in place. */
static void utf8_sanitize(unsigned char *s, size_t len)
{
	size_t i = 0, n, k;

	while (i < len) {
		unsigned char c = s[i];

		n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2
				 : (c & 0xF0) == 0xE0 ? 3
				 : (c & 0xF8) == 0xF0 ? 4
						      : 0;
		if (n == 0 || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4) ||
		    i + n > len || !utf8_second_ok(c, s[i + 1])) {
			s[i++] = '?';
			continue;
		}
		for (k = 1; k < n && (s[i + k] & 0xC0) == 0x80; k++)
			;
		if (k < n) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

json_t *handle_logs(struct docker_plugin *p, struct docker_api *api,
		    json_t *request)
{
	const char *task_id =
		json_string_value(json_object_get(request, "task_id"));
	json_int_t tail = json_integer_value(json_object_get(request, "tail"));
	char err[DOCKER_ERR];
	struct docker_task *t;
	char *id = NULL, *data = NULL;
	size_t len = 0;
	json_t *reply;
	int rc;

	if (!task_id_ok(task_id))
		return orch_sdk_error("logs: invalid \"task_id\"");
	t = task_lookup(p, api, task_id, err, sizeof(err));
	if (t == NULL)
		return orch_sdk_error("%s", err);
	pthread_mutex_lock(&p->tasks_mu);
	if (t->container_id != NULL)
		id = strdup(t->container_id);
	task_unref(t);
	pthread_mutex_unlock(&p->tasks_mu);
	if (id == NULL)
		return orch_sdk_error("logs: task %s has no container yet",
				      task_id);
	rc = docker_api_container_logs(api, id,
				       tail > 0 && tail < INT32_MAX ? (int)tail
								    : 0,
				       &data, &len, err, sizeof(err));
	free(id);
	if (rc != DOCKER_API_OK)
		return orch_sdk_error("docker: logs: %s", err);
	utf8_sanitize((unsigned char *)data, len);
	reply = json_pack("{s:s%}", "data", data, len);
	free(data);
	return reply ? reply : orch_sdk_error("logs: cannot encode the output");
}


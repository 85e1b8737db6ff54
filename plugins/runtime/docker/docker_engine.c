/*
 * docker_engine.c: how the `docker` runtime follows the engine. A thread
 * of the API client (docker_events_start) follows GET /events for the
 * die, oom and destroy of the containers labelled with this node's id and
 * calls back here: a container's end becomes complete / failed /
 * shutdown; a destroy clears a removed task's tombstone or reports a
 * container removed behind orchd's back. After each (re)connection it
 * catches up on what the stream missed and queues a sweep job.
 *
 * State owned here: none; the callbacks work on the task table under
 * tasks_mu and make their own engine calls with p->events_api.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

static const char *event_attr(json_t *event, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(event, "Actor"), "Attributes"),
		key));
}

/* Caller holds tasks_mu. */
static void task_container_died(struct docker_plugin *p, struct docker_task *t,
				int exit_code)
{
	if (t->starting) {
		/* The start job reports it when it is done. */
		t->died_while_starting = true;
		t->died_exit_code = exit_code;
		return;
	}
	task_report_exit(p, t, exit_code);
}

/* Caller holds tasks_mu. The container of t is gone. */
static void task_container_destroyed(struct docker_plugin *p,
				      struct docker_task *t)
{
	if (t->removed) {
		task_unlink(p, t);
		return;
	}
	if (!t->starting)
		task_report(p, t, "failed", 0,
			    "docker: container removed outside orchd");
}

static void engine_on_event(void *ctx, json_t *event)
{
	struct docker_plugin *p = ctx;
	const char *action = json_string_value(json_object_get(event, "Action"));
	const char *cid = json_string_value(
		json_object_get(json_object_get(event, "Actor"), "ID"));
	const char *task_id = event_attr(event, DOCKER_LABEL_TASK);
	const char *code = event_attr(event, "exitCode");
	struct docker_task *t;

	if (action == NULL || cid == NULL || task_id == NULL)
		return;
	pthread_mutex_lock(&p->tasks_mu);
	t = task_find(p, task_id);
	if (t != NULL && (t->container_id == NULL ||
			  strcmp(t->container_id, cid) != 0))
		t = NULL; /* not (yet) the container of this task */
	else if (t == NULL && strcmp(action, "die") == 0)
		t = task_adopt(p, task_id, cid, DOCKER_PHASE_RUNNING);
	if (t != NULL) {
		if (strcmp(action, "oom") == 0)
			t->oom_killed = true;
		else if (strcmp(action, "die") == 0)
			task_container_died(p, t,
					    code ? (int)strtol(code, NULL, 10)
						 : -1);
		else if (strcmp(action, "destroy") == 0)
			task_container_destroyed(p, t);
	}
	pthread_mutex_unlock(&p->tasks_mu);
}

/* After each (re)connection of the events stream: containers that ended
 * or vanished while the stream was down are reported now, and a sweep of
 * a previous identity's containers is queued (the engine is there). */
static void engine_on_connected(void *ctx)
{
	struct docker_plugin *p = ctx;
	json_t *pending = json_array(), *item, *info;
	struct docker_task *t;
	char err[DOCKER_ERR];
	size_t i;
	int rc;

	if (jobs_push_sweep(p) != 0)
		docker_logf(p, ORCH_LOG_ERROR,
			    "out of memory: containers of a previous identity "
			    "of this node are not looked for");

	pthread_mutex_lock(&p->tasks_mu);
	for (t = p->tasks; t != NULL; t = t->next)
		if (t->container_id != NULL && !t->starting && !t->removed &&
		    t->phase == DOCKER_PHASE_RUNNING)
			json_array_append_new(pending,
					      json_pack("[ss]", t->task_id,
							t->container_id));
	pthread_mutex_unlock(&p->tasks_mu);

	json_array_foreach(pending, i, item) {
		const char *task_id = json_string_value(json_array_get(item, 0));
		const char *cid = json_string_value(json_array_get(item, 1));
		json_t *state;

		info = NULL;
		rc = docker_api_container_inspect(p->events_api, cid, &info,
						  err, sizeof(err));
		state = json_object_get(info, "State");
		pthread_mutex_lock(&p->tasks_mu);
		t = task_find(p, task_id);
		if (t != NULL && t->container_id != NULL &&
		    strcmp(t->container_id, cid) == 0) {
			if (rc == DOCKER_API_NOT_FOUND)
				task_container_destroyed(p, t);
			else if (rc == DOCKER_API_OK &&
				 !json_is_true(json_object_get(state,
							       "Running")))
				task_container_died(
					p, t,
					(int)json_integer_value(json_object_get(
						state, "ExitCode")));
		}
		pthread_mutex_unlock(&p->tasks_mu);
		json_decref(info);
	}
	json_decref(pending);
}

/* Starts following the engine's events (the thread is the client's). */
int engine_follow(struct docker_plugin *p, char *err, size_t errlen)
{
	char label[512], why[DOCKER_ERR];
	json_t *filters;
	int rc;

	snprintf(label, sizeof(label), DOCKER_LABEL_NODE "=%s", p->node_id);
	filters = json_pack("{s:[s],s:[s,s],s:[s,s,s]}", "type", "container",
			    "label", label, DOCKER_LABEL_TASK, "event", "die",
			    "oom", "destroy");
	if (filters == NULL) {
		snprintf(err, errlen, "docker: out of memory");
		return -1;
	}
	rc = docker_events_start(p->socket_path, filters, engine_on_event,
				 engine_on_connected, p, &p->engine_events,
				 why, sizeof(why));
	json_decref(filters);
	if (rc != DOCKER_API_OK) {
		snprintf(err, errlen, "docker: %s", why);
		return -1;
	}
	return 0;
}

/*
 * docker_task.c: the task table of the `docker` runtime and the statuses
 * it reports. A task is what the plugin holds for one task id: queued,
 * starting, running, ended and not yet removed, or removed and waiting for
 * its container's "destroy" (a tombstone). A task is reference counted: the
 * table holds one reference, every queued job and every request handler at
 * work on it one more; all of its fields are guarded by tasks_mu.
 *
 * A task's phase only moves forward and each phase is reported once, as a
 * STATUS queued in the outbox in the same critical section (under
 * tasks_mu, then outbox_mu) that advances it; the sender thread sends the
 * outbox, in order and batched, to the core.
 *
 * State owned here: the task table and the outbox, and the sender thread.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"
#include "orch_sdk.h"

/* ---------------------------------------------------------- task table */

struct docker_task *task_new(const char *task_id)
{
	struct docker_task *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->task_id = strdup(task_id);
	if (t->task_id == NULL) {
		free(t);
		return NULL;
	}
	t->refs = 1;
	return t;
}

void task_unref(struct docker_task *t)
{
	if (--t->refs > 0)
		return;
	json_decref(t->spec);
	free(t->container_id);
	free(t->last_error);
	free(t->task_id);
	free(t);
}

/* Caller holds tasks_mu. */
void task_link(struct docker_plugin *p, struct docker_task *t)
{
	t->next = p->tasks;
	p->tasks = t;
	t->linked = true;
}

/* Caller holds tasks_mu. Drops the table's reference. */
void task_unlink(struct docker_plugin *p, struct docker_task *t)
{
	struct docker_task **pp;

	if (!t->linked)
		return;
	for (pp = &p->tasks; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->linked = false;
	task_unref(t);
}

/* Caller holds tasks_mu. */
struct docker_task *task_find(struct docker_plugin *p,
			      const char *task_id)
{
	struct docker_task *t;

	for (t = p->tasks; t != NULL; t = t->next)
		if (strcmp(t->task_id, task_id) == 0)
			return t;
	return NULL;
}

int task_set_container(struct docker_task *t, const char *id)
{
	char *copy = id ? strdup(id) : NULL;

	if (id != NULL && copy == NULL)
		return -1;
	free(t->container_id);
	t->container_id = copy;
	return 0;
}

/* Drops a handler's reference. */
void task_release(struct docker_plugin *p, struct docker_task *t)
{
	pthread_mutex_lock(&p->tasks_mu);
	task_unref(t);
	pthread_mutex_unlock(&p->tasks_mu);
}

/* Caller holds tasks_mu. A task we did not start in this life of the
 * plugin (adopted after a restart): a table entry is made on first sight. */
struct docker_task *task_adopt(struct docker_plugin *p,
			       const char *task_id,
			       const char *container_id,
			       enum docker_phase phase)
{
	struct docker_task *t = task_new(task_id);

	if (t == NULL || task_set_container(t, container_id) != 0) {
		if (t != NULL)
			task_unref(t);
		docker_logf(p, ORCH_LOG_ERROR, "out of memory adopting task %s",
			    task_id);
		return NULL;
	}
	t->phase = phase;
	task_link(p, t);
	return t;
}

/* The RTASK's stop_grace_ms, or the default. */
int spec_grace_ms(json_t *spec)
{
	json_int_t grace =
		json_integer_value(json_object_get(spec, "stop_grace_ms"));

	return grace > 0 && grace < INT32_MAX ? (int)grace
					      : DOCKER_DEFAULT_GRACE_MS;
}

/* ------------------------------------------------------------ statuses */

static enum docker_phase state_phase(const char *state)
{
	if (strcmp(state, "preparing") == 0)
		return DOCKER_PHASE_PREPARING;
	if (strcmp(state, "starting") == 0)
		return DOCKER_PHASE_STARTING;
	if (strcmp(state, "running") == 0)
		return DOCKER_PHASE_RUNNING;
	return DOCKER_PHASE_ENDED;
}

/* Queues a status for the sender. */
static void outbox_push(struct docker_plugin *p, json_t *status)
{
	if (status == NULL) {
		docker_logf(p, ORCH_LOG_ERROR, "out of memory building a status");
		return;
	}
	pthread_mutex_lock(&p->outbox_mu);
	json_array_append_new(p->outbox, status);
	pthread_cond_signal(&p->outbox_cv);
	pthread_mutex_unlock(&p->outbox_mu);
}

/* Caller holds tasks_mu. Reports `state` if it moves the task forward;
 * a removed task reports nothing more. */
void task_report(struct docker_plugin *p, struct docker_task *t,
		 const char *state, int exit_code, const char *error)
{
	enum docker_phase phase = state_phase(state);

	if (t->removed || phase <= t->phase)
		return;
	t->phase = phase;
	t->last_state = state;
	t->last_exit_code = exit_code;
	free(t->last_error);
	t->last_error = error ? strdup(error) : NULL;
	outbox_push(p, orch_sdk_task_status(t->task_id, state, exit_code, error,
					    t->container_id));
}

/* Caller holds tasks_mu. The end of a container that exited with
 * exit_code: shutdown when we stopped it, else complete or failed. */
void task_report_exit(struct docker_plugin *p, struct docker_task *t,
		      int exit_code)
{
	char error[128];

	if (t->stop_requested) {
		task_report(p, t, "shutdown", exit_code, NULL);
	} else if (exit_code == 0 && !t->oom_killed) {
		task_report(p, t, "complete", 0, NULL);
	} else {
		snprintf(error, sizeof(error), "task: non-zero exit (%d)%s",
			 exit_code, t->oom_killed ? " (OOM killed)" : "");
		task_report(p, t, "failed", exit_code, error);
	}
}

static void *sender_main(void *arg)
{
	struct docker_plugin *p = arg;
	json_t *batch;
	int rc;

	pthread_mutex_lock(&p->outbox_mu);
	for (;;) {
		while (json_array_size(p->outbox) == 0 && !p->outbox_stopping)
			pthread_cond_wait(&p->outbox_cv, &p->outbox_mu);
		if (json_array_size(p->outbox) == 0)
			break; /* stopping, and everything was sent */
		batch = p->outbox;
		p->outbox = json_array();
		pthread_mutex_unlock(&p->outbox_mu);
		rc = orch_sdk_events_send_statuses(p->events_out,
						   DOCKER_PLUGIN_NAME, batch);
		if (rc != 0)
			docker_logf(p, ORCH_LOG_ERROR,
				    "cannot send task statuses (nng error %d)",
				    rc);
		pthread_mutex_lock(&p->outbox_mu);
		if (p->outbox == NULL) {
			docker_logf(p, ORCH_LOG_ERROR,
				    "out of memory: statuses dropped");
			p->outbox = json_array();
		}
	}
	pthread_mutex_unlock(&p->outbox_mu);
	return NULL;
}

int docker_sender_start(struct docker_plugin *p, char *err, size_t errlen)
{
	int rc = pthread_create(&p->sender, NULL, sender_main, p);

	if (rc != 0) {
		snprintf(err, errlen, "docker: cannot start a thread: %s",
			 strerror(rc));
		return -1;
	}
	p->sender_started = true;
	return 0;
}

/* Sends what is queued, then ends the sender. */
void docker_sender_stop(struct docker_plugin *p)
{
	if (!p->sender_started)
		return;
	pthread_mutex_lock(&p->outbox_mu);
	p->outbox_stopping = true;
	pthread_cond_signal(&p->outbox_cv);
	pthread_mutex_unlock(&p->outbox_mu);
	pthread_join(p->sender, NULL);
	p->sender_started = false;
}

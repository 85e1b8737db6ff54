/*
 * docker_jobs.c: the work queue of the `docker` runtime and the
 * DOCKER_WORKERS threads that run it, each with an engine connection of
 * its own (the engine saturates past about 4 concurrent requests). A job
 * starts a task (docker_start.c), stops one, or sweeps the containers a
 * previous identity of this node left behind.
 *
 * The sweep: every container is labelled with the node id and with the
 * plugin's data directory (an absolute path: which orchd, among those
 * sharing one engine, made it). When an operator wipes a node's data
 * root, orchd comes back as a new node id with the same data directory;
 * whenever the events stream (re)connects, a sweep job stops (with the
 * task's grace) and removes the containers that carry this data directory
 * but another node id: they belong to a previous identity of this node
 * and nobody would ever stop them. Containers of other data directories
 * are never touched, and neither are containers made by an older orchd
 * that did not set the data directory label: there is no telling whose
 * they are.
 *
 * State owned here: the job queue (jobs_mu) and the worker threads.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

struct docker_worker_arg {
	struct docker_plugin *plugin;
	struct docker_api *api;
};

/* ------------------------------------------------------------ job queue */

/* Queues job, unless the workers are stopping (fini drops what is queued;
 * the events thread outlives the workers and could queue after that):
 * returns false then, and the caller drops the job itself. */
static bool jobs_append(struct docker_plugin *p, struct docker_job *job)
{
	pthread_mutex_lock(&p->jobs_mu);
	if (p->jobs_stopping) {
		pthread_mutex_unlock(&p->jobs_mu);
		return false;
	}
	if (p->jobs_tail != NULL)
		p->jobs_tail->next = job;
	else
		p->jobs_head = job;
	p->jobs_tail = job;
	pthread_cond_signal(&p->jobs_cv);
	pthread_mutex_unlock(&p->jobs_mu);
	return true;
}

/* Queues a job on t (takes a reference). Caller holds tasks_mu. */
int jobs_push(struct docker_plugin *p, enum docker_job_kind kind,
	      struct docker_task *t)
{
	struct docker_job *job = calloc(1, sizeof(*job));

	if (job == NULL)
		return -1;
	job->kind = kind;
	job->task = t;
	t->refs++;
	if (!jobs_append(p, job)) {
		t->refs--; /* the caller's reference keeps t */
		free(job);
	}
	return 0;
}

/* Queues a sweep unless one is waiting already. Returns 0 or -1 when out
 * of memory. */
int jobs_push_sweep(struct docker_plugin *p)
{
	struct docker_job *job;

	if (atomic_exchange(&p->sweep_queued, true))
		return 0;
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		atomic_store(&p->sweep_queued, false);
		return -1;
	}
	job->kind = DOCKER_JOB_SWEEP;
	if (!jobs_append(p, job))
		free(job);
	return 0;
}

static struct docker_job *jobs_pop(struct docker_plugin *p)
{
	struct docker_job *job;

	pthread_mutex_lock(&p->jobs_mu);
	while (p->jobs_head == NULL && !p->jobs_stopping)
		pthread_cond_wait(&p->jobs_cv, &p->jobs_mu);
	job = p->jobs_stopping ? NULL : p->jobs_head;
	if (job != NULL) {
		p->jobs_head = job->next;
		if (p->jobs_head == NULL)
			p->jobs_tail = NULL;
	}
	pthread_mutex_unlock(&p->jobs_mu);
	return job;
}

static void job_free(struct docker_plugin *p, struct docker_job *job)
{
	if (job->task != NULL) {
		pthread_mutex_lock(&p->tasks_mu);
		task_unref(job->task);
		pthread_mutex_unlock(&p->tasks_mu);
	}
	free(job);
}

/* ------------------------------------------------------------- stop job */

static void job_stop(struct docker_plugin *p, struct docker_api *api,
		     struct docker_task *t)
{
	char err[DOCKER_ERR], why[DOCKER_ERR + 64];
	json_t *info = NULL;
	char *id;
	int grace_s, rc, exit_code = 0;

	pthread_mutex_lock(&p->tasks_mu);
	t->stop_queued = false;
	id = t->container_id && t->phase < DOCKER_PHASE_ENDED && !t->removed
		     ? strdup(t->container_id)
		     : NULL;
	grace_s = (t->stop_grace_ms + 999) / 1000;
	pthread_mutex_unlock(&p->tasks_mu);
	if (id == NULL)
		return;

	rc = docker_api_container_stop(api, id, grace_s, err, sizeof(err));
	if (rc == DOCKER_API_OK || rc == DOCKER_API_NOT_MODIFIED) {
		/* The container has ended: its exit code is final. */
		if (docker_api_container_inspect(api, id, &info, err,
						 sizeof(err)) == DOCKER_API_OK)
			exit_code = (int)json_integer_value(json_object_get(
				json_object_get(info, "State"), "ExitCode"));
		json_decref(info);
		pthread_mutex_lock(&p->tasks_mu);
		task_report(p, t, "shutdown", exit_code, NULL);
		pthread_mutex_unlock(&p->tasks_mu);
	} else if (rc == DOCKER_API_NOT_FOUND) {
		snprintf(why, sizeof(why), "docker: container vanished: %s",
			 err);
		pthread_mutex_lock(&p->tasks_mu);
		task_report(p, t, "shutdown", 0, why);
		pthread_mutex_unlock(&p->tasks_mu);
	} else if (!atomic_load(&p->aborting)) {
		docker_logf(p, ORCH_LOG_ERROR, "task %s: stop: %s", t->task_id,
			    err);
	}
	free(id);
}

/* ------------------------------------------------------------ sweep job */

/* A container of this data directory made under another node id: what a
 * previous identity of this node left running. Without a node id of its
 * own the plugin cannot tell and leaves everything alone. */
static bool sweep_is_stale(struct docker_plugin *p, json_t *container)
{
	json_t *labels = json_object_get(container, "Labels");
	const char *dir =
		json_string_value(json_object_get(labels, DOCKER_LABEL_DATA_DIR));
	const char *node =
		json_string_value(json_object_get(labels, DOCKER_LABEL_NODE));

	return p->node_id[0] != '\0' && dir != NULL &&
	       strcmp(dir, p->data_dir) == 0 && node != NULL &&
	       strcmp(node, p->node_id) != 0;
}

/* The stop grace the container's task had, in whole seconds. */
static int sweep_grace_s(json_t *labels)
{
	const char *text =
		json_string_value(json_object_get(labels, DOCKER_LABEL_GRACE));
	long grace_ms = text != NULL ? strtol(text, NULL, 10) : 0;

	if (grace_ms <= 0 || grace_ms > INT32_MAX)
		grace_ms = DOCKER_DEFAULT_GRACE_MS;
	return (int)((grace_ms + 999) / 1000);
}

/* Stops (with its task's grace) and removes one container of a previous
 * identity. One that vanished meanwhile needs nothing more. */
static void sweep_remove(struct docker_plugin *p, struct docker_api *api,
			 json_t *container)
{
	json_t *labels = json_object_get(container, "Labels");
	const char *id = json_string_value(json_object_get(container, "Id"));
	const char *node =
		json_string_value(json_object_get(labels, DOCKER_LABEL_NODE));
	char err[DOCKER_ERR];
	int rc;

	if (id == NULL)
		return;
	rc = docker_api_container_stop(api, id, sweep_grace_s(labels), err,
				       sizeof(err));
	if (rc == DOCKER_API_OK || rc == DOCKER_API_NOT_MODIFIED)
		rc = docker_api_container_remove(api, id, true, err,
						 sizeof(err));
	if (rc == DOCKER_API_OK)
		docker_logf(p, ORCH_LOG_INFO,
			    "removed container %s of a previous identity of "
			    "this node (node %s)",
			    id, node);
	else if (rc != DOCKER_API_NOT_FOUND && !atomic_load(&p->aborting))
		docker_logf(p, ORCH_LOG_ERROR,
			    "cannot remove container %s of a previous "
			    "identity of this node (node %s): %s",
			    id, node, err);
}

static void job_sweep(struct docker_plugin *p, struct docker_api *api)
{
	json_t *filters = NULL, *list = NULL, *c;
	char *label = NULL, err[DOCKER_ERR] = "out of memory";
	int rc = DOCKER_API_ERROR;
	size_t i;

	atomic_store(&p->sweep_queued, false);
	if (asprintf(&label, DOCKER_LABEL_DATA_DIR "=%s", p->data_dir) >= 0)
		filters = json_pack("{s:[s]}", "label", label);
	free(label);
	if (filters != NULL)
		rc = docker_api_container_list(api, filters, &list, err,
					       sizeof(err));
	json_decref(filters);
	if (rc != DOCKER_API_OK) {
		if (!atomic_load(&p->aborting))
			docker_logf(p, ORCH_LOG_ERROR,
				    "cannot look for containers of a previous "
				    "identity of this node: %s",
				    err);
		json_decref(list);
		return;
	}
	json_array_foreach(list, i, c) {
		if (atomic_load(&p->aborting))
			break;
		if (sweep_is_stale(p, c))
			sweep_remove(p, api, c);
	}
	json_decref(list);
}

static void *worker_main(void *arg)
{
	struct docker_worker_arg *wa = arg;
	struct docker_plugin *p = wa->plugin;
	struct docker_api *api = wa->api;
	struct docker_job *job;

	free(wa);
	while ((job = jobs_pop(p)) != NULL) {
		if (job->kind == DOCKER_JOB_START)
			job_start(p, api, job->task);
		else if (job->kind == DOCKER_JOB_STOP)
			job_stop(p, api, job->task);
		else
			job_sweep(p, api);
		job_free(p, job);
	}
	return NULL;
}

int docker_workers_start(struct docker_plugin *p, char *err, size_t errlen)
{
	struct docker_worker_arg *wa;
	int rc;

	for (; p->workers_started < DOCKER_WORKERS; p->workers_started++) {
		wa = malloc(sizeof(*wa));
		if (wa == NULL) {
			rc = ENOMEM;
			goto fail;
		}
		wa->plugin = p;
		wa->api = p->worker_apis[p->workers_started];
		rc = pthread_create(&p->workers[p->workers_started], NULL,
				    worker_main, wa);
		if (rc != 0) {
			free(wa);
			goto fail;
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "docker: cannot start a thread: %s",
		 strerror(rc));
	return -1;
}

/* Makes transfers in progress give up, ends the workers and drops the
 * jobs still queued. */
void docker_workers_stop(struct docker_plugin *p)
{
	struct docker_job *job;
	size_t i;

	atomic_store(&p->aborting, true);
	pthread_mutex_lock(&p->jobs_mu);
	p->jobs_stopping = true;
	pthread_cond_broadcast(&p->jobs_cv);
	pthread_mutex_unlock(&p->jobs_mu);
	for (i = 0; i < p->workers_started; i++)
		pthread_join(p->workers[i], NULL);
	p->workers_started = 0;
	while ((job = p->jobs_head) != NULL) {
		p->jobs_head = job->next;
		job_free(p, job);
	}
	p->jobs_tail = NULL;
}

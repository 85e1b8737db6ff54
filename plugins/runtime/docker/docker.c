/*
 * docker.c: the `docker` runtime plugin of orchd. It runs the core's tasks
 * as containers of the local Docker engine (Engine API v1.41 over its unix
 * socket, see docker_api.h) and reports their progress as task_status
 * events (orch_protocol.h).
 *
 * Requests are served by the SDK's request server; a handler only checks a
 * request and queues work, so the core gets its answer at once. A pool of
 * DOCKER_WORKERS threads (each with its own engine connection: the engine
 * saturates past about 4 concurrent requests) runs the queued start and
 * stop jobs. One thread follows the engine's /events stream (die, oom and
 * destroy of the containers labelled with this node's id) and turns a
 * container's end into complete / failed / shutdown. One sender thread
 * sends the statuses queued in the outbox, in order, batched.
 *
 * Every container is labelled with the node id and with the plugin's data
 * directory (an absolute path: which orchd, among those sharing one
 * engine, made it). When an operator wipes a node's data root, orchd
 * comes back as a new node id with the same data directory; whenever the
 * events stream (re)connects, a sweep job stops (with the task's grace)
 * and removes the containers that carry this data directory but another
 * node id: they belong to a previous identity of this node and nobody
 * would ever stop them. Containers of other data directories are never
 * touched, and neither are containers made by an older orchd that did not
 * set the data directory label: there is no telling whose they are.
 *
 * State owned here: the task table (every task this plugin holds: queued,
 * starting, running, ended and not yet removed, and removed ones whose
 * container's "destroy" has not been seen yet), the job queue and the
 * outbox. Containers themselves are never touched by fini: after a restart
 * the "list" request reports them (adoption) and the events thread picks
 * them up again by their labels.
 *
 * Locks: tasks_mu guards the task table and every task's fields; the
 * outbox lock may be taken while holding tasks_mu (never the reverse), so
 * that a status is queued in the same critical section that advances the
 * task's phase: statuses of one task leave in the order of its phases.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_api.h"
#include "orch_plugin.h"
#include "orch_protocol.h"
#include "orch_sdk.h"

#define DOCKER_PLUGIN_NAME "docker"
#define DOCKER_PLUGIN_VERSION "0.1.0"
#define DOCKER_WORKERS 4
#define DOCKER_HANDLER_APIS 2
#define DOCKER_SERVER_WORKERS DOCKER_HANDLER_APIS
#define DOCKER_ERR 512

#define DOCKER_LABEL_TASK "orchd.task.id"
#define DOCKER_LABEL_SERVICE_ID "orchd.service.id"
#define DOCKER_LABEL_SERVICE_NAME "orchd.service.name"
#define DOCKER_LABEL_NODE "orchd.node.id"
#define DOCKER_LABEL_DATA_DIR "orchd.data-dir"
#define DOCKER_LABEL_GRACE "orchd.stop-grace-ms"
#define DOCKER_DEFAULT_GRACE_MS 10000

/* A task's phase only moves forward; each one is reported once. */
enum docker_phase {
	DOCKER_PHASE_QUEUED = 0,
	DOCKER_PHASE_PREPARING,
	DOCKER_PHASE_STARTING,
	DOCKER_PHASE_RUNNING,
	DOCKER_PHASE_ENDED,
};

struct docker_task {
	struct docker_task *next; /* in the task table */
	bool linked;              /* still in the task table */
	int refs;                 /* the table's + one per queued job */
	char *task_id;
	json_t *spec;             /* the RTASK; NULL for an adopted task */
	char *container_id;       /* NULL until created */
	enum docker_phase phase;
	bool starting;            /* a start job owns the task */
	bool stop_requested;
	bool stop_queued;
	int stop_grace_ms;
	bool removed;             /* tombstone: waits for "destroy" */
	bool oom_killed;
	bool died_while_starting;
	int died_exit_code;
	/* The last status reported, for "list". */
	const char *last_state;
	int last_exit_code;
	char *last_error;
};

enum docker_job_kind {
	DOCKER_JOB_START,
	DOCKER_JOB_STOP,
	DOCKER_JOB_SWEEP, /* containers of a previous identity; no task */
};

struct docker_job {
	struct docker_job *next;
	enum docker_job_kind kind;
	struct docker_task *task; /* holds a reference; NULL for a sweep */
};

struct docker_plugin {
	const struct orch_host *host;
	char *node_id;
	char *data_dir; /* absolute: the value of DOCKER_LABEL_DATA_DIR */
	char *socket_path;

	struct orch_sdk_server *server;
	struct orch_sdk_events *events_out;
	struct docker_events *engine_events;
	struct docker_api *events_api; /* the events thread's catch-up calls */

	pthread_mutex_t tasks_mu;
	struct docker_task *tasks;

	pthread_mutex_t jobs_mu;
	pthread_cond_t jobs_cv;
	struct docker_job *jobs_head, *jobs_tail;
	bool jobs_stopping;
	atomic_bool aborting; /* makes workers' transfers give up */
	atomic_bool sweep_queued; /* a sweep job waits in the queue */
	pthread_t workers[DOCKER_WORKERS];
	struct docker_api *worker_apis[DOCKER_WORKERS];
	size_t workers_started;

	pthread_mutex_t outbox_mu;
	pthread_cond_t outbox_cv;
	json_t *outbox; /* array of STATUS */
	bool outbox_stopping;
	pthread_t sender;
	bool sender_started;

	pthread_mutex_t handler_mu;
	pthread_cond_t handler_cv;
	struct docker_api *handler_apis[DOCKER_HANDLER_APIS];
	size_t handler_free; /* apis [0, handler_free) are free */
};

struct docker_worker_arg {
	struct docker_plugin *plugin;
	struct docker_api *api;
};

static void docker_logf(struct docker_plugin *p, enum orch_log_level level,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void docker_logf(struct docker_plugin *p, enum orch_log_level level,
			const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (p->host == NULL || p->host->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	p->host->log(level, DOCKER_PLUGIN_NAME, "%s", line);
}

/* ---------------------------------------------------------- task table */

static struct docker_task *task_new(const char *task_id)
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

static void task_unref(struct docker_task *t)
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
static void task_link(struct docker_plugin *p, struct docker_task *t)
{
	t->next = p->tasks;
	p->tasks = t;
	t->linked = true;
}

/* Caller holds tasks_mu. Drops the table's reference. */
static void task_unlink(struct docker_plugin *p, struct docker_task *t)
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
static struct docker_task *task_find(struct docker_plugin *p,
				     const char *task_id)
{
	struct docker_task *t;

	for (t = p->tasks; t != NULL; t = t->next)
		if (strcmp(t->task_id, task_id) == 0)
			return t;
	return NULL;
}

static int task_set_container(struct docker_task *t, const char *id)
{
	char *copy = id ? strdup(id) : NULL;

	if (id != NULL && copy == NULL)
		return -1;
	free(t->container_id);
	t->container_id = copy;
	return 0;
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
static void task_report(struct docker_plugin *p, struct docker_task *t,
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
static void task_report_exit(struct docker_plugin *p, struct docker_task *t,
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
static int jobs_push(struct docker_plugin *p, enum docker_job_kind kind,
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
static int jobs_push_sweep(struct docker_plugin *p)
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

/* -------------------------------------------------- container creation */

/* Container names allow [a-zA-Z0-9_.-]; anything else becomes '-'. */
static void name_sanitize(char *name)
{
	for (; *name != '\0'; name++) {
		char c = *name;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			*name = '-';
	}
}

/* orchd-<service_name>.<slot or node>.<task_id>, like Swarm's names. */
static char *container_name(struct docker_plugin *p, json_t *spec,
			    const char *task_id)
{
	const char *service =
		json_string_value(json_object_get(spec, "service_name"));
	json_int_t slot = json_integer_value(json_object_get(spec, "slot"));
	char *name = NULL;
	int n;

	if (service == NULL || service[0] == '\0')
		service = "task";
	if (slot > 0)
		n = asprintf(&name, "orchd-%.60s.%lld.%.64s", service,
			     (long long)slot, task_id);
	else
		n = asprintf(&name, "orchd-%.60s.%.40s.%.64s", service,
			     p->node_id, task_id);
	if (n < 0)
		return NULL;
	name_sanitize(name);
	return name;
}

static json_t *strings_copy(json_t *array)
{
	return json_is_array(array) && json_array_size(array) > 0
		       ? json_deep_copy(array)
		       : NULL;
}

/* The RTASK's stop_grace_ms, or the default. */
static int spec_grace_ms(json_t *spec)
{
	json_int_t grace =
		json_integer_value(json_object_get(spec, "stop_grace_ms"));

	return grace > 0 && grace < INT32_MAX ? (int)grace
					      : DOCKER_DEFAULT_GRACE_MS;
}

static json_t *container_labels(struct docker_plugin *p, json_t *spec,
				const char *task_id)
{
	json_t *labels = json_object();
	json_t *value;
	const char *key;
	char grace[16];
	const char *sid = json_string_value(json_object_get(spec, "service_id"));
	const char *sname =
		json_string_value(json_object_get(spec, "service_name"));

	json_object_foreach(json_object_get(spec, "labels"), key, value) {
		if (json_is_string(value))
			json_object_set(labels, key, value);
	}
	json_object_set_new(labels, DOCKER_LABEL_TASK, json_string(task_id));
	json_object_set_new(labels, DOCKER_LABEL_SERVICE_ID,
			    json_string(sid ? sid : ""));
	json_object_set_new(labels, DOCKER_LABEL_SERVICE_NAME,
			    json_string(sname ? sname : ""));
	json_object_set_new(labels, DOCKER_LABEL_NODE, json_string(p->node_id));
	json_object_set_new(labels, DOCKER_LABEL_DATA_DIR,
			    json_string(p->data_dir));
	snprintf(grace, sizeof(grace), "%d", spec_grace_ms(spec));
	json_object_set_new(labels, DOCKER_LABEL_GRACE, json_string(grace));
	return labels;
}

static json_t *container_binds(json_t *mounts)
{
	json_t *binds = json_array();
	json_t *mount;
	size_t i;
	char *bind;

	json_array_foreach(mounts, i, mount) {
		const char *src =
			json_string_value(json_object_get(mount, "source"));
		const char *dst =
			json_string_value(json_object_get(mount, "target"));
		bool ro = json_is_true(json_object_get(mount, "readonly"));

		if (asprintf(&bind, "%s:%s%s", src, dst, ro ? ":ro" : "") < 0)
			continue;
		json_array_append_new(binds, json_string(bind));
		free(bind);
	}
	return binds;
}

static void host_config_set_int(json_t *host_config, const char *key,
				json_t *from, const char *field)
{
	json_int_t v = json_integer_value(json_object_get(from, field));

	if (v > 0)
		json_object_set_new(host_config, key, json_integer(v));
}

/* The body of POST /containers/create for an RTASK. As Swarm does, the
 * task's command replaces the image's entrypoint and its args the CMD. */
static json_t *container_config(struct docker_plugin *p, json_t *spec,
				const char *task_id)
{
	json_t *config = json_object();
	json_t *host_config = json_object();
	json_t *limits = json_object_get(spec, "limits");
	json_t *reservations = json_object_get(spec, "reservations");
	json_t *value;

	json_object_set(config, "Image", json_object_get(spec, "image"));
	json_object_set_new(config, "Labels",
			    container_labels(p, spec, task_id));
	if ((value = strings_copy(json_object_get(spec, "env"))) != NULL)
		json_object_set_new(config, "Env", value);
	if ((value = strings_copy(json_object_get(spec, "command"))) != NULL)
		json_object_set_new(config, "Entrypoint", value);
	if ((value = strings_copy(json_object_get(spec, "args"))) != NULL)
		json_object_set_new(config, "Cmd", value);
	json_object_set_new(host_config, "Init", json_true());
	json_object_set_new(host_config, "RestartPolicy",
			    json_pack("{s:s}", "Name", "no"));
	host_config_set_int(host_config, "Memory", limits, "memory_bytes");
	host_config_set_int(host_config, "NanoCpus", limits, "nano_cpus");
	host_config_set_int(host_config, "MemoryReservation", reservations,
			    "memory_bytes");
	if (json_array_size(json_object_get(spec, "mounts")) > 0)
		json_object_set_new(host_config, "Binds",
				    container_binds(
					    json_object_get(spec, "mounts")));
	json_object_set_new(config, "HostConfig", host_config);
	return config;
}

/* A create that hit a name conflict: a container of the same task left
 * created-but-not-started by an earlier orchd. Removes it when its labels
 * say it is ours, so the create can be tried again. */
static bool container_clear_stale(struct docker_plugin *p,
				  struct docker_api *api, const char *name,
				  const char *task_id)
{
	json_t *info = NULL, *labels;
	char err[DOCKER_ERR];
	bool ours;

	if (docker_api_container_inspect(api, name, &info, err, sizeof(err)) !=
	    DOCKER_API_OK) {
		json_decref(info);
		return false;
	}
	labels = json_object_get(json_object_get(info, "Config"), "Labels");
	ours = json_is_string(json_object_get(labels, DOCKER_LABEL_TASK)) &&
	       strcmp(json_string_value(json_object_get(labels,
							DOCKER_LABEL_TASK)),
		      task_id) == 0 &&
	       json_is_string(json_object_get(labels, DOCKER_LABEL_NODE)) &&
	       strcmp(json_string_value(json_object_get(labels,
							DOCKER_LABEL_NODE)),
		      p->node_id) == 0;
	json_decref(info);
	return ours && docker_api_container_remove(api, name, true, err,
						   sizeof(err)) == DOCKER_API_OK;
}

/* ------------------------------------------------------------ start job */

/* Makes sure the image is there, pulling it if not. */
static int job_prepare_image(struct docker_api *api, const char *image,
			     char *err, size_t errlen)
{
	char why[DOCKER_ERR];
	int rc;

	rc = docker_api_image_inspect(api, image, NULL, why, sizeof(why));
	if (rc == DOCKER_API_NOT_FOUND)
		rc = docker_api_image_pull(api, image, why, sizeof(why));
	if (rc != DOCKER_API_OK)
		snprintf(err, errlen, "docker: image %s: %s", image, why);
	return rc;
}

static int job_create(struct docker_plugin *p, struct docker_api *api,
		      json_t *spec, const char *task_id, char **id, char *err,
		      size_t errlen)
{
	json_t *config = container_config(p, spec, task_id);
	char *name = container_name(p, spec, task_id);
	char why[DOCKER_ERR];
	int rc = DOCKER_API_ERROR;

	if (config == NULL || name == NULL) {
		snprintf(why, sizeof(why), "out of memory");
	} else {
		rc = docker_api_container_create(api, name, config, id, why,
						 sizeof(why));
		if (rc != DOCKER_API_OK && strstr(why, "Conflict") != NULL &&
		    container_clear_stale(p, api, name, task_id))
			rc = docker_api_container_create(api, name, config, id,
							 why, sizeof(why));
	}
	if (rc != DOCKER_API_OK)
		snprintf(err, errlen, "docker: create container: %s", why);
	json_decref(config);
	free(name);
	return rc;
}

/* The start job's last word, under tasks_mu: running, or the end that
 * the events thread saw while the job was busy; then a stop or a remove
 * asked for meanwhile. Returns true when the container must be removed. */
static bool job_start_finish(struct docker_plugin *p, struct docker_task *t)
{
	t->starting = false;
	if (t->removed)
		return true; /* its "destroy" clears the tombstone */
	if (t->died_while_starting) {
		task_report_exit(p, t, t->died_exit_code);
		return false;
	}
	task_report(p, t, "running", 0, NULL);
	if (t->stop_requested && !t->stop_queued) {
		if (jobs_push(p, DOCKER_JOB_STOP, t) == 0)
			t->stop_queued = true;
		else
			docker_logf(p, ORCH_LOG_ERROR,
				    "task %s: out of memory queuing its stop",
				    t->task_id);
	}
	return false;
}

/* Caller holds tasks_mu: the end of a start job that did not get its
 * container running, because of `error` (NULL: because a stop or a
 * remove came first). Returns true when the container it made must be
 * removed (the task was removed meanwhile). */
static bool job_start_abort(struct docker_plugin *p, struct docker_task *t,
			    const char *state, const char *error)
{
	t->starting = false;
	if (atomic_load(&p->aborting))
		return false; /* fini cut the job short: nothing is known */
	if (t->removed) {
		if (t->container_id != NULL)
			return true; /* its "destroy" clears the tombstone */
		task_unlink(p, t);
		return false;
	}
	if (error == NULL || t->stop_requested)
		task_report(p, t, "shutdown", 0, NULL);
	else
		task_report(p, t, state, 0, error);
	return false;
}

static void job_start(struct docker_plugin *p, struct docker_api *api,
		      struct docker_task *t)
{
	char err[DOCKER_ERR];
	const char *image;
	char *id = NULL;
	bool remove = false;
	int rc;

	pthread_mutex_lock(&p->tasks_mu);
	if (t->stop_requested || t->removed) {
		job_start_abort(p, t, "shutdown", NULL);
		pthread_mutex_unlock(&p->tasks_mu);
		return;
	}
	t->starting = true;
	task_report(p, t, "preparing", 0, NULL);
	pthread_mutex_unlock(&p->tasks_mu);

	image = json_string_value(json_object_get(t->spec, "image"));
	rc = job_prepare_image(api, image, err, sizeof(err));
	pthread_mutex_lock(&p->tasks_mu);
	if (rc != DOCKER_API_OK || t->stop_requested || t->removed) {
		job_start_abort(p, t, "rejected",
				rc != DOCKER_API_OK ? err : NULL);
		pthread_mutex_unlock(&p->tasks_mu);
		return;
	}
	task_report(p, t, "starting", 0, NULL);
	pthread_mutex_unlock(&p->tasks_mu);

	rc = job_create(p, api, t->spec, t->task_id, &id, err, sizeof(err));
	pthread_mutex_lock(&p->tasks_mu);
	if (rc == DOCKER_API_OK && task_set_container(t, id) != 0) {
		snprintf(err, sizeof(err), "docker: out of memory");
		rc = DOCKER_API_ERROR;
	}
	if (rc != DOCKER_API_OK || t->stop_requested || t->removed) {
		remove = job_start_abort(p, t, "rejected",
					 rc != DOCKER_API_OK ? err : NULL);
		pthread_mutex_unlock(&p->tasks_mu);
		goto out;
	}
	pthread_mutex_unlock(&p->tasks_mu);

	rc = docker_api_container_start(api, id, err, sizeof(err));
	pthread_mutex_lock(&p->tasks_mu);
	if (rc != DOCKER_API_OK && rc != DOCKER_API_NOT_MODIFIED) {
		char why[DOCKER_ERR + 32];

		snprintf(why, sizeof(why), "docker: start container: %s", err);
		remove = job_start_abort(p, t, "failed", why);
	} else {
		remove = job_start_finish(p, t);
	}
	pthread_mutex_unlock(&p->tasks_mu);
out:
	if (remove && id != NULL &&
	    docker_api_container_remove(api, id, true, err, sizeof(err)) !=
		    DOCKER_API_OK)
		docker_logf(p, ORCH_LOG_ERROR,
			    "task %s: removing container %s: %s", t->task_id,
			    id, err);
	free(id);
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

/* -------------------------------------------------------- engine events */

static const char *event_attr(json_t *event, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(event, "Actor"), "Attributes"),
		key));
}

/* Caller holds tasks_mu. A task we did not start in this life of the
 * plugin (adopted after a restart): a table entry is made on first sight. */
static struct docker_task *task_adopt(struct docker_plugin *p,
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

/* ------------------------------------------------------- handler's apis */

static struct docker_api *handler_api_take(struct docker_plugin *p)
{
	struct docker_api *api;

	pthread_mutex_lock(&p->handler_mu);
	while (p->handler_free == 0)
		pthread_cond_wait(&p->handler_cv, &p->handler_mu);
	api = p->handler_apis[--p->handler_free];
	pthread_mutex_unlock(&p->handler_mu);
	return api;
}

static void handler_api_give(struct docker_plugin *p, struct docker_api *api)
{
	pthread_mutex_lock(&p->handler_mu);
	p->handler_apis[p->handler_free++] = api;
	pthread_cond_signal(&p->handler_cv);
	pthread_mutex_unlock(&p->handler_mu);
}

/* {"label": ["orchd.node.id=<node>", more...]} */
static json_t *node_filters(struct docker_plugin *p, const char *task_id)
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
static struct docker_task *task_lookup(struct docker_plugin *p,
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

static void task_release(struct docker_plugin *p, struct docker_task *t)
{
	pthread_mutex_lock(&p->tasks_mu);
	task_unref(t);
	pthread_mutex_unlock(&p->tasks_mu);
}

static void reply_error_item(json_t *errors, const char *task_id,
			     const char *error)
{
	json_array_append_new(errors, json_pack("{s:s,s:s}", "task_id",
						task_id ? task_id : "",
						"error", error));
}

/* --------------------------------------------------------------- info */

static json_t *handle_info(struct docker_plugin *p, struct docker_api *api)
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

static bool task_id_ok(const char *id)
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

static json_t *handle_start(struct docker_plugin *p, struct docker_api *api,
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

static json_t *handle_stop(struct docker_plugin *p, struct docker_api *api,
			   json_t *request)
{
	json_t *tasks = json_object_get(request, "tasks"), *item;
	json_t *accepted = json_array(), *errors = json_array();
	char err[DOCKER_ERR];
	struct docker_task *t;
	size_t i;

	if (!json_is_array(tasks)) {
		json_decref(accepted);
		json_decref(errors);
		return orch_sdk_error("stop: \"tasks\" must be an array");
	}
	json_array_foreach(tasks, i, item) {
		const char *task_id =
			json_string_value(json_object_get(item, "task_id"));
		json_int_t grace =
			json_integer_value(json_object_get(item, "grace_ms"));

		if (!task_id_ok(task_id)) {
			reply_error_item(errors, task_id, "invalid task_id");
			continue;
		}
		t = task_lookup(p, api, task_id, err, sizeof(err));
		if (t == NULL) {
			reply_error_item(errors, task_id, err);
			continue;
		}
		pthread_mutex_lock(&p->tasks_mu);
		stop_one(p, t,
			 grace > 0 && grace < INT32_MAX ? (int)grace : 0);
		task_unref(t);
		pthread_mutex_unlock(&p->tasks_mu);
		json_array_append_new(accepted, json_string(task_id));
	}
	return json_pack("{s:o,s:o}", "accepted", accepted, "errors", errors);
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

static json_t *handle_remove(struct docker_plugin *p, struct docker_api *api,
			     json_t *request)
{
	json_t *tasks = json_object_get(request, "tasks"), *item;
	json_t *removed = json_array(), *errors = json_array();
	char err[DOCKER_ERR];
	struct docker_task *t;
	const char *error;
	size_t i;

	if (!json_is_array(tasks)) {
		json_decref(removed);
		json_decref(errors);
		return orch_sdk_error("remove: \"tasks\" must be an array");
	}
	json_array_foreach(tasks, i, item) {
		const char *task_id =
			json_string_value(json_object_get(item, "task_id"));

		if (!task_id_ok(task_id)) {
			reply_error_item(errors, task_id, "invalid task_id");
			continue;
		}
		t = task_lookup(p, api, task_id, err, sizeof(err));
		if (t == NULL && strncmp(err, "no such task", 12) == 0) {
			/* Nothing held: removing is done (idempotent). */
			json_array_append_new(removed, json_string(task_id));
			continue;
		}
		error = t ? remove_one(p, api, t, err, sizeof(err)) : err;
		if (t != NULL)
			task_release(p, t);
		if (error != NULL)
			reply_error_item(errors, task_id, error);
		else
			json_array_append_new(removed, json_string(task_id));
	}
	return json_pack("{s:o,s:o}", "removed", removed, "errors", errors);
}

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

static json_t *handle_list(struct docker_plugin *p, struct docker_api *api)
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

static json_t *handle_logs(struct docker_plugin *p, struct docker_api *api,
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

/* ------------------------------------------------------------- dispatch */

static json_t *docker_handle(void *ctx, const char *op, json_t *request)
{
	struct docker_plugin *p = ctx;
	struct docker_api *api = handler_api_take(p);
	json_t *reply;

	if (strcmp(op, ORCH_OP_INFO) == 0)
		reply = handle_info(p, api);
	else if (strcmp(op, ORCH_OP_START) == 0)
		reply = handle_start(p, api, request);
	else if (strcmp(op, ORCH_OP_STOP) == 0)
		reply = handle_stop(p, api, request);
	else if (strcmp(op, ORCH_OP_REMOVE) == 0)
		reply = handle_remove(p, api, request);
	else if (strcmp(op, ORCH_OP_LIST) == 0)
		reply = handle_list(p, api);
	else if (strcmp(op, ORCH_OP_LOGS) == 0)
		reply = handle_logs(p, api, request);
	else
		reply = orch_sdk_error("docker: unknown op \"%s\"", op);
	handler_api_give(p, api);
	return reply;
}

/* ----------------------------------------------------------- life cycle */

static int plugin_config(struct docker_plugin *p, const char *config_json,
			 char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *config = json_loads(config_json ? config_json : "{}", 0, &jerr);
	json_t *socket;

	if (!json_is_object(config)) {
		snprintf(err, errlen, "docker: config is not a JSON object: %s",
			 config ? "" : jerr.text);
		json_decref(config);
		return -1;
	}
	socket = json_object_get(config, "socket");
	if (socket != NULL && !json_is_string(socket)) {
		snprintf(err, errlen, "docker: config \"socket\" must be a "
			 "string");
		json_decref(config);
		return -1;
	}
	p->socket_path = strdup(socket ? json_string_value(socket)
				       : DOCKER_API_DEFAULT_SOCKET);
	json_decref(config);
	if (p->socket_path == NULL) {
		snprintf(err, errlen, "docker: out of memory");
		return -1;
	}
	return 0;
}

/* The data directory as an absolute path, the same each time orchd
 * starts on this data root. */
static int plugin_data_dir(struct docker_plugin *p, const char *data_dir,
			   char *err, size_t errlen)
{
	if (data_dir == NULL || data_dir[0] == '\0') {
		snprintf(err, errlen, "docker: the host gave no data directory");
		return -1;
	}
	p->data_dir = realpath(data_dir, NULL);
	if (p->data_dir == NULL) {
		snprintf(err, errlen, "docker: data directory %s: %s", data_dir,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int plugin_open_apis(struct docker_plugin *p, char *err, size_t errlen)
{
	char why[DOCKER_ERR];
	size_t i;

	for (i = 0; i < DOCKER_WORKERS; i++) {
		if (docker_api_open(p->socket_path, &p->worker_apis[i], why,
				    sizeof(why)) != DOCKER_API_OK)
			goto fail;
		docker_api_set_abort(p->worker_apis[i], &p->aborting);
	}
	for (i = 0; i < DOCKER_HANDLER_APIS; i++) {
		if (docker_api_open(p->socket_path, &p->handler_apis[i], why,
				    sizeof(why)) != DOCKER_API_OK)
			goto fail;
		p->handler_free++;
	}
	if (docker_api_open(p->socket_path, &p->events_api, why,
			    sizeof(why)) != DOCKER_API_OK)
		goto fail;
	docker_api_set_abort(p->events_api, &p->aborting);
	return 0;
fail:
	snprintf(err, errlen, "docker: %s", why);
	return -1;
}

static int plugin_start_threads(struct docker_plugin *p, char *err,
				size_t errlen)
{
	struct docker_worker_arg *wa;
	int rc;

	rc = pthread_create(&p->sender, NULL, sender_main, p);
	if (rc != 0)
		goto fail;
	p->sender_started = true;
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

static int plugin_follow_engine(struct docker_plugin *p, char *err,
				size_t errlen)
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

static void plugin_stop_workers(struct docker_plugin *p)
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

static void plugin_stop_sender(struct docker_plugin *p)
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

static void docker_fini(void *state)
{
	struct docker_plugin *p = state;
	struct docker_task *t;
	size_t i;

	if (p == NULL)
		return;
	orch_sdk_server_stop(p->server);
	plugin_stop_workers(p);
	docker_events_stop(p->engine_events);
	plugin_stop_sender(p);
	if (p->events_out != NULL)
		orch_sdk_events_close(p->events_out);
	while ((t = p->tasks) != NULL)
		task_unlink(p, t);
	for (i = 0; i < DOCKER_WORKERS; i++)
		docker_api_close(p->worker_apis[i]);
	for (i = 0; i < p->handler_free; i++)
		docker_api_close(p->handler_apis[i]);
	docker_api_close(p->events_api);
	json_decref(p->outbox);
	pthread_mutex_destroy(&p->tasks_mu);
	pthread_mutex_destroy(&p->jobs_mu);
	pthread_cond_destroy(&p->jobs_cv);
	pthread_mutex_destroy(&p->outbox_mu);
	pthread_cond_destroy(&p->outbox_cv);
	pthread_mutex_destroy(&p->handler_mu);
	pthread_cond_destroy(&p->handler_cv);
	free(p->socket_path);
	free(p->node_id);
	free(p->data_dir);
	free(p);
}

static int docker_init(const struct orch_host *host, void **state, char *err,
		       size_t errlen)
{
	struct docker_plugin *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(err, errlen, "docker: out of memory");
		return -1;
	}
	p->host = host;
	pthread_mutex_init(&p->tasks_mu, NULL);
	pthread_mutex_init(&p->jobs_mu, NULL);
	pthread_cond_init(&p->jobs_cv, NULL);
	pthread_mutex_init(&p->outbox_mu, NULL);
	pthread_cond_init(&p->outbox_cv, NULL);
	pthread_mutex_init(&p->handler_mu, NULL);
	pthread_cond_init(&p->handler_cv, NULL);
	atomic_init(&p->aborting, false);
	atomic_init(&p->sweep_queued, false);
	p->outbox = json_array();
	p->node_id = strdup(host->node_id ? host->node_id : "");
	if (p->outbox == NULL || p->node_id == NULL) {
		snprintf(err, errlen, "docker: out of memory");
		goto fail;
	}
	if (plugin_data_dir(p, host->data_dir, err, errlen) != 0 ||
	    plugin_config(p, host->config_json, err, errlen) != 0 ||
	    plugin_open_apis(p, err, errlen) != 0 ||
	    orch_sdk_events_open(host->event_url, &p->events_out, err,
				 errlen) != 0 ||
	    plugin_start_threads(p, err, errlen) != 0 ||
	    plugin_follow_engine(p, err, errlen) != 0 ||
	    orch_sdk_server_start(host->request_url, DOCKER_SERVER_WORKERS,
				  docker_handle, p, &p->server, err,
				  errlen) != 0)
		goto fail;
	docker_logf(p, ORCH_LOG_INFO, "docker runtime on %s, node %s, data %s",
		    p->socket_path, p->node_id, p->data_dir);
	*state = p;
	return 0;
fail:
	docker_fini(p);
	return -1;
}

static const struct orch_plugin docker_plugin = {
	.abi_version = ORCH_PLUGIN_ABI_VERSION,
	.kind = ORCH_PLUGIN_RUNTIME,
	.name = DOCKER_PLUGIN_NAME,
	.version = DOCKER_PLUGIN_VERSION,
	.init = docker_init,
	.fini = docker_fini,
};

/* This should be the only global non-static symbol in this file. */
__attribute__((visibility("default"))) const struct orch_plugin *
orch_plugin_entry(void)
{
	return &docker_plugin;
}

/*
 * docker.h: the internal interface of the `docker` runtime plugin (not
 * installed). The plugin runs the core's tasks as containers of a Docker
 * engine and reports their progress as task_status events. Its parts:
 *
 *   docker.c          plugin entry, options, init and fini, request
 *                     dispatch; the threads and the lock order
 *   docker_task.c     the task table, statuses and the sender thread
 *   docker_jobs.c     the job queue, the worker threads, stop and sweep
 *   docker_start.c    the start job: image, container config, create, start
 *   docker_engine.c   follows the engine's /events: die, oom, destroy
 *   docker_requests.c the requests info, start, stop and remove
 *   docker_list.c     the requests list (adoption) and logs
 *   docker_api*.c     the Engine API client (docker_api.h)
 *
 * A function whose comment says "Caller holds tasks_mu" must be called
 * with it held; the lock order is written in docker.c.
 */
#ifndef DOCKER_H
#define DOCKER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "docker_api.h"
#include "orch_plugin.h"

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

/* One instance of the plugin: made and freed by docker.c, whose first
 * comment says which lock guards what and in which order they nest. */
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

void docker_logf(struct docker_plugin *p, enum orch_log_level level,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* docker_task.c: the task table. */
struct docker_task *task_new(const char *task_id);
void task_unref(struct docker_task *t);
void task_link(struct docker_plugin *p, struct docker_task *t);
void task_unlink(struct docker_plugin *p, struct docker_task *t);
struct docker_task *task_find(struct docker_plugin *p, const char *task_id);
int task_set_container(struct docker_task *t, const char *id);
struct docker_task *task_adopt(struct docker_plugin *p, const char *task_id,
			       const char *container_id,
			       enum docker_phase phase);
void task_release(struct docker_plugin *p, struct docker_task *t);
int spec_grace_ms(json_t *spec);
/* docker_task.c: statuses and their sender thread. */
void task_report(struct docker_plugin *p, struct docker_task *t,
		 const char *state, int exit_code, const char *error);
void task_report_exit(struct docker_plugin *p, struct docker_task *t,
		      int exit_code);
int docker_sender_start(struct docker_plugin *p, char *err, size_t errlen);
void docker_sender_stop(struct docker_plugin *p);

/* docker_jobs.c: the job queue and its workers. */
int jobs_push(struct docker_plugin *p, enum docker_job_kind kind,
	      struct docker_task *t);
int jobs_push_sweep(struct docker_plugin *p);
int docker_workers_start(struct docker_plugin *p, char *err, size_t errlen);
void docker_workers_stop(struct docker_plugin *p);
/* docker_start.c */
void job_start(struct docker_plugin *p, struct docker_api *api,
	       struct docker_task *t);

/* docker_engine.c */
int engine_follow(struct docker_plugin *p, char *err, size_t errlen);

/* docker_requests.c and docker_list.c: the request handlers. */
bool task_id_ok(const char *id);
json_t *node_filters(struct docker_plugin *p, const char *task_id);
struct docker_task *task_lookup(struct docker_plugin *p,
				struct docker_api *api, const char *task_id,
				char *err, size_t errlen);
json_t *handle_info(struct docker_plugin *p, struct docker_api *api);
json_t *handle_start(struct docker_plugin *p, struct docker_api *api,
		     json_t *request);
json_t *handle_stop(struct docker_plugin *p, struct docker_api *api,
		    json_t *request);
json_t *handle_remove(struct docker_plugin *p, struct docker_api *api,
		      json_t *request);
json_t *handle_list(struct docker_plugin *p, struct docker_api *api);
json_t *handle_logs(struct docker_plugin *p, struct docker_api *api,
		    json_t *request);

#endif

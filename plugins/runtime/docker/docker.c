/*
 * docker.c: the `docker` runtime plugin of orchd: its entry, its options,
 * init and fini, and the dispatch of the core's requests. The plugin runs
 * the core's tasks as containers of a Docker engine (Engine API v1.41
 * over its unix socket, see docker_api.h; option "socket", default
 * /var/run/docker.sock) and reports their progress as task_status events
 * (orch_protocol.h). docker.h lists the other parts.
 *
 * Threads:
 * - the SDK's request server, DOCKER_SERVER_WORKERS threads: a handler
 *   borrows one of the DOCKER_HANDLER_APIS engine connections (handler
 *   pool below), checks the request and queues work, so the core gets its
 *   answer at once (docker_requests.c, docker_list.c);
 * - DOCKER_WORKERS job workers, each with its own engine connection: start,
 *   stop and sweep jobs (docker_jobs.c, docker_start.c);
 * - the events thread of the API client, following the engine's /events;
 *   its callbacks (docker_engine.c) use events_api;
 * - the sender, which sends the outbox's statuses in order, batched
 *   (docker_task.c).
 * fini stops them in that order: no more requests, workers (their engine
 * transfers cut short through `aborting`), events, then the sender once it
 * has sent everything queued.
 *
 * Locks, all in struct docker_plugin and made here:
 * - tasks_mu guards the task table and every task's fields;
 * - jobs_mu guards the job queue; outbox_mu guards the outbox;
 * - handler_mu guards the handler pool of engine connections.
 * Lock order: tasks_mu, then jobs_mu or outbox_mu (a status is queued, and
 * a job pushed, in the same critical section that advances the task, so
 * the statuses of one task leave in the order of its phases); jobs_mu and
 * outbox_mu never nest, and handler_mu is only taken alone. No lock is
 * held across an engine call or a send to the core.
 *
 * Containers are never touched by fini: after a restart the "list"
 * request reports them (adoption) and the events thread picks them up
 * again by their labels. State owned here: struct docker_plugin itself,
 * its options and the handler pool.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "docker.h"
#include "orch_plugin.h"
#include "orch_protocol.h"
#include "orch_sdk.h"

void docker_logf(struct docker_plugin *p, enum orch_log_level level,
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

/* -------------------------------------------------------------- options */

/* The option keys the plugin accepts (struct orch_plugin's options). */
static const char *const docker_option_keys[] = {
	"socket", /* the engine's unix socket: unix:///path or /path */
	NULL,
};

/* The engine's socket path from the value of option "socket" (NULL: the
 * default). Only a local unix socket will do: the Engine API over TCP is
 * not spoken here, and a path curl cannot use is refused now rather than
 * at every request. */
static int options_socket(struct docker_plugin *p, json_t *value, char *err,
			  size_t errlen)
{
	const char *text = value ? json_string_value(value) : NULL;
	const char *path = text;
	struct sockaddr_un addr;

	if (value == NULL)
		path = DOCKER_API_DEFAULT_SOCKET;
	else if (text != NULL && strncmp(text, "unix://", 7) == 0)
		path = text + 7;
	if (path == NULL || path[0] != '/') {
		snprintf(err, errlen,
			 "docker: option \"socket\" must be a string "
			 "unix:///path or /path (the engine's unix socket), "
			 "not %s%.200s%s",
			 text ? "\"" : "", text ? text : "a JSON non-string",
			 text ? "\"" : "");
		return -1;
	}
	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen,
			 "docker: option \"socket\": path %.60s... is longer "
			 "than %zu bytes",
			 path, sizeof(addr.sun_path) - 1);
		return -1;
	}
	p->socket_path = strdup(path);
	if (p->socket_path == NULL) {
		snprintf(err, errlen, "docker: out of memory");
		return -1;
	}
	return 0;
}

static bool options_known(const char *key)
{
	size_t i;

	for (i = 0; docker_option_keys[i] != NULL; i++)
		if (strcmp(docker_option_keys[i], key) == 0)
			return true;
	return false;
}

/* Reads the options the host passes as a JSON object. orchd refuses
 * unknown keys before init; a host that does not is refused here. */
static int options_read(struct docker_plugin *p, const char *config_json,
			char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *config = json_loads(config_json ? config_json : "{}", 0, &jerr);
	json_t *value;
	const char *key;
	int rc;

	if (!json_is_object(config)) {
		snprintf(err, errlen, "docker: options are not a JSON object%s%s",
			 config ? "" : ": ", config ? "" : jerr.text);
		json_decref(config);
		return -1;
	}
	json_object_foreach(config, key, value) {
		if (!options_known(key)) {
			snprintf(err, errlen,
				 "docker: unknown option \"%s\" (accepted: "
				 "socket)",
				 key);
			json_decref(config);
			return -1;
		}
	}
	rc = options_socket(p, json_object_get(config, "socket"), err, errlen);
	json_decref(config);
	return rc;
}

/* ----------------------------------------------------------- life cycle */

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

static void docker_fini(void *state)
{
	struct docker_plugin *p = state;
	struct docker_task *t;
	size_t i;

	if (p == NULL)
		return;
	orch_sdk_server_stop(p->server);
	docker_workers_stop(p);
	docker_events_stop(p->engine_events);
	docker_sender_stop(p);
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
	if (options_read(p, host->config_json, err, errlen) != 0 ||
	    plugin_data_dir(p, host->data_dir, err, errlen) != 0 ||
	    plugin_open_apis(p, err, errlen) != 0 ||
	    orch_sdk_events_open(host->event_url, &p->events_out, err,
				 errlen) != 0 ||
	    docker_sender_start(p, err, errlen) != 0 ||
	    docker_workers_start(p, err, errlen) != 0 ||
	    engine_follow(p, err, errlen) != 0 ||
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

/* The one symbol the plugin exports (the other parts' functions are
 * global but hidden: the plugin is built with -fvisibility=hidden). */
ORCH_PLUGIN_DEFINE(.kind = ORCH_PLUGIN_RUNTIME,
		   .name = DOCKER_PLUGIN_NAME,
		   .version = DOCKER_PLUGIN_VERSION,
		   .init = docker_init,
		   .fini = docker_fini,
		   .options = docker_option_keys);

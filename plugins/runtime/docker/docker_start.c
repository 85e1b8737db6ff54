/*
 * docker_start.c: the start job of the `docker` runtime: makes sure the
 * task's image is there (pulling it if not), turns the RTASK into the body
 * of POST /containers/create (as Swarm does: the task's command replaces
 * the image's entrypoint, its args the CMD; labels say whose container it
 * is), creates and starts the container, and reports preparing, starting,
 * then running, or rejected / failed / shutdown when it cannot go on.
 *
 * A stop or a remove may arrive while the job works (without tasks_mu
 * held during engine calls): the job looks at the task after each step
 * and finishes what was asked, removing a container it made for a task
 * removed meanwhile. State owned here: none beyond the job's locals.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

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

void job_start(struct docker_plugin *p, struct docker_api *api,
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


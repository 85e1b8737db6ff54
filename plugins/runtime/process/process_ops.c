/*
 * process_ops.c: answers the core's requests to the `process` runtime
 * (orch_protocol.h): info, start, stop, remove, list and logs. Handlers
 * validate their input, change the task list under the runtime's lock and
 * leave everything slow or event-driven (spawning, waiting, SIGKILL
 * deadlines) to the watcher thread (process_watch.c). No state of its own.
 */
#include "process.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_LOG_MAX_BYTES (1024 * 1024)

/* ------------------------------------------------------------------ info */

static json_t *handle_info(struct proc_runtime *rt)
{
	bool available = rt->unavailable[0] == '\0';
	struct orch_sched_resources capacity;
	orch_node_capacity(&capacity);
	json_t *reply = json_pack(
		"{s:s, s:s, s:b, s:{s:I, s:I}, s:s, s:s}", "name", rt->name,
		"kind", "runtime", "available", available, "resources",
		"nano_cpus", (json_int_t)capacity.nano_cpus, "memory_bytes",
		(json_int_t)capacity.memory_bytes, "shim", rt->shim_path,
		"limits",
		"not enforced: tasks run with the node's full CPU and memory");
	if (reply != NULL && !available)
		json_object_set_new(reply, "error",
				    json_string(rt->unavailable));
	return reply;
}

/* ------------------------------------------------------------ validation */

static const char *check_string_array(json_t *task, const char *key,
				      bool env)
{
	json_t *array = json_object_get(task, key);
	if (array == NULL || json_is_null(array))
		return NULL;
	if (!json_is_array(array))
		return "must be an array of strings";
	size_t i;
	json_t *item;
	json_array_foreach(array, i, item) {
		const char *text = json_string_value(item);
		if (text == NULL)
			return "must be an array of strings";
		if (env && (strchr(text, '=') == NULL || text[0] == '='))
			return "entries must look like KEY=VALUE";
	}
	return NULL;
}

/* Returns NULL when the RTASK is usable, else why not (into buf). */
static const char *check_task(json_t *task, char *buf, size_t buflen)
{
	static const char *const arrays[] = { "command", "args", "env" };
	const char *image = json_string_value(json_object_get(task, "image"));
	if (image == NULL || image[0] == '\0')
		return "missing \"image\" (the program to run)";
	for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
		const char *why = check_string_array(
			task, arrays[i], strcmp(arrays[i], "env") == 0);
		if (why != NULL) {
			snprintf(buf, buflen, "\"%s\" %s", arrays[i], why);
			return buf;
		}
	}
	json_t *mounts = json_object_get(task, "mounts");
	if (mounts != NULL && !json_is_null(mounts) &&
	    (!json_is_array(mounts) || json_array_size(mounts) > 0))
		return "mounts are not supported by the process runtime";
	json_t *grace = json_object_get(task, "stop_grace_ms");
	if (grace != NULL && !json_is_null(grace) &&
	    (!json_is_integer(grace) || json_integer_value(grace) < 0))
		return "\"stop_grace_ms\" must be a non-negative integer";
	return NULL;
}

/* The task_id of one entry of a request's "tasks", or NULL. */
static const char *entry_id(json_t *entry, const char *key)
{
	return json_string_value(json_object_get(entry, key));
}

static void add_error(json_t *errors, const char *task_id, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));
static void add_error(json_t *errors, const char *task_id, const char *fmt,
		      ...)
{
	char text[PROC_REASON_MAX + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_array_append_new(errors, json_pack("{s:s, s:s}", "task_id",
						task_id ? task_id : "",
						"error", text));
}

static struct proc_task *find_task(struct proc_runtime *rt, const char *id)
{
	for (struct proc_task *task = rt->tasks; task; task = task->next) {
		if (strcmp(task->id, id) == 0)
			return task;
	}
	return NULL;
}

static json_t *get_tasks(json_t *request)
{
	json_t *tasks = json_object_get(request, "tasks");
	return json_is_array(tasks) ? tasks : NULL;
}

/* ----------------------------------------------------------------- start */

static int start_write_spec(struct proc_task *task, json_t *spec)
{
	char *text = json_dumps(spec, JSON_COMPACT);
	if (text == NULL)
		return -ENOMEM;
	int rc = proc_store_write(task->dir, PROC_FILE_SPEC, text,
				  strlen(text));
	free(text);
	return rc;
}

/* Creates the task (lock held). Returns NULL or why it was refused. */
static const char *start_one(struct proc_runtime *rt, json_t *spec,
			     const char *id, char *buf, size_t buflen)
{
	if (find_task(rt, id) != NULL)
		return "task already exists";
	struct proc_task *task = proc_task_new(rt, id);
	if (task == NULL)
		return "out of memory";
	if (mkdir(task->dir, 0755) != 0) {
		int err = errno;
		proc_task_free(task);
		if (err == EEXIST)
			return "task already exists";
		snprintf(buf, buflen, "mkdir task directory: %s",
			 strerror(err));
		return buf;
	}
	task->spec = json_deep_copy(spec);
	int rc = task->spec ? start_write_spec(task, spec) : -ENOMEM;
	if (rc != 0) {
		snprintf(buf, buflen, "writing spec.json: %s", strerror(-rc));
		rmdir(task->dir);
		proc_task_free(task);
		return buf;
	}
	json_t *grace = json_object_get(spec, "stop_grace_ms");
	if (json_is_integer(grace))
		task->grace_ms = json_integer_value(grace);
	task->next = rt->tasks;
	rt->tasks = task;
	return NULL;
}

static json_t *handle_start(struct proc_runtime *rt, json_t *request)
{
	json_t *tasks = get_tasks(request);
	if (tasks == NULL)
		return orch_sdk_error("start: \"tasks\" must be an array");
	json_t *accepted = json_array(), *errors = json_array();
	char buf[PROC_REASON_MAX + 64];
	size_t i;
	json_t *spec;
	pthread_mutex_lock(&rt->lock);
	json_array_foreach(tasks, i, spec) {
		const char *id = entry_id(spec, "id");
		const char *why = NULL;
		if (!json_is_object(spec))
			why = "a task must be a JSON object";
		else if (id == NULL)
			why = "missing \"id\"";
		else if (!proc_task_id_valid(id))
			why = "bad \"id\": want [A-Za-z0-9_.-]{1,128}";
		else if (rt->unavailable[0] != '\0')
			why = rt->unavailable;
		else
			why = check_task(spec, buf, sizeof(buf));
		if (why == NULL)
			why = start_one(rt, spec, id, buf, sizeof(buf));
		if (why != NULL)
			add_error(errors, id, "%s", why);
		else
			json_array_append_new(accepted, json_string(id));
	}
	pthread_mutex_unlock(&rt->lock);
	if (json_array_size(accepted) > 0)
		proc_watch_wake(rt);
	return json_pack("{s:o, s:o}", "accepted", accepted, "errors", errors);
}

/* ------------------------------------------------------------------ stop */

static json_t *handle_stop(struct proc_runtime *rt, json_t *request)
{
	json_t *tasks = get_tasks(request);
	if (tasks == NULL)
		return orch_sdk_error("stop: \"tasks\" must be an array");
	json_t *accepted = json_array(), *errors = json_array();
	size_t i;
	json_t *entry;
	pthread_mutex_lock(&rt->lock);
	json_array_foreach(tasks, i, entry) {
		const char *id = entry_id(entry, "task_id");
		json_t *grace = json_object_get(entry, "grace_ms");
		struct proc_task *task = id ? find_task(rt, id) : NULL;
		if (id == NULL) {
			add_error(errors, NULL, "missing \"task_id\"");
			continue;
		}
		if (grace != NULL && (!json_is_integer(grace) ||
				      json_integer_value(grace) < 0)) {
			add_error(errors, id, "\"grace_ms\" must be a "
					      "non-negative integer");
			continue;
		}
		if (task == NULL) {
			add_error(errors, id, "no such task");
			continue;
		}
		int64_t grace_ms = grace ? json_integer_value(grace)
					 : task->grace_ms;
		int rc = proc_task_stop(rt, task, grace_ms);
		if (rc != 0)
			add_error(errors, id, "stop: %s", strerror(-rc));
		else
			json_array_append_new(accepted, json_string(id));
	}
	pthread_mutex_unlock(&rt->lock);
	return json_pack("{s:o, s:o}", "accepted", accepted, "errors", errors);
}

/* ---------------------------------------------------------------- remove */

/* A task directory holds only plain files (process_store.h). */
static int remove_dir(const char *path)
{
	DIR *dir = opendir(path);
	if (dir == NULL)
		return errno == ENOENT ? 0 : -errno;
	int rc = 0;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (strcmp(entry->d_name, ".") == 0 ||
		    strcmp(entry->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(dir), entry->d_name, 0) != 0 && rc == 0)
			rc = -errno;
	}
	closedir(dir);
	if (rc == 0 && rmdir(path) != 0)
		rc = -errno;
	return rc;
}

static void unlink_task(struct proc_runtime *rt, struct proc_task *task)
{
	for (struct proc_task **link = &rt->tasks; *link;
	     link = &(*link)->next) {
		if (*link == task) {
			*link = task->next;
			return;
		}
	}
}

static const char *remove_one(struct proc_runtime *rt, const char *id,
			      char *buf, size_t buflen)
{
	struct proc_task *task = find_task(rt, id);
	if (task == NULL)
		return "no such task";
	if (task->phase != PROC_ENDED)
		return "task has not ended; stop it first";
	int rc = remove_dir(task->dir);
	if (rc != 0) {
		snprintf(buf, buflen, "removing %s: %s", task->dir,
			 strerror(-rc));
		return buf;
	}
	unlink_task(rt, task);
	proc_task_free(task);
	return NULL;
}

static json_t *handle_remove(struct proc_runtime *rt, json_t *request)
{
	json_t *tasks = get_tasks(request);
	if (tasks == NULL)
		return orch_sdk_error("remove: \"tasks\" must be an array");
	json_t *removed = json_array(), *errors = json_array();
	char buf[PATH_MAX + 64];
	size_t i;
	json_t *entry;
	pthread_mutex_lock(&rt->lock);
	json_array_foreach(tasks, i, entry) {
		const char *id = entry_id(entry, "task_id");
		const char *why = id ? remove_one(rt, id, buf, sizeof(buf))
				     : "missing \"task_id\"";
		if (why != NULL)
			add_error(errors, id, "%s", why);
		else
			json_array_append_new(removed, json_string(id));
	}
	pthread_mutex_unlock(&rt->lock);
	return json_pack("{s:o, s:o}", "removed", removed, "errors", errors);
}

/* ------------------------------------------------------------------ list */

static json_t *handle_list(struct proc_runtime *rt)
{
	json_t *statuses = json_array();
	pthread_mutex_lock(&rt->lock);
	for (struct proc_task *task = rt->tasks; task; task = task->next)
		json_array_append_new(statuses, proc_task_status(task));
	pthread_mutex_unlock(&rt->lock);
	return json_pack("{s:o}", "tasks", statuses);
}

/* ------------------------------------------------------------------ logs */

static json_t *logs_read(const char *dir, json_int_t lines)
{
	char path[PATH_MAX + 16], err[PATH_MAX + 128];
	snprintf(path, sizeof(path), "%s/%s", dir, PROC_FILE_LOG);
	char *data;
	size_t len;
	if (orch_file_tail(path, lines, PROC_LOG_MAX_BYTES, &data, &len, err,
			   sizeof(err)) != 0)
		return orch_sdk_error("logs: %s", err);
	json_t *reply = json_pack("{s:s%}", "data", data, len);
	free(data);
	return reply;
}

static json_t *handle_logs(struct proc_runtime *rt, json_t *request)
{
	const char *id = json_string_value(json_object_get(request, "task_id"));
	json_t *tail = json_object_get(request, "tail");
	if (id == NULL)
		return orch_sdk_error("logs: missing \"task_id\"");
	if (tail != NULL && !json_is_integer(tail))
		return orch_sdk_error("logs: \"tail\" must be an integer");
	char dir[PATH_MAX];
	pthread_mutex_lock(&rt->lock);
	struct proc_task *task = find_task(rt, id);
	if (task != NULL)
		snprintf(dir, sizeof(dir), "%s", task->dir);
	pthread_mutex_unlock(&rt->lock);
	if (task == NULL)
		return orch_sdk_error("logs: no such task: %s", id);
	return logs_read(dir, tail ? json_integer_value(tail) : 0);
}

/* -------------------------------------------------------------- dispatch */

json_t *proc_handle_request(void *ctx, const char *op, json_t *request)
{
	struct proc_runtime *rt = ctx;
	if (strcmp(op, ORCH_OP_INFO) == 0)
		return handle_info(rt);
	if (strcmp(op, ORCH_OP_START) == 0)
		return handle_start(rt, request);
	if (strcmp(op, ORCH_OP_STOP) == 0)
		return handle_stop(rt, request);
	if (strcmp(op, ORCH_OP_REMOVE) == 0)
		return handle_remove(rt, request);
	if (strcmp(op, ORCH_OP_LIST) == 0)
		return handle_list(rt);
	if (strcmp(op, ORCH_OP_LOGS) == 0)
		return handle_logs(rt, request);
	return orch_sdk_error("unknown op \"%s\" for a runtime plugin", op);
}

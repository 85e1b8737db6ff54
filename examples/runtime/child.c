/*
 * child.c: a small orchd runtime plugin, meant to be copied. It runs each
 * task as a plain child process of orchd: "image" names the program
 * (looked up in orchd's PATH), command and args are its arguments, env its
 * environment (plus a default PATH), and its output goes to
 * <data_dir>/<task id>.log. The SDK's runtime helper does the serving, the
 * batching and the task_status events, and its child helper (orch_child_*)
 * (orch_children_*) keeps the tasks, spawns, watches, stops and reports
 * each process; this file adds the log files and the option. Build it out of tree and drop
 * it into --plugins (examples/runtime/skeleton.c is the smallest start):
 *
 *   cc -shared -fPIC -fvisibility=hidden -o child.so child.c \
 *      $(pkg-config --cflags --libs orch-sdk)
 *
 * Unlike plugins/runtime/process, tasks do not outlive orchd: fini kills
 * them. Option: default_grace_ms, the stop grace of a task that sets none.
 *
 * State: struct child_runtime (the SDK's set of tasks, the option) from
 * init to fini.
 */
#define _POSIX_C_SOURCE 200809L /* PATH_MAX under -std=c11 */
#include <orch_sdk.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHILD_LOG_MAX (1024 * 1024) /* logs reads at most the last MiB */

struct child_runtime {
	const struct orch_host *host;
	struct orch_runtime_server *server;
	struct orch_children *tasks;
	int64_t default_grace_ms;
};

/* The log file of a task: ids name files, so they are checked first. */
static int log_path(struct child_runtime *rt, const char *id, char *path)
{
	if (id[0] == '.' || strlen(id) > 128 ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789_.-") != strlen(id))
		return -1;
	snprintf(path, PATH_MAX, "%s/%s.log", rt->host->data_dir, id);
	return 0;
}

static int child_start(void *ctx, const struct orch_rt_task *task, char *err,
		       size_t errlen)
{
	struct child_runtime *rt = ctx;
	char path[PATH_MAX];

	if (log_path(rt, task->id, path) != 0) {
		snprintf(err, errlen, "bad task id (want [A-Za-z0-9_.-])");
		return -1;
	}
	return orch_children_start(rt->tasks, rt->server, task, path, err,
				   errlen);
}

static int child_stop(void *ctx, const char *task_id, int64_t grace_ms,
		      char *err, size_t errlen)
{
	struct child_runtime *rt = ctx;

	return orch_children_stop(rt->tasks, task_id, grace_ms, err, errlen);
}

/* Forgets the task and deletes its log. */
static int child_remove(void *ctx, const char *task_id, char *err,
			size_t errlen)
{
	struct child_runtime *rt = ctx;
	char path[PATH_MAX];

	if (orch_children_remove(rt->tasks, task_id, err, errlen) != 0)
		return -1;
	if (log_path(rt, task_id, path) == 0)
		unlink(path);
	return 0;
}

static int child_list(void *ctx, struct orch_rt_list *list, char *err,
		      size_t errlen)
{
	struct child_runtime *rt = ctx;

	return orch_children_list(rt->tasks, list, err, errlen);
}

static int child_logs(void *ctx, const char *task_id, int64_t tail,
		      char **data, size_t *len, char *err, size_t errlen)
{
	struct child_runtime *rt = ctx;
	char path[PATH_MAX];

	if (!orch_children_has(rt->tasks, task_id) ||
	    log_path(rt, task_id, path) != 0) {
		snprintf(err, errlen, "no such task: %s", task_id);
		return -1;
	}
	return orch_file_tail(path, tail, CHILD_LOG_MAX, data, len, err,
			      errlen);
}

/* ------------------------------------------------------------ lifecycle */

static void child_fini(void *state)
{
	struct child_runtime *rt = state;

	orch_children_free(rt->tasks); /* kills them; their ends are sent */
	orch_runtime_stop(rt->server);
	free(rt);
}

/* The option default_grace_ms (a number of milliseconds). */
static int read_options(struct child_runtime *rt, char *err, size_t errlen)
{
	char text[32], *end;

	rt->default_grace_ms = 10000;
	switch (orch_option(rt->host, "default_grace_ms", text, sizeof(text))) {
	case ORCH_OPTION_ERROR:
		snprintf(err, errlen, "%s", text);
		return -1;
	case ORCH_OPTION_FOUND:
		errno = 0;
		rt->default_grace_ms = strtoll(text, &end, 10);
		if (errno != 0 || *end != '\0' || rt->default_grace_ms < 0) {
			snprintf(err, errlen, "option default_grace_ms: want "
					      "milliseconds, got \"%s\"", text);
			return -1;
		}
		return 0;
	default:
		return 0;
	}
}

static int child_init(const struct orch_host *host, void **state, char *err,
		      size_t errlen)
{
	struct child_runtime *rt = calloc(1, sizeof(*rt));
	struct orch_runtime callbacks = {
		.version = ORCH_RUNTIME_VERSION,
		.workers = 2,
		.ctx = rt,
		.start = child_start,
		.stop = child_stop,
		.remove = child_remove,
		.list = child_list,
		.logs = child_logs,
	};

	if (rt == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rt->host = host;
	if (read_options(rt, err, errlen) != 0)
		goto fail;
	rt->tasks = orch_children_new(rt->default_grace_ms);
	if (rt->tasks == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (orch_runtime_start(host, &callbacks, &rt->server, err, errlen))
		goto fail;
	orch_logf(host, ORCH_LOG_INFO, "running tasks as child processes");
	*state = rt;
	return 0;
fail:
	orch_children_free(rt->tasks);
	free(rt);
	return -1;
}

static const char *const child_options[] = {"default_grace_ms", NULL};

ORCH_PLUGIN_DEFINE(.kind = ORCH_PLUGIN_RUNTIME, .name = "child",
		   .version = "1.0", .init = child_init, .fini = child_fini,
		   .options = child_options);

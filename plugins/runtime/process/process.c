/*
 * process.c: the `process` runtime plugin of orchd, the embedded default
 * runtime: tasks are plain programs run on the node ("image" names the
 * program, command+args are its arguments), each supervised by a detached
 * orchd-shim so that they outlive orchd restarts. This file holds the
 * plugin descriptor, init (configuration, finding orchd-shim, re-adopting
 * the tasks of a previous run, starting the watcher and the request server)
 * and fini (stops watching, never kills a task). It owns struct
 * proc_runtime for the plugin's lifetime.
 *
 * Options: "shim", the path of orchd-shim (`--plugin-opt
 * process.shim=PATH`); without it the env var ORCHD_SHIM, else
 * <dir of this .so>/../bin/orchd-shim.
 */
#include "process.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_SERVER_WORKERS 4

/* ------------------------------------------------------------- the shim */

static int shim_default_path(char *out, size_t outlen)
{
	Dl_info info;
	if (dladdr((void *)orch_plugin_entry, &info) == 0 ||
	    info.dli_fname == NULL)
		return -1;
	char so_path[PATH_MAX];
	snprintf(so_path, sizeof(so_path), "%s", info.dli_fname);
	int n = snprintf(out, outlen, "%s/../bin/orchd-shim", dirname(so_path));
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* Picks the shim (option, env, next to the plugin) and says in
 * rt->unavailable when it cannot be run. */
static void shim_locate(struct proc_runtime *rt, const char *configured)
{
	const char *from_env = getenv("ORCHD_SHIM");
	if (configured != NULL)
		snprintf(rt->shim_path, sizeof(rt->shim_path), "%s",
			 configured);
	else if (from_env != NULL && from_env[0] != '\0')
		snprintf(rt->shim_path, sizeof(rt->shim_path), "%s", from_env);
	else if (shim_default_path(rt->shim_path, sizeof(rt->shim_path)) != 0)
		snprintf(rt->shim_path, sizeof(rt->shim_path), "orchd-shim");
	char resolved[PATH_MAX];
	if (realpath(rt->shim_path, resolved) != NULL)
		snprintf(rt->shim_path, sizeof(rt->shim_path), "%s", resolved);
	if (rt->shim_path[0] != '/' || access(rt->shim_path, X_OK) != 0)
		snprintf(rt->unavailable, sizeof(rt->unavailable),
			 "orchd-shim not usable at %s: %s (set the option "
			 "\"shim\" or ORCHD_SHIM)",
			 rt->shim_path,
			 rt->shim_path[0] != '/' ? "not an absolute path"
						 : strerror(errno));
}

/* Tasks are watched through pidfds (Linux >= 5.3). */
static void pidfd_check(struct proc_runtime *rt)
{
	int fd = pidfd_open(getpid(), 0);
	if (fd >= 0) {
		close(fd);
		return;
	}
	if (rt->unavailable[0] == '\0')
		snprintf(rt->unavailable, sizeof(rt->unavailable),
			 "pidfd_open: %s (needs Linux >= 5.3)",
			 strerror(errno));
}

/* ------------------------------------------------------------ lifecycle */

static int runtime_dirs(struct proc_runtime *rt, const char *data_dir,
			char *err, size_t errlen)
{
	char base[PATH_MAX];
	if (realpath(data_dir, base) == NULL) {
		snprintf(err, errlen, "data_dir %s: %s", data_dir,
			 strerror(errno));
		return -1;
	}
	int n = snprintf(rt->tasks_dir, sizeof(rt->tasks_dir), "%s/tasks",
			 base);
	if (n < 0 || (size_t)n >= sizeof(rt->tasks_dir) - PROC_ID_MAX - 32) {
		snprintf(err, errlen, "data_dir %s: path too long", data_dir);
		return -1;
	}
	if (mkdir(rt->tasks_dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", rt->tasks_dir,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The plugin's options: "shim", the path of orchd-shim. */
static int runtime_config(struct proc_runtime *rt, const struct orch_host *host,
			  char *err, size_t errlen)
{
	char shim[PATH_MAX];
	switch (orch_option(host, "shim", shim, sizeof(shim))) {
	case ORCH_OPTION_ERROR:
		snprintf(err, errlen, "%s", shim);
		return -1;
	case ORCH_OPTION_FOUND:
		shim_locate(rt, shim);
		return 0;
	case ORCH_OPTION_ABSENT:
	default:
		shim_locate(rt, NULL);
		return 0;
	}
}

static void process_fini(void *state)
{
	struct proc_runtime *rt = state;
	if (rt == NULL)
		return;
	orch_sdk_server_stop(rt->server);
	proc_watch_stop(rt);
	orch_sdk_events_close(rt->events);
	while (rt->tasks != NULL) {
		struct proc_task *task = rt->tasks;
		rt->tasks = task->next;
		proc_task_free(task); /* closes fds; the task runs on */
	}
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

static int process_init(const struct orch_host *host, void **state,
			char *err, size_t errlen)
{
	struct proc_runtime *rt = calloc(1, sizeof(*rt));
	if (rt == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rt->host = host;
	rt->wake_fd = -1;
	snprintf(rt->name, sizeof(rt->name), "%s",
		 host->plugin_name ? host->plugin_name : "process");
	pthread_mutex_init(&rt->lock, NULL);
	int rc = runtime_dirs(rt, host->data_dir, err, errlen);
	if (rc == 0)
		rc = runtime_config(rt, host, err, errlen);
	if (rc == 0) {
		pidfd_check(rt);
		rc = proc_tasks_adopt(rt, err, errlen);
	}
	if (rc == 0)
		rc = orch_sdk_events_open(host->event_url, &rt->events, err,
					  errlen);
	if (rc == 0)
		rc = proc_watch_start(rt, err, errlen);
	if (rc == 0)
		rc = orch_sdk_server_start(host->request_url,
					   PROC_SERVER_WORKERS,
					   proc_handle_request, rt,
					   &rt->server, err, errlen);
	if (rc != 0) {
		process_fini(rt);
		return -1;
	}
	if (rt->unavailable[0] != '\0')
		orch_logf(host, ORCH_LOG_WARN, "unavailable: %s",
			  rt->unavailable);
	*state = rt;
	return 0;
}

/* The option keys this plugin reads (orch_option). */
static const char *const process_options[] = { "shim", NULL };

ORCH_PLUGIN_DEFINE(.kind = ORCH_PLUGIN_RUNTIME,
		   .name = "process",
		   .version = "0.1.0",
		   .init = process_init,
		   .fini = process_fini,
		   .options = process_options);

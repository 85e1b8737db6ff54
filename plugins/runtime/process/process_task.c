/*
 * process_task.c: one task of the `process` runtime seen from the plugin:
 * its STATUS object, signalling its process group, stop requests (SIGTERM
 * now, SIGKILL due at a persisted deadline), recording its end, and
 * re-adopting the task directories left by a previous run of the plugin.
 * State: the struct proc_task objects themselves, owned by the runtime's
 * task list (see process.h for locking).
 */
#include "process.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <time.h>
#include <unistd.h>

int64_t proc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void proc_task_free(struct proc_task *task)
{
	if (task == NULL)
		return;
	json_decref(task->spec);
	if (task->sync_fd >= 0)
		close(task->sync_fd);
	if (task->pidfd >= 0)
		close(task->pidfd);
	free(task);
}

static const char *signal_name(int sig)
{
	const char *name = sigdescr_np(sig);
	return name != NULL ? name : "unknown signal";
}

static const char *status_of_end(const struct proc_task *task, int *exit_code,
				 char *error, size_t errlen)
{
	const struct proc_exit *end = &task->end;
	const char *ended = task->stop_requested ? "shutdown" : "failed";
	*exit_code = -1;
	error[0] = '\0';
	switch (end->kind) {
	case PROC_EXIT_CODE:
		*exit_code = end->value;
		if (end->value == 0)
			return task->stop_requested ? "shutdown" : "complete";
		snprintf(error, errlen, "task: non-zero exit (%d)", end->value);
		return ended;
	case PROC_EXIT_SIGNAL:
		*exit_code = 128 + end->value;
		snprintf(error, errlen, "task: killed by signal %d (%s)",
			 end->value, signal_name(end->value));
		return ended;
	case PROC_EXIT_REJECTED:
		snprintf(error, errlen, "%s", end->reason);
		return "rejected";
	case PROC_EXIT_FAILED:
	default:
		snprintf(error, errlen, "%s", end->reason);
		return ended;
	}
}

json_t *proc_task_status(const struct proc_task *task)
{
	static const char *const phase_names[] = {
		[PROC_PREPARING] = "preparing",
		[PROC_STARTING] = "starting",
		[PROC_RUNNING] = "running",
	};
	char error[PROC_REASON_MAX + 64] = "";
	char runtime_id[32] = "";
	int exit_code = 0;
	const char *state;
	if (task->phase == PROC_ENDED)
		state = status_of_end(task, &exit_code, error, sizeof(error));
	else
		state = phase_names[task->phase];
	if (task->task.pid > 0)
		snprintf(runtime_id, sizeof(runtime_id), "%d",
			 (int)task->task.pid);
	return orch_sdk_task_status(task->id, state, exit_code,
				    error[0] ? error : NULL,
				    runtime_id[0] ? runtime_id : NULL);
}

int proc_task_signal(struct proc_task *task, int sig)
{
	if (task->task.pid <= 0 || !proc_pid_alive(&task->task))
		return -ESRCH;
	if (kill(-task->task.pid, sig) != 0)
		return -errno;
	return 0;
}

int proc_task_end(struct proc_task *task, const struct proc_exit *end,
		  bool recorded)
{
	task->phase = PROC_ENDED;
	task->end = *end;
	task->kill_at_ms = 0;
	json_decref(task->spec);
	task->spec = NULL;
	if (task->sync_fd >= 0)
		close(task->sync_fd);
	if (task->pidfd >= 0)
		close(task->pidfd);
	task->sync_fd = -1;
	task->pidfd = -1;
	return recorded ? 0 : proc_store_write_exit(task->dir, end);
}

int proc_task_stop(struct proc_runtime *rt, struct proc_task *task,
		   int64_t grace_ms)
{
	if (task->phase == PROC_ENDED)
		return 0;
	int64_t kill_at = proc_now_ms() + grace_ms;
	if (task->stop_requested && task->kill_at_ms != 0 &&
	    task->kill_at_ms < kill_at)
		kill_at = task->kill_at_ms; /* a second stop never delays */
	char line[32];
	int n = snprintf(line, sizeof(line), "%" PRId64 "\n", kill_at);
	int rc = proc_store_write(task->dir, PROC_FILE_STOP, line, (size_t)n);
	if (rc != 0)
		return rc;
	task->stop_requested = true;
	task->kill_at_ms = kill_at;
	if (task->phase == PROC_RUNNING) {
		rc = proc_task_signal(task, SIGTERM);
		if (rc != 0 && rc != -ESRCH)
			return rc;
	}
	proc_watch_wake(rt);
	return 0;
}

/* ------------------------------------------------------------ adoption */

static bool adopt_valid_id(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > PROC_ID_MAX || strcmp(id, ".") == 0 ||
	    strcmp(id, "..") == 0)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789_.-") == len;
}

static void adopt_read_stop(struct proc_task *task)
{
	char line[32];
	if (proc_store_read(task->dir, PROC_FILE_STOP, line, sizeof(line)) < 0)
		return;
	task->stop_requested = true;
	task->kill_at_ms = strtoll(line, NULL, 10);
}

/* The shim is gone without recording an exit. Its task must not live on
 * unwatched ("never orphan"): it is killed, and the loss recorded. */
static int adopt_lost(struct proc_task *task, const char *why)
{
	struct proc_exit end = { .kind = PROC_EXIT_FAILED, .value = -1 };
	if (proc_task_signal(task, SIGKILL) == 0)
		snprintf(end.reason, sizeof(end.reason), "%s; task killed",
			 why);
	else
		snprintf(end.reason, sizeof(end.reason), "%s", why);
	return proc_task_end(task, &end, false);
}

static void adopt_read_grace(struct proc_task *task)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s", task->dir, PROC_FILE_SPEC);
	json_t *spec = json_load_file(path, 0, NULL);
	json_t *grace = json_object_get(spec, "stop_grace_ms");
	if (json_is_integer(grace) && json_integer_value(grace) >= 0)
		task->grace_ms = json_integer_value(grace);
	json_decref(spec);
}

/* Decides the phase of a task found on disk. */
static int adopt_task(struct proc_task *task)
{
	adopt_read_stop(task);
	adopt_read_grace(task);
	if (proc_store_read_exit(task->dir, &task->end) == 0)
		return proc_task_end(task, &task->end, true);
	proc_store_read_pid(task->dir, PROC_FILE_TASK_PID, &task->task);
	int rc = proc_store_read_pid(task->dir, PROC_FILE_SHIM_PID,
				     &task->shim);
	if (rc != 0)
		return adopt_lost(task, "start interrupted by a runtime "
					"restart");
	task->pidfd = pidfd_open(task->shim.pid, 0);
	/* Checked after opening: the pidfd then names the recorded shim. */
	if (task->pidfd >= 0 && proc_pid_alive(&task->shim)) {
		task->phase = PROC_RUNNING;
		return 0;
	}
	if (proc_store_read_exit(task->dir, &task->end) == 0)
		return proc_task_end(task, &task->end, true);
	return adopt_lost(task, "orchd-shim is gone and recorded no exit");
}

static struct proc_task *adopt_new_task(const struct proc_runtime *rt,
					const char *id)
{
	struct proc_task *task = calloc(1, sizeof(*task));
	if (task == NULL)
		return NULL;
	snprintf(task->id, sizeof(task->id), "%s", id);
	int n = snprintf(task->dir, sizeof(task->dir), "%s/%s", rt->tasks_dir,
			 id);
	if (n < 0 || (size_t)n >= sizeof(task->dir)) {
		free(task); /* init keeps tasks_dir short enough */
		return NULL;
	}
	task->sync_fd = -1;
	task->pidfd = -1;
	task->phase = PROC_PREPARING;
	task->grace_ms = PROC_DEFAULT_GRACE_MS;
	return task;
}

struct proc_task *proc_task_new(const struct proc_runtime *rt,
				const char *id)
{
	return adopt_new_task(rt, id);
}

int proc_tasks_adopt(struct proc_runtime *rt, char *err, size_t errlen)
{
	DIR *dir = opendir(rt->tasks_dir);
	if (dir == NULL) {
		snprintf(err, errlen, "opendir %s: %s", rt->tasks_dir,
			 strerror(errno));
		return -1;
	}
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (!adopt_valid_id(entry->d_name))
			continue;
		struct proc_task *task = adopt_new_task(rt, entry->d_name);
		if (task == NULL) {
			closedir(dir);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		int rc = adopt_task(task);
		if (rc != 0)
			proc_log(rt, ORCH_LOG_WARN, "task %s: recording its end: %s",
				 task->id, strerror(-rc));
		task->next = rt->tasks;
		rt->tasks = task;
	}
	closedir(dir);
	return 0;
}

bool proc_task_id_valid(const char *id)
{
	return adopt_valid_id(id);
}

/*
 * process_watch.c: the watcher thread of the `process` runtime. It does all
 * the slow or event-driven work so that request handlers never block:
 *   - PREPARING tasks: resolves the program (like execvp) and spawns its
 *     detached orchd-shim (fork, setsid, fork, exec);
 *   - STARTING tasks: reads the shim's report from its pipe;
 *   - RUNNING tasks: a pidfd of the shim becomes readable when the shim
 *     exits, i.e. after it recorded the task's exit;
 *   - stop deadlines: SIGKILL to the task's process group when due.
 * One poll() covers the wake eventfd, the report pipes and the pidfds; its
 * timeout is the nearest SIGKILL deadline, so nothing is scanned
 * periodically. Status changes are pushed as task_status events, batched
 * per loop turn. State: the watcher's pollfd arrays; tasks are in struct
 * proc_runtime (see process.h for locking).
 */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------- resolution */

static int resolve_check(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (access(path, X_OK) != 0)
		return -errno;
	return 0;
}

static int resolve_in_path(const char *name, const char *path_list,
			   char *out, size_t outlen)
{
	bool denied = false;
	const char *dir = path_list;
	while (*dir != '\0') {
		size_t len = strcspn(dir, ":");
		if (len > 0) {
			int n = snprintf(out, outlen, "%.*s/%s", (int)len, dir,
					 name);
			if (n > 0 && (size_t)n < outlen) {
				int rc = resolve_check(out);
				if (rc == 0)
					return 0;
				denied = denied || rc == -EACCES;
			}
		}
		dir += len;
		if (*dir == ':')
			dir++;
	}
	return denied ? -EACCES : -ENOENT;
}

/* Finds the program as execvp would. Returns 0, or -1 with reason set. */
static int resolve_program(const char *image, const char *path_list,
			   char *out, size_t outlen, char *reason,
			   size_t reasonlen)
{
	if (strchr(image, '/') == NULL) {
		int rc = resolve_in_path(image, path_list, out, outlen);
		if (rc == 0)
			return 0;
		snprintf(reason, reasonlen, "exec: \"%s\": %s", image,
			 rc == -EACCES ? "permission denied"
				       : "executable file not found in $PATH");
		return -1;
	}
	if (image[0] != '/') {
		snprintf(reason, reasonlen,
			 "exec: \"%s\": a program path must be absolute",
			 image);
		return -1;
	}
	int rc = resolve_check(image);
	if (rc != 0) {
		snprintf(reason, reasonlen, "exec: \"%s\": %s", image,
			 strerror(-rc));
		return -1;
	}
	snprintf(out, outlen, "%s", image);
	return 0;
}

/* ------------------------------------------------------------- spawning */

struct spawn_args {
	char **argv;
	char **envp;
	size_t argc, envc;
	char fd_arg[16];
	char grace_arg[24];
};

static void spawn_args_free(struct spawn_args *args)
{
	if (args->envp != NULL) {
		for (size_t i = 0; i < args->envc; i++)
			free(args->envp[i]);
	}
	free(args->argv);
	free(args->envp);
}

/* The task's own PATH (its last PATH= entry wins, as in a shell), or
 * NULL when it sets none. */
static const char *spec_own_path(json_t *env)
{
	const char *found = NULL;
	size_t i;
	json_t *item;
	json_array_foreach(env, i, item) {
		const char *kv = json_string_value(item);
		if (kv != NULL && strncmp(kv, "PATH=", 5) == 0)
			found = kv + 5;
	}
	return found;
}

/* Environment: PATH (unless the task sets one) plus the task's env. */
static int spawn_build_env(struct spawn_args *args, json_t *env)
{
	args->envp = calloc(json_array_size(env) + 2, sizeof(char *));
	if (args->envp == NULL)
		return -ENOMEM;
	if (spec_own_path(env) == NULL) {
		args->envp[args->envc] = strdup("PATH=" PROC_DEFAULT_PATH);
		if (args->envp[args->envc++] == NULL)
			return -ENOMEM;
	}
	size_t i;
	json_t *item;
	json_array_foreach(env, i, item) {
		args->envp[args->envc] = strdup(json_string_value(item));
		if (args->envp[args->envc++] == NULL)
			return -ENOMEM;
	}
	return 0;
}

static void spawn_append_strings(struct spawn_args *args, json_t *array)
{
	size_t i;
	json_t *item;
	json_array_foreach(array, i, item)
		args->argv[args->argc++] = (char *)json_string_value(item);
}

/* argv of the shim: shim task_dir sync_fd grace_ms program argv0
 * [args...]; grace_ms is the task's stop grace, which the shim uses when
 * it stops the task itself (its directory vanished). The strings are
 * borrowed from the runtime, the task and its spec. */
static int spawn_build_argv(struct spawn_args *args, struct proc_runtime *rt,
			    struct proc_task *task, char *program, int sync_fd)
{
	json_t *command = json_object_get(task->spec, "command");
	json_t *task_args = json_object_get(task->spec, "args");
	size_t count = 7 + json_array_size(command) + json_array_size(task_args);
	args->argv = calloc(count, sizeof(char *));
	if (args->argv == NULL)
		return -ENOMEM;
	snprintf(args->fd_arg, sizeof(args->fd_arg), "%d", sync_fd);
	snprintf(args->grace_arg, sizeof(args->grace_arg), "%lld",
		 (long long)(task->grace_ms > 0 ? task->grace_ms : 0));
	args->argv[args->argc++] = rt->shim_path;
	args->argv[args->argc++] = task->dir;
	args->argv[args->argc++] = args->fd_arg;
	args->argv[args->argc++] = args->grace_arg;
	args->argv[args->argc++] = program;
	args->argv[args->argc++] = (char *)json_string_value(
		json_object_get(task->spec, "image"));
	spawn_append_strings(args, command);
	spawn_append_strings(args, task_args);
	return 0;
}

/* Runs in the forked child of a multi-threaded process: only
 * async-signal-safe calls until execve. */
static void spawn_child(const struct spawn_args *args, int sync_fd)
{
	static const char failed[] = "!cannot execute orchd-shim\n";
	if (setsid() < 0)
		_exit(1);
	pid_t pid = fork();
	if (pid != 0)
		_exit(pid < 0 ? 1 : 0);
	fcntl(sync_fd, F_SETFD, 0);
	execve(args->argv[0], args->argv, args->envp);
	ssize_t ignored = write(sync_fd, failed, sizeof(failed) - 1);
	(void)ignored;
	_exit(127);
}

/* Forks the detached shim; the intermediate child is reaped here, the
 * shim itself is reparented away from orchd. Returns the read end of the
 * report pipe or -errno. */
static int spawn_shim(const struct spawn_args *args, int pipe_fds[2])
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		spawn_child(args, pipe_fds[1]);
	close(pipe_fds[1]);
	int status;
	pid_t got;
	do {
		got = waitpid(pid, &status, 0);
	} while (got < 0 && errno == EINTR);
	if (got < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		close(pipe_fds[0]);
		return got < 0 ? -errno : -ECHILD;
	}
	fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
	return pipe_fds[0];
}

static int spawn_task(struct proc_runtime *rt, struct proc_task *task,
		      char *program)
{
	int pipe_fds[2];
	if (pipe2(pipe_fds, O_CLOEXEC) != 0)
		return -errno;
	struct spawn_args args = { 0 };
	int rc = spawn_build_env(&args, json_object_get(task->spec, "env"));
	if (rc == 0)
		rc = spawn_build_argv(&args, rt, task, program, pipe_fds[1]);
	if (rc == 0)
		rc = spawn_shim(&args, pipe_fds);
	else {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
	}
	spawn_args_free(&args);
	if (rc < 0)
		return rc;
	task->sync_fd = rc;
	return 0;
}

/* ---------------------------------------------------------- transitions */

static void watch_push(json_t *statuses, struct proc_task *task)
{
	json_array_append_new(statuses, proc_task_status(task));
}

static void watch_end(struct proc_runtime *rt, struct proc_task *task,
		      const struct proc_exit *end, bool recorded,
		      json_t *statuses)
{
	int rc = proc_task_end(task, end, recorded);
	if (rc != 0)
		proc_log(rt, ORCH_LOG_WARN, "task %s: writing its exit file: %s",
			 task->id, strerror(-rc));
	watch_push(statuses, task);
}

static void watch_end_reason(struct proc_runtime *rt, struct proc_task *task,
			     enum proc_exit_kind kind, const char *reason,
			     json_t *statuses)
{
	struct proc_exit end = { .kind = kind, .value = -1 };
	/* A longer reason is cut: the status message has a fixed size. */
	snprintf(end.reason, sizeof(end.reason), "%.*s",
		 (int)sizeof(end.reason) - 1, reason);
	watch_end(rt, task, &end, false, statuses);
}

/* The shim has exited or is about to: its exit file says how the task
 * ended. A shim that died without one leaves no task behind. */
static void watch_collect(struct proc_runtime *rt, struct proc_task *task,
			  json_t *statuses)
{
	struct proc_exit end;
	if (proc_store_read_exit(task->dir, &end) == 0) {
		watch_end(rt, task, &end, true, statuses);
		return;
	}
	const char *reason = "orchd-shim died without recording the exit";
	if (proc_task_signal(task, SIGKILL) == 0)
		reason = "orchd-shim died without recording the exit; task "
			 "killed";
	watch_end_reason(rt, task, PROC_EXIT_FAILED, reason, statuses);
}

static void watch_prepare(struct proc_runtime *rt, struct proc_task *task,
			  json_t *statuses)
{
	watch_push(statuses, task);
	if (task->stop_requested) {
		watch_end_reason(rt, task, PROC_EXIT_FAILED,
				 "stopped before it started", statuses);
		return;
	}
	char program[PATH_MAX], reason[PROC_REASON_MAX];
	const char *image = json_string_value(
		json_object_get(task->spec, "image"));
	const char *path_list = spec_own_path(
		json_object_get(task->spec, "env"));
	if (path_list == NULL)
		path_list = PROC_DEFAULT_PATH;
	if (resolve_program(image, path_list, program, sizeof(program), reason,
			    sizeof(reason)) != 0) {
		watch_end_reason(rt, task, PROC_EXIT_REJECTED, reason,
				 statuses);
		return;
	}
	task->phase = PROC_STARTING;
	watch_push(statuses, task);
	int rc = spawn_task(rt, task, program);
	if (rc != 0) {
		snprintf(reason, sizeof(reason), "starting orchd-shim: %s",
			 strerror(-rc));
		watch_end_reason(rt, task, PROC_EXIT_FAILED, reason, statuses);
		return;
	}
	json_decref(task->spec);
	task->spec = NULL;
}

static int watch_parse_report(const char *line, struct proc_task *task)
{
	int shim_pid, task_pid;
	unsigned long long shim_start, task_start;
	if (sscanf(line, "ok %d %llu %d %llu", &shim_pid, &shim_start,
		   &task_pid, &task_start) != 4)
		return -1;
	task->shim.pid = shim_pid;
	task->shim.start_time = shim_start;
	task->task.pid = task_pid;
	task->task.start_time = task_start;
	return 0;
}

/* The shim could not start the task: its exit file, when it wrote one,
 * has the reason, else the report line does. */
static void watch_on_failed_report(struct proc_runtime *rt,
				   struct proc_task *task, char *reason,
				   json_t *statuses)
{
	struct proc_exit end;
	if (proc_store_read_exit(task->dir, &end) == 0) {
		watch_end(rt, task, &end, true, statuses);
		return;
	}
	reason[strcspn(reason, "\n")] = '\0';
	watch_end_reason(rt, task, PROC_EXIT_FAILED, reason, statuses);
}

/* The shim's report arrived (or its pipe closed without one). */
static void watch_on_report(struct proc_runtime *rt, struct proc_task *task,
			    json_t *statuses)
{
	char line[PROC_REASON_MAX + 64];
	ssize_t n = read(task->sync_fd, line, sizeof(line) - 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	line[n > 0 ? n : 0] = '\0';
	if (n > 0 && line[0] == '!') {
		watch_on_failed_report(rt, task, line + 1, statuses);
		return;
	}
	if (n <= 0 || watch_parse_report(line, task) != 0) {
		watch_collect(rt, task, statuses);
		return;
	}
	close(task->sync_fd);
	task->sync_fd = -1;
	task->phase = PROC_RUNNING;
	watch_push(statuses, task);
	task->pidfd = pidfd_open(task->shim.pid, 0);
	if (task->pidfd < 0 || !proc_pid_alive(&task->shim)) {
		watch_collect(rt, task, statuses);
		return;
	}
	if (!task->stop_requested)
		return;
	int rc = proc_task_signal(task, SIGTERM);
	if (rc != 0 && rc != -ESRCH)
		proc_log(rt, ORCH_LOG_WARN, "task %s: SIGTERM: %s", task->id,
			 strerror(-rc));
}

static void watch_prepare_pending(struct proc_runtime *rt, json_t *statuses)
{
	for (struct proc_task *task = rt->tasks; task; task = task->next) {
		if (task->phase == PROC_PREPARING)
			watch_prepare(rt, task, statuses);
	}
}

static void watch_fire_kills(struct proc_runtime *rt, int64_t now)
{
	for (struct proc_task *task = rt->tasks; task; task = task->next) {
		if (task->phase != PROC_RUNNING || task->kill_at_ms == 0 ||
		    task->kill_at_ms > now)
			continue;
		task->kill_at_ms = 0;
		int rc = proc_task_signal(task, SIGKILL);
		if (rc != 0 && rc != -ESRCH)
			proc_log(rt, ORCH_LOG_WARN, "task %s: SIGKILL: %s",
				 task->id, strerror(-rc));
	}
}

static int watch_timeout(struct proc_runtime *rt, int64_t now)
{
	int64_t nearest = -1;
	for (struct proc_task *task = rt->tasks; task; task = task->next) {
		if (task->phase != PROC_RUNNING || task->kill_at_ms == 0)
			continue;
		int64_t wait = task->kill_at_ms > now ? task->kill_at_ms - now
						      : 0;
		if (nearest < 0 || wait < nearest)
			nearest = wait;
	}
	return nearest > 60000 ? 60000 : (int)nearest;
}

/* ------------------------------------------------------------- the loop */

struct watch_set {
	struct pollfd *fds;
	struct proc_task **tasks; /* tasks[i] owns fds[i]; [0] is wake_fd */
	size_t count, cap;
};

static int watch_set_add(struct watch_set *set, int fd,
			 struct proc_task *task)
{
	if (set->count == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		struct pollfd *fds = realloc(set->fds, cap * sizeof(*fds));
		if (fds == NULL)
			return -ENOMEM;
		set->fds = fds;
		struct proc_task **tasks = realloc(set->tasks,
						   cap * sizeof(*tasks));
		if (tasks == NULL)
			return -ENOMEM;
		set->tasks = tasks;
		set->cap = cap;
	}
	set->fds[set->count] = (struct pollfd){ .fd = fd, .events = POLLIN };
	set->tasks[set->count++] = task;
	return 0;
}

static int watch_set_build(struct proc_runtime *rt, struct watch_set *set)
{
	set->count = 0;
	int rc = watch_set_add(set, rt->wake_fd, NULL);
	for (struct proc_task *task = rt->tasks; task && rc == 0;
	     task = task->next) {
		if (task->phase == PROC_STARTING)
			rc = watch_set_add(set, task->sync_fd, task);
		else if (task->phase == PROC_RUNNING)
			rc = watch_set_add(set, task->pidfd, task);
	}
	return rc;
}

static void watch_handle_ready(struct proc_runtime *rt, struct watch_set *set,
			       json_t *statuses)
{
	if (set->count > 0 && set->fds[0].revents != 0) {
		uint64_t count;
		ssize_t ignored = read(rt->wake_fd, &count, sizeof(count));
		(void)ignored;
	}
	for (size_t i = 1; i < set->count; i++) {
		struct proc_task *task = set->tasks[i];
		if (set->fds[i].revents == 0)
			continue;
		if (task->phase == PROC_STARTING)
			watch_on_report(rt, task, statuses);
		else if (task->phase == PROC_RUNNING)
			watch_collect(rt, task, statuses);
	}
	set->count = 0;
}

static void watch_send(struct proc_runtime *rt, json_t *statuses)
{
	if (json_array_size(statuses) == 0) {
		json_decref(statuses);
		return;
	}
	int rc = orch_sdk_events_send_statuses(rt->events, rt->name, statuses);
	if (rc != 0)
		proc_log(rt, ORCH_LOG_WARN, "sending task_status: nng error %d",
			 rc);
}

static void *watch_main(void *arg)
{
	struct proc_runtime *rt = arg;
	struct watch_set set = { 0 };
	pthread_mutex_lock(&rt->lock);
	while (!rt->stopping) {
		json_t *statuses = json_array();
		watch_handle_ready(rt, &set, statuses);
		watch_prepare_pending(rt, statuses);
		int64_t now = proc_now_ms();
		watch_fire_kills(rt, now);
		int timeout = watch_timeout(rt, now);
		if (watch_set_build(rt, &set) != 0) {
			proc_log(rt, ORCH_LOG_ERROR, "watcher: out of memory");
			set.count = 0;
			timeout = 1000;
		}
		pthread_mutex_unlock(&rt->lock);
		watch_send(rt, statuses);
		if (poll(set.fds, set.count, timeout) < 0 && errno != EINTR)
			proc_log(rt, ORCH_LOG_ERROR, "watcher: poll: %s",
				 strerror(errno));
		pthread_mutex_lock(&rt->lock);
	}
	pthread_mutex_unlock(&rt->lock);
	free(set.fds);
	free(set.tasks);
	return NULL;
}

void proc_watch_wake(struct proc_runtime *rt)
{
	uint64_t one = 1;
	ssize_t ignored = write(rt->wake_fd, &one, sizeof(one));
	(void)ignored; /* a full counter already wakes the watcher */
}

int proc_watch_start(struct proc_runtime *rt, char *err, size_t errlen)
{
	rt->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rt->wake_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	int rc = pthread_create(&rt->watcher, NULL, watch_main, rt);
	if (rc != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		return -1;
	}
	rt->watcher_running = true;
	return 0;
}

void proc_watch_stop(struct proc_runtime *rt)
{
	if (rt->watcher_running) {
		pthread_mutex_lock(&rt->lock);
		rt->stopping = true;
		pthread_mutex_unlock(&rt->lock);
		proc_watch_wake(rt);
		pthread_join(rt->watcher, NULL);
		rt->watcher_running = false;
	}
	if (rt->wake_fd >= 0)
		close(rt->wake_fd);
	rt->wake_fd = -1;
}

/*
 * child.c: a small orchd runtime plugin, meant to be copied. It runs each
 * task as a plain child process of orchd: "image" names the program
 * (looked up in orchd's PATH), command and args are its arguments, env its
 * environment (plus a default PATH), and its output goes to
 * <data_dir>/<task id>.log. The SDK's runtime helper does the serving, the
 * batching and the task_status events; this file only starts, stops,
 * lists, removes and reads the logs of one task at a time. Build it out of
 * tree and drop it into --plugins:
 *
 *   cc -shared -fPIC -fvisibility=hidden -o child.so child.c \
 *      $(pkg-config --cflags --libs orch-sdk)
 *
 * Unlike plugins/runtime/process, tasks do not outlive orchd: fini kills
 * them. Option: default_grace_ms, the stop grace of a task that sets none.
 *
 * State: struct child_runtime (the task list under `lock`) from init to
 * fini. Every task has a waiter thread that sleeps in poll() on the task's
 * pidfd, sends SIGKILL when a stop's grace runs out, and reports the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pidfd_open, POSIX_SPAWN_SETSID */
#endif
#include <orch_sdk.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_DEFAULT_PATH "PATH=/usr/local/bin:/usr/bin:/bin"
#define CHILD_LOG_MAX (1024 * 1024) /* logs reads at most the last MiB */

struct child_task {
	struct child_task *next;
	char id[129];
	char pid_text[16];
	pid_t pid;
	int pidfd;
	int wake_fd;       /* eventfd: a stop was asked, recompute the timeout */
	int64_t grace_ms;  /* the task's stop_grace_ms, -1: none */
	int64_t kill_at;   /* monotonic ms of the pending SIGKILL, 0: none */
	bool stop_requested;
	bool ended;        /* set by the waiter, before it reaps the child */
	struct orch_task_status end;
	char error[128];
	pthread_t waiter;
};

struct child_runtime {
	const struct orch_host *host;
	struct orch_runtime_server *server;
	pthread_mutex_t lock;
	struct child_task *tasks;
	bool stopping;
	int64_t default_grace_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct child_task *find_task(struct child_runtime *rt, const char *id)
{
	struct child_task *t;

	for (t = rt->tasks; t != NULL; t = t->next)
		if (strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

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

static void status_of(const struct child_task *t, struct orch_task_status *s)
{
	if (t->ended) {
		*s = t->end;
		return;
	}
	*s = (struct orch_task_status){.task_id = t->id,
				       .state = ORCH_TASK_RUNNING,
				       .exit_code = -1,
				       .runtime_id = t->pid_text};
}

/* ------------------------------------------------------------- waiting */

/* How the child ended (lock held). */
static void record_end(struct child_task *t, const siginfo_t *info)
{
	bool by_signal = info->si_code != CLD_EXITED;
	int code = by_signal ? 128 + info->si_status : info->si_status;

	t->end = (struct orch_task_status){.task_id = t->id,
					   .exit_code = code,
					   .runtime_id = t->pid_text};
	if (by_signal)
		snprintf(t->error, sizeof(t->error), "killed by signal %d",
			 info->si_status);
	else if (code != 0)
		snprintf(t->error, sizeof(t->error), "exit code %d", code);
	t->end.error = t->error[0] ? t->error : NULL;
	if (t->stop_requested)
		t->end.state = ORCH_TASK_SHUTDOWN;
	else
		t->end.state = code == 0 ? ORCH_TASK_COMPLETE : ORCH_TASK_FAILED;
	t->ended = true;
}

/* Waits for the child's end; SIGKILLs it when a stop's grace runs out. */
static void *waiter_main(void *arg)
{
	struct child_runtime *rt = ((void **)arg)[0];
	struct child_task *t = ((void **)arg)[1];
	struct pollfd fds[2] = {{t->pidfd, POLLIN, 0}, {t->wake_fd, POLLIN, 0}};
	siginfo_t info = {0};
	uint64_t wakes;
	int timeout;

	free(arg);
	for (;;) {
		pthread_mutex_lock(&rt->lock);
		if (t->kill_at != 0 && t->kill_at <= now_ms()) {
			kill(-t->pid, SIGKILL); /* its whole process group */
			t->kill_at = 0;
		}
		timeout = t->kill_at ? (int)(t->kill_at - now_ms()) : -1;
		pthread_mutex_unlock(&rt->lock);
		if (poll(fds, 2, timeout) > 0 && (fds[0].revents & POLLIN))
			break;
		if (fds[1].revents & POLLIN)
			(void)!read(t->wake_fd, &wakes, sizeof(wakes));
	}
	/* WNOWAIT: the pid stays ours (a zombie) until `ended` is set, so
	 * a stop never signals a process group that is no longer ours. */
	waitid(P_PID, (id_t)t->pid, &info, WEXITED | WNOWAIT);
	pthread_mutex_lock(&rt->lock);
	record_end(t, &info);
	orch_runtime_report(rt->server, &t->end);
	pthread_mutex_unlock(&rt->lock);
	waitpid(t->pid, NULL, 0);
	return NULL;
}

/* --------------------------------------------------------------- start */

/* argv: image command... args...; envp: env... plus PATH if missing. */
static char **spawn_vector(const struct orch_rt_task *task, bool env)
{
	size_t n = 0, i, cap = env ? task->n_env + 2
				   : task->n_command + task->n_args + 2;
	char **v = calloc(cap, sizeof(*v));
	bool has_path = false;

	if (v == NULL)
		return NULL;
	if (!env)
		v[n++] = (char *)task->image;
	for (i = 0; !env && i < task->n_command; i++)
		v[n++] = (char *)task->command[i];
	for (i = 0; !env && i < task->n_args; i++)
		v[n++] = (char *)task->args[i];
	for (i = 0; env && i < task->n_env; i++) {
		has_path |= strncmp(task->env[i], "PATH=", 5) == 0;
		v[n++] = (char *)task->env[i];
	}
	if (env && !has_path)
		v[n++] = CHILD_DEFAULT_PATH;
	return v;
}

/* Spawns the task in a new session, output to log_fd. Returns 0 or an
 * errno. */
static int spawn(const struct orch_rt_task *task, int log_fd, pid_t *pid)
{
	char **argv = spawn_vector(task, false), **envp = spawn_vector(task, true);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int rc = ENOMEM;

	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
					       POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setsigmask(&attr, &none);
	if (argv != NULL && envp != NULL)
		rc = posix_spawnp(pid, task->image, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	free(envp);
	return rc;
}

/* Spawns the task and its waiter (lock held). */
static int start_task(struct child_runtime *rt, struct child_task *t,
		      const struct orch_rt_task *task, char *err, size_t errlen)
{
	char path[PATH_MAX];
	void **arg = malloc(2 * sizeof(*arg));
	int log_fd, rc;

	log_path(rt, task->id, path);
	log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	rc = log_fd < 0 ? errno : spawn(task, log_fd, &t->pid);
	if (log_fd >= 0)
		close(log_fd);
	if (rc == 0 && ((t->pidfd = pidfd_open(t->pid, 0)) < 0 ||
			(t->wake_fd = eventfd(0, EFD_CLOEXEC)) < 0))
		rc = errno;
	if (rc == 0 && arg != NULL) {
		arg[0] = rt;
		arg[1] = t;
		rc = pthread_create(&t->waiter, NULL, waiter_main, arg);
	}
	if (rc != 0 || arg == NULL) {
		snprintf(err, errlen, "cannot run %s: %s", task->image,
			 strerror(rc ? rc : ENOMEM));
		free(arg);
		if (t->pid > 0) { /* spawned, but not watched: undo */
			kill(-t->pid, SIGKILL);
			waitpid(t->pid, NULL, 0);
		}
		return -1;
	}
	return 0;
}

/* Lists the new task and reports it running (lock held). */
static void task_add(struct child_runtime *rt, struct child_task *t)
{
	struct orch_task_status running;

	snprintf(t->pid_text, sizeof(t->pid_text), "%d", (int)t->pid);
	t->next = rt->tasks;
	rt->tasks = t;
	status_of(t, &running);
	orch_runtime_report(rt->server, &running);
}

static int child_start(void *ctx, const struct orch_rt_task *task, char *err,
		       size_t errlen)
{
	struct child_runtime *rt = ctx;
	char path[PATH_MAX];
	struct child_task *t;
	int rc = -1;

	if (log_path(rt, task->id, path) != 0)
		snprintf(err, errlen, "bad task id (want [A-Za-z0-9_.-])");
	else if (task->image[0] == '\0')
		snprintf(err, errlen, "missing \"image\" (the program to run)");
	else if (task->n_mounts > 0)
		snprintf(err, errlen, "mounts are not supported");
	else if ((t = calloc(1, sizeof(*t))) == NULL)
		snprintf(err, errlen, "out of memory");
	else {
		snprintf(t->id, sizeof(t->id), "%s", task->id);
		t->pidfd = t->wake_fd = -1;
		t->grace_ms = task->stop_grace_ms;
		pthread_mutex_lock(&rt->lock);
		if (rt->stopping || find_task(rt, task->id) != NULL)
			snprintf(err, errlen, "%s", rt->stopping
						? "runtime is stopping"
						: "task already exists");
		else
			rc = start_task(rt, t, task, err, errlen);
		if (rc == 0)
			task_add(rt, t);
		pthread_mutex_unlock(&rt->lock);
		if (rc != 0) {
			if (t->pidfd >= 0)
				close(t->pidfd);
			if (t->wake_fd >= 0)
				close(t->wake_fd);
			free(t);
		}
	}
	return rc;
}

/* ---------------------------------------------------- stop, remove, ... */

static int child_stop(void *ctx, const char *task_id, int64_t grace_ms,
		      char *err, size_t errlen)
{
	struct child_runtime *rt = ctx;
	struct child_task *t;
	uint64_t one = 1;

	pthread_mutex_lock(&rt->lock);
	t = find_task(rt, task_id);
	if (t != NULL && !t->ended && !t->stop_requested) {
		if (grace_ms < 0)
			grace_ms = t->grace_ms >= 0 ? t->grace_ms
						    : rt->default_grace_ms;
		t->stop_requested = true;
		t->kill_at = now_ms() + grace_ms;
		kill(-t->pid, SIGTERM);
		(void)!write(t->wake_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&rt->lock);
	if (t == NULL)
		snprintf(err, errlen, "no such task");
	return t == NULL ? -1 : 0; /* stopping an ended task: nothing to do */
}

static void task_free(struct child_task *t)
{
	pthread_join(t->waiter, NULL);
	close(t->pidfd);
	close(t->wake_fd);
	free(t);
}

static int child_remove(void *ctx, const char *task_id, char *err,
			size_t errlen)
{
	struct child_runtime *rt = ctx;
	struct child_task **link, *t = NULL;
	char path[PATH_MAX];

	pthread_mutex_lock(&rt->lock);
	for (link = &rt->tasks; *link != NULL; link = &(*link)->next)
		if (strcmp((*link)->id, task_id) == 0)
			break;
	if (*link == NULL || !(*link)->ended || rt->stopping)
		snprintf(err, errlen, "%s",
			 *link == NULL ? "no such task"
				       : "task has not ended; stop it first");
	else {
		t = *link;
		*link = t->next;
	}
	pthread_mutex_unlock(&rt->lock);
	if (t == NULL)
		return -1;
	if (log_path(rt, t->id, path) == 0)
		unlink(path);
	task_free(t);
	return 0;
}

static int child_list(void *ctx, struct orch_rt_list *list, char *err,
		      size_t errlen)
{
	struct child_runtime *rt = ctx;
	struct orch_task_status s;
	struct child_task *t;
	int rc = 0;

	pthread_mutex_lock(&rt->lock);
	for (t = rt->tasks; t != NULL && rc == 0; t = t->next) {
		status_of(t, &s);
		rc = orch_rt_list_add(list, &s);
	}
	pthread_mutex_unlock(&rt->lock);
	if (rc != 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

static int child_logs(void *ctx, const char *task_id, int64_t tail,
		      char **data, size_t *len, char *err, size_t errlen)
{
	struct child_runtime *rt = ctx;
	char path[PATH_MAX];
	bool known;

	pthread_mutex_lock(&rt->lock);
	known = find_task(rt, task_id) != NULL;
	pthread_mutex_unlock(&rt->lock);
	if (!known || log_path(rt, task_id, path) != 0) {
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
	struct child_task *t;

	pthread_mutex_lock(&rt->lock);
	rt->stopping = true; /* no start or remove from now on */
	for (t = rt->tasks; t != NULL; t = t->next)
		if (!t->ended) {
			t->stop_requested = true;
			kill(-t->pid, SIGKILL);
		}
	pthread_mutex_unlock(&rt->lock);
	for (t = rt->tasks; t != NULL; t = t->next)
		pthread_join(t->waiter, NULL); /* each reports its end */
	orch_runtime_stop(rt->server);
	while ((t = rt->tasks) != NULL) {
		rt->tasks = t->next;
		close(t->pidfd);
		close(t->wake_fd);
		free(t);
	}
	pthread_mutex_destroy(&rt->lock);
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
	pthread_mutex_init(&rt->lock, NULL);
	if (read_options(rt, err, errlen) != 0 ||
	    orch_runtime_start(host, &callbacks, &rt->server, err, errlen)) {
		pthread_mutex_destroy(&rt->lock);
		free(rt);
		return -1;
	}
	orch_logf(host, ORCH_LOG_INFO, "running tasks as child processes");
	*state = rt;
	return 0;
}

static const char *const child_options[] = {"default_grace_ms", NULL};

static const struct orch_plugin child_plugin = {
	.abi_version = ORCH_PLUGIN_ABI_VERSION,
	.kind = ORCH_PLUGIN_RUNTIME,
	.name = "child",
	.version = "1.0",
	.init = child_init,
	.fini = child_fini,
	.options = child_options,
};

ORCH_PLUGIN_EXPORT const struct orch_plugin *orch_plugin_entry(void)
{
	return &child_plugin;
}

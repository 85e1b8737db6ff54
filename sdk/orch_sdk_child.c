/*
 * orch_sdk_child.c: the SDK's child-process helper (orch_sdk.h, "child
 * processes"): a set of tasks, each run as a child process of the plugin
 * in a session of its own and reported through the runtime helper:
 * running once spawned, then how it ended (complete, failed, or shutdown
 * after a stop) with its exit code (128 + N for signal N). One waiter
 * thread per child sleeps in poll() on the child's pidfd and on an
 * eventfd (a stop was asked), sends SIGKILL to the child's process group
 * when a stop's grace runs out, reports the end and reaps the child.
 *
 * State: struct orch_children (its tasks and their fields under `lock`)
 * from orch_children_new to orch_children_free.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pidfd_open, POSIX_SPAWN_SETSID */
#endif
#include "sdk_decode.h"

#include <errno.h>
#include <fcntl.h>
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

struct orch_children {
	pthread_mutex_t lock;
	struct orch_child *tasks;
	int64_t default_grace_ms;
	bool closing; /* orch_children_free has begun: no start */
};

struct orch_child {
	struct orch_child *next;
	struct orch_children *set; /* its lock guards the fields below */
	struct orch_runtime_server *server;
	char *task_id;
	char pid_text[16];
	pid_t pid;
	int pidfd;
	int wake_fd;      /* eventfd: a stop was asked, recompute the timeout */
	int64_t grace_ms; /* of a stop that gives none */
	int64_t kill_at;  /* monotonic ms of the pending SIGKILL, 0: none */
	bool stop_requested;
	bool ended; /* set by the waiter, before it reaps the child */
	struct orch_task_status end;
	char error[64];
	pthread_t waiter;
};

static int64_t child_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------- waiting */

/* How the child ended (lock held). */
static void child_record_end(struct orch_child *c, const siginfo_t *info)
{
	bool by_signal = info->si_code != CLD_EXITED;
	int code = by_signal ? 128 + info->si_status : info->si_status;

	c->end = (struct orch_task_status){.task_id = c->task_id,
					   .exit_code = code,
					   .runtime_id = c->pid_text};
	if (by_signal)
		snprintf(c->error, sizeof(c->error), "killed by signal %d",
			 info->si_status);
	else if (code != 0)
		snprintf(c->error, sizeof(c->error), "exit code %d", code);
	c->end.error = c->error[0] ? c->error : NULL;
	if (c->stop_requested)
		c->end.state = ORCH_TASK_SHUTDOWN;
	else
		c->end.state = code == 0 ? ORCH_TASK_COMPLETE : ORCH_TASK_FAILED;
	c->ended = true;
}

/* Waits for the child's end; SIGKILLs it when a stop's grace runs out. */
static void *child_waiter_main(void *arg)
{
	struct orch_child *c = arg;
	struct pollfd fds[2] = {{c->pidfd, POLLIN, 0}, {c->wake_fd, POLLIN, 0}};
	siginfo_t info = {0};
	uint64_t wakes;
	int timeout;

	for (;;) {
		pthread_mutex_lock(&c->set->lock);
		if (c->kill_at != 0 && c->kill_at <= child_now_ms()) {
			kill(-c->pid, SIGKILL); /* its whole process group */
			c->kill_at = 0;
		}
		timeout = c->kill_at ? (int)(c->kill_at - child_now_ms()) : -1;
		pthread_mutex_unlock(&c->set->lock);
		if (poll(fds, 2, timeout) > 0 && (fds[0].revents & POLLIN))
			break;
		if (fds[1].revents & POLLIN)
			(void)!read(c->wake_fd, &wakes, sizeof(wakes));
	}
	/* WNOWAIT: the pid stays ours (a zombie) until `ended` is set, so
	 * a stop never signals a process group that is no longer ours. */
	waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOWAIT);
	pthread_mutex_lock(&c->set->lock);
	child_record_end(c, &info);
	orch_runtime_report(c->server, &c->end);
	pthread_mutex_unlock(&c->set->lock);
	waitpid(c->pid, NULL, 0);
	return NULL;
}

/* --------------------------------------------------------------- start */

/* argv: image command... args...; envp: env... plus PATH if missing. */
static char **child_vector(const struct orch_rt_task *task, bool env)
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

/* Spawns the task in a new session, stdin from /dev/null, output to
 * log_path (NULL: /dev/null). Returns 0 or an errno. */
static int child_spawn(const struct orch_rt_task *task, const char *log_path,
		       pid_t *pid)
{
	char **argv = child_vector(task, false), **envp = child_vector(task, true);
	int log_fd = open(log_path ? log_path : "/dev/null",
			  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int rc = log_fd < 0 ? errno : ENOMEM;

	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, log_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
					       POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setsigmask(&attr, &none);
	if (log_fd >= 0 && argv != NULL && envp != NULL)
		rc = posix_spawnp(pid, task->image, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (log_fd >= 0)
		close(log_fd);
	free(argv);
	free(envp);
	return rc;
}

/* Running, or how it ended (lock held). */
static void child_status_locked(const struct orch_child *c,
				struct orch_task_status *out)
{
	*out = c->ended ? c->end
			: (struct orch_task_status){.task_id = c->task_id,
						    .state = ORCH_TASK_RUNNING,
						    .exit_code = -1,
						    .runtime_id = c->pid_text};
}

static void child_free(struct orch_child *c)
{
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->task_id);
	free(c);
}

/* Watches the spawned child and reports it running (lock held, so that
 * its end is never reported before). Returns 0 or an errno. */
static int child_watch(struct orch_child *c)
{
	struct orch_task_status running;
	int rc;

	snprintf(c->pid_text, sizeof(c->pid_text), "%d", (int)c->pid);
	if ((c->pidfd = pidfd_open(c->pid, 0)) < 0 ||
	    (c->wake_fd = eventfd(0, EFD_CLOEXEC)) < 0)
		return errno;
	rc = pthread_create(&c->waiter, NULL, child_waiter_main, c);
	if (rc == 0) {
		child_status_locked(c, &running);
		orch_runtime_report(c->server, &running);
	}
	return rc;
}

/* A new child of set for task, not spawned yet. */
static struct orch_child *child_new(struct orch_children *set,
				    struct orch_runtime_server *server,
				    const struct orch_rt_task *task)
{
	struct orch_child *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->task_id = strdup(task->id)) == NULL) {
		free(c);
		return NULL;
	}
	c->set = set;
	c->server = server;
	c->pidfd = c->wake_fd = -1;
	c->grace_ms = task->stop_grace_ms >= 0 ? task->stop_grace_ms
					       : set->default_grace_ms;
	return c;
}

/* The link that points at task_id's child, or at the list's end (lock
 * held). */
static struct orch_child **child_find(struct orch_children *set,
				      const char *task_id)
{
	struct orch_child **link;

	for (link = &set->tasks; *link != NULL; link = &(*link)->next)
		if (strcmp((*link)->task_id, task_id) == 0)
			break;
	return link;
}

/* Why task cannot start (lock held); NULL: it can. */
static const char *child_refusal(struct orch_children *set,
				 const struct orch_rt_task *task)
{
	if (set->closing)
		return "runtime is stopping";
	if (*child_find(set, task->id) != NULL)
		return "task already exists";
	if (task->image[0] == '\0')
		return "missing \"image\" (the program to run)";
	if (task->n_mounts > 0)
		return "mounts are not supported";
	return NULL;
}

/* ---------------------------------------------------------------- doors */

struct orch_children *orch_children_new(int64_t default_grace_ms)
{
	struct orch_children *set = calloc(1, sizeof(*set));

	if (set == NULL)
		return NULL;
	pthread_mutex_init(&set->lock, NULL);
	set->default_grace_ms = default_grace_ms;
	return set;
}

int orch_children_start(struct orch_children *set,
			struct orch_runtime_server *server,
			const struct orch_rt_task *task, const char *log_path,
			char *err, size_t errlen)
{
	const char *refusal;
	struct orch_child *c = NULL;
	int rc = ENOMEM;

	pthread_mutex_lock(&set->lock);
	refusal = child_refusal(set, task);
	if (refusal == NULL && (c = child_new(set, server, task)) != NULL &&
	    (rc = child_spawn(task, log_path, &c->pid)) == 0 &&
	    (rc = child_watch(c)) != 0) {
		kill(-c->pid, SIGKILL); /* spawned, but not watched: undo */
		waitpid(c->pid, NULL, 0);
	}
	if (refusal == NULL && rc == 0) {
		c->next = set->tasks;
		set->tasks = c;
	}
	pthread_mutex_unlock(&set->lock);
	if (refusal == NULL && rc == 0)
		return 0;
	if (refusal != NULL)
		orch_errorf(err, errlen, "%s", refusal);
	else
		orch_errorf(err, errlen, "cannot run %s: %s", task->image,
			   strerror(rc));
	if (c != NULL)
		child_free(c);
	return -1;
}

int orch_children_stop(struct orch_children *set, const char *task_id,
		       int64_t grace_ms, char *err, size_t errlen)
{
	struct orch_child *c;
	uint64_t one = 1;

	pthread_mutex_lock(&set->lock);
	c = *child_find(set, task_id);
	if (c != NULL && !c->ended && !c->stop_requested) {
		c->stop_requested = true;
		c->kill_at = child_now_ms() + (grace_ms < 0 ? c->grace_ms
							    : grace_ms);
		kill(-c->pid, SIGTERM);
		(void)!write(c->wake_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&set->lock);
	if (c == NULL)
		orch_errorf(err, errlen, "no such task");
	return c == NULL ? -1 : 0; /* an ended task: nothing to do */
}

int orch_children_remove(struct orch_children *set, const char *task_id,
			 char *err, size_t errlen)
{
	struct orch_child **link, *c = NULL;

	pthread_mutex_lock(&set->lock);
	link = child_find(set, task_id);
	if (*link == NULL || !(*link)->ended)
		orch_errorf(err, errlen, "%s",
			   *link == NULL ? "no such task"
					 : "task has not ended; stop it first");
	else {
		c = *link;
		*link = c->next;
	}
	pthread_mutex_unlock(&set->lock);
	if (c == NULL)
		return -1;
	pthread_join(c->waiter, NULL); /* it has reported the end */
	child_free(c);
	return 0;
}

int orch_children_list(struct orch_children *set, struct orch_rt_list *list,
		       char *err, size_t errlen)
{
	struct orch_task_status status;
	struct orch_child *c;
	int rc = 0;

	pthread_mutex_lock(&set->lock);
	for (c = set->tasks; c != NULL && rc == 0; c = c->next) {
		child_status_locked(c, &status);
		rc = orch_rt_list_add(list, &status);
	}
	pthread_mutex_unlock(&set->lock);
	if (rc != 0)
		orch_errorf(err, errlen, "out of memory");
	return rc;
}

bool orch_children_has(struct orch_children *set, const char *task_id)
{
	bool found;

	pthread_mutex_lock(&set->lock);
	found = *child_find(set, task_id) != NULL;
	pthread_mutex_unlock(&set->lock);
	return found;
}

void orch_children_free(struct orch_children *set)
{
	struct orch_child *c;

	if (set == NULL)
		return;
	pthread_mutex_lock(&set->lock);
	set->closing = true;
	for (c = set->tasks; c != NULL; c = c->next)
		if (!c->ended) {
			c->stop_requested = true;
			kill(-c->pid, SIGKILL);
		}
	pthread_mutex_unlock(&set->lock);
	while ((c = set->tasks) != NULL) {
		pthread_join(c->waiter, NULL); /* it reports the end */
		set->tasks = c->next;
		child_free(c);
	}
	pthread_mutex_destroy(&set->lock);
	free(set);
}

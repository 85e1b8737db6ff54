/*
 * shim.c: orchd-shim, the per-task monitor of the `process` runtime (the
 * role of containerd's shim or podman's conmon).
 *
 *   orchd-shim <task_dir> <sync_fd> <program> <argv0> [args...]
 *
 * The plugin starts it detached (its own session, reparented away from
 * orchd), with the task's environment. The shim sends its stdin to
 * /dev/null and its stdout/stderr to <task_dir>/log, starts <program> as
 * the task in a process group of its own, records shim.pid and task.pid,
 * reports "ok <shim_pid> <shim_start> <task_pid> <task_start>" (or
 * "!<reason>") on sync_fd, waits for the task and writes how it ended to
 * <task_dir>/exit atomically, then exits. orchd can exit or be killed at
 * any time: the task keeps running and its exit is still recorded. State:
 * only the task's pid, for the shim's short life.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process_store.h"

#define SHIM_SYNC_FD 3

extern char **environ;

/* Writes one report line to the plugin and closes the channel. */
static void shim_report(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void shim_report(const char *fmt, ...)
{
	char line[PROC_REASON_MAX + 64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	if (n > 0 && write(SHIM_SYNC_FD, line, (size_t)n) != n)
		fprintf(stderr, "orchd-shim: report to orchd failed: %s\n",
			strerror(errno));
	close(SHIM_SYNC_FD);
}

/* Moves the sync channel to fd 3 and closes every other inherited fd. */
static int shim_setup_fds(int sync_fd, const char *task_dir)
{
	if (sync_fd != SHIM_SYNC_FD && dup2(sync_fd, SHIM_SYNC_FD) < 0)
		return -1;
	if (close_range(SHIM_SYNC_FD + 1, ~0U, 0) != 0)
		return -1;
	if (fcntl(SHIM_SYNC_FD, F_SETFD, FD_CLOEXEC) != 0)
		return -1;
	char log_path[4096];
	int n = snprintf(log_path, sizeof(log_path), "%s/%s", task_dir,
			 PROC_FILE_LOG);
	if (n < 0 || n >= (int)sizeof(log_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int null_fd = open("/dev/null", O_RDONLY);
	int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (null_fd < 0 || log_fd < 0)
		return -1;
	if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
		return -1;
	if (null_fd > 2)
		close(null_fd);
	if (log_fd > 2)
		close(log_fd);
	return 0;
}

/* orchd's threads may block or ignore signals; both survive exec, so the
 * task would inherit them. Start from a clean slate. */
static void shim_reset_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	}
}

static int shim_record_self(const char *task_dir, struct proc_pid_record *self)
{
	char state;
	self->pid = getpid();
	int rc = proc_pid_probe(self->pid, &self->start_time, &state);
	if (rc == 0)
		rc = proc_store_write_pid(task_dir, PROC_FILE_SHIM_PID, self);
	return rc;
}

/* Forks the task. Returns its pid, or -1 with `reason` filled. */
static pid_t shim_spawn(char **task_argv, const char *program, char *reason,
			size_t reasonlen)
{
	int exec_pipe[2];
	if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
		snprintf(reason, reasonlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(reason, reasonlen, "fork: %s", strerror(errno));
		close(exec_pipe[0]);
		close(exec_pipe[1]);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		execve(program, task_argv, environ);
		int err = errno;
		ssize_t ignored = write(exec_pipe[1], &err, sizeof(err));
		(void)ignored;
		_exit(127);
	}
	setpgid(pid, pid);
	close(exec_pipe[1]);
	int child_errno = 0;
	ssize_t n;
	do {
		n = read(exec_pipe[0], &child_errno, sizeof(child_errno));
	} while (n < 0 && errno == EINTR);
	close(exec_pipe[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		snprintf(reason, reasonlen, "exec %s: %s", program,
			 strerror(child_errno));
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static int shim_wait(pid_t pid, struct proc_exit *exit_rec)
{
	int status;
	pid_t got;
	do {
		got = waitpid(pid, &status, 0);
	} while (got < 0 && errno == EINTR);
	memset(exit_rec, 0, sizeof(*exit_rec));
	if (got < 0) {
		exit_rec->kind = PROC_EXIT_FAILED;
		exit_rec->value = -1;
		snprintf(exit_rec->reason, sizeof(exit_rec->reason),
			 "orchd-shim: waitpid: %s", strerror(errno));
		return -1;
	}
	if (WIFSIGNALED(status)) {
		exit_rec->kind = PROC_EXIT_SIGNAL;
		exit_rec->value = WTERMSIG(status);
	} else {
		exit_rec->kind = PROC_EXIT_CODE;
		exit_rec->value = WEXITSTATUS(status);
	}
	return 0;
}

static int shim_fail(const char *task_dir, const char *reason)
{
	struct proc_exit exit_rec = { .kind = PROC_EXIT_FAILED, .value = -1 };
	snprintf(exit_rec.reason, sizeof(exit_rec.reason), "%s", reason);
	fprintf(stderr, "orchd-shim: %s\n", reason);
	int rc = proc_store_write_exit(task_dir, &exit_rec);
	if (rc != 0)
		fprintf(stderr, "orchd-shim: writing exit file: %s\n",
			strerror(-rc));
	shim_report("!%s\n", reason);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: orchd-shim <task_dir> <sync_fd> "
				"<program> <argv0> [args...]\n");
		return 2;
	}
	const char *task_dir = argv[1];
	char *end;
	long sync_fd = strtol(argv[2], &end, 10);
	if (*end != '\0' || sync_fd < 0 || sync_fd > 1 << 20) {
		fprintf(stderr, "orchd-shim: bad sync fd '%s'\n", argv[2]);
		return 2;
	}
	if (shim_setup_fds((int)sync_fd, task_dir) != 0) {
		char reason[PROC_REASON_MAX];
		snprintf(reason, sizeof(reason), "orchd-shim: setup: %s",
			 strerror(errno));
		return shim_fail(task_dir, reason);
	}
	shim_reset_signals();
	if (chdir("/") != 0)
		return shim_fail(task_dir, "orchd-shim: chdir /");

	struct proc_pid_record self;
	int rc = shim_record_self(task_dir, &self);
	if (rc != 0) {
		char reason[PROC_REASON_MAX];
		snprintf(reason, sizeof(reason), "orchd-shim: shim.pid: %s",
			 strerror(-rc));
		return shim_fail(task_dir, reason);
	}
	char reason[PROC_REASON_MAX];
	pid_t pid = shim_spawn(argv + 4, argv[3], reason, sizeof(reason));
	if (pid < 0)
		return shim_fail(task_dir, reason);

	struct proc_pid_record task = { .pid = pid };
	char state;
	rc = proc_pid_probe(pid, &task.start_time, &state);
	if (rc == 0)
		rc = proc_store_write_pid(task_dir, PROC_FILE_TASK_PID, &task);
	if (rc != 0) {
		/* Without task.pid nobody could stop the task: end it. */
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		snprintf(reason, sizeof(reason), "orchd-shim: task.pid: %s",
			 strerror(-rc));
		return shim_fail(task_dir, reason);
	}
	shim_report("ok %d %llu %d %llu\n", (int)self.pid, self.start_time,
		    (int)task.pid, task.start_time);

	struct proc_exit exit_rec;
	shim_wait(pid, &exit_rec);
	rc = proc_store_write_exit(task_dir, &exit_rec);
	if (rc != 0) {
		fprintf(stderr, "orchd-shim: writing exit file: %s\n",
			strerror(-rc));
		return 1;
	}
	return 0;
}

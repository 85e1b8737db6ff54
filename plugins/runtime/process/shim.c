/*
 * shim.c: orchd-shim, the per-task monitor of the `process` runtime (the
 * role of containerd's shim or podman's conmon).
 *
 *   orchd-shim <task_dir> <sync_fd> <grace_ms> <program> <argv0> [args...]
 *
 * The plugin starts it detached (its own session, reparented away from
 * orchd), with the task's environment. The shim sends its stdin to
 * /dev/null and its stdout/stderr to <task_dir>/log, starts <program> as
 * the task in a process group of its own, records shim.pid and task.pid,
 * reports "ok <shim_pid> <shim_start> <task_pid> <task_start>" (or
 * "!<reason>") on sync_fd, waits for the task and writes how it ended to
 * <task_dir>/exit atomically, then exits. orchd can exit or be killed at
 * any time: the task keeps running and its exit is still recorded.
 *
 * While it waits, the shim looks once a second (SHIM_CHECK_MS) whether its
 * task directory is still the one it started in. When it is gone (the
 * node's data root was wiped: orchd comes back as a new node and nobody
 * knows this task any more) the shim stops the task as a normal stop does:
 * SIGTERM to its process group, SIGKILL grace_ms later. It says why on
 * stderr (its log) and exits without an exit file, there being no
 * directory to write it to. State: the task's pid and the identity
 * (device, inode) of the task directory, for the shim's short life.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "process_store.h"

#define SHIM_SYNC_FD 3
/* How often the shim looks whether its task directory still exists. */
#define SHIM_CHECK_MS 1000

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

/* ------------------------------------------- watching the task directory */

/* The task directory as the shim found it at start: the same path must
 * keep naming the same directory (a wiped and re-made data root holds
 * another one). */
struct shim_dir {
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
};

/* Resolves task_dir to an absolute path (the shim changes to /) and notes
 * which directory it is. Returns 0 or -errno. */
static int shim_dir_note(struct shim_dir *dir, const char *task_dir)
{
	struct stat st;
	if (realpath(task_dir, dir->path) == NULL || stat(dir->path, &st) != 0)
		return -errno;
	dir->dev = st.st_dev;
	dir->ino = st.st_ino;
	return 0;
}

/* True when the task directory is gone or is another directory now. A
 * failure other than "not there" is reported and not taken as gone. */
static bool shim_dir_gone(const struct shim_dir *dir)
{
	struct stat st;
	if (stat(dir->path, &st) == 0)
		return st.st_dev != dir->dev || st.st_ino != dir->ino;
	if (errno == ENOENT || errno == ENOTDIR)
		return true;
	fprintf(stderr, "orchd-shim: checking %s: %s\n", dir->path,
		strerror(errno));
	return false;
}

static long long shim_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the shim does while the task runs: look at the directory every
 * SHIM_CHECK_MS; once it is gone, stop the task as a normal stop would. */
struct shim_watch {
	pid_t pid;
	long long grace_ms;
	long long next_check_ms;
	bool dir_gone;
	bool kill_pending;
	long long kill_at_ms;
};

/* Does what is due at `now`. */
static void shim_watch_tick(struct shim_watch *w, const struct shim_dir *dir,
			    long long now)
{
	if (!w->dir_gone && now >= w->next_check_ms) {
		w->next_check_ms = now + SHIM_CHECK_MS;
		if (shim_dir_gone(dir)) {
			w->dir_gone = true;
			w->kill_pending = true;
			w->kill_at_ms = now + w->grace_ms;
			fprintf(stderr,
				"orchd-shim: task directory %s is gone (the "
				"node's data was removed): stopping task %d, "
				"SIGTERM now, SIGKILL in %lld ms\n",
				dir->path, (int)w->pid, w->grace_ms);
			if (kill(-w->pid, SIGTERM) != 0)
				fprintf(stderr, "orchd-shim: SIGTERM: %s\n",
					strerror(errno));
		}
	}
	if (w->kill_pending && now >= w->kill_at_ms) {
		w->kill_pending = false;
		fprintf(stderr, "orchd-shim: grace over: SIGKILL to task %d\n",
			(int)w->pid);
		if (kill(-w->pid, SIGKILL) != 0)
			fprintf(stderr, "orchd-shim: SIGKILL: %s\n",
				strerror(errno));
	}
}

/* Milliseconds until the watch has something to do; -1: nothing more. */
static int shim_watch_timeout(const struct shim_watch *w, long long now)
{
	long long due;
	if (!w->dir_gone)
		due = w->next_check_ms;
	else if (w->kill_pending)
		due = w->kill_at_ms;
	else
		return -1;
	if (due <= now)
		return 0;
	return due - now > INT_MAX ? INT_MAX : (int)(due - now);
}

/* Runs the watch until the task has ended (it is then a zombie that
 * shim_wait reaps). Without a pidfd the directory is not watched. */
static void shim_watch_run(struct shim_watch *w, const struct shim_dir *dir)
{
	int pidfd = pidfd_open(w->pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "orchd-shim: pidfd_open: %s: the task "
				"directory is not watched\n",
			strerror(errno));
		return;
	}
	for (;;) {
		long long now = shim_now_ms();
		shim_watch_tick(w, dir, now);
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		int n = poll(&pfd, 1, shim_watch_timeout(w, now));
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "orchd-shim: poll: %s: the task "
					"directory is no longer watched\n",
				strerror(errno));
			break;
		}
	}
	close(pidfd);
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

/* Parses a non-negative decimal number; -1 when it is not one. */
static long long shim_parse_count(const char *text, long long max)
{
	char *end;
	errno = 0;
	long long value = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < 0 ||
	    value > max)
		return -1;
	return value;
}

/* Waits for the task and records how it ended, unless its directory went
 * away meanwhile. Returns the shim's exit status. */
static int shim_finish(struct shim_watch *w, const struct shim_dir *dir)
{
	struct proc_exit exit_rec;
	shim_watch_run(w, dir);
	shim_wait(w->pid, &exit_rec);
	if (w->dir_gone) {
		fprintf(stderr, "orchd-shim: task %d ended (%s %d) after its "
				"directory was removed; exiting\n",
			(int)w->pid,
			exit_rec.kind == PROC_EXIT_SIGNAL ? "signal" : "status",
			exit_rec.value);
		return 0;
	}
	int rc = proc_store_write_exit(dir->path, &exit_rec);
	if (rc != 0) {
		fprintf(stderr, "orchd-shim: writing exit file: %s\n",
			strerror(-rc));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: orchd-shim <task_dir> <sync_fd> "
				"<grace_ms> <program> <argv0> [args...]\n");
		return 2;
	}
	long long sync_fd = shim_parse_count(argv[2], 1 << 20);
	if (sync_fd < 0) {
		fprintf(stderr, "orchd-shim: bad sync fd '%s'\n", argv[2]);
		return 2;
	}
	long long grace_ms = shim_parse_count(argv[3], LLONG_MAX / 4);
	if (grace_ms < 0) {
		fprintf(stderr, "orchd-shim: bad grace_ms '%s'\n", argv[3]);
		return 2;
	}
	struct shim_dir dir;
	char reason[PROC_REASON_MAX];
	if (shim_setup_fds((int)sync_fd, argv[1]) != 0) {
		snprintf(reason, sizeof(reason), "orchd-shim: setup: %s",
			 strerror(errno));
		return shim_fail(argv[1], reason);
	}
	int rc = shim_dir_note(&dir, argv[1]);
	if (rc != 0) {
		snprintf(reason, sizeof(reason), "orchd-shim: %s: %s",
			 argv[1], strerror(-rc));
		return shim_fail(argv[1], reason);
	}
	const char *task_dir = dir.path;
	shim_reset_signals();
	if (chdir("/") != 0)
		return shim_fail(task_dir, "orchd-shim: chdir /");

	struct proc_pid_record self;
	rc = shim_record_self(task_dir, &self);
	if (rc != 0) {
		snprintf(reason, sizeof(reason), "orchd-shim: shim.pid: %s",
			 strerror(-rc));
		return shim_fail(task_dir, reason);
	}
	pid_t pid = shim_spawn(argv + 5, argv[4], reason, sizeof(reason));
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

	struct shim_watch watch = {
		.pid = pid,
		.grace_ms = grace_ms,
		.next_check_ms = shim_now_ms() + SHIM_CHECK_MS,
	};
	return shim_finish(&watch, &dir);
}

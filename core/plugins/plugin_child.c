/*
 * plugin_child.c: a plugin in a child process of its own. Starts the
 * runner (orchd-plugin, see plugin_runner.c) for a plugin file and speaks
 * its small line protocol; stops and reaps it. Owns, for such a plugin, the
 * child's pid, a pidfd that turns readable when it exits, the write end of
 * its stdin and the read end of its report pipe (its fd 3).
 *
 * The runner protocol, one JSON object per line:
 *   child -> host (fd 3): {"hello":{"name","kind","version","options"}}
 *                         after loading and checking the descriptor;
 *                         {"ready":true} after init; {"refused":"why"}
 *                         instead of either; {"log":LEVEL,"msg":"..."} at
 *                         any time (the plugin's orch_host.log).
 *   host -> child (stdin): {"start":{"request_url","event_url","node_id",
 *                         "data_dir","config"}}; closing stdin stops it
 *                         (fini, exit 0), as SIGTERM does.
 */
#include "plugin_host_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_REPORT_FD 3

void child_status_text(int status, char *out, size_t size)
{
	if (WIFEXITED(status))
		snprintf(out, size, "exit code %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, size, "signal %d", WTERMSIG(status));
	else
		snprintf(out, size, "wait status %d", status);
}

/* ------------------------------------------------------------ the lines */

/* Moves the next complete line of p->line into out; false when none. A
 * line longer than the buffer is cut. */
static bool take_line(struct plugin_host_plugin *p, char *out, size_t size)
{
	char *end = memchr(p->line, '\n', p->line_len);
	size_t len, keep;

	if (end == NULL && p->line_len < sizeof(p->line))
		return false;
	len = end ? (size_t)(end - p->line) : p->line_len;
	keep = len < size ? len : size - 1;
	memcpy(out, p->line, keep);
	out[keep] = '\0';
	if (end != NULL)
		len++;
	memmove(p->line, p->line + len, p->line_len - len);
	p->line_len -= len;
	return true;
}

/* Logs a "log" line; returns any other message (new), or NULL. */
static json_t *line_handle(struct plugin_host_plugin *p, const char *line)
{
	json_error_t jerr;
	json_t *msg, *level;

	msg = json_loads(line, 0, &jerr);
	if (!json_is_object(msg)) {
		json_decref(msg);
		p->host->log(ORCH_LOG_WARN, p->name ? p->name : p->file,
			     "plugin runner said something that is not a "
			     "JSON object: %.200s",
			     line);
		return NULL;
	}
	level = json_object_get(msg, "log");
	if (!json_is_integer(level))
		return msg;
	p->host->log((enum orch_log_level)json_integer_value(level),
		     p->name ? p->name : p->file, "%s",
		     json_string_value(json_object_get(msg, "msg"))
			     ?: "(no message)");
	json_decref(msg);
	return NULL;
}

/* Reads what is there into p->line: >0 bytes, 0 at end of file, -1 when
 * nothing is ready. */
static ssize_t line_fill(struct plugin_host_plugin *p)
{
	ssize_t n;

	if (p->line_len == sizeof(p->line))
		return -1; /* a full line waits to be taken */
	do
		n = read(p->from_child, p->line + p->line_len,
			 sizeof(p->line) - p->line_len);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		p->line_len += (size_t)n;
	return n < 0 ? -1 : n;
}

bool child_read_lines(struct plugin_host_plugin *p)
{
	char line[sizeof(p->line)];
	ssize_t n;

	if (p->from_child < 0)
		return false;
	do {
		n = line_fill(p);
		while (take_line(p, line, sizeof(line)))
			json_decref(line_handle(p, line));
	} while (n > 0);
	return n != 0;
}

/* The next message that is not a log line: 1 with *msg, 0 at end of file,
 * -1 when deadline_ns passed first. */
static int next_message(struct plugin_host_plugin *p, int64_t deadline_ns,
			json_t **msg)
{
	char line[sizeof(p->line)];
	struct pollfd pfd = {.fd = p->from_child, .events = POLLIN};
	int64_t left;

	for (;;) {
		while (take_line(p, line, sizeof(line)))
			if ((*msg = line_handle(p, line)) != NULL)
				return 1;
		left = deadline_ns - host_now_ns();
		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)(left / 1000000) + 1) < 0 &&
		    errno != EINTR)
			return 0;
		if (line_fill(p) == 0)
			return 0;
	}
}

/* ------------------------------------------------------- start and stop */

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_exec(const char *runner, char *const argv[], int in,
		       int report, pid_t parent)
{
	sigset_t none;

	/* SIGTERM when the thread that forked us ends (orchd dying). */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(126);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(report, CHILD_REPORT_FD) < 0)
		_exit(126);
	syscall(SYS_close_range, CHILD_REPORT_FD + 1, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(runner, argv);
	_exit(127);
}

/* Forks and execs the runner for p->file. */
static int child_spawn(struct plugin_host_plugin *p, char *why, size_t size)
{
	char *argv[] = {p->host->runner, p->file, NULL};
	int in[2], report[2];
	pid_t parent = getpid(), pid;

	if (p->host->runner == NULL || access(p->host->runner, X_OK) != 0) {
		util_errorf(why, size, "cannot run the plugin runner %s: %s",
			    p->host->runner ? p->host->runner : "(not set)",
			    p->host->runner ? strerror(errno)
					    : "no runner given to the host");
		return -1;
	}
	if (pipe2(in, O_CLOEXEC) != 0)
		goto pipe_failed;
	if (pipe2(report, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		goto pipe_failed;
	}
	pid = fork();
	if (pid == 0)
		child_exec(p->host->runner, argv, in[0], report[1], parent);
	close(in[0]);
	close(report[1]);
	if (pid < 0) {
		close(in[1]);
		close(report[0]);
		util_errorf(why, size, "fork: %s", strerror(errno));
		return -1;
	}
	p->pid = pid;
	p->to_child = in[1];
	p->from_child = report[0];
	p->line_len = 0;
	fcntl(p->from_child, F_SETFL, O_NONBLOCK);
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return 0;
pipe_failed:
	util_errorf(why, size, "pipe: %s", strerror(errno));
	return -1;
}

/* Why the child ended (it closed its reports): reaps it and says how. */
static void child_ended(struct plugin_host_plugin *p, const char *when,
			char *why, size_t size)
{
	char how[64];
	int status = child_reap(p, host_now_ns() + 1000000000LL);

	child_status_text(status, how, sizeof(how));
	util_errorf(why, size, "%s %s (%s)",
		    WIFSIGNALED(status) ? "crashed" : "exited", when, how);
}

/* Waits for a message with key `want`; -1 with why otherwise (the child
 * is then stopped and reaped). */
static int child_expect(struct plugin_host_plugin *p, const char *want,
			const char *when, json_t **out, char *why,
			size_t size)
{
	int64_t deadline = host_now_ns() +
			   (int64_t)p->host->start_timeout_ms * 1000000;
	json_t *msg = NULL;
	int rc = next_message(p, deadline, &msg);

	if (rc == 1 && json_object_get(msg, want) != NULL) {
		*out = msg;
		return 0;
	}
	if (rc == 1 && json_is_string(json_object_get(msg, "refused")))
		util_errorf(why, size, "%s",
			    json_string_value(json_object_get(msg, "refused")));
	else if (rc == 1)
		util_errorf(why, size, "the plugin runner broke its protocol "
				       "(no \"%s\")", want);
	else if (rc == -1)
		util_errorf(why, size, "no answer %s within %d ms (killed)",
			    when, p->host->start_timeout_ms);
	json_decref(msg);
	if (rc == 0) {
		child_ended(p, when, why, size);
		return -1;
	}
	child_stop(p);
	child_reap(p, host_now_ns() + 1000000000LL);
	return -1;
}

/* Takes name, kind and version from the hello, or checks that a restarted
 * child is still the same plugin. */
static int hello_apply(struct plugin_host_plugin *p, json_t *hello,
		       char *why, size_t size)
{
	const char *name = json_string_value(json_object_get(hello, "name"));
	const char *version =
		json_string_value(json_object_get(hello, "version"));
	json_int_t kind = json_integer_value(json_object_get(hello, "kind"));

	if (name == NULL || version == NULL) {
		util_errorf(why, size, "the plugin runner's hello has no name "
				       "or version");
		return -1;
	}
	if (p->name != NULL) {
		if (strcmp(p->name, name) != 0 || (json_int_t)p->kind != kind) {
			util_errorf(why, size, "%s is now plugin %s of kind %d",
				    p->file, name, (int)kind);
			return -1;
		}
		return 0;
	}
	p->name = strdup(name);
	p->version = strdup(version);
	p->kind = (enum orch_plugin_kind)kind;
	if (p->name == NULL || p->version == NULL) {
		util_errorf(why, size, "out of memory");
		return -1;
	}
	return 0;
}

int child_describe(struct plugin_host_plugin *p, json_t **accepted,
		   char *why, size_t size)
{
	json_t *msg, *hello;

	*accepted = NULL;
	if (child_spawn(p, why, size) != 0 ||
	    child_expect(p, "hello", "while loading", &msg, why, size) != 0)
		return -1;
	hello = json_object_get(msg, "hello");
	if (hello_apply(p, hello, why, size) != 0) {
		json_decref(msg);
		child_stop(p);
		child_reap(p, host_now_ns() + 1000000000LL);
		return -1;
	}
	*accepted = json_incref(json_object_get(hello, "options"));
	if (!json_is_array(*accepted)) {
		json_decref(*accepted);
		*accepted = json_array();
	}
	json_decref(msg);
	return 0;
}

/* Writes all of text to fd. */
static int write_all(int fd, const char *text, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_start(struct plugin_host_plugin *p, const char *event_url,
		      char *why, size_t size)
{
	json_error_t jerr;
	json_t *line;
	char *text;
	int rc;

	line = json_pack("{s:{s:s, s:s, s:s, s:s, s:o}}", "start",
			 "request_url", p->request_url, "event_url", event_url,
			 "node_id", p->host->node_id, "data_dir", p->data_dir,
			 "config", json_loads(p->config, 0, &jerr));
	text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	if (text == NULL) {
		util_errorf(why, size, "out of memory");
		return -1;
	}
	rc = write_all(p->to_child, text, strlen(text));
	if (rc == 0)
		rc = write_all(p->to_child, "\n", 1);
	free(text);
	if (rc != 0)
		util_errorf(why, size, "cannot write to the plugin runner: %s",
			    strerror(errno));
	return rc;
}

int child_start(struct plugin_host_plugin *p, char *why, size_t size)
{
	const char *event_url;
	json_t *msg;

	event_url = events_url(p->host, PLUGIN_HOST_IPC, why, size);
	if (event_url == NULL)
		goto stop;
	/* A socket file left by a child that crashed. */
	unlink(p->request_url + strlen("ipc://"));
	if (send_start(p, event_url, why, size) != 0)
		goto stop;
	if (child_expect(p, "ready", "in init", &msg, why, size) != 0)
		return -1;
	json_decref(msg);
	if (client_connect(p, why, size) != 0)
		goto stop;
	p->started_ns = host_now_ns();
	return 0;
stop:
	child_stop(p);
	child_reap(p, host_now_ns() + 1000000000LL);
	return -1;
}

void child_stop(struct plugin_host_plugin *p)
{
	if (p->to_child >= 0)
		close(p->to_child);
	p->to_child = -1;
}

int child_reap(struct plugin_host_plugin *p, int64_t deadline_ns)
{
	struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
	int64_t left;
	int status = 0;

	if (p->pid <= 0)
		return -1;
	while (p->pidfd >= 0 && (left = deadline_ns - host_now_ns()) > 0 &&
	       poll(&pfd, 1, (int)(left / 1000000) + 1) == 0)
		;
	if (waitpid(p->pid, &status, WNOHANG) != p->pid) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	child_read_lines(p); /* its last words */
	child_stop(p);
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->from_child >= 0)
		close(p->from_child);
	p->pidfd = -1;
	p->from_child = -1;
	p->pid = 0;
	return status;
}

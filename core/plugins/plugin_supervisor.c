/*
 * plugin_supervisor.c: the thread that keeps the host's child processes
 * (PLUGIN_HOST_IPC plugins) alive. It waits on each child's pidfd and
 * report pipe and on a self-pipe; forwards the children's log lines; when a
 * child ends it logs how (exit code or signal), marks the plugin down and
 * restarts it after a back-off (restart_min_ms doubling to restart_max_ms,
 * back to the minimum once a child stayed up CHILD_STABLE_NS); when a call
 * timed out it pings the plugin ("info") and kills a child that does not
 * answer within ping_timeout_ms, which then restarts like a crash. Owns the
 * thread, the self-pipe and each child's back-off; the children's pids and
 * pipes are touched only by this thread once it runs.
 */
#include "plugin_host_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child up this long has its back-off start over. */
#define CHILD_STABLE_NS (60LL * 1000000000LL)

void supervisor_wake(struct plugin_host *host)
{
	ssize_t n;

	if (!host->supervisor_started)
		return;
	do
		n = write(host->wake[1], "w", 1);
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the pipe is full, a wake-up is pending anyway. */
}

static void wake_drain(struct plugin_host *host)
{
	char buf[64];

	while (read(host->wake[0], buf, sizeof(buf)) > 0)
		;
}

static bool child_exited(struct plugin_host_plugin *p)
{
	struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};

	if (p->pidfd < 0) /* no pidfd (old kernel): ask waitpid */
		return waitpid(p->pid, NULL, WNOHANG | WNOWAIT) == p->pid;
	return poll(&pfd, 1, 0) == 1;
}

/* The next back-off delay of p, doubling it for the time after. */
static int backoff_next(struct plugin_host_plugin *p)
{
	struct plugin_host *host = p->host;
	int delay;

	if (p->backoff_ms == 0 ||
	    host_now_ns() - p->started_ns >= CHILD_STABLE_NS)
		p->backoff_ms = host->restart_min_ms;
	delay = p->backoff_ms;
	p->backoff_ms = delay >= host->restart_max_ms / 2 ? host->restart_max_ms
							   : delay * 2;
	return delay;
}

/* A child ended: log it, mark the plugin down, schedule its restart. */
static void on_child_exit(struct plugin_host_plugin *p)
{
	char why[PLUGIN_HOST_REASON_MAX], how[64];
	pid_t pid = p->pid;
	int status, delay;
	bool hung;

	status = child_reap(p, host_now_ns());
	child_status_text(status, how, sizeof(how));
	pthread_mutex_lock(&p->lock);
	hung = p->life == PLUGIN_DOWN; /* killed by ping_check */
	if (hung)
		snprintf(why, sizeof(why), "%s", p->why);
	pthread_mutex_unlock(&p->lock);
	if (!hung)
		snprintf(why, sizeof(why), "%s (%s)",
			 WIFSIGNALED(status) ? "crashed" : "exited", how);
	delay = backoff_next(p);
	client_down(p, why, delay);
	p->host->log(ORCH_LOG_ERROR, p->name,
		     "plugin process %d ended (%s): plugin %s is unavailable: "
		     "%s, restarting in %.1f s",
		     (int)pid, how, p->name, why, delay / 1000.0);
}

/* A call timed out: is the plugin still answering? If not, kill it. */
static void ping_check(struct plugin_host_plugin *p)
{
	struct plugin_host *host = p->host;
	char why[PLUGIN_HOST_REASON_MAX], err[PLUGIN_HOST_REASON_MAX];
	json_t *reply = NULL;
	int rc;

	pthread_mutex_lock(&p->lock);
	p->ping_wanted = false;
	pthread_mutex_unlock(&p->lock);
	rc = client_call(p, json_pack("{s:s}", "op", "info"),
			 host->ping_timeout_ms, &reply, err, sizeof(err));
	json_decref(reply);
	if (rc != -2)
		return; /* it answers (or is already down): only slow */
	snprintf(why, sizeof(why), "hung (no answer to \"info\" within %d ms)",
		 host->ping_timeout_ms);
	host->log(ORCH_LOG_ERROR, p->name,
		  "plugin %s is %s: killing its process %d", p->name, why,
		  (int)p->pid);
	client_down(p, why, host->restart_max_ms);
	kill(p->pid, SIGKILL); /* on_child_exit follows */
}

/* Starts a down plugin's child again. */
static void restart(struct plugin_host_plugin *p)
{
	char why[PLUGIN_HOST_REASON_MAX], down[PLUGIN_HOST_REASON_MAX + 32];
	json_t *accepted = NULL;
	int delay;

	p->host->log(ORCH_LOG_INFO, p->name, "restarting plugin %s", p->name);
	if (child_describe(p, &accepted, why, sizeof(why)) == 0 &&
	    child_start(p, why, sizeof(why)) == 0) {
		json_decref(accepted);
		p->host->log(ORCH_LOG_INFO, p->name,
			     "plugin %s restarted (process %d)", p->name,
			     (int)p->pid);
		return;
	}
	json_decref(accepted);
	delay = backoff_next(p);
	snprintf(down, sizeof(down), "restart failed: %s", why);
	client_down(p, down, delay);
	p->host->log(ORCH_LOG_ERROR, p->name,
		     "plugin %s: %s; next try in %.1f s", p->name, down,
		     delay / 1000.0);
}

/* The poll set: the self-pipe, then each running child's pidfd and report
 * pipe. Returns the poll timeout: until the next restart, or -1. */
static int poll_set(struct plugin_host *host, struct pollfd *fds,
		    nfds_t *n)
{
	int64_t next = -1, now = host_now_ns();
	size_t i;

	fds[0] = (struct pollfd){.fd = host->wake[0], .events = POLLIN};
	*n = 1;
	for (i = 0; i < host->n_plugins; i++) {
		struct plugin_host_plugin *p = host->plugins[i];

		if (p->transport != PLUGIN_HOST_IPC)
			continue;
		if (p->pid > 0) {
			fds[(*n)++] = (struct pollfd){.fd = p->pidfd,
						      .events = POLLIN};
			if (p->from_child >= 0)
				fds[(*n)++] = (struct pollfd){
					.fd = p->from_child, .events = POLLIN};
			continue;
		}
		pthread_mutex_lock(&p->lock);
		if (p->life == PLUGIN_DOWN && (next < 0 || p->restart_ns < next))
			next = p->restart_ns;
		pthread_mutex_unlock(&p->lock);
	}
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)((next - now) / 1000000) + 1;
}

/* One look at every child after poll returned. */
static void supervise(struct plugin_host_plugin *p)
{
	bool ping, due;

	if (p->transport != PLUGIN_HOST_IPC)
		return;
	if (p->pid > 0) {
		if (!child_read_lines(p) && p->from_child >= 0) {
			/* It is exiting; the pidfd tells when it is done. */
			close(p->from_child);
			p->from_child = -1;
		}
		if (child_exited(p)) {
			on_child_exit(p);
			return;
		}
	}
	pthread_mutex_lock(&p->lock);
	ping = p->ping_wanted && p->life == PLUGIN_RUNNING;
	due = p->life == PLUGIN_DOWN && host_now_ns() >= p->restart_ns;
	pthread_mutex_unlock(&p->lock);
	if (ping && p->pid > 0)
		ping_check(p);
	else if (due && p->pid == 0)
		restart(p);
}

static void *supervisor_main(void *arg)
{
	struct plugin_host *host = arg;
	struct pollfd *fds;
	size_t i;
	nfds_t n;
	bool stop;

	fds = calloc(1 + 2 * host->n_plugins, sizeof(*fds));
	if (fds == NULL) {
		host->log(ORCH_LOG_ERROR, "orchd",
			  "plugin supervisor: out of memory: plugin processes "
			  "are not watched");
		return NULL;
	}
	for (;;) {
		int timeout = poll_set(host, fds, &n);

		if (poll(fds, n, timeout) < 0 && errno != EINTR)
			host->log(ORCH_LOG_ERROR, "orchd",
				  "plugin supervisor: poll: %s",
				  strerror(errno));
		wake_drain(host);
		pthread_mutex_lock(&host->wake_lock);
		stop = host->stopping;
		pthread_mutex_unlock(&host->wake_lock);
		if (stop)
			break;
		for (i = 0; i < host->n_plugins; i++)
			supervise(host->plugins[i]);
	}
	free(fds);
	return NULL;
}

int supervisor_start(struct plugin_host *host, char *err, size_t errlen)
{
	int rv;

	if (pipe2(host->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		util_errorf(err, errlen, "pipe: %s", strerror(errno));
		host->wake[0] = host->wake[1] = -1;
		return -1;
	}
	rv = pthread_create(&host->supervisor, NULL, supervisor_main, host);
	if (rv != 0) {
		util_errorf(err, errlen, "cannot start the plugin supervisor: "
					 "%s",
			    strerror(rv));
		return -1;
	}
	host->supervisor_started = true;
	return 0;
}

void supervisor_stop(struct plugin_host *host)
{
	if (host->supervisor_started) {
		pthread_mutex_lock(&host->wake_lock);
		host->stopping = true;
		pthread_mutex_unlock(&host->wake_lock);
		supervisor_wake(host);
		pthread_join(host->supervisor, NULL);
		host->supervisor_started = false;
	}
	if (host->wake[0] >= 0)
		close(host->wake[0]);
	if (host->wake[1] >= 0)
		close(host->wake[1]);
	host->wake[0] = host->wake[1] = -1;
}

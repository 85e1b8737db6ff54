/*
 * plugin_host_impl.h: what the files of the plugin host share and nobody
 * else sees: the host and plugin structs, and the functions each file
 * offers the others. The files, by what they own:
 *   plugin_host.c       the API, loading order, refusals, lookups
 *   plugin_inproc.c     plugins dlopened into orchd itself
 *   plugin_child.c      a plugin's child process (orchd-plugin): start,
 *                       handshake, stop
 *   plugin_supervisor.c the thread that watches children, restarts them
 *                       with back-off and pings a plugin whose calls time out
 *   plugin_client.c     the request client of each plugin, and its state
 *   plugin_events.c     the PULL socket every plugin pushes events to
 */
#ifndef ORCHD_PLUGIN_HOST_IMPL_H
#define ORCHD_PLUGIN_HOST_IMPL_H

#include "plugin_host.h"
#include "fsutil.h"

#include <nng/nng.h>

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#define PLUGIN_HOST_REASON_MAX 512

/* Where a plugin is in its life. In-process plugins are RUNNING from load
 * to close; a child goes RUNNING -> DOWN (crashed, hung or failed to
 * restart) -> RUNNING again after its back-off. */
enum plugin_life {
	PLUGIN_RUNNING = 0,
	PLUGIN_DOWN = 1,
	PLUGIN_STOPPED = 2, /* the host is closing */
};

struct plugin_host_plugin {
	struct plugin_host *host;
	char *file;
	char *name;
	char *version;
	char *request_url;
	char *data_dir;
	char *config;	  /* JSON object text passed to init */
	enum orch_plugin_kind kind;
	enum plugin_host_transport transport;

	/* In-process (plugin_inproc.c). */
	void *handle;
	const struct orch_plugin *desc;
	void *state;
	struct orch_host orch_host; /* handed to init, valid until fini */

	/* Child (plugin_child.c, plugin_supervisor.c); pid 0: none. Only the
	 * thread that starts and reaps children touches these. */
	pid_t pid;
	int pidfd;	 /* readable when the child exits */
	int to_child;	 /* its stdin: closed to make it stop */
	int from_child;	 /* its fd 3: log lines */
	char line[4096]; /* a partial line read from from_child */
	size_t line_len;
	int64_t started_ns;
	int backoff_ms;

	/* Guarded by lock: read by callers of plugin_host_call. */
	pthread_mutex_t lock;
	enum plugin_life life;
	char why[PLUGIN_HOST_REASON_MAX]; /* why DOWN */
	int64_t restart_ns;		  /* when DOWN: next start */
	bool ping_wanted;		  /* a call timed out */
	nng_socket client;		  /* request socket of this run */
	bool client_open;
	pid_t pid_running; /* pid while RUNNING, for plugin_host_info */
};

struct plugin_host_refusal {
	char *file;
	char *reason;
};

struct plugin_host {
	char *plugin_dir;
	char *data_root;
	char *node_id;
	char *instance;
	char *ipc_dir;
	char *runner;
	char *event_url;     /* for the default transport */
	char *event_ipc_url; /* ipc, when the default is inproc */
	enum plugin_host_transport transport;
	int restart_min_ms;
	int restart_max_ms;
	int ping_timeout_ms;
	int start_timeout_ms;
	const char *(*plugin_config)(void *ctx, const char *plugin_name);
	int (*plugin_transport)(void *ctx, const char *plugin_name);
	void (*on_event)(void *ctx, json_t *event);
	void (*on_refused)(void *ctx, const char *file, const char *reason);
	void (*log)(enum orch_log_level level, const char *plugin_name,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
	void *ctx;

	/* plugin_events.c */
	nng_socket events;
	bool events_open;
	nng_aio *receive; /* the receiver's aio; stopped to end it */
	pthread_t receiver;
	bool receiver_started;

	/* plugin_supervisor.c */
	pthread_t supervisor;
	bool supervisor_started;
	int wake[2]; /* self-pipe: a write wakes the supervisor */
	pthread_mutex_t wake_lock;
	bool stopping;

	struct plugin_host_plugin **plugins;
	size_t n_plugins;
	size_t cap_plugins;
	struct plugin_host_refusal *refused;
	size_t n_refused;
	size_t cap_refused;
};

int64_t host_now_ns(void);

/* plugin_host.c */
struct plugin_host_plugin *host_plugin_new(struct plugin_host *host,
					   const char *file);
void host_plugin_free(struct plugin_host_plugin *p);
/* NULL, or why a plugin called name cannot join (duplicate). */
const char *host_name_problem(struct plugin_host *host, const char *name,
			      char *why, size_t size);

/* plugin_inproc.c: dlopens file and checks its descriptor; 0 with p's
 * desc, name, kind, version, or -1 with why. */
int inproc_describe(struct plugin_host_plugin *p, json_t **accepted,
		    char *why, size_t size);
int inproc_start(struct plugin_host_plugin *p, char *why, size_t size);
void inproc_stop(struct plugin_host_plugin *p);
void inproc_unload(struct plugin_host_plugin *p);

/* plugin_child.c: starts the runner for p->file and reads its hello
 * (fills name, kind, version when they are NULL; else checks they are the
 * same); then child_start sends the start line and waits for "ready". */
int child_describe(struct plugin_host_plugin *p, json_t **accepted,
		   char *why, size_t size);
int child_start(struct plugin_host_plugin *p, char *why, size_t size);
/* Asks a child to stop (closes its stdin); child_reap waits up to
 * deadline_ns, then kills it, reaps it and returns its wait status (-1:
 * there was no child). Both fine without a child. */
void child_stop(struct plugin_host_plugin *p);
int child_reap(struct plugin_host_plugin *p, int64_t deadline_ns);
/* "exit code 3" / "signal 11" for a wait status. */
void child_status_text(int status, char *out, size_t size);
/* Reads what is ready on from_child, logging each complete line; returns
 * false at end of file. */
bool child_read_lines(struct plugin_host_plugin *p);

/* plugin_client.c */
int client_connect(struct plugin_host_plugin *p, char *why, size_t size);
/* Marks p DOWN for why (restart in restart_ms) and closes its client, which
 * fails calls in flight at once. */
void client_down(struct plugin_host_plugin *p, const char *why,
		 int restart_ms);
void client_close(struct plugin_host_plugin *p);
/* plugin_host_call without asking for a ping on a timeout (the
 * supervisor's ping itself): 0, -1, or -2 when the call timed out. */
int client_call(struct plugin_host_plugin *p, json_t *request,
		int timeout_ms, json_t **reply, char *err, size_t errlen);

/* plugin_supervisor.c */
int supervisor_start(struct plugin_host *host, char *err, size_t errlen);
void supervisor_stop(struct plugin_host *host);
void supervisor_wake(struct plugin_host *host);

/* plugin_events.c */
int events_start(struct plugin_host *host, char *err, size_t errlen);
void events_stop(struct plugin_host *host);
int host_make_url(const struct plugin_host *host,
		  enum plugin_host_transport transport, const char *endpoint,
		  char *url, size_t size, char *err, size_t errlen);
/* The events URL for a plugin on transport (the host listens on the
 * other transport's URL too from the first plugin that needs it). NULL
 * with err when it cannot listen there. */
const char *events_url(struct plugin_host *host,
		       enum plugin_host_transport transport, char *err,
		       size_t errlen);

#endif

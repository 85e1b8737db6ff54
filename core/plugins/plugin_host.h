/*
 * plugin_host.h: orchd's plugin host. It loads every "*.so" of a plugin
 * directory (sorted by file name), checks each descriptor (ABI version,
 * kind, name, uniqueness), starts it with an orch_host, and from then on
 * talks to it only through nng: a request client per plugin and one PULL
 * socket on which every plugin pushes its events.
 *
 * A plugin that cannot be loaded is refused with the file and the reason
 * (kept in a list and passed to on_refused); the host carries on with the
 * others. Refusals are not errors of plugin_host_open, which fails only when
 * the host itself cannot run (directory unreadable, event socket).
 *
 * Transports. PLUGIN_HOST_INPROC dlopens a plugin into the host's process
 * (URLs inproc://orchd-<instance>-plugin-<name>, events
 * inproc://orchd-<instance>-events). PLUGIN_HOST_IPC runs each plugin in a
 * child process of its own, the runner orchd-plugin (options.runner), which
 * dlopens it, checks it the same way and calls init with
 * ipc://<ipc_dir>/orchd-<instance>-plugin-<name>.sock and
 * ipc://<ipc_dir>/orchd-<instance>-events.sock; plugins are the same .so
 * files either way. The instance string keeps several hosts in one process
 * (tests), or several orchd on one machine, apart.
 *
 * Supervision (PLUGIN_HOST_IPC): a child that exits, is killed by a signal,
 * or hangs (a call timed out and an "info" ping then got no answer within
 * ping_timeout_ms: the host kills it) is logged, reported unavailable
 * (plugin_host_call fails at once: "plugin NAME is unavailable: crashed
 * (signal 11), restarting in 0.5 s") and restarted after a back-off that
 * doubles from restart_min_ms to restart_max_ms and starts over once a
 * child stayed up a minute. Children get SIGTERM when the thread that
 * started them ends (PR_SET_PDEATHSIG; plugin_host_open's caller for the
 * first start, the host's supervisor thread for restarts), and end by
 * themselves when their stdin closes: orchd dying takes its plugins along.
 * A segfault of an in-process plugin takes the whole process down: only
 * ipc survives it.
 *
 * Options: each plugin gets a JSON object (plugin_config) whose keys must
 * be among those its descriptor declares (struct orch_plugin.options,
 * ABI >= 2; an ABI-1 plugin accepts none). An undeclared key is a
 * configuration error: plugin_host_open fails, naming the plugin, the key
 * and the keys it accepts.
 */
#ifndef ORCHD_PLUGIN_HOST_H
#define ORCHD_PLUGIN_HOST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch_plugin.h"

enum plugin_host_transport {
	PLUGIN_HOST_INPROC = 0,
	PLUGIN_HOST_IPC = 1,
};

struct plugin_host_options {
	const char *plugin_dir; /* where the *.so files are */
	const char *data_root;  /* plugin data dirs: <data_root>/plugins/<n> */
	const char *node_id;    /* passed to plugins */
	const char *instance;   /* [A-Za-z0-9_.-]{1,64}, unique per host */
	enum plugin_host_transport transport; /* of every plugin, unless: */
	/* Returns the transport of the plugin called plugin_name, or -1 for
	 * `transport`. May be NULL. */
	int (*plugin_transport)(void *ctx, const char *plugin_name);
	const char *ipc_dir; /* PLUGIN_HOST_IPC only; NULL: data_root */
	const char *runner;  /* path of orchd-plugin (needed for ipc) */
	/* Supervision; 0 picks the default in brackets. */
	int restart_min_ms;   /* first restart delay [500] */
	int restart_max_ms;   /* longest restart delay [30000] */
	int ping_timeout_ms;  /* liveness ping after a timed-out call [2000] */
	int start_timeout_ms; /* a child's load and init [30000] */
	/* Returns the plugin's options as JSON text (borrowed, read during
	 * init only), or NULL for "{}". May be NULL. */
	const char *(*plugin_config)(void *ctx, const char *plugin_name);
	/* Each event a plugin pushes, decoded, with "v" == 1 and a string
	 * "op" checked; the callback OWNS the event (json_decref it). Called
	 * from the host's receiver thread. May be NULL (events dropped). */
	void (*on_event)(void *ctx, json_t *event);
	/* Each refused plugin file, during plugin_host_open. May be NULL. */
	void (*on_refused)(void *ctx, const char *file, const char *reason);
	/* orch_host.log for the plugins; NULL logs to stderr. */
	void (*log)(enum orch_log_level level, const char *plugin_name,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
	void *ctx; /* passed to the callbacks */
};

struct plugin_host;
struct plugin_host_plugin; /* one loaded plugin */

/* What the host knows of a loaded plugin; strings live as long as the
 * host. */
struct plugin_host_info {
	const char *file; /* path of the shared object */
	const char *name;
	enum orch_plugin_kind kind;
	const char *version;
	const char *request_url;
	enum plugin_host_transport transport;
	int pid; /* its child process now; 0 in-process or while down */
};

/* Loads the plugins. Returns 0 (even when some plugins were refused), or
 * -1 with err when the host cannot run or a plugin is given an option it
 * does not accept. */
int plugin_host_open(const struct plugin_host_options *options,
		     struct plugin_host **out, char *err, size_t errlen);
/* Stops every plugin (fini, in reverse load order), unloads them, and
 * stops the event receiver. NULL is fine. */
void plugin_host_close(struct plugin_host *host);

/* Loaded plugins, in load order (sorted by file name). */
size_t plugin_host_count(const struct plugin_host *host);
struct plugin_host_plugin *plugin_host_get(struct plugin_host *host,
					   size_t index);
/* Loaded plugins of one kind. */
size_t plugin_host_count_kind(const struct plugin_host *host,
			      enum orch_plugin_kind kind);
/* The plugin of that kind and name, or NULL. */
struct plugin_host_plugin *plugin_host_find(struct plugin_host *host,
					    enum orch_plugin_kind kind,
					    const char *name);
void plugin_host_info(const struct plugin_host_plugin *plugin,
		      struct plugin_host_info *info);

/* Refused files, in the order they were met. */
size_t plugin_host_refused_count(const struct plugin_host *host);
void plugin_host_refused(const struct plugin_host *host, size_t index,
			 const char **file, const char **reason);

/* One request/reply with a plugin: steals request, *reply is new.
 * Thread-safe. Returns 0 (a reply carrying "error" included), or -1 with
 * err naming the plugin: at once when it is unavailable (its state and
 * when it restarts), when its child dies during the call, on a timeout
 * (which makes the host ping the plugin) and on a garbage reply. */
int plugin_host_call(struct plugin_host_plugin *plugin, json_t *request,
		     int timeout_ms, json_t **reply, char *err,
		     size_t errlen);

/* Whether the plugin answers calls now; if not, why (as in the errors of
 * plugin_host_call) into why. */
bool plugin_host_available(struct plugin_host_plugin *plugin, char *why,
			   size_t size);

/* "scheduler", "runtime", "health", "discovery", or "unknown". */
const char *plugin_host_kind_name(enum orch_plugin_kind kind);

/* The host's event URL, for tests and out-of-process plugins. */
const char *plugin_host_event_url(const struct plugin_host *host);

#endif

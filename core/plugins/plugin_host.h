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
 * URLs: inproc://orchd-<instance>-plugin-<name> and
 * inproc://orchd-<instance>-events; with PLUGIN_HOST_IPC
 * ipc://<ipc_dir>/orchd-<instance>-plugin-<name>.sock and
 * ipc://<ipc_dir>/orchd-<instance>-events.sock. The instance string keeps
 * several hosts in one process (tests), or several orchd on one machine,
 * apart.
 */
#ifndef ORCHD_PLUGIN_HOST_H
#define ORCHD_PLUGIN_HOST_H

#include <jansson.h>
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
	enum plugin_host_transport transport;
	const char *ipc_dir; /* PLUGIN_HOST_IPC only; NULL: data_root */
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
};

/* Loads the plugins. Returns 0 (even when some plugins were refused), or
 * -1 with err when the host cannot run. */
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

/* One request/reply with a plugin (orch_sdk_client_call): steals request,
 * *reply is new. Thread-safe. Returns 0 (a reply carrying "error"
 * included), or -1 with err naming the plugin. */
int plugin_host_call(struct plugin_host_plugin *plugin, json_t *request,
		     int timeout_ms, json_t **reply, char *err,
		     size_t errlen);

/* "scheduler", "runtime", "health", "discovery", or "unknown". */
const char *plugin_host_kind_name(enum orch_plugin_kind kind);

/* The host's event URL, for tests and out-of-process plugins. */
const char *plugin_host_event_url(const struct plugin_host *host);

#endif

/*
 * orch_plugin.h: the versioned plugin ABI of orchd.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * orch_plugin_entry, returning a constant descriptor (struct orch_plugin).
 * orchd loads every shared object in its --plugins directory with dlopen,
 * checks the descriptor, and calls init() with a struct orch_host that tells
 * the plugin where to listen for the core's requests (an nng URL, inproc://
 * when the plugin lives in orchd's process, ipc:// when it runs in its own)
 * and where to push events. From then on core and plugin talk only through
 * nng messages in the protocol described in orch_protocol.h.
 *
 * Stability rule (as in canonical/raft's raft_io or SQLite's sqlite3_vfs):
 * both structs start with a version and only ever grow at their end; a field
 * added later says "added in version N". A plugin built for version N works
 * with any host of version >= N.
 *
 * Plugins include <orch_sdk.h>, which includes this file.
 */
#ifndef ORCH_PLUGIN_H
#define ORCH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define ORCH_PLUGIN_ABI_VERSION 2
/* Marks the one symbol a plugin exports. Build plugins with
 * -fvisibility=hidden so that everything else stays private to the plugin
 * (two plugins may then both have a static-looking `parse_config` without
 * one of them silently calling the other's). */
#define ORCH_PLUGIN_EXPORT __attribute__((visibility("default")))
#define ORCH_PLUGIN_ENTRY_SYMBOL "orch_plugin_entry"

enum orch_plugin_kind {
	ORCH_PLUGIN_SCHEDULER = 1, /* places tasks on nodes */
	ORCH_PLUGIN_RUNTIME = 2,   /* runs tasks (containers, processes) */
	ORCH_PLUGIN_HEALTH = 3,    /* runs health checks */
	ORCH_PLUGIN_DISCOVERY = 4, /* service discovery (DNS, external) */
};

enum orch_log_level {
	ORCH_LOG_ERROR = 0,
	ORCH_LOG_WARN = 1,
	ORCH_LOG_INFO = 2,
	ORCH_LOG_DEBUG = 3,
};

/* What the host hands a plugin at init. Valid until fini returns. */
struct orch_host {
	uint32_t version;        /* host ABI version (>= the plugin's) */
	const char *plugin_name; /* the descriptor's name */
	const char *request_url; /* listen here (REP) for the core's requests */
	const char *event_url;   /* dial here (PUSH) to send events */
	const char *node_id;     /* id of the node this orchd runs */
	const char *data_dir;    /* a directory of the plugin's own (exists) */
	const char *config_json; /* plugin options as a JSON object; "{}" if none */
	/* Logs through orchd's log with the plugin's name attached. */
	void (*log)(enum orch_log_level level, const char *plugin_name,
		    const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
};

struct orch_plugin {
	uint32_t abi_version; /* ORCH_PLUGIN_ABI_VERSION the plugin was built for */
	uint32_t kind;        /* enum orch_plugin_kind */
	const char *name;     /* unique among loaded plugins: [a-z0-9_-]{1,32} */
	const char *version;  /* the plugin's own version, free text */
	/* Starts the plugin: it must be serving request_url when init returns
	 * 0. On failure returns non-zero and writes a reason into err. */
	int (*init)(const struct orch_host *host, void **state, char *err,
		    size_t errlen);
	/* Stops serving and frees everything init made. */
	void (*fini)(void *state);
	/* Added in version 2: the option keys the plugin accepts (set with
	 * `orchd --plugin-opt NAME.KEY=VALUE` or the config file's
	 * `plugins: {NAME: {KEY: VALUE}}`), ending with NULL. The host refuses
	 * any other key, naming the plugin, before init. NULL: no options. */
	const char *const *options;
};

/* The one symbol a plugin exports; defined by the plugin with
 * ORCH_PLUGIN_DEFINE below, or by hand as
 *   ORCH_PLUGIN_EXPORT const struct orch_plugin *orch_plugin_entry(void)
 *   { return &my_plugin; }
 * (declared exported here too, so that it stays visible even where the
 * definition forgets the attribute). */
ORCH_PLUGIN_EXPORT const struct orch_plugin *orch_plugin_entry(void);

/* Defines the plugin's descriptor and orch_plugin_entry in one go, with
 * abi_version set to this header's ORCH_PLUGIN_ABI_VERSION; the arguments
 * are the descriptor's other fields, designated:
 *   ORCH_PLUGIN_DEFINE(.kind = ORCH_PLUGIN_RUNTIME, .name = "mine",
 *                      .version = "1.0", .init = mine_init,
 *                      .fini = mine_fini);
 * Use it once, in one file of the plugin. */
#define ORCH_PLUGIN_DEFINE(...)                                              \
	static const struct orch_plugin orch_plugin_descriptor = {            \
		.abi_version = ORCH_PLUGIN_ABI_VERSION, __VA_ARGS__};         \
	ORCH_PLUGIN_EXPORT const struct orch_plugin *orch_plugin_entry(void)  \
	{                                                                     \
		return &orch_plugin_descriptor;                               \
	}                                                                     \
	struct orch_plugin_define_needs_a_semicolon

#endif

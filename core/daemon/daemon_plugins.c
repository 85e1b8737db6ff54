/*
 * daemon_plugins.c: the daemon's side of the plugin host: loads the plugins
 * at start (each in orchd or in its own process, with its options from the
 * flags and the file), lists and calls them for the manager and the agent
 * (struct plugin_calls), forwards runtime events into the agent's inbox and
 * plugin log lines into orchd's log. Owns nothing beyond the host handle
 * kept in struct orchd.
 */
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

/* ---------------------------------------------------- plugins, wiring */

/* orch_host.log: a plugin's lines in orchd's log, under its name. */
static void plugin_log(enum orch_log_level level, const char *plugin, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg((enum log_level)level, plugin ? plugin : "plugin", fmt, ap);
	va_end(ap);
}

size_t plugins_list(void *ctx, enum orch_plugin_kind kind,
			   const char **names, size_t max)
{
	struct orchd *o = ctx;
	size_t found = 0;
	for (size_t i = 0; i < plugin_host_count(o->plugins); i++) {
		struct plugin_host_info info;
		plugin_host_info(plugin_host_get(o->plugins, i), &info);
		if (info.kind != kind)
			continue;
		if (found < max)
			names[found] = info.name;
		found++;
	}
	return found;
}

int plugins_call(void *ctx, const char *name, json_t *request,
			int timeout_ms, json_t **reply, char *err, size_t errlen)
{
	struct orchd *o = ctx;
	for (size_t i = 0; i < plugin_host_count(o->plugins); i++) {
		struct plugin_host_plugin *p = plugin_host_get(o->plugins, i);
		struct plugin_host_info info;
		plugin_host_info(p, &info);
		if (strcmp(info.name, name) == 0)
			return plugin_host_call(p, request, timeout_ms, reply, err, errlen);
	}
	json_decref(request);
	snprintf(err, errlen, "no plugin named %s is loaded", name);
	return -1;
}

/* Runtime events go to the agent; the host's thread only posts them (a
 * post never blocks, so holding agent_lock for it is short). */
static void on_plugin_event(void *ctx, json_t *event)
{
	struct orchd *o = ctx;
	const char *op = json_string_value(json_object_get(event, "op"));
	bool wanted = op && strcmp(op, "task_status") == 0;
	pthread_mutex_lock(&o->agent_lock);
	if (o->agent && wanted) {
		inbox_post(agent_inbox(o->agent), INBOX_RUNTIME_EVENT, event, NULL);
		event = NULL;
	}
	pthread_mutex_unlock(&o->agent_lock);
	json_decref(event);
}

static void on_plugin_refused(void *ctx, const char *file, const char *reason)
{
	(void)ctx;
	log_msg(LOG_ERROR, "daemon", "plugin %s refused: %s", file, reason);
}

static const char *plugin_options(void *ctx, const char *name)
{
	struct orchd *o = ctx;
	return config_plugin_options(&o->cfg, name);
}

static enum plugin_host_transport transport_named(const char *name)
{
	return strcmp(name, "ipc") == 0 ? PLUGIN_HOST_IPC : PLUGIN_HOST_INPROC;
}

static int plugin_transport(void *ctx, const char *name)
{
	struct orchd *o = ctx;
	const char *t = json_string_value(json_object_get(o->cfg.plugin_transports, name));
	return t ? (int)transport_named(t) : -1;
}

/* orchd-plugin, the runner of out-of-process plugins: next to orchd. */
static void runner_path(char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		snprintf(out, size, "orchd-plugin");
		return;
	}
	self[n] = '\0';
	snprintf(out, size, "%s/orchd-plugin", dirname(self));
}

/* Settings for a plugin that is not loaded are an error: a typo would
 * otherwise go unnoticed. */
static int check_settings_named_loaded(struct orchd *o, json_t *settings,
				       const char *what, char *err, size_t errlen)
{
	const char *name;
	json_t *value;
	json_object_foreach(settings, name, value) {
		bool loaded = false;
		for (size_t i = 0; i < plugin_host_count(o->plugins); i++) {
			struct plugin_host_info info;
			plugin_host_info(plugin_host_get(o->plugins, i), &info);
			loaded |= strcmp(info.name, name) == 0;
		}
		if (!loaded) {
			snprintf(err, errlen, "%s given for plugin %s, which is not loaded from %s",
				 what, name, o->cfg.plugins);
			return -1;
		}
	}
	return 0;
}

int orchd_load_plugins(struct orchd *o, char *err, size_t errlen)
{
	char instance[64], runner[PATH_MAX + 16];
	snprintf(instance, sizeof(instance), "orchd-%ld", (long)getpid());
	runner_path(runner, sizeof(runner));
	struct plugin_host_options opts = {
		.plugin_dir = o->cfg.plugins,
		.data_root = o->cfg.data_root,
		.node_id = o->node_id,
		.instance = instance,
		.transport = transport_named(o->cfg.plugin_transport),
		.plugin_transport = plugin_transport,
		.runner = runner,
		.plugin_config = plugin_options,
		.on_event = on_plugin_event,
		.on_refused = on_plugin_refused,
		.log = plugin_log,
		.ctx = o,
	};
	if (plugin_host_open(&opts, &o->plugins, err, errlen) != 0)
		return -1;
	if (check_settings_named_loaded(o, o->cfg.plugin_options, "options", err, errlen) ||
	    check_settings_named_loaded(o, o->cfg.plugin_transports, "a transport", err,
					errlen))
		return -1;
	const enum orch_plugin_kind needed[] = { ORCH_PLUGIN_SCHEDULER,
						 ORCH_PLUGIN_RUNTIME };
	for (size_t i = 0; i < 2; i++)
		if (plugin_host_count_kind(o->plugins, needed[i]) == 0) {
			snprintf(err, errlen, "no %s plugin loaded from %s: orchd needs at least one",
				 plugin_host_kind_name(needed[i]), o->cfg.plugins);
			return -1;
		}
	for (size_t i = 0; i < plugin_host_count(o->plugins); i++) {
		struct plugin_host_info info;
		plugin_host_info(plugin_host_get(o->plugins, i), &info);
		char where[64] = "in orchd";
		if (info.transport == PLUGIN_HOST_IPC)
			snprintf(where, sizeof(where), "in process %d", info.pid);
		log_msg(LOG_INFO, "daemon", "plugin %s (%s %s) loaded from %s, running %s",
			info.name, plugin_host_kind_name(info.kind), info.version, info.file,
			where);
	}
	return 0;
}

/*
 * test_plugin.c: the plugin the plugin-host tests load, compiled several
 * times with different definitions into good and deliberately broken
 * shared objects:
 *   TP_NAME "alpha"   descriptor name        TP_KIND n     descriptor kind
 *   TP_ABI n          descriptor ABI version TP_INIT_FAILS init fails
 *   TP_NO_ENTRY       exports no orch_plugin_entry at all
 *   TP_OPTIONS k,...  the option keys it declares (read by the host only
 *                     when TP_ABI >= 2)
 * A good one serves "info" (what it was given at init, and its pid),
 * "echo", and "emit" (pushes a task_status event for the request's
 * "task_id").
 *
 * State: the request server and event sender made by init (one struct).
 */
#include "orch_sdk.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TP_NAME
#define TP_NAME "alpha"
#endif
#ifndef TP_KIND
#define TP_KIND ORCH_PLUGIN_SCHEDULER
#endif
#ifndef TP_ABI
#define TP_ABI ORCH_PLUGIN_ABI_VERSION
#endif

struct tp_state {
	struct orch_sdk_server *server;
	struct orch_sdk_events *events;
	json_t *info;
};

static json_t *tp_emit(struct tp_state *s, json_t *request)
{
	json_t *statuses = json_array();
	const char *task_id =
		json_string_value(json_object_get(request, "task_id"));
	int rv;

	if (task_id == NULL)
		return orch_sdk_error("emit needs a task_id");
	json_array_append_new(statuses, orch_sdk_task_status(task_id,
							     "running", 0,
							     NULL, "pid-7"));
	rv = orch_sdk_events_send_statuses(s->events, TP_NAME, statuses);
	if (rv != 0)
		return orch_sdk_error("event not sent (nng error %d)", rv);
	return json_object();
}

static json_t *tp_handle(void *ctx, const char *op, json_t *request)
{
	struct tp_state *s = ctx;

	if (strcmp(op, "info") == 0)
		return json_deep_copy(s->info);
	if (strcmp(op, "echo") == 0)
		return json_pack("{s:O}", "echo", request);
	if (strcmp(op, "emit") == 0)
		return tp_emit(s, request);
	return orch_sdk_error("unknown op %s", op);
}

static void tp_fini(void *state)
{
	struct tp_state *s = state;

	if (s == NULL)
		return;
	orch_sdk_server_stop(s->server);
	orch_sdk_events_close(s->events);
	json_decref(s->info);
	free(s);
}

/* What init was given, for the "info" op. */
static json_t *tp_info(const struct orch_host *host)
{
	struct stat st;
	json_error_t jerr;

	return json_pack("{s:s, s:i, s:i, s:s, s:s, s:s, s:b, s:o*}", "name",
			 TP_NAME, "pid", (int)getpid(), "host_version",
			 (int)host->version,
			 "plugin_name", host->plugin_name, "node_id",
			 host->node_id, "data_dir", host->data_dir,
			 "data_dir_exists",
			 stat(host->data_dir, &st) == 0 && S_ISDIR(st.st_mode),
			 "config", json_loads(host->config_json, 0, &jerr));
}

static int tp_init(const struct orch_host *host, void **state, char *err,
		   size_t errlen)
{
	struct tp_state *s;

#ifdef TP_INIT_FAILS
	(void)host;
	(void)state;
	strncpy(err, "cannot open the door", errlen - 1);
	err[errlen - 1] = '\0';
	return -1;
#endif
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	s->info = tp_info(host);
	if (s->info == NULL ||
	    orch_sdk_events_open(host->event_url, &s->events, err, errlen) ||
	    orch_sdk_server_start(host->request_url, 2, tp_handle, s,
				  &s->server, err, errlen)) {
		tp_fini(s);
		return -1;
	}
	host->log(ORCH_LOG_INFO, host->plugin_name, "serving %s",
		  host->request_url);
	*state = s;
	return 0;
}

#ifdef TP_OPTIONS
static const char *const tp_options[] = {TP_OPTIONS, NULL};
#define TP_OPTION_LIST tp_options
#else
#define TP_OPTION_LIST NULL
#endif

static const struct orch_plugin tp_plugin = {
	.abi_version = TP_ABI,
	.kind = TP_KIND,
	.name = TP_NAME,
	.version = "test-1",
	.init = tp_init,
	.fini = tp_fini,
	.options = TP_OPTION_LIST,
};

#ifndef TP_NO_ENTRY
const struct orch_plugin *orch_plugin_entry(void)
{
	return &tp_plugin;
}
#else
/* Something to export, but not the entry point. */
const struct orch_plugin *tp_not_the_entry(void)
{
	return &tp_plugin;
}
#endif

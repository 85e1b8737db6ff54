/*
 * plugin_host.c: orchd's plugin host (plugin_host.h): its options, the
 * order plugins load in, refusals, lookups, and open/close. Loading one
 * plugin: describe it (in-process: dlopen and check the descriptor,
 * plugin_inproc.c; ipc: a child does that, plugin_child.c), check its name
 * is new and its options are among those it declares, give it a URL, data
 * directory and options text, start it.
 *
 * State owned here: the host's copy of its options, the plugins (in load
 * order) and the refused files as (file, reason) pairs.
 *
 * Load order is the byte order of the file names, so the same directory
 * always loads the same way; a refusal never stops the others.
 */
#include "plugin_host_impl.h"
#include "plugin_check.h"
#include "fsutil.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define PLUGIN_HOST_INSTANCE_MAX 64
#define PLUGIN_HOST_STOP_GRACE_NS (5LL * 1000000000LL)

int64_t host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Grows a vector of `size`-byte items so that one more fits. */
static int vec_reserve(void **items, size_t n, size_t *cap, size_t size)
{
	void *grown;
	size_t want;

	if (n < *cap)
		return 0;
	want = *cap ? 2 * *cap : 8;
	grown = realloc(*items, want * size);
	if (grown == NULL)
		return -1;
	*items = grown;
	*cap = want;
	return 0;
}

/* The default log: orchd's own, under the plugin's name. */
static void default_log(enum orch_log_level level, const char *plugin_name,
			const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void default_log(enum orch_log_level level, const char *plugin_name,
			const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg((enum log_level)level, plugin_name, fmt, ap);
	va_end(ap);
}

const char *plugin_host_kind_name(enum orch_plugin_kind kind)
{
	switch (kind) {
	case ORCH_PLUGIN_SCHEDULER:
		return "scheduler";
	case ORCH_PLUGIN_RUNTIME:
		return "runtime";
	case ORCH_PLUGIN_HEALTH:
		return "health";
	case ORCH_PLUGIN_DISCOVERY:
		return "discovery";
	}
	return "unknown";
}

/* ------------------------------------------------------------- refusals */

/* Records file as refused for reason and tells on_refused. */
static void refuse(struct plugin_host *host, const char *file,
		   const char *reason)
{
	struct plugin_host_refusal *r;

	if (host->on_refused != NULL)
		host->on_refused(host->ctx, file, reason);
	if (vec_reserve((void **)&host->refused, host->n_refused,
			&host->cap_refused, sizeof(*host->refused)) != 0)
		return;
	r = &host->refused[host->n_refused];
	r->file = strdup(file);
	r->reason = strdup(reason);
	if (r->file == NULL || r->reason == NULL) {
		free(r->file);
		free(r->reason);
		return;
	}
	host->n_refused++;
}

/* ----------------------------------------------------------- filesystem */

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with_so(const char *name)
{
	size_t len = strlen(name);

	return len > 3 && strcmp(name + len - 3, ".so") == 0;
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The "*.so" names of dir, sorted. */
static int list_plugin_files(const char *dir, char ***out, size_t *n,
			     char *err, size_t errlen)
{
	char **names = NULL;
	size_t cap = 0;
	struct dirent *entry;
	DIR *d;

	*out = NULL;
	*n = 0;
	d = opendir(dir);
	if (d == NULL) {
		util_errorf(err, errlen, "cannot read plugin directory %s: %s",
			    dir, strerror(errno));
		return -1;
	}
	while ((entry = readdir(d)) != NULL) {
		if (!ends_with_so(entry->d_name))
			continue;
		if (vec_reserve((void **)&names, *n, &cap, sizeof(*names)) ||
		    (names[*n] = strdup(entry->d_name)) == NULL) {
			closedir(d);
			free_names(names, *n);
			*n = 0;
			util_errorf(err, errlen, "out of memory");
			return -1;
		}
		(*n)++;
	}
	closedir(d);
	if (*n > 0)
		qsort(names, *n, sizeof(*names), compare_names);
	*out = names;
	return 0;
}

/* --------------------------------------------------------------- plugins */

struct plugin_host_plugin *host_plugin_new(struct plugin_host *host,
					   const char *file)
{
	struct plugin_host_plugin *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->host = host;
	p->file = strdup(file);
	if (p->file == NULL) {
		free(p);
		return NULL;
	}
	p->pidfd = p->to_child = p->from_child = -1;
	p->life = PLUGIN_STOPPED;
	snprintf(p->why, sizeof(p->why), "not started");
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void host_plugin_free(struct plugin_host_plugin *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p->file);
	free(p->name);
	free(p->version);
	free(p->request_url);
	free(p->data_dir);
	free(p->config);
	free(p);
}

static struct plugin_host_plugin *find_name(struct plugin_host *host,
					    const char *name)
{
	size_t i;

	for (i = 0; i < host->n_plugins; i++)
		if (strcmp(host->plugins[i]->name, name) == 0)
			return host->plugins[i];
	return NULL;
}

const char *host_name_problem(struct plugin_host *host, const char *name,
			      char *why, size_t size)
{
	struct plugin_host_plugin *other = find_name(host, name);

	if (other == NULL)
		return NULL;
	snprintf(why, size,
		 "duplicate plugin name \"%s\" (already loaded from %.200s)",
		 name, other->file);
	return why;
}

/* The options text of p, checked against what it accepts. */
static int plugin_options(struct plugin_host *host,
			  struct plugin_host_plugin *p, const json_t *accepted,
			  char *err, size_t errlen)
{
	const char *config = NULL;
	json_error_t jerr;
	json_t *parsed;
	int rc;

	if (host->plugin_config != NULL)
		config = host->plugin_config(host->ctx, p->name);
	if (config == NULL)
		config = "{}";
	parsed = json_loads(config, 0, &jerr);
	if (!json_is_object(parsed)) {
		json_decref(parsed);
		util_errorf(err, errlen,
			    "the options of plugin %s are not a JSON object",
			    p->name);
		return -1;
	}
	rc = plugin_check_options(p->name, parsed, accepted, err, errlen);
	json_decref(parsed);
	if (rc == 0 && (p->config = strdup(config)) == NULL) {
		util_errorf(err, errlen, "out of memory");
		rc = -1;
	}
	return rc;
}

/* Fills p's URL and data dir. */
static int plugin_places(struct plugin_host *host,
			 struct plugin_host_plugin *p, char *err,
			 size_t errlen)
{
	char url[512], endpoint[64], dir[4096];

	snprintf(endpoint, sizeof(endpoint), "plugin-%s", p->name);
	if (host_make_url(host, p->transport, endpoint, url, sizeof(url), err,
			  errlen))
		return -1;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/plugins/%s",
			     host->data_root, p->name) >= sizeof(dir)) {
		util_errorf(err, errlen, "data directory path too long");
		return -1;
	}
	if (util_mkdir_p(dir, 0700, err, errlen))
		return -1;
	p->request_url = strdup(url);
	p->data_dir = strdup(dir);
	if (!p->request_url || !p->data_dir) {
		util_errorf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Undoes a describe: unloads the shared object or stops the child. */
static void plugin_undescribe(struct plugin_host_plugin *p)
{
	if (p->transport == PLUGIN_HOST_INPROC) {
		inproc_unload(p);
	} else {
		child_stop(p);
		child_reap(p, host_now_ns() + 1000000000LL);
	}
	free(p->name);
	free(p->version);
	p->name = p->version = NULL;
}

/* Describes p on its transport, moving it to the one configured for its
 * name when that differs. */
static int plugin_describe(struct plugin_host *host,
			   struct plugin_host_plugin *p, json_t **accepted,
			   char *why, size_t size)
{
	int want;

	for (int round = 0; round < 2; round++) {
		if ((p->transport == PLUGIN_HOST_INPROC
			     ? inproc_describe(p, accepted, why, size)
			     : child_describe(p, accepted, why, size)) != 0)
			return -1;
		want = host->plugin_transport
			       ? host->plugin_transport(host->ctx, p->name)
			       : -1;
		if ((want != PLUGIN_HOST_INPROC && want != PLUGIN_HOST_IPC) ||
		    want == (int)p->transport)
			return 0;
		plugin_undescribe(p);
		json_decref(*accepted);
		*accepted = NULL;
		p->transport = (enum plugin_host_transport)want;
	}
	return 0;
}

/* Loads one file. A plugin that cannot run is refused (recorded, 0); a
 * configuration error (an option it does not accept) returns -1 with
 * err. */
static int plugin_load(struct plugin_host *host, const char *path,
		       char *err, size_t errlen)
{
	char why[PLUGIN_HOST_REASON_MAX];
	struct plugin_host_plugin *p;
	json_t *accepted = NULL;
	int rc = 0;

	p = host_plugin_new(host, path);
	if (p == NULL) {
		refuse(host, path, "out of memory");
		return 0;
	}
	p->transport = host->transport;
	if (plugin_describe(host, p, &accepted, why, sizeof(why)) != 0 ||
	    host_name_problem(host, p->name, why, sizeof(why)) != NULL ||
	    plugin_places(host, p, why, sizeof(why)) != 0)
		goto refused;
	if (plugin_options(host, p, accepted, err, errlen) != 0) {
		rc = -1;
		goto drop;
	}
	if ((p->transport == PLUGIN_HOST_INPROC
		     ? inproc_start(p, why, sizeof(why))
		     : child_start(p, why, sizeof(why))) != 0)
		goto refused;
	if (vec_reserve((void **)&host->plugins, host->n_plugins,
			&host->cap_plugins, sizeof(*host->plugins)) != 0) {
		snprintf(why, sizeof(why), "out of memory");
		goto refused_started;
	}
	json_decref(accepted);
	host->plugins[host->n_plugins++] = p;
	return 0;
refused_started:
	if (p->transport == PLUGIN_HOST_INPROC)
		inproc_stop(p);
	else
		client_close(p);
refused:
	refuse(host, path, why);
drop:
	json_decref(accepted);
	if (p->name != NULL || p->handle != NULL || p->pid > 0)
		plugin_undescribe(p);
	host_plugin_free(p);
	return rc;
}

/* ------------------------------------------------------------------- API */

static int copy_options(struct plugin_host *host,
			const struct plugin_host_options *o, char *err,
			size_t errlen)
{
	if (o->plugin_dir == NULL || o->data_root == NULL ||
	    o->node_id == NULL) {
		util_errorf(err, errlen,
			    "plugin_dir, data_root and node_id are required");
		return -1;
	}
	if (o->transport != PLUGIN_HOST_INPROC &&
	    o->transport != PLUGIN_HOST_IPC) {
		util_errorf(err, errlen, "unknown transport %d",
			    (int)o->transport);
		return -1;
	}
	if (o->instance == NULL || strlen(o->instance) < 1 ||
	    strlen(o->instance) > PLUGIN_HOST_INSTANCE_MAX ||
	    strspn(o->instance, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
				"RSTUVWXYZ0123456789_.-") != strlen(o->instance)) {
		util_errorf(err, errlen,
			    "instance must match [A-Za-z0-9_.-]{1,64}");
		return -1;
	}
	host->plugin_dir = strdup(o->plugin_dir);
	host->data_root = strdup(o->data_root);
	host->node_id = strdup(o->node_id);
	host->instance = strdup(o->instance);
	host->ipc_dir = strdup(o->ipc_dir ? o->ipc_dir : o->data_root);
	host->runner = o->runner ? strdup(o->runner) : NULL;
	if (!host->plugin_dir || !host->data_root || !host->node_id ||
	    !host->instance || !host->ipc_dir || (o->runner && !host->runner)) {
		util_errorf(err, errlen, "out of memory");
		return -1;
	}
	host->transport = o->transport;
	host->restart_min_ms = o->restart_min_ms > 0 ? o->restart_min_ms : 500;
	host->restart_max_ms = o->restart_max_ms > 0 ? o->restart_max_ms
						     : 30000;
	if (host->restart_max_ms < host->restart_min_ms)
		host->restart_max_ms = host->restart_min_ms;
	host->ping_timeout_ms = o->ping_timeout_ms > 0 ? o->ping_timeout_ms
						       : 2000;
	host->start_timeout_ms = o->start_timeout_ms > 0 ? o->start_timeout_ms
							 : 30000;
	host->plugin_config = o->plugin_config;
	host->plugin_transport = o->plugin_transport;
	host->on_event = o->on_event;
	host->on_refused = o->on_refused;
	host->log = o->log ? o->log : default_log;
	host->ctx = o->ctx;
	return 0;
}

/* Loads every plugin file of the directory, in name order. */
static int load_all(struct plugin_host *host, char *err, size_t errlen)
{
	char **names, *path;
	size_t n, i;
	int rc = 0;

	if (list_plugin_files(host->plugin_dir, &names, &n, err, errlen))
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		if (asprintf(&path, "%s/%s", host->plugin_dir, names[i]) < 0) {
			util_errorf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		rc = plugin_load(host, path, err, errlen);
		free(path);
	}
	free_names(names, n);
	return rc;
}

static bool any_child(const struct plugin_host *host)
{
	size_t i;

	for (i = 0; i < host->n_plugins; i++)
		if (host->plugins[i]->transport == PLUGIN_HOST_IPC)
			return true;
	return false;
}

int plugin_host_open(const struct plugin_host_options *options,
		     struct plugin_host **out, char *err, size_t errlen)
{
	struct plugin_host *host;

	*out = NULL;
	host = calloc(1, sizeof(*host));
	if (host == NULL) {
		util_errorf(err, errlen, "out of memory");
		return -1;
	}
	host->wake[0] = host->wake[1] = -1;
	pthread_mutex_init(&host->wake_lock, NULL);
	if (copy_options(host, options, err, errlen) ||
	    util_mkdir_p(host->ipc_dir, 0700, err, errlen) ||
	    events_start(host, err, errlen) || load_all(host, err, errlen) ||
	    (any_child(host) && supervisor_start(host, err, errlen))) {
		plugin_host_close(host);
		return -1;
	}
	*out = host;
	return 0;
}

/* Stops every plugin: in-process ones in reverse load order, children all
 * at once (stdin closed), each then given until one deadline to exit. */
static void stop_plugins(struct plugin_host *host)
{
	int64_t deadline = host_now_ns() + PLUGIN_HOST_STOP_GRACE_NS;
	size_t i;

	for (i = host->n_plugins; i > 0; i--) {
		struct plugin_host_plugin *p = host->plugins[i - 1];

		if (p->transport == PLUGIN_HOST_INPROC) {
			inproc_stop(p);
		} else {
			client_close(p);
			child_stop(p);
		}
	}
	for (i = host->n_plugins; i > 0; i--) {
		struct plugin_host_plugin *p = host->plugins[i - 1];
		pid_t pid = p->pid;
		int status = child_reap(p, deadline);

		if (pid > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			char how[64];

			child_status_text(status, how, sizeof(how));
			host->log(ORCH_LOG_WARN, p->name,
				  "plugin process %d did not stop cleanly (%s)",
				  (int)pid, how);
		}
		inproc_unload(p);
		host_plugin_free(p);
	}
}

void plugin_host_close(struct plugin_host *host)
{
	size_t i;

	if (host == NULL)
		return;
	supervisor_stop(host);
	stop_plugins(host);
	free(host->plugins);
	events_stop(host);
	for (i = 0; i < host->n_refused; i++) {
		free(host->refused[i].file);
		free(host->refused[i].reason);
	}
	pthread_mutex_destroy(&host->wake_lock);
	free(host->refused);
	free(host->plugin_dir);
	free(host->data_root);
	free(host->node_id);
	free(host->instance);
	free(host->ipc_dir);
	free(host->runner);
	free(host->event_url);
	free(host->event_ipc_url);
	free(host);
}

size_t plugin_host_count(const struct plugin_host *host)
{
	return host->n_plugins;
}

struct plugin_host_plugin *plugin_host_get(struct plugin_host *host,
					   size_t index)
{
	return index < host->n_plugins ? host->plugins[index] : NULL;
}

size_t plugin_host_count_kind(const struct plugin_host *host,
			      enum orch_plugin_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < host->n_plugins; i++)
		if (host->plugins[i]->kind == kind)
			n++;
	return n;
}

struct plugin_host_plugin *plugin_host_find(struct plugin_host *host,
					    enum orch_plugin_kind kind,
					    const char *name)
{
	struct plugin_host_plugin *p = find_name(host, name);

	return p != NULL && p->kind == kind ? p : NULL;
}

void plugin_host_info(const struct plugin_host_plugin *plugin,
		      struct plugin_host_info *info)
{
	struct plugin_host_plugin *p = (struct plugin_host_plugin *)plugin;

	info->file = p->file;
	info->name = p->name;
	info->kind = p->kind;
	info->version = p->version;
	info->request_url = p->request_url;
	info->transport = p->transport;
	pthread_mutex_lock(&p->lock);
	info->pid = (int)p->pid_running;
	pthread_mutex_unlock(&p->lock);
}

size_t plugin_host_refused_count(const struct plugin_host *host)
{
	return host->n_refused;
}

void plugin_host_refused(const struct plugin_host *host, size_t index,
			 const char **file, const char **reason)
{
	*file = index < host->n_refused ? host->refused[index].file : NULL;
	*reason = index < host->n_refused ? host->refused[index].reason : NULL;
}

const char *plugin_host_event_url(const struct plugin_host *host)
{
	return host->event_url;
}

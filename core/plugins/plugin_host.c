/*
 * plugin_host.c: orchd's plugin host (plugin_host.h). Loads the plugin
 * shared objects of a directory, starts them, and talks to them over nng.
 *
 * State owned here: the host's copy of its options, the PULL socket every
 * plugin pushes events to and the receiver thread reading it, and for each
 * loaded plugin its dlopen handle, descriptor, init state, the orch_host it
 * was given (valid until fini), its URLs and its request client. Refused
 * files are kept as (file, reason) pairs.
 *
 * Load order is the byte order of the file names, so the same directory
 * always loads the same way; a refusal never stops the others.
 */
#include "plugin_host.h"
#include "fsutil.h"

#include "orch_protocol.h"
#include "orch_sdk.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#define PLUGIN_HOST_NAME_MAX 32
#define PLUGIN_HOST_INSTANCE_MAX 64
#define PLUGIN_HOST_REASON_MAX 512

struct plugin_host_plugin {
	struct plugin_host *host;
	char *file;
	char *name;
	char *version;
	char *request_url;
	char *data_dir;
	char *config;
	enum orch_plugin_kind kind;
	void *handle;
	const struct orch_plugin *desc;
	void *state;
	struct orch_host orch_host; /* handed to init, valid until fini */
	struct orch_sdk_client *client;
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
	char *event_url;
	enum plugin_host_transport transport;
	const char *(*plugin_config)(void *ctx, const char *plugin_name);
	void (*on_event)(void *ctx, json_t *event);
	void (*on_refused)(void *ctx, const char *file, const char *reason);
	void (*log)(enum orch_log_level level, const char *plugin_name,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
	void *ctx;

	nng_socket events;
	bool events_open;
	nng_aio *receive; /* the receiver's aio; stopped to end it */
	pthread_t receiver;
	bool receiver_started;

	struct plugin_host_plugin **plugins;
	size_t n_plugins;
	size_t cap_plugins;
	struct plugin_host_refusal *refused;
	size_t n_refused;
	size_t cap_refused;
};

static void host_errorf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void host_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* strdup that passes NULL through; callers check for NULL. */
static char *dup_or_null(const char *s)
{
	return s == NULL ? NULL : strdup(s);
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

static const char *level_name(enum orch_log_level level)
{
	switch (level) {
	case ORCH_LOG_ERROR:
		return "error";
	case ORCH_LOG_WARN:
		return "warn";
	case ORCH_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* The default log: one line on stderr. */
static void stderr_log(enum orch_log_level level, const char *plugin_name,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void stderr_log(enum orch_log_level level, const char *plugin_name,
		       const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "orchd: %s: plugin %s: %s\n", level_name(level),
		plugin_name, line);
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

/* Records file as refused for reason and tells on_refused. Returns -1 so
 * that loaders can `return refuse(...)`. */
static int refuse(struct plugin_host *host, const char *file,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse(struct plugin_host *host, const char *file,
		  const char *fmt, ...)
{
	char reason[PLUGIN_HOST_REASON_MAX];
	struct plugin_host_refusal *r;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (host->on_refused != NULL)
		host->on_refused(host->ctx, file, reason);
	if (vec_reserve((void **)&host->refused, host->n_refused,
			&host->cap_refused, sizeof(*host->refused)) != 0)
		return -1;
	r = &host->refused[host->n_refused];
	r->file = strdup(file);
	r->reason = strdup(reason);
	if (r->file == NULL || r->reason == NULL) {
		free(r->file);
		free(r->reason);
		return -1;
	}
	host->n_refused++;
	return -1;
}

/* ------------------------------------------------------------ validation */

static bool name_valid(const char *name)
{
	size_t i, len;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len < 1 || len > PLUGIN_HOST_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool instance_valid(const char *instance)
{
	size_t i, len;

	if (instance == NULL)
		return false;
	len = strlen(instance);
	if (len < 1 || len > PLUGIN_HOST_INSTANCE_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = instance[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return false;
	}
	return true;
}

static bool kind_valid(uint32_t kind)
{
	return kind >= ORCH_PLUGIN_SCHEDULER && kind <= ORCH_PLUGIN_DISCOVERY;
}

/* ------------------------------------------------------------------ URLs */

/* Writes the URL of endpoint ("events" or "plugin-<name>") into url. */
static int make_url(const struct plugin_host *host, const char *endpoint,
		    char *url, size_t size, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int n;

	if (host->transport == PLUGIN_HOST_INPROC) {
		n = snprintf(url, size, "inproc://orchd-%s-%s", host->instance,
			     endpoint);
		if (n < 0 || (size_t)n >= size) {
			host_errorf(err, errlen, "URL too long");
			return -1;
		}
		return 0;
	}
	n = snprintf(url, size, "ipc://%s/orchd-%s-%s.sock", host->ipc_dir,
		     host->instance, endpoint);
	if (n < 0 || (size_t)n >= size ||
	    strlen(url) - strlen("ipc://") >= sizeof(sun.sun_path)) {
		host_errorf(err, errlen,
			    "ipc socket path for %s too long (max %zu bytes)",
			    endpoint, sizeof(sun.sun_path) - 1);
		return -1;
	}
	return 0;
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
		host_errorf(err, errlen, "cannot read plugin directory %s: %s",
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
			host_errorf(err, errlen, "out of memory");
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

static void plugin_free(struct plugin_host_plugin *p)
{
	if (p == NULL)
		return;
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

/* Checks the descriptor; returns NULL or the reason it is refused. */
static const char *descriptor_problem(struct plugin_host *host,
				      const struct orch_plugin *desc,
				      char *why, size_t size)
{
	struct plugin_host_plugin *other;

	if (desc == NULL)
		return "orch_plugin_entry() returned NULL";
	if (desc->abi_version == 0 ||
	    desc->abi_version > ORCH_PLUGIN_ABI_VERSION) {
		snprintf(why, size, "built for ABI %u, orchd speaks %u",
			 (unsigned)desc->abi_version, ORCH_PLUGIN_ABI_VERSION);
		return why;
	}
	if (!kind_valid(desc->kind)) {
		snprintf(why, size, "unknown plugin kind %u",
			 (unsigned)desc->kind);
		return why;
	}
	if (!name_valid(desc->name)) {
		snprintf(why, size,
			 "invalid plugin name \"%.40s\" (want [a-z0-9_-]{1,32})",
			 desc->name == NULL ? "(null)" : desc->name);
		return why;
	}
	if (desc->init == NULL || desc->fini == NULL)
		return "descriptor has no init or no fini function";
	other = find_name(host, desc->name);
	if (other != NULL) {
		snprintf(why, size,
			 "duplicate plugin name \"%s\" (already loaded from "
			 "%.200s)",
			 desc->name, other->file);
		return why;
	}
	return NULL;
}

/* Fills p's URLs, data dir and config from the host's options. */
static int plugin_prepare(struct plugin_host *host,
			  struct plugin_host_plugin *p, char *err,
			  size_t errlen)
{
	char url[512], endpoint[64], dir[4096];
	const char *config = NULL;
	json_error_t jerr;
	json_t *parsed;

	snprintf(endpoint, sizeof(endpoint), "plugin-%s", p->name);
	if (make_url(host, endpoint, url, sizeof(url), err, errlen))
		return -1;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/plugins/%s",
			     host->data_root, p->name) >= sizeof(dir)) {
		host_errorf(err, errlen, "data directory path too long");
		return -1;
	}
	if (util_mkdir_p(dir, 0700, err, errlen))
		return -1;
	if (host->plugin_config != NULL)
		config = host->plugin_config(host->ctx, p->name);
	if (config == NULL)
		config = "{}";
	parsed = json_loads(config, 0, &jerr);
	if (!json_is_object(parsed)) {
		json_decref(parsed);
		host_errorf(err, errlen, "its configuration is not a JSON "
					 "object");
		return -1;
	}
	json_decref(parsed);
	p->request_url = strdup(url);
	p->data_dir = strdup(dir);
	p->config = strdup(config);
	if (!p->request_url || !p->data_dir || !p->config) {
		host_errorf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Calls the plugin's init and connects to it. */
static int plugin_start(struct plugin_host *host,
			struct plugin_host_plugin *p, char *err,
			size_t errlen)
{
	char why[PLUGIN_HOST_REASON_MAX] = "";

	p->orch_host = (struct orch_host){
		.version = ORCH_PLUGIN_ABI_VERSION,
		.plugin_name = p->name,
		.request_url = p->request_url,
		.event_url = host->event_url,
		.node_id = host->node_id,
		.data_dir = p->data_dir,
		.config_json = p->config,
		.log = host->log,
	};
	if (p->desc->init(&p->orch_host, &p->state, why, sizeof(why)) != 0) {
		host_errorf(err, errlen, "init failed: %s",
			    why[0] ? why : "(no reason given)");
		return -1;
	}
	if (orch_sdk_client_open(p->request_url, &p->client, why,
				 sizeof(why)) != 0) {
		p->desc->fini(p->state);
		host_errorf(err, errlen, "init succeeded but %s", why);
		return -1;
	}
	return 0;
}

/* Loads one file; on refusal records why and returns -1. */
static int plugin_load(struct plugin_host *host, const char *path)
{
	char why[PLUGIN_HOST_REASON_MAX];
	const struct orch_plugin *(*entry)(void);
	struct plugin_host_plugin *p;
	const char *problem;
	void *handle;

	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL)
		return refuse(host, path, "cannot load: %s", dlerror());
	*(void **)&entry = dlsym(handle, ORCH_PLUGIN_ENTRY_SYMBOL);
	if (entry == NULL) {
		dlclose(handle);
		return refuse(host, path, "no symbol %s (not an orchd plugin)",
			      ORCH_PLUGIN_ENTRY_SYMBOL);
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		dlclose(handle);
		return refuse(host, path, "out of memory");
	}
	p->host = host;
	p->handle = handle;
	p->desc = entry();
	problem = descriptor_problem(host, p->desc, why, sizeof(why));
	if (problem != NULL) {
		refuse(host, path, "%s", problem);
		goto fail;
	}
	p->kind = (enum orch_plugin_kind)p->desc->kind;
	p->file = strdup(path);
	p->name = strdup(p->desc->name);
	p->version = strdup(p->desc->version ? p->desc->version : "");
	if (!p->file || !p->name || !p->version) {
		refuse(host, path, "out of memory");
		goto fail;
	}
	if (plugin_prepare(host, p, why, sizeof(why)) ||
	    plugin_start(host, p, why, sizeof(why))) {
		refuse(host, path, "%s", why);
		goto fail;
	}
	if (vec_reserve((void **)&host->plugins, host->n_plugins,
			&host->cap_plugins, sizeof(*host->plugins))) {
		orch_sdk_client_close(p->client);
		p->desc->fini(p->state);
		refuse(host, path, "out of memory");
		goto fail;
	}
	host->plugins[host->n_plugins++] = p;
	return 0;
fail:
	dlclose(handle);
	plugin_free(p);
	return -1;
}

static void plugin_unload(struct plugin_host_plugin *p)
{
	orch_sdk_client_close(p->client);
	p->desc->fini(p->state);
	dlclose(p->handle);
	plugin_free(p);
}

/* ---------------------------------------------------------------- events */

/* Decodes one event; NULL (and a log line) when it breaks the protocol. */
static json_t *event_decode(struct plugin_host *host, nng_msg *msg)
{
	json_error_t jerr;
	json_t *event, *v;

	event = json_loadb(nng_msg_body(msg), nng_msg_len(msg), 0, &jerr);
	if (!json_is_object(event)) {
		host->log(ORCH_LOG_WARN, "(unknown)",
			  "dropping an event that is not a JSON object");
		json_decref(event);
		return NULL;
	}
	v = json_object_get(event, "v");
	if (!json_is_integer(v) ||
	    json_integer_value(v) != ORCH_PROTOCOL_VERSION ||
	    !json_is_string(json_object_get(event, "op"))) {
		host->log(ORCH_LOG_WARN, "(unknown)",
			  "dropping an event without \"v\":%d and a string "
			  "\"op\"",
			  ORCH_PROTOCOL_VERSION);
		json_decref(event);
		return NULL;
	}
	return event;
}

/* The receiver thread: one event at a time until its aio is stopped. */
static void *receiver_main(void *arg)
{
	struct plugin_host *host = arg;
	json_t *event;
	nng_msg *msg;
	int rv;

	for (;;) {
		nng_recv_aio(host->events, host->receive);
		nng_aio_wait(host->receive);
		rv = nng_aio_result(host->receive);
		if (rv == NNG_ECANCELED || rv == NNG_ECLOSED)
			break; /* plugin_host_close */
		if (rv != 0)
			continue;
		msg = nng_aio_get_msg(host->receive);
		event = event_decode(host, msg);
		nng_msg_free(msg);
		if (event == NULL)
			continue;
		if (host->on_event != NULL)
			host->on_event(host->ctx, event);
		else
			json_decref(event);
	}
	return NULL;
}

static int events_start(struct plugin_host *host, char *err, size_t errlen)
{
	char url[512];
	int rv;

	if (make_url(host, "events", url, sizeof(url), err, errlen))
		return -1;
	host->event_url = strdup(url);
	if (host->event_url == NULL) {
		host_errorf(err, errlen, "out of memory");
		return -1;
	}
	rv = nng_pull0_open(&host->events);
	if (rv != 0) {
		host_errorf(err, errlen, "cannot open the event socket: %s",
			    nng_strerror(rv));
		return -1;
	}
	host->events_open = true;
	rv = nng_socket_set_size(host->events, NNG_OPT_RECVMAXSZ, 0);
	if (rv == 0)
		rv = nng_listen(host->events, url, NULL, 0);
	if (rv != 0) {
		host_errorf(err, errlen, "cannot listen on %s: %s", url,
			    nng_strerror(rv));
		return -1;
	}
	rv = nng_aio_alloc(&host->receive, NULL, NULL);
	if (rv != 0) {
		host_errorf(err, errlen, "cannot set up the event receiver: %s",
			    nng_strerror(rv));
		return -1;
	}
	rv = pthread_create(&host->receiver, NULL, receiver_main, host);
	if (rv != 0) {
		host_errorf(err, errlen, "cannot start the event receiver: %s",
			    strerror(rv));
		return -1;
	}
	host->receiver_started = true;
	return 0;
}

/* ------------------------------------------------------------------- API */

static int copy_options(struct plugin_host *host,
			const struct plugin_host_options *o, char *err,
			size_t errlen)
{
	if (o->plugin_dir == NULL || o->data_root == NULL ||
	    o->node_id == NULL) {
		host_errorf(err, errlen,
			    "plugin_dir, data_root and node_id are required");
		return -1;
	}
	if (o->transport != PLUGIN_HOST_INPROC &&
	    o->transport != PLUGIN_HOST_IPC) {
		host_errorf(err, errlen, "unknown transport %d",
			    (int)o->transport);
		return -1;
	}
	if (!instance_valid(o->instance)) {
		host_errorf(err, errlen,
			    "instance must match [A-Za-z0-9_.-]{1,64}");
		return -1;
	}
	host->plugin_dir = strdup(o->plugin_dir);
	host->data_root = strdup(o->data_root);
	host->node_id = strdup(o->node_id);
	host->instance = strdup(o->instance);
	host->ipc_dir = dup_or_null(o->ipc_dir ? o->ipc_dir : o->data_root);
	if (!host->plugin_dir || !host->data_root || !host->node_id ||
	    !host->instance || !host->ipc_dir) {
		host_errorf(err, errlen, "out of memory");
		return -1;
	}
	host->transport = o->transport;
	host->plugin_config = o->plugin_config;
	host->on_event = o->on_event;
	host->on_refused = o->on_refused;
	host->log = o->log ? o->log : stderr_log;
	host->ctx = o->ctx;
	return 0;
}

/* Loads every plugin file of the directory, in name order. */
static int load_all(struct plugin_host *host, char *err, size_t errlen)
{
	char **names, *path;
	size_t n, i;

	if (list_plugin_files(host->plugin_dir, &names, &n, err, errlen))
		return -1;
	for (i = 0; i < n; i++) {
		if (asprintf(&path, "%s/%s", host->plugin_dir, names[i]) < 0) {
			free_names(names, n);
			host_errorf(err, errlen, "out of memory");
			return -1;
		}
		plugin_load(host, path); /* a refusal is recorded, not fatal */
		free(path);
	}
	free_names(names, n);
	return 0;
}

int plugin_host_open(const struct plugin_host_options *options,
		     struct plugin_host **out, char *err, size_t errlen)
{
	struct plugin_host *host;

	*out = NULL;
	host = calloc(1, sizeof(*host));
	if (host == NULL) {
		host_errorf(err, errlen, "out of memory");
		return -1;
	}
	if (copy_options(host, options, err, errlen) ||
	    (host->transport == PLUGIN_HOST_IPC &&
	     util_mkdir_p(host->ipc_dir, 0700, err, errlen)) ||
	    events_start(host, err, errlen) || load_all(host, err, errlen)) {
		plugin_host_close(host);
		return -1;
	}
	*out = host;
	return 0;
}

void plugin_host_close(struct plugin_host *host)
{
	size_t i;

	if (host == NULL)
		return;
	for (i = host->n_plugins; i > 0; i--)
		plugin_unload(host->plugins[i - 1]);
	free(host->plugins);
	/* Stop the receiver before closing its socket: nng 1.5 can leave a
	 * receive hanging when the socket closes while it is starting. */
	if (host->receive != NULL)
		nng_aio_stop(host->receive);
	if (host->receiver_started)
		pthread_join(host->receiver, NULL);
	if (host->receive != NULL)
		nng_aio_free(host->receive);
	if (host->events_open)
		nng_close(host->events);
	for (i = 0; i < host->n_refused; i++) {
		free(host->refused[i].file);
		free(host->refused[i].reason);
	}
	free(host->refused);
	free(host->plugin_dir);
	free(host->data_root);
	free(host->node_id);
	free(host->instance);
	free(host->ipc_dir);
	free(host->event_url);
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
	info->file = plugin->file;
	info->name = plugin->name;
	info->kind = plugin->kind;
	info->version = plugin->version;
	info->request_url = plugin->request_url;
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

int plugin_host_call(struct plugin_host_plugin *plugin, json_t *request,
		     int timeout_ms, json_t **reply, char *err, size_t errlen)
{
	char why[PLUGIN_HOST_REASON_MAX];

	if (orch_sdk_client_call(plugin->client, request, timeout_ms, reply,
				 why, sizeof(why)) != 0) {
		host_errorf(err, errlen, "plugin %s: %s", plugin->name, why);
		return -1;
	}
	return 0;
}

const char *plugin_host_event_url(const struct plugin_host *host)
{
	return host->event_url;
}

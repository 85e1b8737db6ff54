/*
 * test_plugin_host.c: cmocka tests of core/plugin_host.c against a plugin
 * directory the test's CMake fills with good and broken shared objects
 * (PLUGIN_TEST_DIR): every broken one must be refused with its file and
 * reason, the good ones loaded, callable and able to push events; in
 * process and in child processes (orchd-plugin, PLUGIN_RUNNER), with two
 * hosts in one process; plugins given options they declare, and refused
 * (the host does not open) with one they do not; one plugin moved to the
 * other transport by name.
 *
 * State: each test makes its own data root (mkdtemp, removed at the end)
 * and host; events arrive on the host's receiver thread into `inbox`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugin_host.h"
#include "test_common.h"

#if !defined(PLUGIN_TEST_DIR) || !defined(PLUGIN_OPTIONS_DIR) || \
	!defined(PLUGIN_RUNNER)
#error "PLUGIN_TEST_DIR, PLUGIN_OPTIONS_DIR and PLUGIN_RUNNER must be set"
#endif

/* Guard against a hang only; a passing test never waits for it. */
#define TEST_GUARD_S 10
#define TEST_CALL_MS 10000

/* ------------------------------------------------------ events, refusals */

struct inbox {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	json_t *events; /* array */
	json_t *refused; /* array of [file, reason] */
};

static void inbox_init(struct inbox *in)
{
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	in->events = json_array();
	in->refused = json_array();
}

static void inbox_fini(struct inbox *in)
{
	json_decref(in->events);
	json_decref(in->refused);
	pthread_cond_destroy(&in->cond);
	pthread_mutex_destroy(&in->lock);
}

static void on_event(void *ctx, json_t *event)
{
	struct inbox *in = ctx;

	pthread_mutex_lock(&in->lock);
	json_array_append_new(in->events, event);
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
}

static void on_refused(void *ctx, const char *file, const char *reason)
{
	struct inbox *in = ctx;

	json_array_append_new(in->refused, json_pack("[s,s]", file, reason));
}

/* Waits for the n-th event (0-based) and returns it (borrowed). */
static json_t *inbox_wait(struct inbox *in, size_t n)
{
	struct timespec deadline;
	json_t *event = NULL;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += TEST_GUARD_S;
	pthread_mutex_lock(&in->lock);
	while (json_array_size(in->events) <= n &&
	       pthread_cond_timedwait(&in->cond, &in->lock, &deadline) == 0)
		;
	event = json_array_get(in->events, n);
	pthread_mutex_unlock(&in->lock);
	assert_non_null(event);
	return event;
}

/* The options each plugin gets: {name, JSON} pairs, beta's greeting
 * unless a test says otherwise. */
static const char *const default_options[][2] = {
	{"beta", "{\"greeting\":\"hi\"}"}, {NULL, NULL}};
static const char *const (*test_options)[2] = default_options;

static const char *config_of(void *ctx, const char *name)
{
	size_t i;

	(void)ctx;
	for (i = 0; test_options[i][0] != NULL; i++)
		if (strcmp(test_options[i][0], name) == 0)
			return test_options[i][1];
	return NULL;
}

/* Moves "beta" to the other transport when set. */
static int beta_transport = -1;

static int transport_of(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "beta") == 0 ? beta_transport : -1;
}

static int logged;

static void test_log(enum orch_log_level level, const char *plugin_name,
		     const char *fmt, ...)
{
	(void)level;
	(void)fmt;
	if (strcmp(plugin_name, "alpha") == 0 ||
	    strcmp(plugin_name, "beta") == 0)
		__atomic_add_fetch(&logged, 1, __ATOMIC_SEQ_CST);
}

/* ------------------------------------------------------------ temp dirs */

static void make_root(char *root)
{
	assert_int_equal(test_tmpdir_make(root, 64, "host-test"), 0);
}

static void remove_root(const char *root)
{
	assert_int_equal(test_tmpdir_remove(root), 0);
}

/* ------------------------------------------------------------- helpers */

static void host_options(struct plugin_host_options *o, const char *dir,
			 const char *instance,
			 enum plugin_host_transport transport, const char *root,
			 struct inbox *in)
{
	*o = (struct plugin_host_options){
		.plugin_dir = dir,
		.data_root = root,
		.node_id = "node-a",
		.instance = instance,
		.transport = transport,
		.plugin_transport = transport_of,
		.runner = PLUGIN_RUNNER,
		.plugin_config = config_of,
		.on_event = on_event,
		.on_refused = on_refused,
		.log = test_log,
		.ctx = in,
	};
}

static struct plugin_host *open_host(const char *instance,
				     enum plugin_host_transport transport,
				     const char *root, struct inbox *in)
{
	struct plugin_host_options o;
	struct plugin_host *host = NULL;
	char err[512] = "";

	host_options(&o, PLUGIN_TEST_DIR, instance, transport, root, in);
	if (plugin_host_open(&o, &host, err, sizeof(err)) != 0)
		fail_msg("plugin_host_open: %s", err);
	return host;
}

static json_t *call(struct plugin_host_plugin *p, json_t *request)
{
	char err[512] = "";
	json_t *reply = NULL;

	if (plugin_host_call(p, request, TEST_CALL_MS, &reply, err,
			     sizeof(err)) != 0)
		fail_msg("call: %s", err);
	return reply;
}


/* The refusals expected from PLUGIN_TEST_DIR, in file-name order. */
static const struct {
	const char *file;
	const char *reason; /* a prefix of the reason */
} expected_refusals[] = {
	{"abi99.so", "built for ABI 99, orchd speaks 2"},
	{"bad.so", "cannot load: "},
	{"badkind.so", "unknown plugin kind 9"},
	{"badname.so", "invalid plugin name \"Bad Name\""},
	{"dup.so", "duplicate plugin name \"alpha\" (already loaded from "},
	{"initfail.so", "init failed: cannot open the door"},
	{"nosym.so", "no symbol orch_plugin_entry (not an orchd plugin)"},
};
#define N_REFUSALS (sizeof(expected_refusals) / sizeof(expected_refusals[0]))

static void check_refusals(struct plugin_host *host, struct inbox *in)
{
	const char *file, *reason, *base;
	size_t i;

	assert_int_equal(plugin_host_refused_count(host), N_REFUSALS);
	assert_int_equal(json_array_size(in->refused), N_REFUSALS);
	for (i = 0; i < N_REFUSALS; i++) {
		plugin_host_refused(host, i, &file, &reason);
		base = strrchr(file, '/') + 1;
		assert_string_equal(base, expected_refusals[i].file);
		if (strncmp(reason, expected_refusals[i].reason,
			    strlen(expected_refusals[i].reason)) != 0)
			fail_msg("%s: reason \"%s\", want \"%s...\"", base,
				 reason, expected_refusals[i].reason);
		/* The callback saw the same. */
		assert_string_equal(json_string_value(json_array_get(
					    json_array_get(in->refused, i), 0)),
				    file);
		assert_string_equal(json_string_value(json_array_get(
					    json_array_get(in->refused, i), 1)),
				    reason);
	}
	plugin_host_refused(host, N_REFUSALS, &file, &reason);
	assert_null(file);
}

static void check_loaded(struct plugin_host *host, const char *url_prefix,
			 enum plugin_host_transport transport)
{
	struct plugin_host_info info;
	char want[512];
	json_t *reply;

	assert_int_equal(plugin_host_count(host), 2);
	plugin_host_info(plugin_host_get(host, 0), &info);
	assert_string_equal(info.name, "alpha");
	assert_int_equal(info.kind, ORCH_PLUGIN_SCHEDULER);
	assert_string_equal(info.version, "test-1");
	assert_string_equal(strrchr(info.file, '/'), "/alpha.so");
	snprintf(want, sizeof(want), "%splugin-alpha", url_prefix);
	assert_true(strncmp(info.request_url, want, strlen(want)) == 0);
	assert_int_equal(info.transport, transport);
	/* In its own process under ipc, in ours in-process. */
	reply = call(plugin_host_get(host, 0), json_pack("{s:s}", "op", "info"));
	assert_int_equal(json_integer_value(json_object_get(reply, "pid")),
			 transport == PLUGIN_HOST_IPC ? info.pid : getpid());
	assert_true(transport == PLUGIN_HOST_IPC ? info.pid > 0
						 : info.pid == 0);
	assert_int_not_equal(info.pid, getpid());
	json_decref(reply);
	plugin_host_info(plugin_host_get(host, 1), &info);
	assert_string_equal(info.name, "beta");
	assert_int_equal(info.kind, ORCH_PLUGIN_RUNTIME);
	assert_null(plugin_host_get(host, 2));

	assert_int_equal(plugin_host_count_kind(host, ORCH_PLUGIN_SCHEDULER),
			 1);
	assert_int_equal(plugin_host_count_kind(host, ORCH_PLUGIN_RUNTIME), 1);
	assert_int_equal(plugin_host_count_kind(host, ORCH_PLUGIN_HEALTH), 0);
	assert_non_null(plugin_host_find(host, ORCH_PLUGIN_SCHEDULER, "alpha"));
	assert_null(plugin_host_find(host, ORCH_PLUGIN_RUNTIME, "alpha"));
	assert_null(plugin_host_find(host, ORCH_PLUGIN_RUNTIME, "dup"));
}

/* Calls both plugins and checks what they were given at init. */
static void check_calls(struct plugin_host *host, const char *root)
{
	struct plugin_host_plugin *alpha, *beta;
	char want_dir[512];
	json_t *reply;

	alpha = plugin_host_find(host, ORCH_PLUGIN_SCHEDULER, "alpha");
	beta = plugin_host_find(host, ORCH_PLUGIN_RUNTIME, "beta");
	reply = call(alpha, json_pack("{s:s}", "op", "info"));
	assert_string_equal(test_json_str(reply, "plugin_name"), "alpha");
	assert_string_equal(test_json_str(reply, "node_id"), "node-a");
	assert_int_equal(json_integer_value(
				 json_object_get(reply, "host_version")),
			 ORCH_PLUGIN_ABI_VERSION);
	assert_int_equal(json_object_size(json_object_get(reply, "config")),
			 0);
	json_decref(reply);

	reply = call(beta, json_pack("{s:s}", "op", "info"));
	snprintf(want_dir, sizeof(want_dir), "%s/plugins/beta", root);
	assert_string_equal(test_json_str(reply, "data_dir"), want_dir);
	assert_true(json_is_true(json_object_get(reply, "data_dir_exists")));
	assert_string_equal(
		test_json_str(json_object_get(reply, "config"), "greeting"),
		"hi");
	json_decref(reply);

	reply = call(beta, json_pack("{s:s}", "op", "nonsense"));
	assert_string_equal(test_json_str(reply, "error"),
			    "unknown op nonsense");
	json_decref(reply);
}

/* beta pushes an event; the host's on_event gets it. */
static void check_events(struct plugin_host *host, struct inbox *in)
{
	struct plugin_host_plugin *beta;
	json_t *reply, *event, *status;

	beta = plugin_host_find(host, ORCH_PLUGIN_RUNTIME, "beta");
	reply = call(beta, json_pack("{s:s, s:s}", "op", "emit", "task_id",
				     "task-9"));
	assert_null(json_object_get(reply, "error"));
	json_decref(reply);
	event = inbox_wait(in, 0);
	assert_string_equal(test_json_str(event, "op"), "task_status");
	assert_string_equal(test_json_str(event, "plugin"), "beta");
	status = json_array_get(json_object_get(event, "statuses"), 0);
	assert_string_equal(test_json_str(status, "task_id"), "task-9");
	assert_string_equal(test_json_str(status, "state"), "running");
}

static void host_round(enum plugin_host_transport transport,
		       const char *instance, const char *url_prefix_fmt)
{
	char root[64], url_prefix[256];
	struct plugin_host_info info;
	struct plugin_host *host;
	struct inbox in;

	make_root(root);
	inbox_init(&in);
	logged = 0;
	host = open_host(instance, transport, root, &in);
	snprintf(url_prefix, sizeof(url_prefix), url_prefix_fmt, root,
		 instance);
	check_refusals(host, &in);
	check_loaded(host, url_prefix, transport);
	check_calls(host, root);
	check_events(host, &in);
	assert_int_equal(logged, 2); /* alpha's and beta's "serving" lines */
	assert_string_equal(plugin_host_event_url(host) + strlen(url_prefix),
			    transport == PLUGIN_HOST_IPC ? "events.sock"
							 : "events");
	plugin_host_info(plugin_host_get(host, 0), &info);
	plugin_host_close(host);
	/* Its child was stopped and reaped: the pid is gone. */
	if (transport == PLUGIN_HOST_IPC)
		assert_true(kill(info.pid, 0) == -1 && errno == ESRCH);
	inbox_fini(&in);
	remove_root(root);
}

/* ----------------------------------------------------------------- tests */

/* One host round a transport: the instance and the URL prefix it gives. */
struct round_case {
	enum plugin_host_transport transport;
	const char *instance;
	const char *url_prefix_fmt;
};
static const struct round_case inproc_round = {
	PLUGIN_HOST_INPROC, "t-inproc", "inproc://orchd-%.0s%s-"};
static const struct round_case ipc_round = {PLUGIN_HOST_IPC, "t-ipc",
					    "ipc://%s/orchd-%s-"};

static void test_round(void **state)
{
	const struct round_case *c = *state;

	host_round(c->transport, c->instance, c->url_prefix_fmt);
}

/* Two hosts live at once in one process: distinct instances, no clash;
 * the same instance twice is refused. */
static void test_two_hosts(void **state)
{
	struct plugin_host *one, *two, *again = NULL;
	struct plugin_host_options o;
	char root1[64], root2[64], err[512] = "";
	struct inbox in1, in2;
	json_t *reply;

	(void)state;
	make_root(root1);
	make_root(root2);
	inbox_init(&in1);
	inbox_init(&in2);
	one = open_host("one", PLUGIN_HOST_INPROC, root1, &in1);
	two = open_host("two", PLUGIN_HOST_INPROC, root2, &in2);
	assert_int_equal(plugin_host_count(one), 2);
	assert_int_equal(plugin_host_count(two), 2);
	reply = call(plugin_host_find(two, ORCH_PLUGIN_SCHEDULER, "alpha"),
		     json_pack("{s:s}", "op", "info"));
	assert_string_equal(test_json_str(reply, "plugin_name"), "alpha");
	json_decref(reply);
	/* Events of host two's beta go to host two only. */
	check_events(two, &in2);
	assert_int_equal(json_array_size(in1.events), 0);

	o = (struct plugin_host_options){.plugin_dir = PLUGIN_TEST_DIR,
					 .data_root = root1,
					 .node_id = "n",
					 .instance = "one"};
	assert_int_equal(plugin_host_open(&o, &again, err, sizeof(err)), -1);
	assert_null(again);
	assert_non_null(strstr(err, "inproc://orchd-one-events"));

	plugin_host_close(two);
	plugin_host_close(one);
	inbox_fini(&in1);
	inbox_fini(&in2);
	remove_root(root1);
	remove_root(root2);
}

/* Opens the options directory with these options; returns the host, or
 * NULL with err. */
static struct plugin_host *open_with_options(
	enum plugin_host_transport transport, const char *root,
	struct inbox *in, const char *const (*options)[2], char *err,
	size_t errlen)
{
	struct plugin_host_options o;
	struct plugin_host *host = NULL;

	host_options(&o, PLUGIN_OPTIONS_DIR, "opts", transport, root, in);
	test_options = options;
	if (plugin_host_open(&o, &host, err, errlen) != 0)
		host = NULL;
	test_options = default_options;
	return host;
}

/* Options the plugin declares reach its init; an undeclared one (also for
 * an ABI-1 plugin, whose `options` field the host must not read) fails the
 * host's open naming the plugin, the key and what it accepts. */
static void options_round(enum plugin_host_transport transport)
{
	static const char *const good[][2] = {
		{"beta", "{\"greeting\":\"hi\",\"volume\":\"3\"}"},
		{NULL, NULL}};
	static const char *const bad_alpha[][2] = {
		{"alpha", "{\"colour\":\"blue\"}"}, {NULL, NULL}};
	static const char *const bad_beta[][2] = {
		{"beta", "{\"greeting\":\"hi\",\"colour\":\"blue\"}"},
		{NULL, NULL}};
	static const char *const bad_old[][2] = {
		{"old", "{\"greeting\":\"hi\"}"}, {NULL, NULL}};
	char root[64], err[512] = "";
	struct plugin_host *host;
	struct inbox in;
	json_t *reply, *config;

	make_root(root);
	inbox_init(&in);
	host = open_with_options(transport, root, &in, good, err, sizeof(err));
	if (host == NULL)
		fail_msg("open with good options: %s", err);
	assert_int_equal(plugin_host_count(host), 3);
	reply = call(plugin_host_find(host, ORCH_PLUGIN_RUNTIME, "beta"),
		     json_pack("{s:s}", "op", "info"));
	config = json_object_get(reply, "config");
	assert_string_equal(test_json_str(config, "greeting"), "hi");
	assert_string_equal(test_json_str(config, "volume"), "3");
	json_decref(reply);
	reply = call(plugin_host_find(host, ORCH_PLUGIN_SCHEDULER, "old"),
		     json_pack("{s:s}", "op", "info"));
	assert_int_equal(json_object_size(json_object_get(reply, "config")),
			 0);
	json_decref(reply);
	plugin_host_close(host);

	assert_null(open_with_options(transport, root, &in, bad_alpha, err,
				      sizeof(err)));
	assert_string_equal(err, "plugin alpha does not accept the option "
				 "\"colour\" (it accepts no options)");
	assert_null(open_with_options(transport, root, &in, bad_beta, err,
				      sizeof(err)));
	assert_string_equal(err, "plugin beta does not accept the option "
				 "\"colour\" (it accepts: greeting, volume)");
	assert_null(open_with_options(transport, root, &in, bad_old, err,
				      sizeof(err)));
	assert_string_equal(err, "plugin old does not accept the option "
				 "\"greeting\" (it accepts no options)");
	inbox_fini(&in);
	remove_root(root);
}

static void test_options_round(void **state)
{
	const struct round_case *c = *state;

	options_round(c->transport);
}

/* Everything in-process but beta, which runs in a child and still pushes
 * its events to the host (over an ipc listener added for it). */
static void test_transport_by_name(void **state)
{
	struct plugin_host_info alpha, beta;
	struct plugin_host *host;
	char root[64];
	struct inbox in;

	(void)state;
	make_root(root);
	inbox_init(&in);
	beta_transport = PLUGIN_HOST_IPC;
	host = open_host("by-name", PLUGIN_HOST_INPROC, root, &in);
	beta_transport = -1;
	check_refusals(host, &in);
	plugin_host_info(plugin_host_find(host, ORCH_PLUGIN_SCHEDULER, "alpha"),
			 &alpha);
	plugin_host_info(plugin_host_find(host, ORCH_PLUGIN_RUNTIME, "beta"),
			 &beta);
	assert_int_equal(alpha.transport, PLUGIN_HOST_INPROC);
	assert_int_equal(beta.transport, PLUGIN_HOST_IPC);
	assert_true(beta.pid > 0);
	assert_true(strncmp(beta.request_url, "ipc://", 6) == 0);
	check_calls(host, root);
	check_events(host, &in);
	plugin_host_close(host);
	inbox_fini(&in);
	remove_root(root);
}

static void test_open_errors(void **state)
{
	struct plugin_host_options o = {.plugin_dir = "/nonexistent/plugins",
					.data_root = "/tmp",
					.node_id = "n",
					.instance = "errors"};
	struct plugin_host *host = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(plugin_host_open(&o, &host, err, sizeof(err)), -1);
	assert_null(host);
	assert_string_equal(err, "cannot read plugin directory "
				 "/nonexistent/plugins: No such file or "
				 "directory");
	o.plugin_dir = PLUGIN_TEST_DIR;
	o.instance = "bad instance";
	assert_int_equal(plugin_host_open(&o, &host, err, sizeof(err)), -1);
	assert_string_equal(err, "instance must match [A-Za-z0-9_.-]{1,64}");
	plugin_host_close(NULL);
	assert_string_equal(plugin_host_kind_name(ORCH_PLUGIN_HEALTH),
			    "health");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		{"test_inproc", test_round, NULL, NULL, (void *)&inproc_round},
		{"test_ipc", test_round, NULL, NULL, (void *)&ipc_round},
		cmocka_unit_test(test_two_hosts),
		{"test_options_inproc", test_options_round, NULL, NULL,
		 (void *)&inproc_round},
		{"test_options_ipc", test_options_round, NULL, NULL,
		 (void *)&ipc_round},
		cmocka_unit_test(test_transport_by_name),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

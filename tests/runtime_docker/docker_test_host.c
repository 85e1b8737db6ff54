/*
 * docker_test_host.c: the fixture of the `docker` runtime's tests
 * (docker_test_host.h). State owned here: the run's node id and data
 * directory, and the plugin's log lines a test waits for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/supplemental/util/platform.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker_test_host.h"
#include "orch_protocol.h"

char test_node_id[64];
char test_data_dir[PATH_MAX]; /* absolute, made by docker_test_main */
static unsigned test_url_seq;

/* The info lines of the plugin that contain test_log_wanted, kept so
 * that a test can wait for one (guarded by test_log_mu). */
static nng_mtx *test_log_mu;
static nng_cv *test_log_cv;
static char test_log_wanted[128];
static json_t *test_log_kept;

static void test_log(enum orch_log_level level, const char *plugin_name,
		     const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (level <= ORCH_LOG_WARN)
		fprintf(stderr, "[%s] %s\n", plugin_name, line);
	nng_mtx_lock(test_log_mu);
	if (test_log_wanted[0] != '\0' && strstr(line, test_log_wanted)) {
		json_array_append_new(test_log_kept, json_string(line));
		nng_cv_wake(test_log_cv);
	}
	nng_mtx_unlock(test_log_mu);
}

/* Starts keeping the log lines that contain `wanted`. */
void test_log_keep(const char *wanted)
{
	nng_mtx_lock(test_log_mu);
	snprintf(test_log_wanted, sizeof(test_log_wanted), "%s", wanted);
	json_array_clear(test_log_kept);
	nng_mtx_unlock(test_log_mu);
}

/* Waits (bounded) for a kept line; returns a copy (free it) or NULL. */
char *test_log_wait(void)
{
	nng_time deadline = nng_clock() + TEST_EVENT_TIMEOUT_MS;
	char *line = NULL;

	nng_mtx_lock(test_log_mu);
	while (json_array_size(test_log_kept) == 0 &&
	       nng_cv_until(test_log_cv, deadline) == 0)
		;
	if (json_array_size(test_log_kept) > 0)
		line = strdup(json_string_value(json_array_get(test_log_kept, 0)));
	test_log_wanted[0] = '\0';
	nng_mtx_unlock(test_log_mu);
	return line;
}

/* -------------------------------------------------------------- engine */

json_t *node_filters(void)
{
	char label[128];

	snprintf(label, sizeof(label), "orchd.node.id=%s", test_node_id);
	return json_pack("{s:[s]}", "label", label);
}

/* Removes every container labelled with node id `node`. */
void engine_cleanup_node(struct docker_api *api, const char *node)
{
	char label[160], err[512];
	json_t *filters, *list = NULL, *c;
	size_t i;

	snprintf(label, sizeof(label), "orchd.node.id=%s", node);
	filters = json_pack("{s:[s]}", "label", label);
	if (docker_api_container_list(api, filters, &list, err,
				      sizeof(err)) != DOCKER_API_OK)
		fprintf(stderr, "cleanup: list: %s\n", err);
	json_array_foreach(list, i, c) {
		const char *id = json_string_value(json_object_get(c, "Id"));

		if (docker_api_container_remove(api, id, true, err,
						sizeof(err)) != DOCKER_API_OK)
			fprintf(stderr, "cleanup: remove %s: %s\n", id, err);
	}
	json_decref(list);
	json_decref(filters);
}

/* Removes every container of this test run's node id, and of the old node
 * id test_previous_identity_removed makes up (when it failed midway). */
static void engine_cleanup(struct docker_api *api)
{
	char old_node[96];

	snprintf(old_node, sizeof(old_node), "%s-old", test_node_id);
	engine_cleanup_node(api, test_node_id);
	engine_cleanup_node(api, old_node);
}

/* ---------------------------------------------------------------- host */

int host_plugin_try_init(struct test_host *h, const char *config, char *err,
			 size_t errlen)
{
	snprintf(h->request_url, sizeof(h->request_url),
		 "inproc://docker-test-req-%d-%u", (int)getpid(),
		 test_url_seq++);
	snprintf(h->config, sizeof(h->config), "%s", config ? config : "{}");
	h->host.version = ORCH_PLUGIN_ABI_VERSION;
	h->host.plugin_name = h->plugin->name;
	h->host.request_url = h->request_url;
	h->host.event_url = h->event_url;
	h->host.node_id = test_node_id;
	h->host.data_dir = test_data_dir;
	h->host.config_json = h->config;
	h->host.log = test_log;
	if (h->plugin->init(&h->host, &h->state, err, errlen) != 0) {
		h->state = NULL;
		return -1;
	}
	if (orch_sdk_client_open(h->request_url, &h->client, err, errlen) != 0)
		fail_msg("client open: %s", err);
	return 0;
}

void host_plugin_init(struct test_host *h, const char *config)
{
	char err[512];

	if (host_plugin_try_init(h, config, err, sizeof(err)) != 0)
		fail_msg("plugin init with %s: %s", config ? config : "{}",
			 err);
}

void host_plugin_fini(struct test_host *h)
{
	orch_sdk_client_close(h->client);
	h->client = NULL;
	if (h->state != NULL)
		h->plugin->fini(h->state);
	h->state = NULL;
}

int setup_without_init(void **state)
{
	struct test_host *h = calloc(1, sizeof(*h));
	char err[512];

	assert_non_null(h);
	h->dl = dlopen(ORCHD_TEST_PLUGIN, RTLD_NOW | RTLD_LOCAL);
	if (h->dl == NULL)
		fail_msg("dlopen %s: %s", ORCHD_TEST_PLUGIN, dlerror());
	const struct orch_plugin *(*entry)(void) =
		(const struct orch_plugin *(*)(void))dlsym(
			h->dl, ORCH_PLUGIN_ENTRY_SYMBOL);
	assert_non_null(entry);
	h->plugin = entry();
	assert_int_equal(h->plugin->abi_version, ORCH_PLUGIN_ABI_VERSION);
	assert_int_equal(h->plugin->kind, ORCH_PLUGIN_RUNTIME);
	assert_string_equal(h->plugin->name, "docker");
	assert_int_equal(docker_api_open(NULL, &h->api, err, sizeof(err)),
			 DOCKER_API_OK);
	engine_cleanup(h->api);
	snprintf(h->event_url, sizeof(h->event_url),
		 "inproc://docker-test-events-%d-%u", (int)getpid(),
		 test_url_seq++);
	assert_int_equal(nng_pull0_open(&h->pull), 0);
	h->pull_open = true;
	assert_int_equal(nng_socket_set_ms(h->pull, NNG_OPT_RECVTIMEO,
					   TEST_EVENT_TIMEOUT_MS),
			 0);
	assert_int_equal(nng_socket_set_size(h->pull, NNG_OPT_RECVMAXSZ, 0),
			 0);
	assert_int_equal(nng_listen(h->pull, h->event_url, NULL, 0), 0);
	h->statuses = json_array();
	*state = h;
	return 0;
}

int setup(void **state)
{
	setup_without_init(state);
	host_plugin_init(*state, NULL);
	return 0;
}

int teardown(void **state)
{
	struct test_host *h = *state;

	if (h == NULL)
		return 0;
	host_plugin_fini(h);
	if (h->api != NULL)
		engine_cleanup(h->api);
	if (h->engine2 != NULL)
		engine_cleanup(h->engine2);
	docker_api_close(h->api);
	docker_api_close(h->engine2);
	if (h->pull_open)
		nng_close(h->pull);
	json_decref(h->statuses);
	/* The plugin's threads are gone: unloading is safe. */
	if (h->dl != NULL)
		dlclose(h->dl);
	free(h);
	return 0;
}

/* Sends a request (stolen) and returns the reply (new). */
json_t *host_call(struct test_host *h, json_t *request)
{
	json_t *reply = NULL;
	char err[512];

	if (orch_sdk_client_call(h->client, request, TEST_CALL_TIMEOUT_MS,
				 &reply, err, sizeof(err)) != 0)
		fail_msg("call: %s", err);
	return reply;
}

json_t *host_info(struct test_host *h)
{
	return host_call(h, json_pack("{s:i,s:s}", "v", 1, "op", ORCH_OP_INFO));
}

/* Receives one event (bounded); appends its statuses. */
void host_receive(struct test_host *h)
{
	json_t *event, *status;
	char *buf = NULL;
	size_t len = 0, i;
	int rc;

	rc = nng_recv(h->pull, &buf, &len, NNG_FLAG_ALLOC);
	if (rc != 0)
		fail_msg("no event within %d ms: %s", TEST_EVENT_TIMEOUT_MS,
			 nng_strerror(rc));
	event = json_loadb(buf, len, 0, NULL);
	nng_free(buf, len);
	assert_non_null(event);
	assert_string_equal(json_string_value(json_object_get(event, "op")),
			    ORCH_OP_TASK_STATUS);
	assert_string_equal(
		json_string_value(json_object_get(event, "plugin")), "docker");
	json_array_foreach(json_object_get(event, "statuses"), i, status)
		json_array_append(h->statuses, status);
	json_decref(event);
}

const char *status_str(json_t *status, const char *key)
{
	return json_string_value(json_object_get(status, key));
}

/* The first status of task_id whose state is in `states` (a
 * '|'-separated list), received already or to come. Borrowed. */
json_t *host_wait(struct test_host *h, const char *task_id,
			 const char *states)
{
	size_t seen = 0, received;

	for (received = 0; received < TEST_MAX_EVENTS; received++) {
		for (; seen < json_array_size(h->statuses); seen++) {
			json_t *s = json_array_get(h->statuses, seen);
			const char *state = status_str(s, "state");
			char *found;

			if (strcmp(status_str(s, "task_id"), task_id) != 0)
				continue;
			found = strstr(states, state);
			if (found != NULL &&
			    (found == states || found[-1] == '|') &&
			    (found[strlen(state)] == '\0' ||
			     found[strlen(state)] == '|'))
				return s;
		}
		host_receive(h);
	}
	fail_msg("task %s never reached %s", task_id, states);
	return NULL;
}

/* The states task_id went through, comma-separated, into buf. */
const char *host_history(struct test_host *h, const char *task_id,
				char *buf, size_t len)
{
	json_t *s;
	size_t i, used = 0;

	buf[0] = '\0';
	json_array_foreach(h->statuses, i, s) {
		if (strcmp(status_str(s, "task_id"), task_id) != 0)
			continue;
		used += snprintf(buf + used, len - used, "%s%s",
				 used ? "," : "", status_str(s, "state"));
		if (used >= len)
			break;
	}
	return buf;
}

/* ---------------------------------------------------------------- tasks */

json_t *rtask(const char *id, const char *image, json_t *command)
{
	return json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:o,s:i}", "id", id,
			 "service_id", "svc1", "service_name", "web", "slot", 1,
			 "node_id", test_node_id, "image", image, "command",
			 command, "stop_grace_ms", 2000);
}

json_t *sleeper(const char *id)
{
	return rtask(id, TEST_IMAGE, json_pack("[ss]", "sleep", "1000"));
}

/* Starts the tasks (stolen array) and checks every one was accepted. */
void host_start(struct test_host *h, json_t *tasks)
{
	size_t n = json_array_size(tasks);
	json_t *reply = host_call(h, json_pack("{s:i,s:s,s:o}", "v", 1, "op",
					       ORCH_OP_START, "tasks", tasks));

	assert_null(json_object_get(reply, "error"));
	if (json_array_size(json_object_get(reply, "errors")) != 0) {
		char *text = json_dumps(reply, 0);

		fail_msg("start errors: %s", text);
	}
	assert_int_equal(json_array_size(json_object_get(reply, "accepted")),
			 n);
	json_decref(reply);
}

void host_stop(struct test_host *h, const char *task_id, int grace_ms)
{
	json_t *reply = host_call(
		h, json_pack("{s:i,s:s,s:[{s:s,s:i}]}", "v", 1, "op",
			     ORCH_OP_STOP, "tasks", "task_id", task_id,
			     "grace_ms", grace_ms));

	assert_int_equal(json_array_size(json_object_get(reply, "accepted")),
			 1);
	json_decref(reply);
}

json_t *host_list_find(json_t *list_reply, const char *task_id)
{
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(list_reply, "tasks"), i, s) {
		if (strcmp(status_str(s, "task_id"), task_id) == 0)
			return s;
	}
	return NULL;
}



/* 0 when dockerd and the test image are there; else prints why. */
static int engine_check(void)
{
	struct docker_api *api = NULL;
	char err[512];
	int rc;

	rc = docker_api_open(NULL, &api, err, sizeof(err));
	if (rc == DOCKER_API_OK)
		rc = docker_api_ping(api, err, sizeof(err));
	if (rc == DOCKER_API_OK &&
	    docker_api_image_inspect(api, TEST_IMAGE, NULL, err,
				     sizeof(err)) != DOCKER_API_OK)
		rc = DOCKER_API_ERROR;
	docker_api_close(api);
	if (rc != DOCKER_API_OK)
		fprintf(stderr,
			"docker tests: dockerd or %s not usable: %s "
			"(run scripts/docker-up.sh)\n",
			TEST_IMAGE, err);
	return rc;
}

int docker_test_main(const char *name, const struct CMUnitTest *tests,
		     size_t count)
{
	const char *require = getenv("ORCHD_REQUIRE_DOCKER");
	char data_dir[] = "/tmp/orchd-test-docker-XXXXXX";
	int failed;

	snprintf(test_node_id, sizeof(test_node_id), "test-docker-%d",
		 (int)getpid());
	if (engine_check() != DOCKER_API_OK) {
		if (require != NULL && strcmp(require, "1") == 0) {
			fprintf(stderr, "FAIL: ORCHD_REQUIRE_DOCKER=1\n");
			return 1;
		}
		fprintf(stderr, "SKIP: the docker runtime tests need dockerd\n");
		return 77;
	}
	if (mkdtemp(data_dir) == NULL ||
	    realpath(data_dir, test_data_dir) == NULL) {
		perror("docker tests: data dir");
		return 1;
	}
	if (nng_mtx_alloc(&test_log_mu) != 0 ||
	    nng_cv_alloc(&test_log_cv, test_log_mu) != 0 ||
	    (test_log_kept = json_array()) == NULL) {
		fprintf(stderr, "docker tests: out of memory\n");
		return 1;
	}
	failed = _cmocka_run_group_tests(name, tests, count, NULL, NULL);
	if (rmdir(data_dir) != 0)
		perror("docker tests: rmdir data dir");
	json_decref(test_log_kept);
	nng_cv_free(test_log_cv);
	nng_mtx_free(test_log_mu);
	return failed;
}

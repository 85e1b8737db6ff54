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

#include <jansson.h>
#include <nng/nng.h>
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
	return fixture_init(&h->f, config, err, errlen);
}

void host_plugin_init(struct test_host *h, const char *config)
{
	fixture_init_ok(&h->f, config);
}

void host_plugin_fini(struct test_host *h)
{
	fixture_fini(&h->f);
}

int setup_without_init(void **state)
{
	struct test_host *h = calloc(1, sizeof(*h));
	char err[512];

	assert_non_null(h);
	fixture_open(&h->f, "docker");
	h->f.host.node_id = test_node_id;
	h->f.host.data_dir = test_data_dir;
	h->f.host.log = test_log;
	fixture_load(&h->f, ORCHD_TEST_PLUGIN, ORCH_PLUGIN_RUNTIME);
	assert_string_equal(h->f.plugin->name, "docker");
	assert_int_equal(docker_api_open(NULL, &h->api, err, sizeof(err)),
			 DOCKER_API_OK);
	engine_cleanup(h->api);
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
	fixture_fini(&h->f);
	if (h->api != NULL)
		engine_cleanup(h->api);
	if (h->engine2 != NULL)
		engine_cleanup(h->engine2);
	docker_api_close(h->api);
	docker_api_close(h->engine2);
	fixture_close(&h->f); /* the plugin's threads are gone: unloads */
	free(h);
	return 0;
}

json_t *host_info(struct test_host *h)
{
	return fixture_call(&h->f, json_pack("{s:i,s:s}", "v", 1, "op",
					     ORCH_OP_INFO));
}

json_t *host_wait(struct test_host *h, const char *task_id,
		  const char *states)
{
	return fixture_wait(&h->f, task_id, states, TEST_WAIT_MS);
}

/* The states task_id went through, comma-separated, into buf. */
const char *host_history(struct test_host *h, const char *task_id,
				char *buf, size_t len)
{
	json_t *s;
	size_t i, used = 0;

	buf[0] = '\0';
	json_array_foreach(h->f.seen, i, s) {
		if (strcmp(test_json_str(s, "task_id"), task_id) != 0)
			continue;
		used += snprintf(buf + used, len - used, "%s%s",
				 used ? "," : "", test_json_str(s, "state"));
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
	json_t *reply = fixture_call(&h->f, json_pack("{s:i,s:s,s:o}", "v", 1, "op",
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
	json_t *reply = fixture_call(
		&h->f, json_pack("{s:i,s:s,s:[{s:s,s:i}]}", "v", 1, "op",
			     ORCH_OP_STOP, "tasks", "task_id", task_id,
			     "grace_ms", grace_ms));

	assert_int_equal(json_array_size(json_object_get(reply, "accepted")),
			 1);
	json_decref(reply);
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

/*
 * docker_test_host.h: the fixture the tests of the `docker` runtime share.
 * A test is a tiny host, as orchd is (tests/common/plugin_fixture.h): it
 * loads build/plugins/docker.so with dlopen, listens (nng PULL) on the
 * event URL it gives the plugin, calls init with an orch_host and sends
 * requests with the SDK's client (fixture_call). Every wait is bounded. Each test run uses
 * a node id of its own (test-docker-<pid>) and removes every container
 * carrying that node label, in the default engine and in h->engine2 when a
 * test set it, before and after each test, also when a test fails.
 * Include it after <cmocka.h>.
 */
#ifndef DOCKER_TEST_HOST_H
#define DOCKER_TEST_HOST_H

#include <jansson.h>
#include <limits.h>
#include <nng/nng.h>
#include <stdbool.h>

#include "docker_api.h"
#include "orch_plugin.h"
#include "plugin_fixture.h"

#define TEST_IMAGE "busybox:local"
/* A registry on a loopback port nothing listens on: the pull fails at once
 * and no traffic leaves the machine (a bare name would ask Docker Hub). */
#define TEST_MISSING_IMAGE "127.0.0.1:9/orchd-no-such-image:latest"
#define TEST_EVENT_TIMEOUT_MS 60000

/* Bounds every wait for a status (images may be pulled meanwhile). */
#define TEST_WAIT_MS 120000

struct test_host {
	struct plugin_fixture f; /* node test_node_id, data test_data_dir */
	struct docker_api *api;     /* the default engine */
	struct docker_api *engine2; /* another engine a test uses, or NULL */
};

extern char test_node_id[64];
extern char test_data_dir[PATH_MAX]; /* absolute, made by docker_test_main */

/* Keeps the plugin's log lines that contain `wanted`; test_log_wait waits
 * (bounded) for one and returns a copy (free it) or NULL. */
void test_log_keep(const char *wanted);
char *test_log_wait(void);

/* {"label": ["orchd.node.id=<this run's node>"]} */
json_t *node_filters(void);
/* Removes every container labelled with node id `node`. */
void engine_cleanup_node(struct docker_api *api, const char *node);

/* cmocka setup and teardown: a host with the plugin loaded; setup also
 * inits it with the default options. */
int setup(void **state);
int setup_without_init(void **state);
int teardown(void **state);
/* Inits the plugin with these options (JSON, NULL: "{}"); fails the test
 * when init fails. host_plugin_try_init returns init's result and its
 * error in err instead. */
void host_plugin_init(struct test_host *h, const char *config);
int host_plugin_try_init(struct test_host *h, const char *config, char *err,
			 size_t errlen);
void host_plugin_fini(struct test_host *h);

json_t *host_info(struct test_host *h);
/* The first status of task_id whose state is in `states` (a
 * '|'-separated list), received already or to come. Borrowed. */
json_t *host_wait(struct test_host *h, const char *task_id,
		  const char *states);
const char *host_history(struct test_host *h, const char *task_id, char *buf,
			 size_t len);

json_t *rtask(const char *id, const char *image, json_t *command);
json_t *sleeper(const char *id);
/* Starts the tasks (stolen array) and checks every one was accepted. */
void host_start(struct test_host *h, json_t *tasks);
void host_stop(struct test_host *h, const char *task_id, int grace_ms);

/* Runs the cmocka group: skips (77) without a usable dockerd (fails with
 * ORCHD_REQUIRE_DOCKER=1), makes the run's node id and data directory. */
int docker_test_main(const char *name, const struct CMUnitTest *tests,
		     size_t count);

#endif

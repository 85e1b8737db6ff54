/*
 * test_docker_socket.c: tests of the `docker` runtime's option "socket",
 * which engine the plugin talks to (unix:///path or /path; default
 * /var/run/docker.sock), through the fixture of docker_test_host.h.
 *
 * Without ORCHD_TEST_ENGINE2 the group checks that a bad value is refused
 * at init with the option named, that both forms of a second path to the
 * default engine (a symlink) work, and that once nothing listens there
 * the runtime says it is unavailable, naming the socket.
 * With ORCHD_TEST_ENGINE2=unix:///... (second_engine.sh starts a private
 * dockerd and sets it) the group is test_second_engine alone: a task
 * started through the plugin runs in THAT engine, not in the default one.
 *
 * State owned here: the run's scratch directory (the symlink lives there).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker_test_host.h"
#include "orch_protocol.h"

#define ENGINE2_ENV "ORCHD_TEST_ENGINE2"

/* Checks that info says the engine is there. */
static void assert_available(struct test_host *h)
{
	json_t *reply = host_info(h);

	if (!json_is_true(json_object_get(reply, "available")))
		fail_msg("engine unavailable: %s", test_json_str(reply, "error"));
	json_decref(reply);
}

/* Starts one sleeper, waits for it to run and returns its container id
 * (into id); the caller stops it. */
static void start_sleeper(struct test_host *h, const char *task_id, char *id,
			  size_t idlen)
{
	json_t *s;

	host_start(h, json_pack("[o]", sleeper(task_id)));
	s = host_wait(h, task_id, "running|failed|rejected");
	assert_string_equal(test_json_str(s, "state"), "running");
	snprintf(id, idlen, "%s", test_json_str(s, "runtime_id"));
}

static void stop_and_wait(struct test_host *h, const char *task_id)
{
	json_t *s;

	host_stop(h, task_id, 1000);
	s = host_wait(h, task_id, "shutdown|complete|failed");
	assert_string_equal(test_json_str(s, "state"), "shutdown");
}

/* A value that is no unix socket of this machine is refused at init, the
 * option named; the default socket given as a URL is accepted first. */
static void test_socket_refused(void **state)
{
	struct test_host *h = *state;
	char long_path[300], config[400], err[512];
	const char *bad[] = {
		"{\"socket\": \"tcp://x\"}",
		"{\"socket\": \"\"}",
		"{\"socket\": \"unix://docker.sock\"}",
		"{\"socket\": \"http:///var/run/docker.sock\"}",
		"{\"socket\": 42}",
		config,
	};
	size_t i;

	host_plugin_init(h, "{\"socket\": \"unix://" DOCKER_API_DEFAULT_SOCKET
			    "\"}");
	assert_available(h);
	host_plugin_fini(h);

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	snprintf(config, sizeof(config), "{\"socket\": \"%s\"}", long_path);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (host_plugin_try_init(h, bad[i], err, sizeof(err)) == 0)
			fail_msg("init accepted %s", bad[i]);
		if (strstr(err, "option \"socket\"") == NULL)
			fail_msg("%s refused without naming the option: %s",
				 bad[i], err);
	}
	assert_int_not_equal(host_plugin_try_init(h, bad[0], err, sizeof(err)),
			     0);
	assert_non_null(strstr(err, "not \"tcp://x\""));
	assert_int_not_equal(host_plugin_try_init(h, "{\"sockets\": \"/x\"}",
						  err, sizeof(err)),
			     0);
	assert_non_null(strstr(err, "unknown option \"sockets\""));
}

/* A second path to the default engine (a symlink), in both forms, runs
 * tasks; once nothing listens there, a new instance on that path says
 * the engine is unavailable, naming the socket, and refuses to start. */
static void test_socket_second_path(void **state)
{
	struct test_host *h = *state;
	char dir[] = "/tmp/orchd-test-docker-sock-XXXXXX";
	char link[64], config[128], id[128], expected[128];
	json_t *reply, *error;

	assert_non_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/docker.sock", dir);
	if (symlink(DOCKER_API_DEFAULT_SOCKET, link) != 0)
		fail_msg("symlink %s: %m", link);
	snprintf(config, sizeof(config), "{\"socket\": \"unix://%s\"}", link);
	host_plugin_init(h, config);
	assert_available(h);
	host_plugin_fini(h);

	snprintf(config, sizeof(config), "{\"socket\": \"%s\"}", link);
	host_plugin_init(h, config);
	start_sleeper(h, "sock1", id, sizeof(id));
	stop_and_wait(h, "sock1");

	/* A new instance: the old one keeps its connections to the engine. */
	host_plugin_fini(h);
	unlink(link);
	rmdir(dir);
	host_plugin_init(h, config);
	snprintf(expected, sizeof(expected), "docker: cannot reach %s", link);
	reply = host_info(h);
	assert_true(json_is_false(json_object_get(reply, "available")));
	assert_non_null(strstr(test_json_str(reply, "error"), expected));
	json_decref(reply);
	reply = fixture_call(&h->f, json_pack("{s:i,s:s,s:[o]}", "v", 1, "op",
				       ORCH_OP_START, "tasks",
				       sleeper("sock2")));
	assert_int_equal(json_array_size(json_object_get(reply, "accepted")),
			 0);
	error = json_array_get(json_object_get(reply, "errors"), 0);
	assert_string_equal(test_json_str(error, "task_id"), "sock2");
	assert_non_null(strstr(test_json_str(error, "error"), expected));
	json_decref(reply);
}

/* The number of containers of this run's node in the engine of api. */
static size_t engine_count(struct docker_api *api, const char *id)
{
	json_t *filters = node_filters(), *list = NULL, *c;
	char err[512];
	size_t i, n = 0;

	if (docker_api_container_list(api, filters, &list, err,
				      sizeof(err)) != DOCKER_API_OK)
		fail_msg("list: %s", err);
	json_array_foreach(list, i, c) {
		if (strcmp(test_json_str(c, "Id"), id) == 0)
			n++;
	}
	json_decref(filters);
	json_decref(list);
	return n;
}

/* With the socket of a second dockerd, the task's container is made in
 * that engine and not in the default one. */
static void test_second_engine(void **state)
{
	struct test_host *h = *state;
	const char *url = getenv(ENGINE2_ENV);
	char config[PATH_MAX + 32], err[512], id[128];

	assert_non_null(url);
	assert_int_equal(strncmp(url, "unix://", 7), 0);
	if (docker_api_open(url + 7, &h->engine2, err, sizeof(err)) !=
		    DOCKER_API_OK ||
	    docker_api_ping(h->engine2, err, sizeof(err)) != DOCKER_API_OK ||
	    docker_api_image_inspect(h->engine2, TEST_IMAGE, NULL, err,
				     sizeof(err)) != DOCKER_API_OK)
		fail_msg("second engine %s: %s", url, err);
	snprintf(config, sizeof(config), "{\"socket\": \"%s\"}", url);
	host_plugin_init(h, config);
	assert_available(h);
	start_sleeper(h, "eng2a", id, sizeof(id));
	assert_int_equal(engine_count(h->engine2, id), 1);
	assert_int_equal(engine_count(h->api, id), 0);
	assert_int_equal(docker_api_container_inspect(h->api, id, NULL, err,
						      sizeof(err)),
			 DOCKER_API_NOT_FOUND);
	stop_and_wait(h, "eng2a");
}

int main(void)
{
	const struct CMUnitTest options[] = {
		cmocka_unit_test_setup_teardown(test_socket_refused,
						setup_without_init, teardown),
		cmocka_unit_test_setup_teardown(test_socket_second_path,
						setup_without_init, teardown),
	};
	const struct CMUnitTest engine2[] = {
		cmocka_unit_test_setup_teardown(test_second_engine,
						setup_without_init, teardown),
	};

	if (getenv(ENGINE2_ENV) != NULL)
		return docker_test_main("test_docker_second_engine", engine2,
					sizeof(engine2) / sizeof(engine2[0]));
	return docker_test_main("test_docker_socket", options,
				sizeof(options) / sizeof(options[0]));
}

/*
 * test_sdk_helpers.c: cmocka tests of the SDK's helpers that need no
 * plugin: reading options from a host table, logging through it, tailing a
 * file, UTF-8 cleanup, node capacity, task state names, and the refusals
 * and "chose none" reason of the scheduler helper (served on inproc://).
 *
 * State: the log lines captured by capture_log (reset per test); files in
 * a temporary directory made and removed by the test that uses it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orch_sdk.h"
#include "test_common.h"

static char logged[512];
static enum orch_log_level logged_level;

static void capture_log(enum orch_log_level level, const char *name,
			const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	logged_level = level;
	snprintf(logged, sizeof(logged), "%s: %s", name, text);
}

static struct orch_host host_with(const char *config)
{
	return (struct orch_host){.version = ORCH_PLUGIN_ABI_VERSION,
				  .plugin_name = "p",
				  .request_url = "inproc://test-sdk-helpers",
				  .event_url = "inproc://test-sdk-helpers-ev",
				  .node_id = "n0",
				  .data_dir = "/tmp",
				  .config_json = config,
				  .log = capture_log};
}

static void test_option(void **state)
{
	/* Each option read into an 8-byte buffer: what comes back and, when
	 * found or absent, what the buffer then holds (NULL: not checked). */
	static const struct {
		const char *key;
		enum orch_option_result want;
		const char *want_buf;
	} cases[] = {
		{"shim", ORCH_OPTION_ERROR, NULL}, /* "/usr/bin/x" too long */
		{"n", ORCH_OPTION_FOUND, "30"},
		{"on", ORCH_OPTION_FOUND, "true"},
		{"r", ORCH_OPTION_FOUND, "1.5"},
		{"gone", ORCH_OPTION_ABSENT, ""},
		{"missing", ORCH_OPTION_ABSENT, NULL},
		{"list", ORCH_OPTION_ERROR, NULL},
		{"long", ORCH_OPTION_ERROR, NULL},
	};
	struct orch_host h = host_with("{\"shim\":\"/usr/bin/x\",\"n\":30,"
				       "\"on\":true,\"r\":1.5,\"gone\":null,"
				       "\"list\":[1],\"long\":\"abcdefgh\"}");
	char buf[8];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(orch_option(&h, cases[i].key, buf,
					     sizeof(buf)),
				 cases[i].want);
		if (cases[i].want_buf != NULL)
			assert_string_equal(buf, cases[i].want_buf);
	}
}

static void test_option_texts(void **state)
{
	struct orch_host h = host_with("{\"shim\":\"/usr/bin/x\",\"list\":[1],"
				       "\"long\":\"abcdefgh\"}");
	char buf[128];

	(void)state;
	assert_int_equal(orch_option(&h, "shim", buf, sizeof(buf)),
			 ORCH_OPTION_FOUND);
	assert_string_equal(buf, "/usr/bin/x");
	assert_int_equal(orch_option(&h, "list", buf, sizeof(buf)),
			 ORCH_OPTION_ERROR);
	assert_string_equal(buf, "option \"list\": expected a string, number "
				 "or boolean");
	assert_int_equal(orch_option(&h, "long", buf, 8), ORCH_OPTION_ERROR);
	assert_string_equal(buf, "option "); /* the error, cut to fit */
	h.config_json = "[1]";
	assert_int_equal(orch_option(&h, "shim", buf, sizeof(buf)),
			 ORCH_OPTION_ERROR);
	assert_string_equal(buf, "plugin options: not a JSON object");
	h.config_json = NULL; /* no options at all */
	assert_int_equal(orch_option(&h, "shim", buf, sizeof(buf)),
			 ORCH_OPTION_ABSENT);
}

static void test_logf(void **state)
{
	struct orch_host h = host_with("{}");

	(void)state;
	orch_logf(&h, ORCH_LOG_WARN, "disk %d%% full", 93);
	assert_string_equal(logged, "p: disk 93% full");
	assert_int_equal(logged_level, ORCH_LOG_WARN);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_file_tail(void **state)
{
	char dir[64], path[96], err[256] = "";
	char *data;
	size_t len;

	(void)state;
	assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "sdk-tail"), 0);
	snprintf(path, sizeof(path), "%s/log", dir);
	assert_int_equal(orch_file_tail(path, 0, 1024, &data, &len, err,
					sizeof(err)),
			 0);
	assert_int_equal(len, 0); /* no file yet: empty */
	free(data);
	write_file(path, "one\ntwo\nthr\xff\xfe\nfour\n");
	assert_int_equal(orch_file_tail(path, 2, 1024, &data, &len, err,
					sizeof(err)),
			 0);
	assert_string_equal(data, "thr??\nfour\n");
	free(data);
	assert_int_equal(orch_file_tail(path, 0, 1024, &data, &len, err,
					sizeof(err)),
			 0);
	assert_int_equal(len, strlen("one\ntwo\nthr??\nfour\n"));
	free(data);
	/* The last 12 bytes start inside "two": that partial line goes. */
	assert_int_equal(orch_file_tail(path, 0, 12, &data, &len, err,
					sizeof(err)),
			 0);
	assert_string_equal(data, "thr??\nfour\n");
	free(data);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(orch_file_tail(dir, 0, 12, &data, &len, err,
					sizeof(err)),
			 0); /* gone again: empty */
	free(data);
	assert_int_equal(orch_file_tail("/proc/self/mem/x", 0, 12, &data, &len,
					err, sizeof(err)),
			 -1);
	assert_string_equal(err, "/proc/self/mem/x: Not a directory");
}

static void test_utf8_capacity_states(void **state)
{
	char text[] = "ok \xc3\xa9 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf";
	struct orch_sched_resources capacity;

	(void)state;
	orch_utf8_sanitize(text, strlen(text));
	/* é stays; a surrogate, a code point above U+10FFFF and an
	 * overlong '/' are replaced byte by byte. */
	assert_string_equal(text, "ok \xc3\xa9 ??? ???? ??");
	assert_int_equal(orch_node_capacity(&capacity), 0);
	assert_true(capacity.nano_cpus >= 1000000000);
	assert_true(capacity.memory_bytes > 0);
	assert_string_equal(orch_task_state_name(ORCH_TASK_RUNNING), "running");
	assert_string_equal(orch_task_state_name(ORCH_TASK_REJECTED),
			    "rejected");
	assert_string_equal(orch_task_state_name((enum orch_task_state)0), "?");
}

/* -------------------------------------------------------- scheduler */

/* Declines the tasks of service "nowhere", else takes the last node. */
static struct orch_sched_node *picky(void *ctx,
				     const struct orch_sched_task *task,
				     struct orch_sched_node *const *fit,
				     size_t n_fit)
{
	(void)ctx;
	return strcmp(task->service_id, "nowhere") == 0 ? NULL
							: fit[n_fit - 1];
}

static void test_scheduler_helper(void **state)
{
	struct orch_host h = host_with("{}");
	struct orch_scheduler s = {.version = 0, .pick = picky};
	struct orch_sdk_client *client;
	char err[256] = "";
	json_t *reply = NULL;
	void *server;

	(void)state;
	assert_int_equal(orch_scheduler_start(&h, &s, &server, err,
					      sizeof(err)),
			 -1);
	assert_string_equal(err, "orch_scheduler_start: struct orch_scheduler "
				 "has no version");
	s.version = ORCH_SCHEDULER_VERSION;
	s.pick = NULL;
	assert_int_equal(orch_scheduler_start(&h, &s, &server, err,
					      sizeof(err)),
			 -1);
	assert_string_equal(err, "orch_scheduler_start: no pick function");
	s.pick = picky;
	assert_int_equal(orch_scheduler_start(&h, &s, &server, err,
					      sizeof(err)),
			 0);
	assert_int_equal(orch_sdk_client_open(h.request_url, &client, err,
					      sizeof(err)),
			 0);
	assert_int_equal(
		orch_sdk_client_call(
			client,
			json_loads("{\"op\":\"schedule\",\"nodes\":["
				   "{\"id\":\"a\",\"state\":\"ready\","
				   "\"availability\":\"active\","
				   "\"runtimes\":[\"r\"]},"
				   "{\"id\":\"b\",\"state\":\"ready\","
				   "\"availability\":\"active\","
				   "\"runtimes\":[\"r\"]}],\"tasks\":["
				   "{\"id\":\"t1\",\"service_id\":\"x\","
				   "\"runtime\":\"r\"},"
				   "{\"id\":\"t2\",\"service_id\":\"nowhere\","
				   "\"runtime\":\"r\"}]}",
				   0, NULL),
			10000, &reply, err, sizeof(err)),
		0);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(reply, "placements"), 0),
			"node_id")),
		"b");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(reply, "unplaced"), 0),
			"error")),
		"no suitable node (p chose none of 2 fitting nodes)");
	json_decref(reply);
	orch_sdk_client_close(client);
	orch_scheduler_stop(server);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_option),
		cmocka_unit_test(test_option_texts),
		cmocka_unit_test(test_logf),
		cmocka_unit_test(test_file_tail),
		cmocka_unit_test(test_utf8_capacity_states),
		cmocka_unit_test(test_scheduler_helper),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_sdk_transport.c: cmocka tests of the SDK's transport half: a request
 * server answered through orch_sdk_client over inproc:// and ipc://,
 * concurrent callers, malformed requests sent as raw bytes, timeouts,
 * events pushed to a PULL socket (also when the sender dials first), and
 * the request server underneath (orch_reqserver.h) with deferred replies:
 * many requests held at once and answered later from another thread, the
 * busy answer beyond max_held, and a stop that drops held requests.
 *
 * State: each test owns its server, client and sockets; ipc:// sockets live
 * in a fresh temporary directory removed at the end of the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orch_reqserver.h"
#include "orch_sdk.h"
#include "orch_wire.h"
#include "test_common.h"

/* Generous guard against a hang; tests never wait for it on success. */
#define TEST_GUARD_MS 10000

/* A handler whose "block" op waits until the test opens a gate. */
struct test_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	int entered;
};

static struct test_gate gate = {PTHREAD_MUTEX_INITIALIZER,
				PTHREAD_COND_INITIALIZER, false, 0};

static void gate_open(void)
{
	pthread_mutex_lock(&gate.lock);
	gate.open = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
}

static void gate_wait(void)
{
	pthread_mutex_lock(&gate.lock);
	gate.entered++;
	pthread_cond_broadcast(&gate.cond);
	while (!gate.open)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
}

static json_t *test_handler(void *ctx, const char *op, json_t *request)
{
	int *calls = ctx;

	__atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
	if (strcmp(op, "echo") == 0)
		return json_pack("{s:O}", "echo", request);
	if (strcmp(op, "none") == 0)
		return NULL;
	if (strcmp(op, "array") == 0)
		return json_array();
	if (strcmp(op, "block") == 0) {
		gate_wait();
		return json_object();
	}
	return orch_sdk_error("unknown op %s", op);
}

/* ---------------------------------------------------------------- helpers */

static json_t *call_ok(struct orch_sdk_client *client, json_t *request)
{
	char err[256] = "";
	json_t *reply = NULL;

	if (orch_sdk_client_call(client, request, TEST_GUARD_MS, &reply, err,
				 sizeof(err)) != 0)
		fail_msg("call failed: %s", err);
	assert_int_equal(json_integer_value(json_object_get(reply, "v")), 1);
	return reply;
}

static const char *error_of(json_t *reply)
{
	return json_string_value(json_object_get(reply, "error"));
}

/* ------------------------------------------------------------ round trip */

/* unused: a round_case argument round_trip has no use for. */
static void round_trip(const char *url, bool unused)
{
	struct orch_sdk_server *server;
	struct orch_sdk_client *client;
	char err[256] = "";
	json_t *reply;
	int calls = 0;

	(void)unused;
	assert_int_equal(orch_sdk_server_start(url, 2, test_handler, &calls,
					       &server, err, sizeof(err)),
			 0);
	assert_int_equal(
		orch_sdk_client_open(url, &client, err, sizeof(err)), 0);

	reply = call_ok(client, json_pack("{s:s, s:i}", "op", "echo", "n", 7));
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(reply, "echo"), "n")),
			 7);
	assert_null(json_object_get(reply, "error"));
	json_decref(reply);

	reply = call_ok(client, json_pack("{s:s}", "op", "nope"));
	assert_string_equal(error_of(reply), "unknown op nope");
	json_decref(reply);

	reply = call_ok(client, json_pack("{s:s}", "op", "none"));
	assert_string_equal(error_of(reply), "internal error: no reply");
	json_decref(reply);

	reply = call_ok(client, json_pack("{s:s}", "op", "array"));
	assert_string_equal(error_of(reply),
			    "internal error: reply is not an object");
	json_decref(reply);

	assert_int_equal(calls, 4);
	orch_sdk_client_close(client);
	orch_sdk_server_stop(server);
}



/* ----------------------------------------------------------- concurrency */

#define CALLERS 4
#define CALLS_EACH 50

struct caller {
	struct orch_sdk_client *client;
	int id;
	int matched;
};

static void *caller_main(void *arg)
{
	struct caller *caller = arg;
	json_t *reply, *echo;
	char err[256];
	int i;

	for (i = 0; i < CALLS_EACH; i++) {
		if (orch_sdk_client_call(
			    caller->client,
			    json_pack("{s:s, s:i, s:i}", "op", "echo", "caller",
				      caller->id, "i", i),
			    TEST_GUARD_MS, &reply, err, sizeof(err)) != 0)
			continue;
		echo = json_object_get(reply, "echo");
		if (json_integer_value(json_object_get(echo, "caller")) ==
			    caller->id &&
		    json_integer_value(json_object_get(echo, "i")) == i)
			caller->matched++;
		json_decref(reply);
	}
	return NULL;
}

/* Several threads share one client and one 3-worker server: every reply
 * must answer its own request. */
static void test_concurrent_callers(void **state)
{
	const char *url = "inproc://sdk-test-concurrent";
	struct caller callers[CALLERS];
	pthread_t threads[CALLERS];
	struct orch_sdk_server *server;
	struct orch_sdk_client *client;
	char err[256];
	int calls = 0, i;

	(void)state;
	assert_int_equal(orch_sdk_server_start(url, 3, test_handler, &calls,
					       &server, err, sizeof(err)),
			 0);
	assert_int_equal(
		orch_sdk_client_open(url, &client, err, sizeof(err)), 0);
	for (i = 0; i < CALLERS; i++) {
		callers[i] = (struct caller){.client = client, .id = i};
		assert_int_equal(pthread_create(&threads[i], NULL, caller_main,
						&callers[i]),
				 0);
	}
	for (i = 0; i < CALLERS; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(callers[i].matched, CALLS_EACH);
	}
	assert_int_equal(calls, CALLERS * CALLS_EACH);
	orch_sdk_client_close(client);
	orch_sdk_server_stop(server);
}

/* ---------------------------------------------------- malformed requests */

/* Sends raw bytes on a plain REQ socket; returns the decoded reply. */
static json_t *raw_call(const char *url, const char *bytes)
{
	nng_socket sock;
	json_error_t jerr;
	json_t *reply;
	char *buf;
	size_t len;

	assert_int_equal(nng_req0_open(&sock), 0);
	assert_int_equal(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO,
					   TEST_GUARD_MS),
			 0);
	assert_int_equal(nng_dial(sock, url, NULL, 0), 0);
	assert_int_equal(nng_send(sock, (void *)bytes, strlen(bytes), 0), 0);
	assert_int_equal(nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC), 0);
	reply = json_loadb(buf, len, 0, &jerr);
	assert_non_null(reply);
	nng_free(buf, len);
	nng_close(sock);
	assert_int_equal(json_integer_value(json_object_get(reply, "v")), 1);
	return reply;
}

static void expect_error(const char *url, const char *bytes,
			 const char *want)
{
	json_t *reply = raw_call(url, bytes);
	const char *error = error_of(reply);

	assert_non_null(error);
	if (strstr(error, want) == NULL)
		fail_msg("request %s: error \"%s\" lacks \"%s\"", bytes, error,
			 want);
	json_decref(reply);
}

static void test_malformed_requests(void **state)
{
	const char *url = "inproc://sdk-test-malformed";
	struct orch_sdk_server *server;
	char err[256];
	int calls = 0;

	(void)state;
	assert_int_equal(orch_sdk_server_start(url, 1, test_handler, &calls,
					       &server, err, sizeof(err)),
			 0);
	expect_error(url, "this is not json", "malformed request: not JSON");
	expect_error(url, "", "malformed request: not JSON");
	expect_error(url, "[1,2]", "malformed request: not a JSON object");
	expect_error(url, "{\"v\":1}", "\"op\" missing or not a string");
	expect_error(url, "{\"v\":1,\"op\":3}",
		     "\"op\" missing or not a string");
	expect_error(url, "{\"op\":\"echo\"}", "\"v\" must be 1");
	expect_error(url, "{\"v\":2,\"op\":\"echo\"}", "\"v\" must be 1");
	expect_error(url, "{\"v\":\"1\",\"op\":\"echo\"}", "\"v\" must be 1");
	/* None of them reached the handler; a good one still does. */
	assert_int_equal(calls, 0);
	json_decref(raw_call(url, "{\"v\":1,\"op\":\"echo\"}"));
	assert_int_equal(calls, 1);
	orch_sdk_server_stop(server);
}

/* ------------------------------------------------- client-side failures */

static void test_client_errors(void **state)
{
	const char *url = "inproc://sdk-test-client-errors";
	struct orch_sdk_server *server;
	struct orch_sdk_client *client;
	char err[256] = "";
	json_t *reply;
	int calls = 0;

	(void)state;
	/* Nobody serving: open fails and says where. */
	assert_int_equal(orch_sdk_client_open(url, &client, err, sizeof(err)),
			 -1);
	assert_null(client);
	assert_non_null(strstr(err, url));

	/* A handler that does not answer in time: the call times out. */
	assert_int_equal(orch_sdk_server_start(url, 1, test_handler, &calls,
					       &server, err, sizeof(err)),
			 0);
	assert_int_equal(orch_sdk_client_open(url, &client, err, sizeof(err)),
			 0);
	assert_int_equal(orch_sdk_client_call(client,
					      json_pack("{s:s}", "op", "block"),
					      50, &reply, err, sizeof(err)),
			 -1);
	assert_null(reply);
	assert_non_null(strstr(err, "no reply from"));
	gate_open();

	/* A request that is not an object is refused before sending. */
	assert_int_equal(orch_sdk_client_call(client, json_array(), 1000,
					      &reply, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "request is not a JSON object");

	/* A second server on the same url is refused. */
	struct orch_sdk_server *second;
	assert_int_equal(orch_sdk_server_start(url, 1, test_handler, &calls,
					       &second, err, sizeof(err)),
			 -1);
	assert_null(second);
	assert_non_null(strstr(err, "cannot listen on"));

	orch_sdk_client_close(client);
	orch_sdk_server_stop(server);
	orch_sdk_server_stop(NULL);
}

/* ----------------------------------------------------------------- events */

static nng_socket pull_listen(const char *url)
{
	nng_socket sock;

	assert_int_equal(nng_pull0_open(&sock), 0);
	assert_int_equal(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO,
					   TEST_GUARD_MS),
			 0);
	assert_int_equal(nng_listen(sock, url, NULL, 0), 0);
	return sock;
}

static json_t *pull_event(nng_socket sock)
{
	json_error_t jerr;
	json_t *event;
	char *buf;
	size_t len;

	assert_int_equal(nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC), 0);
	event = json_loadb(buf, len, 0, &jerr);
	nng_free(buf, len);
	assert_non_null(event);
	return event;
}

static void send_statuses(struct orch_sdk_events *events)
{
	json_t *statuses = json_array();

	json_array_append_new(statuses,
			      orch_sdk_task_status("t1", "running", 0, NULL,
						   "pid-42"));
	json_array_append_new(statuses,
			      orch_sdk_task_status("t2", "failed", 3, "boom",
						   NULL));
	assert_int_equal(
		orch_sdk_events_send_statuses(events, "proc", statuses), 0);
}

static void check_statuses(json_t *event)
{
	json_t *statuses = json_object_get(event, "statuses"), *s;

	assert_int_equal(json_integer_value(json_object_get(event, "v")), 1);
	assert_string_equal(
		json_string_value(json_object_get(event, "op")), "task_status");
	assert_string_equal(
		json_string_value(json_object_get(event, "plugin")), "proc");
	assert_int_equal(json_array_size(statuses), 2);
	s = json_array_get(statuses, 0);
	assert_string_equal(json_string_value(json_object_get(s, "task_id")),
			    "t1");
	assert_string_equal(json_string_value(json_object_get(s, "state")),
			    "running");
	assert_string_equal(
		json_string_value(json_object_get(s, "runtime_id")), "pid-42");
	assert_null(json_object_get(s, "error"));
	assert_true(json_integer_value(json_object_get(s, "timestamp_ns")) >
		    0);
	s = json_array_get(statuses, 1);
	assert_int_equal(json_integer_value(json_object_get(s, "exit_code")),
			 3);
	assert_string_equal(json_string_value(json_object_get(s, "error")),
			    "boom");
	assert_null(json_object_get(s, "runtime_id"));
}

static void events_round_trip(const char *url, bool dial_first)
{
	struct orch_sdk_events *events = NULL;
	nng_socket sock;
	char err[256];
	json_t *event;

	if (dial_first)
		assert_int_equal(
			orch_sdk_events_open(url, &events, err, sizeof(err)),
			0);
	sock = pull_listen(url);
	if (!dial_first)
		assert_int_equal(
			orch_sdk_events_open(url, &events, err, sizeof(err)),
			0);
	send_statuses(events);
	assert_int_equal(orch_sdk_events_send(
				 events, json_pack("{s:s, s:i}", "op", "custom",
						   "n", 5)),
			 0);
	event = pull_event(sock);
	check_statuses(event);
	json_decref(event);
	event = pull_event(sock);
	assert_int_equal(json_integer_value(json_object_get(event, "n")), 5);
	assert_int_equal(json_integer_value(json_object_get(event, "v")), 1);
	json_decref(event);
	/* Not an object: refused, reference still consumed. */
	assert_int_equal(orch_sdk_events_send(events, json_string("x")),
			 NNG_EINVAL);
	orch_sdk_events_close(events);
	nng_close(sock);
}




/* ------------------------------------------- the request server, deferred */

#define HELD_MAX 40

/* What the deferring handler keeps: every request handed to it. */
struct held {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct orch_reqserver_request *reqs[HELD_MAX];
	int user[HELD_MAX];
	unsigned n;
	unsigned dropped;
};

static void held_handle(void *arg, struct orch_reqserver_request *req)
{
	struct held *held = arg;

	pthread_mutex_lock(&held->lock);
	assert_true(held->n < HELD_MAX);
	held->user[held->n] = (int)held->n;
	orch_reqserver_request_set_user(req, &held->user[held->n]);
	held->reqs[held->n++] = req;
	pthread_cond_broadcast(&held->changed);
	pthread_mutex_unlock(&held->lock);
}

static void held_drop(void *arg, void *user)
{
	struct held *held = arg;

	assert_true(user >= (void *)&held->user[0] &&
		    user < (void *)&held->user[HELD_MAX]);
	held->dropped++;
}

static void held_wait(struct held *held, unsigned n)
{
	pthread_mutex_lock(&held->lock);
	while (held->n < n)
		pthread_cond_wait(&held->changed, &held->lock);
	pthread_mutex_unlock(&held->lock);
}

/* One raw call: sends text, returns the reply text (malloc'd) or NULL. */
static char *raw_exchange(nng_socket sock, const char *text, int timeout_ms)
{
	nng_msg *msg, *reply;
	char err[256], *answer;

	assert_int_equal(nng_msg_alloc(&msg, 0), 0);
	assert_int_equal(nng_msg_append(msg, text, strlen(text)), 0);
	if (orch_wire_exchange(sock, "inproc://held", msg, nng_clock(),
			       timeout_ms, &reply, err, sizeof(err)) != 0)
		return NULL;
	answer = strndup(nng_msg_body(reply), nng_msg_len(reply));
	nng_msg_free(reply);
	return answer;
}

struct held_caller {
	nng_socket sock;
	char text[16];
	char *answer;
	int timeout_ms;
	pthread_t thread;
};

static void *held_caller_main(void *arg)
{
	struct held_caller *c = arg;

	c->answer = raw_exchange(c->sock, c->text, c->timeout_ms);
	return NULL;
}

static void held_callers_start(struct held_caller *callers, unsigned n,
			       nng_socket sock, int timeout_ms)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		callers[i].sock = sock;
		callers[i].timeout_ms = timeout_ms;
		snprintf(callers[i].text, sizeof(callers[i].text), "r%u", i);
		assert_int_equal(pthread_create(&callers[i].thread, NULL,
						held_caller_main, &callers[i]),
				 0);
	}
}

/* Answers every held request with its own text, newest first. */
static void held_answer_all(struct held *held)
{
	nng_msg *reply, *req;

	pthread_mutex_lock(&held->lock);
	while (held->n > 0) {
		req = orch_reqserver_request_msg(held->reqs[--held->n]);
		assert_int_equal(nng_msg_alloc(&reply, 0), 0);
		assert_int_equal(nng_msg_append(reply, nng_msg_body(req),
						nng_msg_len(req)), 0);
		orch_reqserver_reply(held->reqs[held->n], reply);
	}
	pthread_mutex_unlock(&held->lock);
}

/* 40 requests held at once by 2 handler threads with 2 contexts
 * receiving, each answered later with its own text; one more is answered
 * "busy" at once; a stop with 3 requests held drops them (drop called,
 * ASan: nothing leaks) and their callers time out. */
static void test_reqserver_deferred(void **state)
{
	struct held held = {PTHREAD_MUTEX_INITIALIZER,
			    PTHREAD_COND_INITIALIZER, {0}, {0}, 0, 0};
	struct held_caller callers[HELD_MAX];
	struct orch_reqserver_config config = {
		.threads = 2, .receivers = 2, .max_held = HELD_MAX,
		.send_timeout_ms = TEST_GUARD_MS, .handle = held_handle,
		.drop = held_drop, .arg = &held,
	};
	struct orch_reqserver *server;
	nng_socket rep, req;
	char err[256], *answer;
	unsigned i;

	(void)state;
	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(nng_listen(rep, "inproc://held", NULL, 0), 0);
	assert_int_equal(nng_msg_alloc(&config.busy, 0), 0);
	assert_int_equal(nng_msg_append(config.busy, "busy", 4), 0);
	assert_int_equal(orch_reqserver_start(rep, &config, &server, err,
					      sizeof(err)), 0);
	assert_int_equal(nng_req0_open(&req), 0);
	assert_int_equal(nng_dial(req, "inproc://held", NULL, 0), 0);

	held_callers_start(callers, HELD_MAX, req, TEST_GUARD_MS);
	held_wait(&held, HELD_MAX);
	answer = raw_exchange(req, "one more", TEST_GUARD_MS);
	assert_non_null(answer);
	assert_string_equal(answer, "busy");
	free(answer);
	held_answer_all(&held);
	for (i = 0; i < HELD_MAX; i++) {
		pthread_join(callers[i].thread, NULL);
		assert_non_null(callers[i].answer);
		assert_string_equal(callers[i].answer, callers[i].text);
		free(callers[i].answer);
	}

	/* The contexts answered are reused; a stop drops what is held. */
	held_callers_start(callers, 3, req, 1000);
	held_wait(&held, 3);
	for (i = 0; i < 3; i++) {
		pthread_join(callers[i].thread, NULL);
		assert_null(callers[i].answer);
	}
	orch_reqserver_stop(server);
	assert_int_equal(held.dropped, 3);
	nng_close(req);
	nng_close(rep);
}

/* A round over one transport: round(url, arg) on url, or (url NULL) on
 * ipc://<a fresh temporary directory>/<sock>, removed afterwards. */
struct round_case {
	void (*round)(const char *url, bool arg);
	const char *url;
	const char *sock;
	bool arg;
};

static void test_round(void **state)
{
	const struct round_case *c = *state;
	char dir[64], url[128];

	if (c->url != NULL) {
		c->round(c->url, c->arg);
		return;
	}
	assert_int_equal(test_tmpdir_make(dir, sizeof(dir), "sdk-test"), 0);
	snprintf(url, sizeof(url), "ipc://%s/%s", dir, c->sock);
	c->round(url, c->arg);
	assert_int_equal(test_tmpdir_remove(dir), 0);
}

static const struct round_case round_trip_inproc = {
	round_trip, "inproc://sdk-test-round-trip", NULL, false};
static const struct round_case round_trip_ipc = {round_trip, NULL,
						 "req.sock", false};
static const struct round_case events_inproc = {
	events_round_trip, "inproc://sdk-test-events", NULL, false};
static const struct round_case events_dial_first = {
	events_round_trip, "inproc://sdk-test-events-early", NULL, true};
static const struct round_case events_ipc = {events_round_trip, NULL,
					     "ev.sock", false};

#define ROUND_TEST(name, c) {name, test_round, NULL, NULL, (void *)&(c)}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ROUND_TEST("test_round_trip_inproc", round_trip_inproc),
		ROUND_TEST("test_round_trip_ipc", round_trip_ipc),
		cmocka_unit_test(test_concurrent_callers),
		cmocka_unit_test(test_malformed_requests),
		cmocka_unit_test(test_client_errors),
		ROUND_TEST("test_events_inproc", events_inproc),
		ROUND_TEST("test_events_dial_before_listen", events_dial_first),
		ROUND_TEST("test_events_ipc", events_ipc),
		cmocka_unit_test(test_reqserver_deferred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

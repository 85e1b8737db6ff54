/*
 * orch_sdk.c: the plugin SDK's transport half (orch_sdk.h): the request
 * server a plugin runs on its request_url, the event sender it dials to the
 * host's event_url, and the request client the host uses to call a plugin.
 *
 * State owned here: one nng socket per server/sender/client and, for a
 * server, one worker thread per nng context. A worker blocks on its own aio
 * (receive, decode, call the handler, encode, send) so that a slow handler
 * (a docker call, say) only ever holds its own thread, never one of nng's
 * shared callback threads. Every message is a compact JSON object; the
 * protocol version check and the error reply for malformed requests happen
 * here so that handlers only ever see well-formed requests.
 */
#include "orch_sdk.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Largest message accepted from a peer. A schedule request carries every
 * node of the cluster and a whole batch of tasks, so nng's 1 MiB default is
 * far too small. */
#define ORCH_SDK_MAX_MESSAGE ((size_t)256 << 20)

/* How long an event send may wait for the host to take it. */
#define ORCH_SDK_EVENT_SEND_TIMEOUT_MS 10000

static void sdk_errorf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void sdk_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- codec */

/* Encodes a JSON object into a new nng message. NULL when out of memory. */
static nng_msg *sdk_encode(json_t *object)
{
	char *text;
	nng_msg *msg;

	text = json_dumps(object, JSON_COMPACT);
	if (text == NULL)
		return NULL;
	if (nng_msg_alloc(&msg, 0) != 0) {
		free(text);
		return NULL;
	}
	if (nng_msg_append(msg, text, strlen(text)) != 0) {
		nng_msg_free(msg);
		msg = NULL;
	}
	free(text);
	return msg;
}

/* Decodes a message body as one JSON object. NULL with err on failure. */
static json_t *sdk_decode(nng_msg *msg, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *value;

	value = json_loadb(nng_msg_body(msg), nng_msg_len(msg), 0, &jerr);
	if (value == NULL) {
		sdk_errorf(err, errlen, "not JSON (%s at byte %d)", jerr.text,
			   jerr.position);
		return NULL;
	}
	if (!json_is_object(value)) {
		json_decref(value);
		sdk_errorf(err, errlen, "not a JSON object");
		return NULL;
	}
	return value;
}

/* True when object has "v" equal to the protocol version. */
static bool sdk_version_ok(json_t *object)
{
	json_t *v = json_object_get(object, "v");

	return json_is_integer(v) &&
	       json_integer_value(v) == ORCH_PROTOCOL_VERSION;
}

/* Sets "v" on a reply or event; false when out of memory. */
static bool sdk_stamp_version(json_t *object)
{
	return json_object_set_new(object, "v",
				   json_integer(ORCH_PROTOCOL_VERSION)) == 0;
}

json_t *orch_sdk_error(const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return json_pack("{s:i, s:s}", "v", ORCH_PROTOCOL_VERSION, "error",
			 text);
}

/* --------------------------------------------------------------- server */

struct sdk_worker {
	struct orch_sdk_server *server;
	nng_ctx ctx;
	nng_aio *aio;
	pthread_t thread;
	bool ctx_open;
	bool thread_started;
};

struct orch_sdk_server {
	nng_socket socket;
	orch_sdk_handler handler;
	void *handler_ctx;
	unsigned n_workers;
	struct sdk_worker *workers;
};

/* Turns one request message into its reply object (never NULL unless out
 * of memory): malformed requests get an error, others go to the handler. */
static json_t *server_answer(struct orch_sdk_server *server, nng_msg *msg)
{
	char why[256];
	json_t *request, *op, *reply;

	request = sdk_decode(msg, why, sizeof(why));
	if (request == NULL)
		return orch_sdk_error("malformed request: %s", why);
	if (!sdk_version_ok(request)) {
		json_decref(request);
		return orch_sdk_error("malformed request: \"v\" must be %d",
				      ORCH_PROTOCOL_VERSION);
	}
	op = json_object_get(request, "op");
	if (!json_is_string(op)) {
		json_decref(request);
		return orch_sdk_error(
			"malformed request: \"op\" missing or not a string");
	}
	reply = server->handler(server->handler_ctx, json_string_value(op),
				request);
	json_decref(request);
	if (reply == NULL)
		return orch_sdk_error("internal error: no reply");
	if (!json_is_object(reply)) {
		json_decref(reply);
		return orch_sdk_error("internal error: reply is not an object");
	}
	if (!sdk_stamp_version(reply)) {
		json_decref(reply);
		return NULL;
	}
	return reply;
}

/* Sends reply on the worker's context. Returns false when the socket is
 * closed (the worker should exit). */
static bool worker_send(struct sdk_worker *worker, json_t *reply)
{
	nng_msg *msg;
	int rv;

	msg = sdk_encode(reply);
	if (msg == NULL)
		return true; /* out of memory: the client times out */
	nng_aio_set_msg(worker->aio, msg);
	nng_ctx_send(worker->ctx, worker->aio);
	nng_aio_wait(worker->aio);
	rv = nng_aio_result(worker->aio);
	if (rv != 0) {
		nng_msg_free(msg);
		return rv != NNG_ECLOSED && rv != NNG_ECANCELED;
	}
	return true;
}

/* One worker: receive, answer, send, until the socket closes. */
static void *worker_main(void *arg)
{
	struct sdk_worker *worker = arg;
	json_t *reply;
	nng_msg *msg;
	bool more = true;
	int rv;

	while (more) {
		nng_ctx_recv(worker->ctx, worker->aio);
		nng_aio_wait(worker->aio);
		rv = nng_aio_result(worker->aio);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			break; /* orch_sdk_server_stop */
		if (rv != 0)
			continue; /* a transient failure of one request */
		msg = nng_aio_get_msg(worker->aio);
		reply = server_answer(worker->server, msg);
		nng_msg_free(msg);
		if (reply == NULL)
			continue;
		more = worker_send(worker, reply);
		json_decref(reply);
	}
	return NULL;
}

static int server_open_socket(struct orch_sdk_server *server,
			      const char *url, char *err, size_t errlen)
{
	int rv;

	rv = nng_rep0_open(&server->socket);
	if (rv != 0) {
		sdk_errorf(err, errlen, "cannot open REP socket: %s",
			   nng_strerror(rv));
		return -1;
	}
	rv = nng_socket_set_size(server->socket, NNG_OPT_RECVMAXSZ,
				 ORCH_SDK_MAX_MESSAGE);
	if (rv == 0)
		rv = nng_listen(server->socket, url, NULL, 0);
	if (rv != 0) {
		sdk_errorf(err, errlen, "cannot listen on %s: %s", url,
			   nng_strerror(rv));
		nng_close(server->socket);
		return -1;
	}
	return 0;
}

static int worker_start(struct orch_sdk_server *server,
			struct sdk_worker *worker, char *err, size_t errlen)
{
	int rv;

	worker->server = server;
	rv = nng_aio_alloc(&worker->aio, NULL, NULL);
	if (rv == 0) {
		rv = nng_ctx_open(&worker->ctx, server->socket);
		worker->ctx_open = rv == 0;
	}
	if (rv != 0) {
		sdk_errorf(err, errlen, "cannot set up a worker: %s",
			   nng_strerror(rv));
		return -1;
	}
	rv = pthread_create(&worker->thread, NULL, worker_main, worker);
	if (rv != 0) {
		sdk_errorf(err, errlen, "cannot start a worker thread: %s",
			   strerror(rv));
		return -1;
	}
	worker->thread_started = true;
	return 0;
}

int orch_sdk_server_start(const char *url, unsigned workers,
			  orch_sdk_handler handler, void *ctx,
			  struct orch_sdk_server **out, char *err,
			  size_t errlen)
{
	struct orch_sdk_server *server;
	unsigned i;

	*out = NULL;
	if (url == NULL || handler == NULL || workers == 0) {
		sdk_errorf(err, errlen,
			   "server needs a url, a handler and >= 1 worker");
		return -1;
	}
	server = calloc(1, sizeof(*server));
	if (server != NULL)
		server->workers = calloc(workers, sizeof(*server->workers));
	if (server == NULL || server->workers == NULL) {
		free(server);
		sdk_errorf(err, errlen, "out of memory");
		return -1;
	}
	server->handler = handler;
	server->handler_ctx = ctx;
	server->n_workers = workers;
	if (server_open_socket(server, url, err, errlen) != 0) {
		free(server->workers);
		free(server);
		return -1;
	}
	for (i = 0; i < workers; i++) {
		if (worker_start(server, &server->workers[i], err, errlen)) {
			orch_sdk_server_stop(server);
			return -1;
		}
	}
	*out = server;
	return 0;
}

void orch_sdk_server_stop(struct orch_sdk_server *server)
{
	struct sdk_worker *worker;
	unsigned i;

	if (server == NULL)
		return;
	/* Stopping a worker's aio aborts the operation it waits for and
	 * fails every later one with NNG_ECANCELED, so each worker finishes
	 * the request it is handling (if any) and exits. Contexts and socket
	 * are closed only when no thread can be inside an nng call on them:
	 * nng 1.5 may panic, or leave an operation hanging, when a socket is
	 * closed while another thread is entering or leaving one. */
	for (i = 0; i < server->n_workers; i++)
		if (server->workers[i].aio != NULL)
			nng_aio_stop(server->workers[i].aio);
	for (i = 0; i < server->n_workers; i++) {
		worker = &server->workers[i];
		if (worker->thread_started)
			pthread_join(worker->thread, NULL);
		if (worker->ctx_open)
			nng_ctx_close(worker->ctx);
		if (worker->aio != NULL)
			nng_aio_free(worker->aio);
	}
	nng_close(server->socket);
	free(server->workers);
	free(server);
}

/* --------------------------------------------------------------- events */

struct orch_sdk_events {
	nng_socket socket;
};

int orch_sdk_events_open(const char *url, struct orch_sdk_events **out,
			 char *err, size_t errlen)
{
	struct orch_sdk_events *events;
	int rv;

	*out = NULL;
	events = calloc(1, sizeof(*events));
	if (events == NULL) {
		sdk_errorf(err, errlen, "out of memory");
		return -1;
	}
	rv = nng_push0_open(&events->socket);
	if (rv != 0) {
		sdk_errorf(err, errlen, "cannot open PUSH socket: %s",
			   nng_strerror(rv));
		free(events);
		return -1;
	}
	rv = nng_socket_set_ms(events->socket, NNG_OPT_SENDTIMEO,
			       ORCH_SDK_EVENT_SEND_TIMEOUT_MS);
	/* Non-blocking: the dialer keeps retrying in the background, so a
	 * host that listens late or restarts is reached when it comes. */
	if (rv == 0)
		rv = nng_dial(events->socket, url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		sdk_errorf(err, errlen, "cannot dial %s: %s", url,
			   nng_strerror(rv));
		nng_close(events->socket);
		free(events);
		return -1;
	}
	*out = events;
	return 0;
}

int orch_sdk_events_send(struct orch_sdk_events *events, json_t *event)
{
	nng_msg *msg;
	int rv;

	if (events == NULL || !json_is_object(event)) {
		json_decref(event);
		return NNG_EINVAL;
	}
	if (!sdk_stamp_version(event)) {
		json_decref(event);
		return NNG_ENOMEM;
	}
	msg = sdk_encode(event);
	json_decref(event);
	if (msg == NULL)
		return NNG_ENOMEM;
	/* nng sockets are thread-safe: concurrent senders need no lock. */
	rv = nng_sendmsg(events->socket, msg, 0);
	if (rv != 0)
		nng_msg_free(msg);
	return rv;
}

json_t *orch_sdk_task_status(const char *task_id, const char *state,
			     int exit_code, const char *error,
			     const char *runtime_id)
{
	struct timespec now;
	json_t *status;

	clock_gettime(CLOCK_REALTIME, &now);
	status = json_pack("{s:s, s:s, s:i, s:I}", "task_id", task_id,
			   "state", state, "exit_code", exit_code,
			   "timestamp_ns",
			   (json_int_t)now.tv_sec * 1000000000 + now.tv_nsec);
	if (status == NULL)
		return NULL;
	if ((error != NULL &&
	     json_object_set_new(status, "error", json_string(error)) != 0) ||
	    (runtime_id != NULL &&
	     json_object_set_new(status, "runtime_id",
				 json_string(runtime_id)) != 0)) {
		json_decref(status);
		return NULL;
	}
	return status;
}

int orch_sdk_events_send_statuses(struct orch_sdk_events *events,
				  const char *plugin, json_t *statuses)
{
	json_t *event;

	if (!json_is_array(statuses) || plugin == NULL) {
		json_decref(statuses);
		return NNG_EINVAL;
	}
	event = json_pack("{s:s, s:s, s:o}", "op", ORCH_OP_TASK_STATUS,
			  "plugin", plugin, "statuses", statuses);
	if (event == NULL)
		return NNG_ENOMEM; /* "o" stole statuses even on failure */
	return orch_sdk_events_send(events, event);
}

void orch_sdk_events_close(struct orch_sdk_events *events)
{
	if (events == NULL)
		return;
	nng_close(events->socket);
	free(events);
}

/* --------------------------------------------------------------- client */

struct orch_sdk_client {
	nng_socket socket;
	char *url;
};

int orch_sdk_client_open(const char *url, struct orch_sdk_client **out,
			 char *err, size_t errlen)
{
	struct orch_sdk_client *client;
	int rv;

	*out = NULL;
	client = calloc(1, sizeof(*client));
	if (client != NULL)
		client->url = strdup(url);
	if (client == NULL || client->url == NULL) {
		free(client);
		sdk_errorf(err, errlen, "out of memory");
		return -1;
	}
	rv = nng_req0_open(&client->socket);
	if (rv != 0) {
		sdk_errorf(err, errlen, "cannot open REQ socket: %s",
			   nng_strerror(rv));
		free(client->url);
		free(client);
		return -1;
	}
	rv = nng_socket_set_size(client->socket, NNG_OPT_RECVMAXSZ,
				 ORCH_SDK_MAX_MESSAGE);
	/* A blocking first dial reports a plugin that is not serving; after
	 * that the dialer reconnects by itself. */
	if (rv == 0)
		rv = nng_dial(client->socket, url, NULL, 0);
	if (rv != 0) {
		sdk_errorf(err, errlen, "cannot dial %s: %s", url,
			   nng_strerror(rv));
		orch_sdk_client_close(client);
		return -1;
	}
	*out = client;
	return 0;
}

/* Runs one send or receive on ctx through aio and waits for it. */
static int client_step(nng_ctx ctx, nng_aio *aio, bool send, int timeout_ms)
{
	nng_aio_set_timeout(aio, timeout_ms < 0 ? NNG_DURATION_INFINITE
						: (nng_duration)timeout_ms);
	if (send)
		nng_ctx_send(ctx, aio);
	else
		nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	return nng_aio_result(aio);
}

/* One request/reply exchange on a context of its own, so that several
 * threads may call through one client at once. */
static int client_exchange(struct orch_sdk_client *client, nng_msg *request,
			   int timeout_ms, nng_msg **reply, char *err,
			   size_t errlen)
{
	nng_aio *aio;
	nng_ctx ctx;
	int rv;

	rv = nng_aio_alloc(&aio, NULL, NULL);
	if (rv != 0) {
		nng_msg_free(request);
		sdk_errorf(err, errlen, "cannot call %s: %s", client->url,
			   nng_strerror(rv));
		return -1;
	}
	rv = nng_ctx_open(&ctx, client->socket);
	if (rv != 0) {
		nng_msg_free(request);
		nng_aio_free(aio);
		sdk_errorf(err, errlen, "cannot call %s: %s", client->url,
			   nng_strerror(rv));
		return -1;
	}
	nng_aio_set_msg(aio, request);
	rv = client_step(ctx, aio, true, timeout_ms);
	if (rv != 0) {
		nng_msg_free(request);
		sdk_errorf(err, errlen, "cannot send to %s: %s", client->url,
			   nng_strerror(rv));
	} else {
		rv = client_step(ctx, aio, false, timeout_ms);
		if (rv == 0)
			*reply = nng_aio_get_msg(aio);
		else
			sdk_errorf(err, errlen, "no reply from %s: %s",
				   client->url, nng_strerror(rv));
	}
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return rv == 0 ? 0 : -1;
}

int orch_sdk_client_call(struct orch_sdk_client *client, json_t *request,
			 int timeout_ms, json_t **reply, char *err,
			 size_t errlen)
{
	char why[256];
	nng_msg *msg, *answer;
	json_t *decoded;

	*reply = NULL;
	if (!json_is_object(request)) {
		json_decref(request);
		sdk_errorf(err, errlen, "request is not a JSON object");
		return -1;
	}
	/* A caller may set "v" itself (tests of version checks do). */
	if (json_object_get(request, "v") == NULL &&
	    !sdk_stamp_version(request))
		msg = NULL;
	else
		msg = sdk_encode(request);
	json_decref(request);
	if (msg == NULL) {
		sdk_errorf(err, errlen, "out of memory");
		return -1;
	}
	if (client_exchange(client, msg, timeout_ms, &answer, err, errlen))
		return -1;
	decoded = sdk_decode(answer, why, sizeof(why));
	nng_msg_free(answer);
	if (decoded == NULL) {
		sdk_errorf(err, errlen, "garbage reply from %s: %s",
			   client->url, why);
		return -1;
	}
	if (!sdk_version_ok(decoded)) {
		json_decref(decoded);
		sdk_errorf(err, errlen,
			   "garbage reply from %s: \"v\" is not %d",
			   client->url, ORCH_PROTOCOL_VERSION);
		return -1;
	}
	*reply = decoded;
	return 0;
}

void orch_sdk_client_close(struct orch_sdk_client *client)
{
	if (client == NULL)
		return;
	nng_close(client->socket);
	free(client->url);
	free(client);
}

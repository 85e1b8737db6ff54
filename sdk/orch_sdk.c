/*
 * orch_sdk.c: the plugin SDK's transport half (orch_sdk.h): the request
 * server a plugin runs on its request_url, the event sender it dials to the
 * host's event_url, and the request client the host uses to call a plugin.
 *
 * The server is orchd's one request server (orch_reqserver.h) with
 * `workers` contexts and as many handler threads, answering each request
 * before its handler thread takes the next; a slow handler (a docker call,
 * say) holds its own thread, never one of nng's callback threads. State
 * owned here: one nng socket per server/sender/client. Every message is a
 * compact JSON object (orch_wire.h); the protocol version check and the
 * error reply for malformed requests happen here so that handlers only
 * ever see well-formed requests.
 */
#include "orch_sdk.h"
#include "orch_reqserver.h"
#include "orch_wire.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/req.h>

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

/* How long a reply may wait for the caller's connection to take it. */
#define ORCH_SDK_REPLY_SEND_TIMEOUT_MS 10000

json_t *orch_sdk_error(const char *fmt, ...)
{
	json_t *error;
	va_list ap;

	va_start(ap, fmt);
	error = orch_wire_verror(ORCH_PROTOCOL_VERSION, fmt, ap);
	va_end(ap);
	return error;
}

/* --------------------------------------------------------------- server */

struct orch_sdk_server {
	nng_socket socket;
	struct orch_reqserver *requests;
	orch_sdk_handler handler;
	void *handler_ctx;
};

/* Turns one request message into its reply object (never NULL unless out
 * of memory): malformed requests get an error, others go to the handler. */
static json_t *server_answer(struct orch_sdk_server *server, nng_msg *msg)
{
	char why[256];
	json_t *request, *op, *reply;

	request = orch_wire_decode(msg, ORCH_PROTOCOL_VERSION, why,
				   sizeof(why));
	if (request == NULL)
		return orch_sdk_error("malformed request: %s", why);
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
	if (!orch_wire_stamp(reply, ORCH_PROTOCOL_VERSION)) {
		json_decref(reply);
		return NULL;
	}
	return reply;
}

/* The request server's handler: answers at once, on this thread. An
 * answer that cannot be encoded (out of memory) is none: the caller times
 * out. */
static void server_handle(void *arg, struct orch_reqserver_request *req)
{
	json_t *reply = server_answer(arg, orch_reqserver_request_msg(req));
	nng_msg *msg = reply != NULL ? orch_wire_encode(reply) : NULL;

	json_decref(reply);
	orch_reqserver_reply(req, msg);
}

static int server_open_socket(struct orch_sdk_server *server,
			      const char *url, char *err, size_t errlen)
{
	int rv;

	if (orch_reqserver_socket(&server->socket, ORCH_SDK_MAX_MESSAGE, err,
				  errlen) != 0)
		return -1;
	rv = nng_listen(server->socket, url, NULL, 0);
	if (rv != 0) {
		orch_errorf(err, errlen, "cannot listen on %s: %s", url,
				 nng_strerror(rv));
		nng_close(server->socket);
		return -1;
	}
	return 0;
}

int orch_sdk_server_start(const char *url, unsigned workers,
			  orch_sdk_handler handler, void *ctx,
			  struct orch_sdk_server **out, char *err,
			  size_t errlen)
{
	struct orch_reqserver_config config = {
		.threads = workers,
		.receivers = workers,
		.max_held = workers,
		.send_timeout_ms = ORCH_SDK_REPLY_SEND_TIMEOUT_MS,
		.handle = server_handle,
	};
	struct orch_sdk_server *server;

	*out = NULL;
	if (url == NULL || handler == NULL || workers == 0) {
		orch_errorf(err, errlen,
				 "server needs a url, a handler and >= 1 "
				 "worker");
		return -1;
	}
	server = calloc(1, sizeof(*server));
	if (server == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	server->handler = handler;
	server->handler_ctx = ctx;
	config.arg = server;
	if (server_open_socket(server, url, err, errlen) != 0) {
		free(server);
		return -1;
	}
	if (orch_reqserver_start(server->socket, &config, &server->requests,
				 err, errlen) != 0) {
		nng_close(server->socket);
		free(server);
		return -1;
	}
	*out = server;
	return 0;
}

void orch_sdk_server_stop(struct orch_sdk_server *server)
{
	if (server == NULL)
		return;
	/* Contexts first, then the socket: nng 1.5 may panic, or leave an
	 * operation hanging, when a socket is closed while an operation on
	 * one of its contexts is starting or ending. */
	orch_reqserver_stop(server->requests);
	nng_close(server->socket);
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
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	rv = nng_push0_open(&events->socket);
	if (rv != 0) {
		orch_errorf(err, errlen, "cannot open PUSH socket: %s",
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
		orch_errorf(err, errlen, "cannot dial %s: %s", url,
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
	if (!orch_wire_stamp(event, ORCH_PROTOCOL_VERSION)) {
		json_decref(event);
		return NNG_ENOMEM;
	}
	msg = orch_wire_encode(event);
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
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	rv = nng_req0_open(&client->socket);
	if (rv != 0) {
		orch_errorf(err, errlen, "cannot open REQ socket: %s",
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
		orch_errorf(err, errlen, "cannot dial %s: %s", url,
				 nng_strerror(rv));
		orch_sdk_client_close(client);
		return -1;
	}
	*out = client;
	return 0;
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
		orch_errorf(err, errlen, "request is not a JSON object");
		return -1;
	}
	/* A caller may set "v" itself (tests of version checks do). */
	if (json_object_get(request, "v") == NULL &&
	    !orch_wire_stamp(request, ORCH_PROTOCOL_VERSION))
		msg = NULL;
	else
		msg = orch_wire_encode(request);
	json_decref(request);
	if (msg == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	if (orch_wire_exchange(client->socket, client->url, msg, nng_clock(),
			       timeout_ms, &answer, err, errlen) != 0)
		return -1;
	decoded = orch_wire_decode(answer, ORCH_PROTOCOL_VERSION, why,
				   sizeof(why));
	nng_msg_free(answer);
	if (decoded == NULL) {
		orch_errorf(err, errlen, "garbage reply from %s: %s",
				 client->url, why);
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

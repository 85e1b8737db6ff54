/*
 * plugin_client.c: how the host calls a plugin, and whether it can. Owns
 * each plugin's request socket (nng REQ, one per run of a child) and its
 * life state (running, down and why, stopped), both under the plugin's
 * lock. A call takes a context of its own on the socket, so calls run in
 * parallel; when a child dies the supervisor closes the socket, which ends
 * the calls in flight at once (nng sockets are ids: a call that still
 * holds a closed one just gets NNG_ECLOSED) and none is ever resent to the
 * restarted child.
 */
#include "plugin_host_impl.h"

#include "orch_protocol.h"
#include "orch_wire.h"

#include <nng/protocol/reqrep0/req.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest reply accepted from a plugin (a schedule reply for a big batch). */
#define CLIENT_MAX_MESSAGE ((size_t)256 << 20)

int client_connect(struct plugin_host_plugin *p, char *why, size_t size)
{
	nng_socket socket;
	int rv;

	rv = nng_req0_open(&socket);
	if (rv != 0) {
		util_errorf(why, size, "cannot open a request socket: %s",
			    nng_strerror(rv));
		return -1;
	}
	/* A blocking first dial reports a plugin that is not serving. */
	rv = nng_socket_set_size(socket, NNG_OPT_RECVMAXSZ, CLIENT_MAX_MESSAGE);
	if (rv == 0)
		rv = nng_dial(socket, p->request_url, NULL, 0);
	if (rv != 0) {
		nng_close(socket);
		util_errorf(why, size, "cannot dial %s: %s", p->request_url,
			    nng_strerror(rv));
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	p->client = socket;
	p->client_open = true;
	p->pid_running = p->pid;
	p->life = PLUGIN_RUNNING;
	p->ping_wanted = false;
	p->why[0] = '\0';
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* Sets p's state and takes its socket away; closes that outside the lock. */
static void client_take_down(struct plugin_host_plugin *p,
			     enum plugin_life life, const char *why,
			     int restart_ms)
{
	nng_socket socket;
	bool was_open;

	pthread_mutex_lock(&p->lock);
	p->life = life;
	snprintf(p->why, sizeof(p->why), "%s", why);
	p->restart_ns = host_now_ns() + (int64_t)restart_ms * 1000000;
	was_open = p->client_open;
	socket = p->client;
	p->client_open = false;
	p->pid_running = 0;
	pthread_mutex_unlock(&p->lock);
	if (was_open)
		nng_close(socket);
}

void client_down(struct plugin_host_plugin *p, const char *why,
		 int restart_ms)
{
	client_take_down(p, PLUGIN_DOWN, why, restart_ms);
}

void client_close(struct plugin_host_plugin *p)
{
	client_take_down(p, PLUGIN_STOPPED, "orchd is stopping its plugins",
			 0);
}

/* Why p does not answer, with the lock held. */
static void unavailable_text(struct plugin_host_plugin *p, char *out,
			     size_t size)
{
	int64_t left = p->restart_ns - host_now_ns();

	if (p->life == PLUGIN_DOWN)
		snprintf(out, size,
			 "plugin %s is unavailable: %s, restarting in %.1f s",
			 p->name, p->why, left > 0 ? (double)left / 1e9 : 0.0);
	else
		snprintf(out, size, "plugin %s is unavailable: %s", p->name,
			 p->why);
}

bool plugin_host_available(struct plugin_host_plugin *plugin, char *why,
			   size_t size)
{
	bool running;

	pthread_mutex_lock(&plugin->lock);
	running = plugin->life == PLUGIN_RUNNING;
	if (!running)
		unavailable_text(plugin, why, size);
	pthread_mutex_unlock(&plugin->lock);
	return running;
}

/* The request as a message, "v" stamped unless the caller set one (tests
 * of version checks do). Steals request. */
static nng_msg *request_encode(json_t *request)
{
	nng_msg *msg = NULL;
	char *text = NULL;

	if (json_object_get(request, "v") == NULL)
		json_object_set_new(request, "v",
				    json_integer(ORCH_PROTOCOL_VERSION));
	text = json_dumps(request, JSON_COMPACT);
	json_decref(request);
	if (text != NULL && nng_msg_alloc(&msg, 0) == 0 &&
	    nng_msg_append(msg, text, strlen(text)) != 0) {
		nng_msg_free(msg);
		msg = NULL;
	}
	free(text);
	return msg;
}

/* Decodes a reply: a JSON object with "v" == ORCH_PROTOCOL_VERSION. */
static int reply_decode(struct plugin_host_plugin *p, nng_msg *msg,
			json_t **reply, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *value, *v;

	value = json_loadb(nng_msg_body(msg), nng_msg_len(msg), 0, &jerr);
	nng_msg_free(msg);
	if (!json_is_object(value)) {
		json_decref(value);
		util_errorf(err, errlen,
			    "plugin %s: garbage reply: %s", p->name,
			    value == NULL ? jerr.text : "not a JSON object");
		return -1;
	}
	v = json_object_get(value, "v");
	if (!json_is_integer(v) ||
	    json_integer_value(v) != ORCH_PROTOCOL_VERSION) {
		json_decref(value);
		util_errorf(err, errlen,
			    "plugin %s: garbage reply: \"v\" is not %d",
			    p->name, ORCH_PROTOCOL_VERSION);
		return -1;
	}
	*reply = value;
	return 0;
}

/* Sends msg on socket and waits for the answer, each step within
 * timeout_ms (< 0: forever): 0 or an nng error, which the caller reads
 * (a closed socket means the plugin went down). */
static int exchange(nng_socket socket, nng_msg *msg, int timeout_ms,
		    nng_msg **answer)
{
	nng_duration step = timeout_ms < 0 ? NNG_DURATION_INFINITE
					   : (nng_duration)timeout_ms;
	nng_aio *aio;
	nng_ctx ctx;
	int rv;

	rv = nng_aio_alloc(&aio, NULL, NULL);
	if (rv != 0) {
		nng_msg_free(msg);
		return rv;
	}
	rv = nng_ctx_open(&ctx, socket);
	if (rv != 0) {
		nng_msg_free(msg);
		nng_aio_free(aio);
		return rv;
	}
	nng_aio_set_msg(aio, msg);
	rv = orch_wire_step(ctx, aio, true, step);
	if (rv != 0)
		nng_msg_free(msg);
	else if ((rv = orch_wire_step(ctx, aio, false, step)) == 0)
		*answer = nng_aio_get_msg(aio);
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return rv;
}

/* What a failed exchange means: the plugin went down during it (its
 * socket was closed), or the transport's own error. */
static void exchange_error(struct plugin_host_plugin *p, int rv,
			   char *err, size_t errlen)
{
	pthread_mutex_lock(&p->lock);
	if (rv == NNG_ECLOSED && p->life != PLUGIN_RUNNING)
		unavailable_text(p, err, errlen);
	else
		util_errorf(err, errlen, "plugin %s: no reply from %s: %s",
			    p->name, p->request_url, nng_strerror(rv));
	pthread_mutex_unlock(&p->lock);
}

int client_call(struct plugin_host_plugin *p, json_t *request,
		int timeout_ms, json_t **reply, char *err, size_t errlen)
{
	nng_msg *msg, *answer = NULL;
	nng_socket socket;
	int rv;

	*reply = NULL;
	if (!json_is_object(request)) {
		json_decref(request);
		util_errorf(err, errlen, "plugin %s: request is not a JSON "
					 "object", p->name);
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	if (!p->client_open) {
		unavailable_text(p, err, errlen);
		pthread_mutex_unlock(&p->lock);
		json_decref(request);
		return -1;
	}
	socket = p->client;
	pthread_mutex_unlock(&p->lock);
	msg = request_encode(request);
	if (msg == NULL) {
		util_errorf(err, errlen, "plugin %s: out of memory", p->name);
		return -1;
	}
	rv = exchange(socket, msg, timeout_ms, &answer);
	if (rv != 0) {
		exchange_error(p, rv, err, errlen);
		return rv == NNG_ETIMEDOUT ? -2 : -1;
	}
	return reply_decode(p, answer, reply, err, errlen);
}

int plugin_host_call(struct plugin_host_plugin *plugin, json_t *request,
		     int timeout_ms, json_t **reply, char *err, size_t errlen)
{
	int rc = client_call(plugin, request, timeout_ms, reply, err, errlen);

	if (rc == -2 && plugin->transport == PLUGIN_HOST_IPC) {
		/* Slow or hung? The supervisor asks it for its "info". */
		pthread_mutex_lock(&plugin->lock);
		plugin->ping_wanted = true;
		pthread_mutex_unlock(&plugin->lock);
		supervisor_wake(plugin->host);
	}
	return rc == 0 ? 0 : -1;
}

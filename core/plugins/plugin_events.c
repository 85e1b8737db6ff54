/*
 * plugin_events.c: the host's event receiver and its URLs. Owns the PULL
 * socket every plugin pushes its events to (in-process or from a child)
 * and the receiver thread that decodes them and hands them to on_event.
 */
#include "plugin_host_impl.h"

#include "orch_protocol.h"

#include <nng/protocol/pipeline0/pull.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* Writes the URL of endpoint ("events" or "plugin-<name>") over transport
 * into url. */
int host_make_url(const struct plugin_host *host,
		  enum plugin_host_transport transport, const char *endpoint,
		  char *url, size_t size, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int n;

	if (transport == PLUGIN_HOST_INPROC) {
		n = snprintf(url, size, "inproc://orchd-%s-%s", host->instance,
			     endpoint);
		if (n < 0 || (size_t)n >= size) {
			util_errorf(err, errlen, "URL too long");
			return -1;
		}
		return 0;
	}
	n = snprintf(url, size, "ipc://%s/orchd-%s-%s.sock", host->ipc_dir,
		     host->instance, endpoint);
	if (n < 0 || (size_t)n >= size ||
	    strlen(url) - strlen("ipc://") >= sizeof(sun.sun_path)) {
		util_errorf(err, errlen,
			    "ipc socket path for %s too long (max %zu bytes)",
			    endpoint, sizeof(sun.sun_path) - 1);
		return -1;
	}
	return 0;
}

/* Decodes one event; NULL (and a log line) when it breaks the protocol. */
static json_t *event_decode(struct plugin_host *host, nng_msg *msg)
{
	json_error_t jerr;
	json_t *event, *v;

	event = json_loadb(nng_msg_body(msg), nng_msg_len(msg), 0, &jerr);
	if (!json_is_object(event)) {
		host->log(ORCH_LOG_WARN, "(unknown)",
			  "dropping an event that is not a JSON object");
		json_decref(event);
		return NULL;
	}
	v = json_object_get(event, "v");
	if (!json_is_integer(v) ||
	    json_integer_value(v) != ORCH_PROTOCOL_VERSION ||
	    !json_is_string(json_object_get(event, "op"))) {
		host->log(ORCH_LOG_WARN, "(unknown)",
			  "dropping an event without \"v\":%d and a string "
			  "\"op\"",
			  ORCH_PROTOCOL_VERSION);
		json_decref(event);
		return NULL;
	}
	return event;
}

/* The receiver thread: one event at a time until its aio is stopped. */
static void *receiver_main(void *arg)
{
	struct plugin_host *host = arg;
	json_t *event;
	nng_msg *msg;
	int rv;

	for (;;) {
		nng_recv_aio(host->events, host->receive);
		nng_aio_wait(host->receive);
		rv = nng_aio_result(host->receive);
		if (rv == NNG_ECANCELED || rv == NNG_ECLOSED)
			break; /* plugin_host_close */
		if (rv != 0)
			continue;
		msg = nng_aio_get_msg(host->receive);
		event = event_decode(host, msg);
		nng_msg_free(msg);
		if (event == NULL)
			continue;
		if (host->on_event != NULL)
			host->on_event(host->ctx, event);
		else
			json_decref(event);
	}
	return NULL;
}

/* Listens on the events URL of transport too; its URL into *url. */
static int events_listen(struct plugin_host *host,
			 enum plugin_host_transport transport, char **url,
			 char *err, size_t errlen)
{
	char text[512];
	int rv;

	if (host_make_url(host, transport, "events", text, sizeof(text), err,
			  errlen))
		return -1;
	rv = nng_listen(host->events, text, NULL, 0);
	if (rv != 0) {
		util_errorf(err, errlen, "cannot listen on %s: %s", text,
			    nng_strerror(rv));
		return -1;
	}
	*url = strdup(text);
	if (*url == NULL) {
		util_errorf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

const char *events_url(struct plugin_host *host,
		       enum plugin_host_transport transport, char *err,
		       size_t errlen)
{
	/* An in-process plugin can dial either URL; a child only ipc. */
	if (transport == PLUGIN_HOST_INPROC ||
	    host->transport == PLUGIN_HOST_IPC)
		return host->event_url;
	if (host->event_ipc_url == NULL &&
	    events_listen(host, PLUGIN_HOST_IPC, &host->event_ipc_url, err,
			  errlen) != 0)
		return NULL;
	return host->event_ipc_url;
}

int events_start(struct plugin_host *host, char *err, size_t errlen)
{
	int rv;

	rv = nng_pull0_open(&host->events);
	if (rv != 0) {
		util_errorf(err, errlen, "cannot open the event socket: %s",
			    nng_strerror(rv));
		return -1;
	}
	host->events_open = true;
	rv = nng_socket_set_size(host->events, NNG_OPT_RECVMAXSZ, 0);
	if (rv != 0) {
		util_errorf(err, errlen, "cannot set up the event socket: %s",
			    nng_strerror(rv));
		return -1;
	}
	if (events_listen(host, host->transport, &host->event_url, err,
			  errlen))
		return -1;
	rv = nng_aio_alloc(&host->receive, NULL, NULL);
	if (rv != 0) {
		util_errorf(err, errlen, "cannot set up the event receiver: %s",
			    nng_strerror(rv));
		return -1;
	}
	rv = pthread_create(&host->receiver, NULL, receiver_main, host);
	if (rv != 0) {
		util_errorf(err, errlen, "cannot start the event receiver: %s",
			    strerror(rv));
		return -1;
	}
	host->receiver_started = true;
	return 0;
}

void events_stop(struct plugin_host *host)
{
	/* Stop the receiver before closing its socket: nng 1.5 can leave a
	 * receive hanging when the socket closes while it is starting. */
	if (host->receive != NULL)
		nng_aio_stop(host->receive);
	if (host->receiver_started)
		pthread_join(host->receiver, NULL);
	if (host->receive != NULL)
		nng_aio_free(host->receive);
	if (host->events_open)
		nng_close(host->events);
}

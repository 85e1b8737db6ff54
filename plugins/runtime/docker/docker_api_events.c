/*
 * docker_api_events.c: the follower of the engine's GET /events stream
 * (docker_events_start in docker_api.h). A struct docker_events owns the
 * thread that follows the stream, a curl multi handle (so that
 * docker_events_stop can wake it at once with curl_multi_wakeup), its
 * easy handle, and the buffer of the current, not yet complete, line of
 * the newline-delimited stream. The thread reconnects, backing off from
 * 0.5 to 5 s, from the time of the last event seen.
 */
#include "docker_api_impl.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCKER_EVENTS_MAX_LINE (1u << 20)
#define DOCKER_EVENTS_POLL_MS 1000
#define DOCKER_EVENTS_BACKOFF_MIN_MS 500
#define DOCKER_EVENTS_BACKOFF_MAX_MS 5000

struct docker_events {
	char *socket_path;
	char *filters_escaped;
	docker_events_fn on_event;
	docker_events_connected_fn on_connected;
	void *ctx;
	CURLM *multi;
	CURL *curl;
	struct curl_slist *headers;
	pthread_t thread;
	atomic_bool stopping;
	struct docker_buf line;
	long long since; /* time of the last event seen, for reconnecting */
	bool status_ok;  /* the current connection answered 200 */
};

static void events_deliver_line(struct docker_events *ev, const char *line,
				size_t len)
{
	json_t *event = json_loadb(line, len, 0, NULL);
	json_t *time;

	if (!json_is_object(event)) {
		json_decref(event); /* Peer is speaking garbage: skip it. */
		return;
	}
	time = json_object_get(event, "time");
	if (json_is_integer(time))
		ev->since = json_integer_value(time);
	ev->on_event(ev->ctx, event);
	json_decref(event);
}

static size_t events_write_cb(char *ptr, size_t size, size_t nmemb,
			      void *userdata)
{
	struct docker_events *ev = userdata;
	size_t len = size * nmemb;
	size_t start = 0, i;

	if (!ev->status_ok)
		return len; /* an error body: the transfer's end handles it */
	for (i = 0; i < len; i++) {
		if (ptr[i] != '\n')
			continue;
		if (ev->line.len > 0) {
			buf_append(&ev->line, ptr + start, i - start);
			events_deliver_line(ev, ev->line.data, ev->line.len);
			ev->line.len = 0;
		} else {
			events_deliver_line(ev, ptr + start, i - start);
		}
		start = i + 1;
	}
	if (start < len &&
	    (ev->line.len + len - start > DOCKER_EVENTS_MAX_LINE ||
	     buf_append(&ev->line, ptr + start, len - start) != 0))
		ev->line.len = 0; /* an absurd line: drop it */
	return len;
}

/* The end of the headers: a 200 means the stream is live. */
static size_t events_header_cb(char *ptr, size_t size, size_t nmemb,
			       void *userdata)
{
	struct docker_events *ev = userdata;
	size_t len = size * nmemb;
	long status = 0;

	if (len == 2 && ptr[0] == '\r' && ptr[1] == '\n') {
		curl_easy_getinfo(ev->curl, CURLINFO_RESPONSE_CODE, &status);
		ev->status_ok = status == 200;
		if (ev->status_ok && ev->on_connected != NULL)
			ev->on_connected(ev->ctx);
	}
	return len;
}

static void events_prepare(struct docker_events *ev)
{
	char url[4096];
	char since[64] = "";

	if (ev->since > 0)
		snprintf(since, sizeof(since), "&since=%lld", ev->since);
	snprintf(url, sizeof(url), "%s/events?filters=%s%s", DOCKER_API_BASE,
		 ev->filters_escaped, since);
	curl_easy_reset(ev->curl);
	api_curl_setup(ev->curl, ev->socket_path, url, ev->headers);
	curl_easy_setopt(ev->curl, CURLOPT_WRITEFUNCTION, events_write_cb);
	curl_easy_setopt(ev->curl, CURLOPT_WRITEDATA, ev);
	curl_easy_setopt(ev->curl, CURLOPT_HEADERFUNCTION, events_header_cb);
	curl_easy_setopt(ev->curl, CURLOPT_HEADERDATA, ev);
	ev->line.len = 0;
	ev->status_ok = false;
}

/* Runs one connection until it ends or stop is asked. Returns true when
 * the stream had been live (so the next attempt need not back off). */
static bool events_follow(struct docker_events *ev)
{
	int running = 1;
	bool was_live;

	events_prepare(ev);
	curl_multi_add_handle(ev->multi, ev->curl);
	while (running && !atomic_load(&ev->stopping)) {
		if (curl_multi_perform(ev->multi, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(ev->multi, NULL, 0,
					DOCKER_EVENTS_POLL_MS, NULL);
	}
	was_live = ev->status_ok;
	curl_multi_remove_handle(ev->multi, ev->curl);
	return was_live;
}

static void *events_thread(void *arg)
{
	struct docker_events *ev = arg;
	int backoff = DOCKER_EVENTS_BACKOFF_MIN_MS;

	while (!atomic_load(&ev->stopping)) {
		if (events_follow(ev))
			backoff = DOCKER_EVENTS_BACKOFF_MIN_MS;
		if (atomic_load(&ev->stopping))
			break;
		/* Waits (woken early by docker_events_stop). */
		curl_multi_poll(ev->multi, NULL, 0, backoff, NULL);
		backoff = backoff * 2 > DOCKER_EVENTS_BACKOFF_MAX_MS
				  ? DOCKER_EVENTS_BACKOFF_MAX_MS
				  : backoff * 2;
	}
	return NULL;
}

static void events_free(struct docker_events *ev)
{
	if (ev->curl != NULL)
		curl_easy_cleanup(ev->curl);
	if (ev->multi != NULL)
		curl_multi_cleanup(ev->multi);
	curl_slist_free_all(ev->headers);
	buf_free(&ev->line);
	free(ev->filters_escaped);
	free(ev->socket_path);
	free(ev);
}

int docker_events_start(const char *socket_path, json_t *filters,
			docker_events_fn on_event,
			docker_events_connected_fn on_connected, void *ctx,
			struct docker_events **out, char *err, size_t errlen)
{
	struct docker_events *ev = calloc(1, sizeof(*ev));
	char *text = NULL, *escaped = NULL;
	int rc;

	if (ev == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	ev->on_event = on_event;
	ev->on_connected = on_connected;
	ev->ctx = ctx;
	atomic_init(&ev->stopping, false);
	ev->socket_path = strdup(socket_path ? socket_path
					     : DOCKER_API_DEFAULT_SOCKET);
	ev->curl = curl_easy_init();
	ev->multi = curl_multi_init();
	ev->headers = api_headers();
	text = filters ? json_dumps(filters, JSON_COMPACT) : strdup("{}");
	if (text != NULL && ev->curl != NULL)
		escaped = curl_easy_escape(ev->curl, text, 0);
	if (escaped != NULL)
		ev->filters_escaped = strdup(escaped);
	curl_free(escaped);
	free(text);
	if (ev->socket_path == NULL || ev->curl == NULL || ev->multi == NULL ||
	    ev->headers == NULL || ev->filters_escaped == NULL) {
		events_free(ev);
		orch_errorf(err, errlen, "cannot set up the events stream");
		return DOCKER_API_ERROR;
	}
	rc = pthread_create(&ev->thread, NULL, events_thread, ev);
	if (rc != 0) {
		events_free(ev);
		orch_errorf(err, errlen, "cannot start the events thread: %s",
			   strerror(rc));
		return DOCKER_API_ERROR;
	}
	*out = ev;
	return DOCKER_API_OK;
}

void docker_events_stop(struct docker_events *ev)
{
	if (ev == NULL)
		return;
	atomic_store(&ev->stopping, true);
	curl_multi_wakeup(ev->multi);
	pthread_join(ev->thread, NULL);
	events_free(ev);
}

/*
 * docker_api_impl.h: what the parts of the Engine API client share (not
 * part of docker_api.h): struct docker_api, the response buffer and the
 * request machinery of docker_api.c. docker_api_containers.c builds the
 * image, container and exec calls on it; docker_api_events.c follows
 * GET /events with a curl handle of its own.
 */
#ifndef DOCKER_API_IMPL_H
#define DOCKER_API_IMPL_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "docker_api.h"
#include "orch_sdk.h" /* orch_errorf */

#define DOCKER_API_BASE "http://docker/v1.41"
#define DOCKER_API_CONNECT_TIMEOUT_MS 2000L
#define DOCKER_API_TIMEOUT_S 60L
#define DOCKER_API_PULL_TIMEOUT_S 600L
#define DOCKER_API_MAX_RESPONSE (64u << 20)

/* One client of the engine: a curl easy handle, reset before each request
 * so that no option leaks from one call to the next while the connection
 * is kept. */
struct docker_api {
	CURL *curl;
	char *socket_path;
	struct curl_slist *headers;
	const atomic_bool *abort_flag; /* NULL: never abort */
};

/* A growing response buffer, always NUL-terminated. */
struct docker_buf {
	char *data;
	size_t len;
	size_t cap;
	bool too_large;
};

int buf_append(struct docker_buf *buf, const char *data, size_t len);
void buf_free(struct docker_buf *buf);

/* Sets the options every transfer to the engine shares: its socket, the
 * URL, the JSON header, no signals and the connect timeout. */
void api_curl_setup(CURL *curl, const char *socket_path, const char *url,
		    struct curl_slist *headers);
/* The "Content-Type: application/json" header list. */
struct curl_slist *api_headers(void);

/* Performs one request; body may be NULL. resp receives the body. Returns
 * DOCKER_API_OK for a 2xx answer. */
int api_request(struct docker_api *api, const char *method, const char *path,
		const char *body, long timeout_s, struct docker_buf *resp,
		char *err, size_t errlen);
/* A request whose answer is a JSON value; *out (may be NULL) gets it. */
int api_request_json(struct docker_api *api, const char *method,
		     const char *path, json_t *body, long timeout_s,
		     json_t **out, char *err, size_t errlen);
/* Escapes s for a URL path segment or query value; free with curl_free. */
char *api_escape(struct docker_api *api, const char *s);
/* path = prefix + escaped(id) + suffix. Returns DOCKER_API_OK, or an
 * error in err when out of memory or the path does not fit. */
int api_path(struct docker_api *api, char *path, size_t pathlen,
	     const char *prefix, const char *id, const char *suffix,
	     char *err, size_t errlen);

#endif

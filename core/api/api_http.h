/*
 * api_http.h: the HTTP/1.1 server that carries orchd's API on a unix socket.
 *
 * The daemon's API has the paths and JSON bodies of the Docker Engine API
 * v1.41 swarm endpoints. This module only speaks HTTP: it listens on a unix
 * socket that only its owner (root) may use, parses requests (request line,
 * headers, a Content-Length body), strips an optional "/v1.NN" version
 * prefix from the path, decodes the query string, hands each request to one
 * handler function and writes the handler's response back, with keep-alive.
 *
 * Threads: one accept thread plus one thread per open connection (at most
 * max_connections). By default handler calls are serialized by the server
 * (one at a time, whatever the connection), so the handler needs no locking
 * of its own; set concurrent_handlers to let them run in parallel.
 *
 * Limits: request line + headers 8 KiB (431), body 16 MiB (413), chunked
 * uploads are refused (411). A client idle for idle_timeout_ms is closed.
 *
 * The server owns its sockets, threads and the buffers of every request; the
 * handler owns nothing it is given and must not keep pointers into the
 * request after it returns. The response body must be malloc'd; the server
 * frees it.
 */
#ifndef ORCHD_API_HTTP_H
#define ORCHD_API_HTTP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define API_HTTP_MAX_HEADER_BYTES (8u * 1024u)
#define API_HTTP_MAX_BODY_BYTES (16u * 1024u * 1024u)

/* A name and its value: a decoded "name=value" parameter of the query
 * string (value "" when it had no '='), or a request header as received
 * (its name compared case-insensitively). */
struct api_pair {
	char *name;
	char *value;
};

struct api_request {
	const char *method; /* "GET", "POST", "DELETE", ... */
	const char *path;   /* decoded, without "/v1.NN" and without "?query" */
	const char *raw_target; /* the request target exactly as received */
	int version_major;      /* from the "/v1.NN" prefix; 0 when absent */
	int version_minor;
	const char *body; /* NUL-terminated copy of the body ("" if none) */
	size_t body_len;
	const struct api_pair *query;
	size_t query_count;
	const struct api_pair *headers;
	size_t header_count;
};

struct api_response {
	int status; /* HTTP status; 200 if the handler sets none */
	const char *content_type; /* static string; "application/json" default */
	char *body; /* malloc'd, freed by the server; may be NULL */
	size_t body_len;
};

/* A request handed to another thread (the manager's core thread) with
 * inbox_call, and the response that thread fills. */
struct api_call {
	const struct api_request *req;
	struct api_response *resp;
};

typedef void (*api_http_handler_fn)(void *ctx, const struct api_request *req,
				    struct api_response *resp);

struct api_http_config {
	const char *socket_path; /* e.g. "/run/orchd/orchd.sock" */
	api_http_handler_fn handler;
	void *handler_ctx;
	unsigned max_connections; /* 0: 32 */
	int idle_timeout_ms;      /* 0: 30000 */
	bool concurrent_handlers; /* false: one handler call at a time */
};

struct api_http_server;

/*
 * Creates the socket's parent directory (0700) if it is missing, replaces a
 * stale socket file (one nothing answers on), binds, sets mode 0600, listens
 * and starts the accept thread. Returns 0, or a negative errno with a
 * message in err (EADDRINUSE: a live server already answers on the path;
 * EEXIST: the path exists and is not a socket).
 */
int api_http_start(const struct api_http_config *config,
		   struct api_http_server **out, char *err, size_t err_len);

/* Stops accepting, lets every connection finish its current request, joins
 * all threads, closes and unlinks the socket, frees the server. NULL ok. */
void api_http_stop(struct api_http_server *server);

/* The value of query parameter `name` (first occurrence), NULL if absent. */
const char *api_request_query(const struct api_request *req, const char *name);

/* Docker's boolean query convention: absent, "", "0", "no", "false" and
 * "none" (any case) are false; every other value ("1", "true") is true. */
bool api_request_query_bool(const struct api_request *req, const char *name);

/* The value of header `name` (case-insensitive), NULL if absent. */
const char *api_request_header(const struct api_request *req, const char *name);

/* Sets the response to `len` bytes of `body` (copied) with the given status
 * and content type. Returns 0 or -ENOMEM (then the server sends 500). */
int api_response_set(struct api_response *resp, int status,
		     const char *content_type, const char *body, size_t len);

/* Sets a JSON response; steals the reference to `value`. NULL value or an
 * encoding failure yield -ENOMEM/-EINVAL and a 500 error response. */
int api_response_json(struct api_response *resp, int status, json_t *value);

/* Sets a Docker-style error: {"message":"<formatted text>"}. */
int api_response_error(struct api_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The reason phrase of an HTTP status ("Not Found"), "Unknown" if none. */
const char *api_http_reason(int status);

#endif

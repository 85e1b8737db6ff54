/*
 * api_http_internal.h: what the files of the HTTP server share behind
 * api_http.h. api_http_request.c turns the bytes of a request head and its
 * target into the structures below (pure functions, no I/O);
 * api_http_response.c fills responses and writes them to a socket;
 * api_http.c owns the sockets, threads and connection buffers and drives
 * both. Nothing here is for the server's users.
 */
#ifndef ORCHD_API_HTTP_INTERNAL_H
#define ORCHD_API_HTTP_INTERNAL_H

#include "api_http.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/* A request that cannot be served: the status to answer and why. */
struct api_reject {
	int status;
	const char *message;
};

/* The parsed request line and headers of one request. */
struct api_head {
	char *method;
	char *target;
	int http_minor; /* HTTP/1.<minor> */
	struct api_pair *headers;
	size_t header_count;
};

/* The decoded request target: path without "/v1.NN", and the query. */
struct api_target {
	char *path;
	int version_major;
	int version_minor;
	struct api_pair *query;
	size_t query_count;
};

/* ---- api_http_request.c ------------------------------------------- */

/* Parses the head text (request line + header lines, CRLF separated, the
 * final empty line excluded) into head. Returns 0, or -1 with *rej set;
 * head must be freed with api_head_free either way. */
int api_parse_head(const char *text, size_t len, struct api_head *head,
		   struct api_reject *rej);

void api_head_free(struct api_head *head);

/* The value of header `name` (case-insensitive), NULL if absent. */
const char *api_head_header(const struct api_head *head, const char *name);

/* The body length from Content-Length (0 if none). Every Content-Length
 * header must carry the same plain decimal number; Transfer-Encoding is
 * refused (411) and a body over API_HTTP_MAX_BODY_BYTES too (413). */
int api_body_length(const struct api_head *head, size_t *out, struct api_reject *rej);

/* Decodes the target into path, version prefix and query parameters.
 * Returns 0, or -1 with *rej set; t must be freed with api_target_free
 * either way. */
int api_decode_target(const char *target, struct api_target *t,
		      struct api_reject *rej);

void api_target_free(struct api_target *t);

/* ---- api_http_response.c ------------------------------------------ */

/* Writes all of iov[0..iov_count) to fd (the iovecs are consumed).
 * Returns 0 or a negative errno. */
int api_send_all(int fd, struct iovec *iov, int iov_count);

/* Writes the status line, headers and (unless head_only, or the status
 * has no body) the body of resp. Returns 0 or a negative errno. */
int api_write_response(int fd, const struct api_response *resp, bool head_only,
		       bool close_after);

/* Answers a request the server refuses, before the connection closes. */
void api_write_reject(int fd, const struct api_reject *rej);

#endif

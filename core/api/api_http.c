/*
 * api_http.c: orchd's HTTP/1.1 server on a unix socket (see api_http.h).
 *
 * State owned here: the listening socket and its path, a self-pipe used to
 * wake every thread at stop, the accept thread, and a list of connections
 * (one thread, one socket and one input buffer each). The accept thread
 * reaps finished connection threads; api_http_stop joins the rest.
 *
 * A connection reads a request head (up to 8 KiB), decides the body length
 * from Content-Length (chunked is refused), answers "100 Continue" when the
 * client asked for it, reads the body (up to 16 MiB), decodes the target,
 * calls the handler and writes the response. Bytes after the body stay in
 * the buffer for the next request (keep-alive, pipelining). Any protocol
 * error gets a Docker-style JSON error and closes the connection.
 */
#include "api_http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define API_HTTP_DEFAULT_MAX_CONNECTIONS 32u
#define API_HTTP_DEFAULT_IDLE_TIMEOUT_MS 30000
#define API_HTTP_LISTEN_BACKLOG 64
#define API_HTTP_READ_CHUNK 4096u

struct api_conn {
	struct api_http_server *server;
	int fd;
	pthread_t thread;
	bool finished; /* set by the thread as its last act, under server->lock */
	struct api_conn *next;
};

struct api_http_server {
	struct api_http_config config;
	char *socket_path;
	ino_t socket_ino;
	dev_t socket_dev;
	int listen_fd;
	int wake_pipe[2];
	pthread_t accept_thread;
	pthread_mutex_t lock; /* guards conns and conn_count */
	pthread_mutex_t handler_lock;
	struct api_conn *conns;
	unsigned conn_count;
};

/* Input bytes of one connection not yet consumed by a request. */
struct api_inbuf {
	char *data;
	size_t len;
	size_t cap;
};

/* The parsed request line and headers of one request. */
struct api_head {
	char *method;
	char *target;
	int http_minor; /* HTTP/1.<minor> */
	struct api_header *headers;
	size_t header_count;
};

enum api_read_result {
	API_READ_OK,
	API_READ_EOF,     /* peer closed */
	API_READ_STOP,    /* server is stopping */
	API_READ_TIMEOUT, /* idle too long */
	API_READ_ERROR,
};

/* A request that cannot be served: the status to answer and why. */
struct api_reject {
	int status;
	const char *message;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void api_set_err(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void api_set_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (err == NULL || err_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

const char *api_http_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

static int api_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes src[0..len) into a new string; '+' becomes a space when
 * plus_is_space. Returns NULL on a malformed escape, an encoded NUL or
 * out of memory (*bad tells which). */
static char *api_percent_decode(const char *src, size_t len, bool plus_is_space,
				bool *bad)
{
	char *out = malloc(len + 1);
	*bad = false;
	if (out == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (c == '%') {
			if (len - i < 3) {
				*bad = true;
				free(out);
				return NULL;
			}
			int h = api_hex_value(src[i + 1]);
			int l = api_hex_value(src[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0)) {
				*bad = true;
				free(out);
				return NULL;
			}
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			out[o++] = ' ';
		} else {
			out[o++] = c;
		}
	}
	out[o] = '\0';
	return out;
}

/* ------------------------------------------------------------------ */
/* Request accessors and response helpers (public)                    */

const char *api_request_query(const struct api_request *req, const char *name)
{
	for (size_t i = 0; i < req->query_count; i++) {
		if (strcmp(req->query[i].name, name) == 0)
			return req->query[i].value;
	}
	return NULL;
}

bool api_request_query_bool(const struct api_request *req, const char *name)
{
	const char *v = api_request_query(req, name);
	if (v == NULL)
		return false;
	return !(v[0] == '\0' || strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
		 strcasecmp(v, "false") == 0 || strcasecmp(v, "none") == 0);
}

const char *api_request_header(const struct api_request *req, const char *name)
{
	for (size_t i = 0; i < req->header_count; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	}
	return NULL;
}

int api_response_set(struct api_response *resp, int status,
		     const char *content_type, const char *body, size_t len)
{
	char *copy = malloc(len + 1);
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	if (copy == NULL) {
		resp->status = 500;
		return -ENOMEM;
	}
	if (len > 0)
		memcpy(copy, body, len);
	copy[len] = '\0';
	resp->status = status;
	resp->content_type = content_type;
	resp->body = copy;
	resp->body_len = len;
	return 0;
}

int api_response_json(struct api_response *resp, int status, json_t *value)
{
	if (value == NULL) {
		api_response_set(resp, 500, "application/json",
				 "{\"message\":\"out of memory\"}", 27);
		return -ENOMEM;
	}
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(value);
	if (text == NULL) {
		api_response_set(resp, 500, "application/json",
				 "{\"message\":\"cannot encode JSON response\"}",
				 41);
		return -EINVAL;
	}
	size_t len = strlen(text);
	/* Docker ends JSON bodies with a newline; clients do not care. */
	char *body = realloc(text, len + 2);
	if (body == NULL) {
		free(text);
		api_response_set(resp, 500, "application/json",
				 "{\"message\":\"out of memory\"}", 27);
		return -ENOMEM;
	}
	body[len] = '\n';
	body[len + 1] = '\0';
	free(resp->body);
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = body;
	resp->body_len = len + 1;
	return 0;
}

int api_response_error(struct api_response *resp, int status, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return api_response_json(resp, status,
				 json_pack("{s:s}", "message", message));
}

/* ------------------------------------------------------------------ */
/* Request head parsing                                                */

static void api_head_free(struct api_head *head)
{
	free(head->method);
	free(head->target);
	for (size_t i = 0; i < head->header_count; i++) {
		free(head->headers[i].name);
		free(head->headers[i].value);
	}
	free(head->headers);
	memset(head, 0, sizeof(*head));
}

static bool api_is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Parses "METHOD SP /target SP HTTP/1.x" (line without CRLF). */
static int api_parse_request_line(const char *line, size_t len,
				  struct api_head *head, struct api_reject *rej)
{
	const char *sp1 = memchr(line, ' ', len);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line + len - sp1 - 1))
			      : NULL;
	*rej = (struct api_reject){ 400, "malformed request line" };
	if (sp1 == NULL || sp2 == NULL || sp1 == line || sp2 == sp1 + 1)
		return -1;
	for (const char *p = line; p < sp1; p++) {
		if (!api_is_token_char(*p))
			return -1;
	}
	for (const char *p = sp1 + 1; p < sp2; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -1;
	}
	if (sp1[1] != '/') {
		*rej = (struct api_reject){ 400, "request target must be an absolute path" };
		return -1;
	}
	const char *version = sp2 + 1;
	size_t version_len = (size_t)(line + len - version);
	if (version_len != 8 || memcmp(version, "HTTP/1.", 7) != 0 ||
	    (version[7] != '0' && version[7] != '1')) {
		if (version_len >= 5 && memcmp(version, "HTTP/", 5) == 0)
			*rej = (struct api_reject){
				505, "only HTTP/1.0 and HTTP/1.1 are supported"
			};
		return -1;
	}
	head->http_minor = version[7] - '0';
	head->method = strndup(line, (size_t)(sp1 - line));
	head->target = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	if (head->method == NULL || head->target == NULL) {
		*rej = (struct api_reject){ 500, "out of memory" };
		return -1;
	}
	return 0;
}

static int api_add_header(struct api_head *head, const char *line, size_t len,
			  struct api_reject *rej)
{
	const char *colon = memchr(line, ':', len);
	*rej = (struct api_reject){ 400, "malformed header line" };
	if (colon == NULL || colon == line)
		return -1;
	for (const char *p = line; p < colon; p++) {
		if (!api_is_token_char(*p))
			return -1;
	}
	const char *v = colon + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (const char *p = v; p < end; p++) {
		if (*p == '\0' || *p == '\r' || *p == '\n')
			return -1;
	}
	struct api_header *grown =
		realloc(head->headers, (head->header_count + 1) * sizeof(*grown));
	if (grown == NULL) {
		*rej = (struct api_reject){ 500, "out of memory" };
		return -1;
	}
	head->headers = grown;
	struct api_header *h = &head->headers[head->header_count];
	h->name = strndup(line, (size_t)(colon - line));
	h->value = strndup(v, (size_t)(end - v));
	if (h->name == NULL || h->value == NULL) {
		free(h->name);
		free(h->value);
		*rej = (struct api_reject){ 500, "out of memory" };
		return -1;
	}
	head->header_count++;
	return 0;
}

/* Parses the head text (request line + header lines, CRLF separated, the
 * final empty line excluded). */
static int api_parse_head(const char *text, size_t len, struct api_head *head,
			  struct api_reject *rej)
{
	const char *end = text + len;
	const char *eol = memmem(text, len, "\r\n", 2);
	if (eol == NULL)
		eol = end;
	if (api_parse_request_line(text, (size_t)(eol - text), head, rej) != 0)
		return -1;
	const char *line = eol + 2;
	while (line < end) {
		eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (eol == NULL)
			eol = end;
		if (*line == ' ' || *line == '\t') {
			*rej = (struct api_reject){ 400, "obsolete header line folding" };
			return -1;
		}
		if (api_add_header(head, line, (size_t)(eol - line), rej) != 0)
			return -1;
		line = eol + 2;
	}
	return 0;
}

static const char *api_head_header(const struct api_head *head, const char *name)
{
	for (size_t i = 0; i < head->header_count; i++) {
		if (strcasecmp(head->headers[i].name, name) == 0)
			return head->headers[i].value;
	}
	return NULL;
}

/* The body length from Content-Length (0 if none). Every Content-Length
 * header must carry the same plain decimal number. */
static int api_body_length(const struct api_head *head, size_t *out,
			   struct api_reject *rej)
{
	bool seen = false;
	size_t length = 0;
	if (api_head_header(head, "Transfer-Encoding") != NULL) {
		*rej = (struct api_reject){ 411,
					    "chunked request bodies are not supported; "
					    "send Content-Length" };
		return -1;
	}
	for (size_t i = 0; i < head->header_count; i++) {
		if (strcasecmp(head->headers[i].name, "Content-Length") != 0)
			continue;
		const char *v = head->headers[i].value;
		size_t value = 0;
		if (*v == '\0')
			goto bad;
		for (const char *p = v; *p; p++) {
			if (*p < '0' || *p > '9')
				goto bad;
			if (value > (SIZE_MAX - 9) / 10) {
				value = SIZE_MAX;
				break;
			}
			value = value * 10 + (size_t)(*p - '0');
		}
		if (seen && value != length)
			goto bad;
		seen = true;
		length = value;
	}
	if (length > API_HTTP_MAX_BODY_BYTES) {
		*rej = (struct api_reject){ 413, "request body larger than 16 MiB" };
		return -1;
	}
	*out = length;
	return 0;
bad:
	*rej = (struct api_reject){ 400, "invalid Content-Length" };
	return -1;
}

/* ------------------------------------------------------------------ */
/* Target decoding: path, "/v1.NN" prefix, query string                */

struct api_target {
	char *path;
	int version_major;
	int version_minor;
	struct api_query_param *query;
	size_t query_count;
};

static void api_target_free(struct api_target *t)
{
	free(t->path);
	for (size_t i = 0; i < t->query_count; i++) {
		free(t->query[i].name);
		free(t->query[i].value);
	}
	free(t->query);
	memset(t, 0, sizeof(*t));
}

/* Reads a small decimal number at *p; advances *p. -1 if none. */
static int api_read_small_number(const char **p)
{
	int value = 0;
	const char *s = *p;
	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		if (value > 100000)
			return -1;
		value = value * 10 + (*s - '0');
		s++;
	}
	*p = s;
	return value;
}

/* Removes a leading "/v<major>[.<minor>]" segment from path, in place. */
static void api_strip_version(char *path, int *major, int *minor)
{
	*major = 0;
	*minor = 0;
	if (path[0] != '/' || path[1] != 'v')
		return;
	const char *p = path + 2;
	int maj = api_read_small_number(&p);
	int min = 0;
	if (maj < 0)
		return;
	if (*p == '.') {
		p++;
		min = api_read_small_number(&p);
		if (min < 0)
			return;
	}
	if (*p != '/' && *p != '\0')
		return;
	*major = maj;
	*minor = min;
	if (*p == '\0')
		strcpy(path, "/");
	else
		memmove(path, p, strlen(p) + 1);
}

static int api_add_query_param(struct api_target *t, const char *pair, size_t len)
{
	const char *eq = memchr(pair, '=', len);
	size_t name_len = eq ? (size_t)(eq - pair) : len;
	bool bad = false;
	struct api_query_param *grown =
		realloc(t->query, (t->query_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	t->query = grown;
	char *name = api_percent_decode(pair, name_len, true, &bad);
	char *value = eq ? api_percent_decode(eq + 1, (size_t)(pair + len - eq - 1),
					      true, &bad)
			 : strdup("");
	if (name == NULL || value == NULL) {
		free(name);
		free(value);
		return bad ? -EINVAL : -ENOMEM;
	}
	t->query[t->query_count].name = name;
	t->query[t->query_count].value = value;
	t->query_count++;
	return 0;
}

static int api_decode_target(const char *target, struct api_target *t,
			     struct api_reject *rej)
{
	const char *q = strchr(target, '?');
	size_t path_len = q ? (size_t)(q - target) : strlen(target);
	bool bad = false;
	memset(t, 0, sizeof(*t));
	t->path = api_percent_decode(target, path_len, false, &bad);
	if (t->path == NULL) {
		*rej = bad ? (struct api_reject){ 400, "malformed percent-encoding in path" }
			   : (struct api_reject){ 500, "out of memory" };
		return -1;
	}
	api_strip_version(t->path, &t->version_major, &t->version_minor);
	const char *s = q ? q + 1 : NULL;
	while (s != NULL && *s != '\0') {
		const char *amp = strchr(s, '&');
		size_t len = amp ? (size_t)(amp - s) : strlen(s);
		if (len > 0) {
			int rc = api_add_query_param(t, s, len);
			if (rc != 0) {
				*rej = rc == -EINVAL
					       ? (struct api_reject){ 400, "malformed percent-encoding in query" }
					       : (struct api_reject){ 500, "out of memory" };
				return -1;
			}
		}
		s = amp ? amp + 1 : NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Socket I/O                                                          */

/* Waits for input on the connection (or the stop pipe) and appends what
 * arrives to in. */
static enum api_read_result api_read_more(struct api_conn *conn, struct api_inbuf *in)
{
	struct api_http_server *server = conn->server;
	if (in->cap - in->len < API_HTTP_READ_CHUNK) {
		size_t cap = in->cap ? in->cap * 2 : 2 * API_HTTP_READ_CHUNK;
		while (cap - in->len < API_HTTP_READ_CHUNK)
			cap *= 2;
		char *grown = realloc(in->data, cap);
		if (grown == NULL)
			return API_READ_ERROR;
		in->data = grown;
		in->cap = cap;
	}
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = conn->fd, .events = POLLIN },
			{ .fd = server->wake_pipe[0], .events = POLLIN },
		};
		int n = poll(fds, 2, server->config.idle_timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return API_READ_ERROR;
		if (n == 0)
			return API_READ_TIMEOUT;
		if (fds[1].revents != 0)
			return API_READ_STOP;
		ssize_t got = recv(conn->fd, in->data + in->len,
				   in->cap - in->len, 0);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return errno == ECONNRESET ? API_READ_EOF : API_READ_ERROR;
		if (got == 0)
			return API_READ_EOF;
		in->len += (size_t)got;
		return API_READ_OK;
	}
}

static int api_send_all(int fd, struct iovec *iov, int iov_count)
{
	while (iov_count > 0) {
		struct msghdr msg = { .msg_iov = iov,
				      .msg_iovlen = (size_t)iov_count };
		ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0)
			return -errno;
		size_t left = (size_t)sent;
		while (iov_count > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			iov_count--;
		}
		if (iov_count > 0) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

static int api_write_response(int fd, const struct api_response *resp,
			      bool head_only, bool close_after)
{
	char header[512];
	bool no_body = resp->status == 204 || resp->status == 304;
	int n;
	if (no_body) {
		n = snprintf(header, sizeof(header),
			     "HTTP/1.1 %d %s\r\nApi-Version: 1.41\r\nServer: orchd\r\n%s\r\n",
			     resp->status, api_http_reason(resp->status),
			     close_after ? "Connection: close\r\n" : "");
	} else {
		n = snprintf(header, sizeof(header),
			     "HTTP/1.1 %d %s\r\nApi-Version: 1.41\r\nServer: orchd\r\n"
			     "Content-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
			     resp->status, api_http_reason(resp->status),
			     resp->content_type ? resp->content_type : "application/json",
			     resp->body_len,
			     close_after ? "Connection: close\r\n" : "");
	}
	if (n < 0 || (size_t)n >= sizeof(header))
		return -EOVERFLOW;
	struct iovec iov[2] = {
		{ .iov_base = header, .iov_len = (size_t)n },
		{ .iov_base = resp->body, .iov_len = resp->body_len },
	};
	int count = (no_body || head_only || resp->body_len == 0) ? 1 : 2;
	return api_send_all(fd, iov, count);
}

/* Answers a request the server refuses, then the connection closes. */
static void api_write_reject(int fd, const struct api_reject *rej)
{
	struct api_response resp = { 0 };
	api_response_error(&resp, rej->status, "%s", rej->message);
	(void)api_write_response(fd, &resp, false, true); /* closing anyway */
	free(resp.body);
}

/* ------------------------------------------------------------------ */
/* One request on a connection                                         */

enum api_serve_result {
	API_SERVE_KEEP, /* served; the connection stays open */
	API_SERVE_CLOSE,
};

static bool api_wants_close(const struct api_head *head)
{
	const char *conn = api_head_header(head, "Connection");
	if (head->http_minor == 0)
		return conn == NULL || strcasecmp(conn, "keep-alive") != 0;
	return conn != NULL && strcasecmp(conn, "close") == 0;
}

/* Waits until the buffer holds a full head; returns its length (up to and
 * including the blank line) or 0 with *result set. Leading empty lines
 * (allowed by RFC 9112) are dropped. */
static size_t api_read_head(struct api_conn *conn, struct api_inbuf *in,
			    enum api_read_result *result, struct api_reject *rej)
{
	for (;;) {
		while (in->len >= 2 && in->data[0] == '\r' && in->data[1] == '\n') {
			memmove(in->data, in->data + 2, in->len - 2);
			in->len -= 2;
		}
		char *end = in->len ? memmem(in->data, in->len, "\r\n\r\n", 4) : NULL;
		if (end != NULL &&
		    (size_t)(end - in->data) + 4 <= API_HTTP_MAX_HEADER_BYTES)
			return (size_t)(end - in->data) + 4;
		if (end != NULL || in->len >= API_HTTP_MAX_HEADER_BYTES) {
			*rej = (struct api_reject){
				431, "request headers larger than 8 KiB"
			};
			*result = API_READ_ERROR;
			return 0;
		}
		*rej = (struct api_reject){ 0, NULL };
		*result = api_read_more(conn, in);
		if (*result != API_READ_OK) {
			if (*result == API_READ_EOF && in->len > 0)
				*rej = (struct api_reject){ 400, "incomplete request" };
			return 0;
		}
	}
}

static int api_read_body(struct api_conn *conn, struct api_inbuf *in, size_t head_len,
			 size_t body_len, const struct api_head *head)
{
	if (in->len - head_len < body_len) {
		const char *expect = api_head_header(head, "Expect");
		if (expect != NULL && strcasecmp(expect, "100-continue") == 0) {
			char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			struct iovec iov = { .iov_base = cont,
					     .iov_len = sizeof(cont) - 1 };
			if (api_send_all(conn->fd, &iov, 1) != 0)
				return -1;
		}
	}
	while (in->len - head_len < body_len) {
		if (api_read_more(conn, in) != API_READ_OK)
			return -1;
	}
	return 0;
}

static void api_call_handler(struct api_http_server *server,
			     const struct api_request *req, struct api_response *resp)
{
	if (!server->config.concurrent_handlers)
		pthread_mutex_lock(&server->handler_lock);
	server->config.handler(server->config.handler_ctx, req, resp);
	if (!server->config.concurrent_handlers)
		pthread_mutex_unlock(&server->handler_lock);
	if (resp->status == 0)
		resp->status = 200;
	if (resp->body == NULL)
		resp->body_len = 0;
}

/* Runs the handler on a complete request and writes its response. */
static enum api_serve_result api_dispatch(struct api_conn *conn,
					  const struct api_head *head,
					  const char *body, size_t body_len)
{
	struct api_reject rej;
	struct api_target target;
	if (api_decode_target(head->target, &target, &rej) != 0) {
		api_target_free(&target);
		api_write_reject(conn->fd, &rej);
		return API_SERVE_CLOSE;
	}
	struct api_request req = {
		.method = head->method,
		.path = target.path,
		.raw_target = head->target,
		.version_major = target.version_major,
		.version_minor = target.version_minor,
		.body = body,
		.body_len = body_len,
		.query = target.query,
		.query_count = target.query_count,
		.headers = head->headers,
		.header_count = head->header_count,
	};
	struct api_response resp = { .status = 0, .content_type = "application/json" };
	api_call_handler(conn->server, &req, &resp);
	bool close_after = api_wants_close(head);
	int rc = api_write_response(conn->fd, &resp,
				    strcmp(head->method, "HEAD") == 0, close_after);
	free(resp.body);
	api_target_free(&target);
	return (rc != 0 || close_after) ? API_SERVE_CLOSE : API_SERVE_KEEP;
}

static enum api_serve_result api_serve_one(struct api_conn *conn,
					   struct api_inbuf *in)
{
	enum api_read_result result;
	struct api_reject rej;
	struct api_head head = { 0 };
	size_t body_len = 0;
	size_t head_len = api_read_head(conn, in, &result, &rej);
	if (head_len == 0) {
		if (rej.status != 0)
			api_write_reject(conn->fd, &rej);
		return API_SERVE_CLOSE;
	}
	/* The head without its final CRLFCRLF, parsed in place. */
	if (api_parse_head(in->data, head_len - 4, &head, &rej) != 0 ||
	    api_body_length(&head, &body_len, &rej) != 0) {
		api_head_free(&head);
		api_write_reject(conn->fd, &rej);
		return API_SERVE_CLOSE;
	}
	if (api_read_body(conn, in, head_len, body_len, &head) != 0) {
		api_head_free(&head);
		return API_SERVE_CLOSE;
	}
	char *body = malloc(body_len + 1);
	if (body == NULL) {
		api_head_free(&head);
		api_write_reject(conn->fd,
				 &(struct api_reject){ 500, "out of memory" });
		return API_SERVE_CLOSE;
	}
	memcpy(body, in->data + head_len, body_len);
	body[body_len] = '\0';
	size_t used = head_len + body_len;
	memmove(in->data, in->data + used, in->len - used);
	in->len -= used;
	enum api_serve_result served = api_dispatch(conn, &head, body, body_len);
	free(body);
	api_head_free(&head);
	return served;
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */

static void *api_conn_main(void *arg)
{
	struct api_conn *conn = arg;
	struct api_inbuf in = { 0 };
	while (api_serve_one(conn, &in) == API_SERVE_KEEP) {
	}
	free(in.data);
	shutdown(conn->fd, SHUT_RDWR);
	close(conn->fd);
	conn->fd = -1;
	pthread_mutex_lock(&conn->server->lock);
	conn->finished = true;
	pthread_mutex_unlock(&conn->server->lock);
	return NULL;
}

/* Joins and frees connections whose thread has finished. */
static void api_reap_connections(struct api_http_server *server, bool all)
{
	for (;;) {
		struct api_conn *victim = NULL;
		pthread_mutex_lock(&server->lock);
		for (struct api_conn **pp = &server->conns; *pp; pp = &(*pp)->next) {
			if (all || (*pp)->finished) {
				victim = *pp;
				*pp = victim->next;
				server->conn_count--;
				break;
			}
		}
		pthread_mutex_unlock(&server->lock);
		if (victim == NULL)
			return;
		pthread_join(victim->thread, NULL);
		free(victim);
	}
}

static void api_refuse_connection(int fd, const char *why)
{
	struct api_reject rej = { 503, why };
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	api_write_reject(fd, &rej);
	close(fd);
}

static void api_start_connection(struct api_http_server *server, int fd)
{
	struct timeval tv = { .tv_sec = server->config.idle_timeout_ms / 1000,
			      .tv_usec = (server->config.idle_timeout_ms % 1000) *
					 1000 };
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		api_refuse_connection(fd, "cannot configure connection");
		return;
	}
	pthread_mutex_lock(&server->lock);
	bool full = server->conn_count >= server->config.max_connections;
	pthread_mutex_unlock(&server->lock);
	if (full) {
		api_refuse_connection(fd, "too many connections");
		return;
	}
	struct api_conn *conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		api_refuse_connection(fd, "out of memory");
		return;
	}
	conn->server = server;
	conn->fd = fd;
	pthread_mutex_lock(&server->lock);
	if (pthread_create(&conn->thread, NULL, api_conn_main, conn) != 0) {
		pthread_mutex_unlock(&server->lock);
		free(conn);
		api_refuse_connection(fd, "cannot start connection thread");
		return;
	}
	conn->next = server->conns;
	server->conns = conn;
	server->conn_count++;
	pthread_mutex_unlock(&server->lock);
}

static void *api_accept_main(void *arg)
{
	struct api_http_server *server = arg;
	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = server->listen_fd, .events = POLLIN },
			{ .fd = server->wake_pipe[0], .events = POLLIN },
		};
		int n = poll(fds, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || fds[1].revents != 0)
			break;
		api_reap_connections(server, false);
		int fd = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* EAGAIN, ECONNABORTED: nothing to do. EMFILE/ENFILE: back off
             * briefly instead of spinning on a readable listen socket. */
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				poll(&fds[1], 1, 100);
			continue;
		}
		api_start_connection(server, fd);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Listening socket                                                    */

/* mkdir -p of the directory part of path; new directories get mode 0700. */
static int api_make_parent_dirs(const char *path, char *err, size_t err_len)
{
	char *dir = strdup(path);
	if (dir == NULL)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		bool last = *p == '\0';
		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			int rc = -errno;
			api_set_err(err, err_len, "cannot create directory %s: %s",
				    dir, strerror(errno));
			free(dir);
			return rc;
		}
		if (last)
			break;
		*p = '/';
	}
	struct stat st;
	int rc = 0;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		rc = -ENOTDIR;
		api_set_err(err, err_len, "%s is not a directory", dir);
	}
	free(dir);
	return rc;
}

/* If a socket file already exists at the path: fail when a server answers
 * on it, remove it when nothing does. A non-socket file is never removed. */
static int api_clear_stale_socket(const struct sockaddr_un *addr, char *err,
				  size_t err_len)
{
	struct stat st;
	if (lstat(addr->sun_path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		int rc = -errno;
		api_set_err(err, err_len, "cannot stat %s: %s", addr->sun_path,
			    strerror(errno));
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		api_set_err(err, err_len, "%s exists and is not a socket",
			    addr->sun_path);
		return -EEXIST;
	}
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0) {
		int rc = -errno;
		api_set_err(err, err_len, "socket: %s", strerror(errno));
		return rc;
	}
	int rc = connect(probe, (const struct sockaddr *)addr, sizeof(*addr));
	int connect_errno = errno;
	close(probe);
	if (rc == 0 || connect_errno == EAGAIN) {
		api_set_err(err, err_len, "another server is listening on %s",
			    addr->sun_path);
		return -EADDRINUSE;
	}
	if (connect_errno != ECONNREFUSED) {
		api_set_err(err, err_len, "cannot probe %s: %s", addr->sun_path,
			    strerror(connect_errno));
		return -connect_errno;
	}
	if (unlink(addr->sun_path) != 0 && errno != ENOENT) {
		rc = -errno;
		api_set_err(err, err_len, "cannot remove stale socket %s: %s",
			    addr->sun_path, strerror(errno));
		return rc;
	}
	return 0;
}

/* bind, chmod 0600 before listen (so no one can connect in between). */
static int api_listen(struct api_http_server *server,
		      const struct sockaddr_un *addr, char *err, size_t err_len)
{
	/* Non-blocking: a client that gives up between poll() and accept()
     * must not leave the accept thread blocked where stop cannot wake it. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct stat st;
	const char *step = "socket";
	if (fd < 0)
		goto fail;
	step = "bind";
	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0)
		goto fail;
	step = "chmod";
	if (chmod(addr->sun_path, 0600) != 0 || stat(addr->sun_path, &st) != 0)
		goto fail_unlink;
	step = "listen";
	if (listen(fd, API_HTTP_LISTEN_BACKLOG) != 0)
		goto fail_unlink;
	server->listen_fd = fd;
	server->socket_ino = st.st_ino;
	server->socket_dev = st.st_dev;
	return 0;
fail_unlink:;
	int saved = errno;
	unlink(addr->sun_path);
	errno = saved;
fail:;
	int rc = -errno;
	api_set_err(err, err_len, "%s %s: %s", step, addr->sun_path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Unlinks the socket file only if it is still the one this server made. */
static void api_unlink_own_socket(struct api_http_server *server)
{
	struct stat st;
	if (lstat(server->socket_path, &st) == 0 &&
	    st.st_ino == server->socket_ino && st.st_dev == server->socket_dev)
		unlink(server->socket_path);
}

static void api_server_free(struct api_http_server *server)
{
	if (server->listen_fd >= 0)
		close(server->listen_fd);
	if (server->wake_pipe[0] >= 0)
		close(server->wake_pipe[0]);
	if (server->wake_pipe[1] >= 0)
		close(server->wake_pipe[1]);
	pthread_mutex_destroy(&server->lock);
	pthread_mutex_destroy(&server->handler_lock);
	free(server->socket_path);
	free(server);
}

int api_http_start(const struct api_http_config *config,
		   struct api_http_server **out, char *err, size_t err_len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	*out = NULL;
	if (config == NULL || config->socket_path == NULL || config->handler == NULL) {
		api_set_err(err, err_len, "socket path and handler are required");
		return -EINVAL;
	}
	if (config->socket_path[0] == '\0' ||
	    strlen(config->socket_path) >= sizeof(addr.sun_path)) {
		api_set_err(err, err_len, "socket path must be 1..%zu bytes",
			    sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, config->socket_path);
	struct api_http_server *server = calloc(1, sizeof(*server));
	if (server == NULL)
		return -ENOMEM;
	server->config = *config;
	if (server->config.max_connections == 0)
		server->config.max_connections = API_HTTP_DEFAULT_MAX_CONNECTIONS;
	if (server->config.idle_timeout_ms <= 0)
		server->config.idle_timeout_ms = API_HTTP_DEFAULT_IDLE_TIMEOUT_MS;
	server->listen_fd = -1;
	server->wake_pipe[0] = server->wake_pipe[1] = -1;
	pthread_mutex_init(&server->lock, NULL);
	pthread_mutex_init(&server->handler_lock, NULL);
	server->socket_path = strdup(config->socket_path);
	int rc = server->socket_path ? 0 : -ENOMEM;
	if (rc == 0)
		rc = api_make_parent_dirs(addr.sun_path, err, err_len);
	if (rc == 0)
		rc = api_clear_stale_socket(&addr, err, err_len);
	if (rc == 0 && pipe2(server->wake_pipe, O_CLOEXEC) != 0) {
		rc = -errno;
		api_set_err(err, err_len, "pipe: %s", strerror(errno));
	}
	if (rc == 0)
		rc = api_listen(server, &addr, err, err_len);
	if (rc == 0) {
		int prc = pthread_create(&server->accept_thread, NULL,
					 api_accept_main, server);
		if (prc != 0) {
			api_unlink_own_socket(server);
			api_set_err(err, err_len, "cannot start accept thread: %s",
				    strerror(prc));
			rc = -prc;
		}
	}
	if (rc != 0) {
		if (rc == -ENOMEM)
			api_set_err(err, err_len, "out of memory");
		api_server_free(server);
		return rc;
	}
	*out = server;
	return 0;
}

void api_http_stop(struct api_http_server *server)
{
	if (server == NULL)
		return;
	char byte = 1;
	/* The pipe is never drained, so every poll() sees it readable. */
	while (write(server->wake_pipe[1], &byte, 1) < 0 && errno == EINTR) {
	}
	pthread_join(server->accept_thread, NULL);
	api_reap_connections(server, true);
	api_unlink_own_socket(server);
	api_server_free(server);
}

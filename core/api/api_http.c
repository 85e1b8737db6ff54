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
 *
 * Parsing the bytes of a request is api_http_request.c's, writing a
 * response api_http_response.c's (api_http_internal.h between them).
 */
#include "api_http_internal.h"

#include "fsutil.h"

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

enum api_read_result {
	API_READ_OK,
	API_READ_EOF,     /* peer closed */
	API_READ_STOP,    /* server is stopping */
	API_READ_TIMEOUT, /* idle too long */
	API_READ_ERROR,
};

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

/* mkdir -p of the directory part of path (new directories get mode 0700),
 * which must then be a directory. */
static int api_make_parent_dirs(const char *path, char *err, size_t err_len)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (util_mkdir_p(dir, 0700, err, err_len) != 0)
		return errno ? -errno : -EIO; /* mkdir's errno, kept by util */
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		util_errorf(err, err_len, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	return 0;
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
		util_errorf(err, err_len, "cannot stat %s: %s", addr->sun_path,
			    strerror(errno));
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		util_errorf(err, err_len, "%s exists and is not a socket",
			    addr->sun_path);
		return -EEXIST;
	}
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0) {
		int rc = -errno;
		util_errorf(err, err_len, "socket: %s", strerror(errno));
		return rc;
	}
	int rc = connect(probe, (const struct sockaddr *)addr, sizeof(*addr));
	int connect_errno = errno;
	close(probe);
	if (rc == 0 || connect_errno == EAGAIN) {
		util_errorf(err, err_len, "another server is listening on %s",
			    addr->sun_path);
		return -EADDRINUSE;
	}
	if (connect_errno != ECONNREFUSED) {
		util_errorf(err, err_len, "cannot probe %s: %s", addr->sun_path,
			    strerror(connect_errno));
		return -connect_errno;
	}
	if (unlink(addr->sun_path) != 0 && errno != ENOENT) {
		rc = -errno;
		util_errorf(err, err_len, "cannot remove stale socket %s: %s",
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
	util_errorf(err, err_len, "%s %s: %s", step, addr->sun_path, strerror(errno));
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
		util_errorf(err, err_len, "socket path and handler are required");
		return -EINVAL;
	}
	if (config->socket_path[0] == '\0' ||
	    strlen(config->socket_path) >= sizeof(addr.sun_path)) {
		util_errorf(err, err_len, "socket path must be 1..%zu bytes",
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
		util_errorf(err, err_len, "pipe: %s", strerror(errno));
	}
	if (rc == 0)
		rc = api_listen(server, &addr, err, err_len);
	if (rc == 0) {
		int prc = pthread_create(&server->accept_thread, NULL,
					 api_accept_main, server);
		if (prc != 0) {
			api_unlink_own_socket(server);
			util_errorf(err, err_len, "cannot start accept thread: %s",
				    strerror(prc));
			rc = -prc;
		}
	}
	if (rc != 0) {
		if (rc == -ENOMEM)
			util_errorf(err, err_len, "out of memory");
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

/*
 * test_api_http.c: cmocka tests of core/api_http.c.
 *
 * Each test starts a real server on a unix socket inside a fresh temporary
 * directory, with a handler that echoes what it was given (method, path,
 * API version, query parameters, body) as JSON, and talks to it through
 * libcurl or a raw socket. Covers bodies, the "/v1.NN" prefix, query
 * decoding, keep-alive, pipelining, protocol errors (400, 411, 413, 431,
 * 505), socket file permissions and stale/live/foreign files at the path.
 * State: the temporary directory and server of the running test only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api_http.h"

struct fixture {
	char dir[64];
	char sock[128];
	struct api_http_server *server;
};

struct reply {
	char *data;
	size_t len;
	size_t cap;
};

/* Echoes the request as JSON; "/error" answers a Docker-style 404. */
static void echo_handler(void *ctx, const struct api_request *req,
			 struct api_response *resp)
{
	(void)ctx;
	if (strcmp(req->path, "/error") == 0) {
		api_response_error(resp, 404, "service %s not found", "web");
		return;
	}
	json_t *query = json_object();
	for (size_t i = 0; i < req->query_count; i++)
		json_object_set_new(query, req->query[i].name,
				    json_string(req->query[i].value));
	/* Large bodies are summarized by their length only. */
	size_t shown = req->body_len < 4096 ? req->body_len : 0;
	json_t *echo = json_pack("{s:s, s:s, s:i, s:i, s:s%, s:I, s:o, s:b}",
				 "method", req->method, "path", req->path, "major",
				 req->version_major, "minor", req->version_minor,
				 "body", req->body, shown, "body_len",
				 (json_int_t)req->body_len, "query", query,
				 "force", api_request_query_bool(req, "force"));
	api_response_json(resp, 200, echo);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_api_http.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/run/orchd.sock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[160];
	api_http_stop(f->server);
	unlink(f->sock);
	snprintf(path, sizeof(path), "%s/run", f->dir);
	rmdir(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void start_server(struct fixture *f)
{
	char err[256] = "";
	struct api_http_config config = {
		.socket_path = f->sock,
		.handler = echo_handler,
	};
	int rc = api_http_start(&config, &f->server, err, sizeof(err));
	if (rc != 0)
		fail_msg("api_http_start: %d %s", rc, err);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct reply *r = userdata;
	size_t n = size * nmemb;
	size_t need = r->len + n + 1;
	size_t cap = r->data ? r->cap : 0;
	if (need > cap) {
		while (cap < need)
			cap = cap ? cap * 2 : 4096;
		char *grown = realloc(r->data, cap);
		if (grown == NULL)
			return 0;
		r->data = grown;
		r->cap = cap;
	}
	memcpy(r->data + r->len, ptr, n);
	r->len += n;
	r->data[r->len] = '\0';
	return n;
}

/* One request through curl handle h; returns the status, fills reply. */
static long curl_request(CURL *h, const char *sock, const char *method,
			 const char *url, const char *body, size_t body_len,
			 struct reply *reply)
{
	memset(reply, 0, sizeof(*reply));
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, reply);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		fail_msg("curl: %s", curl_easy_strerror(rc));
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static json_t *parse_reply(const struct reply *r)
{
	json_error_t jerr;
	json_t *v = json_loadb(r->data ? r->data : "", r->len, JSON_ALLOW_NUL, &jerr);
	if (v == NULL)
		fail_msg("bad JSON reply '%s': %s", r->data ? r->data : "",
			 jerr.text);
	return v;
}

static const char *jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	assert_non_null(s);
	return s;
}

/* Sends raw bytes on a new connection and reads until the server closes. */
static char *raw_exchange(const char *sock, const char *request, size_t len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, sock);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(send(fd, request, len, MSG_NOSIGNAL), (ssize_t)len);
	size_t cap = 65536, used = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		ssize_t n = recv(fd, buf + used, cap - used - 1, 0);
		if (n <= 0)
			break;
		used += (size_t)n;
		assert_true(used < cap - 1);
	}
	buf[used] = '\0';
	close(fd);
	return buf;
}

static void test_get_strips_version_prefix(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	start_server(f);
	CURL *h = curl_easy_init();
	assert_int_equal(curl_request(h, f->sock, "GET",
				      "http://localhost/v1.41/services/abc",
				      NULL, 0, &r),
			 200);
	json_t *v = parse_reply(&r);
	assert_string_equal(jstr(v, "method"), "GET");
	assert_string_equal(jstr(v, "path"), "/services/abc");
	assert_int_equal(json_integer_value(json_object_get(v, "major")), 1);
	assert_int_equal(json_integer_value(json_object_get(v, "minor")), 41);
	json_decref(v);
	free(r.data);
	/* Without a prefix; "/version" is a path, not a version prefix. */
	assert_int_equal(curl_request(h, f->sock, "GET",
				      "http://localhost/version", NULL, 0, &r),
			 200);
	v = parse_reply(&r);
	assert_string_equal(jstr(v, "path"), "/version");
	assert_int_equal(json_integer_value(json_object_get(v, "major")), 0);
	json_decref(v);
	free(r.data);
	assert_int_equal(curl_request(h, f->sock, "GET",
				      "http://localhost/v1.41", NULL, 0, &r),
			 200);
	v = parse_reply(&r);
	assert_string_equal(jstr(v, "path"), "/");
	json_decref(v);
	free(r.data);
	curl_easy_cleanup(h);
}

static void test_post_with_body(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	const char body[] = "{\"Name\":\"web\",\"Mode\":{\"Replicated\":{\"Replicas\":3}}}";
	start_server(f);
	CURL *h = curl_easy_init();
	assert_int_equal(curl_request(h, f->sock, "POST",
				      "http://localhost/v1.41/services/create",
				      body, strlen(body), &r),
			 200);
	json_t *v = parse_reply(&r);
	assert_string_equal(jstr(v, "method"), "POST");
	assert_string_equal(jstr(v, "path"), "/services/create");
	assert_string_equal(jstr(v, "body"), body);
	json_decref(v);
	free(r.data);
	/* A body with a NUL byte arrives whole (body_len, not strlen). */
	assert_int_equal(curl_request(h, f->sock, "POST", "http://localhost/x",
				      "a\0b", 3, &r),
			 200);
	v = parse_reply(&r);
	assert_int_equal(json_string_length(json_object_get(v, "body")), 3);
	json_decref(v);
	free(r.data);
	curl_easy_cleanup(h);
}

static void test_query_decoding(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	start_server(f);
	CURL *h = curl_easy_init();
	assert_int_equal(curl_request(h, f->sock, "GET",
				      "http://localhost/v1.41/tasks?filters=%7B%22service%22%3A"
				      "%7B%22abc%22%3Atrue%7D%7D&name=a+b%2Bc&flag&force=1&empty=",
				      NULL, 0, &r),
			 200);
	json_t *v = parse_reply(&r);
	json_t *q = json_object_get(v, "query");
	assert_string_equal(jstr(q, "filters"), "{\"service\":{\"abc\":true}}");
	assert_string_equal(jstr(q, "name"), "a b+c");
	assert_string_equal(jstr(q, "flag"), "");
	assert_string_equal(jstr(q, "empty"), "");
	assert_true(json_is_true(json_object_get(v, "force")));
	json_decref(v);
	free(r.data);
	assert_int_equal(curl_request(h, f->sock, "GET",
				      "http://localhost/x?force=false", NULL, 0, &r),
			 200);
	v = parse_reply(&r);
	assert_true(json_is_false(json_object_get(v, "force")));
	json_decref(v);
	free(r.data);
	curl_easy_cleanup(h);
}

static void test_bad_percent_encoding_is_400(void **state)
{
	struct fixture *f = *state;
	start_server(f);
	const char req[] = "GET /x?a=%zz HTTP/1.1\r\nHost: x\r\n\r\n";
	char *resp = raw_exchange(f->sock, req, sizeof(req) - 1);
	assert_non_null(strstr(resp, "HTTP/1.1 400 Bad Request\r\n"));
	free(resp);
	const char nul[] = "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n";
	resp = raw_exchange(f->sock, nul, sizeof(nul) - 1);
	assert_non_null(strstr(resp, "HTTP/1.1 400 Bad Request\r\n"));
	free(resp);
}

static void test_keep_alive_reuses_connection(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	long connects_total = 0;
	start_server(f);
	CURL *h = curl_easy_init();
	for (int i = 0; i < 5; i++) {
		char url[64];
		snprintf(url, sizeof(url), "http://localhost/v1.41/req%d", i);
		assert_int_equal(curl_request(h, f->sock, i % 2 ? "POST" : "GET",
					      url, i % 2 ? "{}" : NULL, 2, &r),
				 200);
		json_t *v = parse_reply(&r);
		assert_string_equal(jstr(v, "path"),
				    url + strlen("http://localhost/v1.41"));
		json_decref(v);
		free(r.data);
		long connects = -1;
		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
		connects_total += connects;
	}
	assert_int_equal(connects_total, 1);
	curl_easy_cleanup(h);
}

static void test_pipelined_requests(void **state)
{
	struct fixture *f = *state;
	start_server(f);
	const char reqs[] =
		"POST /one HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
		"GET /two HTTP/1.1\r\nConnection: close\r\n\r\n";
	char *resp = raw_exchange(f->sock, reqs, sizeof(reqs) - 1);
	char *first = strstr(resp, "\"path\":\"/one\"");
	char *second = strstr(resp, "\"path\":\"/two\"");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
	assert_non_null(strstr(resp, "\"body\":\"abc\""));
	assert_non_null(strstr(resp, "Connection: close\r\n"));
	free(resp);
}

static void test_http10_closes(void **state)
{
	struct fixture *f = *state;
	start_server(f);
	const char req[] = "GET /old HTTP/1.0\r\n\r\n";
	char *resp = raw_exchange(f->sock, req, sizeof(req) - 1);
	assert_true(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(resp, "Connection: close\r\n"));
	free(resp);
}

static void test_malformed_request_line_is_400(void **state)
{
	struct fixture *f = *state;
	start_server(f);
	const char *bad[] = {
		"GARBAGE\r\n\r\n",
		"GET\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"GET relative HTTP/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *resp = raw_exchange(f->sock, bad[i], strlen(bad[i]));
		if (strncmp(resp, "HTTP/1.1 400 Bad Request\r\n", 26) != 0)
			fail_msg("request %zu: got '%s'", i, resp);
		assert_non_null(strstr(resp, "{\"message\":"));
		free(resp);
	}
	const char v2[] = "GET / HTTP/2.0\r\n\r\n";
	char *resp = raw_exchange(f->sock, v2, sizeof(v2) - 1);
	assert_true(strncmp(resp, "HTTP/1.1 505 ", 13) == 0);
	free(resp);
}

static void test_oversized_body_is_413(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	start_server(f);
	/* Declared too large: refused before any body byte is read. */
	const char req[] = "POST /big HTTP/1.1\r\nContent-Length: 16777217\r\n\r\n";
	char *resp = raw_exchange(f->sock, req, sizeof(req) - 1);
	assert_true(strncmp(resp, "HTTP/1.1 413 ", 13) == 0);
	free(resp);
	/* Through curl (which sends Expect: 100-continue for large bodies). */
	size_t big = API_HTTP_MAX_BODY_BYTES + 1;
	char *body = malloc(big);
	assert_non_null(body);
	memset(body, 'x', big);
	CURL *h = curl_easy_init();
	assert_int_equal(curl_request(h, f->sock, "POST",
				      "http://localhost/big", body, big, &r),
			 413);
	free(r.data);
	/* Exactly the limit is accepted (answered with "100 Continue" first). */
	assert_int_equal(curl_request(h, f->sock, "POST",
				      "http://localhost/big", body, big - 1, &r),
			 200);
	json_t *v = parse_reply(&r);
	assert_int_equal(json_integer_value(json_object_get(v, "body_len")), big - 1);
	json_decref(v);
	free(r.data);
	curl_easy_cleanup(h);
	free(body);
}

static void test_expect_100_continue(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char buf[1024];
	start_server(f);
	strcpy(addr.sun_path, f->sock);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	const char head[] =
		"POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n"
		"Connection: close\r\n\r\n";
	assert_int_equal(send(fd, head, sizeof(head) - 1, 0),
			 (ssize_t)sizeof(head) - 1);
	const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	size_t got = 0;
	while (got < sizeof(cont) - 1) {
		ssize_t n = recv(fd, buf + got, sizeof(cont) - 1 - got, 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_memory_equal(buf, cont, sizeof(cont) - 1);
	assert_int_equal(send(fd, "xyz", 3, 0), 3);
	got = 0;
	for (;;) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	assert_true(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(buf, "\"body\":\"xyz\""));
}

static void test_chunked_upload_is_411(void **state)
{
	struct fixture *f = *state;
	start_server(f);
	const char req[] = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
	char *resp = raw_exchange(f->sock, req, sizeof(req) - 1);
	assert_true(strncmp(resp, "HTTP/1.1 411 ", 13) == 0);
	free(resp);
}

static void test_oversized_headers_is_431(void **state)
{
	struct fixture *f = *state;
	start_server(f);
	size_t pad = API_HTTP_MAX_HEADER_BYTES;
	char *req = malloc(pad + 64);
	assert_non_null(req);
	int n = sprintf(req, "GET / HTTP/1.1\r\nX-Pad: ");
	memset(req + n, 'p', pad);
	strcpy(req + n + pad, "\r\n\r\n");
	char *resp = raw_exchange(f->sock, req, strlen(req));
	assert_true(strncmp(resp, "HTTP/1.1 431 ", 13) == 0);
	free(resp);
	free(req);
}

static void test_error_helper_is_docker_shaped(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	start_server(f);
	CURL *h = curl_easy_init();
	assert_int_equal(curl_request(h, f->sock, "GET",
				      "http://localhost/v1.41/error", NULL, 0, &r),
			 404);
	json_t *v = parse_reply(&r);
	assert_string_equal(jstr(v, "message"), "service web not found");
	assert_int_equal(json_object_size(v), 1);
	json_decref(v);
	free(r.data);
	curl_easy_cleanup(h);
}

static void test_socket_mode_and_parent_dir(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char dir[160];
	start_server(f);
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(dir, sizeof(dir), "%s/run", f->dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	api_http_stop(f->server);
	f->server = NULL;
	assert_int_equal(lstat(f->sock, &st), -1); /* removed at stop */
}

/* Binds a socket at path and closes it without unlinking: a stale file. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd);
}

static void test_stale_socket_replaced(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/run", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	make_stale_socket(f->sock);
	start_server(f);
	CURL *h = curl_easy_init();
	assert_int_equal(curl_request(h, f->sock, "GET",
				      "http://localhost/ping", NULL, 0, &r),
			 200);
	free(r.data);
	curl_easy_cleanup(h);
}

static void test_live_socket_not_replaced(void **state)
{
	struct fixture *f = *state;
	struct api_http_server *second = NULL;
	char err[256] = "";
	start_server(f);
	struct api_http_config config = { .socket_path = f->sock,
					  .handler = echo_handler };
	assert_int_equal(api_http_start(&config, &second, err, sizeof(err)),
			 -EADDRINUSE);
	assert_null(second);
	assert_non_null(strstr(err, "listening"));
}

static void test_regular_file_not_replaced(void **state)
{
	struct fixture *f = *state;
	char dir[160];
	char err[256] = "";
	snprintf(dir, sizeof(dir), "%s/run", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	FILE *fp = fopen(f->sock, "w");
	assert_non_null(fp);
	fclose(fp);
	struct api_http_config config = { .socket_path = f->sock,
					  .handler = echo_handler };
	assert_int_equal(api_http_start(&config, &f->server, err, sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "not a socket"));
	struct stat st;
	assert_int_equal(stat(f->sock, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_bad_config_rejected(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	char long_path[200];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	struct api_http_config config = { .socket_path = long_path,
					  .handler = echo_handler };
	assert_int_equal(api_http_start(&config, &f->server, err, sizeof(err)),
			 -ENAMETOOLONG);
	config.socket_path = f->sock;
	config.handler = NULL;
	assert_int_equal(api_http_start(&config, &f->server, err, sizeof(err)),
			 -EINVAL);
}

static void test_stop_with_idle_connection(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	start_server(f);
	CURL *h = curl_easy_init();
	assert_int_equal(curl_request(h, f->sock, "GET", "http://localhost/a",
				      NULL, 0, &r),
			 200);
	free(r.data);
	/* curl keeps the connection open; stop must still return. */
	api_http_stop(f->server);
	f->server = NULL;
	curl_easy_cleanup(h);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_strips_version_prefix,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_with_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_decoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_percent_encoding_is_400,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive_reuses_connection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_requests, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http10_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_request_line_is_400,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_body_is_413,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect_100_continue, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_chunked_upload_is_411,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_headers_is_431,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_helper_is_docker_shaped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_mode_and_parent_dir,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_socket_not_replaced,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_regular_file_not_replaced,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config_rejected, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_with_idle_connection,
						setup, teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return failed;
}

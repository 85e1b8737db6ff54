/*
 * docker_api.c: the Docker Engine API client declared in docker_api.h.
 *
 * Requests go over the engine's unix socket with libcurl
 * (CURLOPT_UNIX_SOCKET_PATH) to http://docker/v1.41/..., always with
 * "Content-Type: application/json"; bodies are JSON (jansson). A struct
 * docker_api owns one curl easy handle, reset before each request so that
 * no option leaks from one call to the next while the connection is kept.
 * A struct docker_events owns the thread that follows GET /events: a curl
 * multi handle (so that docker_events_stop can wake it at once with
 * curl_multi_wakeup), its easy handle, and the buffer of the current,
 * not yet complete, line of the newline-delimited stream.
 */
#include "docker_api.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCKER_API_BASE "http://docker/v1.41"
#define DOCKER_API_CONNECT_TIMEOUT_MS 2000L
#define DOCKER_API_TIMEOUT_S 60L
#define DOCKER_API_PULL_TIMEOUT_S 600L
#define DOCKER_API_MAX_RESPONSE (64u << 20)
#define DOCKER_EVENTS_MAX_LINE (1u << 20)
#define DOCKER_EVENTS_POLL_MS 1000
#define DOCKER_EVENTS_BACKOFF_MIN_MS 500
#define DOCKER_EVENTS_BACKOFF_MAX_MS 5000

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

static void api_errorf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void api_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- buffers */

static int buf_append(struct docker_buf *buf, const char *data, size_t len)
{
	size_t need = buf->len + len + 1;
	size_t cap;
	char *grown;

	if (need > DOCKER_API_MAX_RESPONSE) {
		buf->too_large = true;
		return -1;
	}
	if (need > buf->cap) {
		cap = buf->cap ? buf->cap : 1024;
		while (cap < need)
			cap *= 2;
		grown = realloc(buf->data, cap);
		if (grown == NULL)
			return -1;
		buf->data = grown;
		buf->cap = cap;
	}
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return 0;
}

static void buf_free(struct docker_buf *buf)
{
	free(buf->data);
	memset(buf, 0, sizeof(*buf));
}

static size_t buf_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct docker_buf *buf = userdata;
	size_t len = size * nmemb;

	if (buf_append(buf, ptr, len) != 0)
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	return len;
}

/* ----------------------------------------------------------- lifecycle */

static struct curl_slist *api_headers(void)
{
	return curl_slist_append(NULL, "Content-Type: application/json");
}

int docker_api_open(const char *socket_path, struct docker_api **out,
		    char *err, size_t errlen)
{
	struct docker_api *api = calloc(1, sizeof(*api));

	if (api == NULL) {
		api_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	api->socket_path = strdup(socket_path ? socket_path
					      : DOCKER_API_DEFAULT_SOCKET);
	api->curl = curl_easy_init();
	api->headers = api_headers();
	if (api->socket_path == NULL || api->curl == NULL ||
	    api->headers == NULL) {
		docker_api_close(api);
		api_errorf(err, errlen, "cannot create a curl handle");
		return DOCKER_API_ERROR;
	}
	*out = api;
	return DOCKER_API_OK;
}

void docker_api_close(struct docker_api *api)
{
	if (api == NULL)
		return;
	if (api->curl != NULL)
		curl_easy_cleanup(api->curl);
	curl_slist_free_all(api->headers);
	free(api->socket_path);
	free(api);
}

void docker_api_set_abort(struct docker_api *api, const atomic_bool *flag)
{
	api->abort_flag = flag;
}

/* ------------------------------------------------------------ requests */

/* curl calls this about once a second during a transfer. */
static int api_progress_cb(void *userdata, curl_off_t dltotal,
			   curl_off_t dlnow, curl_off_t ultotal,
			   curl_off_t ulnow)
{
	const atomic_bool *flag = userdata;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return atomic_load(flag) ? 1 : 0;
}

/* Explains a failed curl transfer; connection failures name the socket. */
static int api_transport_error(CURL *curl, const char *socket_path,
			       CURLcode rc, const char *errbuf,
			       struct docker_buf *resp, char *err,
			       size_t errlen)
{
	long os_errno = 0;

	if (rc == CURLE_COULDNT_CONNECT) {
		curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
		api_errorf(err, errlen, "cannot reach %s: %s", socket_path,
			   os_errno ? strerror((int)os_errno) : errbuf);
		return DOCKER_API_UNREACHABLE;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		api_errorf(err, errlen, "request aborted: shutting down");
		return DOCKER_API_ERROR;
	}
	if (rc == CURLE_WRITE_ERROR && resp != NULL && resp->too_large) {
		api_errorf(err, errlen, "engine response larger than %u bytes",
			   DOCKER_API_MAX_RESPONSE);
		return DOCKER_API_ERROR;
	}
	api_errorf(err, errlen, "request to %s failed: %s", socket_path,
		   errbuf[0] ? errbuf : curl_easy_strerror(rc));
	return DOCKER_API_ERROR;
}

/* Turns an engine's error answer into err: its "message" when the body is
 * the usual {"message": "..."}, else the body itself. */
static int api_status_error(long status, const struct docker_buf *resp,
			    char *err, size_t errlen)
{
	json_t *body = NULL;
	const char *message = NULL;

	if (resp->len > 0)
		body = json_loadb(resp->data, resp->len, 0, NULL);
	if (json_is_object(body))
		message = json_string_value(json_object_get(body, "message"));
	if (message != NULL)
		api_errorf(err, errlen, "%s", message);
	else if (resp->len > 0)
		api_errorf(err, errlen, "HTTP %ld: %.*s", status,
			   (int)(resp->len > 200 ? 200 : resp->len),
			   resp->data);
	else
		api_errorf(err, errlen, "HTTP %ld from the engine", status);
	json_decref(body);
	if (status == 404)
		return DOCKER_API_NOT_FOUND;
	if (status == 304)
		return DOCKER_API_NOT_MODIFIED;
	return DOCKER_API_ERROR;
}

/* Performs one request; body may be NULL. resp receives the body. Returns
 * DOCKER_API_OK for a 2xx answer. */
static int api_request(struct docker_api *api, const char *method,
		       const char *path, const char *body, long timeout_s,
		       struct docker_buf *resp, char *err, size_t errlen)
{
	char url[2048];
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;
	CURL *curl = api->curl;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", DOCKER_API_BASE,
			     path) >= sizeof(url)) {
		api_errorf(err, errlen, "request path too long");
		return DOCKER_API_ERROR;
	}
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, api->socket_path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, api->headers);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 DOCKER_API_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, buf_write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
	if (api->abort_flag != NULL) {
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
				 api_progress_cb);
		curl_easy_setopt(curl, CURLOPT_XFERINFODATA,
				 (void *)api->abort_flag);
	}
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
				 (long)(body ? strlen(body) : 0));
	} else {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK)
		return api_transport_error(curl, api->socket_path, rc, errbuf,
					   resp, err, errlen);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		return api_status_error(status, resp, err, errlen);
	return DOCKER_API_OK;
}

/* A request whose answer is a JSON value; *out (may be NULL) gets it. */
static int api_request_json(struct docker_api *api, const char *method,
			    const char *path, json_t *body, long timeout_s,
			    json_t **out, char *err, size_t errlen)
{
	struct docker_buf resp = {0};
	char *text = NULL;
	json_error_t jerr;
	json_t *value;
	int rc;

	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL) {
			api_errorf(err, errlen, "cannot encode request body");
			return DOCKER_API_ERROR;
		}
	}
	rc = api_request(api, method, path, text, timeout_s, &resp, err,
			 errlen);
	free(text);
	if (rc == DOCKER_API_OK && out != NULL) {
		value = json_loadb(resp.data ? resp.data : "", resp.len, 0,
				   &jerr);
		if (value == NULL) {
			api_errorf(err, errlen, "engine sent invalid JSON: %s",
				   jerr.text);
			rc = DOCKER_API_ERROR;
		}
		*out = value;
	}
	buf_free(&resp);
	return rc;
}

/* Escapes s for a URL path segment or query value; free with curl_free. */
static char *api_escape(struct docker_api *api, const char *s)
{
	return curl_easy_escape(api->curl, s, 0);
}

/* ---------------------------------------------------------- operations */

int docker_api_ping(struct docker_api *api, char *err, size_t errlen)
{
	struct docker_buf resp = {0};
	int rc = api_request(api, "GET", "/_ping", NULL, 5, &resp, err,
			     errlen);

	buf_free(&resp);
	return rc;
}

int docker_api_info(struct docker_api *api, json_t **out, char *err,
		    size_t errlen)
{
	return api_request_json(api, "GET", "/info", NULL, 10, out, err,
				errlen);
}

/* Checks an image reference before it goes into a URL path: the
 * characters of [registry/]name[:tag][@digest], nothing else. */
static bool api_image_ref_ok(const char *image)
{
	size_t i;

	if (image == NULL || image[0] == '\0' || strlen(image) > 512)
		return false;
	for (i = 0; image[i] != '\0'; i++) {
		char c = image[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-' || c == '/' || c == ':' || c == '@'))
			return false;
	}
	return true;
}

int docker_api_image_inspect(struct docker_api *api, const char *image,
			     json_t **out, char *err, size_t errlen)
{
	char path[1024];

	if (!api_image_ref_ok(image)) {
		api_errorf(err, errlen, "invalid image reference \"%s\"",
			   image ? image : "");
		return DOCKER_API_ERROR;
	}
	snprintf(path, sizeof(path), "/images/%s/json", image);
	return api_request_json(api, "GET", path, NULL, DOCKER_API_TIMEOUT_S,
				out, err, errlen);
}

/* Splits image into the name and tag of a pull: the tag follows the last
 * ':' after the last '/'; a digest reference is pulled whole. */
static void api_image_split(const char *image, char *name, size_t namelen,
			    char *tag, size_t taglen)
{
	const char *slash = strrchr(image, '/');
	const char *colon = strrchr(image, ':');

	if (strchr(image, '@') != NULL || colon == NULL ||
	    (slash != NULL && colon < slash)) {
		snprintf(name, namelen, "%s", image);
		snprintf(tag, taglen, "%s",
			 strchr(image, '@') != NULL ? "" : "latest");
		return;
	}
	snprintf(name, namelen, "%.*s", (int)(colon - image), image);
	snprintf(tag, taglen, "%s", colon + 1);
}

/* The pull's progress stream is one JSON object per line; a failure after
 * the 200 answer shows up as {"error": "...", "errorDetail": {...}}. */
static int api_pull_stream_error(const struct docker_buf *resp, char *err,
				 size_t errlen)
{
	const char *line = resp->data;
	int rc = DOCKER_API_OK;

	while (line != NULL && *line != '\0' && rc == DOCKER_API_OK) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		json_t *obj = json_loadb(line, len, 0, NULL);
		const char *message =
			json_string_value(json_object_get(obj, "error"));

		if (message != NULL) {
			api_errorf(err, errlen, "%s", message);
			rc = DOCKER_API_ERROR;
		}
		json_decref(obj);
		line = end ? end + 1 : NULL;
	}
	return rc;
}

int docker_api_image_pull(struct docker_api *api, const char *image,
			  char *err, size_t errlen)
{
	char name[600], tag[200], path[1500];
	struct docker_buf resp = {0};
	char *ename, *etag;
	int rc;

	if (!api_image_ref_ok(image)) {
		api_errorf(err, errlen, "invalid image reference \"%s\"",
			   image ? image : "");
		return DOCKER_API_ERROR;
	}
	api_image_split(image, name, sizeof(name), tag, sizeof(tag));
	ename = api_escape(api, name);
	etag = api_escape(api, tag);
	if (ename == NULL || etag == NULL) {
		curl_free(ename);
		curl_free(etag);
		api_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	if (tag[0] != '\0')
		snprintf(path, sizeof(path), "/images/create?fromImage=%s&tag=%s",
			 ename, etag);
	else
		snprintf(path, sizeof(path), "/images/create?fromImage=%s",
			 ename);
	curl_free(ename);
	curl_free(etag);
	rc = api_request(api, "POST", path, NULL, DOCKER_API_PULL_TIMEOUT_S,
			 &resp, err, errlen);
	if (rc == DOCKER_API_OK)
		rc = api_pull_stream_error(&resp, err, errlen);
	buf_free(&resp);
	return rc;
}

int docker_api_container_create(struct docker_api *api, const char *name,
				json_t *config, char **id, char *err,
				size_t errlen)
{
	char path[512];
	char *ename = NULL;
	json_t *reply = NULL;
	const char *cid;
	int rc;

	if (name != NULL) {
		ename = api_escape(api, name);
		if (ename == NULL) {
			api_errorf(err, errlen, "out of memory");
			return DOCKER_API_ERROR;
		}
		snprintf(path, sizeof(path), "/containers/create?name=%s",
			 ename);
		curl_free(ename);
	} else {
		snprintf(path, sizeof(path), "/containers/create");
	}
	rc = api_request_json(api, "POST", path, config, DOCKER_API_TIMEOUT_S,
			      &reply, err, errlen);
	if (rc != DOCKER_API_OK)
		return rc;
	cid = json_string_value(json_object_get(reply, "Id"));
	if (cid == NULL || (*id = strdup(cid)) == NULL) {
		api_errorf(err, errlen, "engine's create answer has no Id");
		rc = DOCKER_API_ERROR;
	}
	json_decref(reply);
	return rc;
}

/* A request on /containers/{id}<suffix> with an empty answer. */
static int api_container_call(struct docker_api *api, const char *method,
			      const char *id, const char *suffix,
			      long timeout_s, char *err, size_t errlen)
{
	char path[1024];
	struct docker_buf resp = {0};
	char *eid = api_escape(api, id ? id : "");
	int rc;

	if (eid == NULL) {
		api_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	snprintf(path, sizeof(path), "/containers/%s%s", eid, suffix);
	curl_free(eid);
	rc = api_request(api, method, path, NULL, timeout_s, &resp, err,
			 errlen);
	buf_free(&resp);
	return rc;
}

int docker_api_container_start(struct docker_api *api, const char *id,
			       char *err, size_t errlen)
{
	return api_container_call(api, "POST", id, "/start",
				  DOCKER_API_TIMEOUT_S, err, errlen);
}

int docker_api_container_inspect(struct docker_api *api, const char *id,
				 json_t **out, char *err, size_t errlen)
{
	char path[512];
	char *eid = api_escape(api, id ? id : "");

	if (eid == NULL) {
		api_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	snprintf(path, sizeof(path), "/containers/%s/json", eid);
	curl_free(eid);
	return api_request_json(api, "GET", path, NULL, DOCKER_API_TIMEOUT_S,
				out, err, errlen);
}

int docker_api_container_stop(struct docker_api *api, const char *id,
			      int timeout_s, char *err, size_t errlen)
{
	char suffix[64];

	if (timeout_s < 0)
		timeout_s = 0;
	snprintf(suffix, sizeof(suffix), "/stop?t=%d", timeout_s);
	return api_container_call(api, "POST", id, suffix,
				  DOCKER_API_TIMEOUT_S + timeout_s, err,
				  errlen);
}

int docker_api_container_kill(struct docker_api *api, const char *id,
			      const char *signal, char *err, size_t errlen)
{
	char suffix[128];
	char *esig = api_escape(api, signal ? signal : "SIGKILL");
	int rc;

	if (esig == NULL) {
		api_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	snprintf(suffix, sizeof(suffix), "/kill?signal=%s", esig);
	curl_free(esig);
	rc = api_container_call(api, "POST", id, suffix, DOCKER_API_TIMEOUT_S,
				err, errlen);
	return rc;
}

int docker_api_container_remove(struct docker_api *api, const char *id,
				bool force, char *err, size_t errlen)
{
	return api_container_call(api, "DELETE", id,
				  force ? "?force=1&v=1" : "?v=1",
				  DOCKER_API_TIMEOUT_S, err, errlen);
}

int docker_api_container_list(struct docker_api *api, json_t *filters,
			      json_t **out, char *err, size_t errlen)
{
	char *text = NULL, *etext = NULL, *path = NULL;
	int rc = DOCKER_API_ERROR;

	if (filters != NULL) {
		text = json_dumps(filters, JSON_COMPACT);
		etext = text ? api_escape(api, text) : NULL;
		if (etext == NULL) {
			api_errorf(err, errlen, "cannot encode list filters");
			goto out;
		}
	}
	if (asprintf(&path, "/containers/json?all=1%s%s",
		     etext ? "&filters=" : "", etext ? etext : "") < 0) {
		path = NULL;
		api_errorf(err, errlen, "out of memory");
		goto out;
	}
	rc = api_request_json(api, "GET", path, NULL, DOCKER_API_TIMEOUT_S,
			      out, err, errlen);
	if (rc == DOCKER_API_OK && !json_is_array(*out)) {
		api_errorf(err, errlen, "engine's list answer is not an array");
		json_decref(*out);
		*out = NULL;
		rc = DOCKER_API_ERROR;
	}
out:
	free(path);
	curl_free(etext);
	free(text);
	return rc;
}

/* Frames: [stream(1) 0 0 0 length(4, big-endian)] payload. */
int docker_api_demux(const char *in, size_t inlen, char **out,
		     size_t *outlen)
{
	struct docker_buf buf = {0};
	size_t pos = 0;

	if (buf_append(&buf, "", 0) != 0)
		return DOCKER_API_ERROR;
	while (pos + 8 <= inlen) {
		const unsigned char *h = (const unsigned char *)in + pos;
		uint32_t len = ((uint32_t)h[4] << 24) | ((uint32_t)h[5] << 16) |
			       ((uint32_t)h[6] << 8) | (uint32_t)h[7];
		size_t avail = inlen - pos - 8;

		if (h[0] > 2 || h[1] != 0 || h[2] != 0 || h[3] != 0) {
			/* Not multiplexed (a TTY stream): keep it raw. */
			if (buf_append(&buf, in + pos, inlen - pos) != 0)
				goto oom;
			pos = inlen;
			break;
		}
		if (buf_append(&buf, in + pos + 8,
			       len < avail ? len : avail) != 0)
			goto oom;
		pos += 8 + (len < avail ? len : avail);
	}
	*out = buf.data;
	*outlen = buf.len;
	return DOCKER_API_OK;
oom:
	buf_free(&buf);
	return DOCKER_API_ERROR;
}

int docker_api_container_logs(struct docker_api *api, const char *id,
			      int tail, char **data, size_t *len, char *err,
			      size_t errlen)
{
	char path[512], tailv[32];
	struct docker_buf resp = {0};
	char *eid = api_escape(api, id ? id : "");
	int rc;

	if (eid == NULL) {
		api_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	if (tail > 0)
		snprintf(tailv, sizeof(tailv), "%d", tail);
	else
		snprintf(tailv, sizeof(tailv), "all");
	snprintf(path, sizeof(path),
		 "/containers/%s/logs?stdout=1&stderr=1&tail=%s", eid, tailv);
	curl_free(eid);
	rc = api_request(api, "GET", path, NULL, DOCKER_API_TIMEOUT_S, &resp,
			 err, errlen);
	if (rc == DOCKER_API_OK &&
	    docker_api_demux(resp.data ? resp.data : "", resp.len, data,
			     len) != DOCKER_API_OK) {
		api_errorf(err, errlen, "out of memory");
		rc = DOCKER_API_ERROR;
	}
	buf_free(&resp);
	return rc;
}

/* ---------------------------------------------------------------- exec */

int docker_api_exec_create(struct docker_api *api, const char *id,
			   const char *const *argv, char **exec_id, char *err,
			   size_t errlen)
{
	char path[512];
	char *eid = api_escape(api, id ? id : "");
	json_t *body = json_object(), *cmd = json_array(), *reply = NULL;
	const char *xid;
	int rc = DOCKER_API_ERROR;
	size_t i;

	if (eid == NULL || body == NULL || cmd == NULL) {
		api_errorf(err, errlen, "out of memory");
		json_decref(cmd);
		goto out;
	}
	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		json_array_append_new(cmd, json_string(argv[i]));
	if (json_array_size(cmd) == 0) {
		api_errorf(err, errlen, "exec needs a command");
		json_decref(cmd);
		goto out;
	}
	json_object_set_new(body, "Cmd", cmd);
	json_object_set_new(body, "AttachStdout", json_true());
	json_object_set_new(body, "AttachStderr", json_true());
	snprintf(path, sizeof(path), "/containers/%s/exec", eid);
	rc = api_request_json(api, "POST", path, body, DOCKER_API_TIMEOUT_S,
			      &reply, err, errlen);
	if (rc != DOCKER_API_OK)
		goto out;
	xid = json_string_value(json_object_get(reply, "Id"));
	if (xid == NULL || (*exec_id = strdup(xid)) == NULL) {
		api_errorf(err, errlen, "engine's exec answer has no Id");
		rc = DOCKER_API_ERROR;
	}
out:
	json_decref(reply);
	json_decref(body);
	curl_free(eid);
	return rc;
}

int docker_api_exec_start(struct docker_api *api, const char *exec_id,
			  char **output, size_t *len, char *err,
			  size_t errlen)
{
	char path[512];
	struct docker_buf resp = {0};
	char *eid = api_escape(api, exec_id ? exec_id : "");
	int rc;

	if (eid == NULL) {
		api_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	snprintf(path, sizeof(path), "/exec/%s/start", eid);
	curl_free(eid);
	/* Attached: the engine streams the output, then closes. */
	rc = api_request(api, "POST", path, "{\"Detach\":false,\"Tty\":false}",
			 DOCKER_API_TIMEOUT_S * 5, &resp, err, errlen);
	if (rc == DOCKER_API_OK &&
	    docker_api_demux(resp.data ? resp.data : "", resp.len, output,
			     len) != DOCKER_API_OK) {
		api_errorf(err, errlen, "out of memory");
		rc = DOCKER_API_ERROR;
	}
	buf_free(&resp);
	return rc;
}

int docker_api_exec_inspect(struct docker_api *api, const char *exec_id,
			    int *exit_code, bool *running, char *err,
			    size_t errlen)
{
	char path[512];
	char *eid = api_escape(api, exec_id ? exec_id : "");
	json_t *reply = NULL, *code;
	int rc;

	if (eid == NULL) {
		api_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	snprintf(path, sizeof(path), "/exec/%s/json", eid);
	curl_free(eid);
	rc = api_request_json(api, "GET", path, NULL, DOCKER_API_TIMEOUT_S,
			      &reply, err, errlen);
	if (rc != DOCKER_API_OK)
		return rc;
	code = json_object_get(reply, "ExitCode");
	*running = json_is_true(json_object_get(reply, "Running"));
	*exit_code = json_is_integer(code) ? (int)json_integer_value(code) : -1;
	json_decref(reply);
	return DOCKER_API_OK;
}

int docker_api_exec(struct docker_api *api, const char *id,
		    const char *const *argv, char **output, size_t *len,
		    int *exit_code, char *err, size_t errlen)
{
	char *exec_id = NULL;
	bool running = false;
	int rc;

	*output = NULL;
	rc = docker_api_exec_create(api, id, argv, &exec_id, err, errlen);
	if (rc == DOCKER_API_OK)
		rc = docker_api_exec_start(api, exec_id, output, len, err,
					   errlen);
	if (rc == DOCKER_API_OK)
		rc = docker_api_exec_inspect(api, exec_id, exit_code, &running,
					     err, errlen);
	if (rc == DOCKER_API_OK && running) {
		api_errorf(err, errlen, "exec %s still running after its "
			   "output ended", exec_id);
		rc = DOCKER_API_ERROR;
	}
	if (rc != DOCKER_API_OK) {
		free(*output);
		*output = NULL;
	}
	free(exec_id);
	return rc;
}

/* -------------------------------------------------------------- events */

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
	curl_easy_setopt(ev->curl, CURLOPT_UNIX_SOCKET_PATH, ev->socket_path);
	curl_easy_setopt(ev->curl, CURLOPT_URL, url);
	curl_easy_setopt(ev->curl, CURLOPT_HTTPHEADER, ev->headers);
	curl_easy_setopt(ev->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(ev->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 DOCKER_API_CONNECT_TIMEOUT_MS);
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
		api_errorf(err, errlen, "out of memory");
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
		api_errorf(err, errlen, "cannot set up the events stream");
		return DOCKER_API_ERROR;
	}
	rc = pthread_create(&ev->thread, NULL, events_thread, ev);
	if (rc != 0) {
		events_free(ev);
		api_errorf(err, errlen, "cannot start the events thread: %s",
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

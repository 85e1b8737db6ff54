/*
 * docker_api.c: the request machinery of the Engine API client declared
 * in docker_api.h: opening and closing a client, the response buffer, one
 * request over the engine's unix socket with libcurl
 * (CURLOPT_UNIX_SOCKET_PATH) to http://docker/v1.41/..., always with
 * "Content-Type: application/json", and the translation of the engine's
 * error answers. /_ping and /info live here; the image, container and
 * exec calls are in docker_api_containers.c, the /events stream in
 * docker_api_events.c. State owned here: struct docker_api.
 */
#include "docker_api_impl.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- buffers */

int buf_append(struct docker_buf *buf, const char *data, size_t len)
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

void buf_free(struct docker_buf *buf)
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

struct curl_slist *api_headers(void)
{
	return curl_slist_append(NULL, "Content-Type: application/json");
}

int docker_api_open(const char *socket_path, struct docker_api **out,
		    char *err, size_t errlen)
{
	struct docker_api *api = calloc(1, sizeof(*api));

	if (api == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	api->socket_path = strdup(socket_path ? socket_path
					      : DOCKER_API_DEFAULT_SOCKET);
	api->curl = curl_easy_init();
	api->headers = api_headers();
	if (api->socket_path == NULL || api->curl == NULL ||
	    api->headers == NULL) {
		docker_api_close(api);
		orch_errorf(err, errlen, "cannot create a curl handle");
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
		orch_errorf(err, errlen, "cannot reach %s: %s", socket_path,
			   os_errno ? strerror((int)os_errno) : errbuf);
		return DOCKER_API_UNREACHABLE;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		orch_errorf(err, errlen, "request aborted: shutting down");
		return DOCKER_API_ERROR;
	}
	if (rc == CURLE_WRITE_ERROR && resp != NULL && resp->too_large) {
		orch_errorf(err, errlen, "engine response larger than %u bytes",
			   DOCKER_API_MAX_RESPONSE);
		return DOCKER_API_ERROR;
	}
	orch_errorf(err, errlen, "request to %s failed: %s", socket_path,
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
		orch_errorf(err, errlen, "%s", message);
	else if (resp->len > 0)
		orch_errorf(err, errlen, "HTTP %ld: %.*s", status,
			   (int)(resp->len > 200 ? 200 : resp->len),
			   resp->data);
	else
		orch_errorf(err, errlen, "HTTP %ld from the engine", status);
	json_decref(body);
	if (status == 404)
		return DOCKER_API_NOT_FOUND;
	if (status == 304)
		return DOCKER_API_NOT_MODIFIED;
	return DOCKER_API_ERROR;
}

void api_curl_setup(CURL *curl, const char *socket_path, const char *url,
		    struct curl_slist *headers)
{
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 DOCKER_API_CONNECT_TIMEOUT_MS);
}

int api_request(struct docker_api *api, const char *method,
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
		orch_errorf(err, errlen, "request path too long");
		return DOCKER_API_ERROR;
	}
	curl_easy_reset(curl);
	api_curl_setup(curl, api->socket_path, url, api->headers);
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

int api_request_json(struct docker_api *api, const char *method,
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
			orch_errorf(err, errlen, "cannot encode request body");
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
			orch_errorf(err, errlen, "engine sent invalid JSON: %s",
				   jerr.text);
			rc = DOCKER_API_ERROR;
		}
		*out = value;
	}
	buf_free(&resp);
	return rc;
}

char *api_escape(struct docker_api *api, const char *s)
{
	return curl_easy_escape(api->curl, s, 0);
}

int api_path(struct docker_api *api, char *path, size_t pathlen,
	     const char *prefix, const char *id, const char *suffix,
	     char *err, size_t errlen)
{
	char *eid = api_escape(api, id ? id : "");
	int n;

	if (eid == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	n = snprintf(path, pathlen, "%s%s%s", prefix, eid, suffix);
	curl_free(eid);
	if (n < 0 || (size_t)n >= pathlen) {
		orch_errorf(err, errlen, "request path too long");
		return DOCKER_API_ERROR;
	}
	return DOCKER_API_OK;
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


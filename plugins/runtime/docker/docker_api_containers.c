/*
 * docker_api_containers.c: the image, container and exec calls of the
 * Engine API client (docker_api.h), built on the request machinery of
 * docker_api.c, and the demultiplexer of the engine's log streams.
 * State owned here: none.
 */
#include "docker_api_impl.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checks an image reference before it goes into a URL path: the
 * characters of [registry/]name[:tag][@digest], nothing else. */
static int api_image_check(const char *image, char *err, size_t errlen)
{
	size_t i, n = image ? strlen(image) : 0;

	for (i = 0; i < n && n <= 512; i++) {
		char c = image[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-' || c == '/' || c == ':' || c == '@'))
			break;
	}
	if (n > 0 && i == n)
		return DOCKER_API_OK;
	orch_errorf(err, errlen, "invalid image reference \"%.512s\"",
		   image ? image : "");
	return DOCKER_API_ERROR;
}

int docker_api_image_inspect(struct docker_api *api, const char *image,
			     json_t **out, char *err, size_t errlen)
{
	char path[1024];

	if (api_image_check(image, err, errlen) != DOCKER_API_OK)
		return DOCKER_API_ERROR;
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
			orch_errorf(err, errlen, "%s", message);
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
	char name[600], tag[200], query[700] = "", path[2100];
	struct docker_buf resp = {0};
	int rc;

	if (api_image_check(image, err, errlen) != DOCKER_API_OK)
		return DOCKER_API_ERROR;
	api_image_split(image, name, sizeof(name), tag, sizeof(tag));
	if ((tag[0] != '\0' &&
	     api_path(api, query, sizeof(query), "&tag=", tag, "", err,
		      errlen) != DOCKER_API_OK) ||
	    api_path(api, path, sizeof(path), "/images/create?fromImage=", name,
		     query, err, errlen) != DOCKER_API_OK)
		return DOCKER_API_ERROR;
	rc = api_request(api, "POST", path, NULL, DOCKER_API_PULL_TIMEOUT_S,
			 &resp, err, errlen);
	if (rc == DOCKER_API_OK)
		rc = api_pull_stream_error(&resp, err, errlen);
	buf_free(&resp);
	return rc;
}

/* POSTs body to path; the answer's "Id" goes into *id (new). */
static int api_post_for_id(struct docker_api *api, const char *path,
			   json_t *body, const char *what, char **id,
			   char *err, size_t errlen)
{
	json_t *reply = NULL;
	const char *value;
	int rc;

	rc = api_request_json(api, "POST", path, body, DOCKER_API_TIMEOUT_S,
			      &reply, err, errlen);
	if (rc != DOCKER_API_OK)
		return rc;
	value = json_string_value(json_object_get(reply, "Id"));
	if (value == NULL || (*id = strdup(value)) == NULL) {
		orch_errorf(err, errlen, "engine's %s answer has no Id", what);
		rc = DOCKER_API_ERROR;
	}
	json_decref(reply);
	return rc;
}

int docker_api_container_create(struct docker_api *api, const char *name,
				json_t *config, char **id, char *err,
				size_t errlen)
{
	char path[512] = "/containers/create";

	if (name != NULL && api_path(api, path, sizeof(path),
				     "/containers/create?name=", name, "", err,
				     errlen) != DOCKER_API_OK)
		return DOCKER_API_ERROR;
	return api_post_for_id(api, path, config, "create", id, err, errlen);
}

/* A request on /containers/{id}<suffix> with an empty answer. */
static int api_container_call(struct docker_api *api, const char *method,
			      const char *id, const char *suffix,
			      long timeout_s, char *err, size_t errlen)
{
	char path[1024];
	struct docker_buf resp = {0};
	int rc;

	if (api_path(api, path, sizeof(path), "/containers/", id, suffix, err,
		     errlen) != DOCKER_API_OK)
		return DOCKER_API_ERROR;
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

	if (api_path(api, path, sizeof(path), "/containers/", id, "/json", err,
		     errlen) != DOCKER_API_OK)
		return DOCKER_API_ERROR;
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

	if (api_path(api, suffix, sizeof(suffix), "/kill?signal=",
		     signal ? signal : "SIGKILL", "", err,
		     errlen) != DOCKER_API_OK)
		return DOCKER_API_ERROR;
	return api_container_call(api, "POST", id, suffix,
				  DOCKER_API_TIMEOUT_S, err, errlen);
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
			orch_errorf(err, errlen, "cannot encode list filters");
			goto out;
		}
	}
	if (asprintf(&path, "/containers/json?all=1%s%s",
		     etext ? "&filters=" : "", etext ? etext : "") < 0) {
		path = NULL;
		orch_errorf(err, errlen, "out of memory");
		goto out;
	}
	rc = api_request_json(api, "GET", path, NULL, DOCKER_API_TIMEOUT_S,
			      out, err, errlen);
	if (rc == DOCKER_API_OK && !json_is_array(*out)) {
		orch_errorf(err, errlen, "engine's list answer is not an array");
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

/* A request whose answer is a multiplexed stream: *out (new) receives
 * its payloads, demultiplexed. */
static int api_request_demux(struct docker_api *api, const char *method,
			     const char *path, const char *body,
			     long timeout_s, char **out, size_t *len,
			     char *err, size_t errlen)
{
	struct docker_buf resp = {0};
	int rc;

	rc = api_request(api, method, path, body, timeout_s, &resp, err,
			 errlen);
	if (rc == DOCKER_API_OK &&
	    docker_api_demux(resp.data ? resp.data : "", resp.len, out,
			     len) != DOCKER_API_OK) {
		orch_errorf(err, errlen, "out of memory");
		rc = DOCKER_API_ERROR;
	}
	buf_free(&resp);
	return rc;
}

int docker_api_container_logs(struct docker_api *api, const char *id,
			      int tail, char **data, size_t *len, char *err,
			      size_t errlen)
{
	char path[512], suffix[64];

	if (tail > 0)
		snprintf(suffix, sizeof(suffix),
			 "/logs?stdout=1&stderr=1&tail=%d", tail);
	else
		snprintf(suffix, sizeof(suffix),
			 "/logs?stdout=1&stderr=1&tail=all");
	if (api_path(api, path, sizeof(path), "/containers/", id, suffix, err,
		     errlen) != DOCKER_API_OK)
		return DOCKER_API_ERROR;
	return api_request_demux(api, "GET", path, NULL, DOCKER_API_TIMEOUT_S,
				 data, len, err, errlen);
}

/* ---------------------------------------------------------------- exec */

int docker_api_exec_create(struct docker_api *api, const char *id,
			   const char *const *argv, char **exec_id, char *err,
			   size_t errlen)
{
	char path[512];
	json_t *cmd = json_array(), *body;
	size_t i;
	int rc;

	for (i = 0; cmd != NULL && argv != NULL && argv[i] != NULL; i++)
		json_array_append_new(cmd, json_string(argv[i]));
	if (cmd != NULL && json_array_size(cmd) == 0) {
		json_decref(cmd);
		orch_errorf(err, errlen, "exec needs a command");
		return DOCKER_API_ERROR;
	}
	/* "o" steals cmd, also when the pack fails. */
	body = json_pack("{s:o,s:b,s:b}", "Cmd", cmd, "AttachStdout", 1,
			 "AttachStderr", 1);
	if (body == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return DOCKER_API_ERROR;
	}
	rc = api_path(api, path, sizeof(path), "/containers/", id, "/exec",
		      err, errlen);
	if (rc == DOCKER_API_OK)
		rc = api_post_for_id(api, path, body, "exec", exec_id, err,
				     errlen);
	json_decref(body);
	return rc;
}

int docker_api_exec_start(struct docker_api *api, const char *exec_id,
			  char **output, size_t *len, char *err,
			  size_t errlen)
{
	char path[512];

	if (api_path(api, path, sizeof(path), "/exec/", exec_id, "/start", err,
		     errlen) != DOCKER_API_OK)
		return DOCKER_API_ERROR;
	/* Attached: the engine streams the output, then closes. */
	return api_request_demux(api, "POST", path,
				 "{\"Detach\":false,\"Tty\":false}",
				 DOCKER_API_TIMEOUT_S * 5, output, len, err,
				 errlen);
}

int docker_api_exec_inspect(struct docker_api *api, const char *exec_id,
			    int *exit_code, bool *running, char *err,
			    size_t errlen)
{
	char path[512];
	json_t *reply = NULL, *code;
	int rc;

	if (api_path(api, path, sizeof(path), "/exec/", exec_id, "/json", err,
		     errlen) != DOCKER_API_OK)
		return DOCKER_API_ERROR;
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
		orch_errorf(err, errlen, "exec %s still running after its "
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

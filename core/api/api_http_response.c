/*
 * api_http_response.c: the answering side of the HTTP server: the public
 * setters of a handler's response (api_response_set/json/error), the
 * reason phrases, and writing a response (status line, Api-Version and
 * Content-* headers, body) to a connection's socket.
 *
 * No state: the response belongs to the connection that serves it.
 */
#include "api_http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
/* Writing to the socket                                               */

int api_send_all(int fd, struct iovec *iov, int iov_count)
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

int api_write_response(int fd, const struct api_response *resp, bool head_only,
		       bool close_after)
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

void api_write_reject(int fd, const struct api_reject *rej)
{
	struct api_response resp = { 0 };
	api_response_error(&resp, rej->status, "%s", rej->message);
	(void)api_write_response(fd, &resp, false, true); /* closing anyway */
	free(resp.body);
}

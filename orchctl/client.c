/*
 * client.c: orchctl's HTTP client to orchd, libcurl over the unix socket.
 *
 * State: one curl easy handle per invocation (kept in cli->client, so
 * successive requests reuse the connection), created on first use and
 * freed by client_close. Every request goes to "/v1.41<path>". Failures
 * to reach the daemon and daemon errors are printed here, docker's way.
 */
#include "orchctl.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct orch_client {
	CURL *curl;
};

struct client_buffer {
	char *data;
	size_t len;
	size_t cap;
};

void client_response_free(struct client_response *resp)
{
	free(resp->body);
	free(resp->content_type);
	memset(resp, 0, sizeof(*resp));
}

static size_t client_collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct client_buffer *b = userdata;
	size_t n = size * nmemb;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *grown = realloc(b->data, cap);
		if (grown == NULL)
			return 0; /* curl reports a write error */
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static struct orch_client *client_get(struct cli *cli)
{
	if (cli->client != NULL)
		return cli->client;
	struct orch_client *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->curl = curl_easy_init()) == NULL) {
		free(c);
		fprintf(cli->err, "Error: cannot initialize the HTTP client\n");
		return NULL;
	}
	cli->client = c;
	return c;
}

void client_close(struct cli *cli)
{
	if (cli->client == NULL)
		return;
	curl_easy_cleanup(cli->client->curl);
	free(cli->client);
	cli->client = NULL;
}

char *client_escape(const char *text)
{
	char *escaped = curl_easy_escape(NULL, text, 0);
	if (escaped == NULL)
		return NULL;
	char *copy = strdup(escaped);
	curl_free(escaped);
	return copy;
}

static void client_print_transport_error(struct cli *cli, CURLcode rc,
					 long os_errno, const char *detail)
{
	if (rc == CURLE_COULDNT_CONNECT && (os_errno == EACCES || os_errno == EPERM)) {
		fprintf(cli->err,
			"permission denied while trying to connect to the orchd daemon socket at "
			"%s: only root may use it\n",
			cli->host);
	} else if (rc == CURLE_COULDNT_CONNECT) {
		fprintf(cli->err,
			"Cannot connect to the orchd daemon at %s. Is the orchd daemon running?\n",
			cli->host);
	} else {
		fprintf(cli->err, "error during connect to %s: %s\n", cli->host,
			detail[0] ? detail : curl_easy_strerror(rc));
	}
}

int client_request(struct cli *cli, const char *method, const char *path,
		   const char *body, struct client_response *resp)
{
	struct orch_client *c = client_get(cli);
	struct client_buffer buf = { 0 };
	struct curl_slist *headers = NULL;
	char url[4096];
	char errbuf[CURL_ERROR_SIZE] = "";
	memset(resp, 0, sizeof(*resp));
	if (c == NULL)
		return -1;
	if ((size_t)snprintf(url, sizeof(url), "http://orchd/v%s%s",
			     ORCHCTL_API_VERSION, path) >= sizeof(url)) {
		fprintf(cli->err, "Error: request path too long\n");
		return -1;
	}
	CURL *h = c->curl;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, cli->socket_path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "orchctl/" ORCHCTL_VERSION);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(body));
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (headers != NULL)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		long os_errno = 0;
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
		client_print_transport_error(cli, rc, os_errno, errbuf);
		free(buf.data);
		return -1;
	}
	char *content_type = NULL;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &content_type);
	resp->content_type = content_type ? strdup(content_type) : NULL;
	resp->body = buf.data ? buf.data : strdup("");
	resp->len = buf.len;
	if (resp->body == NULL) {
		fprintf(cli->err, "Error: out of memory\n");
		client_response_free(resp);
		return -1;
	}
	return 0;
}

void client_print_daemon_error(struct cli *cli, const struct client_response *resp)
{
	json_t *v = json_loadb(resp->body, resp->len, 0, NULL);
	const char *message = json_string_value(json_object_get(v, "message"));
	if (message != NULL) {
		fprintf(cli->err, "Error response from daemon: %s\n", message);
	} else {
		size_t n = resp->len;
		while (n > 0 &&
		       (resp->body[n - 1] == '\n' || resp->body[n - 1] == '\r'))
			n--;
		if (n > 0)
			fprintf(cli->err, "Error response from daemon: %.*s\n",
				(int)n, resp->body);
		else
			fprintf(cli->err,
				"Error response from daemon: HTTP status %ld\n",
				resp->status);
	}
	json_decref(v);
}

int client_call_json(struct cli *cli, const char *method, const char *path,
		     json_t *body, json_t **out, long *http_status)
{
	struct client_response resp;
	char *text = NULL;
	if (out != NULL)
		*out = NULL;
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		fprintf(cli->err, "Error: cannot encode the request\n");
		return -1;
	}
	int rc = client_request(cli, method, path, text, &resp);
	free(text);
	if (rc != 0)
		return -1;
	if (http_status != NULL)
		*http_status = resp.status;
	if (resp.status < 200 || resp.status > 299) {
		client_print_daemon_error(cli, &resp);
		client_response_free(&resp);
		return -1;
	}
	if (out != NULL) {
		json_error_t jerr;
		*out = json_loadb(resp.body, resp.len, JSON_DECODE_ANY, &jerr);
		if (*out == NULL) {
			fprintf(cli->err,
				"Error: invalid JSON from daemon for %s %s: %s\n",
				method, path, jerr.text);
			client_response_free(&resp);
			return -1;
		}
	}
	client_response_free(&resp);
	return 0;
}

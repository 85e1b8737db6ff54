/*
 * api_http_request.c: reading a request (see api_http_internal.h): the
 * request line and headers, Content-Length, the target's percent-encoding,
 * "/v1.NN" prefix and query string; and the public accessors of a parsed
 * request (api_request_query, api_request_header).
 *
 * Pure functions over bytes already read: no sockets, no state. Input from
 * the network is checked here, where it is parsed: a malformed request
 * line or header, an encoded NUL or a bad escape is refused with the
 * status and reason the connection answers before it closes.
 */
#include "api_http_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
/* Name-value pairs: the headers and the query                         */

/* Appends {name, value} (both taken) to the *count pairs at *pairs: 0, or
 * -ENOMEM (both freed) when either is NULL or the array cannot grow. */
static int api_pairs_append(struct api_pair **pairs, size_t *count, char *name,
			    char *value)
{
	struct api_pair *grown = NULL;
	if (name != NULL && value != NULL)
		grown = realloc(*pairs, (*count + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(name);
		free(value);
		return -ENOMEM;
	}
	*pairs = grown;
	grown[(*count)++] = (struct api_pair){ name, value };
	return 0;
}

static void api_pairs_free(struct api_pair *pairs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
}

/* ------------------------------------------------------------------ */
/* Accessors of a parsed request (public)                             */

/* The value of the first header called `name` (any case), NULL if none. */
static const char *api_header_find(const struct api_pair *headers, size_t count,
				   const char *name)
{
	for (size_t i = 0; i < count; i++) {
		if (strcasecmp(headers[i].name, name) == 0)
			return headers[i].value;
	}
	return NULL;
}

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
	return api_header_find(req->headers, req->header_count, name);
}

/* ------------------------------------------------------------------ */
/* Request head parsing                                                */

void api_head_free(struct api_head *head)
{
	free(head->method);
	free(head->target);
	api_pairs_free(head->headers, head->header_count);
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
	if (api_pairs_append(&head->headers, &head->header_count,
			     strndup(line, (size_t)(colon - line)),
			     strndup(v, (size_t)(end - v))) != 0) {
		*rej = (struct api_reject){ 500, "out of memory" };
		return -1;
	}
	return 0;
}

/* Parses the head text (request line + header lines, CRLF separated, the
 * final empty line excluded). */
int api_parse_head(const char *text, size_t len, struct api_head *head,
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

const char *api_head_header(const struct api_head *head, const char *name)
{
	return api_header_find(head->headers, head->header_count, name);
}

/* The body length from Content-Length (0 if none). Every Content-Length
 * header must carry the same plain decimal number. */
int api_body_length(const struct api_head *head, size_t *out, struct api_reject *rej)
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

void api_target_free(struct api_target *t)
{
	free(t->path);
	api_pairs_free(t->query, t->query_count);
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
	char *name = api_percent_decode(pair, name_len, true, &bad);
	char *value = eq ? api_percent_decode(eq + 1, (size_t)(pair + len - eq - 1),
					      true, &bad)
			 : strdup("");
	if (bad) {
		free(name);
		free(value);
		return -EINVAL;
	}
	return api_pairs_append(&t->query, &t->query_count, name, value);
}

int api_decode_target(const char *target, struct api_target *t, struct api_reject *rej)
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

/*
 * parse_cluster.c: the parsers of orchctl's cluster flag values (see
 * parse.h): node availability and role, node labels, HOST:PORT addresses,
 * join tokens and the -H/--host daemon address. The service flags' values
 * are parse.c's.
 *
 * Pure functions over strings: no I/O, no state.
 */
#include "parse.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int parse_node_availability(const char *text, char *err, size_t err_len)
{
	static const char *const availabilities[] = { "active", "pause",
						      "drain", NULL };
	return parse_word(
		text, availabilities, err, err_len,
		"invalid availability \"%s\", only active, pause and drain are supported");
}

int parse_node_role(const char *text, char *err, size_t err_len)
{
	static const char *const roles[] = { "worker", "manager", NULL };
	return parse_word(text, roles, err, err_len,
			  "invalid role \"%s\", only worker and manager are supported");
}

int parse_label(const char *text, char **key, char **value, char *err, size_t err_len)
{
	*key = NULL;
	*value = NULL;
	if (strchr(text, '=') == NULL)
		return parse_fail(err, err_len, "bad attribute format: %s", text);
	return parse_key_value(text, key, value, err, err_len);
}

/* The port after a HOST: 1..65535, digits only. */
static int parse_port(const char *text, const char *whole, char *err, size_t err_len)
{
	uint64_t port;
	if (text[0] == '\0')
		return parse_fail(err, err_len,
				  "missing port in address \"%s\"", whole);
	if (parse_uint64(text, &port, NULL, 0) != 0 || port < 1 || port > 65535)
		return parse_fail(err, err_len,
				  "invalid port \"%s\" in \"%s\": must be 1 to 65535",
				  text, whole);
	return 0;
}

int parse_host_port(const char *text, char *err, size_t err_len)
{
	const char *colon;
	if (text[0] == '\0')
		return parse_fail(err, err_len, "empty address: expected HOST:PORT");
	for (const char *p = text; *p; p++) {
		if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20)
			return parse_fail(err, err_len,
					  "address \"%s\" contains whitespace",
					  text);
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close == text + 1)
			return parse_fail(err, err_len,
					  "invalid address \"%s\": expected [IPv6]:PORT",
					  text);
		if (close[1] != ':')
			return parse_fail(err, err_len,
					  "missing port in address \"%s\"", text);
		return parse_port(close + 2, text, err, err_len);
	}
	colon = strrchr(text, ':');
	if (colon == NULL)
		return parse_fail(err, err_len,
				  "missing port in address \"%s\"", text);
	if (colon == text)
		return parse_fail(err, err_len,
				  "missing host in address \"%s\"", text);
	if (memchr(text, ':', (size_t)(colon - text)) != NULL)
		return parse_fail(err, err_len,
				  "too many colons in address \"%s\" (IPv6: [ADDRESS]:PORT)",
				  text);
	return parse_port(colon + 1, text, err, err_len);
}

/* Length of the run of base36 digits (0-9, a-z) at p. */
static size_t parse_base36_run(const char *p)
{
	size_t n = 0;
	while ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'z'))
		n++;
	return n;
}

int parse_join_token(const char *text, char *err, size_t err_len)
{
	static const char prefix[] = "SWMTKN-1-";
	if (strncmp(text, prefix, sizeof(prefix) - 1) != 0)
		return parse_fail(err, err_len,
				  "invalid join token: must start with %s", prefix);
	const char *digest = text + sizeof(prefix) - 1;
	size_t digest_len = parse_base36_run(digest);
	const char *secret = digest + digest_len + 1;
	if (digest_len == 0 || digest[digest_len] != '-' ||
	    parse_base36_run(secret) == 0 || secret[parse_base36_run(secret)] != '\0')
		return parse_fail(err, err_len,
				  "invalid join token: expected SWMTKN-1-<digest>-<secret> "
				  "(lower-case letters and digits)");
	return 0;
}

int parse_host(const char *text, char **socket_path, char *err, size_t err_len)
{
	const char *scheme = "unix://";
	*socket_path = NULL;
	if (strncmp(text, scheme, strlen(scheme)) != 0)
		return parse_fail(err, err_len,
				  "unsupported host \"%s\": only unix:///path sockets are supported",
				  text);
	const char *path = text + strlen(scheme);
	if (path[0] != '/')
		return parse_fail(err, err_len,
				  "host \"%s\" needs an absolute socket path", text);
	if (strlen(path) >= 108)
		return parse_fail(err, err_len,
				  "socket path in \"%s\" is too long", text);
	*socket_path = strdup(path);
	if (*socket_path == NULL)
		return parse_fail(err, err_len, "out of memory");
	return 0;
}

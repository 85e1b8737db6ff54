/*
 * cluster_probe.c: a small client of orchd's cluster protocol (port 2377)
 * for the end-to-end security test (security.sh). It sends JSON requests
 * to a manager the way a node, a stranger or an attacker would, and prints
 * each reply, so that the shell test can show what the manager accepts
 * and what it refuses. It owns no state beyond one connection.
 *
 *   cluster_probe [--ca FILE | --fetch-ca] [--cert FILE --key FILE]
 *                 [--raw] [--server-name NAME] URL [REQUEST_JSON...]
 *
 * Default mode: cluster_net_client_open with the CA (from FILE, or fetched
 * from the server without any check when --fetch-ca is given) and, when
 * given, the node certificate and key: the same checks and the same
 * challenge/response authentication as a real node. --raw: a bare nng req
 * socket over TLS with NO check of the server and NO authentication step
 * (the certificate, when given, is only presented in the TLS handshake),
 * as an unknown peer would connect. Each REQUEST_JSON gets "v" added when
 * missing. With --fetch-ca and no request, the fetched CA PEM is printed.
 *
 * Output: one line per request, the reply as compact JSON, or a line
 * "probe error: ..." when the connection or the call failed. Exit code 0
 * when every request got a reply without "error", 1 otherwise (a refused
 * connection, a failed call or an error reply), 2 for bad usage.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "cluster_net.h"

#define PROBE_TIMEOUT_MS 10000

struct probe_options {
	const char *ca_file;
	bool fetch_ca;
	const char *cert_file;
	const char *key_file;
	bool raw;
	const char *server_name;
	const char *url;
	char **requests;
	int request_count;
};

static int probe_usage(void)
{
	fprintf(stderr,
		"usage: cluster_probe [--ca FILE | --fetch-ca] [--cert FILE --key FILE]\n"
		"                     [--raw] [--server-name NAME] URL [REQUEST_JSON...]\n");
	return 2;
}

/* Reads a whole text file into a malloc'd NUL-terminated string. */
static char *probe_read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open %s", path);
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
		if (len + 1 == cap) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	bool failed = ferror(f);
	fclose(f);
	if (!buf || failed) {
		free(buf);
		snprintf(err, errlen, "cannot read %s", path);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static int probe_parse_args(int argc, char **argv, struct probe_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->server_name = "swarm-manager";
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (strcmp(a, "--fetch-ca") == 0)
			opt->fetch_ca = true;
		else if (strcmp(a, "--raw") == 0)
			opt->raw = true;
		else if (strcmp(a, "--ca") == 0 && has_value)
			opt->ca_file = argv[++i];
		else if (strcmp(a, "--cert") == 0 && has_value)
			opt->cert_file = argv[++i];
		else if (strcmp(a, "--key") == 0 && has_value)
			opt->key_file = argv[++i];
		else if (strcmp(a, "--server-name") == 0 && has_value)
			opt->server_name = argv[++i];
		else
			return -1;
	}
	if (i >= argc || (!opt->cert_file != !opt->key_file))
		return -1;
	if (!opt->raw && !opt->ca_file && !opt->fetch_ca)
		return -1;
	opt->url = argv[i++];
	opt->requests = argv + i;
	opt->request_count = argc - i;
	return 0;
}

/* Parses one request argument and adds "v" when it is missing. */
static json_t *probe_request(const char *text, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *req = json_loads(text, 0, &jerr);
	if (!json_is_object(req)) {
		json_decref(req);
		snprintf(err, errlen, "request is not a JSON object: %s", text);
		return NULL;
	}
	if (!json_object_get(req, "v"))
		json_object_set_new(req, "v", json_integer(CLUSTER_NET_VERSION));
	return req;
}

/* Prints a reply line; returns 0 when it carries no "error". */
static int probe_print_reply(json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS);
	printf("%s\n", text ? text : "probe error: cannot print the reply");
	free(text);
	return json_object_get(reply, "error") || !text ? 1 : 0;
}

static int probe_fail(const char *what, const char *err)
{
	printf("probe error: %s: %s\n", what, err);
	return 1;
}

/* ------------------------------------------------------------ raw mode */

static int probe_raw_open(const struct probe_options *opt, const char *cert,
			  const char *key, nng_socket *sock, char *err, size_t errlen)
{
	nng_dialer dialer;
	nng_tls_config *cfg = NULL;
	int rv = nng_req0_open(sock);
	if (rv != 0) {
		snprintf(err, errlen, "nng_req0_open: %s", nng_strerror(rv));
		return -1;
	}
	if ((rv = nng_socket_set_ms(*sock, NNG_OPT_RECVTIMEO, PROBE_TIMEOUT_MS)) != 0 ||
	    (rv = nng_socket_set_ms(*sock, NNG_OPT_SENDTIMEO, PROBE_TIMEOUT_MS)) != 0 ||
	    (rv = nng_dialer_create(&dialer, *sock, opt->url)) != 0 ||
	    (rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0 ||
	    (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE)) != 0 ||
	    (cert && (rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) ||
	    (rv = nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG, cfg)) != 0 ||
	    (rv = nng_dialer_start(dialer, 0)) != 0) {
		snprintf(err, errlen, "raw connection to %s: %s", opt->url,
			 nng_strerror(rv));
		if (cfg)
			nng_tls_config_free(cfg);
		nng_close(*sock);
		return -1;
	}
	nng_tls_config_free(cfg);
	return 0;
}

/* One raw request/reply exchange; *reply is the decoded object. */
static int probe_raw_call(nng_socket sock, json_t *req, json_t **reply,
			  char *err, size_t errlen)
{
	char *text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rv = nng_send(sock, text, strlen(text), 0);
	free(text);
	char *buf = NULL;
	size_t sz = 0;
	if (rv == 0)
		rv = nng_recv(sock, &buf, &sz, NNG_FLAG_ALLOC);
	if (rv != 0) {
		snprintf(err, errlen, "no reply: %s", nng_strerror(rv));
		return -1;
	}
	json_error_t jerr;
	*reply = json_loadb(buf, sz, 0, &jerr);
	nng_free(buf, sz);
	if (!json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		snprintf(err, errlen, "the reply is not a JSON object");
		return -1;
	}
	return 0;
}

/* Sends one request (taken) over conn: 0 and *reply, or -1 and err. */
typedef int (*probe_send_fn)(void *conn, json_t *req, json_t **reply, char *err,
			     size_t errlen);

/* Sends each request of opt over conn and prints each reply; 0 when every
 * request got one, else 1 (after saying why). */
static int probe_send_all(const struct probe_options *opt, probe_send_fn send,
			  void *conn)
{
	char err[512];
	int status = 0;
	for (int i = 0; i < opt->request_count; i++) {
		json_t *req = probe_request(opt->requests[i], err, sizeof(err));
		json_t *reply = NULL;
		if (!req || send(conn, req, &reply, err, sizeof(err)) != 0) {
			status |= probe_fail("call", err);
			continue;
		}
		status |= probe_print_reply(reply);
		json_decref(reply);
	}
	return status;
}

static int probe_raw_send(void *conn, json_t *req, json_t **reply, char *err,
			  size_t errlen)
{
	return probe_raw_call(*(nng_socket *)conn, req, reply, err, errlen);
}

static int probe_run_raw(const struct probe_options *opt, const char *cert,
			 const char *key)
{
	char err[512];
	nng_socket sock;
	if (probe_raw_open(opt, cert, key, &sock, err, sizeof(err)) != 0)
		return probe_fail("open", err);
	int status = probe_send_all(opt, probe_raw_send, &sock);
	nng_close(sock);
	return status;
}

/* ------------------------------------------------------- checked mode */

static int probe_client_send(void *conn, json_t *req, json_t **reply, char *err,
			     size_t errlen)
{
	return cluster_net_call(conn, req, PROBE_TIMEOUT_MS, reply, err, errlen);
}

static int probe_run_client(const struct probe_options *opt, const char *ca,
			    const char *cert, const char *key)
{
	char err[512];
	struct cluster_net_tls tls = { .ca_pem = ca, .cert_pem = cert, .key_pem = key };
	struct cluster_net_client *cli = NULL;
	if (cluster_net_client_open(opt->url, &tls, opt->server_name, &cli, err,
				    sizeof(err)) != 0)
		return probe_fail("open", err);
	int status = probe_send_all(opt, probe_client_send, cli);
	cluster_net_client_close(cli);
	return status;
}

/* Loads the CA (file or fetched), certificate and key the options name. */
static int probe_load_material(const struct probe_options *opt, char **ca,
			       char **cert, char **key, char *err, size_t errlen)
{
	*ca = *cert = *key = NULL;
	if (opt->fetch_ca) {
		if (cluster_net_fetch_ca(opt->url, PROBE_TIMEOUT_MS, ca, err,
					 errlen) != 0)
			return -1;
	} else if (opt->ca_file &&
		   !(*ca = probe_read_file(opt->ca_file, err, errlen))) {
		return -1;
	}
	if (opt->cert_file &&
	    (!(*cert = probe_read_file(opt->cert_file, err, errlen)) ||
	     !(*key = probe_read_file(opt->key_file, err, errlen))))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct probe_options opt;
	if (probe_parse_args(argc, argv, &opt) != 0)
		return probe_usage();
	char err[512];
	char *ca = NULL, *cert = NULL, *key = NULL;
	int status;
	if (probe_load_material(&opt, &ca, &cert, &key, err, sizeof(err)) != 0) {
		status = probe_fail("material", err);
	} else if (opt.fetch_ca && opt.request_count == 0) {
		fputs(ca, stdout);
		status = 0;
	} else if (opt.raw) {
		status = probe_run_raw(&opt, cert, key);
	} else {
		status = probe_run_client(&opt, ca, cert, key);
	}
	free(ca);
	free(cert);
	free(key);
	/* No nng_fini(): in nng 1.5.2 it can race a dialer thread still
	 * finishing a refused TLS handshake (seen as a mutex panic). */
	return status;
}

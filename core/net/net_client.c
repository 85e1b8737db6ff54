/*
 * net_client.c: the cluster transport's client (cluster_net.h): a req0
 * socket over TLS that checks the server's certificate, authenticates as
 * its node on every connection (again after a reconnect, when the server
 * answers "unauthenticated"), one nng context per call; and the join
 * bootstrap's CA fetch, which checks nothing (the caller checks the CA
 * against the join token).
 *
 * State owned here: per client, the nng socket, the URL, the node key and
 * certificate, and a random generator; client->lock serialises signing
 * with the key and the generator.
 */
#include "net_internal.h"

#include <nng/protocol/reqrep0/req.h>

#include <stdlib.h>
#include <string.h>

#include "pki.h"

/* Budget of cluster_net_client_open's authentication exchange. */
#define NET_OPEN_TIMEOUT_MS 10000
/* A call re-authenticates at most this many times (after reconnects). */
#define NET_AUTH_ATTEMPTS 3

struct cluster_net_client {
	nng_socket socket;
	bool socket_open;
	char *url;
	pthread_mutex_t lock; /* guards key and rng while signing */
	char *cert_pem;       /* NULL: no node identity */
	mbedtls_pk_context key;
	struct pki_rng *rng;
};

/* One request/reply (request stolen) within timeout_ms of start; the
 * reply must be a JSON object of CLUSTER_NET_VERSION. */
static int net_exchange_msg(nng_socket socket, const char *url,
			    nng_msg *request, nng_time start, int timeout_ms,
			    json_t **reply, char *err, size_t errlen)
{
	nng_msg *answer;
	char why[256];

	*reply = NULL;
	if (orch_wire_exchange(socket, url, request, start, timeout_ms,
			       &answer, err, errlen) != 0)
		return -1;
	*reply = orch_wire_decode(answer, CLUSTER_NET_VERSION, why,
				  sizeof(why));
	nng_msg_free(answer);
	if (*reply == NULL) {
		orch_errorf(err, errlen, "garbage reply from %s: %s", url,
				 why);
		return -1;
	}
	return 0;
}

/* As net_exchange_msg for a JSON request (stolen; "v" added). */
static int net_exchange(nng_socket socket, const char *url, json_t *request,
			nng_time start, int timeout_ms, json_t **reply,
			char *err, size_t errlen)
{
	nng_msg *msg = net_encode(request);

	if (msg == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	return net_exchange_msg(socket, url, msg, start, timeout_ms, reply,
				err, errlen);
}

/* The "sig" of an auth request for the hex nonce of a challenge reply. */
static int client_sign(struct cluster_net_client *cli, const char *nonce_hex,
		       char *sig_hex, char *err, size_t errlen)
{
	int rv;

	pthread_mutex_lock(&cli->lock);
	rv = net_auth_sign(&cli->key, cli->rng, nonce_hex, sig_hex, err,
			   errlen);
	pthread_mutex_unlock(&cli->lock);
	return rv;
}

/* Proves this node's identity on the current connection. */
static int client_authenticate(struct cluster_net_client *cli,
			       nng_time start, int timeout_ms, char *err,
			       size_t errlen)
{
	char sig_hex[2 * MBEDTLS_PK_SIGNATURE_MAX_SIZE + 1];
	json_t *reply;
	const char *error;
	int rv;

	if (net_exchange(cli->socket, cli->url,
			 json_pack("{s:s}", "op", "auth_challenge"), start,
			 timeout_ms, &reply, err, errlen) != 0)
		return -1;
	rv = client_sign(cli, json_string_value(json_object_get(reply, "nonce")),
			 sig_hex, err, errlen);
	json_decref(reply);
	if (rv != 0)
		return -1;
	if (net_exchange(cli->socket, cli->url,
			 json_pack("{s:s, s:s, s:s}", "op", "auth", "cert",
				   cli->cert_pem, "sig", sig_hex),
			 start, timeout_ms, &reply, err, errlen) != 0)
		return -1;
	error = json_string_value(json_object_get(reply, "error"));
	if (error != NULL)
		orch_errorf(err, errlen,
				 "server refused our certificate: %s",
				 error);
	json_decref(reply);
	return error == NULL ? 0 : -1;
}

static int client_set_identity(struct cluster_net_client *cli,
			       const struct cluster_net_tls *tls, char *err,
			       size_t errlen)
{
	int rv;

	cli->cert_pem = strdup(tls->cert_pem);
	if (cli->cert_pem == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	rv = mbedtls_pk_parse_key(&cli->key, (const unsigned char *)tls->key_pem,
				  strlen(tls->key_pem) + 1, NULL, 0);
	if (rv != 0) {
		orch_errorf(err, errlen,
				 "cannot parse the node key: -0x%04x",
				 (unsigned)-rv);
		return -1;
	}
	return pki_rng_new(&cli->rng, err, errlen);
}

/* Opens a req0 socket on url with a TLS dialer and dials (blocking). */
static int net_dial(nng_socket *socket, bool *open, const char *url,
		    nng_tls_auth_mode auth, const struct cluster_net_tls *tls,
		    const char *server_name, char *err, size_t errlen)
{
	nng_tls_config *cfg;
	nng_dialer dialer;
	int rv;

	rv = nng_req0_open(socket);
	if (rv != 0) {
		orch_errorf(err, errlen, "cannot open REQ socket: %s",
				 nng_strerror(rv));
		return -1;
	}
	*open = true;
	/* No resend on a timer: a held long-poll must not be duplicated.
	 * (nng still resends on a new connection when one breaks.) */
	rv = nng_socket_set_ms(*socket, NNG_OPT_REQ_RESENDTIME,
			       NNG_DURATION_INFINITE);
	if (rv == 0)
		rv = nng_socket_set_size(*socket, NNG_OPT_RECVMAXSZ,
					 CLUSTER_NET_MAX_MESSAGE);
	if (rv == 0)
		rv = nng_dialer_create(&dialer, *socket, url);
	if (rv != 0) {
		orch_errorf(err, errlen, "cannot dial %s: %s", url,
				 nng_strerror(rv));
		return -1;
	}
	if (net_tls_config(NNG_TLS_MODE_CLIENT, auth, tls, server_name, &cfg,
			   err, errlen) != 0)
		return -1;
	rv = nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg);
	if (rv == 0)
		rv = nng_dialer_start(dialer, 0);
	if (rv != 0) {
		orch_errorf(err, errlen, "cannot dial %s: %s", url,
				 nng_strerror(rv));
		return -1;
	}
	return 0;
}

int cluster_net_client_open(const char *url, const struct cluster_net_tls *tls,
			    const char *server_name,
			    struct cluster_net_client **out, char *err,
			    size_t errlen)
{
	struct cluster_net_client *cli;

	*out = NULL;
	if (url == NULL || tls == NULL || tls->ca_pem == NULL ||
	    server_name == NULL ||
	    (tls->cert_pem == NULL) != (tls->key_pem == NULL)) {
		orch_errorf(err, errlen,
				 "client needs a url, a CA, a server "
				 "name, and both or none of certificate "
				 "and key");
		return -1;
	}
	cli = calloc(1, sizeof(*cli));
	if (cli == NULL || (cli->url = strdup(url)) == NULL) {
		free(cli);
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&cli->lock, NULL);
	mbedtls_pk_init(&cli->key);
	if ((tls->cert_pem != NULL &&
	     client_set_identity(cli, tls, err, errlen) != 0) ||
	    net_dial(&cli->socket, &cli->socket_open, url,
		     NNG_TLS_AUTH_MODE_REQUIRED, tls, server_name, err,
		     errlen) != 0 ||
	    (cli->cert_pem != NULL &&
	     client_authenticate(cli, nng_clock(), NET_OPEN_TIMEOUT_MS, err,
				 errlen) != 0)) {
		cluster_net_client_close(cli);
		return -1;
	}
	*out = cli;
	return 0;
}

/* Whether reply says the connection must authenticate first. */
static bool net_unauthenticated(json_t *reply)
{
	return json_is_true(json_object_get(reply, "unauthenticated"));
}

int cluster_net_call(struct cluster_net_client *cli, json_t *request,
		     int timeout_ms, json_t **reply, char *err, size_t errlen)
{
	nng_time start = nng_clock();
	nng_msg *msg = NULL, *copy;
	int attempt, rv = -1;

	*reply = NULL;
	if (!json_is_object(request)) {
		json_decref(request);
		orch_errorf(err, errlen, "request is not a JSON object");
		return -1;
	}
	if (cli->cert_pem == NULL ||
	    json_object_set_new(request, "auth", json_true()) == 0)
		msg = net_encode(request);
	else
		json_decref(request);
	if (msg == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	for (attempt = 0; attempt <= NET_AUTH_ATTEMPTS; attempt++) {
		if (nng_msg_dup(&copy, msg) != 0) {
			orch_errorf(err, errlen, "out of memory");
			break;
		}
		rv = net_exchange_msg(cli->socket, cli->url, copy, start,
				      timeout_ms, reply, err, errlen);
		if (rv != 0 || !net_unauthenticated(*reply))
			break;
		json_decref(*reply);
		*reply = NULL;
		rv = -1;
		orch_errorf(err, errlen,
				 "%s keeps refusing our connection",
				 cli->url);
		if (attempt < NET_AUTH_ATTEMPTS &&
		    client_authenticate(cli, start, timeout_ms, err, errlen))
			break;
	}
	nng_msg_free(msg);
	return rv;
}

void cluster_net_client_close(struct cluster_net_client *cli)
{
	if (cli == NULL)
		return;
	if (cli->socket_open)
		nng_close(cli->socket);
	mbedtls_pk_free(&cli->key);
	pki_rng_free(cli->rng);
	free(cli->cert_pem);
	free(cli->url);
	pthread_mutex_destroy(&cli->lock);
	free(cli);
}

/* ------------------------------------------------------- join bootstrap */

int cluster_net_fetch_ca(const char *url, int timeout_ms, char **ca_pem,
			 char *err, size_t errlen)
{
	nng_socket socket;
	bool open = false;
	const char *ca;
	json_t *reply = NULL;
	int rv = -1;

	*ca_pem = NULL;
	if (net_dial(&socket, &open, url, NNG_TLS_AUTH_MODE_NONE, NULL, NULL,
		     err, errlen) == 0 &&
	    net_exchange(socket, url, json_pack("{s:s}", "op", "ca"),
			 nng_clock(), timeout_ms, &reply, err, errlen) == 0) {
		ca = json_string_value(json_object_get(reply, "ca"));
		if (ca == NULL)
			orch_errorf(err, errlen,
					 "%s sent no CA certificate",
					 url);
		else if ((*ca_pem = strdup(ca)) == NULL)
			orch_errorf(err, errlen, "out of memory");
		else
			rv = 0;
	}
	json_decref(reply);
	if (open)
		nng_close(socket);
	return rv;
}

/*
 * net_auth.c: who is at the other end of a cluster connection
 * (cluster_net.h): the TLS configuration both ends build, a server's table
 * of connections with the challenge each may be asked to sign, the check
 * of a signed challenge against the cluster CA, and the client's
 * signature.
 *
 * State owned here: a server's struct net_conns (one struct net_conn per
 * nng pipe, from its ADD_PRE event to its REM_POST; its lock guards the
 * table and the random generator).
 */
#include "net_internal.h"

#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hex.h"
#include "pki.h"

/* Domain separation for the signed challenge. */
#define NET_AUTH_CONTEXT "orchd-cluster-net-auth-v1"

/* One connection, from its ADD_PRE pipe event to its REM_POST. */
struct net_conn {
	uint32_t pipe;
	bool tls_verified;
	bool challenged;
	unsigned char nonce[NET_NONCE_LEN];
	struct cluster_net_peer peer;
	struct net_conn *next;
};

/* ---------------------------------------------------------- auth crypto */

/* SHA-256(NET_AUTH_CONTEXT || nonce): what a node signs. */
static int net_auth_hash(const unsigned char nonce[NET_NONCE_LEN],
			 unsigned char hash[32])
{
	unsigned char buf[sizeof(NET_AUTH_CONTEXT) - 1 + NET_NONCE_LEN];

	memcpy(buf, NET_AUTH_CONTEXT, sizeof(NET_AUTH_CONTEXT) - 1);
	memcpy(buf + sizeof(NET_AUTH_CONTEXT) - 1, nonce, NET_NONCE_LEN);
	return mbedtls_sha256_ret(buf, sizeof(buf), hash, 0);
}

static int net_rng_fill(void *rng, unsigned char *buf, size_t len)
{
	return pki_rng_bytes(rng, buf, len, NULL, 0) == 0 ? 0 : -1;
}

/* Whether sig is cert_pem's key's signature of the challenge nonce. */
static bool net_auth_signature_ok(const char *cert_pem,
				  const unsigned char nonce[NET_NONCE_LEN],
				  const unsigned char *sig, size_t sig_len)
{
	mbedtls_x509_crt crt;
	unsigned char hash[32];
	bool ok;

	mbedtls_x509_crt_init(&crt);
	ok = mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert_pem,
				    strlen(cert_pem) + 1) == 0 &&
	     net_auth_hash(nonce, hash) == 0 &&
	     mbedtls_pk_verify(&crt.pk, MBEDTLS_MD_SHA256, hash, sizeof(hash),
			       sig, sig_len) == 0;
	mbedtls_x509_crt_free(&crt);
	return ok;
}

/* The "sig" of an auth request for the hex nonce of a challenge reply. */
int net_auth_sign(mbedtls_pk_context *key, struct pki_rng *rng,
		  const char *nonce_hex, char *sig_hex, char *err,
		  size_t errlen)
{
	unsigned char nonce[NET_NONCE_LEN], hash[32];
	unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t len = 0, sig_len = 0;
	int rv = -1;

	if (nonce_hex == NULL ||
	    hex_decode(nonce_hex, nonce, sizeof(nonce), &len) != 0 ||
	    len != NET_NONCE_LEN) {
		orch_errorf(err, errlen,
				 "bad challenge: no 32-byte hex \"nonce\"");
		return -1;
	}
	if (net_auth_hash(nonce, hash) == 0)
		rv = mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash,
				     sizeof(hash), sig, &sig_len,
				     net_rng_fill, rng);
	if (rv != 0) {
		orch_errorf(err, errlen,
				 "cannot sign the challenge: -0x%04x",
				 (unsigned)-rv);
		return -1;
	}
	hex_encode(sig, sig_len, sig_hex);
	return 0;
}

/* ------------------------------------------------------------ TLS setup */

int net_tls_config(nng_tls_mode mode, nng_tls_auth_mode auth,
		   const struct cluster_net_tls *tls, const char *server_name,
		   nng_tls_config **out, char *err, size_t errlen)
{
	nng_tls_config *cfg;
	const char *what = "allocate a TLS configuration";
	int rv;

	rv = nng_tls_config_alloc(&cfg, mode);
	if (rv != 0)
		goto fail_alloc;
	what = "set the TLS authentication mode";
	rv = nng_tls_config_auth_mode(cfg, auth);
	if (rv == 0 && tls != NULL && tls->ca_pem != NULL) {
		what = "load the CA certificate";
		rv = nng_tls_config_ca_chain(cfg, tls->ca_pem, NULL);
	}
	if (rv == 0 && tls != NULL && tls->cert_pem != NULL) {
		what = "load the node certificate and key";
		rv = nng_tls_config_own_cert(cfg, tls->cert_pem, tls->key_pem,
					     NULL);
	}
	if (rv == 0 && server_name != NULL) {
		what = "set the server name";
		rv = nng_tls_config_server_name(cfg, server_name);
	}
	if (rv == 0) {
		*out = cfg;
		return 0;
	}
	nng_tls_config_free(cfg);
fail_alloc:
	orch_errorf(err, errlen, "cannot %s: %s", what, nng_strerror(rv));
	return -1;
}

/* ---------------------------------------------------------- connections */

int net_conns_init(struct net_conns *conns, const char *ca_pem, char *err,
		   size_t errlen)
{
	memset(conns, 0, sizeof(*conns));
	pthread_mutex_init(&conns->lock, NULL);
	if (pki_cert_parse(ca_pem, strlen(ca_pem), &conns->ca, err,
			   errlen) != 0)
		return -1;
	return pki_rng_new(&conns->rng, err, errlen);
}

void net_conns_fini(struct net_conns *conns)
{
	struct net_conn *conn;
	unsigned i;

	for (i = 0; i < NET_CONN_BUCKETS; i++)
		while ((conn = conns->buckets[i]) != NULL) {
			conns->buckets[i] = conn->next;
			free(conn);
		}
	pki_rng_free(conns->rng);
	pki_cert_free(conns->ca);
	pthread_mutex_destroy(&conns->lock);
}

/* Caller holds conns->lock. */
static struct net_conn **conn_slot(struct net_conns *conns, uint32_t pipe)
{
	struct net_conn **slot = &conns->buckets[pipe % NET_CONN_BUCKETS];

	while (*slot != NULL && (*slot)->pipe != pipe)
		slot = &(*slot)->next;
	return slot;
}

static void conn_added(struct net_conns *conns, nng_pipe pipe)
{
	struct net_conn *conn = calloc(1, sizeof(*conn));
	bool verified = false;

	if (conn == NULL) {
		nng_pipe_close(pipe); /* cannot track it: refuse it */
		return;
	}
	if (nng_pipe_get_bool(pipe, NNG_OPT_TLS_VERIFIED, &verified) != 0)
		verified = false;
	conn->pipe = nng_pipe_id(pipe);
	conn->tls_verified = verified;
	conn->peer.connection = conn->pipe;
	pthread_mutex_lock(&conns->lock);
	conn->next = conns->buckets[conn->pipe % NET_CONN_BUCKETS];
	conns->buckets[conn->pipe % NET_CONN_BUCKETS] = conn;
	pthread_mutex_unlock(&conns->lock);
}

static void conn_removed(struct net_conns *conns, nng_pipe pipe)
{
	struct net_conn **slot, *conn;

	pthread_mutex_lock(&conns->lock);
	slot = conn_slot(conns, nng_pipe_id(pipe));
	conn = *slot;
	if (conn != NULL)
		*slot = conn->next;
	pthread_mutex_unlock(&conns->lock);
	free(conn);
}

/* nng pipe events: ADD_PRE runs before the pipe can deliver a request,
 * REM_POST after its last one; nng_close waits for both. */
void net_conns_pipe_event(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	if (ev == NNG_PIPE_EV_ADD_PRE)
		conn_added(arg, pipe);
	else if (ev == NNG_PIPE_EV_REM_POST)
		conn_removed(arg, pipe);
}

/* The identity of the connection a request came on. */
void net_conns_peer(struct net_conns *conns, uint32_t pipe,
		    struct cluster_net_peer *peer)
{
	struct net_conn *conn;

	memset(peer, 0, sizeof(*peer));
	peer->connection = pipe;
	pthread_mutex_lock(&conns->lock);
	conn = *conn_slot(conns, pipe);
	if (conn != NULL)
		*peer = conn->peer;
	pthread_mutex_unlock(&conns->lock);
}

json_t *net_auth_challenge(struct net_conns *conns, uint32_t pipe)
{
	unsigned char nonce[NET_NONCE_LEN];
	char hex[2 * NET_NONCE_LEN + 1], why[256];
	struct net_conn *conn;
	int rv = -1;

	pthread_mutex_lock(&conns->lock);
	conn = *conn_slot(conns, pipe);
	if (conn != NULL)
		rv = pki_rng_bytes(conns->rng, nonce, sizeof(nonce), why,
				   sizeof(why));
	if (rv == 0) {
		memcpy(conn->nonce, nonce, sizeof(nonce));
		conn->challenged = true;
	}
	pthread_mutex_unlock(&conns->lock);
	if (conn == NULL)
		return cluster_net_error("auth: unknown connection");
	if (rv != 0)
		return cluster_net_error("auth: %s", why);
	hex_encode(nonce, sizeof(nonce), hex);
	return json_pack("{s:s}", "nonce", hex);
}

/* Spends the connection's challenge: copies it out, false if none. */
static bool conn_take_challenge(struct net_conns *conns, uint32_t pipe,
				unsigned char *nonce, bool *tls_verified)
{
	struct net_conn *conn;
	bool found = false;

	pthread_mutex_lock(&conns->lock);
	conn = *conn_slot(conns, pipe);
	if (conn != NULL && conn->challenged) {
		memcpy(nonce, conn->nonce, NET_NONCE_LEN);
		*tls_verified = conn->tls_verified;
		conn->challenged = false;
		found = true;
	}
	pthread_mutex_unlock(&conns->lock);
	return found;
}

/* Checks the certificate and signature of an "auth" request: 0 and info
 * filled, or -1 with why. */
static int auth_verify(struct net_conns *conns, json_t *body,
		       const unsigned char *nonce, struct pki_cert_info *info,
		       char *why, size_t whylen)
{
	const char *cert_pem = json_string_value(json_object_get(body, "cert"));
	const char *sig_hex = json_string_value(json_object_get(body, "sig"));
	unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	struct pki_cert *cert;
	size_t sig_len;
	int rv;

	if (cert_pem == NULL || sig_hex == NULL ||
	    hex_decode(sig_hex, sig, sizeof(sig), &sig_len) != 0) {
		orch_errorf(why, whylen,
				 "\"cert\" or \"sig\" missing or bad");
		return -1;
	}
	if (pki_cert_parse(cert_pem, strlen(cert_pem), &cert, why, whylen))
		return -1;
	rv = pki_cert_verify(conns->ca, cert, (int64_t)time(NULL), info, why,
			     whylen);
	pki_cert_free(cert);
	if (rv != 0)
		return -1;
	if (!net_auth_signature_ok(cert_pem, nonce, sig, sig_len)) {
		orch_errorf(why, whylen, "signature does not match the "
				 "certificate");
		return -1;
	}
	return 0;
}

json_t *net_auth_check(struct net_conns *conns, uint32_t pipe, json_t *body)
{
	unsigned char nonce[NET_NONCE_LEN];
	struct pki_cert_info info;
	struct net_conn *conn;
	bool tls_verified = false;
	char why[512];

	if (!conn_take_challenge(conns, pipe, nonce, &tls_verified))
		return cluster_net_error("auth refused: no challenge on this "
					 "connection");
	if (!tls_verified)
		return cluster_net_error("auth refused: the TLS connection "
					 "was not verified by the cluster CA");
	if (auth_verify(conns, body, nonce, &info, why, sizeof(why)))
		return cluster_net_error("auth refused: %s", why);
	pthread_mutex_lock(&conns->lock);
	conn = *conn_slot(conns, pipe);
	if (conn != NULL) {
		conn->peer.verified = true;
		snprintf(conn->peer.node_id, sizeof(conn->peer.node_id), "%s",
			 info.id.node_id);
		conn->peer.role = info.id.role;
	}
	pthread_mutex_unlock(&conns->lock);
	if (conn == NULL)
		return cluster_net_error("auth: connection closed");
	return json_pack("{s:s, s:s}", "node_id", info.id.node_id, "role",
			 pki_role_name(info.id.role));
}

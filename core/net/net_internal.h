/*
 * net_internal.h: what the three parts of core/net share, behind the door
 * cluster_net.h: the per-connection node authentication (net_auth.c: the
 * connection table of a server, the challenge and its check, the client's
 * signature), the TLS configuration both ends build, and JSON messages of
 * CLUSTER_NET_VERSION. The server is net_server.c, the client
 * net_client.c.
 */
#ifndef ORCHD_NET_INTERNAL_H
#define ORCHD_NET_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <mbedtls/pk.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "cluster_net.h"
#include "orch_wire.h"

#define NET_NONCE_LEN 32
#define NET_CONN_BUCKETS 64

/* ------------------------------------------------------- connections */

struct net_conn;

/* A server's connections (nng pipe id -> TLS verified flag, outstanding
 * challenge, authenticated identity), filled and emptied by nng pipe
 * events, and what checking an "auth" needs: the CA and a random
 * generator. lock guards the table and the generator. */
struct net_conns {
	pthread_mutex_t lock;
	struct pki_cert *ca;
	struct pki_rng *rng;
	struct net_conn *buckets[NET_CONN_BUCKETS];
};

int net_conns_init(struct net_conns *conns, const char *ca_pem, char *err,
		   size_t errlen);
void net_conns_fini(struct net_conns *conns);
/* For nng_pipe_notify (arg: the struct net_conns): ADD_PRE runs before a
 * pipe can deliver a request, REM_POST after its last one. */
void net_conns_pipe_event(nng_pipe pipe, nng_pipe_ev ev, void *arg);
/* The identity of the connection a request came on. */
void net_conns_peer(struct net_conns *conns, uint32_t pipe,
		    struct cluster_net_peer *peer);
/* The answers to "auth_challenge" and "auth" on connection pipe. */
json_t *net_auth_challenge(struct net_conns *conns, uint32_t pipe);
json_t *net_auth_check(struct net_conns *conns, uint32_t pipe, json_t *body);

/* The client's "sig" (hex, 2 * MBEDTLS_PK_SIGNATURE_MAX_SIZE + 1 bytes)
 * for the hex nonce of a challenge, signed with key; the caller
 * serialises calls on one key and rng. */
int net_auth_sign(mbedtls_pk_context *key, struct pki_rng *rng,
		  const char *nonce_hex, char *sig_hex, char *err,
		  size_t errlen);

/* ---------------------------------------------------------- shared */

/* A TLS configuration for mode/auth with tls's CA and certificate (each
 * when present) and server_name (when not NULL). */
int net_tls_config(nng_tls_mode mode, nng_tls_auth_mode auth,
		   const struct cluster_net_tls *tls, const char *server_name,
		   nng_tls_config **out, char *err, size_t errlen);

/* object (stolen) with "v" set, as a message; NULL when out of memory. */
nng_msg *net_encode(json_t *object);

#endif

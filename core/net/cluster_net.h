/*
 * cluster_net.h: orchd's node-to-node transport. All cluster traffic (join,
 * agent sessions, raft between managers) is nng req/rep over TLS
 * (tls+tcp://, port 2377 by default), one JSON object per message, each
 * carrying "v": CLUSTER_NET_VERSION. Requests name their operation in
 * "op"; replies that report a failure carry "error" (a string).
 *
 * Server (every manager). TLS client authentication is OPTIONAL: a joining
 * node has no certificate yet and must still reach the join operations.
 * nng 1.5.2 tells only whether a connection's peer certificate was verified
 * (NNG_OPT_TLS_VERIFIED); it does not expose the peer certificate, its CN or
 * its OU (NNG_OPT_TLS_PEER_CN arrived in nng 1.6). So a node proves WHICH
 * node it is once per connection, inside that TLS connection:
 *
 *   client                                   server (per nng pipe)
 *   {"op":"auth_challenge"}          ---->   32 random bytes N, kept for
 *                                    <----   this connection only
 *   {"op":"auth", "cert": PEM,       ---->   the connection must be TLS-
 *    "sig": ECDSA(key, SHA-256(               verified; cert must pass
 *      "orchd-cluster-net-auth-v1" || N))}    pki_cert_verify against the
 *                                             CA (node id = CN, role = OU);
 *                                             sig must verify with cert's
 *                                             key; N is then spent
 *
 * The connection is then bound to that identity until it closes. A node
 * cannot claim another node's certificate: it cannot sign N with the other
 * node's key, and N is only valid on the connection it was issued on.
 * Peers with a certificate from ANOTHER CA: the TLS handshake succeeds
 * (OPTIONAL mode), the connection is unverified, and "auth" is refused
 * (pki_cert_verify fails); cluster_net_client_open of such a node fails
 * with "server refused our certificate". Requests on connections that did
 * not authenticate reach the handler as unverified: the handler must then
 * allow only join operations. A client that holds a certificate marks its
 * requests "auth": true; the server answers those with an
 * "unauthenticated": true error, without calling the handler, when the
 * connection has not authenticated (after a reconnect), and the client
 * authenticates again and resends.
 *
 * Requests and held requests. The server is orchd's one request server
 * (sdk/orch_reqserver.h): nng contexts driven by aio callbacks, and
 * `workers` handler threads that take the received requests in order. A
 * request handed to the handler keeps its context until it is answered,
 * so the handler may keep the request and answer it later from any thread
 * with cluster_net_reply, exactly once; the reply is sent without waiting.
 * The number of requests received and not yet answered (held long-polls
 * included) is capped by max_pending: beyond it, requests are answered at
 * once with a "server busy" error. The expected pattern is one held
 * request per connected agent, so max_pending must exceed the number of
 * nodes. Requests still pending when the server stops are dropped: their
 * contexts are closed and their callers time out.
 *
 * The server also answers by itself, for any peer and without calling the
 * handler: {"op":"ca"} (the CA certificate PEM it was given, "ca"),
 * "auth_challenge" and "auth".
 *
 * Client: TLS server authentication is REQUIRED: the server's certificate
 * must chain to the given CA and carry server_name as a DNS subject
 * alternative name (node certificates carry DNS:<node id> and
 * DNS:<role>, so "swarm-manager" accepts exactly the managers of the
 * cluster). cluster_net_call is thread-safe: one nng context per call.
 *
 * Join bootstrap: cluster_net_fetch_ca connects WITHOUT any TLS check (the
 * joining node does not know the CA yet) and asks for the CA certificate.
 * This is not trust on first use: the caller accepts that certificate only
 * if pki_token_check_ca finds its SHA-256 digest equal to the one inside
 * the join token, which the operator carried from a manager out of band.
 * A man in the middle cannot produce a certificate with that digest, so it
 * is caught before the node sends anything else; only then does the node
 * reconnect with cluster_net_client_open, which checks everything.
 *
 * Every fallible call returns 0, or -1 with a message in err (errlen bytes,
 * NUL-terminated when errlen > 0). The server reads the wall clock only to
 * check certificate validity (as the TLS layer does).
 */
#ifndef ORCHD_CLUSTER_NET_H
#define ORCHD_CLUSTER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orch_wire.h" /* orch_wire_error */
#include "pki.h"

#define CLUSTER_NET_VERSION 1
#define CLUSTER_NET_PORT 2377
/* Largest message accepted from a peer (NNG_OPT_RECVMAXSZ). */
#define CLUSTER_NET_MAX_MESSAGE ((size_t)16 << 20)
/* How long a reply may wait for its connection to take it. */
#define CLUSTER_NET_SEND_TIMEOUT_MS 10000

/* TLS material, all PEM text (NUL-terminated). The server needs all
 * three; a client needs ca_pem, and cert_pem + key_pem (both or neither)
 * when it is a node of the cluster. */
struct cluster_net_tls {
	const char *ca_pem;
	const char *cert_pem;
	const char *key_pem;
};

/* ---------------------------------------------------------------- server */

/* Who sent a request. */
struct cluster_net_peer {
	bool verified;                 /* authenticated as a node (above) */
	char node_id[PKI_ID_MAX + 1];  /* CN, when verified; "" otherwise */
	enum pki_role role;            /* OU, when verified */
	uint32_t connection;           /* nng pipe id: one per connection */
};

struct cluster_net_server;
struct cluster_net_request;

/* Called on a handler thread for each well-formed request ("v" right, "op"
 * a string) other than the built-in ones. The handler must eventually call
 * cluster_net_reply(req, ...) exactly once, now or later, from any thread. */
typedef void (*cluster_net_handler)(void *ctx, struct cluster_net_request *req);

/* Starts listening on url ("tls+tcp://ADDR:PORT") with `workers` handler
 * threads (>= 1) and at most max_pending (>= 1) unanswered requests. */
int cluster_net_server_start(const char *url, const struct cluster_net_tls *tls,
			     unsigned workers, unsigned max_pending,
			     cluster_net_handler handler, void *ctx,
			     struct cluster_net_server **out, char *err,
			     size_t errlen);
/* Stops receiving, waits for handlers running on handler threads, drops
 * the requests still pending and frees everything. No thread may call
 * cluster_net_reply during or after this call. */
void cluster_net_server_stop(struct cluster_net_server *srv);
/* The port actually bound (useful with port 0), or -1. */
int cluster_net_server_port(const struct cluster_net_server *srv);

/* Accessors, valid until the request is answered. */
const struct cluster_net_peer *cluster_net_request_peer(
	const struct cluster_net_request *req);
const char *cluster_net_request_op(const struct cluster_net_request *req);
json_t *cluster_net_request_body(const struct cluster_net_request *req);

/* Answers req and frees it (in every case). reply (stolen) must be a JSON
 * object; "v" is set here. NULL drops the request without an answer (the
 * caller times out). Never waits: the reply goes out when the connection
 * takes it, or is dropped after CLUSTER_NET_SEND_TIMEOUT_MS or when the
 * connection closed (the caller's call fails then). Returns -1 when reply
 * cannot be sent at all (not an object: an error is sent instead; out of
 * memory: nothing is). */
int cluster_net_reply(struct cluster_net_request *req, json_t *reply,
		      char *err, size_t errlen);

/* {"v":1, "error": <formatted text>}, or NULL when out of memory. */
#define cluster_net_error(...) orch_wire_error(CLUSTER_NET_VERSION, __VA_ARGS__)

/* ---------------------------------------------------------------- client */

struct cluster_net_client;

/* Dials url (blocking: an unreachable server or a failed TLS check is
 * reported here; later the dialer reconnects by itself) and, when tls has
 * a certificate, authenticates as that node. */
int cluster_net_client_open(const char *url, const struct cluster_net_tls *tls,
			    const char *server_name,
			    struct cluster_net_client **out, char *err,
			    size_t errlen);
/* Sends request (stolen; "v" is added) and waits at most timeout_ms
 * (< 0: forever) in all for the reply object, which the caller owns. A
 * reply carrying "error" is still a reply (returns 0). */
int cluster_net_call(struct cluster_net_client *cli, json_t *request,
		     int timeout_ms, json_t **reply, char *err, size_t errlen);
void cluster_net_client_close(struct cluster_net_client *cli);

/* Join bootstrap (see above): *ca_pem (malloc'd, NUL-terminated) is the
 * CA certificate the server at url presents, NOT yet trusted. */
int cluster_net_fetch_ca(const char *url, int timeout_ms, char **ca_pem,
			 char *err, size_t errlen);

#endif

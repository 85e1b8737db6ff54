/*
 * cluster_net.c: the node-to-node transport (cluster_net.h): a rep0 server
 * over TLS with worker threads and held requests, a req0 client, the
 * per-connection node authentication (challenge signed with the node key)
 * and the join bootstrap's CA fetch.
 *
 * State owned here. Server: the nng socket and listener, one thread + aio
 * + context per worker, the list of pending requests (each owning the
 * context its reply goes out on), and the table of connections (nng pipe
 * id -> TLS verified flag, outstanding challenge, authenticated identity),
 * filled and emptied by nng pipe events; the lists and the random
 * generator are guarded by server->lock. Client: the nng socket, the node
 * key and certificate, and a random generator guarded by client->lock.
 */
#include "cluster_net.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Domain separation for the signed challenge. */
#define NET_AUTH_CONTEXT "orchd-cluster-net-auth-v1"
#define NET_NONCE_LEN 32
/* Budget of cluster_net_client_open's authentication exchange. */
#define NET_OPEN_TIMEOUT_MS 10000
/* A call re-authenticates at most this many times (after reconnects). */
#define NET_AUTH_ATTEMPTS 3
#define NET_PEER_BUCKETS 64

static void net_errorf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void net_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- codec */

static nng_msg *net_encode(json_t *object)
{
	char *text = json_dumps(object, JSON_COMPACT);
	nng_msg *msg = NULL;

	if (text == NULL)
		return NULL;
	if (nng_msg_alloc(&msg, 0) == 0 &&
	    nng_msg_append(msg, text, strlen(text)) != 0) {
		nng_msg_free(msg);
		msg = NULL;
	}
	free(text);
	return msg;
}

/* One JSON object with "v" == CLUSTER_NET_VERSION, or NULL with why. */
static json_t *net_decode(nng_msg *msg, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *value, *v;

	value = json_loadb(nng_msg_body(msg), nng_msg_len(msg), 0, &jerr);
	if (value == NULL) {
		net_errorf(why, whylen, "not JSON (%s at byte %d)", jerr.text,
			   jerr.position);
		return NULL;
	}
	v = json_object_get(value, "v");
	if (!json_is_object(value) || !json_is_integer(v) ||
	    json_integer_value(v) != CLUSTER_NET_VERSION) {
		json_decref(value);
		net_errorf(why, whylen, "not a JSON object with \"v\": %d",
			   CLUSTER_NET_VERSION);
		return NULL;
	}
	return value;
}

static bool net_stamp(json_t *object)
{
	return json_object_set_new(object, "v",
				   json_integer(CLUSTER_NET_VERSION)) == 0;
}

json_t *cluster_net_error(const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return json_pack("{s:i, s:s}", "v", CLUSTER_NET_VERSION, "error",
			 text);
}

static void net_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int net_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes lower-case hex into out (at most cap bytes); -1 if malformed. */
static int net_unhex(const char *in, unsigned char *out, size_t cap,
		     size_t *len)
{
	size_t n = strlen(in), i;
	int hi, lo;

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		hi = net_hex_digit(in[2 * i]);
		lo = net_hex_digit(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

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

/* ------------------------------------------------------------ TLS setup */

static int net_tls_config(nng_tls_mode mode, nng_tls_auth_mode auth,
			  const struct cluster_net_tls *tls,
			  const char *server_name, nng_tls_config **out,
			  char *err, size_t errlen)
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
	net_errorf(err, errlen, "cannot %s: %s", what, nng_strerror(rv));
	return -1;
}

/* --------------------------------------------------------------- server */

/* One connection, from its ADD_PRE pipe event to its REM_POST. */
struct net_conn {
	uint32_t pipe;
	bool tls_verified;
	bool challenged;
	unsigned char nonce[NET_NONCE_LEN];
	struct cluster_net_peer peer;
	struct net_conn *next;
};

struct net_worker {
	struct cluster_net_server *server;
	nng_ctx ctx;
	nng_aio *aio;
	pthread_t thread;
	bool ctx_open;
	bool thread_started;
};

struct cluster_net_request {
	struct cluster_net_server *server;
	nng_ctx ctx;
	nng_aio *aio;
	json_t *body;
	struct cluster_net_peer peer;
	struct cluster_net_request *prev, *next;
};

struct cluster_net_server {
	nng_socket socket;
	bool socket_open;
	nng_listener listener;
	cluster_net_handler handler;
	void *handler_ctx;
	char *ca_pem;
	struct pki_cert *ca;
	unsigned max_pending;
	unsigned n_workers;
	struct net_worker *workers;

	pthread_mutex_t lock;
	struct pki_rng *rng;
	unsigned n_pending;
	struct cluster_net_request *pending;
	struct net_conn *conns[NET_PEER_BUCKETS];
};

/* Caller holds server->lock. */
static struct net_conn **conn_slot(struct cluster_net_server *server,
				   uint32_t pipe)
{
	struct net_conn **slot = &server->conns[pipe % NET_PEER_BUCKETS];

	while (*slot != NULL && (*slot)->pipe != pipe)
		slot = &(*slot)->next;
	return slot;
}

static void conn_added(struct cluster_net_server *server, nng_pipe pipe)
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
	pthread_mutex_lock(&server->lock);
	conn->next = server->conns[conn->pipe % NET_PEER_BUCKETS];
	server->conns[conn->pipe % NET_PEER_BUCKETS] = conn;
	pthread_mutex_unlock(&server->lock);
}

static void conn_removed(struct cluster_net_server *server, nng_pipe pipe)
{
	struct net_conn **slot, *conn;

	pthread_mutex_lock(&server->lock);
	slot = conn_slot(server, nng_pipe_id(pipe));
	conn = *slot;
	if (conn != NULL)
		*slot = conn->next;
	pthread_mutex_unlock(&server->lock);
	free(conn);
}

/* nng pipe events: ADD_PRE runs before the pipe can deliver a request,
 * REM_POST after its last one; nng_close waits for both. */
static void server_pipe_event(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	if (ev == NNG_PIPE_EV_ADD_PRE)
		conn_added(arg, pipe);
	else if (ev == NNG_PIPE_EV_REM_POST)
		conn_removed(arg, pipe);
}

/* The identity of the connection a request came on. */
static void conn_peer(struct cluster_net_server *server, uint32_t pipe,
		      struct cluster_net_peer *peer)
{
	struct net_conn *conn;

	memset(peer, 0, sizeof(*peer));
	peer->connection = pipe;
	pthread_mutex_lock(&server->lock);
	conn = *conn_slot(server, pipe);
	if (conn != NULL)
		*peer = conn->peer;
	pthread_mutex_unlock(&server->lock);
}

static json_t *server_challenge(struct cluster_net_server *server,
				uint32_t pipe)
{
	unsigned char nonce[NET_NONCE_LEN];
	char hex[2 * NET_NONCE_LEN + 1], why[256];
	struct net_conn *conn;
	int rv = -1;

	pthread_mutex_lock(&server->lock);
	conn = *conn_slot(server, pipe);
	if (conn != NULL)
		rv = pki_rng_bytes(server->rng, nonce, sizeof(nonce), why,
				   sizeof(why));
	if (rv == 0) {
		memcpy(conn->nonce, nonce, sizeof(nonce));
		conn->challenged = true;
	}
	pthread_mutex_unlock(&server->lock);
	if (conn == NULL)
		return cluster_net_error("auth: unknown connection");
	if (rv != 0)
		return cluster_net_error("auth: %s", why);
	net_hex(nonce, sizeof(nonce), hex);
	return json_pack("{s:s}", "nonce", hex);
}

/* Spends the connection's challenge: copies it out, false if none. */
static bool conn_take_challenge(struct cluster_net_server *server,
				uint32_t pipe, unsigned char *nonce,
				bool *tls_verified)
{
	struct net_conn *conn;
	bool found = false;

	pthread_mutex_lock(&server->lock);
	conn = *conn_slot(server, pipe);
	if (conn != NULL && conn->challenged) {
		memcpy(nonce, conn->nonce, NET_NONCE_LEN);
		*tls_verified = conn->tls_verified;
		conn->challenged = false;
		found = true;
	}
	pthread_mutex_unlock(&server->lock);
	return found;
}

/* Checks the certificate and signature of an "auth" request: 0 and info
 * filled, or -1 with why. */
static int server_check_auth(struct cluster_net_server *server, json_t *body,
			     const unsigned char *nonce,
			     struct pki_cert_info *info, char *why,
			     size_t whylen)
{
	const char *cert_pem = json_string_value(json_object_get(body, "cert"));
	const char *sig_hex = json_string_value(json_object_get(body, "sig"));
	unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	struct pki_cert *cert;
	size_t sig_len;
	int rv;

	if (cert_pem == NULL || sig_hex == NULL ||
	    net_unhex(sig_hex, sig, sizeof(sig), &sig_len) != 0) {
		net_errorf(why, whylen, "\"cert\" or \"sig\" missing or bad");
		return -1;
	}
	if (pki_cert_parse(cert_pem, strlen(cert_pem), &cert, why, whylen))
		return -1;
	rv = pki_cert_verify(server->ca, cert, (int64_t)time(NULL), info, why,
			     whylen);
	pki_cert_free(cert);
	if (rv != 0)
		return -1;
	if (!net_auth_signature_ok(cert_pem, nonce, sig, sig_len)) {
		net_errorf(why, whylen, "signature does not match the "
					"certificate");
		return -1;
	}
	return 0;
}

static json_t *server_auth(struct cluster_net_server *server, uint32_t pipe,
			   json_t *body)
{
	unsigned char nonce[NET_NONCE_LEN];
	struct pki_cert_info info;
	struct net_conn *conn;
	bool tls_verified = false;
	char why[512];

	if (!conn_take_challenge(server, pipe, nonce, &tls_verified))
		return cluster_net_error("auth refused: no challenge on this "
					 "connection");
	if (!tls_verified)
		return cluster_net_error("auth refused: the TLS connection "
					 "was not verified by the cluster CA");
	if (server_check_auth(server, body, nonce, &info, why, sizeof(why)))
		return cluster_net_error("auth refused: %s", why);
	pthread_mutex_lock(&server->lock);
	conn = *conn_slot(server, pipe);
	if (conn != NULL) {
		conn->peer.verified = true;
		snprintf(conn->peer.node_id, sizeof(conn->peer.node_id), "%s",
			 info.id.node_id);
		conn->peer.role = info.id.role;
	}
	pthread_mutex_unlock(&server->lock);
	if (conn == NULL)
		return cluster_net_error("auth: connection closed");
	return json_pack("{s:s, s:s}", "node_id", info.id.node_id, "role",
			 pki_role_name(info.id.role));
}

/* Sends reply (stolen, "v" added) on ctx through aio and waits. Returns
 * the nng result; an unsendable reply counts as NNG_ENOMEM. */
static int net_send_reply(nng_ctx ctx, nng_aio *aio, json_t *reply)
{
	nng_msg *msg = NULL;
	int rv;

	if (reply != NULL && net_stamp(reply))
		msg = net_encode(reply);
	json_decref(reply);
	if (msg == NULL)
		return NNG_ENOMEM;
	nng_aio_set_msg(aio, msg);
	nng_aio_set_timeout(aio, CLUSTER_NET_SEND_TIMEOUT_MS);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	rv = nng_aio_result(aio);
	if (rv != 0)
		nng_msg_free(msg);
	return rv;
}

/* Answers on the worker's own context. False when the server stops. */
static bool worker_send(struct net_worker *worker, json_t *reply)
{
	int rv = net_send_reply(worker->ctx, worker->aio, reply);

	return rv != NNG_ECLOSED && rv != NNG_ECANCELED;
}

/* Hands body (stolen) to the handler on a request that takes the
 * worker's context; the worker continues on a fresh one. */
static bool worker_hand_off(struct net_worker *worker, json_t *body,
			    const struct cluster_net_peer *peer)
{
	struct cluster_net_server *server = worker->server;
	struct cluster_net_request *req = calloc(1, sizeof(*req));
	nng_ctx fresh;
	bool busy;

	if (req == NULL || nng_aio_alloc(&req->aio, NULL, NULL) != 0 ||
	    nng_ctx_open(&fresh, server->socket) != 0) {
		if (req != NULL && req->aio != NULL)
			nng_aio_free(req->aio);
		free(req);
		json_decref(body);
		return worker_send(worker, cluster_net_error(
			"internal error: out of resources"));
	}
	pthread_mutex_lock(&server->lock);
	busy = server->n_pending >= server->max_pending;
	if (!busy) {
		req->next = server->pending;
		if (req->next != NULL)
			req->next->prev = req;
		server->pending = req;
		server->n_pending++;
	}
	pthread_mutex_unlock(&server->lock);
	if (busy) {
		nng_ctx_close(fresh);
		nng_aio_free(req->aio);
		free(req);
		json_decref(body);
		return worker_send(worker, cluster_net_error(
			"server busy: %u requests pending", server->max_pending));
	}
	req->server = server;
	req->ctx = worker->ctx;
	req->body = body;
	req->peer = *peer;
	worker->ctx = fresh;
	server->handler(server->handler_ctx, req);
	return true;
}

/* One request: built-in operations here, the rest to the handler. */
static bool worker_handle(struct net_worker *worker, nng_msg *msg)
{
	struct cluster_net_server *server = worker->server;
	uint32_t pipe = nng_pipe_id(nng_msg_get_pipe(msg));
	struct cluster_net_peer peer;
	json_t *body, *reply;
	const char *op;
	char why[256];

	body = net_decode(msg, why, sizeof(why));
	nng_msg_free(msg);
	if (body == NULL)
		return worker_send(worker, cluster_net_error(
			"malformed request: %s", why));
	op = json_string_value(json_object_get(body, "op"));
	conn_peer(server, pipe, &peer);
	if (op == NULL)
		reply = cluster_net_error("malformed request: \"op\" missing "
					  "or not a string");
	else if (strcmp(op, "ca") == 0)
		reply = json_pack("{s:s}", "ca", server->ca_pem);
	else if (strcmp(op, "auth_challenge") == 0)
		reply = server_challenge(server, pipe);
	else if (strcmp(op, "auth") == 0)
		reply = server_auth(server, pipe, body);
	else if (json_is_true(json_object_get(body, "auth")) && !peer.verified)
		reply = json_pack("{s:s, s:b}", "error",
				  "connection not authenticated",
				  "unauthenticated", 1);
	else
		return worker_hand_off(worker, body, &peer);
	json_decref(body);
	return worker_send(worker, reply);
}

static void *worker_main(void *arg)
{
	struct net_worker *worker = arg;
	bool more = true;
	int rv;

	while (more) {
		nng_aio_set_timeout(worker->aio, NNG_DURATION_INFINITE);
		nng_ctx_recv(worker->ctx, worker->aio);
		nng_aio_wait(worker->aio);
		rv = nng_aio_result(worker->aio);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			break; /* cluster_net_server_stop */
		if (rv != 0)
			continue; /* one failed receive */
		more = worker_handle(worker, nng_aio_get_msg(worker->aio));
	}
	return NULL;
}

static int worker_start(struct cluster_net_server *server,
			struct net_worker *worker, char *err, size_t errlen)
{
	int rv;

	worker->server = server;
	rv = nng_aio_alloc(&worker->aio, NULL, NULL);
	if (rv == 0) {
		rv = nng_ctx_open(&worker->ctx, server->socket);
		worker->ctx_open = rv == 0;
	}
	if (rv != 0) {
		net_errorf(err, errlen, "cannot set up a worker: %s",
			   nng_strerror(rv));
		return -1;
	}
	rv = pthread_create(&worker->thread, NULL, worker_main, worker);
	if (rv != 0) {
		net_errorf(err, errlen, "cannot start a worker thread: %s",
			   strerror(rv));
		return -1;
	}
	worker->thread_started = true;
	return 0;
}

static int server_listen(struct cluster_net_server *server, const char *url,
			 const struct cluster_net_tls *tls, char *err,
			 size_t errlen)
{
	nng_tls_config *cfg;
	int rv;

	rv = nng_rep0_open(&server->socket);
	if (rv != 0) {
		net_errorf(err, errlen, "cannot open REP socket: %s",
			   nng_strerror(rv));
		return -1;
	}
	server->socket_open = true;
	rv = nng_socket_set_size(server->socket, NNG_OPT_RECVMAXSZ,
				 CLUSTER_NET_MAX_MESSAGE);
	if (rv == 0)
		rv = nng_pipe_notify(server->socket, NNG_PIPE_EV_ADD_PRE,
				     server_pipe_event, server);
	if (rv == 0)
		rv = nng_pipe_notify(server->socket, NNG_PIPE_EV_REM_POST,
				     server_pipe_event, server);
	if (rv == 0)
		rv = nng_listener_create(&server->listener, server->socket, url);
	if (rv != 0) {
		net_errorf(err, errlen, "cannot listen on %s: %s", url,
			   nng_strerror(rv));
		return -1;
	}
	if (net_tls_config(NNG_TLS_MODE_SERVER, NNG_TLS_AUTH_MODE_OPTIONAL, tls,
			   NULL, &cfg, err, errlen) != 0)
		return -1;
	rv = nng_listener_set_ptr(server->listener, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg); /* the listener holds its own reference */
	if (rv == 0)
		rv = nng_listener_start(server->listener, 0);
	if (rv != 0) {
		net_errorf(err, errlen, "cannot listen on %s: %s", url,
			   nng_strerror(rv));
		return -1;
	}
	return 0;
}

static int server_init(struct cluster_net_server *server,
		       const struct cluster_net_tls *tls, unsigned workers,
		       char *err, size_t errlen)
{
	server->workers = calloc(workers, sizeof(*server->workers));
	server->ca_pem = strdup(tls->ca_pem);
	if (server->workers == NULL || server->ca_pem == NULL) {
		net_errorf(err, errlen, "out of memory");
		return -1;
	}
	if (pki_cert_parse(tls->ca_pem, strlen(tls->ca_pem), &server->ca, err,
			   errlen) != 0)
		return -1;
	return pki_rng_new(&server->rng, err, errlen);
}

int cluster_net_server_start(const char *url, const struct cluster_net_tls *tls,
			     unsigned workers, unsigned max_pending,
			     cluster_net_handler handler, void *ctx,
			     struct cluster_net_server **out, char *err,
			     size_t errlen)
{
	struct cluster_net_server *server;
	unsigned i;

	*out = NULL;
	if (url == NULL || tls == NULL || tls->ca_pem == NULL ||
	    tls->cert_pem == NULL || tls->key_pem == NULL || handler == NULL ||
	    workers == 0 || max_pending == 0) {
		net_errorf(err, errlen, "server needs a url, a CA, a "
					"certificate and key, a handler, >= 1 "
					"worker and >= 1 pending request");
		return -1;
	}
	server = calloc(1, sizeof(*server));
	if (server == NULL) {
		net_errorf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&server->lock, NULL);
	server->handler = handler;
	server->handler_ctx = ctx;
	server->max_pending = max_pending;
	server->n_workers = workers;
	if (server_init(server, tls, workers, err, errlen) != 0 ||
	    server_listen(server, url, tls, err, errlen) != 0) {
		cluster_net_server_stop(server);
		return -1;
	}
	for (i = 0; i < workers; i++) {
		if (worker_start(server, &server->workers[i], err, errlen)) {
			cluster_net_server_stop(server);
			return -1;
		}
	}
	*out = server;
	return 0;
}

int cluster_net_server_port(const struct cluster_net_server *srv)
{
	int port;

	if (srv == NULL ||
	    nng_listener_get_int(srv->listener, NNG_OPT_TCP_BOUND_PORT,
				 &port) != 0)
		return -1;
	return port;
}

static void request_free(struct cluster_net_request *req)
{
	nng_ctx_close(req->ctx);
	nng_aio_free(req->aio);
	json_decref(req->body);
	free(req);
}

static void server_stop_workers(struct cluster_net_server *server)
{
	struct net_worker *worker;
	unsigned i;

	/* As in sdk/orch_sdk.c: stop every aio (a worker finishes the
	 * request it is on and exits), join, and only then close contexts:
	 * nng 1.5 misbehaves when a context or socket is closed while a
	 * thread is entering or leaving an operation on it. */
	for (i = 0; i < server->n_workers; i++)
		if (server->workers[i].aio != NULL)
			nng_aio_stop(server->workers[i].aio);
	for (i = 0; i < server->n_workers; i++) {
		worker = &server->workers[i];
		if (worker->thread_started)
			pthread_join(worker->thread, NULL);
		if (worker->ctx_open)
			nng_ctx_close(worker->ctx);
		if (worker->aio != NULL)
			nng_aio_free(worker->aio);
	}
}

void cluster_net_server_stop(struct cluster_net_server *server)
{
	struct cluster_net_request *req;
	unsigned i;

	if (server == NULL)
		return;
	if (server->workers != NULL)
		server_stop_workers(server);
	while ((req = server->pending) != NULL) {
		server->pending = req->next;
		request_free(req);
	}
	/* nng_close returns once every pipe's REM_POST event has run. */
	if (server->socket_open)
		nng_close(server->socket);
	for (i = 0; i < NET_PEER_BUCKETS; i++)
		while (server->conns[i] != NULL) {
			struct net_conn *conn = server->conns[i];

			server->conns[i] = conn->next;
			free(conn);
		}
	pki_rng_free(server->rng);
	pki_cert_free(server->ca);
	free(server->ca_pem);
	free(server->workers);
	pthread_mutex_destroy(&server->lock);
	free(server);
}

const struct cluster_net_peer *cluster_net_request_peer(
	const struct cluster_net_request *req)
{
	return &req->peer;
}

const char *cluster_net_request_op(const struct cluster_net_request *req)
{
	return json_string_value(json_object_get(req->body, "op"));
}

json_t *cluster_net_request_body(const struct cluster_net_request *req)
{
	return req->body;
}

int cluster_net_reply(struct cluster_net_request *req, json_t *reply,
		      char *err, size_t errlen)
{
	struct cluster_net_server *server = req->server;
	int rv = 0;

	pthread_mutex_lock(&server->lock);
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		server->pending = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	server->n_pending--;
	pthread_mutex_unlock(&server->lock);
	if (reply != NULL && !json_is_object(reply)) {
		json_decref(reply);
		reply = cluster_net_error("internal error: reply is not an "
					  "object");
		rv = NNG_EINVAL;
	}
	if (reply != NULL) {
		int sent = net_send_reply(req->ctx, req->aio, reply);

		rv = rv != 0 ? rv : sent;
	}
	request_free(req);
	if (rv != 0)
		net_errorf(err, errlen, "cannot reply: %s", rv == NNG_EINVAL
					? "reply is not a JSON object"
					: nng_strerror(rv));
	return rv == 0 ? 0 : -1;
}

/* --------------------------------------------------------------- client */

struct cluster_net_client {
	nng_socket socket;
	bool socket_open;
	char *url;
	pthread_mutex_t lock; /* guards key and rng while signing */
	char *cert_pem;       /* NULL: no node identity */
	mbedtls_pk_context key;
	struct pki_rng *rng;
};

static nng_duration net_remaining(nng_time deadline, bool forever)
{
	nng_time now = nng_clock();

	if (forever)
		return NNG_DURATION_INFINITE;
	return now >= deadline ? 0 : (nng_duration)(deadline - now);
}

/* One request/reply on a context of its own; request is stolen. */
static int net_exchange_msg(nng_socket socket, const char *url,
			    nng_msg *request, nng_time deadline, bool forever,
			    json_t **reply, char *err, size_t errlen)
{
	nng_aio *aio = NULL;
	nng_ctx ctx;
	char why[256];
	int rv;

	*reply = NULL;
	rv = nng_aio_alloc(&aio, NULL, NULL);
	if (rv == 0 && (rv = nng_ctx_open(&ctx, socket)) != 0)
		nng_aio_free(aio);
	if (rv != 0) {
		nng_msg_free(request);
		net_errorf(err, errlen, "cannot call %s: %s", url,
			   nng_strerror(rv));
		return -1;
	}
	nng_aio_set_msg(aio, request);
	nng_aio_set_timeout(aio, net_remaining(deadline, forever));
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	rv = nng_aio_result(aio);
	if (rv != 0) {
		nng_msg_free(request);
		net_errorf(err, errlen, "cannot send to %s: %s", url,
			   nng_strerror(rv));
	} else {
		nng_aio_set_timeout(aio, net_remaining(deadline, forever));
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio);
		if (rv != 0)
			net_errorf(err, errlen, "no reply from %s: %s", url,
				   nng_strerror(rv));
	}
	if (rv == 0) {
		nng_msg *answer = nng_aio_get_msg(aio);

		*reply = net_decode(answer, why, sizeof(why));
		nng_msg_free(answer);
		if (*reply == NULL) {
			net_errorf(err, errlen, "garbage reply from %s: %s",
				   url, why);
			rv = -1;
		}
	}
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return rv == 0 ? 0 : -1;
}

/* As net_exchange_msg for a JSON request (stolen; "v" added). */
static int net_exchange(nng_socket socket, const char *url, json_t *request,
			nng_time deadline, bool forever, json_t **reply,
			char *err, size_t errlen)
{
	nng_msg *msg = NULL;

	if (request != NULL && net_stamp(request))
		msg = net_encode(request);
	json_decref(request);
	if (msg == NULL) {
		net_errorf(err, errlen, "out of memory");
		return -1;
	}
	return net_exchange_msg(socket, url, msg, deadline, forever, reply,
				err, errlen);
}

/* The "sig" of an auth request for the hex nonce of a challenge reply. */
static int client_sign(struct cluster_net_client *cli, const char *nonce_hex,
		       char *sig_hex, char *err, size_t errlen)
{
	unsigned char nonce[NET_NONCE_LEN], hash[32];
	unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t len = 0, sig_len = 0;
	int rv = -1;

	if (nonce_hex == NULL ||
	    net_unhex(nonce_hex, nonce, sizeof(nonce), &len) != 0 ||
	    len != NET_NONCE_LEN) {
		net_errorf(err, errlen, "bad challenge from %s", cli->url);
		return -1;
	}
	pthread_mutex_lock(&cli->lock);
	if (net_auth_hash(nonce, hash) == 0)
		rv = mbedtls_pk_sign(&cli->key, MBEDTLS_MD_SHA256, hash,
				     sizeof(hash), sig, &sig_len,
				     net_rng_fill, cli->rng);
	pthread_mutex_unlock(&cli->lock);
	if (rv != 0) {
		net_errorf(err, errlen, "cannot sign the challenge: -0x%04x",
			   (unsigned)-rv);
		return -1;
	}
	net_hex(sig, sig_len, sig_hex);
	return 0;
}

/* Proves this node's identity on the current connection. */
static int client_authenticate(struct cluster_net_client *cli,
			       nng_time deadline, bool forever, char *err,
			       size_t errlen)
{
	char sig_hex[2 * MBEDTLS_PK_SIGNATURE_MAX_SIZE + 1];
	json_t *reply;
	const char *error;
	int rv;

	if (net_exchange(cli->socket, cli->url,
			 json_pack("{s:s}", "op", "auth_challenge"), deadline,
			 forever, &reply, err, errlen) != 0)
		return -1;
	rv = client_sign(cli, json_string_value(json_object_get(reply, "nonce")),
			 sig_hex, err, errlen);
	json_decref(reply);
	if (rv != 0)
		return -1;
	if (net_exchange(cli->socket, cli->url,
			 json_pack("{s:s, s:s, s:s}", "op", "auth", "cert",
				   cli->cert_pem, "sig", sig_hex),
			 deadline, forever, &reply, err, errlen) != 0)
		return -1;
	error = json_string_value(json_object_get(reply, "error"));
	if (error != NULL)
		net_errorf(err, errlen, "server refused our certificate: %s",
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
		net_errorf(err, errlen, "out of memory");
		return -1;
	}
	rv = mbedtls_pk_parse_key(&cli->key, (const unsigned char *)tls->key_pem,
				  strlen(tls->key_pem) + 1, NULL, 0);
	if (rv != 0) {
		net_errorf(err, errlen, "cannot parse the node key: -0x%04x",
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
		net_errorf(err, errlen, "cannot open REQ socket: %s",
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
		net_errorf(err, errlen, "cannot dial %s: %s", url,
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
		net_errorf(err, errlen, "cannot dial %s: %s", url,
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
		net_errorf(err, errlen, "client needs a url, a CA, a server "
					"name, and both or none of certificate "
					"and key");
		return -1;
	}
	cli = calloc(1, sizeof(*cli));
	if (cli == NULL || (cli->url = strdup(url)) == NULL) {
		free(cli);
		net_errorf(err, errlen, "out of memory");
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
	     client_authenticate(cli, nng_clock() + NET_OPEN_TIMEOUT_MS, false,
				 err, errlen) != 0)) {
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
	bool forever = timeout_ms < 0;
	nng_time deadline = nng_clock() + (forever ? 0 : (nng_time)timeout_ms);
	nng_msg *msg = NULL, *copy;
	int attempt, rv = -1;

	*reply = NULL;
	if (!json_is_object(request)) {
		json_decref(request);
		net_errorf(err, errlen, "request is not a JSON object");
		return -1;
	}
	if (net_stamp(request) &&
	    (cli->cert_pem == NULL ||
	     json_object_set_new(request, "auth", json_true()) == 0))
		msg = net_encode(request);
	json_decref(request);
	if (msg == NULL) {
		net_errorf(err, errlen, "out of memory");
		return -1;
	}
	for (attempt = 0; attempt <= NET_AUTH_ATTEMPTS; attempt++) {
		if (nng_msg_dup(&copy, msg) != 0) {
			net_errorf(err, errlen, "out of memory");
			break;
		}
		rv = net_exchange_msg(cli->socket, cli->url, copy, deadline,
				      forever, reply, err, errlen);
		if (rv != 0 || !net_unauthenticated(*reply))
			break;
		json_decref(*reply);
		*reply = NULL;
		rv = -1;
		net_errorf(err, errlen, "%s keeps refusing our connection",
			   cli->url);
		if (attempt < NET_AUTH_ATTEMPTS &&
		    client_authenticate(cli, deadline, forever, err, errlen))
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
	bool open = false, forever = timeout_ms < 0;
	const char *ca;
	json_t *reply = NULL;
	int rv = -1;

	*ca_pem = NULL;
	if (net_dial(&socket, &open, url, NNG_TLS_AUTH_MODE_NONE, NULL, NULL,
		     err, errlen) == 0 &&
	    net_exchange(socket, url, json_pack("{s:s}", "op", "ca"),
			 nng_clock() + (forever ? 0 : (nng_time)timeout_ms),
			 forever, &reply, err, errlen) == 0) {
		ca = json_string_value(json_object_get(reply, "ca"));
		if (ca == NULL)
			net_errorf(err, errlen, "%s sent no CA certificate",
				   url);
		else if ((*ca_pem = strdup(ca)) == NULL)
			net_errorf(err, errlen, "out of memory");
		else
			rv = 0;
	}
	json_decref(reply);
	if (open)
		nng_close(socket);
	return rv;
}

/*
 * test_cluster_net.c: tests of the node-to-node transport (core/net) over
 * real TLS sockets on 127.0.0.1 (port 0, the bound port read back), with
 * a cluster CA, node certificates and a second, foreign CA made by
 * core/pki in a temporary directory (fixed seed, fixed issue time, long
 * validity so that the TLS layer's own clock check passes).
 *
 * State: the certificates (struct net_fixture, built once for the group)
 * and, per test, a recorder the test handler writes into: every request it
 * saw and the requests it was told to hold, guarded by a mutex and a
 * condition variable (no sleeps: threads wait for each other).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "cluster_net.h"
#include "pki.h"
#include "test_common.h"

#define NET_T0 1700000000LL
#define NET_VALIDITY (40LL * 365 * 24 * 3600)
#define NET_MAX_HELD 8

struct net_pem {
	char *cert;
	char *key;
};

struct net_fixture {
	char dir[64];
	char err[512];
	struct pki_rng *rng;
	struct pki_ca *ca, *other_ca;
	char *ca_pem, *other_ca_pem;
	struct net_pem manager, worker, foreign;
};

/* What the test handler saw; hold_mode makes it keep requests. */
struct net_recorder {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool hold_mode;
	unsigned calls;
	struct cluster_net_peer last_peer;
	char last_op[64];
	struct cluster_net_request *held[NET_MAX_HELD];
	unsigned n_held;
};

static struct net_fixture *fx;

/* ------------------------------------------------------------ fixture */

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	fclose(f);
	assert_true(n > 0);
	return buf;
}

static char *dup_text(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

/* A key and a certificate for node_id/role signed by ca, as PEM text. */
static void make_node(struct pki_ca *ca, const char *node_id,
		      enum pki_role role, struct net_pem *out)
{
	struct pki_identity id;
	struct pki_key *key;
	struct pki_cert *cert;
	char *csr, path[128];

	assert_int_equal(pki_identity_set(&id, node_id, role, "cluster-1",
					  fx->err, sizeof(fx->err)), 0);
	assert_int_equal(pki_key_generate(fx->rng, &key, fx->err,
					  sizeof(fx->err)), 0);
	assert_int_equal(pki_csr_make(key, &id, fx->rng, &csr, fx->err,
				      sizeof(fx->err)), 0);
	assert_int_equal(pki_ca_sign_csr(ca, fx->rng, csr, strlen(csr), &id,
					 NET_T0, NET_VALIDITY, &cert, fx->err,
					 sizeof(fx->err)), 0);
	snprintf(path, sizeof(path), "%s/%s.key", fx->dir, node_id);
	assert_int_equal(pki_key_save(key, path, fx->err, sizeof(fx->err)), 0);
	out->key = read_text(path);
	unlink(path);
	out->cert = dup_text(pki_cert_pem(cert));
	free(csr);
	pki_cert_free(cert);
	pki_key_free(key);
}

static int group_setup(void **state)
{
	static const char seed[] = "orchd cluster_net tests";

	(void)state;
	fx = calloc(1, sizeof(*fx));
	if (fx == NULL)
		return -1;
	if (test_tmpdir_make(fx->dir, sizeof(fx->dir), "net-test") != 0 ||
	    pki_rng_new_deterministic(seed, sizeof(seed) - 1, &fx->rng,
				      fx->err, sizeof(fx->err)) != 0 ||
	    pki_ca_generate(fx->rng, NET_T0, NET_VALIDITY + 3600, &fx->ca,
			    fx->err, sizeof(fx->err)) != 0 ||
	    pki_ca_generate(fx->rng, NET_T0, NET_VALIDITY + 3600,
			    &fx->other_ca, fx->err, sizeof(fx->err)) != 0)
		return -1;
	fx->ca_pem = dup_text(pki_cert_pem(pki_ca_cert(fx->ca)));
	fx->other_ca_pem = dup_text(pki_cert_pem(pki_ca_cert(fx->other_ca)));
	make_node(fx->ca, "manager-1", PKI_ROLE_MANAGER, &fx->manager);
	make_node(fx->ca, "worker-1", PKI_ROLE_WORKER, &fx->worker);
	make_node(fx->other_ca, "intruder-1", PKI_ROLE_MANAGER, &fx->foreign);
	return 0;
}

static void free_pem(struct net_pem *p)
{
	free(p->cert);
	free(p->key);
}

static int group_teardown(void **state)
{
	int rc;

	(void)state;
	free_pem(&fx->manager);
	free_pem(&fx->worker);
	free_pem(&fx->foreign);
	free(fx->ca_pem);
	free(fx->other_ca_pem);
	pki_ca_free(fx->ca);
	pki_ca_free(fx->other_ca);
	pki_rng_free(fx->rng);
	rc = test_tmpdir_remove(fx->dir);
	free(fx);
	return rc;
}

/* ---------------------------------------------------- handler + server */

static void recorder_init(struct net_recorder *rec, bool hold)
{
	memset(rec, 0, sizeof(*rec));
	pthread_mutex_init(&rec->lock, NULL);
	pthread_cond_init(&rec->changed, NULL);
	rec->hold_mode = hold;
}

static void recorder_fini(struct net_recorder *rec)
{
	pthread_mutex_destroy(&rec->lock);
	pthread_cond_destroy(&rec->changed);
}

/* Echoes the peer identity, or holds the request in hold mode. */
static void test_handler(void *ctx, struct cluster_net_request *req)
{
	struct net_recorder *rec = ctx;
	const struct cluster_net_peer *peer = cluster_net_request_peer(req);
	bool hold;

	pthread_mutex_lock(&rec->lock);
	rec->calls++;
	rec->last_peer = *peer;
	snprintf(rec->last_op, sizeof(rec->last_op), "%s",
		 cluster_net_request_op(req));
	hold = rec->hold_mode && rec->n_held < NET_MAX_HELD;
	if (hold)
		rec->held[rec->n_held++] = req;
	pthread_cond_broadcast(&rec->changed);
	pthread_mutex_unlock(&rec->lock);
	if (hold)
		return;
	assert_int_equal(cluster_net_reply(req,
		json_pack("{s:b, s:s, s:s}", "verified", peer->verified,
			  "node_id", peer->node_id, "role",
			  peer->verified ? pki_role_name(peer->role) : ""),
		NULL, 0), 0);
}

/* Waits until the handler holds at least n requests. */
static void recorder_wait_held(struct net_recorder *rec, unsigned n)
{
	pthread_mutex_lock(&rec->lock);
	while (rec->n_held < n)
		pthread_cond_wait(&rec->changed, &rec->lock);
	pthread_mutex_unlock(&rec->lock);
}

static struct cluster_net_server *start_server(const struct net_pem *node,
					       struct net_recorder *rec,
					       unsigned max_pending,
					       char *url, size_t urllen)
{
	struct cluster_net_tls tls = {fx->ca_pem, node->cert, node->key};
	struct cluster_net_server *srv;
	char err[512];

	if (cluster_net_server_start("tls+tcp://127.0.0.1:0", &tls, 4,
				     max_pending, test_handler, rec, &srv, err,
				     sizeof(err)) != 0)
		fail_msg("server start: %s", err);
	assert_true(cluster_net_server_port(srv) > 0);
	snprintf(url, urllen, "tls+tcp://127.0.0.1:%d",
		 cluster_net_server_port(srv));
	return srv;
}

static struct cluster_net_client *open_client(const char *url,
					      const char *ca_pem,
					      const struct net_pem *node)
{
	struct cluster_net_tls tls = {ca_pem, node ? node->cert : NULL,
				      node ? node->key : NULL};
	struct cluster_net_client *cli;
	char err[512];

	if (cluster_net_client_open(url, &tls, "swarm-manager", &cli, err,
				    sizeof(err)) != 0)
		fail_msg("client open: %s", err);
	return cli;
}

/* Calls op and returns the reply (the test fails on a transport error). */
static json_t *call_op(struct cluster_net_client *cli, const char *op)
{
	json_t *reply;
	char err[512];

	if (cluster_net_call(cli, json_pack("{s:s}", "op", op), 5000, &reply,
			     err, sizeof(err)) != 0)
		fail_msg("call %s: %s", op, err);
	return reply;
}

static void assert_identity(json_t *reply, bool verified, const char *node,
			    const char *role)
{
	assert_int_equal(json_is_true(json_object_get(reply, "verified")),
			 verified);
	assert_string_equal(json_string_value(json_object_get(reply, "node_id")),
			    node);
	assert_string_equal(json_string_value(json_object_get(reply, "role")),
			    role);
}

static nng_socket raw_open(const char *url, const struct net_pem *node);
static json_t *raw_call_json(nng_socket sock, json_t *request);
static json_t *raw_auth(nng_socket sock, const char *cert_pem,
			const char *key_pem);
static const char *error_of(json_t *reply);

/* cluster_net_client_open of url with tls as "swarm-manager" fails with an
 * error containing want. */
static void expect_open_refused(const char *url,
				const struct cluster_net_tls *tls,
				const char *want)
{
	struct cluster_net_client *cli = NULL;
	char err[512];

	assert_int_not_equal(cluster_net_client_open(url, tls, "swarm-manager",
						     &cli, err, sizeof(err)),
			     0);
	assert_null(cli);
	if (strstr(err, want) == NULL)
		fail_msg("open refused with \"%s\", not \"%s\"", err, want);
}

/* -------------------------------------------------------------- tests */

static void test_verified_nodes(void **state)
{
	struct net_recorder rec;
	struct cluster_net_server *srv;
	struct cluster_net_client *worker, *manager;
	char url[64];
	json_t *reply;

	(void)state;
	recorder_init(&rec, false);
	srv = start_server(&fx->manager, &rec, 16, url, sizeof(url));
	worker = open_client(url, fx->ca_pem, &fx->worker);
	manager = open_client(url, fx->ca_pem, &fx->manager);
	reply = call_op(worker, "whoami");
	assert_identity(reply, true, "worker-1", "swarm-worker");
	json_decref(reply);
	reply = call_op(manager, "whoami");
	assert_identity(reply, true, "manager-1", "swarm-manager");
	json_decref(reply);
	assert_string_equal(rec.last_op, "whoami");
	assert_int_equal(rec.calls, 2);
	cluster_net_client_close(worker);
	cluster_net_client_close(manager);
	cluster_net_server_stop(srv);
	recorder_fini(&rec);
}

static void test_unverified_and_fetch_ca(void **state)
{
	struct net_recorder rec;
	struct cluster_net_server *srv;
	struct cluster_net_client *cli;
	struct pki_join_secrets secrets;
	struct pki_cert *fetched;
	char url[64], err[512], digest[PKI_DIGEST_LEN + 1];
	char token[PKI_TOKEN_LEN + 1], *ca_pem;
	json_t *reply;

	(void)state;
	recorder_init(&rec, false);
	srv = start_server(&fx->manager, &rec, 16, url, sizeof(url));
	cli = open_client(url, fx->ca_pem, NULL);
	reply = call_op(cli, "join");
	assert_identity(reply, false, "", "");
	json_decref(reply);
	assert_false(rec.last_peer.verified);
	assert_true(rec.last_peer.connection != 0);
	cluster_net_client_close(cli);

	if (cluster_net_fetch_ca(url, 5000, &ca_pem, err, sizeof(err)) != 0)
		fail_msg("fetch_ca: %s", err);
	assert_string_equal(ca_pem, fx->ca_pem);
	assert_int_equal(rec.calls, 1); /* "ca" never reaches the handler */
	/* The join flow: the fetched CA matches this cluster's token, and not
	 * a token made for another CA. */
	assert_int_equal(pki_cert_parse(ca_pem, strlen(ca_pem), &fetched, err,
					sizeof(err)), 0);
	assert_int_equal(pki_join_secrets_generate(fx->rng, &secrets, err,
						   sizeof(err)), 0);
	pki_cert_digest(pki_ca_cert(fx->ca), digest);
	assert_int_equal(pki_token_make(digest, &secrets, PKI_ROLE_WORKER,
					token, err, sizeof(err)), 0);
	assert_int_equal(pki_token_check_ca(token, fetched, err, sizeof(err)),
			 0);
	pki_cert_digest(pki_ca_cert(fx->other_ca), digest);
	assert_int_equal(pki_token_make(digest, &secrets, PKI_ROLE_WORKER,
					token, err, sizeof(err)), 0);
	assert_int_not_equal(pki_token_check_ca(token, fetched, err,
						sizeof(err)), 0);
	pki_cert_free(fetched);
	free(ca_pem);
	cluster_net_server_stop(srv);
	recorder_fini(&rec);
}

static void test_foreign_certificate_refused(void **state)
{
	struct net_recorder rec;
	struct cluster_net_server *srv;
	struct cluster_net_tls tls = {fx->ca_pem, fx->foreign.cert,
				      fx->foreign.key};
	char url[64];
	nng_socket sock;
	json_t *reply;

	(void)state;
	recorder_init(&rec, false);
	srv = start_server(&fx->manager, &rec, 16, url, sizeof(url));
	expect_open_refused(url, &tls, "server refused our certificate");
	assert_int_equal(rec.calls, 0);
	/* At the TLS level the connection is accepted but unverified: its
	 * requests reach the handler as unverified, "auth" is refused. */
	sock = raw_open(url, &fx->foreign);
	reply = raw_auth(sock, fx->foreign.cert, fx->foreign.key);
	assert_non_null(strstr(error_of(reply), "not verified"));
	json_decref(reply);
	reply = raw_call_json(sock, json_pack("{s:i, s:s}", "v", 1, "op",
					      "whoami"));
	assert_identity(reply, false, "", "");
	json_decref(reply);
	nng_close(sock);
	cluster_net_server_stop(srv);
	recorder_fini(&rec);
}

static void test_client_with_wrong_ca(void **state)
{
	struct net_recorder rec;
	struct cluster_net_server *srv;
	struct cluster_net_tls tls = {fx->other_ca_pem, NULL, NULL};
	char url[64];

	(void)state;
	recorder_init(&rec, false);
	srv = start_server(&fx->manager, &rec, 16, url, sizeof(url));
	expect_open_refused(url, &tls, "cannot dial");
	assert_int_equal(rec.calls, 0);
	cluster_net_server_stop(srv);
	recorder_fini(&rec);
}

static void test_server_name_mismatch(void **state)
{
	struct net_recorder rec;
	struct cluster_net_server *srv;
	struct cluster_net_client *cli = NULL;
	struct cluster_net_tls tls = {fx->ca_pem, NULL, NULL};
	char url[64], err[512];

	(void)state;
	recorder_init(&rec, false);
	srv = start_server(&fx->worker, &rec, 16, url, sizeof(url));
	expect_open_refused(url, &tls, "cannot dial");
	/* Control: the same server passes when the name is its own role. */
	if (cluster_net_client_open(url, &tls, "swarm-worker", &cli, err,
				    sizeof(err)) != 0)
		fail_msg("control open: %s", err);
	cluster_net_client_close(cli);
	cluster_net_server_stop(srv);
	recorder_fini(&rec);
}

struct net_late_reply {
	struct net_recorder *rec;
	int rv;
};

static void *late_replier(void *arg)
{
	struct net_late_reply *late = arg;

	recorder_wait_held(late->rec, 1);
	late->rv = cluster_net_reply(late->rec->held[0],
				     json_pack("{s:s}", "answer", "later"),
				     NULL, 0);
	return NULL;
}

static void test_held_request_answered_later(void **state)
{
	struct net_recorder rec;
	struct net_late_reply late = {&rec, -1};
	struct cluster_net_server *srv;
	struct cluster_net_client *cli;
	pthread_t thread;
	char url[64];
	json_t *reply;

	(void)state;
	recorder_init(&rec, true);
	srv = start_server(&fx->manager, &rec, 16, url, sizeof(url));
	cli = open_client(url, fx->ca_pem, &fx->worker);
	assert_int_equal(pthread_create(&thread, NULL, late_replier, &late), 0);
	reply = call_op(cli, "poll");
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(late.rv, 0);
	assert_string_equal(json_string_value(json_object_get(reply, "answer")),
			    "later");
	assert_int_equal(json_integer_value(json_object_get(reply, "v")), 1);
	json_decref(reply);
	cluster_net_client_close(cli);
	cluster_net_server_stop(srv);
	recorder_fini(&rec);
}

/* A call whose request is held times out; the server is then stopped
 * with that request still pending (ASan: nothing leaks). */
static void test_timeout_and_stop_with_pending(void **state)
{
	struct net_recorder rec;
	struct cluster_net_server *srv;
	struct cluster_net_client *cli;
	char url[64], err[512];
	json_t *reply;
	int i;

	(void)state;
	recorder_init(&rec, true);
	srv = start_server(&fx->manager, &rec, 16, url, sizeof(url));
	cli = open_client(url, fx->ca_pem, &fx->worker);
	for (i = 0; i < 3; i++) {
		assert_int_not_equal(cluster_net_call(cli,
			json_pack("{s:s}", "op", "poll"), 100, &reply, err,
			sizeof(err)), 0);
		assert_null(reply);
		assert_non_null(strstr(err, "Timed out"));
	}
	recorder_wait_held(&rec, 3);
	cluster_net_server_stop(srv);
	cluster_net_client_close(cli);
	recorder_fini(&rec);
}

static void test_busy_when_max_pending(void **state)
{
	struct net_recorder rec;
	struct cluster_net_server *srv;
	struct cluster_net_client *cli;
	char url[64], err[512];
	json_t *reply;

	(void)state;
	recorder_init(&rec, true);
	srv = start_server(&fx->manager, &rec, 1, url, sizeof(url));
	cli = open_client(url, fx->ca_pem, &fx->worker);
	assert_int_not_equal(cluster_net_call(cli, json_pack("{s:s}", "op",
							     "poll"),
					      100, &reply, err, sizeof(err)),
			     0);
	recorder_wait_held(&rec, 1);
	reply = call_op(cli, "poll");
	assert_non_null(strstr(json_string_value(json_object_get(reply,
								 "error")),
			       "server busy"));
	json_decref(reply);
	assert_int_equal(rec.calls, 1);
	cluster_net_client_close(cli);
	cluster_net_server_stop(srv);
	recorder_fini(&rec);
}

/* A raw nng req socket over TLS: with node (checked as "swarm-manager"
 * against the cluster CA) or without any TLS check (node NULL). */
static nng_socket raw_open(const char *url, const struct net_pem *node)
{
	nng_socket sock;
	nng_dialer dialer;
	nng_tls_config *cfg;

	assert_int_equal(nng_req0_open(&sock), 0);
	assert_int_equal(nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000), 0);
	assert_int_equal(nng_dialer_create(&dialer, sock, url), 0);
	assert_int_equal(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
	if (node == NULL) {
		assert_int_equal(nng_tls_config_auth_mode(
					 cfg, NNG_TLS_AUTH_MODE_NONE), 0);
	} else {
		assert_int_equal(nng_tls_config_ca_chain(cfg, fx->ca_pem, NULL),
				 0);
		assert_int_equal(nng_tls_config_own_cert(cfg, node->cert,
							 node->key, NULL), 0);
		assert_int_equal(nng_tls_config_server_name(cfg,
							    "swarm-manager"), 0);
	}
	assert_int_equal(nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG, cfg), 0);
	nng_tls_config_free(cfg);
	assert_int_equal(nng_dialer_start(dialer, 0), 0);
	return sock;
}

/* Sends len raw bytes and returns the decoded reply (a "v":1 object). */
static json_t *raw_call(nng_socket sock, const char *bytes, size_t len)
{
	json_t *reply;
	char *buf = NULL;
	size_t sz = 0;

	assert_int_equal(nng_send(sock, (void *)bytes, len, 0), 0);
	assert_int_equal(nng_recv(sock, &buf, &sz, NNG_FLAG_ALLOC), 0);
	reply = json_loadb(buf, sz, 0, NULL);
	nng_free(buf, sz);
	assert_non_null(reply);
	assert_int_equal(json_integer_value(json_object_get(reply, "v")), 1);
	return reply;
}

static json_t *raw_call_json(nng_socket sock, json_t *request)
{
	char *text = json_dumps(request, JSON_COMPACT);
	json_t *reply;

	assert_non_null(text);
	json_decref(request);
	reply = raw_call(sock, text, strlen(text));
	free(text);
	return reply;
}

/* Sends raw bytes without TLS checks and returns the reply's "error". */
static char *raw_exchange(const char *url, const char *bytes, size_t len)
{
	nng_socket sock = raw_open(url, NULL);
	json_t *reply = raw_call(sock, bytes, len);
	char *error;

	nng_close(sock);
	assert_non_null(json_string_value(json_object_get(reply, "error")));
	error = dup_text(json_string_value(json_object_get(reply, "error")));
	json_decref(reply);
	return error;
}

static int test_rng_fill(void *rng, unsigned char *buf, size_t len)
{
	return pki_rng_bytes(rng, buf, len, NULL, 0) == 0 ? 0 : -1;
}

/* The protocol's signature, made here independently of the library:
 * ECDSA-SHA256 over "orchd-cluster-net-auth-v1" || nonce, in hex. */
static void sign_challenge(const char *key_pem, const char *nonce_hex,
			   char *sig_hex)
{
	static const char context[] = "orchd-cluster-net-auth-v1";
	unsigned char buf[sizeof(context) - 1 + 32], hash[32];
	unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	mbedtls_pk_context pk;
	size_t i, sig_len = 0;
	unsigned byte;

	assert_int_equal(strlen(nonce_hex), 64);
	memcpy(buf, context, sizeof(context) - 1);
	for (i = 0; i < 32; i++) {
		assert_int_equal(sscanf(nonce_hex + 2 * i, "%2x", &byte), 1);
		buf[sizeof(context) - 1 + i] = (unsigned char)byte;
	}
	assert_int_equal(mbedtls_sha256_ret(buf, sizeof(buf), hash, 0), 0);
	mbedtls_pk_init(&pk);
	assert_int_equal(mbedtls_pk_parse_key(&pk, (const unsigned char *)key_pem,
					      strlen(key_pem) + 1, NULL, 0), 0);
	assert_int_equal(mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, 32, sig,
					 &sig_len, test_rng_fill, fx->rng), 0);
	mbedtls_pk_free(&pk);
	for (i = 0; i < sig_len; i++)
		sprintf(sig_hex + 2 * i, "%02x", sig[i]);
}

/* Authenticates sock presenting cert_pem, signing with key_pem. */
static json_t *raw_auth(nng_socket sock, const char *cert_pem,
			const char *key_pem)
{
	char sig_hex[2 * MBEDTLS_PK_SIGNATURE_MAX_SIZE + 1];
	json_t *challenge;

	challenge = raw_call_json(sock, json_pack("{s:i, s:s}", "v", 1, "op",
						  "auth_challenge"));
	sign_challenge(key_pem,
		       json_string_value(json_object_get(challenge, "nonce")),
		       sig_hex);
	json_decref(challenge);
	return raw_call_json(sock, json_pack("{s:i, s:s, s:s, s:s}", "v", 1,
					     "op", "auth", "cert", cert_pem,
					     "sig", sig_hex));
}

static const char *error_of(json_t *reply)
{
	const char *e = json_string_value(json_object_get(reply, "error"));

	return e != NULL ? e : "";
}

/* worker-1, TLS-verified with its own certificate, claims manager-1's
 * certificate in "auth": it cannot sign for manager-1's key. A replayed
 * or absent challenge is refused too; its own certificate is accepted. */
static void test_stolen_certificate_refused(void **state)
{
	struct net_recorder rec;
	struct cluster_net_server *srv;
	nng_socket sock;
	char url[64];
	json_t *reply;

	(void)state;
	recorder_init(&rec, false);
	srv = start_server(&fx->manager, &rec, 16, url, sizeof(url));
	sock = raw_open(url, &fx->worker);
	reply = raw_auth(sock, fx->manager.cert, fx->worker.key);
	assert_non_null(strstr(error_of(reply), "signature does not match"));
	json_decref(reply);
	reply = raw_call_json(sock, json_pack("{s:i, s:s, s:s, s:s}", "v", 1,
					      "op", "auth", "cert",
					      fx->worker.cert, "sig", "00"));
	assert_non_null(strstr(error_of(reply), "no challenge"));
	json_decref(reply);
	reply = raw_call_json(sock, json_pack("{s:i, s:s, s:b}", "v", 1, "op",
					      "whoami", "auth", 1));
	assert_true(json_is_true(json_object_get(reply, "unauthenticated")));
	json_decref(reply);
	assert_int_equal(rec.calls, 0);
	/* Control: the same connection with its own certificate. */
	reply = raw_auth(sock, fx->worker.cert, fx->worker.key);
	assert_string_equal(error_of(reply), "");
	assert_string_equal(json_string_value(json_object_get(reply, "node_id")),
			    "worker-1");
	json_decref(reply);
	reply = raw_call_json(sock, json_pack("{s:i, s:s, s:b}", "v", 1, "op",
					      "whoami", "auth", 1));
	assert_identity(reply, true, "worker-1", "swarm-worker");
	json_decref(reply);
	nng_close(sock);
	/* A connection without any client certificate cannot authenticate,
	 * even with a valid certificate and signature. */
	sock = raw_open(url, NULL);
	reply = raw_auth(sock, fx->worker.cert, fx->worker.key);
	assert_non_null(strstr(error_of(reply), "not verified"));
	json_decref(reply);
	nng_close(sock);
	cluster_net_server_stop(srv);
	recorder_fini(&rec);
}

static void test_malformed_requests(void **state)
{
	static const char *bad[] = {
		"not json", "[1,2]", "{\"op\":\"x\"}", "{\"v\":2,\"op\":\"x\"}",
		"{\"v\":1}", "{\"v\":1,\"op\":7}", "",
	};
	struct net_recorder rec;
	struct cluster_net_server *srv;
	struct cluster_net_client *cli;
	char url[64], err[512], *error;
	json_t *reply;
	size_t i;

	(void)state;
	recorder_init(&rec, false);
	srv = start_server(&fx->manager, &rec, 16, url, sizeof(url));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = raw_exchange(url, bad[i], strlen(bad[i]));
		assert_non_null(strstr(error, "malformed request"));
		free(error);
	}
	/* "auth" with garbage on an unverified connection: refused. */
	error = raw_exchange(url, "{\"v\":1,\"op\":\"auth\",\"cert\":1}",
			     strlen("{\"v\":1,\"op\":\"auth\",\"cert\":1}"));
	assert_non_null(strstr(error, "auth refused"));
	free(error);
	assert_int_equal(rec.calls, 0);
	/* The server still works, and a bad request object is refused on the
	 * client side. */
	cli = open_client(url, fx->ca_pem, &fx->worker);
	assert_int_not_equal(cluster_net_call(cli, json_pack("[i]", 1), 1000,
					      &reply, err, sizeof(err)), 0);
	reply = call_op(cli, "whoami");
	assert_identity(reply, true, "worker-1", "swarm-worker");
	json_decref(reply);
	cluster_net_client_close(cli);
	cluster_net_server_stop(srv);
	recorder_fini(&rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verified_nodes),
		cmocka_unit_test(test_unverified_and_fetch_ca),
		cmocka_unit_test(test_foreign_certificate_refused),
		cmocka_unit_test(test_stolen_certificate_refused),
		cmocka_unit_test(test_client_with_wrong_ca),
		cmocka_unit_test(test_server_name_mismatch),
		cmocka_unit_test(test_held_request_answered_later),
		cmocka_unit_test(test_timeout_and_stop_with_pending),
		cmocka_unit_test(test_busy_when_max_pending),
		cmocka_unit_test(test_malformed_requests),
	};

	if (getenv("NET_TEST_FILTER") != NULL) /* one test, for debugging */
		cmocka_set_test_filter(getenv("NET_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

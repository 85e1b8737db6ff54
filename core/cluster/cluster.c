/*
 * cluster.c: joining nodes into one cluster over mutual TLS (see
 * cluster.h). The manager half makes the PKI material at `swarm init`, signs
 * joining workers' and managers' CSRs and runs the cluster_net server whose
 * handler forwards requests into the manager's inbox (a write forwarded by
 * a follower manager waits there, on its server thread, for the route). The worker half joins, saves
 * its material under data_root/swarm/worker and is the agent's remote link.
 * State owned here: the cluster_server (nng server, reply handles) and the
 * cluster_worker (client, material, cached node description).
 */
#include "cluster.h"
#include "api_http.h"
#include "fsutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster_net.h"
#include "pki.h"

#define CLUSTER_FETCH_TIMEOUT_MS 5000
#define CLUSTER_JOIN_TIMEOUT_MS 10000
/* A renewal is retried by the role keeper a second later: short, so that
 * orchd never waits long on one when it stops. */
#define CLUSTER_RENEW_TIMEOUT_MS 5000
#define CLUSTER_SEND_TIMEOUT_MS 3000
#define CLUSTER_SESSION_MARGIN_MS 2000
#define CLUSTER_SERVER_WORKERS 4
/* Every agent holds one session request: more than the nodes a manager
 * serves. */
#define CLUSTER_SERVER_MAX_PENDING 16384

/* ------------------------------------------------------------ helpers */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* "IP:PORT" -> "tls+tcp://IP:PORT"; a missing port becomes 2377. */
static void cluster_url(const char *addr, char *url, size_t len)
{
	if (strchr(addr, ':'))
		snprintf(url, len, "tls+tcp://%s", addr);
	else
		snprintf(url, len, "tls+tcp://%s:%d", addr, CLUSTER_NET_PORT);
}

/* ------------------------------------------------------ manager side */

/* Writes a node key and certificate into dir, each beside its final name
 * then renamed over it (a reader between the two renames may see a
 * mismatched pair: its TLS setup fails once and it tries again). */
static int save_node_pair(const char *dir, const struct pki_key *key,
			  const struct pki_cert *cert, char *err, size_t errlen)
{
	char key_tmp[700], cert_tmp[700], key_path[700], cert_path[700];
	snprintf(key_tmp, sizeof(key_tmp), "%s/%s.new", dir, PKI_NODE_KEY_FILE);
	snprintf(cert_tmp, sizeof(cert_tmp), "%s/%s.new", dir, PKI_NODE_CERT_FILE);
	snprintf(key_path, sizeof(key_path), "%s/%s", dir, PKI_NODE_KEY_FILE);
	snprintf(cert_path, sizeof(cert_path), "%s/%s", dir, PKI_NODE_CERT_FILE);
	if (pki_key_save(key, key_tmp, err, errlen) != 0 ||
	    pki_cert_save(cert, cert_tmp, err, errlen) != 0)
		return -1;
	if (rename(key_tmp, key_path) != 0 || rename(cert_tmp, cert_path) != 0) {
		snprintf(err, errlen, "cannot replace the node certificate in %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The manager's own key and certificate, signed by ca. */
static int make_manager_cert(const char *cert_dir, struct pki_ca *ca,
			     struct pki_rng *rng, const char *node_id,
			     const char *cluster_id, int64_t validity, char *err,
			     size_t errlen)
{
	struct pki_identity id;
	struct pki_key *key = NULL;
	struct pki_cert *cert = NULL;
	char *csr = NULL;
	int rc = -1;
	if (pki_identity_set(&id, node_id, PKI_ROLE_MANAGER, cluster_id, err, errlen) != 0 ||
	    pki_key_generate(rng, &key, err, errlen) != 0 ||
	    pki_csr_make(key, &id, rng, &csr, err, errlen) != 0 ||
	    pki_ca_sign_csr(ca, rng, csr, strlen(csr), &id, time(NULL), validity, &cert,
			    err, errlen) != 0)
		goto out;
	rc = save_node_pair(cert_dir, key, cert, err, errlen);
out:
	free(csr);
	pki_key_free(key);
	pki_cert_free(cert);
	return rc;
}

int cluster_material_make(const char *cert_dir, const char *node_id,
			  const char *cluster_id, json_t **ca_out,
			  json_t **secrets_out, char *err, size_t errlen)
{
	struct pki_rng *rng = NULL;
	struct pki_ca *ca = NULL;
	struct pki_join_secrets secrets;
	char path[700];
	char *cert_pem = NULL, *key_pem = NULL;
	int rc = -1;
	if (util_mkdir_p(cert_dir, 0700, err, errlen) != 0 || pki_rng_new(&rng, err, errlen) != 0 ||
	    pki_ca_generate(rng, time(NULL), 0, &ca, err, errlen) != 0 ||
	    pki_ca_save(ca, cert_dir, err, errlen) != 0 ||
	    make_manager_cert(cert_dir, ca, rng, node_id, cluster_id, 0, err, errlen) != 0 ||
	    pki_join_secrets_generate(rng, &secrets, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", cert_dir, PKI_CA_KEY_FILE);
	if (!(key_pem = util_read_file(path, err, errlen)))
		goto out;
	cert_pem = strdup(pki_cert_pem(pki_ca_cert(ca)));
	*ca_out = json_pack("{s:s,s:s}", "cert", cert_pem, "key", key_pem);
	*secrets_out = json_pack("{s:s,s:s}", "worker", secrets.worker, "manager",
				 secrets.manager);
	rc = 0;
out:
	free(cert_pem);
	free(key_pem);
	pki_ca_free(ca);
	pki_rng_free(rng);
	return rc;
}

static int spec_secrets(const json_t *spec, struct pki_join_secrets *s)
{
	json_t *hidden = json_object_get(spec, CLUSTER_SPEC_SECRETS);
	const char *w = jstr(hidden, "worker"), *m = jstr(hidden, "manager");
	if (!w || !m || strlen(w) != PKI_SECRET_LEN || strlen(m) != PKI_SECRET_LEN)
		return -1;
	snprintf(s->worker, sizeof(s->worker), "%s", w);
	snprintf(s->manager, sizeof(s->manager), "%s", m);
	return 0;
}

static int spec_ca_digest(const json_t *spec, char digest[PKI_DIGEST_LEN + 1])
{
	const char *pem = jstr(json_object_get(spec, CLUSTER_SPEC_CA), "cert");
	struct pki_cert *cert = NULL;
	char err[256];
	if (!pem || pki_cert_parse(pem, strlen(pem), &cert, err, sizeof(err)) != 0)
		return -1;
	pki_cert_digest(cert, digest);
	pki_cert_free(cert);
	return 0;
}

json_t *cluster_join_tokens(const json_t *spec)
{
	struct pki_join_secrets s;
	char digest[PKI_DIGEST_LEN + 1], worker[PKI_TOKEN_LEN + 1],
		manager[PKI_TOKEN_LEN + 1], err[256];
	if (spec_secrets(spec, &s) != 0 || spec_ca_digest(spec, digest) != 0 ||
	    pki_token_make(digest, &s, PKI_ROLE_WORKER, worker, err, sizeof(err)) != 0 ||
	    pki_token_make(digest, &s, PKI_ROLE_MANAGER, manager, err, sizeof(err)) != 0)
		return NULL;
	return json_pack("{s:s,s:s}", "Worker", worker, "Manager", manager);
}

json_t *cluster_spec_public(const json_t *spec)
{
	json_t *copy = json_deep_copy(spec);
	json_object_del(copy, CLUSTER_SPEC_CA);
	json_object_del(copy, CLUSTER_SPEC_SECRETS);
	return copy;
}

int cluster_rotate_secret(json_t *spec, bool manager, char *err, size_t errlen)
{
	struct pki_join_secrets s;
	struct pki_rng *rng = NULL;
	if (spec_secrets(spec, &s) != 0) {
		snprintf(err, errlen, "the swarm has no join secrets to rotate");
		return -1;
	}
	int rc = pki_rng_new(&rng, err, errlen) != 0 ||
			 pki_join_secrets_rotate(&s, manager ? PKI_ROLE_MANAGER : PKI_ROLE_WORKER,
						 rng, err, errlen) != 0
		 ? -1
		 : 0;
	pki_rng_free(rng);
	if (rc == 0)
		json_object_set_new(spec, CLUSTER_SPEC_SECRETS,
				    json_pack("{s:s,s:s}", "worker", s.worker, "manager",
					      s.manager));
	return rc;
}

int64_t cluster_cert_validity(const json_t *spec)
{
	json_int_t ns = json_integer_value(
		json_object_get(json_object_get(spec, "CAConfig"), "NodeCertExpiry"));
	return ns > 0 ? (int64_t)(ns / 1000000000) : 0;
}

/* Signs csr for node_id in role with the CA of cert_dir, for the spec's
 * certificate validity: {cert, ca, role}, plus the CA key for a manager
 * (a manager signs joins itself after a failover; the key is also in the
 * replicated cluster Spec). */
static json_t *sign_node(const char *cert_dir, const json_t *spec,
			 const char *cluster_id, const char *node_id,
			 enum pki_role role, const char *csr, char *err,
			 size_t errlen)
{
	struct pki_identity id;
	struct pki_rng *rng = NULL;
	struct pki_ca *ca = NULL;
	struct pki_cert *cert = NULL;
	json_t *reply = NULL;
	if (pki_identity_set(&id, node_id, role, cluster_id, err, errlen) == 0 &&
	    pki_rng_new(&rng, err, errlen) == 0 && pki_ca_load(cert_dir, &ca, err, errlen) == 0 &&
	    pki_ca_sign_csr(ca, rng, csr, strlen(csr), &id, time(NULL),
			    cluster_cert_validity(spec), &cert, err, errlen) == 0)
		reply = json_pack("{s:s,s:s,s:s}", "cert", pki_cert_pem(cert), "ca",
				  pki_cert_pem(pki_ca_cert(ca)), "role",
				  role == PKI_ROLE_MANAGER ? "manager" : "worker");
	const char *ca_key = jstr(json_object_get(spec, CLUSTER_SPEC_CA), "key");
	if (reply && role == PKI_ROLE_MANAGER && ca_key)
		json_object_set_new(reply, "ca_key", json_string(ca_key));
	pki_cert_free(cert);
	pki_ca_free(ca);
	pki_rng_free(rng);
	return reply;
}

json_t *cluster_join_sign(const char *cert_dir, const json_t *spec,
			  const char *cluster_id, const json_t *request,
			  char *err, size_t errlen)
{
	struct pki_join_secrets s;
	char digest[PKI_DIGEST_LEN + 1];
	const char *token = jstr(request, "token"), *csr = jstr(request, "csr");
	const char *node_id = jstr(request, "node_id");
	enum pki_role role;
	if (spec_secrets(spec, &s) != 0 || spec_ca_digest(spec, digest) != 0) {
		snprintf(err, errlen, "this manager has no cluster CA or join secrets");
		return NULL;
	}
	if (!token || !csr || !node_id) {
		snprintf(err, errlen, "join: token, csr and node_id are required");
		return NULL;
	}
	if (pki_token_check(&s, digest, token, &role, err, errlen) != 0)
		return NULL;
	return sign_node(cert_dir, spec, cluster_id, node_id, role, csr, err, errlen);
}

json_t *cluster_renew_sign(const char *cert_dir, const json_t *spec,
			   const char *cluster_id, const json_t *request,
			   bool manager, char *err, size_t errlen)
{
	const char *csr = jstr(request, "csr"), *node_id = jstr(request, "node_id");
	if (!csr || !node_id) {
		snprintf(err, errlen, "renew: csr and node_id are required");
		return NULL;
	}
	return sign_node(cert_dir, spec, cluster_id, node_id,
			 manager ? PKI_ROLE_MANAGER : PKI_ROLE_WORKER, csr, err, errlen);
}

int cluster_renew_self(const char *cert_dir, const json_t *spec,
		       const char *node_id, const char *cluster_id, char *err,
		       size_t errlen)
{
	struct pki_rng *rng = NULL;
	struct pki_ca *ca = NULL;
	int rc = -1;
	if (pki_rng_new(&rng, err, errlen) == 0 && pki_ca_load(cert_dir, &ca, err, errlen) == 0)
		rc = make_manager_cert(cert_dir, ca, rng, node_id, cluster_id,
				       cluster_cert_validity(spec), err, errlen);
	pki_ca_free(ca);
	pki_rng_free(rng);
	return rc;
}

int cluster_cert_renew_at(const char *pem, unsigned permille, int64_t *at,
			  char *err, size_t errlen)
{
	struct pki_cert *cert = NULL;
	struct pki_cert_info info;
	int rc = -1;
	if (pem && pki_cert_parse(pem, strlen(pem), &cert, err, errlen) == 0 &&
	    pki_cert_read_info(cert, &info, err, errlen) == 0) {
		*at = pki_cert_renew_time(&info, permille);
		rc = 0;
	} else if (!pem) {
		snprintf(err, errlen, "no certificate");
	}
	pki_cert_free(cert);
	return rc;
}

/* ---------------------------------------------------------- the server */

struct cluster_server {
	struct cluster_net_server *net;
	struct inbox *inbox;
	pthread_rwlock_t alive_lock; /* write-held while the server stops */
	bool alive;
	pthread_mutex_t ref_lock;
	unsigned refs; /* the server itself + reply handles not yet used */
};

/* A reply handle given to the core thread with INBOX_CLUSTER_REQUEST. */
struct cluster_reply {
	struct inbox_reply_to to;
	struct cluster_server *srv;
	struct cluster_net_request *req;
};

static void server_unref(struct cluster_server *srv)
{
	pthread_mutex_lock(&srv->ref_lock);
	unsigned left = --srv->refs;
	pthread_mutex_unlock(&srv->ref_lock);
	if (left)
		return;
	pthread_rwlock_destroy(&srv->alive_lock);
	pthread_mutex_destroy(&srv->ref_lock);
	free(srv);
}

static void reply_fn(void *ctx, json_t *reply)
{
	struct cluster_reply *r = ctx;
	char err[256];
	pthread_rwlock_rdlock(&r->srv->alive_lock);
	if (r->srv->alive) {
		if (!reply)
			reply = cluster_net_error("no answer");
		if (cluster_net_reply(r->req, reply, err, sizeof(err)) != 0)
			fprintf(stderr, "orchd: cluster: reply not sent: %s\n", err);
	} else {
		json_decref(reply); /* the server dropped the request */
	}
	pthread_rwlock_unlock(&r->srv->alive_lock);
	server_unref(r->srv);
	free(r);
}

static void reply_now(struct cluster_net_request *req, json_t *reply)
{
	char err[256];
	if (cluster_net_reply(req, reply, err, sizeof(err)) != 0)
		fprintf(stderr, "orchd: cluster: reply not sent: %s\n", err);
}

/* Hands req to the core thread, which answers through the handle. */
static void forward_with_reply(struct cluster_server *srv,
			       struct cluster_net_request *req)
{
	struct cluster_reply *r = calloc(1, sizeof(*r));
	json_t *body = json_deep_copy(cluster_net_request_body(req));
	if (!r || !body) {
		free(r);
		json_decref(body);
		reply_now(req, cluster_net_error("out of memory"));
		return;
	}
	r->to.fn = reply_fn;
	r->to.ctx = r;
	r->srv = srv;
	r->req = req;
	pthread_mutex_lock(&srv->ref_lock);
	srv->refs++;
	pthread_mutex_unlock(&srv->ref_lock);
	if (inbox_post_ptr(srv->inbox, INBOX_CLUSTER_REQUEST, body, &r->to) != 0) {
		server_unref(srv);
		free(r);
		reply_now(req, cluster_net_error("the manager is stopping"));
	}
}

/* Raft messages go to the core thread without waiting for it: the
 * sender learns only that they were queued (raft retries losses). */
static void forward_raft(struct cluster_server *srv, struct cluster_net_request *req)
{
	json_t *body = json_pack("{s:s,s:O}", "op", "raft", "msgs",
				 json_object_get(cluster_net_request_body(req), "msgs"));
	if (!body || inbox_post_ptr(srv->inbox, INBOX_CLUSTER_REQUEST, body, NULL) != 0)
		reply_now(req, cluster_net_error("the manager is stopping"));
	else
		reply_now(req, json_pack("{s:b}", "ok", 1));
}

/* A write a follower manager forwarded: runs its API route on this
 * manager's core thread (this server thread waits, as an HTTP thread
 * would) and answers {status, content_type, body}. */
static json_t *server_run_api(struct cluster_server *srv, const json_t *body)
{
	const char *method = jstr(body, "method"), *path = jstr(body, "path");
	const char *text = jstr(body, "body") ? jstr(body, "body") : "";
	json_t *query = json_object_get(body, "query");
	if (!method || !path)
		return cluster_net_error("api: method and path are required");
	size_t n = json_array_size(query);
	struct api_query_param *params = calloc(n ? n : 1, sizeof(*params));
	if (!params)
		return cluster_net_error("out of memory");
	for (size_t i = 0; i < n; i++) {
		params[i].name = (char *)jstr(json_array_get(query, i), "name");
		params[i].value = (char *)jstr(json_array_get(query, i), "value");
		if (!params[i].name || !params[i].value) {
			free(params);
			return cluster_net_error("api: bad query parameter");
		}
	}
	struct api_request areq = { .method = method, .path = path, .raw_target = path,
				    .body = text, .body_len = strlen(text),
				    .query = params, .query_count = n };
	struct api_response aresp = { .status = 200 };
	struct api_call ac = { .req = &areq, .resp = &aresp };
	struct inbox_call call;
	inbox_call_init(&call, &ac);
	int rc = inbox_call(srv->inbox, INBOX_API, NULL, &call);
	inbox_call_fini(&call);
	free(params);
	json_t *reply = rc != 0 ? cluster_net_error("the manager is stopping")
				: json_pack("{s:i,s:s,s:s%}", "status", aresp.status,
					    "content_type",
					    aresp.content_type ? aresp.content_type : "application/json",
					    "body", aresp.body ? aresp.body : "", aresp.body_len);
	free(aresp.body);
	return reply ? reply : cluster_net_error("out of memory");
}

/* Whether the verified peer is the node the body speaks for. */
static bool peer_speaks_for(const struct cluster_net_peer *peer,
			    const char *node)
{
	return peer->verified && node && strcmp(peer->node_id, node) == 0;
}

static void server_handle(void *ctx, struct cluster_net_request *req)
{
	struct cluster_server *srv = ctx;
	const char *op = cluster_net_request_op(req);
	const struct cluster_net_peer *peer = cluster_net_request_peer(req);
	json_t *body = cluster_net_request_body(req);
	if (strcmp(op, "join") == 0) {
		forward_with_reply(srv, req);
	} else if (strcmp(op, "session") == 0 || strcmp(op, "renew") == 0) {
		if (peer_speaks_for(peer, jstr(body, "node_id")))
			forward_with_reply(srv, req);
		else
			reply_now(req, cluster_net_error("%s: the peer is not node %s", op,
							 jstr(body, "node_id") ? jstr(body, "node_id") : "?"));
	} else if (strcmp(op, "raft") == 0 || strcmp(op, "api") == 0) {
		if (!peer->verified || peer->role != PKI_ROLE_MANAGER)
			reply_now(req, cluster_net_error("%s: only managers of this swarm may send this", op));
		else if (strcmp(op, "api") == 0)
			reply_now(req, server_run_api(srv, cluster_net_request_body(req)));
		else
			forward_raft(srv, req);
	} else if (strcmp(op, "managers") == 0) {
		if (!peer->verified)
			reply_now(req, cluster_net_error("managers: authenticate first"));
		else
			forward_with_reply(srv, req);
	} else if (strcmp(op, "status") == 0 || strcmp(op, "node_info") == 0) {
		if (!peer_speaks_for(peer, jstr(body, "node"))) {
			reply_now(req, cluster_net_error("%s: the peer is not node %s", op,
							 jstr(body, "node") ? jstr(body, "node") : "?"));
			return;
		}
		enum inbox_kind kind = strcmp(op, "status") == 0 ? INBOX_TASK_STATUSES
								 : INBOX_NODE_INFO;
		json_t *copy = json_deep_copy(body);
		json_object_del(copy, "op");
		json_object_del(copy, "v");
		json_object_del(copy, "auth");
		if (inbox_post(srv->inbox, kind, copy, NULL) != 0)
			reply_now(req, cluster_net_error("the manager is stopping"));
		else
			reply_now(req, json_pack("{s:b}", "ok", 1));
	} else {
		reply_now(req, cluster_net_error("unknown operation %s", op));
	}
}

static int load_server_tls(const char *cert_dir, char *pems[3], char *err,
			   size_t errlen)
{
	const char *files[3] = { PKI_CA_CERT_FILE, PKI_NODE_CERT_FILE, PKI_NODE_KEY_FILE };
	for (int i = 0; i < 3; i++) {
		char path[700];
		snprintf(path, sizeof(path), "%s/%s", cert_dir, files[i]);
		if (!(pems[i] = util_read_file(path, err, errlen)))
			return -1;
	}
	return 0;
}

int cluster_server_start(const char *listen_addr, const char *cert_dir,
			 struct inbox *inbox, struct cluster_server **out,
			 char *err, size_t errlen)
{
	char *pems[3] = { NULL, NULL, NULL };
	char url[300];
	struct cluster_server *srv = calloc(1, sizeof(*srv));
	int rc = -1;
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (load_server_tls(cert_dir, pems, err, errlen) != 0)
		goto out;
	srv->inbox = inbox;
	srv->alive = true;
	srv->refs = 1;
	pthread_rwlock_init(&srv->alive_lock, NULL);
	pthread_mutex_init(&srv->ref_lock, NULL);
	cluster_url(listen_addr, url, sizeof(url));
	struct cluster_net_tls tls = { .ca_pem = pems[0], .cert_pem = pems[1],
				       .key_pem = pems[2] };
	rc = cluster_net_server_start(url, &tls, CLUSTER_SERVER_WORKERS,
				      CLUSTER_SERVER_MAX_PENDING, server_handle, srv,
				      &srv->net, err, errlen);
	if (rc != 0) {
		pthread_rwlock_destroy(&srv->alive_lock);
		pthread_mutex_destroy(&srv->ref_lock);
	}
out:
	for (int i = 0; i < 3; i++)
		free(pems[i]);
	if (rc != 0)
		free(srv);
	else
		*out = srv;
	return rc;
}

void cluster_server_stop(struct cluster_server *srv)
{
	if (!srv)
		return;
	pthread_rwlock_wrlock(&srv->alive_lock);
	srv->alive = false;
	pthread_rwlock_unlock(&srv->alive_lock);
	cluster_net_server_stop(srv->net);
	server_unref(srv);
}

/* --------------------------------------------------------- worker side */

struct cluster_worker {
	char dir[512];
	char node_id[PKI_ID_MAX + 1];
	char manager_addr[256];
	char manager_node_id[PKI_ID_MAX + 1];
	char advertise_addr[128];
	char *ca_pem, *cert_pem, *key_pem;
	pthread_mutex_t lock;              /* guards what follows */
	struct cluster_net_client *client; /* NULL until (re)connected */
	json_t *node_info;                 /* last description from the agent */
	bool info_pending;                 /* not yet sent on this connection */
	bool managers_pending;             /* manager list not yet asked */
	int heartbeat_ms;
	json_t *managers;                  /* every manager's address */
	size_t next_manager;               /* tried after a failed connection */
	bool is_manager;                   /* joined with a manager token */
	json_t *joined;                    /* join answer: ca_key, leader */
	/* Clients replaced after a failure: another thread may still be in a
	 * call on one, so they are closed only when the link is freed. */
	struct cluster_net_client **retired;
	size_t n_retired;
};

static struct cluster_worker *worker_new(const char *dir, const char *node_id)
{
	struct cluster_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->node_id, sizeof(w->node_id), "%s", node_id);
	pthread_mutex_init(&w->lock, NULL);
	w->heartbeat_ms = 1000;
	w->info_pending = true;
	w->managers_pending = true;
	w->managers = json_array();
	return w;
}

void cluster_worker_free(struct cluster_worker *w)
{
	if (!w)
		return;
	cluster_net_client_close(w->client);
	for (size_t i = 0; i < w->n_retired; i++)
		cluster_net_client_close(w->retired[i]);
	free(w->retired);
	json_decref(w->node_info);
	json_decref(w->managers);
	json_decref(w->joined);
	free(w->ca_pem);
	free(w->cert_pem);
	free(w->key_pem);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* After a failed connection: the next known manager (lock held). */
static void worker_next_manager(struct cluster_worker *w)
{
	size_t n = json_array_size(w->managers);
	if (n == 0)
		return;
	const char *addr = json_string_value(json_array_get(w->managers, w->next_manager % n));
	w->next_manager++;
	if (addr)
		snprintf(w->manager_addr, sizeof(w->manager_addr), "%s", addr);
}

/* Drops the current client (lock held); see retired. */
static void worker_retire_client(struct cluster_worker *w)
{
	if (!w->client)
		return;
	struct cluster_net_client **grown =
		realloc(w->retired, (w->n_retired + 1) * sizeof(*grown));
	if (!grown)
		return; /* keep using it */
	w->retired = grown;
	w->retired[w->n_retired++] = w->client;
	w->client = NULL;
}

/* Points the link at the manager at addr (lock held). */
static void worker_retarget_locked(struct cluster_worker *w, const char *addr)
{
	if (strcmp(w->manager_addr, addr) == 0)
		return;
	snprintf(w->manager_addr, sizeof(w->manager_addr), "%s", addr);
	worker_retire_client(w);
}

/* The client, connected (and authenticated) now if it was not. */
static struct cluster_net_client *worker_client(struct cluster_worker *w,
						char *err, size_t errlen)
{
	pthread_mutex_lock(&w->lock);
	if (!w->client) {
		char url[300];
		cluster_url(w->manager_addr, url, sizeof(url));
		struct cluster_net_tls tls = { .ca_pem = w->ca_pem, .cert_pem = w->cert_pem,
					       .key_pem = w->key_pem };
		if (cluster_net_client_open(url, &tls, "swarm-manager", &w->client, err,
					    errlen) != 0) {
			w->client = NULL;
			worker_next_manager(w);
		}
		w->info_pending = true;
		w->managers_pending = true;
	}
	struct cluster_net_client *cli = w->client;
	pthread_mutex_unlock(&w->lock);
	return cli;
}

/* Saves the material and the manager's address in w->dir. */
static int worker_save(struct cluster_worker *w, char *err, size_t errlen)
{
	char path[700];
	json_t *state = json_pack("{s:s,s:s,s:s,s:s,s:O}", "node_id", w->node_id,
				  "manager_addr", w->manager_addr, "manager_node_id",
				  w->manager_node_id, "advertise_addr", w->advertise_addr,
				  "managers", w->managers);
	char *text = json_dumps(state, JSON_COMPACT);
	json_decref(state);
	int rc = -1;
	if (util_mkdir_p(w->dir, 0700, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", w->dir, PKI_NODE_KEY_FILE);
	if (util_write_file(path, w->key_pem, 0600, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", w->dir, PKI_NODE_CERT_FILE);
	if (util_write_file(path, w->cert_pem, 0644, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", w->dir, PKI_CA_CERT_FILE);
	if (util_write_file(path, w->ca_pem, 0644, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/state.json", w->dir);
	rc = util_write_file(path, text ? text : "{}", 0600, err, errlen);
out:
	free(text);
	return rc;
}

/* The key's PEM text (pki saves keys to files only). */
static char *key_pem_text(const struct pki_key *key, const char *dir,
			  char *err, size_t errlen)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/join.key.tmp", dir);
	if (util_mkdir_p(dir, 0700, err, errlen) != 0 || pki_key_save(key, path, err, errlen) != 0)
		return NULL;
	char *pem = util_read_file(path, err, errlen);
	unlink(path);
	return pem;
}

/* Checks the join answer: the certificate chains to the CA, is for this
 * node, and carries our key. */
static int worker_check_cert(struct cluster_worker *w, const struct pki_cert *ca,
			     const struct pki_key *key, char *err, size_t errlen)
{
	struct pki_cert *cert = NULL;
	struct pki_cert_info info;
	int rc = -1;
	if (pki_cert_parse(w->cert_pem, strlen(w->cert_pem), &cert, err, errlen) != 0 ||
	    pki_cert_verify(ca, cert, time(NULL), &info, err, errlen) != 0)
		goto out;
	w->is_manager = info.id.role == PKI_ROLE_MANAGER;
	if (strcmp(info.id.node_id, w->node_id) != 0)
		snprintf(err, errlen, "the manager issued a certificate for %s, not for this node %s",
			 info.id.node_id, w->node_id);
	else if (!pki_cert_matches_key(cert, key))
		snprintf(err, errlen, "the manager's certificate does not carry this node's key");
	else
		rc = 0;
out:
	pki_cert_free(cert);
	return rc;
}

/* Fetches the CA and checks it against the token (no trust on first use). */
static int worker_fetch_ca(struct cluster_worker *w, const char *token,
			   struct pki_cert **ca, char *err, size_t errlen)
{
	char url[300], why[512];
	cluster_url(w->manager_addr, url, sizeof(url));
	if (cluster_net_fetch_ca(url, CLUSTER_FETCH_TIMEOUT_MS, &w->ca_pem, why,
				 sizeof(why)) != 0) {
		snprintf(err, errlen, "cannot reach the manager at %s: %s", w->manager_addr, why);
		return -1;
	}
	if (pki_cert_parse(w->ca_pem, strlen(w->ca_pem), ca, why, sizeof(why)) != 0 ||
	    pki_token_check_ca(token, *ca, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "the manager at %s presented a CA that does not match the join token: %s",
			 w->manager_addr, why);
		return -1;
	}
	return 0;
}

/* Sends the join request; fills the certificate and manager id. */
static int worker_join_call(struct cluster_worker *w, const char *token,
			    const char *csr, const char *hostname,
			    const json_t *body, char *err, size_t errlen)
{
	char url[300];
	struct cluster_net_client *cli = NULL;
	struct cluster_net_tls tls = { .ca_pem = w->ca_pem };
	cluster_url(w->manager_addr, url, sizeof(url));
	if (cluster_net_client_open(url, &tls, "swarm-manager", &cli, err, errlen) != 0)
		return -1;
	json_t *req = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "op", "join", "token", token,
				"csr", csr, "hostname", hostname, "advertise_addr",
				w->advertise_addr, "node_id", w->node_id);
	/* A would-be manager says where its raft listens and its raft id. */
	if (jstr(body, "OrchRaftID"))
		json_object_set_new(req, "raft_id", json_string(jstr(body, "OrchRaftID")));
	if (jstr(body, "OrchManagerAddr"))
		json_object_set_new(req, "manager_addr",
				    json_string(jstr(body, "OrchManagerAddr")));
	json_t *reply = NULL;
	int rc = cluster_net_call(cli, req, CLUSTER_JOIN_TIMEOUT_MS, &reply, err, errlen);
	cluster_net_client_close(cli);
	if (rc != 0)
		return -1;
	const char *e = jstr(reply, "error"), *cert = jstr(reply, "cert");
	if (e || !cert) {
		snprintf(err, errlen, "%s", e ? e : "the manager answered the join without a certificate");
		json_decref(reply);
		return -1;
	}
	w->cert_pem = strdup(cert);
	w->joined = json_pack("{s:O*,s:O*,s:O*}", "ca_key", json_object_get(reply, "ca_key"),
			      "leader_raft_id", json_object_get(reply, "leader_raft_id"),
			      "leader_addr", json_object_get(reply, "leader_addr"));
	if (json_is_array(json_object_get(reply, "managers")))
		json_array_extend(w->managers, json_object_get(reply, "managers"));
	snprintf(w->manager_node_id, sizeof(w->manager_node_id), "%s",
		 jstr(reply, "manager_node_id") ? jstr(reply, "manager_node_id") : "");
	json_decref(reply);
	return 0;
}

static int worker_join_steps(struct cluster_worker *w, const char *token,
			     const char *hostname, const json_t *body, char *err,
			     size_t errlen)
{
	struct pki_token parsed;
	struct pki_cert *ca = NULL;
	struct pki_rng *rng = NULL;
	struct pki_key *key = NULL;
	struct pki_identity id;
	char *csr = NULL;
	int rc = -1;
	if (pki_token_parse(token, &parsed, err, errlen) != 0 ||
	    worker_fetch_ca(w, token, &ca, err, errlen) != 0 ||
	    pki_rng_new(&rng, err, errlen) != 0 || pki_key_generate(rng, &key, err, errlen) != 0 ||
	    pki_identity_set(&id, w->node_id, PKI_ROLE_WORKER, "joining", err, errlen) != 0 ||
	    pki_csr_make(key, &id, rng, &csr, err, errlen) != 0 ||
	    worker_join_call(w, token, csr, hostname, body, err, errlen) != 0 ||
	    worker_check_cert(w, ca, key, err, errlen) != 0 ||
	    !(w->key_pem = key_pem_text(key, w->dir, err, errlen)))
		goto out;
	rc = worker_save(w, err, errlen);
out:
	free(csr);
	pki_key_free(key);
	pki_rng_free(rng);
	pki_cert_free(ca);
	return rc;
}

int cluster_worker_join(const char *dir, const char *node_id,
			const char *hostname, const json_t *body,
			struct cluster_worker **out, char *err, size_t errlen)
{
	const char *token = jstr(body, "JoinToken");
	const char *remote = json_string_value(json_array_get(json_object_get(body, "RemoteAddrs"), 0));
	const char *advertise = jstr(body, "AdvertiseAddr");
	if (!token || !*token || !remote || !*remote) {
		snprintf(err, errlen, "join: JoinToken and RemoteAddrs are required");
		return -1;
	}
	struct cluster_worker *w = worker_new(dir, node_id);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(w->manager_addr, sizeof(w->manager_addr), "%s", remote);
	snprintf(w->advertise_addr, sizeof(w->advertise_addr), "%s", advertise ? advertise : "");
	if (worker_join_steps(w, token, hostname, body, err, errlen) != 0) {
		cluster_worker_forget(dir, err + strlen(err), 0);
		cluster_worker_free(w);
		return -1;
	}
	char why[256];
	worker_client(w, why, sizeof(why)); /* a failure is retried by the agent */
	*out = w;
	return 0;
}

int cluster_worker_resume(const char *dir, const char *node_id,
			  struct cluster_worker **out, char *err,
			  size_t errlen)
{
	char path[700];
	*out = NULL;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	if (access(path, F_OK) != 0)
		return 0;
	json_error_t jerr;
	json_t *state = json_load_file(path, 0, &jerr);
	if (!state) {
		snprintf(err, errlen, "%s is damaged: %s", path, jerr.text);
		return -1;
	}
	struct cluster_worker *w = worker_new(dir, node_id);
	snprintf(w->manager_addr, sizeof(w->manager_addr), "%s",
		 jstr(state, "manager_addr") ? jstr(state, "manager_addr") : "");
	snprintf(w->manager_node_id, sizeof(w->manager_node_id), "%s",
		 jstr(state, "manager_node_id") ? jstr(state, "manager_node_id") : "");
	snprintf(w->advertise_addr, sizeof(w->advertise_addr), "%s",
		 jstr(state, "advertise_addr") ? jstr(state, "advertise_addr") : "");
	if (json_is_array(json_object_get(state, "managers")))
		json_array_extend(w->managers, json_object_get(state, "managers"));
	json_decref(state);
	const char *files[3] = { PKI_CA_CERT_FILE, PKI_NODE_CERT_FILE, PKI_NODE_KEY_FILE };
	char **dst[3] = { &w->ca_pem, &w->cert_pem, &w->key_pem };
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (!(*dst[i] = util_read_file(path, err, errlen))) {
			cluster_worker_free(w);
			return -1;
		}
	}
	char why[256];
	worker_client(w, why, sizeof(why)); /* a failure is retried by the agent */
	*out = w;
	return 0;
}

int cluster_worker_forget(const char *dir, char *err, size_t errlen)
{
	const char *files[] = { PKI_NODE_KEY_FILE, PKI_NODE_CERT_FILE, PKI_CA_CERT_FILE,
				"state.json", "join.key.tmp" };
	int rc = 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[700];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (unlink(path) != 0 && errno != ENOENT) {
			if (errlen)
				snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
			rc = -1;
		}
	}
	if (rmdir(dir) != 0 && errno != ENOENT && rc == 0) {
		if (errlen)
			snprintf(err, errlen, "cannot remove %s: %s", dir, strerror(errno));
		rc = -1;
	}
	return rc;
}

void cluster_worker_set_node_info(struct cluster_worker *w, const json_t *info)
{
	pthread_mutex_lock(&w->lock);
	json_decref(w->node_info);
	w->node_info = info ? json_deep_copy(info) : NULL;
	w->info_pending = true;
	pthread_mutex_unlock(&w->lock);
}

/* One request that expects {"ok": true}; steals body. */
static int worker_post(struct cluster_worker *w, const char *op, json_t *body,
		       char *err, size_t errlen)
{
	struct cluster_net_client *cli = worker_client(w, err, errlen);
	if (!cli) {
		json_decref(body);
		return -1;
	}
	json_object_set_new(body, "op", json_string(op));
	json_t *reply = NULL;
	if (cluster_net_call(cli, body, CLUSTER_SEND_TIMEOUT_MS, &reply, err, errlen) != 0)
		return -1;
	int rc = json_is_true(json_object_get(reply, "ok")) ? 0 : -1;
	if (rc != 0)
		snprintf(err, errlen, "%s", jstr(reply, "error") ? jstr(reply, "error") : "refused");
	json_decref(reply);
	return rc;
}

/* Sends the cached node description when this connection has not had it. */
static void worker_send_info(struct cluster_worker *w)
{
	pthread_mutex_lock(&w->lock);
	json_t *info = w->info_pending && w->node_info ? json_deep_copy(w->node_info) : NULL;
	pthread_mutex_unlock(&w->lock);
	char err[256];
	if (!info || worker_post(w, "node_info", info, err, sizeof(err)) != 0)
		return;
	pthread_mutex_lock(&w->lock);
	w->info_pending = false;
	pthread_mutex_unlock(&w->lock);
}

int cluster_worker_send(struct cluster_worker *w, enum inbox_kind kind,
			json_t *body)
{
	char err[256];
	if (kind == INBOX_NODE_INFO) {
		cluster_worker_set_node_info(w, body);
		json_decref(body);
		worker_send_info(w);
		return 0; /* kept and sent again on every reconnection */
	}
	if (kind != INBOX_TASK_STATUSES) {
		json_decref(body);
		return -1;
	}
	return worker_post(w, "status", body, err, sizeof(err));
}

/* Asks the manager for every manager's address once per connection and
 * saves the list, so that a failover finds the new leader. */
static void worker_fetch_managers(struct cluster_worker *w)
{
	pthread_mutex_lock(&w->lock);
	bool pending = w->managers_pending;
	struct cluster_net_client *cli = w->client;
	pthread_mutex_unlock(&w->lock);
	if (!pending || !cli)
		return;
	json_t *reply = NULL;
	char err[256];
	json_t *req = json_pack("{s:s}", "op", "managers");
	if (cluster_net_call(cli, req, CLUSTER_SEND_TIMEOUT_MS, &reply, err, sizeof(err)) != 0)
		return;
	json_t *list = json_object_get(reply, "managers");
	pthread_mutex_lock(&w->lock);
	bool changed = json_is_array(list) && json_array_size(list) > 0 &&
		       !json_equal(list, w->managers);
	if (json_is_array(list))
		w->managers_pending = false;
	if (changed) {
		json_array_clear(w->managers);
		json_array_extend(w->managers, list);
	}
	pthread_mutex_unlock(&w->lock);
	if (changed && w->dir[0] && worker_save(w, err, sizeof(err)) != 0)
		fprintf(stderr, "orchd: cluster: %s\n", err);
	json_decref(reply);
}

int cluster_worker_session(struct cluster_worker *w, json_t *request,
			   json_t **reply, char *err, size_t errlen)
{
	struct cluster_net_client *cli = worker_client(w, err, errlen);
	if (!cli) {
		json_decref(request);
		return -1;
	}
	worker_send_info(w);
	pthread_mutex_lock(&w->lock);
	int timeout = w->heartbeat_ms + CLUSTER_SESSION_MARGIN_MS;
	pthread_mutex_unlock(&w->lock);
	worker_fetch_managers(w);
	if (cluster_net_call(cli, request, timeout, reply, err, errlen) != 0) {
		pthread_mutex_lock(&w->lock);
		w->info_pending = true;
		if (json_array_size(w->managers) > 1) { /* try the next manager */
			worker_retire_client(w);
			worker_next_manager(w);
		}
		pthread_mutex_unlock(&w->lock);
		return -1;
	}
	json_t *hb = json_object_get(*reply, "heartbeat_ms");
	const char *leader = jstr(*reply, "leader_addr");
	pthread_mutex_lock(&w->lock);
	if (leader && *leader)
		worker_retarget_locked(w, leader);
	if (json_is_integer(hb) && json_integer_value(hb) > 0)
		w->heartbeat_ms = (int)json_integer_value(hb);
	if (json_object_get(*reply, "error"))
		w->info_pending = true;
	pthread_mutex_unlock(&w->lock);
	return 0;
}

json_t *cluster_worker_info(struct cluster_worker *w)
{
	json_t *manager = json_pack("{s:s}", "Addr", w->manager_addr);
	if (w->manager_node_id[0])
		json_object_set_new(manager, "NodeID", json_string(w->manager_node_id));
	return json_pack("{s:s,s:s,s:s,s:b,s:s,s:[o],s:i,s:i}", "NodeID", w->node_id,
			 "NodeAddr", w->advertise_addr, "LocalNodeState", "active",
			 "ControlAvailable", 0, "Error", "", "RemoteManagers", manager,
			 "Nodes", 0, "Managers", 0);
}

bool cluster_worker_is_manager(const struct cluster_worker *w)
{
	return w->is_manager;
}

int cluster_worker_install_manager(struct cluster_worker *w,
				   const char *cert_dir, json_t **joined,
				   char *err, size_t errlen)
{
	const char *ca_key = jstr(w->joined, "ca_key");
	if (!ca_key) {
		snprintf(err, errlen, "the leader sent no CA key with the manager certificate");
		return -1;
	}
	const char *files[4] = { PKI_CA_CERT_FILE, PKI_CA_KEY_FILE, PKI_NODE_CERT_FILE,
				 PKI_NODE_KEY_FILE };
	const char *texts[4] = { w->ca_pem, ca_key, w->cert_pem, w->key_pem };
	if (util_mkdir_p(cert_dir, 0700, err, errlen) != 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		char path[700];
		snprintf(path, sizeof(path), "%s/%s", cert_dir, files[i]);
		if (util_write_file(path, texts[i], i % 2 ? 0600 : 0644, err, errlen) != 0)
			return -1;
	}
	*joined = json_incref(w->joined);
	return 0;
}

/* key as PEM text, through w's directory, or a private temporary one for
 * a link that saves nothing. */
static char *worker_key_text(struct cluster_worker *w, const struct pki_key *key,
			     char *err, size_t errlen)
{
	if (w->dir[0])
		return key_pem_text(key, w->dir, err, errlen);
	char tmp[] = "/tmp/orchd-key-XXXXXX";
	if (!mkdtemp(tmp)) {
		snprintf(err, errlen, "cannot make a temporary directory: %s", strerror(errno));
		return NULL;
	}
	char *pem = key_pem_text(key, tmp, err, errlen);
	rmdir(tmp);
	return pem;
}

/* The renewal answer: the certificate chains to our CA, names this node
 * and carries key; installs it (and the new role) in w. */
static int worker_take_cert(struct cluster_worker *w, const json_t *reply,
			    const struct pki_key *key, char *err, size_t errlen)
{
	struct pki_cert *ca = NULL;
	char *key_pem = NULL;
	const char *e = jstr(reply, "error"), *cert = jstr(reply, "cert");
	if (e || !cert) {
		snprintf(err, errlen, "%s", e ? e : "the manager answered without a certificate");
		return -1;
	}
	pthread_mutex_lock(&w->lock);
	char *old_cert = w->cert_pem;
	w->cert_pem = strdup(cert);
	int rc = pki_cert_parse(w->ca_pem, strlen(w->ca_pem), &ca, err, errlen);
	if (rc == 0)
		rc = worker_check_cert(w, ca, key, err, errlen);
	if (rc == 0 && !(key_pem = worker_key_text(w, key, err, errlen)))
		rc = -1;
	if (rc != 0) {
		free(w->cert_pem);
		w->cert_pem = old_cert;
	} else {
		free(old_cert);
		free(w->key_pem);
		w->key_pem = key_pem;
		json_decref(w->joined);
		w->joined = json_pack("{s:O*,s:O*,s:O*}", "ca_key", json_object_get(reply, "ca_key"),
				      "leader_raft_id", json_object_get(reply, "leader_raft_id"),
				      "leader_addr", json_object_get(reply, "leader_addr"));
		worker_retire_client(w); /* the next call connects with the new one */
	}
	pthread_mutex_unlock(&w->lock);
	pki_cert_free(ca);
	return rc;
}

int cluster_worker_renew(struct cluster_worker *w, json_t *extra, char *err,
			 size_t errlen)
{
	struct pki_rng *rng = NULL;
	struct pki_key *key = NULL;
	struct pki_identity id;
	char *csr = NULL;
	json_t *reply = NULL;
	json_t *req = extra ? extra : json_object();
	struct cluster_net_client *cli = worker_client(w, err, errlen);
	int rc = -1;
	if (!cli || pki_rng_new(&rng, err, errlen) != 0 ||
	    pki_key_generate(rng, &key, err, errlen) != 0 ||
	    pki_identity_set(&id, w->node_id, PKI_ROLE_WORKER, "renewing", err, errlen) != 0 ||
	    pki_csr_make(key, &id, rng, &csr, err, errlen) != 0)
		goto out;
	json_object_set_new(req, "op", json_string("renew"));
	json_object_set_new(req, "node_id", json_string(w->node_id));
	json_object_set_new(req, "csr", json_string(csr));
	rc = cluster_net_call(cli, json_incref(req), CLUSTER_RENEW_TIMEOUT_MS, &reply, err, errlen);
	const char *leader = rc == 0 && jstr(reply, "error") ? jstr(reply, "leader_addr") : NULL;
	if (leader && *leader) { /* not the leader: ask the one it names, once */
		cluster_worker_retarget(w, leader);
		json_decref(reply);
		reply = NULL;
		cli = worker_client(w, err, errlen);
		rc = cli ? cluster_net_call(cli, json_incref(req), CLUSTER_RENEW_TIMEOUT_MS, &reply,
					    err, errlen)
			 : -1;
	}
	if (rc == 0)
		rc = worker_take_cert(w, reply, key, err, errlen);
	if (rc == 0 && w->dir[0])
		rc = worker_save(w, err, errlen);
out:
	json_decref(req);
	json_decref(reply);
	free(csr);
	pki_key_free(key);
	pki_rng_free(rng);
	return rc;
}

int cluster_worker_renew_at(struct cluster_worker *w, unsigned permille,
			    int64_t *at, char *err, size_t errlen)
{
	pthread_mutex_lock(&w->lock);
	int rc = cluster_cert_renew_at(w->cert_pem, permille, at, err, errlen);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

int cluster_worker_adopt(struct cluster_worker *w, const char *dir,
			 const char *advertise_addr, const json_t *managers,
			 char *err, size_t errlen)
{
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->advertise_addr, sizeof(w->advertise_addr), "%s",
		 advertise_addr ? advertise_addr : "");
	pthread_mutex_lock(&w->lock);
	if (json_is_array(managers) && json_array_size(managers) > 0) {
		json_array_clear(w->managers);
		json_array_extend(w->managers, (json_t *)managers);
	}
	int rc = worker_save(w, err, errlen);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

int cluster_worker_reload(struct cluster_worker *w, const char *cert_dir,
			  char *err, size_t errlen)
{
	char path[700];
	char *cert, *key;
	snprintf(path, sizeof(path), "%s/%s", cert_dir, PKI_NODE_CERT_FILE);
	if (!(cert = util_read_file(path, err, errlen)))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", cert_dir, PKI_NODE_KEY_FILE);
	if (!(key = util_read_file(path, err, errlen))) {
		free(cert);
		return -1;
	}
	pthread_mutex_lock(&w->lock);
	bool same = strcmp(cert, w->cert_pem) == 0;
	if (!same) {
		free(w->cert_pem);
		free(w->key_pem);
		w->cert_pem = cert;
		w->key_pem = key;
		worker_retire_client(w);
	}
	pthread_mutex_unlock(&w->lock);
	if (same) {
		free(cert);
		free(key);
	}
	return 0;
}

int cluster_worker_for_manager(const char *cert_dir, const char *node_id,
			       const char *addr, struct cluster_worker **out,
			       char *err, size_t errlen)
{
	struct cluster_worker *w = worker_new("", node_id);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(w->manager_addr, sizeof(w->manager_addr), "%s", addr);
	const char *files[3] = { PKI_CA_CERT_FILE, PKI_NODE_CERT_FILE, PKI_NODE_KEY_FILE };
	char **dst[3] = { &w->ca_pem, &w->cert_pem, &w->key_pem };
	for (int i = 0; i < 3; i++) {
		char path[700];
		snprintf(path, sizeof(path), "%s/%s", cert_dir, files[i]);
		if (!(*dst[i] = util_read_file(path, err, errlen))) {
			cluster_worker_free(w);
			return -1;
		}
	}
	*out = w;
	return 0;
}

void cluster_worker_retarget(struct cluster_worker *w, const char *addr)
{
	pthread_mutex_lock(&w->lock);
	worker_retarget_locked(w, addr);
	pthread_mutex_unlock(&w->lock);
}

const char *cluster_worker_addr(const struct cluster_worker *w)
{
	return w->manager_addr;
}

int cluster_forward_api(const char *cert_dir, const char *addr,
			const struct api_request *req, struct api_response *resp,
			char *err, size_t errlen)
{
	struct cluster_worker *w = NULL;
	if (cluster_worker_for_manager(cert_dir, "", addr, &w, err, errlen) != 0)
		return -1;
	json_t *query = json_array();
	for (size_t i = 0; i < req->query_count; i++)
		json_array_append_new(query, json_pack("{s:s,s:s}", "name", req->query[i].name,
						       "value", req->query[i].value));
	json_t *call = json_pack("{s:s,s:s,s:s,s:o,s:s%}", "op", "api", "method", req->method,
				 "path", req->path, "query", query, "body", req->body,
				 req->body_len);
	json_t *reply = NULL;
	struct cluster_net_client *cli = worker_client(w, err, errlen);
	int rc = cli && call ? cluster_net_call(cli, call, CLUSTER_JOIN_TIMEOUT_MS, &reply, err,
						errlen)
			     : (json_decref(call), -1);
	cluster_worker_free(w);
	if (rc != 0)
		return -1;
	const char *e = jstr(reply, "error"), *type = jstr(reply, "content_type");
	json_t *text = json_object_get(reply, "body");
	if (e || !json_is_string(text)) {
		snprintf(err, errlen, "the leader did not run the request: %s", e ? e : "no body");
		json_decref(reply);
		return -1;
	}
	api_response_set(resp, (int)json_integer_value(json_object_get(reply, "status")),
			 type && strcmp(type, "text/plain") == 0 ? "text/plain" : "application/json",
			 json_string_value(text), json_string_length(text));
	json_decref(reply);
	return 0;
}

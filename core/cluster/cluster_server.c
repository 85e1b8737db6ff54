/*
 * cluster_server.c: the manager's port-2377 server (cluster.h): a
 * cluster_net server whose handler checks who may send what and forwards
 * requests into the manager's inbox (join, session, renew and managers
 * with a reply handle the core thread answers later; raft messages,
 * statuses and node descriptions without one); a write forwarded by a
 * follower manager waits, on its handler thread, for its API route.
 *
 * State owned here: the cluster_server (the cluster_net server, and the
 * reply handles given to the core thread, which keep it alive until they
 * are used: refs, guarded by ref_lock; alive, write-locked while it stops).
 */
#include "cluster_internal.h"
#include "log.h"
#include "api_http.h"

#include <stdlib.h>

#define CLUSTER_SERVER_WORKERS 4
/* Every agent holds one session request: more than the nodes a manager
 * serves. */
#define CLUSTER_SERVER_MAX_PENDING 16384

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
			log_msg(LOG_WARN, "cluster", "reply not sent: %s", err);
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
		log_msg(LOG_WARN, "cluster", "reply not sent: %s", err);
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
	const char *method = cluster_jstr(body, "method"), *path = cluster_jstr(body, "path");
	const char *text = cluster_jstr(body, "body") ? cluster_jstr(body, "body") : "";
	json_t *query = json_object_get(body, "query");
	if (!method || !path)
		return cluster_net_error("api: method and path are required");
	size_t n = json_array_size(query);
	struct api_pair *params = calloc(n ? n : 1, sizeof(*params));
	if (!params)
		return cluster_net_error("out of memory");
	for (size_t i = 0; i < n; i++) {
		params[i].name = (char *)cluster_jstr(json_array_get(query, i), "name");
		params[i].value = (char *)cluster_jstr(json_array_get(query, i), "value");
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
		if (peer_speaks_for(peer, cluster_jstr(body, "node_id")))
			forward_with_reply(srv, req);
		else
			reply_now(req, cluster_net_error("%s: the peer is not node %s", op,
							 cluster_jstr(body, "node_id") ? cluster_jstr(body, "node_id") : "?"));
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
		if (!peer_speaks_for(peer, cluster_jstr(body, "node"))) {
			reply_now(req, cluster_net_error("%s: the peer is not node %s", op,
							 cluster_jstr(body, "node") ? cluster_jstr(body, "node") : "?"));
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
	if (cluster_read_material(cert_dir, pems, err, errlen) != 0)
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


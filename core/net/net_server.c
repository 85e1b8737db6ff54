/*
 * net_server.c: the cluster transport's server (cluster_net.h): a rep0
 * socket over TLS served by orchd's one request server (orch_reqserver.h),
 * whose handler threads answer the built-in operations ("ca",
 * "auth_challenge", "auth") and refuse requests that need an authenticated
 * connection, and hand every other request to the cluster_net handler,
 * which answers it now or later (a held long-poll) with cluster_net_reply.
 *
 * State owned here: the nng socket and listener, the request server, the
 * connection table (net_auth.c) and, per request handed out, a struct
 * cluster_net_request (the decoded body, the peer, and the request
 * server's handle), freed when it is answered or when the server stops.
 */
#include "net_internal.h"
#include "orch_reqserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cluster_net_request {
	struct orch_reqserver_request *handle;
	json_t *body;
	struct cluster_net_peer peer;
};

struct cluster_net_server {
	nng_socket socket;
	bool socket_open;
	nng_listener listener;
	struct orch_reqserver *requests;
	cluster_net_handler handler;
	void *handler_ctx;
	char *ca_pem;
	struct net_conns conns;
};

nng_msg *net_encode(json_t *object)
{
	nng_msg *msg = NULL;

	if (object != NULL && orch_wire_stamp(object, CLUSTER_NET_VERSION))
		msg = orch_wire_encode(object);
	json_decref(object);
	return msg;
}

/* ------------------------------------------------------------ requests */

/* Answers a request the handler never saw (reply stolen). */
static void server_answer(struct orch_reqserver_request *handle,
			  json_t *reply)
{
	orch_reqserver_reply(handle, net_encode(reply));
}

/* Gives body (stolen) to the handler, which answers with
 * cluster_net_reply. */
static void server_hand_off(struct cluster_net_server *server,
			    struct orch_reqserver_request *handle,
			    json_t *body, const struct cluster_net_peer *peer)
{
	struct cluster_net_request *req = calloc(1, sizeof(*req));

	if (req == NULL) {
		json_decref(body);
		server_answer(handle, cluster_net_error(
			"internal error: out of memory"));
		return;
	}
	req->handle = handle;
	req->body = body;
	req->peer = *peer;
	orch_reqserver_request_set_user(handle, req);
	server->handler(server->handler_ctx, req);
}

/* The request server's handler: one request, on a handler thread. */
static void server_handle(void *arg, struct orch_reqserver_request *handle)
{
	struct cluster_net_server *server = arg;
	nng_msg *msg = orch_reqserver_request_msg(handle);
	uint32_t pipe = nng_pipe_id(nng_msg_get_pipe(msg));
	struct cluster_net_peer peer;
	json_t *body, *reply;
	const char *op;
	char why[256];

	body = orch_wire_decode(msg, CLUSTER_NET_VERSION, why, sizeof(why));
	if (body == NULL) {
		server_answer(handle, cluster_net_error(
			"malformed request: %s", why));
		return;
	}
	op = json_string_value(json_object_get(body, "op"));
	net_conns_peer(&server->conns, pipe, &peer);
	if (op == NULL)
		reply = cluster_net_error("malformed request: \"op\" missing "
					  "or not a string");
	else if (strcmp(op, "ca") == 0)
		reply = json_pack("{s:s}", "ca", server->ca_pem);
	else if (strcmp(op, "auth_challenge") == 0)
		reply = net_auth_challenge(&server->conns, pipe);
	else if (strcmp(op, "auth") == 0)
		reply = net_auth_check(&server->conns, pipe, body);
	else if (json_is_true(json_object_get(body, "auth")) && !peer.verified)
		reply = json_pack("{s:s, s:b}", "error",
				  "connection not authenticated",
				  "unauthenticated", 1);
	else {
		server_hand_off(server, handle, body, &peer);
		return;
	}
	json_decref(body);
	server_answer(handle, reply);
}

/* A request the handler held when the server stopped. */
static void server_drop(void *arg, void *user)
{
	struct cluster_net_request *req = user;

	(void)arg;
	json_decref(req->body);
	free(req);
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
	struct orch_reqserver_request *handle = req->handle;
	nng_msg *msg = NULL;
	int rv = 0;

	json_decref(req->body);
	free(req);
	if (reply != NULL && !json_is_object(reply)) {
		json_decref(reply);
		reply = cluster_net_error("internal error: reply is not an "
					  "object");
		orch_errorf(err, errlen,
				 "cannot reply: reply is not a JSON object");
		rv = -1;
	}
	if (reply != NULL && (msg = net_encode(reply)) == NULL) {
		orch_errorf(err, errlen, "cannot reply: out of memory");
		rv = -1;
	}
	orch_reqserver_reply(handle, msg);
	return rv;
}

/* ---------------------------------------------------------- life cycle */

static int server_listen(struct cluster_net_server *server, const char *url,
			 const struct cluster_net_tls *tls, char *err,
			 size_t errlen)
{
	nng_tls_config *cfg;
	int rv;

	if (orch_reqserver_socket(&server->socket, CLUSTER_NET_MAX_MESSAGE,
				  err, errlen) != 0)
		return -1;
	server->socket_open = true;
	rv = nng_pipe_notify(server->socket, NNG_PIPE_EV_ADD_PRE,
			     net_conns_pipe_event, &server->conns);
	if (rv == 0)
		rv = nng_pipe_notify(server->socket, NNG_PIPE_EV_REM_POST,
				     net_conns_pipe_event, &server->conns);
	if (rv == 0)
		rv = nng_listener_create(&server->listener, server->socket, url);
	if (rv != 0) {
		orch_errorf(err, errlen, "cannot listen on %s: %s", url,
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
		orch_errorf(err, errlen, "cannot listen on %s: %s", url,
				 nng_strerror(rv));
		return -1;
	}
	return 0;
}

/* The request server: `workers` handler threads, as many contexts
 * receiving, max_pending requests held, "server busy" beyond. */
static int server_serve(struct cluster_net_server *server, unsigned workers,
			unsigned max_pending, char *err, size_t errlen)
{
	struct orch_reqserver_config config = {
		.threads = workers,
		.receivers = workers < max_pending ? workers : max_pending,
		.max_held = max_pending,
		.send_timeout_ms = CLUSTER_NET_SEND_TIMEOUT_MS,
		.busy = net_encode(cluster_net_error(
			"server busy: %u requests pending", max_pending)),
		.handle = server_handle,
		.drop = server_drop,
		.arg = server,
	};

	if (config.busy == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	return orch_reqserver_start(server->socket, &config, &server->requests,
				    err, errlen);
}

int cluster_net_server_start(const char *url, const struct cluster_net_tls *tls,
			     unsigned workers, unsigned max_pending,
			     cluster_net_handler handler, void *ctx,
			     struct cluster_net_server **out, char *err,
			     size_t errlen)
{
	struct cluster_net_server *server;

	*out = NULL;
	if (url == NULL || tls == NULL || tls->ca_pem == NULL ||
	    tls->cert_pem == NULL || tls->key_pem == NULL || handler == NULL ||
	    workers == 0 || max_pending == 0) {
		orch_errorf(err, errlen, "server needs a url, a CA, a "
				 "certificate and key, a handler, >= 1 worker "
				 "and >= 1 pending request");
		return -1;
	}
	server = calloc(1, sizeof(*server));
	if (server == NULL || (server->ca_pem = strdup(tls->ca_pem)) == NULL) {
		free(server);
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	server->handler = handler;
	server->handler_ctx = ctx;
	if (net_conns_init(&server->conns, tls->ca_pem, err, errlen) != 0 ||
	    server_listen(server, url, tls, err, errlen) != 0 ||
	    server_serve(server, workers, max_pending, err, errlen) != 0) {
		cluster_net_server_stop(server);
		return -1;
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

void cluster_net_server_stop(struct cluster_net_server *server)
{
	if (server == NULL)
		return;
	/* The contexts first, then the socket (see orch_sdk_server_stop);
	 * nng_close returns once every pipe's REM_POST event has run, so the
	 * connection table is ours alone afterwards. */
	orch_reqserver_stop(server->requests);
	if (server->socket_open)
		nng_close(server->socket);
	net_conns_fini(&server->conns);
	free(server->ca_pem);
	free(server);
}

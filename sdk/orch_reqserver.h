/*
 * orch_reqserver.h: the one nng request server of orchd. The plugin SDK's
 * server (orch_sdk_server_*) and the cluster transport's server on port
 * 2377 (core/net) are both this server with their own handler.
 *
 * Design (as nng's own rep0 protocol): every nng context owns an aio whose
 * callback advances the context through receive -> handle -> send ->
 * receive; no thread waits inside nng. A received request is queued for a
 * small pool of handler threads (so that a slow handler, a docker call or a
 * wait for the manager's core thread, never holds one of nng's shared
 * callback threads). The handler answers with orch_reqserver_reply exactly
 * once, before it returns (synchronous, the SDK) or later from any thread
 * (deferred, the cluster's held long-polls); the reply is sent by the
 * context's aio without waiting. Contexts are opened on demand, kept
 * receiving `receivers` at a time, and parked for reuse once answered.
 *
 * Flow control. At most max_held requests are received and not yet
 * answered. With a busy reply, a request arriving beyond that is answered
 * at once with a copy of it; without one, no context receives while
 * max_held are held, so requests wait in nng (and, beyond, in TCP).
 *
 * Internal to liborch-sdk and orchd: not installed, not in orch_sdk.h.
 */
#ifndef ORCH_REQSERVER_H
#define ORCH_REQSERVER_H

#include <nng/nng.h>

struct orch_reqserver;
/* One received request and the context its reply goes out on. */
struct orch_reqserver_request;

/* Called on a handler thread with each request. It must call
 * orch_reqserver_reply(req, ...) exactly once, now or later, from any
 * thread (never during or after orch_reqserver_stop). */
typedef void (*orch_reqserver_handle_fn)(void *arg,
					 struct orch_reqserver_request *req);
/* Called by orch_reqserver_stop for each request handed to the handler and
 * never answered, with the user pointer it was given (see below). */
typedef void (*orch_reqserver_drop_fn)(void *arg, void *user);

struct orch_reqserver_config {
	unsigned threads;   /* handler threads, >= 1 */
	unsigned receivers; /* contexts kept receiving, 1..max_held */
	unsigned max_held;  /* requests received and not answered, >= 1 */
	int send_timeout_ms; /* then an untaken reply is dropped; < 0: never */
	nng_msg *busy;      /* the answer beyond max_held (taken), or NULL */
	orch_reqserver_handle_fn handle;
	orch_reqserver_drop_fn drop; /* may be NULL */
	void *arg;
};

/* Opens the rep0 socket a request server serves, taking messages of up to
 * max_message bytes. 0, or -1 with err. */
int orch_reqserver_socket(nng_socket *socket, size_t max_message, char *err,
			  size_t errlen);

/* Serves socket (an open rep0 socket, listening or about to; the caller
 * closes it after orch_reqserver_stop). config->busy is taken in every
 * case. 0 with *out, or -1 with err. */
int orch_reqserver_start(nng_socket socket,
			 const struct orch_reqserver_config *config,
			 struct orch_reqserver **out, char *err,
			 size_t errlen);

/* Cancels every receive and send, waits for their callbacks and for the
 * handler threads (a handler running finishes first), drops the requests
 * not answered (calling drop for those the handler had) and frees all. */
void orch_reqserver_stop(struct orch_reqserver *server);

/* The request message, valid until the request is answered. */
nng_msg *orch_reqserver_request_msg(const struct orch_reqserver_request *req);
/* A pointer of the handler's own kept with a held request (for drop). */
void orch_reqserver_request_set_user(struct orch_reqserver_request *req,
				     void *user);

/* Answers req with reply (taken; NULL: no answer, the caller times out).
 * Never waits: the context sends it and then receives again. */
void orch_reqserver_reply(struct orch_reqserver_request *req, nng_msg *reply);

#endif

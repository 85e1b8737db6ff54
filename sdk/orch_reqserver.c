/*
 * orch_reqserver.c: the one nng request server (orch_reqserver.h), the
 * reply side of req/rep written as nng's rep0 is: each context owns an aio
 * whose callback moves it along
 *
 *   PARKED -> RECEIVING -> QUEUED -> HELD -> SENDING -> RECEIVING | PARKED
 *                      \-> SENDING (the busy answer)
 *
 * and a small pool of handler threads takes QUEUED requests in order.
 *
 * State owned here, all guarded by server->lock: every context ever opened
 * (server->all, for stop), the FIFO of requests waiting for a handler
 * thread, the parked contexts, and the counts that decide when a context
 * is opened or parked. nng operations are started with the lock held and
 * only while the server is not stopping, so that once stop has set
 * `stopping`, no operation begins and nng_aio_stop on every aio is final.
 * (nng completes an operation through its task queue, never inside the
 * call that started it, so our callback never runs under our own lock.)
 */
#include "orch_reqserver.h"
#include "orch_wire.h"

#include <nng/protocol/reqrep0/rep.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum reqserver_state {
	REQSERVER_PARKED,
	REQSERVER_RECEIVING,
	REQSERVER_QUEUED,
	REQSERVER_HELD,
	REQSERVER_SENDING,
};

struct orch_reqserver_request {
	struct orch_reqserver *server;
	nng_ctx ctx;
	nng_aio *aio;
	nng_msg *msg; /* the request, while QUEUED or HELD */
	void *user;
	enum reqserver_state state;
	struct orch_reqserver_request *next; /* in the queue or parked list */
};

struct orch_reqserver {
	nng_socket socket;
	struct orch_reqserver_config config;
	unsigned max_active; /* contexts not parked, at most */
	pthread_t *threads;
	unsigned threads_started;

	pthread_mutex_t lock;
	pthread_cond_t queued;
	bool stopping;
	int open_error; /* the last failure to open a context */
	unsigned receiving, held, active;
	struct orch_reqserver_request **all;
	size_t n_all, cap_all;
	struct orch_reqserver_request *queue_head, *queue_tail;
	struct orch_reqserver_request *parked;
};

static void reqserver_callback(void *arg);

/* ------------------------------------------------------------ contexts */

/* A new context (lock held), or NULL with server->open_error. */
static struct orch_reqserver_request *reqserver_open_locked(
	struct orch_reqserver *server)
{
	struct orch_reqserver_request *req, **grown;
	size_t cap;
	int rv = NNG_ENOMEM;

	if (server->n_all == server->cap_all) {
		cap = server->cap_all ? 2 * server->cap_all : 16;
		grown = realloc(server->all, cap * sizeof(*grown));
		if (grown == NULL)
			goto fail;
		server->all = grown;
		server->cap_all = cap;
	}
	req = calloc(1, sizeof(*req));
	if (req == NULL)
		goto fail;
	req->server = server;
	rv = nng_aio_alloc(&req->aio, reqserver_callback, req);
	if (rv == 0 && (rv = nng_ctx_open(&req->ctx, server->socket)) != 0)
		nng_aio_free(req->aio);
	if (rv != 0) {
		free(req);
		goto fail;
	}
	server->all[server->n_all++] = req;
	return req;
fail:
	server->open_error = rv;
	return NULL;
}

static void reqserver_receive_locked(struct orch_reqserver *server,
				     struct orch_reqserver_request *req)
{
	req->state = REQSERVER_RECEIVING;
	server->receiving++;
	nng_aio_set_timeout(req->aio, NNG_DURATION_INFINITE);
	nng_ctx_recv(req->ctx, req->aio);
}

static void reqserver_send_locked(struct orch_reqserver *server,
				  struct orch_reqserver_request *req,
				  nng_msg *reply)
{
	int timeout = server->config.send_timeout_ms;

	req->state = REQSERVER_SENDING;
	nng_aio_set_msg(req->aio, reply);
	nng_aio_set_timeout(req->aio, timeout < 0 ? NNG_DURATION_INFINITE
						  : (nng_duration)timeout);
	nng_ctx_send(req->ctx, req->aio);
}

/* Keeps `receivers` contexts receiving, within max_active (lock held). */
static void reqserver_fill_locked(struct orch_reqserver *server)
{
	struct orch_reqserver_request *req;

	while (!server->stopping &&
	       server->receiving < server->config.receivers &&
	       server->active < server->max_active) {
		req = server->parked;
		if (req != NULL)
			server->parked = req->next;
		else if ((req = reqserver_open_locked(server)) == NULL)
			return; /* tried again on the next event */
		req->next = NULL;
		server->active++;
		reqserver_receive_locked(server, req);
	}
}

/* A context done with its request waits for reuse (lock held). */
static void reqserver_park_locked(struct orch_reqserver *server,
				  struct orch_reqserver_request *req)
{
	req->state = REQSERVER_PARKED;
	req->next = server->parked;
	server->parked = req;
	server->active--;
}

/* A context done with its request receives again, if one is missing. */
static void reqserver_next_locked(struct orch_reqserver *server,
				  struct orch_reqserver_request *req)
{
	if (!server->stopping && server->receiving < server->config.receivers)
		reqserver_receive_locked(server, req);
	else
		reqserver_park_locked(server, req);
}

/* --------------------------------------------------------- the callback */

static void reqserver_received_locked(struct orch_reqserver *server,
				      struct orch_reqserver_request *req,
				      int rv)
{
	nng_msg *busy = NULL;

	server->receiving--;
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		reqserver_park_locked(server, req); /* stopping */
		return;
	}
	if (rv != 0) { /* one failed receive */
		reqserver_next_locked(server, req);
		return;
	}
	req->msg = nng_aio_get_msg(req->aio);
	nng_aio_set_msg(req->aio, NULL);
	if (server->held < server->config.max_held) {
		server->held++;
		req->state = REQSERVER_QUEUED;
		if (server->queue_tail != NULL)
			server->queue_tail->next = req;
		else
			server->queue_head = req;
		server->queue_tail = req;
		pthread_cond_signal(&server->queued);
		reqserver_fill_locked(server);
		return;
	}
	/* Beyond max_held: only with a busy answer (see max_active). */
	nng_msg_free(req->msg);
	req->msg = NULL;
	if (server->config.busy != NULL &&
	    nng_msg_dup(&busy, server->config.busy) == 0)
		reqserver_send_locked(server, req, busy);
	else
		reqserver_next_locked(server, req);
	reqserver_fill_locked(server);
}

static void reqserver_callback(void *arg)
{
	struct orch_reqserver_request *req = arg;
	struct orch_reqserver *server = req->server;
	int rv = nng_aio_result(req->aio);

	pthread_mutex_lock(&server->lock);
	if (req->state == REQSERVER_RECEIVING) {
		reqserver_received_locked(server, req, rv);
	} else { /* SENDING: sent, timed out, or its connection is gone */
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(req->aio));
			nng_aio_set_msg(req->aio, NULL);
		}
		reqserver_next_locked(server, req);
	}
	pthread_mutex_unlock(&server->lock);
}

/* ------------------------------------------------------ handler threads */

static void *reqserver_thread_main(void *arg)
{
	struct orch_reqserver *server = arg;
	struct orch_reqserver_request *req;

	for (;;) {
		pthread_mutex_lock(&server->lock);
		while (!server->stopping && server->queue_head == NULL)
			pthread_cond_wait(&server->queued, &server->lock);
		if (server->stopping) {
			pthread_mutex_unlock(&server->lock);
			return NULL;
		}
		req = server->queue_head;
		server->queue_head = req->next;
		if (server->queue_head == NULL)
			server->queue_tail = NULL;
		req->next = NULL;
		req->state = REQSERVER_HELD;
		pthread_mutex_unlock(&server->lock);
		server->config.handle(server->config.arg, req);
	}
}

nng_msg *orch_reqserver_request_msg(const struct orch_reqserver_request *req)
{
	return req->msg;
}

void orch_reqserver_request_set_user(struct orch_reqserver_request *req,
				     void *user)
{
	req->user = user;
}

void orch_reqserver_reply(struct orch_reqserver_request *req, nng_msg *reply)
{
	struct orch_reqserver *server = req->server;
	nng_msg *request = req->msg;

	pthread_mutex_lock(&server->lock);
	server->held--;
	req->msg = NULL;
	req->user = NULL;
	if (reply != NULL && !server->stopping) {
		reqserver_send_locked(server, req, reply);
		reply = NULL;
	} else {
		reqserver_next_locked(server, req);
	}
	pthread_mutex_unlock(&server->lock);
	nng_msg_free(request);
	if (reply != NULL)
		nng_msg_free(reply);
}

/* ---------------------------------------------------------- life cycle */

int orch_reqserver_socket(nng_socket *socket, size_t max_message, char *err,
			  size_t errlen)
{
	int rv = nng_rep0_open(socket);

	if (rv != 0) {
		orch_errorf(err, errlen, "cannot open REP socket: %s",
				 nng_strerror(rv));
		return -1;
	}
	rv = nng_socket_set_size(*socket, NNG_OPT_RECVMAXSZ, max_message);
	if (rv != 0) {
		orch_errorf(err, errlen, "cannot set the REP socket's "
				 "largest message: %s", nng_strerror(rv));
		nng_close(*socket);
		return -1;
	}
	return 0;
}

static int reqserver_config_ok(const struct orch_reqserver_config *c)
{
	return c->handle != NULL && c->threads >= 1 && c->receivers >= 1 &&
	       c->max_held >= c->receivers;
}

int orch_reqserver_start(nng_socket socket,
			 const struct orch_reqserver_config *config,
			 struct orch_reqserver **out, char *err, size_t errlen)
{
	struct orch_reqserver *server;
	unsigned i;
	int rv;

	*out = NULL;
	if (!reqserver_config_ok(config)) {
		if (config->busy != NULL)
			nng_msg_free(config->busy);
		orch_errorf(err, errlen, "request server needs a handler, "
			"threads >= 1 and 1 <= receivers <= max_held");
		return -1;
	}
	server = calloc(1, sizeof(*server));
	if (server != NULL)
		server->threads = calloc(config->threads,
					 sizeof(*server->threads));
	if (server == NULL || server->threads == NULL) {
		free(server);
		if (config->busy != NULL)
			nng_msg_free(config->busy);
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	server->socket = socket;
	server->config = *config;
	/* Without a busy answer, no context receives while max_held are
	 * held; with one, `receivers` more keep receiving to give it. */
	server->max_active = config->max_held +
			     (config->busy != NULL ? config->receivers : 0);
	pthread_mutex_init(&server->lock, NULL);
	pthread_cond_init(&server->queued, NULL);
	pthread_mutex_lock(&server->lock);
	reqserver_fill_locked(server);
	rv = server->receiving == config->receivers ? 0 : server->open_error;
	pthread_mutex_unlock(&server->lock);
	if (rv != 0) {
		orch_errorf(err, errlen, "cannot open a request context: "
				 "%s", nng_strerror(rv));
		orch_reqserver_stop(server);
		return -1;
	}
	for (i = 0; i < config->threads; i++) {
		rv = pthread_create(&server->threads[i], NULL,
				    reqserver_thread_main, server);
		if (rv != 0) {
			orch_errorf(err, errlen, "cannot start a handler "
					 "thread: %s", strerror(rv));
			orch_reqserver_stop(server);
			return -1;
		}
		server->threads_started++;
	}
	*out = server;
	return 0;
}

void orch_reqserver_stop(struct orch_reqserver *server)
{
	struct orch_reqserver_request *req;
	size_t i, n;

	if (server == NULL)
		return;
	pthread_mutex_lock(&server->lock);
	server->stopping = true; /* from now on no operation begins */
	pthread_cond_broadcast(&server->queued);
	n = server->n_all;
	pthread_mutex_unlock(&server->lock);
	for (i = 0; i < n; i++)
		nng_aio_stop(server->all[i]->aio);
	for (i = 0; i < server->threads_started; i++)
		pthread_join(server->threads[i], NULL);
	for (i = 0; i < n; i++) {
		req = server->all[i];
		if (req->state == REQSERVER_HELD && req->user != NULL &&
		    server->config.drop != NULL)
			server->config.drop(server->config.arg, req->user);
		if (req->msg != NULL)
			nng_msg_free(req->msg);
		nng_ctx_close(req->ctx);
		nng_aio_free(req->aio);
		free(req);
	}
	if (server->config.busy != NULL)
		nng_msg_free(server->config.busy);
	pthread_cond_destroy(&server->queued);
	pthread_mutex_destroy(&server->lock);
	free(server->all);
	free(server->threads);
	free(server);
}

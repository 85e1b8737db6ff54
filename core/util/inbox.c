/*
 * inbox.c: a mutex-and-condition-variable FIFO of messages for one owner
 * thread (see inbox.h). Owns the queued messages until they are taken.
 */
#include "inbox.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct inbox {
	pthread_mutex_t lock;
	pthread_cond_t nonempty;
	struct inbox_msg *head, *tail;
	bool closed;
};

int64_t inbox_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct inbox *inbox_new(void)
{
	struct inbox *in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&in->nonempty, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&in->lock, NULL);
	return in;
}

/* Takes every queued message out and refuses its call. Lock held. */
static void inbox_drain_locked(struct inbox *in)
{
	struct inbox_msg *m;
	while ((m = in->head)) {
		in->head = m->next;
		if (m->call) {
			m->call->refused = true;
			inbox_call_finish(m->call);
		}
		if (m->kind == INBOX_CLUSTER_REQUEST && m->ptr) {
			struct inbox_reply_to *to = m->ptr;
			to->fn(to->ctx, json_pack("{s:s}", "error", "the manager is stopping"));
		}
		inbox_msg_free(m);
	}
	in->tail = NULL;
}

void inbox_close(struct inbox *in)
{
	pthread_mutex_lock(&in->lock);
	in->closed = true;
	inbox_drain_locked(in);
	pthread_mutex_unlock(&in->lock);
}

void inbox_free(struct inbox *in)
{
	if (!in)
		return;
	inbox_drain_locked(in);
	pthread_cond_destroy(&in->nonempty);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

static int inbox_enqueue(struct inbox *in, enum inbox_kind kind, json_t *body,
			 struct inbox_call *call, void *ptr)
{
	struct inbox_msg *m = calloc(1, sizeof(*m));
	if (!m) {
		json_decref(body);
		return -1;
	}
	m->kind = kind;
	m->body = body;
	m->call = call;
	m->ptr = ptr;
	pthread_mutex_lock(&in->lock);
	if (in->closed) {
		pthread_mutex_unlock(&in->lock);
		inbox_msg_free(m);
		return -1;
	}
	if (in->tail)
		in->tail->next = m;
	else
		in->head = m;
	in->tail = m;
	pthread_cond_signal(&in->nonempty);
	pthread_mutex_unlock(&in->lock);
	return 0;
}

int inbox_post(struct inbox *in, enum inbox_kind kind, json_t *body,
	       struct inbox_call *call)
{
	return inbox_enqueue(in, kind, body, call, NULL);
}

int inbox_post_ptr(struct inbox *in, enum inbox_kind kind, json_t *body,
		   void *ptr)
{
	return inbox_enqueue(in, kind, body, NULL, ptr);
}

struct inbox_msg *inbox_wait(struct inbox *in, int64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = deadline_ns / 1000000000,
			       .tv_nsec = deadline_ns % 1000000000 };
	pthread_mutex_lock(&in->lock);
	while (!in->head) {
		if (pthread_cond_timedwait(&in->nonempty, &in->lock, &ts) != 0 &&
		    !in->head)
			break;
	}
	struct inbox_msg *m = in->head;
	if (m) {
		in->head = m->next;
		if (!in->head)
			in->tail = NULL;
		m->next = NULL;
	}
	pthread_mutex_unlock(&in->lock);
	return m;
}

void inbox_msg_free(struct inbox_msg *msg)
{
	if (!msg)
		return;
	json_decref(msg->body);
	free(msg);
}

void inbox_call_init(struct inbox_call *call, const void *request)
{
	latch_init(&call->done);
	call->refused = false;
	call->request = request;
	call->response = NULL;
}

void inbox_call_fini(struct inbox_call *call)
{
	latch_fini(&call->done);
}

int inbox_call(struct inbox *in, enum inbox_kind kind, json_t *body,
	       struct inbox_call *call)
{
	if (inbox_post(in, kind, body, call) != 0)
		return -1;
	inbox_call_wait(call);
	return call->refused ? -1 : 0;
}

void inbox_call_wait(struct inbox_call *call)
{
	latch_wait_set(&call->done);
}

void inbox_call_finish(struct inbox_call *call)
{
	latch_set(&call->done);
}

/*
 * inbox.h: the message queue in front of a component's thread. The core
 * thread (manager) and the agent thread each own one; every other thread
 * talks to them only by posting messages here. A message carries a kind, a
 * JSON body, and optionally a call that the poster waits on (an API
 * request): the owner finishes it with inbox_call_finish().
 */
#ifndef ORCHD_INBOX_H
#define ORCHD_INBOX_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "latch.h"

enum inbox_kind {
	INBOX_STOP = 1,         /* the owner thread must return */
	INBOX_API,              /* an API request (call set) */
	INBOX_TASK_STATUSES,    /* agent -> manager: {node, updates:[...]} */
	INBOX_NODE_INFO,        /* agent -> manager: {node, runtimes, resources} */
	INBOX_ASSIGNMENTS,      /* manager -> agent: {tasks:[Task...]} */
	INBOX_RUNTIME_EVENT,    /* plugin -> agent: a task_status event */
	INBOX_CALL,             /* a generic synchronous call (call set) */
	INBOX_CLUSTER_REQUEST,  /* a request from an agent or another node:
				 * {"op":"session"|"join"|"raft"|"managers"};
				 * ptr is a struct inbox_reply_to, or NULL when
				 * nobody waits (raft batches) */
	INBOX_SCHEDULER_REPLY,  /* the scheduler plugin answered the manager's
				 * request: {seq, reply} or {seq, error} */
};

/* Where the answer to a message goes when the poster does not wait on an
 * inbox_call (a request from the network, answered later). fn is called
 * exactly once, from the owner's thread, and takes the reply. */
struct inbox_reply_to {
	void (*fn)(void *ctx, json_t *reply);
	void *ctx;
};

/* A request whose poster waits for the answer. */
struct inbox_call {
	struct latch done;   /* set by the owner once it answered */
	bool refused;        /* the owner stopped before handling it */
	const void *request; /* borrowed from the poster */
	void *response;      /* filled by the owner */
};

struct inbox_msg {
	enum inbox_kind kind;
	json_t *body;             /* owned by the message; may be NULL */
	struct inbox_call *call;  /* borrowed; NULL unless kind is a call */
	void *ptr;                /* borrowed; kind-specific (INBOX_CLUSTER_REQUEST) */
	struct inbox_msg *next;
};

struct inbox;

struct inbox *inbox_new(void);
void inbox_free(struct inbox *in); /* drops (and finishes) what is left */

/* Queues a message; steals body. Returns 0, or -1 when out of memory or
 * when the inbox is closed. */
int inbox_post(struct inbox *in, enum inbox_kind kind, json_t *body,
	       struct inbox_call *call);
/* Waits until a message is there or the monotonic clock passes
 * deadline_ns; returns the message (free with inbox_msg_free) or NULL. */
struct inbox_msg *inbox_wait(struct inbox *in, int64_t deadline_ns);
/* Queues a message carrying a kind-specific pointer; steals body. */
int inbox_post_ptr(struct inbox *in, enum inbox_kind kind, json_t *body,
		   void *ptr);
void inbox_msg_free(struct inbox_msg *msg);
/* The owner stopped: refuses what is queued (calls finish with refused set)
 * and every later post. */
void inbox_close(struct inbox *in);

/* Synchronous calls: post and wait until the owner finishes the call.
 * inbox_call returns -1 when the call could not be posted or was refused. */
void inbox_call_init(struct inbox_call *call, const void *request);
void inbox_call_fini(struct inbox_call *call);
int inbox_call(struct inbox *in, enum inbox_kind kind, json_t *body,
	       struct inbox_call *call);
void inbox_call_finish(struct inbox_call *call);
/* Waits until the call is finished (after posting it some other way). */
void inbox_call_wait(struct inbox_call *call);

/* The monotonic clock in nanoseconds. */
int64_t inbox_now_ns(void);

#endif

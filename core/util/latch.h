/*
 * latch.h: a flag that goes up once and that threads can wait on: the
 * "stop now" of a background thread that sleeps between rounds (the
 * agent's session thread, the daemon's role keeper) and the "answered" of
 * an inbox call. Owns its lock and condition; the flag never goes down.
 * Also the one way the rooms start a thread (thread_start).
 */
#ifndef ORCHD_LATCH_H
#define ORCHD_LATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct latch {
	pthread_mutex_t lock;
	pthread_cond_t wake;     /* on CLOCK_MONOTONIC */
	bool set;                /* guarded by lock */
};

void latch_init(struct latch *l);
void latch_fini(struct latch *l);

/* Sets the flag and wakes every thread waiting on it. What the setter
 * wrote before is seen by whoever saw the flag set. */
void latch_set(struct latch *l);

bool latch_is_set(struct latch *l);

/* Sleeps up to ns nanoseconds, less if the flag is set meanwhile;
 * returns whether it is set. */
bool latch_wait(struct latch *l, int64_t ns);

/* Sleeps until the flag is set. */
void latch_wait_set(struct latch *l);

/* pthread_create of fn(arg) into *thread; -1 with "cannot start {what}:
 * {reason}" in err when it fails. */
int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg,
		 const char *what, char *err, size_t errlen);

#endif

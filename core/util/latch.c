/*
 * latch.c: a flag that goes up once and that threads wait on (see
 * latch.h). Owns nothing beyond the struct the caller gives it.
 */
#include "latch.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define NS_PER_SEC 1000000000LL

void latch_init(struct latch *l)
{
	pthread_condattr_t attr;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&l->wake, &attr);
	pthread_condattr_destroy(&attr);
	l->set = false;
}

void latch_fini(struct latch *l)
{
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
}

void latch_set(struct latch *l)
{
	pthread_mutex_lock(&l->lock);
	l->set = true;
	pthread_cond_broadcast(&l->wake);
	pthread_mutex_unlock(&l->lock);
}

bool latch_is_set(struct latch *l)
{
	pthread_mutex_lock(&l->lock);
	bool set = l->set;
	pthread_mutex_unlock(&l->lock);
	return set;
}

bool latch_wait(struct latch *l, int64_t ns)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t deadline = (int64_t)now.tv_sec * NS_PER_SEC + now.tv_nsec + ns;
	struct timespec until = { .tv_sec = deadline / NS_PER_SEC,
				  .tv_nsec = deadline % NS_PER_SEC };
	pthread_mutex_lock(&l->lock);
	while (!l->set && pthread_cond_timedwait(&l->wake, &l->lock, &until) == 0)
		;
	bool set = l->set;
	pthread_mutex_unlock(&l->lock);
	return set;
}

int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg,
		 const char *what, char *err, size_t errlen)
{
	int rc = pthread_create(thread, NULL, fn, arg);
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "cannot start %s: %s", what, strerror(rc));
	return -1;
}

void latch_wait_set(struct latch *l)
{
	pthread_mutex_lock(&l->lock);
	while (!l->set)
		pthread_cond_wait(&l->wake, &l->lock);
	pthread_mutex_unlock(&l->lock);
}

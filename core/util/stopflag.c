/*
 * stopflag.c: the "stop now" flag of a sleeping background thread (see
 * stopflag.h). Owns nothing beyond the struct the caller gives it.
 */
#include "stopflag.h"

#include <time.h>

#define NS_PER_SEC 1000000000LL

void stop_flag_init(struct stop_flag *f)
{
	pthread_condattr_t attr;
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&f->wake, &attr);
	pthread_condattr_destroy(&attr);
	f->raised = false;
}

void stop_flag_fini(struct stop_flag *f)
{
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
}

void stop_flag_raise(struct stop_flag *f)
{
	pthread_mutex_lock(&f->lock);
	f->raised = true;
	pthread_cond_broadcast(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

bool stop_flag_raised(struct stop_flag *f)
{
	pthread_mutex_lock(&f->lock);
	bool raised = f->raised;
	pthread_mutex_unlock(&f->lock);
	return raised;
}

bool stop_flag_wait(struct stop_flag *f, int64_t ns)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t deadline = (int64_t)now.tv_sec * NS_PER_SEC + now.tv_nsec + ns;
	struct timespec until = { .tv_sec = deadline / NS_PER_SEC,
				  .tv_nsec = deadline % NS_PER_SEC };
	pthread_mutex_lock(&f->lock);
	while (!f->raised &&
	       pthread_cond_timedwait(&f->wake, &f->lock, &until) == 0)
		;
	bool raised = f->raised;
	pthread_mutex_unlock(&f->lock);
	return raised;
}

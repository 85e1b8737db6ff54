/*
 * stopflag.h: the "stop now" flag of a background thread that sleeps
 * between rounds (the agent's session thread, the daemon's role keeper).
 * The owner raises it once; the thread checks it between two pieces of
 * work and sleeps on it, so that a raise wakes it at once. Owns its lock
 * and condition; the flag itself only ever goes from down to up.
 */
#ifndef ORCHD_STOPFLAG_H
#define ORCHD_STOPFLAG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct stop_flag {
	pthread_mutex_t lock;
	pthread_cond_t wake;     /* on CLOCK_MONOTONIC */
	bool raised;             /* guarded by lock */
};

void stop_flag_init(struct stop_flag *f);
void stop_flag_fini(struct stop_flag *f);

/* Raises the flag and wakes the thread sleeping on it. */
void stop_flag_raise(struct stop_flag *f);

bool stop_flag_raised(struct stop_flag *f);

/* Sleeps up to ns nanoseconds, less if the flag is raised meanwhile;
 * returns whether it is raised. */
bool stop_flag_wait(struct stop_flag *f, int64_t ns);

#endif

/*
 * swarm_measure.h: what agent-swarm measures with, apart from its agents:
 * latency samples, the clock, the manager's CPU and memory from /proc, and
 * counts read from the manager's API socket. Owns nothing.
 */
#ifndef ORCHD_SWARM_MEASURE_H
#define ORCHD_SWARM_MEASURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SWARM_NODE_PREFIX "swarmsim-"

/* Latencies in microseconds. */
struct samples {
	uint32_t *v;
	size_t n, cap;
};

struct proc_sample {
	double cpu_s;   /* user + system */
	long rss_kib;
	long threads;
	int64_t at_ns;
};

int samples_add(struct samples *s, int64_t ns);
int samples_merge(struct samples *into, const struct samples *from);
double samples_pct_ms(struct samples *s, double pct);
void samples_free(struct samples *s);
int64_t now_ns(void);
void pause_ns(int64_t ns);
double seconds_between(int64_t from, int64_t to);
double phase_s(int64_t from, int64_t to);
int proc_sample(long pid, struct proc_sample *s, const char *label, char *err,
		       size_t errlen);
int api_count_nodes(const char *sock, long *ready, long *down, char *err,
			   size_t errlen);
int api_count_running(const char *sock, const char *service, long *running,
			     char *err, size_t errlen);

#endif

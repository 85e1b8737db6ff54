/*
 * swarm_measure.c: see swarm_measure.h. Owns nothing.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inbox.h"
#include "swarm_measure.h"

/* ------------------------------------------------------------- samples */


int samples_add(struct samples *s, int64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		uint32_t *grown = realloc(s->v, cap * sizeof(*grown));
		if (!grown)
			return -1;
		s->v = grown;
		s->cap = cap;
	}
	int64_t us = ns / 1000;
	s->v[s->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)(us < 0 ? 0 : us);
	return 0;
}

int samples_merge(struct samples *into, const struct samples *from)
{
	for (size_t i = 0; i < from->n; i++)
		if (samples_add(into, (int64_t)from->v[i] * 1000) != 0)
			return -1;
	return 0;
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in milliseconds (samples sorted first). */
double samples_pct_ms(struct samples *s, double pct)
{
	if (s->n == 0)
		return 0.0;
	qsort(s->v, s->n, sizeof(*s->v), compare_u32);
	size_t rank = (size_t)(pct / 100.0 * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1] / 1000.0;
}

void samples_free(struct samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

/* --------------------------------------------------------------- clock */

int64_t now_ns(void)
{
	return inbox_now_ns();
}

void pause_ns(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

double seconds_between(int64_t from, int64_t to)
{
	return (double)(to - from) / 1e9;
}

/* A phase's length, or -1 when the run never reached its end. */
double phase_s(int64_t from, int64_t to)
{
	return from && to ? seconds_between(from, to) : -1.0;
}

/* -------------------------------------------------- the manager's cost */


static int proc_cpu(long pid, double *cpu_s, char *err, size_t errlen)
{
	char path[64], line[2048];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	/* Fields after the command name, which ends at the last ')'. */
	char *p = strrchr(line, ')');
	unsigned long long utime = 0, stime = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &utime, &stime) != 2) {
		snprintf(err, errlen, "cannot parse %s", path);
		return -1;
	}
	*cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

static int proc_status(long pid, long *rss_kib, long *threads, char *err, size_t errlen)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	*rss_kib = *threads = -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", rss_kib);
		sscanf(line, "Threads: %ld", threads);
	}
	fclose(f);
	if (*rss_kib < 0 || *threads < 0) {
		snprintf(err, errlen, "no VmRSS/Threads in %s", path);
		return -1;
	}
	return 0;
}

static void proc_print(const char *label, const struct proc_sample *s)
{
	printf("manager %-16s cpu %8.2f s  rss %7.1f MiB  threads %ld\n", label, s->cpu_s,
	       s->rss_kib / 1024.0, s->threads);
}

/* Samples the manager's cpu, rss and threads into s, and prints the
 * sample under label (NULL: not printed). */
int proc_sample(long pid, struct proc_sample *s, const char *label, char *err,
		       size_t errlen)
{
	s->at_ns = now_ns();
	if (proc_cpu(pid, &s->cpu_s, err, errlen) != 0 ||
	    proc_status(pid, &s->rss_kib, &s->threads, err, errlen) != 0)
		return -1;
	if (label != NULL)
		proc_print(label, s);
	return 0;
}

/* ------------------------------------------------------ the manager API */

struct api_buffer {
	char *data;
	size_t len;
};

static size_t api_collect(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct api_buffer *b = ctx;
	size_t add = size * nmemb;
	char *grown = realloc(b->data, b->len + add + 1);
	if (!grown)
		return 0;
	memcpy(grown + b->len, ptr, add);
	b->data = grown;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* GET path on the manager's unix socket; the parsed JSON or NULL with err. */
static json_t *api_get(const char *socket_path, const char *path, char *err, size_t errlen)
{
	char url[256];
	struct api_buffer body = { NULL, 0 };
	CURL *curl = curl_easy_init();
	if (!curl) {
		snprintf(err, errlen, "curl_easy_init failed");
		return NULL;
	}
	snprintf(url, sizeof(url), "http://orchd%s", path);
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, api_collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	CURLcode rc = curl_easy_perform(curl);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	json_t *doc = NULL;
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "GET %s: %s", path, curl_easy_strerror(rc));
	} else if (status != 200) {
		snprintf(err, errlen, "GET %s: HTTP %ld: %.200s", path, status,
			 body.data ? body.data : "");
	} else {
		json_error_t jerr;
		doc = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
		if (!doc)
			snprintf(err, errlen, "GET %s: bad JSON: %s", path, jerr.text);
	}
	free(body.data);
	return doc;
}

static bool node_offers_process(const json_t *node)
{
	json_t *runtimes = json_object_get(json_object_get(node, "Description"), "OrchRuntimes");
	size_t i;
	json_t *r;
	json_array_foreach(runtimes, i, r)
		if (json_is_string(r) && strcmp(json_string_value(r), "process") == 0)
			return true;
	return false;
}

static const char *node_state(const json_t *node)
{
	const char *s = json_string_value(json_object_get(json_object_get(node, "Status"), "State"));
	return s ? s : "";
}

/* GETs path, which must answer a JSON array, and calls each(item, ctx)
 * for every item in it. 0, or -1 with the reason in err. */
static int api_each(const char *sock, const char *path,
		    void (*each)(json_t *item, void *ctx), void *ctx, char *err,
		    size_t errlen)
{
	json_t *list = api_get(sock, path, err, errlen);
	size_t i;
	json_t *item;

	if (list == NULL)
		return -1;
	if (!json_is_array(list)) {
		snprintf(err, errlen, "GET %s: not a JSON array", path);
		json_decref(list);
		return -1;
	}
	json_array_foreach(list, i, item)
		each(item, ctx);
	json_decref(list);
	return 0;
}

struct node_counts {
	long ready, down;
};

static void count_node(json_t *n, void *ctx)
{
	struct node_counts *c = ctx;
	const char *id = json_string_value(json_object_get(n, "ID"));

	if (!id || strncmp(id, SWARM_NODE_PREFIX, strlen(SWARM_NODE_PREFIX)) != 0)
		return;
	if (strcmp(node_state(n), "ready") == 0 && node_offers_process(n))
		c->ready++;
	else if (strcmp(node_state(n), "down") == 0)
		c->down++;
}

/* Counts the simulated nodes the manager lists: ready and offering the
 * process runtime, and down. */
int api_count_nodes(const char *sock, long *ready, long *down, char *err,
			   size_t errlen)
{
	struct node_counts c = { 0, 0 };

	if (api_each(sock, "/nodes", count_node, &c, err, errlen) != 0)
		return -1;
	*ready = c.ready;
	*down = c.down;
	return 0;
}

struct running_count {
	const char *service;
	long running;
};

static void count_running(json_t *t, void *ctx)
{
	struct running_count *c = ctx;
	const char *name = json_string_value(json_object_get(t, "ServiceName"));
	const char *desired = json_string_value(json_object_get(t, "DesiredState"));

	if (name && strcmp(name, c->service) == 0 && desired &&
	    strcmp(desired, "running") == 0 && strcmp(node_state(t), "running") == 0)
		c->running++;
}

/* Tasks of service that the manager sees running (desired running). */
int api_count_running(const char *sock, const char *service, long *running,
			     char *err, size_t errlen)
{
	struct running_count c = { service, 0 };

	if (api_each(sock, "/tasks", count_running, &c, err, errlen) != 0)
		return -1;
	*running = c.running;
	return 0;
}


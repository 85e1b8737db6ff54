/*
 * raft_bench.c: throughput and commit latency of the raft engine with real
 * durable storage. Three engines run in this one process and thread, each
 * with its own WAL (raft_wal.c) in a fresh directory on a real disk
 * (default /var/tmp, not tmpfs); messages travel in memory, encoded and
 * decoded with the wire codec. One loop drives everything: ticks every
 * 10 ms of wall clock, then each node's ready (persist, fsync, queue
 * messages, apply, advance), then delivery of the queued messages.
 *
 * By default the three ready steps of a cycle run at the same time, one
 * worker thread per node (three machines fsync in parallel, not one after
 * the other); --serial runs them one by one in the main thread. Workers
 * touch only their own node, between two barrier waits of the main loop.
 *
 * Workloads, all with 1 KiB entries proposed on the leader:
 *   single      one proposal, wait until the leader sees it committed
 *   batch B     B proposals in one ready cycle, wait for all of them
 *   pipeline B  B proposals per ready cycle, up to 4 B uncommitted
 * Latency is proposal -> entry seen in the leader's ready.committed.
 * At the end every WAL is reopened and its recovery timed.
 *
 * State: struct bench (the nodes with their outgoing messages, the worker
 * threads and barriers, proposal timestamps, latency samples of the running
 * workload); the temp directories, removed at exit.
 *
 * Usage: raft-bench [--dir DIR] [--entries N] [--single N] [--serial]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raft_cluster.h"

#define BENCH_NODES 3
#define BENCH_ENTRY_BYTES 1024
#define BENCH_TICK_NS 10000000ull
#define BENCH_MAX_CYCLES_IDLE 1000000

struct bench_msg {
	uint64_t to;
	uint8_t *buf;
	size_t len;
};

struct bench;

struct bench_node {
	struct bench *b;
	uint64_t id;
	struct raft *raft;
	struct wal *wal;
	char dir[256];
	uint64_t applied;
	uint64_t rand_state;
	bool is_leader;       /* as of its last ready */
	uint64_t syncs;       /* wal_sync calls */
	struct bench_msg *queue; /* sent by this node in this cycle */
	size_t n_queue, cap_queue;
	pthread_t thread;
};

struct bench {
	struct bench_node nodes[BENCH_NODES];
	struct bench_node *leader;
	bool parallel;
	bool stop;
	pthread_barrier_t start, done;
	uint64_t *propose_ns; /* by log index; 0: not timed */
	size_t cap_propose;
	uint64_t *lat_ns;     /* samples of the running workload */
	size_t n_lat, cap_lat;
	uint64_t last_tick_ns;
	uint8_t payload[BENCH_ENTRY_BYTES];
};

/* Directories to remove at exit, also when die() ends the run early. */
static char bench_dirs[BENCH_NODES][256];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "raft-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void *bench_realloc(void *p, size_t size)
{
	void *q = realloc(p, size);
	if (q == NULL)
		die("out of memory");
	return q;
}

/* ---- setup and teardown ---- */

static void bench_node_start(struct bench_node *n, uint64_t id,
			     const char *base)
{
	struct raft_config cfg;
	char err[1024];

	n->id = id;
	n->rand_state = 0x9e3779b97f4a7c15ull * id;
	if (bench_make_dir(n->dir, sizeof(n->dir), base, "raft-bench", id, err,
			   sizeof(err)) != 0)
		die("%s", err);
	snprintf(bench_dirs[id - 1], sizeof(bench_dirs[id - 1]), "%s", n->dir);
	raft_config_defaults(&cfg, id);
	cfg.rand = bench_xorshift;
	cfg.rand_ctx = &n->rand_state;
	if (bench_raft_open(n->dir, &cfg, BENCH_NODES, &n->raft, &n->wal, err,
			    sizeof(err)) != 0)
		die("node %" PRIu64 ": %s", id, err);
}

/* ---- the driving loop ---- */

static void queue_msg(struct bench_node *n, const struct raft_msg *m)
{
	if (n->n_queue == n->cap_queue) {
		n->cap_queue = n->cap_queue ? 2 * n->cap_queue : 64;
		n->queue = bench_realloc(n->queue,
					 n->cap_queue * sizeof(*n->queue));
	}
	struct bench_msg *q = &n->queue[n->n_queue++];
	q->to = m->to;
	q->buf = bench_raft_encode(m, &q->len);
	if (q->buf == NULL)
		die("out of memory");
}

static void note_committed(struct bench *b, struct bench_node *n,
			   const struct raft_ready *rd, uint64_t now)
{
	for (uint32_t i = 0; i < rd->n_committed; i++) {
		const struct raft_entry *e = &rd->committed[i];
		if (e->index != n->applied + 1)
			die("node %" PRIu64 ": applied %" PRIu64 " after %"
			    PRIu64, n->id, e->index, n->applied);
		n->applied = e->index;
		if (n != b->leader || e->type != RAFT_ENTRY_NORMAL ||
		    e->index >= b->cap_propose || b->propose_ns[e->index] == 0)
			continue;
		if (b->n_lat == b->cap_lat) {
			b->cap_lat = b->cap_lat ? 2 * b->cap_lat : 1024;
			b->lat_ns = bench_realloc(b->lat_ns,
						  b->cap_lat * sizeof(uint64_t));
		}
		b->lat_ns[b->n_lat++] = now - b->propose_ns[e->index];
		b->propose_ns[e->index] = 0;
	}
}

/* Persist, sync, send, apply, advance: the daemon's ready loop. */
static void persist_ready(struct bench_node *n, const struct raft_ready *rd)
{
	int rc = bench_raft_persist(n->wal, rd);

	if (rc < 0)
		die("node %" PRIu64 ": %s", n->id, wal_error(n->wal));
	n->syncs += (uint64_t)rc;
}

static void handle_ready(struct bench *b, struct bench_node *n)
{
	while (raft_has_ready(n->raft)) {
		struct raft_ready rd;
		raft_ready(n->raft, &rd);
		persist_ready(n, &rd);
		for (uint32_t i = 0; i < rd.n_msgs; i++)
			queue_msg(n, &rd.msgs[i]);
		if (rd.soft_state_changed)
			n->is_leader = rd.role == RAFT_LEADER;
		note_committed(b, n, &rd, bench_now_ns());
		raft_advance(n->raft, &rd);
	}
}

static void deliver(struct bench *b, struct bench_node *from)
{
	for (size_t i = 0; i < from->n_queue; i++) {
		struct bench_msg *q = &from->queue[i];
		struct raft_msg m;
		if (q->to == 0 || q->to > BENCH_NODES)
			die("message to unknown node %" PRIu64, q->to);
		if (raft_msg_decode(q->buf, q->len, &m) != 0)
			die("undecodable message to %" PRIu64, q->to);
		int rc = raft_step(b->nodes[q->to - 1].raft, &m);
		if (rc != 0)
			die("raft_step: %s", raft_strerror(rc));
		raft_msg_decoded_free(&m);
		free(q->buf);
	}
	from->n_queue = 0;
}

static void *bench_worker(void *arg)
{
	struct bench_node *n = arg;
	struct bench *b = n->b;

	for (;;) {
		pthread_barrier_wait(&b->start);
		if (b->stop)
			return NULL;
		handle_ready(b, n);
		pthread_barrier_wait(&b->done);
	}
}

static void start_workers(struct bench *b)
{
	pthread_barrier_init(&b->start, NULL, BENCH_NODES + 1);
	pthread_barrier_init(&b->done, NULL, BENCH_NODES + 1);
	for (int i = 0; i < BENCH_NODES; i++) {
		int rc = pthread_create(&b->nodes[i].thread, NULL,
					bench_worker, &b->nodes[i]);
		if (rc != 0)
			die("pthread_create: %s", strerror(rc));
	}
}

static void stop_workers(struct bench *b)
{
	b->stop = true;
	pthread_barrier_wait(&b->start);
	for (int i = 0; i < BENCH_NODES; i++)
		pthread_join(b->nodes[i].thread, NULL);
	pthread_barrier_destroy(&b->start);
	pthread_barrier_destroy(&b->done);
}

/* Notes who leads; the benchmark has no use for a second election. */
static void track_leader(struct bench *b)
{
	for (int i = 0; i < BENCH_NODES; i++) {
		struct bench_node *n = &b->nodes[i];
		if (n->is_leader && b->leader == NULL)
			b->leader = n;
		else if (!n->is_leader && b->leader == n)
			die("node %" PRIu64 " lost leadership", n->id);
	}
}

static void bench_cycle(struct bench *b)
{
	uint64_t now = bench_now_ns();

	if (now - b->last_tick_ns >= BENCH_TICK_NS) {
		b->last_tick_ns = now;
		for (int i = 0; i < BENCH_NODES; i++)
			raft_tick(b->nodes[i].raft);
	}
	if (b->parallel) {
		pthread_barrier_wait(&b->start);
		pthread_barrier_wait(&b->done);
	} else {
		for (int i = 0; i < BENCH_NODES; i++)
			handle_ready(b, &b->nodes[i]);
	}
	track_leader(b);
	for (int i = 0; i < BENCH_NODES; i++)
		deliver(b, &b->nodes[i]);
}

static void elect_leader(struct bench *b)
{
	int rc = raft_campaign(b->nodes[0].raft);
	if (rc != 0)
		die("raft_campaign: %s", raft_strerror(rc));
	for (long i = 0; b->leader == NULL; i++) {
		if (i > BENCH_MAX_CYCLES_IDLE)
			die("no leader elected");
		bench_cycle(b);
	}
}

/* ---- workloads ---- */

static uint64_t propose_one(struct bench *b)
{
	uint64_t index, term;

	b->payload[0]++;
	int rc = raft_propose(b->leader->raft, b->payload, sizeof(b->payload),
			      &index, &term);
	if (rc != 0)
		die("raft_propose: %s", raft_strerror(rc));
	if (index >= b->cap_propose) {
		size_t cap = b->cap_propose ? b->cap_propose : 4096;
		while (cap <= index)
			cap *= 2;
		b->propose_ns = bench_realloc(b->propose_ns, cap * sizeof(uint64_t));
		memset(b->propose_ns + b->cap_propose, 0,
		       (cap - b->cap_propose) * sizeof(uint64_t));
		b->cap_propose = cap;
	}
	b->propose_ns[index] = bench_now_ns();
	return index;
}

static void wait_applied(struct bench *b, uint64_t index)
{
	for (long idle = 0; b->leader->applied < index; idle++) {
		if (idle > BENCH_MAX_CYCLES_IDLE)
			die("entry %" PRIu64 " never committed", index);
		bench_cycle(b);
	}
}

/* Proposes batch entries at a time and waits for each batch. */
static void run_closed(struct bench *b, uint64_t batch, uint64_t total)
{
	for (uint64_t done = 0; done < total; done += batch) {
		uint64_t last = 0;
		for (uint64_t i = 0; i < batch && done + i < total; i++)
			last = propose_one(b);
		wait_applied(b, last);
	}
}

/* Proposes batch entries per cycle while fewer than 4 batches are
 * uncommitted. */
static void run_pipeline(struct bench *b, uint64_t batch, uint64_t total)
{
	uint64_t proposed = 0, last = 0;

	while (proposed < total) {
		uint64_t in_flight = last > b->leader->applied ?
			last - b->leader->applied : 0;
		for (uint64_t i = 0; i < batch && proposed < total &&
		     in_flight + i < 4 * batch; i++, proposed++)
			last = propose_one(b);
		bench_cycle(b);
	}
	wait_applied(b, last);
}

struct bench_result {
	const char *name;
	uint64_t entries;
	double seconds;
	uint64_t syncs;
	double p50_ms, p99_ms;
};

static double percentile_ms(struct bench *b, double p)
{
	if (b->n_lat == 0)
		return 0;
	size_t k = (size_t)(p * (double)(b->n_lat - 1) + 0.5);
	return (double)b->lat_ns[k] / 1e6;
}

static uint64_t total_syncs(const struct bench *b)
{
	uint64_t n = 0;
	for (int i = 0; i < BENCH_NODES; i++)
		n += b->nodes[i].syncs;
	return n;
}

static struct bench_result run_workload(struct bench *b, const char *name,
					int kind, uint64_t batch,
					uint64_t total)
{
	struct bench_result res = { .name = name, .entries = total };
	uint64_t syncs = total_syncs(b);

	b->n_lat = 0;
	uint64_t t0 = bench_now_ns();
	if (kind == 0)
		run_closed(b, batch, total);
	else
		run_pipeline(b, batch, total);
	res.seconds = (double)(bench_now_ns() - t0) / 1e9;
	res.syncs = total_syncs(b) - syncs;
	if (b->n_lat != total)
		die("%s: %zu latency samples for %" PRIu64 " entries", name,
		    b->n_lat, total);
	qsort(b->lat_ns, b->n_lat, sizeof(uint64_t), bench_cmp_u64);
	res.p50_ms = percentile_ms(b, 0.50);
	res.p99_ms = percentile_ms(b, 0.99);
	return res;
}

static void print_result(const struct bench_result *r)
{
	printf("%-20s %9" PRIu64 " %8.2f %11.0f %8.2f %8.2f %9.0f\n", r->name,
	       r->entries, r->seconds, (double)r->entries / r->seconds,
	       r->p50_ms, r->p99_ms, (double)r->syncs / r->seconds);
}

/* Reopens every WAL and checks it recovers at least what was applied. */
static void check_recovery(struct bench *b)
{
	for (int i = 0; i < BENCH_NODES; i++) {
		struct bench_node *n = &b->nodes[i];
		struct wal_recovered rec;
		char err[1024];
		struct wal *w;

		wal_close(n->wal);
		n->wal = NULL;
		uint64_t t0 = bench_now_ns();
		if (wal_open(n->dir, NULL, &w, &rec, err, sizeof(err)) != 0)
			die("reopen %s: %s", n->dir, err);
		double ms = (double)(bench_now_ns() - t0) / 1e6;
		uint64_t last = rec.n_entries ?
			rec.entries[rec.n_entries - 1].index : 0;
		if (last < n->applied || rec.hard_state.commit < n->applied)
			die("%s: recovered last %" PRIu64 " commit %" PRIu64
			    " < applied %" PRIu64, n->dir, last,
			    rec.hard_state.commit, n->applied);
		printf("node %d: recovered %u entries (commit %" PRIu64
		       ") in %.1f ms\n", i + 1, rec.n_entries,
		       rec.hard_state.commit, ms);
		wal_recovered_free(&rec);
		wal_close(w);
	}
}

static void remove_bench_dirs(void)
{
	char err[600];

	for (int i = 0; i < BENCH_NODES; i++)
		if (bench_dirs[i][0] != '\0' &&
		    bench_remove_dir(bench_dirs[i], err, sizeof(err)) != 0)
			fprintf(stderr, "raft-bench: %s\n", err);
}

static void bench_free(struct bench *b)
{
	for (int i = 0; i < BENCH_NODES; i++) {
		raft_free(b->nodes[i].raft);
		wal_close(b->nodes[i].wal);
	}
	for (int i = 0; i < BENCH_NODES; i++) {
		for (size_t k = 0; k < b->nodes[i].n_queue; k++)
			free(b->nodes[i].queue[k].buf);
		free(b->nodes[i].queue);
	}
	free(b->propose_ns);
	free(b->lat_ns);
}

static uint64_t parse_count(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v == 0)
		die("bad count: %s", s);
	return v;
}

int main(int argc, char **argv)
{
	const char *base = "/var/tmp";
	uint64_t entries = 50000, single = 1000;
	static struct bench b;

	b.parallel = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--serial") == 0)
			b.parallel = false;
		else if (i + 1 < argc && strcmp(argv[i], "--dir") == 0)
			base = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--entries") == 0)
			entries = parse_count(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--single") == 0)
			single = parse_count(argv[++i]);
		else
			die("usage: raft-bench [--dir DIR] [--entries N] "
			    "[--single N] [--serial]");
	}
	atexit(remove_bench_dirs);
	for (int i = 0; i < BENCH_NODES; i++) {
		b.nodes[i].b = &b;
		bench_node_start(&b.nodes[i], (uint64_t)i + 1, base);
	}
	if (b.parallel)
		start_workers(&b);
	b.last_tick_ns = bench_now_ns();
	elect_leader(&b);
	run_closed(&b, 64, 256); /* warm up */

	printf("3 nodes, 1 process, WALs in %s, %d-byte entries, ready steps "
	       "%s\n", base, BENCH_ENTRY_BYTES,
	       b.parallel ? "in parallel (1 thread per node)" : "serial");
	printf("%-20s %9s %8s %11s %8s %8s %9s\n", "workload", "entries",
	       "seconds", "entries/s", "p50 ms", "p99 ms", "syncs/s");
	struct bench_result r;
	r = run_workload(&b, "single", 0, 1, single);
	print_result(&r);
	r = run_workload(&b, "batch 64", 0, 64, entries);
	print_result(&r);
	r = run_workload(&b, "batch 256", 0, 256, entries);
	print_result(&r);
	r = run_workload(&b, "pipeline 64 x4", 1, 64, entries);
	print_result(&r);
	r = run_workload(&b, "pipeline 256 x4", 1, 256, entries);
	print_result(&r);
	if (b.parallel)
		stop_workers(&b);
	check_recovery(&b);
	bench_free(&b);
	return 0;
}

/*
 * raft_failover.c: how long a 3-manager raft group needs, after its leader
 * dies, until a new leader has accepted and committed a write. The engines
 * run with orchd's own settings (core/raft_node.c: 50 ms ticks, election
 * after 10 to 19 ticks of silence, pre-vote, check-quorum), each on its own
 * real WAL, in one process and thread; messages go through the wire codec.
 * A trial elects a leader, commits a write, then kills the leader (it gets
 * no more ticks or messages and its unsent messages are lost), and times
 * until a write proposed on the new leader is committed. The dead node is
 * restarted from its WAL before the next trial, as a crashed manager would.
 *
 * Owns the three nodes and their temporary WAL directories.
 *
 * Usage: raft-failover [--trials N] [--dir DIR]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raft_cluster.h"

#define NODES 3
#define TICK_NS 50000000ull /* orchd's tick */
#define ELECTION_TICKS 10    /* orchd's election timeout in ticks */

struct node {
	uint64_t id;
	char dir[256];
	struct raft *raft;
	struct wal *wal;
	uint64_t rand_state;
	bool dead;
	bool leader;
	uint64_t committed_index; /* last entry seen committed */
};

struct msgq {
	uint8_t *buf[4096];
	size_t len[4096];
	uint64_t to[4096];
	size_t n;
};

static struct node nodes[NODES];
static struct msgq queue;

static void die(const char *what)
{
	fprintf(stderr, "raft-failover: %s\n", what);
	exit(1);
}

/* (Re)starts node n from whatever its WAL holds. */
static void node_open(struct node *n)
{
	char err[1024];
	struct raft_config cfg;

	raft_config_defaults(&cfg, n->id);
	cfg.election_ticks = ELECTION_TICKS;
	cfg.heartbeat_ticks = 1;
	cfg.rand = bench_xorshift;
	cfg.rand_ctx = &n->rand_state;
	if (bench_raft_open(n->dir, &cfg, NODES, &n->raft, &n->wal, err,
			    sizeof(err)) != 0)
		die(err);
	n->dead = false;
	n->leader = false;
}

static void node_kill(struct node *n)
{
	raft_free(n->raft);
	wal_close(n->wal);
	n->raft = NULL;
	n->dead = true;
	n->leader = false;
}

static void node_ready(struct node *n)
{
	while (raft_has_ready(n->raft)) {
		struct raft_ready rd;
		raft_ready(n->raft, &rd);
		if (bench_raft_persist(n->wal, &rd) < 0)
			die(wal_error(n->wal));
		for (uint32_t i = 0; i < rd.n_msgs; i++) {
			if (queue.n == 4096)
				die("message queue full");
			queue.buf[queue.n] = bench_raft_encode(&rd.msgs[i],
							       &queue.len[queue.n]);
			if (queue.buf[queue.n] == NULL)
				die("out of memory");
			queue.to[queue.n++] = rd.msgs[i].to;
		}
		if (rd.soft_state_changed)
			n->leader = rd.role == RAFT_LEADER;
		if (rd.n_committed)
			n->committed_index = rd.committed[rd.n_committed - 1].index;
		raft_advance(n->raft, &rd);
	}
}

/* Delivers queued messages to live nodes; drops those to dead ones. */
static void deliver(void)
{
	for (size_t i = 0; i < queue.n; i++) {
		struct node *to = &nodes[queue.to[i] - 1];
		struct raft_msg m;
		if (!to->dead && raft_msg_decode(queue.buf[i], queue.len[i], &m) == 0) {
			raft_step(to->raft, &m);
			raft_msg_decoded_free(&m);
		}
		free(queue.buf[i]);
	}
	queue.n = 0;
}

/* One pass: ticks when a tick is due, then readies and deliveries. */
static void cycle(uint64_t *next_tick)
{
	if (bench_now_ns() >= *next_tick) {
		*next_tick += TICK_NS;
		for (int i = 0; i < NODES; i++)
			if (!nodes[i].dead)
				raft_tick(nodes[i].raft);
	}
	for (int i = 0; i < NODES; i++)
		if (!nodes[i].dead)
			node_ready(&nodes[i]);
	deliver();
	usleep(200);
}

static struct node *live_leader(void)
{
	for (int i = 0; i < NODES; i++)
		if (!nodes[i].dead && nodes[i].leader)
			return &nodes[i];
	return NULL;
}

/* Proposes on the leader until one write is committed there; returns the
 * time it was seen committed. */
static uint64_t commit_one_write(uint64_t *next_tick, uint64_t deadline)
{
	static uint8_t payload[1024];
	uint64_t index = 0, term = 0;
	struct node *l = NULL;
	while (bench_now_ns() < deadline) {
		struct node *cur = live_leader();
		if (cur && (cur != l || index == 0)) {
			l = cur;
			payload[0]++;
			if (raft_propose(l->raft, payload, sizeof(payload), &index, &term) != 0)
				index = 0;
		}
		cycle(next_tick);
		if (l && index && !l->dead && l->committed_index >= index)
			return bench_now_ns();
	}
	die("no write committed within the deadline");
	return 0;
}

int main(int argc, char **argv)
{
	int trials = 20;
	const char *base = "/var/tmp";
	char err[600];
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--trials") == 0)
			trials = atoi(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--dir") == 0)
			base = argv[++i];
		else
			die("usage: raft-failover [--trials N] [--dir DIR]");
	}
	if (trials < 1 || trials > 1000)
		die("--trials must be 1..1000");
	for (int i = 0; i < NODES; i++) {
		nodes[i].id = (uint64_t)i + 1;
		nodes[i].rand_state = bench_now_ns() ^ (0x9e3779b97f4a7c15ull * nodes[i].id);
		if (bench_make_dir(nodes[i].dir, sizeof(nodes[i].dir), base,
				   "raft-failover", nodes[i].id, err, sizeof(err)) != 0)
			die(err);
		node_open(&nodes[i]);
	}
	uint64_t next_tick = bench_now_ns() + TICK_NS;
	uint64_t *ms = calloc((size_t)trials, sizeof(*ms));
	raft_campaign(nodes[0].raft);
	for (int t = 0; t < trials; t++) {
		commit_one_write(&next_tick, bench_now_ns() + 30 * 1000000000ull);
		struct node *old = live_leader();
		if (!old)
			die("no leader before the kill");
		node_kill(old);
		uint64_t killed = bench_now_ns();
		uint64_t done = commit_one_write(&next_tick, killed + 30 * 1000000000ull);
		ms[t] = (done - killed) / 1000000;
		printf("trial %2d: leader %" PRIu64 " killed, new leader %" PRIu64
		       " committed a write after %" PRIu64 " ms\n",
		       t + 1, old->id, live_leader()->id, ms[t]);
		node_open(old);
	}
	qsort(ms, (size_t)trials, sizeof(*ms), bench_cmp_u64);
	int over_2s = 0;
	for (int t = 0; t < trials; t++)
		over_2s += ms[t] >= 2000;
	printf("trials at or over 2 s: %d\n", over_2s);
	printf("failover, 3 managers, tick 50 ms, election %d-%d ticks, %d trials: "
	       "min %" PRIu64 " ms, p50 %" PRIu64 " ms, p99 %" PRIu64
	       " ms, max %" PRIu64 " ms\n",
	       ELECTION_TICKS, 2 * ELECTION_TICKS - 1, trials, ms[0],
	       ms[trials / 2], ms[(trials * 99) / 100], ms[trials - 1]);
	for (int i = 0; i < NODES; i++) {
		if (!nodes[i].dead)
			node_kill(&nodes[i]);
		if (bench_remove_dir(nodes[i].dir, err, sizeof(err)) != 0)
			fprintf(stderr, "raft-failover: %s\n", err);
	}
	free(ms);
	return 0;
}

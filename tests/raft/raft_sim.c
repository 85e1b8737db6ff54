/*
 * raft_sim.c: raft-sim, the deterministic cluster simulator that proves the
 * raft engine (core/raft/raft.c) and its wire codec (raft_codec.c).
 *
 * One process runs a whole cluster. Every node is a real engine plus a
 * simulated durable storage (hard state, snapshot, log) and a volatile
 * key-value state machine. A fake network (a queue of encoded messages with
 * delivery times) and a fake clock connect the nodes, and one seeded PRNG
 * decides everything, so a seed always replays exactly. Each step picks one
 * event: a clock tick, a message delivery, drop, duplication or delay, a
 * partition or heal, a crash (possibly in the middle of persisting a ready)
 * or restart, a stalled disk, a client write or linearizable read, a
 * membership change, a snapshot, a leadership transfer or a forced election.
 *
 * After every step the invariants are checked: election safety, log
 * matching, leader completeness, state machine safety, durability of
 * acknowledged writes, monotonic commit; and the rules they rest on, which
 * catch a bug long before it loses data: only entries of the leader's term
 * are committed by counting (Figure 8), a leader changes membership only
 * after committing in its term, a read index covers everything applied
 * before the read began, every vote and acknowledgement is durable when
 * sent, and every message survives the codec unchanged. Each seed ends with
 * a liveness phase (heal everything: a write must commit and reach every
 * voter within a bounded number of ticks) and a linearizability check of
 * the client history, key by key.
 *
 * State: everything belongs to one struct sim_world per seed, created and
 * freed by sim_run_seed(); sim_active points at it so that sim_fail() can
 * name the seed and step from anywhere.
 */
#include "raft.h"
#include "raft_le.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIM_MAX_IDS 40          /* node ids 1..SIM_MAX_IDS-1 within a seed */
#define SIM_POOL_EXTRA 2        /* live nodes allowed beyond the initial count */
#define SIM_MIN_VOTERS 3
#define SIM_MAX_VOTERS 7
#define SIM_KEYS 3
#define SIM_CLIENTS 5           /* random clients; one more drives liveness */
#define SIM_LIVENESS_CLIENT SIM_CLIENTS
#define SIM_VALUE_CAP 96        /* longest register value, NUL included */
#define SIM_TOKEN_CAP 24
#define SIM_DEFAULT_STEPS 3000
#define SIM_ELECTION_TICKS 10
#define SIM_READ_TIMEOUT (3 * SIM_ELECTION_TICKS)
#define SIM_WRITE_TIMEOUT (3 * SIM_ELECTION_TICKS)
#define SIM_LIVENESS_TICKS (50 * SIM_ELECTION_TICKS)
#define SIM_READY_LOOP_LIMIT 10000
#define SIM_FLUSH_LIMIT 100000
#define SIM_LIN_BUDGET 5000000

/* ------------------------------------------------------------------ */
/* Data structures                                                     */
/* ------------------------------------------------------------------ */

struct sim_rng {
	uint64_t s[4];
};

/* Durable storage of one node: survives crashes. ents[k] has index
 * base + 1 + k where base is the snapshot index (0 without snapshot). */
struct sim_storage {
	struct raft_hard_state hs;
	bool has_snap;
	struct raft_snapshot snap; /* data owned */
	struct raft_entry *ents;   /* data owned */
	size_t n_ents, cap_ents;
};

/* The replicated state machine: SIM_KEYS string registers. Volatile. */
struct sim_kv {
	uint64_t applied, applied_term;
	uint64_t chain; /* hash of every entry applied so far, in order */
	struct raft_conf conf;
	char values[SIM_KEYS][SIM_VALUE_CAP];
};

/* A linearizable read issued on a node, waiting for its read index and then
 * for the state machine to reach it. */
struct sim_read {
	uint64_t ctx;
	uint64_t op;
	bool has_index;
	uint64_t index;
};

enum sim_node_state {
	SIM_NODE_UNUSED = 0,
	SIM_NODE_UP,
	SIM_NODE_DOWN,
	SIM_NODE_RETIRED,
};

struct sim_node {
	uint64_t id;
	enum sim_node_state state;
	struct raft *r;
	struct sim_storage st;
	struct raft_conf bootstrap;
	struct sim_kv kv;
	struct sim_read *reads;
	size_t n_reads, cap_reads;
	bool dirty;        /* touched since the last invariant check */
	uint64_t stall_until; /* slow disk: no ready processed before then */
	bool ever_member;  /* appeared in a committed membership */
	bool removed;      /* a committed membership dropped it */
	uint64_t seen_commit, seen_term;
	uint64_t commit_checked;  /* commit agreement verified up to here */
	uint64_t leader_term, leader_checked; /* leader completeness progress */
	uint64_t vote_term, vote_for;         /* last vote granted on the wire */
	enum raft_role role;
	uint64_t leader;
};

struct sim_packet {
	uint64_t from, to, deliver_at;
	uint8_t *buf;
	size_t len;
};

/* What the cluster agreed on at one log index: the committed entry (known
 * from a node's commit index or from the first application) and the state
 * machine hash right after applying it. */
struct sim_record {
	bool known, applied;
	uint8_t type;
	uint64_t term, hash, commit_term, chain;
};

/* Log matching table: (index, term) -> content hash and previous term. */
struct sim_lm_slot {
	uint64_t index, term, hash, prev_term;
};

struct sim_conf_change {
	uint64_t index;
	struct raft_conf conf;
};

enum sim_op_kind {
	SIM_OP_SET = 's',
	SIM_OP_APPEND = 'a',
	SIM_OP_READ = 'r',
};

enum sim_op_status {
	SIM_OP_WAITING = 0, /* write not yet accepted by a leader */
	SIM_OP_PROPOSED,    /* write accepted at (index, term), outcome open */
	SIM_OP_READING,     /* read issued, not yet answered */
	SIM_OP_OK,          /* completed with a result */
	SIM_OP_FAILED,      /* definitely did not happen (or read given up) */
	SIM_OP_UNKNOWN,     /* write whose outcome never became known */
};

struct sim_op {
	uint32_t client;
	char kind;
	uint32_t key;
	char token[SIM_TOKEN_CAP]; /* write: the value written or appended */
	char *result;              /* read: the value returned */
	uint64_t invoke, complete; /* event clock */
	enum sim_op_status status;
	uint64_t index, term;      /* write: where the proposal landed */
	uint64_t node, ctx, deadline; /* read: where, context, give-up tick */
};

struct sim_client {
	uint64_t op; /* current op id (1-based), 0 when idle */
	uint64_t leader_guess;
};

struct sim_stats {
	uint64_t steps, commits, elections, snapshots, installs, conf_changes;
	uint64_t crashes, partitions, ticks, writes_ok, reads_ok;
};

struct sim_options {
	unsigned nodes;
	uint64_t first_seed, seeds;
	unsigned steps;
	bool verbose, single;
};

struct sim_world {
	uint64_t seed;
	const struct sim_options *opt;
	struct sim_rng rng;
	struct raft_config cfg;
	uint64_t step, now, clock;
	bool faults; /* false during the liveness phase */
	struct sim_node nodes[SIM_MAX_IDS];
	uint64_t next_id;
	struct sim_packet *pkts;
	size_t n_pkts, cap_pkts;
	uint64_t n_sent;
	bool blocked[SIM_MAX_IDS][SIM_MAX_IDS];
	bool partitioned;
	struct sim_record *recs; /* recs[index] */
	size_t cap_recs;
	uint64_t max_record;
	uint64_t max_applied; /* highest index applied by any node */
	struct sim_lm_slot *lm;
	size_t cap_lm, used_lm;
	uint64_t *leaders; /* leaders[term] */
	size_t cap_leaders;
	struct sim_conf_change *confs;
	size_t n_confs, cap_confs;
	struct raft_conf initial_conf;
	struct sim_op *ops;
	size_t n_ops, cap_ops;
	struct sim_client clients[SIM_CLIENTS + 1];
	uint64_t *ctx_node; /* ctx_node[ctx] = node that issued the read */
	size_t cap_ctx;
	uint64_t next_ctx;
	uint64_t liveness_op;
	uint64_t *open_writes; /* proposed writes whose index is not applied */
	size_t n_open, cap_open;
	struct sim_stats stats;
};

static struct sim_world *sim_active;

/* ------------------------------------------------------------------ */
/* Failure, tracing, memory                                            */
/* ------------------------------------------------------------------ */

static void sim_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void sim_fail(const char *fmt, ...)
{
	struct sim_world *w = sim_active;
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	fflush(stdout);
	if (!w) {
		fprintf(stderr, "raft-sim: %s\n", what);
		exit(1);
	}
	char steps[48] = "";
	if (w->opt->steps != SIM_DEFAULT_STEPS)
		snprintf(steps, sizeof steps, " --steps %u", w->opt->steps);
	printf("FAILED seed %" PRIu64 ": step %" PRIu64 " (tick %" PRIu64
	       "): %s (replay: raft-sim --nodes %u --seed %" PRIu64 "%s)\n",
	       w->seed, w->step, w->now, what, w->opt->nodes, w->seed, steps);
	fflush(stdout);
	exit(1);
}

static void sim_trace(const struct sim_world *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sim_trace(const struct sim_world *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->opt->verbose)
		return;
	printf("%6" PRIu64 " t%-4" PRIu64 " ", w->step, w->now);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void *sim_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		sim_fail("out of memory (%zu bytes)", size);
	return p;
}

/* Grows an array to hold at least `need` items, zero-filling new space. */
static void *sim_grow(void *items, size_t *cap, size_t need, size_t size)
{
	size_t new_cap = *cap ? *cap : 16;

	if (need <= *cap)
		return items;
	while (new_cap < need)
		new_cap *= 2;
	uint8_t *p = realloc(items, new_cap * size);
	if (!p)
		sim_fail("out of memory (%zu items)", new_cap);
	memset(p + *cap * size, 0, (new_cap - *cap) * size);
	*cap = new_cap;
	return p;
}

/* ------------------------------------------------------------------ */
/* PRNG (splitmix64 seeding, xoshiro256** stream) and hashing          */
/* ------------------------------------------------------------------ */

static uint64_t sim_rotl(uint64_t v, int k)
{
	return (v << k) | (v >> (64 - k));
}

static uint64_t sim_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void sim_rng_seed(struct sim_rng *g, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		g->s[i] = sim_splitmix64(&x);
}

static uint64_t sim_rng_next(struct sim_rng *g)
{
	uint64_t *s = g->s;
	uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = sim_rotl(s[3], 45);
	return result;
}

/* Engine randomness (election timeouts) comes from the same stream. */
static uint64_t sim_rand_cb(void *ctx)
{
	return sim_rng_next(ctx);
}

static uint64_t sim_below(struct sim_world *w, uint64_t n)
{
	return n ? sim_rng_next(&w->rng) % n : 0;
}

static bool sim_chance(struct sim_world *w, unsigned percent)
{
	return sim_below(w, 100) < percent;
}

static uint64_t sim_mix64(uint64_t x)
{
	return sim_splitmix64(&x);
}

static uint64_t sim_hash_bytes(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t sim_hash_str(const char *s)
{
	return sim_mix64(sim_hash_bytes(0xcbf29ce484222325ULL, s, strlen(s)));
}

static uint64_t sim_entry_hash(const struct raft_entry *e)
{
	uint64_t h = sim_hash_bytes(0xcbf29ce484222325ULL, &e->type, 1);

	if (e->len)
		h = sim_hash_bytes(h, e->data, e->len);
	return sim_mix64(h ^ e->len);
}

static uint64_t sim_chain_next(uint64_t chain, uint64_t term, uint64_t hash)
{
	return sim_mix64(chain ^ sim_mix64(term ^ sim_rotl(hash, 17)));
}

/* ------------------------------------------------------------------ */
/* Names and formatting for traces and failures                        */
/* ------------------------------------------------------------------ */

static const char *sim_msg_name(uint8_t type)
{
	static const char *const names[] = {
		"?", "APPEND", "APPEND_RESP", "VOTE", "VOTE_RESP", "PREVOTE",
		"PREVOTE_RESP", "HEARTBEAT", "HEARTBEAT_RESP", "SNAPSHOT",
		"SNAPSHOT_RESP", "TIMEOUT_NOW", "READ_INDEX", "READ_INDEX_RESP",
	};

	return type <= RAFT_MSG_TYPE_MAX ? names[type] : "?";
}

static const char *sim_role_name(enum raft_role role)
{
	switch (role) {
	case RAFT_FOLLOWER: return "follower";
	case RAFT_PRE_CANDIDATE: return "pre-candidate";
	case RAFT_CANDIDATE: return "candidate";
	case RAFT_LEADER: return "leader";
	}
	return "?";
}

static void sim_format_ids(char *buf, size_t len, const uint64_t *ids,
			   uint32_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%" PRIu64,
					 i ? "," : "", ids[i]);
}

static void sim_format_conf(char *buf, size_t len, const struct raft_conf *c)
{
	char voters[128], learners[128];

	sim_format_ids(voters, sizeof voters, c->voters,
		       c->n_voters <= RAFT_MAX_NODES ? c->n_voters : 0);
	sim_format_ids(learners, sizeof learners, c->learners,
		       c->n_learners <= RAFT_MAX_NODES ? c->n_learners : 0);
	snprintf(buf, len, "voters {%s} learners {%s}", voters, learners);
}

static void sim_trace_msg(const struct sim_world *w, const char *what,
			  const struct raft_msg *m)
{
	if (!w->opt->verbose)
		return;
	sim_trace(w,
		  "%s %" PRIu64 "->%" PRIu64 " %s term=%" PRIu64
		  " index=%" PRIu64 " log_term=%" PRIu64 " commit=%" PRIu64
		  " n=%" PRIu32 "%s%s ctx=%" PRIu64,
		  what, m->from, m->to, sim_msg_name(m->type), m->term,
		  m->index, m->log_term, m->commit, m->n_entries,
		  m->reject ? " reject" : "", m->transfer ? " transfer" : "",
		  m->context);
	if (m->type == RAFT_MSG_SNAPSHOT)
		sim_trace(w, "     snapshot %" PRIu64 " (term %" PRIu64
			  ") bytes %" PRIu64 "+%" PRIu32 " of %" PRIu64 "%s",
			  m->snap_meta.index, m->snap_meta.term,
			  m->snap_offset, m->snap_chunk_len, m->snap_total,
			  m->snap_done ? " done" : "");
}

/* ------------------------------------------------------------------ */
/* Membership helpers                                                  */
/* ------------------------------------------------------------------ */

static bool sim_ids_contain(const uint64_t *ids, uint32_t n, uint64_t id)
{
	for (uint32_t i = 0; i < n && i < RAFT_MAX_NODES; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool sim_conf_has_voter(const struct raft_conf *c, uint64_t id)
{
	return sim_ids_contain(c->voters, c->n_voters, id);
}

static bool sim_conf_has_learner(const struct raft_conf *c, uint64_t id)
{
	return sim_ids_contain(c->learners, c->n_learners, id);
}

static bool sim_ids_same_set(const uint64_t *a, uint32_t na,
			     const uint64_t *b, uint32_t nb)
{
	if (na != nb || na > RAFT_MAX_NODES)
		return false;
	for (uint32_t i = 0; i < na; i++)
		if (!sim_ids_contain(b, nb, a[i]))
			return false;
	return true;
}

static bool sim_conf_equal(const struct raft_conf *a, const struct raft_conf *b)
{
	return sim_ids_same_set(a->voters, a->n_voters, b->voters,
				b->n_voters) &&
	       sim_ids_same_set(a->learners, a->n_learners, b->learners,
				b->n_learners);
}

/* Membership as of `index`, from the committed conf entries seen so far. */
static const struct raft_conf *sim_conf_at(const struct sim_world *w,
					   uint64_t index)
{
	for (size_t i = w->n_confs; i > 0; i--)
		if (w->confs[i - 1].index <= index)
			return &w->confs[i - 1].conf;
	return &w->initial_conf;
}

/* ------------------------------------------------------------------ */
/* Nodes                                                               */
/* ------------------------------------------------------------------ */

static struct sim_node *sim_node_get(struct sim_world *w, uint64_t id)
{
	if (id == 0 || id >= SIM_MAX_IDS)
		return NULL;
	if (w->nodes[id].state == SIM_NODE_UNUSED)
		return NULL;
	return &w->nodes[id];
}

static struct sim_node *sim_node_up(struct sim_world *w, uint64_t id)
{
	struct sim_node *n = sim_node_get(w, id);

	return n && n->state == SIM_NODE_UP ? n : NULL;
}

static size_t sim_nodes_in_state(struct sim_world *w,
				 enum sim_node_state state, uint64_t *ids)
{
	size_t count = 0;

	for (uint64_t id = 1; id < w->next_id; id++)
		if (w->nodes[id].state == state)
			ids[count++] = id;
	return count;
}

static struct sim_node *sim_random_node(struct sim_world *w,
					enum sim_node_state state)
{
	uint64_t ids[SIM_MAX_IDS];
	size_t count = sim_nodes_in_state(w, state, ids);

	return count ? &w->nodes[ids[sim_below(w, count)]] : NULL;
}

/* ------------------------------------------------------------------ */
/* Global records: committed/applied history, log matching, leaders    */
/* ------------------------------------------------------------------ */

static struct sim_record *sim_record(struct sim_world *w, uint64_t index)
{
	w->recs = sim_grow(w->recs, &w->cap_recs, index + 1, sizeof *w->recs);
	if (index > w->max_record)
		w->max_record = index;
	return &w->recs[index];
}

static const struct sim_record *sim_record_peek(const struct sim_world *w,
						 uint64_t index)
{
	return index < w->cap_recs ? &w->recs[index] : NULL;
}

/* A node's commit index covers entry e: the cluster committed it. */
static void sim_record_commit(struct sim_world *w, const struct sim_node *n,
			      const struct raft_entry *e, uint64_t node_term)
{
	uint64_t hash = sim_entry_hash(e);
	struct sim_record *rec = sim_record(w, e->index);

	if (!rec->known) {
		rec->known = true;
		rec->term = e->term;
		rec->hash = hash;
		rec->type = e->type;
		rec->commit_term = node_term;
		return;
	}
	if (rec->term != e->term || rec->hash != hash)
		sim_fail("commit agreement: node %" PRIu64 " has committed "
			 "index %" PRIu64 " as an entry of term %" PRIu64
			 " (hash %016" PRIx64 ") but the cluster committed an "
			 "entry of term %" PRIu64 " (hash %016" PRIx64 ") there",
			 n->id, e->index, e->term, hash, rec->term, rec->hash);
}

static struct sim_lm_slot *sim_lm_slot(struct sim_lm_slot *table, size_t cap,
				       uint64_t index, uint64_t term)
{
	size_t mask = cap - 1;
	size_t i = sim_mix64(index * 0x9e3779b97f4a7c15ULL ^ term) & mask;

	while (table[i].index != 0 &&
	       (table[i].index != index || table[i].term != term))
		i = (i + 1) & mask;
	return &table[i];
}

static void sim_lm_resize(struct sim_world *w)
{
	size_t cap = w->cap_lm ? w->cap_lm * 2 : 1024;
	struct sim_lm_slot *table = calloc(cap, sizeof *table);

	if (!table)
		sim_fail("out of memory (log matching table)");
	for (size_t i = 0; i < w->cap_lm; i++)
		if (w->lm[i].index)
			*sim_lm_slot(table, cap, w->lm[i].index,
				     w->lm[i].term) = w->lm[i];
	free(w->lm);
	w->lm = table;
	w->cap_lm = cap;
}

/* Every entry that reaches any node's storage goes through here: one
 * (index, term) must always mean the same content after the same previous
 * term. By induction this is the log matching property. */
static void sim_lm_check(struct sim_world *w, const struct sim_node *n,
			 const struct raft_entry *e, uint64_t prev_term)
{
	uint64_t hash = sim_entry_hash(e);

	if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_NOOP)
		sim_fail("node %" PRIu64 " persists entry %" PRIu64
			 " with unknown type %u", n->id, e->index, e->type);
	if ((w->used_lm + 1) * 2 > w->cap_lm)
		sim_lm_resize(w);
	struct sim_lm_slot *slot = sim_lm_slot(w->lm, w->cap_lm, e->index,
					       e->term);
	if (slot->index == 0) {
		slot->index = e->index;
		slot->term = e->term;
		slot->hash = hash;
		slot->prev_term = prev_term;
		w->used_lm++;
		return;
	}
	if (slot->hash != hash)
		sim_fail("log matching: node %" PRIu64 " persists entry (index %"
			 PRIu64 ", term %" PRIu64 ") with content %016" PRIx64
			 " but another log holds a different entry %016" PRIx64
			 " at the same index and term",
			 n->id, e->index, e->term, hash, slot->hash);
	if (slot->prev_term != prev_term)
		sim_fail("log matching: node %" PRIu64 " holds entry (index %"
			 PRIu64 ", term %" PRIu64 ") after an entry of term %"
			 PRIu64 " but another log has it after term %" PRIu64,
			 n->id, e->index, e->term, prev_term, slot->prev_term);
}

static void sim_check_election(struct sim_world *w, const struct sim_node *n,
			       uint64_t term)
{
	w->leaders = sim_grow(w->leaders, &w->cap_leaders, term + 1,
			      sizeof *w->leaders);
	if (w->leaders[term] == n->id)
		return;
	if (w->leaders[term] != 0)
		sim_fail("election safety: nodes %" PRIu64 " and %" PRIu64
			 " are both leaders of term %" PRIu64,
			 w->leaders[term], n->id, term);
	w->leaders[term] = n->id;
	w->stats.elections++;
	sim_trace(w, "n%" PRIu64 " is leader of term %" PRIu64, n->id, term);
}

/* ------------------------------------------------------------------ */
/* Simulated durable storage                                           */
/* ------------------------------------------------------------------ */

static uint64_t sim_storage_base(const struct sim_storage *s)
{
	return s->has_snap ? s->snap.meta.index : 0;
}

static uint64_t sim_storage_last(const struct sim_storage *s)
{
	return sim_storage_base(s) + s->n_ents;
}

static bool sim_storage_term(const struct sim_storage *s, uint64_t index,
			     uint64_t *term)
{
	uint64_t base = sim_storage_base(s);

	if (index == base) {
		*term = s->has_snap ? s->snap.meta.term : 0;
		return true;
	}
	if (index < base || index > sim_storage_last(s))
		return false;
	*term = s->ents[index - base - 1].term;
	return true;
}

static void sim_storage_truncate(struct sim_storage *s, size_t keep)
{
	for (size_t k = keep; k < s->n_ents; k++)
		free(s->ents[k].data);
	if (keep < s->n_ents)
		s->n_ents = keep;
}

static void sim_storage_drop_prefix(struct sim_storage *s, size_t count)
{
	if (count > s->n_ents)
		count = s->n_ents;
	for (size_t k = 0; k < count; k++)
		free(s->ents[k].data);
	memmove(s->ents, s->ents + count,
		(s->n_ents - count) * sizeof *s->ents);
	s->n_ents -= count;
}

static void sim_storage_set_snapshot(struct sim_storage *s,
				     const struct raft_snapshot_meta *meta,
				     uint8_t *data, size_t len)
{
	free(s->snap.data);
	s->has_snap = true;
	s->snap.meta = *meta;
	s->snap.data = data;
	s->snap.len = len;
}

static void sim_storage_free(struct sim_storage *s)
{
	sim_storage_truncate(s, 0);
	free(s->ents);
	free(s->snap.data);
	memset(s, 0, sizeof *s);
}

static uint8_t *sim_copy_bytes(const void *data, size_t len)
{
	uint8_t *p = sim_xmalloc(len);

	if (len)
		memcpy(p, data, len);
	return p;
}

/* ready.snapshot: a complete snapshot received from the leader. Entries
 * after it survive only if the log holds the snapshot's last entry. */
static void sim_persist_snapshot(struct sim_world *w, struct sim_node *n,
				 const struct raft_snapshot *snap)
{
	struct sim_storage *s = &n->st;
	uint64_t index = snap->meta.index, term = 0;
	uint64_t base = sim_storage_base(s);

	if (index <= base && s->has_snap)
		sim_fail("node %" PRIu64 " was handed snapshot %" PRIu64
			 " to persist but already stores snapshot %" PRIu64,
			 n->id, index, base);
	if (sim_storage_term(s, index, &term) && term == snap->meta.term)
		sim_storage_drop_prefix(s, index - base);
	else
		sim_storage_truncate(s, 0);
	sim_storage_set_snapshot(s, &snap->meta,
				 sim_copy_bytes(snap->data, snap->len),
				 snap->len);
	sim_trace(w, "n%" PRIu64 " persists snapshot at %" PRIu64
		  " (term %" PRIu64 ", %zu bytes), storage last %" PRIu64,
		  n->id, index, snap->meta.term, snap->len,
		  sim_storage_last(s));
}

/* ready.entries: an entry at or below the stored last index replaces it and
 * everything after it. */
static void sim_persist_entries(struct sim_world *w, struct sim_node *n,
				const struct raft_entry *ents, uint32_t count)
{
	struct sim_storage *s = &n->st;
	uint64_t base = sim_storage_base(s);
	uint64_t first = ents[0].index;

	if (first <= base)
		sim_fail("node %" PRIu64 " was handed entry %" PRIu64
			 " to persist, inside its stored snapshot (index %"
			 PRIu64 ")", n->id, first, base);
	if (first > sim_storage_last(s) + 1)
		sim_fail("node %" PRIu64 " was handed entries from %" PRIu64
			 " to persist but its storage ends at %" PRIu64
			 " (gap)", n->id, first, sim_storage_last(s));
	sim_storage_truncate(s, first - base - 1);
	s->ents = sim_grow(s->ents, &s->cap_ents, s->n_ents + count,
			   sizeof *s->ents);
	for (uint32_t k = 0; k < count; k++) {
		const struct raft_entry *e = &ents[k];
		uint64_t prev_term = 0;

		if (e->index != first + k)
			sim_fail("node %" PRIu64 ": ready.entries are not "
				 "contiguous (%" PRIu64 " after %" PRIu64 ")",
				 n->id, e->index, first + k - 1);
		sim_storage_term(s, e->index - 1, &prev_term);
		if (e->term < prev_term)
			sim_fail("node %" PRIu64 ": log term goes down at "
				 "index %" PRIu64 " (%" PRIu64 " after %" PRIu64
				 ")", n->id, e->index, e->term, prev_term);
		sim_lm_check(w, n, e, prev_term);
		struct raft_entry *dst = &s->ents[s->n_ents++];
		*dst = *e;
		dst->data = sim_copy_bytes(e->data, e->len);
	}
}

static void sim_persist_hard_state(struct sim_world *w, struct sim_node *n,
				   const struct raft_hard_state *hs)
{
	const struct raft_hard_state *old = &n->st.hs;

	if (hs->term < old->term)
		sim_fail("node %" PRIu64 ": persisted term goes back from %"
			 PRIu64 " to %" PRIu64, n->id, old->term, hs->term);
	if (hs->term == old->term && old->vote != RAFT_NONE &&
	    hs->vote != old->vote)
		sim_fail("node %" PRIu64 " changes its persisted vote in term %"
			 PRIu64 " from %" PRIu64 " to %" PRIu64,
			 n->id, hs->term, old->vote, hs->vote);
	if (hs->commit < old->commit)
		sim_fail("node %" PRIu64 ": persisted commit goes back from %"
			 PRIu64 " to %" PRIu64, n->id, old->commit, hs->commit);
	n->st.hs = *hs;
	(void)w;
}

/* ------------------------------------------------------------------ */
/* Key-value state machine                                             */
/* ------------------------------------------------------------------ */

/* The register semantics, shared by the state machine and the
 * linearizability checker: set replaces, append adds ".token" (a value that
 * would overflow restarts from the token). */
static void sim_value_apply(char *value, char kind, const char *token)
{
	size_t vl = strlen(value), tl = strlen(token);

	if (kind == SIM_OP_SET || vl == 0 || vl + 1 + tl >= SIM_VALUE_CAP) {
		memcpy(value, token, tl + 1);
		return;
	}
	value[vl] = '.';
	memcpy(value + vl + 1, token, tl + 1);
}

/* Snapshot bytes: applied index, term, chain hash, then each value as a
 * 2-byte length and its bytes. Membership travels in the snapshot meta. */
static uint8_t *sim_kv_encode(const struct sim_kv *kv, size_t *len)
{
	uint8_t *buf = sim_xmalloc(24 + SIM_KEYS * (2 + SIM_VALUE_CAP));
	uint8_t *p = buf;

	raft_le_put64(p, kv->applied);
	raft_le_put64(p + 8, kv->applied_term);
	raft_le_put64(p + 16, kv->chain);
	p += 24;
	for (int k = 0; k < SIM_KEYS; k++) {
		size_t vl = strlen(kv->values[k]);
		*p++ = (uint8_t)(vl & 0xff);
		*p++ = (uint8_t)(vl >> 8);
		memcpy(p, kv->values[k], vl);
		p += vl;
	}
	*len = (size_t)(p - buf);
	return buf;
}

static bool sim_kv_decode(const uint8_t *buf, size_t len, struct sim_kv *kv)
{
	size_t off = 24;

	memset(kv, 0, sizeof *kv);
	if (len < off)
		return false;
	kv->applied = raft_le_get64(buf);
	kv->applied_term = raft_le_get64(buf + 8);
	kv->chain = raft_le_get64(buf + 16);
	for (int k = 0; k < SIM_KEYS; k++) {
		if (off + 2 > len)
			return false;
		size_t vl = buf[off] | ((size_t)buf[off + 1] << 8);
		off += 2;
		if (vl >= SIM_VALUE_CAP || off + vl > len)
			return false;
		memcpy(kv->values[k], buf + off, vl);
		kv->values[k][vl] = '\0';
		off += vl;
	}
	return off == len;
}

/* Loads a snapshot into the state machine after checking that it is
 * exactly the applied history up to its index. */
static void sim_kv_load_snapshot(struct sim_world *w, struct sim_node *n,
				 const struct raft_snapshot *snap,
				 const char *origin)
{
	uint64_t index = snap->meta.index;
	struct sim_kv kv;

	if (!sim_kv_decode(snap->data, snap->len, &kv))
		sim_fail("node %" PRIu64 ": %s snapshot at %" PRIu64
			 " (%zu bytes) does not decode", n->id, origin, index,
			 snap->len);
	if (kv.applied != index || kv.applied_term != snap->meta.term)
		sim_fail("node %" PRIu64 ": %s snapshot meta says (index %"
			 PRIu64 ", term %" PRIu64 ") but its data is the state "
			 "at (index %" PRIu64 ", term %" PRIu64 ")", n->id,
			 origin, index, snap->meta.term, kv.applied,
			 kv.applied_term);
	const struct sim_record *rec = sim_record_peek(w, index);
	if (!rec || !rec->applied)
		sim_fail("node %" PRIu64 ": %s snapshot at %" PRIu64
			 " but no node ever applied that index", n->id, origin,
			 index);
	if (rec->term != snap->meta.term || rec->chain != kv.chain)
		sim_fail("node %" PRIu64 ": %s snapshot at %" PRIu64 " (term %"
			 PRIu64 ") is not the applied history (term %" PRIu64
			 ", state hash differs: %s)", n->id, origin, index,
			 snap->meta.term, rec->term,
			 rec->chain != kv.chain ? "yes" : "no");
	const struct raft_conf *want = sim_conf_at(w, index);
	if (!sim_conf_equal(&snap->meta.conf, want)) {
		char got_s[300], want_s[300];
		sim_format_conf(got_s, sizeof got_s, &snap->meta.conf);
		sim_format_conf(want_s, sizeof want_s, want);
		sim_fail("node %" PRIu64 ": %s snapshot at %" PRIu64
			 " carries membership %s but the log says %s", n->id,
			 origin, index, got_s, want_s);
	}
	kv.conf = snap->meta.conf;
	n->kv = kv;
}

static void sim_resolve_writes(struct sim_world *w, uint64_t index,
			       uint64_t term, uint64_t applied_op);

static void sim_on_conf_committed(struct sim_world *w, uint64_t index,
				  const struct raft_conf *conf)
{
	char buf[300];

	w->confs = sim_grow(w->confs, &w->cap_confs, w->n_confs + 1,
			    sizeof *w->confs);
	w->confs[w->n_confs].index = index;
	w->confs[w->n_confs].conf = *conf;
	w->n_confs++;
	w->stats.conf_changes++;
	for (uint64_t id = 1; id < w->next_id; id++) {
		struct sim_node *n = &w->nodes[id];
		bool member = sim_conf_has_voter(conf, id) ||
			      sim_conf_has_learner(conf, id);
		if (member)
			n->ever_member = true;
		else if (n->ever_member)
			n->removed = true;
	}
	sim_format_conf(buf, sizeof buf, conf);
	sim_trace(w, "membership committed at %" PRIu64 ": %s", index, buf);
}

/* A normal entry's payload: "<kind> <op id> <key> <token>". */
struct sim_cmd {
	char kind;
	uint64_t op;
	uint32_t key;
	char token[SIM_TOKEN_CAP];
};

static bool sim_cmd_parse(const struct raft_entry *e, struct sim_cmd *cmd)
{
	char text[96];
	unsigned key;
	int used = 0;

	if (e->len == 0 || e->len >= sizeof text)
		return false;
	memcpy(text, e->data, e->len);
	text[e->len] = '\0';
	if (sscanf(text, "%c %" SCNu64 " %u %23s%n", &cmd->kind, &cmd->op,
		   &key, cmd->token, &used) != 4 || (size_t)used != e->len)
		return false;
	cmd->key = key;
	return (cmd->kind == SIM_OP_SET || cmd->kind == SIM_OP_APPEND) &&
	       key < SIM_KEYS && cmd->op > 0;
}

/* The first time any node applies an index: the cluster's history grows. */
static void sim_on_first_apply(struct sim_world *w, const struct raft_entry *e,
			       const struct sim_cmd *cmd, const struct sim_kv *kv)
{
	w->stats.commits++;
	w->max_applied = e->index;
	if (e->type == RAFT_ENTRY_CONF)
		sim_on_conf_committed(w, e->index, &kv->conf);
	sim_resolve_writes(w, e->index, e->term, cmd ? cmd->op : 0);
}

static void sim_record_apply(struct sim_world *w, struct sim_node *n,
			     const struct raft_entry *e, uint64_t hash,
			     uint64_t chain, bool *first)
{
	struct sim_record *rec = sim_record(w, e->index);

	*first = false;
	if (rec->known && (rec->term != e->term || rec->hash != hash))
		sim_fail("state machine safety: node %" PRIu64 " applies an "
			 "entry of term %" PRIu64 " (hash %016" PRIx64
			 ") at index %" PRIu64 " but the committed entry there "
			 "has term %" PRIu64 " (hash %016" PRIx64 ")",
			 n->id, e->term, hash, e->index, rec->term, rec->hash);
	if (!rec->known) {
		rec->known = true;
		rec->term = e->term;
		rec->hash = hash;
		rec->type = e->type;
		rec->commit_term = n->st.hs.term;
	}
	if (!rec->applied) {
		rec->applied = true;
		rec->chain = chain;
		*first = true;
	} else if (rec->chain != chain) {
		sim_fail("state machine safety: node %" PRIu64 " reaches index %"
			 PRIu64 " with a state that differs from the other "
			 "nodes' (applied history hash mismatch)", n->id,
			 e->index);
	}
}

static void sim_kv_apply(struct sim_world *w, struct sim_node *n,
			 const struct raft_entry *e)
{
	struct sim_kv *kv = &n->kv;
	struct sim_cmd cmd;
	uint64_t stored_term = 0;
	bool first;

	if (e->index != kv->applied + 1)
		sim_fail("node %" PRIu64 " is handed committed entry %" PRIu64
			 " but has applied up to %" PRIu64, n->id, e->index,
			 kv->applied);
	if (e->term < kv->applied_term)
		sim_fail("node %" PRIu64 ": committed entry %" PRIu64
			 " has term %" PRIu64 " below the previous one's %"
			 PRIu64, n->id, e->index, e->term, kv->applied_term);
	if (!sim_storage_term(&n->st, e->index, &stored_term) ||
	    stored_term != e->term)
		sim_fail("node %" PRIu64 " applies entry %" PRIu64 " (term %"
			 PRIu64 ") that its storage does not hold", n->id,
			 e->index, e->term);
	bool is_cmd = e->type == RAFT_ENTRY_NORMAL;
	if (is_cmd && !sim_cmd_parse(e, &cmd))
		sim_fail("node %" PRIu64 " applies a normal entry at %" PRIu64
			 " that no client wrote (%" PRIu32 " bytes)", n->id,
			 e->index, e->len);
	if (e->type == RAFT_ENTRY_CONF &&
	    raft_conf_decode(e->data, e->len, &kv->conf) != 0)
		sim_fail("node %" PRIu64 ": membership entry %" PRIu64
			 " does not decode", n->id, e->index);
	if (e->type == RAFT_ENTRY_NOOP && e->len != 0)
		sim_fail("node %" PRIu64 ": no-op entry %" PRIu64 " carries %"
			 PRIu32 " bytes", n->id, e->index, e->len);
	if (is_cmd)
		sim_value_apply(kv->values[cmd.key], cmd.kind, cmd.token);

	uint64_t hash = sim_entry_hash(e);
	uint64_t chain = sim_chain_next(kv->chain, e->term, hash);
	sim_record_apply(w, n, e, hash, chain, &first);
	kv->applied = e->index;
	kv->applied_term = e->term;
	kv->chain = chain;
	if (first)
		sim_on_first_apply(w, e, is_cmd ? &cmd : NULL, kv);
}

/* ------------------------------------------------------------------ */
/* Client operations and reads                                         */
/* ------------------------------------------------------------------ */

static struct sim_op *sim_op_get(struct sim_world *w, uint64_t id)
{
	if (id == 0 || id > w->n_ops)
		sim_fail("internal: no client operation %" PRIu64, id);
	return &w->ops[id - 1];
}

static uint64_t sim_op_new(struct sim_world *w, uint32_t client, char kind)
{
	w->ops = sim_grow(w->ops, &w->cap_ops, w->n_ops + 1, sizeof *w->ops);
	struct sim_op *op = &w->ops[w->n_ops++];
	op->client = client;
	op->kind = kind;
	op->key = (uint32_t)sim_below(w, SIM_KEYS);
	op->invoke = ++w->clock;
	op->complete = UINT64_MAX;
	op->status = kind == SIM_OP_READ ? SIM_OP_READING : SIM_OP_WAITING;
	snprintf(op->token, sizeof op->token, "c%" PRIu32 "n%zu", client,
		 w->n_ops);
	return w->n_ops;
}

static void sim_op_finish(struct sim_world *w, struct sim_op *op,
			  enum sim_op_status status)
{
	op->status = status;
	if (status == SIM_OP_OK)
		op->complete = ++w->clock;
	if (w->clients[op->client].op == (uint64_t)(op - w->ops) + 1)
		w->clients[op->client].op = 0;
}

/* Index `index` was applied for the first time: writes proposed there are
 * decided. The applied entry must be the op's own proposal, unchanged. */
static void sim_resolve_writes(struct sim_world *w, uint64_t index,
			       uint64_t term, uint64_t applied_op)
{
	if (applied_op) {
		if (applied_op > w->n_ops)
			sim_fail("index %" PRIu64 " applies unknown client "
				 "operation %" PRIu64, index, applied_op);
		struct sim_op *op = sim_op_get(w, applied_op);
		bool open = op->status == SIM_OP_PROPOSED ||
			    op->status == SIM_OP_UNKNOWN;
		if (!open || op->index != index || op->term != term)
			sim_fail("client write %" PRIu64 " (status %d, proposed"
				 " at index %" PRIu64 " term %" PRIu64
				 ") is applied at index %" PRIu64 " term %"
				 PRIu64, applied_op, (int)op->status,
				 op->index, op->term, index, term);
		sim_op_finish(w, op, SIM_OP_OK);
		sim_trace(w, "client %" PRIu32 " write %" PRIu64 " k%" PRIu32
			  " %c %s acknowledged at %" PRIu64, op->client,
			  applied_op, op->key, op->kind, op->token, index);
	}
	size_t k = 0;
	while (k < w->n_open) {
		uint64_t id = w->open_writes[k];
		struct sim_op *op = sim_op_get(w, id);
		if (op->index != index) {
			k++;
			continue;
		}
		if (id != applied_op) {
			sim_op_finish(w, op, SIM_OP_FAILED);
			sim_trace(w, "client %" PRIu32 " write %" PRIu64
				  " lost its slot %" PRIu64, op->client, id,
				  index);
		}
		w->open_writes[k] = w->open_writes[--w->n_open];
	}
}

static void sim_read_remove(struct sim_node *n, size_t k)
{
	n->reads[k] = n->reads[n->n_reads - 1];
	n->n_reads--;
}

static void sim_read_abandon(struct sim_world *w, struct sim_op *op)
{
	struct sim_node *n = sim_node_get(w, op->node);

	for (size_t k = 0; n && k < n->n_reads; k++) {
		if (n->reads[k].ctx == op->ctx) {
			sim_read_remove(n, k);
			break;
		}
	}
	sim_op_finish(w, op, SIM_OP_FAILED);
}

/* Clients give up on reads and writes that take too long and try another
 * node next; a given-up write stays open (it may still be applied). */
static void sim_expire_ops(struct sim_world *w)
{
	for (int c = 0; c < SIM_CLIENTS; c++) {
		uint64_t id = w->clients[c].op;
		if (id == 0)
			continue;
		struct sim_op *op = sim_op_get(w, id);
		if (op->deadline >= w->now)
			continue;
		if (op->status == SIM_OP_READING) {
			sim_trace(w, "client %d gives up read ctx %" PRIu64
				  " on n%" PRIu64, c, op->ctx, op->node);
			sim_read_abandon(w, op);
			w->clients[c].leader_guess = RAFT_NONE;
		} else if (op->status == SIM_OP_PROPOSED) {
			sim_trace(w, "client %d gives up waiting for write %"
				  PRIu64 " (index %" PRIu64 ")", c, id,
				  op->index);
			sim_op_finish(w, op, SIM_OP_UNKNOWN);
			w->clients[c].leader_guess = RAFT_NONE;
		}
	}
}

/* ready.reads: the read with this context may be served at rs->index. */
static void sim_read_index_known(struct sim_world *w, struct sim_node *n,
				 const struct raft_read_state *rs)
{
	if (rs->context == 0 || rs->context > w->next_ctx ||
	    w->ctx_node[rs->context] != n->id)
		sim_fail("node %" PRIu64 " completes read context %" PRIu64
			 " that it never issued", n->id, rs->context);
	for (size_t k = 0; k < n->n_reads; k++) {
		struct sim_read *rd = &n->reads[k];
		if (rd->ctx == rs->context && !rd->has_index) {
			const struct sim_op *op = sim_op_get(w, rd->op);
			if (rs->index < op->index)
				sim_fail("stale read index: node %" PRIu64
					 " gets read index %" PRIu64 " for read "
					 "ctx %" PRIu64 " but index %" PRIu64
					 " was applied before the read began",
					 n->id, rs->index, rs->context,
					 op->index);
			rd->has_index = true;
			rd->index = rs->index;
			sim_trace(w, "n%" PRIu64 " read ctx %" PRIu64
				  " gets read index %" PRIu64, n->id,
				  rs->context, rs->index);
			return;
		}
	}
	sim_trace(w, "n%" PRIu64 " read ctx %" PRIu64 " completes again or "
		  "after its client gave up (ignored)", n->id, rs->context);
}

/* Answers every read whose index the state machine has reached. */
static void sim_serve_reads(struct sim_world *w, struct sim_node *n)
{
	size_t k = 0;

	while (k < n->n_reads) {
		struct sim_read *rd = &n->reads[k];
		if (!rd->has_index || rd->index > n->kv.applied) {
			k++;
			continue;
		}
		struct sim_op *op = sim_op_get(w, rd->op);
		if (op->status == SIM_OP_READING) {
			free(op->result);
			op->result = (char *)sim_copy_bytes(
				n->kv.values[op->key],
				strlen(n->kv.values[op->key]) + 1);
			sim_op_finish(w, op, SIM_OP_OK);
			sim_trace(w, "client %" PRIu32 " read k%" PRIu32
				  " = '%s' on n%" PRIu64 " (read index %"
				  PRIu64 ", applied %" PRIu64 ")", op->client,
				  op->key, op->result, n->id, rd->index,
				  n->kv.applied);
		}
		sim_read_remove(n, k);
	}
}

/* ------------------------------------------------------------------ */
/* Network                                                             */
/* ------------------------------------------------------------------ */

static void sim_packet_remove(struct sim_world *w, size_t k)
{
	free(w->pkts[k].buf);
	w->pkts[k] = w->pkts[w->n_pkts - 1];
	w->n_pkts--;
}

static void sim_drop_packets_to(struct sim_world *w, uint64_t id)
{
	size_t k = 0;

	while (k < w->n_pkts) {
		if (w->pkts[k].to == id)
			sim_packet_remove(w, k);
		else
			k++;
	}
}

static bool sim_bytes_equal(const void *a, const void *b, size_t len)
{
	return len == 0 || memcmp(a, b, len) == 0;
}

/* Names the first field where a decoded message differs from the original,
 * or returns NULL when they are the same. */
static const char *sim_msg_diff(const struct raft_msg *a,
				const struct raft_msg *b)
{
	if (a->type != b->type) return "type";
	if (a->from != b->from) return "from";
	if (a->to != b->to) return "to";
	if (a->term != b->term) return "term";
	if (a->index != b->index) return "index";
	if (a->log_term != b->log_term) return "log_term";
	if (a->commit != b->commit) return "commit";
	if (a->reject != b->reject) return "reject";
	if (a->reject_hint != b->reject_hint) return "reject_hint";
	if (a->context != b->context) return "context";
	if (a->transfer != b->transfer) return "transfer";
	if (a->n_entries != b->n_entries) return "n_entries";
	for (uint32_t k = 0; k < a->n_entries; k++) {
		const struct raft_entry *x = &a->entries[k], *y = &b->entries[k];
		if (x->term != y->term || x->index != y->index ||
		    x->type != y->type || x->len != y->len ||
		    !sim_bytes_equal(x->data, y->data, x->len))
			return "entries";
	}
	const struct raft_snapshot_meta *sa = &a->snap_meta, *sb = &b->snap_meta;
	if (sa->index != sb->index || sa->term != sb->term)
		return "snap_meta";
	if (sa->conf.n_voters != sb->conf.n_voters ||
	    sa->conf.n_learners != sb->conf.n_learners ||
	    sa->conf.n_voters > RAFT_MAX_NODES ||
	    sa->conf.n_learners > RAFT_MAX_NODES ||
	    !sim_bytes_equal(sa->conf.voters, sb->conf.voters,
			     sa->conf.n_voters * sizeof(uint64_t)) ||
	    !sim_bytes_equal(sa->conf.learners, sb->conf.learners,
			     sa->conf.n_learners * sizeof(uint64_t)))
		return "snap_meta.conf";
	if (a->snap_offset != b->snap_offset) return "snap_offset";
	if (a->snap_total != b->snap_total) return "snap_total";
	if (a->snap_done != b->snap_done) return "snap_done";
	if (a->snap_chunk_len != b->snap_chunk_len) return "snap_chunk_len";
	if (!sim_bytes_equal(a->snap_chunk, b->snap_chunk, a->snap_chunk_len))
		return "snap_chunk";
	return NULL;
}

/* Every message is encoded; the bytes must decode back to the same message
 * and, one message in eight, a truncated copy must be refused. */
static uint8_t *sim_encode_checked(struct sim_world *w,
				   const struct raft_msg *m, size_t *len)
{
	struct raft_msg back;

	*len = raft_msg_encoded_size(m);
	uint8_t *buf = sim_xmalloc(*len);
	raft_msg_encode(m, buf);
	memset(&back, 0, sizeof back);
	if (raft_msg_decode(buf, *len, &back) != 0)
		sim_fail("codec: a %s from %" PRIu64 " (%zu bytes) does not "
			 "decode", sim_msg_name(m->type), m->from, *len);
	const char *diff = sim_msg_diff(m, &back);
	raft_msg_decoded_free(&back);
	if (diff)
		sim_fail("codec: a %s from %" PRIu64 " decodes with a "
			 "different %s", sim_msg_name(m->type), m->from, diff);
	if (++w->n_sent % 8 == 0 && *len > 0) {
		uint8_t *cut = sim_copy_bytes(buf, *len - 1);
		memset(&back, 0, sizeof back);
		int rc = raft_msg_decode(cut, *len - 1, &back);
		if (rc == 0)
			raft_msg_decoded_free(&back);
		free(cut);
		if (rc == 0)
			sim_fail("codec: a %s truncated to %zu of %zu bytes "
				 "still decodes", sim_msg_name(m->type),
				 *len - 1, *len);
	}
	return buf;
}

/* A message leaves node n: what it promises must already be durable. */
static void sim_check_promises(struct sim_world *w, struct sim_node *n,
			       const struct raft_msg *m)
{
	const struct sim_storage *s = &n->st;
	bool prevote = m->type == RAFT_MSG_PREVOTE ||
		       m->type == RAFT_MSG_PREVOTE_RESP;

	if (m->from != n->id || m->to == n->id || m->to == RAFT_NONE ||
	    m->to >= w->next_id)
		sim_fail("node %" PRIu64 " sends a %s from %" PRIu64 " to %"
			 PRIu64, n->id, sim_msg_name(m->type), m->from, m->to);
	if (!prevote && m->term > s->hs.term)
		sim_fail("node %" PRIu64 " sends a %s of term %" PRIu64
			 " before persisting that term (stored term %" PRIu64
			 ")", n->id, sim_msg_name(m->type), m->term, s->hs.term);
	/* A vote is durable once its term is stored with it, or once a later
	 * term is stored (the node can never return to that term). */
	if (m->type == RAFT_MSG_VOTE_RESP && !m->reject) {
		if (s->hs.term == m->term && s->hs.vote != m->to)
			sim_fail("node %" PRIu64 " grants its vote to %" PRIu64
				 " in term %" PRIu64 " without persisting it "
				 "(stored term %" PRIu64 ", vote %" PRIu64 ")",
				 n->id, m->to, m->term, s->hs.term, s->hs.vote);
		if (n->vote_term == m->term && n->vote_for != m->to)
			sim_fail("node %" PRIu64 " votes for both %" PRIu64
				 " and %" PRIu64 " in term %" PRIu64, n->id,
				 n->vote_for, m->to, m->term);
		n->vote_term = m->term;
		n->vote_for = m->to;
	}
	/* A SNAPSHOT_RESP with reject_hint > 0 acknowledges a chunk only. */
	bool acks_log = m->type == RAFT_MSG_APPEND_RESP ||
			(m->type == RAFT_MSG_SNAPSHOT_RESP &&
			 m->reject_hint == 0);
	if (!acks_log || m->reject)
		return;
	uint64_t stored_term = 0;
	if (m->index > sim_storage_last(s))
		sim_fail("node %" PRIu64 " acknowledges index %" PRIu64
			 " (%s, term %" PRIu64 ") but its storage ends at %"
			 PRIu64, n->id, m->index, sim_msg_name(m->type),
			 m->term, sim_storage_last(s));
	/* The leader of term T holds no entry of a later term: an ack in T
	 * for an index whose stored entry is newer speaks of another entry. */
	if (sim_storage_term(s, m->index, &stored_term) &&
	    stored_term > m->term)
		sim_fail("node %" PRIu64 " acknowledges index %" PRIu64
			 " (%s) in term %" PRIu64 " but stores an entry of "
			 "term %" PRIu64 " there", n->id, m->index,
			 sim_msg_name(m->type), m->term, stored_term);
}

static uint64_t sim_delay(struct sim_world *w)
{
	if (!w->faults)
		return sim_below(w, 2);
	uint64_t r = sim_below(w, 100);
	if (r < 85)
		return 0;
	if (r < 97)
		return 1;
	return 2 + sim_below(w, 2 * SIM_ELECTION_TICKS);
}

static void sim_send(struct sim_world *w, struct sim_node *n,
		     const struct raft_msg *m)
{
	size_t len;

	sim_check_promises(w, n, m);
	uint8_t *buf = sim_encode_checked(w, m, &len);
	sim_trace_msg(w, "send", m);
	if ((w->faults && sim_chance(w, 2)) || w->blocked[m->from][m->to]) {
		free(buf);
		return;
	}
	w->pkts = sim_grow(w->pkts, &w->cap_pkts, w->n_pkts + 1,
			   sizeof *w->pkts);
	struct sim_packet *p = &w->pkts[w->n_pkts++];
	p->from = m->from;
	p->to = m->to;
	p->deliver_at = w->now + sim_delay(w);
	p->buf = buf;
	p->len = len;
}

/* ------------------------------------------------------------------ */
/* The driving loop                                                    */
/* ------------------------------------------------------------------ */

static void sim_process_ready(struct sim_world *w, struct sim_node *n)
{
	struct raft_ready rd;

	raft_ready(n->r, &rd);
	n->dirty = true;
	if (rd.soft_state_changed)
		sim_trace(w, "n%" PRIu64 " is %s, leader %" PRIu64, n->id,
			  sim_role_name(rd.role), rd.leader);
	if (rd.snapshot)
		sim_persist_snapshot(w, n, rd.snapshot);
	if (rd.n_entries)
		sim_persist_entries(w, n, rd.entries, rd.n_entries);
	if (rd.hard_state_changed)
		sim_persist_hard_state(w, n, &rd.hard_state);
	for (uint32_t k = 0; k < rd.n_msgs; k++)
		sim_send(w, n, &rd.msgs[k]);
	for (uint32_t k = 0; k < rd.n_reads; k++)
		sim_read_index_known(w, n, &rd.reads[k]);
	sim_serve_reads(w, n);
	if (rd.snapshot) {
		if (rd.snapshot->meta.index <= n->kv.applied)
			sim_fail("node %" PRIu64 " is handed snapshot %" PRIu64
				 " to apply but already applied %" PRIu64,
				 n->id, rd.snapshot->meta.index,
				 n->kv.applied);
		sim_kv_load_snapshot(w, n, rd.snapshot, "received");
		w->stats.installs++;
		sim_serve_reads(w, n);
	}
	for (uint32_t k = 0; k < rd.n_committed; k++) {
		sim_kv_apply(w, n, &rd.committed[k]);
		if (n->n_reads)
			sim_serve_reads(w, n);
	}
	if (rd.n_committed)
		sim_trace(w, "n%" PRIu64 " applied %" PRIu64 "..%" PRIu64,
			  n->id, rd.committed[0].index, n->kv.applied);
	raft_advance(n->r, &rd);
}

static void sim_drain(struct sim_world *w, struct sim_node *n)
{
	for (int k = 0; raft_has_ready(n->r); k++) {
		if (k == SIM_READY_LOOP_LIMIT)
			sim_fail("node %" PRIu64 " keeps producing readies "
				 "(%d in a row)", n->id, k);
		sim_process_ready(w, n);
	}
}

/* After feeding a node, usually run its ready loop at once; sometimes leave
 * the ready pending (to be processed later, or lost in a crash). */
static void sim_maybe_drain(struct sim_world *w, struct sim_node *n)
{
	n->dirty = true;
	if (!w->faults) {
		sim_drain(w, n);
		return;
	}
	if (n->stall_until <= w->now && sim_chance(w, 85))
		sim_drain(w, n);
}

/* ------------------------------------------------------------------ */
/* Node lifecycle                                                      */
/* ------------------------------------------------------------------ */

static void sim_node_boot(struct sim_world *w, struct sim_node *n)
{
	struct raft_restore rs;
	struct raft_config cfg = w->cfg;
	struct raft_status st;
	char err[256] = "";

	memset(&rs, 0, sizeof rs);
	rs.hard_state = n->st.hs;
	rs.snapshot = n->st.has_snap ? &n->st.snap : NULL;
	rs.n_entries = (uint32_t)n->st.n_ents;
	rs.entries = n->st.ents;
	rs.bootstrap = n->bootstrap;
	cfg.id = n->id;
	n->r = raft_new(&cfg, &rs, err, sizeof err);
	if (!n->r)
		sim_fail("raft_new refuses node %" PRIu64 "'s own storage "
			 "(term %" PRIu64 ", commit %" PRIu64 ", snapshot %"
			 PRIu64 ", last %" PRIu64 "): %s", n->id, n->st.hs.term,
			 n->st.hs.commit, sim_storage_base(&n->st),
			 sim_storage_last(&n->st), err);
	memset(&n->kv, 0, sizeof n->kv);
	n->kv.conf = n->bootstrap;
	if (n->st.has_snap)
		sim_kv_load_snapshot(w, n, &n->st.snap, "stored");
	raft_status(n->r, &st);
	if (st.term < n->st.hs.term ||
	    (st.term == n->st.hs.term && st.vote != n->st.hs.vote))
		sim_fail("node %" PRIu64 " restarts with term %" PRIu64
			 " vote %" PRIu64 " but persisted term %" PRIu64
			 " vote %" PRIu64, n->id, st.term, st.vote,
			 n->st.hs.term, n->st.hs.vote);
	if (st.commit < n->st.hs.commit)
		sim_fail("node %" PRIu64 " restarts with commit %" PRIu64
			 " below its persisted commit %" PRIu64, n->id,
			 st.commit, n->st.hs.commit);
	n->state = SIM_NODE_UP;
	n->stall_until = 0;
	n->seen_commit = st.commit;
	n->seen_term = st.term;
	n->commit_checked = sim_storage_base(&n->st);
	n->leader_term = 0;
	n->leader_checked = 0;
	n->role = st.role;
	n->leader = st.leader;
	n->dirty = true;
}

static void sim_node_create(struct sim_world *w, uint64_t id,
			    const struct raft_conf *bootstrap)
{
	struct sim_node *n = &w->nodes[id];

	memset(n, 0, sizeof *n);
	n->id = id;
	n->bootstrap = *bootstrap;
	if (id >= w->next_id)
		w->next_id = id + 1;
	sim_node_boot(w, n);
}

/* The node stops: engine memory and unpersisted state are gone. */
static void sim_node_stop(struct sim_world *w, struct sim_node *n,
			  enum sim_node_state state)
{
	if (n->r)
		raft_free(n->r);
	n->r = NULL;
	n->state = state;
	sim_drop_packets_to(w, n->id);
	for (int c = 0; c <= SIM_CLIENTS; c++) {
		uint64_t id = w->clients[c].op;
		if (id == 0)
			continue;
		struct sim_op *op = sim_op_get(w, id);
		if (op->status == SIM_OP_READING && op->node == n->id)
			sim_read_abandon(w, op);
	}
	n->n_reads = 0;
}

/* Crash: either between readies, or in the middle of persisting one (a
 * prefix of snapshot, entries, hard state reached the disk; nothing was
 * sent or applied). */
static void sim_node_crash(struct sim_world *w, struct sim_node *n)
{
	unsigned persisted = 0, total = 0;

	if (raft_has_ready(n->r) && sim_chance(w, 60)) {
		struct raft_ready rd;
		raft_ready(n->r, &rd);
		total = (rd.snapshot ? 1u : 0u) + rd.n_entries +
			(rd.hard_state_changed ? 1u : 0u);
		unsigned cut = (unsigned)sim_below(w, total + 1);
		if (rd.snapshot && persisted < cut) {
			sim_persist_snapshot(w, n, rd.snapshot);
			persisted++;
		}
		uint32_t ents = rd.n_entries;
		if (ents > cut - persisted)
			ents = cut - persisted;
		if (ents)
			sim_persist_entries(w, n, rd.entries, ents);
		persisted += ents;
		if (rd.hard_state_changed && persisted < cut) {
			sim_persist_hard_state(w, n, &rd.hard_state);
			persisted++;
		}
	}
	sim_trace(w, "n%" PRIu64 " crashes (persisted %u of %u pending "
		  "writes)", n->id, persisted, total);
	sim_node_stop(w, n, SIM_NODE_DOWN);
	w->stats.crashes++;
}

static void sim_node_retire(struct sim_world *w, struct sim_node *n)
{
	sim_trace(w, "n%" PRIu64 " retires (removed from the cluster)", n->id);
	sim_node_stop(w, n, SIM_NODE_RETIRED);
	sim_storage_free(&n->st);
	free(n->reads);
	n->reads = NULL;
	n->cap_reads = 0;
}

/* ------------------------------------------------------------------ */
/* Invariant checks after every step                                   */
/* ------------------------------------------------------------------ */

/* Leader completeness: a leader of term T holds every entry that was
 * committed in a term below T. Checked incrementally per leadership. */
static void sim_check_leader_log(struct sim_world *w, struct sim_node *n,
				 const struct raft_status *st)
{
	if (n->leader_term != st->term) {
		n->leader_term = st->term;
		n->leader_checked = 0;
	}
	for (uint64_t i = n->leader_checked + 1; i <= w->max_record; i++) {
		const struct sim_record *rec = &w->recs[i];
		if (!rec->known || rec->commit_term >= st->term)
			continue;
		if (i > st->last_index)
			sim_fail("leader completeness: node %" PRIu64 ", leader"
				 " of term %" PRIu64 ", lacks index %" PRIu64
				 " committed in term %" PRIu64 " (its log ends "
				 "at %" PRIu64 ")", n->id, st->term, i,
				 rec->commit_term, st->last_index);
		const struct raft_entry *e = raft_log_entry(n->r, i);
		if (!e)
			continue; /* inside its snapshot */
		if (e->term != rec->term || sim_entry_hash(e) != rec->hash)
			sim_fail("leader completeness: node %" PRIu64 ", leader"
				 " of term %" PRIu64 ", holds an entry of term %"
				 PRIu64 " at index %" PRIu64 " where an entry "
				 "of term %" PRIu64 " was committed", n->id,
				 st->term, e->term, i, rec->term);
	}
	n->leader_checked = w->max_record;
}

static void sim_check_commit(struct sim_world *w, struct sim_node *n,
			     const struct raft_status *st)
{
	if (st->commit < n->seen_commit)
		sim_fail("node %" PRIu64 "'s commit goes back from %" PRIu64
			 " to %" PRIu64 " without a restart", n->id,
			 n->seen_commit, st->commit);
	if (st->commit > st->last_index)
		sim_fail("node %" PRIu64 " has commit %" PRIu64 " beyond its "
			 "last index %" PRIu64, n->id, st->commit,
			 st->last_index);
	n->seen_commit = st->commit;
	uint64_t i = n->commit_checked + 1;
	if (i < st->first_index)
		i = st->first_index;
	for (; i <= st->commit; i++) {
		const struct raft_entry *e = raft_log_entry(n->r, i);
		if (!e)
			sim_fail("node %" PRIu64 ": raft_log_entry(%" PRIu64
				 ") is NULL but its log holds %" PRIu64
				 "..%" PRIu64, n->id, i, st->first_index,
				 st->last_index);
		if (e->index != i)
			sim_fail("node %" PRIu64 ": raft_log_entry(%" PRIu64
				 ") returns entry %" PRIu64, n->id, i,
				 e->index);
		sim_record_commit(w, n, e, st->term);
	}
	if (st->commit > n->commit_checked)
		n->commit_checked = st->commit;
}

/* Figure 8 (raft paper 5.4.2): a leader advances its commit index only by
 * counting replicas of an entry of its own term. */
static void sim_check_commit_rule(const struct sim_node *n,
				  const struct raft_status *st)
{
	const struct raft_entry *e = raft_log_entry(n->r, st->commit);

	if (e && e->term != st->term)
		sim_fail("commit rule (Figure 8): node %" PRIu64 ", leader of "
			 "term %" PRIu64 ", moves its commit from %" PRIu64
			 " to %" PRIu64 ", an entry of term %" PRIu64 " (only "
			 "an entry of the leader's own term may be committed "
			 "by counting replicas)", n->id, st->term,
			 n->seen_commit, st->commit, e->term);
}

static void sim_check_node(struct sim_world *w, struct sim_node *n)
{
	struct raft_status st;

	raft_status(n->r, &st);
	if (st.id != n->id)
		sim_fail("node %" PRIu64 " reports id %" PRIu64, n->id, st.id);
	if (st.term < n->seen_term)
		sim_fail("node %" PRIu64 "'s term goes back from %" PRIu64
			 " to %" PRIu64, n->id, n->seen_term, st.term);
	bool was_leader = n->role == RAFT_LEADER && n->seen_term == st.term;
	n->seen_term = st.term;
	n->role = st.role;
	n->leader = st.leader;
	if (st.role == RAFT_LEADER) {
		if (st.leader != n->id)
			sim_fail("node %" PRIu64 " is leader of term %" PRIu64
				 " but names %" PRIu64 " as leader", n->id,
				 st.term, st.leader);
		sim_check_election(w, n, st.term);
		if (was_leader && st.commit > n->seen_commit)
			sim_check_commit_rule(n, &st);
	}
	sim_check_commit(w, n, &st);
	if (st.role == RAFT_LEADER)
		sim_check_leader_log(w, n, &st);
}

static void sim_check(struct sim_world *w)
{
	for (uint64_t id = 1; id < w->next_id; id++) {
		struct sim_node *n = &w->nodes[id];
		if (n->state != SIM_NODE_UP || !n->dirty)
			continue;
		n->dirty = false;
		sim_check_node(w, n);
	}
}

/* ------------------------------------------------------------------ */
/* Step actions                                                        */
/* ------------------------------------------------------------------ */

static void sim_deliver(struct sim_world *w, size_t k)
{
	struct sim_packet p = w->pkts[k];
	struct raft_msg m;

	w->pkts[k] = w->pkts[w->n_pkts - 1];
	w->n_pkts--;
	struct sim_node *n = sim_node_up(w, p.to);
	if (!n || w->blocked[p.from][p.to]) {
		free(p.buf);
		return;
	}
	memset(&m, 0, sizeof m);
	if (raft_msg_decode(p.buf, p.len, &m) != 0)
		sim_fail("codec: a message %" PRIu64 "->%" PRIu64 " that "
			 "encoded fine does not decode", p.from, p.to);
	if (m.to != p.to || m.from != p.from)
		sim_fail("codec: message %" PRIu64 "->%" PRIu64 " decodes as %"
			 PRIu64 "->%" PRIu64, p.from, p.to, m.from, m.to);
	sim_trace_msg(w, "recv", &m);
	int rc = raft_step(n->r, &m);
	uint8_t type = m.type;
	raft_msg_decoded_free(&m);
	free(p.buf);
	if (rc != 0)
		sim_fail("raft_step on node %" PRIu64 " refuses a %s from %"
			 PRIu64 ": %s", n->id, sim_msg_name(type), p.from,
			 raft_strerror(rc));
	sim_maybe_drain(w, n);
}

static size_t sim_count_due(const struct sim_world *w)
{
	size_t due = 0;

	for (size_t k = 0; k < w->n_pkts; k++)
		if (w->pkts[k].deliver_at <= w->now)
			due++;
	return due;
}

/* Delivers a random due message (so messages overtake each other). */
static void sim_deliver_random_due(struct sim_world *w, size_t due)
{
	size_t pick = sim_below(w, due);

	for (size_t k = 0; k < w->n_pkts; k++) {
		if (w->pkts[k].deliver_at > w->now)
			continue;
		if (pick-- == 0) {
			sim_deliver(w, k);
			return;
		}
	}
}

static void sim_action_tick(struct sim_world *w)
{
	w->now++;
	sim_expire_ops(w);
	for (uint64_t id = 1; id < w->next_id; id++) {
		struct sim_node *n = &w->nodes[id];
		if (n->state != SIM_NODE_UP)
			continue;
		if (w->faults && sim_chance(w, 8))
			continue; /* a slow clock skips a tick */
		raft_tick(n->r);
		sim_maybe_drain(w, n);
	}
}

static void sim_action_ready(struct sim_world *w)
{
	uint64_t ids[SIM_MAX_IDS];
	size_t count = 0;

	for (uint64_t id = 1; id < w->next_id; id++)
		if (w->nodes[id].state == SIM_NODE_UP &&
		    w->nodes[id].stall_until <= w->now &&
		    raft_has_ready(w->nodes[id].r))
			ids[count++] = id;
	if (count)
		sim_process_ready(w, &w->nodes[ids[sim_below(w, count)]]);
}

/* A slow disk: the node keeps receiving messages and ticks but processes
 * no ready (persists, sends, applies nothing) for a while. */
static void sim_action_stall(struct sim_world *w)
{
	struct sim_node *n = sim_random_node(w, SIM_NODE_UP);

	if (!n)
		return;
	n->stall_until = w->now + 1 + sim_below(w, 2 * SIM_ELECTION_TICKS);
	sim_trace(w, "n%" PRIu64 "'s disk stalls until t%" PRIu64, n->id,
		  n->stall_until);
}

static void sim_action_network_fault(struct sim_world *w, int kind)
{
	if (w->n_pkts == 0)
		return;
	size_t k = sim_below(w, w->n_pkts);
	struct sim_packet *p = &w->pkts[k];
	if (kind == 0) {
		sim_trace(w, "network drops a message %" PRIu64 "->%" PRIu64,
			  p->from, p->to);
		sim_packet_remove(w, k);
	} else if (kind == 1) {
		struct sim_packet copy = *p;
		copy.buf = sim_copy_bytes(p->buf, p->len);
		copy.deliver_at = w->now + sim_below(w, 4);
		sim_trace(w, "network duplicates a message %" PRIu64 "->%"
			  PRIu64, p->from, p->to);
		w->pkts = sim_grow(w->pkts, &w->cap_pkts, w->n_pkts + 1,
				   sizeof *w->pkts);
		w->pkts[w->n_pkts++] = copy;
	} else {
		p->deliver_at = w->now + 1 + sim_below(w, 2 * SIM_ELECTION_TICKS);
		sim_trace(w, "network delays a message %" PRIu64 "->%" PRIu64
			  " until t%" PRIu64, p->from, p->to, p->deliver_at);
	}
}

static void sim_heal(struct sim_world *w)
{
	memset(w->blocked, 0, sizeof w->blocked);
	if (w->partitioned)
		sim_trace(w, "network heals");
	w->partitioned = false;
}

static struct sim_node *sim_find_leader(struct sim_world *w,
					struct raft_status *out)
{
	struct sim_node *best = NULL;
	struct raft_status st;

	for (uint64_t id = 1; id < w->next_id; id++) {
		struct sim_node *n = &w->nodes[id];
		if (n->state != SIM_NODE_UP)
			continue;
		raft_status(n->r, &st);
		if (st.role == RAFT_LEADER && (!best || st.term > out->term)) {
			best = n;
			*out = st;
		}
	}
	return best;
}

static void sim_action_partition(struct sim_world *w)
{
	uint64_t ids[SIM_MAX_IDS];
	size_t count = sim_nodes_in_state(w, SIM_NODE_UP, ids);
	uint8_t side[SIM_MAX_IDS] = {0};
	struct raft_status st;
	uint64_t kind = sim_below(w, 10);

	if (count < 2)
		return;
	if (kind < 3) {
		uint64_t a = ids[sim_below(w, count)], b = ids[sim_below(w, count)];
		w->blocked[a][b] = a != b;
		sim_trace(w, "network drops everything %" PRIu64 "->%" PRIu64,
			  a, b);
	} else {
		struct sim_node *leader = sim_find_leader(w, &st);
		for (size_t i = 0; i < count; i++)
			side[ids[i]] = (uint8_t)sim_below(w, 2);
		if (kind < 6 && leader) {
			memset(side, 0, sizeof side);
			side[leader->id] = 1;
		}
		for (uint64_t a = 1; a < w->next_id; a++)
			for (uint64_t b = 1; b < w->next_id; b++)
				w->blocked[a][b] = side[a] != side[b];
		if (w->opt->verbose) {
			char buf[128];
			size_t used = 0;
			for (size_t i = 0; i < count && used < sizeof buf; i++)
				if (side[ids[i]])
					used += (size_t)snprintf(
						buf + used, sizeof buf - used,
						" %" PRIu64, ids[i]);
			buf[used < sizeof buf ? used : sizeof buf - 1] = '\0';
			sim_trace(w, "network partitions {%s } from the rest",
				  buf);
		}
	}
	w->partitioned = true;
	w->stats.partitions++;
}

static void sim_action_crash(struct sim_world *w)
{
	struct raft_status st;
	struct sim_node *n = sim_chance(w, 40) ? sim_find_leader(w, &st) : NULL;

	if (!n)
		n = sim_random_node(w, SIM_NODE_UP);

	if (n)
		sim_node_crash(w, n);
}

static void sim_action_restart(struct sim_world *w)
{
	struct sim_node *n = sim_random_node(w, SIM_NODE_DOWN);

	if (!n)
		return;
	sim_node_boot(w, n);
	sim_trace(w, "n%" PRIu64 " restarts (term %" PRIu64 ", commit %" PRIu64
		  ", snapshot %" PRIu64 ", last %" PRIu64 ")", n->id,
		  n->st.hs.term, n->st.hs.commit, sim_storage_base(&n->st),
		  sim_storage_last(&n->st));
}

/* A node the client may talk to: its guess of the leader, or any node. */
static struct sim_node *sim_client_target(struct sim_world *w,
					  struct sim_client *c, bool random)
{
	struct sim_node *n = random ? NULL : sim_node_up(w, c->leader_guess);

	if (!n)
		n = sim_random_node(w, SIM_NODE_UP);
	return n;
}

static void sim_client_update_guess(struct sim_world *w, struct sim_client *c,
				    struct sim_node *n)
{
	struct raft_status st;

	raft_status(n->r, &st);
	if (st.leader != RAFT_NONE && st.leader != n->id &&
	    sim_node_up(w, st.leader))
		c->leader_guess = st.leader;
	else
		c->leader_guess = RAFT_NONE;
}

/* Tries to get the client's pending write accepted by a leader. */
static void sim_client_propose(struct sim_world *w, uint32_t client)
{
	struct sim_client *c = &w->clients[client];
	char cmd[96];

	for (int attempt = 0; attempt < 3; attempt++) {
		struct sim_op *op = sim_op_get(w, c->op);
		struct sim_node *n = sim_client_target(w, c, false);
		if (!n)
			return;
		int len = snprintf(cmd, sizeof cmd, "%c %" PRIu64 " %" PRIu32
				   " %s", op->kind, c->op, op->key, op->token);
		uint64_t index = 0, term = 0;
		int rc = raft_propose(n->r, cmd, (size_t)len, &index, &term);
		n->dirty = true;
		if (rc == RAFT_OK) {
			op->status = SIM_OP_PROPOSED;
			op->index = index;
			op->term = term;
			op->node = n->id;
			op->deadline = w->now + SIM_WRITE_TIMEOUT;
			c->leader_guess = n->id;
			w->open_writes = sim_grow(w->open_writes, &w->cap_open,
						  w->n_open + 1,
						  sizeof *w->open_writes);
			w->open_writes[w->n_open++] = c->op;
			sim_trace(w, "client %" PRIu32 " write %" PRIu64 " k%"
				  PRIu32 " %c %s proposed on n%" PRIu64
				  " at %" PRIu64 " term %" PRIu64, client,
				  c->op, op->key, op->kind, op->token, n->id,
				  index, term);
			const struct sim_record *rec = sim_record_peek(w, index);
			if (rec && rec->applied)
				sim_resolve_writes(w, index, term, 0);
			sim_maybe_drain(w, n);
			return;
		}
		if (rc != RAFT_ENOTLEADER && rc != RAFT_ETRANSFER)
			sim_fail("raft_propose on node %" PRIu64 ": %s", n->id,
				 raft_strerror(rc));
		sim_trace(w, "client %" PRIu32 " write refused by n%" PRIu64
			  ": %s", client, n->id, raft_strerror(rc));
		if (rc == RAFT_ETRANSFER)
			return;
		sim_client_update_guess(w, c, n);
	}
}

static void sim_action_write(struct sim_world *w)
{
	uint32_t client = (uint32_t)sim_below(w, SIM_CLIENTS);
	struct sim_client *c = &w->clients[client];

	if (c->op == 0) {
		c->op = sim_op_new(w, client, sim_chance(w, 50) ? SIM_OP_SET
							     : SIM_OP_APPEND);
	}
	if (sim_op_get(w, c->op)->status == SIM_OP_WAITING)
		sim_client_propose(w, client);
}

static void sim_action_read(struct sim_world *w)
{
	uint32_t client = (uint32_t)sim_below(w, SIM_CLIENTS);
	struct sim_client *c = &w->clients[client];

	if (c->op != 0)
		return;
	struct sim_node *n = sim_client_target(w, c, sim_chance(w, 50));
	if (!n)
		return;
	uint64_t id = sim_op_new(w, client, SIM_OP_READ);
	uint64_t ctx = ++w->next_ctx;
	w->ctx_node = sim_grow(w->ctx_node, &w->cap_ctx, ctx + 1,
			       sizeof *w->ctx_node);
	w->ctx_node[ctx] = n->id;
	struct sim_op *op = sim_op_get(w, id);
	op->node = n->id;
	op->ctx = ctx;
	op->index = w->max_applied; /* the read index may not be lower */
	op->deadline = w->now + SIM_READ_TIMEOUT;
	int rc = raft_read_index(n->r, ctx);
	n->dirty = true;
	if (rc != RAFT_OK) {
		sim_trace(w, "client %" PRIu32 " read refused by n%" PRIu64
			  ": %s", client, n->id, raft_strerror(rc));
		op->status = SIM_OP_FAILED;
		if (rc == RAFT_ENOTLEADER)
			sim_client_update_guess(w, c, n);
		return;
	}
	c->op = id;
	n->reads = sim_grow(n->reads, &n->cap_reads, n->n_reads + 1,
			    sizeof *n->reads);
	n->reads[n->n_reads++] = (struct sim_read){ .ctx = ctx, .op = id };
	sim_trace(w, "client %" PRIu32 " read k%" PRIu32 " on n%" PRIu64
		  " ctx %" PRIu64, client, op->key, n->id, ctx);
	sim_maybe_drain(w, n);
}

/* Single-server membership changes are safe only if a leader appends a
 * membership entry after committing an entry of its own term (raft
 * dissertation 4.1 errata, Ongaro 2015); otherwise an uncommitted change of
 * a previous leader and this one can have disjoint quorums. */
static void sim_check_conf_rule(const struct sim_node *leader,
				const struct raft_status *before,
				uint64_t index)
{
	const struct raft_entry *e = raft_log_entry(leader->r, before->commit);

	if (e && e->term != before->term) /* NULL: inside its snapshot */
		sim_fail("membership rule: node %" PRIu64 ", leader of term %"
			 PRIu64 ", appends a membership change at %" PRIu64
			 " before committing an entry of its term (commit %"
			 PRIu64 " is of term %" PRIu64 ")", leader->id,
			 before->term, index, before->commit, e->term);
}

static void sim_conf_change(struct sim_world *w, struct sim_node *leader,
			    enum raft_conf_change change, uint64_t node)
{
	static const char *const names[] = { "?", "add learner", "promote",
					      "remove", "demote" };
	struct raft_status st;
	uint64_t index = 0;

	raft_status(leader->r, &st);
	int rc = raft_propose_conf(leader->r, change, node, &index);
	leader->dirty = true;
	sim_trace(w, "n%" PRIu64 " proposes %s n%" PRIu64 ": %s (index %"
		  PRIu64 ")", leader->id, names[change], node,
		  raft_strerror(rc), index);
	if (rc == RAFT_ENOMEM)
		sim_fail("raft_propose_conf on node %" PRIu64 ": %s",
			 leader->id, raft_strerror(rc));
	if (rc != RAFT_OK)
		return;
	if (index > st.last_index)
		sim_check_conf_rule(leader, &st, index);
	sim_maybe_drain(w, leader);
}

/* Adds a learner: a spare node (created earlier, never a member) or a new
 * one, while the pool of live nodes stays bounded. */
static void sim_add_learner(struct sim_world *w, struct sim_node *leader)
{
	uint64_t live = 0, spare = 0;
	struct raft_conf empty;

	for (uint64_t id = 1; id < w->next_id; id++) {
		struct sim_node *n = &w->nodes[id];
		if (n->state == SIM_NODE_UP || n->state == SIM_NODE_DOWN) {
			live++;
			if (!n->ever_member && n->state == SIM_NODE_UP)
				spare = id;
		}
	}
	if (!spare) {
		if (live >= w->opt->nodes + SIM_POOL_EXTRA ||
		    w->next_id >= SIM_MAX_IDS)
			return;
		spare = w->next_id;
		memset(&empty, 0, sizeof empty);
		sim_node_create(w, spare, &empty);
		sim_trace(w, "n%" PRIu64 " starts with an empty membership",
			  spare);
	}
	sim_conf_change(w, leader, RAFT_CONF_ADD_LEARNER, spare);
}

static void sim_action_membership(struct sim_world *w)
{
	struct raft_status st;
	struct sim_node *leader = sim_find_leader(w, &st);

	for (uint64_t id = 1; id < w->next_id; id++) {
		struct sim_node *n = &w->nodes[id];
		if (n->removed && (n->state == SIM_NODE_UP ||
				   n->state == SIM_NODE_DOWN) &&
		    sim_chance(w, 50)) {
			sim_node_retire(w, n);
			return;
		}
	}
	if (!leader)
		return;
	const struct raft_conf *c = &st.conf;
	uint64_t kind = sim_below(w, 10);
	if (c->n_learners > 0 && kind < 5) {
		uint64_t learner = c->learners[sim_below(w, c->n_learners)];
		uint64_t match = 0;
		for (uint32_t k = 0; k < st.n_progress; k++)
			if (st.progress[k].id == learner)
				match = st.progress[k].match;
		if (kind == 0)
			sim_conf_change(w, leader, RAFT_CONF_REMOVE, learner);
		else if (c->n_voters < SIM_MAX_VOTERS && match + 3 >= st.commit)
			sim_conf_change(w, leader, RAFT_CONF_PROMOTE, learner);
	} else if (kind < 7 && c->n_learners == 0 &&
		   c->n_voters < SIM_MAX_VOTERS) {
		sim_add_learner(w, leader);
	} else if (c->n_voters > SIM_MIN_VOTERS) {
		uint64_t voter = c->voters[sim_below(w, c->n_voters)];
		sim_conf_change(w, leader, kind == 9 ? RAFT_CONF_DEMOTE
						     : RAFT_CONF_REMOVE, voter);
	}
}

static void sim_action_snapshot(struct sim_world *w)
{
	static const uint64_t keeps[] = { 0, 1, 4, 16, 64 };
	struct sim_node *n = sim_random_node(w, SIM_NODE_UP);
	size_t len;

	if (!n || n->stall_until > w->now)
		return;
	sim_drain(w, n); /* the application snapshots between readies */
	if (n->kv.applied <= sim_storage_base(&n->st))
		return;
	uint64_t keep = keeps[sim_below(w, 5)];
	uint8_t *data = sim_kv_encode(&n->kv, &len);
	int rc = raft_snapshot_taken(n->r, n->kv.applied, data, len, keep);
	n->dirty = true;
	if (rc != RAFT_OK) {
		struct raft_status st;
		raft_status(n->r, &st);
		free(data);
		sim_fail("raft_snapshot_taken(index %" PRIu64 ") on node %"
			 PRIu64 ": %s (engine: applied %" PRIu64 ", commit %"
			 PRIu64 ", snapshot %" PRIu64 ", log %" PRIu64 "..%"
			 PRIu64 ")", n->kv.applied, n->id, raft_strerror(rc),
			 st.applied, st.commit, st.snapshot_index,
			 st.first_index, st.last_index);
	}
	struct raft_snapshot_meta meta = {
		.index = n->kv.applied,
		.term = n->kv.applied_term,
		.conf = n->kv.conf,
	};
	sim_storage_drop_prefix(&n->st, n->kv.applied -
					   sim_storage_base(&n->st));
	sim_storage_set_snapshot(&n->st, &meta, data, len);
	w->stats.snapshots++;
	sim_trace(w, "n%" PRIu64 " snapshots at %" PRIu64 " (%zu bytes), "
		  "keeping %" PRIu64 " entries", n->id, meta.index, len, keep);
	sim_maybe_drain(w, n);
}

static void sim_action_transfer(struct sim_world *w)
{
	struct raft_status st;
	struct sim_node *leader = sim_find_leader(w, &st);

	if (!leader || st.conf.n_voters < 2)
		return;
	uint64_t to = st.conf.voters[sim_below(w, st.conf.n_voters)];
	if (to == leader->id)
		return;
	int rc = raft_transfer_leader(leader->r, to);
	leader->dirty = true;
	sim_trace(w, "n%" PRIu64 " transfers leadership to n%" PRIu64 ": %s",
		  leader->id, to, raft_strerror(rc));
	sim_maybe_drain(w, leader);
}

static void sim_action_campaign(struct sim_world *w)
{
	struct sim_node *n = sim_random_node(w, SIM_NODE_UP);

	if (!n)
		return;
	int rc = raft_campaign(n->r);
	n->dirty = true;
	sim_trace(w, "n%" PRIu64 " campaigns: %s", n->id, raft_strerror(rc));
	sim_maybe_drain(w, n);
}

enum sim_action {
	SIM_TICK,
	SIM_DELIVER,
	SIM_READY,
	SIM_DROP,
	SIM_DUPLICATE,
	SIM_DELAY,
	SIM_PARTITION,
	SIM_HEAL,
	SIM_CRASH,
	SIM_RESTART,
	SIM_WRITE,
	SIM_READ,
	SIM_MEMBERSHIP,
	SIM_SNAPSHOT,
	SIM_TRANSFER,
	SIM_CAMPAIGN,
	SIM_STALL,
	SIM_ACTION_COUNT,
};

static bool sim_any_ready(struct sim_world *w)
{
	for (uint64_t id = 1; id < w->next_id; id++)
		if (w->nodes[id].state == SIM_NODE_UP &&
		    w->nodes[id].stall_until <= w->now &&
		    raft_has_ready(w->nodes[id].r))
			return true;
	return false;
}

/* Weights per action; deliveries scale with the messages due so that the
 * network keeps up with the traffic. */
static void sim_action_weights(struct sim_world *w, unsigned *weight,
			       size_t due)
{
	uint64_t ids[SIM_MAX_IDS];
	bool any_down = sim_nodes_in_state(w, SIM_NODE_DOWN, ids) > 0;

	memset(weight, 0, SIM_ACTION_COUNT * sizeof *weight);
	weight[SIM_TICK] = 40;
	weight[SIM_DELIVER] = 100 * (unsigned)(due < 16 ? due : 16);
	weight[SIM_READY] = sim_any_ready(w) ? 150 : 0;
	if (w->n_pkts) {
		weight[SIM_DROP] = 3;
		weight[SIM_DUPLICATE] = 3;
		weight[SIM_DELAY] = 3;
	}
	weight[SIM_PARTITION] = w->partitioned ? 0 : 3;
	weight[SIM_HEAL] = w->partitioned ? 3 : 0;
	weight[SIM_CRASH] = 2;
	weight[SIM_RESTART] = any_down ? 5 : 0;
	weight[SIM_WRITE] = 40;
	weight[SIM_READ] = 25;
	weight[SIM_MEMBERSHIP] = 3;
	weight[SIM_SNAPSHOT] = 6;
	weight[SIM_TRANSFER] = 2;
	weight[SIM_CAMPAIGN] = 1;
	weight[SIM_STALL] = 4;
}

static void sim_random_step(struct sim_world *w)
{
	unsigned weight[SIM_ACTION_COUNT], total = 0;
	size_t due = sim_count_due(w);
	int action = 0;

	sim_action_weights(w, weight, due);
	for (int a = 0; a < SIM_ACTION_COUNT; a++)
		total += weight[a];
	uint64_t pick = sim_below(w, total);
	while (pick >= weight[action]) {
		pick -= weight[action];
		action++;
	}
	switch ((enum sim_action)action) {
	case SIM_TICK: sim_action_tick(w); break;
	case SIM_DELIVER: sim_deliver_random_due(w, due); break;
	case SIM_READY: sim_action_ready(w); break;
	case SIM_DROP: sim_action_network_fault(w, 0); break;
	case SIM_DUPLICATE: sim_action_network_fault(w, 1); break;
	case SIM_DELAY: sim_action_network_fault(w, 2); break;
	case SIM_PARTITION: sim_action_partition(w); break;
	case SIM_HEAL: sim_heal(w); break;
	case SIM_CRASH: sim_action_crash(w); break;
	case SIM_RESTART: sim_action_restart(w); break;
	case SIM_WRITE: sim_action_write(w); break;
	case SIM_READ: sim_action_read(w); break;
	case SIM_MEMBERSHIP: sim_action_membership(w); break;
	case SIM_SNAPSHOT: sim_action_snapshot(w); break;
	case SIM_TRANSFER: sim_action_transfer(w); break;
	case SIM_CAMPAIGN: sim_action_campaign(w); break;
	case SIM_STALL: sim_action_stall(w); break;
	case SIM_ACTION_COUNT: break;
	}
}

/* ------------------------------------------------------------------ */
/* Liveness phase                                                      */
/* ------------------------------------------------------------------ */

/* Delivers every due message (in random order) until the network is quiet
 * for this tick, checking the invariants after each delivery. */
static void sim_flush_network(struct sim_world *w)
{
	for (int k = 0;; k++) {
		size_t due = sim_count_due(w);
		if (due == 0)
			return;
		if (k == SIM_FLUSH_LIMIT)
			sim_fail("liveness: the network never goes quiet "
				 "(%zu messages due)", due);
		w->step++;
		sim_deliver_random_due(w, due);
		sim_check(w);
	}
}

/* True once the liveness write committed and every voter applied it. */
static bool sim_liveness_done(struct sim_world *w)
{
	struct raft_status st;
	struct sim_node *leader = sim_find_leader(w, &st);
	struct sim_client *c = &w->clients[SIM_LIVENESS_CLIENT];

	if (!leader)
		return false;
	if (w->liveness_op) {
		/* A proposal stranded on a deposed leader: give up on it. */
		struct sim_op *old = sim_op_get(w, w->liveness_op);
		if (old->status == SIM_OP_PROPOSED && old->term < st.term)
			sim_op_finish(w, old, SIM_OP_UNKNOWN);
	}
	if (w->liveness_op == 0 ||
	    sim_op_get(w, w->liveness_op)->status == SIM_OP_FAILED ||
	    sim_op_get(w, w->liveness_op)->status == SIM_OP_UNKNOWN) {
		w->liveness_op = sim_op_new(w, SIM_LIVENESS_CLIENT,
					    SIM_OP_SET);
		c->op = w->liveness_op;
	}
	struct sim_op *op = sim_op_get(w, w->liveness_op);
	if (op->status == SIM_OP_WAITING) {
		c->leader_guess = leader->id;
		sim_client_propose(w, SIM_LIVENESS_CLIENT);
		return false;
	}
	if (op->status != SIM_OP_OK)
		return false;
	for (uint32_t k = 0; k < st.conf.n_voters; k++) {
		struct sim_node *v = sim_node_up(w, st.conf.voters[k]);
		if (!v || v->kv.applied < op->index)
			return false;
	}
	return true;
}

static void sim_liveness_fail(struct sim_world *w)
{
	char buf[700];
	size_t used = 0;
	struct raft_status st;

	buf[0] = '\0';
	for (uint64_t id = 1; id < w->next_id && used < sizeof buf; id++) {
		struct sim_node *n = &w->nodes[id];
		if (n->state != SIM_NODE_UP)
			continue;
		raft_status(n->r, &st);
		used += (size_t)snprintf(buf + used, sizeof buf - used,
					 " n%" PRIu64 ":%s/t%" PRIu64 "/c%"
					 PRIu64 "/a%" PRIu64 "/v%u", id,
					 sim_role_name(st.role), st.term,
					 st.commit, n->kv.applied,
					 st.conf.n_voters);
	}
	sim_fail("liveness: no write committed and reached every voter within"
		 " %d ticks after healing (nodes:%s)", SIM_LIVENESS_TICKS, buf);
}

static void sim_liveness(struct sim_world *w)
{
	uint64_t ids[SIM_MAX_IDS];

	w->faults = false;
	sim_trace(w, "liveness phase: heal, restart, retire removed nodes");
	sim_heal(w);
	size_t down = sim_nodes_in_state(w, SIM_NODE_DOWN, ids);
	for (size_t i = 0; i < down; i++)
		sim_node_boot(w, &w->nodes[ids[i]]);
	for (uint64_t id = 1; id < w->next_id; id++)
		if (w->nodes[id].removed &&
		    w->nodes[id].state == SIM_NODE_UP)
			sim_node_retire(w, &w->nodes[id]);
	for (uint64_t id = 1; id < w->next_id; id++)
		if (w->nodes[id].state == SIM_NODE_UP)
			sim_drain(w, &w->nodes[id]);
	sim_check(w);
	uint64_t deadline = w->now + SIM_LIVENESS_TICKS;
	while (w->now < deadline) {
		w->step++;
		sim_action_tick(w);
		sim_check(w);
		sim_flush_network(w);
		if (sim_liveness_done(w)) {
			sim_flush_network(w);
			return;
		}
		sim_check(w);
	}
	sim_liveness_fail(w);
}

/* ------------------------------------------------------------------ */
/* Linearizability check (Wing & Gong search per key, memoized)        */
/* ------------------------------------------------------------------ */

struct sim_lin_op {
	uint64_t invoke, complete;
	char kind;
	const char *arg; /* write token or read result */
	bool optional;   /* write with unknown outcome: may or may not apply */
	uint64_t zobrist;
};

struct sim_lin {
	struct sim_lin_op *ops;
	size_t n;
	bool *done;
	size_t required_left;
	uint64_t set_hash; /* xor of zobrist keys of linearized ops */
	uint64_t *seen;    /* visited (set, state) fingerprints; 0 = free */
	size_t cap_seen, used_seen;
	uint64_t budget;
	char (*states)[SIM_VALUE_CAP];
};

/* Returns false when the fingerprint was already explored. */
static bool sim_lin_visit(struct sim_lin *l, uint64_t fp)
{
	if ((l->used_seen + 1) * 2 > l->cap_seen) {
		size_t cap = l->cap_seen ? l->cap_seen * 2 : 4096;
		uint64_t *table = calloc(cap, sizeof *table);
		if (!table)
			sim_fail("out of memory (linearizability)");
		for (size_t i = 0; i < l->cap_seen; i++) {
			uint64_t v = l->seen[i];
			if (!v)
				continue;
			size_t j = v & (cap - 1);
			while (table[j])
				j = (j + 1) & (cap - 1);
			table[j] = v;
		}
		free(l->seen);
		l->seen = table;
		l->cap_seen = cap;
	}
	fp |= 1;
	size_t j = fp & (l->cap_seen - 1);
	while (l->seen[j]) {
		if (l->seen[j] == fp)
			return false;
		j = (j + 1) & (l->cap_seen - 1);
	}
	l->seen[j] = fp;
	l->used_seen++;
	return true;
}

/* Can the ops not yet linearized be ordered, starting from `state`? Only an
 * op invoked before every other pending op completed may come next. */
static bool sim_lin_search(struct sim_lin *l, size_t depth)
{
	const char *state = l->states[depth];

	if (l->required_left == 0)
		return true;
	if (l->budget == 0)
		sim_fail("linearizability: search budget exhausted");
	l->budget--;
	if (!sim_lin_visit(l, l->set_hash ^ sim_rotl(sim_hash_str(state), 1)))
		return false;
	uint64_t min_complete = UINT64_MAX;
	for (size_t i = 0; i < l->n; i++)
		if (!l->done[i] && l->ops[i].complete < min_complete)
			min_complete = l->ops[i].complete;
	for (size_t i = 0; i < l->n; i++) {
		const struct sim_lin_op *o = &l->ops[i];
		if (l->done[i])
			continue;
		if (o->invoke > min_complete)
			break;
		char *next = l->states[depth + 1];
		if (o->kind == SIM_OP_READ) {
			if (strcmp(state, o->arg) != 0)
				continue;
			memcpy(next, state, strlen(state) + 1);
		} else {
			memcpy(next, state, strlen(state) + 1);
			sim_value_apply(next, o->kind, o->arg);
		}
		l->done[i] = true;
		l->set_hash ^= o->zobrist;
		l->required_left -= o->optional ? 0 : 1;
		bool ok = sim_lin_search(l, depth + 1);
		l->done[i] = false;
		l->set_hash ^= o->zobrist;
		l->required_left += o->optional ? 0 : 1;
		if (ok)
			return true;
	}
	return false;
}

static void sim_lin_print_history(const struct sim_lin *l, uint32_t key)
{
	printf("history of k%" PRIu32 " (event clock; * = outcome unknown):\n",
	       key);
	for (size_t i = 0; i < l->n; i++) {
		const struct sim_lin_op *o = &l->ops[i];
		if (o->complete == UINT64_MAX)
			printf("  [%6" PRIu64 ",    inf] %c %s%s\n", o->invoke,
			       o->kind, o->arg, o->optional ? " *" : "");
		else
			printf("  [%6" PRIu64 ", %6" PRIu64 "] %c '%s'\n",
			       o->invoke, o->complete, o->kind, o->arg);
	}
}

static void sim_check_key(struct sim_world *w, uint32_t key, uint64_t *zseed)
{
	struct sim_lin l;

	memset(&l, 0, sizeof l);
	l.ops = sim_xmalloc((w->n_ops + 1) * sizeof *l.ops);
	for (size_t i = 0; i < w->n_ops; i++) {
		const struct sim_op *op = &w->ops[i];
		if (op->key != key || (op->status != SIM_OP_OK &&
				       op->status != SIM_OP_UNKNOWN))
			continue;
		struct sim_lin_op *o = &l.ops[l.n++];
		o->invoke = op->invoke;
		o->complete = op->complete;
		o->kind = op->kind;
		o->arg = op->kind == SIM_OP_READ ? op->result : op->token;
		o->optional = op->status == SIM_OP_UNKNOWN;
		o->zobrist = sim_splitmix64(zseed);
		l.required_left += o->optional ? 0 : 1;
	}
	l.done = calloc(l.n + 1, sizeof *l.done);
	l.states = calloc(l.n + 2, sizeof *l.states);
	if (!l.done || !l.states)
		sim_fail("out of memory (linearizability)");
	l.budget = SIM_LIN_BUDGET;
	bool ok = sim_lin_search(&l, 0);
	if (!ok) {
		sim_lin_print_history(&l, key);
		sim_fail("linearizability: the %zu operations on k%" PRIu32
			 " have no linearization (history above)", l.n, key);
	}
	free(l.ops);
	free(l.done);
	free(l.states);
	free(l.seen);
}

static void sim_check_linearizable(struct sim_world *w)
{
	uint64_t zseed = w->seed;

	for (size_t i = 0; i < w->n_ops; i++) {
		struct sim_op *op = &w->ops[i];
		if (op->status == SIM_OP_WAITING || op->status == SIM_OP_READING)
			op->status = SIM_OP_FAILED;
		else if (op->status == SIM_OP_PROPOSED)
			op->status = SIM_OP_UNKNOWN;
	}
	for (uint32_t key = 0; key < SIM_KEYS; key++)
		sim_check_key(w, key, &zseed);
}

/* ------------------------------------------------------------------ */
/* One seed                                                            */
/* ------------------------------------------------------------------ */

static void sim_world_init(struct sim_world *w, uint64_t seed,
			   const struct sim_options *opt)
{
	w->seed = seed;
	w->opt = opt;
	w->faults = true;
	sim_rng_seed(&w->rng, seed);
	raft_config_defaults(&w->cfg, 1);
	w->cfg.election_ticks = SIM_ELECTION_TICKS;
	w->cfg.heartbeat_ticks = 1 + (uint32_t)sim_below(w, 2);
	w->cfg.pre_vote = sim_below(w, 4) != 0;
	w->cfg.check_quorum = sim_below(w, 4) != 0;
	w->cfg.max_inflight = 1 + (uint32_t)sim_below(w, 8);
	/* Often tiny batches (one or two entries), so that a leader's
	 * appends are split at every possible point. */
	w->cfg.max_msg_bytes = sim_chance(w, 50)
				       ? 8 + (uint32_t)sim_below(w, 40)
				       : 64 + (uint32_t)sim_below(w, 960);
	w->cfg.snapshot_chunk_bytes = 16 + (uint32_t)sim_below(w, 112);
	w->cfg.rand = sim_rand_cb;
	w->cfg.rand_ctx = &w->rng;
	w->initial_conf.n_voters = opt->nodes;
	for (unsigned i = 0; i < opt->nodes; i++)
		w->initial_conf.voters[i] = i + 1;
	w->next_id = 1;
	sim_trace(w, "seed %" PRIu64 ": %u nodes, heartbeat %" PRIu32
		  ", pre_vote %d, check_quorum %d, inflight %" PRIu32
		  ", msg bytes %" PRIu32 ", chunk %" PRIu32, seed, opt->nodes,
		  w->cfg.heartbeat_ticks, w->cfg.pre_vote, w->cfg.check_quorum,
		  w->cfg.max_inflight, w->cfg.max_msg_bytes,
		  w->cfg.snapshot_chunk_bytes);
	for (unsigned i = 1; i <= opt->nodes; i++) {
		sim_node_create(w, i, &w->initial_conf);
		w->nodes[i].ever_member = true;
	}
}

static void sim_world_free(struct sim_world *w)
{
	for (uint64_t id = 1; id < w->next_id; id++) {
		struct sim_node *n = &w->nodes[id];
		if (n->r)
			raft_free(n->r);
		sim_storage_free(&n->st);
		free(n->reads);
	}
	for (size_t k = 0; k < w->n_pkts; k++)
		free(w->pkts[k].buf);
	for (size_t i = 0; i < w->n_ops; i++)
		free(w->ops[i].result);
	free(w->pkts);
	free(w->recs);
	free(w->lm);
	free(w->leaders);
	free(w->confs);
	free(w->ops);
	free(w->ctx_node);
	free(w->open_writes);
	free(w);
}

static void sim_stats_add(struct sim_stats *total, const struct sim_stats *s)
{
	total->steps += s->steps;
	total->commits += s->commits;
	total->elections += s->elections;
	total->snapshots += s->snapshots;
	total->installs += s->installs;
	total->conf_changes += s->conf_changes;
	total->crashes += s->crashes;
	total->partitions += s->partitions;
	total->ticks += s->ticks;
	total->writes_ok += s->writes_ok;
	total->reads_ok += s->reads_ok;
}

static void sim_run_seed(uint64_t seed, const struct sim_options *opt,
			 struct sim_stats *total)
{
	struct sim_world *w = calloc(1, sizeof *w);

	if (!w)
		sim_fail("out of memory (world)");
	sim_active = w;
	sim_world_init(w, seed, opt);
	for (unsigned s = 0; s < opt->steps; s++) {
		w->step++;
		sim_random_step(w);
		sim_check(w);
	}
	sim_liveness(w);
	sim_check_linearizable(w);
	w->stats.steps = w->step;
	w->stats.ticks = w->now;
	for (size_t i = 0; i < w->n_ops; i++) {
		if (w->ops[i].status != SIM_OP_OK)
			continue;
		if (w->ops[i].kind == SIM_OP_READ)
			w->stats.reads_ok++;
		else
			w->stats.writes_ok++;
	}
	sim_stats_add(total, &w->stats);
	sim_active = NULL;
	sim_world_free(w);
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

static void sim_usage(void)
{
	fprintf(stderr,
		"usage: raft-sim --nodes N (--seeds K [--first-seed S] | "
		"--seed S) [--steps M] [--verbose]\n"
		"  N: 3, 5 or 7 initial voters; runs seeds S..S+K-1 "
		"(default S=1, K=100), or replays one seed\n");
}

static bool sim_parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s)
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0')
		return false;
	*out = v;
	return true;
}

static int sim_parse_args(int argc, char **argv, struct sim_options *opt)
{
	uint64_t v;

	opt->nodes = 3;
	opt->first_seed = 1;
	opt->seeds = 100;
	opt->steps = SIM_DEFAULT_STEPS;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--verbose") == 0) {
			opt->verbose = true;
			continue;
		}
		if (!sim_parse_u64(val, &v)) {
			fprintf(stderr, "raft-sim: %s needs a number\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--nodes") == 0 && (v == 3 || v == 5 || v == 7)) {
			opt->nodes = (unsigned)v;
		} else if (strcmp(a, "--seeds") == 0 && v > 0) {
			opt->seeds = v;
		} else if (strcmp(a, "--first-seed") == 0) {
			opt->first_seed = v;
		} else if (strcmp(a, "--seed") == 0) {
			opt->first_seed = v;
			opt->seeds = 1;
			opt->single = true;
		} else if (strcmp(a, "--steps") == 0 && v > 0 && v < 10000000) {
			opt->steps = (unsigned)v;
		} else {
			fprintf(stderr, "raft-sim: bad option %s %s\n", a, val);
			return -1;
		}
	}
	return 0;
}

static double sim_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sim_options opt;
	struct sim_stats total;

	memset(&opt, 0, sizeof opt);
	memset(&total, 0, sizeof total);
	if (sim_parse_args(argc, argv, &opt) != 0) {
		sim_usage();
		return 2;
	}
	double start = sim_seconds();
	for (uint64_t i = 0; i < opt.seeds; i++)
		sim_run_seed(opt.first_seed + i, &opt, &total);
	if (opt.single) {
		printf("seed %" PRIu64 " passed: %u nodes, %" PRIu64 " steps, %"
		       PRIu64 " commits, %" PRIu64 " elections, %" PRIu64
		       " snapshots, %" PRIu64 " snapshot installs, %" PRIu64
		       " membership changes, %" PRIu64 " crashes, %" PRIu64
		       " partitions, %" PRIu64 " ticks, %" PRIu64 " writes and %"
		       PRIu64 " reads acknowledged\n", opt.first_seed,
		       opt.nodes, total.steps, total.commits, total.elections,
		       total.snapshots, total.installs, total.conf_changes,
		       total.crashes, total.partitions, total.ticks,
		       total.writes_ok, total.reads_ok);
		return 0;
	}
	printf("%u nodes: %" PRIu64 " seeds passed, %" PRIu64 " steps, %" PRIu64
	       " commits, %" PRIu64 " elections, %" PRIu64 " snapshots, %"
	       PRIu64 " membership changes in %.1f s (%" PRIu64
	       " snapshot installs, %" PRIu64 " crashes, %" PRIu64
	       " partitions, %" PRIu64 " ticks, %" PRIu64 " writes and %"
	       PRIu64 " reads acknowledged)\n", opt.nodes, opt.seeds,
	       total.steps, total.commits, total.elections, total.snapshots,
	       total.conf_changes, sim_seconds() - start, total.installs,
	       total.crashes, total.partitions, total.ticks,
	       total.writes_ok, total.reads_ok);
	return 0;
}

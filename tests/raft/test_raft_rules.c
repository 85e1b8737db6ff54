/*
 * test_raft_rules.c: one unit test per rule of the Raft paper/dissertation
 * that a randomized simulator could easily miss, each named after the rule.
 *
 * Engines (core/raft) are driven by hand through the raft.h API. A tiny
 * in-test network owns, per node: the engine, a model of its durable storage
 * (hard state, log, snapshot), a toy state machine (the concatenation of
 * applied NORMAL entries), the completed reads and the last soft state. The
 * network holds the messages in flight as wire encodings (raft_codec.c) in a
 * FIFO queue; tests deliver them explicitly, cut links, hold or trim
 * messages with a filter, and advance clocks with ticks. Randomness comes
 * from a per-node xorshift generator seeded by the node id, so every run is
 * identical. The harness itself checks a few rules on every ready: committed
 * entries are applied in order without gaps, a granted vote and an append
 * acknowledgement are only sent once the promised state is durable, and
 * every message the engine emits decodes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft.h"

#define MAX_NODES 7
#define ELECTION_TICKS 10
#define MAX_READS 64
#define MAX_APPLIED 4096

/* ---- the in-test network ------------------------------------------------ */

struct node {
	uint64_t id;
	struct raft *r;
	bool up;
	uint64_t rng;
	struct raft_config cfg;
	struct raft_conf bootstrap;
	/* Durable storage as the engine asked for it. */
	struct raft_hard_state hs;
	bool has_snap;
	struct raft_snapshot snap; /* snap.data owned */
	struct raft_entry *log;    /* log[i].index == log[0].index + i */
	uint32_t n_log, cap_log;
	/* Toy state machine. */
	uint64_t applied;
	uint8_t *sm;
	size_t sm_len;
	uint64_t applied_term[MAX_APPLIED]; /* term of applied entry, by index */
	uint32_t n_snapshots_installed;
	/* Observations. */
	struct raft_read_state reads[MAX_READS];
	uint32_t n_reads;
	enum raft_role role;
	uint64_t leader;
};

/* A message in flight: its wire encoding plus routing fields. */
struct qmsg {
	uint8_t *buf;
	size_t len;
	uint64_t from, to;
	uint8_t type;
};

struct msgq {
	struct qmsg *m;
	size_t n, cap;
};

enum net_verdict { NET_DELIVER, NET_DROP };
struct net;
/* May inspect and trim (reduce n_entries of) a message about to be
 * delivered. */
typedef enum net_verdict (*net_filter_fn)(struct net *net, struct raft_msg *m);

struct net {
	uint32_t n;
	struct node nodes[MAX_NODES + 1]; /* by id; [0] unused */
	bool cut[MAX_NODES + 1][MAX_NODES + 1]; /* cut[from][to]: dropped */
	struct msgq q;
	net_filter_fn filter;
	uint64_t filter_arg; /* free for the filter's use */
	uint32_t filter_count;
	uint32_t delivered[RAFT_MSG_TYPE_MAX + 1];
};

static uint64_t node_rand(void *ctx)
{
	struct node *nd = ctx;

	nd->rng ^= nd->rng << 13;
	nd->rng ^= nd->rng >> 7;
	nd->rng ^= nd->rng << 17;
	return nd->rng;
}

static void msgq_push(struct msgq *q, struct qmsg m)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 64;
		q->m = realloc(q->m, q->cap * sizeof(*q->m));
		assert_non_null(q->m);
	}
	q->m[q->n++] = m;
}

static struct qmsg msgq_remove(struct msgq *q, size_t i)
{
	struct qmsg m = q->m[i];

	memmove(&q->m[i], &q->m[i + 1], (q->n - i - 1) * sizeof(*q->m));
	q->n--;
	return m;
}

static void msgq_clear(struct msgq *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->m[i].buf);
	free(q->m);
	memset(q, 0, sizeof(*q));
}

static struct net *net_new(uint32_t n, uint32_t n_voters)
{
	struct net *net = calloc(1, sizeof(*net));

	assert_non_null(net);
	assert_true(n <= MAX_NODES);
	net->n = n;
	for (uint32_t id = 1; id <= n; id++) {
		struct node *nd = &net->nodes[id];

		nd->id = id;
		nd->rng = 0x9e3779b97f4a7c15ull * id;
		raft_config_defaults(&nd->cfg, id);
		nd->cfg.election_ticks = ELECTION_TICKS;
		nd->cfg.heartbeat_ticks = 1;
		nd->cfg.rand = node_rand;
		nd->cfg.rand_ctx = nd;
		/* Nodes past n_voters wait to be added by a leader. */
		if (id <= n_voters) {
			for (uint32_t v = 1; v <= n_voters; v++)
				nd->bootstrap.voters[v - 1] = v;
			nd->bootstrap.n_voters = n_voters;
		}
	}
	return net;
}

static void node_free_storage(struct node *nd)
{
	for (uint32_t i = 0; i < nd->n_log; i++)
		free(nd->log[i].data);
	free(nd->log);
	nd->log = NULL;
	nd->n_log = nd->cap_log = 0;
	free(nd->snap.data);
	nd->snap.data = NULL;
	nd->has_snap = false;
}

static void node_stop(struct node *nd)
{
	raft_free(nd->r);
	nd->r = NULL;
	nd->up = false;
}

static void net_free(struct net *net)
{
	for (uint32_t id = 1; id <= net->n; id++) {
		struct node *nd = &net->nodes[id];

		if (nd->up)
			node_stop(nd);
		node_free_storage(nd);
		free(nd->sm);
	}
	msgq_clear(&net->q);
	free(net);
}

static uint64_t node_last_index(const struct node *nd)
{
	if (nd->n_log > 0)
		return nd->log[nd->n_log - 1].index;
	return nd->has_snap ? nd->snap.meta.index : 0;
}

static void sm_replace(struct node *nd, const uint8_t *data, size_t len)
{
	free(nd->sm);
	nd->sm = malloc(len > 0 ? len : 1);
	assert_non_null(nd->sm);
	if (len > 0)
		memcpy(nd->sm, data, len);
	nd->sm_len = len;
}

static void sm_append(struct node *nd, const uint8_t *data, size_t len)
{
	nd->sm = realloc(nd->sm, nd->sm_len + len + 1);
	assert_non_null(nd->sm);
	if (len > 0)
		memcpy(nd->sm + nd->sm_len, data, len);
	nd->sm_len += len;
}

/* (Re)creates the engine from what the node's storage holds. */
static void node_start(struct node *nd)
{
	struct raft_restore rs;
	char err[256] = "";

	memset(&rs, 0, sizeof(rs));
	rs.hard_state = nd->hs;
	rs.snapshot = nd->has_snap ? &nd->snap : NULL;
	rs.n_entries = nd->n_log;
	rs.entries = nd->log;
	rs.bootstrap = nd->bootstrap;
	nd->r = raft_new(&nd->cfg, &rs, err, sizeof(err));
	if (nd->r == NULL)
		fail_msg("raft_new(node %llu): %s", (unsigned long long)nd->id,
			 err);
	nd->up = true;
	nd->role = RAFT_FOLLOWER;
	nd->leader = RAFT_NONE;
	/* The state machine restarts from the snapshot; the engine re-emits
	 * the committed entries after it. */
	nd->applied = nd->has_snap ? nd->snap.meta.index : 0;
	if (nd->has_snap)
		sm_replace(nd, nd->snap.data, nd->snap.len);
	else
		sm_replace(nd, NULL, 0);
}

static void net_start(struct net *net)
{
	for (uint32_t id = 1; id <= net->n; id++)
		node_start(&net->nodes[id]);
}

static struct raft_entry entry_copy(const struct raft_entry *e)
{
	struct raft_entry c = *e;

	c.data = NULL;
	if (e->len > 0) {
		c.data = malloc(e->len);
		assert_non_null(c.data);
		memcpy(c.data, e->data, e->len);
	}
	return c;
}

/* An entry at or below the last index replaces it and what follows. */
static void storage_append(struct node *nd, const struct raft_entry *e)
{
	uint64_t first = nd->n_log > 0 ? nd->log[0].index : e->index;

	assert_true(e->index >= first);
	assert_true(e->index <= node_last_index(nd) + 1);
	if (nd->has_snap)
		assert_true(e->index > nd->snap.meta.index);
	while (nd->n_log > 0 && nd->log[nd->n_log - 1].index >= e->index) {
		nd->n_log--;
		free(nd->log[nd->n_log].data);
	}
	if (nd->n_log == nd->cap_log) {
		nd->cap_log = nd->cap_log ? 2 * nd->cap_log : 32;
		nd->log = realloc(nd->log, nd->cap_log * sizeof(*nd->log));
		assert_non_null(nd->log);
	}
	nd->log[nd->n_log++] = entry_copy(e);
}

/* Drops stored entries up to index (they are covered by a snapshot). */
static void storage_compact(struct node *nd, uint64_t index)
{
	uint32_t drop = 0;

	while (drop < nd->n_log && nd->log[drop].index <= index) {
		free(nd->log[drop].data);
		drop++;
	}
	memmove(nd->log, nd->log + drop, (nd->n_log - drop) * sizeof(*nd->log));
	nd->n_log -= drop;
}

static void storage_set_snapshot(struct node *nd,
				 const struct raft_snapshot_meta *meta,
				 const void *data, size_t len)
{
	free(nd->snap.data);
	nd->snap.meta = *meta;
	nd->snap.len = len;
	nd->snap.data = malloc(len > 0 ? len : 1);
	assert_non_null(nd->snap.data);
	if (len > 0)
		memcpy(nd->snap.data, data, len);
	nd->has_snap = true;
}

static const struct raft_entry *storage_entry(const struct node *nd,
					      uint64_t index)
{
	for (uint32_t i = 0; i < nd->n_log; i++) {
		if (nd->log[i].index == index)
			return &nd->log[i];
	}
	return NULL;
}

static void persist_snapshot(struct node *nd, const struct raft_snapshot *s)
{
	const struct raft_entry *at = storage_entry(nd, s->meta.index);
	bool keep_suffix = at != NULL && at->term == s->meta.term;

	storage_set_snapshot(nd, &s->meta, s->data, s->len);
	if (keep_suffix) {
		storage_compact(nd, s->meta.index);
	} else {
		for (uint32_t i = 0; i < nd->n_log; i++)
			free(nd->log[i].data);
		nd->n_log = 0;
	}
}

static void apply_entry(struct node *nd, const struct raft_entry *e)
{
	if (e->index != nd->applied + 1)
		fail_msg("node %llu: committed index %llu after applied %llu",
			 (unsigned long long)nd->id,
			 (unsigned long long)e->index,
			 (unsigned long long)nd->applied);
	nd->applied = e->index;
	assert_true(e->index < MAX_APPLIED);
	nd->applied_term[e->index] = e->term;
	if (e->type == RAFT_ENTRY_NORMAL)
		sm_append(nd, e->data, e->len);
}

static void net_enqueue(struct net *net, const struct raft_msg *m)
{
	struct qmsg q;

	q.len = raft_msg_encoded_size(m);
	q.buf = malloc(q.len);
	assert_non_null(q.buf);
	raft_msg_encode(m, q.buf);
	q.from = m->from;
	q.to = m->to;
	q.type = m->type;
	msgq_push(&net->q, q);
}

/* A response promises durability: check the promise before it leaves. */
static void check_durable_before_send(const struct node *nd,
				      const struct raft_msg *m)
{
	assert_int_equal(m->from, nd->id);
	if (m->type == RAFT_MSG_VOTE_RESP && !m->reject) {
		assert_int_equal(nd->hs.term, m->term);
		assert_int_equal(nd->hs.vote, m->to);
	}
	if (m->type == RAFT_MSG_APPEND_RESP && !m->reject) {
		const struct raft_entry *e = storage_entry(nd, m->index);

		assert_true(node_last_index(nd) >= m->index);
		/* The acknowledged entry came from a leader of m->term: a
		 * stored entry of a later term there is not the one acked. */
		if (e != NULL && e->term > m->term)
			fail_msg("node %llu acks index %llu in term %llu but "
				 "stores an entry of term %llu there",
				 (unsigned long long)nd->id,
				 (unsigned long long)m->index,
				 (unsigned long long)m->term,
				 (unsigned long long)e->term);
	}
}

static void node_process_ready(struct net *net, struct node *nd)
{
	for (int rounds = 0; nd->up && raft_has_ready(nd->r); rounds++) {
		struct raft_ready rd;

		assert_true(rounds < 1000);
		raft_ready(nd->r, &rd);
		if (rd.snapshot != NULL)
			persist_snapshot(nd, rd.snapshot);
		for (uint32_t i = 0; i < rd.n_entries; i++)
			storage_append(nd, &rd.entries[i]);
		if (rd.hard_state_changed)
			nd->hs = rd.hard_state;
		for (uint32_t i = 0; i < rd.n_msgs; i++) {
			check_durable_before_send(nd, &rd.msgs[i]);
			net_enqueue(net, &rd.msgs[i]);
		}
		if (rd.snapshot != NULL) {
			sm_replace(nd, rd.snapshot->data, rd.snapshot->len);
			nd->applied = rd.snapshot->meta.index;
			nd->n_snapshots_installed++;
		}
		for (uint32_t i = 0; i < rd.n_committed; i++)
			apply_entry(nd, &rd.committed[i]);
		for (uint32_t i = 0; i < rd.n_reads; i++) {
			assert_true(nd->n_reads < MAX_READS);
			nd->reads[nd->n_reads++] = rd.reads[i];
		}
		if (rd.soft_state_changed) {
			nd->role = rd.role;
			nd->leader = rd.leader;
		}
		raft_advance(nd->r, &rd);
	}
}

static void net_process_all(struct net *net)
{
	for (uint32_t id = 1; id <= net->n; id++)
		node_process_ready(net, &net->nodes[id]);
}

/* Delivers (or drops) the oldest message in flight. */
static void net_deliver_first(struct net *net)
{
	struct qmsg q = msgq_remove(&net->q, 0);
	struct node *to = &net->nodes[q.to];
	enum net_verdict verdict = NET_DELIVER;
	struct raft_msg m;

	assert_true(q.to >= 1 && q.to <= net->n);
	if (!to->up || net->cut[q.from][q.to]) {
		free(q.buf);
		return;
	}
	assert_int_equal(raft_msg_decode(q.buf, q.len, &m), RAFT_OK);
	if (net->filter != NULL)
		verdict = net->filter(net, &m);
	if (verdict == NET_DELIVER) {
		net->delivered[m.type]++;
		assert_int_equal(raft_step(to->r, &m), RAFT_OK);
	}
	raft_msg_decoded_free(&m);
	free(q.buf);
	node_process_ready(net, to);
}

/* Delivers until no message is in flight and no engine has work. */
static void net_stabilize(struct net *net)
{
	net_process_all(net);
	for (int steps = 0; net->q.n > 0; steps++) {
		assert_true(steps < 100000);
		net_deliver_first(net);
	}
}

/* Removes the queued messages sent by id (a node whose words are lost). */
static void net_drop_from(struct net *net, uint64_t id)
{
	for (size_t i = 0; i < net->q.n;) {
		if (net->q.m[i].from == id)
			free(msgq_remove(&net->q, i).buf);
		else
			i++;
	}
}

/* Finds, removes and decodes (header fields only) the first queued message
 * from -> to of the given type. */
static bool net_take(struct net *net, uint64_t from, uint64_t to, uint8_t type,
		     struct raft_msg *out)
{
	for (size_t i = 0; i < net->q.n; i++) {
		struct qmsg *q = &net->q.m[i];

		if (q->from != from || q->to != to || q->type != type)
			continue;
		assert_int_equal(raft_msg_decode(q->buf, q->len, out), RAFT_OK);
		raft_msg_decoded_free(out);
		out->snap_chunk = NULL;
		free(msgq_remove(&net->q, i).buf);
		return true;
	}
	return false;
}

static void net_tick(struct net *net, uint64_t id)
{
	raft_tick(net->nodes[id].r);
	node_process_ready(net, &net->nodes[id]);
}

/* ticks rounds: every up node ticks once, then the network settles. */
static void net_run(struct net *net, int ticks)
{
	for (int t = 0; t < ticks; t++) {
		for (uint32_t id = 1; id <= net->n; id++) {
			if (net->nodes[id].up)
				net_tick(net, id);
		}
		net_stabilize(net);
	}
}

/* Lets id's clock run for ticks while everything it says is lost. */
static void net_tick_silenced(struct net *net, uint64_t id, int ticks)
{
	for (int t = 0; t < ticks; t++) {
		net_tick(net, id);
		net_drop_from(net, id);
	}
}

static void net_isolate(struct net *net, uint64_t id, bool isolated)
{
	for (uint32_t other = 1; other <= net->n; other++) {
		if (other == id)
			continue;
		net->cut[id][other] = isolated;
		net->cut[other][id] = isolated;
	}
}

static void net_cut_pair(struct net *net, uint64_t a, uint64_t b, bool cut)
{
	net->cut[a][b] = cut;
	net->cut[b][a] = cut;
}

static void net_heal(struct net *net)
{
	memset(net->cut, 0, sizeof(net->cut));
}

static struct raft_status status_of(struct net *net, uint64_t id)
{
	struct raft_status st;

	raft_status(net->nodes[id].r, &st);
	return st;
}

static enum raft_role role_of(struct net *net, uint64_t id)
{
	return status_of(net, id).role;
}

static uint64_t term_of(struct net *net, uint64_t id)
{
	return status_of(net, id).term;
}

static uint64_t commit_of(struct net *net, uint64_t id)
{
	return status_of(net, id).commit;
}

/* The up node that is leader with the highest term, or RAFT_NONE. */
static uint64_t net_leader(struct net *net)
{
	uint64_t best = RAFT_NONE, best_term = 0;

	for (uint32_t id = 1; id <= net->n; id++) {
		struct raft_status st;

		if (!net->nodes[id].up)
			continue;
		st = status_of(net, id);
		if (st.role == RAFT_LEADER && st.term >= best_term) {
			best = id;
			best_term = st.term;
		}
	}
	return best;
}

/* Campaigns id (a few times if pre-vote first teaches it a higher term)
 * and settles the network. */
static void net_elect(struct net *net, uint64_t id)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		assert_int_equal(raft_campaign(net->nodes[id].r), RAFT_OK);
		net_stabilize(net);
		if (role_of(net, id) == RAFT_LEADER)
			return;
	}
	fail_msg("node %llu did not become leader", (unsigned long long)id);
}

/* Ticks every node until some node leads, at most max_ticks rounds. */
static uint64_t net_run_until_leader(struct net *net, int max_ticks,
				     uint64_t exclude)
{
	for (int t = 0; t < max_ticks; t++) {
		uint64_t leader = net_leader(net);

		if (leader != RAFT_NONE && leader != exclude)
			return leader;
		net_run(net, 1);
	}
	return RAFT_NONE;
}

static uint64_t propose(struct net *net, uint64_t id, const char *text)
{
	uint64_t index = 0, term = 0;

	assert_int_equal(raft_propose(net->nodes[id].r, text, strlen(text),
				      &index, &term),
			 RAFT_OK);
	assert_int_equal(term, term_of(net, id));
	node_process_ready(net, &net->nodes[id]);
	return index;
}

static uint64_t entry_term(struct net *net, uint64_t id, uint64_t index)
{
	const struct raft_entry *e = raft_log_entry(net->nodes[id].r, index);

	return e != NULL ? e->term : 0;
}

static const struct raft_read_state *find_read(const struct node *nd,
					       uint64_t context)
{
	for (uint32_t i = 0; i < nd->n_reads; i++) {
		if (nd->reads[i].context == context)
			return &nd->reads[i];
	}
	return NULL;
}

static bool conf_has_voter(const struct raft_conf *c, uint64_t id)
{
	for (uint32_t i = 0; i < c->n_voters; i++) {
		if (c->voters[i] == id)
			return true;
	}
	return false;
}

static bool conf_has_learner(const struct raft_conf *c, uint64_t id)
{
	for (uint32_t i = 0; i < c->n_learners; i++) {
		if (c->learners[i] == id)
			return true;
	}
	return false;
}

static uint64_t progress_match(const struct raft_status *st, uint64_t id)
{
	for (uint32_t i = 0; i < st->n_progress; i++) {
		if (st->progress[i].id == id)
			return st->progress[i].match;
	}
	return 0;
}

/* A cluster of n voters, node 1 elected, everything committed everywhere. */
static struct net *cluster_with_leader(uint32_t n)
{
	struct net *net = net_new(n, n);

	net_start(net);
	net_elect(net, 1);
	net_run(net, 1);
	return net;
}

/* Preloads a stopped node's storage: a CONF entry (its bootstrap conf) at
 * index 1, then NORMAL entries with the given terms at 2, 3... */
static void node_preload_log(struct node *nd, const uint64_t *terms,
			     uint32_t n, uint64_t hs_term)
{
	uint8_t conf[RAFT_CONF_MAX_BYTES];
	struct raft_entry e = { .term = terms[0], .index = 1,
				.type = RAFT_ENTRY_CONF };

	e.len = (uint32_t)raft_conf_encode(&nd->bootstrap, conf);
	e.data = conf;
	storage_append(nd, &e);
	for (uint32_t i = 1; i < n; i++) {
		char text[16];

		snprintf(text, sizeof(text), "old-%u", i);
		e = (struct raft_entry){ .term = terms[i], .index = i + 1,
					 .type = RAFT_ENTRY_NORMAL,
					 .len = (uint32_t)strlen(text),
					 .data = (uint8_t *)text };
		storage_append(nd, &e);
	}
	nd->hs.term = hs_term;
}

/* A message of type with its header fields; index and log_term are the
 * last (vote) or previous (append) entry's. */
static struct raft_msg make_msg(uint8_t type, uint64_t from, uint64_t to,
				uint64_t term, uint64_t index, uint64_t log_term)
{
	struct raft_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.from = from;
	m.to = to;
	m.term = term;
	m.index = index;
	m.log_term = log_term;
	return m;
}

static struct raft_msg vote_request(uint64_t from, uint64_t to, uint64_t term,
				    uint64_t last_index, uint64_t last_term)
{
	return make_msg(RAFT_MSG_VOTE, from, to, term, last_index, last_term);
}

static void step(struct net *net, uint64_t id, const struct raft_msg *m)
{
	assert_int_equal(raft_step(net->nodes[id].r, m), RAFT_OK);
	node_process_ready(net, &net->nodes[id]);
}

/* Sends a vote request and returns whether `to` granted it (a VOTE_RESP
 * without reject; no response at all counts as not granted). */
static bool ask_vote(struct net *net, const struct raft_msg *req)
{
	struct raft_msg resp;
	bool granted = false;

	step(net, req->to, req);
	while (net_take(net, req->to, req->from, RAFT_MSG_VOTE_RESP, &resp))
		granted = granted || !resp.reject;
	return granted;
}

/* ---- Figure 8 ----------------------------------------------------------- */

/* Step (b): the new leader S5's entries reach nobody. */
static enum net_verdict fig8_silence_s5_leader(struct net *net,
					       struct raft_msg *m)
{
	(void)net;
	if (m->from == 5 && (m->type == RAFT_MSG_APPEND ||
			     m->type == RAFT_MSG_HEARTBEAT ||
			     m->type == RAFT_MSG_SNAPSHOT))
		return NET_DROP;
	return NET_DELIVER;
}

/* Step (c): S3 receives S1's log only up to filter_arg (the old-term
 * entry): every append is cut to that prefix, as if the leader had sent
 * smaller batches and the rest were still on the way. */
static enum net_verdict fig8_s3_gets_prefix_only(struct net *net,
						 struct raft_msg *m)
{
	if (m->type == RAFT_MSG_APPEND && m->from == 1 && m->to == 3) {
		uint32_t keep = 0;

		while (keep < m->n_entries &&
		       m->entries[keep].index <= net->filter_arg)
			keep++;
		m->n_entries = keep;
	}
	return NET_DELIVER;
}

/* The terms and indexes of the Figure 8 replay: t2/t3/t4 stand for the
 * paper's terms 2/3/4 (the engine's actual numbers may be higher), idx for
 * the paper's index 2, base for the entries every node had before. */
struct fig8 {
	struct net *net;
	uint64_t t2, t3, t4, base, idx;
};

/* (a) S1 leads term t2 and replicates idx to S2 only, then crashes. */
static void fig8_a_s1_replicates_to_s2_only(struct fig8 *f)
{
	struct net *net = f->net;

	f->t2 = term_of(net, 1);
	f->base = status_of(net, 1).last_index;
	for (uint64_t id = 1; id <= 5; id++)
		assert_int_equal(commit_of(net, id), f->base);
	for (uint64_t id = 3; id <= 5; id++)
		net_cut_pair(net, 1, id, true);
	f->idx = propose(net, 1, "fig8-a");
	assert_int_equal(f->idx, f->base + 1);
	net_stabilize(net);
	assert_int_equal(entry_term(net, 2, f->idx), f->t2);
	assert_int_equal(entry_term(net, 3, f->idx), 0);
	assert_int_equal(commit_of(net, 1), f->base);
	node_stop(&net->nodes[1]);
	net_isolate(net, 2, true);
}

/* (b) S5 wins term t3 with votes of S3, S4 and appends its own entry at
 * idx, which reaches nobody; then S5 crashes. */
static void fig8_b_s5_leads_with_its_own_entry(struct fig8 *f)
{
	struct net *net = f->net;

	net_tick_silenced(net, 3, ELECTION_TICKS);
	net_tick_silenced(net, 4, ELECTION_TICKS);
	net->filter = fig8_silence_s5_leader;
	net_elect(net, 5);
	f->t3 = term_of(net, 5);
	assert_true(f->t3 > f->t2);
	assert_int_equal(entry_term(net, 5, f->idx), f->t3);
	assert_int_equal(entry_term(net, 3, f->idx), 0);
	assert_int_equal(entry_term(net, 4, f->idx), 0);
	node_stop(&net->nodes[5]);
	net->filter = NULL;
}

/* (c) S1 restarts and wins term t4 with S2, S3 (S4 cut off). It appends
 * its no-op at idx+1 and brings S2 fully up to date, but S3 only up to the
 * term-t2 entry at idx: that entry is now on a majority (S1, S2, S3), yet
 * it must not be committed by counting replicas. */
static void fig8_c_old_entry_on_majority_stays_uncommitted(struct fig8 *f)
{
	struct net *net = f->net;
	struct raft_status st;

	net_heal(net);
	net_isolate(net, 4, true);
	node_start(&net->nodes[1]);
	net_tick_silenced(net, 2, ELECTION_TICKS);
	net_tick_silenced(net, 3, ELECTION_TICKS);
	net->filter = fig8_s3_gets_prefix_only;
	net->filter_arg = f->idx;
	net_elect(net, 1);
	f->t4 = term_of(net, 1);
	assert_true(f->t4 > f->t3);
	assert_int_equal(entry_term(net, 1, f->idx), f->t2);
	assert_int_equal(entry_term(net, 1, f->idx + 1), f->t4);
	assert_int_equal(entry_term(net, 3, f->idx), f->t2);
	assert_int_equal(node_last_index(&net->nodes[3]), f->idx);
	st = status_of(net, 1);
	assert_int_equal(progress_match(&st, 2), f->idx + 1);
	assert_int_equal(progress_match(&st, 3), f->idx);
	assert_int_equal(st.commit, f->base);
	assert_int_equal(net->nodes[1].applied, f->base);
	assert_true(commit_of(net, 2) <= f->base);
	assert_true(commit_of(net, 3) <= f->base);
	net->filter = NULL;
}

/* (e) Once the term-t4 entry reaches S3 it is committed, and the term-t2
 * entry with it, in order; the followers learn it. */
static void fig8_e_current_term_entry_commits_both(struct fig8 *f)
{
	struct net *net = f->net;

	for (int t = 0; t < 3 && commit_of(net, 1) < f->idx + 1; t++)
		net_run(net, 1);
	assert_int_equal(commit_of(net, 1), f->idx + 1);
	assert_int_equal(net->nodes[1].applied_term[f->idx], f->t2);
	assert_int_equal(net->nodes[1].applied_term[f->idx + 1], f->t4);
	net_run(net, 1);
	assert_int_equal(commit_of(net, 2), f->idx + 1);
	assert_int_equal(commit_of(net, 3), f->idx + 1);
}

/* S1 crashes; S5 returns. With S2 and S3 holding the term-t4 entry it
 * cannot win, so it never overwrites the committed entry (Figure 8 (d)
 * can no longer happen); another node leads and S5 converges. */
static void fig8_s5_cannot_overwrite_committed_entry(struct fig8 *f)
{
	struct net *net = f->net;

	node_stop(&net->nodes[1]);
	net_heal(net);
	node_start(&net->nodes[5]);
	for (uint64_t id = 2; id <= 4; id++)
		net_tick_silenced(net, id, ELECTION_TICKS);
	for (int attempt = 0; attempt < 5; attempt++) {
		assert_int_equal(raft_campaign(net->nodes[5].r), RAFT_OK);
		net_stabilize(net);
		assert_int_not_equal(role_of(net, 5), RAFT_LEADER);
	}
	assert_int_not_equal(net_run_until_leader(net, 10 * ELECTION_TICKS, 0),
			     RAFT_NONE);
	assert_true(net_leader(net) == 2 || net_leader(net) == 3);
	net_run(net, 2);
	for (uint64_t id = 2; id <= 5; id++) {
		assert_int_equal(entry_term(net, id, f->idx), f->t2);
		assert_true(commit_of(net, id) >= f->idx + 1);
	}
}

static void test_figure8_leader_does_not_commit_old_term_entry_by_counting_replicas(
	void **state)
{
	struct fig8 f = { .net = cluster_with_leader(5) };

	(void)state;
	fig8_a_s1_replicates_to_s2_only(&f);
	fig8_b_s5_leads_with_its_own_entry(&f);
	fig8_c_old_entry_on_majority_stays_uncommitted(&f);
	fig8_e_current_term_entry_commits_both(&f);
	fig8_s5_cannot_overwrite_committed_entry(&f);
	net_free(f.net);
}

/* ---- elections ---------------------------------------------------------- */

static void test_election_safety_node_grants_at_most_one_vote_per_term(
	void **state)
{
	struct net *net = net_new(3, 3);
	struct node *n1 = &net->nodes[1];
	struct raft_msg from2 = vote_request(2, 1, 5, 100, 3);
	struct raft_msg from3 = vote_request(3, 1, 5, 100, 3);

	(void)state;
	node_start(n1);
	assert_true(ask_vote(net, &from2));
	assert_int_equal(n1->hs.term, 5);
	assert_int_equal(n1->hs.vote, 2);
	assert_false(ask_vote(net, &from3));
	/* A repeated request from the same candidate may be granted again. */
	assert_true(ask_vote(net, &from2));

	/* Restart from the persisted hard state: the vote is remembered. */
	node_stop(n1);
	node_start(n1);
	assert_int_equal(status_of(net, 1).term, 5);
	assert_int_equal(status_of(net, 1).vote, 2);
	assert_false(ask_vote(net, &from3));
	assert_int_equal(n1->hs.vote, 2);
	/* A later term is a new election. */
	from3.term = 6;
	assert_true(ask_vote(net, &from3));
	assert_int_equal(n1->hs.term, 6);
	assert_int_equal(n1->hs.vote, 3);
	net_free(net);
}

/* A granted vote is a promise that (term, vote) is durable. When a node
 * grants a vote and then moves to a later term before its next ready, that
 * ready's hard state no longer records the first vote: the grant must not
 * leave with it (the harness checks every grant against the hard state). */
static void test_vote_grant_leaves_only_with_the_hard_state_that_records_it(
	void **state)
{
	struct net *net = net_new(3, 3);
	struct node *n1 = &net->nodes[1];
	struct raft_msg from2 = vote_request(2, 1, 5, 100, 3);
	struct raft_msg from3 = vote_request(3, 1, 6, 100, 3);
	struct raft_msg resp;
	bool granted_to_3 = false;

	(void)state;
	node_start(n1);
	/* Both requests arrive before the application asks for a ready. */
	assert_int_equal(raft_step(n1->r, &from2), RAFT_OK);
	assert_int_equal(raft_step(n1->r, &from3), RAFT_OK);
	node_process_ready(net, n1);
	assert_int_equal(n1->hs.term, 6);
	assert_int_equal(n1->hs.vote, 3);
	while (net_take(net, 1, 2, RAFT_MSG_VOTE_RESP, &resp))
		assert_true(resp.reject);
	while (net_take(net, 1, 3, RAFT_MSG_VOTE_RESP, &resp))
		granted_to_3 = granted_to_3 || (!resp.reject && resp.term == 6);
	assert_true(granted_to_3);
	net_free(net);
}

static void test_vote_refused_to_candidate_with_stale_log_last_term_then_last_index(
	void **state)
{
	/* Node 1's log: 1@1 (conf), 2@1, 3@2; current term 2. */
	const uint64_t terms[] = { 1, 1, 2 };
	struct net *net = net_new(3, 3);
	struct raft_msg longer_but_older = vote_request(2, 1, 3, 10, 1);
	struct raft_msg same_term_shorter = vote_request(3, 1, 4, 2, 2);
	struct raft_msg newer_but_shorter = vote_request(2, 1, 5, 1, 3);
	struct raft_msg same_term_same_len = vote_request(3, 1, 6, 3, 2);

	(void)state;
	node_preload_log(&net->nodes[1], terms, 3, 2);
	node_start(&net->nodes[1]);
	assert_int_equal(status_of(net, 1).last_index, 3);
	assert_false(ask_vote(net, &longer_but_older));
	assert_false(ask_vote(net, &same_term_shorter));
	assert_int_equal(net->nodes[1].hs.vote, RAFT_NONE);
	assert_true(ask_vote(net, &newer_but_shorter));
	assert_int_equal(net->nodes[1].hs.vote, 2);
	assert_true(ask_vote(net, &same_term_same_len));
	assert_int_equal(net->nodes[1].hs.vote, 3);
	net_free(net);
}

static void test_prevote_rejoining_partitioned_node_does_not_disrupt_leader(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	uint64_t term = term_of(net, 1);

	(void)state;
	net_isolate(net, 3, true);
	net_run(net, 5 * ELECTION_TICKS);
	/* Node 3 campaigned (pre-vote) again and again, never bumping its
	 * term; the majority kept its leader. */
	assert_int_equal(term_of(net, 3), term);
	assert_int_not_equal(role_of(net, 3), RAFT_CANDIDATE);
	assert_int_equal(role_of(net, 1), RAFT_LEADER);

	net_heal(net);
	net_run(net, 3 * ELECTION_TICKS);
	for (uint64_t id = 1; id <= 3; id++) {
		assert_int_equal(term_of(net, id), term);
		assert_int_equal(status_of(net, id).leader, 1);
	}
	assert_int_equal(role_of(net, 1), RAFT_LEADER);
	assert_int_equal(role_of(net, 3), RAFT_FOLLOWER);
	net_free(net);
}

static void test_leader_stickiness_follower_ignores_votes_while_leader_heard(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	uint64_t term = term_of(net, 1);
	uint64_t last = status_of(net, 3).last_index;
	struct raft_msg req = vote_request(3, 2, term + 1, last,
					   entry_term(net, 3, last));

	(void)state;
	/* Node 2 just heard the leader: a disruptive request is ignored and
	 * does not even raise its term. */
	assert_false(ask_vote(net, &req));
	assert_int_equal(term_of(net, 2), term);
	assert_int_equal(net->nodes[2].hs.vote, status_of(net, 2).vote);
	assert_int_not_equal(net->nodes[2].hs.vote, 3);

	/* Cut from the leader, it still ignores for election_ticks... */
	net_isolate(net, 2, true);
	net_tick_silenced(net, 2, ELECTION_TICKS - 1);
	assert_false(ask_vote(net, &req));
	assert_int_equal(term_of(net, 2), term);
	/* ...and grants once election_ticks passed without a leader. */
	net_tick_silenced(net, 2, 1);
	req.term = term_of(net, 2) + 1;
	assert_true(ask_vote(net, &req));
	assert_int_equal(net->nodes[2].hs.vote, 3);
	assert_int_equal(net->nodes[2].hs.term, req.term);
	net_free(net);
}

static void test_check_quorum_leader_cut_off_from_majority_steps_down(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	int stepped_down_at = -1;
	uint64_t new_leader;

	(void)state;
	net_isolate(net, 1, true);
	for (int t = 1; t <= 3 * ELECTION_TICKS; t++) {
		net_run(net, 1);
		if (role_of(net, 1) != RAFT_LEADER) {
			stepped_down_at = t;
			break;
		}
	}
	print_message("leader stepped down after %d ticks\n", stepped_down_at);
	assert_true(stepped_down_at >= ELECTION_TICKS - 1);
	assert_true(stepped_down_at <= ELECTION_TICKS + 2);
	new_leader = net_run_until_leader(net, 4 * ELECTION_TICKS, 1);
	assert_true(new_leader == 2 || new_leader == 3);
	assert_int_not_equal(role_of(net, 1), RAFT_LEADER);
	net_free(net);
}

/* ---- log replication ---------------------------------------------------- */

static struct raft_msg append_request(uint64_t from, uint64_t to, uint64_t term,
				      uint64_t prev_index, uint64_t prev_term,
				      struct raft_entry *entries, uint32_t n)
{
	struct raft_msg m = make_msg(RAFT_MSG_APPEND, from, to, term,
				     prev_index, prev_term);

	m.entries = entries;
	m.n_entries = n;
	return m;
}

static struct raft_msg take_append_resp(struct net *net, uint64_t from,
					uint64_t to)
{
	struct raft_msg resp;

	if (!net_take(net, from, to, RAFT_MSG_APPEND_RESP, &resp))
		fail_msg("no APPEND_RESP from %llu", (unsigned long long)from);
	return resp;
}

static void test_log_matching_follower_conflicting_suffix_is_truncated(
	void **state)
{
	/* Follower 2: 1@1 (conf), 2@1, 3@2, 4@2; term 2. */
	const uint64_t terms[] = { 1, 1, 2, 2 };
	struct net *net = net_new(3, 3);
	struct raft_entry e3 = { .term = 3, .index = 3,
				 .type = RAFT_ENTRY_NORMAL, .len = 3,
				 .data = (uint8_t *)"new" };
	struct raft_msg req, resp;

	(void)state;
	node_preload_log(&net->nodes[2], terms, 4, 2);
	node_start(&net->nodes[2]);

	/* Leader 1, term 3: prev 2@1 matches, entry 3@3 conflicts with 3@2:
	 * 3 and 4 are replaced. */
	req = append_request(1, 2, 3, 2, 1, &e3, 1);
	step(net, 2, &req);
	resp = take_append_resp(net, 2, 1);
	assert_false(resp.reject);
	assert_int_equal(resp.index, 3);
	assert_int_equal(node_last_index(&net->nodes[2]), 3);
	assert_int_equal(storage_entry(&net->nodes[2], 3)->term, 3);
	assert_int_equal(status_of(net, 2).last_index, 3);
	assert_null(raft_log_entry(net->nodes[2].r, 4));

	/* prev beyond the follower's log: rejected with a hint. */
	req = append_request(1, 2, 3, 5, 3, NULL, 0);
	step(net, 2, &req);
	resp = take_append_resp(net, 2, 1);
	assert_true(resp.reject);
	assert_int_equal(resp.index, 5);
	assert_int_equal(resp.reject_hint, 3);
	assert_int_equal(resp.log_term, 3);

	/* prev index present but with another term: rejected, log kept. */
	req = append_request(1, 2, 3, 3, 2, &e3, 0);
	step(net, 2, &req);
	resp = take_append_resp(net, 2, 1);
	assert_true(resp.reject);
	assert_int_equal(resp.index, 3);
	assert_true(resp.reject_hint <= 3);
	assert_int_equal(node_last_index(&net->nodes[2]), 3);
	assert_int_equal(storage_entry(&net->nodes[2], 3)->term, 3);
	net_free(net);
}

/* Fails unless every APPEND_RESP that `from` sent to `to` is a rejection
 * or acknowledges at most index max_ack. */
static void assert_acks_at_most(struct net *net, uint64_t from, uint64_t to,
				uint64_t max_ack)
{
	struct raft_msg resp;

	while (net_take(net, from, to, RAFT_MSG_APPEND_RESP, &resp)) {
		if (!resp.reject && resp.index > max_ack)
			fail_msg("node %llu acks index %llu to node %llu, "
				 "which only matches it up to %llu",
				 (unsigned long long)from,
				 (unsigned long long)resp.index,
				 (unsigned long long)to,
				 (unsigned long long)max_ack);
	}
}

/* An append acknowledgement promises that the follower's log matches the
 * leader's up to its index and is durable. Here node 3 takes entries 2..3
 * of a term-2 leader, and before the application persists them, a term-3
 * leader replaces them (by a conflicting append, then by a snapshot). The
 * ack to the term-2 leader leaves with the next ready: it must not claim
 * entries 2..3, which never reach the disk (else the term-2 leader could
 * count node 3 and commit them on a minority). */
static void test_follower_never_acknowledges_an_entry_it_did_not_persist(
	void **state)
{
	struct raft_entry t2[] = {
		{ .term = 2, .index = 2, .type = RAFT_ENTRY_NORMAL, .len = 2,
		  .data = (uint8_t *)"a2" },
		{ .term = 2, .index = 3, .type = RAFT_ENTRY_NORMAL, .len = 2,
		  .data = (uint8_t *)"b2" },
	};
	struct raft_entry t3[] = {
		{ .term = 3, .index = 2, .type = RAFT_ENTRY_NORMAL, .len = 2,
		  .data = (uint8_t *)"a3" },
		{ .term = 3, .index = 3, .type = RAFT_ENTRY_NORMAL, .len = 2,
		  .data = (uint8_t *)"b3" },
		{ .term = 3, .index = 4, .type = RAFT_ENTRY_NORMAL, .len = 2,
		  .data = (uint8_t *)"c3" },
	};
	struct net *net = net_new(3, 3);
	struct node *n3 = &net->nodes[3];
	struct raft_msg old_leader = append_request(1, 3, 2, 1, 1, t2, 2);
	struct raft_msg new_leader = append_request(2, 3, 3, 1, 1, t3, 3);
	struct raft_msg snap;

	(void)state;
	node_start(n3);
	/* A conflicting append truncates the unpersisted entries. */
	assert_int_equal(raft_step(n3->r, &old_leader), RAFT_OK);
	assert_int_equal(raft_step(n3->r, &new_leader), RAFT_OK);
	node_process_ready(net, n3);
	assert_int_equal(storage_entry(n3, 3)->term, 3);
	assert_int_equal(node_last_index(n3), 4);
	assert_acks_at_most(net, 3, 1, 1);
	assert_int_equal(take_append_resp(net, 3, 2).index, 4);

	/* A snapshot replaces unpersisted entries: node 3 restarts empty,
	 * takes the term-2 entries, then a term-3 snapshot at index 5. */
	node_stop(n3);
	node_free_storage(n3);
	memset(&n3->hs, 0, sizeof(n3->hs));
	msgq_clear(&net->q);
	node_start(n3);
	memset(&snap, 0, sizeof(snap));
	snap.type = RAFT_MSG_SNAPSHOT;
	snap.from = 2;
	snap.to = 3;
	snap.term = 3;
	snap.snap_meta.index = 5;
	snap.snap_meta.term = 3;
	snap.snap_meta.conf = n3->bootstrap;
	snap.snap_total = 3;
	snap.snap_chunk_len = 3;
	snap.snap_chunk = (uint8_t *)"sm5";
	snap.snap_done = true;
	assert_int_equal(raft_step(n3->r, &old_leader), RAFT_OK);
	assert_int_equal(raft_step(n3->r, &snap), RAFT_OK);
	node_process_ready(net, n3);
	assert_int_equal(n3->n_snapshots_installed, 1);
	assert_int_equal(n3->n_log, 0);
	assert_acks_at_most(net, 3, 1, 1);
	net_free(net);
}

static void assert_logs_identical(struct net *net, uint64_t a, uint64_t b)
{
	const struct node *na = &net->nodes[a], *nb = &net->nodes[b];

	assert_int_equal(node_last_index(na), node_last_index(nb));
	for (uint32_t i = 0; i < na->n_log; i++) {
		const struct raft_entry *eb = storage_entry(nb, na->log[i].index);

		if (eb == NULL)
			continue; /* compacted on b */
		assert_int_equal(eb->term, na->log[i].term);
		assert_int_equal(eb->len, na->log[i].len);
	}
}

static void test_log_matching_deposed_leader_uncommitted_suffix_is_replaced(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	uint64_t lost, kept, new_leader, new_term, commit;

	(void)state;
	commit = commit_of(net, 1);
	net_isolate(net, 1, true);
	lost = propose(net, 1, "lost-1");
	propose(net, 1, "lost-2");
	net_stabilize(net);
	assert_int_equal(commit_of(net, 1), commit);

	new_leader = net_run_until_leader(net, 5 * ELECTION_TICKS, 1);
	assert_true(new_leader == 2 || new_leader == 3);
	new_term = term_of(net, new_leader);
	/* The new leader's no-op took index `lost`, "kept" the next one. */
	kept = propose(net, new_leader, "kept");
	assert_int_equal(kept, lost + 1);
	net_stabilize(net);
	net_heal(net);
	net_run(net, 3 * ELECTION_TICKS);
	assert_int_equal(net_leader(net), new_leader);
	assert_int_equal(term_of(net, new_leader), new_term);
	assert_int_equal(entry_term(net, 1, lost), new_term);
	assert_int_equal(entry_term(net, 1, kept), new_term);
	assert_true(commit_of(net, 1) >= kept);
	assert_int_equal(node_last_index(&net->nodes[1]),
			 node_last_index(&net->nodes[new_leader]));
	assert_logs_identical(net, 1, new_leader);
	assert_int_equal(net->nodes[1].sm_len, net->nodes[new_leader].sm_len);
	assert_memory_equal(net->nodes[1].sm, net->nodes[new_leader].sm,
			    net->nodes[1].sm_len);
	net_free(net);
}

static void test_commit_by_majority_not_all_reaches_followers_with_next_heartbeat(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	uint64_t idx;

	(void)state;
	net_isolate(net, 3, true);
	idx = propose(net, 1, "majority");
	net_stabilize(net);
	/* Leader + node 2 are a majority: committed without node 3. */
	assert_int_equal(commit_of(net, 1), idx);
	assert_int_equal(net->nodes[1].applied, idx);
	assert_int_equal(entry_term(net, 3, idx), 0);
	/* The next heartbeat carries the commit index to node 2. */
	net_tick(net, 1);
	net_stabilize(net);
	assert_int_equal(commit_of(net, 2), idx);
	assert_int_equal(net->nodes[2].applied, idx);
	assert_true(commit_of(net, 3) < idx);
	/* Node 3 catches up once reachable. */
	net_heal(net);
	net_run(net, 2);
	assert_int_equal(commit_of(net, 3), idx);
	assert_int_equal(net->nodes[3].applied, idx);
	assert_memory_equal(net->nodes[3].sm, net->nodes[1].sm,
			    net->nodes[1].sm_len);
	net_free(net);
}

/* ---- membership --------------------------------------------------------- */

static void test_membership_learner_catches_up_without_voting_then_promoted(
	void **state)
{
	struct net *net = net_new(4, 3);
	uint64_t idx, idx_l, term4;
	struct raft_status st;
	int rc;

	(void)state;
	net_start(net);
	net_elect(net, 1);
	net_run(net, 1);

	/* Add node 4 as learner; a second change waits for the first. */
	assert_int_equal(raft_propose_conf(net->nodes[1].r,
					   RAFT_CONF_ADD_LEARNER, 4, &idx),
			 RAFT_OK);
	assert_int_equal(raft_propose_conf(net->nodes[1].r, RAFT_CONF_REMOVE, 3,
					   NULL),
			 RAFT_ECONFPENDING);
	net_run(net, 3);
	st = status_of(net, 1);
	assert_true(st.commit >= idx);
	assert_true(conf_has_learner(&st.conf, 4));
	assert_false(conf_has_voter(&st.conf, 4));
	st = status_of(net, 4);
	assert_true(conf_has_learner(&st.conf, 4));
	st = status_of(net, 1);
	assert_int_equal(node_last_index(&net->nodes[4]),
			 node_last_index(&net->nodes[1]));
	assert_int_equal(net->nodes[4].applied, st.commit);

	/* A learner does not count for commit: leader + learner is not a
	 * majority of the three voters. */
	net_isolate(net, 1, true);
	net_cut_pair(net, 1, 4, false);
	idx_l = propose(net, 1, "learner-only");
	net_stabilize(net);
	net_tick(net, 1);
	net_stabilize(net);
	assert_int_equal(entry_term(net, 4, idx_l), term_of(net, 1));
	assert_true(commit_of(net, 1) < idx_l);

	/* A learner never campaigns. */
	term4 = term_of(net, 4);
	net_isolate(net, 4, true);
	net_tick_silenced(net, 4, 3 * ELECTION_TICKS);
	rc = raft_campaign(net->nodes[4].r);
	assert_true(rc == RAFT_OK || rc == RAFT_EINVAL);
	node_process_ready(net, &net->nodes[4]);
	assert_int_equal(role_of(net, 4), RAFT_FOLLOWER);
	assert_int_equal(term_of(net, 4), term4);
	net_drop_from(net, 4);

	net_heal(net);
	net_run(net, 2);
	assert_true(commit_of(net, 1) >= idx_l);
	assert_int_equal(net_leader(net), 1);

	/* Promote: node 4 is now a voter and counts. */
	assert_int_equal(raft_propose_conf(net->nodes[1].r, RAFT_CONF_PROMOTE,
					   4, &idx),
			 RAFT_OK);
	net_run(net, 3);
	for (uint64_t id = 1; id <= 4; id++) {
		st = status_of(net, id);
		assert_true(conf_has_voter(&st.conf, 4));
		assert_false(conf_has_learner(&st.conf, 4));
		assert_int_equal(st.conf.n_voters, 4);
	}
	/* With four voters {1,3,4} is a majority only if 4 counts. */
	net_cut_pair(net, 1, 2, true);
	idx = propose(net, 1, "needs-4");
	net_stabilize(net);
	net_tick(net, 1);
	net_stabilize(net);
	assert_true(commit_of(net, 1) >= idx);
	net_free(net);
}

static void test_membership_removed_leader_steps_down_after_commit(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	uint64_t idx, new_leader;
	struct raft_status st;

	(void)state;
	net_isolate(net, 1, true);
	assert_int_equal(raft_propose_conf(net->nodes[1].r, RAFT_CONF_REMOVE, 1,
					   &idx),
			 RAFT_OK);
	node_process_ready(net, &net->nodes[1]);
	net_stabilize(net);
	/* Not committed yet: still leading. */
	assert_int_equal(role_of(net, 1), RAFT_LEADER);
	assert_true(commit_of(net, 1) < idx);

	net_heal(net);
	net_stabilize(net);
	for (int t = 0; t < 3 && role_of(net, 1) == RAFT_LEADER; t++) {
		net_tick(net, 1);
		net_stabilize(net);
	}
	assert_int_not_equal(role_of(net, 1), RAFT_LEADER);
	assert_true(net->nodes[1].applied >= idx);

	new_leader = net_run_until_leader(net, 5 * ELECTION_TICKS, 1);
	assert_true(new_leader == 2 || new_leader == 3);
	st = status_of(net, new_leader);
	assert_int_equal(st.conf.n_voters, 2);
	assert_false(conf_has_voter(&st.conf, 1));
	idx = propose(net, new_leader, "after-removal");
	net_run(net, 2);
	assert_true(commit_of(net, 2) >= idx);
	assert_true(commit_of(net, 3) >= idx);
	net_free(net);
}

/* Drops every APPEND node 2 sends: its entries reach nobody. */
static enum net_verdict silence_appends_from_2(struct net *net,
					       struct raft_msg *m)
{
	(void)net;
	if (m->from == 2 && m->type == RAFT_MSG_APPEND)
		return NET_DROP;
	return NET_DELIVER;
}

/* raft-dev errata to single-server membership changes (Ongaro, 2015): a
 * new leader's log may end with a change that an earlier leader never
 * committed; a change proposed on top of it before the new leader commits
 * an entry of its own term can give two disjoint quorums. So a leader
 * refuses a membership change until it committed an entry of its term
 * (its no-op); ordinary proposals are still accepted meanwhile. */
static void test_leader_appends_no_conf_change_before_committing_in_its_term(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	struct raft *r2;
	uint64_t idx, before;
	struct raft_status st;

	(void)state;
	net_isolate(net, 1, true);
	net_tick_silenced(net, 2, ELECTION_TICKS);
	net_tick_silenced(net, 3, ELECTION_TICKS);
	net->filter = silence_appends_from_2;
	net_elect(net, 2);
	r2 = net->nodes[2].r;
	st = status_of(net, 2);
	assert_true(st.commit < st.last_index);
	assert_int_equal(entry_term(net, 2, st.last_index), st.term);
	before = st.last_index;
	assert_int_equal(raft_propose_conf(r2, RAFT_CONF_REMOVE, 1, &idx),
			 RAFT_ECONFPENDING);
	assert_int_equal(raft_propose_conf(r2, RAFT_CONF_DEMOTE, 3, &idx),
			 RAFT_ECONFPENDING);
	assert_int_equal(status_of(net, 2).last_index, before);
	assert_int_equal(status_of(net, 2).conf.n_voters, 3);
	idx = propose(net, 2, "normal-write");
	assert_int_equal(idx, before + 1);

	/* Once the no-op of its term commits, the change is accepted. */
	net->filter = NULL;
	net_run(net, 1);
	assert_true(commit_of(net, 2) >= idx);
	assert_int_equal(raft_propose_conf(r2, RAFT_CONF_REMOVE, 1, &idx),
			 RAFT_OK);
	net_run(net, 2);
	assert_true(commit_of(net, 2) >= idx);
	st = status_of(net, 3);
	assert_int_equal(st.conf.n_voters, 2);
	assert_false(conf_has_voter(&st.conf, 1));
	net_free(net);
}

static void test_membership_refuses_removing_the_last_voter(void **state)
{
	struct net *net = net_new(2, 1);
	struct raft_status st;
	struct raft *r;

	(void)state;
	net_start(net);
	net_elect(net, 1);
	r = net->nodes[1].r;
	assert_int_equal(raft_propose_conf(r, RAFT_CONF_REMOVE, 1, NULL),
			 RAFT_ENOQUORUM);
	assert_int_equal(raft_propose_conf(r, RAFT_CONF_DEMOTE, 1, NULL),
			 RAFT_ENOQUORUM);
	/* A learner does not make it safe. */
	assert_int_equal(raft_propose_conf(r, RAFT_CONF_ADD_LEARNER, 2, NULL),
			 RAFT_OK);
	net_run(net, 2);
	st = status_of(net, 1);
	assert_true(conf_has_learner(&st.conf, 2));
	assert_int_equal(raft_propose_conf(r, RAFT_CONF_REMOVE, 1, NULL),
			 RAFT_ENOQUORUM);
	assert_int_equal(status_of(net, 1).conf.n_voters, 1);
	assert_int_equal(role_of(net, 1), RAFT_LEADER);
	net_free(net);
}

/* ---- snapshots ---------------------------------------------------------- */

/* Drops the filter_arg-th SNAPSHOT chunk sent to node 3 (0: none). */
static enum net_verdict drop_one_chunk(struct net *net, struct raft_msg *m)
{
	if (m->type != RAFT_MSG_SNAPSHOT || m->to != 3)
		return NET_DELIVER;
	net->filter_count++;
	if (net->filter_count == net->filter_arg)
		return NET_DROP;
	return NET_DELIVER;
}

static void snapshot_scenario(uint32_t drop_chunk)
{
	struct net *net = net_new(3, 3);
	struct node *n1 = &net->nodes[1], *n3 = &net->nodes[3];
	struct raft_snapshot_meta meta;
	uint64_t applied, idx;
	struct raft_status st;
	int t;

	for (uint64_t id = 1; id <= 3; id++)
		net->nodes[id].cfg.snapshot_chunk_bytes = 16;
	net_start(net);
	net_elect(net, 1);
	net_run(net, 1);

	/* Node 3 misses twelve entries, which the leader then compacts. */
	net_isolate(net, 3, true);
	for (unsigned i = 0; i < 12; i++) {
		char text[32];

		snprintf(text, sizeof(text), "entry-%02u", i);
		propose(net, 1, text);
	}
	net_run(net, 1);
	applied = n1->applied;
	assert_int_equal(commit_of(net, 1), applied);
	assert_int_equal(n1->sm_len, 12 * 8);
	assert_int_equal(raft_snapshot_taken(n1->r, applied, n1->sm,
					     n1->sm_len, 0),
			 RAFT_OK);
	st = status_of(net, 1);
	meta.index = applied;
	meta.term = st.term;
	meta.conf = st.conf;
	storage_set_snapshot(n1, &meta, n1->sm, n1->sm_len);
	storage_compact(n1, applied);
	assert_int_equal(st.snapshot_index, applied);
	assert_int_equal(st.first_index, applied + 1);
	assert_null(raft_log_entry(n1->r, applied));

	/* Node 3 returns and gets the snapshot in 16-byte chunks. */
	net->filter = drop_one_chunk;
	net->filter_arg = drop_chunk;
	net_heal(net);
	for (t = 0; t < 20 * ELECTION_TICKS && n3->applied < applied; t++)
		net_run(net, 1);
	print_message("snapshot: %u chunks delivered, %u sent to node 3, "
		      "caught up after %d ticks\n",
		      net->delivered[RAFT_MSG_SNAPSHOT], net->filter_count, t);
	assert_int_equal(n3->applied, applied);
	assert_int_equal(n3->n_snapshots_installed, 1);
	assert_true(net->delivered[RAFT_MSG_SNAPSHOT] >= 12 * 8 / 16);
	if (drop_chunk > 0)
		assert_true(net->filter_count > 12 * 8 / 16);
	assert_int_equal(n3->sm_len, n1->sm_len);
	assert_memory_equal(n3->sm, n1->sm, n1->sm_len);
	assert_int_equal(status_of(net, 3).snapshot_index, applied);
	assert_int_equal(n3->snap.meta.index, applied);

	/* And follows the log from there. */
	net->filter = NULL;
	idx = propose(net, 1, "after-snap");
	net_run(net, 2);
	assert_int_equal(n3->applied, idx);
	assert_int_equal(n3->sm_len, n1->sm_len);
	assert_memory_equal(n3->sm, n1->sm, n1->sm_len);
	assert_logs_identical(net, 1, 3);
	net_free(net);
}

static void test_snapshot_lagging_follower_installs_chunked_snapshot(
	void **state)
{
	(void)state;
	snapshot_scenario(0);
}

static void test_snapshot_lost_chunk_is_recovered(void **state)
{
	(void)state;
	snapshot_scenario(2);
}

/* ---- leadership transfer ------------------------------------------------ */

static void test_leadership_transfer_moves_leader_and_refuses_proposals_meanwhile(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	uint64_t term = term_of(net, 1), idx;

	(void)state;
	/* Node 3 lags by one entry: the leader catches it up first. */
	net_isolate(net, 3, true);
	idx = propose(net, 1, "before-transfer");
	net_stabilize(net);
	net_heal(net);

	assert_int_equal(raft_transfer_leader(net->nodes[1].r, 3), RAFT_OK);
	assert_int_equal(status_of(net, 1).transferee, 3);
	assert_int_equal(raft_propose(net->nodes[1].r, "x", 1, NULL, NULL),
			 RAFT_ETRANSFER);
	net_stabilize(net);
	for (int t = 0; t < 3 && role_of(net, 3) != RAFT_LEADER; t++)
		net_run(net, 1);
	assert_int_equal(role_of(net, 3), RAFT_LEADER);
	assert_true(term_of(net, 3) > term);
	assert_int_equal(role_of(net, 1), RAFT_FOLLOWER);
	assert_int_equal(status_of(net, 1).leader, 3);
	assert_int_equal(entry_term(net, 3, idx), term);
	assert_int_equal(raft_propose(net->nodes[1].r, "x", 1, NULL, NULL),
			 RAFT_ENOTLEADER);
	idx = propose(net, 3, "after-transfer");
	net_run(net, 1);
	assert_true(commit_of(net, 1) >= idx);

	/* A transfer to an unreachable node gives up after an election
	 * timeout and proposals flow again. */
	net_isolate(net, 2, true);
	assert_int_equal(raft_transfer_leader(net->nodes[3].r, 2), RAFT_OK);
	assert_int_equal(raft_propose(net->nodes[3].r, "y", 1, NULL, NULL),
			 RAFT_ETRANSFER);
	net_run(net, ELECTION_TICKS + 2);
	assert_int_equal(role_of(net, 3), RAFT_LEADER);
	assert_int_equal(status_of(net, 3).transferee, 0);
	propose(net, 3, "y");
	net_free(net);
}

/* ---- linearizable reads ------------------------------------------------- */

static void test_read_index_leader_read_completes_after_heartbeat_round(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	const struct raft_read_state *rs;
	uint64_t commit;

	(void)state;
	propose(net, 1, "w");
	net_run(net, 1);
	commit = commit_of(net, 1);
	assert_int_equal(raft_read_index(net->nodes[1].r, 77), RAFT_OK);
	node_process_ready(net, &net->nodes[1]);
	assert_null(find_read(&net->nodes[1], 77)); /* not before the round */
	net_stabilize(net);
	rs = find_read(&net->nodes[1], 77);
	assert_non_null(rs);
	assert_int_equal(rs->index, commit);
	net_free(net);
}

static void test_read_index_partitioned_leader_cannot_complete_read(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	uint64_t new_leader, idx;

	(void)state;
	net_isolate(net, 1, true);
	/* Node 1 still believes it leads and accepts the read... */
	assert_int_equal(raft_read_index(net->nodes[1].r, 88), RAFT_OK);
	net_stabilize(net);
	/* ...while the majority moves on and commits a write. */
	new_leader = net_run_until_leader(net, 5 * ELECTION_TICKS, 1);
	assert_true(new_leader == 2 || new_leader == 3);
	idx = propose(net, new_leader, "newer");
	net_run(net, 2);
	assert_true(commit_of(net, new_leader) >= idx);
	assert_null(find_read(&net->nodes[1], 88));
	net_free(net);
}

static void test_read_index_follower_read_is_forwarded_and_completes(
	void **state)
{
	struct net *net = cluster_with_leader(3);
	const struct raft_read_state *rs;

	(void)state;
	propose(net, 1, "w");
	net_run(net, 1);
	assert_int_equal(raft_read_index(net->nodes[2].r, 99), RAFT_OK);
	net_stabilize(net);
	assert_true(net->delivered[RAFT_MSG_READ_INDEX] >= 1);
	rs = find_read(&net->nodes[2], 99);
	assert_non_null(rs);
	assert_int_equal(rs->index, commit_of(net, 1));
	assert_null(find_read(&net->nodes[1], 99));
	net_free(net);
}

/* ---- restart ------------------------------------------------------------ */

static void test_restart_reemits_committed_entries_and_keeps_vote(void **state)
{
	struct net *net = cluster_with_leader(3);
	struct node *n2 = &net->nodes[2];
	uint64_t commit, term, last;
	uint8_t before[256];
	size_t before_len;
	struct raft_msg req;

	(void)state;
	propose(net, 1, "one");
	propose(net, 1, "two");
	propose(net, 1, "three");
	net_run(net, 2);
	commit = commit_of(net, 2);
	term = term_of(net, 2);
	assert_int_equal(n2->applied, commit);
	assert_int_equal(n2->hs.vote, 1);
	before_len = n2->sm_len;
	assert_true(before_len == 11 && before_len <= sizeof(before));
	memcpy(before, n2->sm, before_len);

	node_stop(n2);
	node_start(n2);
	node_process_ready(net, n2);
	assert_int_equal(status_of(net, 2).applied, commit);
	assert_int_equal(n2->applied, commit);
	assert_int_equal(n2->sm_len, before_len);
	assert_memory_equal(n2->sm, before, before_len);
	assert_int_equal(status_of(net, 2).term, term);
	assert_int_equal(status_of(net, 2).vote, 1);
	assert_int_equal(status_of(net, 2).commit, commit);

	/* The remembered vote: node 3 cannot get node 2's vote in the same
	 * term (node 2 has no leader yet after the restart). */
	last = node_last_index(&net->nodes[3]);
	req = vote_request(3, 2, term, last, entry_term(net, 3, last));
	assert_false(ask_vote(net, &req));
	assert_int_equal(n2->hs.vote, 1);
	net_free(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_figure8_leader_does_not_commit_old_term_entry_by_counting_replicas),
		cmocka_unit_test(test_election_safety_node_grants_at_most_one_vote_per_term),
		cmocka_unit_test(test_vote_grant_leaves_only_with_the_hard_state_that_records_it),
		cmocka_unit_test(test_vote_refused_to_candidate_with_stale_log_last_term_then_last_index),
		cmocka_unit_test(test_prevote_rejoining_partitioned_node_does_not_disrupt_leader),
		cmocka_unit_test(test_leader_stickiness_follower_ignores_votes_while_leader_heard),
		cmocka_unit_test(test_check_quorum_leader_cut_off_from_majority_steps_down),
		cmocka_unit_test(test_log_matching_follower_conflicting_suffix_is_truncated),
		cmocka_unit_test(test_follower_never_acknowledges_an_entry_it_did_not_persist),
		cmocka_unit_test(test_log_matching_deposed_leader_uncommitted_suffix_is_replaced),
		cmocka_unit_test(test_commit_by_majority_not_all_reaches_followers_with_next_heartbeat),
		cmocka_unit_test(test_membership_learner_catches_up_without_voting_then_promoted),
		cmocka_unit_test(test_membership_removed_leader_steps_down_after_commit),
		cmocka_unit_test(test_leader_appends_no_conf_change_before_committing_in_its_term),
		cmocka_unit_test(test_membership_refuses_removing_the_last_voter),
		cmocka_unit_test(test_snapshot_lagging_follower_installs_chunked_snapshot),
		cmocka_unit_test(test_snapshot_lost_chunk_is_recovered),
		cmocka_unit_test(test_leadership_transfer_moves_leader_and_refuses_proposals_meanwhile),
		cmocka_unit_test(test_read_index_leader_read_completes_after_heartbeat_round),
		cmocka_unit_test(test_read_index_partitioned_leader_cannot_complete_read),
		cmocka_unit_test(test_read_index_follower_read_is_forwarded_and_completes),
		cmocka_unit_test(test_restart_reemits_committed_entries_and_keeps_vote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

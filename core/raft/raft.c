/*
 * raft.c: orchd's raft consensus engine, a pure state machine modelled on
 * etcd's raft (see raft.h for the interface and the driving loop).
 *
 * A struct raft owns, in memory: the log suffix after the last compaction
 * point (entries with individually allocated data), the hard state (term,
 * vote, commit), the membership in effect (the last RAFT_ENTRY_CONF of the
 * log, or the conf of the compaction point), the latest snapshot (taken
 * locally or received), a snapshot being received in chunks, the leader's
 * per-follower progress, election votes, pending linearizable reads, the
 * outbox of messages, and the memory handed out by raft_ready() until
 * raft_advance().
 *
 * Conventions beyond raft.h:
 *  - A bootstrap conf becomes a committed RAFT_ENTRY_CONF entry at index 1,
 *    term 1 (the same on every founding node), so membership is always in
 *    the log or a snapshot and survives restarts.
 *  - SNAPSHOT_RESP: reject means "restart from offset 0"; reject_hint > 0
 *    acknowledges that many bytes of snapshot `index` (send the next
 *    chunk); reject_hint == 0 means installed (or not needed) up to index.
 *  - Committed entries are handed out only once durable (index <= the last
 *    index advanced past), so they may trail commit by one ready.
 *  - The leader counts its own log as replicated when appended (its acks
 *    only leave after the ready that persists them).
 *  - Every message of a ready is backed by what that ready persists: a
 *    queued append acknowledgement is cut down when the log it vouches for
 *    is truncated or replaced by a snapshot, and a queued vote grant is
 *    dropped when the term moves on before it was handed out.
 *  - A leader proposes a membership change only after committing an entry
 *    of its own term (raft-dev errata to single-server changes).
 *
 * Memory rule: entry data freed while the engine runs (log truncation,
 * compaction, snapshot replacement) may still be referenced by a ready or a
 * queued message, so it goes to a garbage list that raft_advance() frees
 * once no queued message can point into it. Bookkeeping allocations abort
 * the process on failure (like a failed assert); allocations sized by the
 * caller (proposals, snapshots) return RAFT_ENOMEM.
 */
#include "raft.h"
#include "raft_le.h"
#include "fsutil.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

static void *raft_xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	if (q == NULL) {
		fprintf(stderr, "raft: out of memory allocating %zu bytes\n",
			size);
		abort();
	}
	return q;
}

/* Makes room for one more element in a growable array. */
#define RAFT_RESERVE(arr, n, cap)                                            \
	do {                                                                 \
		if ((n) == (cap)) {                                          \
			(cap) = (cap) ? 2 * (cap) : 8;                       \
			(arr) = raft_xrealloc((arr), (cap) * sizeof(*(arr)));\
		}                                                            \
	} while (0)

static uint64_t raft_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t raft_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

const char *raft_strerror(int err)
{
	switch (err) {
	case RAFT_OK: return "success";
	case RAFT_ENOTLEADER: return "not the leader";
	case RAFT_ETRANSFER: return "leadership transfer in progress";
	case RAFT_ECONFPENDING: return "a membership change is pending";
	case RAFT_EINVAL: return "invalid argument";
	case RAFT_ENOMEM: return "out of memory";
	case RAFT_ETOOBIG: return "entry too large";
	case RAFT_ENOQUORUM: return "change would leave no voter";
	}
	return "unknown raft error";
}

const char *raft_role_name(enum raft_role role)
{
	switch (role) {
	case RAFT_FOLLOWER: return "follower";
	case RAFT_PRE_CANDIDATE: return "pre-candidate";
	case RAFT_CANDIDATE: return "candidate";
	case RAFT_LEADER: return "leader";
	}
	return "unknown";
}

void raft_config_defaults(struct raft_config *cfg, uint64_t id)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->id = id;
	cfg->election_ticks = 10;
	cfg->heartbeat_ticks = 1;
	cfg->pre_vote = true;
	cfg->check_quorum = true;
	cfg->max_inflight = 256;
	cfg->max_msg_bytes = 1u << 20;
	cfg->max_entry_bytes = 1u << 20;
	cfg->snapshot_chunk_bytes = 64u << 10;
}

/* ---- membership --------------------------------------------------------- */

static bool raft_conf_has(const uint64_t *ids, uint32_t n, uint64_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool raft_conf_is_voter(const struct raft_conf *c, uint64_t id)
{
	return raft_conf_has(c->voters, c->n_voters, id);
}

static bool raft_conf_is_learner(const struct raft_conf *c, uint64_t id)
{
	return raft_conf_has(c->learners, c->n_learners, id);
}

static bool raft_conf_valid(const struct raft_conf *c)
{
	if (c->n_voters > RAFT_MAX_NODES || c->n_learners > RAFT_MAX_NODES)
		return false;
	for (uint32_t i = 0; i < c->n_voters; i++)
		if (c->voters[i] == RAFT_NONE ||
		    raft_conf_has(c->voters, i, c->voters[i]))
			return false;
	for (uint32_t i = 0; i < c->n_learners; i++)
		if (c->learners[i] == RAFT_NONE ||
		    raft_conf_has(c->learners, i, c->learners[i]) ||
		    raft_conf_is_voter(c, c->learners[i]))
			return false;
	return true;
}

/* Format: u32 n_voters, u32 n_learners, then the voter ids and the learner
 * ids as u64, all little-endian. */
size_t raft_conf_encode(const struct raft_conf *c, uint8_t *buf)
{
	size_t off = 8;

	assert(c->n_voters <= RAFT_MAX_NODES &&
	       c->n_learners <= RAFT_MAX_NODES);
	for (int i = 0; i < 4; i++) {
		buf[i] = (uint8_t)(c->n_voters >> (8 * i));
		buf[4 + i] = (uint8_t)(c->n_learners >> (8 * i));
	}
	for (uint32_t i = 0; i < c->n_voters; i++, off += 8)
		raft_le_put64(buf + off, c->voters[i]);
	for (uint32_t i = 0; i < c->n_learners; i++, off += 8)
		raft_le_put64(buf + off, c->learners[i]);
	return off;
}

int raft_conf_decode(const uint8_t *buf, size_t len, struct raft_conf *c)
{
	uint32_t nv = 0, nl = 0;
	size_t off = 8;

	if (buf == NULL || len < 8)
		return RAFT_EINVAL;
	for (int i = 0; i < 4; i++) {
		nv |= (uint32_t)buf[i] << (8 * i);
		nl |= (uint32_t)buf[4 + i] << (8 * i);
	}
	if (nv > RAFT_MAX_NODES || nl > RAFT_MAX_NODES ||
	    len != 8 + 8 * (size_t)(nv + nl))
		return RAFT_EINVAL;
	memset(c, 0, sizeof(*c));
	c->n_voters = nv;
	c->n_learners = nl;
	for (uint32_t i = 0; i < nv; i++, off += 8)
		c->voters[i] = raft_le_get64(buf + off);
	for (uint32_t i = 0; i < nl; i++, off += 8)
		c->learners[i] = raft_le_get64(buf + off);
	return raft_conf_valid(c) ? RAFT_OK : RAFT_EINVAL;
}

static void raft_ids_remove(uint64_t *ids, uint32_t *n, uint64_t id)
{
	for (uint32_t i = 0; i < *n; i++) {
		if (ids[i] == id) {
			memmove(&ids[i], &ids[i + 1],
				(*n - i - 1) * sizeof(ids[0]));
			(*n)--;
			return;
		}
	}
}

/* Applies one change to c. Sets *noop when there is nothing to change. */
static int raft_conf_apply_change(struct raft_conf *c,
				  enum raft_conf_change change, uint64_t node,
				  bool *noop)
{
	bool voter = raft_conf_is_voter(c, node);
	bool learner = raft_conf_is_learner(c, node);

	*noop = false;
	switch (change) {
	case RAFT_CONF_ADD_LEARNER:
		if (voter)
			return RAFT_EINVAL;
		if (learner) {
			*noop = true;
			return RAFT_OK;
		}
		if (c->n_learners == RAFT_MAX_NODES)
			return RAFT_EINVAL;
		c->learners[c->n_learners++] = node;
		return RAFT_OK;
	case RAFT_CONF_PROMOTE:
		if (!learner || c->n_voters == RAFT_MAX_NODES)
			return RAFT_EINVAL;
		raft_ids_remove(c->learners, &c->n_learners, node);
		c->voters[c->n_voters++] = node;
		return RAFT_OK;
	case RAFT_CONF_REMOVE:
		if (learner) {
			raft_ids_remove(c->learners, &c->n_learners, node);
			return RAFT_OK;
		}
		if (!voter)
			return RAFT_EINVAL;
		if (c->n_voters == 1)
			return RAFT_ENOQUORUM;
		raft_ids_remove(c->voters, &c->n_voters, node);
		return RAFT_OK;
	case RAFT_CONF_DEMOTE:
		if (!voter || c->n_learners == RAFT_MAX_NODES)
			return RAFT_EINVAL;
		if (c->n_voters == 1)
			return RAFT_ENOQUORUM;
		raft_ids_remove(c->voters, &c->n_voters, node);
		c->learners[c->n_learners++] = node;
		return RAFT_OK;
	}
	return RAFT_EINVAL;
}

/* ---- engine state ------------------------------------------------------- */

enum raft_peer_state {
	RAFT_PEER_PROBE,     /* one append at a time until a match is found */
	RAFT_PEER_REPLICATE, /* pipelined appends within the inflight window */
	RAFT_PEER_SNAPSHOT,  /* streaming a snapshot; appends paused */
};

/* Ring of the last index of each append in flight to one follower. */
struct raft_inflights {
	uint64_t *buf;
	uint32_t start, count, cap;
};

/* The leader's view of one follower. */
struct raft_peer {
	uint64_t id;
	bool is_learner;
	uint64_t match; /* highest index known replicated */
	uint64_t next;  /* next index to send */
	enum raft_peer_state state;
	bool probe_sent;    /* probe state: an append is unanswered */
	uint64_t last_active; /* r->ticks when we last heard from it */
	struct raft_inflights inflights;
	uint64_t snap_index;  /* snapshot being streamed */
	uint64_t snap_offset; /* offset of the chunk in flight */
	uint64_t snap_end;    /* offset just past that chunk */
	uint32_t snap_idle;   /* heartbeat rounds without a snapshot reply */
};

/* The in-memory log: entries prev_index+1 .. prev_index+n. */
struct raft_log {
	struct raft_entry *ents;
	uint64_t n, cap;
	uint64_t prev_index, prev_term; /* the compaction point */
	uint64_t commit;
	uint64_t applied;  /* last index handed out (and advanced) to apply */
	uint64_t stable;   /* last index known durable */
	uint64_t unstable; /* first index not yet handed out in a ready */
};

struct raft_vote {
	uint64_t id;
	bool granted;
};

/* A read waiting for a heartbeat quorum (index set) or for the leader's
 * first commit in its term (waiting list). */
struct raft_read_req {
	uint64_t context;
	uint64_t index;
	uint64_t from; /* who asked: ourselves or a follower */
	uint32_t n_acks;
	uint64_t acks[RAFT_MAX_NODES];
};

/* A snapshot arriving in chunks. */
struct raft_recv_snap {
	bool active;
	struct raft_snapshot_meta meta;
	uint64_t total;
	uint64_t received;
	uint8_t *data;
};

struct raft {
	struct raft_config cfg;
	uint64_t id;
	enum raft_role role;
	uint64_t term, vote, leader;
	struct raft_log log;

	struct raft_conf conf;      /* membership in effect */
	uint64_t conf_index;        /* index of the entry that set it */
	struct raft_conf base_conf; /* membership as of log.prev_index */
	struct raft_conf prev_conf; /* membership before conf_index */

	struct raft_snapshot snap; /* latest snapshot; meta.index 0: none */
	bool snap_to_hand;         /* received, not yet in a ready */
	struct raft_recv_snap recv;

	struct raft_peer peers[2 * RAFT_MAX_NODES]; /* leader only */
	uint32_t n_peers;
	struct raft_vote votes[RAFT_MAX_NODES];
	uint32_t n_votes;

	uint64_t ticks; /* ticks since creation: the leader's clock */
	uint32_t election_elapsed;
	uint32_t heartbeat_elapsed;
	uint32_t randomized_timeout;
	uint64_t transferee;
	uint32_t transfer_elapsed;

	struct raft_read_req *read_reqs; /* confirmed by heartbeat quorum */
	size_t n_read_reqs, cap_read_reqs;
	struct raft_read_req *read_waits; /* until a commit in our term */
	size_t n_read_waits, cap_read_waits;
	struct raft_read_state *reads; /* completed, for the next ready */
	size_t n_reads, cap_reads;

	struct raft_msg *outbox;
	size_t n_outbox, cap_outbox;
	void **garbage;
	size_t n_garbage, cap_garbage;

	/* What the last raft_ready() handed out, valid until raft_advance(). */
	bool rd_out;
	struct raft_hard_state prev_hs;
	enum raft_role prev_role;
	uint64_t prev_leader;
	struct raft_msg *rd_msgs;
	size_t n_rd_msgs, cap_rd_msgs;
	struct raft_entry *rd_entries;
	size_t cap_rd_entries;
	struct raft_entry *rd_committed;
	size_t cap_rd_committed;
	struct raft_read_state *rd_reads;
	size_t cap_rd_reads;
	struct raft_snapshot rd_snap;
	uint64_t rd_last_index, rd_last_term;
	uint64_t rd_applied;
};

static void raft_discard(struct raft *r, void *p)
{
	if (p == NULL)
		return;
	RAFT_RESERVE(r->garbage, r->n_garbage, r->cap_garbage);
	r->garbage[r->n_garbage++] = p;
}

static void raft_free_garbage(struct raft *r)
{
	for (size_t i = 0; i < r->n_garbage; i++)
		free(r->garbage[i]);
	r->n_garbage = 0;
}

/* ---- log ---------------------------------------------------------------- */

static uint64_t raft_last_index(const struct raft *r)
{
	return r->log.prev_index + r->log.n;
}

static struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index)
{
	if (index <= r->log.prev_index || index > raft_last_index(r))
		return NULL;
	return &r->log.ents[index - r->log.prev_index - 1];
}

/* Term of the entry at index, if known (index 0 has term 0). */
static bool raft_term_at(const struct raft *r, uint64_t index, uint64_t *term)
{
	const struct raft_entry *e;

	if (index == r->log.prev_index) {
		*term = r->log.prev_term;
		return true;
	}
	e = raft_entry_at(r, index);
	if (e == NULL)
		return false;
	*term = e->term;
	return true;
}

static uint64_t raft_last_term(const struct raft *r)
{
	uint64_t t = 0;
	bool known = raft_term_at(r, raft_last_index(r), &t);

	assert(known);
	(void)known;
	return t;
}

static bool raft_match_term(const struct raft *r, uint64_t index,
			    uint64_t term)
{
	uint64_t t;

	return raft_term_at(r, index, &t) && t == term;
}

/* Appends a copy of e (data included). */
static int raft_log_append(struct raft *r, const struct raft_entry *e)
{
	struct raft_entry copy = *e;

	assert(e->index == raft_last_index(r) + 1);
	copy.data = NULL;
	if (e->len > 0) {
		copy.data = malloc(e->len);
		if (copy.data == NULL)
			return RAFT_ENOMEM;
		memcpy(copy.data, e->data, e->len);
	}
	RAFT_RESERVE(r->log.ents, r->log.n, r->log.cap);
	r->log.ents[r->log.n++] = copy;
	return RAFT_OK;
}

/* Membership as of index: the last conf entry at or below it, or the conf
 * of the compaction point. Sets *at to the index that set it. */
static void raft_conf_at(const struct raft *r, uint64_t index,
			 struct raft_conf *c, uint64_t *at)
{
	uint64_t i = raft_min(index, raft_last_index(r));

	for (; i > r->log.prev_index; i--) {
		const struct raft_entry *e = raft_entry_at(r, i);

		if (e->type == RAFT_ENTRY_CONF &&
		    raft_conf_decode(e->data, e->len, c) == RAFT_OK) {
			*at = i;
			return;
		}
	}
	*c = r->base_conf;
	*at = r->log.prev_index;
}

static void raft_set_conf(struct raft *r, const struct raft_conf *c,
			  uint64_t index);

/* A successful APPEND_RESP says "my log matches yours up to index, and it
 * is durable once you read this". The log after index `valid` is about to
 * change, so the acks still in the outbox (not yet handed out in a ready,
 * hence not yet backed by storage) may claim entries that will never be
 * persisted. Each is cut down to `valid`: the prefix up to it is unchanged,
 * so it still matches what the ack's leader sent. */
static void raft_outbox_cap_acks(struct raft *r, uint64_t valid)
{
	for (size_t i = 0; i < r->n_outbox; i++) {
		struct raft_msg *m = &r->outbox[i];

		if (m->type == RAFT_MSG_APPEND_RESP && !m->reject &&
		    m->index > valid)
			m->index = valid;
	}
}

/* Drops entries index.. (a conflicting suffix on a follower). A dropped
 * conf entry reverts the membership. */
static void raft_log_truncate_from(struct raft *r, uint64_t index)
{
	uint64_t last = raft_last_index(r);

	assert(index > r->log.prev_index && index <= last);
	assert(index > r->log.commit);
	raft_outbox_cap_acks(r, index - 1);
	for (uint64_t i = index; i <= last; i++)
		raft_discard(r, raft_entry_at(r, i)->data);
	r->log.n = index - r->log.prev_index - 1;
	r->log.stable = raft_min(r->log.stable, index - 1);
	r->log.unstable = raft_min(r->log.unstable, index);
	if (r->conf_index >= index) {
		struct raft_conf c;
		uint64_t at;

		raft_conf_at(r, index - 1, &c, &at);
		raft_set_conf(r, &c, at);
	}
}

/* Drops entries up to and including index (already in a snapshot). */
static void raft_log_compact_to(struct raft *r, uint64_t index)
{
	uint64_t drop = index - r->log.prev_index;
	uint64_t at;
	struct raft_conf c;

	assert(index > r->log.prev_index && index <= r->log.applied);
	raft_conf_at(r, index, &c, &at);
	r->base_conf = c;
	r->log.prev_term = raft_entry_at(r, index)->term;
	for (uint64_t i = 0; i < drop; i++)
		raft_discard(r, r->log.ents[i].data);
	memmove(r->log.ents, r->log.ents + drop,
		(r->log.n - drop) * sizeof(r->log.ents[0]));
	r->log.n -= drop;
	r->log.prev_index = index;
}

/* Drops the whole log; it continues after (index, term), a snapshot that
 * holds the committed prefix: only acks up to the commit index stay true. */
static void raft_log_reset(struct raft *r, uint64_t index, uint64_t term)
{
	raft_outbox_cap_acks(r, r->log.commit);
	for (uint64_t i = 0; i < r->log.n; i++)
		raft_discard(r, r->log.ents[i].data);
	r->log.n = 0;
	r->log.prev_index = index;
	r->log.prev_term = term;
}

/* Largest index <= index whose term is <= term (fast backtracking). */
static uint64_t raft_find_conflict_by_term(const struct raft *r,
					   uint64_t index, uint64_t term)
{
	uint64_t t;

	index = raft_min(index, raft_last_index(r));
	while (index > r->log.prev_index && raft_term_at(r, index, &t) &&
	       t > term)
		index--;
	return index;
}

/* ---- messages ----------------------------------------------------------- */

/* Queues a message; the pointer is valid until the next raft_send() or
 * term change (raft_reset may drop queued vote grants). */
static struct raft_msg *raft_send(struct raft *r, uint8_t type, uint64_t to)
{
	struct raft_msg *m;

	RAFT_RESERVE(r->outbox, r->n_outbox, r->cap_outbox);
	m = &r->outbox[r->n_outbox++];
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->from = r->id;
	m->to = to;
	m->term = r->term;
	return m;
}

static void raft_msgs_free(struct raft_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(msgs[i].entries);
}

/* ---- peers (leader) ----------------------------------------------------- */

static struct raft_peer *raft_peer(struct raft *r, uint64_t id)
{
	for (uint32_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].id == id)
			return &r->peers[i];
	return NULL;
}

static void raft_inflights_add(struct raft_inflights *in, uint64_t index)
{
	assert(in->count < in->cap);
	in->buf[(in->start + in->count) % in->cap] = index;
	in->count++;
}

static void raft_inflights_free_to(struct raft_inflights *in, uint64_t index)
{
	while (in->count > 0 && in->buf[in->start] <= index) {
		in->start = (in->start + 1) % in->cap;
		in->count--;
	}
}

static void raft_inflights_free_first(struct raft_inflights *in)
{
	if (in->count > 0) {
		in->start = (in->start + 1) % in->cap;
		in->count--;
	}
}

static void raft_peer_become_probe(struct raft_peer *pr)
{
	pr->state = RAFT_PEER_PROBE;
	pr->next = pr->match + 1;
	pr->probe_sent = false;
	pr->inflights.start = pr->inflights.count = 0;
}

static void raft_peer_become_replicate(struct raft_peer *pr)
{
	pr->state = RAFT_PEER_REPLICATE;
	pr->next = pr->match + 1;
	pr->probe_sent = false;
	pr->inflights.start = pr->inflights.count = 0;
}

static bool raft_peer_paused(const struct raft_peer *pr)
{
	switch (pr->state) {
	case RAFT_PEER_PROBE: return pr->probe_sent;
	case RAFT_PEER_REPLICATE:
		return pr->inflights.count == pr->inflights.cap;
	case RAFT_PEER_SNAPSHOT: return true;
	}
	return true;
}

static void raft_peer_add(struct raft *r, uint64_t id, bool learner)
{
	struct raft_peer *pr;

	assert(r->n_peers < 2 * RAFT_MAX_NODES);
	pr = &r->peers[r->n_peers++];
	memset(pr, 0, sizeof(*pr));
	pr->id = id;
	pr->is_learner = learner;
	pr->next = raft_last_index(r) + 1;
	pr->state = RAFT_PEER_PROBE;
	pr->last_active = r->ticks; /* a new peer gets a quorum period */
	pr->inflights.cap = r->cfg.max_inflight;
	pr->inflights.buf = raft_xrealloc(NULL, r->cfg.max_inflight *
						     sizeof(uint64_t));
}

static void raft_peers_clear(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_peers; i++)
		free(r->peers[i].inflights.buf);
	r->n_peers = 0;
}

/* Makes the progress set match the membership (leader). */
static void raft_peers_sync(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_peers;) {
		struct raft_peer *pr = &r->peers[i];
		bool voter = raft_conf_is_voter(&r->conf, pr->id);

		if (voter || raft_conf_is_learner(&r->conf, pr->id)) {
			pr->is_learner = !voter;
			i++;
			continue;
		}
		free(pr->inflights.buf);
		*pr = r->peers[--r->n_peers];
	}
	for (uint32_t i = 0; i < r->conf.n_voters; i++)
		if (r->conf.voters[i] != r->id &&
		    raft_peer(r, r->conf.voters[i]) == NULL)
			raft_peer_add(r, r->conf.voters[i], false);
	for (uint32_t i = 0; i < r->conf.n_learners; i++)
		if (r->conf.learners[i] != r->id &&
		    raft_peer(r, r->conf.learners[i]) == NULL)
			raft_peer_add(r, r->conf.learners[i], true);
}

/* ---- roles -------------------------------------------------------------- */

/* A voter may campaign. So may a node that an uncommitted change removed
 * or demoted: if it was the leader and lost its quorum before the change
 * committed, its log may be the only up-to-date one, and it must be able to
 * win (not counting itself) to finish the change, as a leader managing a
 * cluster it is not part of (dissertation 4.2.2). */
static bool raft_promotable(const struct raft *r)
{
	return raft_conf_is_voter(&r->conf, r->id) ||
	       (r->conf_index > r->log.commit &&
		raft_conf_is_voter(&r->prev_conf, r->id));
}

static uint32_t raft_quorum(const struct raft *r)
{
	return r->conf.n_voters / 2 + 1;
}

static void raft_randomize_timeout(struct raft *r)
{
	uint64_t n = r->cfg.rand(r->cfg.rand_ctx);

	r->randomized_timeout = r->cfg.election_ticks +
				(uint32_t)(n % r->cfg.election_ticks);
}

/* A granted vote promises that the hard state (term, vote) is durable when
 * it arrives. The term is about to change, so the next ready will hand out a
 * hard state without the vote: queued grants of the old term are dropped,
 * so that every message of a ready agrees with its hard state. (Losing a
 * vote is always safe; the candidate is outdated anyway.) */
static void raft_outbox_drop_vote_grants(struct raft *r)
{
	size_t kept = 0;

	for (size_t i = 0; i < r->n_outbox; i++) {
		const struct raft_msg *m = &r->outbox[i];

		if (m->type == RAFT_MSG_VOTE_RESP && !m->reject)
			continue;
		r->outbox[kept++] = *m;
	}
	r->n_outbox = kept;
}

/* Common to every role change: clears the per-role state; a new term
 * clears the vote. */
static void raft_reset(struct raft *r, uint64_t term)
{
	if (r->term != term) {
		assert(term > r->term);
		raft_outbox_drop_vote_grants(r);
		r->term = term;
		r->vote = RAFT_NONE;
	}
	r->leader = RAFT_NONE;
	r->election_elapsed = 0;
	r->heartbeat_elapsed = 0;
	raft_randomize_timeout(r);
	r->transferee = RAFT_NONE;
	r->transfer_elapsed = 0;
	r->n_votes = 0;
	r->n_read_reqs = 0;
	r->n_read_waits = 0;
	raft_peers_clear(r);
}

static void raft_become_follower(struct raft *r, uint64_t term,
				 uint64_t leader)
{
	raft_reset(r, term);
	r->role = RAFT_FOLLOWER;
	r->leader = leader;
}

static void raft_set_conf(struct raft *r, const struct raft_conf *c,
			  uint64_t index)
{
	uint64_t at;

	r->conf = *c;
	r->conf_index = index;
	if (index > r->log.prev_index)
		raft_conf_at(r, index - 1, &r->prev_conf, &at);
	else
		r->prev_conf = *c;
	if (r->role == RAFT_LEADER) {
		raft_peers_sync(r);
		if (r->transferee != RAFT_NONE &&
		    !raft_conf_is_voter(c, r->transferee))
			r->transferee = RAFT_NONE;
	} else if (r->role != RAFT_FOLLOWER && !raft_promotable(r)) {
		raft_become_follower(r, r->term, RAFT_NONE);
	}
}

/* Appends one entry of ours as leader and returns its index. */
static int raft_leader_append(struct raft *r, uint8_t type, const void *data,
			      size_t len, uint64_t *index);

static void raft_become_leader(struct raft *r)
{
	uint64_t index;

	assert(r->role == RAFT_CANDIDATE);
	raft_reset(r, r->term);
	r->role = RAFT_LEADER;
	r->leader = r->id;
	raft_peers_sync(r);
	if (raft_leader_append(r, RAFT_ENTRY_NOOP, NULL, 0, &index) !=
	    RAFT_OK) {
		fprintf(stderr, "raft: out of memory appending noop\n");
		abort();
	}
}

/* Records a vote; returns 1 won, -1 lost, 0 undecided. */
static int raft_poll(struct raft *r, uint64_t id, bool granted)
{
	uint32_t yes = 0, no = 0;
	bool seen = false;

	for (uint32_t i = 0; i < r->n_votes; i++)
		seen = seen || r->votes[i].id == id;
	if (!seen && raft_conf_is_voter(&r->conf, id)) {
		assert(r->n_votes < RAFT_MAX_NODES);
		r->votes[r->n_votes].id = id;
		r->votes[r->n_votes].granted = granted;
		r->n_votes++;
	}
	for (uint32_t i = 0; i < r->n_votes; i++) {
		if (!raft_conf_is_voter(&r->conf, r->votes[i].id))
			continue;
		if (r->votes[i].granted)
			yes++;
		else
			no++;
	}
	if (yes >= raft_quorum(r))
		return 1;
	if (no > r->conf.n_voters - raft_quorum(r))
		return -1;
	return 0;
}

static void raft_campaign_now(struct raft *r, bool pre, bool transfer);

/* The election result came in. */
static void raft_election_result(struct raft *r, int result, bool transfer)
{
	if (result > 0 && r->role == RAFT_PRE_CANDIDATE)
		raft_campaign_now(r, false, transfer);
	else if (result > 0)
		raft_become_leader(r);
	else if (result < 0)
		raft_become_follower(r, r->term, RAFT_NONE);
}

static void raft_campaign_now(struct raft *r, bool pre, bool transfer)
{
	uint64_t vote_term;
	int result;

	assert(raft_promotable(r));
	if (pre) {
		/* Pre-vote: ask with term+1 but keep our term and vote. */
		r->role = RAFT_PRE_CANDIDATE;
		r->leader = RAFT_NONE;
		r->n_votes = 0;
		r->election_elapsed = 0;
		raft_randomize_timeout(r);
		vote_term = r->term + 1;
	} else {
		raft_reset(r, r->term + 1);
		r->role = RAFT_CANDIDATE;
		r->vote = r->id;
		vote_term = r->term;
	}
	result = raft_poll(r, r->id, true);
	if (result != 0) {
		raft_election_result(r, result, transfer);
		return;
	}
	for (uint32_t i = 0; i < r->conf.n_voters; i++) {
		struct raft_msg *m;

		if (r->conf.voters[i] == r->id)
			continue;
		m = raft_send(r, pre ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE,
			      r->conf.voters[i]);
		m->term = vote_term;
		m->index = raft_last_index(r);
		m->log_term = raft_last_term(r);
		m->transfer = transfer;
	}
}

static void raft_hup(struct raft *r, bool transfer)
{
	if (r->role == RAFT_LEADER || !raft_promotable(r))
		return;
	raft_campaign_now(r, r->cfg.pre_vote && !transfer, transfer);
}

/* ---- replication (leader) ----------------------------------------------- */

static void raft_send_snapshot_chunk(struct raft *r, struct raft_peer *pr)
{
	struct raft_msg *m;
	uint64_t len;

	assert(r->snap.meta.index > 0);
	if (pr->snap_index != r->snap.meta.index) {
		pr->snap_index = r->snap.meta.index;
		pr->snap_offset = 0;
	}
	len = raft_min(r->cfg.snapshot_chunk_bytes,
		       r->snap.len - pr->snap_offset);
	m = raft_send(r, RAFT_MSG_SNAPSHOT, pr->id);
	m->snap_meta = r->snap.meta;
	m->snap_offset = pr->snap_offset;
	m->snap_total = r->snap.len;
	m->snap_chunk_len = (uint32_t)len;
	m->snap_chunk = len ? r->snap.data + pr->snap_offset : NULL;
	m->snap_done = pr->snap_offset + len == r->snap.len;
	pr->snap_end = pr->snap_offset + len;
	pr->snap_idle = 0;
}

static void raft_start_snapshot(struct raft *r, struct raft_peer *pr)
{
	pr->state = RAFT_PEER_SNAPSHOT;
	pr->probe_sent = false;
	pr->inflights.start = pr->inflights.count = 0;
	pr->snap_index = r->snap.meta.index;
	pr->snap_offset = 0;
	raft_send_snapshot_chunk(r, pr);
}

/* Sends the next batch of entries to pr (or a snapshot when they are
 * compacted away). Returns whether a message was sent. */
static bool raft_send_append(struct raft *r, struct raft_peer *pr,
			     bool send_if_empty)
{
	uint64_t prev, prev_term, last = raft_last_index(r), bytes = 0;
	uint32_t n = 0;
	struct raft_entry *ents = NULL;
	struct raft_msg *m;

	if (raft_peer_paused(pr))
		return false;
	prev = pr->next - 1;
	if (!raft_term_at(r, prev, &prev_term)) {
		raft_start_snapshot(r, pr);
		return true;
	}
	while (pr->next + n <= last) {
		const struct raft_entry *e = raft_entry_at(r, pr->next + n);

		if (n > 0 && bytes + e->len > r->cfg.max_msg_bytes)
			break;
		bytes += e->len;
		n++;
	}
	if (n == 0 && !send_if_empty)
		return false;
	if (n > 0) {
		ents = raft_xrealloc(NULL, n * sizeof(*ents));
		memcpy(ents, raft_entry_at(r, pr->next), n * sizeof(*ents));
	}
	m = raft_send(r, RAFT_MSG_APPEND, pr->id);
	m->index = prev;
	m->log_term = prev_term;
	m->commit = r->log.commit;
	m->n_entries = n;
	m->entries = ents;
	if (pr->state == RAFT_PEER_REPLICATE && n > 0) {
		pr->next += n;
		raft_inflights_add(&pr->inflights, pr->next - 1);
	} else if (pr->state == RAFT_PEER_PROBE) {
		pr->probe_sent = true;
	}
	return true;
}

static void raft_bcast_append(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_peers; i++)
		raft_send_append(r, &r->peers[i], true);
}

static uint64_t raft_last_read_context(const struct raft *r)
{
	return r->n_read_reqs ? r->read_reqs[r->n_read_reqs - 1].context : 0;
}

static void raft_bcast_heartbeat(struct raft *r)
{
	uint64_t ctx = raft_last_read_context(r);

	for (uint32_t i = 0; i < r->n_peers; i++) {
		struct raft_peer *pr = &r->peers[i];
		struct raft_msg *m = raft_send(r, RAFT_MSG_HEARTBEAT, pr->id);

		m->commit = raft_min(pr->match, r->log.commit);
		m->context = ctx;
	}
}

/* ---- reads -------------------------------------------------------------- */

static void raft_read_done(struct raft *r, uint64_t context, uint64_t index,
			   uint64_t from)
{
	if (from == r->id) {
		RAFT_RESERVE(r->reads, r->n_reads, r->cap_reads);
		r->reads[r->n_reads].context = context;
		r->reads[r->n_reads].index = index;
		r->n_reads++;
		return;
	}
	struct raft_msg *m = raft_send(r, RAFT_MSG_READ_INDEX_RESP, from);

	m->context = context;
	m->index = index;
}

static bool raft_committed_in_term(const struct raft *r)
{
	return raft_match_term(r, r->log.commit, r->term);
}

static bool raft_only_voter_is_self(const struct raft *r)
{
	return r->conf.n_voters == 1 && r->conf.voters[0] == r->id;
}

/* Leader: registers a read at the current commit index. Returns whether a
 * heartbeat round is needed to confirm it. */
static bool raft_leader_read(struct raft *r, uint64_t context, uint64_t from)
{
	struct raft_read_req *q;

	if (raft_only_voter_is_self(r)) {
		raft_read_done(r, context, r->log.commit, from);
		return false;
	}
	RAFT_RESERVE(r->read_reqs, r->n_read_reqs, r->cap_read_reqs);
	q = &r->read_reqs[r->n_read_reqs++];
	memset(q, 0, sizeof(*q));
	q->context = context;
	q->index = r->log.commit;
	q->from = from;
	if (raft_conf_is_voter(&r->conf, r->id))
		q->acks[q->n_acks++] = r->id;
	return true;
}

static void raft_leader_read_or_wait(struct raft *r, uint64_t context,
				     uint64_t from)
{
	if (!raft_committed_in_term(r)) {
		struct raft_read_req *q;

		RAFT_RESERVE(r->read_waits, r->n_read_waits,
			     r->cap_read_waits);
		q = &r->read_waits[r->n_read_waits++];
		memset(q, 0, sizeof(*q));
		q->context = context;
		q->from = from;
		return;
	}
	if (raft_leader_read(r, context, from))
		raft_bcast_heartbeat(r);
}

/* The first commit of our term: reads that waited for it can start. */
static void raft_release_read_waits(struct raft *r)
{
	bool need_heartbeat = false;
	size_t n = r->n_read_waits;

	r->n_read_waits = 0;
	for (size_t i = 0; i < n; i++)
		need_heartbeat |= raft_leader_read(r, r->read_waits[i].context,
						   r->read_waits[i].from);
	if (need_heartbeat)
		raft_bcast_heartbeat(r);
}

/* A heartbeat carrying context came back from `from`: that read, and every
 * read registered before it, is confirmed once a quorum acked. */
static void raft_read_ack(struct raft *r, uint64_t from, uint64_t context)
{
	size_t k;
	struct raft_read_req *q;
	uint32_t votes = 0;

	for (k = 0; k < r->n_read_reqs; k++)
		if (r->read_reqs[k].context == context)
			break;
	if (k == r->n_read_reqs || !raft_conf_is_voter(&r->conf, from))
		return;
	q = &r->read_reqs[k];
	if (!raft_conf_has(q->acks, q->n_acks, from) &&
	    q->n_acks < RAFT_MAX_NODES)
		q->acks[q->n_acks++] = from;
	for (uint32_t i = 0; i < q->n_acks; i++)
		votes += raft_conf_is_voter(&r->conf, q->acks[i]);
	if (votes < raft_quorum(r))
		return;
	for (size_t i = 0; i <= k; i++)
		raft_read_done(r, r->read_reqs[i].context,
			       r->read_reqs[i].index, r->read_reqs[i].from);
	memmove(r->read_reqs, r->read_reqs + k + 1,
		(r->n_read_reqs - k - 1) * sizeof(r->read_reqs[0]));
	r->n_read_reqs -= k + 1;
}

/* ---- commit (leader) ---------------------------------------------------- */

static int raft_cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Advances commit to the highest index of our term replicated on a quorum
 * of voters, tells the followers, and handles what follows a commit.
 * Returns whether commit moved. May step down (removed leader). */
static bool raft_maybe_commit(struct raft *r)
{
	uint64_t match[RAFT_MAX_NODES], idx;
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->conf.n_voters; i++) {
		uint64_t id = r->conf.voters[i];
		struct raft_peer *pr = raft_peer(r, id);

		match[n++] = id == r->id ? raft_last_index(r) :
			     pr ? pr->match : 0;
	}
	if (n == 0)
		return false;
	qsort(match, n, sizeof(match[0]), raft_cmp_desc);
	idx = match[raft_quorum(r) - 1];
	/* Figure 8: only an entry of our term is committed by counting. */
	if (idx <= r->log.commit || !raft_match_term(r, idx, r->term))
		return false;
	r->log.commit = idx;
	raft_bcast_append(r);
	if (r->n_read_waits > 0)
		raft_release_read_waits(r);
	if (!raft_conf_is_voter(&r->conf, r->id) &&
	    r->log.commit >= r->conf_index)
		raft_become_follower(r, r->term, RAFT_NONE);
	return true;
}

static int raft_leader_append(struct raft *r, uint8_t type, const void *data,
			      size_t len, uint64_t *index)
{
	struct raft_entry e = {
		.term = r->term,
		.index = raft_last_index(r) + 1,
		.type = type,
		.len = (uint32_t)len,
		.data = (uint8_t *)data,
	};
	int rc = raft_log_append(r, &e);

	if (rc != RAFT_OK)
		return rc;
	if (index != NULL)
		*index = e.index;
	if (type == RAFT_ENTRY_CONF) {
		struct raft_conf c;

		rc = raft_conf_decode(data, len, &c);
		assert(rc == RAFT_OK);
		raft_set_conf(r, &c, e.index);
	}
	if (!raft_maybe_commit(r))
		raft_bcast_append(r);
	return RAFT_OK;
}

/* ---- follower handlers -------------------------------------------------- */

static void raft_commit_to(struct raft *r, uint64_t index)
{
	if (index > r->log.commit) {
		assert(index <= raft_last_index(r));
		r->log.commit = index;
	}
}

static void raft_handle_append(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg *resp;
	uint64_t last_new = m->index + m->n_entries;

	if (m->index < r->log.commit) {
		resp = raft_send(r, RAFT_MSG_APPEND_RESP, m->from);
		resp->index = r->log.commit;
		return;
	}
	if (!raft_match_term(r, m->index, m->log_term)) {
		uint64_t hint = raft_find_conflict_by_term(
			r, raft_min(m->index, raft_last_index(r)), m->log_term);
		uint64_t hint_term = 0;

		raft_term_at(r, hint, &hint_term);
		resp = raft_send(r, RAFT_MSG_APPEND_RESP, m->from);
		resp->index = m->index;
		resp->reject = true;
		resp->reject_hint = hint;
		resp->log_term = hint_term;
		return;
	}
	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];

		if (raft_match_term(r, e->index, e->term))
			continue;
		if (e->index <= raft_last_index(r))
			raft_log_truncate_from(r, e->index);
		if (raft_log_append(r, e) != RAFT_OK) {
			fprintf(stderr, "raft: out of memory appending\n");
			abort();
		}
		if (e->type == RAFT_ENTRY_CONF) {
			struct raft_conf c;
			int rc = raft_conf_decode(e->data, e->len, &c);

			assert(rc == RAFT_OK); /* checked in raft_step */
			(void)rc;
			raft_set_conf(r, &c, e->index);
		}
	}
	raft_commit_to(r, raft_min(m->commit, last_new));
	resp = raft_send(r, RAFT_MSG_APPEND_RESP, m->from);
	resp->index = last_new;
}

static void raft_handle_heartbeat(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg *resp;

	raft_commit_to(r, raft_min(m->commit, raft_last_index(r)));
	resp = raft_send(r, RAFT_MSG_HEARTBEAT_RESP, m->from);
	resp->context = m->context;
}

/* SNAPSHOT_RESP: reject (restart from offset 0); reject_hint > 0: that
 * many bytes received, send the next chunk; otherwise installed (or not
 * needed) up to index. */
static void raft_snapshot_reply(struct raft *r, const struct raft_msg *m,
				bool reject, uint64_t received)
{
	struct raft_msg *resp = raft_send(r, RAFT_MSG_SNAPSHOT_RESP, m->from);

	resp->index = m->snap_meta.index;
	resp->log_term = m->snap_meta.term;
	resp->reject = reject;
	resp->reject_hint = received;
}

static void raft_recv_reset(struct raft *r)
{
	free(r->recv.data);
	memset(&r->recv, 0, sizeof(r->recv));
}

static void raft_install_snapshot(struct raft *r)
{
	const struct raft_snapshot_meta *meta = &r->recv.meta;

	if (raft_match_term(r, meta->index, meta->term)) {
		/* Our log already holds it: just commit up to it. */
		raft_commit_to(r, meta->index);
		raft_recv_reset(r);
		return;
	}
	raft_log_reset(r, meta->index, meta->term);
	r->log.commit = meta->index;
	r->log.applied = meta->index;
	r->log.stable = meta->index;
	r->log.unstable = meta->index + 1;
	r->base_conf = meta->conf;
	raft_discard(r, r->snap.data);
	r->snap.meta = *meta;
	r->snap.len = r->recv.total;
	r->snap.data = r->recv.data;
	r->snap_to_hand = true;
	memset(&r->recv, 0, sizeof(r->recv));
	raft_set_conf(r, &r->snap.meta.conf, meta->index);
}

static void raft_handle_snapshot(struct raft *r, const struct raft_msg *m)
{
	struct raft_recv_snap *rs = &r->recv;

	if (m->snap_meta.index <= r->log.commit) {
		raft_recv_reset(r);
		raft_snapshot_reply(r, m, false, 0);
		return;
	}
	if (m->snap_offset == 0) {
		raft_recv_reset(r);
		rs->active = true;
		rs->meta = m->snap_meta;
		rs->total = m->snap_total;
	} else if (!rs->active || rs->meta.index != m->snap_meta.index ||
		   rs->meta.term != m->snap_meta.term ||
		   rs->total != m->snap_total ||
		   rs->received != m->snap_offset) {
		raft_recv_reset(r);
		raft_snapshot_reply(r, m, true, 0);
		return;
	}
	if (m->snap_chunk_len > 0) {
		rs->data = raft_xrealloc(rs->data,
					 rs->received + m->snap_chunk_len);
		memcpy(rs->data + rs->received, m->snap_chunk,
		       m->snap_chunk_len);
		rs->received += m->snap_chunk_len;
	}
	if (!m->snap_done && rs->received < rs->total) {
		raft_snapshot_reply(r, m, false, rs->received);
		return;
	}
	if (rs->received != rs->total) {
		raft_recv_reset(r);
		raft_snapshot_reply(r, m, true, 0);
		return;
	}
	raft_install_snapshot(r);
	raft_snapshot_reply(r, m, false, 0);
}

/* ---- leader handlers ---------------------------------------------------- */

static void raft_send_timeout_now(struct raft *r, uint64_t to)
{
	struct raft_msg *m = raft_send(r, RAFT_MSG_TIMEOUT_NOW, to);

	m->transfer = true;
}

static bool raft_peer_maybe_decr(struct raft_peer *pr, uint64_t rejected,
				 uint64_t hint)
{
	if (pr->state == RAFT_PEER_REPLICATE) {
		if (rejected <= pr->match)
			return false; /* stale */
		pr->next = pr->match + 1;
		return true;
	}
	if (pr->state != RAFT_PEER_PROBE || pr->next - 1 != rejected)
		return false;
	pr->next = raft_max(raft_min(rejected, hint + 1), pr->match + 1);
	pr->probe_sent = false;
	return true;
}

static void raft_handle_append_resp(struct raft *r, struct raft_peer *pr,
				    const struct raft_msg *m)
{
	uint64_t id = pr->id;

	pr->last_active = r->ticks;
	if (m->reject) {
		uint64_t next = m->reject_hint;

		if (m->log_term > 0)
			next = raft_find_conflict_by_term(r, m->reject_hint,
							  m->log_term);
		if (!raft_peer_maybe_decr(pr, m->index, next))
			return;
		if (pr->state == RAFT_PEER_REPLICATE)
			raft_peer_become_probe(pr);
		raft_send_append(r, pr, true);
		return;
	}
	if (m->index > raft_last_index(r))
		return; /* acks an entry we never had: ignore */
	if (m->index < pr->match ||
	    (m->index == pr->match && pr->state != RAFT_PEER_PROBE))
		return; /* stale or duplicate */
	pr->match = m->index;
	pr->next = raft_max(pr->next, m->index + 1);
	switch (pr->state) {
	case RAFT_PEER_PROBE:
		raft_peer_become_replicate(pr);
		break;
	case RAFT_PEER_SNAPSHOT:
		if (pr->match >= r->log.prev_index)
			raft_peer_become_probe(pr);
		break;
	case RAFT_PEER_REPLICATE:
		raft_inflights_free_to(&pr->inflights, m->index);
		break;
	}
	if (raft_maybe_commit(r)) {
		if (r->role != RAFT_LEADER)
			return;
		pr = raft_peer(r, id);
		if (pr == NULL)
			return;
	}
	while (raft_send_append(r, pr, false))
		;
	if (r->transferee == id && pr->match == raft_last_index(r))
		raft_send_timeout_now(r, id);
}

static void raft_handle_heartbeat_resp(struct raft *r, struct raft_peer *pr,
				       const struct raft_msg *m)
{
	pr->last_active = r->ticks;
	pr->probe_sent = false;
	if (pr->state == RAFT_PEER_REPLICATE &&
	    pr->inflights.count == pr->inflights.cap)
		raft_inflights_free_first(&pr->inflights);
	if (pr->match < raft_last_index(r) || pr->state == RAFT_PEER_PROBE)
		raft_send_append(r, pr, true);
	if (m->context != 0)
		raft_read_ack(r, m->from, m->context);
}

static void raft_handle_snapshot_resp(struct raft *r, struct raft_peer *pr,
				      const struct raft_msg *m)
{
	pr->last_active = r->ticks;
	if (pr->state != RAFT_PEER_SNAPSHOT || m->index != pr->snap_index)
		return; /* stale */
	if (pr->snap_index != r->snap.meta.index || m->reject) {
		pr->snap_offset = 0; /* restart, maybe with a newer snapshot */
		raft_send_snapshot_chunk(r, pr);
		return;
	}
	if (m->reject_hint > 0) {
		if (m->reject_hint != pr->snap_end)
			return; /* an old chunk's reply */
		pr->snap_offset = pr->snap_end;
		raft_send_snapshot_chunk(r, pr);
		return;
	}
	pr->match = raft_max(pr->match, m->index);
	raft_peer_become_probe(pr);
	raft_send_append(r, pr, true);
}

static void raft_handle_read_index(struct raft *r, const struct raft_msg *m)
{
	if (m->context == 0)
		return;
	raft_leader_read_or_wait(r, m->context, m->from);
}

/* ---- step --------------------------------------------------------------- */

/* Leader stickiness (dissertation 4.2.3): a node that heard from a live
 * leader within the election timeout ignores vote requests, so that a
 * removed or partitioned node cannot disrupt the cluster. A leader's own
 * election_elapsed restarts every election_ticks, so it is always in its
 * lease (with check_quorum it steps down when it loses its quorum). */
static bool raft_in_lease(const struct raft *r, const struct raft_msg *m)
{
	return !m->transfer && r->leader != RAFT_NONE &&
	       r->election_elapsed < r->cfg.election_ticks;
}

/* The term rules. Returns whether the message goes on to the role. */
static bool raft_step_term(struct raft *r, const struct raft_msg *m)
{
	if (m->term > r->term) {
		if ((m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) &&
		    raft_in_lease(r, m))
			return false;
		if (m->type == RAFT_MSG_PREVOTE ||
		    (m->type == RAFT_MSG_PREVOTE_RESP && !m->reject))
			return true;
		if (m->type == RAFT_MSG_APPEND ||
		    m->type == RAFT_MSG_HEARTBEAT ||
		    m->type == RAFT_MSG_SNAPSHOT)
			raft_become_follower(r, m->term, m->from);
		else
			raft_become_follower(r, m->term, RAFT_NONE);
		return true;
	}
	if (m->term < r->term) {
		if (m->type == RAFT_MSG_APPEND ||
		    m->type == RAFT_MSG_HEARTBEAT) {
			/* Tell a stale leader about our term. Needed because
			 * stickiness may keep our term from spreading through
			 * vote requests: a node that raised its term while
			 * cut off could otherwise never rejoin. */
			raft_send(r, RAFT_MSG_APPEND_RESP, m->from);
		} else if (m->type == RAFT_MSG_PREVOTE) {
			struct raft_msg *resp =
				raft_send(r, RAFT_MSG_PREVOTE_RESP, m->from);

			resp->reject = true;
		}
		return false;
	}
	return true;
}

static void raft_handle_vote(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PREVOTE;
	bool can_vote = r->vote == m->from ||
			(r->vote == RAFT_NONE && r->leader == RAFT_NONE) ||
			(pre && m->term > r->term);
	uint64_t last_term = raft_last_term(r);
	bool up_to_date = m->log_term > last_term ||
			  (m->log_term == last_term &&
			   m->index >= raft_last_index(r));
	struct raft_msg *resp = raft_send(
		r, pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP, m->from);

	if (!can_vote || !up_to_date) {
		resp->reject = true;
		return;
	}
	resp->term = m->term;
	if (!pre) {
		r->vote = m->from;
		r->election_elapsed = 0;
	}
}

static void raft_step_follower(struct raft *r, const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APPEND:
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_SNAPSHOT:
		r->leader = m->from;
		r->election_elapsed = 0;
		if (m->type == RAFT_MSG_APPEND)
			raft_handle_append(r, m);
		else if (m->type == RAFT_MSG_HEARTBEAT)
			raft_handle_heartbeat(r, m);
		else
			raft_handle_snapshot(r, m);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		raft_hup(r, true);
		break;
	case RAFT_MSG_READ_INDEX_RESP:
		if (m->context != 0)
			raft_read_done(r, m->context, m->index, r->id);
		break;
	default:
		break; /* not for a follower */
	}
}

static void raft_step_candidate(struct raft *r, const struct raft_msg *m)
{
	bool pre = r->role == RAFT_PRE_CANDIDATE;

	switch (m->type) {
	case RAFT_MSG_APPEND:
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_SNAPSHOT:
		raft_become_follower(r, m->term, m->from);
		raft_step_follower(r, m);
		return;
	case RAFT_MSG_PREVOTE_RESP:
		/* A grant must be for the term we asked (term + 1). */
		if (!pre || (!m->reject && m->term != r->term + 1))
			return;
		break;
	case RAFT_MSG_VOTE_RESP:
		if (pre)
			return;
		break;
	default:
		return;
	}
	raft_election_result(r, raft_poll(r, m->from, !m->reject), false);
}

static void raft_step_leader(struct raft *r, const struct raft_msg *m)
{
	struct raft_peer *pr;

	if (m->type == RAFT_MSG_READ_INDEX) {
		raft_handle_read_index(r, m);
		return;
	}
	pr = raft_peer(r, m->from);
	if (pr == NULL)
		return;
	switch (m->type) {
	case RAFT_MSG_APPEND_RESP:
		raft_handle_append_resp(r, pr, m);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		raft_handle_heartbeat_resp(r, pr, m);
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		raft_handle_snapshot_resp(r, pr, m);
		break;
	default:
		break;
	}
}

static bool raft_entries_valid(const struct raft_msg *m)
{
	uint64_t prev_term = m->log_term;

	if (m->n_entries > 0 && m->entries == NULL)
		return false;
	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		struct raft_conf c;

		if (e->index != m->index + 1 + i || e->term < prev_term ||
		    e->term > m->term || e->type < RAFT_ENTRY_NORMAL ||
		    e->type > RAFT_ENTRY_NOOP || (e->len > 0 && !e->data))
			return false;
		if (e->type == RAFT_ENTRY_CONF &&
		    raft_conf_decode(e->data, e->len, &c) != RAFT_OK)
			return false;
		prev_term = e->term;
	}
	return true;
}

static bool raft_msg_valid(const struct raft *r, const struct raft_msg *m)
{
	if (m->type < 1 || m->type > RAFT_MSG_TYPE_MAX || m->to != r->id ||
	    m->from == RAFT_NONE || m->from == r->id)
		return false;
	if (m->n_entries > 0 && m->type != RAFT_MSG_APPEND)
		return false;
	if (m->type == RAFT_MSG_APPEND && !raft_entries_valid(m))
		return false;
	if (m->type == RAFT_MSG_SNAPSHOT) {
		if (m->snap_chunk_len > 0 && m->snap_chunk == NULL)
			return false;
		if (m->snap_offset > m->snap_total ||
		    m->snap_chunk_len > m->snap_total - m->snap_offset)
			return false;
		if (m->snap_meta.index == 0 || m->snap_meta.term == 0 ||
		    m->snap_meta.term > m->term ||
		    !raft_conf_valid(&m->snap_meta.conf))
			return false;
	}
	return true;
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
	if (m == NULL || !raft_msg_valid(r, m))
		return RAFT_EINVAL;
	if (!raft_step_term(r, m))
		return RAFT_OK;
	if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) {
		raft_handle_vote(r, m);
		return RAFT_OK;
	}
	switch (r->role) {
	case RAFT_FOLLOWER:
		raft_step_follower(r, m);
		break;
	case RAFT_PRE_CANDIDATE:
	case RAFT_CANDIDATE:
		raft_step_candidate(r, m);
		break;
	case RAFT_LEADER:
		raft_step_leader(r, m);
		break;
	}
	assert(r->log.commit <= raft_last_index(r));
	assert(r->log.applied <= r->log.commit);
	return RAFT_OK;
}

/* ---- ticks -------------------------------------------------------------- */

static bool raft_peer_recently_active(const struct raft *r,
				      const struct raft_peer *pr)
{
	return r->ticks - pr->last_active < r->cfg.election_ticks;
}

/* Whether a quorum of voters was heard from in the last election_ticks. */
static bool raft_quorum_active(struct raft *r)
{
	uint32_t active = 0;

	for (uint32_t i = 0; i < r->conf.n_voters; i++) {
		uint64_t id = r->conf.voters[i];
		struct raft_peer *pr;

		if (id == r->id) {
			active++;
			continue;
		}
		pr = raft_peer(r, id);
		if (pr != NULL && raft_peer_recently_active(r, pr))
			active++;
	}
	return active >= raft_quorum(r);
}

/* Snapshot streams that got no reply for a few heartbeat rounds restart. */
static void raft_tick_snapshots(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_peers; i++) {
		struct raft_peer *pr = &r->peers[i];

		if (pr->state != RAFT_PEER_SNAPSHOT || ++pr->snap_idle < 3)
			continue;
		pr->snap_offset = 0;
		raft_send_snapshot_chunk(r, pr);
	}
}

static void raft_tick_leader(struct raft *r)
{
	r->heartbeat_elapsed++;
	r->election_elapsed++;
	if (r->transferee != RAFT_NONE &&
	    ++r->transfer_elapsed >= r->cfg.election_ticks)
		r->transferee = RAFT_NONE;
	if (r->election_elapsed >= r->cfg.election_ticks)
		r->election_elapsed = 0;
	if (r->cfg.check_quorum && !raft_quorum_active(r)) {
		raft_become_follower(r, r->term, RAFT_NONE);
		return;
	}
	if (r->heartbeat_elapsed >= r->cfg.heartbeat_ticks) {
		r->heartbeat_elapsed = 0;
		raft_bcast_heartbeat(r);
		raft_tick_snapshots(r);
	}
}

void raft_tick(struct raft *r)
{
	r->ticks++;
	if (r->role == RAFT_LEADER) {
		raft_tick_leader(r);
		return;
	}
	r->election_elapsed++;
	if (raft_promotable(r) &&
	    r->election_elapsed >= r->randomized_timeout) {
		r->election_elapsed = 0;
		raft_hup(r, false);
	}
}

/* ---- proposals and requests --------------------------------------------- */

int raft_propose(struct raft *r, const void *data, size_t len,
		 uint64_t *index, uint64_t *term)
{
	uint64_t idx;
	int rc;

	if (r->role != RAFT_LEADER ||
	    (!raft_conf_is_voter(&r->conf, r->id) &&
	     !raft_conf_is_learner(&r->conf, r->id)))
		return RAFT_ENOTLEADER;
	if (r->transferee != RAFT_NONE)
		return RAFT_ETRANSFER;
	if (len > r->cfg.max_entry_bytes)
		return RAFT_ETOOBIG;
	if (len > 0 && data == NULL)
		return RAFT_EINVAL;
	rc = raft_leader_append(r, RAFT_ENTRY_NORMAL, data, len, &idx);
	if (rc != RAFT_OK)
		return rc;
	if (index != NULL)
		*index = idx;
	if (term != NULL)
		*term = r->term;
	return RAFT_OK;
}

int raft_propose_conf(struct raft *r, enum raft_conf_change change,
		      uint64_t node, uint64_t *index)
{
	struct raft_conf c = r->conf;
	uint8_t buf[RAFT_CONF_MAX_BYTES];
	bool noop;
	uint64_t idx;
	int rc;

	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (r->transferee != RAFT_NONE)
		return RAFT_ETRANSFER;
	/* One change at a time, and only once the leader has committed an
	 * entry of its own term (raft-dev errata, Ongaro 2015): a change
	 * left uncommitted by an earlier leader may still win out, and a new
	 * change based on the other branch could give two disjoint quorums. */
	if (r->conf_index > r->log.commit || !raft_committed_in_term(r))
		return RAFT_ECONFPENDING;
	if (node == RAFT_NONE)
		return RAFT_EINVAL;
	rc = raft_conf_apply_change(&c, change, node, &noop);
	if (rc != RAFT_OK)
		return rc;
	if (noop) {
		if (index != NULL)
			*index = r->conf_index;
		return RAFT_OK;
	}
	rc = raft_leader_append(r, RAFT_ENTRY_CONF, buf,
				raft_conf_encode(&c, buf), &idx);
	if (rc == RAFT_OK && index != NULL)
		*index = idx;
	return rc;
}

int raft_read_index(struct raft *r, uint64_t context)
{
	struct raft_msg *m;

	if (context == 0)
		return RAFT_EINVAL;
	if (r->role == RAFT_LEADER) {
		raft_leader_read_or_wait(r, context, r->id);
		return RAFT_OK;
	}
	if (r->role != RAFT_FOLLOWER || r->leader == RAFT_NONE)
		return RAFT_ENOTLEADER;
	m = raft_send(r, RAFT_MSG_READ_INDEX, r->leader);
	m->context = context;
	return RAFT_OK;
}

int raft_transfer_leader(struct raft *r, uint64_t to)
{
	struct raft_peer *pr;

	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (to == r->id)
		return RAFT_OK; /* already the leader */
	if (!raft_conf_is_voter(&r->conf, to))
		return RAFT_EINVAL;
	if (r->transferee == to)
		return RAFT_OK;
	pr = raft_peer(r, to);
	assert(pr != NULL);
	r->transferee = to;
	r->transfer_elapsed = 0;
	if (pr->match == raft_last_index(r))
		raft_send_timeout_now(r, to);
	else
		raft_send_append(r, pr, true);
	return RAFT_OK;
}

int raft_campaign(struct raft *r)
{
	if (r->role == RAFT_LEADER)
		return RAFT_OK;
	if (!raft_promotable(r))
		return RAFT_EINVAL;
	raft_hup(r, false);
	return RAFT_OK;
}

/* ---- snapshots ---------------------------------------------------------- */

int raft_snapshot_taken(struct raft *r, uint64_t index, const void *data,
			size_t len, uint64_t keep_entries)
{
	uint64_t term, at, compact;
	struct raft_conf c;
	uint8_t *copy = NULL;

	if (index == 0 || index > r->log.applied ||
	    index < r->snap.meta.index || !raft_term_at(r, index, &term) ||
	    (len > 0 && data == NULL))
		return RAFT_EINVAL;
	if (len > 0) {
		copy = malloc(len);
		if (copy == NULL)
			return RAFT_ENOMEM;
		memcpy(copy, data, len);
	}
	raft_conf_at(r, index, &c, &at);
	raft_discard(r, r->snap.data);
	r->snap.meta.index = index;
	r->snap.meta.term = term;
	r->snap.meta.conf = c;
	r->snap.len = len;
	r->snap.data = copy;
	compact = index > keep_entries ? index - keep_entries : 0;
	if (compact > r->log.prev_index)
		raft_log_compact_to(r, compact);
	return RAFT_OK;
}

/* ---- ready / advance ---------------------------------------------------- */

static struct raft_hard_state raft_hard_state(const struct raft *r)
{
	struct raft_hard_state hs = {
		.term = r->term, .vote = r->vote, .commit = r->log.commit
	};

	return hs;
}

static bool raft_hs_equal(struct raft_hard_state a, struct raft_hard_state b)
{
	return a.term == b.term && a.vote == b.vote && a.commit == b.commit;
}

/* Committed entries are applied only once durable here. */
static uint64_t raft_apply_limit(const struct raft *r)
{
	return raft_min(r->log.commit, r->log.stable);
}

bool raft_has_ready(const struct raft *r)
{
	return r->n_outbox > 0 || r->log.unstable <= raft_last_index(r) ||
	       !raft_hs_equal(raft_hard_state(r), r->prev_hs) ||
	       r->snap_to_hand || r->log.applied < raft_apply_limit(r) ||
	       r->n_reads > 0 || r->role != r->prev_role ||
	       r->leader != r->prev_leader;
}

/* Copies the entry structs lo..hi (data still points into the log). */
static struct raft_entry *raft_copy_range(const struct raft *r, uint64_t lo,
					  uint64_t hi, struct raft_entry *arr,
					  size_t *cap, uint32_t *n)
{
	size_t count = hi >= lo ? hi - lo + 1 : 0;

	*n = (uint32_t)count;
	if (count == 0)
		return arr;
	if (count > *cap) {
		*cap = count;
		arr = raft_xrealloc(arr, count * sizeof(*arr));
	}
	memcpy(arr, raft_entry_at(r, lo), count * sizeof(*arr));
	return arr;
}

void raft_ready(struct raft *r, struct raft_ready *rd)
{
	uint64_t last = raft_last_index(r);
	struct raft_hard_state hs = raft_hard_state(r);
	struct raft_msg *tmp_msgs;
	struct raft_read_state *tmp_reads;
	size_t tmp_cap;

	assert(!r->rd_out);
	memset(rd, 0, sizeof(*rd));
	rd->hard_state = hs;
	rd->hard_state_changed = !raft_hs_equal(hs, r->prev_hs);
	r->prev_hs = hs;
	if (r->snap_to_hand) {
		r->rd_snap = r->snap;
		rd->snapshot = &r->rd_snap;
		r->snap_to_hand = false;
	}
	r->rd_entries = raft_copy_range(r, r->log.unstable, last,
					r->rd_entries, &r->cap_rd_entries,
					&rd->n_entries);
	rd->entries = rd->n_entries ? r->rd_entries : NULL;
	r->rd_last_index = rd->n_entries ? last : 0;
	r->rd_last_term = rd->n_entries ? raft_last_term(r) : 0;
	r->log.unstable = last + 1;

	r->rd_applied = raft_apply_limit(r);
	r->rd_committed = raft_copy_range(r, r->log.applied + 1, r->rd_applied,
					  r->rd_committed,
					  &r->cap_rd_committed,
					  &rd->n_committed);
	rd->committed = rd->n_committed ? r->rd_committed : NULL;

	tmp_msgs = r->rd_msgs;
	tmp_cap = r->cap_rd_msgs;
	r->rd_msgs = r->outbox;
	r->cap_rd_msgs = r->cap_outbox;
	r->n_rd_msgs = r->n_outbox;
	r->outbox = tmp_msgs;
	r->cap_outbox = tmp_cap;
	r->n_outbox = 0;
	rd->n_msgs = (uint32_t)r->n_rd_msgs;
	rd->msgs = r->n_rd_msgs ? r->rd_msgs : NULL;

	tmp_reads = r->rd_reads;
	tmp_cap = r->cap_rd_reads;
	r->rd_reads = r->reads;
	r->cap_rd_reads = r->cap_reads;
	rd->n_reads = (uint32_t)r->n_reads;
	rd->reads = r->n_reads ? r->rd_reads : NULL;
	r->reads = tmp_reads;
	r->cap_reads = tmp_cap;
	r->n_reads = 0;

	rd->soft_state_changed = r->role != r->prev_role ||
				 r->leader != r->prev_leader;
	rd->role = r->role;
	rd->leader = r->leader;
	r->prev_role = r->role;
	r->prev_leader = r->leader;
	r->rd_out = true;
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
	(void)rd;
	assert(r->rd_out);
	raft_msgs_free(r->rd_msgs, r->n_rd_msgs);
	r->n_rd_msgs = 0;
	if (r->rd_last_index > r->log.stable &&
	    raft_match_term(r, r->rd_last_index, r->rd_last_term))
		r->log.stable = r->rd_last_index;
	if (r->rd_applied > r->log.applied)
		r->log.applied = r->rd_applied;
	if (r->n_outbox == 0)
		raft_free_garbage(r);
	r->rd_out = false;
}

/* ---- status ------------------------------------------------------------- */

void raft_status(const struct raft *r, struct raft_status *st)
{
	memset(st, 0, sizeof(*st));
	st->id = r->id;
	st->role = r->role;
	st->term = r->term;
	st->vote = r->vote;
	st->leader = r->leader;
	st->commit = r->log.commit;
	st->applied = r->log.applied;
	st->first_index = r->log.prev_index + 1;
	st->last_index = raft_last_index(r);
	st->snapshot_index = r->snap.meta.index;
	st->conf = r->conf;
	st->transferee = r->transferee;
	if (r->role != RAFT_LEADER)
		return;
	if (raft_conf_is_voter(&r->conf, r->id) ||
	    raft_conf_is_learner(&r->conf, r->id)) {
		struct raft_progress *p = &st->progress[st->n_progress++];

		p->id = r->id;
		p->match = raft_last_index(r);
		p->next = p->match + 1;
		p->is_learner = !raft_conf_is_voter(&r->conf, r->id);
		p->recent_active = true;
	}
	for (uint32_t i = 0; i < r->n_peers; i++) {
		struct raft_progress *p = &st->progress[st->n_progress++];

		p->id = r->peers[i].id;
		p->match = r->peers[i].match;
		p->next = r->peers[i].next;
		p->is_learner = r->peers[i].is_learner;
		p->recent_active =
			raft_peer_recently_active(r, &r->peers[i]);
	}
}

const struct raft_entry *raft_log_entry(const struct raft *r, uint64_t index)
{
	return raft_entry_at(r, index);
}

/* ---- creation ----------------------------------------------------------- */

static bool raft_config_check(const struct raft_config *cfg, char *err,
			      size_t errlen)
{
	const char *why = NULL;

	if (cfg->id == RAFT_NONE)
		why = "id must not be 0";
	else if (cfg->election_ticks < 2)
		why = "election_ticks must be at least 2";
	else if (cfg->heartbeat_ticks == 0 ||
		 cfg->heartbeat_ticks >= cfg->election_ticks)
		why = "heartbeat_ticks must be in [1, election_ticks)";
	else if (cfg->max_inflight == 0)
		why = "max_inflight must be positive";
	else if (cfg->max_msg_bytes == 0 || cfg->max_entry_bytes == 0)
		why = "max_msg_bytes and max_entry_bytes must be positive";
	else if (cfg->snapshot_chunk_bytes == 0)
		why = "snapshot_chunk_bytes must be positive";
	else if (cfg->rand == NULL)
		why = "rand callback missing";
	if (why != NULL)
		util_errorf(err, errlen, "raft config: %s", why);
	return why == NULL;
}

static int raft_restore_snapshot(struct raft *r,
				 const struct raft_snapshot *s, char *err,
				 size_t errlen)
{
	if (s->meta.index == 0 || s->meta.term == 0 ||
	    !raft_conf_valid(&s->meta.conf) || (s->len > 0 && !s->data)) {
		util_errorf(err, errlen, "raft restore: invalid snapshot meta");
		return RAFT_EINVAL;
	}
	if (s->len > 0) {
		r->snap.data = malloc(s->len);
		if (r->snap.data == NULL) {
			util_errorf(err, errlen, "raft restore: out of memory");
			return RAFT_ENOMEM;
		}
		memcpy(r->snap.data, s->data, s->len);
	}
	r->snap.meta = s->meta;
	r->snap.len = s->len;
	r->log.prev_index = s->meta.index;
	r->log.prev_term = s->meta.term;
	r->base_conf = s->meta.conf;
	return RAFT_OK;
}

static int raft_restore_entries(struct raft *r, const struct raft_restore *rs,
				char *err, size_t errlen)
{
	for (uint32_t i = 0; i < rs->n_entries; i++) {
		const struct raft_entry *e = &rs->entries[i];
		uint64_t want = raft_last_index(r) + 1;
		struct raft_conf c;

		if (e->index <= r->log.prev_index && r->snap.meta.index > 0)
			continue; /* already covered by the snapshot */
		if (e->index != want) {
			util_errorf(err, errlen,
				  "raft restore: entry %u has index %llu, "
				  "expected %llu (not contiguous)", i,
				  (unsigned long long)e->index,
				  (unsigned long long)want);
			return RAFT_EINVAL;
		}
		if (e->term == 0 || e->term < raft_last_term(r) ||
		    e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_NOOP ||
		    (e->len > 0 && e->data == NULL) ||
		    (e->type == RAFT_ENTRY_CONF &&
		     raft_conf_decode(e->data, e->len, &c) != RAFT_OK)) {
			util_errorf(err, errlen,
				  "raft restore: entry %llu is malformed "
				  "(term, type or conf data)",
				  (unsigned long long)e->index);
			return RAFT_EINVAL;
		}
		if (raft_log_append(r, e) != RAFT_OK) {
			util_errorf(err, errlen, "raft restore: out of memory");
			return RAFT_ENOMEM;
		}
	}
	return RAFT_OK;
}

/* A brand-new cluster member: the bootstrap membership becomes a committed
 * conf entry (index 1, term 1), identical on every founding node, so that
 * it is durable like any other membership. */
static int raft_bootstrap(struct raft *r, const struct raft_conf *c,
			  char *err, size_t errlen)
{
	uint8_t buf[RAFT_CONF_MAX_BYTES];
	struct raft_entry e = { .term = 1, .index = 1,
				.type = RAFT_ENTRY_CONF };

	if (!raft_conf_valid(c)) {
		util_errorf(err, errlen, "raft restore: invalid bootstrap conf");
		return RAFT_EINVAL;
	}
	r->base_conf = *c;
	if (c->n_voters == 0 && c->n_learners == 0)
		return RAFT_OK; /* waits to be added by a leader */
	if (c->n_voters == 0) {
		util_errorf(err, errlen, "raft restore: bootstrap conf has no "
				       "voter");
		return RAFT_EINVAL;
	}
	if (!raft_conf_is_voter(c, r->id) && !raft_conf_is_learner(c, r->id)) {
		util_errorf(err, errlen,
			  "raft restore: node %llu is not in its bootstrap "
			  "conf (use an empty conf to join an existing cluster)",
			  (unsigned long long)r->id);
		return RAFT_EINVAL;
	}
	memset(&r->base_conf, 0, sizeof(r->base_conf));
	e.len = (uint32_t)raft_conf_encode(c, buf);
	e.data = buf;
	if (raft_log_append(r, &e) != RAFT_OK) {
		util_errorf(err, errlen, "raft restore: out of memory");
		return RAFT_ENOMEM;
	}
	r->term = raft_max(r->term, 1);
	r->log.commit = 1;
	return RAFT_OK;
}

static int raft_restore(struct raft *r, const struct raft_restore *rs,
			char *err, size_t errlen)
{
	const struct raft_hard_state *hs = &rs->hard_state;
	struct raft_conf c;
	uint64_t at;
	int rc;

	if (rs->n_entries > 0 && rs->entries == NULL) {
		util_errorf(err, errlen, "raft restore: entries missing");
		return RAFT_EINVAL;
	}
	if (rs->snapshot != NULL) {
		rc = raft_restore_snapshot(r, rs->snapshot, err, errlen);
		if (rc != RAFT_OK)
			return rc;
	}
	rc = raft_restore_entries(r, rs, err, errlen);
	if (rc != RAFT_OK)
		return rc;
	r->term = hs->term;
	r->vote = hs->vote;
	if (hs->commit > raft_last_index(r)) {
		util_errorf(err, errlen,
			  "raft restore: commit %llu beyond last index %llu",
			  (unsigned long long)hs->commit,
			  (unsigned long long)raft_last_index(r));
		return RAFT_EINVAL;
	}
	if (raft_last_term(r) > hs->term) {
		/* A crash between writing entries and the hard state of one
		 * ready: nothing of that ready was sent, so we take the log's
		 * term with no vote. */
		r->term = raft_last_term(r);
		r->vote = RAFT_NONE;
	}
	r->log.commit = raft_max(hs->commit, r->log.prev_index);
	r->log.applied = r->log.prev_index;
	r->log.stable = raft_last_index(r);
	r->log.unstable = raft_last_index(r) + 1;
	if (rs->snapshot == NULL && rs->n_entries == 0) {
		rc = raft_bootstrap(r, &rs->bootstrap, err, errlen);
		if (rc != RAFT_OK)
			return rc;
	}
	raft_conf_at(r, raft_last_index(r), &c, &at);
	raft_set_conf(r, &c, at);
	r->prev_hs = *hs;
	return RAFT_OK;
}

struct raft *raft_new(const struct raft_config *cfg,
		      const struct raft_restore *restore, char *err,
		      size_t errlen)
{
	struct raft *r;

	if (cfg == NULL || restore == NULL) {
		util_errorf(err, errlen, "raft: config and restore required");
		return NULL;
	}
	if (!raft_config_check(cfg, err, errlen))
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		util_errorf(err, errlen, "raft: out of memory");
		return NULL;
	}
	r->cfg = *cfg;
	r->id = cfg->id;
	if (raft_restore(r, restore, err, errlen) != RAFT_OK) {
		raft_free(r);
		return NULL;
	}
	r->role = RAFT_FOLLOWER;
	r->prev_role = RAFT_FOLLOWER;
	raft_randomize_timeout(r);
	return r;
}

void raft_free(struct raft *r)
{
	if (r == NULL)
		return;
	for (uint64_t i = 0; i < r->log.n; i++)
		free(r->log.ents[i].data);
	free(r->log.ents);
	raft_msgs_free(r->outbox, r->n_outbox);
	raft_msgs_free(r->rd_msgs, r->n_rd_msgs);
	free(r->outbox);
	free(r->rd_msgs);
	raft_free_garbage(r);
	free(r->garbage);
	raft_peers_clear(r);
	free(r->snap.data);
	free(r->recv.data);
	free(r->read_reqs);
	free(r->read_waits);
	free(r->reads);
	free(r->rd_reads);
	free(r->rd_entries);
	free(r->rd_committed);
	free(r);
}

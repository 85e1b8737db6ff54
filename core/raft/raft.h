/*
 * raft.h: the public interface of orchd's raft consensus engine.
 *
 * The engine is a pure state machine in the style of etcd's raft: messages
 * (raft_step) and clock ticks (raft_tick) go in; messages to send, entries and
 * hard state to persist, a received snapshot to install, committed entries to
 * apply and finished linearizable reads come out through raft_ready(). The
 * engine owns no socket, file, clock or random source: randomness comes from
 * the config's rand callback, time from the caller's ticks, durability from
 * the caller persisting what raft_ready() hands out before calling
 * raft_advance().
 *
 * One struct raft is owned by exactly one thread; none of these functions is
 * thread-safe.
 *
 * The driving loop, which every user of the engine follows:
 *
 *     raft_tick(r) every tick, raft_step(r, msg) for every message received,
 *     raft_propose(...) for every write;
 *     while (raft_has_ready(r)) {
 *         struct raft_ready rd;
 *         raft_ready(r, &rd);
 *         persist rd.snapshot (if any), rd.entries, rd.hard_state; fsync;
 *         send rd.msgs;
 *         apply rd.snapshot (if any), then rd.committed in order;
 *         serve rd.reads whose index <= applied index;
 *         raft_advance(r, &rd);   // rd's pointers are invalid after this
 *     }
 *
 * Entries handed out in rd.entries must be durable before rd.msgs are sent
 * (a vote or an append acknowledgement promises durability).
 */
#ifndef ORCHD_RAFT_H
#define ORCHD_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_NONE 0 /* no node: node ids are never 0 */

/* Error codes: functions return 0 on success or one of these. */
enum raft_error {
	RAFT_OK = 0,
	RAFT_ENOTLEADER = 1,  /* a proposal on a node that is not the leader */
	RAFT_ETRANSFER = 2,   /* leadership transfer in progress: proposals refused */
	RAFT_ECONFPENDING = 3,/* a membership change is not yet committed */
	RAFT_EINVAL = 4,      /* a malformed argument (unknown node, bad config...) */
	RAFT_ENOMEM = 5,
	RAFT_ETOOBIG = 6,     /* entry larger than max_entry_size */
	RAFT_ENOQUORUM = 7,   /* the change would leave no voter */
};
const char *raft_strerror(int err);

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 1, /* application data */
	RAFT_ENTRY_CONF = 2,   /* membership: data is a raft_conf encoding (engine-owned) */
	RAFT_ENTRY_NOOP = 3,   /* appended by every new leader; data empty */
};

struct raft_entry {
	uint64_t term;
	uint64_t index;
	uint8_t type;   /* enum raft_entry_type */
	uint32_t len;
	uint8_t *data;  /* len bytes; owned by whoever holds the entry array */
};

/* Cluster membership. Voters count for elections and commit; learners only
 * receive the log. A node id appears at most once in either list. */
#define RAFT_MAX_NODES 16
struct raft_conf {
	uint32_t n_voters;
	uint64_t voters[RAFT_MAX_NODES];
	uint32_t n_learners;
	uint64_t learners[RAFT_MAX_NODES];
};

/* Encode/decode a raft_conf for RAFT_ENTRY_CONF entries and snapshots.
 * raft_conf_encode returns bytes written (<= RAFT_CONF_MAX_BYTES).
 * raft_conf_decode returns 0 or RAFT_EINVAL for garbage. */
#define RAFT_CONF_MAX_BYTES (8 + 16 * RAFT_MAX_NODES)
size_t raft_conf_encode(const struct raft_conf *c, uint8_t *buf);
int raft_conf_decode(const uint8_t *buf, size_t len, struct raft_conf *c);

enum raft_conf_change {
	RAFT_CONF_ADD_LEARNER = 1, /* new node, or no-op if already learner */
	RAFT_CONF_PROMOTE = 2,     /* learner -> voter (add a voter one at a time) */
	RAFT_CONF_REMOVE = 3,      /* remove a voter or learner (may be the leader) */
	RAFT_CONF_DEMOTE = 4,      /* voter -> learner */
};

struct raft_hard_state {
	uint64_t term;
	uint64_t vote;
	uint64_t commit;
};

struct raft_snapshot_meta {
	uint64_t index; /* last index covered by the snapshot */
	uint64_t term;  /* term of that entry */
	struct raft_conf conf; /* membership as of index */
};

/* A snapshot held in memory: the state machine's bytes plus its metadata. */
struct raft_snapshot {
	struct raft_snapshot_meta meta;
	size_t len;
	uint8_t *data;
};

enum raft_msg_type {
	RAFT_MSG_APPEND = 1,        /* entries (maybe none: probe) + commit */
	RAFT_MSG_APPEND_RESP = 2,
	RAFT_MSG_VOTE = 3,
	RAFT_MSG_VOTE_RESP = 4,
	RAFT_MSG_PREVOTE = 5,
	RAFT_MSG_PREVOTE_RESP = 6,
	RAFT_MSG_HEARTBEAT = 7,     /* commit + read-index context */
	RAFT_MSG_HEARTBEAT_RESP = 8,
	RAFT_MSG_SNAPSHOT = 9,      /* one chunk of an InstallSnapshot stream */
	RAFT_MSG_SNAPSHOT_RESP = 10,
	RAFT_MSG_TIMEOUT_NOW = 11,  /* leadership transfer: campaign now */
	RAFT_MSG_READ_INDEX = 12,   /* follower asks the leader for a read index */
	RAFT_MSG_READ_INDEX_RESP = 13,
	RAFT_MSG_TYPE_MAX = 13,
};

/* One message between engines. Which fields mean something depends on type;
 * unused fields are zero. Pointers are owned by the producer: raft_step()
 * copies whatever it keeps. */
struct raft_msg {
	uint8_t type;
	uint64_t from;
	uint64_t to;
	uint64_t term;
	/* APPEND: index/log_term of the entry preceding entries[].
	 * APPEND_RESP: on success, the last index now matching; on reject, the
	 *   index that was rejected, with reject_hint = follower's last index
	 *   and log_term = term at reject_hint (for fast backtracking).
	 * VOTE/PREVOTE: index/log_term of the candidate's last entry.
	 * SNAPSHOT_RESP: reject: restart the stream from offset 0; reject_hint > 0:
 *   that many bytes received, send the next chunk; otherwise installed up
 *   to index.
	 * READ_INDEX_RESP: index = the read index. */
	uint64_t index;
	uint64_t log_term;
	uint64_t commit;
	bool reject;
	uint64_t reject_hint;
	/* HEARTBEAT / HEARTBEAT_RESP / READ_INDEX(_RESP): read request context
	 * (0: none). */
	uint64_t context;
	/* VOTE/PREVOTE/TIMEOUT_NOW: set when the election comes from a
	 * leadership transfer, so that leader stickiness is bypassed. */
	bool transfer;
	uint32_t n_entries;
	struct raft_entry *entries;
	/* SNAPSHOT: meta of the whole snapshot, this chunk's offset in it,
	 * chunk bytes, total length, and whether it is the last chunk. */
	struct raft_snapshot_meta snap_meta;
	uint64_t snap_offset;
	uint64_t snap_total;
	bool snap_done;
	uint32_t snap_chunk_len;
	uint8_t *snap_chunk;
};

/* Wire codec (raft_codec.c). raft_msg_encoded_size gives the exact size;
 * raft_msg_encode writes it into buf (which must be that large).
 * raft_msg_decode parses len bytes into *m; entry data and snapshot chunk
 * point into buf (zero copy), the entries array is malloc'd and freed with
 * raft_msg_decoded_free. Returns 0 or RAFT_EINVAL for any malformed input
 * (never reads outside buf, never trusts a length field). */
size_t raft_msg_encoded_size(const struct raft_msg *m);
void raft_msg_encode(const struct raft_msg *m, uint8_t *buf);
int raft_msg_decode(const uint8_t *buf, size_t len, struct raft_msg *m);
void raft_msg_decoded_free(struct raft_msg *m);

/* A linearizable read that completed: the caller may answer the read with
 * request context `context` once its state machine applied `index`. */
struct raft_read_state {
	uint64_t context;
	uint64_t index;
};

enum raft_role {
	RAFT_FOLLOWER = 0,
	RAFT_PRE_CANDIDATE = 1,
	RAFT_CANDIDATE = 2,
	RAFT_LEADER = 3,
};
const char *raft_role_name(enum raft_role role);

/* What the caller must do next. All pointers are into engine memory and
 * remain valid until raft_advance(). */
struct raft_ready {
	/* Set when term/vote/commit changed: persist hard_state. */
	bool hard_state_changed;
	struct raft_hard_state hard_state;
	/* A snapshot received from the leader (complete): persist it, then
	 * restore the state machine from it, before applying committed[]. */
	const struct raft_snapshot *snapshot;
	/* Entries to append to durable storage. An entry with an index at or
	 * below the storage's last index replaces it and everything after it. */
	uint32_t n_entries;
	const struct raft_entry *entries;
	/* Messages to send (after the above is durable). */
	uint32_t n_msgs;
	const struct raft_msg *msgs;
	/* Committed entries to apply, in order. */
	uint32_t n_committed;
	const struct raft_entry *committed;
	/* Linearizable reads now answerable (after applying up to .index). */
	uint32_t n_reads;
	const struct raft_read_state *reads;
	/* Soft state, informative: changed when role or leader changed. */
	bool soft_state_changed;
	enum raft_role role;
	uint64_t leader;
};

struct raft_config {
	uint64_t id; /* this node; never 0 */
	/* Ticks without hearing from a leader before a follower campaigns; the
	 * actual timeout is randomized in [election_ticks, 2*election_ticks). A
	 * follower ignores vote requests for election_ticks after it last heard
	 * from a leader (leader stickiness), and a leader that has not heard
	 * from a majority for election_ticks steps down (check quorum). */
	uint32_t election_ticks;
	uint32_t heartbeat_ticks; /* leader heartbeat period, < election_ticks */
	bool pre_vote;            /* default on in every orchd config */
	bool check_quorum;        /* default on in every orchd config */
	uint32_t max_inflight;    /* append messages in flight per follower */
	uint32_t max_msg_bytes;   /* batch limit of entry bytes per append */
	uint32_t max_entry_bytes; /* largest accepted proposal */
	uint32_t snapshot_chunk_bytes; /* InstallSnapshot chunk size */
	/* Random source: returns a uniformly random 64-bit number. */
	uint64_t (*rand)(void *ctx);
	void *rand_ctx;
};
/* Fills sensible defaults (election 10, heartbeat 1, pre_vote, check_quorum,
 * inflight 256, 1 MiB messages, 64 KiB chunks) for node id. */
void raft_config_defaults(struct raft_config *cfg, uint64_t id);

/* What a node recovered from its storage at start. For a brand new node:
 * everything zero and bootstrap conf set (or an empty conf for a node that
 * waits to be added by a leader). The engine copies everything it keeps. */
struct raft_restore {
	struct raft_hard_state hard_state;
	const struct raft_snapshot *snapshot; /* NULL: none */
	uint32_t n_entries;                   /* entries after the snapshot */
	const struct raft_entry *entries;
	struct raft_conf bootstrap; /* used only when no snapshot and no entries */
};
/* After a restart the engine's applied index is the snapshot's index (the
 * caller restores its state machine from the snapshot); committed entries
 * after it are handed out again in ready.committed. */

struct raft;

/* Creates an engine. Returns NULL and writes a message to err for an invalid
 * config or inconsistent restore (e.g. entries not contiguous). */
struct raft *raft_new(const struct raft_config *cfg,
		      const struct raft_restore *restore, char *err,
		      size_t errlen);
void raft_free(struct raft *r);

void raft_tick(struct raft *r);
/* Feeds one received message. Messages from another term, from unknown or
 * stale peers, or that make no sense are ignored (returns RAFT_EINVAL only for
 * malformed ones, e.g. to == another node). */
int raft_step(struct raft *r, const struct raft_msg *m);

/* Appends a normal entry on the leader. *index (if not NULL) receives its
 * index; the entry is committed when it shows up in ready.committed with
 * the same index and term. */
int raft_propose(struct raft *r, const void *data, size_t len,
		 uint64_t *index, uint64_t *term);
/* Proposes one membership change. At most one is uncommitted at a time,
 * and a new leader accepts one only after committing an entry of its own
 * term (its no-op; Ongaro's 2015 fix for single-server changes): until then
 * RAFT_ECONFPENDING, retry. */
int raft_propose_conf(struct raft *r, enum raft_conf_change change,
		      uint64_t node, uint64_t *index);
/* Starts a linearizable read identified by context (non-zero, unique per
 * pending read). Works on the leader and on followers (forwarded). The read
 * completes as a raft_ready.reads entry; it may never complete if
 * leadership is lost (callers time out and retry). */
int raft_read_index(struct raft *r, uint64_t context);
/* Leader: hand leadership to `to` (a voter). Proposals are refused with
 * RAFT_ETRANSFER until it completes or an election timeout passes. */
int raft_transfer_leader(struct raft *r, uint64_t to);
/* Starts an election at once (e.g. the first node of a new cluster). */
int raft_campaign(struct raft *r);

bool raft_has_ready(const struct raft *r);
void raft_ready(struct raft *r, struct raft_ready *rd);
void raft_advance(struct raft *r, const struct raft_ready *rd);

/* The application made a snapshot of its state machine at `index` (which it
 * has applied). The engine keeps a copy of data to send to lagging
 * followers and drops log entries up to index - keep_entries (keep some so
 * that slightly lagging followers get entries, not a snapshot). */
int raft_snapshot_taken(struct raft *r, uint64_t index, const void *data,
			size_t len, uint64_t keep_entries);

struct raft_progress {
	uint64_t id;
	uint64_t match;
	uint64_t next;
	bool is_learner;
	bool recent_active;
};
struct raft_status {
	uint64_t id;
	enum raft_role role;
	uint64_t term;
	uint64_t vote;
	uint64_t leader;
	uint64_t commit;
	uint64_t applied;
	uint64_t first_index; /* first entry held in memory (after snapshot) */
	uint64_t last_index;
	uint64_t snapshot_index;
	struct raft_conf conf;
	uint64_t transferee; /* leadership transfer target, or 0 */
	uint32_t n_progress;  /* leader only */
	struct raft_progress progress[2 * RAFT_MAX_NODES];
};
void raft_status(const struct raft *r, struct raft_status *st);

/* Log access for tests and the invariant checker: entry at index held in
 * memory, or NULL. */
const struct raft_entry *raft_log_entry(const struct raft *r, uint64_t index);

#endif

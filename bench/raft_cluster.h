/*
 * raft_cluster.h: what the raft benchmarks (raft_bench.c, raft_failover.c)
 * share to run a small raft group in one process: a clock, a seeded random
 * source for the engine, temporary WAL directories, starting a node from
 * its WAL as one of the voters 1..n, the persist step of a ready, and the
 * wire encoding of an outgoing message. No state of its own: the nodes,
 * queues and directories belong to the caller.
 */
#ifndef ORCHD_BENCH_RAFT_CLUSTER_H
#define ORCHD_BENCH_RAFT_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "raft.h"
#include "raft_wal.h"

/* Nanoseconds on a monotonic clock. */
uint64_t bench_now_ns(void);

/* A raft_config.rand: xorshift64 over the uint64_t (non-zero) at ctx. */
uint64_t bench_xorshift(void *ctx);

/* qsort comparison of two uint64_t. */
int bench_cmp_u64(const void *a, const void *b);

/* Makes the directory base/<name>-<id>.XXXXXX into dir (size len);
 * 0, or -1 with the reason in err. */
int bench_make_dir(char *dir, size_t len, const char *base, const char *name,
		   uint64_t id, char *err, size_t errlen);

/* Removes dir and the files in it (a WAL directory has no
 * subdirectories); 0, or -1 with the first failure in err. */
int bench_remove_dir(const char *dir, char *err, size_t errlen);

/* Opens the WAL in dir and starts raft node cfg->id on what it recovered,
 * bootstrapped (when the WAL is empty) as one of the voters 1..n_voters.
 * 0, or -1 with the reason in err (nothing left open). */
int bench_raft_open(const char *dir, const struct raft_config *cfg,
		    uint32_t n_voters, struct raft **raft, struct wal **wal,
		    char *err, size_t errlen);

/* The daemon's persist step of a ready: snapshot, entries, hard state,
 * then one wal_sync when any of them was written. 1 synced, 0 nothing to
 * persist, -1 failed (wal_error(w) says why). */
int bench_raft_persist(struct wal *w, const struct raft_ready *rd);

/* m in the wire encoding, in a new buffer of *len bytes; NULL when out
 * of memory. */
uint8_t *bench_raft_encode(const struct raft_msg *m, size_t *len);

#endif

/*
 * raft_wal.h: durable storage for one raft node: a write-ahead log of
 * entries, the hard state (term, vote, commit) and the latest snapshot, all
 * in one directory. The raft engine (raft.h) is pure; the daemon's ready
 * loop calls this module to make rd.snapshot, rd.entries and rd.hard_state
 * durable before it sends rd.msgs:
 *
 *     if (rd.snapshot) wal_save_snapshot(w, rd.snapshot);
 *     wal_append(w, rd.entries, rd.n_entries);
 *     if (rd.hard_state_changed) wal_save_hard_state(w, &rd.hard_state);
 *     wal_sync(w);                       // one fsync batch for all of it
 *     ...send rd.msgs only if every call above returned 0...
 *
 * A struct wal owns the directory's open files and the bookkeeping of its
 * segments; it is used by one thread. On any I/O error (short write that
 * cannot be completed, ENOSPC, EIO, failed fsync) the WAL enters a failed
 * state: every later mutating call returns -1 with the first error's message
 * ("wal: fsync failed: ...; refusing writes"), and the only way out is
 * wal_close + wal_open, which re-reads what really is on disk.
 *
 * Files in the directory (format details in raft_wal.c):
 *   wal-<16 hex>.log   log segments, named after the first index they were
 *                      opened for; replayed in name order
 *   hardstate          two CRC-protected slots, written alternately
 *   snap-<16 hex>.snap the latest snapshot (by index)
 *   *.tmp              unfinished writes from a crash: removed at open
 */
#ifndef ORCHD_RAFT_WAL_H
#define ORCHD_RAFT_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "raft.h"

#define WAL_SEGMENT_BYTES_DEFAULT (64u << 20)
/* Largest entry accepted by wal_append (the record format allows 1 GiB). */
#define WAL_ENTRY_MAX_BYTES (256u << 20)

/* Every file operation the WAL performs goes through this table, so that
 * tests can inject faults. Each function behaves like its POSIX namesake:
 * it returns -1 and sets errno on failure. ctx is passed back untouched. */
struct wal_io {
	void *ctx;
	int (*open)(void *ctx, const char *path, int flags, mode_t mode);
	int (*close)(void *ctx, int fd);
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, off_t off);
	ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len,
			  off_t off);
	int (*fsync)(void *ctx, int fd);     /* directories, new files */
	int (*fdatasync)(void *ctx, int fd); /* segment and hard state data */
	int (*ftruncate)(void *ctx, int fd, off_t len);
	int (*rename)(void *ctx, const char *from, const char *to);
	int (*unlink)(void *ctx, const char *path);
};
/* The default table: plain POSIX calls, ctx unused. */
const struct wal_io *wal_io_posix(void);

struct wal_options {
	uint64_t segment_bytes;  /* roll to a new segment beyond this; 0: default */
	const struct wal_io *io; /* NULL: wal_io_posix() */
};

/* What wal_open found on disk. Owned by the caller; free with
 * wal_recovered_free. entries are those after the snapshot, contiguous. */
struct wal_recovered {
	struct raft_hard_state hard_state;
	struct raft_snapshot *snapshot; /* NULL: none */
	uint32_t n_entries;
	struct raft_entry *entries;
	/* Non-empty when recovery repaired something the caller should log,
	 * e.g. a torn tail dropped after a crash. */
	char notice[512];
};
/* Points restore's hard_state/snapshot/entries at rec (bootstrap is left
 * as is). rec must outlive restore's use (raft_new copies what it keeps). */
void wal_recovered_to_restore(const struct wal_recovered *rec,
			      struct raft_restore *restore);
void wal_recovered_free(struct wal_recovered *rec);

struct wal;

/* Opens (creating if needed) the storage directory dir, recovers it into
 * *rec and returns the WAL ready for appends in *walp. A torn record at the
 * tail of the last segment is dropped and the file truncated (reported in
 * rec->notice); any other damage (a corrupt record followed by valid ones,
 * or in an older segment, a corrupt snapshot or hard state) fails with a
 * message naming the file and offset. Returns 0, or -1 with err filled. */
int wal_open(const char *dir, const struct wal_options *opts,
	     struct wal **walp, struct wal_recovered *rec, char *err,
	     size_t errlen);
/* Closes the files. Nothing is synced: durability comes from wal_sync. */
void wal_close(struct wal *w);

/* Writes entries (consecutive indexes) to the log. An entry whose index is
 * <= the last index replaces that entry and every one after it (replay
 * applies the same rule). Not durable until wal_sync returns 0. */
int wal_append(struct wal *w, const struct raft_entry *entries, uint32_t n);
/* Records the hard state to write at the next wal_sync. */
int wal_save_hard_state(struct wal *w, const struct raft_hard_state *hs);
/* Makes everything appended and saved so far durable: fdatasync of the log
 * segment first, then the hard state slot and, if term or vote changed,
 * its fdatasync (so the hard state on disk never refers to entries that
 * are not). A change of the commit index alone is written but not synced:
 * commit is volatile in Raft, and after a crash the recovered commit may
 * be lower than the last one saved (never higher than the log). In steady
 * state this is one fdatasync per call. */
int wal_sync(struct wal *w);
/* Stores snap durably (temp file, fsync, rename, directory fsync), removes
 * the previous snapshot file, and appends a snapshot marker to the log (made
 * durable by the next wal_sync). snap->meta.index must be newer than the
 * last saved snapshot. Replay rule for the marker (raft's own): entries
 * after the snapshot are kept only if the log holds the snapshot's index
 * with the snapshot's term; otherwise the log restarts after it. */
int wal_save_snapshot(struct wal *w, const struct raft_snapshot *snap);
/* Deletes the oldest segments whose entries are all <= index (never the
 * segment being written). index must be <= the last saved snapshot. */
int wal_compact(struct wal *w, uint64_t index);

/* The message of the last error (or "" if none). */
const char *wal_error(const struct wal *w);
bool wal_failed(const struct wal *w);
/* Index of the last entry appended, and of the last one known durable (a
 * successful wal_sync after it). */
uint64_t wal_last_index(const struct wal *w);
uint64_t wal_durable_index(const struct wal *w);
/* Number of segment files currently held (for tests and metrics). */
uint32_t wal_segment_count(const struct wal *w);

/* Record framing, exposed for tests and the fuzz target.
 *
 *   u32 payload_len | u32 crc32c(payload_len bytes) | u32 crc32c(payload)
 *   payload: u8 record type, then the type's body (little endian):
 *     WAL_RECORD_ENTRY:    u64 term, u64 index, u8 entry type, data
 *     WAL_RECORD_SNAPSHOT: u64 index, u64 term
 */
#define WAL_RECORD_HEADER_BYTES 12
#define WAL_RECORD_MAX_PAYLOAD (1u << 30)
enum wal_record_type {
	WAL_RECORD_ENTRY = 1,
	WAL_RECORD_SNAPSHOT = 2,
};
struct wal_record {
	uint8_t type;
	struct raft_entry entry; /* ENTRY: data points into the decoded bytes */
	uint64_t snap_index;     /* SNAPSHOT marker */
	uint64_t snap_term;
};
enum wal_decode_status {
	WAL_DECODE_OK = 0,
	WAL_DECODE_SHORT = 1,       /* the bytes end inside the record */
	WAL_DECODE_BAD_HEADER = 2,  /* length check failed (or zero fill) */
	WAL_DECODE_BAD_CRC = 3,     /* payload checksum mismatch */
	WAL_DECODE_BAD_PAYLOAD = 4, /* checksum fine, contents malformed */
};
const char *wal_decode_status_name(int status);
/* Decodes the record at the start of buf[0..len). On WAL_DECODE_OK fills
 * *rec and *consumed (the record's total size); never reads beyond len. */
int wal_record_decode(const uint8_t *buf, size_t len, struct wal_record *rec,
		      size_t *consumed);
/* Size of the framed record for entry e, and its encoding into buf (which
 * must hold that many bytes). */
size_t wal_entry_record_size(const struct raft_entry *e);
void wal_entry_record_encode(const struct raft_entry *e, uint8_t *buf);

#endif

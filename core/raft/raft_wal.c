/*
 * raft_wal.c: the raft node's durable storage (see raft_wal.h for the API).
 * A struct wal owns: the directory fd, the open fd of the segment being
 * written, the hard state file fd, the list of segments with the highest
 * entry index each holds (for compaction), the indexes of the last snapshot,
 * the last appended and the last durable entry, an encode buffer, and the
 * failed flag with its message.
 *
 * Log segments (wal-<16 hex>.log) are a sequence of framed records (see
 * raft_wal.h): a 32-bit payload length protected by its own CRC32C, then the
 * payload protected by a CRC32C. Because the length has its own check, a
 * damaged length is never mistaken for "the file ends inside this record".
 * Replay reads segments in name order and applies etcd's rule: an entry
 * record with index i drops every entry >= i held so far, then appends.
 * A segment is named after the index it was opened for, bumped if needed to
 * stay above its predecessor (after an overwrite the log can go backwards):
 * only the order of names matters to replay.
 *
 * Crash recovery. In the last segment, a bad record (cut short, checksum
 * mismatch, zero fill) is a torn write from a crash if no valid record can
 * be found anywhere after it: the segment is truncated to the last good
 * record. If a valid record follows it, or the damage is in an older
 * segment, the log is corrupt and wal_open fails naming file and offset.
 *
 * Hard state (hardstate) is a 1 KiB file of two 512-byte slots, each
 * {magic, sequence, term, vote, commit, crc32c}. A save writes, in place,
 * the slot that does not hold the newest synced state, with the next
 * sequence number, so a torn write can only damage that slot while the
 * other still holds the previous state; open takes the valid slot with the
 * higher sequence. A term or vote change costs one in-place fdatasync (no
 * rename, no directory sync); a commit-only change is written unsynced
 * (see hs_write). The file is created once through a temp file + rename.
 *
 * Snapshots (snap-<16 hex index>.snap): magic, index, term, voters,
 * learners, data length, data, crc32c of everything before. Written to
 * .tmp, fsynced, renamed, directory fsynced; only then is the older file
 * removed and a snapshot marker record appended to the log.
 *
 * Failure: any failed write, fsync, truncate, rename or close of written
 * data marks the WAL failed (after a failed fsync the page cache cannot be
 * trusted), and every later mutating call returns that error.
 *
 * Directory listing uses opendir/readdir directly (it only reads names);
 * every operation on file contents goes through struct wal_io.
 */
#include "raft_wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "raft_le.h"

#define WAL_PATH_MAX 4096
#define WAL_MSG_MAX 1024
#define WAL_ENTRY_BODY_BYTES 18 /* type, term, index, entry type */
#define WAL_SNAP_BODY_BYTES 17  /* type, index, term */

#define WAL_HS_NAME "hardstate"
#define WAL_HS_SLOT_BYTES 512
#define WAL_HS_RECORD_BYTES 40
#define WAL_HS_MAGIC 0x5348524fu /* "ORHS" */
#define WAL_SNAP_MAGIC 0x4e53524fu /* "ORSN" */

struct wal_segment {
	uint64_t name_index; /* the <16 hex> of its file name */
	uint64_t max_index;  /* highest entry index of any record in it */
};

struct wal {
	char dir[WAL_PATH_MAX];
	const struct wal_io *io;
	uint64_t segment_bytes;
	int dir_fd;
	int hs_fd;
	uint64_t hs_seq;              /* sequence of the newest synced slot */
	struct raft_hard_state hs_durable; /* its contents */
	bool hs_pending;
	struct raft_hard_state hs;    /* to write at the next sync */
	struct wal_segment *segs;     /* oldest first; the last is open */
	uint32_t n_segs;
	uint32_t cap_segs;
	int seg_fd;
	uint64_t seg_bytes;           /* bytes in the open segment */
	bool seg_dirty;               /* written since its last fdatasync */
	uint64_t last_index;
	uint64_t durable_index;
	uint64_t snap_index;          /* 0: no snapshot saved */
	uint8_t *buf;                 /* encode buffer */
	size_t buf_cap;
	bool failed;
	char msg[WAL_MSG_MAX];
};

/* ---- default POSIX I/O ---- */

static int posix_open(void *ctx, const char *path, int flags, mode_t mode)
{
	(void)ctx;
	return open(path, flags | O_CLOEXEC, mode);
}

static int posix_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd);
}

static ssize_t posix_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	(void)ctx;
	return pread(fd, buf, len, off);
}

static ssize_t posix_write(void *ctx, int fd, const void *buf, size_t len)
{
	(void)ctx;
	return write(fd, buf, len);
}

static ssize_t posix_pwrite(void *ctx, int fd, const void *buf, size_t len,
			    off_t off)
{
	(void)ctx;
	return pwrite(fd, buf, len, off);
}

static int posix_fsync(void *ctx, int fd)
{
	(void)ctx;
	return fsync(fd);
}

static int posix_fdatasync(void *ctx, int fd)
{
	(void)ctx;
	return fdatasync(fd);
}

static int posix_ftruncate(void *ctx, int fd, off_t len)
{
	(void)ctx;
	return ftruncate(fd, len);
}

static int posix_rename(void *ctx, const char *from, const char *to)
{
	(void)ctx;
	return rename(from, to);
}

static int posix_unlink(void *ctx, const char *path)
{
	(void)ctx;
	return unlink(path);
}

static const struct wal_io wal_posix_io = {
	.ctx = NULL,
	.open = posix_open,
	.close = posix_close,
	.pread = posix_pread,
	.write = posix_write,
	.pwrite = posix_pwrite,
	.fsync = posix_fsync,
	.fdatasync = posix_fdatasync,
	.ftruncate = posix_ftruncate,
	.rename = posix_rename,
	.unlink = posix_unlink,
};

const struct wal_io *wal_io_posix(void)
{
	return &wal_posix_io;
}

/* ---- record codec ---- */

const char *wal_decode_status_name(int status)
{
	switch (status) {
	case WAL_DECODE_OK: return "ok";
	case WAL_DECODE_SHORT: return "record cut short";
	case WAL_DECODE_BAD_HEADER: return "bad record length";
	case WAL_DECODE_BAD_CRC: return "checksum mismatch";
	case WAL_DECODE_BAD_PAYLOAD: return "malformed record";
	}
	return "unknown decode status";
}

static void record_frame(uint8_t *buf, uint32_t payload_len)
{
	raft_le_put32(buf, payload_len);
	raft_le_put32(buf + 4, crc32c(0, buf, 4));
	raft_le_put32(buf + 8, crc32c(0, buf + WAL_RECORD_HEADER_BYTES, payload_len));
}

size_t wal_entry_record_size(const struct raft_entry *e)
{
	return WAL_RECORD_HEADER_BYTES + WAL_ENTRY_BODY_BYTES + (size_t)e->len;
}

void wal_entry_record_encode(const struct raft_entry *e, uint8_t *buf)
{
	uint8_t *p = buf + WAL_RECORD_HEADER_BYTES;

	p[0] = WAL_RECORD_ENTRY;
	raft_le_put64(p + 1, e->term);
	raft_le_put64(p + 9, e->index);
	p[17] = e->type;
	if (e->len > 0)
		memcpy(p + WAL_ENTRY_BODY_BYTES, e->data, e->len);
	record_frame(buf, WAL_ENTRY_BODY_BYTES + e->len);
}

static size_t snap_marker_encode(uint64_t index, uint64_t term, uint8_t *buf)
{
	uint8_t *p = buf + WAL_RECORD_HEADER_BYTES;

	p[0] = WAL_RECORD_SNAPSHOT;
	raft_le_put64(p + 1, index);
	raft_le_put64(p + 9, term);
	record_frame(buf, WAL_SNAP_BODY_BYTES);
	return WAL_RECORD_HEADER_BYTES + WAL_SNAP_BODY_BYTES;
}

static int record_parse_payload(const uint8_t *p, uint32_t len,
				struct wal_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->type = p[0];
	if (p[0] == WAL_RECORD_ENTRY && len >= WAL_ENTRY_BODY_BYTES) {
		rec->entry.term = raft_le_get64(p + 1);
		rec->entry.index = raft_le_get64(p + 9);
		rec->entry.type = p[17];
		rec->entry.len = len - WAL_ENTRY_BODY_BYTES;
		rec->entry.data = rec->entry.len > 0 ?
			(uint8_t *)(p + WAL_ENTRY_BODY_BYTES) : NULL;
		return rec->entry.index > 0 ? WAL_DECODE_OK :
			WAL_DECODE_BAD_PAYLOAD;
	}
	if (p[0] == WAL_RECORD_SNAPSHOT && len == WAL_SNAP_BODY_BYTES) {
		rec->snap_index = raft_le_get64(p + 1);
		rec->snap_term = raft_le_get64(p + 9);
		return rec->snap_index > 0 ? WAL_DECODE_OK :
			WAL_DECODE_BAD_PAYLOAD;
	}
	return WAL_DECODE_BAD_PAYLOAD;
}

int wal_record_decode(const uint8_t *buf, size_t len, struct wal_record *rec,
		      size_t *consumed)
{
	if (len < WAL_RECORD_HEADER_BYTES)
		return WAL_DECODE_SHORT;
	uint32_t payload_len = raft_le_get32(buf);
	if (raft_le_get32(buf + 4) != crc32c(0, buf, 4))
		return WAL_DECODE_BAD_HEADER;
	if (payload_len == 0 || payload_len > WAL_RECORD_MAX_PAYLOAD)
		return WAL_DECODE_BAD_HEADER;
	if (len - WAL_RECORD_HEADER_BYTES < payload_len)
		return WAL_DECODE_SHORT;
	const uint8_t *payload = buf + WAL_RECORD_HEADER_BYTES;
	if (raft_le_get32(buf + 8) != crc32c(0, payload, payload_len))
		return WAL_DECODE_BAD_CRC;
	int status = record_parse_payload(payload, payload_len, rec);
	if (status == WAL_DECODE_OK)
		*consumed = WAL_RECORD_HEADER_BYTES + (size_t)payload_len;
	return status;
}

/* ---- errors ---- */

static void wal_set_error(struct wal *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void wal_set_error(struct wal *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
}

/* Marks the WAL failed after an I/O error on path; returns -1. */
static int wal_fail(struct wal *w, const char *what, const char *path, int err)
{
	if (!w->failed)
		wal_set_error(w, "wal: %s failed: %s: %s; refusing writes",
			      what, path, strerror(err));
	w->failed = true;
	return -1;
}

/* Returns -1 (message kept) if the WAL already failed, else 0. */
static int wal_check_usable(struct wal *w)
{
	return w->failed ? -1 : 0;
}

static int wal_path(struct wal *w, char *out, const char *name)
{
	int n = snprintf(out, WAL_PATH_MAX, "%s/%s", w->dir, name);
	if (n < 0 || n >= WAL_PATH_MAX) {
		wal_set_error(w, "wal: path too long: %s/%s", w->dir, name);
		return -1;
	}
	return 0;
}

static void segment_name(char *out, size_t len, uint64_t index)
{
	snprintf(out, len, "wal-%016" PRIx64 ".log", index);
}

static void snapshot_name(char *out, size_t len, uint64_t index)
{
	snprintf(out, len, "snap-%016" PRIx64 ".snap", index);
}

/* ---- low-level file helpers ---- */

#define WAL_AT_END ((off_t)-1)

/* Writes all of buf at offset off, or with write() at the file's end when
 * off is WAL_AT_END, retrying short writes and EINTR; marks the WAL failed
 * on any error. */
static int wal_write_all(struct wal *w, int fd, const void *buf, size_t len,
			 off_t off, const char *path)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = off == WAL_AT_END
				    ? w->io->write(w->io->ctx, fd, p, len)
				    : w->io->pwrite(w->io->ctx, fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wal_fail(w, "write", path, errno);
		if (n == 0)
			return wal_fail(w, "write", path, ENOSPC);
		p += n;
		if (off != WAL_AT_END)
			off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync (data_only: fdatasync) of fd; a failure fails the WAL. */
static int wal_sync_fd(struct wal *w, int fd, const char *path, bool data_only)
{
	int rc = data_only ? w->io->fdatasync(w->io->ctx, fd)
			   : w->io->fsync(w->io->ctx, fd);

	if (rc != 0)
		return wal_fail(w, "fsync", path, errno);
	return 0;
}

static int wal_sync_dir(struct wal *w)
{
	return wal_sync_fd(w, w->dir_fd, w->dir, false);
}

/* Puts the written and synced tmp in place of path, durably (the rename
 * itself is made to last by syncing the directory). */
static int wal_rename_durable(struct wal *w, const char *tmp, const char *path)
{
	if (w->io->rename(w->io->ctx, tmp, path) != 0)
		return wal_fail(w, "rename", tmp, errno);
	return wal_sync_dir(w);
}

/* Reads the whole file at path into a malloc'd buffer. */
static int wal_read_file(struct wal *w, int fd, const char *path,
			 uint8_t **out, size_t *out_len)
{
	size_t cap = 64 * 1024, len = 0;
	uint8_t *buf = malloc(cap);

	if (buf == NULL) {
		wal_set_error(w, "wal: out of memory reading %s", path);
		return -1;
	}
	for (;;) {
		if (len == cap) {
			uint8_t *bigger = realloc(buf, cap * 2);
			if (bigger == NULL) {
				free(buf);
				wal_set_error(w, "wal: out of memory reading %s",
					      path);
				return -1;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t n = w->io->pread(w->io->ctx, fd, buf + len, cap - len,
					 (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			wal_set_error(w, "wal: read failed: %s: %s", path,
				      strerror(e));
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

static int wal_open_file(struct wal *w, const char *path, int flags,
			 int *fd_out)
{
	int fd = w->io->open(w->io->ctx, path, flags, 0600);
	if (fd < 0) {
		wal_set_error(w, "wal: open failed: %s: %s", path,
			      strerror(errno));
		return -1;
	}
	*fd_out = fd;
	return 0;
}

/* Closes a file that was written: a close error may hide a lost write. */
static int wal_close_written(struct wal *w, int fd, const char *path)
{
	if (w->io->close(w->io->ctx, fd) != 0)
		return wal_fail(w, "close", path, errno);
	return 0;
}

static void wal_close_quiet(struct wal *w, int fd)
{
	/* Only for files read or already synced: nothing to lose. */
	if (fd >= 0)
		(void)w->io->close(w->io->ctx, fd);
}

static int wal_ensure_buf(struct wal *w, size_t need)
{
	if (need <= w->buf_cap)
		return 0;
	size_t cap = w->buf_cap ? w->buf_cap : 4096;
	while (cap < need)
		cap *= 2;
	uint8_t *bigger = realloc(w->buf, cap);
	if (bigger == NULL) {
		wal_set_error(w, "wal: out of memory (%zu bytes)", need);
		return -1;
	}
	w->buf = bigger;
	w->buf_cap = cap;
	return 0;
}

/* ---- hard state file ---- */

static void hs_slot_encode(uint64_t seq, const struct raft_hard_state *hs,
			   uint8_t *slot)
{
	memset(slot, 0, WAL_HS_SLOT_BYTES);
	raft_le_put32(slot, WAL_HS_MAGIC);
	raft_le_put64(slot + 4, seq);
	raft_le_put64(slot + 12, hs->term);
	raft_le_put64(slot + 20, hs->vote);
	raft_le_put64(slot + 28, hs->commit);
	raft_le_put32(slot + 36, crc32c(0, slot, 36));
}

static bool hs_slot_decode(const uint8_t *slot, size_t avail, uint64_t *seq,
			   struct raft_hard_state *hs)
{
	if (avail < WAL_HS_RECORD_BYTES || raft_le_get32(slot) != WAL_HS_MAGIC ||
	    raft_le_get32(slot + 36) != crc32c(0, slot, 36))
		return false;
	*seq = raft_le_get64(slot + 4);
	hs->term = raft_le_get64(slot + 12);
	hs->vote = raft_le_get64(slot + 20);
	hs->commit = raft_le_get64(slot + 28);
	return true;
}

/* Creates the hard state file: the zero state with sequence 1. */
static int hs_create(struct wal *w, const char *path)
{
	char tmp[WAL_PATH_MAX];
	uint8_t slots[2 * WAL_HS_SLOT_BYTES];
	struct raft_hard_state zero = { 0, 0, 0 };
	int fd;

	if (wal_path(w, tmp, WAL_HS_NAME ".tmp") != 0)
		return -1;
	/* Sequence s lives in slot s % 2: sequence 1 in slot 1. */
	memset(slots, 0, WAL_HS_SLOT_BYTES);
	hs_slot_encode(1, &zero, slots + WAL_HS_SLOT_BYTES);
	if (wal_open_file(w, tmp, O_WRONLY | O_CREAT | O_TRUNC, &fd) != 0)
		return -1;
	if (wal_write_all(w, fd, slots, sizeof(slots), WAL_AT_END, tmp) != 0 ||
	    wal_sync_fd(w, fd, tmp, false) != 0) {
		wal_close_quiet(w, fd);
		return -1;
	}
	if (wal_close_written(w, fd, tmp) != 0)
		return -1;
	return wal_rename_durable(w, tmp, path);
}

/* Opens the hard state file, creating it on first use. */
static int hs_open(struct wal *w, const char *path)
{
	w->hs_fd = w->io->open(w->io->ctx, path, O_RDWR, 0600);
	if (w->hs_fd < 0 && errno == ENOENT) {
		if (hs_create(w, path) != 0)
			return -1;
		w->hs_fd = w->io->open(w->io->ctx, path, O_RDWR, 0600);
	}
	if (w->hs_fd < 0) {
		wal_set_error(w, "wal: open failed: %s: %s", path,
			      strerror(errno));
		return -1;
	}
	return 0;
}

static int hs_load(struct wal *w, struct raft_hard_state *out)
{
	char path[WAL_PATH_MAX];
	uint8_t *buf;
	size_t len;

	if (wal_path(w, path, WAL_HS_NAME) != 0 || hs_open(w, path) != 0 ||
	    wal_read_file(w, w->hs_fd, path, &buf, &len) != 0)
		return -1;
	struct raft_hard_state hs[2] = { { 0 }, { 0 } };
	uint64_t seq[2] = { 0, 0 };
	bool ok[2];
	for (int i = 0; i < 2; i++) {
		size_t off = (size_t)i * WAL_HS_SLOT_BYTES;
		ok[i] = len > off &&
			hs_slot_decode(buf + off, len - off, &seq[i], &hs[i]);
	}
	free(buf);
	if (!ok[0] && !ok[1]) {
		wal_set_error(w, "wal: hard state file %s: both slots corrupt",
			      path);
		return -1;
	}
	int best = (!ok[0] || (ok[1] && seq[1] > seq[0])) ? 1 : 0;
	w->hs_seq = seq[best];
	w->hs = hs[best];
	w->hs_durable = hs[best];
	*out = hs[best];
	return 0;
}

/* Writes the pending hard state into the slot after the newest synced one
 * (sequence hs_seq + 1), so that slot is never touched before its
 * successor is durable. A change of term or vote is fdatasynced; a change
 * of the commit index alone is written without a sync: Raft's commit index
 * is volatile state (a lower one after a crash is learned again), and the
 * same slot is simply rewritten until the next synced change. Called after
 * the segment's fdatasync, so a commit on disk never exceeds the entries. */
static int hs_write(struct wal *w)
{
	char path[WAL_PATH_MAX];
	uint8_t slot[WAL_HS_SLOT_BYTES];
	uint64_t seq = w->hs_seq + 1;
	bool must_sync = w->hs.term != w->hs_durable.term ||
			 w->hs.vote != w->hs_durable.vote;

	if (wal_path(w, path, WAL_HS_NAME) != 0)
		return -1;
	hs_slot_encode(seq, &w->hs, slot);
	off_t off = (off_t)(seq % 2) * WAL_HS_SLOT_BYTES;
	if (wal_write_all(w, w->hs_fd, slot, sizeof(slot), off, path) != 0)
		return -1;
	if (must_sync) {
		if (wal_sync_fd(w, w->hs_fd, path, true) != 0)
			return -1;
		w->hs_seq = seq;
		w->hs_durable = w->hs;
	}
	w->hs_pending = false;
	return 0;
}

/* ---- snapshot files ---- */

static size_t snap_header_size(const struct raft_snapshot_meta *m)
{
	return 4 + 8 + 8 + 4 + 8 * (size_t)m->conf.n_voters + 4 +
	       8 * (size_t)m->conf.n_learners + 8;
}

static void snap_header_encode(const struct raft_snapshot *s, uint8_t *p)
{
	const struct raft_conf *c = &s->meta.conf;

	raft_le_put32(p, WAL_SNAP_MAGIC);
	raft_le_put64(p + 4, s->meta.index);
	raft_le_put64(p + 12, s->meta.term);
	p += 20;
	raft_le_put32(p, c->n_voters);
	p += 4;
	for (uint32_t i = 0; i < c->n_voters; i++, p += 8)
		raft_le_put64(p, c->voters[i]);
	raft_le_put32(p, c->n_learners);
	p += 4;
	for (uint32_t i = 0; i < c->n_learners; i++, p += 8)
		raft_le_put64(p, c->learners[i]);
	raft_le_put64(p, (uint64_t)s->len);
}

/* Reads a u32 count and that many u64 ids at buf[*off]. */
static bool snap_ids_decode(const uint8_t *buf, size_t len, size_t *off,
			    uint32_t *n, uint64_t *ids)
{
	if (len - *off < 4)
		return false;
	*n = raft_le_get32(buf + *off);
	*off += 4;
	if (*n > RAFT_MAX_NODES || len - *off < 8 * (size_t)*n)
		return false;
	for (uint32_t i = 0; i < *n; i++, *off += 8)
		ids[i] = raft_le_get64(buf + *off);
	return true;
}

/* Parses a whole snapshot file; returns false if it is malformed. */
static bool snap_decode(const uint8_t *buf, size_t len, struct raft_snapshot *s)
{
	size_t off = 20;

	memset(s, 0, sizeof(*s));
	if (len < 20 + 4 || raft_le_get32(buf) != WAL_SNAP_MAGIC ||
	    raft_le_get32(buf + len - 4) != crc32c(0, buf, len - 4))
		return false;
	len -= 4; /* the checksum */
	s->meta.index = raft_le_get64(buf + 4);
	s->meta.term = raft_le_get64(buf + 12);
	struct raft_conf *c = &s->meta.conf;
	if (!snap_ids_decode(buf, len, &off, &c->n_voters, c->voters) ||
	    !snap_ids_decode(buf, len, &off, &c->n_learners, c->learners) ||
	    len - off < 8 || raft_le_get64(buf + off) != len - off - 8)
		return false;
	s->len = len - off - 8;
	s->data = malloc(s->len ? s->len : 1);
	if (s->data == NULL)
		return false;
	memcpy(s->data, buf + off + 8, s->len);
	return true;
}

static int snap_load(struct wal *w, uint64_t index, struct raft_snapshot **out)
{
	char name[64], path[WAL_PATH_MAX];
	uint8_t *buf;
	size_t len;
	int fd;

	snapshot_name(name, sizeof(name), index);
	if (wal_path(w, path, name) != 0 ||
	    wal_open_file(w, path, O_RDONLY, &fd) != 0)
		return -1;
	int rc = wal_read_file(w, fd, path, &buf, &len);
	wal_close_quiet(w, fd);
	if (rc != 0)
		return -1;
	struct raft_snapshot *s = malloc(sizeof(*s));
	bool ok = s != NULL && snap_decode(buf, len, s);
	free(buf);
	if (!ok || s->meta.index != index) {
		if (ok)
			free(s->data);
		free(s);
		wal_set_error(w, "wal: snapshot file %s is corrupt "
			      "(checksum or format)", path);
		return -1;
	}
	*out = s;
	return 0;
}

static int snap_write_tmp(struct wal *w, const struct raft_snapshot *s,
			  const char *tmp)
{
	size_t hlen = snap_header_size(&s->meta);
	uint8_t trailer[4];
	int fd;

	if (wal_ensure_buf(w, hlen) != 0 ||
	    wal_open_file(w, tmp, O_WRONLY | O_CREAT | O_TRUNC, &fd) != 0)
		return -1;
	snap_header_encode(s, w->buf);
	uint32_t crc = crc32c(crc32c(0, w->buf, hlen), s->data, s->len);
	raft_le_put32(trailer, crc);
	if (wal_write_all(w, fd, w->buf, hlen, WAL_AT_END, tmp) != 0 ||
	    wal_write_all(w, fd, s->data, s->len, WAL_AT_END, tmp) != 0 ||
	    wal_write_all(w, fd, trailer, 4, WAL_AT_END, tmp) != 0 ||
	    wal_sync_fd(w, fd, tmp, false) != 0) {
		wal_close_quiet(w, fd);
		return -1;
	}
	return wal_close_written(w, fd, tmp);
}

/* ---- replay: the in-memory log rebuilt from the records ---- */

struct wal_log {
	struct raft_entry *ents; /* consecutive indexes, data malloc'd */
	size_t n;
	size_t cap;
};

static uint64_t log_first(const struct wal_log *l)
{
	return l->n ? l->ents[0].index : 0;
}

static uint64_t log_last(const struct wal_log *l)
{
	return l->n ? l->ents[l->n - 1].index : 0;
}

static void log_truncate(struct wal_log *l, size_t keep)
{
	for (size_t i = keep; i < l->n; i++)
		free(l->ents[i].data);
	l->n = keep;
}

static void log_free(struct wal_log *l)
{
	log_truncate(l, 0);
	free(l->ents);
	memset(l, 0, sizeof(*l));
}

/* Drops entries with index <= index. */
static void log_drop_prefix(struct wal_log *l, uint64_t index)
{
	size_t k = 0;
	while (k < l->n && l->ents[k].index <= index)
		free(l->ents[k++].data);
	memmove(l->ents, l->ents + k, (l->n - k) * sizeof(*l->ents));
	l->n -= k;
}

/* The snapshot rule: keep the entries after (index, term) if the log holds
 * that entry with that term, or starts after it; otherwise restart empty. */
static void log_apply_snapshot(struct wal_log *l, uint64_t index,
			       uint64_t term)
{
	uint64_t first = log_first(l);

	if (l->n > 0 && first > index)
		return;
	if (l->n > 0 && index <= log_last(l) &&
	    l->ents[index - first].term == term) {
		log_drop_prefix(l, index);
		return;
	}
	log_truncate(l, 0);
}

/* Applies one entry record: replaces index and everything after it. */
static int log_put(struct wal *w, struct wal_log *l, const struct raft_entry *e,
		   const char *path, size_t off)
{
	uint64_t first = log_first(l);

	if (l->n > 0 && e->index > log_last(l) + 1) {
		wal_set_error(w, "wal: %s at offset %zu: entry %" PRIu64
			      " leaves a gap after %" PRIu64, path, off,
			      e->index, log_last(l));
		return -1;
	}
	if (l->n > 0)
		log_truncate(l, e->index >= first ? e->index - first : 0);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct raft_entry *bigger = realloc(l->ents, cap * sizeof(*bigger));
		if (bigger == NULL)
			goto nomem;
		l->ents = bigger;
		l->cap = cap;
	}
	struct raft_entry *dst = &l->ents[l->n];
	*dst = *e;
	dst->data = NULL;
	if (e->len > 0) {
		dst->data = malloc(e->len);
		if (dst->data == NULL)
			goto nomem;
		memcpy(dst->data, e->data, e->len);
	}
	l->n++;
	return 0;
nomem:
	wal_set_error(w, "wal: out of memory replaying %s", path);
	return -1;
}

/* ---- segment scanning ---- */

/* True if a valid record starts anywhere in buf[from..len). */
static bool valid_record_after(const uint8_t *buf, size_t len, size_t from)
{
	struct wal_record rec;
	size_t used;

	for (size_t off = from; off + WAL_RECORD_HEADER_BYTES <= len; off++)
		if (wal_record_decode(buf + off, len - off, &rec, &used) ==
		    WAL_DECODE_OK)
			return true;
	return false;
}

/* Decides what a bad record at off means. Returns 0 if it is a torn tail
 * (caller truncates to off), -1 with a message if the log is corrupt. */
static int classify_bad_record(struct wal *w, const uint8_t *buf, size_t len,
			       size_t off, int status, bool is_last,
			       const char *path)
{
	const char *why = wal_decode_status_name(status);

	if (!is_last) {
		wal_set_error(w, "wal: corrupt record in %s at offset %zu (%s) "
			      "in a segment that is not the last", path, off,
			      why);
		return -1;
	}
	if (status == WAL_DECODE_BAD_PAYLOAD) {
		wal_set_error(w, "wal: corrupt record in %s at offset %zu (%s)",
			      path, off, why);
		return -1;
	}
	if (valid_record_after(buf, len, off + 1)) {
		wal_set_error(w, "wal: corrupt record in %s at offset %zu (%s); "
			      "valid records follow it", path, off, why);
		return -1;
	}
	return 0;
}

/* Replays buf (a segment's bytes) into l. Sets *good_len to the length of
 * the valid prefix (shorter than len only for a torn last segment). */
static int segment_replay(struct wal *w, const uint8_t *buf, size_t len,
			  bool is_last, const char *path, struct wal_log *l,
			  struct wal_segment *seg, size_t *good_len)
{
	size_t off = 0;

	while (off < len) {
		struct wal_record rec;
		size_t used = 0;
		int status = wal_record_decode(buf + off, len - off, &rec, &used);
		if (status != WAL_DECODE_OK) {
			if (classify_bad_record(w, buf, len, off, status,
						is_last, path) != 0)
				return -1;
			break;
		}
		if (rec.type == WAL_RECORD_ENTRY) {
			if (log_put(w, l, &rec.entry, path, off) != 0)
				return -1;
			if (rec.entry.index > seg->max_index)
				seg->max_index = rec.entry.index;
		} else {
			log_apply_snapshot(l, rec.snap_index, rec.snap_term);
		}
		off += used;
	}
	*good_len = off;
	return 0;
}

/* Formats a notice for the caller's log (cut short if too long). */
static void format_notice(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void format_notice(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Cuts the torn tail of the open last segment and makes the cut durable. */
static int segment_repair(struct wal *w, const char *path, size_t good_len,
			  size_t len, struct wal_recovered *rec)
{
	if (w->io->ftruncate(w->io->ctx, w->seg_fd, (off_t)good_len) != 0)
		return wal_fail(w, "truncate", path, errno);
	if (wal_sync_fd(w, w->seg_fd, path, true) != 0)
		return -1;
	format_notice(rec->notice, sizeof(rec->notice),
		      "wal: dropped a torn write of %zu bytes at the end of %s "
		      "(offset %zu)", len - good_len, path, good_len);
	return 0;
}

static int segment_load(struct wal *w, uint32_t i, struct wal_log *l,
			struct wal_recovered *rec)
{
	char name[64], path[WAL_PATH_MAX];
	bool is_last = i + 1 == w->n_segs;
	uint8_t *buf;
	size_t len, good_len = 0;
	int fd;

	segment_name(name, sizeof(name), w->segs[i].name_index);
	if (wal_path(w, path, name) != 0 ||
	    wal_open_file(w, path, is_last ? O_RDWR | O_APPEND : O_RDONLY,
			  &fd) != 0)
		return -1;
	if (is_last)
		w->seg_fd = fd;
	int rc = wal_read_file(w, fd, path, &buf, &len);
	if (!is_last)
		wal_close_quiet(w, fd);
	if (rc != 0)
		return -1;
	rc = segment_replay(w, buf, len, is_last, path, l, &w->segs[i],
			    &good_len);
	free(buf);
	if (rc == 0 && good_len < len)
		rc = segment_repair(w, path, good_len, len, rec);
	w->seg_bytes = good_len;
	return rc;
}

/* ---- directory listing ---- */

static bool parse_hex16(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < 16; i++) {
		char c = s[i];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return false;
		v = (v << 4) | (uint64_t)d;
	}
	*out = v;
	return true;
}

/* Matches prefix + 16 hex digits + suffix exactly. */
static bool parse_indexed_name(const char *name, const char *prefix,
			       const char *suffix, uint64_t *index)
{
	size_t lp = strlen(prefix), ls = strlen(suffix);

	return strlen(name) == lp + 16 + ls && strncmp(name, prefix, lp) == 0 &&
	       strcmp(name + lp + 16, suffix) == 0 &&
	       parse_hex16(name + lp, index);
}

static bool has_suffix(const char *name, const char *suffix)
{
	size_t ln = strlen(name), ls = strlen(suffix);
	return ln >= ls && strcmp(name + ln - ls, suffix) == 0;
}

static int cmp_segment(const void *a, const void *b)
{
	const struct wal_segment *x = a, *y = b;
	return (x->name_index > y->name_index) - (x->name_index < y->name_index);
}

static int wal_add_segment(struct wal *w, uint64_t name_index)
{
	if (w->n_segs == w->cap_segs) {
		uint32_t cap = w->cap_segs ? w->cap_segs * 2 : 16;
		struct wal_segment *bigger =
			realloc(w->segs, cap * sizeof(*bigger));
		if (bigger == NULL) {
			wal_set_error(w, "wal: out of memory");
			return -1;
		}
		w->segs = bigger;
		w->cap_segs = cap;
	}
	w->segs[w->n_segs].name_index = name_index;
	w->segs[w->n_segs].max_index = 0;
	w->n_segs++;
	return 0;
}

static int wal_remove_file(struct wal *w, const char *name)
{
	char path[WAL_PATH_MAX];

	if (wal_path(w, path, name) != 0)
		return -1;
	if (w->io->unlink(w->io->ctx, path) != 0 && errno != ENOENT) {
		wal_set_error(w, "wal: unlink failed: %s: %s", path,
			      strerror(errno));
		return -1;
	}
	return 0;
}

/* One directory entry: a segment, a snapshot, a leftover temp file to
 * remove, or something that is not ours (left alone). */
static int scan_entry(struct wal *w, const char *name, uint64_t *snap_index)
{
	uint64_t index;

	if (parse_indexed_name(name, "wal-", ".log", &index))
		return wal_add_segment(w, index);
	if (parse_indexed_name(name, "snap-", ".snap", &index)) {
		if (index > *snap_index)
			*snap_index = index;
		return 0;
	}
	if (has_suffix(name, ".tmp"))
		return wal_remove_file(w, name);
	return 0;
}

/* Lists the directory: segments sorted, the highest snapshot index. */
static int scan_dir(struct wal *w, uint64_t *snap_index)
{
	DIR *d = opendir(w->dir);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		wal_set_error(w, "wal: cannot list %s: %s", w->dir,
			      strerror(errno));
		return -1;
	}
	*snap_index = 0;
	errno = 0;
	while (rc == 0 && (de = readdir(d)) != NULL)
		rc = scan_entry(w, de->d_name, snap_index);
	if (rc == 0 && errno != 0) {
		wal_set_error(w, "wal: cannot list %s: %s", w->dir,
			      strerror(errno));
		rc = -1;
	}
	closedir(d);
	if (w->n_segs > 1)
		qsort(w->segs, w->n_segs, sizeof(*w->segs), cmp_segment);
	return rc;
}

/* Removes snapshot files older than keep (left by a crash during save). */
static int remove_old_snapshots(struct wal *w, uint64_t keep)
{
	DIR *d = opendir(w->dir);
	struct dirent *de;
	uint64_t index;
	int rc = 0;

	if (d == NULL) {
		wal_set_error(w, "wal: cannot list %s: %s", w->dir,
			      strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (parse_indexed_name(de->d_name, "snap-", ".snap", &index) &&
		    index < keep)
			rc = wal_remove_file(w, de->d_name);
	closedir(d);
	return rc;
}

/* ---- segments: creation and rollover ---- */

/* Creates and opens a new segment for entries from next_index on. */
static int segment_create(struct wal *w, uint64_t next_index)
{
	char name[64], path[WAL_PATH_MAX];
	uint64_t index = next_index;

	if (w->n_segs > 0 && index <= w->segs[w->n_segs - 1].name_index)
		index = w->segs[w->n_segs - 1].name_index + 1;
	segment_name(name, sizeof(name), index);
	if (wal_path(w, path, name) != 0)
		return -1;
	int fd = w->io->open(w->io->ctx, path,
			     O_RDWR | O_APPEND | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return wal_fail(w, "create", path, errno);
	if (wal_add_segment(w, index) != 0) {
		wal_close_quiet(w, fd);
		return -1;
	}
	w->seg_fd = fd;
	w->seg_bytes = 0;
	w->seg_dirty = false;
	return wal_sync_dir(w);
}

static void current_segment_path(struct wal *w, char *path)
{
	char name[64];

	segment_name(name, sizeof(name), w->segs[w->n_segs - 1].name_index);
	if (wal_path(w, path, name) != 0)
		snprintf(path, WAL_PATH_MAX, "%s", name);
}

/* Syncs and closes the open segment, then starts a new one. */
static int segment_roll(struct wal *w, uint64_t next_index)
{
	char path[WAL_PATH_MAX];

	current_segment_path(w, path);
	if (w->seg_dirty && wal_sync_fd(w, w->seg_fd, path, true) != 0)
		return -1;
	int fd = w->seg_fd;
	w->seg_fd = -1;
	if (wal_close_written(w, fd, path) != 0)
		return -1;
	return segment_create(w, next_index);
}

/* Writes encoded bytes to the open segment. */
static int segment_write(struct wal *w, const uint8_t *buf, size_t len)
{
	char path[WAL_PATH_MAX];

	if (len == 0)
		return 0;
	current_segment_path(w, path);
	w->seg_dirty = true;
	if (wal_write_all(w, w->seg_fd, buf, len, WAL_AT_END, path) != 0)
		return -1;
	w->seg_bytes += len;
	return 0;
}

/* ---- open ---- */

static struct wal *wal_alloc(const char *dir, const struct wal_options *opts,
			     char *err, size_t errlen)
{
	if (strlen(dir) >= WAL_PATH_MAX - 64) {
		snprintf(err, errlen, "wal: directory path too long: %s", dir);
		return NULL;
	}
	struct wal *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(err, errlen, "wal: out of memory");
		return NULL;
	}
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	size_t len = strlen(w->dir);
	while (len > 1 && w->dir[len - 1] == '/')
		w->dir[--len] = '\0';
	w->io = opts && opts->io ? opts->io : wal_io_posix();
	w->segment_bytes = opts && opts->segment_bytes ? opts->segment_bytes :
		WAL_SEGMENT_BYTES_DEFAULT;
	w->dir_fd = w->hs_fd = w->seg_fd = -1;
	return w;
}

/* Makes a newly created directory's name durable in its parent. */
static int wal_sync_parent(struct wal *w)
{
	char parent[WAL_PATH_MAX];
	int fd;

	snprintf(parent, sizeof(parent), "%s", w->dir);
	char *slash = strrchr(parent, '/');
	if (slash == NULL)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = '\0'; /* the root */
	else
		*slash = '\0';
	if (wal_open_file(w, parent, O_RDONLY | O_DIRECTORY, &fd) != 0)
		return -1;
	int rc = wal_sync_fd(w, fd, parent, false);
	wal_close_quiet(w, fd);
	return rc;
}

static int wal_open_dir(struct wal *w)
{
	if (mkdir(w->dir, 0700) == 0) {
		if (wal_sync_parent(w) != 0)
			return -1;
	} else if (errno != EEXIST) {
		wal_set_error(w, "wal: cannot create %s: %s", w->dir,
			      strerror(errno));
		return -1;
	}
	return wal_open_file(w, w->dir, O_RDONLY | O_DIRECTORY, &w->dir_fd);
}

/* Applies the snapshot to the replayed log and checks that what remains
 * continues it. */
static int settle_log(struct wal *w, struct wal_log *l,
		      const struct raft_snapshot *snap)
{
	uint64_t base = snap ? snap->meta.index : 0;

	if (snap)
		log_apply_snapshot(l, snap->meta.index, snap->meta.term);
	if (l->n > 0 && log_first(l) != base + 1) {
		wal_set_error(w, "wal: %s: log starts at entry %" PRIu64
			      " but the snapshot ends at %" PRIu64,
			      w->dir, log_first(l), base);
		return -1;
	}
	w->snap_index = base;
	w->last_index = l->n ? log_last(l) : base;
	w->durable_index = w->last_index;
	return 0;
}

static int wal_recover(struct wal *w, struct wal_recovered *rec)
{
	struct wal_log log = { 0 };
	uint64_t snap_index;

	if (wal_open_dir(w) != 0 || scan_dir(w, &snap_index) != 0 ||
	    hs_load(w, &rec->hard_state) != 0)
		return -1;
	if (snap_index > 0 && (snap_load(w, snap_index, &rec->snapshot) != 0 ||
			       remove_old_snapshots(w, snap_index) != 0))
		return -1;
	for (uint32_t i = 0; i < w->n_segs; i++) {
		if (segment_load(w, i, &log, rec) != 0) {
			log_free(&log);
			return -1;
		}
	}
	if (settle_log(w, &log, rec->snapshot) != 0) {
		log_free(&log);
		return -1;
	}
	rec->entries = log.ents;
	rec->n_entries = (uint32_t)log.n;
	if (w->n_segs == 0)
		return segment_create(w, w->last_index + 1);
	return 0;
}

int wal_open(const char *dir, const struct wal_options *opts,
	     struct wal **walp, struct wal_recovered *rec, char *err,
	     size_t errlen)
{
	memset(rec, 0, sizeof(*rec));
	*walp = NULL;
	struct wal *w = wal_alloc(dir, opts, err, errlen);
	if (w == NULL)
		return -1;
	if (wal_recover(w, rec) != 0) {
		snprintf(err, errlen, "%s", w->msg);
		wal_recovered_free(rec);
		wal_close(w);
		return -1;
	}
	*walp = w;
	return 0;
}

void wal_close(struct wal *w)
{
	if (w == NULL)
		return;
	wal_close_quiet(w, w->seg_fd);
	wal_close_quiet(w, w->hs_fd);
	wal_close_quiet(w, w->dir_fd);
	free(w->segs);
	free(w->buf);
	free(w);
}

void wal_recovered_to_restore(const struct wal_recovered *rec,
			      struct raft_restore *restore)
{
	restore->hard_state = rec->hard_state;
	restore->snapshot = rec->snapshot;
	restore->n_entries = rec->n_entries;
	restore->entries = rec->entries;
}

void wal_recovered_free(struct wal_recovered *rec)
{
	for (uint32_t i = 0; i < rec->n_entries; i++)
		free(rec->entries[i].data);
	free(rec->entries);
	if (rec->snapshot)
		free(rec->snapshot->data);
	free(rec->snapshot);
	memset(rec, 0, sizeof(*rec));
}

/* ---- appends ---- */

static int append_check(struct wal *w, const struct raft_entry *e, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (e[i].len > WAL_ENTRY_MAX_BYTES ||
		    (e[i].len > 0 && e[i].data == NULL)) {
			wal_set_error(w, "wal: entry %" PRIu64 " has a bad "
				      "length (%" PRIu32 ")", e[i].index,
				      e[i].len);
			return -1;
		}
		if (i > 0 && e[i].index != e[i - 1].index + 1) {
			wal_set_error(w, "wal: entries not consecutive at %"
				      PRIu64, e[i].index);
			return -1;
		}
	}
	if (e[0].index <= w->snap_index || e[0].index > w->last_index + 1) {
		wal_set_error(w, "wal: entry %" PRIu64 " does not follow the "
			      "log (last %" PRIu64 ", snapshot %" PRIu64 ")",
			      e[0].index, w->last_index, w->snap_index);
		return -1;
	}
	return 0;
}

/* Flushes the pending bytes and rolls to a new segment if a record of len
 * bytes would not fit in the open one. */
static int append_make_room(struct wal *w, size_t len, uint64_t next_index,
			    size_t *pending)
{
	uint64_t used = w->seg_bytes + *pending;

	if (used == 0 || used + len <= w->segment_bytes)
		return 0;
	if (segment_write(w, w->buf, *pending) != 0 ||
	    segment_roll(w, next_index) != 0)
		return -1;
	*pending = 0;
	return 0;
}

static void segment_note_entry(struct wal *w, uint64_t index)
{
	struct wal_segment *seg = &w->segs[w->n_segs - 1];
	if (index > seg->max_index)
		seg->max_index = index;
}

int wal_append(struct wal *w, const struct raft_entry *entries, uint32_t n)
{
	size_t total = 0, pending = 0;

	if (wal_check_usable(w) != 0)
		return -1;
	if (n == 0)
		return 0;
	if (append_check(w, entries, n) != 0)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		total += wal_entry_record_size(&entries[i]);
	if (wal_ensure_buf(w, total) != 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = wal_entry_record_size(&entries[i]);
		if (append_make_room(w, len, entries[i].index, &pending) != 0)
			return -1;
		wal_entry_record_encode(&entries[i], w->buf + pending);
		pending += len;
		segment_note_entry(w, entries[i].index);
	}
	if (segment_write(w, w->buf, pending) != 0)
		return -1;
	w->last_index = entries[n - 1].index;
	/* An overwrite makes the replaced entries' durability moot. */
	if (w->durable_index >= entries[0].index)
		w->durable_index = entries[0].index - 1;
	return 0;
}

int wal_save_hard_state(struct wal *w, const struct raft_hard_state *hs)
{
	if (wal_check_usable(w) != 0)
		return -1;
	w->hs = *hs;
	w->hs_pending = true;
	return 0;
}

int wal_sync(struct wal *w)
{
	char path[WAL_PATH_MAX];

	if (wal_check_usable(w) != 0)
		return -1;
	if (w->seg_dirty) {
		current_segment_path(w, path);
		if (wal_sync_fd(w, w->seg_fd, path, true) != 0)
			return -1;
		w->seg_dirty = false;
	}
	if (w->hs_pending && hs_write(w) != 0)
		return -1;
	w->durable_index = w->last_index;
	return 0;
}

/* ---- snapshots and compaction ---- */

static int snap_check(struct wal *w, const struct raft_snapshot *s)
{
	const struct raft_conf *c = &s->meta.conf;

	if (s->meta.index <= w->snap_index || c->n_voters > RAFT_MAX_NODES ||
	    c->n_learners > RAFT_MAX_NODES || (s->len > 0 && !s->data)) {
		wal_set_error(w, "wal: snapshot at %" PRIu64 " refused (last "
			      "snapshot %" PRIu64 ", or malformed)",
			      s->meta.index, w->snap_index);
		return -1;
	}
	return 0;
}

static int snap_install_file(struct wal *w, const struct raft_snapshot *s)
{
	char name[64], path[WAL_PATH_MAX], tmp[WAL_PATH_MAX];

	snapshot_name(name, sizeof(name), s->meta.index);
	if (wal_path(w, path, name) != 0)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		wal_set_error(w, "wal: path too long: %s.tmp", path);
		return -1;
	}
	if (snap_write_tmp(w, s, tmp) != 0)
		return -1;
	return wal_rename_durable(w, tmp, path);
}

int wal_save_snapshot(struct wal *w, const struct raft_snapshot *snap)
{
	uint8_t marker[WAL_RECORD_HEADER_BYTES + WAL_SNAP_BODY_BYTES];
	char old[64];
	uint64_t old_index = w->snap_index;

	if (wal_check_usable(w) != 0 || snap_check(w, snap) != 0 ||
	    snap_install_file(w, snap) != 0)
		return -1;
	w->snap_index = snap->meta.index;
	if (old_index > 0) {
		snapshot_name(old, sizeof(old), old_index);
		if (wal_remove_file(w, old) != 0)
			return -1;
	}
	size_t len = snap_marker_encode(snap->meta.index, snap->meta.term,
					marker);
	if (w->seg_bytes > 0 && w->seg_bytes + len > w->segment_bytes &&
	    segment_roll(w, w->last_index + 1) != 0)
		return -1;
	if (segment_write(w, marker, len) != 0)
		return -1;
	/* Entries up to the snapshot are durable through its file; whether
	 * later ones survive replay depends on the marker rule, so the
	 * durable index is conservatively the snapshot's until the next sync. */
	if (w->last_index < snap->meta.index)
		w->last_index = snap->meta.index;
	w->durable_index = snap->meta.index;
	return 0;
}

int wal_compact(struct wal *w, uint64_t index)
{
	char name[64];
	uint32_t k = 0;
	int rc = 0;

	if (wal_check_usable(w) != 0)
		return -1;
	if (index > w->snap_index) {
		wal_set_error(w, "wal: cannot compact to %" PRIu64 " beyond "
			      "the snapshot at %" PRIu64, index, w->snap_index);
		return -1;
	}
	/* Oldest first, so that a crash midway leaves a replayable suffix. */
	while (k + 1 < w->n_segs && w->segs[k].max_index <= index) {
		segment_name(name, sizeof(name), w->segs[k].name_index);
		rc = wal_remove_file(w, name);
		if (rc != 0)
			break;
		k++;
	}
	memmove(w->segs, w->segs + k, (w->n_segs - k) * sizeof(*w->segs));
	w->n_segs -= k;
	if (k > 0 && wal_sync_dir(w) != 0)
		return -1;
	return rc;
}

/* ---- accessors ---- */

const char *wal_error(const struct wal *w)
{
	return w->msg;
}

bool wal_failed(const struct wal *w)
{
	return w->failed;
}

uint64_t wal_last_index(const struct wal *w)
{
	return w->last_index;
}

uint64_t wal_durable_index(const struct wal *w)
{
	return w->durable_index;
}

uint32_t wal_segment_count(const struct wal *w)
{
	return w->n_segs;
}

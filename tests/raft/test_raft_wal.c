/*
 * test_raft_wal.c: cmocka tests of the raft durable storage (raft_wal.c)
 * and its CRC32C. Each test gets a fresh mkdtemp directory under /tmp
 * (removed by the teardown, which cmocka also runs after a failed test).
 * Crashes are simulated by cutting or editing files between wal_close and
 * wal_open; I/O faults (short write, ENOSPC, EIO, failed fsync) by a
 * struct wal_io that wraps POSIX and fails on command. Everything is
 * deterministic: fixed data patterns, a fixed-seed xorshift for CRC inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "raft_test_conf.h"
#include "raft_wal.h"
#include "test_common.h"

#define TEST_SEG_NAME "wal-0000000000000001.log"

struct test_ctx {
	char dir[64];
	char path[512];
};

/* ---- fault-injecting I/O ---- */

struct fault_io {
	int writes_ok;      /* write() calls that pass before the fault; -1: never */
	int write_errno;    /* errno of the failing write */
	size_t short_bytes; /* > 0: the first faulting write writes this much */
	bool short_then_ok; /* after the short write, writes succeed again */
	int fsyncs_ok;      /* fdatasync() calls that pass; -1: never fail */
	int fsync_errno;
	int n_writes;       /* calls seen */
	int n_fsyncs;
};

static int fio_open(void *ctx, const char *path, int flags, mode_t mode)
{
	return wal_io_posix()->open(ctx, path, flags, mode);
}

static int fio_close(void *ctx, int fd)
{
	return wal_io_posix()->close(ctx, fd);
}

static ssize_t fio_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	return wal_io_posix()->pread(ctx, fd, buf, len, off);
}

/* Returns -2 to pass the call through, else the faulty result. */
static ssize_t fio_fault(struct fault_io *f, size_t len, size_t *short_len)
{
	f->n_writes++;
	*short_len = 0;
	if (f->writes_ok < 0)
		return -2;
	if (f->writes_ok > 0) {
		f->writes_ok--;
		return -2;
	}
	if (f->short_bytes > 0) {
		*short_len = f->short_bytes < len ? f->short_bytes : len;
		f->short_bytes = 0;
		if (f->short_then_ok)
			f->writes_ok = -1;
		return (ssize_t)*short_len;
	}
	errno = f->write_errno;
	return -1;
}

static ssize_t fio_write(void *ctx, int fd, const void *buf, size_t len)
{
	size_t short_len;
	ssize_t r = fio_fault(ctx, len, &short_len);

	if (r == -2)
		return write(fd, buf, len);
	if (short_len > 0)
		return write(fd, buf, short_len);
	return r;
}

static ssize_t fio_pwrite(void *ctx, int fd, const void *buf, size_t len,
			  off_t off)
{
	size_t short_len;
	ssize_t r = fio_fault(ctx, len, &short_len);

	if (r == -2)
		return pwrite(fd, buf, len, off);
	if (short_len > 0)
		return pwrite(fd, buf, short_len, off);
	return r;
}

static int fio_sync_fault(struct fault_io *f)
{
	f->n_fsyncs++;
	if (f->fsyncs_ok < 0)
		return 0;
	if (f->fsyncs_ok > 0) {
		f->fsyncs_ok--;
		return 0;
	}
	errno = f->fsync_errno;
	return -1;
}

static int fio_fsync(void *ctx, int fd)
{
	if (fio_sync_fault(ctx) != 0)
		return -1;
	return fsync(fd);
}

static int fio_fdatasync(void *ctx, int fd)
{
	if (fio_sync_fault(ctx) != 0)
		return -1;
	return fdatasync(fd);
}

static int fio_ftruncate(void *ctx, int fd, off_t len)
{
	return wal_io_posix()->ftruncate(ctx, fd, len);
}

static int fio_rename(void *ctx, const char *from, const char *to)
{
	return wal_io_posix()->rename(ctx, from, to);
}

static int fio_unlink(void *ctx, const char *path)
{
	return wal_io_posix()->unlink(ctx, path);
}

static void fault_io_init(struct fault_io *f, struct wal_io *io)
{
	memset(f, 0, sizeof(*f));
	f->writes_ok = -1;
	f->fsyncs_ok = -1;
	*io = (struct wal_io){
		.ctx = f,
		.open = fio_open,
		.close = fio_close,
		.pread = fio_pread,
		.write = fio_write,
		.pwrite = fio_pwrite,
		.fsync = fio_fsync,
		.fdatasync = fio_fdatasync,
		.ftruncate = fio_ftruncate,
		.rename = fio_rename,
		.unlink = fio_unlink,
	};
}

/* ---- fixtures ---- */

static int setup_dir(void **state)
{
	struct test_ctx *t = calloc(1, sizeof(*t));

	if (t == NULL || test_tmpdir_make(t->dir, sizeof(t->dir), "raft-wal")) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown_dir(void **state)
{
	struct test_ctx *t = *state;
	int rc = test_tmpdir_remove(t->dir);

	free(t);
	return rc;
}

static const char *tpath(struct test_ctx *t, const char *name)
{
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	return t->path;
}

/* ---- entries and checks ---- */

static uint8_t entry_byte(uint64_t index, uint64_t term, uint32_t k)
{
	return (uint8_t)(index * 31 + term * 7 + k);
}

/* Fills e with entry index/term and a deterministic payload of
 * 5 + index % 11 bytes (data owned by the caller: free_entries). */
static void make_entry(struct raft_entry *e, uint64_t index, uint64_t term)
{
	e->index = index;
	e->term = term;
	e->type = RAFT_ENTRY_NORMAL;
	e->len = 5 + (uint32_t)(index % 11);
	e->data = malloc(e->len);
	assert_non_null(e->data);
	for (uint32_t k = 0; k < e->len; k++)
		e->data[k] = entry_byte(index, term, k);
}

static void free_entries(struct raft_entry *e, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(e[i].data);
}

/* Appends entries [from, to] with term. */
static void append_range(struct wal *w, uint64_t from, uint64_t to,
			 uint64_t term)
{
	uint32_t n = (uint32_t)(to - from + 1);
	struct raft_entry *e = calloc(n, sizeof(*e));
	assert_non_null(e);
	for (uint32_t i = 0; i < n; i++)
		make_entry(&e[i], from + i, term);
	int rc = wal_append(w, e, n);
	free_entries(e, n);
	free(e);
	assert_int_equal(rc, 0);
}

static void expect_entry(const struct raft_entry *e, uint64_t index,
			 uint64_t term)
{
	assert_int_equal(e->index, index);
	assert_int_equal(e->term, term);
	assert_int_equal(e->type, RAFT_ENTRY_NORMAL);
	assert_int_equal(e->len, 5 + index % 11);
	for (uint32_t k = 0; k < e->len; k++)
		assert_int_equal(e->data[k], entry_byte(index, term, k));
}

/* Checks rec holds exactly entries [from, to] with term. */
static void expect_range(const struct wal_recovered *rec, uint64_t from,
			 uint64_t to, uint64_t term)
{
	assert_int_equal(rec->n_entries, to + 1 - from);
	for (uint64_t i = from; i <= to; i++)
		expect_entry(&rec->entries[i - from], i, term);
}

static struct wal *open_ok(struct test_ctx *t, const struct wal_options *o,
			   struct wal_recovered *rec)
{
	struct wal *w = NULL;
	char err[1024] = "";

	if (wal_open(t->dir, o, &w, rec, err, sizeof(err)) != 0)
		fail_msg("wal_open failed: %s", err);
	return w;
}

/* Opens the WAL and drops what it recovered (the test knows it). */
static struct wal *open_fresh(struct test_ctx *t, const struct wal_options *o)
{
	struct wal_recovered rec;
	struct wal *w = open_ok(t, o, &rec);

	wal_recovered_free(&rec);
	return w;
}

/* Reopens the WAL, checks that it holds exactly entries [from, to] with
 * term, and closes it. */
static void expect_reopen(struct test_ctx *t, const struct wal_options *o,
			  uint64_t from, uint64_t to, uint64_t term)
{
	struct wal_recovered rec;
	struct wal *w = open_ok(t, o, &rec);

	expect_range(&rec, from, to, term);
	wal_recovered_free(&rec);
	wal_close(w);
}

/* Opens, expecting failure; returns the message in err. */
static void open_fails(struct test_ctx *t, char *err, size_t errlen)
{
	struct wal *w = NULL;
	struct wal_recovered rec;

	err[0] = '\0';
	assert_int_equal(wal_open(t->dir, NULL, &w, &rec, err, errlen), -1);
	assert_null(w);
	assert_null(rec.entries);
	assert_true(err[0] != '\0');
}

static long file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (long)st.st_size;
}

static uint8_t *read_all(const char *path, long *len)
{
	*len = file_size(path);
	uint8_t *buf = malloc((size_t)*len + 1);
	assert_non_null(buf);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, (size_t)*len, f), (size_t)*len);
	fclose(f);
	return buf;
}

static void write_all(const char *path, const uint8_t *buf, long len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, (size_t)len, f), (size_t)len);
	assert_int_equal(fclose(f), 0);
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static struct raft_snapshot make_snapshot(uint64_t index, uint64_t term,
					  uint8_t *data, size_t len)
{
	struct raft_snapshot s;
	memset(&s, 0, sizeof(s));
	s.meta.index = index;
	s.meta.term = term;
	raft_test_conf(&s.meta.conf);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 13 + index);
	s.data = data;
	s.len = len;
	return s;
}

/* ---- CRC32C ---- */

static uint32_t crc32c_bitwise(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static void test_crc32c_vectors(void **state)
{
	uint8_t buf[32];
	(void)state;

	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c(0, "", 0), 0);
	/* RFC 3720 (iSCSI) B.4 vectors. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(crc32c(0, buf, 32), 0x8a9136aau);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(crc32c(0, buf, 32), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc32c(0, buf, 32), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(0, buf, 32), 0x113fdb5cu);
	/* Incremental == one shot. */
	assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

static void test_crc32c_matches_bitwise(void **state)
{
	uint8_t buf[1000];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	(void)state;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	for (size_t len = 0; len <= sizeof(buf); len += 37)
		assert_int_equal(crc32c(0, buf, len), crc32c_bitwise(buf, len));
}

/* ---- record codec ---- */

static void test_record_codec(void **state)
{
	struct raft_entry e;
	struct wal_record rec;
	size_t used = 0;
	(void)state;

	make_entry(&e, 42, 7);
	size_t len = wal_entry_record_size(&e);
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	wal_entry_record_encode(&e, buf);
	assert_int_equal(wal_record_decode(buf, len, &rec, &used), WAL_DECODE_OK);
	assert_int_equal(used, len);
	assert_int_equal(rec.type, WAL_RECORD_ENTRY);
	expect_entry(&rec.entry, 42, 7);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(wal_record_decode(buf, cut, &rec, &used),
				 WAL_DECODE_SHORT);
	buf[len - 1] ^= 1;
	assert_int_equal(wal_record_decode(buf, len, &rec, &used),
			 WAL_DECODE_BAD_CRC);
	buf[len - 1] ^= 1;
	buf[0] ^= 0x80;
	assert_int_equal(wal_record_decode(buf, len, &rec, &used),
			 WAL_DECODE_BAD_HEADER);
	memset(buf, 0, len);
	assert_int_equal(wal_record_decode(buf, len, &rec, &used),
			 WAL_DECODE_BAD_HEADER);
	free(buf);
	free(e.data);
}

/* ---- round trips ---- */

static void test_fresh_directory(void **state)
{
	struct test_ctx *t = *state;
	struct wal_recovered rec;
	struct raft_restore restore;

	struct wal *w = open_ok(t, NULL, &rec);
	assert_int_equal(rec.n_entries, 0);
	assert_null(rec.snapshot);
	assert_int_equal(rec.hard_state.term, 0);
	assert_int_equal(rec.hard_state.vote, 0);
	assert_int_equal(rec.notice[0], '\0');
	memset(&restore, 0, sizeof(restore));
	wal_recovered_to_restore(&rec, &restore);
	assert_int_equal(restore.n_entries, 0);
	assert_null(restore.snapshot);
	assert_int_equal(wal_last_index(w), 0);
	assert_true(file_exists(tpath(t, TEST_SEG_NAME)));
	assert_true(file_exists(tpath(t, "hardstate")));
	wal_recovered_free(&rec);
	wal_close(w);

	/* A directory that does not exist yet is created (trailing slash
	 * and all). */
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/node/", t->dir);
	char err[1024];
	assert_int_equal(wal_open(sub, NULL, &w, &rec, err, sizeof(err)), 0);
	assert_true(file_exists(tpath(t, "node/hardstate")));
	wal_recovered_free(&rec);
	wal_close(w);
}

static void test_round_trip(void **state)
{
	struct test_ctx *t = *state;
	struct wal_recovered rec;
	struct raft_hard_state hs = { .term = 3, .vote = 2, .commit = 17 };
	uint8_t data[300];

	struct wal *w = open_fresh(t, NULL);
	append_range(w, 1, 20, 3);
	assert_int_equal(wal_save_hard_state(w, &hs), 0);
	assert_int_equal(wal_durable_index(w), 0);
	assert_int_equal(wal_sync(w), 0);
	assert_int_equal(wal_durable_index(w), 20);
	wal_close(w);

	w = open_ok(t, NULL, &rec);
	expect_range(&rec, 1, 20, 3);
	assert_int_equal(rec.hard_state.term, 3);
	assert_int_equal(rec.hard_state.vote, 2);
	assert_int_equal(rec.hard_state.commit, 17);
	assert_int_equal(wal_last_index(w), 20);
	wal_recovered_free(&rec);

	/* Snapshot at 10, more entries, a new hard state; reopen twice so
	 * that both hard state slots are exercised. */
	struct raft_snapshot snap = make_snapshot(10, 3, data, sizeof(data));
	assert_int_equal(wal_save_snapshot(w, &snap), 0);
	append_range(w, 21, 25, 3);
	hs.commit = 25;
	assert_int_equal(wal_save_hard_state(w, &hs), 0);
	assert_int_equal(wal_sync(w), 0);
	wal_close(w);
	for (int round = 0; round < 2; round++) {
		w = open_ok(t, NULL, &rec);
		assert_non_null(rec.snapshot);
		assert_int_equal(rec.snapshot->meta.index, 10);
		assert_int_equal(rec.snapshot->meta.term, 3);
		assert_int_equal(rec.snapshot->meta.conf.n_voters, 3);
		assert_int_equal(rec.snapshot->meta.conf.voters[2], 3);
		assert_int_equal(rec.snapshot->meta.conf.n_learners, 1);
		assert_int_equal(rec.snapshot->meta.conf.learners[0], 9);
		assert_int_equal(rec.snapshot->len, sizeof(data));
		assert_memory_equal(rec.snapshot->data, data, sizeof(data));
		expect_range(&rec, 11, 25, 3);
		assert_int_equal(rec.hard_state.commit, 25 + round);
		hs.commit = 26 + round;
		assert_int_equal(wal_save_hard_state(w, &hs), 0);
		assert_int_equal(wal_sync(w), 0);
		wal_recovered_free(&rec);
		wal_close(w);
	}
}

static void test_overwrite_suffix(void **state)
{
	struct test_ctx *t = *state;
	struct wal_recovered rec;

	struct wal *w = open_ok(t, NULL, &rec);
	append_range(w, 1, 10, 1);
	assert_int_equal(wal_sync(w), 0);
	append_range(w, 6, 8, 2); /* replaces 6..10 */
	assert_int_equal(wal_last_index(w), 8);
	assert_int_equal(wal_durable_index(w), 5);
	assert_int_equal(wal_sync(w), 0);
	assert_int_equal(wal_durable_index(w), 8);
	wal_close(w);
	wal_recovered_free(&rec);

	w = open_ok(t, NULL, &rec);
	assert_int_equal(rec.n_entries, 8);
	for (uint64_t i = 1; i <= 5; i++)
		expect_entry(&rec.entries[i - 1], i, 1);
	for (uint64_t i = 6; i <= 8; i++)
		expect_entry(&rec.entries[i - 1], i, 2);
	wal_recovered_free(&rec);

	/* A gap is refused without failing the WAL. */
	struct raft_entry e;
	make_entry(&e, 20, 2);
	assert_int_equal(wal_append(w, &e, 1), -1);
	assert_false(wal_failed(w));
	assert_non_null(strstr(wal_error(w), "does not follow"));
	free(e.data);
	wal_close(w);
}

static void test_rollover_and_compaction(void **state)
{
	struct test_ctx *t = *state;
	struct wal_options o = { .segment_bytes = 256 };
	struct wal_recovered rec;
	uint8_t data[16];

	struct wal *w = open_fresh(t, &o);
	for (uint64_t i = 1; i <= 100; i += 4)
		append_range(w, i, i + 3, 1);
	assert_int_equal(wal_sync(w), 0);
	uint32_t before = wal_segment_count(w);
	assert_true(before > 10);
	/* An overwrite reaching back into an older segment, then rollover:
	 * the new segment's name must sort after the current one. */
	append_range(w, 90, 100, 2);
	append_range(w, 101, 110, 2);
	assert_int_equal(wal_sync(w), 0);
	wal_close(w);

	w = open_ok(t, &o, &rec);
	assert_int_equal(rec.n_entries, 110);
	for (uint64_t i = 1; i <= 110; i++)
		expect_entry(&rec.entries[i - 1], i, i < 90 ? 1 : 2);
	wal_recovered_free(&rec);

	assert_int_equal(wal_compact(w, 59), -1); /* no snapshot yet */
	/* 59 falls inside a segment (entries 55..60): that one must stay. */
	struct raft_snapshot snap = make_snapshot(59, 1, data, sizeof(data));
	assert_int_equal(wal_save_snapshot(w, &snap), 0);
	uint32_t n_before = wal_segment_count(w);
	assert_int_equal(wal_compact(w, 59), 0);
	assert_true(wal_segment_count(w) < n_before);
	assert_true(wal_segment_count(w) >= 2);
	assert_false(file_exists(tpath(t, TEST_SEG_NAME)));
	assert_false(file_exists(tpath(t, "wal-0000000000000031.log")));
	assert_true(file_exists(tpath(t, "wal-0000000000000037.log")));
	assert_int_equal(wal_sync(w), 0);
	wal_close(w);

	w = open_ok(t, &o, &rec);
	assert_int_equal(rec.snapshot->meta.index, 59);
	assert_int_equal(rec.n_entries, 51);
	for (uint64_t i = 60; i <= 110; i++)
		expect_entry(&rec.entries[i - 60], i, i < 90 ? 1 : 2);
	wal_recovered_free(&rec);
	wal_close(w);
}

/* Follower case: a snapshot from the leader whose term does not match
 * the local log replaces the whole log (raft's rule, replayed). */
static void test_snapshot_replaces_log(void **state)
{
	struct test_ctx *t = *state;
	struct wal_recovered rec;
	uint8_t data[8];

	struct wal *w = open_fresh(t, NULL);
	append_range(w, 1, 10, 1);
	struct raft_snapshot snap = make_snapshot(5, 4, data, sizeof(data));
	assert_int_equal(wal_save_snapshot(w, &snap), 0);
	assert_int_equal(wal_sync(w), 0);
	wal_close(w);

	w = open_ok(t, NULL, &rec);
	assert_int_equal(rec.snapshot->meta.index, 5);
	assert_int_equal(rec.n_entries, 0); /* 6..10 (term 1) were stale */
	wal_recovered_free(&rec);
	append_range(w, 6, 7, 4);
	/* A snapshot beyond the log: later entries continue after it. */
	snap = make_snapshot(30, 5, data, sizeof(data));
	assert_int_equal(wal_save_snapshot(w, &snap), 0);
	assert_false(file_exists(tpath(t, "snap-0000000000000005.snap")));
	append_range(w, 31, 33, 5);
	assert_int_equal(wal_sync(w), 0);
	wal_close(w);

	w = open_ok(t, NULL, &rec);
	assert_int_equal(rec.snapshot->meta.index, 30);
	expect_range(&rec, 31, 33, 5);
	wal_recovered_free(&rec);
	wal_close(w);
}

/* ---- crash recovery ---- */

/* Writes entries 1..n (synced) and returns the segment's size and the
 * offset where the last record starts. */
static void write_log(struct test_ctx *t, uint64_t n, long *size,
		      long *last_start)
{

	struct wal *w = open_fresh(t, NULL);
	append_range(w, 1, n - 1, 1);
	assert_int_equal(wal_sync(w), 0);
	*last_start = file_size(tpath(t, TEST_SEG_NAME));
	append_range(w, n, n, 1);
	assert_int_equal(wal_sync(w), 0);
	wal_close(w);
	*size = file_size(tpath(t, TEST_SEG_NAME));
}

static void test_truncated_last_record(void **state)
{
	struct test_ctx *t = *state;
	struct wal_recovered rec;
	long size, start, len;

	write_log(t, 12, &size, &start);
	uint8_t *orig = read_all(tpath(t, TEST_SEG_NAME), &len);
	for (long cut = start; cut < size; cut++) {
		write_all(tpath(t, TEST_SEG_NAME), orig, cut);
		struct wal *w = open_ok(t, NULL, &rec);
		expect_range(&rec, 1, 11, 1);
		assert_int_equal(file_size(tpath(t, TEST_SEG_NAME)), start);
		/* A cut exactly between records is not a torn write. */
		assert_int_equal(rec.notice[0] != '\0', cut > start);
		/* The repaired log takes appends again. */
		append_range(w, 12, 12, 2);
		assert_int_equal(wal_sync(w), 0);
		wal_recovered_free(&rec);
		wal_close(w);
		w = open_ok(t, NULL, &rec);
		assert_int_equal(rec.n_entries, 12);
		for (uint64_t i = 1; i <= 11; i++)
			expect_entry(&rec.entries[i - 1], i, 1);
		expect_entry(&rec.entries[11], 12, 2);
		assert_int_equal(rec.notice[0], '\0');
		wal_recovered_free(&rec);
		wal_close(w);
	}
	free(orig);
}

static void test_torn_tail_variants(void **state)
{
	struct test_ctx *t = *state;
	struct wal_recovered rec;
	long size, start, len;
	uint8_t zeros[4096] = { 0 };

	write_log(t, 8, &size, &start);
	uint8_t *orig = read_all(tpath(t, TEST_SEG_NAME), &len);
	uint8_t *buf = malloc((size_t)size + sizeof(zeros));
	assert_non_null(buf);

	/* Zero fill after the last record (size grew, data never written). */
	memcpy(buf, orig, (size_t)size);
	memcpy(buf + size, zeros, sizeof(zeros));
	write_all(tpath(t, TEST_SEG_NAME), buf, size + (long)sizeof(zeros));
	struct wal *w = open_ok(t, NULL, &rec);
	expect_range(&rec, 1, 8, 1);
	assert_non_null(strstr(rec.notice, "torn"));
	assert_int_equal(file_size(tpath(t, TEST_SEG_NAME)), size);
	wal_recovered_free(&rec);
	wal_close(w);

	/* Checksum mismatch in the very last record: dropped. */
	memcpy(buf, orig, (size_t)size);
	buf[size - 1] ^= 0x40;
	write_all(tpath(t, TEST_SEG_NAME), buf, size);
	expect_reopen(t, NULL, 1, 7, 1);

	/* Last record zeroed out (sector never written), zero fill after. */
	memcpy(buf, orig, (size_t)start);
	memset(buf + start, 0, (size_t)(size - start) + 100);
	write_all(tpath(t, TEST_SEG_NAME), buf, size + 100);
	expect_reopen(t, NULL, 1, 7, 1);
	free(buf);
	free(orig);
}

static void test_corrupt_middle_record(void **state)
{
	struct test_ctx *t = *state;
	char err[1024], want[128];
	long size, start, len;

	write_log(t, 6, &size, &start);
	uint8_t *orig = read_all(tpath(t, TEST_SEG_NAME), &len);
	/* Record 3 of 6 (records have equal framing; sizes from the data). */
	long off3 = 0;
	for (uint64_t i = 1; i < 3; i++)
		off3 += WAL_RECORD_HEADER_BYTES + 18 + 5 + (long)(i % 11);
	long len3 = WAL_RECORD_HEADER_BYTES + 18 + 5 + 3;
	snprintf(want, sizeof(want), "%s at offset %ld", TEST_SEG_NAME, off3);
	for (long k = 0; k < len3; k++) {
		orig[off3 + k] ^= 0x5a;
		write_all(tpath(t, TEST_SEG_NAME), orig, len);
		orig[off3 + k] ^= 0x5a;
		open_fails(t, err, sizeof(err));
		if (strstr(err, want) == NULL)
			fail_msg("byte %ld: message \"%s\" lacks \"%s\"", k, err,
				 want);
		/* Nothing was truncated or repaired. */
		assert_int_equal(file_size(tpath(t, TEST_SEG_NAME)), len);
	}
	write_all(tpath(t, TEST_SEG_NAME), orig, len);
	expect_reopen(t, NULL, 1, 6, 1);
	free(orig);
}

/* Damage at the end of a segment that is not the last is corruption. */
static void test_corrupt_older_segment(void **state)
{
	struct test_ctx *t = *state;
	struct wal_options o = { .segment_bytes = 200 };
	char err[1024];
	long len;

	struct wal *w = open_fresh(t, &o);
	for (uint64_t i = 1; i <= 20; i++)
		append_range(w, i, i, 1);
	assert_int_equal(wal_sync(w), 0);
	assert_true(wal_segment_count(w) > 2);
	wal_close(w);
	uint8_t *orig = read_all(tpath(t, TEST_SEG_NAME), &len);
	write_all(tpath(t, TEST_SEG_NAME), orig, len - 3);
	open_fails(t, err, sizeof(err));
	assert_non_null(strstr(err, TEST_SEG_NAME));
	assert_non_null(strstr(err, "not the last"));
	write_all(tpath(t, TEST_SEG_NAME), orig, len);
	free(orig);
	expect_reopen(t, &o, 1, 20, 1);
}

static void test_snapshot_tmp_ignored(void **state)
{
	struct test_ctx *t = *state;
	struct wal_recovered rec;
	uint8_t data[64];
	const char *junk = "half a snapshot";

	struct wal *w = open_fresh(t, NULL);
	append_range(w, 1, 9, 1);
	struct raft_snapshot snap = make_snapshot(4, 1, data, sizeof(data));
	assert_int_equal(wal_save_snapshot(w, &snap), 0);
	assert_int_equal(wal_sync(w), 0);
	wal_close(w);
	/* A crash while writing a newer snapshot leaves its temp file. */
	write_all(tpath(t, "snap-0000000000000009.snap.tmp"),
		  (const uint8_t *)junk, (long)strlen(junk));
	write_all(tpath(t, "hardstate.tmp"), (const uint8_t *)junk, 3);

	w = open_ok(t, NULL, &rec);
	assert_int_equal(rec.snapshot->meta.index, 4);
	assert_memory_equal(rec.snapshot->data, data, sizeof(data));
	expect_range(&rec, 5, 9, 1);
	assert_false(file_exists(tpath(t, "snap-0000000000000009.snap.tmp")));
	assert_false(file_exists(tpath(t, "hardstate.tmp")));
	wal_recovered_free(&rec);
	wal_close(w);

	/* A damaged snapshot file is an error naming it. */
	long len;
	uint8_t *buf = read_all(tpath(t, "snap-0000000000000004.snap"), &len);
	buf[30] ^= 1;
	write_all(tpath(t, "snap-0000000000000004.snap"), buf, len);
	free(buf);
	char err[1024];
	open_fails(t, err, sizeof(err));
	assert_non_null(strstr(err, "snap-0000000000000004.snap"));
}

static void test_hard_state_slots(void **state)
{
	struct test_ctx *t = *state;
	struct wal_recovered rec;
	struct raft_hard_state hs = { .term = 5, .vote = 1, .commit = 0 };
	char err[1024];
	long len;

	struct wal *w = open_fresh(t, NULL);
	assert_int_equal(wal_save_hard_state(w, &hs), 0);
	assert_int_equal(wal_sync(w), 0); /* sequence 2: slot 0 */
	hs.term = 6;
	assert_int_equal(wal_save_hard_state(w, &hs), 0);
	assert_int_equal(wal_sync(w), 0); /* sequence 3: slot 1 */
	wal_close(w);

	/* A torn write of the newer slot: the older state survives. */
	uint8_t *buf = read_all(tpath(t, "hardstate"), &len);
	assert_int_equal(len, 1024);
	buf[512 + 14] ^= 0xff;
	write_all(tpath(t, "hardstate"), buf, len);
	w = open_ok(t, NULL, &rec);
	assert_int_equal(rec.hard_state.term, 5);
	wal_recovered_free(&rec);
	wal_close(w);

	/* Both slots damaged: a loud error. */
	buf[14] ^= 0xff;
	write_all(tpath(t, "hardstate"), buf, len);
	free(buf);
	open_fails(t, err, sizeof(err));
	assert_non_null(strstr(err, "hardstate"));
}

static struct wal *open_counting(struct test_ctx *t, struct fault_io *f,
				  struct wal_io *io, struct wal_options *o)
{

	fault_io_init(f, io);
	o->io = io;
	struct wal *w = open_fresh(t, o);
	return w;
}

/* A commit-only change is written without an fsync, and never into the
 * slot that holds the newest synced term and vote. */
static void test_hard_state_commit_unsynced(void **state)
{
	struct test_ctx *t = *state;
	struct fault_io f;
	struct wal_io io;
	struct wal_options o = { 0 };
	struct wal_recovered rec;
	struct raft_hard_state hs = { .term = 5, .vote = 1, .commit = 0 };
	long len;

	struct wal *w = open_counting(t, &f, &io, &o);
	assert_int_equal(wal_save_hard_state(w, &hs), 0);
	int before = f.n_fsyncs;
	assert_int_equal(wal_sync(w), 0); /* term: synced, sequence 2 */
	assert_int_equal(f.n_fsyncs, before + 1);
	for (uint64_t c = 1; c <= 3; c++) {
		append_range(w, c, c, 5);
		hs.commit = c;
		assert_int_equal(wal_save_hard_state(w, &hs), 0);
		before = f.n_fsyncs;
		assert_int_equal(wal_sync(w), 0);
		assert_int_equal(f.n_fsyncs, before + 1); /* the segment only */
	}
	wal_close(w);
	/* The unsynced slot is the one after the synced one (slot 1). */
	w = open_ok(t, NULL, &rec);
	assert_int_equal(rec.hard_state.commit, 3);
	wal_recovered_free(&rec);
	wal_close(w);
	uint8_t *buf = read_all(tpath(t, "hardstate"), &len);
	buf[512 + 30] ^= 0xff; /* lose the unsynced commit */
	write_all(tpath(t, "hardstate"), buf, len);
	free(buf);
	w = open_counting(t, &f, &io, &o);
	/* Synced state intact: term 5, vote 1, commit 0. */
	before = f.n_fsyncs;
	hs.term = 6;
	assert_int_equal(wal_save_hard_state(w, &hs), 0);
	assert_int_equal(wal_sync(w), 0);
	assert_int_equal(f.n_fsyncs, before + 1);
	wal_close(w);
	w = open_ok(t, NULL, &rec);
	assert_int_equal(rec.hard_state.term, 6);
	assert_int_equal(rec.hard_state.commit, 3);
	expect_range(&rec, 1, 3, 5);
	wal_recovered_free(&rec);
	wal_close(w);
}

static void test_hard_state_lost_commit(void **state)
{
	struct test_ctx *t = *state;
	struct wal_recovered rec;
	struct raft_hard_state hs = { .term = 5, .vote = 1, .commit = 0 };
	long len;

	struct wal *w = open_fresh(t, NULL);
	assert_int_equal(wal_save_hard_state(w, &hs), 0);
	assert_int_equal(wal_sync(w), 0); /* sequence 2, slot 0 */
	uint8_t *synced = read_all(tpath(t, "hardstate"), &len);
	for (uint64_t c = 9; c <= 12; c++) {
		hs.commit = c;
		assert_int_equal(wal_save_hard_state(w, &hs), 0);
		assert_int_equal(wal_sync(w), 0);
	}
	wal_close(w);
	/* The synced slot was never touched by the unsynced writes. */
	uint8_t *buf = read_all(tpath(t, "hardstate"), &len);
	assert_memory_equal(buf, synced, 512);
	free(synced);
	/* A crash loses the unsynced slot: the synced state comes back. */
	memset(buf + 512, 0, 512);
	write_all(tpath(t, "hardstate"), buf, len);
	free(buf);
	w = open_ok(t, NULL, &rec);
	assert_int_equal(rec.hard_state.term, 5);
	assert_int_equal(rec.hard_state.vote, 1);
	assert_int_equal(rec.hard_state.commit, 0);
	wal_recovered_free(&rec);
	wal_close(w);
}

/* ---- I/O faults ---- */

static void expect_refusing(struct wal *w, const char *what)
{
	assert_true(wal_failed(w));
	if (strstr(wal_error(w), what) == NULL ||
	    strstr(wal_error(w), "refusing writes") == NULL)
		fail_msg("unexpected message: %s", wal_error(w));
	/* Every later mutation is refused with the same message. */
	struct raft_hard_state hs = { .term = 9, .vote = 0, .commit = 0 };
	struct raft_entry e;
	make_entry(&e, wal_last_index(w) + 1, 9);
	assert_int_equal(wal_append(w, &e, 1), -1);
	free(e.data);
	assert_int_equal(wal_save_hard_state(w, &hs), -1);
	assert_int_equal(wal_sync(w), -1);
	assert_non_null(strstr(wal_error(w), what));
}

/* open_counting, then entries 1..5 made durable. */
static struct wal *open_faulty(struct test_ctx *t, struct fault_io *f,
			       struct wal_io *io, struct wal_options *o)
{
	struct wal *w = open_counting(t, f, io, o);

	append_range(w, 1, 5, 1);
	assert_int_equal(wal_sync(w), 0);
	assert_int_equal(wal_durable_index(w), 5);
	return w;
}

/* After the failure, a plain reopen finds exactly entries 1..5. */
static void expect_reopen_durable(struct test_ctx *t)
{
	struct wal_recovered rec;
	struct wal *w = open_ok(t, NULL, &rec);
	expect_range(&rec, 1, 5, 1);
	assert_int_equal(rec.hard_state.term, 0);
	wal_recovered_free(&rec);
	wal_close(w);
}

static void test_fault_enospc(void **state)
{
	struct test_ctx *t = *state;
	struct fault_io f;
	struct wal_io io;
	struct wal_options o = { 0 };
	struct raft_entry e;

	struct wal *w = open_faulty(t, &f, &io, &o);
	f.writes_ok = 0;
	f.write_errno = ENOSPC;
	make_entry(&e, 6, 1);
	assert_int_equal(wal_append(w, &e, 1), -1);
	free(e.data);
	expect_refusing(w, "write failed");
	assert_non_null(strstr(wal_error(w), "No space left"));
	assert_int_equal(wal_durable_index(w), 5);
	wal_close(w);
	expect_reopen_durable(t);
}

static void test_fault_short_write(void **state)
{
	struct test_ctx *t = *state;
	struct fault_io f;
	struct wal_io io;
	struct wal_options o = { 0 };

	/* Half a record reaches the file, then the disk is full. */
	struct wal *w = open_faulty(t, &f, &io, &o);
	f.writes_ok = 0;
	f.short_bytes = 20;
	f.write_errno = ENOSPC;
	struct raft_entry e[3];
	for (int i = 0; i < 3; i++)
		make_entry(&e[i], 6 + (uint64_t)i, 1);
	assert_int_equal(wal_append(w, e, 3), -1);
	expect_refusing(w, "write failed");
	assert_int_equal(wal_durable_index(w), 5);
	wal_close(w);
	/* Reopen sees the torn record and drops it. */
	struct wal_recovered rec;
	w = open_ok(t, NULL, &rec);
	expect_range(&rec, 1, 5, 1);
	assert_non_null(strstr(rec.notice, "torn"));
	wal_recovered_free(&rec);
	wal_close(w);

	/* A short write that the retry completes is no failure at all. */
	w = open_faulty(t, &f, &io, &o); /* 1..5 again: replaces */
	f.writes_ok = 0;
	f.short_bytes = 7;
	f.short_then_ok = true;
	assert_int_equal(wal_append(w, e, 3), 0);
	assert_int_equal(wal_sync(w), 0);
	assert_false(wal_failed(w));
	assert_int_equal(wal_durable_index(w), 8);
	wal_close(w);
	free_entries(e, 3);
	expect_reopen(t, NULL, 1, 8, 1);
}

static void test_fault_eio_write(void **state)
{
	struct test_ctx *t = *state;
	struct fault_io f;
	struct wal_io io;
	struct wal_options o = { .segment_bytes = 300 };

	/* The fault hits a write after a rollover started a new segment. */
	struct wal *w = open_faulty(t, &f, &io, &o);
	f.writes_ok = 1;
	f.write_errno = EIO;
	struct raft_entry e[20];
	for (int i = 0; i < 20; i++)
		make_entry(&e[i], 6 + (uint64_t)i, 1);
	assert_int_equal(wal_append(w, e, 20), -1);
	free_entries(e, 20);
	expect_refusing(w, "Input/output error");
	assert_int_equal(wal_durable_index(w), 5);
	wal_close(w);
	/* Entries written before the fault may be on disk (they were in
	 * the page cache); 1..5 must be, in order, and nothing else. */
	struct wal_recovered rec;
	w = open_ok(t, NULL, &rec);
	assert_true(rec.n_entries >= 5);
	for (uint32_t i = 0; i < rec.n_entries; i++)
		expect_entry(&rec.entries[i], i + 1, 1);
	wal_recovered_free(&rec);
	wal_close(w);
}

static void test_fault_fsync(void **state)
{
	struct test_ctx *t = *state;
	struct fault_io f;
	struct wal_io io;
	struct wal_options o = { 0 };
	struct raft_hard_state hs = { .term = 2, .vote = 1, .commit = 5 };

	struct wal *w = open_faulty(t, &f, &io, &o);
	append_range(w, 6, 9, 1);
	assert_int_equal(wal_save_hard_state(w, &hs), 0);
	int fsyncs_before = f.n_fsyncs;
	f.fsyncs_ok = 0;
	f.fsync_errno = EIO;
	assert_int_equal(wal_sync(w), -1);
	expect_refusing(w, "wal: fsync failed");
	/* 6..9 were written but never made durable: not reported. */
	assert_int_equal(wal_last_index(w), 9);
	assert_int_equal(wal_durable_index(w), 5);
	/* The segment sync failed first: the hard state was not written. */
	assert_int_equal(f.n_fsyncs, fsyncs_before + 1);
	wal_close(w);

	struct wal_recovered rec;
	w = open_ok(t, NULL, &rec);
	assert_int_equal(rec.hard_state.term, 0);
	wal_recovered_free(&rec);
	wal_close(w);

	/* The hard state's own fsync failing is the same failure. */
	w = open_faulty(t, &f, &io, &o);
	assert_int_equal(wal_save_hard_state(w, &hs), 0);
	append_range(w, 6, 6, 1);
	f.fsyncs_ok = 1; /* the segment's passes, the hard state's fails */
	f.fsync_errno = EIO;
	assert_int_equal(wal_sync(w), -1);
	expect_refusing(w, "hardstate");
	assert_int_equal(wal_durable_index(w), 5);
	wal_close(w);
}

static void test_fault_snapshot(void **state)
{
	struct test_ctx *t = *state;
	struct fault_io f;
	struct wal_io io;
	struct wal_options o = { 0 };
	uint8_t data[100];

	/* The snapshot file's fsync fails: no snapshot, WAL failed. */
	struct wal *w = open_faulty(t, &f, &io, &o);
	struct raft_snapshot snap = make_snapshot(3, 1, data, sizeof(data));
	f.fsyncs_ok = 0;
	f.fsync_errno = EIO;
	assert_int_equal(wal_save_snapshot(w, &snap), -1);
	expect_refusing(w, "snap-0000000000000003.snap.tmp");
	wal_close(w);
	struct wal_recovered rec;
	w = open_ok(t, NULL, &rec);
	assert_null(rec.snapshot);
	expect_range(&rec, 1, 5, 1);
	assert_false(file_exists(tpath(t, "snap-0000000000000003.snap.tmp")));
	wal_recovered_free(&rec);
	wal_close(w);

	/* The snapshot is durable but its log marker write fails (a crash
	 * between the two): recovery applies the snapshot on its own. */
	w = open_faulty(t, &f, &io, &o);
	f.writes_ok = 3; /* the snapshot file's 3 writes pass, the marker not */
	f.write_errno = EIO;
	snap = make_snapshot(3, 1, data, sizeof(data));
	assert_int_equal(wal_save_snapshot(w, &snap), -1);
	assert_true(wal_failed(w));
	wal_close(w);
	w = open_ok(t, NULL, &rec);
	assert_non_null(rec.snapshot);
	assert_int_equal(rec.snapshot->meta.index, 3);
	expect_range(&rec, 4, 5, 1);
	wal_recovered_free(&rec);
	wal_close(w);
}

#define WAL_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, teardown_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_crc32c_matches_bitwise),
		cmocka_unit_test(test_record_codec),
		WAL_TEST(test_fresh_directory),
		WAL_TEST(test_round_trip),
		WAL_TEST(test_overwrite_suffix),
		WAL_TEST(test_rollover_and_compaction),
		WAL_TEST(test_snapshot_replaces_log),
		WAL_TEST(test_truncated_last_record),
		WAL_TEST(test_torn_tail_variants),
		WAL_TEST(test_corrupt_middle_record),
		WAL_TEST(test_corrupt_older_segment),
		WAL_TEST(test_snapshot_tmp_ignored),
		WAL_TEST(test_hard_state_slots),
		WAL_TEST(test_hard_state_commit_unsynced),
		WAL_TEST(test_hard_state_lost_commit),
		WAL_TEST(test_fault_enospc),
		WAL_TEST(test_fault_short_write),
		WAL_TEST(test_fault_eio_write),
		WAL_TEST(test_fault_fsync),
		WAL_TEST(test_fault_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

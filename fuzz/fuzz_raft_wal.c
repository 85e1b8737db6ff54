/*
 * fuzz_raft_wal.c: libFuzzer target for the raft WAL's decoding of bytes
 * read from disk. Each input is fed (1) to wal_record_decode, record after
 * record, and (2) to crash recovery: the bytes become the segment files of
 * a storage directory (one segment, or two when the first byte says so)
 * that wal_open recovers. Recovery must either fail with a message or
 * produce a contiguous log, and recovering the repaired directory again
 * must give the same log (repair is idempotent).
 *
 * State: one mkdtemp directory (on /dev/shm if possible) reused by every
 * run and removed at exit, and an I/O table whose fsyncs do nothing, to
 * keep runs fast.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raft_wal.h"

static char fuzz_dir[64];
static struct wal_io fuzz_io;

static int fuzz_no_sync(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	return 0;
}

static void fuzz_remove_dir(void)
{
	const char *names[] = { "wal-0000000000000001.log",
				"wal-0000000000000002.log", "hardstate" };
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fuzz_dir, names[i]);
		unlink(path);
	}
	rmdir(fuzz_dir);
}

static void fuzz_init(void)
{
	/* tmpfs when there is one: fsyncs are skipped anyway, and runs are
	 * ten times faster than on a journaling file system. */
	snprintf(fuzz_dir, sizeof(fuzz_dir), "/dev/shm/fuzz_raft_wal.XXXXXX");
	if (mkdtemp(fuzz_dir) == NULL) {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/fuzz_raft_wal.XXXXXX");
		if (mkdtemp(fuzz_dir) == NULL) {
			perror("mkdtemp");
			abort();
		}
	}
	atexit(fuzz_remove_dir);
	fuzz_io = *wal_io_posix();
	fuzz_io.fsync = fuzz_no_sync;
	fuzz_io.fdatasync = fuzz_no_sync;
}

static void fuzz_write_file(const char *name, const uint8_t *data, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir, name);
	if (data == NULL) {
		unlink(path);
		return;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (len > 0 && write(fd, data, len) != (ssize_t)len)) {
		perror(path);
		abort();
	}
	close(fd);
}

static void fuzz_decode_all(const uint8_t *data, size_t size)
{
	size_t off = 0;

	for (;;) {
		struct wal_record rec;
		size_t used = 0;
		if (wal_record_decode(data + off, size - off, &rec, &used) !=
		    WAL_DECODE_OK)
			break;
		if (used < WAL_RECORD_HEADER_BYTES || used > size - off)
			abort();
		if (rec.type == WAL_RECORD_ENTRY && rec.entry.len > 0 &&
		    (rec.entry.data < data + off ||
		     rec.entry.data + rec.entry.len > data + off + used))
			abort();
		off += used;
	}
}

static void fuzz_check_log(const struct wal_recovered *rec)
{
	uint64_t base = rec->snapshot ? rec->snapshot->meta.index : 0;

	for (uint32_t i = 0; i < rec->n_entries; i++)
		if (rec->entries[i].index != base + 1 + i)
			abort();
}

static bool fuzz_same_log(const struct wal_recovered *a,
			  const struct wal_recovered *b)
{
	if (a->n_entries != b->n_entries)
		return false;
	for (uint32_t i = 0; i < a->n_entries; i++) {
		const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
		if (x->index != y->index || x->term != y->term ||
		    x->type != y->type || x->len != y->len ||
		    (x->len > 0 && memcmp(x->data, y->data, x->len) != 0))
			return false;
	}
	return true;
}

static void fuzz_recover(void)
{
	struct wal_options opts = { .segment_bytes = 0, .io = &fuzz_io };
	struct wal_recovered rec, again;
	struct wal *w;
	char err[1024];

	if (wal_open(fuzz_dir, &opts, &w, &rec, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort(); /* a failure must say why */
		return;
	}
	fuzz_check_log(&rec);
	wal_close(w);
	if (wal_open(fuzz_dir, &opts, &w, &again, err, sizeof(err)) != 0) {
		fprintf(stderr, "second recovery failed: %s\n", err);
		abort();
	}
	if (!fuzz_same_log(&rec, &again) || again.notice[0] != '\0')
		abort();
	wal_close(w);
	wal_recovered_free(&rec);
	wal_recovered_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_dir[0] == '\0')
		fuzz_init();
	fuzz_decode_all(data, size);

	/* First byte odd: the next byte says where to split the rest into
	 * an older segment and the last one. */
	if (size >= 2 && (data[0] & 1)) {
		size_t split = (size_t)data[1] * 4;
		data += 2;
		size -= 2;
		if (split > size)
			split = size;
		fuzz_write_file("wal-0000000000000001.log", data, split);
		fuzz_write_file("wal-0000000000000002.log", data + split,
				size - split);
	} else {
		fuzz_write_file("wal-0000000000000001.log", data, size);
		fuzz_write_file("wal-0000000000000002.log", NULL, 0);
	}
	fuzz_recover();
	return 0;
}

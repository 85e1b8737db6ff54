/*
 * raft_cluster.c: the helpers the raft benchmarks share (raft_cluster.h).
 * No state.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raft_cluster.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bench_xorshift(void *ctx)
{
	uint64_t *x = ctx;

	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int bench_make_dir(char *dir, size_t len, const char *base, const char *name,
		   uint64_t id, char *err, size_t errlen)
{
	if ((size_t)snprintf(dir, len, "%s/%s-%" PRIu64 ".XXXXXX", base, name,
			     id) >= len) {
		snprintf(err, errlen, "directory name too long under %s", base);
		return -1;
	}
	if (mkdtemp(dir) == NULL) {
		snprintf(err, errlen, "mkdtemp %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int bench_remove_dir(const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];
	int rc = 0;

	if (d == NULL) {
		snprintf(err, errlen, "opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) != 0 && rc == 0) {
			snprintf(err, errlen, "unlink %s: %s", path,
				 strerror(errno));
			rc = -1;
		}
	}
	closedir(d);
	if (rmdir(dir) != 0 && rc == 0) {
		snprintf(err, errlen, "rmdir %s: %s", dir, strerror(errno));
		rc = -1;
	}
	return rc;
}

int bench_raft_open(const char *dir, const struct raft_config *cfg,
		    uint32_t n_voters, struct raft **raft, struct wal **wal,
		    char *err, size_t errlen)
{
	struct wal_recovered rec;
	struct raft_restore restore;

	if (n_voters > RAFT_MAX_NODES) {
		snprintf(err, errlen, "%u voters: at most %d", n_voters,
			 RAFT_MAX_NODES);
		return -1;
	}
	if (wal_open(dir, NULL, wal, &rec, err, errlen) != 0)
		return -1;
	memset(&restore, 0, sizeof(restore));
	wal_recovered_to_restore(&rec, &restore);
	restore.bootstrap.n_voters = n_voters;
	for (uint32_t i = 0; i < n_voters; i++)
		restore.bootstrap.voters[i] = (uint64_t)i + 1;
	*raft = raft_new(cfg, &restore, err, errlen);
	wal_recovered_free(&rec);
	if (*raft == NULL) {
		wal_close(*wal);
		*wal = NULL;
		return -1;
	}
	return 0;
}

int bench_raft_persist(struct wal *w, const struct raft_ready *rd)
{
	if (rd->snapshot != NULL && wal_save_snapshot(w, rd->snapshot) != 0)
		return -1;
	if (rd->n_entries > 0 && wal_append(w, rd->entries, rd->n_entries) != 0)
		return -1;
	if (rd->hard_state_changed &&
	    wal_save_hard_state(w, &rd->hard_state) != 0)
		return -1;
	if (rd->snapshot == NULL && rd->n_entries == 0 && !rd->hard_state_changed)
		return 0;
	return wal_sync(w) != 0 ? -1 : 1;
}

uint8_t *bench_raft_encode(const struct raft_msg *m, size_t *len)
{
	uint8_t *buf;

	*len = raft_msg_encoded_size(m);
	buf = malloc(*len);
	if (buf != NULL)
		raft_msg_encode(m, buf);
	return buf;
}

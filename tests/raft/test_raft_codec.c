/*
 * test_raft_codec.c: unit tests of the raft wire codec (core/raft/raft_codec.c).
 *
 * Round trips every message type (with entries and snapshot chunks), then
 * feeds the decoder what the network could: every truncation of a valid
 * encoding, corrupted length fields, unknown versions and types, absurd
 * counts, bad entry types, bools that are not 0/1, trailing garbage. Every
 * encoding lives in a buffer owned by the test case; the tests hold no
 * global state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft.h"
#include "raft_test_conf.h"

/* Offsets of the fixed header, as documented in raft_codec.c. */
#define OFF_VERSION 0
#define OFF_TYPE 1
#define OFF_FROM 2
#define OFF_TO 10
#define OFF_REJECT 50
#define OFF_TRANSFER 67
#define HEADER_BYTES 68
/* APPEND: n_entries, then the first entry's term/index/type/len. */
#define OFF_N_ENTRIES 68
#define OFF_ENTRY0_INDEX (72 + 8)
#define OFF_ENTRY0_TYPE (72 + 16)
#define OFF_ENTRY0_LEN (72 + 17)
/* SNAPSHOT: meta index, meta term, n_voters. */
#define OFF_N_VOTERS (68 + 16)

static uint8_t payload_a[] = { 'p', 'u', 't', ' ', 'x' };
static uint8_t payload_conf[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static uint8_t chunk_bytes[] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02 };

/* An encoding owned by one test case. */
struct encoding {
	uint8_t *buf;
	size_t len;
};

static struct encoding encode(const struct raft_msg *m)
{
	struct encoding enc;

	enc.len = raft_msg_encoded_size(m);
	/* One canary byte past the end proves encode writes exactly len. */
	enc.buf = malloc(enc.len + 1);
	assert_non_null(enc.buf);
	enc.buf[enc.len] = 0xa5;
	raft_msg_encode(m, enc.buf);
	assert_int_equal(enc.buf[enc.len], 0xa5);
	return enc;
}

/* Writes v as a little-endian field of 4 or 8 bytes at p, spelled out
 * here rather than borrowed from the codec under test. */
static void put_le_at(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static struct raft_msg header_msg(uint8_t type)
{
	struct raft_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.from = 0x0102030405060708ull;
	m.to = 7;
	m.term = 42;
	m.index = 1000;
	m.log_term = 41;
	m.commit = 999;
	m.reject = true;
	m.reject_hint = 998;
	m.context = 0xfeedfacecafebeefull;
	m.transfer = true;
	return m;
}

static struct raft_msg append_msg(struct raft_entry *entries)
{
	struct raft_msg m = header_msg(RAFT_MSG_APPEND);

	entries[0] = (struct raft_entry){ .term = 40, .index = 1001,
					  .type = RAFT_ENTRY_NORMAL,
					  .len = sizeof(payload_a),
					  .data = payload_a };
	entries[1] = (struct raft_entry){ .term = 42, .index = 1002,
					  .type = RAFT_ENTRY_NOOP };
	entries[2] = (struct raft_entry){ .term = 42, .index = 1003,
					  .type = RAFT_ENTRY_CONF,
					  .len = sizeof(payload_conf),
					  .data = payload_conf };
	m.reject = false;
	m.n_entries = 3;
	m.entries = entries;
	return m;
}

static struct raft_msg snapshot_msg(uint64_t offset, bool done)
{
	struct raft_msg m = header_msg(RAFT_MSG_SNAPSHOT);

	m.snap_meta.index = 500;
	m.snap_meta.term = 12;
	raft_test_conf(&m.snap_meta.conf);
	m.snap_offset = offset;
	m.snap_chunk_len = sizeof(chunk_bytes);
	m.snap_chunk = chunk_bytes;
	m.snap_total = done ? offset + sizeof(chunk_bytes) : 4096;
	m.snap_done = done;
	return m;
}

static void assert_header_equal(const struct raft_msg *a,
				const struct raft_msg *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->from, b->from);
	assert_int_equal(a->to, b->to);
	assert_int_equal(a->term, b->term);
	assert_int_equal(a->index, b->index);
	assert_int_equal(a->log_term, b->log_term);
	assert_int_equal(a->commit, b->commit);
	assert_int_equal(a->reject, b->reject);
	assert_int_equal(a->reject_hint, b->reject_hint);
	assert_int_equal(a->context, b->context);
	assert_int_equal(a->transfer, b->transfer);
}

static void assert_rejected(const uint8_t *buf, size_t len)
{
	struct raft_msg m;

	assert_int_equal(raft_msg_decode(buf, len, &m), RAFT_EINVAL);
	/* A failed decode leaves nothing to free and is safe to free. */
	assert_null(m.entries);
	assert_int_equal(m.n_entries, 0);
	raft_msg_decoded_free(&m);
}

/* Decodes enc, re-encodes the result and checks the bytes are identical. */
static void assert_canonical(const struct encoding *enc, struct raft_msg *out)
{
	struct encoding again;

	assert_int_equal(raft_msg_decode(enc->buf, enc->len, out), RAFT_OK);
	again = encode(out);
	assert_int_equal(again.len, enc->len);
	assert_memory_equal(again.buf, enc->buf, enc->len);
	free(again.buf);
}

/* ---- round trips ------------------------------------------------------- */

static void test_round_trip_every_plain_type(void **state)
{
	(void)state;
	for (uint8_t type = 1; type <= RAFT_MSG_TYPE_MAX; type++) {
		struct raft_msg m = header_msg(type), out;
		struct encoding enc;

		if (type == RAFT_MSG_APPEND || type == RAFT_MSG_SNAPSHOT)
			continue;
		enc = encode(&m);
		assert_int_equal(enc.len, HEADER_BYTES);
		assert_canonical(&enc, &out);
		assert_header_equal(&m, &out);
		assert_null(out.entries);
		assert_null(out.snap_chunk);
		raft_msg_decoded_free(&out);
		free(enc.buf);
	}
}

static void test_round_trip_append_with_entries(void **state)
{
	struct raft_entry entries[3];
	struct raft_msg m = append_msg(entries), out;
	struct encoding enc = encode(&m);

	(void)state;
	assert_canonical(&enc, &out);
	assert_header_equal(&m, &out);
	assert_int_equal(out.n_entries, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(out.entries[i].term, entries[i].term);
		assert_int_equal(out.entries[i].index, entries[i].index);
		assert_int_equal(out.entries[i].type, entries[i].type);
		assert_int_equal(out.entries[i].len, entries[i].len);
		if (entries[i].len > 0) {
			assert_memory_equal(out.entries[i].data,
					    entries[i].data, entries[i].len);
			/* Zero copy: the data points into the buffer. */
			assert_true(out.entries[i].data >= enc.buf &&
				    out.entries[i].data < enc.buf + enc.len);
		} else {
			assert_null(out.entries[i].data);
		}
	}
	raft_msg_decoded_free(&out);
	assert_null(out.entries);
	raft_msg_decoded_free(&out); /* twice is harmless */
	free(enc.buf);
}

static void test_round_trip_append_probe_without_entries(void **state)
{
	struct raft_msg m = header_msg(RAFT_MSG_APPEND), out;
	struct encoding enc = encode(&m);

	(void)state;
	assert_int_equal(enc.len, HEADER_BYTES + 4);
	assert_canonical(&enc, &out);
	assert_header_equal(&m, &out);
	assert_int_equal(out.n_entries, 0);
	assert_null(out.entries);
	raft_msg_decoded_free(&out);
	free(enc.buf);
}

static void check_snapshot_round_trip(const struct raft_msg *m)
{
	struct encoding enc = encode(m);
	struct raft_msg out;

	assert_canonical(&enc, &out);
	assert_header_equal(m, &out);
	assert_int_equal(out.snap_meta.index, m->snap_meta.index);
	assert_int_equal(out.snap_meta.term, m->snap_meta.term);
	assert_memory_equal(&out.snap_meta.conf, &m->snap_meta.conf,
			    sizeof(out.snap_meta.conf));
	assert_int_equal(out.snap_offset, m->snap_offset);
	assert_int_equal(out.snap_total, m->snap_total);
	assert_int_equal(out.snap_done, m->snap_done);
	assert_int_equal(out.snap_chunk_len, m->snap_chunk_len);
	assert_memory_equal(out.snap_chunk, m->snap_chunk, m->snap_chunk_len);
	assert_true(out.snap_chunk >= enc.buf &&
		    out.snap_chunk < enc.buf + enc.len);
	raft_msg_decoded_free(&out);
	free(enc.buf);
}

static void test_round_trip_snapshot_chunks(void **state)
{
	struct raft_msg first = snapshot_msg(0, false);
	struct raft_msg middle = snapshot_msg(2048, false);
	struct raft_msg last = snapshot_msg(4089, true);
	struct raft_msg empty = snapshot_msg(0, true);

	(void)state;
	check_snapshot_round_trip(&first);
	check_snapshot_round_trip(&middle);
	check_snapshot_round_trip(&last);
	/* An empty snapshot: one chunk of zero bytes that is the last. */
	empty.snap_chunk_len = 0;
	empty.snap_chunk = NULL;
	empty.snap_total = 0;
	empty.snap_meta.conf.n_learners = 0;
	{
		struct encoding enc = encode(&empty);
		struct raft_msg out;

		assert_canonical(&enc, &out);
		assert_null(out.snap_chunk);
		assert_int_equal(out.snap_chunk_len, 0);
		assert_true(out.snap_done);
		free(enc.buf);
	}
}

static void test_fields_of_other_types_are_not_carried(void **state)
{
	struct raft_entry entries[3];
	struct raft_msg m = append_msg(entries), out;
	struct encoding enc;

	(void)state;
	/* Entries on a VOTE and snapshot fields on an APPEND are not part of
	 * those messages: they are dropped, not misread. */
	m.type = RAFT_MSG_VOTE;
	m.snap_chunk_len = 3;
	m.snap_chunk = chunk_bytes;
	enc = encode(&m);
	assert_int_equal(enc.len, HEADER_BYTES);
	assert_int_equal(raft_msg_decode(enc.buf, enc.len, &out), RAFT_OK);
	assert_int_equal(out.n_entries, 0);
	assert_int_equal(out.snap_chunk_len, 0);
	free(enc.buf);
}

/* ---- hostile input ----------------------------------------------------- */

static void assert_every_truncation_rejected(const struct raft_msg *m)
{
	struct encoding enc = encode(m);

	for (size_t len = 0; len < enc.len; len++) {
		/* A copy of exactly len bytes, so ASan sees any overread. */
		uint8_t *copy = malloc(len > 0 ? len : 1);

		assert_non_null(copy);
		memcpy(copy, enc.buf, len);
		assert_rejected(copy, len);
		free(copy);
	}
	free(enc.buf);
}

static void test_every_truncation_is_rejected(void **state)
{
	struct raft_entry entries[3];
	struct raft_msg append = append_msg(entries);
	struct raft_msg snap = snapshot_msg(4089, true);
	struct raft_msg vote = header_msg(RAFT_MSG_VOTE);
	struct raft_msg probe = header_msg(RAFT_MSG_APPEND);

	(void)state;
	assert_every_truncation_rejected(&append);
	assert_every_truncation_rejected(&snap);
	assert_every_truncation_rejected(&vote);
	assert_every_truncation_rejected(&probe);
}

static void test_trailing_garbage_is_rejected(void **state)
{
	struct raft_entry entries[3];
	struct raft_msg msgs[3] = { append_msg(entries), snapshot_msg(0, false),
				    header_msg(RAFT_MSG_HEARTBEAT) };

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct encoding enc = encode(&msgs[i]);
		uint8_t *longer = calloc(1, enc.len + 1);

		assert_non_null(longer);
		memcpy(longer, enc.buf, enc.len);
		assert_rejected(longer, enc.len + 1);
		free(longer);
		free(enc.buf);
	}
	assert_rejected(NULL, 0);
}

/* Rewrites the u32 at off with each corrupt value and expects a reject. */
static void assert_u32_corruptions_rejected(const struct encoding *enc,
					    size_t off, uint32_t good)
{
	const uint32_t bad[] = { good + 1, good - 1, good + 2,
				 0x7fffffffu, 0x80000000u, 0xffffffffu };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *copy = malloc(enc->len);

		assert_non_null(copy);
		memcpy(copy, enc->buf, enc->len);
		put_le_at(copy + off, bad[i], 4);
		assert_rejected(copy, enc->len);
		free(copy);
	}
}

static void test_corrupted_length_fields_are_rejected(void **state)
{
	struct raft_entry entries[3];
	struct raft_msg append = append_msg(entries);
	struct raft_msg snap = snapshot_msg(0, false);
	struct encoding a, s;
	size_t off_entry2_len = 72 + 21 + 5 + 21 + 17;
	size_t off_n_learners = OFF_N_VOTERS + 4 + 3 * 8;
	size_t off_chunk_len = off_n_learners + 4 + 8 + 8 + 8 + 1;

	(void)state;
	/* Without a checksum a corrupted count can re-frame the bytes into
	 * another valid message (with learner 9, n_voters 4 reads as voters
	 * 1,2,3,0x900000001 and no learners). A learner id with high bits set
	 * makes every such re-framing invalid, so each corruption must fail. */
	snap.snap_meta.conf.learners[0] = 0x0102030405060709ull;
	a = encode(&append);
	s = encode(&snap);
	assert_u32_corruptions_rejected(&a, OFF_N_ENTRIES, 3);
	assert_u32_corruptions_rejected(&a, OFF_ENTRY0_LEN, sizeof(payload_a));
	assert_u32_corruptions_rejected(&a, off_entry2_len,
					sizeof(payload_conf));
	assert_u32_corruptions_rejected(&s, OFF_N_VOTERS, 3);
	assert_u32_corruptions_rejected(&s, off_n_learners, 1);
	assert_u32_corruptions_rejected(&s, off_chunk_len,
					sizeof(chunk_bytes));
	free(a.buf);
	free(s.buf);
}

static void test_absurd_entry_count_is_rejected(void **state)
{
	/* A probe whose count claims as many entries as the remaining bytes
	 * could hold plus one: refused before any allocation. */
	struct raft_msg probe = header_msg(RAFT_MSG_APPEND);
	struct encoding enc = encode(&probe);
	uint8_t buf[HEADER_BYTES + 4 + 20];

	(void)state;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, enc.buf, enc.len);
	put_le_at(buf + OFF_N_ENTRIES, 1, 4); /* 1 entry needs 21 bytes, 20 left */
	assert_rejected(buf, sizeof(buf));
	put_le_at(buf + OFF_N_ENTRIES, 0xffffffffu, 4);
	assert_rejected(buf, sizeof(buf));
	free(enc.buf);
}

static void test_unknown_version_and_type_are_rejected(void **state)
{
	struct raft_msg m = header_msg(RAFT_MSG_HEARTBEAT);
	struct encoding enc = encode(&m);
	const uint8_t bad_versions[] = { 0, 2, 0xff };
	const uint8_t bad_types[] = { 0, RAFT_MSG_TYPE_MAX + 1, 0xff };

	(void)state;
	for (size_t i = 0; i < sizeof(bad_versions); i++) {
		enc.buf[OFF_VERSION] = bad_versions[i];
		assert_rejected(enc.buf, enc.len);
	}
	enc.buf[OFF_VERSION] = 1;
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		enc.buf[OFF_TYPE] = bad_types[i];
		assert_rejected(enc.buf, enc.len);
	}
	enc.buf[OFF_TYPE] = RAFT_MSG_HEARTBEAT;
	{
		struct raft_msg out;

		assert_int_equal(raft_msg_decode(enc.buf, enc.len, &out),
				 RAFT_OK);
	}
	free(enc.buf);
}

static void test_bool_fields_must_be_zero_or_one(void **state)
{
	struct raft_msg m = header_msg(RAFT_MSG_VOTE);
	struct raft_msg snap = snapshot_msg(4089, true);
	struct encoding enc = encode(&m), s = encode(&snap);
	size_t off_done = OFF_N_VOTERS + 4 + 3 * 8 + 4 + 8 + 8 + 8;

	(void)state;
	enc.buf[OFF_REJECT] = 2;
	assert_rejected(enc.buf, enc.len);
	enc.buf[OFF_REJECT] = 1;
	enc.buf[OFF_TRANSFER] = 0x80;
	assert_rejected(enc.buf, enc.len);
	assert_int_equal(s.buf[off_done], 1);
	s.buf[off_done] = 3;
	assert_rejected(s.buf, s.len);
	free(enc.buf);
	free(s.buf);
}

static void test_bad_entries_are_rejected(void **state)
{
	struct raft_entry entries[3];
	struct raft_msg m = append_msg(entries);
	struct encoding enc = encode(&m);
	const uint8_t bad_types[] = { 0, 4, 0xff };

	(void)state;
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		enc.buf[OFF_ENTRY0_TYPE] = bad_types[i];
		assert_rejected(enc.buf, enc.len);
	}
	enc.buf[OFF_ENTRY0_TYPE] = RAFT_ENTRY_NORMAL;
	/* Entries must follow the preceding index without gaps. */
	put_le_at(enc.buf + OFF_ENTRY0_INDEX, 1002, 8);
	assert_rejected(enc.buf, enc.len);
	put_le_at(enc.buf + OFF_ENTRY0_INDEX, 1001, 8);
	{
		struct raft_msg out;

		assert_int_equal(raft_msg_decode(enc.buf, enc.len, &out),
				 RAFT_OK);
		raft_msg_decoded_free(&out);
	}
	free(enc.buf);
}

static void test_entry_index_overflow_is_rejected(void **state)
{
	struct raft_entry e = { .term = 1, .index = 0, .type = RAFT_ENTRY_NOOP };
	struct raft_msg m = header_msg(RAFT_MSG_APPEND);
	struct encoding enc;

	(void)state;
	m.index = UINT64_MAX; /* the next index would wrap to 0 */
	m.n_entries = 1;
	m.entries = &e;
	enc = encode(&m);
	assert_rejected(enc.buf, enc.len);
	free(enc.buf);
}

static void test_zero_node_ids_are_rejected(void **state)
{
	struct raft_msg m = header_msg(RAFT_MSG_APPEND_RESP);
	struct encoding enc = encode(&m);

	(void)state;
	put_le_at(enc.buf + OFF_FROM, 0, 8);
	assert_rejected(enc.buf, enc.len);
	put_le_at(enc.buf + OFF_FROM, 1, 8);
	put_le_at(enc.buf + OFF_TO, 0, 8);
	assert_rejected(enc.buf, enc.len);
	free(enc.buf);
}

static void assert_snapshot_rejected(const struct raft_msg *m)
{
	struct encoding enc = encode(m);

	assert_rejected(enc.buf, enc.len);
	free(enc.buf);
}

static void test_bad_snapshot_fields_are_rejected(void **state)
{
	struct raft_msg m;

	(void)state;
	m = snapshot_msg(0, false);
	m.snap_meta.conf.voters[1] = 1; /* duplicate voter */
	assert_snapshot_rejected(&m);
	m = snapshot_msg(0, false);
	m.snap_meta.conf.learners[0] = 2; /* both voter and learner */
	assert_snapshot_rejected(&m);
	m = snapshot_msg(0, false);
	m.snap_meta.conf.voters[2] = 0; /* node id 0 */
	assert_snapshot_rejected(&m);
	m = snapshot_msg(4095, false); /* chunk runs past the total */
	assert_snapshot_rejected(&m);
	m = snapshot_msg(0, false);
	m.snap_offset = UINT64_MAX - 2; /* offset + len wraps around */
	m.snap_total = UINT64_MAX;
	assert_snapshot_rejected(&m);
	m = snapshot_msg(0, false);
	m.snap_done = true; /* "last" chunk that does not reach the end */
	assert_snapshot_rejected(&m);
}

static void test_too_many_conf_nodes_is_rejected(void **state)
{
	struct raft_msg m = snapshot_msg(0, false);
	struct encoding enc;
	uint8_t *big;
	size_t extra = 8 * 14; /* room for 17 voters instead of 3 */

	(void)state;
	enc = encode(&m);
	big = calloc(1, enc.len + extra);
	assert_non_null(big);
	memcpy(big, enc.buf, OFF_N_VOTERS);
	put_le_at(big + OFF_N_VOTERS, RAFT_MAX_NODES + 1, 4);
	for (uint32_t i = 0; i < RAFT_MAX_NODES + 1; i++)
		put_le_at(big + OFF_N_VOTERS + 4 + 8 * i, 100 + i, 8);
	memcpy(big + OFF_N_VOTERS + 4 + 17 * 8, enc.buf + OFF_N_VOTERS + 4 + 24,
	       enc.len - (OFF_N_VOTERS + 4 + 24));
	assert_rejected(big, enc.len + extra);
	free(big);
	free(enc.buf);
}

static void test_decoded_free_is_safe_on_zeroed_message(void **state)
{
	struct raft_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	raft_msg_decoded_free(&m);
	raft_msg_decoded_free(NULL);
	assert_null(m.entries);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_plain_type),
		cmocka_unit_test(test_round_trip_append_with_entries),
		cmocka_unit_test(test_round_trip_append_probe_without_entries),
		cmocka_unit_test(test_round_trip_snapshot_chunks),
		cmocka_unit_test(test_fields_of_other_types_are_not_carried),
		cmocka_unit_test(test_every_truncation_is_rejected),
		cmocka_unit_test(test_trailing_garbage_is_rejected),
		cmocka_unit_test(test_corrupted_length_fields_are_rejected),
		cmocka_unit_test(test_absurd_entry_count_is_rejected),
		cmocka_unit_test(test_unknown_version_and_type_are_rejected),
		cmocka_unit_test(test_bool_fields_must_be_zero_or_one),
		cmocka_unit_test(test_bad_entries_are_rejected),
		cmocka_unit_test(test_entry_index_overflow_is_rejected),
		cmocka_unit_test(test_zero_node_ids_are_rejected),
		cmocka_unit_test(test_bad_snapshot_fields_are_rejected),
		cmocka_unit_test(test_too_many_conf_nodes_is_rejected),
		cmocka_unit_test(test_decoded_free_is_safe_on_zeroed_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

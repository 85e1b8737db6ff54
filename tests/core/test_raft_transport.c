/*
 * test_raft_transport.c: the pure part of the raft transport between
 * managers (core/raft_transport.c): a message survives hex encoding and
 * decoding field for field, garbage is refused, and the transport refuses
 * to start without its certificates. Owns only its fixtures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "raft_transport.h"

static void test_append_round_trip(void **state)
{
	(void)state;
	uint8_t data[3] = { 'a', 'b', 'c' };
	struct raft_entry entry = { .term = 7, .index = 42, .type = RAFT_ENTRY_NORMAL,
				    .len = 3, .data = data };
	struct raft_msg msg = { .type = RAFT_MSG_APPEND, .from = 11, .to = 22, .term = 7,
				.index = 41, .log_term = 6, .commit = 40, .n_entries = 1,
				.entries = &entry };
	char *hex = raft_transport_encode(&msg);
	assert_non_null(hex);
	assert_int_equal(strlen(hex), 2 * raft_msg_encoded_size(&msg));
	uint8_t *buf = NULL;
	struct raft_msg back;
	assert_int_equal(raft_transport_decode(hex, &buf, &back), 0);
	assert_int_equal(back.type, RAFT_MSG_APPEND);
	assert_int_equal(back.from, 11);
	assert_int_equal(back.to, 22);
	assert_int_equal(back.term, 7);
	assert_int_equal(back.index, 41);
	assert_int_equal(back.log_term, 6);
	assert_int_equal(back.commit, 40);
	assert_int_equal(back.n_entries, 1);
	assert_int_equal(back.entries[0].index, 42);
	assert_int_equal(back.entries[0].len, 3);
	assert_memory_equal(back.entries[0].data, "abc", 3);
	raft_msg_decoded_free(&back);
	free(buf);
	free(hex);
}

static void test_garbage_refused(void **state)
{
	(void)state;
	uint8_t *buf = NULL;
	struct raft_msg msg;
	assert_int_equal(raft_transport_decode("", &buf, &msg), -1);
	assert_int_equal(raft_transport_decode("abc", &buf, &msg), -1);   /* odd */
	assert_int_equal(raft_transport_decode("zz00", &buf, &msg), -1);  /* not hex */
	assert_int_equal(raft_transport_decode("ABCD", &buf, &msg), -1);  /* upper case */
	assert_int_equal(raft_transport_decode("0102", &buf, &msg), -1);  /* truncated */
	assert_null(buf);
}

static void test_needs_certificates(void **state)
{
	(void)state;
	char err[256];
	struct raft_transport *t = NULL;
	/* Without certificates the transport refuses to start, naming the file. */
	assert_int_equal(raft_transport_new("/nonexistent-orchd-dir", &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-orchd-dir/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_round_trip),
		cmocka_unit_test(test_garbage_refused),
		cmocka_unit_test(test_needs_certificates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

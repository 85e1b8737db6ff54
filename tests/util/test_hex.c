/*
 * test_hex.c: lower-case hex of core/util/hex.c: bytes round-trip, and
 * text of odd length, with a character outside 0-9a-f (upper case too),
 * or longer than the room given is refused. Owns no state.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hex.h"

static void test_round_trip(void **state)
{
	(void)state;
	const unsigned char bytes[] = { 0x00, 0x0f, 0xa5, 0xff, 0x10 };
	char text[2 * sizeof(bytes) + 1];
	hex_encode(bytes, sizeof(bytes), text);
	assert_string_equal(text, "000fa5ff10");
	unsigned char back[8];
	size_t len = 0;
	assert_int_equal(hex_decode(text, back, sizeof(back), &len), 0);
	assert_int_equal(len, sizeof(bytes));
	assert_memory_equal(back, bytes, sizeof(bytes));
	assert_int_equal(hex_decode("", back, sizeof(back), &len), 0);
	assert_int_equal(len, 0);
}

static void test_malformed_is_refused(void **state)
{
	(void)state;
	unsigned char out[4];
	size_t len = 99;
	const char *bad[] = { "abc", "0G", "AB", "0a b1", "0001020304" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hex_decode(bad[i], out, sizeof(out), &len) != -1)
			fail_msg("\"%s\" was taken", bad[i]);
	assert_int_equal(len, 99);
	assert_int_equal(hex_decode("00010203", out, sizeof(out), &len), 0); /* just fits */
	assert_int_equal(len, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

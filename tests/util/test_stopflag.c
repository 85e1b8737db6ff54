/*
 * test_stopflag.c: the stop flag of a sleeping thread (core/util/
 * stopflag.c): a wait lasts its time while the flag is down, a raise from
 * another thread ends a long wait at once, and a raised flag stays up.
 * Owns the one thread it starts and joins.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "stopflag.h"

#define MS 1000000LL

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void test_wait_lasts_its_time_while_down(void **state)
{
	(void)state;
	struct stop_flag f;
	stop_flag_init(&f);
	int64_t start = mono_ns();
	assert_false(stop_flag_wait(&f, 50 * MS));
	assert_true(mono_ns() - start >= 50 * MS);
	assert_false(stop_flag_raised(&f));
	stop_flag_fini(&f);
}

static void *raise_soon(void *arg)
{
	struct timespec pause = { .tv_nsec = 20 * MS };
	nanosleep(&pause, NULL);
	stop_flag_raise(arg);
	return NULL;
}

static void test_raise_ends_a_long_wait_and_stays(void **state)
{
	(void)state;
	struct stop_flag f;
	pthread_t raiser;
	stop_flag_init(&f);
	int64_t start = mono_ns();
	assert_int_equal(pthread_create(&raiser, NULL, raise_soon, &f), 0);
	/* A minute's wait, ended by the raise well before the bound. */
	assert_true(stop_flag_wait(&f, 60000 * MS));
	assert_true(mono_ns() - start < 10000 * MS);
	pthread_join(raiser, NULL);
	assert_true(stop_flag_raised(&f));
	start = mono_ns();
	assert_true(stop_flag_wait(&f, 60000 * MS)); /* already up: no wait */
	assert_true(mono_ns() - start < 10000 * MS);
	stop_flag_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_lasts_its_time_while_down),
		cmocka_unit_test(test_raise_ends_a_long_wait_and_stays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

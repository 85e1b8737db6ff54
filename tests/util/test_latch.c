/*
 * test_latch.c: the flag threads wait on (core/util/latch.c): a wait
 * lasts its time while the flag is down, a set from another thread ends a
 * long wait (bounded or not) at once, and a set flag stays up; a thread
 * started with thread_start runs its function.
 * Owns the one thread it starts and joins.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "latch.h"

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
	struct latch l;
	latch_init(&l);
	int64_t start = mono_ns();
	assert_false(latch_wait(&l, 50 * MS));
	assert_true(mono_ns() - start >= 50 * MS);
	assert_false(latch_is_set(&l));
	latch_fini(&l);
}

static void *set_soon(void *arg)
{
	struct timespec pause = { .tv_nsec = 20 * MS };
	nanosleep(&pause, NULL);
	latch_set(arg);
	return NULL;
}

static void test_set_ends_a_long_wait_and_stays(void **state)
{
	(void)state;
	struct latch l;
	pthread_t setter;
	latch_init(&l);
	int64_t start = mono_ns();
	assert_int_equal(pthread_create(&setter, NULL, set_soon, &l), 0);
	/* A minute's wait, ended by the set well before the bound. */
	assert_true(latch_wait(&l, 60000 * MS));
	assert_true(mono_ns() - start < 10000 * MS);
	pthread_join(setter, NULL);
	assert_true(latch_is_set(&l));
	start = mono_ns();
	assert_true(latch_wait(&l, 60000 * MS)); /* already up: no wait */
	assert_true(mono_ns() - start < 10000 * MS);
	latch_fini(&l);
}

static void test_wait_set_returns_once_set(void **state)
{
	(void)state;
	struct latch l;
	pthread_t setter;
	latch_init(&l);
	char err[128] = "";
	assert_int_equal(thread_start(&setter, set_soon, &l, "the setter", err, sizeof(err)), 0);
	assert_string_equal(err, "");
	latch_wait_set(&l);
	assert_true(latch_is_set(&l));
	pthread_join(setter, NULL);
	latch_fini(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_lasts_its_time_while_down),
		cmocka_unit_test(test_set_ends_a_long_wait_and_stays),
		cmocka_unit_test(test_wait_set_returns_once_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * pki_test_util.h: helpers shared by the PKI tests: a fresh temporary
 * directory per test (test_common.h; removed by the teardown, which cmocka
 * also runs after a failed test), a fixed-seed random generator, and a
 * fixed clock value.
 * Everything is static inline; the state is the struct pki_test_ctx each
 * test receives.
 */
#ifndef ORCHD_PKI_TEST_UTIL_H
#define ORCHD_PKI_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pki.h"
#include "test_common.h"

/* 2023-11-14T22:13:20Z: every test's "now"; no test reads the clock. */
#define PKI_TEST_T0 1700000000LL
#define PKI_TEST_DAY (24LL * 3600)

struct pki_test_ctx {
	char dir[64];
	char path[512];
	char err[512];
	struct pki_rng *rng;
};

static inline int pki_test_setup(void **state)
{
	struct pki_test_ctx *t = calloc(1, sizeof(*t));
	static const char seed[] = "orchd pki tests";

	if (t == NULL)
		return -1;
	if (test_tmpdir_make(t->dir, sizeof(t->dir), "pki-test") != 0 ||
	    pki_rng_new_deterministic(seed, sizeof(seed) - 1, &t->rng, t->err,
				      sizeof(t->err)) != 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static inline int pki_test_teardown(void **state)
{
	struct pki_test_ctx *t = *state;
	int rc = test_tmpdir_remove(t->dir);

	pki_rng_free(t->rng);
	free(t);
	return rc;
}

static inline const char *pki_test_path(struct pki_test_ctx *t,
					const char *name)
{
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	return t->path;
}

/* Fails the test unless s is len characters of base36 (0-9, a-z): a
 * digest or a join secret. */
static inline void pki_assert_base36(const char *s, size_t len)
{
	assert_int_equal(strlen(s), len);
	for (size_t i = 0; i < len; i++)
		assert_true((s[i] >= '0' && s[i] <= '9') ||
			    (s[i] >= 'a' && s[i] <= 'z'));
}

/* Fails the test, showing err, unless rc == 0. */
#define PKI_OK(t, call)                                                      \
	do {                                                                 \
		(t)->err[0] = '\0';                                          \
		if ((call) != 0)                                             \
			fail_msg("%s failed: %s", #call, (t)->err);          \
	} while (0)

/* Fails the test unless call fails with an error containing want. */
#define PKI_FAILS(t, call, want)                                             \
	do {                                                                 \
		(t)->err[0] = '\0';                                          \
		if ((call) == 0)                                             \
			fail_msg("%s succeeded, expected \"%s\"", #call,     \
				 (want));                                    \
		if (strstr((t)->err, (want)) == NULL)                        \
			fail_msg("%s: error \"%s\" lacks \"%s\"", #call,     \
				 (t)->err, (want));                          \
	} while (0)

#endif

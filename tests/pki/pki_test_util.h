/*
 * pki_test_util.h: helpers shared by the PKI tests: a fresh temporary
 * directory per test (removed by the teardown, which cmocka also runs after
 * a failed test), a fixed-seed random generator, and a fixed clock value.
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

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pki.h"

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
	snprintf(t->dir, sizeof(t->dir), "/tmp/orchd-pki-test-XXXXXX");
	if (mkdtemp(t->dir) == NULL ||
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
	DIR *d = opendir(t->dir);
	struct dirent *e;
	char path[600];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", t->dir, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(t->dir);
	pki_rng_free(t->rng);
	free(t);
	return 0;
}

static inline const char *pki_test_path(struct pki_test_ctx *t,
					const char *name)
{
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	return t->path;
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

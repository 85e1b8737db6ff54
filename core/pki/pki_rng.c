/*
 * pki_rng.c: randomness for the PKI library (key pairs, ECDSA signatures,
 * certificate serials, join secrets), and the library's error helpers.
 * A struct pki_rng owns one mbed TLS CTR_DRBG and its entropy source:
 * either the system's (mbedtls_entropy_func: getrandom / /dev/urandom) or,
 * for tests, a fixed one that expands a seed with SHA-256 in counter mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "pki_internal.h"

static const char pki_rng_personalization[] = "orchd-pki";

int pki_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int pki_fail_mbed(char *err, size_t errlen, int mbed_ret, const char *fmt, ...)
{
	char what[256];
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	mbedtls_strerror(mbed_ret, why, sizeof(why));
	return pki_fail(err, errlen, "%s: %s (-0x%04x)", what, why,
			(unsigned)(mbed_ret < 0 ? -mbed_ret : mbed_ret));
}

int pki_rng_fill(void *rng, unsigned char *buf, size_t len)
{
	struct pki_rng *r = rng;

	return mbedtls_ctr_drbg_random(&r->drbg, buf, len);
}

/* The fixed entropy source: block i is SHA-256(seed || i). */
static int pki_rng_fixed_entropy(void *ctx, unsigned char *out, size_t len)
{
	struct pki_rng *rng = ctx;
	unsigned char block[sizeof(rng->seed) + 8];
	unsigned char hash[32];

	while (len > 0) {
		size_t n = len < sizeof(hash) ? len : sizeof(hash);

		memcpy(block, rng->seed, sizeof(rng->seed));
		for (int i = 0; i < 8; i++)
			block[sizeof(rng->seed) + i] =
				(unsigned char)(rng->counter >> (56 - 8 * i));
		rng->counter++;
		if (mbedtls_sha256_ret(block, sizeof(block), hash, 0) != 0)
			return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
		memcpy(out, hash, n);
		out += n;
		len -= n;
	}
	mbedtls_platform_zeroize(hash, sizeof(hash));
	return 0;
}

static struct pki_rng *pki_rng_alloc(char *err, size_t errlen)
{
	struct pki_rng *rng = calloc(1, sizeof(*rng));

	if (rng == NULL) {
		pki_fail(err, errlen, "pki: out of memory");
		return NULL;
	}
	mbedtls_ctr_drbg_init(&rng->drbg);
	mbedtls_entropy_init(&rng->entropy);
	return rng;
}

static int pki_rng_seed(struct pki_rng *rng,
			int (*f_entropy)(void *, unsigned char *, size_t),
			void *p_entropy, char *err, size_t errlen)
{
	int ret = mbedtls_ctr_drbg_seed(
		&rng->drbg, f_entropy, p_entropy,
		(const unsigned char *)pki_rng_personalization,
		sizeof(pki_rng_personalization) - 1);

	if (ret != 0)
		return pki_fail_mbed(err, errlen, ret,
				     "pki: cannot seed the random generator");
	return 0;
}

int pki_rng_new(struct pki_rng **out, char *err, size_t errlen)
{
	struct pki_rng *rng = pki_rng_alloc(err, errlen);

	*out = NULL;
	if (rng == NULL)
		return -1;
	if (pki_rng_seed(rng, mbedtls_entropy_func, &rng->entropy, err,
			 errlen) != 0) {
		pki_rng_free(rng);
		return -1;
	}
	*out = rng;
	return 0;
}

int pki_rng_new_deterministic(const void *seed, size_t seed_len,
			      struct pki_rng **out, char *err, size_t errlen)
{
	struct pki_rng *rng;
	int ret;

	*out = NULL;
	if (seed == NULL && seed_len > 0)
		return pki_fail(err, errlen, "pki: seed is NULL");
	rng = pki_rng_alloc(err, errlen);
	if (rng == NULL)
		return -1;
	ret = mbedtls_sha256_ret(seed, seed_len, rng->seed, 0);
	if (ret != 0) {
		pki_rng_free(rng);
		return pki_fail_mbed(err, errlen, ret, "pki: cannot hash the seed");
	}
	if (pki_rng_seed(rng, pki_rng_fixed_entropy, rng, err, errlen) != 0) {
		pki_rng_free(rng);
		return -1;
	}
	*out = rng;
	return 0;
}

void pki_rng_free(struct pki_rng *rng)
{
	if (rng == NULL)
		return;
	mbedtls_ctr_drbg_free(&rng->drbg);
	mbedtls_entropy_free(&rng->entropy);
	mbedtls_platform_zeroize(rng, sizeof(*rng));
	free(rng);
}

int pki_rng_bytes(struct pki_rng *rng, void *buf, size_t len, char *err,
		  size_t errlen)
{
	unsigned char *p = buf;

	/* CTR_DRBG serves at most MBEDTLS_CTR_DRBG_MAX_REQUEST per call. */
	while (len > 0) {
		size_t n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST
				   ? len
				   : MBEDTLS_CTR_DRBG_MAX_REQUEST;
		int ret = mbedtls_ctr_drbg_random(&rng->drbg, p, n);

		if (ret != 0)
			return pki_fail_mbed(err, errlen, ret,
					     "pki: random generator failed");
		p += n;
		len -= n;
	}
	return 0;
}

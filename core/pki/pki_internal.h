/*
 * pki_internal.h: what the files of the PKI library share and nobody else
 * sees: the layout of its objects, the error helpers and the file I/O.
 * It owns no state.
 */
#ifndef ORCHD_PKI_INTERNAL_H
#define ORCHD_PKI_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "pki.h"

/* Largest file pki_read_file accepts (keys and certificates are ~1 KiB). */
#define PKI_FILE_MAX (64 * 1024)

struct pki_rng {
	mbedtls_ctr_drbg_context drbg;
	mbedtls_entropy_context entropy; /* system entropy, when not fixed */
	unsigned char seed[32];          /* fixed entropy: SHA-256 of the seed */
	uint64_t counter;                /* fixed entropy: blocks produced */
};

struct pki_key {
	mbedtls_pk_context pk;
};

struct pki_cert {
	mbedtls_x509_crt crt; /* exactly one certificate, crt.next == NULL */
	char *pem;            /* NUL-terminated PEM text */
};

struct pki_ca {
	struct pki_cert *cert;
	struct pki_key *key;
};

/* snprintf into err (if errlen > 0); always returns -1. */
int pki_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* As pki_fail, followed by ": <mbed TLS message> (-0xNNNN)". */
int pki_fail_mbed(char *err, size_t errlen, int mbed_ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The f_rng/p_rng pair mbed TLS functions want. */
int pki_rng_fill(void *rng, unsigned char *buf, size_t len);

/* mbed TLS takes non-const contexts even where it only reads them (public
 * key operations, signing); the library's API keeps them const. */
mbedtls_pk_context *pki_key_pk(const struct pki_key *key);
mbedtls_x509_crt *pki_cert_crt(const struct pki_cert *cert);

/* Replaces path with data: writes path.tmp with mode, fsyncs it, renames
 * it over path and fsyncs the directory. */
int pki_write_file(const char *path, const void *data, size_t len,
		   mode_t mode, char *err, size_t errlen);
/* Reads the whole file (at most PKI_FILE_MAX bytes) into a malloc'd,
 * NUL-terminated buffer. */
int pki_read_file(const char *path, char **data, size_t *len, char *err,
		  size_t errlen);
/* Zeroes then frees a buffer that held key material. */
void pki_free_secret(void *buf, size_t len);

/* Shared by pki_x509.c (reading) and pki_issue.c (writing). */
/* "YYYYMMDDhhmmss" and a NUL, as mbedtls_x509write_crt_set_validity wants. */
#define PKI_X509_TIME_LEN 15
int pki_time_to_x509(int64_t t, char out[PKI_X509_TIME_LEN], char *err, size_t errlen);
int64_t pki_time_from_x509(const mbedtls_x509_time *x);
int pki_identity_check(const struct pki_identity *id, char *err, size_t errlen);
void pki_identity_dn(const struct pki_identity *id, char *buf, size_t size);

#endif

/*
 * pki_token.c: Swarm join tokens, SWMTKN-1-<digest>-<secret>. The digest
 * is the SHA-256 of the CA certificate's DER as a base36 number padded to
 * 50 digits; the secret is 128 random bits as base36 padded to 25 digits.
 * Building, strict parsing, the manager's check of a presented token
 * (constant-time against both current secrets) and the joining node's
 * check of the manager's CA. Owns no state: the secrets live in the
 * caller's struct pki_join_secrets.
 */
#include <stdio.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "pki_internal.h"

#define PKI_SECRET_BYTES 16
#define PKI_TOKEN_MAGIC "SWMTKN"

static const char pki_base36_digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";

/* Writes the big-endian number num as exactly width base36 digits (zero
 * padded); returns -1 if it does not fit. num is consumed (left zero). */
static int pki_base36_encode(unsigned char *num, size_t num_len, char *out,
			     size_t width)
{
	for (size_t pos = width; pos > 0; pos--) {
		unsigned rem = 0;

		for (size_t i = 0; i < num_len; i++) {
			unsigned cur = rem * 256 + num[i];

			num[i] = (unsigned char)(cur / 36);
			rem = cur % 36;
		}
		out[pos - 1] = pki_base36_digits[rem];
	}
	out[width] = '\0';
	for (size_t i = 0; i < num_len; i++) {
		if (num[i] != 0)
			return -1;
	}
	return 0;
}

static int pki_is_base36(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

/* Constant time in n: no early exit on the first difference. */
static int pki_equal_ct(const char *a, const char *b, size_t n)
{
	volatile unsigned char diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

static int pki_secret_well_formed(const char *s)
{
	for (size_t i = 0; i < PKI_SECRET_LEN; i++) {
		if (!pki_is_base36(s[i]))
			return 0;
	}
	return s[PKI_SECRET_LEN] == '\0';
}

static int pki_digest_well_formed(const char *d)
{
	if (d == NULL)
		return 0;
	for (size_t i = 0; i < PKI_DIGEST_LEN; i++) {
		if (!pki_is_base36(d[i]))
			return 0;
	}
	return d[PKI_DIGEST_LEN] == '\0';
}

void pki_cert_digest(const struct pki_cert *cert, char out[PKI_DIGEST_LEN + 1])
{
	unsigned char hash[32];

	/* SHA-256 cannot fail on a valid buffer; a 256-bit number always
	 * fits in 50 base36 digits. */
	(void)mbedtls_sha256_ret(cert->crt.raw.p, cert->crt.raw.len, hash, 0);
	(void)pki_base36_encode(hash, sizeof(hash), out, PKI_DIGEST_LEN);
}

/* ---- secrets ---- */

static int pki_secret_generate(struct pki_rng *rng,
			       char out[PKI_SECRET_LEN + 1], char *err,
			       size_t errlen)
{
	unsigned char raw[PKI_SECRET_BYTES];
	int rc = pki_rng_bytes(rng, raw, sizeof(raw), err, errlen);

	/* 2^128 < 36^25: always fits. */
	if (rc == 0)
		(void)pki_base36_encode(raw, sizeof(raw), out, PKI_SECRET_LEN);
	mbedtls_platform_zeroize(raw, sizeof(raw));
	return rc;
}

/* A new secret for slot, different from other (a 2^-128 event, but a
 * token must never be valid for both roles). */
static int pki_secret_replace(char *slot, const char *other,
			      struct pki_rng *rng, char *err, size_t errlen)
{
	char fresh[PKI_SECRET_LEN + 1];

	do {
		if (pki_secret_generate(rng, fresh, err, errlen) != 0)
			return -1;
	} while (strcmp(fresh, other) == 0 || strcmp(fresh, slot) == 0);
	memcpy(slot, fresh, sizeof(fresh));
	mbedtls_platform_zeroize(fresh, sizeof(fresh));
	return 0;
}

int pki_join_secrets_generate(struct pki_rng *rng, struct pki_join_secrets *s,
			      char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (pki_secret_replace(s->worker, s->manager, rng, err, errlen) != 0 ||
	    pki_secret_replace(s->manager, s->worker, rng, err, errlen) != 0) {
		memset(s, 0, sizeof(*s));
		return -1;
	}
	return 0;
}

int pki_join_secrets_rotate(struct pki_join_secrets *s, enum pki_role role,
			    struct pki_rng *rng, char *err, size_t errlen)
{
	switch (role) {
	case PKI_ROLE_WORKER:
		return pki_secret_replace(s->worker, s->manager, rng, err,
					  errlen);
	case PKI_ROLE_MANAGER:
		return pki_secret_replace(s->manager, s->worker, rng, err,
					  errlen);
	}
	return pki_fail(err, errlen, "pki: unknown role %d", (int)role);
}

/* ---- tokens ---- */

int pki_token_make(const char *ca_digest, const struct pki_join_secrets *s,
		   enum pki_role role, char out[PKI_TOKEN_LEN + 1], char *err,
		   size_t errlen)
{
	const char *secret;

	out[0] = '\0';
	if (role == PKI_ROLE_WORKER)
		secret = s->worker;
	else if (role == PKI_ROLE_MANAGER)
		secret = s->manager;
	else
		return pki_fail(err, errlen, "pki: unknown role %d", (int)role);
	if (!pki_digest_well_formed(ca_digest))
		return pki_fail(err, errlen,
				"pki: CA digest is not %d base36 characters",
				PKI_DIGEST_LEN);
	if (!pki_secret_well_formed(secret))
		return pki_fail(err, errlen,
				"pki: the %s join secret is not set",
				pki_role_name(role));
	snprintf(out, PKI_TOKEN_LEN + 1, "%s%s-%s", PKI_TOKEN_PREFIX, ca_digest,
		 secret);
	return 0;
}

/* Checks that field (len characters, the part of the token starting at
 * offset) is want characters of base36. show_char: whether the offending
 * character may be quoted (never for the secret). */
static int pki_token_field(const char *what, const char *field, size_t len,
			   size_t want, size_t offset, int show_char,
			   char *err, size_t errlen)
{
	if (len != want)
		return pki_fail(err, errlen,
				"invalid join token: %s has %zu characters, want %zu",
				what, len, want);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)field[i];

		if (pki_is_base36((char)c))
			continue;
		if (show_char && c > 0x20 && c < 0x7f)
			return pki_fail(err, errlen,
					"invalid join token: %s has '%c' at "
					"position %zu (want 0-9 a-z)",
					what, c, offset + i);
		return pki_fail(err, errlen,
				"invalid join token: %s has an invalid character "
				"at position %zu (want 0-9 a-z)",
				what, offset + i);
	}
	return 0;
}

/* "SWMTKN-" then the version up to the next '-', which must be "1". */
static int pki_token_header(const char *token, const char **rest, char *err,
			    size_t errlen)
{
	const char *version = token + strlen(PKI_TOKEN_MAGIC "-");
	const char *dash;

	if (strncmp(token, PKI_TOKEN_MAGIC "-", strlen(PKI_TOKEN_MAGIC "-")) != 0)
		return pki_fail(err, errlen,
				"invalid join token: does not start with "
				PKI_TOKEN_MAGIC "-");
	dash = strchr(version, '-');
	if (dash == NULL)
		return pki_fail(err, errlen,
				"invalid join token: no '-' after the version");
	if (dash - version != 1 || version[0] != '1') {
		if (dash - version > 8 || dash == version)
			return pki_fail(err, errlen,
					"invalid join token: unsupported version "
					"(want 1)");
		return pki_fail(err, errlen,
				"invalid join token: unsupported version "
				"\"%.*s\" (want 1)", (int)(dash - version),
				version);
	}
	*rest = dash + 1;
	return 0;
}

int pki_token_parse(const char *token, struct pki_token *out, char *err,
		    size_t errlen)
{
	const char *digest = NULL;
	const char *dash;
	size_t digest_off;

	memset(out, 0, sizeof(*out));
	if (token == NULL || token[0] == '\0')
		return pki_fail(err, errlen, "invalid join token: empty");
	if (pki_token_header(token, &digest, err, errlen) != 0)
		return -1;
	digest_off = (size_t)(digest - token);
	dash = strchr(digest, '-');
	if (dash == NULL)
		return pki_fail(err, errlen,
				"invalid join token: no '-' between the CA digest "
				"and the secret");
	if (pki_token_field("CA digest", digest, (size_t)(dash - digest),
			    PKI_DIGEST_LEN, digest_off, 1, err, errlen) != 0 ||
	    pki_token_field("secret", dash + 1, strlen(dash + 1),
			    PKI_SECRET_LEN, (size_t)(dash + 1 - token), 0, err,
			    errlen) != 0)
		return -1;
	memcpy(out->digest, digest, PKI_DIGEST_LEN);
	memcpy(out->secret, dash + 1, PKI_SECRET_LEN);
	return 0;
}

int pki_token_check(const struct pki_join_secrets *s, const char *ca_digest,
		    const char *token, enum pki_role *role, char *err,
		    size_t errlen)
{
	struct pki_token tok;
	int worker, manager;

	if (pki_token_parse(token, &tok, err, errlen) != 0)
		return -1;
	if (!pki_digest_well_formed(ca_digest) ||
	    !pki_equal_ct(tok.digest, ca_digest, PKI_DIGEST_LEN)) {
		mbedtls_platform_zeroize(&tok, sizeof(tok));
		return pki_fail(err, errlen,
				"join token is for another cluster CA");
	}
	/* Both comparisons always run: timing says nothing about which
	 * secret, if any, was close. An unset secret never matches. */
	worker = pki_equal_ct(tok.secret, s->worker, PKI_SECRET_LEN) &
		 pki_secret_well_formed(s->worker);
	manager = pki_equal_ct(tok.secret, s->manager, PKI_SECRET_LEN) &
		  pki_secret_well_formed(s->manager);
	mbedtls_platform_zeroize(&tok, sizeof(tok));
	if (worker && manager)
		return pki_fail(err, errlen,
				"pki: worker and manager join secrets are equal");
	if (!worker && !manager)
		return pki_fail(err, errlen,
				"join token secret is invalid or was rotated");
	*role = manager ? PKI_ROLE_MANAGER : PKI_ROLE_WORKER;
	return 0;
}

int pki_token_check_ca(const char *token, const struct pki_cert *ca_cert,
		       char *err, size_t errlen)
{
	char digest[PKI_DIGEST_LEN + 1];
	struct pki_token tok;

	if (pki_token_parse(token, &tok, err, errlen) != 0)
		return -1;
	pki_cert_digest(ca_cert, digest);
	mbedtls_platform_zeroize(tok.secret, sizeof(tok.secret));
	if (strcmp(digest, tok.digest) != 0)
		return pki_fail(err, errlen,
				"the manager's CA certificate does not match the "
				"join token (CA digest %.12s..., token expects "
				"%.12s...)", digest, tok.digest);
	return 0;
}

/*
 * fuzz_pki_token.c: libFuzzer target for the join token parser and the
 * manager's token check (core/pki/pki_token.c), which read what a joining
 * node, or anyone reaching the manager, sends.
 *
 * Every input is taken as a C string (cut at its first NUL). Invariants:
 * a rejected token leaves a non-empty, NUL-terminated error; an accepted
 * token is canonical (pki_token_make of its parts gives back exactly the
 * input) and pki_token_check accepts it as a worker token when the worker
 * secret is its secret. Any crash, overread, leak or broken invariant
 * (abort) is a finding. The target keeps no state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"

#define FUZZ_TOKEN_MAX 4096

/* A valid secret that is not the token's own, for the manager slot. */
static void fuzz_other_secret(const char *secret, char out[PKI_SECRET_LEN + 1])
{
	memset(out, 'z', PKI_SECRET_LEN);
	out[PKI_SECRET_LEN] = '\0';
	if (strcmp(out, secret) == 0)
		out[0] = 'y';
}

static void fuzz_check_accepted(const char *token, const struct pki_token *tok)
{
	struct pki_join_secrets s;
	char again[PKI_TOKEN_LEN + 1];
	char err[256];
	enum pki_role role;

	memcpy(s.worker, tok->secret, sizeof(s.worker));
	fuzz_other_secret(tok->secret, s.manager);
	if (pki_token_make(tok->digest, &s, PKI_ROLE_WORKER, again, err,
			   sizeof(err)) != 0)
		abort();
	if (strcmp(again, token) != 0)
		abort();
	if (pki_token_check(&s, tok->digest, token, &role, err, sizeof(err)) != 0 ||
	    role != PKI_ROLE_WORKER)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char token[FUZZ_TOKEN_MAX + 1];
	char err[256];
	struct pki_token tok;

	if (size > FUZZ_TOKEN_MAX)
		size = FUZZ_TOKEN_MAX;
	memcpy(token, data, size);
	token[size] = '\0';
	err[0] = '\0';
	memset(err + 1, 'x', sizeof(err) - 1); /* must be terminated by us */
	if (pki_token_parse(token, &tok, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		return 0;
	}
	fuzz_check_accepted(token, &tok);
	return 0;
}

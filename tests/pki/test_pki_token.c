/*
 * test_pki_token.c: cmocka tests of Swarm join tokens (core/pki/
 * pki_token.c): making, strict parsing with one clear error per defect,
 * the manager's check (worker vs manager, rotation, another CA) and the
 * joining node's check of the manager's CA certificate. Secrets come from
 * a fixed-seed generator (pki_test_util.h).
 */
#include "pki_test_util.h"

/* 50 and 25 base36 characters, built by hand, not by the code under test. */
#define DIGEST_A "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcd"
#define SECRET_A "0a1b2c3d4e5f6g7h8i9jklmno"

struct token_env {
	struct pki_ca *ca;
	char digest[PKI_DIGEST_LEN + 1];
	struct pki_join_secrets secrets;
	char worker[PKI_TOKEN_LEN + 1];
	char manager[PKI_TOKEN_LEN + 1];
};

static void env_init(struct pki_test_ctx *t, struct token_env *e)
{
	memset(e, 0, sizeof(*e));
	PKI_OK(t, pki_ca_generate(t->rng, PKI_TEST_T0, 0, &e->ca, t->err,
				  sizeof(t->err)));
	pki_cert_digest(pki_ca_cert(e->ca), e->digest);
	PKI_OK(t, pki_join_secrets_generate(t->rng, &e->secrets, t->err,
					    sizeof(t->err)));
	PKI_OK(t, pki_token_make(e->digest, &e->secrets, PKI_ROLE_WORKER,
				 e->worker, t->err, sizeof(t->err)));
	PKI_OK(t, pki_token_make(e->digest, &e->secrets, PKI_ROLE_MANAGER,
				 e->manager, t->err, sizeof(t->err)));
}

static void env_free(struct token_env *e)
{
	pki_ca_free(e->ca);
}

static void test_make_and_parse(void **state)
{
	struct pki_test_ctx *t = *state;
	struct token_env e;
	struct pki_token tok;
	char expect[PKI_TOKEN_LEN + 1];

	env_init(t, &e);
	pki_assert_base36(e.secrets.worker, PKI_SECRET_LEN);
	pki_assert_base36(e.secrets.manager, PKI_SECRET_LEN);
	assert_string_not_equal(e.secrets.worker, e.secrets.manager);
	assert_int_equal(strlen(e.worker), 85);
	snprintf(expect, sizeof(expect), "SWMTKN-1-%s-%s", e.digest,
		 e.secrets.worker);
	assert_string_equal(e.worker, expect);

	PKI_OK(t, pki_token_parse(e.manager, &tok, t->err, sizeof(t->err)));
	assert_string_equal(tok.digest, e.digest);
	assert_string_equal(tok.secret, e.secrets.manager);
	/* A hand-written token parses too. */
	PKI_OK(t, pki_token_parse("SWMTKN-1-" DIGEST_A "-" SECRET_A, &tok,
				  t->err, sizeof(t->err)));
	assert_string_equal(tok.digest, DIGEST_A);
	assert_string_equal(tok.secret, SECRET_A);
	env_free(&e);
}

static void test_check_gives_role(void **state)
{
	struct pki_test_ctx *t = *state;
	struct token_env e;
	enum pki_role role = (enum pki_role)-1;

	env_init(t, &e);
	PKI_OK(t, pki_token_check(&e.secrets, e.digest, e.worker, &role, t->err,
				  sizeof(t->err)));
	assert_int_equal(role, PKI_ROLE_WORKER);
	PKI_OK(t, pki_token_check(&e.secrets, e.digest, e.manager, &role,
				  t->err, sizeof(t->err)));
	assert_int_equal(role, PKI_ROLE_MANAGER);
	/* Right form, right CA, unknown secret. */
	char guess[PKI_TOKEN_LEN + 1];
	snprintf(guess, sizeof(guess), "SWMTKN-1-%s-%s", e.digest, SECRET_A);
	PKI_FAILS(t, pki_token_check(&e.secrets, e.digest, guess, &role, t->err,
				     sizeof(t->err)),
		  "secret is invalid or was rotated");
	env_free(&e);
}

static void test_rotation(void **state)
{
	struct pki_test_ctx *t = *state;
	struct token_env e;
	enum pki_role role;
	char old_worker[PKI_SECRET_LEN + 1];
	char fresh[PKI_TOKEN_LEN + 1];

	env_init(t, &e);
	memcpy(old_worker, e.secrets.worker, sizeof(old_worker));
	PKI_OK(t, pki_join_secrets_rotate(&e.secrets, PKI_ROLE_WORKER, t->rng,
					  t->err, sizeof(t->err)));
	pki_assert_base36(e.secrets.worker, PKI_SECRET_LEN);
	assert_string_not_equal(e.secrets.worker, old_worker);
	PKI_FAILS(t, pki_token_check(&e.secrets, e.digest, e.worker, &role,
				     t->err, sizeof(t->err)),
		  "secret is invalid or was rotated");
	/* The manager token is untouched; the new worker token works. */
	PKI_OK(t, pki_token_check(&e.secrets, e.digest, e.manager, &role,
				  t->err, sizeof(t->err)));
	assert_int_equal(role, PKI_ROLE_MANAGER);
	PKI_OK(t, pki_token_make(e.digest, &e.secrets, PKI_ROLE_WORKER, fresh,
				 t->err, sizeof(t->err)));
	PKI_OK(t, pki_token_check(&e.secrets, e.digest, fresh, &role, t->err,
				  sizeof(t->err)));
	assert_int_equal(role, PKI_ROLE_WORKER);
	/* Rotating the manager secret retires the manager token. */
	PKI_OK(t, pki_join_secrets_rotate(&e.secrets, PKI_ROLE_MANAGER, t->rng,
					  t->err, sizeof(t->err)));
	PKI_FAILS(t, pki_token_check(&e.secrets, e.digest, e.manager, &role,
				     t->err, sizeof(t->err)),
		  "secret is invalid or was rotated");
	PKI_FAILS(t, pki_join_secrets_rotate(&e.secrets, (enum pki_role)5,
					     t->rng, t->err, sizeof(t->err)),
		  "unknown role 5");
	env_free(&e);
}

static void test_another_ca_refused(void **state)
{
	struct pki_test_ctx *t = *state;
	struct token_env e;
	struct pki_ca *other = NULL;
	char other_digest[PKI_DIGEST_LEN + 1];
	enum pki_role role;

	env_init(t, &e);
	PKI_OK(t, pki_ca_generate(t->rng, PKI_TEST_T0, 0, &other, t->err,
				  sizeof(t->err)));
	pki_cert_digest(pki_ca_cert(other), other_digest);
	/* Joining side: the manager presenting our CA passes, another fails. */
	PKI_OK(t, pki_token_check_ca(e.worker, pki_ca_cert(e.ca), t->err,
				     sizeof(t->err)));
	PKI_FAILS(t, pki_token_check_ca(e.worker, pki_ca_cert(other), t->err,
					sizeof(t->err)),
		  "does not match the join token");
	/* Manager side: a token naming another CA is refused even with the
	 * right secret. */
	char foreign[PKI_TOKEN_LEN + 1];
	PKI_OK(t, pki_token_make(other_digest, &e.secrets, PKI_ROLE_WORKER,
				 foreign, t->err, sizeof(t->err)));
	PKI_FAILS(t, pki_token_check(&e.secrets, e.digest, foreign, &role,
				     t->err, sizeof(t->err)),
		  "for another cluster CA");
	PKI_FAILS(t, pki_token_check_ca(foreign, pki_ca_cert(e.ca), t->err,
					sizeof(t->err)),
		  "does not match the join token");
	pki_ca_free(other);
	env_free(&e);
}

static void test_unset_secrets_never_match(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_join_secrets none;
	char out[PKI_TOKEN_LEN + 1];
	enum pki_role role;

	memset(&none, 0, sizeof(none));
	PKI_FAILS(t, pki_token_make(DIGEST_A, &none, PKI_ROLE_WORKER, out,
				    t->err, sizeof(t->err)),
		  "swarm-worker join secret is not set");
	PKI_FAILS(t, pki_token_make("short", &none, PKI_ROLE_WORKER, out,
				    t->err, sizeof(t->err)),
		  "CA digest is not 50 base36 characters");
	PKI_FAILS(t, pki_token_check(&none, DIGEST_A,
				     "SWMTKN-1-" DIGEST_A "-" SECRET_A, &role,
				     t->err, sizeof(t->err)),
		  "secret is invalid or was rotated");
}

struct bad_token {
	const char *token;
	const char *error;
};

static void test_malformed_tokens(void **state)
{
	struct pki_test_ctx *t = *state;
	static const struct bad_token cases[] = {
		{ "", "invalid join token: empty" },
		{ "swmtkn-1-" DIGEST_A "-" SECRET_A, "does not start with SWMTKN-" },
		{ "SWMTKX-1-" DIGEST_A "-" SECRET_A, "does not start with SWMTKN-" },
		{ "SWMTKN-1", "no '-' after the version" },
		{ "SWMTKN-2-" DIGEST_A "-" SECRET_A, "unsupported version \"2\" (want 1)" },
		{ "SWMTKN-12-" DIGEST_A "-" SECRET_A, "unsupported version \"12\" (want 1)" },
		{ "SWMTKN--" DIGEST_A "-" SECRET_A, "unsupported version (want 1)" },
		{ "SWMTKN-1-" DIGEST_A, "no '-' between the CA digest and the secret" },
		{ "SWMTKN-1-" DIGEST_A "a-" SECRET_A, "CA digest has 51 characters, want 50" },
		{ "SWMTKN-1--" SECRET_A, "CA digest has 0 characters, want 50" },
		{ "SWMTKN-1-0123456789ABCDEFghijklmnopqrstuvwxyz0123456789abcd-" SECRET_A,
		  "CA digest has 'A' at position 19 (want 0-9 a-z)" },
		{ "SWMTKN-1-" DIGEST_A "-" SECRET_A "x", "secret has 26 characters, want 25" },
		{ "SWMTKN-1-" DIGEST_A "-" SECRET_A "\n", "secret has 26 characters, want 25" },
		{ "SWMTKN-1-" DIGEST_A "-0a1b2c3d4e5f6g7h8i9jklmn", "secret has 24 characters, want 25" },
		{ "SWMTKN-1-" DIGEST_A "-0a1b2c3d4e5f6g7h8i9jk_mno",
		  "secret has an invalid character at position 81 (want 0-9 a-z)" },
		{ "SWMTKN-1-" DIGEST_A "-0a1b2c3d4e5f6g7h8i9jk-mno",
		  "secret has an invalid character at position 81" },
	};
	struct pki_token tok;
	enum pki_role role;
	struct pki_join_secrets s;

	memcpy(s.worker, SECRET_A, sizeof(s.worker));
	memcpy(s.manager, "zzzzzzzzzzzzzzzzzzzzzzzzz", sizeof(s.manager));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		PKI_FAILS(t, pki_token_parse(cases[i].token, &tok, t->err,
					     sizeof(t->err)),
			  cases[i].error);
		/* The manager's check reports the same defect. */
		PKI_FAILS(t, pki_token_check(&s, DIGEST_A, cases[i].token, &role,
					     t->err, sizeof(t->err)),
			  cases[i].error);
	}
	PKI_FAILS(t, pki_token_parse(NULL, &tok, t->err, sizeof(t->err)),
		  "empty");
}

static void test_errors_never_show_the_secret(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_token tok;

	/* 'Q' in the secret: the error names the position, not the text. */
	PKI_FAILS(t, pki_token_parse("SWMTKN-1-" DIGEST_A "-0a1b2c3d4e5f6gQh8i9jklmno",
				     &tok, t->err, sizeof(t->err)),
		  "position 74");
	assert_null(strstr(t->err, "Q"));
	assert_null(strstr(t->err, "0a1b2c"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, pki_test_setup, pki_test_teardown)
	const struct CMUnitTest tests[] = {
		T(test_make_and_parse),
		T(test_check_gives_role),
		T(test_rotation),
		T(test_another_ca_refused),
		T(test_unset_secrets_never_match),
		T(test_malformed_tokens),
		T(test_errors_never_show_the_secret),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_pki_cert.c: cmocka tests of the cluster CA, node keys, CSRs and
 * certificates (core/pki). Each test gets a fresh temporary directory and
 * a fixed-seed random generator (pki_test_util.h); time is a parameter of
 * the library, so tests move it forward and backward at will.
 */
#include "pki_test_util.h"

#include <sys/stat.h>

#include <mbedtls/pem.h>

/* A certificate made once by this library, and the digest of its DER that
 * Swarm's encoding gives, computed independently with Python:
 *   int.from_bytes(sha256(der).digest(), "big") in base36, zero-padded to
 *   50 digits. */
#include "pki_vector.h"

static const char pki_test_cluster[] = "cluster7x";

static struct pki_ca *make_ca(struct pki_test_ctx *t, int64_t validity)
{
	struct pki_ca *ca = NULL;

	PKI_OK(t, pki_ca_generate(t->rng, PKI_TEST_T0, validity, &ca, t->err,
				  sizeof(t->err)));
	return ca;
}

static struct pki_identity make_id(struct pki_test_ctx *t, const char *node,
				   enum pki_role role)
{
	struct pki_identity id;

	PKI_OK(t, pki_identity_set(&id, node, role, pki_test_cluster, t->err,
				   sizeof(t->err)));
	return id;
}

/* A node key, its CSR for id, and the certificate ca issues for it. */
static struct pki_cert *issue(struct pki_test_ctx *t, const struct pki_ca *ca,
			      const struct pki_identity *id, int64_t validity,
			      struct pki_key **key_out)
{
	struct pki_key *key = NULL;
	struct pki_cert *cert = NULL;
	char *csr = NULL;

	PKI_OK(t, pki_key_generate(t->rng, &key, t->err, sizeof(t->err)));
	PKI_OK(t, pki_csr_make(key, id, t->rng, &csr, t->err, sizeof(t->err)));
	PKI_OK(t, pki_ca_sign_csr(ca, t->rng, csr, strlen(csr), id, PKI_TEST_T0,
				  validity, &cert, t->err, sizeof(t->err)));
	free(csr);
	if (key_out != NULL)
		*key_out = key;
	else
		pki_key_free(key);
	return cert;
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* ---- CA ---- */

static void test_ca_save_load_round_trip(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 0);
	struct pki_ca *loaded = NULL;
	char d1[PKI_DIGEST_LEN + 1], d2[PKI_DIGEST_LEN + 1];
	mode_t old_umask = umask(0); /* modes must not depend on the umask */

	PKI_OK(t, pki_ca_save(ca, t->dir, t->err, sizeof(t->err)));
	umask(old_umask);
	assert_int_equal(file_mode(pki_test_path(t, PKI_CA_KEY_FILE)), 0600);
	assert_int_equal(file_mode(pki_test_path(t, PKI_CA_CERT_FILE)), 0644);
	PKI_OK(t, pki_ca_load(t->dir, &loaded, t->err, sizeof(t->err)));

	assert_string_equal(pki_cert_pem(pki_ca_cert(ca)),
			    pki_cert_pem(pki_ca_cert(loaded)));
	pki_cert_digest(pki_ca_cert(ca), d1);
	pki_cert_digest(pki_ca_cert(loaded), d2);
	pki_assert_base36(d1, PKI_DIGEST_LEN);
	assert_string_equal(d1, d2);
	/* The loaded key still signs certificates the CA verifies. */
	struct pki_identity id = make_id(t, "node1", PKI_ROLE_WORKER);
	struct pki_cert *cert = issue(t, loaded, &id, 0, NULL);
	PKI_OK(t, pki_cert_verify(pki_ca_cert(ca), cert, PKI_TEST_T0, NULL,
				  t->err, sizeof(t->err)));
	pki_cert_free(cert);
	pki_ca_free(loaded);
	pki_ca_free(ca);
}

static void test_ca_certificate_fields(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 0);
	const struct pki_cert *c = pki_ca_cert(ca);
	struct pki_cert *again = NULL;
	struct pki_cert_info info;
	char d1[PKI_DIGEST_LEN + 1], d2[PKI_DIGEST_LEN + 1];

	assert_non_null(strstr(pki_cert_pem(c), "-----BEGIN CERTIFICATE-----"));
	/* Re-parsing the PEM gives the same DER, hence the same digest. */
	PKI_OK(t, pki_cert_parse(pki_cert_pem(c), strlen(pki_cert_pem(c)),
				 &again, t->err, sizeof(t->err)));
	pki_cert_digest(c, d1);
	pki_cert_digest(again, d2);
	assert_string_equal(d1, d2);
	/* The CA has no node identity (no OU/O), so reading one fails. */
	PKI_FAILS(t, pki_cert_read_info(c, &info, t->err, sizeof(t->err)),
		  "lacks OU");
	/* It cannot pass as a node certificate either. */
	PKI_FAILS(t, pki_cert_verify(c, c, PKI_TEST_T0, NULL, t->err,
				     sizeof(t->err)),
		  "CA certificate is not a node certificate");
	pki_cert_free(again);
	pki_ca_free(ca);
}

static void test_digest_matches_known_vector(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_cert *cert = NULL;
	char digest[PKI_DIGEST_LEN + 1];

	PKI_OK(t, pki_cert_parse(pki_vector_pem, strlen(pki_vector_pem), &cert,
				 t->err, sizeof(t->err)));
	pki_cert_digest(cert, digest);
	assert_string_equal(digest, pki_vector_digest);
	pki_cert_free(cert);
}

static void test_two_cas_differ(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *a = make_ca(t, 0);
	struct pki_ca *b = make_ca(t, 0);
	char da[PKI_DIGEST_LEN + 1], db[PKI_DIGEST_LEN + 1];

	pki_cert_digest(pki_ca_cert(a), da);
	pki_cert_digest(pki_ca_cert(b), db);
	assert_string_not_equal(da, db);
	pki_ca_free(a);
	pki_ca_free(b);
}

static void test_same_seed_same_ca(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_rng *r1 = NULL, *r2 = NULL, *r3 = NULL;
	struct pki_ca *c1 = NULL, *c2 = NULL, *c3 = NULL;

	PKI_OK(t, pki_rng_new_deterministic("s", 1, &r1, t->err, sizeof(t->err)));
	PKI_OK(t, pki_rng_new_deterministic("s", 1, &r2, t->err, sizeof(t->err)));
	PKI_OK(t, pki_rng_new_deterministic("u", 1, &r3, t->err, sizeof(t->err)));
	PKI_OK(t, pki_ca_generate(r1, PKI_TEST_T0, 0, &c1, t->err, sizeof(t->err)));
	PKI_OK(t, pki_ca_generate(r2, PKI_TEST_T0, 0, &c2, t->err, sizeof(t->err)));
	PKI_OK(t, pki_ca_generate(r3, PKI_TEST_T0, 0, &c3, t->err, sizeof(t->err)));
	assert_string_equal(pki_cert_pem(pki_ca_cert(c1)),
			    pki_cert_pem(pki_ca_cert(c2)));
	assert_string_not_equal(pki_cert_pem(pki_ca_cert(c1)),
				pki_cert_pem(pki_ca_cert(c3)));
	pki_ca_free(c1);
	pki_ca_free(c2);
	pki_ca_free(c3);
	pki_rng_free(r1);
	pki_rng_free(r2);
	pki_rng_free(r3);
}

static void test_ca_load_errors(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *a = make_ca(t, 0);
	struct pki_key *stray = NULL;
	struct pki_ca *loaded = NULL;
	char other[600];

	PKI_FAILS(t, pki_ca_load(t->dir, &loaded, t->err, sizeof(t->err)),
		  PKI_CA_CERT_FILE);
	assert_null(loaded);
	/* a's certificate with another key. */
	PKI_OK(t, pki_ca_save(a, t->dir, t->err, sizeof(t->err)));
	PKI_OK(t, pki_key_generate(t->rng, &stray, t->err, sizeof(t->err)));
	snprintf(other, sizeof(other), "%s", pki_test_path(t, "stray.key"));
	PKI_OK(t, pki_key_save(stray, other, t->err, sizeof(t->err)));
	assert_int_equal(rename(other, pki_test_path(t, PKI_CA_KEY_FILE)), 0);
	PKI_FAILS(t, pki_ca_load(t->dir, &loaded, t->err, sizeof(t->err)),
		  "does not match");
	assert_null(loaded);
	/* A corrupt key file. */
	FILE *f = fopen(pki_test_path(t, PKI_CA_KEY_FILE), "w");
	assert_non_null(f);
	fputs("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", f);
	fclose(f);
	PKI_FAILS(t, pki_ca_load(t->dir, &loaded, t->err, sizeof(t->err)),
		  "not a valid private key");
	pki_key_free(stray);
	pki_ca_free(a);
}

/* ---- node certificates ---- */

static void test_sign_csr_and_verify(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 0);
	struct pki_identity id = make_id(t, "3c5ukwyz0hzt1hqvlgnqrwzfm", PKI_ROLE_MANAGER);
	struct pki_key *key = NULL, *other = NULL;
	struct pki_cert *cert = issue(t, ca, &id, 0, &key);
	struct pki_cert_info info;

	PKI_OK(t, pki_cert_verify(pki_ca_cert(ca), cert, PKI_TEST_T0 + PKI_TEST_DAY,
				  &info, t->err, sizeof(t->err)));
	assert_string_equal(info.id.node_id, "3c5ukwyz0hzt1hqvlgnqrwzfm");
	assert_int_equal(info.id.role, PKI_ROLE_MANAGER);
	assert_string_equal(info.id.cluster_id, pki_test_cluster);
	assert_int_equal(info.not_before, PKI_TEST_T0 - PKI_CERT_BACKDATE);
	assert_int_equal(info.not_after, PKI_TEST_T0 + PKI_NODE_VALIDITY_DEFAULT);
	assert_true(pki_cert_matches_key(cert, key));
	PKI_OK(t, pki_key_generate(t->rng, &other, t->err, sizeof(t->err)));
	assert_false(pki_cert_matches_key(cert, other));
	pki_key_free(other);
	pki_key_free(key);
	pki_cert_free(cert);
	pki_ca_free(ca);
}

static void test_node_files_round_trip(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 0);
	struct pki_identity id = make_id(t, "node1", PKI_ROLE_WORKER);
	struct pki_key *key = NULL, *key2 = NULL;
	struct pki_cert *cert = issue(t, ca, &id, 0, &key);
	struct pki_cert *cert2 = NULL;
	char key_path[600], cert_path[600];

	snprintf(key_path, sizeof(key_path), "%s", pki_test_path(t, PKI_NODE_KEY_FILE));
	snprintf(cert_path, sizeof(cert_path), "%s", pki_test_path(t, PKI_NODE_CERT_FILE));
	PKI_OK(t, pki_key_save(key, key_path, t->err, sizeof(t->err)));
	PKI_OK(t, pki_cert_save(cert, cert_path, t->err, sizeof(t->err)));
	assert_int_equal(file_mode(key_path), 0600);
	assert_int_equal(file_mode(cert_path), 0644);
	/* Saving again replaces the files (and leaves no .tmp behind). */
	PKI_OK(t, pki_key_save(key, key_path, t->err, sizeof(t->err)));
	assert_int_equal(access(pki_test_path(t, PKI_NODE_KEY_FILE ".tmp"), F_OK), -1);
	PKI_OK(t, pki_key_load(key_path, &key2, t->err, sizeof(t->err)));
	PKI_OK(t, pki_cert_load(cert_path, &cert2, t->err, sizeof(t->err)));
	assert_true(pki_cert_matches_key(cert2, key2));
	assert_string_equal(pki_cert_pem(cert), pki_cert_pem(cert2));
	pki_cert_free(cert2);
	PKI_FAILS(t, pki_cert_load(key_path, &cert2, t->err, sizeof(t->err)),
		  "not a PEM certificate");
	assert_null(cert2);
	pki_key_free(key);
	pki_key_free(key2);
	pki_cert_free(cert);
	pki_ca_free(ca);
}

static void test_ca_decides_identity_not_csr(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 0);
	struct pki_identity asked = make_id(t, "node1", PKI_ROLE_MANAGER);
	struct pki_identity given = make_id(t, "node2", PKI_ROLE_WORKER);
	struct pki_key *key = NULL;
	struct pki_cert *cert = NULL;
	struct pki_cert_info info;
	char *csr = NULL;

	PKI_OK(t, pki_key_generate(t->rng, &key, t->err, sizeof(t->err)));
	PKI_OK(t, pki_csr_make(key, &asked, t->rng, &csr, t->err, sizeof(t->err)));
	PKI_OK(t, pki_ca_sign_csr(ca, t->rng, csr, strlen(csr), &given,
				  PKI_TEST_T0, 0, &cert, t->err, sizeof(t->err)));
	PKI_OK(t, pki_cert_verify(pki_ca_cert(ca), cert, PKI_TEST_T0, &info,
				  t->err, sizeof(t->err)));
	assert_string_equal(info.id.node_id, "node2");
	assert_int_equal(info.id.role, PKI_ROLE_WORKER);
	free(csr);
	pki_key_free(key);
	pki_cert_free(cert);
	pki_ca_free(ca);
}

static void test_cert_from_another_ca_fails(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ours = make_ca(t, 0);
	struct pki_ca *theirs = make_ca(t, 0);
	struct pki_identity id = make_id(t, "node1", PKI_ROLE_WORKER);
	struct pki_cert *cert = issue(t, theirs, &id, 0, NULL);

	/* Same CA subject (CN=swarm-ca), different key: signature decides. */
	PKI_FAILS(t, pki_cert_verify(pki_ca_cert(ours), cert, PKI_TEST_T0, NULL,
				     t->err, sizeof(t->err)),
		  "not issued by this cluster CA");
	PKI_OK(t, pki_cert_verify(pki_ca_cert(theirs), cert, PKI_TEST_T0, NULL,
				  t->err, sizeof(t->err)));
	pki_cert_free(cert);
	pki_ca_free(ours);
	pki_ca_free(theirs);
}

static void test_validity_window(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 0);
	struct pki_identity id = make_id(t, "node1", PKI_ROLE_WORKER);
	const int64_t validity = 10 * PKI_TEST_DAY;
	struct pki_cert *cert = issue(t, ca, &id, validity, NULL);
	const struct pki_cert *c = pki_ca_cert(ca);

	PKI_OK(t, pki_cert_verify(c, cert, PKI_TEST_T0 + validity, NULL, t->err,
				  sizeof(t->err)));
	PKI_FAILS(t, pki_cert_verify(c, cert, PKI_TEST_T0 + validity + 1, NULL,
				     t->err, sizeof(t->err)),
		  "certificate expired at 2023-11-24T22:13:20Z");
	/* The backdate absorbs clock skew, but not more. */
	PKI_OK(t, pki_cert_verify(c, cert, PKI_TEST_T0 - PKI_CERT_BACKDATE, NULL,
				  t->err, sizeof(t->err)));
	PKI_FAILS(t, pki_cert_verify(c, cert, PKI_TEST_T0 - PKI_CERT_BACKDATE - 1,
				     NULL, t->err, sizeof(t->err)),
		  "certificate is not valid before 2023-11-14T21:13:20Z");
	pki_cert_free(cert);
	pki_ca_free(ca);
}

static void test_expired_ca_fails_and_caps_certs(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 2 * PKI_TEST_DAY);
	struct pki_identity id = make_id(t, "node1", PKI_ROLE_WORKER);
	struct pki_cert *cert = issue(t, ca, &id, 0, NULL);
	struct pki_cert_info info;

	PKI_OK(t, pki_cert_verify(pki_ca_cert(ca), cert, PKI_TEST_T0, &info,
				  t->err, sizeof(t->err)));
	assert_int_equal(info.not_after, PKI_TEST_T0 + 2 * PKI_TEST_DAY);
	PKI_FAILS(t, pki_cert_verify(pki_ca_cert(ca), cert,
				     PKI_TEST_T0 + 3 * PKI_TEST_DAY, NULL,
				     t->err, sizeof(t->err)),
		  "CA certificate expired");
	pki_cert_free(cert);
	pki_ca_free(ca);
}

static void test_renewal_threshold(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 0);
	struct pki_identity id = make_id(t, "node1", PKI_ROLE_WORKER);
	struct pki_cert *cert = issue(t, ca, &id, 99 * 3600, NULL);
	struct pki_cert_info info;
	const int64_t from = PKI_TEST_T0 - PKI_CERT_BACKDATE;

	/* 100 hours in all (one of them backdated). */
	PKI_OK(t, pki_cert_read_info(cert, &info, t->err, sizeof(t->err)));
	assert_int_equal(info.not_after - info.not_before, 100 * 3600);
	assert_false(pki_cert_needs_renewal(&info, from + 50 * 3600, 50));
	assert_true(pki_cert_needs_renewal(&info, from + 50 * 3600 + 1, 50));
	assert_false(pki_cert_needs_renewal(&info, from + 80 * 3600, 20));
	assert_true(pki_cert_needs_renewal(&info, from + 80 * 3600 + 1, 20));
	assert_false(pki_cert_needs_renewal(&info, from, 100));
	assert_true(pki_cert_needs_renewal(&info, from + 1, 100));
	/* 0%: only once expired. */
	assert_false(pki_cert_needs_renewal(&info, info.not_after - 1, 0));
	assert_true(pki_cert_needs_renewal(&info, info.not_after, 0));
	pki_cert_free(cert);
	pki_ca_free(ca);
}

/* Renewal is timed from issuance (the backdated hour does not count): a
 * 40 s certificate is renewed after 20 to 32 s, not at once. */
static void test_renew_time_from_issuance(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 0);
	struct pki_identity id = make_id(t, "node1", PKI_ROLE_WORKER);
	struct pki_cert *cert = issue(t, ca, &id, 40, NULL);
	struct pki_cert_info info;

	PKI_OK(t, pki_cert_read_info(cert, &info, t->err, sizeof(t->err)));
	assert_int_equal(pki_cert_renew_time(&info, 500), PKI_TEST_T0 + 20);
	assert_int_equal(pki_cert_renew_time(&info, 800), PKI_TEST_T0 + 32);
	assert_int_equal(pki_cert_renew_time(&info, 1000), info.not_after);
	assert_int_equal(pki_cert_renew_time(&info, 5000), info.not_after);
	assert_int_equal(pki_cert_renew_time(&info, 0), PKI_TEST_T0);
	pki_cert_free(cert);
	pki_ca_free(ca);
}

/* Flips the last byte of the CSR's DER (inside the ECDSA signature) and
 * re-encodes it as PEM. */
static char *tamper_csr(const char *pem)
{
	/* Read without the newlines, written with them (as mbed TLS does). */
	static const char begin[] = "-----BEGIN CERTIFICATE REQUEST-----";
	static const char end[] = "-----END CERTIFICATE REQUEST-----";
	static const char begin_nl[] = "-----BEGIN CERTIFICATE REQUEST-----\n";
	static const char end_nl[] = "-----END CERTIFICATE REQUEST-----\n";
	mbedtls_pem_context ctx;
	size_t used = 0, out_len = 0;
	unsigned char der[2048];
	char *out = malloc(4096);

	assert_non_null(out);
	mbedtls_pem_init(&ctx);
	assert_int_equal(mbedtls_pem_read_buffer(&ctx, begin, end,
						 (const unsigned char *)pem,
						 NULL, 0, &used), 0);
	assert_true(ctx.buflen <= sizeof(der));
	memcpy(der, ctx.buf, ctx.buflen);
	der[ctx.buflen - 1] ^= 0x01;
	assert_int_equal(mbedtls_pem_write_buffer(begin_nl, end_nl, der, ctx.buflen,
						  (unsigned char *)out, 4096,
						  &out_len), 0);
	mbedtls_pem_free(&ctx);
	return out;
}

static void test_bad_csrs_refused(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 0);
	struct pki_identity id = make_id(t, "node1", PKI_ROLE_WORKER);
	struct pki_key *key = NULL;
	struct pki_cert *cert = NULL;
	char *csr = NULL, *bad;

	PKI_OK(t, pki_key_generate(t->rng, &key, t->err, sizeof(t->err)));
	PKI_OK(t, pki_csr_make(key, &id, t->rng, &csr, t->err, sizeof(t->err)));
	bad = tamper_csr(csr);
	PKI_FAILS(t, pki_ca_sign_csr(ca, t->rng, bad, strlen(bad), &id,
				     PKI_TEST_T0, 0, &cert, t->err,
				     sizeof(t->err)),
		  "CSR signature does not verify");
	assert_null(cert);
	PKI_FAILS(t, pki_ca_sign_csr(ca, t->rng, "garbage", 7, &id, PKI_TEST_T0,
				     0, &cert, t->err, sizeof(t->err)),
		  "invalid CSR");
	PKI_FAILS(t, pki_ca_sign_csr(ca, t->rng, csr, strlen(csr), &id,
				     PKI_TEST_T0, -5, &cert, t->err,
				     sizeof(t->err)),
		  "negative validity");
	free(bad);
	free(csr);
	pki_key_free(key);
	pki_ca_free(ca);
}

static void test_identity_checked(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_identity id;
	char long_id[PKI_ID_MAX + 2];

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	PKI_FAILS(t, pki_identity_set(&id, "", PKI_ROLE_WORKER, "c", t->err,
				      sizeof(t->err)),
		  "node id is empty");
	PKI_FAILS(t, pki_identity_set(&id, "n,O=evil", PKI_ROLE_WORKER, "c",
				      t->err, sizeof(t->err)),
		  "node id has invalid character 0x2c at position 1");
	PKI_FAILS(t, pki_identity_set(&id, "n", PKI_ROLE_WORKER, long_id,
				      t->err, sizeof(t->err)),
		  "cluster id is 65 characters long (max 64)");
	PKI_FAILS(t, pki_identity_set(&id, "n", (enum pki_role)7, "c", t->err,
				      sizeof(t->err)),
		  "unknown role 7");
	PKI_OK(t, pki_identity_set(&id, "Node-1_a.b", PKI_ROLE_MANAGER, "c",
				   t->err, sizeof(t->err)));
	assert_string_equal(pki_role_name(PKI_ROLE_MANAGER), "swarm-manager");
	assert_string_equal(pki_role_name(PKI_ROLE_WORKER), "swarm-worker");
	assert_null(pki_role_name((enum pki_role)2));
}

static void test_cert_parse_errors(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_ca *ca = make_ca(t, 0);
	struct pki_cert *cert = NULL;
	const char *pem = pki_cert_pem(pki_ca_cert(ca));
	size_t len = strlen(pem);
	char *two = malloc(2 * len + 1);

	assert_non_null(two);
	memcpy(two, pem, len);
	memcpy(two + len, pem, len + 1);
	PKI_FAILS(t, pki_cert_parse(two, 2 * len, &cert, t->err, sizeof(t->err)),
		  "expected one certificate");
	PKI_FAILS(t, pki_cert_parse("hello", 5, &cert, t->err, sizeof(t->err)),
		  "not a PEM certificate");
	/* Cut in the middle of the base64. */
	PKI_FAILS(t, pki_cert_parse(pem, len / 2, &cert, t->err, sizeof(t->err)),
		  "invalid certificate");
	assert_null(cert);
	free(two);
	pki_ca_free(ca);
}

static void test_system_rng_works(void **state)
{
	struct pki_test_ctx *t = *state;
	struct pki_rng *rng = NULL;
	struct pki_key *key = NULL;

	/* The production entropy source: only success is checked, never the
	 * (unpredictable) values. */
	PKI_OK(t, pki_rng_new(&rng, t->err, sizeof(t->err)));
	PKI_OK(t, pki_key_generate(rng, &key, t->err, sizeof(t->err)));
	pki_key_free(key);
	pki_rng_free(rng);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, pki_test_setup, pki_test_teardown)
	const struct CMUnitTest tests[] = {
		T(test_ca_save_load_round_trip),
		T(test_ca_certificate_fields),
		T(test_digest_matches_known_vector),
		T(test_two_cas_differ),
		T(test_same_seed_same_ca),
		T(test_ca_load_errors),
		T(test_sign_csr_and_verify),
		T(test_node_files_round_trip),
		T(test_ca_decides_identity_not_csr),
		T(test_cert_from_another_ca_fails),
		T(test_validity_window),
		T(test_expired_ca_fails_and_caps_certs),
		T(test_renewal_threshold),
		T(test_renew_time_from_issuance),
		T(test_bad_csrs_refused),
		T(test_identity_checked),
		T(test_cert_parse_errors),
		T(test_system_rng_works),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}

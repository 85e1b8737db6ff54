/*
 * pki.h: the cluster's public key infrastructure and join tokens, as in
 * Docker Swarm. `swarm init` makes a cluster CA (pki_ca_generate, saved
 * with pki_ca_save; its key stays on managers), the first manager's key
 * and certificate, and two join secrets (worker, manager). A join token
 * is `SWMTKN-1-<digest of the CA certificate>-<secret>`:
 *
 *   joining node                          manager
 *   ------------                          -------
 *   pki_token_parse(token)
 *   fetch the CA certificate, then
 *   pki_token_check_ca(token, ca)  <- before sending anything (no trust
 *                                     on first use)
 *   pki_key_generate, pki_csr_make
 *   send token + CSR  ------------------> pki_token_check(secrets, digest,
 *                                          token) -> role
 *                                        pki_ca_sign_csr(ca, csr, identity)
 *   pki_cert_verify(ca, cert, now) <---- certificate
 *
 * Certificates expire; pki_cert_needs_renewal tells when to ask for a new
 * one. Rotating a join secret (pki_join_secrets_rotate) makes every token
 * built from the old secret fail pki_token_check.
 *
 * The library reads no clock: every time is a parameter (seconds since the
 * epoch, UTC), so tests drive it. Randomness comes from a struct pki_rng
 * (mbed TLS CTR_DRBG seeded from the system's entropy, or from a fixed seed
 * for tests). Every fallible call returns 0, or -1 with a message in err
 * (errlen bytes, always NUL-terminated when errlen > 0). Objects are owned
 * by the caller and used by one thread at a time. Secrets are never written
 * into error messages.
 */
#ifndef ORCHD_PKI_H
#define ORCHD_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- constants ---- */

#define PKI_CA_CN "swarm-ca"
#define PKI_CA_CERT_FILE "swarm-root-ca.crt"   /* 0644, in the CA directory */
#define PKI_CA_KEY_FILE "swarm-root-ca.key"    /* 0600, in the CA directory */
#define PKI_NODE_CERT_FILE "swarm-node.crt"    /* suggested node file names */
#define PKI_NODE_KEY_FILE "swarm-node.key"

#define PKI_CA_VALIDITY_DEFAULT (20LL * 365 * 24 * 3600)  /* 20 years */
#define PKI_NODE_VALIDITY_DEFAULT (90LL * 24 * 3600)      /* 90 days */
/* not_before is set this far before "now" to absorb clock skew (Swarm
 * backdates by one hour too). */
#define PKI_CERT_BACKDATE (3600LL)

/* Node and cluster ids: 1..PKI_ID_MAX characters of [A-Za-z0-9._-]. */
#define PKI_ID_MAX 64

/* Base36 digits (0-9a-z) of the SHA-256 of the CA certificate's DER,
 * left-padded with '0' to 50 = ceil(256 / log2(36)). */
#define PKI_DIGEST_LEN 50
/* Base36 digits of a 128-bit random secret, left-padded to 25. */
#define PKI_SECRET_LEN 25
#define PKI_TOKEN_PREFIX "SWMTKN-1-"
#define PKI_TOKEN_LEN \
	(sizeof(PKI_TOKEN_PREFIX) - 1 + PKI_DIGEST_LEN + 1 + PKI_SECRET_LEN)

enum pki_role {
	PKI_ROLE_WORKER = 0,
	PKI_ROLE_MANAGER = 1,
};

/* "swarm-worker" / "swarm-manager" (the certificate's OU), or NULL. */
const char *pki_role_name(enum pki_role role);

/* Who a node certificate is for. */
struct pki_identity {
	char node_id[PKI_ID_MAX + 1];    /* subject CN */
	enum pki_role role;              /* subject OU */
	char cluster_id[PKI_ID_MAX + 1]; /* subject O */
};

/* Fills id after checking every field. */
int pki_identity_set(struct pki_identity *id, const char *node_id,
		     enum pki_role role, const char *cluster_id, char *err,
		     size_t errlen);

/* ---- randomness ---- */

struct pki_rng;

/* CTR_DRBG seeded from the system entropy sources. */
int pki_rng_new(struct pki_rng **out, char *err, size_t errlen);
/* CTR_DRBG whose entropy is derived from seed only: the same seed gives
 * the same keys, serials and secrets. For tests and fuzzing only. */
int pki_rng_new_deterministic(const void *seed, size_t seed_len,
			      struct pki_rng **out, char *err, size_t errlen);
void pki_rng_free(struct pki_rng *rng);
int pki_rng_bytes(struct pki_rng *rng, void *buf, size_t len, char *err,
		  size_t errlen);

/* ---- private keys (ECDSA P-256) ---- */

struct pki_key;

int pki_key_generate(struct pki_rng *rng, struct pki_key **out, char *err,
		     size_t errlen);
/* PEM (SEC1) file, written atomically with mode 0600. */
int pki_key_save(const struct pki_key *key, const char *path, char *err,
		 size_t errlen);
int pki_key_load(const char *path, struct pki_key **out, char *err,
		 size_t errlen);
void pki_key_free(struct pki_key *key);

/* ---- certificates ---- */

struct pki_cert;

/* What a certificate says about its node, once pki_cert_verify accepted it
 * (or, unchecked, pki_cert_read_info). Times in seconds since the epoch. */
struct pki_cert_info {
	struct pki_identity id;
	int64_t not_before;
	int64_t not_after;
};

/* Exactly one PEM certificate; pem need not be NUL-terminated. */
int pki_cert_parse(const char *pem, size_t len, struct pki_cert **out,
		   char *err, size_t errlen);
int pki_cert_load(const char *path, struct pki_cert **out, char *err,
		  size_t errlen);
/* Written atomically with mode 0644. */
int pki_cert_save(const struct pki_cert *cert, const char *path, char *err,
		  size_t errlen);
void pki_cert_free(struct pki_cert *cert);
/* The certificate as PEM text, NUL-terminated, owned by cert. */
const char *pki_cert_pem(const struct pki_cert *cert);
/* out: PKI_DIGEST_LEN base36 characters and a NUL. */
void pki_cert_digest(const struct pki_cert *cert, char out[PKI_DIGEST_LEN + 1]);
/* Whether key is the private half of cert's public key. */
bool pki_cert_matches_key(const struct pki_cert *cert,
			  const struct pki_key *key);

/* Accepts cert only if ca_cert signed it, both are valid at time now, cert
 * is not itself a CA, and its subject is a well-formed node identity
 * (CN = node id, OU = swarm-worker|swarm-manager, O = cluster id); info
 * (may be NULL) receives that identity and the validity period. */
int pki_cert_verify(const struct pki_cert *ca_cert,
		    const struct pki_cert *cert, int64_t now,
		    struct pki_cert_info *info, char *err, size_t errlen);
/* The same fields without any check of signature or time. */
int pki_cert_read_info(const struct pki_cert *cert,
		       struct pki_cert_info *info, char *err, size_t errlen);
/* True when less than remaining_percent (0..100) of the validity period
 * is left at time now, or the certificate has expired. Swarm renews at
 * a random point between 50% and 80% of the period elapsed, i.e. with a
 * remaining_percent between 50 and 20. */
bool pki_cert_needs_renewal(const struct pki_cert_info *info, int64_t now,
			    unsigned remaining_percent);

/* When to ask for a new certificate: after permille/1000 of the period
 * from issuance (not_before + PKI_CERT_BACKDATE) to not_after. orchd picks
 * permille at random in 500..800 once per certificate, as Swarm does, so
 * that nodes do not all renew at the same moment. */
int64_t pki_cert_renew_time(const struct pki_cert_info *info,
			    unsigned permille);

/* ---- certificate signing requests (on the node) ---- */

/* A PEM CSR for key with subject CN=node id, OU=role, O=cluster id.
 * *pem_out is NUL-terminated, freed by the caller with free(). */
int pki_csr_make(const struct pki_key *key, const struct pki_identity *id,
		 struct pki_rng *rng, char **pem_out, char *err,
		 size_t errlen);

/* ---- the cluster CA (on managers) ---- */

struct pki_ca;

/* A self-signed CA (CN=swarm-ca, ECDSA P-256, SHA-256) valid from
 * now - PKI_CERT_BACKDATE for validity seconds (0: 20 years). */
int pki_ca_generate(struct pki_rng *rng, int64_t now, int64_t validity,
		    struct pki_ca **out, char *err, size_t errlen);
/* dir/PKI_CA_CERT_FILE (0644) and dir/PKI_CA_KEY_FILE (0600); dir must
 * exist. */
int pki_ca_save(const struct pki_ca *ca, const char *dir, char *err,
		size_t errlen);
/* Loads both files and checks that the key matches the certificate and
 * that the certificate is a CA. */
int pki_ca_load(const char *dir, struct pki_ca **out, char *err,
		size_t errlen);
void pki_ca_free(struct pki_ca *ca);
/* Owned by ca. */
const struct pki_cert *pki_ca_cert(const struct pki_ca *ca);

/* Issues a node certificate for the public key of csr_pem (whose own
 * signature is checked: the requester holds the private key). As in Swarm,
 * only the key is taken from the CSR: subject, role and validity come from
 * the CA's side (id, validity seconds, 0: 90 days, cut to the CA's own
 * expiry), never from the requester. The certificate carries a random
 * 127-bit serial, the subject CN=node id, OU=role, O=cluster id,
 * subjectAltName DNS:<node id>, DNS:<role>, and is usable for TLS server
 * and client authentication. */
int pki_ca_sign_csr(const struct pki_ca *ca, struct pki_rng *rng,
		    const char *csr_pem, size_t csr_len,
		    const struct pki_identity *id, int64_t now,
		    int64_t validity, struct pki_cert **out, char *err,
		    size_t errlen);

/* ---- join tokens ---- */

/* The manager's current join secrets, replicated with the cluster state.
 * Each is PKI_SECRET_LEN base36 characters. */
struct pki_join_secrets {
	char worker[PKI_SECRET_LEN + 1];
	char manager[PKI_SECRET_LEN + 1];
};

/* A token taken apart by pki_token_parse. */
struct pki_token {
	char digest[PKI_DIGEST_LEN + 1];
	char secret[PKI_SECRET_LEN + 1];
};

/* Fresh, distinct worker and manager secrets. */
int pki_join_secrets_generate(struct pki_rng *rng, struct pki_join_secrets *s,
			      char *err, size_t errlen);
/* Replaces one role's secret: tokens made from the old one stop working. */
int pki_join_secrets_rotate(struct pki_join_secrets *s, enum pki_role role,
			    struct pki_rng *rng, char *err, size_t errlen);
/* The token a node of role joins with (what `docker swarm join-token`
 * prints): out receives PKI_TOKEN_LEN characters and a NUL. */
int pki_token_make(const char *ca_digest, const struct pki_join_secrets *s,
		   enum pki_role role, char out[PKI_TOKEN_LEN + 1], char *err,
		   size_t errlen);
/* Strict: the prefix, the version, both lengths and the base36 alphabet
 * (lower case) are checked, and err names the first thing wrong. */
int pki_token_parse(const char *token, struct pki_token *out, char *err,
		    size_t errlen);
/* Manager side: accepts token only if it names this CA (ca_digest) and
 * carries the current worker or manager secret (compared in constant
 * time); *role receives which one. */
int pki_token_check(const struct pki_join_secrets *s, const char *ca_digest,
		    const char *token, enum pki_role *role, char *err,
		    size_t errlen);
/* Joining side: accepts the CA certificate a manager presented only if its
 * digest is the one in token. */
int pki_token_check_ca(const char *token, const struct pki_cert *ca_cert,
		       char *err, size_t errlen);

#endif

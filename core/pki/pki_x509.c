/*
 * pki_x509.c: identities, key pairs and certificates (parsing, checks), with
 * mbed TLS (never an external openssl). Owns the objects it returns:
 * struct pki_key (an ECDSA P-256 key pair), struct pki_cert (one parsed
 * certificate and its PEM text) and struct pki_ca (the CA certificate and
 * its key). Times are parameters, never read from a clock; chain checks
 * use mbed TLS and ignore its own clock, validity is checked here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_csr.h>

#include "pki_internal.h"


static const char *const pki_role_names[] = {
	[PKI_ROLE_WORKER] = "swarm-worker",
	[PKI_ROLE_MANAGER] = "swarm-manager",
};
#define PKI_N_ROLES (sizeof(pki_role_names) / sizeof(pki_role_names[0]))

const char *pki_role_name(enum pki_role role)
{
	if ((unsigned)role >= PKI_N_ROLES)
		return NULL;
	return pki_role_names[role];
}

static int pki_role_from_name(const char *name, size_t len,
			      enum pki_role *role)
{
	for (unsigned i = 0; i < PKI_N_ROLES; i++) {
		if (strlen(pki_role_names[i]) == len &&
		    memcmp(pki_role_names[i], name, len) == 0) {
			*role = (enum pki_role)i;
			return 0;
		}
	}
	return -1;
}

mbedtls_pk_context *pki_key_pk(const struct pki_key *key)
{
	return (mbedtls_pk_context *)&key->pk;
}

mbedtls_x509_crt *pki_cert_crt(const struct pki_cert *cert)
{
	return (mbedtls_x509_crt *)&cert->crt;
}

/* ---- identities ---- */

static int pki_id_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Node and cluster ids end up in a subject DN string: the restricted
 * alphabet keeps ',', '=', '\\' and '+' out of it. */
static int pki_id_check(const char *what, const char *s, size_t len,
			char *err, size_t errlen)
{
	if (len == 0)
		return pki_fail(err, errlen, "pki: %s is empty", what);
	if (len > PKI_ID_MAX)
		return pki_fail(err, errlen,
				"pki: %s is %zu characters long (max %d)", what,
				len, PKI_ID_MAX);
	for (size_t i = 0; i < len; i++) {
		if (!pki_id_char_ok((unsigned char)s[i]))
			return pki_fail(err, errlen,
					"pki: %s has invalid character 0x%02x at "
					"position %zu (allowed: A-Z a-z 0-9 . _ -)",
					what, (unsigned char)s[i], i);
	}
	return 0;
}

int pki_identity_check(const struct pki_identity *id, char *err,
			      size_t errlen)
{
	if (pki_id_check("node id", id->node_id,
			 strnlen(id->node_id, sizeof(id->node_id)), err,
			 errlen) != 0 ||
	    pki_id_check("cluster id", id->cluster_id,
			 strnlen(id->cluster_id, sizeof(id->cluster_id)), err,
			 errlen) != 0)
		return -1;
	if (pki_role_name(id->role) == NULL)
		return pki_fail(err, errlen, "pki: unknown role %d",
				(int)id->role);
	return 0;
}

int pki_identity_set(struct pki_identity *id, const char *node_id,
		     enum pki_role role, const char *cluster_id, char *err,
		     size_t errlen)
{
	memset(id, 0, sizeof(*id));
	if (node_id == NULL || cluster_id == NULL)
		return pki_fail(err, errlen, "pki: node id or cluster id is NULL");
	if (pki_id_check("node id", node_id, strlen(node_id), err, errlen) != 0 ||
	    pki_id_check("cluster id", cluster_id, strlen(cluster_id), err,
			 errlen) != 0)
		return -1;
	if (pki_role_name(role) == NULL)
		return pki_fail(err, errlen, "pki: unknown role %d", (int)role);
	memcpy(id->node_id, node_id, strlen(node_id) + 1);
	memcpy(id->cluster_id, cluster_id, strlen(cluster_id) + 1);
	id->role = role;
	return 0;
}

void pki_identity_dn(const struct pki_identity *id, char *buf,
			    size_t size)
{
	snprintf(buf, size, "CN=%s,OU=%s,O=%s", id->node_id,
		 pki_role_name(id->role), id->cluster_id);
}

/* ---- time ---- */

int pki_time_to_x509(int64_t t, char out[PKI_X509_TIME_LEN],
			    char *err, size_t errlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    tm.tm_year + 1900 < 1950 || tm.tm_year + 1900 > 9999)
		return pki_fail(err, errlen,
				"pki: time %lld is outside years 1950..9999",
				(long long)t);
	snprintf(out, PKI_X509_TIME_LEN, "%04d%02d%02d%02d%02d%02d",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
	return 0;
}

int64_t pki_time_from_x509(const mbedtls_x509_time *x)
{
	struct tm tm = {
		.tm_year = x->year - 1900,
		.tm_mon = x->mon - 1,
		.tm_mday = x->day,
		.tm_hour = x->hour,
		.tm_min = x->min,
		.tm_sec = x->sec,
	};

	return (int64_t)timegm(&tm);
}

/* For messages: 2024-05-01T12:00:00Z. */
static void pki_time_text(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(buf, size, "%lld", (long long)t);
		return;
	}
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- keys ---- */

int pki_key_generate(struct pki_rng *rng, struct pki_key **out, char *err,
		     size_t errlen)
{
	struct pki_key *key = calloc(1, sizeof(*key));
	int ret;

	*out = NULL;
	if (key == NULL)
		return pki_fail(err, errlen, "pki: out of memory");
	mbedtls_pk_init(&key->pk);
	ret = mbedtls_pk_setup(&key->pk,
			       mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (ret == 0)
		ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
					  mbedtls_pk_ec(key->pk), pki_rng_fill,
					  rng);
	if (ret != 0) {
		pki_key_free(key);
		return pki_fail_mbed(err, errlen, ret,
				     "pki: cannot generate a P-256 key");
	}
	*out = key;
	return 0;
}

void pki_key_free(struct pki_key *key)
{
	if (key == NULL)
		return;
	mbedtls_pk_free(&key->pk);
	free(key);
}

/* ---- certificates ---- */

int pki_cert_parse(const char *pem, size_t len, struct pki_cert **out,
		   char *err, size_t errlen)
{
	struct pki_cert *cert;
	int ret;

	*out = NULL;
	if (pem == NULL || len == 0 || memchr(pem, '\0', len) != NULL ||
	    strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL)
		return pki_fail(err, errlen,
				"pki: not a PEM certificate (no BEGIN CERTIFICATE)");
	cert = calloc(1, sizeof(*cert));
	if (cert == NULL)
		return pki_fail(err, errlen, "pki: out of memory");
	mbedtls_x509_crt_init(&cert->crt);
	cert->pem = strndup(pem, len);
	if (cert->pem == NULL) {
		pki_cert_free(cert);
		return pki_fail(err, errlen, "pki: out of memory");
	}
	/* PEM input must include its NUL in the length. */
	ret = mbedtls_x509_crt_parse(&cert->crt, (const unsigned char *)cert->pem,
				     len + 1);
	if (ret != 0) {
		pki_cert_free(cert);
		if (ret > 0)
			return pki_fail(err, errlen,
					"pki: %d certificate(s) in the PEM text "
					"could not be parsed", ret);
		return pki_fail_mbed(err, errlen, ret,
				     "pki: invalid certificate");
	}
	if (cert->crt.next != NULL) {
		pki_cert_free(cert);
		return pki_fail(err, errlen,
				"pki: expected one certificate, found several");
	}
	*out = cert;
	return 0;
}

void pki_cert_free(struct pki_cert *cert)
{
	if (cert == NULL)
		return;
	mbedtls_x509_crt_free(&cert->crt);
	free(cert->pem);
	free(cert);
}

const char *pki_cert_pem(const struct pki_cert *cert)
{
	return cert->pem;
}

bool pki_cert_matches_key(const struct pki_cert *cert,
			  const struct pki_key *key)
{
	return mbedtls_pk_check_pair(&cert->crt.pk, &key->pk) == 0;
}

/* Copies one subject attribute value, checked as an id. */
static int pki_name_value(const char *what, const mbedtls_x509_name *n,
			  char *out, size_t size, int *seen, char *err,
			  size_t errlen)
{
	if (*seen)
		return pki_fail(err, errlen,
				"pki: certificate subject has several %s", what);
	*seen = 1;
	if (n->val.len >= size)
		return pki_fail(err, errlen,
				"pki: certificate %s is %zu bytes long (max %zu)",
				what, n->val.len, size - 1);
	memcpy(out, n->val.p, n->val.len);
	out[n->val.len] = '\0';
	return 0;
}

static int pki_subject_identity(const mbedtls_x509_name *subject,
				struct pki_identity *id, char *err,
				size_t errlen)
{
	char role[PKI_ID_MAX + 1] = "";
	int seen_cn = 0, seen_ou = 0, seen_o = 0;
	int rc = 0;

	memset(id, 0, sizeof(*id));
	for (const mbedtls_x509_name *n = subject; n != NULL && rc == 0; n = n->next) {
		if (n->oid.p == NULL)
			continue;
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
			rc = pki_name_value("CN", n, id->node_id,
					    sizeof(id->node_id), &seen_cn, err,
					    errlen);
		else if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORG_UNIT, &n->oid) == 0)
			rc = pki_name_value("OU", n, role, sizeof(role),
					    &seen_ou, err, errlen);
		else if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &n->oid) == 0)
			rc = pki_name_value("O", n, id->cluster_id,
					    sizeof(id->cluster_id), &seen_o, err,
					    errlen);
	}
	if (rc != 0)
		return -1;
	if (!seen_cn || !seen_ou || !seen_o)
		return pki_fail(err, errlen,
				"pki: certificate subject lacks %s (a node "
				"certificate has CN, OU and O)",
				!seen_cn ? "CN" : !seen_ou ? "OU" : "O");
	if (pki_role_from_name(role, strlen(role), &id->role) != 0)
		return pki_fail(err, errlen,
				"pki: certificate OU \"%s\" is not a role "
				"(swarm-worker or swarm-manager)", role);
	return pki_identity_check(id, err, errlen);
}

int pki_cert_read_info(const struct pki_cert *cert,
		       struct pki_cert_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof(*info));
	if (pki_subject_identity(&cert->crt.subject, &info->id, err, errlen) != 0)
		return -1;
	info->not_before = pki_time_from_x509(&cert->crt.valid_from);
	info->not_after = pki_time_from_x509(&cert->crt.valid_to);
	return 0;
}

static int pki_check_time(const char *what, const mbedtls_x509_crt *crt,
			  int64_t now, char *err, size_t errlen)
{
	int64_t from = pki_time_from_x509(&crt->valid_from);
	int64_t to = pki_time_from_x509(&crt->valid_to);
	char when[32];

	if (now < from) {
		pki_time_text(from, when, sizeof(when));
		return pki_fail(err, errlen, "pki: %s is not valid before %s",
				what, when);
	}
	if (now > to) {
		pki_time_text(to, when, sizeof(when));
		return pki_fail(err, errlen, "pki: %s expired at %s", what,
				when);
	}
	return 0;
}

/* Signature chain only: mbed TLS's own clock checks are masked out. */
static int pki_check_chain(const struct pki_cert *ca_cert,
			   const struct pki_cert *cert, char *err,
			   size_t errlen)
{
	const uint32_t clock_flags = MBEDTLS_X509_BADCERT_EXPIRED |
				     MBEDTLS_X509_BADCERT_FUTURE;
	uint32_t flags = 0;
	char why[256];
	int ret;

	ret = mbedtls_x509_crt_verify(pki_cert_crt(cert), pki_cert_crt(ca_cert),
				      NULL, NULL, &flags, NULL, NULL);
	if (ret != 0 && ret != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
		return pki_fail_mbed(err, errlen, ret,
				     "pki: cannot verify the certificate");
	flags &= ~clock_flags;
	if (flags != 0) {
		mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags);
		why[strcspn(why, "\n")] = '\0';
		return pki_fail(err, errlen,
				"pki: certificate not issued by this cluster CA "
				"(%s)", why);
	}
	return 0;
}

int pki_cert_verify(const struct pki_cert *ca_cert,
		    const struct pki_cert *cert, int64_t now,
		    struct pki_cert_info *info, char *err, size_t errlen)
{
	struct pki_cert_info local;

	if (!ca_cert->crt.ca_istrue)
		return pki_fail(err, errlen,
				"pki: the trusted certificate is not a CA");
	if (cert->crt.ca_istrue)
		return pki_fail(err, errlen,
				"pki: a CA certificate is not a node certificate");
	if (pki_check_chain(ca_cert, cert, err, errlen) != 0 ||
	    pki_check_time("CA certificate", &ca_cert->crt, now, err,
			   errlen) != 0 ||
	    pki_check_time("certificate", &cert->crt, now, err, errlen) != 0)
		return -1;
	return pki_cert_read_info(cert, info != NULL ? info : &local, err,
				  errlen);
}

bool pki_cert_needs_renewal(const struct pki_cert_info *info, int64_t now,
			    unsigned remaining_percent)
{
	int64_t total = info->not_after - info->not_before;
	int64_t remaining;

	if (total <= 0 || now >= info->not_after)
		return true;
	if (now <= info->not_before) /* all of it remains */
		return false;
	if (remaining_percent > 100)
		remaining_percent = 100;
	remaining = info->not_after - now;
	/* remaining / total < percent / 100, without rounding. */
	return remaining * 100 < total * (int64_t)remaining_percent;
}

/* The validity counted from issuance: not_before is backdated by
 * PKI_CERT_BACKDATE, which is not part of the period a node may use. */
int64_t pki_cert_renew_time(const struct pki_cert_info *info,
			    unsigned permille)
{
	int64_t issued = info->not_before;
	if (info->not_after - info->not_before > PKI_CERT_BACKDATE)
		issued += PKI_CERT_BACKDATE;
	if (permille > 1000)
		permille = 1000;
	int64_t period = info->not_after - issued;
	if (period <= 0)
		return info->not_after;
	return issued + period / 1000 * (int64_t)permille +
	       period % 1000 * (int64_t)permille / 1000;
}

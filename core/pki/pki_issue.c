/*
 * pki_issue.c: writing certificates: CSRs, the CA (generated once at `swarm
 * init`) and the CA's signing of node certificates, with mbed TLS. Owns
 * struct pki_ca. Times are parameters, never read from a clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_csr.h>

#include "pki_internal.h"

/* Largest PEM certificate or CSR this library writes (they are ~700 B). */
#define PKI_PEM_MAX 4096

/* ---- writing certificates ---- */

/* What differs between the CA's own certificate and a node's. */
struct pki_issue {
	const char *subject;              /* DN string */
	const char *issuer;               /* DN string */
	mbedtls_pk_context *subject_key;  /* public part used */
	mbedtls_pk_context *issuer_key;   /* signs */
	int64_t not_before;
	int64_t not_after;
	const struct pki_identity *node;  /* NULL: the CA certificate */
};

static int pki_set_serial(mbedtls_x509write_cert *w, struct pki_rng *rng,
			  char *err, size_t errlen)
{
	unsigned char raw[16];
	mbedtls_mpi serial;
	int ret;

	if (pki_rng_bytes(rng, raw, sizeof(raw), err, errlen) != 0)
		return -1;
	raw[0] &= 0x7f; /* positive */
	raw[0] |= 0x40; /* and never zero */
	mbedtls_mpi_init(&serial);
	ret = mbedtls_mpi_read_binary(&serial, raw, sizeof(raw));
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_serial(w, &serial);
	mbedtls_mpi_free(&serial);
	if (ret != 0)
		return pki_fail_mbed(err, errlen, ret, "pki: cannot set serial");
	return 0;
}

/* Puts the length and tag in front of the *len bytes that start at *p
 * (ASN.1 written backwards into buf, as mbedtls does); *len grows by what
 * was written. 0 or a negative mbedtls error. */
static int pki_asn1_wrap(unsigned char **p, unsigned char *buf, size_t *len,
			 unsigned char tag)
{
	int ret;

	if ((ret = mbedtls_asn1_write_len(p, buf, *len)) < 0)
		return ret;
	*len += (size_t)ret;
	if ((ret = mbedtls_asn1_write_tag(p, buf, tag)) < 0)
		return ret;
	*len += (size_t)ret;
	return 0;
}

/* Wraps the len bytes at p in a SEQUENCE and sets them as extension oid. */
static int pki_set_sequence_ext(mbedtls_x509write_cert *w, const char *oid,
				size_t oid_len, unsigned char *buf,
				unsigned char *p, size_t len)
{
	int ret = pki_asn1_wrap(&p, buf, &len, MBEDTLS_ASN1_CONSTRUCTED |
						       MBEDTLS_ASN1_SEQUENCE);

	if (ret < 0)
		return ret;
	return mbedtls_x509write_crt_set_extension(w, oid, oid_len, 0, p, len);
}

/* subjectAltName: SEQUENCE { [2] dNSName node id, [2] dNSName role }. */
static int pki_set_san(mbedtls_x509write_cert *w, const struct pki_identity *id)
{
	const char *names[] = { pki_role_name(id->role), id->node_id };
	unsigned char buf[256];
	unsigned char *p = buf + sizeof(buf);
	size_t len = 0;
	int ret;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t one;

		if ((ret = mbedtls_asn1_write_raw_buffer(
			     &p, buf, (const unsigned char *)names[i],
			     strlen(names[i]))) < 0)
			return ret;
		one = (size_t)ret;
		if ((ret = pki_asn1_wrap(&p, buf, &one,
					 MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)) < 0)
			return ret;
		len += one;
	}
	return pki_set_sequence_ext(w, MBEDTLS_OID_SUBJECT_ALT_NAME,
				    MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
				    buf, p, len);
}

/* extKeyUsage: SEQUENCE { serverAuth, clientAuth } (mutual TLS). */
static int pki_set_ext_key_usage(mbedtls_x509write_cert *w)
{
	static const struct {
		const char *oid;
		size_t len;
	} purposes[] = {
		/* Written backwards: clientAuth ends up second. */
		{ MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH) },
		{ MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH) },
	};
	unsigned char buf[64];
	unsigned char *p = buf + sizeof(buf);
	size_t len = 0;
	int ret;

	for (size_t i = 0; i < sizeof(purposes) / sizeof(purposes[0]); i++) {
		if ((ret = mbedtls_asn1_write_oid(&p, buf, purposes[i].oid,
						  purposes[i].len)) < 0)
			return ret;
		len += (size_t)ret;
	}
	return pki_set_sequence_ext(
		w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
		MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), buf, p, len);
}

static int pki_set_extensions(mbedtls_x509write_cert *w,
			      const struct pki_identity *node)
{
	int ret;

	if (node == NULL) {
		ret = mbedtls_x509write_crt_set_basic_constraints(w, 1, -1);
		if (ret == 0)
			ret = mbedtls_x509write_crt_set_key_usage(
				w, MBEDTLS_X509_KU_KEY_CERT_SIGN |
					   MBEDTLS_X509_KU_CRL_SIGN);
	} else {
		ret = mbedtls_x509write_crt_set_basic_constraints(w, 0, 0);
		if (ret == 0)
			ret = mbedtls_x509write_crt_set_key_usage(
				w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE |
					   MBEDTLS_X509_KU_KEY_ENCIPHERMENT);
		if (ret == 0)
			ret = pki_set_ext_key_usage(w);
		if (ret == 0)
			ret = pki_set_san(w, node);
	}
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_subject_key_identifier(w);
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_authority_key_identifier(w);
	return ret;
}

static int pki_set_validity(mbedtls_x509write_cert *w, int64_t from,
			    int64_t to, char *err, size_t errlen)
{
	char not_before[PKI_X509_TIME_LEN];
	char not_after[PKI_X509_TIME_LEN];
	int ret;

	if (pki_time_to_x509(from, not_before, err, errlen) != 0 ||
	    pki_time_to_x509(to, not_after, err, errlen) != 0)
		return -1;
	ret = mbedtls_x509write_crt_set_validity(w, not_before, not_after);
	if (ret != 0)
		return pki_fail_mbed(err, errlen, ret,
				     "pki: cannot set the validity period");
	return 0;
}

static int pki_fill_writer(mbedtls_x509write_cert *w,
			   const struct pki_issue *is, struct pki_rng *rng,
			   char *err, size_t errlen)
{
	int ret;

	mbedtls_x509write_crt_set_version(w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(w, is->subject_key);
	mbedtls_x509write_crt_set_issuer_key(w, is->issuer_key);
	if (pki_set_serial(w, rng, err, errlen) != 0 ||
	    pki_set_validity(w, is->not_before, is->not_after, err, errlen) != 0)
		return -1;
	ret = mbedtls_x509write_crt_set_subject_name(w, is->subject);
	if (ret == 0)
		ret = mbedtls_x509write_crt_set_issuer_name(w, is->issuer);
	if (ret == 0)
		ret = pki_set_extensions(w, is->node);
	if (ret != 0)
		return pki_fail_mbed(err, errlen, ret,
				     "pki: cannot build the certificate");
	return 0;
}

static int pki_issue(const struct pki_issue *is, struct pki_rng *rng,
		     struct pki_cert **out, char *err, size_t errlen)
{
	mbedtls_x509write_cert w;
	unsigned char pem[PKI_PEM_MAX];
	int ret;

	*out = NULL;
	mbedtls_x509write_crt_init(&w);
	if (pki_fill_writer(&w, is, rng, err, errlen) != 0) {
		mbedtls_x509write_crt_free(&w);
		return -1;
	}
	ret = mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), pki_rng_fill, rng);
	mbedtls_x509write_crt_free(&w);
	if (ret != 0)
		return pki_fail_mbed(err, errlen, ret,
				     "pki: cannot sign the certificate");
	return pki_cert_parse((const char *)pem, strlen((const char *)pem), out,
			      err, errlen);
}

/* not_before = now - backdate, not_after = now + validity. */
static int pki_validity_period(int64_t now, int64_t validity,
			       int64_t fallback, int64_t *from, int64_t *to,
			       char *err, size_t errlen)
{
	if (validity == 0)
		validity = fallback;
	if (validity < 0)
		return pki_fail(err, errlen,
				"pki: negative validity %lld seconds",
				(long long)validity);
	if (now > INT64_MAX - validity)
		return pki_fail(err, errlen, "pki: validity period overflows");
	*from = now - PKI_CERT_BACKDATE;
	*to = now + validity;
	return 0;
}

/* ---- CSRs ---- */

int pki_csr_make(const struct pki_key *key, const struct pki_identity *id,
		 struct pki_rng *rng, char **pem_out, char *err,
		 size_t errlen)
{
	mbedtls_x509write_csr w;
	unsigned char pem[PKI_PEM_MAX];
	char dn[3 * PKI_ID_MAX + 32];
	int ret;

	*pem_out = NULL;
	if (pki_identity_check(id, err, errlen) != 0)
		return -1;
	pki_identity_dn(id, dn, sizeof(dn));
	mbedtls_x509write_csr_init(&w);
	mbedtls_x509write_csr_set_key(&w, pki_key_pk(key));
	mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
	ret = mbedtls_x509write_csr_set_subject_name(&w, dn);
	if (ret == 0)
		ret = mbedtls_x509write_csr_pem(&w, pem, sizeof(pem),
						pki_rng_fill, rng);
	mbedtls_x509write_csr_free(&w);
	if (ret != 0)
		return pki_fail_mbed(err, errlen, ret, "pki: cannot write the CSR");
	*pem_out = strdup((const char *)pem);
	if (*pem_out == NULL)
		return pki_fail(err, errlen, "pki: out of memory");
	return 0;
}

/* Proof of possession: the CSR is signed by the key it carries. */
static int pki_csr_check_signature(mbedtls_x509_csr *csr, char *err,
				   size_t errlen)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(csr->sig_md);
	unsigned char hash[MBEDTLS_MD_MAX_SIZE];
	int ret;

	if (md == NULL)
		return pki_fail(err, errlen,
				"pki: CSR uses an unsupported digest");
	ret = mbedtls_md(md, csr->cri.p, csr->cri.len, hash);
	if (ret == 0)
		ret = mbedtls_pk_verify_ext(csr->sig_pk, csr->sig_opts, &csr->pk,
					    csr->sig_md, hash,
					    mbedtls_md_get_size(md), csr->sig.p,
					    csr->sig.len);
	if (ret != 0)
		return pki_fail_mbed(err, errlen, ret,
				     "pki: CSR signature does not verify");
	return 0;
}

static int pki_csr_parse(const char *pem, size_t len, mbedtls_x509_csr *csr,
			 char *err, size_t errlen)
{
	char *copy;
	int ret;

	if (pem == NULL || len == 0 || memchr(pem, '\0', len) != NULL)
		return pki_fail(err, errlen, "pki: empty or binary CSR");
	copy = strndup(pem, len);
	if (copy == NULL)
		return pki_fail(err, errlen, "pki: out of memory");
	ret = mbedtls_x509_csr_parse(csr, (const unsigned char *)copy, len + 1);
	free(copy);
	if (ret != 0)
		return pki_fail_mbed(err, errlen, ret, "pki: invalid CSR");
	if (!mbedtls_pk_can_do(&csr->pk, MBEDTLS_PK_ECKEY) ||
	    mbedtls_pk_ec(csr->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return pki_fail(err, errlen, "pki: CSR key is not ECDSA P-256");
	return pki_csr_check_signature(csr, err, errlen);
}

/* ---- the CA ---- */

int pki_ca_generate(struct pki_rng *rng, int64_t now, int64_t validity,
		    struct pki_ca **out, char *err, size_t errlen)
{
	struct pki_ca *ca = calloc(1, sizeof(*ca));
	struct pki_issue is = {
		.subject = "CN=" PKI_CA_CN,
		.issuer = "CN=" PKI_CA_CN,
	};

	*out = NULL;
	if (ca == NULL)
		return pki_fail(err, errlen, "pki: out of memory");
	if (pki_validity_period(now, validity, PKI_CA_VALIDITY_DEFAULT,
				&is.not_before, &is.not_after, err, errlen) != 0 ||
	    pki_key_generate(rng, &ca->key, err, errlen) != 0) {
		pki_ca_free(ca);
		return -1;
	}
	is.subject_key = &ca->key->pk;
	is.issuer_key = &ca->key->pk;
	if (pki_issue(&is, rng, &ca->cert, err, errlen) != 0) {
		pki_ca_free(ca);
		return -1;
	}
	*out = ca;
	return 0;
}

void pki_ca_free(struct pki_ca *ca)
{
	if (ca == NULL)
		return;
	pki_cert_free(ca->cert);
	pki_key_free(ca->key);
	free(ca);
}

const struct pki_cert *pki_ca_cert(const struct pki_ca *ca)
{
	return ca->cert;
}

int pki_ca_sign_csr(const struct pki_ca *ca, struct pki_rng *rng,
		    const char *csr_pem, size_t csr_len,
		    const struct pki_identity *id, int64_t now,
		    int64_t validity, struct pki_cert **out, char *err,
		    size_t errlen)
{
	struct pki_issue is = { .node = id, .issuer_key = pki_key_pk(ca->key) };
	char subject[3 * PKI_ID_MAX + 32];
	char issuer[256];
	mbedtls_x509_csr csr;
	int ret;

	*out = NULL;
	if (pki_identity_check(id, err, errlen) != 0 ||
	    pki_validity_period(now, validity, PKI_NODE_VALIDITY_DEFAULT,
				&is.not_before, &is.not_after, err, errlen) != 0)
		return -1;
	ret = mbedtls_x509_dn_gets(issuer, sizeof(issuer), &ca->cert->crt.subject);
	if (ret < 0)
		return pki_fail_mbed(err, errlen, ret,
				     "pki: cannot read the CA subject");
	/* A node certificate never outlives the CA that vouches for it. */
	if (is.not_after > pki_time_from_x509(&ca->cert->crt.valid_to))
		is.not_after = pki_time_from_x509(&ca->cert->crt.valid_to);
	pki_identity_dn(id, subject, sizeof(subject));
	is.subject = subject;
	is.issuer = issuer;
	mbedtls_x509_csr_init(&csr);
	if (pki_csr_parse(csr_pem, csr_len, &csr, err, errlen) != 0) {
		mbedtls_x509_csr_free(&csr);
		return -1;
	}
	is.subject_key = &csr.pk;
	ret = pki_issue(&is, rng, out, err, errlen);
	mbedtls_x509_csr_free(&csr);
	return ret;
}

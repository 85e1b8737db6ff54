/*
 * cluster_material.c: the cluster's PKI material on a manager (cluster.h,
 * manager side): the CA, this manager's key and certificate and the join
 * secrets made at `swarm init`, the join tokens and the hidden fields of
 * the cluster Spec, and the signing of joining and renewing nodes' CSRs.
 * No state of its own: everything lives in files of cert_dir and in the
 * Spec it is given.
 */
#include "cluster_internal.h"
#include "fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* Writes a node key and certificate into dir, each beside its final name
 * then renamed over it (a reader between the two renames may see a
 * mismatched pair: its TLS setup fails once and it tries again). */
static int save_node_pair(const char *dir, const struct pki_key *key,
			  const struct pki_cert *cert, char *err, size_t errlen)
{
	char key_tmp[700], cert_tmp[700], key_path[700], cert_path[700];
	snprintf(key_tmp, sizeof(key_tmp), "%s/%s.new", dir, PKI_NODE_KEY_FILE);
	snprintf(cert_tmp, sizeof(cert_tmp), "%s/%s.new", dir, PKI_NODE_CERT_FILE);
	snprintf(key_path, sizeof(key_path), "%s/%s", dir, PKI_NODE_KEY_FILE);
	snprintf(cert_path, sizeof(cert_path), "%s/%s", dir, PKI_NODE_CERT_FILE);
	if (pki_key_save(key, key_tmp, err, errlen) != 0 ||
	    pki_cert_save(cert, cert_tmp, err, errlen) != 0)
		return -1;
	if (rename(key_tmp, key_path) != 0 || rename(cert_tmp, cert_path) != 0) {
		snprintf(err, errlen, "cannot replace the node certificate in %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The manager's own key and certificate, signed by ca. */
static int make_manager_cert(const char *cert_dir, struct pki_ca *ca,
			     struct pki_rng *rng, const char *node_id,
			     const char *cluster_id, int64_t validity, char *err,
			     size_t errlen)
{
	struct pki_identity id;
	struct pki_key *key = NULL;
	struct pki_cert *cert = NULL;
	char *csr = NULL;
	int rc = -1;
	if (pki_identity_set(&id, node_id, PKI_ROLE_MANAGER, cluster_id, err, errlen) != 0 ||
	    pki_key_generate(rng, &key, err, errlen) != 0 ||
	    pki_csr_make(key, &id, rng, &csr, err, errlen) != 0 ||
	    pki_ca_sign_csr(ca, rng, csr, strlen(csr), &id, time(NULL), validity, &cert,
			    err, errlen) != 0)
		goto out;
	rc = save_node_pair(cert_dir, key, cert, err, errlen);
out:
	free(csr);
	pki_key_free(key);
	pki_cert_free(cert);
	return rc;
}

int cluster_material_make(const char *cert_dir, const char *node_id,
			  const char *cluster_id, json_t **ca_out,
			  json_t **secrets_out, char *err, size_t errlen)
{
	struct pki_rng *rng = NULL;
	struct pki_ca *ca = NULL;
	struct pki_join_secrets secrets;
	char path[700];
	char *cert_pem = NULL, *key_pem = NULL;
	int rc = -1;
	if (util_mkdir_p(cert_dir, 0700, err, errlen) != 0 || pki_rng_new(&rng, err, errlen) != 0 ||
	    pki_ca_generate(rng, time(NULL), 0, &ca, err, errlen) != 0 ||
	    pki_ca_save(ca, cert_dir, err, errlen) != 0 ||
	    make_manager_cert(cert_dir, ca, rng, node_id, cluster_id, 0, err, errlen) != 0 ||
	    pki_join_secrets_generate(rng, &secrets, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", cert_dir, PKI_CA_KEY_FILE);
	if (!(key_pem = util_read_file(path, err, errlen)))
		goto out;
	cert_pem = strdup(pki_cert_pem(pki_ca_cert(ca)));
	*ca_out = json_pack("{s:s,s:s}", "cert", cert_pem, "key", key_pem);
	*secrets_out = json_pack("{s:s,s:s}", "worker", secrets.worker, "manager",
				 secrets.manager);
	rc = 0;
out:
	free(cert_pem);
	free(key_pem);
	pki_ca_free(ca);
	pki_rng_free(rng);
	return rc;
}

static int spec_secrets(const json_t *spec, struct pki_join_secrets *s)
{
	json_t *hidden = json_object_get(spec, CLUSTER_SPEC_SECRETS);
	const char *w = cluster_jstr(hidden, "worker"), *m = cluster_jstr(hidden, "manager");
	if (!w || !m || strlen(w) != PKI_SECRET_LEN || strlen(m) != PKI_SECRET_LEN)
		return -1;
	snprintf(s->worker, sizeof(s->worker), "%s", w);
	snprintf(s->manager, sizeof(s->manager), "%s", m);
	return 0;
}

static int spec_ca_digest(const json_t *spec, char digest[PKI_DIGEST_LEN + 1])
{
	const char *pem = cluster_jstr(json_object_get(spec, CLUSTER_SPEC_CA), "cert");
	struct pki_cert *cert = NULL;
	char err[256];
	if (!pem || pki_cert_parse(pem, strlen(pem), &cert, err, sizeof(err)) != 0)
		return -1;
	pki_cert_digest(cert, digest);
	pki_cert_free(cert);
	return 0;
}

json_t *cluster_join_tokens(const json_t *spec)
{
	struct pki_join_secrets s;
	char digest[PKI_DIGEST_LEN + 1], worker[PKI_TOKEN_LEN + 1],
		manager[PKI_TOKEN_LEN + 1], err[256];
	if (spec_secrets(spec, &s) != 0 || spec_ca_digest(spec, digest) != 0 ||
	    pki_token_make(digest, &s, PKI_ROLE_WORKER, worker, err, sizeof(err)) != 0 ||
	    pki_token_make(digest, &s, PKI_ROLE_MANAGER, manager, err, sizeof(err)) != 0)
		return NULL;
	return json_pack("{s:s,s:s}", "Worker", worker, "Manager", manager);
}

json_t *cluster_spec_public(const json_t *spec)
{
	json_t *copy = json_deep_copy(spec);
	json_object_del(copy, CLUSTER_SPEC_CA);
	json_object_del(copy, CLUSTER_SPEC_SECRETS);
	return copy;
}

int cluster_rotate_secret(json_t *spec, bool manager, char *err, size_t errlen)
{
	struct pki_join_secrets s;
	struct pki_rng *rng = NULL;
	if (spec_secrets(spec, &s) != 0) {
		snprintf(err, errlen, "the swarm has no join secrets to rotate");
		return -1;
	}
	int rc = pki_rng_new(&rng, err, errlen) != 0 ||
			 pki_join_secrets_rotate(&s, manager ? PKI_ROLE_MANAGER : PKI_ROLE_WORKER,
						 rng, err, errlen) != 0
		 ? -1
		 : 0;
	pki_rng_free(rng);
	if (rc == 0)
		json_object_set_new(spec, CLUSTER_SPEC_SECRETS,
				    json_pack("{s:s,s:s}", "worker", s.worker, "manager",
					      s.manager));
	return rc;
}

int64_t cluster_cert_validity(const json_t *spec)
{
	json_int_t ns = json_integer_value(
		json_object_get(json_object_get(spec, "CAConfig"), "NodeCertExpiry"));
	return ns > 0 ? (int64_t)(ns / 1000000000) : 0;
}

/* Signs csr for node_id in role with the CA of cert_dir, for the spec's
 * certificate validity: {cert, ca, role}, plus the CA key for a manager
 * (a manager signs joins itself after a failover; the key is also in the
 * replicated cluster Spec). */
static json_t *sign_node(const char *cert_dir, const json_t *spec,
			 const char *cluster_id, const char *node_id,
			 enum pki_role role, const char *csr, char *err,
			 size_t errlen)
{
	struct pki_identity id;
	struct pki_rng *rng = NULL;
	struct pki_ca *ca = NULL;
	struct pki_cert *cert = NULL;
	json_t *reply = NULL;
	if (pki_identity_set(&id, node_id, role, cluster_id, err, errlen) == 0 &&
	    pki_rng_new(&rng, err, errlen) == 0 && pki_ca_load(cert_dir, &ca, err, errlen) == 0 &&
	    pki_ca_sign_csr(ca, rng, csr, strlen(csr), &id, time(NULL),
			    cluster_cert_validity(spec), &cert, err, errlen) == 0)
		reply = json_pack("{s:s,s:s,s:s}", "cert", pki_cert_pem(cert), "ca",
				  pki_cert_pem(pki_ca_cert(ca)), "role",
				  role == PKI_ROLE_MANAGER ? "manager" : "worker");
	const char *ca_key = cluster_jstr(json_object_get(spec, CLUSTER_SPEC_CA), "key");
	if (reply && role == PKI_ROLE_MANAGER && ca_key)
		json_object_set_new(reply, "ca_key", json_string(ca_key));
	pki_cert_free(cert);
	pki_ca_free(ca);
	pki_rng_free(rng);
	return reply;
}

json_t *cluster_join_sign(const char *cert_dir, const json_t *spec,
			  const char *cluster_id, const json_t *request,
			  char *err, size_t errlen)
{
	struct pki_join_secrets s;
	char digest[PKI_DIGEST_LEN + 1];
	const char *token = cluster_jstr(request, "token"), *csr = cluster_jstr(request, "csr");
	const char *node_id = cluster_jstr(request, "node_id");
	enum pki_role role;
	if (spec_secrets(spec, &s) != 0 || spec_ca_digest(spec, digest) != 0) {
		snprintf(err, errlen, "this manager has no cluster CA or join secrets");
		return NULL;
	}
	if (!token || !csr || !node_id) {
		snprintf(err, errlen, "join: token, csr and node_id are required");
		return NULL;
	}
	if (pki_token_check(&s, digest, token, &role, err, errlen) != 0)
		return NULL;
	return sign_node(cert_dir, spec, cluster_id, node_id, role, csr, err, errlen);
}

json_t *cluster_renew_sign(const char *cert_dir, const json_t *spec,
			   const char *cluster_id, const json_t *request,
			   bool manager, char *err, size_t errlen)
{
	const char *csr = cluster_jstr(request, "csr"), *node_id = cluster_jstr(request, "node_id");
	if (!csr || !node_id) {
		snprintf(err, errlen, "renew: csr and node_id are required");
		return NULL;
	}
	return sign_node(cert_dir, spec, cluster_id, node_id,
			 manager ? PKI_ROLE_MANAGER : PKI_ROLE_WORKER, csr, err, errlen);
}

int cluster_renew_self(const char *cert_dir, const json_t *spec,
		       const char *node_id, const char *cluster_id, char *err,
		       size_t errlen)
{
	struct pki_rng *rng = NULL;
	struct pki_ca *ca = NULL;
	int rc = -1;
	if (pki_rng_new(&rng, err, errlen) == 0 && pki_ca_load(cert_dir, &ca, err, errlen) == 0)
		rc = make_manager_cert(cert_dir, ca, rng, node_id, cluster_id,
				       cluster_cert_validity(spec), err, errlen);
	pki_ca_free(ca);
	pki_rng_free(rng);
	return rc;
}

int cluster_cert_renew_at(const char *pem, unsigned permille, int64_t *at,
			  char *err, size_t errlen)
{
	struct pki_cert *cert = NULL;
	struct pki_cert_info info;
	int rc = -1;
	if (pem && pki_cert_parse(pem, strlen(pem), &cert, err, errlen) == 0 &&
	    pki_cert_read_info(cert, &info, err, errlen) == 0) {
		*at = pki_cert_renew_time(&info, permille);
		rc = 0;
	} else if (!pem) {
		snprintf(err, errlen, "no certificate");
	}
	pki_cert_free(cert);
	return rc;
}


int cluster_read_material(const char *dir, char *pems[3], char *err,
			  size_t errlen)
{
	const char *files[3] = { PKI_CA_CERT_FILE, PKI_NODE_CERT_FILE, PKI_NODE_KEY_FILE };
	for (int i = 0; i < 3; i++) {
		char path[700];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (!(pems[i] = util_read_file(path, err, errlen))) {
			for (int j = 0; j < i; j++) {
				free(pems[j]);
				pems[j] = NULL;
			}
			return -1;
		}
	}
	return 0;
}

/*
 * cluster_join.c: a node's membership material (cluster.h, worker side):
 * `swarm join` (fetch the CA, check its digest against the token, CSR,
 * join, verify the certificate, save under data_root/swarm/worker), the
 * reload of that material after a restart and its removal at `swarm
 * leave`, a manager join's installation into the manager's cert_dir, and
 * the links a manager makes for itself (cluster_worker_for_manager,
 * cluster_worker_adopt). The link's state is struct cluster_worker
 * (cluster_internal.h); what it does once joined is cluster_worker.c.
 */
#include "cluster_internal.h"
#include "fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* The CA, node certificate and node key of dir become w's. */
static int worker_read_material(struct cluster_worker *w, const char *dir,
				char *err, size_t errlen)
{
	char *pems[3];
	if (cluster_read_material(dir, pems, err, errlen) != 0)
		return -1;
	w->ca_pem = pems[0];
	w->cert_pem = pems[1];
	w->key_pem = pems[2];
	return 0;
}

/* Fetches the CA and checks it against the token (no trust on first use). */
static int worker_fetch_ca(struct cluster_worker *w, const char *token,
			   struct pki_cert **ca, char *err, size_t errlen)
{
	char url[300], why[512];
	cluster_url(w->manager_addr, url, sizeof(url));
	if (cluster_net_fetch_ca(url, CLUSTER_FETCH_TIMEOUT_MS, &w->ca_pem, why,
				 sizeof(why)) != 0) {
		snprintf(err, errlen, "cannot reach the manager at %s: %s", w->manager_addr, why);
		return -1;
	}
	if (pki_cert_parse(w->ca_pem, strlen(w->ca_pem), ca, why, sizeof(why)) != 0 ||
	    pki_token_check_ca(token, *ca, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "the manager at %s presented a CA that does not match the join token: %s",
			 w->manager_addr, why);
		return -1;
	}
	return 0;
}

/* Sends the join request; fills the certificate and manager id. */
static int worker_join_call(struct cluster_worker *w, const char *token,
			    const char *csr, const char *hostname,
			    const json_t *body, char *err, size_t errlen)
{
	char url[300];
	struct cluster_net_client *cli = NULL;
	struct cluster_net_tls tls = { .ca_pem = w->ca_pem };
	cluster_url(w->manager_addr, url, sizeof(url));
	if (cluster_net_client_open(url, &tls, "swarm-manager", &cli, err, errlen) != 0)
		return -1;
	json_t *req = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "op", "join", "token", token,
				"csr", csr, "hostname", hostname, "advertise_addr",
				w->advertise_addr, "node_id", w->node_id);
	/* A would-be manager says where its raft listens and its raft id. */
	if (cluster_jstr(body, "OrchRaftID"))
		json_object_set_new(req, "raft_id", json_string(cluster_jstr(body, "OrchRaftID")));
	if (cluster_jstr(body, "OrchManagerAddr"))
		json_object_set_new(req, "manager_addr",
				    json_string(cluster_jstr(body, "OrchManagerAddr")));
	json_t *reply = NULL;
	int rc = cluster_net_call(cli, req, CLUSTER_JOIN_TIMEOUT_MS, &reply, err, errlen);
	cluster_net_client_close(cli);
	if (rc != 0)
		return -1;
	const char *e = cluster_jstr(reply, "error"), *cert = cluster_jstr(reply, "cert");
	if (e || !cert) {
		snprintf(err, errlen, "%s", e ? e : "the manager answered the join without a certificate");
		json_decref(reply);
		return -1;
	}
	w->cert_pem = strdup(cert);
	w->joined = json_pack("{s:O*,s:O*,s:O*}", "ca_key", json_object_get(reply, "ca_key"),
			      "leader_raft_id", json_object_get(reply, "leader_raft_id"),
			      "leader_addr", json_object_get(reply, "leader_addr"));
	if (json_is_array(json_object_get(reply, "managers")))
		json_array_extend(w->managers, json_object_get(reply, "managers"));
	snprintf(w->manager_node_id, sizeof(w->manager_node_id), "%s",
		 cluster_jstr(reply, "manager_node_id") ? cluster_jstr(reply, "manager_node_id") : "");
	json_decref(reply);
	return 0;
}

static int worker_join_steps(struct cluster_worker *w, const char *token,
			     const char *hostname, const json_t *body, char *err,
			     size_t errlen)
{
	struct pki_token parsed;
	struct pki_cert *ca = NULL;
	struct pki_rng *rng = NULL;
	struct pki_key *key = NULL;
	struct pki_identity id;
	char *csr = NULL;
	int rc = -1;
	if (pki_token_parse(token, &parsed, err, errlen) != 0 ||
	    worker_fetch_ca(w, token, &ca, err, errlen) != 0 ||
	    pki_rng_new(&rng, err, errlen) != 0 || pki_key_generate(rng, &key, err, errlen) != 0 ||
	    pki_identity_set(&id, w->node_id, PKI_ROLE_WORKER, "joining", err, errlen) != 0 ||
	    pki_csr_make(key, &id, rng, &csr, err, errlen) != 0 ||
	    worker_join_call(w, token, csr, hostname, body, err, errlen) != 0 ||
	    cluster_worker_check_cert(w, ca, key, err, errlen) != 0 ||
	    !(w->key_pem = cluster_key_pem_text(key, w->dir, err, errlen)))
		goto out;
	rc = cluster_worker_save(w, err, errlen);
out:
	free(csr);
	pki_key_free(key);
	pki_rng_free(rng);
	pki_cert_free(ca);
	return rc;
}

int cluster_worker_join(const char *dir, const char *node_id,
			const char *hostname, const json_t *body,
			struct cluster_worker **out, char *err, size_t errlen)
{
	const char *token = cluster_jstr(body, "JoinToken");
	const char *remote = json_string_value(json_array_get(json_object_get(body, "RemoteAddrs"), 0));
	const char *advertise = cluster_jstr(body, "AdvertiseAddr");
	if (!token || !*token || !remote || !*remote) {
		snprintf(err, errlen, "join: JoinToken and RemoteAddrs are required");
		return -1;
	}
	struct cluster_worker *w = cluster_worker_new(dir, node_id);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(w->manager_addr, sizeof(w->manager_addr), "%s", remote);
	snprintf(w->advertise_addr, sizeof(w->advertise_addr), "%s", advertise ? advertise : "");
	if (worker_join_steps(w, token, hostname, body, err, errlen) != 0) {
		cluster_worker_forget(dir, err + strlen(err), 0);
		cluster_worker_free(w);
		return -1;
	}
	char why[256];
	cluster_worker_client(w, why, sizeof(why)); /* a failure is retried by the agent */
	*out = w;
	return 0;
}

int cluster_worker_resume(const char *dir, const char *node_id,
			  struct cluster_worker **out, char *err,
			  size_t errlen)
{
	char path[700];
	*out = NULL;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	if (access(path, F_OK) != 0)
		return 0;
	json_error_t jerr;
	json_t *state = json_load_file(path, 0, &jerr);
	if (!state) {
		snprintf(err, errlen, "%s is damaged: %s", path, jerr.text);
		return -1;
	}
	struct cluster_worker *w = cluster_worker_new(dir, node_id);
	snprintf(w->manager_addr, sizeof(w->manager_addr), "%s",
		 cluster_jstr(state, "manager_addr") ? cluster_jstr(state, "manager_addr") : "");
	snprintf(w->manager_node_id, sizeof(w->manager_node_id), "%s",
		 cluster_jstr(state, "manager_node_id") ? cluster_jstr(state, "manager_node_id") : "");
	snprintf(w->advertise_addr, sizeof(w->advertise_addr), "%s",
		 cluster_jstr(state, "advertise_addr") ? cluster_jstr(state, "advertise_addr") : "");
	if (json_is_array(json_object_get(state, "managers")))
		json_array_extend(w->managers, json_object_get(state, "managers"));
	json_decref(state);
	if (worker_read_material(w, dir, err, errlen) != 0) {
		cluster_worker_free(w);
		return -1;
	}
	char why[256];
	cluster_worker_client(w, why, sizeof(why)); /* a failure is retried by the agent */
	*out = w;
	return 0;
}

int cluster_worker_forget(const char *dir, char *err, size_t errlen)
{
	const char *files[] = { PKI_NODE_KEY_FILE, PKI_NODE_CERT_FILE, PKI_CA_CERT_FILE,
				"state.json", "join.key.tmp" };
	int rc = 0;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[700];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (unlink(path) != 0 && errno != ENOENT) {
			if (errlen)
				snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
			rc = -1;
		}
	}
	if (rmdir(dir) != 0 && errno != ENOENT && rc == 0) {
		if (errlen)
			snprintf(err, errlen, "cannot remove %s: %s", dir, strerror(errno));
		rc = -1;
	}
	return rc;
}


int cluster_worker_install_manager(struct cluster_worker *w,
				   const char *cert_dir, json_t **joined,
				   char *err, size_t errlen)
{
	const char *ca_key = cluster_jstr(w->joined, "ca_key");
	if (!ca_key) {
		snprintf(err, errlen, "the leader sent no CA key with the manager certificate");
		return -1;
	}
	const char *files[4] = { PKI_CA_CERT_FILE, PKI_CA_KEY_FILE, PKI_NODE_CERT_FILE,
				 PKI_NODE_KEY_FILE };
	const char *texts[4] = { w->ca_pem, ca_key, w->cert_pem, w->key_pem };
	if (util_mkdir_p(cert_dir, 0700, err, errlen) != 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		char path[700];
		snprintf(path, sizeof(path), "%s/%s", cert_dir, files[i]);
		if (util_write_file(path, texts[i], i % 2 ? 0600 : 0644, err, errlen) != 0)
			return -1;
	}
	*joined = json_incref(w->joined);
	return 0;
}


int cluster_worker_adopt(struct cluster_worker *w, const char *dir,
			 const char *advertise_addr, const json_t *managers,
			 char *err, size_t errlen)
{
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->advertise_addr, sizeof(w->advertise_addr), "%s",
		 advertise_addr ? advertise_addr : "");
	pthread_mutex_lock(&w->lock);
	if (json_is_array(managers) && json_array_size(managers) > 0) {
		json_array_clear(w->managers);
		json_array_extend(w->managers, (json_t *)managers);
	}
	int rc = cluster_worker_save(w, err, errlen);
	pthread_mutex_unlock(&w->lock);
	return rc;
}


int cluster_worker_for_manager(const char *cert_dir, const char *node_id,
			       const char *addr, struct cluster_worker **out,
			       char *err, size_t errlen)
{
	struct cluster_worker *w = cluster_worker_new("", node_id);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(w->manager_addr, sizeof(w->manager_addr), "%s", addr);
	if (worker_read_material(w, cert_dir, err, errlen) != 0) {
		cluster_worker_free(w);
		return -1;
	}
	*out = w;
	return 0;
}


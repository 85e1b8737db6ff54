/*
 * manager_cert.c: renewal of this manager's own certificate with the
 * cluster CA (at a random point between 50% and 80% of its validity, as
 * Swarm does), and the restart of the cluster server and raft transport
 * on the new one. Owns m->cert_check_ns and m->cert_renew_permille.
 */
#include "manager_internal.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fsutil.h"

#define MANAGER_CERT_CHECK_NS (5LL * 1000000000LL)

/* New certificates for the cluster server and the raft transport: both
 * start again with them (nng fixes a TLS configuration once it is used). */
static void manager_reload_tls(struct manager *m)
{
	char err[512];
	cluster_server_stop(m->cluster);
	m->cluster = NULL;
	manager_start_cluster(m);
	struct raft_transport *old = m->transport;
	m->transport = NULL;
	if (manager_open_transport(m, err, sizeof(err)) != 0) {
		log_msg(LOG_WARN, "manager", "raft transport with the new certificate: %s", err);
		m->transport = old; /* keeps the old certificate until it expires */
		return;
	}
	m->peers_synced_index = 0;
	manager_sync_peers(m);
	raft_transport_free(old);
}

/* Renews this manager's own certificate with the cluster CA once the
 * chosen point of its validity has passed (Swarm: 50% to 80%). */
void manager_renew_own_cert(struct manager *m, int64_t now)
{
	if (!m->raft || m->demoted || now < m->cert_check_ns)
		return;
	m->cert_check_ns = now + MANAGER_CERT_CHECK_NS;
	if (!m->cert_renew_permille)
		m->cert_renew_permille = 500 + (unsigned)(manager_random(m) % 301);
	char dir[700], path[760], err[512];
	int64_t at = 0;
	snprintf(dir, sizeof(dir), "%s/certificates", m->data_dir);
	snprintf(path, sizeof(path), "%s/swarm-node.crt", dir);
	char *pem = util_read_file(path, err, sizeof(err));
	int rc = pem ? cluster_cert_renew_at(pem, m->cert_renew_permille, &at, err, sizeof(err)) : -1;
	free(pem);
	json_t *self = store_node(&m->store, m->cfg.node_id);
	if (rc != 0 || time(NULL) < at || !self || manager_node_is_worker(self)) {
		if (rc != 0)
			log_msg(LOG_WARN, "manager", "own certificate: %s", err);
		return;
	}
	const char *cluster_id = json_string_value(json_object_get(m->store.cluster, "ID"));
	if (cluster_renew_self(dir, json_object_get(m->store.cluster, "Spec"), m->cfg.node_id,
			       cluster_id ? cluster_id : "", err, sizeof(err)) != 0) {
		log_msg(LOG_WARN, "manager", "cannot renew its certificate: %s", err);
		return;
	}
	log_msg(LOG_INFO, "manager", "renewed this manager's certificate");
	m->cert_renew_permille = 500 + (unsigned)(manager_random(m) % 301);
	manager_reload_tls(m);
}

/*
 * manager_swarm.c: this node entering and leaving a swarm as a manager:
 * swarm init (a new cluster, its PKI and a single-voter replica), joining
 * as a manager (an empty replica the leader fills), resuming after a
 * restart, and leaving (every trace wiped). Owns the files under
 * data_dir (raft/, certificates/, cluster.json) and the cluster server's
 * life.
 */
#include "manager_internal.h"
#include "log.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "orchestrator.h"

json_t *manager_self_node(struct manager *m, const char *now)
{
	json_t *info = json_object_get(m->node_infos, m->cfg.node_id);
	const char *manager_addr = m->manager_addr;
	char raft_id[24];
	snprintf(raft_id, sizeof(raft_id), "%llu", (unsigned long long)m->cfg.raft_id);
	return json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:{}},s:o,s:{s:s,s:s},s:{s:b,s:s,s:s},s:s}",
			 "ID", m->cfg.node_id, "CreatedAt", now, "UpdatedAt", now, "Spec",
			 "Role", "manager", "Availability", "active", "Labels",
			 "Description", nodes_description(info, m->cfg.hostname), "Status",
			 "State", "ready", "Addr", m->advertise_addr, "ManagerStatus",
			 "Leader", 1, "Reachability", "reachable", "Addr", manager_addr,
			 "OrchRaftID", raft_id);
}

/* The port of an "IP:PORT" address, or 2377. */
static const char *addr_port(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	return colon && colon[1] ? colon + 1 : "2377";
}

/* Starts the cluster server from the material in data_dir/certificates.
 * A failure (the port is taken) leaves the swarm usable on this node only;
 * the reason shows in GET /info (Swarm.Error) and in the log. */
void manager_start_cluster(struct manager *m)
{
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/certificates", m->data_dir);
	m->cluster_error[0] = '\0';
	char err[400];
	if (cluster_server_start(m->listen_addr, dir, m->inbox, &m->cluster, err,
				 sizeof(err)) != 0) {
		m->cluster = NULL;
		snprintf(m->cluster_error, sizeof(m->cluster_error),
			 "cannot listen for other nodes on %s: %s", m->listen_addr, err);
		log_msg(LOG_WARN, "manager", "%s", m->cluster_error);
	}
}

/* data_dir/cluster.json: where this manager listens and is reached. */
static int manager_save_addrs(struct manager *m, char *err, size_t errlen)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/cluster.json", m->data_dir);
	json_t *o = json_pack("{s:s,s:s,s:s}", "listen_addr", m->listen_addr,
			      "manager_addr", m->manager_addr, "advertise_addr",
			      m->advertise_addr);
	int rc = json_dump_file(o, path, JSON_COMPACT);
	json_decref(o);
	if (rc != 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	return rc != 0 ? -1 : 0;
}

int manager_swarm_init(struct manager *m, const char *advertise_addr,
		       const char *listen_addr, const char *cluster_id,
		       json_t **ca, json_t **secrets, char *err, size_t errlen)
{
	if (m->raft) {
		snprintf(err, errlen, "This node is already part of a swarm. Use \"orchctl swarm leave\" to leave this swarm and join another one.");
		return 503;
	}
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/certificates", m->data_dir);
	if (util_mkdir_p(m->data_dir, 0700, err, errlen) != 0 ||
	    cluster_material_make(dir, m->cfg.node_id, cluster_id, ca, secrets, err,
				  errlen) != 0)
		return 500;
	snprintf(m->advertise_addr, sizeof(m->advertise_addr), "%s", advertise_addr);
	if (strchr(listen_addr, ':'))
		snprintf(m->listen_addr, sizeof(m->listen_addr), "%s", listen_addr);
	else
		snprintf(m->listen_addr, sizeof(m->listen_addr), "%s:2377", listen_addr);
	snprintf(m->manager_addr, sizeof(m->manager_addr), "%s:%s", advertise_addr,
		 addr_port(m->listen_addr));
	if (manager_save_addrs(m, err, errlen) != 0 ||
	    manager_open_transport(m, err, errlen) != 0 ||
	    manager_open_raft(m, true, err, errlen) != 0) {
		raft_transport_free(m->transport);
		m->transport = NULL;
		json_decref(*ca);
		json_decref(*secrets);
		return 500;
	}
	manager_start_cluster(m);
	return 0;
}

json_t *manager_cluster_init_cmd(struct manager *m, const char *cluster_id,
				 const char *now)
{
	json_t *node = manager_self_node(m, now);
	return json_pack("{s:s,s:{s:s,s:s,s:s,s:{s:s,s:{s:i},s:{s:I}}},s:o}", "op",
			 "cluster.init", "cluster", "ID", cluster_id, "CreatedAt", now,
			 "UpdatedAt", now, "Spec", "Name", "default", "Orchestration",
			 "TaskHistoryRetentionLimit", (int)m->cfg.history_limit,
			 "Dispatcher", "HeartbeatPeriod", (json_int_t)1000000000LL, "node",
			 node);
}

int manager_bootstrap(struct manager *m, char *err, size_t errlen)
{
	if (m->raft) {
		snprintf(err, errlen, "this manager is already part of a swarm");
		return -1;
	}
	snprintf(m->advertise_addr, sizeof(m->advertise_addr), "127.0.0.1");
	snprintf(m->manager_addr, sizeof(m->manager_addr), "127.0.0.1:2377");
	m->cert_check_ns = INT64_MAX; /* no certificate to renew */
	if (util_mkdir_p(m->data_dir, 0700, err, errlen) != 0 ||
	    manager_open_raft(m, true, err, errlen) != 0)
		return -1;
	char cluster_id[32], now[40];
	manager_new_id(m, cluster_id);
	manager_now_text(m, now, sizeof(now));
	if (manager_inject(m, manager_cluster_init_cmd(m, cluster_id, now)) != 0) {
		snprintf(err, errlen, "cannot propose the cluster");
		return -1;
	}
	return 0;
}

/* This node joined as a manager (orchd installed the certificates): an
 * empty raft replica that the leader adds as a learner and fills. */
json_t *manager_swarm_join(struct manager *m, const json_t *request)
{
	char err[512];
	const char *advertise = json_string_value(json_object_get(request, "advertise_addr"));
	const char *listen = json_string_value(json_object_get(request, "listen_addr"));
	const char *leader_addr = json_string_value(json_object_get(request, "leader_addr"));
	const char *leader_id = json_string_value(json_object_get(request, "leader_raft_id"));
	if (m->raft)
		return json_pack("{s:s}", "error", "This node is already part of a swarm.");
	if (!advertise || !listen || !leader_addr || !leader_id)
		return json_pack("{s:s}", "error", "manager join: addresses missing");
	snprintf(m->advertise_addr, sizeof(m->advertise_addr), "%s", advertise);
	snprintf(m->listen_addr, sizeof(m->listen_addr), "%s", listen);
	snprintf(m->manager_addr, sizeof(m->manager_addr), "%s:%s", advertise,
		 addr_port(listen));
	if (util_mkdir_p(m->data_dir, 0700, err, sizeof(err)) != 0 ||
	    manager_save_addrs(m, err, sizeof(err)) != 0 ||
	    manager_open_transport(m, err, sizeof(err)) != 0)
		return json_pack("{s:s}", "error", err);
	raft_transport_set_peer(m->transport, strtoull(leader_id, NULL, 10), leader_addr);
	if (manager_open_raft(m, false, err, sizeof(err)) != 0) {
		raft_transport_free(m->transport);
		m->transport = NULL;
		return json_pack("{s:s}", "error", err);
	}
	manager_start_cluster(m);
	/* Sessions held while this node was alone go to the leader now. */
	dispatcher_reset(m->dispatcher);
	return json_pack("{s:b}", "ok", 1);
}

/* Whether this node is in a swarm (member), its replica a voter, and
 * where the leader is. */
json_t *manager_raft_state(struct manager *m)
{
	bool voter = false;
	if (m->raft) {
		struct raft_status st;
		raft_node_status(m->raft, &st);
		for (uint32_t i = 0; i < st.conf.n_voters; i++)
			voter |= st.conf.voters[i] == m->cfg.raft_id;
	}
	const char *leader = m->leader ? m->manager_addr
				       : manager_addr_of(m, m->leader_raft_id);
	return json_pack("{s:b,s:b,s:b,s:s}", "voter", voter, "member", m->raft != NULL,
			 "leader", m->leader, "leader_addr", leader ? leader : "");
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		log_msg(LOG_WARN, "manager", "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

void manager_close_replica(struct manager *m, const char *why)
{
	manager_fail_joins(m, why);
	cluster_server_stop(m->cluster);
	m->cluster = NULL;
	raft_node_close(m->raft);
	m->raft = NULL;
	raft_transport_free(m->transport);
	m->transport = NULL;
}

/* Removes every trace of the swarm on this node (swarm leave): the raft
 * state, the store, and (through empty assignments) the agent's tasks. */
void manager_swarm_wipe(struct manager *m)
{
	manager_close_replica(m, "this manager left the swarm");
	m->leader = false;
	store_fini(&m->store);
	store_init(&m->store);
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/raft", m->data_dir);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(dir, sizeof(dir), "%s/certificates", m->data_dir);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(dir, sizeof(dir), "%s/cluster.json", m->data_dir);
	unlink(dir);
	m->cluster_error[0] = '\0';
	dispatcher_reset(m->dispatcher);
}

int manager_resume(struct manager *m, char *err, size_t errlen)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/raft", m->data_dir);
	struct stat st;
	if (stat(path, &st) != 0)
		return 0; /* never joined a swarm */
	snprintf(path, sizeof(path), "%s/certificates", m->data_dir);
	if (stat(path, &st) == 0 && manager_open_transport(m, err, errlen) != 0)
		return -1;
	if (manager_open_raft(m, false, err, errlen) != 0)
		return -1;
	manager_sync_peers(m);
	json_t *self = store_node(&m->store, m->cfg.node_id);
	const char *addr = json_string_value(
		json_object_get(json_object_get(self, "Status"), "Addr"));
	snprintf(m->advertise_addr, sizeof(m->advertise_addr), "%s",
		 addr ? addr : "127.0.0.1");
	snprintf(path, sizeof(path), "%s/cluster.json", m->data_dir);
	json_t *addrs = json_load_file(path, 0, NULL);
	const char *listen = json_string_value(json_object_get(addrs, "listen_addr"));
	const char *maddr = json_string_value(json_object_get(addrs, "manager_addr"));
	snprintf(m->listen_addr, sizeof(m->listen_addr), "%s",
		 listen ? listen : CLUSTER_DEFAULT_LISTEN);
	if (maddr)
		snprintf(m->manager_addr, sizeof(m->manager_addr), "%s", maddr);
	else
		snprintf(m->manager_addr, sizeof(m->manager_addr), "%s:2377", m->advertise_addr);
	json_decref(addrs);
	snprintf(path, sizeof(path), "%s/certificates", m->data_dir);
	if (stat(path, &st) == 0)
		manager_start_cluster(m);
	return 0;
}

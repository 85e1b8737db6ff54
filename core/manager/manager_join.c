/*
 * manager_join.c: nodes joining the swarm and renewing their certificates
 * (requests from the cluster server, answered on the leader): the token
 * and CSR checked and signed, the node proposed, the answer held until
 * its Node applied. A renewal of a worker whose Spec.Role became manager is
 * its promotion. Owns m->joins and m->joined_at.
 */
#include "manager_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void manager_put_node_then_reply(struct manager *m, json_t *node, json_t *reply,
					struct inbox_reply_to *reply_to);

void manager_fail_joins(struct manager *m, const char *why)
{
	for (size_t i = 0; i < m->n_joins; i++) {
		json_decref(m->joins[i].reply);
		m->joins[i].reply_to->fn(m->joins[i].reply_to->ctx,
					 json_pack("{s:s}", "error", why));
	}
	m->n_joins = 0;
}

json_t *manager_addrs(struct manager *m)
{
	json_t *list = json_array();
	const char *nid;
	json_t *node;
	json_object_foreach(m->store.nodes, nid, node) {
		json_t *addr = json_object_get(json_object_get(node, "ManagerStatus"), "Addr");
		if (json_is_string(addr) && json_string_length(addr))
			json_array_append(list, addr);
	}
	return list;
}

/* A node asks to join (from the cluster server): the token and CSR are
 * checked, the node is proposed, and the answer waits for it to apply. */
void manager_cluster_join(struct manager *m, json_t *request,
				 struct inbox_reply_to *reply_to)
{
	char err[512] = "", now[40];
	const char *node_id = json_string_value(json_object_get(request, "node_id"));
	const char *host = json_string_value(json_object_get(request, "hostname"));
	const char *addr = json_string_value(json_object_get(request, "advertise_addr"));
	if (!m->raft || !m->leader || json_is_null(m->store.cluster)) {
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error",
						      "this node is not the leader of a swarm"));
		return;
	}
	json_t *spec = json_object_get(m->store.cluster, "Spec");
	const char *cluster_id = json_string_value(json_object_get(m->store.cluster, "ID"));
	char certs[700];
	snprintf(certs, sizeof(certs), "%s/certificates", m->data_dir);
	json_t *reply = cluster_join_sign(certs, spec, cluster_id ? cluster_id : "", request,
					  err, sizeof(err));
	if (!reply) {
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error", err));
		return;
	}
	if (store_node(&m->store, node_id) &&
	    json_object_get(store_node(&m->store, node_id), "ManagerStatus")) {
		json_decref(reply);
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error",
						      "a manager of this swarm has this node id"));
		return;
	}
	json_object_set_new(reply, "node_id", json_string(node_id));
	json_object_set_new(reply, "manager_node_id", json_string(m->cfg.node_id));
	json_object_set_new(reply, "managers", manager_addrs(m));
	bool manager = strcmp(str_or(json_string_value(json_object_get(reply, "role")), ""),
			      "manager") == 0;
	const char *raft_id = json_string_value(json_object_get(request, "raft_id"));
	const char *maddr = json_string_value(json_object_get(request, "manager_addr"));
	if (manager && (!raft_id || !strtoull(raft_id, NULL, 10) || !maddr)) {
		json_decref(reply);
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error",
						      "a manager join needs raft_id and manager_addr"));
		return;
	}
	manager_now_text(m, now, sizeof(now));
	json_t *node = json_pack(
		"{s:s,s:s,s:s,s:{s:s,s:s,s:{}},s:{s:s},s:{s:s,s:s}}", "ID", node_id,
		"CreatedAt", now, "UpdatedAt", now, "Spec", "Role",
		manager ? "manager" : "worker", "Availability", "active", "Labels",
		"Description", "Hostname", host && *host ? host : node_id, "Status",
		"State", "unknown", "Addr", addr && *addr ? addr : "");
	if (manager) {
		char leader_id[24];
		snprintf(leader_id, sizeof(leader_id), "%llu", (unsigned long long)m->cfg.raft_id);
		json_object_set_new(node, "ManagerStatus",
				    json_pack("{s:b,s:s,s:s}", "Leader", 0, "Reachability",
					      "unknown", "Addr", maddr));
		json_object_set_new(node, "OrchRaftID", json_string(raft_id));
		json_object_set_new(reply, "leader_raft_id", json_string(leader_id));
		json_object_set_new(reply, "leader_addr", json_string(m->manager_addr));
	}
	manager_put_node_then_reply(m, node, reply, reply_to);
}

/* Proposes node (stolen) and answers reply_to with reply (stolen) once it
 * applied (manager_finish_joins), or at once with the error. */
static void manager_put_node_then_reply(struct manager *m, json_t *node, json_t *reply,
					struct inbox_reply_to *reply_to)
{
	char err[512];
	const char *node_id = json_string_value(json_object_get(node, "ID"));
	json_t *cmd = json_pack("{s:s,s:o}", "op", "node.put", "node", node);
	uint64_t index = 0, term = 0;
	int rc = manager_propose(m, cmd, &index, &term, err, sizeof(err));
	if (rc != 0) {
		json_decref(cmd);
		json_decref(reply);
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error", err));
		return;
	}
	if (m->n_joins == m->cap_joins) {
		m->cap_joins = m->cap_joins ? 2 * m->cap_joins : 8;
		m->joins = realloc(m->joins, m->cap_joins * sizeof(*m->joins));
	}
	struct pending_join *j = &m->joins[m->n_joins++];
	j->index = index;
	snprintf(j->node_id, sizeof(j->node_id), "%s", node_id);
	j->reply_to = reply_to;
	j->reply = reply;
	json_object_set_new(m->joined_at, node_id, json_integer(manager_mono_ns(m)));
	json_decref(cmd);
}

/* A node asks for a new certificate (cluster.c checked that the peer is
 * that node): signed for the role its Node has now. A worker whose Spec.Role
 * became manager (node promote) gets a manager certificate and the CA key,
 * and its Node a ManagerStatus, so that the membership step adds its raft
 * replica as a learner, then a voter. */
void manager_cluster_renew(struct manager *m, json_t *request,
				  struct inbox_reply_to *reply_to)
{
	char err[512] = "", certs[700];
	const char *node_id = json_string_value(json_object_get(request, "node_id"));
	json_t *node = store_node(&m->store, node_id);
	if (!node) {
		reply_to->fn(reply_to->ctx,
			     json_pack("{s:s}", "error", "this node is not part of the swarm (it was removed)"));
		return;
	}
	bool manager = !manager_node_is_worker(node);
	json_t *spec = json_object_get(m->store.cluster, "Spec");
	const char *cluster_id = json_string_value(json_object_get(m->store.cluster, "ID"));
	snprintf(certs, sizeof(certs), "%s/certificates", m->data_dir);
	json_t *reply = cluster_renew_sign(certs, spec, cluster_id ? cluster_id : "", request,
					   manager, err, sizeof(err));
	if (!reply) {
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error", err));
		return;
	}
	if (!manager || json_object_get(node, "ManagerStatus")) {
		reply_to->fn(reply_to->ctx, reply);
		return;
	}
	const char *raft_id = json_string_value(json_object_get(request, "raft_id"));
	const char *maddr = json_string_value(json_object_get(request, "manager_addr"));
	if (!raft_id || !strtoull(raft_id, NULL, 10) || !maddr || !*maddr) {
		json_decref(reply);
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error",
						      "a promotion needs raft_id and manager_addr"));
		return;
	}
	char now[40], leader_id[24];
	manager_now_text(m, now, sizeof(now));
	snprintf(leader_id, sizeof(leader_id), "%llu", (unsigned long long)m->cfg.raft_id);
	json_t *copy = json_deep_copy(node);
	json_object_set_new(copy, "ManagerStatus",
			    json_pack("{s:b,s:s,s:s}", "Leader", 0, "Reachability", "unknown",
				      "Addr", maddr));
	json_object_set_new(copy, "OrchRaftID", json_string(raft_id));
	json_object_set_new(copy, "UpdatedAt", json_string(now));
	json_object_set_new(reply, "leader_raft_id", json_string(leader_id));
	json_object_set_new(reply, "leader_addr", json_string(m->manager_addr));
	json_object_set_new(reply, "managers", manager_addrs(m));
	manager_put_node_then_reply(m, copy, reply, reply_to);
}

void manager_finish_joins(struct manager *m, uint64_t applied)
{
	size_t kept = 0;
	for (size_t i = 0; i < m->n_joins; i++) {
		struct pending_join *j = &m->joins[i];
		if (j->index > applied) {
			m->joins[kept++] = *j;
			continue;
		}
		if (store_node(&m->store, j->node_id)) {
			j->reply_to->fn(j->reply_to->ctx, j->reply);
		} else {
			json_decref(j->reply);
			j->reply_to->fn(j->reply_to->ctx,
					json_pack("{s:s}", "error",
						  "the join was lost in a leader change; retry"));
		}
	}
	m->n_joins = kept;
}

/*
 * cluster.h: how nodes become one cluster over mutual TLS (core/pki and
 * core/net/cluster_net). Two halves:
 *
 * Manager side. cluster_material_make makes, at `swarm init`, the cluster
 * CA, this manager's key and certificate (role manager) and the two join
 * secrets; the CA and the secrets are also kept in the replicated cluster
 * Spec (hidden fields CLUSTER_SPEC_CA and CLUSTER_SPEC_SECRETS, removed from
 * every API answer). cluster_server_start listens on port 2377 (or the
 * ListenAddr) and forwards requests into the manager's inbox: "join" from
 * anyone, "session", "renew" (a new certificate), "status" and
 * "node_info" only from authenticated nodes
 * whose certificate names the node the body speaks for, "raft" (messages
 * between managers) and "api" (writes a follower forwards to the leader)
 * only from managers, "managers" (every manager's address) from any node.
 * The core thread answers joins with cluster_join_sign. The server object owns the nng
 * server and the reply handles given to the core thread.
 *
 * Worker side. cluster_worker_join runs `swarm join` (fetch the CA, check
 * its digest against the token, CSR, join, verify the certificate, save
 * everything under data_root/swarm/worker); cluster_worker_resume reloads it
 * after a restart. A struct cluster_worker is the agent's remote link to its
 * manager: it owns the cluster_net client, the saved material, every
 * manager's address (asked after each connection and saved, so that after
 * a failover the link tries the others and follows a "leader_addr"
 * redirect) and the last node description (sent again after every
 * reconnection). A manager-token join hands the material to the local
 * manager instead (cluster_worker_install_manager); a follower manager's
 * own agent reaches the leader with cluster_worker_for_manager.
 */
#ifndef ORCHD_CLUSTER_H
#define ORCHD_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inbox.h"

#define CLUSTER_SPEC_CA "OrchCA"               /* {cert, key} PEM */
#define CLUSTER_SPEC_SECRETS "OrchJoinSecrets" /* {worker, manager} */
#define CLUSTER_DEFAULT_LISTEN "0.0.0.0:2377"
#define CLUSTER_NOT_MANAGER_MESSAGE                                          \
	"This node is not a swarm manager. Worker nodes can't be used to view " \
	"or modify cluster state. Please run this command on a manager node "   \
	"or promote the current node to a manager."

/* ------------------------------------------------------- manager side */

/* Makes the CA (saved in cert_dir), this manager's key and certificate
 * (cert_dir/swarm-node.{key,crt}) and the join secrets; *ca_out receives
 * {cert, key} and *secrets_out {worker, manager}. */
int cluster_material_make(const char *cert_dir, const char *node_id,
			  const char *cluster_id, json_t **ca_out,
			  json_t **secrets_out, char *err, size_t errlen);
/* {"Worker": token, "Manager": token} from a cluster Spec, or NULL. */
json_t *cluster_join_tokens(const json_t *spec);
/* A copy of spec without the hidden fields. */
json_t *cluster_spec_public(const json_t *spec);
/* Replaces one role's secret inside the hidden field of spec. */
int cluster_rotate_secret(json_t *spec, bool manager, char *err,
			  size_t errlen);
/* Checks a join request against spec's secrets and signs its CSR as a
 * worker of cluster_id; returns {cert, ca} or NULL with err. */
json_t *cluster_join_sign(const char *cert_dir, const json_t *spec,
			  const char *cluster_id, const json_t *request,
			  char *err, size_t errlen);

/* Node certificates' validity in seconds: the spec's
 * CAConfig.NodeCertExpiry (nanoseconds), or 0 for pki's default. */
int64_t cluster_cert_validity(const json_t *spec);
/* A renewal request ({node_id, csr}) from an authenticated node, signed
 * for the role the cluster gives it now (manager: with the CA key, as for
 * a manager join). Returns {cert, ca, role[, ca_key]} or NULL with err. */
json_t *cluster_renew_sign(const char *cert_dir, const json_t *spec,
			   const char *cluster_id, const json_t *request,
			   bool manager, char *err, size_t errlen);
/* A manager renews its own certificate with the CA in cert_dir. */
int cluster_renew_self(const char *cert_dir, const json_t *spec,
		       const char *node_id, const char *cluster_id, char *err,
		       size_t errlen);
/* When the certificate in pem should be renewed (pki_cert_renew_time). */
int cluster_cert_renew_at(const char *pem, unsigned permille, int64_t *at,
			  char *err, size_t errlen);

struct cluster_server;

/* Listens on listen_addr ("IP:PORT") with the material of cert_dir and
 * forwards requests into inbox (INBOX_CLUSTER_REQUEST for join and session, with
 * a reply handle; INBOX_TASK_STATUSES and INBOX_NODE_INFO). */
int cluster_server_start(const char *listen_addr, const char *cert_dir,
			 struct inbox *inbox, struct cluster_server **out,
			 char *err, size_t errlen);
/* Stops listening; reply handles still held answer nobody afterwards. */
void cluster_server_stop(struct cluster_server *srv);

/* A write that reached a follower manager: sent to the leader at addr
 * (with the manager's material in cert_dir), which runs its route; its
 * status and body fill resp. Returns -1 with err when the leader did not
 * answer. */
struct api_request;
struct api_response;
int cluster_forward_api(const char *cert_dir, const char *addr,
			const struct api_request *req, struct api_response *resp,
			char *err, size_t errlen);

/* -------------------------------------------------------- worker side */

struct cluster_worker;

/* POST /swarm/join's body {RemoteAddrs, JoinToken, AdvertiseAddr}; dir is
 * data_root/swarm/worker. Returns 0 with the joined link, or -1 with err
 * (nothing is saved then). */
int cluster_worker_join(const char *dir, const char *node_id,
			const char *hostname, const json_t *body,
			struct cluster_worker **out, char *err, size_t errlen);
/* The saved state of dir: 0 with *out NULL when this node never joined. */
int cluster_worker_resume(const char *dir, const char *node_id,
			  struct cluster_worker **out, char *err,
			  size_t errlen);
void cluster_worker_free(struct cluster_worker *w);
/* swarm leave: removes the saved state of dir. */
int cluster_worker_forget(const char *dir, char *err, size_t errlen);
/* The node description to send after each (re)connection; copied. */
void cluster_worker_set_node_info(struct cluster_worker *w,
				  const json_t *info);
/* The agent_link functions over the network (see agent.h). */
int cluster_worker_send(struct cluster_worker *w, enum inbox_kind kind,
			json_t *body);
int cluster_worker_session(struct cluster_worker *w, json_t *request,
			   json_t **reply, char *err, size_t errlen);
/* Whether the join made this node a manager (the token was a manager's). */
bool cluster_worker_is_manager(const struct cluster_worker *w);
/* After a manager join: writes the CA (certificate and key) and this
 * node's key and certificate into cert_dir; *joined receives the join
 * answer's {leader_raft_id, leader_addr}. */
int cluster_worker_install_manager(struct cluster_worker *w,
				   const char *cert_dir, json_t **joined,
				   char *err, size_t errlen);
/* A remote link from a follower manager's own agent to the leader at addr,
 * with the manager's material (cert_dir); nothing is saved. */
int cluster_worker_for_manager(const char *cert_dir, const char *node_id,
			       const char *addr, struct cluster_worker **out,
			       char *err, size_t errlen);
/* Asks the manager for a new certificate ("renew", authenticated with the
 * current one); the manager signs it for the role the cluster gives this
 * node now. extra (stolen, may be NULL) adds fields: a worker being
 * promoted sends raft_id and manager_addr. On success the link uses the
 * new certificate from its next call, saves it when it has a directory,
 * and cluster_worker_is_manager / cluster_worker_install_manager tell and
 * install a manager role. */
int cluster_worker_renew(struct cluster_worker *w, json_t *extra, char *err,
			 size_t errlen);
/* When the link's certificate should be renewed (see pki_cert_renew_time). */
int cluster_worker_renew_at(struct cluster_worker *w, unsigned permille,
			    int64_t *at, char *err, size_t errlen);
/* Gives a link made by cluster_worker_for_manager a directory, the
 * managers' addresses to try, and saves it there as a worker's (a demoted
 * manager carries on as a worker). */
int cluster_worker_adopt(struct cluster_worker *w, const char *dir,
			 const char *advertise_addr, const json_t *managers,
			 char *err, size_t errlen);
/* Rereads this node's key and certificate from cert_dir (a manager renewed
 * its own): the next call connects with them. */
int cluster_worker_reload(struct cluster_worker *w, const char *cert_dir,
			  char *err, size_t errlen);
/* Points the link at another manager ("IP:PORT"). */
void cluster_worker_retarget(struct cluster_worker *w, const char *addr);
/* The manager address the link uses now (owner thread only). */
const char *cluster_worker_addr(const struct cluster_worker *w);
/* GET /info's Swarm object on a worker. */
json_t *cluster_worker_info(struct cluster_worker *w);


#endif

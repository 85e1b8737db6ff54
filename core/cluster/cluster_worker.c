/*
 * cluster_worker.c: the agent's remote link to its managers (cluster.h,
 * worker side): the cluster_net client (connected on demand, retired after
 * a failure and replaced; a failover tries every manager known and follows
 * a "leader_addr" redirect), statuses and node descriptions (sent again
 * after every reconnection), the held session call, certificate renewal,
 * and a follower manager's forwarded API writes.
 *
 * State owned here: struct cluster_worker (cluster_internal.h); its lock
 * guards the client, the cached node description, the managers' list,
 * the heartbeat and the certificate.
 */
#include "cluster_internal.h"
#include "log.h"
#include "api_http.h"
#include "fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct cluster_worker *cluster_worker_new(const char *dir, const char *node_id)
{
	struct cluster_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->node_id, sizeof(w->node_id), "%s", node_id);
	pthread_mutex_init(&w->lock, NULL);
	w->heartbeat_ms = 1000;
	w->info_pending = true;
	w->managers_pending = true;
	w->managers = json_array();
	return w;
}

void cluster_worker_free(struct cluster_worker *w)
{
	if (!w)
		return;
	cluster_net_client_close(w->client);
	for (size_t i = 0; i < w->n_retired; i++)
		cluster_net_client_close(w->retired[i]);
	free(w->retired);
	json_decref(w->node_info);
	json_decref(w->managers);
	json_decref(w->joined);
	free(w->ca_pem);
	free(w->cert_pem);
	free(w->key_pem);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* After a failed connection: the next known manager (lock held). */
static void worker_next_manager(struct cluster_worker *w)
{
	size_t n = json_array_size(w->managers);
	if (n == 0)
		return;
	const char *addr = json_string_value(json_array_get(w->managers, w->next_manager % n));
	w->next_manager++;
	if (addr)
		snprintf(w->manager_addr, sizeof(w->manager_addr), "%s", addr);
}

/* Drops the current client (lock held); see retired. */
static void worker_retire_client(struct cluster_worker *w)
{
	if (!w->client)
		return;
	struct cluster_net_client **grown =
		realloc(w->retired, (w->n_retired + 1) * sizeof(*grown));
	if (!grown)
		return; /* keep using it */
	w->retired = grown;
	w->retired[w->n_retired++] = w->client;
	w->client = NULL;
}

/* Points the link at the manager at addr (lock held). */
static void worker_retarget_locked(struct cluster_worker *w, const char *addr)
{
	if (strcmp(w->manager_addr, addr) == 0)
		return;
	snprintf(w->manager_addr, sizeof(w->manager_addr), "%s", addr);
	worker_retire_client(w);
}

/* The client, connected (and authenticated) now if it was not. */
struct cluster_net_client *cluster_worker_client(struct cluster_worker *w,
						 char *err, size_t errlen)
{
	pthread_mutex_lock(&w->lock);
	if (!w->client) {
		char url[300];
		cluster_url(w->manager_addr, url, sizeof(url));
		struct cluster_net_tls tls = { .ca_pem = w->ca_pem, .cert_pem = w->cert_pem,
					       .key_pem = w->key_pem };
		if (cluster_net_client_open(url, &tls, "swarm-manager", &w->client, err,
					    errlen) != 0) {
			w->client = NULL;
			worker_next_manager(w);
		}
		w->info_pending = true;
		w->managers_pending = true;
	}
	struct cluster_net_client *cli = w->client;
	pthread_mutex_unlock(&w->lock);
	return cli;
}

/* Saves the material and the manager's address in w->dir. */
int cluster_worker_save(struct cluster_worker *w, char *err, size_t errlen)
{
	char path[700];
	json_t *state = json_pack("{s:s,s:s,s:s,s:s,s:O}", "node_id", w->node_id,
				  "manager_addr", w->manager_addr, "manager_node_id",
				  w->manager_node_id, "advertise_addr", w->advertise_addr,
				  "managers", w->managers);
	char *text = json_dumps(state, JSON_COMPACT);
	json_decref(state);
	int rc = -1;
	if (util_mkdir_p(w->dir, 0700, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", w->dir, PKI_NODE_KEY_FILE);
	if (util_write_file(path, w->key_pem, 0600, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", w->dir, PKI_NODE_CERT_FILE);
	if (util_write_file(path, w->cert_pem, 0644, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", w->dir, PKI_CA_CERT_FILE);
	if (util_write_file(path, w->ca_pem, 0644, err, errlen) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/state.json", w->dir);
	rc = util_write_file(path, text ? text : "{}", 0600, err, errlen);
out:
	free(text);
	return rc;
}

/* The key's PEM text (pki saves keys to files only). */
char *cluster_key_pem_text(const struct pki_key *key, const char *dir,
			   char *err, size_t errlen)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/join.key.tmp", dir);
	if (util_mkdir_p(dir, 0700, err, errlen) != 0 || pki_key_save(key, path, err, errlen) != 0)
		return NULL;
	char *pem = util_read_file(path, err, errlen);
	unlink(path);
	return pem;
}

/* Checks the join answer: the certificate chains to the CA, is for this
 * node, and carries our key. */
int cluster_worker_check_cert(struct cluster_worker *w, const struct pki_cert *ca,
			      const struct pki_key *key, char *err, size_t errlen)
{
	struct pki_cert *cert = NULL;
	struct pki_cert_info info;
	int rc = -1;
	if (pki_cert_parse(w->cert_pem, strlen(w->cert_pem), &cert, err, errlen) != 0 ||
	    pki_cert_verify(ca, cert, time(NULL), &info, err, errlen) != 0)
		goto out;
	w->is_manager = info.id.role == PKI_ROLE_MANAGER;
	if (strcmp(info.id.node_id, w->node_id) != 0)
		snprintf(err, errlen, "the manager issued a certificate for %s, not for this node %s",
			 info.id.node_id, w->node_id);
	else if (!pki_cert_matches_key(cert, key))
		snprintf(err, errlen, "the manager's certificate does not carry this node's key");
	else
		rc = 0;
out:
	pki_cert_free(cert);
	return rc;
}

void cluster_worker_set_node_info(struct cluster_worker *w, const json_t *info)
{
	pthread_mutex_lock(&w->lock);
	json_decref(w->node_info);
	w->node_info = info ? json_deep_copy(info) : NULL;
	w->info_pending = true;
	pthread_mutex_unlock(&w->lock);
}

/* One request that expects {"ok": true}; steals body. */
static int worker_post(struct cluster_worker *w, const char *op, json_t *body,
		       char *err, size_t errlen)
{
	struct cluster_net_client *cli = cluster_worker_client(w, err, errlen);
	if (!cli) {
		json_decref(body);
		return -1;
	}
	json_object_set_new(body, "op", json_string(op));
	json_t *reply = NULL;
	if (cluster_net_call(cli, body, CLUSTER_SEND_TIMEOUT_MS, &reply, err, errlen) != 0)
		return -1;
	int rc = json_is_true(json_object_get(reply, "ok")) ? 0 : -1;
	if (rc != 0)
		snprintf(err, errlen, "%s", cluster_jstr(reply, "error") ? cluster_jstr(reply, "error") : "refused");
	json_decref(reply);
	return rc;
}

/* Sends the cached node description when this connection has not had it. */
static void worker_send_info(struct cluster_worker *w)
{
	pthread_mutex_lock(&w->lock);
	json_t *info = w->info_pending && w->node_info ? json_deep_copy(w->node_info) : NULL;
	pthread_mutex_unlock(&w->lock);
	char err[256];
	if (!info || worker_post(w, "node_info", info, err, sizeof(err)) != 0)
		return;
	pthread_mutex_lock(&w->lock);
	w->info_pending = false;
	pthread_mutex_unlock(&w->lock);
}

int cluster_worker_send(struct cluster_worker *w, enum inbox_kind kind,
			json_t *body)
{
	char err[256];
	if (kind == INBOX_NODE_INFO) {
		cluster_worker_set_node_info(w, body);
		json_decref(body);
		worker_send_info(w);
		return 0; /* kept and sent again on every reconnection */
	}
	if (kind != INBOX_TASK_STATUSES) {
		json_decref(body);
		return -1;
	}
	return worker_post(w, "status", body, err, sizeof(err));
}

/* Asks the manager for every manager's address once per connection and
 * saves the list, so that a failover finds the new leader. */
static void worker_fetch_managers(struct cluster_worker *w)
{
	pthread_mutex_lock(&w->lock);
	bool pending = w->managers_pending;
	struct cluster_net_client *cli = w->client;
	pthread_mutex_unlock(&w->lock);
	if (!pending || !cli)
		return;
	json_t *reply = NULL;
	char err[256];
	json_t *req = json_pack("{s:s}", "op", "managers");
	if (cluster_net_call(cli, req, CLUSTER_SEND_TIMEOUT_MS, &reply, err, sizeof(err)) != 0)
		return;
	json_t *list = json_object_get(reply, "managers");
	pthread_mutex_lock(&w->lock);
	bool changed = json_is_array(list) && json_array_size(list) > 0 &&
		       !json_equal(list, w->managers);
	if (json_is_array(list))
		w->managers_pending = false;
	if (changed) {
		json_array_clear(w->managers);
		json_array_extend(w->managers, list);
	}
	pthread_mutex_unlock(&w->lock);
	if (changed && w->dir[0] && cluster_worker_save(w, err, sizeof(err)) != 0)
		log_msg(LOG_WARN, "cluster", "%s", err);
	json_decref(reply);
}

int cluster_worker_session(struct cluster_worker *w, json_t *request,
			   json_t **reply, char *err, size_t errlen)
{
	struct cluster_net_client *cli = cluster_worker_client(w, err, errlen);
	if (!cli) {
		json_decref(request);
		return -1;
	}
	worker_send_info(w);
	pthread_mutex_lock(&w->lock);
	int timeout = w->heartbeat_ms + CLUSTER_SESSION_MARGIN_MS;
	pthread_mutex_unlock(&w->lock);
	worker_fetch_managers(w);
	if (cluster_net_call(cli, request, timeout, reply, err, errlen) != 0) {
		pthread_mutex_lock(&w->lock);
		w->info_pending = true;
		if (json_array_size(w->managers) > 1) { /* try the next manager */
			worker_retire_client(w);
			worker_next_manager(w);
		}
		pthread_mutex_unlock(&w->lock);
		return -1;
	}
	json_t *hb = json_object_get(*reply, "heartbeat_ms");
	const char *leader = cluster_jstr(*reply, "leader_addr");
	pthread_mutex_lock(&w->lock);
	if (leader && *leader)
		worker_retarget_locked(w, leader);
	if (json_is_integer(hb) && json_integer_value(hb) > 0)
		w->heartbeat_ms = (int)json_integer_value(hb);
	if (json_object_get(*reply, "error"))
		w->info_pending = true;
	pthread_mutex_unlock(&w->lock);
	return 0;
}

json_t *cluster_worker_info(struct cluster_worker *w)
{
	json_t *manager = json_pack("{s:s}", "Addr", w->manager_addr);
	if (w->manager_node_id[0])
		json_object_set_new(manager, "NodeID", json_string(w->manager_node_id));
	return json_pack("{s:s,s:s,s:s,s:b,s:s,s:[o],s:i,s:i}", "NodeID", w->node_id,
			 "NodeAddr", w->advertise_addr, "LocalNodeState", "active",
			 "ControlAvailable", 0, "Error", "", "RemoteManagers", manager,
			 "Nodes", 0, "Managers", 0);
}

bool cluster_worker_is_manager(const struct cluster_worker *w)
{
	return w->is_manager;
}


/* key as PEM text, through w's directory, or a private temporary one for
 * a link that saves nothing. */
static char *worker_key_text(struct cluster_worker *w, const struct pki_key *key,
			     char *err, size_t errlen)
{
	if (w->dir[0])
		return cluster_key_pem_text(key, w->dir, err, errlen);
	char tmp[] = "/tmp/orchd-key-XXXXXX";
	if (!mkdtemp(tmp)) {
		snprintf(err, errlen, "cannot make a temporary directory: %s", strerror(errno));
		return NULL;
	}
	char *pem = cluster_key_pem_text(key, tmp, err, errlen);
	rmdir(tmp);
	return pem;
}

/* The renewal answer: the certificate chains to our CA, names this node
 * and carries key; installs it (and the new role) in w. */
static int worker_take_cert(struct cluster_worker *w, const json_t *reply,
			    const struct pki_key *key, char *err, size_t errlen)
{
	struct pki_cert *ca = NULL;
	char *key_pem = NULL;
	const char *e = cluster_jstr(reply, "error"), *cert = cluster_jstr(reply, "cert");
	if (e || !cert) {
		snprintf(err, errlen, "%s", e ? e : "the manager answered without a certificate");
		return -1;
	}
	pthread_mutex_lock(&w->lock);
	char *old_cert = w->cert_pem;
	w->cert_pem = strdup(cert);
	int rc = pki_cert_parse(w->ca_pem, strlen(w->ca_pem), &ca, err, errlen);
	if (rc == 0)
		rc = cluster_worker_check_cert(w, ca, key, err, errlen);
	if (rc == 0 && !(key_pem = worker_key_text(w, key, err, errlen)))
		rc = -1;
	if (rc != 0) {
		free(w->cert_pem);
		w->cert_pem = old_cert;
	} else {
		free(old_cert);
		free(w->key_pem);
		w->key_pem = key_pem;
		json_decref(w->joined);
		w->joined = json_pack("{s:O*,s:O*,s:O*}", "ca_key", json_object_get(reply, "ca_key"),
				      "leader_raft_id", json_object_get(reply, "leader_raft_id"),
				      "leader_addr", json_object_get(reply, "leader_addr"));
		worker_retire_client(w); /* the next call connects with the new one */
	}
	pthread_mutex_unlock(&w->lock);
	pki_cert_free(ca);
	return rc;
}

int cluster_worker_renew(struct cluster_worker *w, json_t *extra, char *err,
			 size_t errlen)
{
	struct pki_rng *rng = NULL;
	struct pki_key *key = NULL;
	struct pki_identity id;
	char *csr = NULL;
	json_t *reply = NULL;
	json_t *req = extra ? extra : json_object();
	struct cluster_net_client *cli = cluster_worker_client(w, err, errlen);
	int rc = -1;
	if (!cli || pki_rng_new(&rng, err, errlen) != 0 ||
	    pki_key_generate(rng, &key, err, errlen) != 0 ||
	    pki_identity_set(&id, w->node_id, PKI_ROLE_WORKER, "renewing", err, errlen) != 0 ||
	    pki_csr_make(key, &id, rng, &csr, err, errlen) != 0)
		goto out;
	json_object_set_new(req, "op", json_string("renew"));
	json_object_set_new(req, "node_id", json_string(w->node_id));
	json_object_set_new(req, "csr", json_string(csr));
	rc = cluster_net_call(cli, json_incref(req), CLUSTER_RENEW_TIMEOUT_MS, &reply, err, errlen);
	const char *leader = rc == 0 && cluster_jstr(reply, "error") ? cluster_jstr(reply, "leader_addr") : NULL;
	if (leader && *leader) { /* not the leader: ask the one it names, once */
		cluster_worker_retarget(w, leader);
		json_decref(reply);
		reply = NULL;
		cli = cluster_worker_client(w, err, errlen);
		rc = cli ? cluster_net_call(cli, json_incref(req), CLUSTER_RENEW_TIMEOUT_MS, &reply,
					    err, errlen)
			 : -1;
	}
	if (rc == 0)
		rc = worker_take_cert(w, reply, key, err, errlen);
	if (rc == 0 && w->dir[0])
		rc = cluster_worker_save(w, err, errlen);
out:
	json_decref(req);
	json_decref(reply);
	free(csr);
	pki_key_free(key);
	pki_rng_free(rng);
	return rc;
}

int cluster_worker_renew_at(struct cluster_worker *w, unsigned permille,
			    int64_t *at, char *err, size_t errlen)
{
	pthread_mutex_lock(&w->lock);
	int rc = cluster_cert_renew_at(w->cert_pem, permille, at, err, errlen);
	pthread_mutex_unlock(&w->lock);
	return rc;
}


int cluster_worker_reload(struct cluster_worker *w, const char *cert_dir,
			  char *err, size_t errlen)
{
	char path[700];
	char *cert, *key;
	snprintf(path, sizeof(path), "%s/%s", cert_dir, PKI_NODE_CERT_FILE);
	if (!(cert = util_read_file(path, err, errlen)))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", cert_dir, PKI_NODE_KEY_FILE);
	if (!(key = util_read_file(path, err, errlen))) {
		free(cert);
		return -1;
	}
	pthread_mutex_lock(&w->lock);
	bool same = strcmp(cert, w->cert_pem) == 0;
	if (!same) {
		free(w->cert_pem);
		free(w->key_pem);
		w->cert_pem = cert;
		w->key_pem = key;
		worker_retire_client(w);
	}
	pthread_mutex_unlock(&w->lock);
	if (same) {
		free(cert);
		free(key);
	}
	return 0;
}


void cluster_worker_retarget(struct cluster_worker *w, const char *addr)
{
	pthread_mutex_lock(&w->lock);
	worker_retarget_locked(w, addr);
	pthread_mutex_unlock(&w->lock);
}

const char *cluster_worker_addr(const struct cluster_worker *w)
{
	return w->manager_addr;
}

int cluster_forward_api(const char *cert_dir, const char *addr,
			const struct api_request *req, struct api_response *resp,
			char *err, size_t errlen)
{
	struct cluster_worker *w = NULL;
	if (cluster_worker_for_manager(cert_dir, "", addr, &w, err, errlen) != 0)
		return -1;
	json_t *query = json_array();
	for (size_t i = 0; i < req->query_count; i++)
		json_array_append_new(query, json_pack("{s:s,s:s}", "name", req->query[i].name,
						       "value", req->query[i].value));
	json_t *call = json_pack("{s:s,s:s,s:s,s:o,s:s%}", "op", "api", "method", req->method,
				 "path", req->path, "query", query, "body", req->body,
				 req->body_len);
	json_t *reply = NULL;
	struct cluster_net_client *cli = cluster_worker_client(w, err, errlen);
	int rc = cli && call ? cluster_net_call(cli, call, CLUSTER_JOIN_TIMEOUT_MS, &reply, err,
						errlen)
			     : (json_decref(call), -1);
	cluster_worker_free(w);
	if (rc != 0)
		return -1;
	const char *e = cluster_jstr(reply, "error"), *type = cluster_jstr(reply, "content_type");
	json_t *text = json_object_get(reply, "body");
	if (e || !json_is_string(text)) {
		snprintf(err, errlen, "the leader did not run the request: %s", e ? e : "no body");
		json_decref(reply);
		return -1;
	}
	api_response_set(resp, (int)json_integer_value(json_object_get(reply, "status")),
			 type && strcmp(type, "text/plain") == 0 ? "text/plain" : "application/json",
			 json_string_value(text), json_string_length(text));
	json_decref(reply);
	return 0;
}

/*
 * daemon_join.c: `swarm join` and `swarm leave` on this node, and the API
 * requests a worker answers itself (a worker has no cluster state). A join
 * with a manager token makes the node a manager (daemon_become_manager).
 * Owns nothing: it changes the link through daemon_link.c.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "fsutil.h"

/* ------------------------------------------------------------- workers */

/* Where a joining manager's raft listens for the others: the advertise
 * address (or the listen address' IP) with the listen port. */
void orchd_join_manager_addr(const json_t *body, char *out, size_t len)
{
	const char *listen = json_string_value(json_object_get(body, "ListenAddr"));
	const char *adv = json_string_value(json_object_get(body, "AdvertiseAddr"));
	char host[128];
	snprintf(host, sizeof(host), "%s", adv && *adv ? adv : listen ? listen : "127.0.0.1");
	char *colon = strchr(host, ':');
	if (colon)
		*colon = '\0';
	const char *port = listen ? strrchr(listen, ':') : NULL;
	snprintf(out, len, "%s:%s", host, port && port[1] ? port + 1 : "2377");
}

/* The join made this node a manager: install the certificates, start its
 * raft replica, and wait (bounded) until the leader made it a voter. */
#define ORCHD_MANAGER_JOIN_WAIT_MS 20000
int orchd_become_manager(struct orchd *o, struct cluster_worker *w,
				const json_t *body, char *err, size_t errlen)
{
	char dir[700], manager_addr[200];
	json_t *joined = NULL;
	snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
	int rc = cluster_worker_install_manager(w, dir, &joined, err, errlen);
	cluster_worker_free(w);
	cluster_worker_forget(o->worker_dir, err, 0);
	if (rc != 0)
		return -1;
	orchd_join_manager_addr(body, manager_addr, sizeof(manager_addr));
	const char *listen = json_string_value(json_object_get(body, "ListenAddr"));
	char advertise[128];
	snprintf(advertise, sizeof(advertise), "%s", manager_addr);
	*strrchr(advertise, ':') = '\0';
	json_t *answer = orchd_manager_call(
		o, json_pack("{s:s,s:s,s:s,s:O,s:O}", "op", "swarm_join_manager",
			     "advertise_addr", advertise, "listen_addr",
			     listen && *listen ? listen : "0.0.0.0:2377", "leader_raft_id",
			     json_object_get(joined, "leader_raft_id"), "leader_addr",
			     json_object_get(joined, "leader_addr")));
	json_decref(joined);
	const char *e = json_string_value(json_object_get(answer, "error"));
	if (!answer || e) {
		snprintf(err, errlen, "%s", e ? e : "the manager is stopping");
		json_decref(answer);
		return -1;
	}
	json_decref(answer);
	for (int waited = 0; waited < ORCHD_MANAGER_JOIN_WAIT_MS; waited += 100) {
		json_t *state = orchd_manager_call(o, json_pack("{s:s}", "op", "raft_state"));
		bool voter = json_is_true(json_object_get(state, "voter"));
		json_decref(state);
		if (voter)
			break;
		usleep(100 * 1000);
	}
	log_msg(LOG_INFO, "daemon", "joined the swarm as manager %s", o->node_id);
	return 0;
}

static void orchd_api_join(struct orchd *o, const struct api_request *req,
			   struct api_response *resp)
{
	if (link_is_worker(o) || orchd_is_manager(o)) {
		api_response_error(resp, 503, "This node is already part of a swarm. Use \"orchctl swarm leave\" to leave this swarm and join another one.");
		return;
	}
	json_error_t jerr;
	json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
	if (!json_is_object(body)) {
		api_response_error(resp, 400, "invalid JSON in request body: %s", jerr.text);
		json_decref(body);
		return;
	}
	char err[1024] = "";
	struct cluster_worker *w = NULL;
	char swarm_dir[600];
	snprintf(swarm_dir, sizeof(swarm_dir), "%s/swarm", o->cfg.data_root);
	(void)util_mkdir_p(swarm_dir, 0700, NULL, 0); /* the join says why */
	char raft_id[24], manager_addr[200];
	snprintf(raft_id, sizeof(raft_id), "%llu", (unsigned long long)o->raft_id);
	json_object_set_new(body, "OrchRaftID", json_string(raft_id));
	orchd_join_manager_addr(body, manager_addr, sizeof(manager_addr));
	json_object_set_new(body, "OrchManagerAddr", json_string(manager_addr));
	int rc = cluster_worker_join(o->worker_dir, o->node_id, o->hostname, body, &w, err,
				     sizeof(err));
	if (rc == 0 && cluster_worker_is_manager(w)) {
		rc = orchd_become_manager(o, w, body, err, sizeof(err));
		json_decref(body);
		if (rc != 0)
			api_response_error(resp, 500, "%s", err);
		else
			api_response_set(resp, 200, "text/plain", "", 0);
		return;
	}
	json_decref(body);
	if (rc != 0) {
		api_response_error(resp, 400, "%s", err);
		return;
	}
	link_set_worker(o, w);
	log_msg(LOG_INFO, "daemon", "joined the swarm as worker %s", o->node_id);
	api_response_set(resp, 200, "text/plain", "", 0);
}

static void orchd_api_leave(struct orchd *o, struct api_response *resp)
{
	char err[700] = "";
	link_set_worker(o, NULL);
	if (cluster_worker_forget(o->worker_dir, err, sizeof(err)) != 0) {
		api_response_error(resp, 500, "%s", err);
		return;
	}
	log_msg(LOG_INFO, "daemon", "left the swarm");
	api_response_set(resp, 200, "text/plain", "", 0);
}

/* GET /info on a worker: the local part, with the worker's Swarm. */
static void orchd_api_worker_info(struct orchd *o, struct api_response *resp)
{
	struct link_ref *ref;
	struct cluster_worker *w = link_worker_acquire(o, &ref);
	json_t *swarm = w ? cluster_worker_info(w) : NULL;
	link_worker_release(o, ref);
	pthread_mutex_lock(&o->info_lock);
	json_t *runtimes = json_incref(json_object_get(o->node_info, "runtimes"));
	pthread_mutex_unlock(&o->info_lock);
	api_response_json(resp, 200,
			  json_pack("{s:s,s:s,s:s,s:o,s:o}", "ID", o->node_id, "Name",
				    o->hostname, "ServerVersion", ORCHD_VERSION, "Swarm",
				    swarm ? swarm : json_object(), "OrchRuntimes",
				    runtimes ? runtimes : json_array()));
}

/* Requests a worker answers itself; true when handled. */
bool orchd_api_worker(struct orchd *o, const struct api_request *req,
			     struct api_response *resp)
{
	bool post = strcmp(req->method, "POST") == 0;
	if (post && strcmp(req->path, "/swarm/join") == 0) {
		orchd_api_join(o, req, resp);
		return true;
	}
	if (!link_is_worker(o))
		return false;
	if (post && strcmp(req->path, "/swarm/leave") == 0)
		orchd_api_leave(o, resp);
	else if (strcmp(req->method, "GET") == 0 && strcmp(req->path, "/info") == 0)
		orchd_api_worker_info(o, resp);
	else if (strcmp(req->path, "/_ping") == 0 || strcmp(req->path, "/version") == 0)
		return false;
	else if (post && strcmp(req->path, "/swarm/init") == 0)
		api_response_error(resp, 503, "This node is already part of a swarm. Use \"orchctl swarm leave\" to leave this swarm and join another one.");
	else
		api_response_error(resp, 503, "%s", CLUSTER_NOT_MANAGER_MESSAGE);
	return true;
}

/*
 * daemon_role.c: the role keeper thread. Owns the thread, role_stop,
 * cert_renew_permille and next_role_probe of struct orchd.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ids.h"

/* ------------------------------------------- roles and certificates */
/*
 * The role keeper thread makes this node what the cluster says it is, and
 * keeps its certificate fresh, once a second:
 * - a worker whose session says role "manager" (node promote) asks for a
 *   manager certificate and starts its raft replica (as a manager join);
 * - a manager the leader demoted gets a worker certificate, forgets raft and
 *   the CA, and carries on as a worker (also after a restart);
 * - a worker renews its certificate through the leader at a random point
 *   between 50% and 80% of its validity (a manager renews its own in the
 *   manager, and the link to the leader rereads it here).
 */

/* The local IP this host uses to reach addr ("IP:PORT"): the advertise
 * address of a worker that joined without --advertise-addr. */
static int local_ip_towards(const char *addr, char *out, size_t len)
{
	char host[128];
	snprintf(host, sizeof(host), "%s", addr);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct sockaddr_in me;
	socklen_t me_len = sizeof(me);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int rc = fd >= 0 && inet_pton(AF_INET, host, &to.sin_addr) == 1 &&
			 connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
			 getsockname(fd, (struct sockaddr *)&me, &me_len) == 0 &&
			 inet_ntop(AF_INET, &me.sin_addr, out, (socklen_t)len)
		 ? 0
		 : -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Whether orchd is stopping: a keeper going through the managers one
 * network call at a time gives up between two of them. */
static bool role_stopping(struct orchd *o)
{
	return latch_is_set(&o->role_stop);
}

/* node promote: a manager certificate, then a raft replica that the leader
 * adds as a learner and makes a voter once it caught up. */
static void role_promote(struct orchd *o)
{
	char err[1024] = "", ip[64] = "", manager_addr[200];
	struct link_ref *ref;
	struct cluster_worker *w = link_worker_acquire(o, &ref);
	json_t *info = w ? cluster_worker_info(w) : NULL;
	const char *leader = json_string_value(json_object_get(
		json_array_get(json_object_get(info, "RemoteManagers"), 0), "Addr"));
	const char *advertise = json_string_value(json_object_get(info, "NodeAddr"));
	const char *port = leader ? strrchr(leader, ':') : NULL;
	if (advertise && *advertise)
		snprintf(ip, sizeof(ip), "%s", advertise);
	else if (leader)
		local_ip_towards(leader, ip, sizeof(ip));
	json_t *body = json_pack("{s:s,s:s}", "AdvertiseAddr", ip, "ListenAddr", "");
	char listen[80];
	snprintf(listen, sizeof(listen), "0.0.0.0:%s", port ? port + 1 : "2377");
	json_object_set_new(body, "ListenAddr", json_string(listen));
	orchd_join_manager_addr(body, manager_addr, sizeof(manager_addr));
	char raft_id[24];
	snprintf(raft_id, sizeof(raft_id), "%llu", (unsigned long long)o->raft_id);
	int rc = !w || !*ip ? -1
			    : cluster_worker_renew(w, json_pack("{s:s,s:s}", "raft_id", raft_id,
								"manager_addr", manager_addr),
						   err, sizeof(err));
	bool manager = rc == 0 && cluster_worker_is_manager(w);
	link_worker_release(o, ref);
	json_decref(info);
	if (rc != 0 || !manager) {
		log_msg(LOG_WARN, "daemon", "promotion to manager: %s",
			  *err ? err : !*ip ? "no address to advertise" : "the leader kept this node a worker");
		json_decref(body);
		return;
	}
	if (!link_take_worker(o, w)) {
		json_decref(body);
		return; /* the node left the swarm meanwhile */
	}
	rc = orchd_become_manager(o, w, body, err, sizeof(err));
	json_decref(body);
	link_set_worker(o, NULL); /* the local manager hears the description */
	json_t *state = rc == 0 ? orchd_manager_call(o, json_pack("{s:s}", "op", "raft_state")) : NULL;
	if (rc != 0)
		log_msg(LOG_ERROR, "daemon", "promotion to manager failed: %s", err);
	else
		log_msg(LOG_INFO, "daemon", "promoted to manager %s (raft %s)", manager_addr,
			  json_is_true(json_object_get(state, "voter")) ? "voter" : "learner for now");
	json_decref(state);
}

/* A worker certificate for this demoted manager from the manager at
 * addr (any manager redirects to the leader), on a link saved as the
 * worker's; NULL with err. */
static struct cluster_worker *demoted_link(struct orchd *o, const char *addr,
					   const char *advertise, const json_t *managers,
					   char *err, size_t errlen)
{
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
	struct cluster_worker *w = NULL;
	if (cluster_worker_for_manager(dir, o->node_id, addr, &w, err, errlen) != 0)
		return NULL;
	if (cluster_worker_renew(w, NULL, err, errlen) != 0 ||
	    (cluster_worker_is_manager(w) &&
	     snprintf(err, errlen, "the leader still gives this node a manager certificate")) ||
	    cluster_worker_adopt(w, o->worker_dir, advertise, managers, err, errlen) != 0) {
		cluster_worker_free(w);
		return NULL;
	}
	return w;
}

/* node demote done by the leader: this node gets a worker certificate and
 * its agent a worker link saved under worker_dir; raft and the CA go. The
 * leader it knew may have been demoted since: every manager it knew is
 * asked in turn. */
static void role_demoted(struct orchd *o, const char *leader_addr, const char *advertise,
			 const json_t *managers)
{
	char err[1024] = "";
	struct cluster_worker *w = NULL;
	if (leader_addr && *leader_addr)
		w = demoted_link(o, leader_addr, advertise, managers, err, sizeof(err));
	size_t i;
	json_t *addr;
	json_array_foreach(managers, i, addr) {
		if (w || role_stopping(o))
			break;
		w = demoted_link(o, json_string_value(addr), advertise, managers, err, sizeof(err));
	}
	if (!w) {
		log_msg(LOG_WARN, "daemon", "demotion to worker: %s",
			  *err ? err : "no manager known to ask for a worker certificate");
		return;
	}
	json_decref(orchd_manager_call(o, json_pack("{s:s}", "op", "drop_manager_state")));
	leader_link_drop(o);
	pthread_mutex_lock(&o->info_lock); /* until a session says otherwise */
	snprintf(o->desired_role, sizeof(o->desired_role), "worker");
	pthread_mutex_unlock(&o->info_lock);
	link_set_worker(o, w);
	log_msg(LOG_INFO, "daemon", "demoted: carrying on as a worker of %s",
		  cluster_worker_addr(w));
}

/* A manager whose replica has known no leader for a while asks the other
 * managers for a certificate: a worker's means it was demoted while it was
 * away (its replica, no longer a member, will never hear of it), and it
 * carries on as a worker. A manager's answer (a quorum is just missing) is
 * thrown away. */
#define ROLE_LEADERLESS_PROBE_MS 10000
static void role_probe_demoted(struct orchd *o, const char *advertise, const json_t *managers)
{
	char err[1024] = "", dir[700];
	snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
	size_t i;
	json_t *addr;
	json_array_foreach(managers, i, addr) {
		if (role_stopping(o))
			return;
		struct cluster_worker *w = NULL;
		if (cluster_worker_for_manager(dir, o->node_id, json_string_value(addr), &w, err,
					       sizeof(err)) != 0)
			continue;
		bool worker = cluster_worker_renew(w, NULL, err, sizeof(err)) == 0 &&
			      !cluster_worker_is_manager(w);
		cluster_worker_free(w);
		if (worker) {
			role_demoted(o, json_string_value(addr), advertise, managers);
			return;
		}
	}
}

/* A worker's certificate, renewed through the leader when due. */
static void role_renew_worker(struct orchd *o)
{
	char err[1024] = "";
	int64_t at = 0;
	struct link_ref *ref;
	struct cluster_worker *w = link_worker_acquire(o, &ref);
	if (w && cluster_worker_renew_at(w, o->cert_renew_permille, &at, err, sizeof(err)) == 0 &&
	    time(NULL) >= at) {
		if (cluster_worker_renew(w, NULL, err, sizeof(err)) == 0) {
			log_msg(LOG_INFO, "daemon", "renewed this node's certificate");
			o->cert_renew_permille = 500 + (unsigned)(ids_random(NULL) % 301);
		} else {
			log_msg(LOG_WARN, "daemon", "certificate renewal: %s", err);
		}
	}
	link_worker_release(o, ref);
}

static void role_step(struct orchd *o)
{
	if (link_is_worker(o)) {
		pthread_mutex_lock(&o->info_lock);
		bool promote = strcmp(o->desired_role, "manager") == 0;
		pthread_mutex_unlock(&o->info_lock);
		if (promote)
			role_promote(o);
		else
			role_renew_worker(o);
		return;
	}
	json_t *state = orchd_manager_call(o, json_pack("{s:s}", "op", "swarm_state"));
	if (json_is_true(json_object_get(state, "demoted"))) {
		role_demoted(o, json_string_value(json_object_get(state, "leader_addr")),
			     json_string_value(json_object_get(state, "advertise_addr")),
			     json_object_get(state, "managers"));
	} else if (json_integer_value(json_object_get(state, "leaderless_ms")) >=
			   ROLE_LEADERLESS_PROBE_MS &&
		   time(NULL) >= o->next_role_probe) {
		/* Demoted while it was down? Its replica cannot know: the
		 * others' answer to a renewal tells. */
		o->next_role_probe = time(NULL) + ROLE_LEADERLESS_PROBE_MS / 1000;
		role_probe_demoted(o, json_string_value(json_object_get(state, "advertise_addr")),
				   json_object_get(state, "managers"));
	} else if (json_is_true(json_object_get(state, "manager"))) {
		char dir[700], err[512];
		snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
		pthread_mutex_lock(&o->leader_lock);
		if (o->leader_link && cluster_worker_reload(o->leader_link, dir, err, sizeof(err)) != 0)
			log_msg(LOG_WARN, "daemon", "link to the leader: %s", err);
		pthread_mutex_unlock(&o->leader_lock);
	}
	json_decref(state);
}

void *role_main(void *arg)
{
	struct orchd *o = arg;
	while (!latch_wait(&o->role_stop, 1000000000LL))
		role_step(o);
	return NULL;
}

/* Tells the role keeper to stop at its next look; role_keeper_join
 * waits for it (after the manager stopped, so that a call of the keeper
 * queued behind a loaded manager's inbox is refused, not waited for). */
void role_keeper_signal(struct orchd *o)
{
	latch_set(&o->role_stop);
}

void role_keeper_join(struct orchd *o)
{
	if (!o->role_thread_started)
		return;
	pthread_join(o->role_thread, NULL);
	o->role_thread_started = false;
}

/*
 * daemon_link.c: the agent's link to its manager (struct agent_link): the
 * local manager's inbox on a manager node, the leader over TLS when the local
 * manager is a follower, the remote manager on a worker. Owns the link
 * fields of struct orchd (worker, leader_link, node_info, desired_role)
 * under link_lock, leader_lock and info_lock (lock order: link_lock, then
 * leader_lock, then info_lock; none is held across a network call: a
 * caller holds a reference to the worker link instead, and the last one
 * frees it).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

/* ------------------------------------------- the local agent's link */

/* The manager node's own agent talks to the manager through its inbox. */
int local_link_send(void *ctx, enum inbox_kind kind, json_t *body)
{
	struct orchd *o = ctx;
	return inbox_post(manager_inbox(o->manager), kind, body, NULL);
}

/* The link to the leader when the local manager is a follower, or NULL. */
static struct cluster_worker *leader_link_get(struct orchd *o)
{
	pthread_mutex_lock(&o->leader_lock);
	struct cluster_worker *w = o->leader_active ? o->leader_link : NULL;
	pthread_mutex_unlock(&o->leader_lock);
	return w;
}

/* The local manager named the leader at addr: the agent goes there. */
static void leader_link_use(struct orchd *o, const char *addr)
{
	char dir[700], err[512];
	snprintf(dir, sizeof(dir), "%s/swarm/certificates", o->cfg.data_root);
	pthread_mutex_lock(&o->leader_lock);
	if (!o->leader_link &&
	    cluster_worker_for_manager(dir, o->node_id, addr, &o->leader_link, err,
				       sizeof(err)) != 0) {
		o->leader_link = NULL;
		log_msg(LOG_WARN, "daemon", "cannot link to the leader: %s", err);
	}
	if (o->leader_link) {
		cluster_worker_retarget(o->leader_link, addr);
		pthread_mutex_lock(&o->info_lock);
		cluster_worker_set_node_info(o->leader_link, o->node_info);
		pthread_mutex_unlock(&o->info_lock);
		o->leader_active = true;
	}
	pthread_mutex_unlock(&o->leader_lock);
}

void leader_link_drop(struct orchd *o)
{
	pthread_mutex_lock(&o->leader_lock);
	o->leader_active = false;
	pthread_mutex_unlock(&o->leader_lock);
}

/* A worker link and how many hold it: struct orchd's own reference
 * while it is the link, plus one per call in flight. */
struct link_ref {
	struct cluster_worker *w;
	unsigned users; /* guarded by link_lock */
};

struct cluster_worker *link_worker_acquire(struct orchd *o, struct link_ref **ref)
{
	pthread_mutex_lock(&o->link_lock);
	*ref = o->worker;
	if (*ref)
		(*ref)->users++;
	pthread_mutex_unlock(&o->link_lock);
	return *ref ? (*ref)->w : NULL;
}

void link_worker_release(struct orchd *o, struct link_ref *ref)
{
	if (!ref)
		return;
	pthread_mutex_lock(&o->link_lock);
	bool last = --ref->users == 0;
	pthread_cond_broadcast(&o->link_idle);
	pthread_mutex_unlock(&o->link_lock);
	if (last) {
		cluster_worker_free(ref->w);
		free(ref);
	}
}

/* Replaces the worker link; the old one is freed by its last user. */
static void link_replace(struct orchd *o, struct link_ref *ref)
{
	pthread_mutex_lock(&o->link_lock);
	struct link_ref *old = o->worker;
	o->worker = ref;
	pthread_mutex_unlock(&o->link_lock);
	link_worker_release(o, old);
}

void link_close(struct orchd *o)
{
	link_replace(o, NULL);
}

/* The agent's link: to the remote manager on a worker, else local. The
 * node description is kept so that a new link can send it again. */
int link_send(void *ctx, enum inbox_kind kind, json_t *body)
{
	struct orchd *o = ctx;
	if (kind == INBOX_NODE_INFO) {
		pthread_mutex_lock(&o->info_lock);
		json_decref(o->node_info);
		o->node_info = json_deep_copy(body);
		pthread_mutex_unlock(&o->info_lock);
	}
	struct link_ref *ref;
	struct cluster_worker *w = link_worker_acquire(o, &ref);
	struct cluster_worker *leader = w ? NULL : leader_link_get(o);
	int rc = w	  ? cluster_worker_send(w, kind, body)
		 : leader ? cluster_worker_send(leader, kind, body)
			  : local_link_send(o, kind, body);
	link_worker_release(o, ref);
	return rc;
}

static void local_session_reply(void *ctx, json_t *reply)
{
	struct inbox_call *call = ctx;
	call->response = reply;
	inbox_call_finish(call);
}

static int local_link_session(void *ctx, json_t *request, json_t **reply,
			      char *err, size_t errlen)
{
	struct orchd *o = ctx;
	struct inbox_call call;
	inbox_call_init(&call, NULL);
	struct inbox_reply_to to = { .fn = local_session_reply, .ctx = &call };
	if (inbox_post_ptr(manager_inbox(o->manager), INBOX_CLUSTER_REQUEST, request, &to) != 0) {
		inbox_call_fini(&call);
		snprintf(err, errlen, "the manager is stopping");
		return -1;
	}
	inbox_call_wait(&call);
	*reply = call.response;
	inbox_call_fini(&call);
	return 0;
}

/* A session of this node's agent while its manager may be a follower:
 * through the leader link when one is in use (a failure falls back to the
 * local manager, which may have become the leader), else locally (an
 * answer naming the leader switches to the link). */
static int manager_node_session(struct orchd *o, json_t *request, json_t **reply,
				char *err, size_t errlen)
{
	struct cluster_worker *leader = leader_link_get(o);
	if (leader) {
		int rc = cluster_worker_session(leader, request, reply, err, errlen);
		if (rc != 0)
			leader_link_drop(o);
		return rc;
	}
	int rc = local_link_session(o, request, reply, err, errlen);
	const char *addr = rc == 0 ? json_string_value(json_object_get(*reply, "leader_addr")) : NULL;
	if (addr && *addr)
		leader_link_use(o, addr);
	return rc;
}

int link_session(void *ctx, json_t *request, json_t **reply, char *err,
			size_t errlen)
{
	struct orchd *o = ctx;
	struct link_ref *ref;
	struct cluster_worker *w = link_worker_acquire(o, &ref);
	int rc = w ? cluster_worker_session(w, request, reply, err, errlen)
		   : manager_node_session(o, request, reply, err, errlen);
	link_worker_release(o, ref);
	const char *role = rc == 0 ? json_string_value(json_object_get(*reply, "role")) : NULL;
	if (role) {
		pthread_mutex_lock(&o->info_lock);
		snprintf(o->desired_role, sizeof(o->desired_role), "%s", role);
		pthread_mutex_unlock(&o->info_lock);
	}
	return rc;
}

/* Makes w the agent's link (NULL: back to the local manager). */
void link_set_worker(struct orchd *o, struct cluster_worker *w)
{
	if (w) {
		pthread_mutex_lock(&o->info_lock);
		cluster_worker_set_node_info(w, o->node_info);
		pthread_mutex_unlock(&o->info_lock);
	}
	struct link_ref *ref = NULL;
	if (w) {
		ref = calloc(1, sizeof(*ref));
		if (!ref) { /* cannot keep it: the agent stays local */
			log_msg(LOG_ERROR, "daemon", "out of memory keeping the worker link");
			cluster_worker_free(w);
			w = NULL;
		} else {
			*ref = (struct link_ref){ .w = w, .users = 1 };
		}
	}
	link_replace(o, ref);
	if (!w) { /* the local manager hears this node's description again */
		pthread_mutex_lock(&o->info_lock);
		json_t *info = json_deep_copy(o->node_info);
		pthread_mutex_unlock(&o->info_lock);
		if (info)
			local_link_send(o, INBOX_NODE_INFO, info);
	}
}

bool link_is_worker(struct orchd *o)
{
	pthread_mutex_lock(&o->link_lock);
	bool worker = o->worker != NULL;
	pthread_mutex_unlock(&o->link_lock);
	return worker;
}

/* Takes the worker link out of the agent's hands (it goes local) once no
 * call uses it; NULL when w is no longer the link. */
struct cluster_worker *link_take_worker(struct orchd *o, struct cluster_worker *w)
{
	pthread_mutex_lock(&o->link_lock);
	struct link_ref *ref = o->worker && o->worker->w == w ? o->worker : NULL;
	if (ref)
		o->worker = NULL;
	while (ref && ref->users > 1)
		pthread_cond_wait(&o->link_idle, &o->link_lock);
	pthread_mutex_unlock(&o->link_lock);
	free(ref);
	return ref ? w : NULL;
}

/* Whether the local manager is part of a swarm (then it cannot join). */
bool orchd_is_manager(struct orchd *o)
{
	struct inbox_call call;
	json_t *ask = json_pack("{s:s}", "op", "swarm_state");
	inbox_call_init(&call, ask);
	int rc = inbox_call(manager_inbox(o->manager), INBOX_CALL, NULL, &call);
	json_t *state = call.response;
	inbox_call_fini(&call);
	json_decref(ask);
	bool manager = rc == 0 && json_is_true(json_object_get(state, "manager"));
	json_decref(state);
	return manager;
}

/* An internal call into the manager (see manager_api_internal). */
json_t *orchd_manager_call(struct orchd *o, json_t *ask)
{
	struct inbox_call call;
	inbox_call_init(&call, ask);
	int rc = inbox_call(manager_inbox(o->manager), INBOX_CALL, NULL, &call);
	json_t *answer = rc == 0 ? call.response : NULL;
	if (rc != 0)
		json_decref(call.response);
	inbox_call_fini(&call);
	json_decref(ask);
	return answer;
}

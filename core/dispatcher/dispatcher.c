/*
 * dispatcher.c: agent sessions on the manager (see dispatcher.h). Owns one
 * record per node that has a session: what was last sent to it (task id ->
 * Version.Index), the version of that reply, when the agent last asked, and
 * the request it holds, if any.
 */
#include "dispatcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

struct session {
	char node_id[64];
	char session_id[32];
	uint64_t version;      /* of the last reply */
	json_t *sent;          /* task id -> Version.Index, as last sent */
	int64_t last_seen_ns;
	uint64_t diff_index;   /* store index its last difference was taken at */
	struct inbox_reply_to *held; /* the request waiting for news */
	int64_t held_since_ns;
	bool held_full;              /* the held reply must be a full one */
};

struct dispatcher {
	struct session *sessions;
	size_t n, cap;
	/* The store's tasks by node ({node id: {task id: Task}}), borrowed
	 * references, rebuilt when the store moved past by_node_index: a
	 * session looks at its own node's tasks only. */
	json_t *by_node;
	uint64_t by_node_index;
	const struct store *by_node_store;
};

struct dispatcher *dispatcher_new(void)
{
	return calloc(1, sizeof(struct dispatcher));
}

static void session_answer_error(struct session *s, const char *why)
{
	if (!s->held)
		return;
	s->held->fn(s->held->ctx, json_pack("{s:s}", "error", why));
	s->held = NULL;
}

void dispatcher_reset(struct dispatcher *d)
{
	for (size_t i = 0; i < d->n; i++) {
		session_answer_error(&d->sessions[i], "the manager changed; start a new session");
		json_decref(d->sessions[i].sent);
	}
	d->n = 0;
}

void dispatcher_free(struct dispatcher *d)
{
	if (!d)
		return;
	dispatcher_reset(d);
	json_decref(d->by_node);
	free(d->sessions);
	free(d);
}

static struct session *session_find(const struct dispatcher *d, const char *node_id)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->sessions[i].node_id, node_id) == 0)
			return &d->sessions[i];
	return NULL;
}

static struct session *session_get(struct dispatcher *d, const char *node_id)
{
	struct session *s = session_find(d, node_id);
	if (s)
		return s;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 8;
		d->sessions = realloc(d->sessions, d->cap * sizeof(*d->sessions));
	}
	s = &d->sessions[d->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->node_id, sizeof(s->node_id), "%s", node_id);
	ids_new_id(NULL, s->session_id);
	s->sent = json_object();
	return s;
}

int64_t dispatcher_last_seen(const struct dispatcher *d, const char *node_id)
{
	const struct session *s = session_find(d, node_id);
	return s ? s->last_seen_ns : 0;
}

static int64_t task_version(const json_t *task)
{
	return json_integer_value(json_object_get(json_object_get(task, "Version"), "Index"));
}

/* The assigned tasks of every node, as of the store's current index. */
static const json_t *tasks_of_node(struct dispatcher *d, const struct store *st,
				   const char *node_id)
{
	if (!d->by_node || d->by_node_index != st->applied_index || d->by_node_store != st) {
		json_decref(d->by_node);
		d->by_node = json_object();
		d->by_node_index = st->applied_index;
		d->by_node_store = st;
		const char *id;
		json_t *task;
		json_object_foreach(st->tasks, id, task) {
			const char *node = store_task_node(task);
			if (!node || store_task_state(task) < TASK_ASSIGNED)
				continue;
			json_t *mine = json_object_get(d->by_node, node);
			if (!mine) {
				mine = json_object();
				json_object_set_new(d->by_node, node, mine);
			}
			json_object_set(mine, id, task);
		}
	}
	return json_object_get(d->by_node, node_id);
}

/* What changed for the session's node since the last reply; NULL when
 * nothing did (and no full resync is due). */
static json_t *session_diff(struct dispatcher *d, struct session *s,
			    const struct store *st, bool full)
{
	json_t *changed = json_array(), *removed = json_array(), *current = json_object();
	const char *id;
	json_t *task;
	json_object_foreach((json_t *)tasks_of_node(d, st, s->node_id), id, task) {
		json_object_set_new(current, id, json_integer(task_version(task)));
		json_t *was = json_object_get(s->sent, id);
		if (full || !was || json_integer_value(was) != task_version(task))
			json_array_append_new(changed, json_deep_copy(task));
	}
	json_t *v;
	json_object_foreach(s->sent, id, v)
		if (!full && !json_object_get(current, id))
			json_array_append_new(removed, json_string(id));
	if (!full && json_array_size(changed) == 0 && json_array_size(removed) == 0) {
		json_decref(changed);
		json_decref(removed);
		json_decref(current);
		return NULL;
	}
	json_decref(s->sent);
	s->sent = current;
	return json_pack("{s:b,s:o,s:o}", "full", full, "tasks", changed, "removed", removed);
}

/* Every reply also carries the role the cluster gives the node (a worker
 * promoted to manager acts on it) and the heartbeat period. */
static void session_reply(struct session *s, const struct store *st, json_t *diff,
			  int64_t period_ns)
{
	if (!diff)
		diff = json_pack("{s:b,s:[],s:[]}", "full", 0, "tasks", "removed");
	s->version++;
	json_object_set_new(diff, "session_id", json_string(s->session_id));
	json_object_set_new(diff, "version", json_integer((json_int_t)s->version));
	json_object_set_new(diff, "heartbeat_ms", json_integer(period_ns / 1000000));
	const char *role = json_string_value(json_object_get(
		json_object_get(store_node(st, s->node_id), "Spec"), "Role"));
	if (role)
		json_object_set_new(diff, "role", json_string(role));
	s->held->fn(s->held->ctx, diff);
	s->held = NULL;
}

const char *dispatcher_request(struct dispatcher *d, const struct store *st,
			       json_t *request, struct inbox_reply_to *reply_to,
			       int64_t now_ns, int64_t period_ns)
{
	const char *node_id = json_string_value(json_object_get(request, "node_id"));
	const char *session_id = json_string_value(json_object_get(request, "session_id"));
	if (!node_id || !*node_id || strlen(node_id) >= 64) {
		reply_to->fn(reply_to->ctx, json_pack("{s:s}", "error", "session: node_id required"));
		return NULL;
	}
	struct session *s = session_get(d, node_id);
	/* A second request replaces the first (the agent gave up on it). */
	session_answer_error(s, "superseded by a newer session request");
	bool known = session_id && strcmp(session_id, s->session_id) == 0 &&
		     (uint64_t)json_integer_value(json_object_get(request, "ack")) == s->version;
	s->last_seen_ns = now_ns;
	s->held = reply_to;
	s->held_since_ns = now_ns;
	s->held_full = !known;
	/* Nothing changed since this agent's last answer: no need to look. */
	json_t *diff = s->held_full || s->diff_index != st->applied_index
			       ? session_diff(d, s, st, s->held_full)
			       : NULL;
	s->diff_index = st->applied_index;
	if (diff)
		session_reply(s, st, diff, period_ns);
	return s->node_id;
}

/* How long a request with nothing to send is held: half a heartbeat
 * period, so that the manager hears from every agent at least twice a
 * period and a short network blip (plus TCP's retransmission backoff)
 * stays well inside the 2.5 periods after which a node is down. */
static int64_t session_hold_ns(int64_t period_ns)
{
	return period_ns / 2;
}

void dispatcher_step(struct dispatcher *d, const struct store *st,
		     int64_t now_ns, int64_t period_ns)
{
	for (size_t i = 0; i < d->n; i++) {
		struct session *s = &d->sessions[i];
		if (!s->held)
			continue;
		/* The tasks are compared only when the store changed since
		 * this session last looked (thousands of idle sessions cost
		 * nothing but their timers). */
		json_t *diff = s->diff_index != st->applied_index ? session_diff(d, s, st, false)
								  : NULL;
		s->diff_index = st->applied_index;
		if (diff || now_ns - s->held_since_ns >= session_hold_ns(period_ns))
			session_reply(s, st, diff, period_ns);
	}
}

int64_t dispatcher_next_deadline(const struct dispatcher *d, int64_t period_ns)
{
	int64_t next = INT64_MAX;
	for (size_t i = 0; i < d->n; i++)
		if (d->sessions[i].held &&
		    d->sessions[i].held_since_ns + session_hold_ns(period_ns) < next)
			next = d->sessions[i].held_since_ns + session_hold_ns(period_ns);
	return next;
}

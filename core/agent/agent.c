/*
 * agent.c: the agent thread (see agent.h). Owns the agent's inbox, the list
 * of runtimes this node offers, and `local`: what this node knows of each
 * task it runs (runtime, last state the runtime reported, whether a stop was
 * sent). Runtime plugins report through task_status events, which the plugin
 * host posts here as INBOX_RUNTIME_EVENT.
 */
#include "agent.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonref.h"
#include "log.h"
#include "latch.h"
#include "store.h"
#include "timefmt.h"

#define AGENT_CALL_TIMEOUT_MS 10000
#define AGENT_RUNTIME_REFRESH_NS 5000000000LL
#define AGENT_DEFAULT_GRACE_MS 10000
#define AGENT_RETRY_NS 500000000LL /* unsent statuses, failed sessions */

struct agent {
	struct agent_config cfg;
	struct inbox *inbox;
	pthread_t thread;
	bool stopping;
	json_t *runtimes; /* name -> {available, error, resources} */
	char default_runtime[64];
	json_t *local;    /* task id -> {runtime, state, stopping} */
	json_t *assigned; /* task id -> Task, the manager's last word */
	int64_t next_refresh_ns;
	json_t *reported_info;
	json_t *outbox;   /* status updates the manager has not taken yet */
	int64_t next_flush_ns;

	/* The session thread: asks the manager for this node's tasks (long
	 * poll) and posts what changed into the inbox. */
	pthread_t session_thread;
	bool session_started;
	struct latch session_stop;
};

/* Batches of runtime requests and status reports built by one pass. */
struct agent_batch {
	json_t *start;   /* runtime -> [RTASK] */
	json_t *stop;    /* runtime -> [{task_id, grace_ms}] */
	json_t *remove;  /* runtime -> [{task_id}] */
	json_t *updates; /* status updates for the manager */
};

static void now_text(char *buf, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	timefmt_rfc3339((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, buf, len);
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* ------------------------------------------------------------ runtimes */

static json_t *agent_call(struct agent *a, const char *plugin, json_t *req,
			  char *err, size_t errlen)
{
	json_t *reply = NULL;
	if (a->cfg.plugins.call(a->cfg.plugins.ctx, plugin, req, AGENT_CALL_TIMEOUT_MS,
				&reply, err, errlen) != 0)
		return NULL;
	const char *e = json_string_value(json_object_get(reply, "error"));
	if (e) {
		snprintf(err, errlen, "%s", e);
		json_decref(reply);
		return NULL;
	}
	return reply;
}

/* Asks every runtime plugin whether its engine answers; tells the manager
 * when what this node offers changed. */
static void agent_refresh_runtimes(struct agent *a)
{
	const char *names[16];
	size_t n = a->cfg.plugins.list(a->cfg.plugins.ctx, ORCH_PLUGIN_RUNTIME, names, 16);
	json_t *offered = json_array();
	json_t *resources = NULL;
	for (size_t i = 0; i < n && i < 16; i++) {
		char err[512] = "";
		json_t *info = agent_call(a, names[i], json_pack("{s:i,s:s}", "v", 1, "op", "info"),
					  err, sizeof(err));
		bool available = info && json_is_true(json_object_get(info, "available"));
		const char *why = info ? json_string_value(json_object_get(info, "error")) : err;
		json_object_set_new(a->runtimes, names[i],
				    json_pack("{s:b,s:s}", "available", available, "error",
					      str_or_empty(why)));
		if (available) {
			json_array_append_new(offered, json_string(names[i]));
			if (!resources)
				resources = json_incref(json_object_get(info, "resources"));
		}
		json_decref(info);
	}
	const char *chosen = a->cfg.default_runtime;
	if (!chosen) {
		json_t *docker = json_object_get(a->runtimes, "docker");
		chosen = json_is_true(json_object_get(docker, "available")) ? "docker" : "process";
	}
	snprintf(a->default_runtime, sizeof(a->default_runtime), "%s", chosen);
	json_t *info = json_pack("{s:s,s:o,s:o,s:s}", "node", a->cfg.node_id, "runtimes",
				 offered, "resources", resources ? resources : json_object(),
				 "default_runtime", a->default_runtime);
	json_object_set_new(info, "hostname", json_string(str_or_empty(a->cfg.hostname)));
	if (!json_equal(info, a->reported_info)) {
		json_decref(a->reported_info);
		a->reported_info = json_incref(info);
		if (a->cfg.link.send(a->cfg.link.ctx, INBOX_NODE_INFO, info) != 0) {
			json_decref(a->reported_info); /* not taken: resend later */
			a->reported_info = NULL;
		}
	} else {
		json_decref(info);
	}
}

static const char *task_runtime(struct agent *a, const json_t *task)
{
	const char *rt = json_string_value(
		json_object_get(json_object_get(task, "Spec"), "Runtime"));
	return rt && *rt ? rt : a->default_runtime;
}

/* ------------------------------------------------------ status reports */

static void report(struct agent_batch *b, const char *id, const char *state,
		   const char *message, const char *error, json_t *extra)
{
	char now[40];
	now_text(now, sizeof(now));
	json_t *u = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "state", state, "now",
			      now, "message", message ? message : state);
	if (error && *error)
		json_object_set_new(u, "err", json_string(error));
	if (extra)
		json_object_update(u, extra);
	json_array_append_new(b->updates, u);
}

static void batch_add(json_t *batches, const char *runtime, json_t *item)
{
	json_t *list = json_object_get(batches, runtime);
	if (!list) {
		list = json_array();
		json_object_set_new(batches, runtime, list);
	}
	json_array_append_new(list, item);
}

/* ---------------------------------------------------- task -> runtime */

static json_t *rtask_resources(const json_t *res)
{
	return json_pack("{s:I,s:I}", "nano_cpus",
			 json_integer_value(json_object_get(res, "NanoCPUs")),
			 "memory_bytes",
			 json_integer_value(json_object_get(res, "MemoryBytes")));
}

/* The RTASK of the runtime protocol (sdk/orch_protocol.h) for a task. */
static json_t *rtask_of(struct agent *a, const char *id, const json_t *task)
{
	json_t *spec = json_object_get(task, "Spec");
	json_t *cs = json_object_get(spec, "ContainerSpec");
	json_t *res = json_object_get(spec, "Resources");
	json_t *mounts = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(cs, "Mounts"), i, m)
		json_array_append_new(mounts,
				      json_pack("{s:O,s:O,s:b}", "source",
						json_object_get(m, "Source"), "target",
						json_object_get(m, "Target"), "readonly",
						json_is_true(json_object_get(m, "ReadOnly"))));
	json_t *grace = json_object_get(cs, "StopGracePeriod");
	json_int_t grace_ms = json_is_integer(grace) ? json_integer_value(grace) / 1000000
						     : AGENT_DEFAULT_GRACE_MS;
	json_t *labels = json_object_get(cs, "Labels");
	json_t *rt = json_pack(
		"{s:s,s:s,s:s,s:I,s:s,s:O,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o}", "id", id,
		"service_id", str_or_empty(store_task_service(task)), "service_name",
		str_or_empty(json_string_value(json_object_get(task, "ServiceName"))),
		"slot", (json_int_t)store_task_slot(task), "node_id", a->cfg.node_id,
		"image", json_object_get(cs, "Image"), "command",
		json_ref_or_array(json_object_get(cs, "Command")),
		"args", json_ref_or_array(json_object_get(cs, "Args")),
		"env", json_ref_or_array(json_object_get(cs, "Env")),
		"mounts", mounts, "limits",
		rtask_resources(json_object_get(res, "Limits")), "reservations",
		rtask_resources(json_object_get(res, "Reservations")), "stop_grace_ms",
		grace_ms, "labels", json_ref_or_object(labels));
	return rt;
}

static json_int_t grace_ms_of(const json_t *task)
{
	json_t *grace = json_object_get(
		json_object_get(json_object_get(task, "Spec"), "ContainerSpec"),
		"StopGracePeriod");
	return json_is_integer(grace) ? json_integer_value(grace) / 1000000
				      : AGENT_DEFAULT_GRACE_MS;
}

/* ------------------------------------------------------- reconciliation */

static bool local_ended(const json_t *local)
{
	int st = task_state_parse(json_string_value(json_object_get(local, "state")));
	return st >= 0 && task_state_ended((enum task_state)st);
}

static void plan_stop(struct agent_batch *b, json_t *local, const char *id,
		      json_int_t grace_ms)
{
	if (json_is_true(json_object_get(local, "stopping")))
		return;
	json_object_set_new(local, "stopping", json_true());
	batch_add(b->stop, json_string_value(json_object_get(local, "runtime")),
		  json_pack("{s:s,s:I}", "task_id", id, "grace_ms", grace_ms));
}

static void plan_remove(struct agent *a, struct agent_batch *b, const char *id)
{
	json_t *local = json_object_get(a->local, id);
	batch_add(b->remove, json_string_value(json_object_get(local, "runtime")),
		  json_pack("{s:s}", "task_id", id));
	json_object_del(a->local, id);
}

/* A task the manager wants running that this node does not run yet. */
static void plan_start(struct agent *a, struct agent_batch *b, const char *id,
		       const json_t *task)
{
	enum task_state st = store_task_state(task);
	if (st > TASK_ASSIGNED) {
		if (!task_state_ended(st))
			report(b, id, "failed", "task lost",
			       "the runtime no longer has this task", NULL);
		return;
	}
	const char *rt = task_runtime(a, task);
	json_t *info = json_object_get(a->runtimes, rt);
	if (!json_is_true(json_object_get(info, "available"))) {
		char why[600];
		snprintf(why, sizeof(why), "runtime %s not available on this node%s%s", rt,
			 info ? ": " : "",
			 info ? str_or_empty(json_string_value(json_object_get(info, "error"))) : "");
		report(b, id, "rejected", "rejected", why, NULL);
		return;
	}
	json_object_set_new(a->local, id,
			    json_pack("{s:s,s:s,s:b}", "runtime", rt, "state", "accepted",
				      "stopping", 0));
	report(b, id, "accepted", "accepted", NULL, NULL);
	batch_add(b->start, rt, rtask_of(a, id, task));
}

static void reconcile_task(struct agent *a, struct agent_batch *b, const char *id,
			   const json_t *task)
{
	const char *desired = str_or_empty(store_task_desired(task));
	json_t *local = json_object_get(a->local, id);
	enum task_state st = store_task_state(task);
	if (strcmp(desired, "running") == 0) {
		if (!local)
			plan_start(a, b, id, task);
		else if (task_state_parse(json_string_value(json_object_get(local, "state"))) >
			 (int)st)
			report(b, id, json_string_value(json_object_get(local, "state")),
			       NULL, NULL, NULL);
		return;
	}
	if (!local) {
		if (!task_state_ended(st))
			report(b, id, "shutdown", "shutdown", NULL, NULL);
		return;
	}
	if (!local_ended(local))
		plan_stop(b, local, id, grace_ms_of(task));
	else if (strcmp(desired, "remove") == 0)
		plan_remove(a, b, id);
}

/* Sends the status updates the manager has not taken yet; what cannot be
 * sent now (no manager reachable) is kept, in order, for the next try. */
static void agent_flush(struct agent *a)
{
	if (json_array_size(a->outbox) == 0)
		return;
	/* The message gets its own array: the outbox is cleared below. */
	json_t *msg = json_pack("{s:s,s:o}", "node", a->cfg.node_id, "updates",
				json_copy(a->outbox));
	if (a->cfg.link.send(a->cfg.link.ctx, INBOX_TASK_STATUSES, msg) == 0)
		json_array_clear(a->outbox);
	else
		a->next_flush_ns = inbox_now_ns() + AGENT_RETRY_NS;
}

static void agent_send_batches(struct agent *a, struct agent_batch *b)
{
	const char *ops[] = { "start", "stop", "remove" };
	json_t *batches[] = { b->start, b->stop, b->remove };
	for (size_t k = 0; k < 3; k++) {
		const char *rt;
		json_t *list;
		json_object_foreach(batches[k], rt, list) {
			char err[512] = "";
			json_t *reply = agent_call(
				a, rt, json_pack("{s:i,s:s,s:O}", "v", 1, "op", ops[k], "tasks", list),
				err, sizeof(err));
			size_t i;
			json_t *e;
			json_array_foreach(json_object_get(reply, "errors"), i, e)
				if (k == 0)
					report(b, json_string_value(json_object_get(e, "task_id")),
					       "rejected", "rejected",
					       json_string_value(json_object_get(e, "error")), NULL);
			if (!reply && k == 0) {
				json_t *t;
				json_array_foreach(list, i, t)
					report(b, json_string_value(json_object_get(t, "id")),
					       "rejected", "rejected", err, NULL);
			}
			if (!reply)
				log_msg(LOG_WARN, "agent", "%s %s: %s", rt, ops[k], err);
			json_decref(reply);
		}
	}
	json_array_extend(a->outbox, b->updates);
	agent_flush(a);
}

static void batch_init(struct agent_batch *b)
{
	b->start = json_object();
	b->stop = json_object();
	b->remove = json_object();
	b->updates = json_array();
}

static void batch_fini(struct agent_batch *b)
{
	json_decref(b->start);
	json_decref(b->stop);
	json_decref(b->remove);
	json_decref(b->updates);
}

static void agent_reconcile(struct agent *a)
{
	struct agent_batch b;
	batch_init(&b);
	const char *id;
	json_t *task;
	json_object_foreach(a->assigned, id, task)
		reconcile_task(a, &b, id, task);
	/* Tasks the manager forgot: stop them, remove them once ended. */
	void *iter = json_object_iter(a->local);
	while (iter) {
		const char *lid = json_object_iter_key(iter);
		json_t *local = json_object_iter_value(iter);
		iter = json_object_iter_next(a->local, iter);
		if (json_object_get(a->assigned, lid))
			continue;
		if (local_ended(local))
			plan_remove(a, &b, lid);
		else
			plan_stop(&b, local, lid, AGENT_DEFAULT_GRACE_MS);
	}
	agent_send_batches(a, &b);
	batch_fini(&b);
}

/* --------------------------------------------------------------- events */

static void agent_on_statuses(struct agent *a, json_t *event)
{
	struct agent_batch b;
	batch_init(&b);
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(event, "statuses"), i, s) {
		const char *id = json_string_value(json_object_get(s, "task_id"));
		const char *state = json_string_value(json_object_get(s, "state"));
		json_t *local = id ? json_object_get(a->local, id) : NULL;
		if (!local || task_state_parse(state) < 0)
			continue;
		json_object_set_new(local, "state", json_string(state));
		json_t *extra = json_object();
		if (json_object_get(s, "exit_code"))
			json_object_set(extra, "exit_code", json_object_get(s, "exit_code"));
		if (json_string_value(json_object_get(s, "runtime_id")))
			json_object_set(extra, "container_id", json_object_get(s, "runtime_id"));
		report(&b, id, state, NULL, json_string_value(json_object_get(s, "error")),
		       extra);
		json_decref(extra);
	}
	agent_send_batches(a, &b);
	batch_fini(&b);
	agent_reconcile(a); /* an ended task may now be removable */
}

/* Takes over what the runtimes still hold after an orchd restart. */
static void agent_adopt(struct agent *a)
{
	const char *rt;
	json_t *info;
	json_object_foreach(a->runtimes, rt, info) {
		if (!json_is_true(json_object_get(info, "available")))
			continue;
		char err[512];
		json_t *reply = agent_call(a, rt, json_pack("{s:i,s:s}", "v", 1, "op", "list"),
					   err, sizeof(err));
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(reply, "tasks"), i, s) {
			const char *id = json_string_value(json_object_get(s, "task_id"));
			const char *state = json_string_value(json_object_get(s, "state"));
			if (id && task_state_parse(state) >= 0)
				json_object_set_new(a->local, id,
						    json_pack("{s:s,s:s,s:b}", "runtime", rt,
							      "state", state, "stopping", 0));
		}
		json_decref(reply);
	}
}

static json_t *agent_logs(struct agent *a, const json_t *req)
{
	const char *id = json_string_value(json_object_get(req, "task_id"));
	json_t *local = id ? json_object_get(a->local, id) : NULL;
	if (!local)
		return json_pack("{s:s}", "error", "task not on this node");
	char err[512];
	json_t *reply = agent_call(
		a, json_string_value(json_object_get(local, "runtime")),
		json_pack("{s:i,s:s,s:s,s:I}", "v", 1, "op", "logs", "task_id", id, "tail",
			  json_object_get(req, "tail")
				  ? json_integer_value(json_object_get(req, "tail"))
				  : (json_int_t)-1),
		err, sizeof(err));
	return reply ? reply : json_pack("{s:s}", "error", err);
}

/* Applies a dispatcher reply: all of this node's tasks ("full"), or those
 * that changed and the ids of those that went. */
static void agent_apply_diff(struct agent *a, const json_t *diff)
{
	if (log_enabled(LOG_DEBUG)) {
		char *text = json_dumps(diff, JSON_COMPACT);
		log_msg(LOG_DEBUG, "agent", "session diff %.400s", text ? text : "?");
		free(text);
	}
	if (json_is_true(json_object_get(diff, "full")))
		json_object_clear(a->assigned);
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(diff, "tasks"), i, t) {
		const char *id = json_string_value(json_object_get(t, "ID"));
		if (id)
			json_object_set(a->assigned, id, t);
	}
	json_array_foreach(json_object_get(diff, "removed"), i, t)
		if (json_string_value(t))
			json_object_del(a->assigned, json_string_value(t));
}

static void agent_handle(struct agent *a, struct inbox_msg *msg)
{
	switch (msg->kind) {
	case INBOX_STOP:
		a->stopping = true;
		break;
	case INBOX_ASSIGNMENTS:
		agent_apply_diff(a, msg->body);
		agent_reconcile(a);
		break;
	case INBOX_RUNTIME_EVENT:
		agent_on_statuses(a, msg->body);
		break;
	case INBOX_CALL:
		msg->call->response = agent_logs(a, msg->call->request);
		inbox_call_finish(msg->call);
		break;
	default:
		break;
	}
}

static void *agent_main(void *arg)
{
	struct agent *a = arg;
	agent_refresh_runtimes(a);
	agent_adopt(a);
	a->next_refresh_ns = inbox_now_ns() + AGENT_RUNTIME_REFRESH_NS;
	while (!a->stopping) {
		struct inbox_msg *msg = inbox_wait(a->inbox, a->next_refresh_ns);
		if (msg) {
			agent_handle(a, msg);
			inbox_msg_free(msg);
		}
		if (inbox_now_ns() >= a->next_refresh_ns) {
			agent_refresh_runtimes(a);
			a->next_refresh_ns = inbox_now_ns() + AGENT_RUNTIME_REFRESH_NS;
		}
		if (json_array_size(a->outbox) && inbox_now_ns() >= a->next_flush_ns)
			agent_flush(a);
	}
	return NULL;
}

static void *agent_session_main(void *arg)
{
	struct agent *a = arg;
	char session_id[32] = "", last_error[512] = "";
	json_int_t version = 0;
	while (!latch_is_set(&a->session_stop)) {
		json_t *req = json_pack("{s:i,s:s,s:s,s:s,s:I}", "v", 1, "op", "session",
					"node_id", a->cfg.node_id, "session_id", session_id,
					"ack", version);
		json_t *reply = NULL;
		char err[512] = "";
		int rc = a->cfg.link.session(a->cfg.link.ctx, req, &reply, err, sizeof(err));
		const char *error = json_string_value(json_object_get(reply, "error"));
		if (rc != 0 || error) {
			/* Said once per kind of failure, not once per retry. */
			if (strcmp(last_error, error ? error : err) != 0) {
				snprintf(last_error, sizeof(last_error), "%s", error ? error : err);
				log_msg(LOG_WARN, "agent", "session: %s", last_error);
			}
			json_decref(reply);
			session_id[0] = '\0'; /* the next session starts with a full sync */
			if (latch_wait(&a->session_stop, AGENT_RETRY_NS))
				break;
			continue;
		}
		last_error[0] = '\0';
		snprintf(session_id, sizeof(session_id), "%s",
			 str_or_empty(json_string_value(json_object_get(reply, "session_id"))));
		version = json_integer_value(json_object_get(reply, "version"));
		inbox_post(a->inbox, INBOX_ASSIGNMENTS, reply, NULL);
	}
	return NULL;
}

int agent_start(const struct agent_config *cfg, struct agent **out, char *err,
		size_t errlen)
{
	struct agent *a = calloc(1, sizeof(*a));
	if (!a || !(a->inbox = inbox_new())) {
		free(a);
		snprintf(err, errlen, "agent: out of memory");
		return -1;
	}
	a->cfg = *cfg;
	a->runtimes = json_object();
	a->local = json_object();
	a->assigned = json_object();
	a->outbox = json_array();
	latch_init(&a->session_stop);
	if (thread_start(&a->thread, agent_main, a, "the agent thread", err, errlen) != 0 ||
	    thread_start(&a->session_thread, agent_session_main, a,
			 "the agent's session thread", err, errlen) != 0) {
		agent_stop(a);
		return -1;
	}
	a->session_started = true;
	*out = a;
	return 0;
}

void agent_stop(struct agent *a)
{
	if (!a)
		return;
	if (a->session_started) {
		latch_set(&a->session_stop);
		pthread_join(a->session_thread, NULL);
	}
	if (a->thread) {
		inbox_post(a->inbox, INBOX_STOP, NULL, NULL);
		pthread_join(a->thread, NULL);
	}
	inbox_free(a->inbox);
	json_decref(a->runtimes);
	json_decref(a->local);
	json_decref(a->assigned);
	json_decref(a->reported_info);
	json_decref(a->outbox);
	latch_fini(&a->session_stop);
	free(a);
}

struct inbox *agent_inbox(struct agent *a)
{
	return a->inbox;
}

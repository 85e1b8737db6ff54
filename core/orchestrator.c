/*
 * orchestrator.c: the manager's reconciliation loops (see orchestrator.h).
 * Owns no state: it reads the store and returns commands.
 *
 * A slot is where one task of a service should run: slot 1..N of a
 * replicated service, or one node of a global service. In each slot at most
 * one task is live (desired running, not ended). When the live task ended on
 * its own, the restart policy decides whether and when a replacement comes;
 * when the manager itself shut it down (node down or drained, service scaled
 * down) a replacement comes at once where the slot is still wanted.
 */
#include "orchestrator.h"

#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

enum restart_condition { RESTART_NONE, RESTART_ON_FAILURE, RESTART_ANY };

struct restart_policy {
	enum restart_condition condition;
	int64_t delay_ns;
	uint64_t max_attempts; /* 0: unlimited */
	int64_t window_ns;     /* 0: all attempts count */
};

/* What one reconcile pass decides. */
struct plan {
	const struct orchestrator_input *in;
	char now_text[40];
	json_t *creates;  /* Task objects */
	json_t *desired;  /* {id, desired} */
	json_t *deletes;  /* ids */
	int64_t next_wakeup_ns;
};

/* Swarm's defaults: condition any, 5 s delay, unlimited attempts. */
static void restart_policy_of(const json_t *service, struct restart_policy *p)
{
	json_t *rp = json_object_get(
		json_object_get(json_object_get(service, "Spec"), "TaskTemplate"),
		"RestartPolicy");
	const char *cond = json_string_value(json_object_get(rp, "Condition"));
	json_t *delay = json_object_get(rp, "Delay");
	p->condition = RESTART_ANY;
	if (cond && strcmp(cond, "none") == 0)
		p->condition = RESTART_NONE;
	else if (cond && strcmp(cond, "on-failure") == 0)
		p->condition = RESTART_ON_FAILURE;
	p->delay_ns = json_is_integer(delay) ? json_integer_value(delay)
					     : 5000000000LL;
	p->max_attempts = json_integer_value(json_object_get(rp, "MaxAttempts"));
	p->window_ns = json_integer_value(json_object_get(rp, "Window"));
}

static int64_t task_created_ns(const json_t *task)
{
	int64_t ns = 0;
	timefmt_parse_rfc3339(json_string_value(json_object_get(task, "CreatedAt")), &ns);
	return ns;
}

static int64_t task_status_ns(const json_t *task)
{
	int64_t ns = 0;
	timefmt_parse_rfc3339(json_string_value(json_object_get(
				      json_object_get(task, "Status"), "Timestamp")),
			      &ns);
	return ns;
}

static int task_is_live(const json_t *task)
{
	const char *desired = store_task_desired(task);
	return desired && strcmp(desired, "running") == 0 &&
	       !task_state_ended(store_task_state(task));
}

static const char *node_availability(const json_t *node)
{
	const char *a = json_string_value(
		json_object_get(json_object_get(node, "Spec"), "Availability"));
	return a ? a : "active";
}

static int node_is_ready(const json_t *node)
{
	const char *state = json_string_value(
		json_object_get(json_object_get(node, "Status"), "State"));
	return node && state && strcmp(state, "ready") == 0;
}

int orchestrator_node_takes_tasks(const json_t *node)
{
	return node_is_ready(node) &&
	       strcmp(node_availability(node), "active") == 0;
}

/* ------------------------------------------------------------ plan output */

static void plan_desired(struct plan *p, const json_t *task, const char *desired)
{
	json_array_append_new(p->desired,
			      json_pack("{s:O,s:s}", "id", json_object_get(task, "ID"),
					"desired", desired));
}

static void plan_wakeup(struct plan *p, int64_t at)
{
	if (at < p->next_wakeup_ns)
		p->next_wakeup_ns = at;
}

/* Restart times of the slot kept on each task (orchd's own field), pruned
 * to the policy's window, plus `now` when this is a restart. */
static json_t *restart_history(const struct plan *p, const json_t *previous,
			       const struct restart_policy *policy, int restart)
{
	json_t *times = json_array();
	json_t *old = previous ? json_object_get(previous, "OrchRestarts") : NULL;
	size_t i;
	json_t *t;
	json_array_foreach(old, i, t) {
		int64_t at = json_integer_value(t);
		if (policy->window_ns == 0 || p->in->now_ns - at < policy->window_ns)
			json_array_append(times, t);
	}
	if (restart)
		json_array_append_new(times, json_integer(p->in->now_ns));
	return times;
}

static void plan_create(struct plan *p, const char *service_id,
			const json_t *service, int64_t slot, const char *node_id,
			json_t *restarts)
{
	char id[32];
	p->in->new_id(p->in->id_ctx, id);
	json_t *spec = json_object_get(service, "Spec");
	json_t *task = json_pack(
		"{s:s,s:s,s:s,s:s,s:O,s:I,s:O,s:s,s:{s:s,s:s,s:s},s:o}", "ID", id,
		"CreatedAt", p->now_text, "UpdatedAt", p->now_text, "ServiceID",
		service_id, "ServiceName", json_object_get(spec, "Name"), "Slot",
		(json_int_t)slot, "Spec", json_object_get(spec, "TaskTemplate"),
		"DesiredState", "running", "Status", "State", "new", "Timestamp",
		p->now_text, "Message", "created", "OrchRestarts", restarts);
	if (node_id)
		json_object_set_new(task, "NodeID", json_string(node_id));
	json_array_append_new(p->creates, task);
}

/* -------------------------------------------------------------- one slot */

static int slot_node_usable(const struct plan *p, const json_t *task, int global)
{
	const char *node_id = store_task_node(task);
	if (!node_id)
		return 1; /* not placed yet */
	json_t *node = store_node(p->in->store, node_id);
	if (!node)
		return 0;
	if (strcmp(node_availability(node), "drain") == 0)
		return 0;
	/* A down node's replicated tasks move; its global task stays. */
	return global || node_is_ready(node);
}

static const json_t *newest_task(json_t *tasks)
{
	const json_t *newest = NULL;
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t)
		if (!newest || task_created_ns(t) >= task_created_ns(newest))
			newest = t;
	return newest;
}

/* Whether a task that ended by itself gets a replacement now; sets a
 * wake-up when it will after the restart delay. */
static int restart_due(struct plan *p, const json_t *ended,
		       const struct restart_policy *policy)
{
	enum task_state st = store_task_state(ended);
	if (policy->condition == RESTART_NONE)
		return 0;
	if (policy->condition == RESTART_ON_FAILURE && st == TASK_COMPLETE)
		return 0;
	if (policy->max_attempts > 0) {
		json_t *h = restart_history(p, ended, policy, 0);
		size_t attempts = json_array_size(h);
		json_decref(h);
		if (attempts >= policy->max_attempts)
			return 0;
	}
	int64_t due = task_status_ns(ended) + policy->delay_ns;
	if (p->in->now_ns < due) {
		plan_wakeup(p, due);
		return 0;
	}
	return 1;
}

/* Reconciles one slot. `wanted`: the slot should have a live task;
 * `may_create`: a new task may be made (false on a paused node). Returns
 * 1 when it made a new task. */
static int reconcile_slot(struct plan *p, const char *service_id,
			   const json_t *service, int64_t slot,
			   const char *node_id, json_t *tasks, int wanted,
			   int may_create)
{
	int global = node_id != NULL;
	int live = 0;
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		if (!task_is_live(t))
			continue;
		if (!wanted || live || !slot_node_usable(p, t, global))
			plan_desired(p, t, "shutdown");
		else
			live = 1;
	}
	if (live || !wanted || !may_create)
		return 0;
	struct restart_policy policy;
	restart_policy_of(service, &policy);
	const json_t *last = newest_task(tasks);
	const char *last_desired = last ? store_task_desired(last) : NULL;
	int ended_by_itself = last && last_desired &&
			      strcmp(last_desired, "running") == 0 &&
			      task_state_ended(store_task_state(last)) &&
			      slot_node_usable(p, last, global);
	if (ended_by_itself) {
		if (!restart_due(p, last, &policy))
			return 0;
		plan_desired(p, last, "shutdown");
	}
	plan_create(p, service_id, service, slot, node_id,
		    restart_history(p, last, &policy, ended_by_itself));
	return 1;
}

static int compare_created(const void *a, const void *b)
{
	int64_t ta = task_created_ns(*(json_t *const *)a);
	int64_t tb = task_created_ns(*(json_t *const *)b);
	return ta < tb ? -1 : ta > tb;
}

/* Deletes the oldest ended tasks of a slot beyond the history limit,
 * counting `created` tasks this pass adds to the slot. */
static void trim_history(struct plan *p, json_t *tasks, int created)
{
	size_t count = json_array_size(tasks) + (size_t)created;
	if (count <= p->in->history_limit)
		return;
	json_t **ended = calloc(count, sizeof(*ended));
	size_t n_ended = 0, i;
	json_t *t;
	json_array_foreach(tasks, i, t)
		if (task_state_ended(store_task_state(t)))
			ended[n_ended++] = t;
	qsort(ended, n_ended, sizeof(*ended), compare_created);
	size_t excess = count - p->in->history_limit;
	for (i = 0; i < n_ended && i < excess; i++)
		json_array_append(p->deletes, json_object_get(ended[i], "ID"));
	free(ended);
}

/* ----------------------------------------------------------- by service */

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of a JSON object, sorted, for a deterministic order of work. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
	*n = json_object_size(obj);
	const char **keys = calloc(*n + 1, sizeof(*keys));
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
		keys[i++] = k;
	qsort(keys, *n, sizeof(*keys), compare_keys);
	return keys;
}

/* Groups a service's tasks by slot key ("1", "2"... or a node id). */
static json_t *tasks_by_slot(const struct store *s, const char *service_id,
			     int global)
{
	json_t *groups = json_object();
	const char *id;
	json_t *task;
	json_object_foreach(s->tasks, id, task) {
		const char *svc = store_task_service(task);
		if (!svc || strcmp(svc, service_id) != 0)
			continue;
		char key[64];
		if (global)
			snprintf(key, sizeof(key), "%s",
				 store_task_node(task) ? store_task_node(task) : "");
		else
			snprintf(key, sizeof(key), "%lld",
				 (long long)store_task_slot(task));
		json_t *group = json_object_get(groups, key);
		if (!group) {
			group = json_array();
			json_object_set_new(groups, key, group);
		}
		json_array_append(group, task);
	}
	return groups;
}

static void reconcile_replicated(struct plan *p, const char *service_id,
				 const json_t *service, int64_t replicas)
{
	json_t *groups = tasks_by_slot(p->in->store, service_id, 0);
	for (int64_t slot = 1; slot <= replicas; slot++) {
		char key[32];
		snprintf(key, sizeof(key), "%lld", (long long)slot);
		json_t *tasks = json_object_get(groups, key);
		json_t *empty = json_array();
		int created = reconcile_slot(p, service_id, service, slot, NULL,
					     tasks ? tasks : empty, 1, 1);
		trim_history(p, tasks ? tasks : empty, created);
		json_decref(empty);
	}
	size_t n;
	const char **keys = sorted_keys(groups, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *tasks = json_object_get(groups, keys[i]);
		if (atoll(keys[i]) <= replicas && atoll(keys[i]) >= 1)
			continue;
		reconcile_slot(p, service_id, service, 0, NULL, tasks, 0, 0);
		trim_history(p, tasks, 0);
	}
	free(keys);
	json_decref(groups);
}

static void reconcile_global(struct plan *p, const char *service_id,
			     const json_t *service)
{
	const struct store *s = p->in->store;
	json_t *groups = tasks_by_slot(s, service_id, 1);
	size_t n;
	const char **nodes = sorted_keys(s->nodes, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *node = store_node(s, nodes[i]);
		const char *avail = node_availability(node);
		int wanted = strcmp(avail, "drain") != 0;
		int may_create = orchestrator_node_takes_tasks(node);
		json_t *tasks = json_object_get(groups, nodes[i]);
		json_t *empty = json_array();
		int created = reconcile_slot(p, service_id, service, 0, nodes[i],
					     tasks ? tasks : empty, wanted, may_create);
		trim_history(p, tasks ? tasks : empty, created);
		json_decref(empty);
	}
	free(nodes);
	const char **keys = sorted_keys(groups, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *tasks = json_object_get(groups, keys[i]);
		if (store_node(s, keys[i]))
			continue;
		reconcile_slot(p, service_id, service, 0, keys[i], tasks, 0, 0);
		trim_history(p, tasks, 0);
	}
	free(keys);
	json_decref(groups);
}

/* Tasks whose service is gone: deleted once they ended, or when no node
 * will ever report them ended. */
static void reconcile_removed(struct plan *p)
{
	const struct store *s = p->in->store;
	size_t n;
	const char **ids = sorted_keys(s->tasks, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *task = store_task(s, ids[i]);
		const char *desired = store_task_desired(task);
		int orphan = !store_service(s, store_task_service(task));
		if (!orphan && !(desired && strcmp(desired, "remove") == 0))
			continue;
		json_t *node = store_node(s, store_task_node(task));
		if (task_state_ended(store_task_state(task)) || !node_is_ready(node))
			json_array_append_new(p->deletes, json_string(ids[i]));
		else if (!desired || strcmp(desired, "remove") != 0)
			plan_desired(p, task, "remove");
	}
	free(ids);
}

static void plan_command(json_t *commands, const char *op, const char *key,
			 json_t *list, const char *now)
{
	if (json_array_size(list) == 0)
		return;
	json_t *cmd = json_pack("{s:s,s:O}", "op", op, key, list);
	if (now)
		json_object_set_new(cmd, "now", json_string(now));
	json_array_append_new(commands, cmd);
}

json_t *orchestrator_reconcile(const struct orchestrator_input *in,
			       int64_t *next_wakeup_ns)
{
	struct plan p = { .in = in,
			  .creates = json_array(),
			  .desired = json_array(),
			  .deletes = json_array(),
			  .next_wakeup_ns = INT64_MAX };
	timefmt_rfc3339(in->now_ns, p.now_text, sizeof(p.now_text));
	size_t n;
	const char **ids = sorted_keys(in->store->services, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *service = store_service(in->store, ids[i]);
		json_t *mode = json_object_get(json_object_get(service, "Spec"), "Mode");
		if (json_object_get(mode, "Global"))
			reconcile_global(&p, ids[i], service);
		else
			reconcile_replicated(
				&p, ids[i], service,
				json_integer_value(json_object_get(
					json_object_get(mode, "Replicated"), "Replicas")));
	}
	free(ids);
	reconcile_removed(&p);
	json_t *commands = json_array();
	plan_command(commands, "task.desired", "updates", p.desired, NULL);
	plan_command(commands, "task.create", "tasks", p.creates, NULL);
	plan_command(commands, "task.delete", "ids", p.deletes, NULL);
	json_decref(p.creates);
	json_decref(p.desired);
	json_decref(p.deletes);
	if (next_wakeup_ns)
		*next_wakeup_ns = p.next_wakeup_ns;
	return commands;
}

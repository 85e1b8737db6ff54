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
 *
 * Before the slots of a service are reconciled, the rolling updater
 * (updater.c) picks the outdated tasks replaced in this pass. When a pass
 * changes nothing else for a replicated service and rebalancing is on
 * (Spec.OrchRebalance, or the cluster's Spec.Orchestration.OrchRebalance),
 * one task moves from the most loaded eligible node (ready, active, runtime
 * and constraints matching) when another with room for one more task has 2
 * fewer: it is shut down and its slot's replacement left to the scheduler.
 */
#include "orchestrator.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "placement.h"
#include "spec.h"
#include "timefmt.h"
#include "updater.h"

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
	json_t *statuses; /* service.update_status commands */
	json_t *creates;  /* Task objects */
	json_t *desired;  /* {id, desired} */
	json_t *deletes;  /* ids */
	int64_t next_wakeup_ns;
};

/* What becomes of a slot's live task in this pass. */
enum slot_replace {
	SLOT_KEEP,
	SLOT_REPLACE_STOP_FIRST,  /* shut down, replacement created now */
	SLOT_REPLACE_START_FIRST, /* replacement created now, shut down later */
};

/* One slot of a service with its tasks. */
struct slot {
	int64_t number;       /* replicated: 1..N; global: 0 */
	const char *node_id;  /* global: its node; replicated: NULL */
	json_t *tasks;        /* the slot's tasks (owned reference) */
	int wanted;           /* the slot should have a live task */
	int may_create;       /* a new task may be made (not on a paused node) */
	enum slot_replace replace;
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
	if (strcmp(placement_node_availability(node), "drain") == 0)
		return 0;
	/* A down node's replicated tasks move; its global task stays. */
	return global || placement_node_ready(node);
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

/* Which of a slot's live tasks stay: at most one running the current spec
 * and, while it starts (Order start-first), the outdated one it replaces.
 * With `act`, every other live task is shut down. */
static void slot_live_tasks(struct plan *p, const json_t *service,
			    const struct slot *sl, const json_t **current,
			    const json_t **outdated, int act)
{
	int global = sl->node_id != NULL;
	size_t i;
	json_t *t;
	*current = NULL;
	*outdated = NULL;
	json_array_foreach(sl->tasks, i, t) {
		if (!task_is_live(t))
			continue;
		const json_t **kept = updater_task_is_current(service, t) ? current
									  : outdated;
		if (!sl->wanted || *kept || !slot_node_usable(p, t, global)) {
			if (act)
				plan_desired(p, t, "shutdown");
			continue;
		}
		*kept = t;
	}
	if (*current && *outdated &&
	    !(updater_start_first(service) &&
	      store_task_state(*current) < TASK_RUNNING)) {
		if (act)
			plan_desired(p, *outdated, "shutdown");
		*outdated = NULL;
	}
}

/* Reconciles one slot: extra live tasks shut down, the live one replaced
 * when the updater or the rebalancer asked, a task made where none is live
 * (after the restart policy when the last one ended by itself). Returns 1
 * when it made a new task. */
static int reconcile_slot(struct plan *p, const char *service_id,
			  const json_t *service, const struct slot *sl)
{
	const json_t *current, *outdated;
	slot_live_tasks(p, service, sl, &current, &outdated, 1);
	const json_t *live = current ? current : outdated;
	if ((live && sl->replace == SLOT_KEEP) || !sl->wanted || !sl->may_create)
		return 0;
	struct restart_policy policy;
	restart_policy_of(service, &policy);
	if (live) {
		if (sl->replace == SLOT_REPLACE_STOP_FIRST)
			plan_desired(p, live, "shutdown");
		plan_create(p, service_id, service, sl->number, sl->node_id,
			    restart_history(p, live, &policy, 0));
		return 1;
	}
	const json_t *last = newest_task(sl->tasks);
	const char *last_desired = last ? store_task_desired(last) : NULL;
	int ended_by_itself = last && last_desired &&
			      strcmp(last_desired, "running") == 0 &&
			      task_state_ended(store_task_state(last)) &&
			      slot_node_usable(p, last, sl->node_id != NULL);
	if (ended_by_itself) {
		if (!restart_due(p, last, &policy))
			return 0;
		plan_desired(p, last, "shutdown");
	}
	plan_create(p, service_id, service, sl->number, sl->node_id,
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

/* ------------------------------------------------------ rolling update */

/* Asks the updater which outdated tasks of the wanted slots are replaced in
 * this pass, and records the service's new UpdateStatus. */
static void plan_update(struct plan *p, const char *service_id,
			const json_t *service, struct slot *slots, size_t n)
{
	struct updater_slot *us = calloc(n + 1, sizeof(*us));
	size_t *index = calloc(n + 1, sizeof(*index));
	size_t n_us = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *current, *outdated;
		if (!slots[i].wanted)
			continue;
		slot_live_tasks(p, service, &slots[i], &current, &outdated, 0);
		us[n_us].tasks = slots[i].tasks;
		if (slots[i].may_create && !current)
			us[n_us].outdated = outdated;
		index[n_us++] = i;
	}
	struct updater_decision d;
	updater_plan(service, us, n_us, p->in->now_ns, p->now_text, &d);
	enum slot_replace how = updater_start_first(service)
					? SLOT_REPLACE_START_FIRST
					: SLOT_REPLACE_STOP_FIRST;
	for (size_t i = 0; i < n_us; i++)
		if (us[i].replace)
			slots[index[i]].replace = how;
	if (d.status)
		json_array_append_new(p->statuses,
				      json_pack("{s:s,s:s,s:o}", "op",
						"service.update_status", "id",
						service_id, "status", d.status));
	plan_wakeup(p, d.wakeup_ns);
	free(index);
	free(us);
}

/* ---------------------------------------------------------- rebalancing */

static int rebalance_enabled(const struct plan *p, const json_t *service)
{
	json_t *own = json_object_get(json_object_get(service, "Spec"),
				      "OrchRebalance");
	json_t *all = json_object_get(
		json_object_get(json_object_get(p->in->store->cluster, "Spec"),
				"Orchestration"),
		"OrchRebalance");
	return json_is_true(own) || json_is_true(all);
}

/* Counts the live tasks of the service per node into `load`. Returns 0
 * when a slot has no running live task (one is in flight or due). */
static int service_load(struct plan *p, const json_t *service,
			struct slot *slots, size_t n, json_t *load)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *current, *outdated;
		slot_live_tasks(p, service, &slots[i], &current, &outdated, 0);
		const json_t *live = current ? current : outdated;
		if (!live || outdated || store_task_state(live) != TASK_RUNNING ||
		    !store_task_node(live))
			return 0;
		const char *node = store_task_node(live);
		json_object_set_new(load, node,
				    json_integer(json_integer_value(
							 json_object_get(load, node)) + 1));
	}
	return 1;
}

/* The slot of the newest live task on node_id (latest slot on a tie). */
static struct slot *newest_slot_on(struct plan *p, const json_t *service,
				   struct slot *slots, size_t n,
				   const char *node_id)
{
	struct slot *best = NULL;
	int64_t best_ns = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *live, *outdated;
		slot_live_tasks(p, service, &slots[i], &live, &outdated, 0);
		if (!live || strcmp(store_task_node(live), node_id) != 0)
			continue;
		if (!best || task_created_ns(live) >= best_ns) {
			best = &slots[i];
			best_ns = task_created_ns(live);
		}
	}
	return best;
}

/* Moves one task from the most loaded eligible node when another eligible
 * node with room has 2 fewer; the scheduler places the replacement. */
static void rebalance_service(struct plan *p, const char *service_id,
			      const json_t *service, struct slot *slots, size_t n)
{
	if (!rebalance_enabled(p, service) || updater_in_progress(service))
		return;
	json_t *load = json_object();
	if (!service_load(p, service, slots, n, load)) {
		json_decref(load);
		return;
	}
	struct placement_resources need = placement_reservations(json_object_get(
		json_object_get(service, "Spec"), "TaskTemplate"));
	size_t n_nodes;
	const char **nodes = sorted_keys(p->in->store->nodes, &n_nodes);
	const char *most = NULL;
	json_int_t most_count = 0, least_count = 0;
	int have_least = 0;
	for (size_t i = 0; i < n_nodes; i++) {
		json_t *node = store_node(p->in->store, nodes[i]);
		json_int_t count = json_integer_value(json_object_get(load, nodes[i]));
		if (!placement_node_eligible(json_object_get(json_object_get(service, "Spec"),
							 "TaskTemplate"),
					       nodes[i], node))
			continue;
		if (!most || count > most_count) {
			most = nodes[i];
			most_count = count;
		}
		if ((!have_least || count < least_count) &&
		    placement_node_has_room(p->in->store, nodes[i], node, need, NULL)) {
			least_count = count;
			have_least = 1;
		}
	}
	if (most && have_least && most_count - least_count >= 2) {
		struct slot *sl = newest_slot_on(p, service, slots, n, most);
		sl->replace = SLOT_REPLACE_STOP_FIRST;
		trim_history(p, sl->tasks, reconcile_slot(p, service_id, service, sl));
	}
	free(nodes);
	json_decref(load);
}

/* -------------------------------------------------------- service loops */

static size_t plan_size(const struct plan *p)
{
	return json_array_size(p->statuses) + json_array_size(p->creates) +
	       json_array_size(p->desired) + json_array_size(p->deletes);
}

static json_t *group_or_empty(json_t *groups, const char *key)
{
	json_t *group = json_object_get(groups, key);
	return group ? json_incref(group) : json_array();
}

/* The wanted slots: the update decided first, then each reconciled. */
static void reconcile_wanted(struct plan *p, const char *service_id,
			     const json_t *service, struct slot *slots, size_t n)
{
	plan_update(p, service_id, service, slots, n);
	for (size_t i = 0; i < n; i++)
		trim_history(p, slots[i].tasks,
			     reconcile_slot(p, service_id, service, &slots[i]));
}

/* A slot no longer wanted (above Replicas, a drained or removed node). */
static void reconcile_unwanted(struct plan *p, const char *service_id,
			       const json_t *service, const char *node_id,
			       json_t *tasks)
{
	struct slot sl = { .node_id = node_id, .tasks = tasks };
	reconcile_slot(p, service_id, service, &sl);
	trim_history(p, tasks, 0);
}

static void slots_free(struct slot *slots, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(slots[i].tasks);
	free(slots);
}

static void reconcile_replicated(struct plan *p, const char *service_id,
				 const json_t *service, int64_t replicas)
{
	json_t *groups = tasks_by_slot(p->in->store, service_id, 0);
	size_t n = replicas > 0 ? (size_t)replicas : 0;
	struct slot *slots = calloc(n + 1, sizeof(*slots));
	size_t before = plan_size(p);
	for (size_t i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "%zu", i + 1);
		slots[i] = (struct slot){ .number = (int64_t)i + 1,
					  .tasks = group_or_empty(groups, key),
					  .wanted = 1,
					  .may_create = 1 };
	}
	reconcile_wanted(p, service_id, service, slots, n);
	size_t n_keys;
	const char **keys = sorted_keys(groups, &n_keys);
	for (size_t i = 0; i < n_keys; i++)
		if (atoll(keys[i]) > replicas || atoll(keys[i]) < 1)
			reconcile_unwanted(p, service_id, service, NULL,
					   json_object_get(groups, keys[i]));
	if (plan_size(p) == before)
		rebalance_service(p, service_id, service, slots, n);
	free(keys);
	slots_free(slots, n);
	json_decref(groups);
}

static void reconcile_global(struct plan *p, const char *service_id,
			     const json_t *service)
{
	const struct store *s = p->in->store;
	json_t *groups = tasks_by_slot(s, service_id, 1);
	size_t n_nodes, n = 0;
	const char **nodes = sorted_keys(s->nodes, &n_nodes);
	struct slot *slots = calloc(n_nodes + 1, sizeof(*slots));
	for (size_t i = 0; i < n_nodes; i++) {
		json_t *node = store_node(s, nodes[i]);
		if (strcmp(placement_node_availability(node), "drain") == 0)
			continue;
		slots[n++] = (struct slot){
			.node_id = nodes[i],
			.tasks = group_or_empty(groups, nodes[i]),
			.wanted = 1,
			.may_create = placement_node_takes_tasks(node),
		};
	}
	reconcile_wanted(p, service_id, service, slots, n);
	size_t n_keys;
	const char **keys = sorted_keys(groups, &n_keys);
	for (size_t i = 0; i < n_keys; i++) {
		json_t *node = store_node(s, keys[i]);
		if (!node || strcmp(placement_node_availability(node), "drain") == 0)
			reconcile_unwanted(p, service_id, service, keys[i],
					   json_object_get(groups, keys[i]));
	}
	free(keys);
	slots_free(slots, n);
	free(nodes);
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
		if (task_state_ended(store_task_state(task)) || !placement_node_ready(node))
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
			  .statuses = json_array(),
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
	json_array_extend(commands, p.statuses);
	plan_command(commands, "task.desired", "updates", p.desired, NULL);
	plan_command(commands, "task.create", "tasks", p.creates, NULL);
	plan_command(commands, "task.delete", "ids", p.deletes, NULL);
	json_decref(p.statuses);
	json_decref(p.creates);
	json_decref(p.desired);
	json_decref(p.deletes);
	if (next_wakeup_ns)
		*next_wakeup_ns = p.next_wakeup_ns;
	return commands;
}

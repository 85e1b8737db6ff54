/*
 * scheduling.c: the allocator and the scheduling round (see scheduling.h).
 * Owns no state: every function reads the store and returns commands.
 */
#include "scheduling.h"

#include <string.h>

#include "jsonref.h"
#include "placement.h"

static const char *str_or(const char *s, const char *fallback)
{
	return s ? s : fallback;
}

json_t *scheduling_allocate(const struct store *s, const char *now_text)
{
	json_t *updates = json_array();
	const char *id;
	json_t *task;
	json_object_foreach(s->tasks, id, task)
		if (store_task_state(task) == TASK_NEW)
			json_array_append_new(updates,
					      json_pack("{s:s,s:s,s:s,s:s}", "id", id,
							"state", "pending", "now", now_text,
							"message", "pending task scheduling"));
	if (json_array_size(updates) == 0) {
		json_decref(updates);
		return NULL;
	}
	return json_pack("{s:s,s:o}", "op", "task.status", "updates", updates);
}

static json_t *task_reservations(const json_t *task)
{
	struct placement_resources r =
		placement_reservations(json_object_get(task, "Spec"));
	return json_pack("{s:I,s:I}", "nano_cpus", (json_int_t)r.nano_cpus,
			 "memory_bytes", (json_int_t)r.memory_bytes);
}

/* Counts a task not ended on its node: reservations, and (when it is still
 * wanted) its service for spreading. */
static void node_usage_add(json_t *usage, const json_t *task)
{
	json_t *u = json_object_get(usage, store_task_node(task));
	struct placement_resources r =
		placement_reservations(json_object_get(task, "Spec"));
	json_object_set_new(u, "cpu", json_integer(json_integer_value(
					      json_object_get(u, "cpu")) + r.nano_cpus));
	json_object_set_new(u, "mem", json_integer(json_integer_value(
					      json_object_get(u, "mem")) + r.memory_bytes));
	/* A task being shut down still holds its resources, but no longer
	 * counts for spreading (swarmkit's rule too): its replacement must
	 * not avoid a node for it. */
	const char *desired = store_task_desired(task);
	if (desired && strcmp(desired, "running") != 0)
		return;
	json_object_set_new(u, "total", json_integer(json_integer_value(
						json_object_get(u, "total")) + 1));
	json_t *by = json_object_get(u, "by_service");
	const char *svc = str_or(store_task_service(task), "");
	json_object_set_new(by, svc, json_integer(json_integer_value(
					     json_object_get(by, svc)) + 1));
}

/* Per node: reserved cpu/mem, tasks in total and by service. */
static json_t *node_usage(const struct store *s)
{
	json_t *usage = json_object();
	const char *id;
	json_t *node, *task;
	json_object_foreach(s->nodes, id, node)
		json_object_set_new(usage, id, json_pack("{s:I,s:I,s:I,s:{}}", "cpu",
							 (json_int_t)0, "mem", (json_int_t)0,
							 "total", (json_int_t)0, "by_service"));
	json_object_foreach(s->tasks, id, task) {
		const char *on = store_task_node(task);
		if (on && json_object_get(usage, on) &&
		    !task_state_ended(store_task_state(task)))
			node_usage_add(usage, task);
	}
	return usage;
}

/* One NODE object of the scheduler protocol (sdk/orch_protocol.h). */
static json_t *request_node(const char *node_id, const json_t *node,
			    const json_t *usage)
{
	json_t *spec = json_object_get(node, "Spec");
	json_t *desc = json_object_get(node, "Description");
	json_t *res = json_object_get(desc, "Resources");
	json_t *status = json_object_get(node, "Status");
	return json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:{s:I,s:I},s:{s:O,s:O},s:O,s:O}",
		"id", node_id, "hostname",
		str_or(json_string_value(json_object_get(desc, "Hostname")), ""),
		"role", str_or(json_string_value(json_object_get(spec, "Role")), "worker"),
		"state", str_or(json_string_value(json_object_get(status, "State")), "down"),
		"availability", placement_node_availability(node), "labels",
		json_ref_or_object(json_object_get(spec, "Labels")), "runtimes",
		json_ref_or_array(json_object_get(desc, "OrchRuntimes")), "resources",
		"nano_cpus", json_integer_value(json_object_get(res, "NanoCPUs")),
		"memory_bytes", json_integer_value(json_object_get(res, "MemoryBytes")),
		"reserved", "nano_cpus", json_object_get(usage, "cpu"), "memory_bytes",
		json_object_get(usage, "mem"), "tasks_total", json_object_get(usage, "total"),
		"tasks_by_service", json_object_get(usage, "by_service"));
}

static json_t *request_task(const char *id, const json_t *task)
{
	json_t *spec = json_object_get(task, "Spec");
	json_t *constraints = json_object_get(json_object_get(spec, "Placement"),
					      "Constraints");
	return json_pack("{s:s,s:s,s:s,s:o,s:o}", "id", id, "service_id",
			 str_or(store_task_service(task), ""), "runtime",
			 str_or(json_string_value(json_object_get(spec, "Runtime")), ""),
			 "constraints", json_ref_or_array(constraints),
			 "reservations", task_reservations(task));
}

static void reason_if_changed(json_t *reasons, const json_t *task,
			      const char *id, const char *reason)
{
	const char *old = json_string_value(
		json_object_get(json_object_get(task, "Status"), "Err"));
	if (!old || strcmp(old, reason) != 0)
		json_array_append_new(reasons, json_pack("{s:s,s:s}", "id", id,
							 "err", reason));
}

/* The task.assign and task.pending_reason commands for non-empty lists
 * (steals both). */
static json_t *round_commands(json_t *assign, json_t *reasons, const char *now_text)
{
	json_t *cmds = json_array();
	if (json_array_size(assign))
		json_array_append_new(cmds, json_pack("{s:s,s:s,s:O}", "op", "task.assign",
						      "now", now_text, "assignments", assign));
	if (json_array_size(reasons))
		json_array_append_new(cmds, json_pack("{s:s,s:O}", "op", "task.pending_reason",
						      "updates", reasons));
	json_decref(assign);
	json_decref(reasons);
	return cmds;
}

/* A task waits for a placement: pending, desired running. */
static bool task_awaits_placement(const json_t *task)
{
	const char *desired = store_task_desired(task);
	return task && store_task_state(task) == TASK_PENDING && desired &&
	       strcmp(desired, "running") == 0;
}

void scheduling_prepare(const struct store *s, const char *now_text,
			bool with_request, struct scheduling_round *round)
{
	json_t *tasks = json_array(), *assign = json_array(), *reasons = json_array();
	round->task_ids = json_object();
	const char *id;
	json_t *task;
	json_object_foreach(s->tasks, id, task) {
		if (!task_awaits_placement(task))
			continue;
		const char *pinned = store_task_node(task);
		if (!pinned) {
			json_array_append_new(tasks, request_task(id, task));
			json_object_set_new(round->task_ids, id, json_true());
		} else if (placement_node_takes_tasks(store_node(s, pinned))) {
			/* Global tasks come with their node. */
			json_array_append_new(assign, json_pack("{s:s,s:s}", "id", id,
								"node", pinned));
		} else {
			reason_if_changed(reasons, task, id, "node not ready or not active");
		}
	}
	round->commands = round_commands(assign, reasons, now_text);
	round->request = NULL;
	if (json_array_size(tasks) == 0 || !with_request) {
		json_decref(tasks);
		return;
	}
	json_t *usage = node_usage(s), *nodes = json_array();
	const char *nid;
	json_t *node;
	json_object_foreach(s->nodes, nid, node)
		json_array_append_new(nodes, request_node(nid, node,
							  json_object_get(usage, nid)));
	json_decref(usage);
	round->request = json_pack("{s:i,s:s,s:o,s:o}", "v", 1, "op", "schedule",
				   "nodes", nodes, "tasks", tasks);
}

void scheduling_round_fini(struct scheduling_round *round)
{
	json_decref(round->request);
	json_decref(round->task_ids);
	json_decref(round->commands);
	memset(round, 0, sizeof(*round));
}

/* Whether the placement of task on node_id still holds: the task was in
 * the round, still waits for a placement and has no node; the node takes
 * it and has room, counting what this reply placed on it before (`placed`:
 * node id -> {cpu, mem}). Counts it into placed when it holds. */
static bool placement_holds(const struct store *s, const json_t *task_ids,
			    const char *task_id, const char *node_id, json_t *placed)
{
	json_t *task = store_task(s, task_id);
	json_t *node = store_node(s, node_id);
	if (!json_object_get(task_ids, task_id) || !task_awaits_placement(task) ||
	    store_task_node(task) || !node)
		return false;
	json_t *spec = json_object_get(task, "Spec");
	json_t *before = json_object_get(placed, node_id);
	struct placement_resources extra = {
		json_integer_value(json_object_get(before, "cpu")),
		json_integer_value(json_object_get(before, "mem")),
	};
	struct placement_resources need = placement_reservations(spec);
	if (!placement_node_eligible(spec, node_id, node) ||
	    !placement_node_has_room(s, node_id, node, need, &extra))
		return false;
	json_object_set_new(placed, node_id,
			    json_pack("{s:I,s:I}", "cpu",
				      (json_int_t)(extra.nano_cpus + need.nano_cpus), "mem",
				      (json_int_t)(extra.memory_bytes + need.memory_bytes)));
	return true;
}

json_t *scheduling_accept(const struct store *s, const json_t *task_ids,
			  const json_t *reply, const char *now_text)
{
	json_t *assign = json_array(), *reasons = json_array(), *placed = json_object();
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(reply, "placements"), i, p) {
		const char *id = json_string_value(json_object_get(p, "task_id"));
		const char *node = json_string_value(json_object_get(p, "node_id"));
		if (id && node && placement_holds(s, task_ids, id, node, placed))
			json_array_append_new(assign, json_pack("{s:s,s:s}", "id", id,
								"node", node));
	}
	json_decref(placed);
	json_array_foreach(json_object_get(reply, "unplaced"), i, p) {
		const char *id = json_string_value(json_object_get(p, "task_id"));
		const char *why = json_string_value(json_object_get(p, "error"));
		json_t *task = store_task(s, id);
		if (json_object_get(task_ids, id) && task_awaits_placement(task) &&
		    !store_task_node(task))
			reason_if_changed(reasons, task, id, why ? why : "no suitable node");
	}
	return round_commands(assign, reasons, now_text);
}

json_t *scheduling_fail(const struct store *s, const json_t *task_ids,
			const char *why)
{
	json_t *reasons = json_array();
	const char *id;
	json_t *v;
	json_object_foreach((json_t *)task_ids, id, v) {
		json_t *task = store_task(s, id);
		if (task_awaits_placement(task) && !store_task_node(task))
			reason_if_changed(reasons, task, id, why);
	}
	return round_commands(json_array(), reasons, "");
}

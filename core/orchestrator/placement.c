/*
 * placement.c: node eligibility for a task (see placement.h): constraints
 * ("node.labels.zone == east"), runtimes, reservations. Owns no state.
 */
#include "placement.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "spec.h"

const char *placement_node_availability(const json_t *node)
{
	const char *a = json_string_value(
		json_object_get(json_object_get(node, "Spec"), "Availability"));
	return a ? a : "active";
}

bool placement_node_ready(const json_t *node)
{
	const char *state = json_string_value(
		json_object_get(json_object_get(node, "Status"), "State"));
	return node && state && strcmp(state, "ready") == 0;
}

bool placement_node_takes_tasks(const json_t *node)
{
	return placement_node_ready(node) &&
	       strcmp(placement_node_availability(node), "active") == 0;
}

static const char *node_constraint_value(const char *node_id,
					 const json_t *node, const char *key,
					 size_t len)
{
	const char *prefix = "node.labels.";
	json_t *spec = json_object_get(node, "Spec");
	const char *v = NULL;
	if (len == strlen("node.id") && strncasecmp(key, "node.id", len) == 0)
		return node_id;
	if (len == strlen("node.hostname") &&
	    strncasecmp(key, "node.hostname", len) == 0)
		v = json_string_value(json_object_get(
			json_object_get(node, "Description"), "Hostname"));
	else if (len == strlen("node.role") && strncasecmp(key, "node.role", len) == 0)
		return (v = json_string_value(json_object_get(spec, "Role"))) ? v
									  : "worker";
	else if (len > strlen(prefix) && strncasecmp(key, prefix, strlen(prefix)) == 0) {
		char label[256];
		snprintf(label, sizeof(label), "%.*s", (int)(len - strlen(prefix)),
			 key + strlen(prefix));
		v = json_string_value(json_object_get(json_object_get(spec, "Labels"),
						      label));
	}
	return v ? v : ""; /* a missing label matches as "", as in Swarm */
}

static void trim_span(const char **start, const char **end)
{
	while (*start < *end && **start == ' ')
		(*start)++;
	while (*end > *start && (*end)[-1] == ' ')
		(*end)--;
}

/* One placement constraint against a node; an invalid one never matches. */
static int constraint_matches(const char *node_id, const json_t *node,
			      const char *expr)
{
	char err[256];
	if (!expr || spec_constraint_check(expr, err, sizeof(err)) != 0)
		return 0;
	const char *eq = strstr(expr, "=="), *ne = strstr(expr, "!=");
	const char *op = !eq ? ne : (!ne || eq < ne ? eq : ne);
	const char *key = expr, *key_end = op;
	const char *value = op + 2, *value_end = op + strlen(op);
	trim_span(&key, &key_end);
	trim_span(&value, &value_end);
	size_t value_len = (size_t)(value_end - value);
	if (value_len == 0)
		return 0;
	const char *actual = node_constraint_value(node_id, node, key,
						   (size_t)(key_end - key));
	int same = strlen(actual) == value_len &&
		   strncasecmp(actual, value, value_len) == 0;
	return op == eq ? same : !same;
}

struct placement_resources placement_reservations(const json_t *task_spec)
{
	json_t *r = json_object_get(json_object_get(task_spec, "Resources"),
				    "Reservations");
	struct placement_resources res = {
		json_integer_value(json_object_get(r, "NanoCPUs")),
		json_integer_value(json_object_get(r, "MemoryBytes")),
	};
	return res;
}

bool placement_node_has_room(const struct store *s, const char *node_id,
			     const json_t *node, struct placement_resources need,
			     const struct placement_resources *extra)
{
	json_t *cap = json_object_get(json_object_get(node, "Description"),
				      "Resources");
	struct placement_resources left = {
		json_integer_value(json_object_get(cap, "NanoCPUs")),
		json_integer_value(json_object_get(cap, "MemoryBytes")),
	};
	if (extra) {
		left.nano_cpus -= extra->nano_cpus;
		left.memory_bytes -= extra->memory_bytes;
	}
	const char *id;
	json_t *task;
	json_object_foreach(s->tasks, id, task) {
		const char *on = store_task_node(task);
		if (!on || strcmp(on, node_id) != 0 ||
		    task_state_ended(store_task_state(task)))
			continue;
		struct placement_resources r =
			placement_reservations(json_object_get(task, "Spec"));
		left.nano_cpus -= r.nano_cpus;
		left.memory_bytes -= r.memory_bytes;
	}
	return (need.nano_cpus == 0 || left.nano_cpus >= need.nano_cpus) &&
	       (need.memory_bytes == 0 || left.memory_bytes >= need.memory_bytes);
}

/* The node offers the runtime the service names (any when it names none). */
static int node_offers_runtime(const json_t *node, const char *runtime)
{
	size_t i;
	json_t *r;
	if (!runtime || !*runtime)
		return 1;
	json_array_foreach(json_object_get(json_object_get(node, "Description"),
					   "OrchRuntimes"), i, r)
		if (json_is_string(r) && strcmp(json_string_value(r), runtime) == 0)
			return 1;
	return 0;
}

bool placement_node_eligible(const json_t *task_spec, const char *node_id,
			     const json_t *node)
{
	json_t *constraints = json_object_get(
		json_object_get(task_spec, "Placement"), "Constraints");
	size_t i;
	json_t *c;
	if (!placement_node_takes_tasks(node) ||
	    !node_offers_runtime(node, json_string_value(json_object_get(
					       task_spec, "Runtime"))))
		return false;
	json_array_foreach(constraints, i, c)
		if (!constraint_matches(node_id, node, json_string_value(c)))
			return false;
	return true;
}

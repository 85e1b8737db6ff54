/*
 * nodes.c: node description refresh and liveness (see nodes.h). Owns no
 * state.
 */
#include "nodes.h"

#include <string.h>

#include "jsonref.h"

static const char *str_or(const char *s, const char *fallback)
{
	return s ? s : fallback;
}

json_t *nodes_description(const json_t *info, const char *hostname)
{
	json_t *res = json_object_get(info, "resources");
	return json_pack(
		"{s:s,s:{s:s,s:s},s:{s:I,s:I},s:{s:s},s:o,s:s}", "Hostname", hostname,
		"Platform", "Architecture", "x86_64", "OS", "linux", "Resources",
		"NanoCPUs", json_integer_value(json_object_get(res, "nano_cpus")),
		"MemoryBytes", json_integer_value(json_object_get(res, "memory_bytes")),
		"Engine", "EngineVersion", "orchd-0.1.0", "OrchRuntimes",
		json_ref_or_array(json_object_get(info, "runtimes")), "OrchDefaultRuntime",
		str_or(json_string_value(json_object_get(info, "default_runtime")), ""));
}

/* A node.put of node with a new state (and description, stolen, if not
 * NULL). */
static json_t *node_put(const json_t *node, const char *state,
			json_t *description, const char *now_text)
{
	json_t *copy = json_deep_copy(node);
	if (description)
		json_object_set_new(copy, "Description", description);
	json_t *status = json_object_get(copy, "Status");
	if (!json_is_object(status)) {
		status = json_object();
		json_object_set_new(copy, "Status", status);
	}
	json_object_set_new(status, "State", json_string(state));
	if (strcmp(state, "down") == 0)
		json_object_set_new(status, "Message", json_string("heartbeat failure"));
	else
		json_object_del(status, "Message");
	json_object_set_new(copy, "UpdatedAt", json_string(now_text));
	return json_pack("{s:s,s:o}", "op", "node.put", "node", copy);
}

static const char *node_state(const json_t *node)
{
	return str_or(json_string_value(
			      json_object_get(json_object_get(node, "Status"), "State")), "");
}

json_t *nodes_refresh(const struct store *s, const json_t *infos,
		      const char *now_text)
{
	json_t *cmds = json_array();
	const char *id;
	json_t *info;
	json_object_foreach((json_t *)infos, id, info) {
		json_t *node = store_node(s, id);
		if (!node)
			continue;
		json_t *desc = json_object_get(node, "Description");
		const char *host = str_or(json_string_value(json_object_get(desc, "Hostname")),
					  str_or(json_string_value(json_object_get(info, "hostname")), id));
		json_t *fresh = nodes_description(info, host);
		if (json_equal(fresh, desc)) {
			json_decref(fresh);
			continue;
		}
		const char *state = node_state(node);
		json_array_append_new(cmds, node_put(node, *state ? state : "ready", fresh,
						     now_text));
	}
	return cmds;
}

/* Whether the node's agent has described it (runtimes, resources): a
 * joined node is "unknown" until then, as in Swarm, so that nothing is
 * placed by a spread that cannot see it yet. */
static bool node_described(const json_t *node)
{
	return json_object_get(json_object_get(node, "Description"), "OrchRuntimes") != NULL;
}

json_t *nodes_liveness(const struct nodes_liveness_input *in)
{
	json_t *cmds = json_array();
	int64_t now = in->now_ns, down_after = in->down_after_ns;
	const char *id;
	json_t *node;
	json_object_foreach(in->store->nodes, id, node) {
		const char *state = node_state(node);
		int64_t seen = in->last_seen(in->last_seen_ctx, id);
		bool self = strcmp(id, in->self_id) == 0;
		bool alive = self || (seen && now - seen <= down_after);
		json_int_t joined = json_integer_value(json_object_get(in->joined_at, id));
		bool grace = !seen && (now - in->leader_since_ns <= down_after ||
				       (joined && now - joined <= 2 * down_after));
		if (strcmp(state, "ready") == 0 && !alive && !grace)
			json_array_append_new(cmds, node_put(node, "down", NULL, in->now_text));
		else if (strcmp(state, "ready") != 0 && alive && node_described(node))
			json_array_append_new(cmds, node_put(node, "ready", NULL, in->now_text));
	}
	return cmds;
}

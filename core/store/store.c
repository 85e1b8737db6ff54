/*
 * store.c: the cluster state document and the commands that change it (see
 * store.h). Owns the JSON objects of the cluster, nodes, services and tasks.
 * Pure: everything a command needs (ids, timestamps) is inside the command.
 *
 * Commands, each a JSON object {"op": ..., ...}:
 *   cluster.init    {cluster: Swarm, node: Node}
 *   cluster.update  {version, spec, now}              version must match
 *   node.put        {node: Node}                      create or replace
 *   node.remove     {id}                              its tasks stay, orphaned
 *   service.create  {service: Service}                name and id unique
 *   service.update  {id, version, spec, now}          version must match;
 *                                                     clears UpdateStatus
 *   service.update_status {id, status}                the rolling update's
 *                                                     UpdateStatus; Version
 *                                                     unchanged
 *   service.remove  {id, now}                         tasks get desired remove
 *   task.create     {tasks: [Task]}
 *   task.assign     {now, assignments: [{id, node}]}  pending tasks only
 *   task.status     {updates: [{id, state, now, message?, err?, exit_code?,
 *                    container_id?, pid?}]}           forward moves only
 *   task.pending_reason {updates: [{id, err}]}
 *   task.desired    {updates: [{id, desired}]}       running->shutdown->remove
 *   task.delete     {ids: [id]}
 * A task that reaches running keeps the time in OrchRunningAt (orchd's own
 * field: the updater's Monitor counts from it).
 * Updates of a batch that no longer apply (a status older than what the task
 * has, a task deleted meanwhile) are skipped: they are stale, not errors.
 */
#include "store.h"

#include <stdio.h>
#include <string.h>

static const char *const task_state_names[TASK_STATE_COUNT] = {
	"new",      "pending",  "assigned", "accepted", "preparing",
	"ready",    "starting", "running",  "complete", "shutdown",
	"failed",   "rejected", "remove",   "orphaned",
};

const char *task_state_name(enum task_state s)
{
	if ((int)s < 0 || s >= TASK_STATE_COUNT)
		return "unknown";
	return task_state_names[s];
}

int task_state_parse(const char *name)
{
	for (int i = 0; i < TASK_STATE_COUNT; i++)
		if (name && strcmp(name, task_state_names[i]) == 0)
			return i;
	return -1;
}

static int desired_rank(const char *desired)
{
	if (!desired)
		return -1;
	if (strcmp(desired, "running") == 0)
		return 0;
	if (strcmp(desired, "shutdown") == 0)
		return 1;
	if (strcmp(desired, "remove") == 0)
		return 2;
	return -1;
}

void store_init(struct store *s)
{
	s->cluster = json_null();
	s->nodes = json_object();
	s->services = json_object();
	s->tasks = json_object();
	s->applied_index = 0;
}

void store_fini(struct store *s)
{
	json_decref(s->cluster);
	json_decref(s->nodes);
	json_decref(s->services);
	json_decref(s->tasks);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------ accessors */

json_t *store_node(const struct store *s, const char *id)
{
	return id ? json_object_get(s->nodes, id) : NULL;
}

json_t *store_service(const struct store *s, const char *id)
{
	return id ? json_object_get(s->services, id) : NULL;
}

json_t *store_task(const struct store *s, const char *id)
{
	return id ? json_object_get(s->tasks, id) : NULL;
}

/* Finds an object by exact id, then by exact name (at name_path), then by
 * a unique id prefix. */
static json_t *find_by_ref(json_t *objects, const char *ref,
			   const char *outer, const char *inner)
{
	if (!ref || !*ref)
		return NULL;
	json_t *exact = json_object_get(objects, ref);
	if (exact)
		return exact;
	const char *id;
	json_t *obj, *prefix_match = NULL;
	int prefix_count = 0;
	json_object_foreach(objects, id, obj) {
		const char *name = json_string_value(
			json_object_get(json_object_get(obj, outer), inner));
		if (name && strcmp(name, ref) == 0)
			return obj;
		if (strncmp(id, ref, strlen(ref)) == 0) {
			prefix_match = obj;
			prefix_count++;
		}
	}
	return prefix_count == 1 ? prefix_match : NULL;
}

json_t *store_service_find(const struct store *s, const char *ref)
{
	return find_by_ref(s->services, ref, "Spec", "Name");
}

json_t *store_node_find(const struct store *s, const char *ref)
{
	return find_by_ref(s->nodes, ref, "Description", "Hostname");
}

enum task_state store_task_state(const json_t *task)
{
	int st = task_state_parse(json_string_value(
		json_object_get(json_object_get(task, "Status"), "State")));
	return st < 0 ? TASK_NEW : (enum task_state)st;
}

const char *store_task_desired(const json_t *task)
{
	return json_string_value(json_object_get(task, "DesiredState"));
}

const char *store_task_node(const json_t *task)
{
	const char *node = json_string_value(json_object_get(task, "NodeID"));
	return node && *node ? node : NULL;
}

const char *store_task_service(const json_t *task)
{
	return json_string_value(json_object_get(task, "ServiceID"));
}

int64_t store_task_slot(const json_t *task)
{
	return json_integer_value(json_object_get(task, "Slot"));
}

/* ------------------------------------------------------------- commands */

#define FAIL(...)                                        \
	do {                                             \
		snprintf(err, errlen, __VA_ARGS__);      \
		return -1;                               \
	} while (0)

static void set_version(json_t *obj, uint64_t index)
{
	json_object_set_new(obj, "Version",
			    json_pack("{s:I}", "Index", (json_int_t)index));
}

/* Stores a copy of obj under id in table, at version index. */
static void put_versioned(json_t *table, const char *id, const json_t *obj,
			  uint64_t index)
{
	json_t *copy = json_deep_copy(obj);
	set_version(copy, index);
	json_object_set_new(table, id, copy);
}

static int apply_cluster_init(struct store *s, const json_t *cmd,
			      uint64_t index, char *err, size_t errlen)
{
	json_t *cluster = json_object_get(cmd, "cluster");
	json_t *node = json_object_get(cmd, "node");
	const char *node_id = json_string_value(json_object_get(node, "ID"));
	if (!json_is_null(s->cluster))
		FAIL("this node is already part of a swarm");
	if (!json_is_object(cluster) || !node_id)
		FAIL("cluster.init: cluster object and node with ID required");
	json_decref(s->cluster);
	s->cluster = json_deep_copy(cluster);
	set_version(s->cluster, index);
	put_versioned(s->nodes, node_id, node, index);
	return 0;
}

static int apply_node_put(struct store *s, const json_t *cmd, uint64_t index,
			  char *err, size_t errlen)
{
	json_t *node = json_object_get(cmd, "node");
	const char *id = json_string_value(json_object_get(node, "ID"));
	if (!id)
		FAIL("node.put: node with ID required");
	put_versioned(s->nodes, id, node, index);
	return 0;
}

static int apply_cluster_update(struct store *s, const json_t *cmd,
				uint64_t index, char *err, size_t errlen)
{
	json_t *spec = json_object_get(cmd, "spec");
	if (json_is_null(s->cluster))
		FAIL("This node is not a swarm manager.");
	if (!json_is_object(spec))
		FAIL("cluster.update: spec object required");
	json_int_t want = json_integer_value(json_object_get(cmd, "version"));
	json_int_t have = json_integer_value(
		json_object_get(json_object_get(s->cluster, "Version"), "Index"));
	if (want != have)
		FAIL("update out of sequence: swarm is at version %lld, not %lld",
		     (long long)have, (long long)want);
	json_object_set_new(s->cluster, "Spec", json_deep_copy(spec));
	json_object_set(s->cluster, "UpdatedAt", json_object_get(cmd, "now"));
	set_version(s->cluster, index);
	return 0;
}

static int apply_node_remove(struct store *s, const json_t *cmd,
			     uint64_t index, char *err, size_t errlen)
{
	(void)index;
	const char *id = json_string_value(json_object_get(cmd, "id"));
	if (!store_node(s, id))
		FAIL("node %s not found", id ? id : "(null)");
	json_object_del(s->nodes, id);
	return 0;
}

static const char *service_name(const json_t *service)
{
	return json_string_value(
		json_object_get(json_object_get(service, "Spec"), "Name"));
}

static int apply_service_create(struct store *s, const json_t *cmd,
				uint64_t index, char *err, size_t errlen)
{
	json_t *service = json_object_get(cmd, "service");
	const char *id = json_string_value(json_object_get(service, "ID"));
	const char *name = service_name(service);
	if (!id || !name)
		FAIL("service.create: service with ID and Spec.Name required");
	if (json_object_get(s->services, id))
		FAIL("service %s already exists", id);
	const char *other_id;
	json_t *other;
	json_object_foreach(s->services, other_id, other) {
		const char *other_name = service_name(other);
		if (other_name && strcmp(other_name, name) == 0)
			FAIL("service %s already exists (name in use by %.12s)", name,
			     other_id);
	}
	put_versioned(s->services, id, service, index);
	return 0;
}

static int apply_service_update(struct store *s, const json_t *cmd,
				uint64_t index, char *err, size_t errlen)
{
	const char *id = json_string_value(json_object_get(cmd, "id"));
	json_t *spec = json_object_get(cmd, "spec");
	json_t *service = store_service(s, id);
	if (!service)
		FAIL("service %s not found", id ? id : "(null)");
	if (!json_is_object(spec))
		FAIL("service.update: spec object required");
	json_int_t want = json_integer_value(json_object_get(cmd, "version"));
	json_int_t have = json_integer_value(
		json_object_get(json_object_get(service, "Version"), "Index"));
	if (want != have)
		FAIL("update out of sequence: service %s is at version %lld, not %lld",
		     service_name(service), (long long)have, (long long)want);
	const char *new_name = json_string_value(json_object_get(spec, "Name"));
	if (!new_name || strcmp(new_name, service_name(service)) != 0)
		FAIL("service.update: renaming a service is not supported");
	json_object_set(service, "PreviousSpec", json_object_get(service, "Spec"));
	json_object_set_new(service, "Spec", json_deep_copy(spec));
	json_object_set(service, "UpdatedAt", json_object_get(cmd, "now"));
	/* A new spec starts a new rolling update (as swarmkit does). */
	json_object_del(service, "UpdateStatus");
	set_version(service, index);
	return 0;
}

/* Written by the orchestrator's rolling updater. Version.Index stays as it
 * is, so that a client's `service update` with the version it just read
 * does not fail because of it. */
static int apply_service_update_status(struct store *s, const json_t *cmd,
				       uint64_t index, char *err, size_t errlen)
{
	(void)index;
	const char *id = json_string_value(json_object_get(cmd, "id"));
	json_t *status = json_object_get(cmd, "status");
	json_t *service = store_service(s, id);
	if (!service)
		FAIL("service %s not found", id ? id : "(null)");
	if (!json_is_object(status) ||
	    !json_is_string(json_object_get(status, "State")))
		FAIL("service.update_status: status object with State required");
	json_object_set_new(service, "UpdateStatus", json_deep_copy(status));
	return 0;
}

static int apply_service_remove(struct store *s, const json_t *cmd,
				uint64_t index, char *err, size_t errlen)
{
	const char *id = json_string_value(json_object_get(cmd, "id"));
	if (!store_service(s, id))
		FAIL("service %s not found", id ? id : "(null)");
	const char *task_id;
	json_t *task;
	json_object_foreach(s->tasks, task_id, task) {
		const char *svc = store_task_service(task);
		if (svc && strcmp(svc, id) == 0) {
			json_object_set_new(task, "DesiredState",
					    json_string("remove"));
			set_version(task, index);
		}
	}
	json_object_del(s->services, id);
	return 0;
}

static int apply_task_create(struct store *s, const json_t *cmd,
			     uint64_t index, char *err, size_t errlen)
{
	json_t *tasks = json_object_get(cmd, "tasks");
	size_t i;
	json_t *task;
	if (!json_is_array(tasks))
		FAIL("task.create: tasks array required");
	json_array_foreach(tasks, i, task) {
		const char *id = json_string_value(json_object_get(task, "ID"));
		if (!id || json_object_get(s->tasks, id))
			FAIL("task.create: task %zu has no ID or exists", i);
	}
	json_array_foreach(tasks, i, task)
		put_versioned(s->tasks, json_string_value(json_object_get(task, "ID")),
			      task, index);
	return 0;
}

static void set_status(json_t *task, const char *state, json_t *now,
		       const char *message, const char *error)
{
	json_t *status = json_object_get(task, "Status");
	if (!json_is_object(status)) {
		status = json_object();
		json_object_set_new(task, "Status", status);
	}
	json_object_set_new(status, "State", json_string(state));
	json_object_set(status, "Timestamp", now);
	json_object_set_new(status, "Message", json_string(message ? message : state));
	if (error && *error)
		json_object_set_new(status, "Err", json_string(error));
	else
		json_object_del(status, "Err");
	json_object_set(task, "UpdatedAt", now);
}

/*
 * The four batch commands share one loop: each entry of cmd[list_key] names
 * a task by "id"; a missing task is stale and skipped; change_task says
 * whether the entry still applies and, if so, changes the task, which then
 * gets the command's index as its Version.
 */
typedef bool (*task_change_fn)(json_t *task, const json_t *entry,
			       const json_t *cmd);

static int apply_task_batch(struct store *s, const json_t *cmd, uint64_t index,
			    const char *list_key, task_change_fn change_task,
			    char *err, size_t errlen)
{
	json_t *list = json_object_get(cmd, list_key);
	size_t i;
	json_t *entry;
	if (!json_is_array(list))
		FAIL("%s: %s array required",
		     json_string_value(json_object_get(cmd, "op")), list_key);
	json_array_foreach(list, i, entry) {
		json_t *task = store_task(s, json_string_value(json_object_get(entry, "id")));
		if (task && change_task(task, entry, cmd))
			set_version(task, index);
	}
	return 0;
}

static bool assign_task(json_t *task, const json_t *a, const json_t *cmd)
{
	const char *node = json_string_value(json_object_get(a, "node"));
	if (!node || store_task_state(task) != TASK_PENDING)
		return false;
	json_object_set_new(task, "NodeID", json_string(node));
	set_status(task, "assigned", json_object_get(cmd, "now"),
		   "scheduler assigned task to node", NULL);
	return true;
}

static void set_container_status(json_t *task, const json_t *u)
{
	json_t *cs = json_object_get(json_object_get(task, "Status"),
				     "ContainerStatus");
	if (!json_is_object(cs)) {
		cs = json_object();
		json_object_set_new(json_object_get(task, "Status"),
				    "ContainerStatus", cs);
	}
	const char *keys[][2] = { { "container_id", "ContainerID" },
				  { "pid", "PID" },
				  { "exit_code", "ExitCode" } };
	for (size_t k = 0; k < 3; k++) {
		json_t *v = json_object_get(u, keys[k][0]);
		if (v)
			json_object_set(cs, keys[k][1], v);
	}
}

static bool move_task_state(json_t *task, const json_t *u, const json_t *cmd)
{
	(void)cmd;
	int next = task_state_parse(json_string_value(json_object_get(u, "state")));
	if (next < 0)
		return false;
	enum task_state cur = store_task_state(task);
	if ((enum task_state)next <= cur || task_state_ended(cur))
		return false;
	set_status(task, task_state_name(next), json_object_get(u, "now"),
		   json_string_value(json_object_get(u, "message")),
		   json_string_value(json_object_get(u, "err")));
	if (next == TASK_RUNNING && json_object_get(u, "now"))
		json_object_set(task, "OrchRunningAt", json_object_get(u, "now"));
	set_container_status(task, u);
	return true;
}

static bool set_pending_reason(json_t *task, const json_t *u, const json_t *cmd)
{
	(void)cmd;
	const char *reason = json_string_value(json_object_get(u, "err"));
	if (!reason || store_task_state(task) != TASK_PENDING)
		return false;
	json_object_set_new(json_object_get(task, "Status"), "Err",
			    json_string(reason));
	return true;
}

static bool raise_desired(json_t *task, const json_t *u, const json_t *cmd)
{
	(void)cmd;
	const char *desired = json_string_value(json_object_get(u, "desired"));
	if (desired_rank(desired) <= desired_rank(store_task_desired(task)))
		return false;
	json_object_set_new(task, "DesiredState", json_string(desired));
	return true;
}

static int apply_task_delete(struct store *s, const json_t *cmd,
			     uint64_t index, char *err, size_t errlen)
{
	(void)index;
	json_t *ids = json_object_get(cmd, "ids");
	size_t i;
	json_t *id;
	if (!json_is_array(ids))
		FAIL("task.delete: ids array required");
	json_array_foreach(ids, i, id)
		json_object_del(s->tasks, json_string_value(id) ? json_string_value(id) : "");
	return 0;
}

typedef int (*store_apply_fn)(struct store *s, const json_t *cmd,
			      uint64_t index, char *err, size_t errlen);

/* A command is applied by fn, or, for the batches of task changes, by
 * apply_task_batch with change over the array cmd[list]. */
static const struct {
	const char *op;
	store_apply_fn fn;
	const char *list;
	task_change_fn change;
} store_commands[] = {
	{ .op = "cluster.init", .fn = apply_cluster_init },
	{ .op = "cluster.update", .fn = apply_cluster_update },
	{ .op = "node.put", .fn = apply_node_put },
	{ .op = "node.remove", .fn = apply_node_remove },
	{ .op = "service.create", .fn = apply_service_create },
	{ .op = "service.update", .fn = apply_service_update },
	{ .op = "service.update_status", .fn = apply_service_update_status },
	{ .op = "service.remove", .fn = apply_service_remove },
	{ .op = "task.create", .fn = apply_task_create },
	{ .op = "task.assign", .list = "assignments", .change = assign_task },
	{ .op = "task.status", .list = "updates", .change = move_task_state },
	{ .op = "task.pending_reason", .list = "updates", .change = set_pending_reason },
	{ .op = "task.desired", .list = "updates", .change = raise_desired },
	{ .op = "task.delete", .fn = apply_task_delete },
};

int store_apply(struct store *s, const json_t *cmd, uint64_t index, char *err,
		size_t errlen)
{
	const char *op = json_string_value(json_object_get(cmd, "op"));
	int rc = -1;
	snprintf(err, errlen, "unknown command %s", op ? op : "(none)");
	for (size_t i = 0; op && i < sizeof(store_commands) / sizeof(store_commands[0]); i++) {
		if (strcmp(op, store_commands[i].op) != 0)
			continue;
		if (store_commands[i].fn != NULL)
			rc = store_commands[i].fn(s, cmd, index, err, errlen);
		else
			rc = apply_task_batch(s, cmd, index, store_commands[i].list,
					      store_commands[i].change, err, errlen);
	}
	if (index > s->applied_index)
		s->applied_index = index;
	return rc;
}

/* ------------------------------------------------------------- snapshot */

char *store_dump(const struct store *s)
{
	json_t *doc = json_pack("{s:O,s:O,s:O,s:O,s:I}", "cluster", s->cluster,
				"nodes", s->nodes, "services", s->services,
				"tasks", s->tasks, "applied_index",
				(json_int_t)s->applied_index);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	return text;
}

int store_load(struct store *s, const char *text, size_t len, char *err,
	       size_t errlen)
{
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, 0, &jerr);
	if (!doc)
		FAIL("store snapshot is not JSON: %s (line %d)", jerr.text, jerr.line);
	json_t *cluster = json_object_get(doc, "cluster");
	json_t *nodes = json_object_get(doc, "nodes");
	json_t *services = json_object_get(doc, "services");
	json_t *tasks = json_object_get(doc, "tasks");
	if (!cluster || !json_is_object(nodes) || !json_is_object(services) ||
	    !json_is_object(tasks)) {
		json_decref(doc);
		FAIL("store snapshot lacks cluster/nodes/services/tasks");
	}
	store_fini(s);
	s->cluster = json_incref(cluster);
	s->nodes = json_incref(nodes);
	s->services = json_incref(services);
	s->tasks = json_incref(tasks);
	s->applied_index = json_integer_value(json_object_get(doc, "applied_index"));
	json_decref(doc);
	return 0;
}

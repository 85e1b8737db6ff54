/*
 * cmd_node.c: `orchctl node`: the table of its commands (node_family:
 * names, help, flags, operands, what runs each), the commands that read
 * (ls, inspect, ps) and the resolution of NODE arguments. The commands
 * that change nodes (update, promote, demote, rm) are cmd_node_change.c's.
 *
 *   node ls      -> GET /nodes and GET /info (Swarm.NodeID marks the
 *                   current node with "*")
 *   node inspect -> GET /nodes (GET /info for "self")
 *   node ps      -> GET /nodes (GET /info for "self", the default), then
 *                   GET /tasks?filters={"node":{"<id>":true}} per node,
 *                   GET /services for the task names
 * Every NODE argument is resolved here (node_find), against GET /nodes:
 * "self" (the node of GET /info's Swarm.NodeID), exact ID, then hostname,
 * then unique ID prefix; the daemon only sees full IDs.
 * No state of its own.
 */
#include "format.h"
#include "orchctl.h"
#include "parse.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Long-only option codes. */
enum {
	OPT_PRETTY = 256,
};

static int node_cmp_hostname(const void *a, const void *b)
{
	json_t *na = *(json_t *const *)a, *nb = *(json_t *const *)b;
	return format_natural_cmp(json_path_str(na, "Description.Hostname"),
				  json_path_str(nb, "Description.Hostname"));
}

static void node_manager_status(json_t *node, char *buf, size_t len)
{
	json_t *ms = json_object_get(node, "ManagerStatus");
	buf[0] = '\0';
	if (!json_is_object(ms))
		return;
	if (json_is_true(json_object_get(ms, "Leader")))
		snprintf(buf, len, "Leader");
	else
		format_capitalize(json_path_str(ms, "Reachability"), buf, len);
}

/* One row of the node ls table; ctx is the current node's ID. */
static int node_add_row(struct format_table *table, json_t *n, void *ctx)
{
	const char *self_id = ctx;
	char id[160], status[64], availability[64], manager[64];
	const char *node_id = json_path_str(n, "ID");
	snprintf(id, sizeof(id), "%s%s", node_id,
		 self_id[0] && strcmp(node_id, self_id) == 0 ? " *" : "");
	format_capitalize(json_path_str(n, "Status.State"), status, sizeof(status));
	format_capitalize(json_path_str(n, "Spec.Availability"), availability,
			  sizeof(availability));
	node_manager_status(n, manager, sizeof(manager));
	const char *row[] = {
		id,      json_path_str(n, "Description.Hostname"),
		status,  availability,
		manager, json_path_str(n, "Description.Engine.EngineVersion")
	};
	return format_table_add(table, row);
}

static int node_print_table(struct cli *cli, json_t *nodes, const char *self_id)
{
	static const char *const titles[] = {
		"ID",           "HOSTNAME",       "STATUS",
		"AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"
	};
	if (format_json_table(cli->out, nodes, 6, titles, node_cmp_hostname,
			      node_add_row, (void *)self_id) == 0)
		return 0;
	fprintf(cli->err, "Error: out of memory\n");
	return 1;
}

static int node_ls(struct cli *cli, const struct cli_command *cmd, int argc,
		   char **argv)
{
	int rc = cli_parse(cli, cmd, argc, argv, NULL);
	if (rc != CLI_GO_ON)
		return rc;
	json_t *nodes = NULL, *info = NULL;
	if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
		return 1;
	if (client_call_json(cli, "GET", "/info", NULL, &info, NULL) != 0) {
		json_decref(nodes);
		return 1;
	}
	rc = node_print_table(cli, nodes, json_path_str(info, "Swarm.NodeID"));
	json_decref(nodes);
	json_decref(info);
	return rc;
}

/* Finds the node `ref` names: exact ID, then hostname, then ID prefix. */
static json_t *node_resolve(struct cli *cli, json_t *nodes, const char *ref)
{
	size_t i, matches = 0;
	json_t *n, *found = NULL;
	json_array_foreach(nodes, i, n) {
		if (strcmp(json_path_str(n, "ID"), ref) == 0)
			return n;
	}
	json_array_foreach(nodes, i, n) {
		if (strcmp(json_path_str(n, "Description.Hostname"), ref) == 0) {
			found = n;
			matches++;
		}
	}
	if (matches == 0) {
		json_array_foreach(nodes, i, n) {
			if (ref[0] && strncmp(json_path_str(n, "ID"), ref,
					      strlen(ref)) == 0) {
				found = n;
				matches++;
			}
		}
	}
	if (matches == 1)
		return found;
	if (matches == 0)
		fprintf(cli->err, "Error: No such node: %s\n", ref);
	else
		fprintf(cli->err, "Error: node %s is ambiguous (%zu matches)\n",
			ref, matches);
	return NULL;
}

/* The node ID "self" stands for (GET /info), NULL after printing why. */
static char *node_self_id(struct cli *cli)
{
	json_t *info = NULL;
	char *id = NULL;
	if (client_call_json(cli, "GET", "/info", NULL, &info, NULL) != 0)
		return NULL;
	const char *self = json_path_str(info, "Swarm.NodeID");
	if (self[0] == '\0')
		fprintf(cli->err, "Error: this node is not part of a swarm\n");
	else if ((id = strdup(self)) == NULL)
		fprintf(cli->err, "Error: out of memory\n");
	json_decref(info);
	return id;
}

json_t *node_find(struct cli *cli, json_t *nodes, const char *ref, char **self)
{
	if (strcmp(ref, "self") == 0) {
		if (*self == NULL && (*self = node_self_id(cli)) == NULL)
			return NULL;
		ref = *self;
	}
	return node_resolve(cli, nodes, ref);
}

static int node_cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void node_print_label(FILE *o, const char *key, json_t *value)
{
	const char *v = json_string_value(value);
	fprintf(o, " - %s%s%s\n", key, v && v[0] ? "=" : "", v ? v : "");
}

/* " - k=v" lines sorted by key, " - k" when the value is empty (docker's
 * template ranges over the map in key order). */
static void node_print_labels(FILE *o, json_t *labels)
{
	size_t count = json_object_size(labels), i = 0;
	const char *key;
	json_t *value;
	if (count == 0)
		return;
	const char **keys = calloc(count, sizeof(*keys));
	fprintf(o, "Labels:\n");
	json_object_foreach(labels, key, value) {
		if (keys == NULL)
			node_print_label(o, key, value); /* out of memory: unsorted */
		else
			keys[i++] = key;
	}
	if (keys == NULL)
		return;
	qsort(keys, count, sizeof(*keys), node_cmp_key);
	for (i = 0; i < count; i++)
		node_print_label(o, keys[i], json_object_get(labels, keys[i]));
	free(keys);
}

static void node_print_pretty(struct cli *cli, json_t *n)
{
	char buf[128];
	FILE *o = cli->out;
	fprintf(o, "ID:\t\t\t%s\n", json_path_str(n, "ID"));
	if (json_path_str(n, "Spec.Name")[0])
		fprintf(o, "Name:\t\t\t%s\n", json_path_str(n, "Spec.Name"));
	node_print_labels(o, json_path(n, "Spec.Labels"));
	fprintf(o, "Hostname:\t\t%s\n", json_path_str(n, "Description.Hostname"));
	fprintf(o, "Joined at:\t\t%s\n", json_path_str(n, "CreatedAt"));
	fprintf(o, "Status:\n");
	format_capitalize(json_path_str(n, "Status.State"), buf, sizeof(buf));
	fprintf(o, " State:\t\t\t%s\n", buf);
	if (json_path_str(n, "Status.Message")[0])
		fprintf(o, " Message:\t\t%s\n", json_path_str(n, "Status.Message"));
	format_capitalize(json_path_str(n, "Spec.Availability"), buf, sizeof(buf));
	fprintf(o, " Availability:\t\t%s\n", buf);
	if (json_path_str(n, "Status.Addr")[0])
		fprintf(o, " Address:\t\t%s\n", json_path_str(n, "Status.Addr"));
	json_t *ms = json_object_get(n, "ManagerStatus");
	if (json_is_object(ms)) {
		fprintf(o, "Manager Status:\n");
		fprintf(o, " Address:\t\t%s\n", json_path_str(ms, "Addr"));
		format_capitalize(json_path_str(ms, "Reachability"), buf,
				  sizeof(buf));
		fprintf(o, " Raft Status:\t\t%s\n", buf);
		fprintf(o, " Leader:\t\t%s\n",
			json_is_true(json_object_get(ms, "Leader")) ? "Yes" : "No");
	}
	fprintf(o, "Platform:\n");
	fprintf(o, " Operating System:\t%s\n",
		json_path_str(n, "Description.Platform.OS"));
	fprintf(o, " Architecture:\t\t%s\n",
		json_path_str(n, "Description.Platform.Architecture"));
	fprintf(o, "Resources:\n");
	format_nano_cpus(json_path_int(n, "Description.Resources.NanoCPUs", 0),
			 buf, sizeof(buf));
	fprintf(o, " CPUs:\t\t\t%s\n", buf);
	format_bytes_size(
		(double)json_path_int(n, "Description.Resources.MemoryBytes", 0),
		buf, sizeof(buf));
	fprintf(o, " Memory:\t\t%s\n", buf);
	fprintf(o, "Engine Version:\t\t%s\n",
		json_path_str(n, "Description.Engine.EngineVersion"));
}

int node_for_each_operand(struct cli *cli, int argc, char **argv,
			  node_visit_fn visit, void *ctx)
{
	json_t *nodes = NULL;
	if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
		return 1;
	char *self = NULL;
	int rc = 0;
	for (int i = optind; i < argc; i++) {
		json_t *n = node_find(cli, nodes, argv[i], &self);
		if (n == NULL || visit(cli, argv[i], n, ctx) != 0)
			rc = 1;
	}
	free(self);
	json_decref(nodes);
	return rc;
}

struct node_inspect_ctx {
	bool pretty;
	json_t *found;
};

static int node_inspect_one(struct cli *cli, const char *ref, json_t *n, void *arg)
{
	struct node_inspect_ctx *c = arg;
	(void)ref;
	if (c->pretty) {
		if (json_array_size(c->found) > 0)
			fprintf(cli->out, "\n\n");
		node_print_pretty(cli, n);
	}
	if (json_array_append(c->found, n) != 0) {
		fprintf(cli->err, "Error: out of memory\n");
		return -1;
	}
	return 0;
}

static int node_inspect(struct cli *cli, const struct cli_command *cmd,
			int argc, char **argv)
{
	struct node_inspect_ctx c = { .pretty = false };
	int rc = cli_parse(cli, cmd, argc, argv, &c.pretty);
	if (rc != CLI_GO_ON)
		return rc;
	c.found = json_array();
	rc = node_for_each_operand(cli, argc, argv, node_inspect_one, &c);
	if (!c.pretty)
		json_print_indented(cli->out, c.found);
	json_decref(c.found);
	return rc;
}

/* ================================================================== */
/* node ps                                                             */

/* GET /tasks with the flags' filters and this node; appends them to all. */
static int node_ps_fetch(struct cli *cli, json_t *filters, const char *node_id,
			 json_t *all)
{
	json_t *with_node = json_deep_copy(filters);
	json_object_set_new(with_node, "node", json_pack("{s:b}", node_id, 1));
	json_t *tasks = ps_fetch_tasks(cli, with_node);
	int rc = tasks != NULL && json_array_extend(all, tasks) == 0 ? 0 : -1;
	json_decref(with_node);
	json_decref(tasks);
	return rc;
}

/* Prints the table of tasks with their service names and hostnames. */
static int node_ps_print(struct cli *cli, json_t *tasks, json_t *nodes, bool no_trunc)
{
	json_t *list = NULL, *services = json_object();
	json_t *hostnames = ps_hostnames_of(nodes);
	size_t i;
	json_t *v;
	int rc = 1;
	if (client_call_json(cli, "GET", "/services", NULL, &list, NULL) == 0) {
		json_array_foreach(list, i, v)
			json_object_set(services, json_path_str(v, "ID"), v);
		rc = service_ps_print(cli, tasks, services, hostnames, no_trunc);
	}
	json_decref(list);
	json_decref(services);
	json_decref(hostnames);
	return rc;
}

static int node_ps(struct cli *cli, const struct cli_command *cmd, int argc,
		   char **argv)
{
	struct ps_opts o = { .command = "node ps",
			     .chosen_key = "node",
			     .chosen_by = "NODE",
			     .filters = json_object() };
	json_t *tasks = json_array(), *nodes = NULL;
	char *self = NULL;
	int rc = cli_parse(cli, cmd, argc, argv, &o);
	if (rc == CLI_GO_ON) {
		char self_word[] = "self";
		char *self_arg[] = { self_word };
		char **refs = optind < argc ? argv + optind : self_arg;
		int count = optind < argc ? argc - optind : 1;
		rc = 1;
		if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) == 0)
			rc = 0;
		for (int i = 0; i < count && rc == 0; i++) {
			json_t *n = node_find(cli, nodes, refs[i], &self);
			if (n == NULL ||
			    node_ps_fetch(cli, o.filters,
					  json_path_str(n, "ID"), tasks) != 0)
				rc = 1;
		}
		if (rc == 0)
			rc = node_ps_print(cli, tasks, nodes, o.no_trunc);
	}
	free(self);
	json_decref(nodes);
	json_decref(tasks);
	json_decref(o.filters);
	return rc;
}

/* ================================================================== */

static const struct cli_flag node_inspect_flags[] = {
	{ "--pretty", 0, no_argument, OPT_PRETTY, NULL,
	  "Print the information in a human friendly format", 0 },
	{ NULL },
};

static const struct cli_flag node_rm_flags[] = {
	{ "--force", 'f', no_argument, 0, NULL,
	  "Force remove a node from the swarm", 0 },
	{ NULL },
};

static const struct cli_command node_commands[] = {
	{ .name = "node demote",
	  .synopsis = "NODE [NODE...]",
	  .summary = "Demote one or more nodes from manager in the swarm",
	  .operands = CLI_ONE_OR_MORE,
	  .run = node_set_role,
	  .data = "worker" },
	{ .name = "node inspect",
	  .synopsis = "[OPTIONS] NODE [NODE...]",
	  .summary = "Display detailed information on one or more nodes",
	  .flags = node_inspect_flags,
	  .operands = CLI_ONE_OR_MORE,
	  .apply = cli_flag_true,
	  .run = node_inspect },
	{ .name = "node ls",
	  .alias = "list",
	  .synopsis = "[OPTIONS]",
	  .summary = "List nodes in the swarm",
	  .run = node_ls },
	{ .name = "node promote",
	  .synopsis = "NODE [NODE...]",
	  .summary = "Promote one or more nodes to manager in the swarm",
	  .operands = CLI_ONE_OR_MORE,
	  .run = node_set_role,
	  .data = "manager" },
	{ .name = "node ps",
	  .synopsis = "[OPTIONS] [NODE...]",
	  .summary = "List tasks running on one or more nodes, defaults to current node",
	  .flags = ps_flags,
	  .operands = CLI_ANY_OPERANDS,
	  .apply = ps_flag,
	  .run = node_ps },
	{ .name = "node rm",
	  .alias = "remove",
	  .synopsis = "[OPTIONS] NODE [NODE...]",
	  .summary = "Remove one or more nodes from the swarm",
	  .flags = node_rm_flags,
	  .operands = CLI_ONE_OR_MORE,
	  .apply = cli_flag_true,
	  .run = node_rm },
	{ .name = "node update",
	  .synopsis = "[OPTIONS] NODE",
	  .summary = "Update a node",
	  .flags = node_update_flags,
	  .operands = CLI_ONE_OPERAND,
	  .apply = node_update_flag,
	  .run = node_update },
};

const struct cli_family node_family = {
	.name = "node",
	.summary = "Manage Swarm nodes",
	.commands = node_commands,
	.count = sizeof(node_commands) / sizeof(node_commands[0]),
};

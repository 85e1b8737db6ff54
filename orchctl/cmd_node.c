/*
 * cmd_node.c: `orchctl node ls|inspect|ps|update|promote|demote|rm`.
 *
 *   node ls      -> GET /nodes and GET /info (Swarm.NodeID marks the
 *                   current node with "*")
 *   node inspect -> GET /nodes (GET /info for "self")
 *   node ps      -> GET /nodes (GET /info for "self", the default), then
 *                   GET /tasks?filters={"node":{"<id>":true}} per node,
 *                   GET /services for the task names
 *   node update  -> GET /nodes, GET /nodes/{id}, then
 *   node promote    POST /nodes/{id}/update?version=N with the whole
 *   node demote     NodeSpec, changed
 *   node rm      -> GET /nodes, then DELETE /nodes/{id}?force=true|false
 * Every NODE argument is resolved here, against GET /nodes: "self" (the
 * node of GET /info's Swarm.NodeID), exact ID, then hostname, then unique
 * ID prefix; the daemon only sees full IDs. Flag values are checked
 * (parse.c) before anything is sent, and every argument is resolved before
 * anything is changed.
 * No state of its own.
 */
#include "format.h"
#include "orchctl.h"
#include "parse.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char node_usage[] =
	"Usage:  orchctl node COMMAND\n"
	"\n"
	"Manage Swarm nodes\n"
	"\n"
	"Commands:\n"
	"  demote      Demote one or more nodes from manager in the swarm\n"
	"  inspect     Display detailed information on one or more nodes\n"
	"  ls          List nodes in the swarm\n"
	"  promote     Promote one or more nodes to manager in the swarm\n"
	"  ps          List tasks running on one or more nodes, defaults to current node\n"
	"  rm          Remove one or more nodes from the swarm\n"
	"  update      Update a node\n";

static const char node_ls_usage[] =
	"Usage:  orchctl node ls [OPTIONS]\n"
	"\n"
	"List nodes in the swarm\n"
	"\n"
	"Aliases:\n"
	"  ls, list\n";

static const char node_inspect_usage[] =
	"Usage:  orchctl node inspect [OPTIONS] NODE [NODE...]\n"
	"\n"
	"Display detailed information on one or more nodes\n"
	"\n"
	"Options:\n"
	"      --pretty   Print the information in a human friendly format\n";

static const char node_ps_usage[] =
	"Usage:  orchctl node ps [OPTIONS] [NODE...]\n"
	"\n"
	"List tasks running on one or more nodes, defaults to current node\n"
	"\n"
	"Options:\n"
	"  -f, --filter filter   Filter output based on conditions provided\n"
	"      --no-trunc        Do not truncate output\n";

static const char node_update_usage[] =
	"Usage:  orchctl node update [OPTIONS] NODE\n"
	"\n"
	"Update a node\n"
	"\n"
	"Options:\n"
	"      --availability string   Availability of the node (\"active\", \"pause\", \"drain\")\n"
	"      --label-add list        Add or update a node label (\"key=value\")\n"
	"      --label-rm list         Remove a node label if exists\n"
	"      --role string           Role of the node (\"worker\", \"manager\")\n";

static const char node_promote_usage[] =
	"Usage:  orchctl node promote NODE [NODE...]\n"
	"\n"
	"Promote one or more nodes to manager in the swarm\n";

static const char node_demote_usage[] =
	"Usage:  orchctl node demote NODE [NODE...]\n"
	"\n"
	"Demote one or more nodes from manager in the swarm\n";

static const char node_rm_usage[] =
	"Usage:  orchctl node rm [OPTIONS] NODE [NODE...]\n"
	"\n"
	"Remove one or more nodes from the swarm\n"
	"\n"
	"Aliases:\n"
	"  rm, remove\n"
	"\n"
	"Options:\n"
	"  -f, --force   Force remove a node from the swarm\n";

/* Long-only option codes. */
enum {
	OPT_AVAILABILITY = 256,
	OPT_ROLE,
	OPT_LABEL_ADD,
	OPT_LABEL_RM,
	OPT_NO_TRUNC,
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

static int node_print_table(struct cli *cli, json_t *nodes, const char *self_id)
{
	static const char *const titles[] = {
		"ID",           "HOSTNAME",       "STATUS",
		"AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"
	};
	struct format_table table;
	size_t count = json_array_size(nodes);
	json_t **sorted = calloc(count ? count : 1, sizeof(*sorted));
	if (sorted == NULL || format_table_init(&table, 6, titles) != 0) {
		free(sorted);
		fprintf(cli->err, "Error: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < count; i++)
		sorted[i] = json_array_get(nodes, i);
	qsort(sorted, count, sizeof(*sorted), node_cmp_hostname);
	int rc = 0;
	for (size_t i = 0; i < count && rc == 0; i++) {
		json_t *n = sorted[i];
		char id[160], status[64], availability[64], manager[64];
		const char *node_id = json_path_str(n, "ID");
		snprintf(id, sizeof(id), "%s%s", node_id,
			 self_id[0] && strcmp(node_id, self_id) == 0 ? " *" : "");
		format_capitalize(json_path_str(n, "Status.State"), status,
				  sizeof(status));
		format_capitalize(json_path_str(n, "Spec.Availability"),
				  availability, sizeof(availability));
		node_manager_status(n, manager, sizeof(manager));
		const char *row[] = {
			id,
			json_path_str(n, "Description.Hostname"),
			status,
			availability,
			manager,
			json_path_str(n, "Description.Engine.EngineVersion")
		};
		rc = format_table_add(&table, row);
	}
	if (rc == 0)
		format_table_print(&table, cli->out);
	else
		fprintf(cli->err, "Error: out of memory\n");
	format_table_free(&table);
	free(sorted);
	return rc == 0 ? 0 : 1;
}

static int node_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(node_ls_usage, cli->out);
			return 0;
		}
		return cli_getopt_error(cli, "node ls", c, argv);
	}
	if (optind < argc)
		return cli_usage_error(cli, "node ls",
				       "\"orchctl node ls\" accepts no arguments.");
	json_t *nodes = NULL, *info = NULL;
	if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
		return 1;
	if (client_call_json(cli, "GET", "/info", NULL, &info, NULL) != 0) {
		json_decref(nodes);
		return 1;
	}
	int rc = node_print_table(cli, nodes, json_path_str(info, "Swarm.NodeID"));
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

/* Like node_resolve; "self" names the node orchctl talks to (GET /info,
 * asked once: *self keeps the ID for the caller to free). */
static json_t *node_find(struct cli *cli, json_t *nodes, const char *ref, char **self)
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

static int node_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool pretty = false;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pretty = true;
			break;
		case 'h':
			fputs(node_inspect_usage, cli->out);
			return 0;
		default:
			return cli_getopt_error(cli, "node inspect", c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(
			cli, "node inspect",
			"\"orchctl node inspect\" requires at least 1 argument.");
	json_t *nodes = NULL;
	if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
		return 1;
	json_t *found = json_array();
	char *self = NULL;
	int rc = 0;
	for (int i = optind; i < argc; i++) {
		json_t *n = node_find(cli, nodes, argv[i], &self);
		if (n == NULL) {
			rc = 1;
			continue;
		}
		if (pretty) {
			if (json_array_size(found) > 0)
				fprintf(cli->out, "\n\n");
			node_print_pretty(cli, n);
		}
		json_array_append(found, n);
	}
	if (!pretty) {
		char *text = json_dumps(found, JSON_INDENT(4));
		if (text != NULL)
			fprintf(cli->out, "%s\n", text);
		free(text);
	}
	json_decref(found);
	json_decref(nodes);
	free(self);
	return rc;
}

/* ================================================================== */
/* Shared by the verbs that change nodes                               */

/* Resolves every argv[first..argc) against GET /nodes before anything is
 * changed; returns the list (the caller frees it) or NULL after printing
 * why. *ids gets one borrowed ID per argument. */
static json_t *node_resolve_all(struct cli *cli, int argc, char **argv,
				int first, const char ***ids)
{
	json_t *nodes = NULL;
	*ids = NULL;
	if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
		return NULL;
	const char **found = calloc((size_t)(argc - first) + 1, sizeof(*found));
	if (found == NULL) {
		fprintf(cli->err, "Error: out of memory\n");
		json_decref(nodes);
		return NULL;
	}
	char *self = NULL;
	for (int i = first; i < argc && found != NULL; i++) {
		json_t *n = node_find(cli, nodes, argv[i], &self);
		if (n == NULL) {
			free(found);
			found = NULL;
		} else {
			found[i - first] = json_path_str(n, "ID");
		}
	}
	free(self);
	if (found == NULL) {
		json_decref(nodes);
		return NULL;
	}
	*ids = found;
	return nodes;
}

/* "/nodes/<escaped id><suffix>" (malloc'd), NULL after printing why. */
static char *node_path(struct cli *cli, const char *id, const char *suffix)
{
	char *escaped = client_escape(id);
	char *path = NULL;
	if (escaped == NULL || asprintf(&path, "/nodes/%s%s", escaped, suffix) < 0) {
		fprintf(cli->err, "Error: out of memory\n");
		path = NULL;
	}
	free(escaped);
	return path;
}

/* Changes a node's spec: 0 to send it, 1 when there is nothing to change,
 * -1 after printing an error. */
typedef int (*node_change_fn)(struct cli *cli, json_t *spec, json_t *node, void *ctx);

/* GET /nodes/{id}, change its Spec, POST /nodes/{id}/update?version=N.
 * Returns 0 when sent, 1 when unchanged, -1 after printing an error. */
static int node_change(struct cli *cli, const char *id, node_change_fn change,
		       void *ctx)
{
	char *path = node_path(cli, id, "");
	json_t *node = NULL;
	if (path == NULL ||
	    client_call_json(cli, "GET", path, NULL, &node, NULL) != 0) {
		free(path);
		return -1;
	}
	free(path);
	json_t *spec = json_object_get(node, "Spec");
	int rc = -1;
	if (!json_is_object(spec))
		fprintf(cli->err, "Error: node %s has no spec\n", id);
	else
		rc = change(cli, spec, node, ctx);
	char suffix[64];
	snprintf(suffix, sizeof(suffix), "/update?version=%" JSON_INTEGER_FORMAT,
		 json_path_int(node, "Version.Index", 0));
	if (rc == 0 && (path = node_path(cli, id, suffix)) == NULL)
		rc = -1;
	if (rc == 0) {
		if (client_call_json(cli, "POST", path, spec, NULL, NULL) != 0)
			rc = -1;
		free(path);
	}
	json_decref(node);
	return rc;
}

/* ================================================================== */
/* node update                                                         */

struct node_update_opts {
	const char *availability; /* NULL: unchanged */
	const char *role;         /* NULL: unchanged */
	json_t *label_add;        /* key -> value */
	json_t *label_rm;         /* keys */
};

static int node_update_change(struct cli *cli, json_t *spec, json_t *node, void *ctx)
{
	struct node_update_opts *o = ctx;
	json_t *labels = json_object_get(spec, "Labels");
	size_t i;
	json_t *key;
	(void)node;
	if (o->availability != NULL)
		json_object_set_new(spec, "Availability",
				    json_string(o->availability));
	if (o->role != NULL)
		json_object_set_new(spec, "Role", json_string(o->role));
	if (json_object_size(o->label_add) + json_array_size(o->label_rm) == 0)
		return 0;
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(spec, "Labels", labels);
	}
	json_object_update(labels, o->label_add);
	json_array_foreach(o->label_rm, i, key) {
		if (json_object_del(labels, json_string_value(key)) != 0) {
			fprintf(cli->err,
				"Error: key %s doesn't exist in node's labels\n",
				json_string_value(key));
			return -1;
		}
	}
	return 0;
}

/* Checks and records one option; 0 or the exit code. */
static int node_update_flag(struct cli *cli, int opt, const char *value,
			    struct node_update_opts *o)
{
	char reason[PARSE_ERR_LEN];
	char *key, *val;
	int rc;
	switch (opt) {
	case OPT_AVAILABILITY:
		if (parse_node_availability(value, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, "node update",
					      "--availability", value, reason);
		o->availability = value;
		return 0;
	case OPT_ROLE:
		if (parse_node_role(value, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, "node update", "--role",
					      value, reason);
		o->role = value;
		return 0;
	case OPT_LABEL_ADD:
		if (parse_label(value, &key, &val, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, "node update", "--label-add",
					      value, reason);
		rc = json_object_set_new(o->label_add, key, json_string(val));
		free(key);
		free(val);
		return rc == 0 ? 0
			       : cli_flag_error(cli, "node update", "--label-add",
						value, "not valid UTF-8");
	case OPT_LABEL_RM:
		if (value[0] == '\0' || strchr(value, '=') != NULL)
			return cli_flag_error(cli, "node update", "--label-rm",
					      value, "expected a label key");
		if (json_array_append_new(o->label_rm, json_string(value)) != 0)
			return cli_flag_error(cli, "node update", "--label-rm",
					      value, "not valid UTF-8");
		return 0;
	default:
		return cli_usage_error(cli, "node update", "unknown flag");
	}
}

/* Parses the flags and the NODE argument; 0 to go on, -1 for --help,
 * else the exit code. */
static int node_update_parse(struct cli *cli, int argc, char **argv,
			     struct node_update_opts *o)
{
	static const struct option opts[] = {
		{ "availability", required_argument, NULL, OPT_AVAILABILITY },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "label-add", required_argument, NULL, OPT_LABEL_ADD },
		{ "label-rm", required_argument, NULL, OPT_LABEL_RM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(node_update_usage, cli->out);
			return -1;
		}
		if (c == '?' || c == ':')
			return cli_getopt_error(cli, "node update", c, argv);
		int rc = node_update_flag(cli, c, optarg, o);
		if (rc != 0)
			return rc;
	}
	if (argc - optind != 1)
		return cli_usage_error(
			cli, "node update",
			"\"orchctl node update\" requires exactly 1 argument.");
	return 0;
}

static int node_update(struct cli *cli, int argc, char **argv)
{
	struct node_update_opts o = { .label_add = json_object(),
				      .label_rm = json_array() };
	const char **ids = NULL;
	json_t *nodes = NULL;
	int rc = node_update_parse(cli, argc, argv, &o);
	if (rc == 0) {
		nodes = node_resolve_all(cli, argc, argv, optind, &ids);
		rc = nodes == NULL
			     ? 1
			     : node_change(cli, ids[0], node_update_change, &o) < 0;
		if (rc == 0)
			fprintf(cli->out, "%s\n", argv[optind]);
	}
	free(ids);
	json_decref(nodes);
	json_decref(o.label_add);
	json_decref(o.label_rm);
	return rc < 0 ? 0 : rc;
}

/* ================================================================== */
/* node promote / demote                                               */

struct node_role_verb {
	const char *name; /* "node promote" */
	const char *usage;
	const char *role;    /* the role it gives */
	const char *already; /* "Node %s is already a manager.\n" */
	const char *done; /* "Node %s promoted to a manager in the swarm.\n" */
};

static int node_role_change(struct cli *cli, json_t *spec, json_t *node, void *ctx)
{
	const struct node_role_verb *verb = ctx;
	if (strcmp(json_path_str(spec, "Role"), verb->role) == 0) {
		fprintf(cli->out, verb->already, json_path_str(node, "ID"));
		return 1;
	}
	json_object_set_new(spec, "Role", json_string(verb->role));
	return 0;
}

/* Only --help is accepted; returns -1 to go on, else the exit code. */
static int node_only_help(struct cli *cli, int argc, char **argv,
			  const char *name, const char *usage)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c != 'h')
			return cli_getopt_error(cli, name, c, argv);
		fputs(usage, cli->out);
		return 0;
	}
	return -1;
}

static int node_set_role(struct cli *cli, int argc, char **argv,
			 const struct node_role_verb *verb)
{
	const char **ids = NULL;
	int rc = node_only_help(cli, argc, argv, verb->name, verb->usage);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage_error(cli, verb->name,
				       "\"orchctl %s\" requires at least 1 argument.",
				       verb->name);
	json_t *nodes = node_resolve_all(cli, argc, argv, optind, &ids);
	if (nodes == NULL)
		return 1;
	rc = 0;
	/* Like docker: the first failure stops the rest. */
	for (int i = optind; i < argc && rc == 0; i++) {
		int changed = node_change(cli, ids[i - optind],
					  node_role_change, (void *)verb);
		if (changed < 0)
			rc = 1;
		else if (changed == 0)
			fprintf(cli->out, verb->done, argv[i]);
	}
	free(ids);
	json_decref(nodes);
	return rc;
}

static int node_promote(struct cli *cli, int argc, char **argv)
{
	static const struct node_role_verb verb = {
		"node promote", node_promote_usage, "manager",
		"Node %s is already a manager.\n",
		"Node %s promoted to a manager in the swarm.\n"
	};
	return node_set_role(cli, argc, argv, &verb);
}

static int node_demote(struct cli *cli, int argc, char **argv)
{
	static const struct node_role_verb verb = {
		"node demote", node_demote_usage, "worker",
		"Node %s is already a worker.\n", "Manager %s demoted in the swarm.\n"
	};
	return node_set_role(cli, argc, argv, &verb);
}

/* ================================================================== */
/* node rm                                                             */

static int node_rm(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false;
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			fputs(node_rm_usage, cli->out);
			return 0;
		default:
			return cli_getopt_error(cli, "node rm", c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(
			cli, "node rm",
			"\"orchctl node rm\" requires at least 1 argument.");
	json_t *nodes = NULL;
	if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
		return 1;
	char *self = NULL;
	int rc = 0;
	/* Like docker: every node is tried, failures are reported as they come. */
	for (int i = optind; i < argc; i++) {
		json_t *n = node_find(cli, nodes, argv[i], &self);
		char *path = n ? node_path(cli, json_path_str(n, "ID"),
					   force ? "?force=true" : "?force=false")
			       : NULL;
		if (path != NULL &&
		    client_call_json(cli, "DELETE", path, NULL, NULL, NULL) == 0)
			fprintf(cli->out, "%s\n", argv[i]);
		else
			rc = 1;
		free(path);
	}
	free(self);
	json_decref(nodes);
	return rc;
}

/* ================================================================== */
/* node ps                                                             */

/* GET /tasks?filters=<filters + node> and appends them to all. */
static int node_ps_fetch(struct cli *cli, json_t *filters, const char *node_id,
			 json_t *all)
{
	json_t *with_node = json_deep_copy(filters);
	json_object_set_new(with_node, "node", json_pack("{s:b}", node_id, 1));
	char *text = json_dumps(with_node, JSON_COMPACT);
	char *escaped = text ? client_escape(text) : NULL;
	char *path = NULL;
	json_t *tasks = NULL;
	int rc = -1;
	json_decref(with_node);
	if (escaped == NULL || asprintf(&path, "/tasks?filters=%s", escaped) < 0) {
		fprintf(cli->err, "Error: out of memory\n");
		path = NULL;
	} else if (client_call_json(cli, "GET", path, NULL, &tasks, NULL) == 0) {
		rc = json_array_extend(all, tasks) == 0 ? 0 : -1;
		json_decref(tasks);
	}
	free(path);
	free(escaped);
	free(text);
	return rc;
}

/* Prints the table of tasks with their service names and hostnames. */
static int node_ps_print(struct cli *cli, json_t *tasks, json_t *nodes, bool no_trunc)
{
	json_t *list = NULL, *services = json_object(), *hostnames = json_object();
	size_t i;
	json_t *v;
	int rc = 1;
	if (client_call_json(cli, "GET", "/services", NULL, &list, NULL) == 0) {
		json_array_foreach(list, i, v)
			json_object_set(services, json_path_str(v, "ID"), v);
		json_array_foreach(nodes, i, v)
			json_object_set_new(hostnames, json_path_str(v, "ID"),
					    json_string(json_path_str(
						    v, "Description.Hostname")));
		rc = service_ps_print(cli, tasks, services, hostnames, no_trunc);
	}
	json_decref(list);
	json_decref(services);
	json_decref(hostnames);
	return rc;
}

/* Parses node ps's flags into filters; -1 to go on, else the exit code. */
static int node_ps_parse(struct cli *cli, int argc, char **argv,
			 json_t *filters, bool *no_trunc)
{
	static const struct option opts[] = {
		{ "no-trunc", no_argument, NULL, OPT_NO_TRUNC },
		{ "filter", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char reason[PARSE_ERR_LEN];
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		char *key, *value;
		if (c == 'h') {
			fputs(node_ps_usage, cli->out);
			return 0;
		} else if (c == OPT_NO_TRUNC) {
			*no_trunc = true;
		} else if (c == 'f') {
			if (parse_task_filter(optarg, &key, &value, reason,
					      sizeof(reason)) != 0)
				return cli_flag_error(cli, "node ps", "--filter",
						      optarg, reason);
			if (strcmp(key, "node") == 0) {
				free(key);
				free(value);
				return cli_flag_error(
					cli, "node ps", "--filter", optarg,
					"the node is chosen by the NODE arguments");
			}
			json_t *values = json_object_get(filters, key);
			if (values == NULL)
				json_object_set_new(filters, key,
						    values = json_object());
			json_object_set_new(values, value, json_true());
			free(key);
			free(value);
		} else {
			return cli_getopt_error(cli, "node ps", c, argv);
		}
	}
	return -1;
}

static int node_ps(struct cli *cli, int argc, char **argv)
{
	json_t *filters = json_object(), *tasks = json_array(), *nodes = NULL;
	bool no_trunc = false;
	char *self = NULL;
	int rc = node_ps_parse(cli, argc, argv, filters, &no_trunc);
	if (rc < 0) {
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
			    node_ps_fetch(cli, filters, json_path_str(n, "ID"),
					  tasks) != 0)
				rc = 1;
		}
		if (rc == 0)
			rc = node_ps_print(cli, tasks, nodes, no_trunc);
	}
	free(self);
	json_decref(nodes);
	json_decref(tasks);
	json_decref(filters);
	return rc;
}

/* ================================================================== */

int cmd_node(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli *, int, char **);
	} verbs[] = {
		{ "ls", node_ls },           { "list", node_ls },
		{ "inspect", node_inspect }, { "ps", node_ps },
		{ "update", node_update },   { "promote", node_promote },
		{ "demote", node_demote },   { "rm", node_rm },
		{ "remove", node_rm },
	};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(node_usage, argc < 2 ? cli->err : cli->out);
		return argc < 2 ? 1 : 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(cli, argc - 1, argv + 1);
	}
	return cli_usage_error(cli, "node", "orchctl node: unknown command: %s",
			       argv[1]);
}

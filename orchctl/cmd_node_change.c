/*
 * cmd_node_change.c: the verbs that change nodes: `orchctl node update`,
 * `node promote`, `node demote` and `node rm`.
 *
 *   node update  -> GET /nodes, GET /nodes/{id}, then
 *   node promote    POST /nodes/{id}/update?version=N with the whole
 *   node demote     NodeSpec, changed
 *   node rm      -> GET /nodes, then DELETE /nodes/{id}?force=true|false
 *
 * Flag values are checked (parse.c) and every NODE argument is resolved
 * (node_find, cmd_node.c) before anything is changed. No state of its own.
 */
#include "orchctl.h"
#include "parse.h"

#include <stdlib.h>
#include <string.h>

/* Long-only option codes. */
enum {
	OPT_AVAILABILITY = 256,
	OPT_LABEL_ADD,
	OPT_LABEL_RM,
	OPT_ROLE,
};

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
int node_update_flag(struct cli *cli, int opt, const char *value, void *arg)
{
	struct node_update_opts *o = arg;
	char reason[PARSE_ERR_LEN];
	char *key, *val;
	int rc;
	switch (opt) {
	case OPT_AVAILABILITY:
		return cli_take_checked(cli, "node update", "--availability", value,
					parse_node_availability, &o->availability);
	case OPT_ROLE:
		return cli_take_checked(cli, "node update", "--role", value,
					parse_node_role, &o->role);
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

const struct cli_flag node_update_flags[] = {
	{ "--availability", 0, required_argument, OPT_AVAILABILITY, "string",
	  "Availability of the node (\"active\", \"pause\", \"drain\")", 0 },
	{ "--label-add", 0, required_argument, OPT_LABEL_ADD, "list",
	  "Add or update a node label (\"key=value\")", 0 },
	{ "--label-rm", 0, required_argument, OPT_LABEL_RM, "list",
	  "Remove a node label if exists", 0 },
	{ "--role", 0, required_argument, OPT_ROLE, "string",
	  "Role of the node (\"worker\", \"manager\")", 0 },
	{ NULL },
};

int node_update(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	struct node_update_opts o = { .label_add = json_object(),
				      .label_rm = json_array() };
	const char **ids = NULL;
	json_t *nodes = NULL;
	int rc = cli_parse(cli, cmd, argc, argv, &o);
	if (rc == CLI_GO_ON) {
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
	return rc;
}

/* ================================================================== */
/* node promote / demote                                               */

/* What a promote or demote says; role is "manager" or "worker". */
static void node_role_say(struct cli *cli, const char *role, bool done,
			  const char *id)
{
	bool manager = strcmp(role, "manager") == 0;
	if (!done)
		fprintf(cli->out, "Node %s is already a %s.\n", id, role);
	else if (manager)
		fprintf(cli->out,
			"Node %s promoted to a manager in the swarm.\n", id);
	else
		fprintf(cli->out, "Manager %s demoted in the swarm.\n", id);
}

static int node_role_change(struct cli *cli, json_t *spec, json_t *node, void *ctx)
{
	const char *role = ctx;
	if (strcmp(json_path_str(spec, "Role"), role) == 0) {
		node_role_say(cli, role, false, json_path_str(node, "ID"));
		return 1;
	}
	json_object_set_new(spec, "Role", json_string(role));
	return 0;
}

int node_set_role(struct cli *cli, const struct cli_command *cmd, int argc,
		  char **argv)
{
	const char *role = cmd->data;
	const char **ids = NULL;
	int rc = cli_parse(cli, cmd, argc, argv, NULL);
	if (rc != CLI_GO_ON)
		return rc;
	json_t *nodes = node_resolve_all(cli, argc, argv, optind, &ids);
	if (nodes == NULL)
		return 1;
	rc = 0;
	/* Like docker: the first failure stops the rest. */
	for (int i = optind; i < argc && rc == 0; i++) {
		int changed = node_change(cli, ids[i - optind],
					  node_role_change, (void *)role);
		if (changed < 0)
			rc = 1;
		else if (changed == 0)
			node_role_say(cli, role, true, argv[i]);
	}
	free(ids);
	json_decref(nodes);
	return rc;
}

/* ================================================================== */
/* node rm                                                             */

/* Removes one node, printing the reference it was given; -1 after
 * printing why not. */
static int node_rm_one(struct cli *cli, const char *ref, json_t *n, void *arg)
{
	const bool *force = arg;
	char *path = node_path(cli, json_path_str(n, "ID"),
			       *force ? "?force=true" : "?force=false");
	if (path == NULL)
		return -1;
	int rc = client_call_json(cli, "DELETE", path, NULL, NULL, NULL);
	free(path);
	if (rc != 0)
		return -1;
	fprintf(cli->out, "%s\n", ref);
	return 0;
}

int node_rm(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	bool force = false;
	int rc = cli_parse(cli, cmd, argc, argv, &force);
	if (rc != CLI_GO_ON)
		return rc;
	/* Like docker: every node is tried, failures are reported as they come. */
	return node_for_each_operand(cli, argc, argv, node_rm_one, &force);
}

/*
 * cmd_service_ps.c: the task tables of `orchctl service ps` and
 * `orchctl node ps`: their flags (--filter, --no-trunc), fetching the
 * tasks (GET /tasks?filters=...), and docker's table of them (ID, NAME,
 * IMAGE, NODE, DESIRED STATE, CURRENT STATE, ERROR, PORTS), newest first
 * within a slot. `service ps` itself is here too:
 *
 *   service ps -> GET /services/{ref} per SERVICE, GET /tasks?filters=...,
 *                 GET /nodes (for the hostnames)
 * No state of its own.
 */
#include "format.h"
#include "orchctl.h"
#include "parse.h"
#include "service_spec.h"

#include <stdlib.h>
#include <string.h>

const struct cli_flag ps_flags[] = {
	{ "--filter", 'f', required_argument, 0, "filter",
	  "Filter output based on conditions provided", 0 },
	{ "--no-trunc", 0, no_argument, PS_OPT_NO_TRUNC, NULL,
	  "Do not truncate output", 0 },
	{ NULL },
};

int ps_flag(struct cli *cli, int opt, const char *value, void *arg)
{
	struct ps_opts *o = arg;
	char reason[PARSE_ERR_LEN];
	char *key, *val;
	if (opt == PS_OPT_NO_TRUNC) {
		o->no_trunc = true;
		return 0;
	}
	if (parse_task_filter(value, &key, &val, reason, sizeof(reason)) != 0)
		return cli_flag_error(cli, o->command, "--filter", value, reason);
	int rc = 0;
	if (o->chosen_key != NULL && strcmp(key, o->chosen_key) == 0) {
		snprintf(reason, sizeof(reason),
			 "the %s is chosen by the %s arguments", key, o->chosen_by);
		rc = cli_flag_error(cli, o->command, "--filter", value, reason);
	} else {
		json_t *values = json_object_get(o->filters, key);
		if (values == NULL)
			json_object_set_new(o->filters, key, values = json_object());
		json_object_set_new(values, val, json_true());
	}
	free(key);
	free(val);
	return rc;
}

json_t *ps_fetch_tasks(struct cli *cli, json_t *filters)
{
	char *text = json_dumps(filters, JSON_COMPACT);
	char *escaped = text ? client_escape(text) : NULL;
	char *path = NULL;
	json_t *tasks = NULL;
	if (escaped == NULL || asprintf(&path, "/tasks?filters=%s", escaped) < 0) {
		fprintf(cli->err, "Error: out of memory\n");
		path = NULL;
	} else if (client_call_json(cli, "GET", path, NULL, &tasks, NULL) != 0) {
		tasks = NULL;
	}
	free(path);
	free(escaped);
	free(text);
	return tasks;
}

json_t *ps_hostnames_of(json_t *nodes)
{
	json_t *map = json_object();
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
		json_object_set_new(
			map, json_path_str(n, "ID"),
			json_string(json_path_str(n, "Description.Hostname")));
	return map;
}

json_t *ps_hostnames(struct cli *cli)
{
	json_t *nodes = NULL;
	if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
		return json_object();
	json_t *map = ps_hostnames_of(nodes);
	json_decref(nodes);
	return map;
}

struct ps_row {
	json_t *task;
	char name[192];
	int64_t created;
	json_int_t version;
};

static int ps_row_cmp(const void *a, const void *b)
{
	const struct ps_row *x = a, *y = b;
	int c = format_natural_cmp(x->name, y->name);
	if (c != 0)
		return c;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1; /* newest first */
	if (x->version != y->version)
		return x->version > y->version ? -1 : 1;
	return 0;
}

/* "web.1" for replicated tasks, "web.<node id>" for global ones. The name
 * comes from services, else from the task's own ServiceName (orchd's
 * tasks carry it), else the service ID. */
void ps_task_name(json_t *task, json_t *services, char *buf, size_t len)
{
	json_t *service = json_object_get(services, json_path_str(task, "ServiceID"));
	const char *name = json_path_str(service, "Spec.Name");
	if (name[0] == '\0')
		name = json_path_str(task, "ServiceName");
	if (name[0] == '\0')
		name = json_path_str(task, "ServiceID");
	json_int_t slot = json_path_int(task, "Slot", 0);
	if (slot > 0)
		snprintf(buf, len, "%s.%" JSON_INTEGER_FORMAT, name, slot);
	else
		snprintf(buf, len, "%s.%s", name, json_path_str(task, "NodeID"));
}

static void ps_current_state(json_t *task, char *buf, size_t len)
{
	char state[64], age[64];
	int64_t when;
	format_capitalize(json_path_str(task, "Status.State"), state, sizeof(state));
	if (parse_rfc3339(json_path_str(task, "Status.Timestamp"), &when, NULL,
			  0) != 0) {
		snprintf(buf, len, "%s", state);
		return;
	}
	format_human_duration(cli_now() - when, age, sizeof(age));
	snprintf(buf, len, "%s %s ago", state, age);
}

static int ps_add_rows(struct format_table *table, struct ps_row *rows,
		       size_t count, json_t *hostnames, bool no_trunc)
{
	const char *prev = "";
	for (size_t i = 0; i < count; i++) {
		json_t *t = rows[i].task;
		char id[128], name[200], image[512], desired[64], current[160],
			error[512];
		format_id(json_path_str(t, "ID"), no_trunc, id, sizeof(id));
		if (strcmp(rows[i].name, prev) == 0)
			snprintf(name, sizeof(name), " \\_ %s", rows[i].name);
		else
			snprintf(name, sizeof(name), "%s", rows[i].name);
		prev = rows[i].name;
		format_image(json_path_str(t, "Spec.ContainerSpec.Image"),
			     no_trunc, image, sizeof(image));
		format_capitalize(json_path_str(t, "DesiredState"), desired,
				  sizeof(desired));
		ps_current_state(t, current, sizeof(current));
		format_task_error(json_path_str(t, "Status.Err"), no_trunc,
				  error, sizeof(error));
		const char *node_id = json_path_str(t, "NodeID");
		const char *host = json_string_value(
			json_object_get(hostnames, node_id));
		const char *row[] = { id,      name,
				      image,   host ? host : node_id,
				      desired, current,
				      error,   "" };
		if (format_table_add(table, row) != 0)
			return -1;
	}
	return 0;
}

int service_ps_print(struct cli *cli, json_t *tasks, json_t *services,
		     json_t *hostnames, bool no_trunc)
{
	static const char *const titles[] = {
		"ID",    "NAME",          "IMAGE",
		"NODE",  "DESIRED STATE", "CURRENT STATE",
		"ERROR", "PORTS"
	};
	size_t count = json_array_size(tasks);
	struct ps_row *rows = calloc(count ? count : 1, sizeof(*rows));
	struct format_table table;
	if (rows == NULL || format_table_init(&table, 8, titles) != 0) {
		free(rows);
		fprintf(cli->err, "Error: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < count; i++) {
		rows[i].task = json_array_get(tasks, i);
		ps_task_name(rows[i].task, services, rows[i].name,
			     sizeof(rows[i].name));
		if (parse_rfc3339(json_path_str(rows[i].task, "CreatedAt"),
				  &rows[i].created, NULL, 0))
			rows[i].created = 0;
		rows[i].version = json_path_int(rows[i].task, "Version.Index", 0);
	}
	qsort(rows, count, sizeof(*rows), ps_row_cmp);
	int rc = ps_add_rows(&table, rows, count, hostnames, no_trunc);
	if (rc == 0)
		format_table_print(&table, cli->out);
	else
		fprintf(cli->err, "Error: out of memory\n");
	format_table_free(&table);
	free(rows);
	return rc == 0 ? 0 : 1;
}

int service_ps(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	struct ps_opts o = { .command = "service ps", .filters = json_object() };
	json_t *services = json_object();
	int rc = cli_parse(cli, cmd, argc, argv, &o);
	if (rc != CLI_GO_ON) {
		json_decref(services);
		json_decref(o.filters);
		return rc;
	}
	rc = 0;
	for (int i = optind; rc == 0 && i < argc; i++) {
		json_t *s = service_get(cli, argv[i]);
		if (s == NULL) {
			rc = 1;
			break;
		}
		json_object_set_new(svcspec_child(o.filters, "service"),
				    json_path_str(s, "ID"), json_true());
		json_object_set_new(services, json_path_str(s, "ID"), s);
	}
	json_t *tasks = rc == 0 ? ps_fetch_tasks(cli, o.filters) : NULL;
	if (rc == 0 && tasks == NULL)
		rc = 1;
	if (rc == 0) {
		json_t *hostnames = ps_hostnames(cli);
		rc = service_ps_print(cli, tasks, services, hostnames, o.no_trunc);
		json_decref(hostnames);
	}
	json_decref(tasks);
	json_decref(services);
	json_decref(o.filters);
	return rc;
}

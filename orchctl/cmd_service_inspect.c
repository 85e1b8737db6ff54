/*
 * cmd_service_inspect.c: `orchctl service inspect [--pretty] SERVICE...`:
 * GET /services/{ref} per SERVICE, printed as a JSON array (docker's
 * indent of 4) or, with --pretty, as docker's human-readable text.
 * No state of its own.
 */
#include "format.h"
#include "orchctl.h"
#include "parse.h"

#include <stdlib.h>
#include <string.h>

static void inspect_print_resources(FILE *o, json_t *resources)
{
	static const char *groups[][2] = { { "Reservations", " Reservations:" },
					   { "Limits", " Limits:" } };
	char buf[64];
	if (json_object_size(resources) == 0)
		return;
	fprintf(o, "Resources:\n");
	for (size_t g = 0; g < 2; g++) {
		json_t *group = json_object_get(resources, groups[g][0]);
		if (json_object_size(group) == 0)
			continue;
		fprintf(o, "%s\n", groups[g][1]);
		if (json_object_get(group, "NanoCPUs")) {
			format_nano_cpus(json_path_int(group, "NanoCPUs", 0),
					 buf, sizeof(buf));
			fprintf(o, "  CPU:\t\t%s\n", buf);
		}
		if (json_object_get(group, "MemoryBytes")) {
			format_bytes_size((double)json_path_int(group,
								"MemoryBytes", 0),
					  buf, sizeof(buf));
			fprintf(o, "  Memory:\t%s\n", buf);
		}
	}
}

static void inspect_print_restart(FILE *o, json_t *policy)
{
	char buf[64];
	if (json_object_size(policy) == 0)
		return;
	fprintf(o, "RestartPolicy:\n");
	fprintf(o, " Condition:\t%s\n", json_path_str(policy, "Condition"));
	format_go_duration(json_path_int(policy, "Delay", 0), buf, sizeof(buf));
	fprintf(o, " Delay:\t\t%s\n", buf);
	fprintf(o, " Max Attempts:\t%" JSON_INTEGER_FORMAT "\n",
		json_path_int(policy, "MaxAttempts", 0));
	format_go_duration(json_path_int(policy, "Window", 0), buf, sizeof(buf));
	fprintf(o, " Window:\t%s\n", buf);
}

static void inspect_print_list(FILE *o, const char *label, json_t *array,
			       const char *sep)
{
	size_t i;
	json_t *v;
	if (json_array_size(array) == 0)
		return;
	fprintf(o, "%s", label);
	json_array_foreach(array, i, v)
		fprintf(o, "%s%s", i ? sep : "",
			json_string_value(v) ? json_string_value(v) : "");
	fprintf(o, "\n");
}

static void inspect_print_container(FILE *o, json_t *cs)
{
	size_t i;
	json_t *m;
	char buf[64];
	fprintf(o, "ContainerSpec:\n");
	fprintf(o, " Image:\t\t%s\n", json_path_str(cs, "Image"));
	inspect_print_list(o, " Command:\t", json_object_get(cs, "Command"), " ");
	inspect_print_list(o, " Args:\t\t", json_object_get(cs, "Args"), " ");
	inspect_print_list(o, " Env:\t\t", json_object_get(cs, "Env"), "\n\t\t");
	if (json_object_get(cs, "StopGracePeriod")) {
		format_go_duration(json_path_int(cs, "StopGracePeriod", 0), buf,
				   sizeof(buf));
		fprintf(o, " StopGracePeriod: %s\n", buf);
	}
	if (json_array_size(json_object_get(cs, "Mounts")) > 0)
		fprintf(o, "Mounts:\n");
	json_array_foreach(json_object_get(cs, "Mounts"), i, m) {
		fprintf(o, " Target:\t%s\n", json_path_str(m, "Target"));
		fprintf(o, "  Source:\t%s\n", json_path_str(m, "Source"));
		fprintf(o, "  ReadOnly:\t%s\n",
			json_is_true(json_object_get(m, "ReadOnly")) ? "true"
								     : "false");
		fprintf(o, "  Type:\t\t%s\n", json_path_str(m, "Type"));
	}
}

/* " Started:\t2 minutes ago": the age of a timestamp; nothing when the
 * timestamp cannot be read. */
static void inspect_print_age(FILE *o, const char *label, const char *timestamp)
{
	char age[64];
	int64_t when;
	if (parse_rfc3339(timestamp, &when, NULL, 0) != 0)
		return;
	format_human_duration(cli_now() - when, age, sizeof(age));
	fprintf(o, "%s%s ago\n", label, age);
}

/* docker's UpdateStatus block (orchd's states: updating, paused,
 * completed). */
static void inspect_print_update_status(FILE *o, json_t *status)
{
	const char *state = json_path_str(status, "State");
	if (!json_is_object(status))
		return;
	fprintf(o, "UpdateStatus:\n");
	fprintf(o, " State:\t\t%s\n", state);
	inspect_print_age(o, " Started:\t", json_path_str(status, "StartedAt"));
	if (strcmp(state, "completed") == 0)
		inspect_print_age(o, " Completed:\t",
				  json_path_str(status, "CompletedAt"));
	fprintf(o, " Message:\t%s\n", json_path_str(status, "Message"));
}

/* docker's UpdateConfig block; Delay and Monitor only when set. */
static void inspect_print_update_config(FILE *o, json_t *config)
{
	char buf[64];
	json_t *ratio = json_object_get(config, "MaxFailureRatio");
	if (!json_is_object(config))
		return;
	fprintf(o, "UpdateConfig:\n");
	fprintf(o, " Parallelism:\t%" JSON_INTEGER_FORMAT "\n",
		json_path_int(config, "Parallelism", 0));
	if (json_path_int(config, "Delay", 0) != 0) {
		format_go_duration(json_path_int(config, "Delay", 0), buf,
				   sizeof(buf));
		fprintf(o, " Delay:\t\t%s\n", buf);
	}
	fprintf(o, " On failure:\t%s\n", json_path_str(config, "FailureAction"));
	if (json_path_int(config, "Monitor", 0) != 0) {
		format_go_duration(json_path_int(config, "Monitor", 0), buf,
				   sizeof(buf));
		fprintf(o, " Monitoring Period: %s\n", buf);
	}
	fprintf(o, " Max failure ratio: %g\n",
		json_is_number(ratio) ? json_number_value(ratio) : 0.0);
	fprintf(o, " Update order:      %s\n", json_path_str(config, "Order"));
}

static void inspect_print_pretty(struct cli *cli, json_t *s)
{
	FILE *o = cli->out;
	json_t *spec = json_object_get(s, "Spec");
	json_t *labels = json_object_get(spec, "Labels");
	const char *key;
	json_t *value;
	fprintf(o, "\nID:\t\t%s\n", json_path_str(s, "ID"));
	fprintf(o, "Name:\t\t%s\n", json_path_str(spec, "Name"));
	if (json_object_size(labels) > 0) {
		fprintf(o, "Labels:\n");
		json_object_foreach(labels, key, value)
			fprintf(o, " %s=%s\n", key,
				json_string_value(value) ? json_string_value(value)
							 : "");
	}
	if (service_is_global(s)) {
		fprintf(o, "Service Mode:\tGlobal\n");
	} else {
		fprintf(o, "Service Mode:\tReplicated\n");
		fprintf(o, " Replicas:\t%" JSON_INTEGER_FORMAT "\n",
			json_path_int(spec, "Mode.Replicated.Replicas", 0));
	}
	if (json_is_boolean(json_object_get(spec, "OrchRebalance")))
		fprintf(o, "Rebalance:\t%s\n",
			json_is_true(json_object_get(spec, "OrchRebalance"))
				? "true"
				: "false");
	inspect_print_update_status(o, json_object_get(s, "UpdateStatus"));
	json_t *task = json_object_get(spec, "TaskTemplate");
	json_t *constraints = json_path(task, "Placement.Constraints");
	if (json_array_size(constraints) > 0) {
		size_t i;
		json_t *c;
		fprintf(o, "Placement:\n Constraints:\t[");
		json_array_foreach(constraints, i, c)
			fprintf(o, "%s%s", i ? " " : "",
				json_string_value(c) ? json_string_value(c) : "");
		fprintf(o, "]\n");
	}
	inspect_print_update_config(o, json_object_get(spec, "UpdateConfig"));
	inspect_print_restart(o, json_object_get(task, "RestartPolicy"));
	inspect_print_container(o, json_object_get(task, "ContainerSpec"));
	inspect_print_resources(o, json_object_get(task, "Resources"));
	if (json_path_str(task, "Runtime")[0])
		fprintf(o, "Runtime:\t%s\n", json_path_str(task, "Runtime"));
}

int service_inspect(struct cli *cli, const struct cli_command *cmd, int argc,
		    char **argv)
{
	bool pretty = false;
	int rc = cli_parse(cli, cmd, argc, argv, &pretty);
	if (rc != CLI_GO_ON)
		return rc;
	json_t *found = json_array();
	rc = 0;
	for (int i = optind; i < argc; i++) {
		json_t *s = service_get(cli, argv[i]);
		if (s == NULL) {
			rc = 1;
			continue;
		}
		if (pretty)
			inspect_print_pretty(cli, s);
		json_array_append_new(found, s);
	}
	if (!pretty)
		json_print_indented(cli->out, found);
	json_decref(found);
	return rc;
}

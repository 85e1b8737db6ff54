/*
 * cmd_service.c: `orchctl service`: the table of its commands
 * (service_family: names, help, flags, operands, what runs each) and the
 * commands create, ls, scale and rm; ps, inspect, logs and update have files
 * of their own (cmd_service_ps.c, _inspect.c, _logs.c, _update.c).
 *
 *   create  -> POST /services/create (ServiceSpec), then progress
 *   ls      -> GET /services?status=true
 *   scale   -> GET /services/{ref}, POST /services/{id}/update?version=N
 *   update  -> cmd_service_update.c
 *   rm      -> DELETE /services/{ref}
 * Every flag value is checked (parse.c) before anything is sent; the
 * flags create shares with update change the spec through service_spec.c.
 * A service reference is an ID, ID prefix or name; the daemon resolves it.
 * No state of its own.
 */
#include "format.h"
#include "orchctl.h"
#include "parse.h"
#include "service_spec.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

json_t *service_get(struct cli *cli, const char *ref)
{
	char *escaped = client_escape(ref);
	char path[1024];
	json_t *service = NULL;
	if (escaped == NULL) {
		fprintf(cli->err, "Error: out of memory\n");
		return NULL;
	}
	snprintf(path, sizeof(path), "/services/%s", escaped);
	free(escaped);
	if (client_call_json(cli, "GET", path, NULL, &service, NULL) != 0)
		return NULL;
	return service;
}

bool service_is_global(json_t *service)
{
	return json_path(service, "Spec.Mode.Global") != NULL;
}

/* ================================================================== */
/* service create                                                      */

struct create_opts {
	json_t *spec; /* the ServiceSpec being built */
	enum parse_service_mode mode;
	uint64_t replicas;
	bool replicas_set;
	bool detach;
};

/* Applies one parsed option; returns 0, or the exit code after an error. */
static int create_apply(struct cli *cli, int opt, const char *value, void *arg)
{
	struct create_opts *o = arg;
	char reason[PARSE_ERR_LEN];
	const char *cmd = "service create";
	switch (opt) {
	case 'd':
		o->detach = true;
		return 0;
	case SVCSPEC_CREATE_NAME:
		if (parse_service_name(value, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, cmd, "--name", value, reason);
		json_object_set_new(o->spec, "Name", json_string(value));
		return 0;
	case SVCSPEC_CREATE_MODE:
		if (parse_service_mode(value, &o->mode, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, cmd, "--mode", value, reason);
		return 0;
	case SVCSPEC_REPLICAS:
		if (parse_uint64(value, &o->replicas, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, cmd, "--replicas", value, reason);
		o->replicas_set = true;
		return 0;
	default:
		if (svcspec_apply(o->spec, opt, value, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, cmd, svcspec_flag_name(opt),
					      value ? value : "", reason);
		return 0;
	}
}

/* IMAGE [COMMAND] [ARG...] and the mode, once every flag is known;
 * CLI_GO_ON or the exit code. */
static int create_finish(struct cli *cli, int argc, char **argv,
			 struct create_opts *o)
{
	json_t *container = svcspec_child(svcspec_child(o->spec, "TaskTemplate"),
					  "ContainerSpec");
	json_t *mode = svcspec_child(o->spec, "Mode");
	if (argv[optind][0] == '\0')
		return cli_usage_error(cli, "service create",
				       "IMAGE must not be empty");
	if (o->mode == PARSE_MODE_GLOBAL && o->replicas_set)
		return cli_usage_error(cli, "service create",
				       "replicas can only be used with replicated mode");
	if (o->replicas_set && o->replicas > INT64_MAX)
		return cli_usage_error(cli, "service create",
				       "--replicas %" PRIu64 " is too large",
				       o->replicas);
	if (container == NULL || mode == NULL ||
	    svcspec_update_defaults(o->spec) != 0) {
		fprintf(cli->err, "Error: out of memory\n");
		return 1;
	}
	json_object_set_new(container, "Image", json_string(argv[optind]));
	if (optind + 1 < argc) {
		json_t *args = json_array();
		for (int i = optind + 1; i < argc; i++)
			json_array_append_new(args, json_string(argv[i]));
		json_object_set_new(container, "Args", args);
	}
	if (o->mode == PARSE_MODE_GLOBAL)
		json_object_set_new(mode, "Global", json_object());
	else
		json_object_set_new(
			mode, "Replicated",
			json_pack("{s:I}", "Replicas",
				  (json_int_t)(o->replicas_set ? o->replicas : 1)));
	return CLI_GO_ON;
}

void service_print_warnings(struct cli *cli, json_t *answer)
{
	const char *warning = json_path_str(answer, "Warning");
	size_t i;
	json_t *w;
	if (warning[0])
		fprintf(cli->err, "%s\n", warning);
	json_array_foreach(json_object_get(answer, "Warnings"), i, w)
		fprintf(cli->err, "%s\n",
			json_string_value(w) ? json_string_value(w) : "");
}

static int service_create(struct cli *cli, const struct cli_command *cmd,
			  int argc, char **argv)
{
	struct create_opts o = { .mode = PARSE_MODE_REPLICATED,
				 .spec = json_object() };
	int rc = o.spec == NULL ? 1 : cli_parse(cli, cmd, argc, argv, &o);
	if (rc == CLI_GO_ON)
		rc = create_finish(cli, argc, argv, &o);
	if (rc != CLI_GO_ON) {
		json_decref(o.spec);
		return rc;
	}
	json_t *answer = NULL;
	rc = client_call_json(cli, "POST", "/services/create", o.spec, &answer, NULL);
	json_decref(o.spec);
	if (rc != 0)
		return 1;
	const char *id = json_path_str(answer, "ID");
	service_print_warnings(cli, answer);
	fprintf(cli->out, "%s\n", id);
	fflush(cli->out);
	rc = 0;
	if (!o.detach && id[0])
		rc = progress_wait_converged(cli, id) == 0 ? 0 : 1;
	json_decref(answer);
	return rc;
}

/* ================================================================== */
/* service ls                                                          */

static int service_cmp_name(const void *a, const void *b)
{
	return format_natural_cmp(json_path_str(*(json_t *const *)a, "Spec.Name"),
				  json_path_str(*(json_t *const *)b, "Spec.Name"));
}

static void service_ports(json_t *service, char *buf, size_t len)
{
	size_t i, used = 0;
	json_t *p;
	buf[0] = '\0';
	json_array_foreach(json_path(service, "Endpoint.Ports"), i, p) {
		int n = snprintf(buf + used, len - used,
				 "%s*:%" JSON_INTEGER_FORMAT
				 "->%" JSON_INTEGER_FORMAT "/%s",
				 used ? ", " : "",
				 json_path_int(p, "PublishedPort", 0),
				 json_path_int(p, "TargetPort", 0),
				 json_path_str(p, "Protocol")[0]
					 ? json_path_str(p, "Protocol")
					 : "tcp");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

/* One row of the service ls table. */
static int service_add_row(struct format_table *table, json_t *s, void *ctx)
{
	char id[16], replicas[64], image[512], ports[256];
	json_t *status = json_object_get(s, "ServiceStatus");
	(void)ctx;
	format_id(json_path_str(s, "ID"), false, id, sizeof(id));
	if (json_is_object(status))
		snprintf(replicas, sizeof(replicas),
			 "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
			 json_path_int(status, "RunningTasks", 0),
			 json_path_int(status, "DesiredTasks", 0));
	else if (!service_is_global(s))
		snprintf(replicas, sizeof(replicas), "?/%" JSON_INTEGER_FORMAT,
			 json_path_int(s, "Spec.Mode.Replicated.Replicas", 0));
	else
		snprintf(replicas, sizeof(replicas), "?");
	format_image(json_path_str(s, "Spec.TaskTemplate.ContainerSpec.Image"),
		     false, image, sizeof(image));
	service_ports(s, ports, sizeof(ports));
	const char *row[] = { id,
			      json_path_str(s, "Spec.Name"),
			      service_is_global(s) ? "global" : "replicated",
			      replicas,
			      image,
			      ports };
	return format_table_add(table, row);
}

static int service_ls_table(struct cli *cli, json_t *services)
{
	static const char *const titles[] = { "ID",       "NAME",  "MODE",
					      "REPLICAS", "IMAGE", "PORTS" };
	if (format_json_table(cli->out, services, 6, titles, service_cmp_name,
			      service_add_row, NULL) == 0)
		return 0;
	fprintf(cli->err, "Error: out of memory\n");
	return 1;
}

static int service_ls(struct cli *cli, const struct cli_command *cmd, int argc,
		      char **argv)
{
	int rc = cli_parse(cli, cmd, argc, argv, NULL);
	if (rc != CLI_GO_ON)
		return rc;
	json_t *services = NULL;
	if (client_call_json(cli, "GET", "/services?status=true", NULL,
			     &services, NULL) != 0)
		return 1;
	rc = service_ls_table(cli, services);
	json_decref(services);
	return rc;
}

/* ================================================================== */
/* service scale                                                       */

/* Scales one service; 0 on success. *id gets the service ID (malloc'd). */
static int scale_one(struct cli *cli, const char *ref, uint64_t replicas, char **id)
{
	char path[256];
	json_t *s = service_get(cli, ref);
	*id = NULL;
	if (s == NULL)
		return -1;
	if (service_is_global(s)) {
		fprintf(cli->err,
			"%s: scale can only be used with replicated mode\n", ref);
		json_decref(s);
		return -1;
	}
	json_t *spec = json_object_get(s, "Spec");
	json_t *replicated = json_path(spec, "Mode.Replicated");
	if (!json_is_object(replicated)) {
		fprintf(cli->err,
			"%s: service has no replicated mode in its spec\n", ref);
		json_decref(s);
		return -1;
	}
	json_object_set_new(replicated, "Replicas",
			    json_integer((json_int_t)replicas));
	snprintf(path, sizeof(path),
		 "/services/%s/update?version=%" JSON_INTEGER_FORMAT,
		 json_path_str(s, "ID"), json_path_int(s, "Version.Index", 0));
	int rc = client_call_json(cli, "POST", path, spec, NULL, NULL);
	if (rc == 0) {
		fprintf(cli->out, "%s scaled to %" PRIu64 "\n", ref, replicas);
		fflush(cli->out);
		*id = strdup(json_path_str(s, "ID"));
	}
	json_decref(s);
	return rc;
}

static int service_scale(struct cli *cli, const struct cli_command *cmd,
			 int argc, char **argv)
{
	char reason[PARSE_ERR_LEN];
	bool detach = false;
	int rc = cli_parse(cli, cmd, argc, argv, &detach);
	if (rc != CLI_GO_ON)
		return rc;
	/* Every SERVICE=N is checked before anything is sent. */
	for (int i = optind; i < argc; i++) {
		char *name;
		uint64_t n;
		if (parse_scale_spec(argv[i], &name, &n, reason, sizeof(reason)) != 0)
			return cli_usage_error(cli, "service scale", "%s", reason);
		free(name);
		if (n > INT64_MAX)
			return cli_usage_error(cli, "service scale",
					       "invalid replicas value %s",
					       argv[i]);
	}
	rc = 0;
	for (int i = optind; i < argc; i++) {
		char *name, *id;
		uint64_t n;
		parse_scale_spec(argv[i], &name, &n, reason, sizeof(reason));
		if (scale_one(cli, name, n, &id) != 0)
			rc = 1;
		else if (!detach && progress_wait_converged(cli, id) != 0)
			rc = 1;
		free(id);
		free(name);
	}
	return rc;
}

/* ================================================================== */
/* service rm                                                          */

static int service_rm(struct cli *cli, const struct cli_command *cmd, int argc,
		      char **argv)
{
	int rc = cli_parse(cli, cmd, argc, argv, NULL);
	if (rc != CLI_GO_ON)
		return rc;
	rc = 0;
	for (int i = optind; i < argc; i++) {
		char *escaped = client_escape(argv[i]);
		char *path = NULL;
		if (escaped == NULL || asprintf(&path, "/services/%s", escaped) < 0) {
			fprintf(cli->err, "Error: out of memory\n");
			free(escaped);
			return 1;
		}
		if (client_call_json(cli, "DELETE", path, NULL, NULL, NULL) == 0)
			fprintf(cli->out, "%s\n", argv[i]);
		else
			rc = 1;
		free(path);
		free(escaped);
	}
	return rc;
}

/* ================================================================== */

static const struct cli_flag service_inspect_flags[] = {
	{ "--pretty", 0, no_argument, 'p', NULL,
	  "Print the information in a human friendly format", 0 },
	{ NULL },
};

static const struct cli_flag service_logs_flags[] = {
	{ "--tail", 'n', required_argument, 0, "string",
	  "Number of lines to show from the end of the logs (default \"all\")", 0 },
	{ NULL },
};

static const struct cli_flag service_scale_flags[] = {
	{ "--detach", 'd', no_argument, 0, NULL,
	  "Exit immediately instead of waiting for the service to converge", 0 },
	{ NULL },
};

static const struct cli_command service_commands[] = {
	{ .name = "service create",
	  .synopsis = "[OPTIONS] IMAGE [COMMAND] [ARG...]",
	  .summary = "Create a new service",
	  .flags = svcspec_flags,
	  .flag_set = SVCSPEC_IN_CREATE,
	  .defaults = svcspec_create_defaults,
	  .flags_end_at_operand = true,
	  .operands = CLI_ONE_OR_MORE,
	  .apply = create_apply,
	  .run = service_create },
	{ .name = "service inspect",
	  .synopsis = "[OPTIONS] SERVICE [SERVICE...]",
	  .summary = "Display detailed information on one or more services",
	  .flags = service_inspect_flags,
	  .operands = CLI_ONE_OR_MORE,
	  .apply = cli_flag_true,
	  .run = service_inspect },
	{ .name = "service logs",
	  .synopsis = "[OPTIONS] SERVICE|TASK",
	  .summary = "Fetch the logs of a service or task",
	  .flags = service_logs_flags,
	  .operands = CLI_ONE_OPERAND,
	  .apply = service_logs_flag,
	  .run = service_logs },
	{ .name = "service ls", .alias = "list", .summary = "List services", .run = service_ls },
	{ .name = "service ps",
	  .synopsis = "[OPTIONS] SERVICE [SERVICE...]",
	  .summary = "List the tasks of one or more services",
	  .flags = ps_flags,
	  .operands = CLI_ONE_OR_MORE,
	  .apply = ps_flag,
	  .run = service_ps },
	{ .name = "service rm",
	  .alias = "remove",
	  .synopsis = "SERVICE [SERVICE...]",
	  .summary = "Remove one or more services",
	  .operands = CLI_ONE_OR_MORE,
	  .run = service_rm },
	{ .name = "service scale",
	  .synopsis = "SERVICE=REPLICAS [SERVICE=REPLICAS...]",
	  .summary = "Scale one or multiple replicated services",
	  .flags = service_scale_flags,
	  .operands = CLI_ONE_OR_MORE,
	  .apply = cli_flag_true,
	  .run = service_scale },
	{ .name = "service update",
	  .synopsis = "[OPTIONS] SERVICE",
	  .summary = "Update a service",
	  .flags = svcspec_flags,
	  .flag_set = SVCSPEC_IN_UPDATE,
	  .operands = CLI_ONE_OPERAND,
	  .apply = service_update_flag,
	  .run = service_update },
};

const struct cli_family service_family = {
	.name = "service",
	.summary = "Manage Swarm services",
	.commands = service_commands,
	.count = sizeof(service_commands) / sizeof(service_commands[0]),
};

/*
 * cmd_service.c: `orchctl service create|ls|ps|inspect|scale|rm|logs`.
 *
 *   create  -> POST /services/create (ServiceSpec), then progress
 *   ls      -> GET /services?status=true
 *   ps      -> GET /services/{ref}, GET /tasks?filters=..., GET /nodes
 *   inspect -> GET /services/{ref}
 *   scale   -> GET /services/{ref}, POST /services/{id}/update?version=N
 *   update  -> cmd_service_update.c
 *   rm      -> DELETE /services/{ref}
 *   logs    -> GET /services/{ref}/logs (or /tasks/{ref}/logs)
 * Every flag value is checked (parse.c) before anything is sent; the
 * flags create shares with update change the spec through service_spec.c.
 * A service reference is an ID, ID prefix or name; the daemon resolves it.
 * The task table of `service ps` (service_ps_print) is shared with
 * `node ps`.
 * No state of its own.
 */
#include "format.h"
#include "orchctl.h"
#include "parse.h"
#include "service_spec.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char service_usage[] =
	"Usage:  orchctl service COMMAND\n"
	"\n"
	"Manage Swarm services\n"
	"\n"
	"Commands:\n"
	"  create      Create a new service\n"
	"  inspect     Display detailed information on one or more services\n"
	"  logs        Fetch the logs of a service or task\n"
	"  ls          List services\n"
	"  ps          List the tasks of one or more services\n"
	"  rm          Remove one or more services\n"
	"  scale       Scale one or multiple replicated services\n"
	"  update      Update a service\n";

static const char create_usage[] =
	"Usage:  orchctl service create [OPTIONS] IMAGE [COMMAND] [ARG...]\n"
	"\n"
	"Create a new service\n"
	"\n"
	"Options:\n"
	"      --constraint list                Placement constraints (KEY==VALUE, KEY!=VALUE)\n"
	"      --container-label list           Container labels\n"
	"  -d, --detach                         Exit immediately instead of waiting for the\n"
	"                                       service to converge\n"
	"  -e, --env list                       Set environment variables\n"
	"      --label list                     Service labels\n"
	"      --limit-cpu decimal              Limit CPUs\n"
	"      --limit-memory bytes             Limit Memory\n"
	"      --mode string                    Service mode (\"replicated\" or \"global\")\n"
	"                                       (default \"replicated\")\n"
	"      --mount mount                    Attach a filesystem mount to the service\n"
	"      --name string                    Service name\n"
	"      --rebalance[=true|false]         Even out this service's tasks across nodes when\n"
	"                                       they are uneven by 2 or more (orchd)\n"
	"      --replicas uint                  Number of tasks\n"
	"      --reserve-cpu decimal            Reserve CPUs\n"
	"      --reserve-memory bytes           Reserve Memory\n"
	"      --restart-condition string       Restart when condition is met\n"
	"                                       (\"none\", \"on-failure\", \"any\")\n"
	"      --restart-delay duration         Delay between restart attempts (ns|us|ms|s|m|h)\n"
	"      --restart-max-attempts uint      Maximum number of restarts before giving up\n"
	"      --restart-window duration        Window used to evaluate the restart policy\n"
	"      --runtime string                 Task runtime (\"docker\", \"process\"...;\n"
	"                                       default: the node's)\n"
	"      --stop-grace-period duration     Time to wait before force killing a container\n"
	"      --update-delay duration          Delay between updates (ns|us|ms|s|m|h) (default 0s)\n"
	"      --update-failure-action string   Action on update failure (\"pause\", \"continue\",\n"
	"                                       \"rollback\") (default \"pause\")\n"
	"      --update-max-failure-ratio float Failure rate to tolerate during an update\n"
	"                                       (default 0)\n"
	"      --update-monitor duration        Duration after each task update to monitor for\n"
	"                                       failure (ns|us|ms|s|m|h) (default 5s)\n"
	"      --update-order string            Update order (\"start-first\", \"stop-first\")\n"
	"                                       (default \"stop-first\")\n"
	"      --update-parallelism uint        Maximum number of tasks updated simultaneously\n"
	"                                       (0 to update all at once) (default 1)\n";

static const char ls_usage[] =
	"Usage:  orchctl service ls\n"
	"\n"
	"List services\n"
	"\n"
	"Aliases:\n"
	"  ls, list\n";

static const char ps_usage[] =
	"Usage:  orchctl service ps [OPTIONS] SERVICE [SERVICE...]\n"
	"\n"
	"List the tasks of one or more services\n"
	"\n"
	"Options:\n"
	"  -f, --filter filter   Filter output based on conditions provided\n"
	"      --no-trunc        Do not truncate output\n";

static const char inspect_usage[] =
	"Usage:  orchctl service inspect [OPTIONS] SERVICE [SERVICE...]\n"
	"\n"
	"Display detailed information on one or more services\n"
	"\n"
	"Options:\n"
	"      --pretty   Print the information in a human friendly format\n";

static const char scale_usage[] =
	"Usage:  orchctl service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n"
	"\n"
	"Scale one or multiple replicated services\n"
	"\n"
	"Options:\n"
	"  -d, --detach   Exit immediately instead of waiting for the service to converge\n";

static const char rm_usage[] =
	"Usage:  orchctl service rm SERVICE [SERVICE...]\n"
	"\n"
	"Remove one or more services\n"
	"\n"
	"Aliases:\n"
	"  rm, remove\n";

static const char logs_usage[] =
	"Usage:  orchctl service logs [OPTIONS] SERVICE|TASK\n"
	"\n"
	"Fetch the logs of a service or task\n"
	"\n"
	"Options:\n"
	"  -n, --tail string   Number of lines to show from the end of the logs (default \"all\")\n";

/* Long-only option codes of the flags that are not spec flags. */
enum {
	OPT_NAME = SVCSPEC_FLAG_END,
	OPT_MODE,
	OPT_REPLICAS,
	OPT_NO_TRUNC,
	OPT_PRETTY,
};

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

static bool service_is_global(json_t *service)
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
static int create_apply(struct cli *cli, int opt, const char *value,
			struct create_opts *o)
{
	char reason[PARSE_ERR_LEN];
	const char *cmd = "service create";
	switch (opt) {
	case 'd':
		o->detach = true;
		return 0;
	case OPT_NAME:
		if (parse_service_name(value, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, cmd, "--name", value, reason);
		json_object_set_new(o->spec, "Name", json_string(value));
		return 0;
	case OPT_MODE:
		if (parse_service_mode(value, &o->mode, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, cmd, "--mode", value, reason);
		return 0;
	case OPT_REPLICAS:
		if (parse_uint64(value, &o->replicas, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, cmd, "--replicas", value, reason);
		o->replicas_set = true;
		return 0;
	default:
		if (svcspec_apply(o->spec, opt == 'e' ? SVCSPEC_ENV : opt,
				  value, reason, sizeof(reason)) != 0)
			return cli_flag_error(
				cli, cmd,
				svcspec_flag_name(opt == 'e' ? SVCSPEC_ENV : opt),
				value ? value : "", reason);
		return 0;
	}
}

/* IMAGE [COMMAND] [ARG...] and the mode, once every flag is known. */
static int create_finish(struct cli *cli, int argc, char **argv,
			 struct create_opts *o)
{
	json_t *container = svcspec_child(svcspec_child(o->spec, "TaskTemplate"),
					  "ContainerSpec");
	json_t *mode = svcspec_child(o->spec, "Mode");
	if (optind >= argc)
		return cli_usage_error(
			cli, "service create",
			"\"orchctl service create\" requires at least 1 argument.");
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
	return 0;
}

/* Parses every flag and argument into o->spec; 0, -1 after --help, or
 * an exit code. */
static int create_parse(struct cli *cli, int argc, char **argv, struct create_opts *o)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "replicas", required_argument, NULL, OPT_REPLICAS },
		{ "env", required_argument, NULL, 'e' },
		{ "reserve-cpu", required_argument, NULL, SVCSPEC_RESERVE_CPU },
		{ "reserve-memory", required_argument, NULL, SVCSPEC_RESERVE_MEMORY },
		{ "limit-cpu", required_argument, NULL, SVCSPEC_LIMIT_CPU },
		{ "limit-memory", required_argument, NULL, SVCSPEC_LIMIT_MEMORY },
		{ "restart-condition", required_argument, NULL,
		  SVCSPEC_RESTART_CONDITION },
		{ "restart-delay", required_argument, NULL, SVCSPEC_RESTART_DELAY },
		{ "restart-max-attempts", required_argument, NULL,
		  SVCSPEC_RESTART_MAX_ATTEMPTS },
		{ "restart-window", required_argument, NULL, SVCSPEC_RESTART_WINDOW },
		{ "constraint", required_argument, NULL, SVCSPEC_CONSTRAINT },
		{ "mount", required_argument, NULL, SVCSPEC_MOUNT },
		{ "label", required_argument, NULL, SVCSPEC_LABEL },
		{ "container-label", required_argument, NULL, SVCSPEC_CONTAINER_LABEL },
		{ "runtime", required_argument, NULL, SVCSPEC_RUNTIME },
		{ "stop-grace-period", required_argument, NULL,
		  SVCSPEC_STOP_GRACE_PERIOD },
		{ "update-parallelism", required_argument, NULL,
		  SVCSPEC_UPDATE_PARALLELISM },
		{ "update-delay", required_argument, NULL, SVCSPEC_UPDATE_DELAY },
		{ "update-failure-action", required_argument, NULL,
		  SVCSPEC_UPDATE_FAILURE_ACTION },
		{ "update-monitor", required_argument, NULL, SVCSPEC_UPDATE_MONITOR },
		{ "update-max-failure-ratio", required_argument, NULL,
		  SVCSPEC_UPDATE_MAX_FAILURE_RATIO },
		{ "update-order", required_argument, NULL, SVCSPEC_UPDATE_ORDER },
		{ "rebalance", optional_argument, NULL, SVCSPEC_REBALANCE },
		{ "detach", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 0;
	opterr = 0;
	/* '+': flags end at IMAGE; what follows belongs to the command. */
	while ((c = getopt_long(argc, argv, "+:e:dh", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(create_usage, cli->out);
			return -1; /* exit 0 */
		}
		if (c == '?' || c == ':')
			return cli_getopt_error(cli, "service create", c, argv);
		int rc = create_apply(cli, c, optarg, o);
		if (rc != 0)
			return rc;
	}
	return create_finish(cli, argc, argv, o);
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

static int service_create(struct cli *cli, int argc, char **argv)
{
	struct create_opts o = { .mode = PARSE_MODE_REPLICATED,
				 .spec = json_object() };
	int rc = o.spec == NULL ? 1 : create_parse(cli, argc, argv, &o);
	if (rc != 0) {
		json_decref(o.spec);
		return rc < 0 ? 0 : rc;
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

static int service_ls_table(struct cli *cli, json_t *services)
{
	static const char *const titles[] = { "ID",       "NAME",  "MODE",
					      "REPLICAS", "IMAGE", "PORTS" };
	struct format_table table;
	size_t count = json_array_size(services);
	json_t **sorted = calloc(count ? count : 1, sizeof(*sorted));
	if (sorted == NULL || format_table_init(&table, 6, titles) != 0) {
		free(sorted);
		fprintf(cli->err, "Error: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < count; i++)
		sorted[i] = json_array_get(services, i);
	qsort(sorted, count, sizeof(*sorted), service_cmp_name);
	int rc = 0;
	for (size_t i = 0; i < count && rc == 0; i++) {
		json_t *s = sorted[i];
		char id[16], replicas[64], image[512], ports[256];
		format_id(json_path_str(s, "ID"), false, id, sizeof(id));
		json_t *status = json_object_get(s, "ServiceStatus");
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

/* Parses options that are only --help; returns -1 to go on. */
static int service_only_help(struct cli *cli, int argc, char **argv,
			     const char *name, const char *usage,
			     const char *shorts, const struct option *opts,
			     int (*apply)(int, void *), void *arg)
{
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, cli->out);
			return 0;
		}
		if (c == '?' || c == ':' || apply == NULL || apply(c, arg) != 0)
			return cli_getopt_error(cli, name, c == ':' ? ':' : '?', argv);
	}
	return -1;
}

static int service_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int rc = service_only_help(cli, argc, argv, "service ls", ls_usage,
				   ":h", opts, NULL, NULL);
	if (rc >= 0)
		return rc;
	if (optind < argc)
		return cli_usage_error(cli, "service ls",
				       "\"orchctl service ls\" accepts no arguments.");
	json_t *services = NULL;
	if (client_call_json(cli, "GET", "/services?status=true", NULL,
			     &services, NULL) != 0)
		return 1;
	rc = service_ls_table(cli, services);
	json_decref(services);
	return rc;
}

/* ================================================================== */
/* service ps                                                          */

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
static void ps_task_name(json_t *task, json_t *services, char *buf, size_t len)
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

/* node ID -> hostname, from GET /nodes (empty map if that fails). */
static json_t *ps_hostnames(struct cli *cli)
{
	json_t *nodes = NULL, *map = json_object();
	size_t i;
	json_t *n;
	if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
		return map;
	json_array_foreach(nodes, i, n)
		json_object_set_new(
			map, json_path_str(n, "ID"),
			json_string(json_path_str(n, "Description.Hostname")));
	json_decref(nodes);
	return map;
}

static int ps_fetch_and_print(struct cli *cli, json_t *filters,
			      json_t *services, bool no_trunc)
{
	char *text = json_dumps(filters, JSON_COMPACT);
	char *escaped = text ? client_escape(text) : NULL;
	char *path = NULL;
	json_t *tasks = NULL;
	int rc = 1;
	if (escaped == NULL || asprintf(&path, "/tasks?filters=%s", escaped) < 0) {
		fprintf(cli->err, "Error: out of memory\n");
		path = NULL;
	} else if (client_call_json(cli, "GET", path, NULL, &tasks, NULL) == 0) {
		json_t *hostnames = ps_hostnames(cli);
		rc = service_ps_print(cli, tasks, services, hostnames, no_trunc);
		json_decref(hostnames);
		json_decref(tasks);
	}
	free(path);
	free(escaped);
	free(text);
	return rc;
}

static int service_ps(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-trunc", no_argument, NULL, OPT_NO_TRUNC },
		{ "filter", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char reason[PARSE_ERR_LEN];
	bool no_trunc = false;
	json_t *filters = json_object();
	int c, rc = 0;
	optind = 0;
	opterr = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		char *key, *value;
		if (c == 'h') {
			fputs(ps_usage, cli->out);
			json_decref(filters);
			return 0;
		} else if (c == OPT_NO_TRUNC) {
			no_trunc = true;
		} else if (c == 'f') {
			if (parse_task_filter(optarg, &key, &value, reason,
					      sizeof(reason)) != 0) {
				rc = cli_flag_error(cli, "service ps",
						    "--filter", optarg, reason);
				break;
			}
			json_object_set_new(svcspec_child(filters, key), value,
					    json_true());
			free(key);
			free(value);
		} else {
			rc = cli_getopt_error(cli, "service ps", c, argv);
		}
	}
	if (rc == 0 && optind >= argc)
		rc = cli_usage_error(
			cli, "service ps",
			"\"orchctl service ps\" requires at least 1 argument.");
	json_t *services = json_object();
	for (int i = optind; rc == 0 && i < argc; i++) {
		json_t *s = service_get(cli, argv[i]);
		if (s == NULL) {
			rc = 1;
			break;
		}
		json_object_set_new(svcspec_child(filters, "service"),
				    json_path_str(s, "ID"), json_true());
		json_object_set_new(services, json_path_str(s, "ID"), s);
	}
	if (rc == 0)
		rc = ps_fetch_and_print(cli, filters, services, no_trunc);
	json_decref(services);
	json_decref(filters);
	return rc;
}

/* ================================================================== */
/* service inspect                                                     */

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

static int inspect_apply(int c, void *arg)
{
	if (c != OPT_PRETTY)
		return -1;
	*(bool *)arg = true;
	return 0;
}

static int service_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pretty", no_argument, NULL, OPT_PRETTY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool pretty = false;
	int rc = service_only_help(cli, argc, argv, "service inspect", inspect_usage,
				   ":h", opts, inspect_apply, &pretty);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage_error(
			cli, "service inspect",
			"\"orchctl service inspect\" requires at least 1 argument.");
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
	if (!pretty) {
		char *text = json_dumps(found, JSON_INDENT(4));
		if (text != NULL)
			fprintf(cli->out, "%s\n", text);
		free(text);
	}
	json_decref(found);
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

static int scale_apply(int c, void *arg)
{
	if (c != 'd')
		return -1;
	*(bool *)arg = true;
	return 0;
}

static int service_scale(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "detach", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char reason[PARSE_ERR_LEN];
	bool detach = false;
	int rc = service_only_help(cli, argc, argv, "service scale", scale_usage,
				   ":dh", opts, scale_apply, &detach);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage_error(
			cli, "service scale",
			"\"orchctl service scale\" requires at least 1 argument.");
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

static int service_rm(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int rc = service_only_help(cli, argc, argv, "service rm", rm_usage,
				   ":h", opts, NULL, NULL);
	if (rc >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage_error(
			cli, "service rm",
			"\"orchctl service rm\" requires at least 1 argument.");
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
/* service logs                                                        */

/* Writes a log body; lines get `prefix` unless the daemon already put one
 * ("name.slot.task@node    | ") in front of them. */
static void logs_write(struct cli *cli, const struct client_response *resp,
		       const char *prefix)
{
	bool prefixed = prefix == NULL || strstr(resp->body, "    | ") != NULL;
	if (prefixed) {
		fwrite(resp->body, 1, resp->len, cli->out);
		return;
	}
	const char *p = resp->body, *end = resp->body + resp->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		fprintf(cli->out, "%s    | %.*s%s", prefix, (int)n, p, nl ? "" : "\n");
		p += n;
	}
}

/* The prefix of a task's lines: "web.1.<task id>@<node>". */
static char *logs_task_prefix(struct cli *cli, json_t *task)
{
	json_t *hostnames = ps_hostnames(cli);
	const char *node = json_string_value(
		json_object_get(hostnames, json_path_str(task, "NodeID")));
	char *prefix = NULL;
	char *escaped = client_escape(json_path_str(task, "ServiceID"));
	char path[512];
	json_t *service = NULL;
	snprintf(path, sizeof(path), "/services/%s", escaped ? escaped : "");
	free(escaped);
	if (client_call_json(cli, "GET", path, NULL, &service, NULL) == 0) {
		char name[256];
		json_t *services = json_object();
		json_object_set(services, json_path_str(task, "ServiceID"), service);
		ps_task_name(task, services, name, sizeof(name));
		json_decref(services);
		if (asprintf(&prefix, "%s.%s@%s", name, json_path_str(task, "ID"),
			     node ? node : json_path_str(task, "NodeID")) < 0)
			prefix = NULL;
	}
	json_decref(service);
	json_decref(hostnames);
	return prefix;
}

static int logs_fetch(struct cli *cli, const char *kind, const char *ref,
		      const char *tail, struct client_response *resp)
{
	char *escaped = client_escape(ref);
	char *tail_escaped = client_escape(tail);
	char *path = NULL;
	int rc = -1;
	if (escaped && tail_escaped &&
	    asprintf(&path, "/%s/%s/logs?stdout=1&stderr=1&tail=%s", kind,
		     escaped, tail_escaped) >= 0)
		rc = client_request(cli, "GET", path, NULL, resp);
	else
		fprintf(cli->err, "Error: out of memory\n");
	free(path);
	free(escaped);
	free(tail_escaped);
	return rc;
}

static int logs_apply(int c, void *arg)
{
	if (c != 'n')
		return -1;
	*(const char **)arg = optarg;
	return 0;
}

/* GET /tasks/{ref} without printing errors: NULL when there is no such
 * task (or the daemon cannot tell). */
static json_t *logs_find_task(struct cli *cli, const char *ref)
{
	char *escaped = client_escape(ref);
	char *path = NULL;
	struct client_response resp;
	json_t *task = NULL;
	if (escaped != NULL && asprintf(&path, "/tasks/%s", escaped) >= 0 &&
	    client_request(cli, "GET", path, NULL, &resp) == 0) {
		if (resp.status == 200)
			task = json_loadb(resp.body, resp.len, 0, NULL);
		client_response_free(&resp);
	}
	free(path);
	free(escaped);
	if (!json_is_object(task)) {
		json_decref(task);
		return NULL;
	}
	return task;
}

static int logs_of_task(struct cli *cli, const char *ref, const char *tail,
			const struct client_response *service_resp)
{
	struct client_response resp;
	json_t *task = logs_find_task(cli, ref);
	if (task == NULL) {
		/* Neither a service nor a task: the service error says it best. */
		client_print_daemon_error(cli, service_resp);
		return 1;
	}
	char *prefix = logs_task_prefix(cli, task);
	int rc = 1;
	if (logs_fetch(cli, "tasks", json_path_str(task, "ID"), tail, &resp) == 0) {
		if (resp.status >= 200 && resp.status < 300) {
			logs_write(cli, &resp,
				   prefix ? prefix : json_path_str(task, "ID"));
			rc = 0;
		} else {
			client_print_daemon_error(cli, &resp);
		}
		client_response_free(&resp);
	}
	free(prefix);
	json_decref(task);
	return rc;
}

static int service_logs(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tail", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tail = "all";
	uint64_t lines;
	char reason[PARSE_ERR_LEN];
	int rc = service_only_help(cli, argc, argv, "service logs", logs_usage,
				   ":n:h", opts, logs_apply, &tail);
	if (rc >= 0)
		return rc;
	if (strcmp(tail, "all") != 0 &&
	    parse_uint64(tail, &lines, reason, sizeof(reason)) != 0)
		return cli_flag_error(cli, "service logs", "--tail", tail, reason);
	if (argc - optind != 1)
		return cli_usage_error(
			cli, "service logs",
			"\"orchctl service logs\" requires exactly 1 argument.");
	struct client_response resp;
	if (logs_fetch(cli, "services", argv[optind], tail, &resp) != 0)
		return 1;
	if (resp.status >= 200 && resp.status < 300) {
		logs_write(cli, &resp, NULL);
		rc = 0;
	} else if (resp.status == 404) {
		rc = logs_of_task(cli, argv[optind], tail, &resp);
	} else {
		client_print_daemon_error(cli, &resp);
		rc = 1;
	}
	client_response_free(&resp);
	return rc;
}

/* ================================================================== */

int cmd_service(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli *, int, char **);
	} verbs[] = {
		{ "create", service_create },   { "ls", service_ls },
		{ "list", service_ls },         { "ps", service_ps },
		{ "inspect", service_inspect }, { "scale", service_scale },
		{ "rm", service_rm },           { "remove", service_rm },
		{ "logs", service_logs },       { "update", service_update },
	};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(service_usage, argc < 2 ? cli->err : cli->out);
		return argc < 2 ? 1 : 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(cli, argc - 1, argv + 1);
	}
	return cli_usage_error(cli, "service",
			       "orchctl service: unknown command: %s", argv[1]);
}

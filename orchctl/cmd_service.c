/*
 * cmd_service.c: `orchctl service`: the dispatch to its verbs and the
 * verbs create, ls, scale and rm; ps, inspect, logs and update have files
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

/* Long-only option codes of the flags that are not spec flags. */
enum {
	OPT_NAME = SVCSPEC_FLAG_END,
	OPT_MODE,
	OPT_REPLICAS,
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

/* Parses every flag and argument into o->spec; CLI_GO_ON or the exit
 * code. */
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
	/* '+': flags end at IMAGE; what follows belongs to the command. */
	static const struct cli_command command = {
		.name = "service create",
		.usage = create_usage,
		.shorts = "+:e:dh",
		.options = opts,
		.min_args = 1,
		.max_args = -1,
		.apply = create_apply,
	};
	int rc = cli_parse(cli, &command, argc, argv, o);
	if (rc != CLI_GO_ON)
		return rc;
	rc = create_finish(cli, argc, argv, o);
	return rc == 0 ? CLI_GO_ON : rc;
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

static const struct cli_command ls_command = {
	.name = "service ls",
	.usage = ls_usage,
	.options = cli_help_options,
	.min_args = 0,
	.max_args = 0,
};

static int service_ls(struct cli *cli, int argc, char **argv)
{
	int rc = cli_parse(cli, &ls_command, argc, argv, NULL);
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

static const struct option scale_options[] = {
	{ "detach", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct cli_command scale_command = {
	.name = "service scale",
	.usage = scale_usage,
	.shorts = ":dh",
	.options = scale_options,
	.min_args = 1,
	.max_args = -1,
	.apply = cli_flag_true,
};

static int service_scale(struct cli *cli, int argc, char **argv)
{
	char reason[PARSE_ERR_LEN];
	bool detach = false;
	int rc = cli_parse(cli, &scale_command, argc, argv, &detach);
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

static const struct cli_command rm_command = {
	.name = "service rm",
	.usage = rm_usage,
	.options = cli_help_options,
	.min_args = 1,
	.max_args = -1,
};

static int service_rm(struct cli *cli, int argc, char **argv)
{
	int rc = cli_parse(cli, &rm_command, argc, argv, NULL);
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

int cmd_service(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "create", service_create },   { "ls", service_ls },
		{ "list", service_ls },         { "ps", service_ps },
		{ "inspect", service_inspect }, { "scale", service_scale },
		{ "rm", service_rm },           { "remove", service_rm },
		{ "logs", service_logs },       { "update", service_update },
	};
	return cli_run_verb(cli, "service", service_usage, verbs,
			    sizeof(verbs) / sizeof(verbs[0]), argc, argv);
}

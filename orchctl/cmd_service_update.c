/*
 * cmd_service_update.c: `orchctl service update [OPTIONS] SERVICE`, as
 * docker's.
 *
 *   GET /services/{ref}, change its Spec, POST /services/{id}/update?version=N
 *   with the Version.Index just read, print the reference, then (unless
 *   --detach) show the update's progress until it converges
 *   (progress_wait_updated; --quiet hides it).
 *
 * Every flag value is checked before any request; flags are applied with
 * service_spec.c, the removals (*-rm) first. An update with no change
 * still posts, as docker's does, and converges at once.
 * State: the list of flags of one invocation (struct update_opts), freed
 * before returning.
 */
#include "orchctl.h"
#include "parse.h"
#include "service_spec.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char update_usage[] =
	"Usage:  orchctl service update [OPTIONS] SERVICE\n"
	"\n"
	"Update a service\n"
	"\n"
	"Options:\n"
	"      --args command                   Service command args\n"
	"      --constraint-add list            Add or update a placement constraint\n"
	"      --constraint-rm list             Remove a constraint\n"
	"      --container-label-add list       Add or update a container label\n"
	"      --container-label-rm list        Remove a container label by its key\n"
	"  -d, --detach                         Exit immediately instead of waiting for the\n"
	"                                       service to converge\n"
	"      --env-add list                   Add or update an environment variable\n"
	"      --env-rm list                    Remove an environment variable\n"
	"      --force                          Force update even if no changes require it\n"
	"      --image string                   Service image tag\n"
	"      --label-add list                 Add or update a service label\n"
	"      --label-rm list                  Remove a label by its key\n"
	"      --limit-cpu decimal              Limit CPUs\n"
	"      --limit-memory bytes             Limit Memory\n"
	"  -q, --quiet                          Suppress progress output\n"
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
	"      --stop-grace-period duration     Time to wait before force killing a container\n"
	"      --update-delay duration          Delay between updates (ns|us|ms|s|m|h)\n"
	"      --update-failure-action string   Action on update failure (\"pause\", \"continue\",\n"
	"                                       \"rollback\": orchd pauses for now)\n"
	"      --update-max-failure-ratio float Failure rate to tolerate during an update\n"
	"      --update-monitor duration        Duration after each task update to monitor for\n"
	"                                       failure (ns|us|ms|s|m|h)\n"
	"      --update-order string            Update order (\"start-first\", \"stop-first\")\n"
	"      --update-parallelism uint        Maximum number of tasks updated simultaneously\n"
	"                                       (0 to update all at once)\n";

#define UPDATE_CMD "service update"

/* One spec flag as typed: its code and value (NULL for a bool flag given
 * without one). Values point into argv. */
struct update_flag {
	int code;
	const char *value;
};

struct update_opts {
	struct update_flag *flags;
	size_t count;
	bool detach;
	bool quiet;
};

static const struct option update_options[] = {
	{ "args", required_argument, NULL, SVCSPEC_ARGS },
	{ "constraint-add", required_argument, NULL, SVCSPEC_CONSTRAINT_ADD },
	{ "constraint-rm", required_argument, NULL, SVCSPEC_CONSTRAINT_RM },
	{ "container-label-add", required_argument, NULL, SVCSPEC_CONTAINER_LABEL_ADD },
	{ "container-label-rm", required_argument, NULL, SVCSPEC_CONTAINER_LABEL_RM },
	{ "env-add", required_argument, NULL, SVCSPEC_ENV_ADD },
	{ "env-rm", required_argument, NULL, SVCSPEC_ENV_RM },
	{ "force", optional_argument, NULL, SVCSPEC_FORCE },
	{ "image", required_argument, NULL, SVCSPEC_IMAGE },
	{ "label-add", required_argument, NULL, SVCSPEC_LABEL_ADD },
	{ "label-rm", required_argument, NULL, SVCSPEC_LABEL_RM },
	{ "limit-cpu", required_argument, NULL, SVCSPEC_LIMIT_CPU },
	{ "limit-memory", required_argument, NULL, SVCSPEC_LIMIT_MEMORY },
	{ "rebalance", optional_argument, NULL, SVCSPEC_REBALANCE },
	{ "replicas", required_argument, NULL, SVCSPEC_REPLICAS },
	{ "reserve-cpu", required_argument, NULL, SVCSPEC_RESERVE_CPU },
	{ "reserve-memory", required_argument, NULL, SVCSPEC_RESERVE_MEMORY },
	{ "restart-condition", required_argument, NULL, SVCSPEC_RESTART_CONDITION },
	{ "restart-delay", required_argument, NULL, SVCSPEC_RESTART_DELAY },
	{ "restart-max-attempts", required_argument, NULL,
	  SVCSPEC_RESTART_MAX_ATTEMPTS },
	{ "restart-window", required_argument, NULL, SVCSPEC_RESTART_WINDOW },
	{ "stop-grace-period", required_argument, NULL, SVCSPEC_STOP_GRACE_PERIOD },
	{ "update-delay", required_argument, NULL, SVCSPEC_UPDATE_DELAY },
	{ "update-failure-action", required_argument, NULL,
	  SVCSPEC_UPDATE_FAILURE_ACTION },
	{ "update-max-failure-ratio", required_argument, NULL,
	  SVCSPEC_UPDATE_MAX_FAILURE_RATIO },
	{ "update-monitor", required_argument, NULL, SVCSPEC_UPDATE_MONITOR },
	{ "update-order", required_argument, NULL, SVCSPEC_UPDATE_ORDER },
	{ "update-parallelism", required_argument, NULL, SVCSPEC_UPDATE_PARALLELISM },
	{ "detach", no_argument, NULL, 'd' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Checks a spec flag's value and records it; 0 or the exit code. */
static int update_record(struct cli *cli, struct update_opts *o, int code,
			 const char *value)
{
	char reason[PARSE_ERR_LEN];
	if (svcspec_check(code, value, reason, sizeof(reason)) != 0)
		return cli_flag_error(cli, UPDATE_CMD, svcspec_flag_name(code),
				      value ? value : "", reason);
	struct update_flag *grown = realloc(o->flags,
					    (o->count + 1) * sizeof(*grown));
	if (grown == NULL) {
		fprintf(cli->err, "Error: out of memory\n");
		return 1;
	}
	o->flags = grown;
	o->flags[o->count++] = (struct update_flag){ .code = code, .value = value };
	return 0;
}

/* -d, -q or a spec flag (checked and recorded); 0 or the exit code. */
static int update_flag(struct cli *cli, int opt, const char *value, void *arg)
{
	struct update_opts *o = arg;
	if (opt == 'd')
		o->detach = true;
	else if (opt == 'q')
		o->quiet = true;
	else
		return update_record(cli, o, opt, value);
	return 0;
}

static const struct cli_command update_command = {
	.name = UPDATE_CMD,
	.usage = update_usage,
	.shorts = ":dqh",
	.options = update_options,
	.min_args = 1,
	.max_args = 1,
	.apply = update_flag,
};

/* Applies the removals, then the other flags in the order given; 0 or
 * the exit code (a flag that does not fit this service: --replicas of a
 * global one). */
static int update_apply(struct cli *cli, const struct update_opts *o, json_t *spec)
{
	char reason[PARSE_ERR_LEN];
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < o->count; i++) {
			const struct update_flag *f = &o->flags[i];
			if (svcspec_is_removal(f->code) != (pass == 0))
				continue;
			if (svcspec_apply(spec, f->code, f->value, reason,
					  sizeof(reason)) != 0)
				return cli_flag_error(cli, UPDATE_CMD,
						      svcspec_flag_name(f->code),
						      f->value ? f->value : "",
						      reason);
		}
	}
	return 0;
}

/* POST /services/{id}/update?version=N with spec; 0 or -1 (printed). */
static int update_post(struct cli *cli, json_t *service, json_t *spec)
{
	char path[256];
	json_t *answer = NULL;
	snprintf(path, sizeof(path),
		 "/services/%s/update?version=%" JSON_INTEGER_FORMAT,
		 json_path_str(service, "ID"),
		 json_path_int(service, "Version.Index", 0));
	if (client_call_json(cli, "POST", path, spec, &answer, NULL) != 0)
		return -1;
	service_print_warnings(cli, answer);
	json_decref(answer);
	return 0;
}

/* Fetches, changes and posts the service; 0 or the exit code. */
static int update_run(struct cli *cli, const struct update_opts *o, const char *ref)
{
	json_t *service = service_get(cli, ref);
	if (service == NULL)
		return 1;
	json_t *spec = json_object_get(service, "Spec");
	int rc = 0;
	if (!json_is_object(spec)) {
		fprintf(cli->err, "Error: service %s has no Spec\n", ref);
		rc = 1;
	}
	if (rc == 0)
		rc = update_apply(cli, o, spec);
	if (rc == 0 && update_post(cli, service, spec) != 0)
		rc = 1;
	if (rc == 0) {
		fprintf(cli->out, "%s\n", ref);
		fflush(cli->out);
	}
	if (rc == 0 && !o->detach &&
	    progress_wait_updated(cli, json_path_str(service, "ID"),
				  json_path_str(service, "UpdateStatus.StartedAt"),
				  o->quiet) != 0)
		rc = 1;
	json_decref(service);
	return rc;
}

int service_update(struct cli *cli, int argc, char **argv)
{
	struct update_opts o = { 0 };
	int rc = cli_parse(cli, &update_command, argc, argv, &o);
	if (rc == CLI_GO_ON)
		rc = update_run(cli, &o, argv[optind]);
	free(o.flags);
	return rc;
}

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

#include <stdlib.h>
#include <string.h>

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
int service_update_flag(struct cli *cli, int opt, const char *value, void *arg)
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

int service_update(struct cli *cli, const struct cli_command *cmd, int argc,
		   char **argv)
{
	struct update_opts o = { 0 };
	int rc = cli_parse(cli, cmd, argc, argv, &o);
	if (rc == CLI_GO_ON)
		rc = update_run(cli, &o, argv[optind]);
	free(o.flags);
	return rc;
}

/*
 * main.c: orchctl's entry point: global flags (-H/--host, ORCH_HOST,
 * --help, --version), command dispatch, and the helpers every command
 * uses (usage errors the docker way, getopt error reporting, dotted JSON
 * lookups, the clock).
 *
 * State: the struct cli of this invocation (daemon address, output
 * streams, the lazily created HTTP client), freed before exit.
 */
#include "orchctl.h"
#include "parse.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char main_usage[] =
	"Usage:  orchctl [OPTIONS] COMMAND\n"
	"\n"
	"A client for orchd, a Swarm-class orchestrator\n"
	"\n"
	"Options:\n"
	"  -H, --host string   Daemon socket to connect to (default from ORCH_HOST, or\n"
	"                      " ORCHCTL_DEFAULT_HOST
	")\n"
	"  -h, --help          Print usage\n"
	"  -v, --version       Print version information and quit\n"
	"\n"
	"Commands:\n"
	"  info        Display system-wide information\n"
	"  node        Manage Swarm nodes\n"
	"  service     Manage Swarm services\n"
	"  swarm       Manage Swarm\n"
	"  version     Show the orchctl and orchd version information\n"
	"\n"
	"Run 'orchctl COMMAND --help' for more information on a command.\n";

int cli_usage_error(struct cli *cli, const char *command, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(cli->err, fmt, ap);
	va_end(ap);
	fprintf(cli->err, "\nSee 'orchctl%s%s --help'.\n",
		command[0] ? " " : "", command);
	return 1;
}

int cli_flag_error(struct cli *cli, const char *command, const char *flag,
		   const char *value, const char *reason)
{
	return cli_usage_error(cli, command,
			       "invalid argument \"%s\" for \"%s\" flag: %s",
			       value, flag, reason);
}

int cli_getopt_error(struct cli *cli, const char *command, int opt, char **argv)
{
	const char *arg = argv[optind - 1];
	if (opt == ':') {
		if (strncmp(arg, "--", 2) == 0)
			return cli_usage_error(cli, command,
					       "flag needs an argument: %s", arg);
		return cli_usage_error(cli, command,
				       "flag needs an argument: '%c' in -%c",
				       optopt, optopt);
	}
	if (optopt != 0)
		return cli_usage_error(cli, command,
				       "unknown shorthand flag: '%c' in %s",
				       optopt, arg);
	size_t name_len = strcspn(arg, "=");
	return cli_usage_error(cli, command, "unknown flag: %.*s",
			       (int)name_len, arg);
}

const struct option cli_help_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cli_flag_true(struct cli *cli, int opt, const char *value, void *arg)
{
	(void)cli;
	(void)opt;
	(void)value;
	*(bool *)arg = true;
	return 0;
}

/* CLI_GO_ON when count operands fit cmd, else the exit code after
 * "requires at least 1 argument." or its kin. */
static int cli_check_operands(struct cli *cli, const struct cli_command *cmd, int count)
{
	const char *bound;
	int n;
	if (count >= cmd->min_args && (cmd->max_args < 0 || count <= cmd->max_args))
		return CLI_GO_ON;
	if (cmd->max_args == 0)
		return cli_usage_error(cli, cmd->name,
				       "\"orchctl %s\" accepts no arguments.",
				       cmd->name);
	if (cmd->min_args == cmd->max_args) {
		bound = "exactly";
		n = cmd->min_args;
	} else if (count < cmd->min_args) {
		bound = "at least";
		n = cmd->min_args;
	} else {
		bound = "at most";
		n = cmd->max_args;
	}
	return cli_usage_error(cli, cmd->name,
			       "\"orchctl %s\" requires %s %d argument%s.",
			       cmd->name, bound, n, n == 1 ? "" : "s");
}

int cli_parse(struct cli *cli, const struct cli_command *cmd, int argc,
	      char **argv, void *arg)
{
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, cmd->shorts ? cmd->shorts : ":h",
				cmd->options, NULL)) != -1) {
		if (c == 'h') {
			fputs(cmd->usage, cli->out);
			return 0;
		}
		if (c == '?' || c == ':' || cmd->apply == NULL)
			return cli_getopt_error(cli, cmd->name,
						c == ':' ? ':' : '?', argv);
		int rc = cmd->apply(cli, c, optarg, arg);
		if (rc != 0)
			return rc;
	}
	return cli_check_operands(cli, cmd, argc - optind);
}

int cli_run_verb(struct cli *cli, const char *command, const char *usage,
		 const struct cli_verb *verbs, size_t count, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? cli->err : cli->out);
		return argc < 2 ? 1 : 0;
	}
	for (size_t i = 0; i < count; i++) {
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(cli, argc - 1, argv + 1);
	}
	return cli_usage_error(cli, command, "orchctl %s: unknown command: %s",
			       command, argv[1]);
}

int64_t cli_now(void)
{
	const char *fixed = getenv("ORCHCTL_TEST_NOW");
	uint64_t seconds;
	if (fixed != NULL && parse_uint64(fixed, &seconds, NULL, 0) == 0)
		return (int64_t)seconds;
	return (int64_t)time(NULL);
}

json_t *json_path(json_t *value, const char *dotted)
{
	char key[128];
	const char *p = dotted;
	while (value != NULL && *p != '\0') {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		value = json_object_get(value, key);
		p += n;
		if (*p == '.')
			p++;
	}
	return value;
}

const char *json_path_str(json_t *value, const char *dotted)
{
	const char *s = json_string_value(json_path(value, dotted));
	return s ? s : "";
}

json_int_t json_path_int(json_t *value, const char *dotted, json_int_t dflt)
{
	json_t *v = json_path(value, dotted);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static int main_print_version(struct cli *cli)
{
	fprintf(cli->out, "orchctl version %s, API %s\n", ORCHCTL_VERSION,
		ORCHCTL_API_VERSION);
	return 0;
}

/* Parses the global flags before the command; returns the index of the
 * command word, or -1 with *exit_code set. */
static int main_global_flags(struct cli *cli, int argc, char **argv,
			     const char **host, int *exit_code)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-H") == 0 || strcmp(a, "--host") == 0) {
			if (i + 1 >= argc) {
				*exit_code = cli_usage_error(
					cli, "", "flag needs an argument: %s", a);
				return -1;
			}
			*host = argv[++i];
		} else if (strncmp(a, "--host=", 7) == 0) {
			*host = a + 7;
		} else if (strncmp(a, "-H", 2) == 0) {
			*host = a + 2 + (a[2] == '=');
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(main_usage, cli->out);
			*exit_code = 0;
			return -1;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
			*exit_code = main_print_version(cli);
			return -1;
		} else {
			*exit_code = cli_usage_error(cli, "", "unknown flag: %s", a);
			return -1;
		}
	}
	if (i >= argc) {
		fputs(main_usage, cli->err);
		*exit_code = 1;
		return -1;
	}
	return i;
}

static int main_dispatch(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli *, int, char **);
	} commands[] = {
		{ "info", cmd_info },       { "node", cmd_node },
		{ "service", cmd_service }, { "swarm", cmd_swarm },
		{ "version", cmd_version },
	};
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(cli, argc, argv);
	}
	fprintf(cli->err,
		"orchctl: '%s' is not an orchctl command.\n"
		"See 'orchctl --help'\n",
		argv[0]);
	return 1;
}

int main(int argc, char **argv)
{
	struct cli cli = { .out = stdout, .err = stderr };
	const char *host = getenv("ORCH_HOST");
	int exit_code = 0;
	char reason[PARSE_ERR_LEN];
	int cmd = main_global_flags(&cli, argc, argv, &host, &exit_code);
	if (cmd < 0)
		return exit_code;
	if (host == NULL || host[0] == '\0')
		host = ORCHCTL_DEFAULT_HOST;
	if (parse_host(host, &cli.socket_path, reason, sizeof(reason)) != 0)
		return cli_flag_error(&cli, "", "--host", host, reason);
	cli.host = host;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(cli.err, "Error: cannot initialize libcurl\n");
		free(cli.socket_path);
		return 1;
	}
	exit_code = main_dispatch(&cli, argc - cmd, argv + cmd);
	client_close(&cli);
	curl_global_cleanup();
	free(cli.socket_path);
	if (fflush(stdout) != 0)
		return 1;
	return exit_code;
}

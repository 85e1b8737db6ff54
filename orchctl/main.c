/*
 * main.c: orchctl's entry point: global flags (-H/--host, ORCH_HOST,
 * --help, --version), the dispatch to the command families, and the
 * helpers every command uses (dotted JSON lookups, the clock).
 *
 * State: the struct cli of this invocation (daemon address, output
 * streams, the lazily created HTTP client), freed before exit.
 */
#include "orchctl.h"
#include "parse.h"

#include <curl/curl.h>
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

void json_print_indented(FILE *out, json_t *value)
{
	char *text = json_dumps(value, JSON_INDENT(4));
	if (text != NULL)
		fprintf(out, "%s\n", text);
	free(text);
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
		const struct cli_family *family;
		const struct cli_command *command;
	} commands[] = {
		{ NULL, &info_command },    { &node_family, NULL },
		{ &service_family, NULL },  { &swarm_family, NULL },
		{ NULL, &version_command },
	};
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct cli_family *family = commands[i].family;
		const struct cli_command *command = commands[i].command;
		if (family != NULL && strcmp(argv[0], family->name) == 0)
			return cli_run_verb(cli, family, argc, argv);
		if (command != NULL && strcmp(argv[0], command->name) == 0)
			return command->run(cli, command, argc, argv);
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

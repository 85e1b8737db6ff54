/*
 * command.c: orchctl's commands as rows of tables. A struct cli_command
 * (orchctl.h) says what a command is called, what its help says, which
 * flags (cli_flag.h) and operands it takes and what runs it; a struct
 * cli_family lists the commands of `orchctl node|service|swarm`. From
 * those rows come the getopt_long options, every -h/--help text, the
 * family's list of commands and the dispatch, so a command is written
 * down once. Also the usage errors, the docker way.
 * No state of its own.
 */
#include "orchctl.h"

#include "parse.h"

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

/* The most flags a command takes (service update: 31). */
#define CLI_MAX_FLAGS 48
/* The help's flag column: the longest flag + 3, at most this; a flag
 * longer than the column is followed by one space. */
#define CLI_HELP_PAD 3
#define CLI_HELP_MAX_COLUMN 40
/* The width of the command names in a family's help. */
#define CLI_HELP_COMMAND_WIDTH 12

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

int cli_take_checked(struct cli *cli, const char *command, const char *flag,
		     const char *value,
		     int (*check)(const char *text, char *err, size_t err_len),
		     const char **dest)
{
	char reason[PARSE_ERR_LEN];
	if (check(value, reason, sizeof(reason)) != 0)
		return cli_flag_error(cli, command, flag, value, reason);
	*dest = value;
	return 0;
}

/* Handles getopt_long's '?' and ':' results (unknown flag, missing value);
 * returns 1. */
static int cli_getopt_error(struct cli *cli, const char *command, int opt, char **argv)
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

int cli_flag_true(struct cli *cli, int code, const char *value, void *arg)
{
	(void)cli;
	(void)code;
	(void)value;
	*(bool *)arg = true;
	return 0;
}

/* The next flag row of cmd from *i on (skipping rows of other commands
 * of a shared table), NULL after the last. */
static const struct cli_flag *cli_next_flag(const struct cli_command *cmd, size_t *i)
{
	for (; cmd->flags != NULL && cmd->flags[*i].name != NULL; (*i)++) {
		const struct cli_flag *f = &cmd->flags[*i];
		if (f->in == 0 || (f->in & cmd->flag_set) != 0) {
			(*i)++;
			return f;
		}
	}
	return NULL;
}

#define cli_foreach_flag(cmd, i, f) \
	for (size_t i = 0; ((f) = cli_next_flag((cmd), &i)) != NULL;)

static int cli_flag_code(const struct cli_flag *f)
{
	return f->code != 0 ? f->code : f->shorthand;
}

/* "  -f, --filter filter" into buf; returns its length. */
static size_t cli_flag_label(const struct cli_flag *f, char *buf, size_t len)
{
	char shorthand[5] = "    ";
	if (f->shorthand)
		snprintf(shorthand, sizeof(shorthand), "-%c, ", f->shorthand);
	int n = snprintf(buf, len, "  %s%s%s%s", shorthand, f->name,
			 f->value_name && f->has_arg != optional_argument ? " " : "",
			 f->value_name ? f->value_name : "");
	return n < 0 ? 0 : (size_t)n;
}

/* text, its lines after the first indented to column; no last newline. */
static void cli_print_help_text(const char *text, size_t column, FILE *out)
{
	for (const char *line = text; *line != '\0';) {
		size_t n = strcspn(line, "\n");
		fprintf(out, "%.*s", (int)n, line);
		line += n;
		if (*line == '\n' && *++line != '\0')
			fprintf(out, "\n%*s", (int)column, "");
	}
}

/* The note cmd's help adds to f's help ("" if none). */
static const char *cli_default_of(const struct cli_command *cmd,
				  const struct cli_flag *f)
{
	for (const struct cli_flag_default *d = cmd->defaults;
	     d != NULL && d->note != NULL; d++) {
		if (d->code == cli_flag_code(f))
			return d->note;
	}
	return "";
}

static void cli_print_flags(const struct cli_command *cmd, FILE *out)
{
	const struct cli_flag *f;
	char label[128];
	size_t column = 0;
	cli_foreach_flag(cmd, i, f)
	{
		size_t width = cli_flag_label(f, label, sizeof(label)) + CLI_HELP_PAD;
		if (width > column)
			column = width < CLI_HELP_MAX_COLUMN ? width
							     : CLI_HELP_MAX_COLUMN;
	}
	if (column == 0)
		return;
	fprintf(out, "\nOptions:\n");
	cli_foreach_flag(cmd, i, f)
	{
		size_t width = cli_flag_label(f, label, sizeof(label));
		fprintf(out, "%s%*s", label,
			width < column ? (int)(column - width) : 1, "");
		cli_print_help_text(f->help, column, out);
		cli_print_help_text(cli_default_of(cmd, f), column, out);
		fputc('\n', out);
	}
}

/* The last word of a command's name: "rm" of "node rm". */
static const char *cli_verb_of(const struct cli_command *cmd)
{
	const char *space = strrchr(cmd->name, ' ');
	return space ? space + 1 : cmd->name;
}

void cli_print_usage(const struct cli_command *cmd, FILE *out)
{
	fprintf(out, "Usage:  orchctl %s%s%s\n\n%s\n", cmd->name,
		cmd->synopsis ? " " : "", cmd->synopsis ? cmd->synopsis : "",
		cmd->summary);
	if (cmd->alias != NULL)
		fprintf(out, "\nAliases:\n  %s, %s\n", cli_verb_of(cmd), cmd->alias);
	cli_print_flags(cmd, out);
}

/* getopt_long's options and short options of cmd, with -h/--help.
 * Returns 0, or -1 when cmd has more than CLI_MAX_FLAGS flags. */
static int cli_getopt_table(const struct cli_command *cmd,
			    struct option *options, char *shorts)
{
	const struct cli_flag *f;
	size_t count = 0;
	char *s = shorts;
	if (cmd->flags_end_at_operand)
		*s++ = '+';
	*s++ = ':';
	cli_foreach_flag(cmd, i, f)
	{
		if (count == CLI_MAX_FLAGS)
			return -1;
		options[count++] = (struct option){ f->name + 2, f->has_arg,
						    NULL, cli_flag_code(f) };
		if (f->shorthand) {
			*s++ = f->shorthand;
			if (f->has_arg == required_argument)
				*s++ = ':';
		}
	}
	options[count++] = (struct option){ "help", no_argument, NULL, 'h' };
	options[count] = (struct option){ NULL, 0, NULL, 0 };
	*s++ = 'h';
	*s = '\0';
	return 0;
}

/* Each kind of operands: the counts that fit it, and what orchctl says of
 * a count that does not ("\"orchctl node rm\" requires ..."). */
static const struct {
	int min, max;
	const char *requirement;
} cli_operand_rules[] = {
	[CLI_NO_OPERANDS] = { 0, 0, "accepts no arguments." },
	[CLI_ONE_OPERAND] = { 1, 1, "requires exactly 1 argument." },
	[CLI_ONE_OR_MORE] = { 1, INT_MAX, "requires at least 1 argument." },
	[CLI_ANY_OPERANDS] = { 0, INT_MAX, NULL },
};

/* CLI_GO_ON when count operands fit cmd, else the exit code after
 * "requires at least 1 argument." or its kin. */
static int cli_check_operands(struct cli *cli, const struct cli_command *cmd, int count)
{
	if (cmd->operands > CLI_ANY_OPERANDS)
		return cli_usage_error(cli, cmd->name,
				       "\"orchctl %s\": bad operand kind %d in its table",
				       cmd->name, (int)cmd->operands);
	int min = cli_operand_rules[cmd->operands].min;
	int max = cli_operand_rules[cmd->operands].max;
	if (count >= min && count <= max)
		return CLI_GO_ON;
	return cli_usage_error(cli, cmd->name, "\"orchctl %s\" %s", cmd->name,
			       cli_operand_rules[cmd->operands].requirement);
}

/* The code of the flag whose shorthand getopt returned (c otherwise). */
static int cli_code_of(const struct cli_command *cmd, int c)
{
	const struct cli_flag *f;
	cli_foreach_flag(cmd, i, f)
	{
		if (f->shorthand == c)
			return cli_flag_code(f);
	}
	return c;
}

int cli_parse(struct cli *cli, const struct cli_command *cmd, int argc,
	      char **argv, void *arg)
{
	struct option options[CLI_MAX_FLAGS + 2];
	char shorts[2 * CLI_MAX_FLAGS + 4];
	int c;
	if (cli_getopt_table(cmd, options, shorts) != 0) {
		fprintf(cli->err, "Error: orchctl %s has too many flags\n",
			cmd->name);
		return 1;
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, options, NULL)) != -1) {
		if (c == 'h') {
			cli_print_usage(cmd, cli->out);
			return 0;
		}
		if (c == '?' || c == ':' || cmd->apply == NULL)
			return cli_getopt_error(cli, cmd->name,
						c == ':' ? ':' : '?', argv);
		int rc = cmd->apply(cli, cli_code_of(cmd, c), optarg, arg);
		if (rc != 0)
			return rc;
	}
	return cli_check_operands(cli, cmd, argc - optind);
}

static void cli_print_family_usage(const struct cli_family *family, FILE *out)
{
	fprintf(out, "Usage:  orchctl %s COMMAND\n\n%s\n\nCommands:\n",
		family->name, family->summary);
	for (size_t i = 0; i < family->count; i++)
		fprintf(out, "  %-*s%s\n", CLI_HELP_COMMAND_WIDTH,
			cli_verb_of(&family->commands[i]),
			family->commands[i].summary);
}

int cli_run_verb(struct cli *cli, const struct cli_family *family, int argc,
		 char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_print_family_usage(family, argc < 2 ? cli->err : cli->out);
		return argc < 2 ? 1 : 0;
	}
	for (size_t i = 0; i < family->count; i++) {
		const struct cli_command *cmd = &family->commands[i];
		if (strcmp(argv[1], cli_verb_of(cmd)) == 0 ||
		    (cmd->alias != NULL && strcmp(argv[1], cmd->alias) == 0))
			return cmd->run(cli, cmd, argc - 1, argv + 1);
	}
	return cli_usage_error(cli, family->name, "orchctl %s: unknown command: %s",
			       family->name, argv[1]);
}

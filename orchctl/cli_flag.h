/*
 * cli_flag.h: one flag of an orchctl command as a row of a table: its
 * name as typed, shorthand, value, code and help line. A command's rows
 * give getopt_long its options and -h/--help its "Options:" section
 * (command.c), so a flag is written down once. Types only, no state.
 */
#ifndef ORCHCTL_CLI_FLAG_H
#define ORCHCTL_CLI_FLAG_H

struct cli_flag {
	const char *name; /* "--availability", as typed */
	char shorthand;   /* 'f' of "-f", or 0 */
	int has_arg;      /* getopt's no_, required_, optional_argument */
	int code;         /* what the command's apply gets; 0: shorthand */
	const char *value_name; /* "string" after the name in the help, or NULL */
	const char *help; /* lines after the first are indented below it */
	unsigned in;      /* the commands (cli_command.flag_set) that take
				 * it; 0: every command of the table */
};

/* A note a command's help adds after a flag's help line: " (default 1)".
 * A table of these ends with a row whose note is NULL. */
struct cli_flag_default {
	int code; /* the flag's code */
	const char *note;
};

#endif

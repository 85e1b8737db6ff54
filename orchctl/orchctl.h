/*
 * orchctl.h: what orchctl's command files share: the invocation context
 * (chosen daemon, output streams), the HTTP client to the daemon, usage
 * error reporting and the entry point of each command.
 *
 * Errors are printed where they are found (stderr) and the functions return
 * -1 (or exit code 1 for commands), so callers only propagate failure.
 */
#ifndef ORCHCTL_H
#define ORCHCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cli_flag.h"

#define ORCHCTL_API_VERSION "1.41"
#define ORCHCTL_DEFAULT_HOST "unix:///run/orchd/orchd.sock"

struct orch_client;

struct cli {
	const char *host;           /* "unix:///run/orchd/orchd.sock" */
	char *socket_path;          /* the path part of host */
	struct orch_client *client; /* connected on first use */
	FILE *out;
	FILE *err;
};

/* ---- client.c: HTTP over the unix socket ------------------------- */

struct client_response {
	long status;
	char *body; /* NUL-terminated, malloc'd */
	size_t len;
	char *content_type; /* malloc'd or NULL */
};

void client_response_free(struct client_response *resp);

/* Performs one request; path starts with "/" and may carry a query; the
 * "/v1.41" prefix is added here. body may be NULL. Returns 0 when the
 * daemon answered (any status), -1 after printing why it could not be
 * reached. */
int client_request(struct cli *cli, const char *method, const char *path,
		   const char *body, struct client_response *resp);

/* Like client_request with a JSON body (may be NULL) and a JSON answer:
 * a 2xx status parses the body into *out (when out is non-NULL); any other
 * status prints "Error response from daemon: <message>" and returns -1.
 * *http_status (may be NULL) gets the status in every answered case. */
int client_call_json(struct cli *cli, const char *method, const char *path,
		     json_t *body, json_t **out, long *http_status);

/* URL-encodes text (malloc'd; NULL on failure). */
char *client_escape(const char *text);

/* Prints the daemon's error message for a non-2xx answer. */
void client_print_daemon_error(struct cli *cli, const struct client_response *resp);

void client_close(struct cli *cli);

/* ---- command.c: commands as table rows, usage errors ------------- */

/* Prints "<message>\nSee 'orchctl <command> --help'." and returns 1. */
int cli_usage_error(struct cli *cli, const char *command, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reports a bad flag value the docker way and returns 1:
 * invalid argument "<value>" for "<flag>" flag: <reason> */
int cli_flag_error(struct cli *cli, const char *command, const char *flag,
		   const char *value, const char *reason);

/* *dest = value when check (a parse.c checker) accepts it: 0; else the
 * exit code after cli_flag_error with check's reason. */
int cli_take_checked(struct cli *cli, const char *command, const char *flag,
		     const char *value,
		     int (*check)(const char *text, char *err, size_t err_len),
		     const char **dest);

/* How many operands a command takes after its flags. */
enum cli_operands {
	CLI_NO_OPERANDS, /* the default */
	CLI_ONE_OPERAND,
	CLI_ONE_OR_MORE,
	CLI_ANY_OPERANDS,
};

/* One command: what -h/--help says of it, the flags and operands it takes
 * (cli_parse) and what runs it. A family (`orchctl node`) is a table of
 * these rows, which is also what cli_run_verb dispatches on. */
struct cli_command {
	const char *name;     /* "node rm": in the help and in errors */
	const char *alias;    /* another word for the last one ("remove") */
	const char *synopsis; /* "[OPTIONS] NODE [NODE...]", or NULL */
	const char *summary;  /* "Remove one or more nodes from the swarm" */
	/* The flags besides -h/--help, ended by a row without a name; NULL:
	 * none. Only rows whose `in` is 0 or shares a bit with flag_set. */
	const struct cli_flag *flags;
	unsigned flag_set;
	/* The notes its help adds to some flags' help, or NULL. */
	const struct cli_flag_default *defaults;
	bool flags_end_at_operand; /* what follows belongs to the operand */
	enum cli_operands operands;
	/* Takes one flag (its code, value: its optarg); returns 0, or the
	 * exit code after printing why. */
	int (*apply)(struct cli *cli, int code, const char *value, void *arg);
	/* Runs the command (argv[0] is its last word); returns the exit code. */
	int (*run)(struct cli *cli, const struct cli_command *cmd, int argc,
		   char **argv);
	const void *data; /* what run needs of its row, or NULL */
};

/* A command of commands: `orchctl node COMMAND`. */
struct cli_family {
	const char *name;                   /* "node" */
	const char *summary;                /* "Manage Swarm nodes" */
	const struct cli_command *commands; /* in the order the help lists */
	size_t count;
};

/* cli_parse's "go on": the flags are taken, optind is at the operands. */
#define CLI_GO_ON (-1)

/* Parses argv with getopt_long for cmd: -h/--help prints the usage, every
 * other flag goes to cmd->apply (with arg); an unknown flag, a missing
 * value or a wrong number of operands is reported the docker way. Returns
 * CLI_GO_ON, or the exit code (0 after --help). */
int cli_parse(struct cli *cli, const struct cli_command *cmd, int argc,
	      char **argv, void *arg);

/* Prints cmd's -h/--help text, made from its row and flag table. */
void cli_print_usage(const struct cli_command *cmd, FILE *out);

/* A cli_command apply for a command with one boolean flag: sets
 * *(bool *)arg. */
int cli_flag_true(struct cli *cli, int code, const char *value, void *arg);

/* Runs the command of family named by argv[1] with argv + 1; with no
 * command prints the family's usage to err (exit 1), with -h/--help to
 * out (exit 0). Returns the exit code. */
int cli_run_verb(struct cli *cli, const struct cli_family *family, int argc,
		 char **argv);

/* Current time in seconds (ORCHCTL_TEST_NOW overrides it for tests). */
int64_t cli_now(void);

/* ---- json helpers (main.c) ---------------------------------------- */

/* Follows a dotted path of object keys: json_path(v, "Spec.Name"). */
json_t *json_path(json_t *value, const char *dotted);
/* The string at a dotted path, or "" when absent or not a string. */
const char *json_path_str(json_t *value, const char *dotted);
/* Prints value as docker's inspect does: JSON indented by 4, a newline. */
void json_print_indented(FILE *out, json_t *value);
/* The integer at a dotted path, or dflt. */
json_int_t json_path_int(json_t *value, const char *dotted, json_int_t dflt);

/* ---- commands ------------------------------------------------------ */

extern const struct cli_family node_family;    /* cmd_node.c */
extern const struct cli_family service_family; /* cmd_service.c */
extern const struct cli_family swarm_family;   /* cmd_swarm.c */
extern const struct cli_command info_command;  /* cmd_swarm.c */
extern const struct cli_command version_command;

/* ---- cmd_node.c, cmd_node_change.c --------------------------------- */

/* The node of nodes (GET /nodes) that ref names: "self" (the node orchctl
 * talks to: GET /info, asked once, *self keeps its ID for the caller to
 * free), exact ID, hostname, then unique ID prefix. NULL after printing
 * "No such node" or that ref is ambiguous. */
json_t *node_find(struct cli *cli, json_t *nodes, const char *ref, char **self);
/* Calls visit for each NODE operand (argv[optind..argc)) with its node of
 * GET /nodes (node_find); every operand is tried, as docker does. Returns
 * 0, or 1 when /nodes failed, an operand names no node or a visit failed
 * (each printed why). */
typedef int (*node_visit_fn)(struct cli *cli, const char *ref, json_t *node,
			     void *ctx);
int node_for_each_operand(struct cli *cli, int argc, char **argv,
			  node_visit_fn visit, void *ctx);

/* The commands of cmd_node_change.c (rows of node_family); each returns
 * the exit code. node_set_role gives the role cmd->data names. */
extern const struct cli_flag node_update_flags[];
int node_update_flag(struct cli *cli, int opt, const char *value, void *arg);
int node_update(struct cli *cli, const struct cli_command *cmd, int argc,
		char **argv);
int node_set_role(struct cli *cli, const struct cli_command *cmd, int argc,
		  char **argv);
int node_rm(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);

/* ---- cmd_service*.c ------------------------------------------------ */

/* GET /services/{ref} (ID, ID prefix or name); NULL after printing the
 * daemon's error. */
json_t *service_get(struct cli *cli, const char *ref);

/* True for a service in global mode. */
bool service_is_global(json_t *service);

/* Prints the "Warning"/"Warnings" of a create or update answer to err. */
void service_print_warnings(struct cli *cli, json_t *answer);

/* The commands of `orchctl service` outside cmd_service.c (rows of
 * service_family); each returns the exit code. */
int service_ps(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);
int service_inspect(struct cli *cli, const struct cli_command *cmd, int argc,
		    char **argv);
int service_logs(struct cli *cli, const struct cli_command *cmd, int argc,
		 char **argv);
int service_logs_flag(struct cli *cli, int opt, const char *value, void *arg);
int service_update(struct cli *cli, const struct cli_command *cmd, int argc,
		   char **argv);
int service_update_flag(struct cli *cli, int opt, const char *value, void *arg);

/* ---- cmd_service_ps.c: the task tables of service ps and node ps ---- */

/* The flags of `service ps` and `node ps` (ps_flags, applied by
 * ps_flag): --filter KEY=VALUE, gathered into filters as
 * {"KEY": {"VALUE": true}}, and --no-trunc. */
enum { PS_OPT_NO_TRUNC = 256 };
struct ps_opts {
	const char *command;    /* "node ps" */
	const char *chosen_key; /* a filter key the operands choose, refused */
	const char *chosen_by;  /* what chooses it: "NODE" */
	json_t *filters;
	bool no_trunc;
};
extern const struct cli_flag ps_flags[];
int ps_flag(struct cli *cli, int opt, const char *value, void *arg);

/* GET /tasks?filters=<filters as JSON>; NULL after printing why. */
json_t *ps_fetch_tasks(struct cli *cli, json_t *filters);

/* node ID -> hostname: of nodes (a GET /nodes answer), or asked with
 * GET /nodes (an empty map when that fails). */
json_t *ps_hostnames_of(json_t *nodes);
json_t *ps_hostnames(struct cli *cli);

/* "web.1" for replicated tasks, "web.<node id>" for global ones, into
 * buf; services maps service IDs to services. */
void ps_task_name(json_t *task, json_t *services, char *buf, size_t len);

/* Prints docker's task table (ID, NAME, IMAGE, NODE, DESIRED STATE,
 * CURRENT STATE, ERROR, PORTS) of the array tasks; services maps service
 * IDs to services (for task names), hostnames maps node IDs to hostnames.
 * Returns the exit code. */
int service_ps_print(struct cli *cli, json_t *tasks, json_t *services,
		     json_t *hostnames, bool no_trunc);

/* ---- progress.c ---------------------------------------------------- */

/* Shows docker's convergence progress of a service until all its tasks run
 * (or a timeout); returns 0 when converged, -1 otherwise (reason printed). */
int progress_wait_converged(struct cli *cli, const char *service_id);

/* The same after `service update`: only tasks of the service's current
 * TaskTemplate count, the service's UpdateStatus is read (paused: its
 * message is printed and -1 returned) unless its StartedAt equals
 * prior_started (the one read before the update; "" or NULL for none).
 * quiet draws nothing but still waits. */
int progress_wait_updated(struct cli *cli, const char *service_id,
			  const char *prior_started, bool quiet);

#endif

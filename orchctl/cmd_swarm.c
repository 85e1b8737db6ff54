/*
 * cmd_swarm.c: `orchctl swarm init|join|join-token|update|leave`,
 * `orchctl info` and `orchctl version`: the cluster-level commands.
 *
 *   swarm init       -> POST /swarm/init {ListenAddr, AdvertiseAddr}; answer:
 *                       the node ID as a JSON string; then GET /swarm and
 *                       GET /info for the worker join command
 *   swarm join       -> POST /swarm/join {ListenAddr, AdvertiseAddr,
 *                       RemoteAddrs, JoinToken[, Availability]}, then GET /info
 *                       (Swarm.ControlAvailable: joined as a manager)
 *   swarm join-token -> GET /swarm (JoinTokens), GET /info (the address);
 *                       --rotate first POSTs /swarm/update?version=N&
 *                       rotateWorkerToken=...&rotateManagerToken=... (Spec)
 *   swarm update     -> GET /swarm, POST /swarm/update?version=N (Spec;
 *                       --rebalance sets Spec.Orchestration.OrchRebalance)
 *   swarm leave      -> POST /swarm/leave?force=true|false
 *   info             -> GET /info (the Swarm section of docker info)
 *   version          -> GET /version
 * Flag values are checked (parse.c) before anything is sent.
 * No state of its own.
 */
#include "orchctl.h"
#include "parse.h"

#include <stdlib.h>
#include <string.h>

/* Long-only option codes. */
enum {
	OPT_ADVERTISE_ADDR = 256,
	OPT_LISTEN_ADDR,
	OPT_TOKEN,
	OPT_AVAILABILITY,
	OPT_ROTATE,
	OPT_CERT_EXPIRY,
	OPT_DISPATCHER_HEARTBEAT,
	OPT_TASK_HISTORY_LIMIT,
	OPT_REBALANCE,
};

/* An address flag: non-empty, no whitespace. */
static int swarm_check_addr(struct cli *cli, const char *command,
			    const char *flag, const char *value)
{
	if (value[0] == '\0' || strpbrk(value, " \t\n") != NULL)
		return cli_flag_error(cli, command, flag, value,
				      "expected <ip|interface>[:port]");
	return 0;
}

/* The address other nodes join: this node's entry in
 * Swarm.RemoteManagers, else the first entry, else Swarm.NodeAddr:2377.
 * Returns -1 after printing why when there is none. */
static int swarm_manager_addr(struct cli *cli, json_t *info, char *buf, size_t len)
{
	json_t *swarm = json_object_get(info, "Swarm");
	json_t *managers = json_object_get(swarm, "RemoteManagers");
	const char *self = json_path_str(swarm, "NodeID");
	size_t i;
	json_t *m;
	json_array_foreach(managers, i, m) {
		if (self[0] && strcmp(json_path_str(m, "NodeID"), self) == 0 &&
		    json_path_str(m, "Addr")[0]) {
			snprintf(buf, len, "%s", json_path_str(m, "Addr"));
			return 0;
		}
	}
	if (json_path_str(json_array_get(managers, 0), "Addr")[0])
		snprintf(buf, len, "%s",
			 json_path_str(json_array_get(managers, 0), "Addr"));
	else if (json_path_str(swarm, "NodeAddr")[0])
		snprintf(buf, len, "%s:2377", json_path_str(swarm, "NodeAddr"));
	else {
		fprintf(cli->err,
			"Error: the daemon reports no manager address "
			"(Swarm.RemoteManagers and Swarm.NodeAddr are empty)\n");
		return -1;
	}
	return 0;
}

/* The join token of role ("worker"/"manager") in a GET /swarm answer;
 * NULL after printing why when it has none. */
static const char *swarm_token(struct cli *cli, json_t *swarm, const char *role)
{
	const char *token = json_path_str(swarm, strcmp(role, "manager") == 0
							 ? "JoinTokens.Manager"
							 : "JoinTokens.Worker");
	if (token[0] != '\0')
		return token;
	fprintf(cli->err, "Error: the swarm has no %s join token\n", role);
	return NULL;
}

/* Prints docker's "To add a worker to this swarm..." paragraph; GET /info
 * gives the address. Returns 0 or -1 (reason printed). */
static int swarm_print_join_command(struct cli *cli, json_t *swarm, const char *role)
{
	const char *token = swarm_token(cli, swarm, role);
	json_t *info = NULL;
	char addr[256];
	if (token == NULL ||
	    client_call_json(cli, "GET", "/info", NULL, &info, NULL) != 0)
		return -1;
	int rc = swarm_manager_addr(cli, info, addr, sizeof(addr));
	if (rc == 0)
		fprintf(cli->out,
			"To add a %s to this swarm, run the following command:\n\n"
			"    orchctl swarm join --token %s %s\n\n",
			role, token, addr);
	json_decref(info);
	return rc;
}

/* GET /swarm; NULL after printing the daemon's error. */
static json_t *swarm_inspect(struct cli *cli)
{
	json_t *swarm = NULL;
	if (client_call_json(cli, "GET", "/swarm", NULL, &swarm, NULL) != 0)
		return NULL;
	return swarm;
}

/* POST /swarm/update?version=N&rotate...=... with the swarm's Spec, with
 * the query parameters docker's client sends. */
static int swarm_post_update(struct cli *cli, json_t *swarm, bool rotate_worker,
			     bool rotate_manager)
{
	char path[256];
	json_t *spec = json_object_get(swarm, "Spec");
	if (!json_is_object(spec)) {
		fprintf(cli->err, "Error: the daemon's swarm has no Spec\n");
		return -1;
	}
	snprintf(path, sizeof(path),
		 "/swarm/update?version=%" JSON_INTEGER_FORMAT
		 "&rotateWorkerToken=%s&rotateManagerToken=%s&rotateManagerUnlockKey=false",
		 json_path_int(swarm, "Version.Index", 0),
		 rotate_worker ? "true" : "false",
		 rotate_manager ? "true" : "false");
	return client_call_json(cli, "POST", path, spec, NULL, NULL);
}

/* After "Swarm initialized": docker's worker join command and the hint for
 * managers, when the daemon's swarm has join tokens. */
static int swarm_init_next_steps(struct cli *cli)
{
	json_t *swarm = swarm_inspect(cli);
	if (swarm == NULL)
		return 1;
	int rc = 0;
	if (json_path_str(swarm, "JoinTokens.Worker")[0]) {
		fprintf(cli->out, "\n");
		rc = swarm_print_join_command(cli, swarm, "worker") == 0 ? 0 : 1;
		if (rc == 0)
			fprintf(cli->out,
				"To add a manager to this swarm, run 'orchctl swarm join-token "
				"manager' and follow the instructions.\n\n");
	}
	json_decref(swarm);
	return rc;
}

/* POSTs body (taken; NULL: it could not be encoded) of swarm init or
 * join to path; 0, or 1 after printing why. */
static int swarm_post_addrs(struct cli *cli, const char *path, json_t *body,
			    json_t **answer)
{
	if (body == NULL) {
		fprintf(cli->err,
			"Error: cannot encode the request: an address is not valid UTF-8\n");
		return 1;
	}
	int rc = client_call_json(cli, "POST", path, body, answer, NULL);
	json_decref(body);
	return rc != 0 ? 1 : 0;
}

struct swarm_init_opts {
	const char *advertise;
	const char *listen;
};

static int swarm_init_flag(struct cli *cli, int opt, const char *value, void *arg)
{
	struct swarm_init_opts *o = arg;
	(void)cli;
	if (opt == OPT_ADVERTISE_ADDR)
		o->advertise = value;
	else
		o->listen = value;
	return 0;
}

static int swarm_init(struct cli *cli, const struct cli_command *cmd, int argc,
		      char **argv)
{
	struct swarm_init_opts o = { .listen = "0.0.0.0:2377" };
	int rc = cli_parse(cli, cmd, argc, argv, &o);
	if (rc != CLI_GO_ON)
		return rc;
	const char *advertise = o.advertise, *listen = o.listen;
	if ((advertise &&
	     swarm_check_addr(cli, "swarm init", "--advertise-addr", advertise)) ||
	    swarm_check_addr(cli, "swarm init", "--listen-addr", listen))
		return 1;
	json_t *body = json_pack("{s:s, s:s, s:b}", "ListenAddr", listen,
				 "AdvertiseAddr", advertise ? advertise : "",
				 "ForceNewCluster", 0);
	json_t *answer = NULL;
	if (swarm_post_addrs(cli, "/swarm/init", body, &answer) != 0)
		return 1;
	const char *node_id = json_string_value(answer);
	fprintf(cli->out, "Swarm initialized: current node (%s) is now a manager.\n",
		node_id ? node_id : "?");
	json_decref(answer);
	return swarm_init_next_steps(cli);
}

static int swarm_leave(struct cli *cli, const struct cli_command *cmd, int argc,
		       char **argv)
{
	bool force = false;
	int rc = cli_parse(cli, cmd, argc, argv, &force);
	if (rc != CLI_GO_ON)
		return rc;
	if (client_call_json(cli, "POST",
			     force ? "/swarm/leave?force=true" : "/swarm/leave?force=false",
			     NULL, NULL, NULL) != 0)
		return 1;
	fprintf(cli->out, "Node left the swarm.\n");
	return 0;
}

/* ================================================================== */
/* swarm join                                                          */

struct swarm_join_opts {
	const char *token;
	const char *advertise;
	const char *listen;
	const char *availability;
};

/* Checks one flag value; 0 or the exit code. */
static int swarm_join_flag(struct cli *cli, int opt, const char *value, void *arg)
{
	struct swarm_join_opts *o = arg;
	char reason[PARSE_ERR_LEN];
	switch (opt) {
	case OPT_TOKEN:
		/* The token is a secret: the reason is shown, not the value. */
		if (parse_join_token(value, reason, sizeof(reason)) != 0)
			return cli_usage_error(cli, "swarm join",
					       "invalid argument for \"--token\" flag: %s",
					       reason);
		o->token = value;
		return 0;
	case OPT_ADVERTISE_ADDR:
		o->advertise = value;
		return swarm_check_addr(cli, "swarm join", "--advertise-addr", value);
	case OPT_LISTEN_ADDR:
		o->listen = value;
		return swarm_check_addr(cli, "swarm join", "--listen-addr", value);
	case OPT_AVAILABILITY:
		return cli_take_checked(cli, "swarm join", "--availability", value,
					parse_node_availability, &o->availability);
	default:
		return cli_usage_error(cli, "swarm join", "unknown flag");
	}
}

/* Parses flags and HOST:PORT; CLI_GO_ON or the exit code. */
static int swarm_join_parse(struct cli *cli, const struct cli_command *cmd,
			    int argc, char **argv, struct swarm_join_opts *o)
{
	char reason[PARSE_ERR_LEN];
	int rc = cli_parse(cli, cmd, argc, argv, o);
	if (rc != CLI_GO_ON)
		return rc;
	if (parse_host_port(argv[optind], reason, sizeof(reason)) != 0)
		return cli_usage_error(cli, "swarm join",
				       "invalid HOST:PORT argument: %s", reason);
	if (o->token == NULL)
		return cli_usage_error(cli, "swarm join",
				       "required flag(s) \"token\" not set");
	return CLI_GO_ON;
}

static int swarm_join(struct cli *cli, const struct cli_command *cmd, int argc,
		      char **argv)
{
	struct swarm_join_opts o = { .listen = "0.0.0.0:2377" };
	int rc = swarm_join_parse(cli, cmd, argc, argv, &o);
	if (rc != CLI_GO_ON)
		return rc;
	json_t *body = json_pack("{s:s, s:s, s:[s], s:s, s:s*}", "ListenAddr",
				 o.listen, "AdvertiseAddr",
				 o.advertise ? o.advertise : "", "RemoteAddrs",
				 argv[optind], "JoinToken", o.token,
				 "Availability", o.availability);
	json_t *info = NULL;
	if (swarm_post_addrs(cli, "/swarm/join", body, NULL) != 0 ||
	    client_call_json(cli, "GET", "/info", NULL, &info, NULL) != 0)
		return 1;
	fprintf(cli->out, "This node joined a swarm as a %s.\n",
		json_is_true(json_path(info, "Swarm.ControlAvailable")) ? "manager"
									: "worker");
	json_decref(info);
	return 0;
}

/* ================================================================== */
/* swarm join-token                                                    */

/* Rotates role's token (POST /swarm/update) and reads the swarm again;
 * returns the new swarm, NULL after printing why. */
static json_t *swarm_rotate_token(struct cli *cli, json_t *swarm,
				  const char *role, bool quiet)
{
	bool worker = strcmp(role, "worker") == 0;
	if (swarm_post_update(cli, swarm, worker, !worker) != 0)
		return NULL;
	if (!quiet)
		fprintf(cli->out, "Successfully rotated %s join token.\n\n", role);
	return swarm_inspect(cli);
}

struct swarm_join_token_opts {
	bool quiet;
	bool rotate;
};

static int swarm_join_token_flag(struct cli *cli, int opt, const char *value,
				 void *arg)
{
	struct swarm_join_token_opts *o = arg;
	(void)cli;
	(void)value;
	if (opt == 'q')
		o->quiet = true;
	else
		o->rotate = true;
	return 0;
}

static int swarm_join_token(struct cli *cli, const struct cli_command *cmd,
			    int argc, char **argv)
{
	struct swarm_join_token_opts o = { 0 };
	char reason[PARSE_ERR_LEN];
	int rc = cli_parse(cli, cmd, argc, argv, &o);
	if (rc != CLI_GO_ON)
		return rc;
	bool quiet = o.quiet, rotate = o.rotate;
	const char *role = argv[optind];
	if (parse_node_role(role, reason, sizeof(reason)) != 0)
		return cli_usage_error(cli, "swarm join-token",
				       "unknown role %s", role);
	json_t *swarm = swarm_inspect(cli);
	if (swarm != NULL && rotate) {
		json_t *rotated = swarm_rotate_token(cli, swarm, role, quiet);
		json_decref(swarm);
		swarm = rotated;
	}
	if (swarm == NULL)
		return 1;
	if (quiet) {
		const char *token = swarm_token(cli, swarm, role);
		if (token != NULL)
			fprintf(cli->out, "%s\n", token);
		rc = token != NULL ? 0 : 1;
	} else {
		rc = swarm_print_join_command(cli, swarm, role) == 0 ? 0 : 1;
	}
	json_decref(swarm);
	return rc;
}

/* ================================================================== */
/* swarm update                                                        */

/* Sets changes.<group>.<key> = value (stolen). */
static void swarm_update_set_json(json_t *changes, const char *group,
				  const char *key, json_t *value)
{
	json_t *g = json_object_get(changes, group);
	if (g == NULL)
		json_object_set_new(changes, group, g = json_object());
	json_object_set_new(g, key, value);
}

static void swarm_update_set(json_t *changes, const char *group,
			     const char *key, json_int_t value)
{
	swarm_update_set_json(changes, group, key, json_integer(value));
}

static int swarm_update_flag(struct cli *cli, int opt, const char *value, void *arg)
{
	json_t *changes = arg;
	char reason[PARSE_ERR_LEN];
	int64_t ns;
	uint64_t limit;
	switch (opt) {
	case OPT_CERT_EXPIRY:
	case OPT_DISPATCHER_HEARTBEAT: {
		const char *flag = opt == OPT_CERT_EXPIRY
					   ? "--cert-expiry"
					   : "--dispatcher-heartbeat";
		if (parse_duration_ns(value, &ns, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, "swarm update", flag, value,
					      reason);
		if (opt == OPT_CERT_EXPIRY)
			swarm_update_set(changes, "CAConfig", "NodeCertExpiry", ns);
		else
			swarm_update_set(changes, "Dispatcher",
					 "HeartbeatPeriod", ns);
		return 0;
	}
	case OPT_TASK_HISTORY_LIMIT:
		if (parse_uint64(value, &limit, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, "swarm update",
					      "--task-history-limit", value, reason);
		if (limit > INT64_MAX)
			return cli_flag_error(cli, "swarm update",
					      "--task-history-limit", value,
					      "value out of range");
		swarm_update_set(changes, "Orchestration",
				 "TaskHistoryRetentionLimit", (json_int_t)limit);
		return 0;
	case OPT_REBALANCE: {
		bool on = true;
		if (value != NULL &&
		    parse_bool(value, &on, reason, sizeof(reason)) != 0)
			return cli_flag_error(cli, "swarm update",
					      "--rebalance", value, reason);
		swarm_update_set_json(changes, "Orchestration", "OrchRebalance",
				      json_boolean(on));
		return 0;
	}
	default:
		return cli_usage_error(cli, "swarm update", "unknown flag");
	}
}

/* Merges changes (two levels deep) into spec. */
static void swarm_update_merge(json_t *spec, json_t *changes)
{
	const char *group;
	json_t *values;
	json_object_foreach(changes, group, values) {
		json_t *g = json_object_get(spec, group);
		if (!json_is_object(g))
			json_object_set_new(spec, group, g = json_object());
		json_object_update(g, values);
	}
}

static int swarm_update(struct cli *cli, const struct cli_command *cmd,
			int argc, char **argv)
{
	json_t *changes = json_object();
	int rc = cli_parse(cli, cmd, argc, argv, changes);
	if (rc != CLI_GO_ON) {
		json_decref(changes);
		return rc;
	}
	json_t *swarm = swarm_inspect(cli);
	rc = swarm == NULL ? 1 : 0;
	if (rc == 0) {
		json_t *spec = json_object_get(swarm, "Spec");
		if (json_is_object(spec))
			swarm_update_merge(spec, changes);
		rc = swarm_post_update(cli, swarm, false, false) == 0 ? 0 : 1;
	}
	if (rc == 0)
		fprintf(cli->out, "Swarm updated.\n");
	json_decref(swarm);
	json_decref(changes);
	return rc;
}

/* ================================================================== */

static void info_print_optional(struct cli *cli, json_t *info,
				const char *label, const char *key)
{
	json_t *v = json_object_get(info, key);
	if (json_is_string(v) && json_string_length(v) > 0)
		fprintf(cli->out, " %s: %s\n", label, json_string_value(v));
	else if (json_is_integer(v))
		fprintf(cli->out, " %s: %" JSON_INTEGER_FORMAT "\n", label,
			json_integer_value(v));
}

static void info_print_swarm(struct cli *cli, json_t *swarm)
{
	const char *state = json_path_str(swarm, "LocalNodeState");
	fprintf(cli->out, " Swarm: %s\n", state[0] ? state : "inactive");
	if (strcmp(state, "active") != 0) {
		const char *error = json_path_str(swarm, "Error");
		if (error[0])
			fprintf(cli->out, "  Error: %s\n", error);
		return;
	}
	fprintf(cli->out, "  NodeID: %s\n", json_path_str(swarm, "NodeID"));
	fprintf(cli->out, "  Is Manager: %s\n",
		json_is_true(json_object_get(swarm, "ControlAvailable")) ? "true"
									 : "false");
	fprintf(cli->out, "  ClusterID: %s\n", json_path_str(swarm, "Cluster.ID"));
	fprintf(cli->out, "  Managers: %" JSON_INTEGER_FORMAT "\n",
		json_path_int(swarm, "Managers", 0));
	fprintf(cli->out, "  Nodes: %" JSON_INTEGER_FORMAT "\n",
		json_path_int(swarm, "Nodes", 0));
	const char *error = json_path_str(swarm, "Error");
	if (error[0])
		fprintf(cli->out, "  Error: %s\n", error);
	fprintf(cli->out, "  Node Address: %s\n", json_path_str(swarm, "NodeAddr"));
	json_t *managers = json_object_get(swarm, "RemoteManagers");
	if (json_array_size(managers) > 0) {
		size_t i;
		json_t *m;
		fprintf(cli->out, "  Manager Addresses:\n");
		json_array_foreach(managers, i, m)
			fprintf(cli->out, "   %s\n", json_path_str(m, "Addr"));
	}
}

static int info_run(struct cli *cli, const struct cli_command *cmd, int argc,
		    char **argv)
{
	int rc = cli_parse(cli, cmd, argc, argv, NULL);
	if (rc != CLI_GO_ON)
		return rc;
	json_t *info = NULL;
	if (client_call_json(cli, "GET", "/info", NULL, &info, NULL) != 0)
		return 1;
	fprintf(cli->out, "Server:\n");
	info_print_optional(cli, info, "Server Version", "ServerVersion");
	info_print_swarm(cli, json_object_get(info, "Swarm"));
	info_print_optional(cli, info, "Kernel Version", "KernelVersion");
	info_print_optional(cli, info, "Operating System", "OperatingSystem");
	info_print_optional(cli, info, "OSType", "OSType");
	info_print_optional(cli, info, "Architecture", "Architecture");
	info_print_optional(cli, info, "CPUs", "NCPU");
	info_print_optional(cli, info, "Name", "Name");
	info_print_optional(cli, info, "ID", "ID");
	json_decref(info);
	return 0;
}

static int version_run(struct cli *cli, const struct cli_command *cmd, int argc,
		       char **argv)
{
	int rc = cli_parse(cli, cmd, argc, argv, NULL);
	if (rc != CLI_GO_ON)
		return rc;
	fprintf(cli->out, "Client:\n");
	fprintf(cli->out, " Version:           %s\n", ORCHCTL_VERSION);
	fprintf(cli->out, " API version:       %s\n", ORCHCTL_API_VERSION);
	fprintf(cli->out, "\n");
	json_t *v = NULL;
	fflush(cli->out);
	if (client_call_json(cli, "GET", "/version", NULL, &v, NULL) != 0)
		return 1;
	fprintf(cli->out, "Server:\n");
	fprintf(cli->out, " Engine:\n");
	fprintf(cli->out, "  Version:          %s\n", json_path_str(v, "Version"));
	fprintf(cli->out, "  API version:      %s (minimum version %s)\n",
		json_path_str(v, "ApiVersion"), json_path_str(v, "MinAPIVersion"));
	if (json_path_str(v, "Os")[0])
		fprintf(cli->out, "  OS/Arch:          %s/%s\n",
			json_path_str(v, "Os"), json_path_str(v, "Arch"));
	if (json_path_str(v, "GitCommit")[0])
		fprintf(cli->out, "  Git commit:       %s\n",
			json_path_str(v, "GitCommit"));
	json_decref(v);
	return 0;
}

/* ================================================================== */
/* The commands                                                        */

/* The flags of swarm init and join (flag_set: which of the two). */
enum { SWARM_IN_INIT = 1, SWARM_IN_JOIN = 2 };
static const struct cli_flag swarm_init_join_flags[] = {
	{ "--advertise-addr", 0, required_argument, OPT_ADVERTISE_ADDR,
	  "string", "Advertised address (format: <ip|interface>[:port])", 0 },
	{ "--availability", 0, required_argument, OPT_AVAILABILITY, "string",
	  "Availability of the node (\"active\", \"pause\", \"drain\")",
	  SWARM_IN_JOIN },
	{ "--listen-addr", 0, required_argument, OPT_LISTEN_ADDR, "string",
	  "Listen address (format: <ip|interface>[:port])\n"
	  "(default 0.0.0.0:2377)",
	  0 },
	{ "--token", 0, required_argument, OPT_TOKEN, "string",
	  "Token for entry into the swarm", SWARM_IN_JOIN },
	{ NULL },
};

static const struct cli_flag swarm_join_token_flags[] = {
	{ "--quiet", 'q', no_argument, 0, NULL, "Only display token", 0 },
	{ "--rotate", 0, no_argument, OPT_ROTATE, NULL, "Rotate join token", 0 },
	{ NULL },
};

static const struct cli_flag swarm_leave_flags[] = {
	{ "--force", 'f', no_argument, 0, NULL,
	  "Force this node to leave the swarm, ignoring warnings", 0 },
	{ NULL },
};

static const struct cli_flag swarm_update_flags[] = {
	{ "--cert-expiry", 0, required_argument, OPT_CERT_EXPIRY, "duration",
	  "Validity period for node certificates\n"
	  "(ns|us|ms|s|m|h) (default 2160h0m0s)",
	  0 },
	{ "--dispatcher-heartbeat", 0, required_argument,
	  OPT_DISPATCHER_HEARTBEAT, "duration",
	  "Dispatcher heartbeat period (ns|us|ms|s|m|h)\n(default 1s)", 0 },
	{ "--rebalance", 0, optional_argument, OPT_REBALANCE, "[=true|false]",
	  "Even out replicated services' tasks across\n"
	  "nodes when they are uneven by 2 or more\n(orchd; default false)",
	  0 },
	{ "--task-history-limit", 0, required_argument, OPT_TASK_HISTORY_LIMIT,
	  "int", "Task history retention limit (default 5)", 0 },
	{ NULL },
};

static const struct cli_command swarm_commands[] = {
	{ .name = "swarm init",
	  .synopsis = "[OPTIONS]",
	  .summary = "Initialize a swarm",
	  .flags = swarm_init_join_flags,
	  .flag_set = SWARM_IN_INIT,
	  .apply = swarm_init_flag,
	  .run = swarm_init },
	{ .name = "swarm join",
	  .synopsis = "[OPTIONS] HOST:PORT",
	  .summary = "Join a swarm as a node and/or manager",
	  .flags = swarm_init_join_flags,
	  .flag_set = SWARM_IN_JOIN,
	  .operands = CLI_ONE_OPERAND,
	  .apply = swarm_join_flag,
	  .run = swarm_join },
	{ .name = "swarm join-token",
	  .synopsis = "[OPTIONS] (worker|manager)",
	  .summary = "Manage join tokens",
	  .flags = swarm_join_token_flags,
	  .operands = CLI_ONE_OPERAND,
	  .apply = swarm_join_token_flag,
	  .run = swarm_join_token },
	{ .name = "swarm leave",
	  .synopsis = "[OPTIONS]",
	  .summary = "Leave the swarm",
	  .flags = swarm_leave_flags,
	  .apply = cli_flag_true,
	  .run = swarm_leave },
	{ .name = "swarm update",
	  .synopsis = "[OPTIONS]",
	  .summary = "Update the swarm",
	  .flags = swarm_update_flags,
	  .apply = swarm_update_flag,
	  .run = swarm_update },
};

const struct cli_family swarm_family = {
	.name = "swarm",
	.summary = "Manage Swarm",
	.commands = swarm_commands,
	.count = sizeof(swarm_commands) / sizeof(swarm_commands[0]),
};

const struct cli_command info_command = {
	.name = "info",
	.summary = "Display system-wide information",
	.run = info_run,
};

const struct cli_command version_command = {
	.name = "version",
	.summary = "Show the orchctl and orchd version information",
	.run = version_run,
};

/*
 * cmd_swarm.c: `orchctl swarm init|leave`, `orchctl info` and
 * `orchctl version`: the cluster-level commands.
 *
 *   swarm init  -> POST /swarm/init {ListenAddr, AdvertiseAddr}; answer: the
 *                  node ID as a JSON string
 *   swarm leave -> POST /swarm/leave?force=true|false
 *   info        -> GET /info (the Swarm section of docker info)
 *   version     -> GET /version
 * No state of its own.
 */
#include "orchctl.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char swarm_usage[] =
    "Usage:  orchctl swarm COMMAND\n"
    "\n"
    "Manage Swarm\n"
    "\n"
    "Commands:\n"
    "  init        Initialize a swarm\n"
    "  leave       Leave the swarm\n";

static const char swarm_init_usage[] =
    "Usage:  orchctl swarm init [OPTIONS]\n"
    "\n"
    "Initialize a swarm\n"
    "\n"
    "Options:\n"
    "      --advertise-addr string   Advertised address (format: <ip|interface>[:port])\n"
    "      --listen-addr string      Listen address (format: <ip|interface>[:port])\n"
    "                                (default 0.0.0.0:2377)\n";

static const char swarm_leave_usage[] =
    "Usage:  orchctl swarm leave [OPTIONS]\n"
    "\n"
    "Leave the swarm\n"
    "\n"
    "Options:\n"
    "  -f, --force   Force this node to leave the swarm, ignoring warnings\n";

static const char info_usage[] =
    "Usage:  orchctl info\n"
    "\n"
    "Display system-wide information\n";

static const char version_usage[] =
    "Usage:  orchctl version\n"
    "\n"
    "Show the orchctl and orchd version information\n";

/* An address flag: non-empty, no whitespace. */
static int swarm_check_addr(struct cli *cli, const char *flag, const char *value)
{
    if (value[0] == '\0' || strpbrk(value, " \t\n") != NULL)
        return cli_flag_error(cli, "swarm init", flag, value,
                              "expected <ip|interface>[:port]");
    return 0;
}

static int swarm_init(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"advertise-addr", required_argument, NULL, 'a'},
        {"listen-addr", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *advertise = NULL, *listen = "0.0.0.0:2377";
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': advertise = optarg; break;
        case 'l': listen = optarg; break;
        case 'h': fputs(swarm_init_usage, cli->out); return 0;
        default: return cli_getopt_error(cli, "swarm init", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cli, "swarm init", "\"orchctl swarm init\" accepts no arguments.");
    if ((advertise && swarm_check_addr(cli, "--advertise-addr", advertise)) ||
        swarm_check_addr(cli, "--listen-addr", listen))
        return 1;
    json_t *body = json_pack("{s:s, s:s, s:b}", "ListenAddr", listen, "AdvertiseAddr",
                             advertise ? advertise : "", "ForceNewCluster", 0);
    json_t *answer = NULL;
    int rc = client_call_json(cli, "POST", "/swarm/init", body, &answer, NULL);
    json_decref(body);
    if (rc != 0)
        return 1;
    const char *node_id = json_string_value(answer);
    fprintf(cli->out, "Swarm initialized: current node (%s) is now a manager.\n",
            node_id ? node_id : "?");
    json_decref(answer);
    return 0;
}

static int swarm_leave(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool force = false;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
        switch (c) {
        case 'f': force = true; break;
        case 'h': fputs(swarm_leave_usage, cli->out); return 0;
        default: return cli_getopt_error(cli, "swarm leave", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cli, "swarm leave", "\"orchctl swarm leave\" accepts no arguments.");
    if (client_call_json(cli, "POST", force ? "/swarm/leave?force=true" : "/swarm/leave?force=false",
                         NULL, NULL, NULL) != 0)
        return 1;
    fprintf(cli->out, "Node left the swarm.\n");
    return 0;
}

int cmd_swarm(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(swarm_usage, argc < 2 ? cli->err : cli->out);
        return argc < 2 ? 1 : 0;
    }
    if (strcmp(argv[1], "init") == 0)
        return swarm_init(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "leave") == 0)
        return swarm_leave(cli, argc - 1, argv + 1);
    return cli_usage_error(cli, "swarm", "orchctl swarm: unknown command: %s", argv[1]);
}

/* Accepts only --help/-h; returns -1 to go on, else the exit code. */
static int cmd_no_args(struct cli *cli, int argc, char **argv, const char *name,
                       const char *usage)
{
    if (argc == 1)
        return -1;
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, cli->out);
        return 0;
    }
    if (argv[1][0] == '-')
        return cli_usage_error(cli, name, "unknown flag: %s", argv[1]);
    return cli_usage_error(cli, name, "\"orchctl %s\" accepts no arguments.", name);
}

static void info_print_optional(struct cli *cli, json_t *info, const char *label,
                                const char *key)
{
    json_t *v = json_object_get(info, key);
    if (json_is_string(v) && json_string_length(v) > 0)
        fprintf(cli->out, " %s: %s\n", label, json_string_value(v));
    else if (json_is_integer(v))
        fprintf(cli->out, " %s: %" JSON_INTEGER_FORMAT "\n", label, json_integer_value(v));
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
            json_is_true(json_object_get(swarm, "ControlAvailable")) ? "true" : "false");
    fprintf(cli->out, "  ClusterID: %s\n", json_path_str(swarm, "Cluster.ID"));
    fprintf(cli->out, "  Managers: %" JSON_INTEGER_FORMAT "\n",
            json_path_int(swarm, "Managers", 0));
    fprintf(cli->out, "  Nodes: %" JSON_INTEGER_FORMAT "\n", json_path_int(swarm, "Nodes", 0));
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

int cmd_info(struct cli *cli, int argc, char **argv)
{
    int rc = cmd_no_args(cli, argc, argv, "info", info_usage);
    if (rc >= 0)
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

int cmd_version(struct cli *cli, int argc, char **argv)
{
    int rc = cmd_no_args(cli, argc, argv, "version", version_usage);
    if (rc >= 0)
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
        fprintf(cli->out, "  OS/Arch:          %s/%s\n", json_path_str(v, "Os"),
                json_path_str(v, "Arch"));
    if (json_path_str(v, "GitCommit")[0])
        fprintf(cli->out, "  Git commit:       %s\n", json_path_str(v, "GitCommit"));
    json_decref(v);
    return 0;
}

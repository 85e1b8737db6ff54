/*
 * cmd_node.c: `orchctl node ls` and `orchctl node inspect [--pretty]`.
 *
 *   node ls      -> GET /nodes and GET /info (Swarm.NodeID marks the
 *                   current node with "*")
 *   node inspect -> GET /nodes; each NODE argument is resolved here, by
 *                   exact ID, then hostname, then unique ID prefix
 * No state of its own.
 */
#include "format.h"
#include "orchctl.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char node_usage[] =
    "Usage:  orchctl node COMMAND\n"
    "\n"
    "Manage Swarm nodes\n"
    "\n"
    "Commands:\n"
    "  inspect     Display detailed information on one or more nodes\n"
    "  ls          List nodes in the swarm\n";

static const char node_ls_usage[] =
    "Usage:  orchctl node ls [OPTIONS]\n"
    "\n"
    "List nodes in the swarm\n"
    "\n"
    "Aliases:\n"
    "  ls, list\n";

static const char node_inspect_usage[] =
    "Usage:  orchctl node inspect [OPTIONS] NODE [NODE...]\n"
    "\n"
    "Display detailed information on one or more nodes\n"
    "\n"
    "Options:\n"
    "      --pretty   Print the information in a human friendly format\n";

static int node_cmp_hostname(const void *a, const void *b)
{
    json_t *na = *(json_t *const *)a, *nb = *(json_t *const *)b;
    return format_natural_cmp(json_path_str(na, "Description.Hostname"),
                              json_path_str(nb, "Description.Hostname"));
}

static void node_manager_status(json_t *node, char *buf, size_t len)
{
    json_t *ms = json_object_get(node, "ManagerStatus");
    buf[0] = '\0';
    if (!json_is_object(ms))
        return;
    if (json_is_true(json_object_get(ms, "Leader")))
        snprintf(buf, len, "Leader");
    else
        format_capitalize(json_path_str(ms, "Reachability"), buf, len);
}

static int node_print_table(struct cli *cli, json_t *nodes, const char *self_id)
{
    static const char *const titles[] = {"ID", "HOSTNAME", "STATUS", "AVAILABILITY",
                                         "MANAGER STATUS", "ENGINE VERSION"};
    struct format_table table;
    size_t count = json_array_size(nodes);
    json_t **sorted = calloc(count ? count : 1, sizeof(*sorted));
    if (sorted == NULL || format_table_init(&table, 6, titles) != 0) {
        free(sorted);
        fprintf(cli->err, "Error: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < count; i++)
        sorted[i] = json_array_get(nodes, i);
    qsort(sorted, count, sizeof(*sorted), node_cmp_hostname);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        json_t *n = sorted[i];
        char id[160], status[64], availability[64], manager[64];
        const char *node_id = json_path_str(n, "ID");
        snprintf(id, sizeof(id), "%s%s", node_id,
                 self_id[0] && strcmp(node_id, self_id) == 0 ? " *" : "");
        format_capitalize(json_path_str(n, "Status.State"), status, sizeof(status));
        format_capitalize(json_path_str(n, "Spec.Availability"), availability,
                          sizeof(availability));
        node_manager_status(n, manager, sizeof(manager));
        const char *row[] = {id, json_path_str(n, "Description.Hostname"), status,
                             availability, manager,
                             json_path_str(n, "Description.Engine.EngineVersion")};
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

static int node_ls(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(node_ls_usage, cli->out);
            return 0;
        }
        return cli_getopt_error(cli, "node ls", c, argv);
    }
    if (optind < argc)
        return cli_usage_error(cli, "node ls", "\"orchctl node ls\" accepts no arguments.");
    json_t *nodes = NULL, *info = NULL;
    if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
        return 1;
    if (client_call_json(cli, "GET", "/info", NULL, &info, NULL) != 0) {
        json_decref(nodes);
        return 1;
    }
    int rc = node_print_table(cli, nodes, json_path_str(info, "Swarm.NodeID"));
    json_decref(nodes);
    json_decref(info);
    return rc;
}

/* Finds the node `ref` names: exact ID, then hostname, then ID prefix. */
static json_t *node_resolve(struct cli *cli, json_t *nodes, const char *ref)
{
    size_t i, matches = 0;
    json_t *n, *found = NULL;
    json_array_foreach(nodes, i, n) {
        if (strcmp(json_path_str(n, "ID"), ref) == 0)
            return n;
    }
    json_array_foreach(nodes, i, n) {
        if (strcmp(json_path_str(n, "Description.Hostname"), ref) == 0) {
            found = n;
            matches++;
        }
    }
    if (matches == 0) {
        json_array_foreach(nodes, i, n) {
            if (ref[0] && strncmp(json_path_str(n, "ID"), ref, strlen(ref)) == 0) {
                found = n;
                matches++;
            }
        }
    }
    if (matches == 1)
        return found;
    if (matches == 0)
        fprintf(cli->err, "Error: No such node: %s\n", ref);
    else
        fprintf(cli->err, "Error: node %s is ambiguous (%zu matches)\n", ref, matches);
    return NULL;
}

static void node_print_pretty(struct cli *cli, json_t *n)
{
    char buf[128];
    FILE *o = cli->out;
    fprintf(o, "ID:\t\t\t%s\n", json_path_str(n, "ID"));
    json_t *labels = json_path(n, "Spec.Labels");
    if (json_object_size(labels) > 0) {
        const char *key;
        json_t *value;
        fprintf(o, "Labels:\n");
        json_object_foreach(labels, key, value)
            fprintf(o, " - %s=%s\n", key, json_string_value(value) ? json_string_value(value) : "");
    }
    fprintf(o, "Hostname:\t\t%s\n", json_path_str(n, "Description.Hostname"));
    fprintf(o, "Joined at:\t\t%s\n", json_path_str(n, "CreatedAt"));
    fprintf(o, "Status:\n");
    format_capitalize(json_path_str(n, "Status.State"), buf, sizeof(buf));
    fprintf(o, " State:\t\t\t%s\n", buf);
    if (json_path_str(n, "Status.Message")[0])
        fprintf(o, " Message:\t\t%s\n", json_path_str(n, "Status.Message"));
    format_capitalize(json_path_str(n, "Spec.Availability"), buf, sizeof(buf));
    fprintf(o, " Availability:\t\t%s\n", buf);
    fprintf(o, " Address:\t\t%s\n", json_path_str(n, "Status.Addr"));
    json_t *ms = json_object_get(n, "ManagerStatus");
    if (json_is_object(ms)) {
        fprintf(o, "Manager Status:\n");
        fprintf(o, " Address:\t\t%s\n", json_path_str(ms, "Addr"));
        format_capitalize(json_path_str(ms, "Reachability"), buf, sizeof(buf));
        fprintf(o, " Raft Status:\t\t%s\n", buf);
        fprintf(o, " Leader:\t\t%s\n", json_is_true(json_object_get(ms, "Leader")) ? "Yes" : "No");
    }
    fprintf(o, "Platform:\n");
    fprintf(o, " Operating System:\t%s\n", json_path_str(n, "Description.Platform.OS"));
    fprintf(o, " Architecture:\t\t%s\n", json_path_str(n, "Description.Platform.Architecture"));
    fprintf(o, "Resources:\n");
    format_nano_cpus(json_path_int(n, "Description.Resources.NanoCPUs", 0), buf, sizeof(buf));
    fprintf(o, " CPUs:\t\t\t%s\n", buf);
    format_bytes_size((double)json_path_int(n, "Description.Resources.MemoryBytes", 0), buf,
                      sizeof(buf));
    fprintf(o, " Memory:\t\t%s\n", buf);
    fprintf(o, "Engine Version:\t\t%s\n", json_path_str(n, "Description.Engine.EngineVersion"));
}

static int node_inspect(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"pretty", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool pretty = false;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': pretty = true; break;
        case 'h': fputs(node_inspect_usage, cli->out); return 0;
        default: return cli_getopt_error(cli, "node inspect", c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error(cli, "node inspect",
                               "\"orchctl node inspect\" requires at least 1 argument.");
    json_t *nodes = NULL;
    if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
        return 1;
    json_t *found = json_array();
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        json_t *n = node_resolve(cli, nodes, argv[i]);
        if (n == NULL) {
            rc = 1;
            continue;
        }
        if (pretty) {
            if (json_array_size(found) > 0)
                fprintf(cli->out, "\n\n");
            node_print_pretty(cli, n);
        }
        json_array_append(found, n);
    }
    if (!pretty) {
        char *text = json_dumps(found, JSON_INDENT(4));
        if (text != NULL)
            fprintf(cli->out, "%s\n", text);
        free(text);
    }
    json_decref(found);
    json_decref(nodes);
    return rc;
}

int cmd_node(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(node_usage, argc < 2 ? cli->err : cli->out);
        return argc < 2 ? 1 : 0;
    }
    if (strcmp(argv[1], "ls") == 0 || strcmp(argv[1], "list") == 0)
        return node_ls(cli, argc - 1, argv + 1);
    if (strcmp(argv[1], "inspect") == 0)
        return node_inspect(cli, argc - 1, argv + 1);
    return cli_usage_error(cli, "node", "orchctl node: unknown command: %s", argv[1]);
}

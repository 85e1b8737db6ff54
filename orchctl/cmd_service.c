/*
 * cmd_service.c: `orchctl service create|ls|ps|inspect|scale|rm|logs`.
 *
 *   create  -> POST /services/create (ServiceSpec), then progress
 *   ls      -> GET /services?status=true
 *   ps      -> GET /services/{ref}, GET /tasks?filters=..., GET /nodes
 *   inspect -> GET /services/{ref}
 *   scale   -> GET /services/{ref}, POST /services/{id}/update?version=N
 *   rm      -> DELETE /services/{ref}
 *   logs    -> GET /services/{ref}/logs (or /tasks/{ref}/logs)
 * Every flag value is checked (parse.c) before anything is sent. A service
 * reference is an ID, ID prefix or name; the daemon resolves it.
 * The task table of `service ps` (service_ps_print) is shared with
 * `node ps`.
 * No state of its own.
 */
#include "format.h"
#include "orchctl.h"
#include "parse.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char service_usage[] =
    "Usage:  orchctl service COMMAND\n"
    "\n"
    "Manage Swarm services\n"
    "\n"
    "Commands:\n"
    "  create      Create a new service\n"
    "  inspect     Display detailed information on one or more services\n"
    "  logs        Fetch the logs of a service or task\n"
    "  ls          List services\n"
    "  ps          List the tasks of one or more services\n"
    "  rm          Remove one or more services\n"
    "  scale       Scale one or multiple replicated services\n";

static const char create_usage[] =
    "Usage:  orchctl service create [OPTIONS] IMAGE [COMMAND] [ARG...]\n"
    "\n"
    "Create a new service\n"
    "\n"
    "Options:\n"
    "      --constraint list                Placement constraints (KEY==VALUE, KEY!=VALUE)\n"
    "  -d, --detach                         Exit immediately instead of waiting for the\n"
    "                                       service to converge\n"
    "  -e, --env list                       Set environment variables\n"
    "      --label list                     Service labels\n"
    "      --limit-cpu decimal              Limit CPUs\n"
    "      --limit-memory bytes             Limit Memory\n"
    "      --mode string                    Service mode (\"replicated\" or \"global\")\n"
    "                                       (default \"replicated\")\n"
    "      --mount mount                    Attach a filesystem mount to the service\n"
    "      --name string                    Service name\n"
    "      --replicas uint                  Number of tasks\n"
    "      --reserve-cpu decimal            Reserve CPUs\n"
    "      --reserve-memory bytes           Reserve Memory\n"
    "      --restart-condition string       Restart when condition is met\n"
    "                                       (\"none\", \"on-failure\", \"any\")\n"
    "      --restart-delay duration         Delay between restart attempts (ns|us|ms|s|m|h)\n"
    "      --restart-max-attempts uint      Maximum number of restarts before giving up\n"
    "      --restart-window duration        Window used to evaluate the restart policy\n"
    "      --runtime string                 Task runtime (\"docker\", \"process\"...;\n"
    "                                       default: the node's)\n"
    "      --stop-grace-period duration     Time to wait before force killing a container\n";

static const char ls_usage[] =
    "Usage:  orchctl service ls\n"
    "\n"
    "List services\n"
    "\n"
    "Aliases:\n"
    "  ls, list\n";

static const char ps_usage[] =
    "Usage:  orchctl service ps [OPTIONS] SERVICE [SERVICE...]\n"
    "\n"
    "List the tasks of one or more services\n"
    "\n"
    "Options:\n"
    "  -f, --filter filter   Filter output based on conditions provided\n"
    "      --no-trunc        Do not truncate output\n";

static const char inspect_usage[] =
    "Usage:  orchctl service inspect [OPTIONS] SERVICE [SERVICE...]\n"
    "\n"
    "Display detailed information on one or more services\n"
    "\n"
    "Options:\n"
    "      --pretty   Print the information in a human friendly format\n";

static const char scale_usage[] =
    "Usage:  orchctl service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n"
    "\n"
    "Scale one or multiple replicated services\n"
    "\n"
    "Options:\n"
    "  -d, --detach   Exit immediately instead of waiting for the service to converge\n";

static const char rm_usage[] =
    "Usage:  orchctl service rm SERVICE [SERVICE...]\n"
    "\n"
    "Remove one or more services\n"
    "\n"
    "Aliases:\n"
    "  rm, remove\n";

static const char logs_usage[] =
    "Usage:  orchctl service logs [OPTIONS] SERVICE|TASK\n"
    "\n"
    "Fetch the logs of a service or task\n"
    "\n"
    "Options:\n"
    "  -n, --tail string   Number of lines to show from the end of the logs (default \"all\")\n";

/* Long-only option codes. */
enum {
    OPT_NAME = 256,
    OPT_MODE,
    OPT_REPLICAS,
    OPT_RESERVE_CPU,
    OPT_RESERVE_MEMORY,
    OPT_LIMIT_CPU,
    OPT_LIMIT_MEMORY,
    OPT_RESTART_CONDITION,
    OPT_RESTART_DELAY,
    OPT_RESTART_MAX_ATTEMPTS,
    OPT_RESTART_WINDOW,
    OPT_CONSTRAINT,
    OPT_MOUNT,
    OPT_LABEL,
    OPT_RUNTIME,
    OPT_STOP_GRACE_PERIOD,
    OPT_NO_TRUNC,
    OPT_PRETTY,
};

/* Fetches GET /services/{ref}; NULL after printing the daemon's error. */
static json_t *service_get(struct cli *cli, const char *ref)
{
    char *escaped = client_escape(ref);
    char path[1024];
    json_t *service = NULL;
    if (escaped == NULL) {
        fprintf(cli->err, "Error: out of memory\n");
        return NULL;
    }
    snprintf(path, sizeof(path), "/services/%s", escaped);
    free(escaped);
    if (client_call_json(cli, "GET", path, NULL, &service, NULL) != 0)
        return NULL;
    return service;
}

static bool service_is_global(json_t *service)
{
    return json_path(service, "Spec.Mode.Global") != NULL;
}

/* ================================================================== */
/* service create                                                      */

struct create_opts {
    json_t *spec;           /* the ServiceSpec being built */
    json_t *container;      /* spec.TaskTemplate.ContainerSpec */
    json_t *task;           /* spec.TaskTemplate */
    enum parse_service_mode mode;
    uint64_t replicas;
    bool replicas_set;
    bool detach;
};

/* The object at key in parent, created empty when missing. */
static json_t *create_child(json_t *parent, const char *key)
{
    json_t *child = json_object_get(parent, key);
    if (child == NULL) {
        child = json_object();
        json_object_set_new(parent, key, child);
    }
    return child;
}

static json_t *create_array(json_t *parent, const char *key)
{
    json_t *array = json_object_get(parent, key);
    if (array == NULL) {
        array = json_array();
        json_object_set_new(parent, key, array);
    }
    return array;
}

static int create_duration(struct cli *cli, const char *flag, const char *value,
                           json_t *parent, const char *key)
{
    char reason[PARSE_ERR_LEN];
    int64_t ns;
    if (parse_duration_ns(value, &ns, reason, sizeof(reason)) != 0)
        return cli_flag_error(cli, "service create", flag, value, reason);
    json_object_set_new(parent, key, json_integer(ns));
    return 0;
}

static int create_resource(struct cli *cli, int opt, const char *value, struct create_opts *o)
{
    char reason[PARSE_ERR_LEN];
    int64_t amount;
    bool cpu = opt == OPT_RESERVE_CPU || opt == OPT_LIMIT_CPU;
    bool limit = opt == OPT_LIMIT_CPU || opt == OPT_LIMIT_MEMORY;
    const char *flag = opt == OPT_RESERVE_CPU ? "--reserve-cpu"
                       : opt == OPT_LIMIT_CPU ? "--limit-cpu"
                       : opt == OPT_RESERVE_MEMORY ? "--reserve-memory"
                                                   : "--limit-memory";
    int rc = cpu ? parse_nano_cpus(value, &amount, reason, sizeof(reason))
                 : parse_memory_bytes(value, &amount, reason, sizeof(reason));
    if (rc != 0)
        return cli_flag_error(cli, "service create", flag, value, reason);
    json_t *group = create_child(create_child(o->task, "Resources"),
                                 limit ? "Limits" : "Reservations");
    json_object_set_new(group, cpu ? "NanoCPUs" : "MemoryBytes", json_integer(amount));
    return 0;
}

static int create_key_value(struct cli *cli, const char *flag, const char *value,
                            json_t *object)
{
    char reason[PARSE_ERR_LEN];
    char *key, *val;
    if (parse_key_value(value, &key, &val, reason, sizeof(reason)) != 0)
        return cli_flag_error(cli, "service create", flag, value, reason);
    json_object_set_new(object, key, json_string(val ? val : ""));
    free(key);
    free(val);
    return 0;
}

static int create_mount(struct cli *cli, const char *value, struct create_opts *o)
{
    char reason[PARSE_ERR_LEN];
    struct parse_mount m;
    if (parse_mount(value, &m, reason, sizeof(reason)) != 0)
        return cli_flag_error(cli, "service create", "--mount", value, reason);
    json_t *mount = json_pack("{s:s, s:s, s:b}", "Type", m.type, "Target", m.target,
                              "ReadOnly", m.readonly);
    if (m.source != NULL)
        json_object_set_new(mount, "Source", json_string(m.source));
    json_array_append_new(create_array(o->container, "Mounts"), mount);
    parse_mount_free(&m);
    return 0;
}

static int create_simple_flag(struct cli *cli, int opt, const char *value,
                              struct create_opts *o)
{
    char reason[PARSE_ERR_LEN];
    const char *cmd = "service create";
    char *env;
    switch (opt) {
    case OPT_NAME:
        if (parse_service_name(value, reason, sizeof(reason)) != 0)
            return cli_flag_error(cli, cmd, "--name", value, reason);
        json_object_set_new(o->spec, "Name", json_string(value));
        return 0;
    case OPT_MODE:
        if (parse_service_mode(value, &o->mode, reason, sizeof(reason)) != 0)
            return cli_flag_error(cli, cmd, "--mode", value, reason);
        return 0;
    case OPT_REPLICAS:
        if (parse_uint64(value, &o->replicas, reason, sizeof(reason)) != 0)
            return cli_flag_error(cli, cmd, "--replicas", value, reason);
        o->replicas_set = true;
        return 0;
    case 'e':
        if (parse_env(value, &env, reason, sizeof(reason)) != 0)
            return cli_flag_error(cli, cmd, "--env", value, reason);
        json_array_append_new(create_array(o->container, "Env"), json_string(env));
        free(env);
        return 0;
    case OPT_CONSTRAINT:
        if (parse_constraint(value, reason, sizeof(reason)) != 0)
            return cli_flag_error(cli, cmd, "--constraint", value, reason);
        json_array_append_new(create_array(create_child(o->task, "Placement"), "Constraints"),
                              json_string(value));
        return 0;
    case OPT_RUNTIME:
        if (value[0] == '\0' || strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789_-.") !=
                                    strlen(value))
            return cli_flag_error(cli, cmd, "--runtime", value,
                                  "runtime names use a-z, 0-9, '_', '-', '.'");
        json_object_set_new(o->task, "Runtime", json_string(value));
        return 0;
    default:
        return -1;
    }
}

static int create_restart_flag(struct cli *cli, int opt, const char *value,
                               struct create_opts *o)
{
    char reason[PARSE_ERR_LEN];
    json_t *policy = create_child(o->task, "RestartPolicy");
    uint64_t attempts;
    switch (opt) {
    case OPT_RESTART_CONDITION:
        if (parse_restart_condition(value, reason, sizeof(reason)) != 0)
            return cli_flag_error(cli, "service create", "--restart-condition", value, reason);
        json_object_set_new(policy, "Condition", json_string(value));
        return 0;
    case OPT_RESTART_DELAY:
        return create_duration(cli, "--restart-delay", value, policy, "Delay");
    case OPT_RESTART_WINDOW:
        return create_duration(cli, "--restart-window", value, policy, "Window");
    case OPT_RESTART_MAX_ATTEMPTS:
        if (parse_uint64(value, &attempts, reason, sizeof(reason)) != 0)
            return cli_flag_error(cli, "service create", "--restart-max-attempts", value,
                                  reason);
        if (attempts > INT64_MAX)
            return cli_flag_error(cli, "service create", "--restart-max-attempts", value,
                                  "value out of range");
        json_object_set_new(policy, "MaxAttempts", json_integer((json_int_t)attempts));
        return 0;
    default:
        return -1;
    }
}

/* Applies one parsed option; returns 0, or the exit code after an error. */
static int create_apply(struct cli *cli, int opt, const char *value, struct create_opts *o)
{
    switch (opt) {
    case 'd':
        o->detach = true;
        return 0;
    case OPT_RESERVE_CPU:
    case OPT_RESERVE_MEMORY:
    case OPT_LIMIT_CPU:
    case OPT_LIMIT_MEMORY:
        return create_resource(cli, opt, value, o);
    case OPT_RESTART_CONDITION:
    case OPT_RESTART_DELAY:
    case OPT_RESTART_WINDOW:
    case OPT_RESTART_MAX_ATTEMPTS:
        return create_restart_flag(cli, opt, value, o);
    case OPT_MOUNT:
        return create_mount(cli, value, o);
    case OPT_LABEL:
        return create_key_value(cli, "--label", value, create_child(o->spec, "Labels"));
    case OPT_STOP_GRACE_PERIOD:
        return create_duration(cli, "--stop-grace-period", value, o->container,
                               "StopGracePeriod");
    default:
        return create_simple_flag(cli, opt, value, o);
    }
}

/* Parses every flag and argument into o->spec; 0 or an exit code. */
static int create_parse(struct cli *cli, int argc, char **argv, struct create_opts *o)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, OPT_NAME},
        {"mode", required_argument, NULL, OPT_MODE},
        {"replicas", required_argument, NULL, OPT_REPLICAS},
        {"env", required_argument, NULL, 'e'},
        {"reserve-cpu", required_argument, NULL, OPT_RESERVE_CPU},
        {"reserve-memory", required_argument, NULL, OPT_RESERVE_MEMORY},
        {"limit-cpu", required_argument, NULL, OPT_LIMIT_CPU},
        {"limit-memory", required_argument, NULL, OPT_LIMIT_MEMORY},
        {"restart-condition", required_argument, NULL, OPT_RESTART_CONDITION},
        {"restart-delay", required_argument, NULL, OPT_RESTART_DELAY},
        {"restart-max-attempts", required_argument, NULL, OPT_RESTART_MAX_ATTEMPTS},
        {"restart-window", required_argument, NULL, OPT_RESTART_WINDOW},
        {"constraint", required_argument, NULL, OPT_CONSTRAINT},
        {"mount", required_argument, NULL, OPT_MOUNT},
        {"label", required_argument, NULL, OPT_LABEL},
        {"runtime", required_argument, NULL, OPT_RUNTIME},
        {"stop-grace-period", required_argument, NULL, OPT_STOP_GRACE_PERIOD},
        {"detach", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    /* '+': flags end at IMAGE; what follows belongs to the command. */
    while ((c = getopt_long(argc, argv, "+:e:dh", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(create_usage, cli->out);
            return -1; /* exit 0 */
        }
        if (c == '?' || c == ':')
            return cli_getopt_error(cli, "service create", c, argv);
        int rc = create_apply(cli, c, optarg, o);
        if (rc != 0)
            return rc;
    }
    if (optind >= argc)
        return cli_usage_error(cli, "service create",
                               "\"orchctl service create\" requires at least 1 argument.");
    if (argv[optind][0] == '\0')
        return cli_usage_error(cli, "service create", "IMAGE must not be empty");
    if (o->mode == PARSE_MODE_GLOBAL && o->replicas_set)
        return cli_usage_error(cli, "service create",
                               "replicas can only be used with replicated mode");
    json_object_set_new(o->container, "Image", json_string(argv[optind]));
    if (optind + 1 < argc) {
        json_t *args = create_array(o->container, "Args");
        for (int i = optind + 1; i < argc; i++)
            json_array_append_new(args, json_string(argv[i]));
    }
    json_t *mode = create_child(o->spec, "Mode");
    if (o->mode == PARSE_MODE_GLOBAL)
        json_object_set_new(mode, "Global", json_object());
    else
        json_object_set_new(mode, "Replicated",
                            json_pack("{s:I}", "Replicas",
                                      (json_int_t)(o->replicas_set ? o->replicas : 1)));
    return 0;
}

static int service_create(struct cli *cli, int argc, char **argv)
{
    struct create_opts o = {.mode = PARSE_MODE_REPLICATED};
    o.spec = json_object();
    o.task = create_child(o.spec, "TaskTemplate");
    o.container = create_child(o.task, "ContainerSpec");
    int rc = create_parse(cli, argc, argv, &o);
    if (rc != 0) {
        json_decref(o.spec);
        return rc < 0 ? 0 : rc;
    }
    if (o.replicas_set && o.replicas > INT64_MAX) {
        json_decref(o.spec);
        return cli_usage_error(cli, "service create", "--replicas %" PRIu64 " is too large",
                               o.replicas);
    }
    json_t *answer = NULL;
    rc = client_call_json(cli, "POST", "/services/create", o.spec, &answer, NULL);
    json_decref(o.spec);
    if (rc != 0)
        return 1;
    const char *id = json_path_str(answer, "ID");
    const char *warning = json_path_str(answer, "Warning");
    if (warning[0])
        fprintf(cli->err, "%s\n", warning);
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(answer, "Warnings"), i, w)
        fprintf(cli->err, "%s\n", json_string_value(w) ? json_string_value(w) : "");
    fprintf(cli->out, "%s\n", id);
    fflush(cli->out);
    rc = 0;
    if (!o.detach && id[0])
        rc = progress_wait_converged(cli, id) == 0 ? 0 : 1;
    json_decref(answer);
    return rc;
}

/* ================================================================== */
/* service ls                                                          */

static int service_cmp_name(const void *a, const void *b)
{
    return format_natural_cmp(json_path_str(*(json_t *const *)a, "Spec.Name"),
                              json_path_str(*(json_t *const *)b, "Spec.Name"));
}

static void service_ports(json_t *service, char *buf, size_t len)
{
    size_t i, used = 0;
    json_t *p;
    buf[0] = '\0';
    json_array_foreach(json_path(service, "Endpoint.Ports"), i, p) {
        int n = snprintf(buf + used, len - used, "%s*:%" JSON_INTEGER_FORMAT
                         "->%" JSON_INTEGER_FORMAT "/%s", used ? ", " : "",
                         json_path_int(p, "PublishedPort", 0), json_path_int(p, "TargetPort", 0),
                         json_path_str(p, "Protocol")[0] ? json_path_str(p, "Protocol") : "tcp");
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
}

static int service_ls_table(struct cli *cli, json_t *services)
{
    static const char *const titles[] = {"ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"};
    struct format_table table;
    size_t count = json_array_size(services);
    json_t **sorted = calloc(count ? count : 1, sizeof(*sorted));
    if (sorted == NULL || format_table_init(&table, 6, titles) != 0) {
        free(sorted);
        fprintf(cli->err, "Error: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < count; i++)
        sorted[i] = json_array_get(services, i);
    qsort(sorted, count, sizeof(*sorted), service_cmp_name);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        json_t *s = sorted[i];
        char id[16], replicas[64], image[512], ports[256];
        format_id(json_path_str(s, "ID"), false, id, sizeof(id));
        json_t *status = json_object_get(s, "ServiceStatus");
        if (json_is_object(status))
            snprintf(replicas, sizeof(replicas), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                     json_path_int(status, "RunningTasks", 0),
                     json_path_int(status, "DesiredTasks", 0));
        else if (!service_is_global(s))
            snprintf(replicas, sizeof(replicas), "?/%" JSON_INTEGER_FORMAT,
                     json_path_int(s, "Spec.Mode.Replicated.Replicas", 0));
        else
            snprintf(replicas, sizeof(replicas), "?");
        format_image(json_path_str(s, "Spec.TaskTemplate.ContainerSpec.Image"), false, image,
                     sizeof(image));
        service_ports(s, ports, sizeof(ports));
        const char *row[] = {id, json_path_str(s, "Spec.Name"),
                             service_is_global(s) ? "global" : "replicated", replicas, image,
                             ports};
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

/* Parses options that are only --help; returns -1 to go on. */
static int service_only_help(struct cli *cli, int argc, char **argv, const char *name,
                             const char *usage, const char *shorts,
                             const struct option *opts, int (*apply)(int, void *), void *arg)
{
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, cli->out);
            return 0;
        }
        if (c == '?' || c == ':' || apply == NULL || apply(c, arg) != 0)
            return cli_getopt_error(cli, name, c == ':' ? ':' : '?', argv);
    }
    return -1;
}

static int service_ls(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int rc = service_only_help(cli, argc, argv, "service ls", ls_usage, ":h", opts, NULL, NULL);
    if (rc >= 0)
        return rc;
    if (optind < argc)
        return cli_usage_error(cli, "service ls", "\"orchctl service ls\" accepts no arguments.");
    json_t *services = NULL;
    if (client_call_json(cli, "GET", "/services?status=true", NULL, &services, NULL) != 0)
        return 1;
    rc = service_ls_table(cli, services);
    json_decref(services);
    return rc;
}

/* ================================================================== */
/* service ps                                                          */

struct ps_row {
    json_t *task;
    char name[192];
    int64_t created;
    json_int_t version;
};

static int ps_row_cmp(const void *a, const void *b)
{
    const struct ps_row *x = a, *y = b;
    int c = format_natural_cmp(x->name, y->name);
    if (c != 0)
        return c;
    if (x->created != y->created)
        return x->created > y->created ? -1 : 1; /* newest first */
    if (x->version != y->version)
        return x->version > y->version ? -1 : 1;
    return 0;
}

/* "web.1" for replicated tasks, "web.<node id>" for global ones. The name
 * comes from services, else from the task's own ServiceName (orchd's
 * tasks carry it), else the service ID. */
static void ps_task_name(json_t *task, json_t *services, char *buf, size_t len)
{
    json_t *service = json_object_get(services, json_path_str(task, "ServiceID"));
    const char *name = json_path_str(service, "Spec.Name");
    if (name[0] == '\0')
        name = json_path_str(task, "ServiceName");
    if (name[0] == '\0')
        name = json_path_str(task, "ServiceID");
    json_int_t slot = json_path_int(task, "Slot", 0);
    if (slot > 0)
        snprintf(buf, len, "%s.%" JSON_INTEGER_FORMAT, name, slot);
    else
        snprintf(buf, len, "%s.%s", name, json_path_str(task, "NodeID"));
}

static void ps_current_state(json_t *task, char *buf, size_t len)
{
    char state[64], age[64];
    int64_t when;
    format_capitalize(json_path_str(task, "Status.State"), state, sizeof(state));
    if (parse_rfc3339(json_path_str(task, "Status.Timestamp"), &when, NULL, 0) != 0) {
        snprintf(buf, len, "%s", state);
        return;
    }
    format_human_duration(cli_now() - when, age, sizeof(age));
    snprintf(buf, len, "%s %s ago", state, age);
}

static int ps_add_rows(struct format_table *table, struct ps_row *rows, size_t count,
                       json_t *hostnames, bool no_trunc)
{
    const char *prev = "";
    for (size_t i = 0; i < count; i++) {
        json_t *t = rows[i].task;
        char id[128], name[200], image[512], desired[64], current[160], error[512];
        format_id(json_path_str(t, "ID"), no_trunc, id, sizeof(id));
        if (strcmp(rows[i].name, prev) == 0)
            snprintf(name, sizeof(name), " \\_ %s", rows[i].name);
        else
            snprintf(name, sizeof(name), "%s", rows[i].name);
        prev = rows[i].name;
        format_image(json_path_str(t, "Spec.ContainerSpec.Image"), no_trunc, image,
                     sizeof(image));
        format_capitalize(json_path_str(t, "DesiredState"), desired, sizeof(desired));
        ps_current_state(t, current, sizeof(current));
        format_task_error(json_path_str(t, "Status.Err"), no_trunc, error, sizeof(error));
        const char *node_id = json_path_str(t, "NodeID");
        const char *host = json_string_value(json_object_get(hostnames, node_id));
        const char *row[] = {id, name, image, host ? host : node_id, desired, current, error, ""};
        if (format_table_add(table, row) != 0)
            return -1;
    }
    return 0;
}

int service_ps_print(struct cli *cli, json_t *tasks, json_t *services, json_t *hostnames,
                     bool no_trunc)
{
    static const char *const titles[] = {"ID", "NAME", "IMAGE", "NODE", "DESIRED STATE",
                                         "CURRENT STATE", "ERROR", "PORTS"};
    size_t count = json_array_size(tasks);
    struct ps_row *rows = calloc(count ? count : 1, sizeof(*rows));
    struct format_table table;
    if (rows == NULL || format_table_init(&table, 8, titles) != 0) {
        free(rows);
        fprintf(cli->err, "Error: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        rows[i].task = json_array_get(tasks, i);
        ps_task_name(rows[i].task, services, rows[i].name, sizeof(rows[i].name));
        if (parse_rfc3339(json_path_str(rows[i].task, "CreatedAt"), &rows[i].created, NULL, 0))
            rows[i].created = 0;
        rows[i].version = json_path_int(rows[i].task, "Version.Index", 0);
    }
    qsort(rows, count, sizeof(*rows), ps_row_cmp);
    int rc = ps_add_rows(&table, rows, count, hostnames, no_trunc);
    if (rc == 0)
        format_table_print(&table, cli->out);
    else
        fprintf(cli->err, "Error: out of memory\n");
    format_table_free(&table);
    free(rows);
    return rc == 0 ? 0 : 1;
}

/* node ID -> hostname, from GET /nodes (empty map if that fails). */
static json_t *ps_hostnames(struct cli *cli)
{
    json_t *nodes = NULL, *map = json_object();
    size_t i;
    json_t *n;
    if (client_call_json(cli, "GET", "/nodes", NULL, &nodes, NULL) != 0)
        return map;
    json_array_foreach(nodes, i, n)
        json_object_set_new(map, json_path_str(n, "ID"),
                            json_string(json_path_str(n, "Description.Hostname")));
    json_decref(nodes);
    return map;
}

static int ps_fetch_and_print(struct cli *cli, json_t *filters, json_t *services, bool no_trunc)
{
    char *text = json_dumps(filters, JSON_COMPACT);
    char *escaped = text ? client_escape(text) : NULL;
    char *path = NULL;
    json_t *tasks = NULL;
    int rc = 1;
    if (escaped == NULL || asprintf(&path, "/tasks?filters=%s", escaped) < 0) {
        fprintf(cli->err, "Error: out of memory\n");
        path = NULL;
    } else if (client_call_json(cli, "GET", path, NULL, &tasks, NULL) == 0) {
        json_t *hostnames = ps_hostnames(cli);
        rc = service_ps_print(cli, tasks, services, hostnames, no_trunc);
        json_decref(hostnames);
        json_decref(tasks);
    }
    free(path);
    free(escaped);
    free(text);
    return rc;
}

static int service_ps(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
        {"filter", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char reason[PARSE_ERR_LEN];
    bool no_trunc = false;
    json_t *filters = json_object();
    int c, rc = 0;
    optind = 0;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
        char *key, *value;
        if (c == 'h') {
            fputs(ps_usage, cli->out);
            json_decref(filters);
            return 0;
        } else if (c == OPT_NO_TRUNC) {
            no_trunc = true;
        } else if (c == 'f') {
            if (parse_task_filter(optarg, &key, &value, reason, sizeof(reason)) != 0) {
                rc = cli_flag_error(cli, "service ps", "--filter", optarg, reason);
                break;
            }
            json_object_set_new(create_child(filters, key), value, json_true());
            free(key);
            free(value);
        } else {
            rc = cli_getopt_error(cli, "service ps", c, argv);
        }
    }
    if (rc == 0 && optind >= argc)
        rc = cli_usage_error(cli, "service ps",
                             "\"orchctl service ps\" requires at least 1 argument.");
    json_t *services = json_object();
    for (int i = optind; rc == 0 && i < argc; i++) {
        json_t *s = service_get(cli, argv[i]);
        if (s == NULL) {
            rc = 1;
            break;
        }
        json_object_set_new(create_child(filters, "service"), json_path_str(s, "ID"),
                            json_true());
        json_object_set_new(services, json_path_str(s, "ID"), s);
    }
    if (rc == 0)
        rc = ps_fetch_and_print(cli, filters, services, no_trunc);
    json_decref(services);
    json_decref(filters);
    return rc;
}

/* ================================================================== */
/* service inspect                                                     */

static void inspect_print_resources(FILE *o, json_t *resources)
{
    static const char *groups[][2] = {{"Reservations", " Reservations:"},
                                      {"Limits", " Limits:"}};
    char buf[64];
    if (json_object_size(resources) == 0)
        return;
    fprintf(o, "Resources:\n");
    for (size_t g = 0; g < 2; g++) {
        json_t *group = json_object_get(resources, groups[g][0]);
        if (json_object_size(group) == 0)
            continue;
        fprintf(o, "%s\n", groups[g][1]);
        if (json_object_get(group, "NanoCPUs")) {
            format_nano_cpus(json_path_int(group, "NanoCPUs", 0), buf, sizeof(buf));
            fprintf(o, "  CPU:\t\t%s\n", buf);
        }
        if (json_object_get(group, "MemoryBytes")) {
            format_bytes_size((double)json_path_int(group, "MemoryBytes", 0), buf, sizeof(buf));
            fprintf(o, "  Memory:\t%s\n", buf);
        }
    }
}

static void inspect_print_restart(FILE *o, json_t *policy)
{
    char buf[64];
    if (json_object_size(policy) == 0)
        return;
    fprintf(o, "RestartPolicy:\n");
    fprintf(o, " Condition:\t%s\n", json_path_str(policy, "Condition"));
    format_go_duration(json_path_int(policy, "Delay", 0), buf, sizeof(buf));
    fprintf(o, " Delay:\t\t%s\n", buf);
    fprintf(o, " Max Attempts:\t%" JSON_INTEGER_FORMAT "\n", json_path_int(policy, "MaxAttempts", 0));
    format_go_duration(json_path_int(policy, "Window", 0), buf, sizeof(buf));
    fprintf(o, " Window:\t%s\n", buf);
}

static void inspect_print_list(FILE *o, const char *label, json_t *array, const char *sep)
{
    size_t i;
    json_t *v;
    if (json_array_size(array) == 0)
        return;
    fprintf(o, "%s", label);
    json_array_foreach(array, i, v)
        fprintf(o, "%s%s", i ? sep : "", json_string_value(v) ? json_string_value(v) : "");
    fprintf(o, "\n");
}

static void inspect_print_container(FILE *o, json_t *cs)
{
    size_t i;
    json_t *m;
    char buf[64];
    fprintf(o, "ContainerSpec:\n");
    fprintf(o, " Image:\t\t%s\n", json_path_str(cs, "Image"));
    inspect_print_list(o, " Command:\t", json_object_get(cs, "Command"), " ");
    inspect_print_list(o, " Args:\t\t", json_object_get(cs, "Args"), " ");
    inspect_print_list(o, " Env:\t\t", json_object_get(cs, "Env"), "\n\t\t");
    if (json_object_get(cs, "StopGracePeriod")) {
        format_go_duration(json_path_int(cs, "StopGracePeriod", 0), buf, sizeof(buf));
        fprintf(o, " StopGracePeriod: %s\n", buf);
    }
    if (json_array_size(json_object_get(cs, "Mounts")) > 0)
        fprintf(o, "Mounts:\n");
    json_array_foreach(json_object_get(cs, "Mounts"), i, m) {
        fprintf(o, " Target:\t%s\n", json_path_str(m, "Target"));
        fprintf(o, "  Source:\t%s\n", json_path_str(m, "Source"));
        fprintf(o, "  ReadOnly:\t%s\n", json_is_true(json_object_get(m, "ReadOnly")) ? "true" : "false");
        fprintf(o, "  Type:\t\t%s\n", json_path_str(m, "Type"));
    }
}

static void inspect_print_pretty(struct cli *cli, json_t *s)
{
    FILE *o = cli->out;
    json_t *spec = json_object_get(s, "Spec");
    json_t *labels = json_object_get(spec, "Labels");
    const char *key;
    json_t *value;
    fprintf(o, "\nID:\t\t%s\n", json_path_str(s, "ID"));
    fprintf(o, "Name:\t\t%s\n", json_path_str(spec, "Name"));
    if (json_object_size(labels) > 0) {
        fprintf(o, "Labels:\n");
        json_object_foreach(labels, key, value)
            fprintf(o, " %s=%s\n", key, json_string_value(value) ? json_string_value(value) : "");
    }
    if (service_is_global(s)) {
        fprintf(o, "Service Mode:\tGlobal\n");
    } else {
        fprintf(o, "Service Mode:\tReplicated\n");
        fprintf(o, " Replicas:\t%" JSON_INTEGER_FORMAT "\n",
                json_path_int(spec, "Mode.Replicated.Replicas", 0));
    }
    json_t *task = json_object_get(spec, "TaskTemplate");
    json_t *constraints = json_path(task, "Placement.Constraints");
    if (json_array_size(constraints) > 0) {
        size_t i;
        json_t *c;
        fprintf(o, "Placement:\n Constraints:\t[");
        json_array_foreach(constraints, i, c)
            fprintf(o, "%s%s", i ? " " : "", json_string_value(c) ? json_string_value(c) : "");
        fprintf(o, "]\n");
    }
    inspect_print_restart(o, json_object_get(task, "RestartPolicy"));
    inspect_print_container(o, json_object_get(task, "ContainerSpec"));
    inspect_print_resources(o, json_object_get(task, "Resources"));
    if (json_path_str(task, "Runtime")[0])
        fprintf(o, "Runtime:\t%s\n", json_path_str(task, "Runtime"));
}

static int inspect_apply(int c, void *arg)
{
    if (c != OPT_PRETTY)
        return -1;
    *(bool *)arg = true;
    return 0;
}

static int service_inspect(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"pretty", no_argument, NULL, OPT_PRETTY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool pretty = false;
    int rc = service_only_help(cli, argc, argv, "service inspect", inspect_usage, ":h", opts,
                               inspect_apply, &pretty);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return cli_usage_error(cli, "service inspect",
                               "\"orchctl service inspect\" requires at least 1 argument.");
    json_t *found = json_array();
    rc = 0;
    for (int i = optind; i < argc; i++) {
        json_t *s = service_get(cli, argv[i]);
        if (s == NULL) {
            rc = 1;
            continue;
        }
        if (pretty)
            inspect_print_pretty(cli, s);
        json_array_append_new(found, s);
    }
    if (!pretty) {
        char *text = json_dumps(found, JSON_INDENT(4));
        if (text != NULL)
            fprintf(cli->out, "%s\n", text);
        free(text);
    }
    json_decref(found);
    return rc;
}

/* ================================================================== */
/* service scale                                                       */

/* Scales one service; 0 on success. *id gets the service ID (malloc'd). */
static int scale_one(struct cli *cli, const char *ref, uint64_t replicas, char **id)
{
    char path[256];
    json_t *s = service_get(cli, ref);
    *id = NULL;
    if (s == NULL)
        return -1;
    if (service_is_global(s)) {
        fprintf(cli->err, "%s: scale can only be used with replicated mode\n", ref);
        json_decref(s);
        return -1;
    }
    json_t *spec = json_object_get(s, "Spec");
    json_t *replicated = json_path(spec, "Mode.Replicated");
    if (!json_is_object(replicated)) {
        fprintf(cli->err, "%s: service has no replicated mode in its spec\n", ref);
        json_decref(s);
        return -1;
    }
    json_object_set_new(replicated, "Replicas", json_integer((json_int_t)replicas));
    snprintf(path, sizeof(path), "/services/%s/update?version=%" JSON_INTEGER_FORMAT,
             json_path_str(s, "ID"), json_path_int(s, "Version.Index", 0));
    int rc = client_call_json(cli, "POST", path, spec, NULL, NULL);
    if (rc == 0) {
        fprintf(cli->out, "%s scaled to %" PRIu64 "\n", ref, replicas);
        fflush(cli->out);
        *id = strdup(json_path_str(s, "ID"));
    }
    json_decref(s);
    return rc;
}

static int scale_apply(int c, void *arg)
{
    if (c != 'd')
        return -1;
    *(bool *)arg = true;
    return 0;
}

static int service_scale(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"detach", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char reason[PARSE_ERR_LEN];
    bool detach = false;
    int rc = service_only_help(cli, argc, argv, "service scale", scale_usage, ":dh", opts,
                               scale_apply, &detach);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return cli_usage_error(cli, "service scale",
                               "\"orchctl service scale\" requires at least 1 argument.");
    /* Every SERVICE=N is checked before anything is sent. */
    for (int i = optind; i < argc; i++) {
        char *name;
        uint64_t n;
        if (parse_scale_spec(argv[i], &name, &n, reason, sizeof(reason)) != 0)
            return cli_usage_error(cli, "service scale", "%s", reason);
        free(name);
        if (n > INT64_MAX)
            return cli_usage_error(cli, "service scale", "invalid replicas value %s", argv[i]);
    }
    rc = 0;
    for (int i = optind; i < argc; i++) {
        char *name, *id;
        uint64_t n;
        parse_scale_spec(argv[i], &name, &n, reason, sizeof(reason));
        if (scale_one(cli, name, n, &id) != 0)
            rc = 1;
        else if (!detach && progress_wait_converged(cli, id) != 0)
            rc = 1;
        free(id);
        free(name);
    }
    return rc;
}

/* ================================================================== */
/* service rm                                                          */

static int service_rm(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int rc = service_only_help(cli, argc, argv, "service rm", rm_usage, ":h", opts, NULL, NULL);
    if (rc >= 0)
        return rc;
    if (optind >= argc)
        return cli_usage_error(cli, "service rm",
                               "\"orchctl service rm\" requires at least 1 argument.");
    rc = 0;
    for (int i = optind; i < argc; i++) {
        char *escaped = client_escape(argv[i]);
        char *path = NULL;
        if (escaped == NULL || asprintf(&path, "/services/%s", escaped) < 0) {
            fprintf(cli->err, "Error: out of memory\n");
            free(escaped);
            return 1;
        }
        if (client_call_json(cli, "DELETE", path, NULL, NULL, NULL) == 0)
            fprintf(cli->out, "%s\n", argv[i]);
        else
            rc = 1;
        free(path);
        free(escaped);
    }
    return rc;
}

/* ================================================================== */
/* service logs                                                        */

/* Writes a log body; lines get `prefix` unless the daemon already put one
 * ("name.slot.task@node    | ") in front of them. */
static void logs_write(struct cli *cli, const struct client_response *resp, const char *prefix)
{
    bool prefixed = prefix == NULL || strstr(resp->body, "    | ") != NULL;
    if (prefixed) {
        fwrite(resp->body, 1, resp->len, cli->out);
        return;
    }
    const char *p = resp->body, *end = resp->body + resp->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        fprintf(cli->out, "%s    | %.*s%s", prefix, (int)n, p, nl ? "" : "\n");
        p += n;
    }
}

/* The prefix of a task's lines: "web.1.<task id>@<node>". */
static char *logs_task_prefix(struct cli *cli, json_t *task)
{
    json_t *hostnames = ps_hostnames(cli);
    const char *node = json_string_value(json_object_get(hostnames, json_path_str(task, "NodeID")));
    char *prefix = NULL;
    char *escaped = client_escape(json_path_str(task, "ServiceID"));
    char path[512];
    json_t *service = NULL;
    snprintf(path, sizeof(path), "/services/%s", escaped ? escaped : "");
    free(escaped);
    if (client_call_json(cli, "GET", path, NULL, &service, NULL) == 0) {
        char name[256];
        json_t *services = json_object();
        json_object_set(services, json_path_str(task, "ServiceID"), service);
        ps_task_name(task, services, name, sizeof(name));
        json_decref(services);
        if (asprintf(&prefix, "%s.%s@%s", name, json_path_str(task, "ID"),
                     node ? node : json_path_str(task, "NodeID")) < 0)
            prefix = NULL;
    }
    json_decref(service);
    json_decref(hostnames);
    return prefix;
}

static int logs_fetch(struct cli *cli, const char *kind, const char *ref, const char *tail,
                      struct client_response *resp)
{
    char *escaped = client_escape(ref);
    char *tail_escaped = client_escape(tail);
    char *path = NULL;
    int rc = -1;
    if (escaped && tail_escaped &&
        asprintf(&path, "/%s/%s/logs?stdout=1&stderr=1&tail=%s", kind, escaped, tail_escaped) >= 0)
        rc = client_request(cli, "GET", path, NULL, resp);
    else
        fprintf(cli->err, "Error: out of memory\n");
    free(path);
    free(escaped);
    free(tail_escaped);
    return rc;
}

static int logs_apply(int c, void *arg)
{
    if (c != 'n')
        return -1;
    *(const char **)arg = optarg;
    return 0;
}

/* GET /tasks/{ref} without printing errors: NULL when there is no such
 * task (or the daemon cannot tell). */
static json_t *logs_find_task(struct cli *cli, const char *ref)
{
    char *escaped = client_escape(ref);
    char *path = NULL;
    struct client_response resp;
    json_t *task = NULL;
    if (escaped != NULL && asprintf(&path, "/tasks/%s", escaped) >= 0 &&
        client_request(cli, "GET", path, NULL, &resp) == 0) {
        if (resp.status == 200)
            task = json_loadb(resp.body, resp.len, 0, NULL);
        client_response_free(&resp);
    }
    free(path);
    free(escaped);
    if (!json_is_object(task)) {
        json_decref(task);
        return NULL;
    }
    return task;
}

static int logs_of_task(struct cli *cli, const char *ref, const char *tail,
                        const struct client_response *service_resp)
{
    struct client_response resp;
    json_t *task = logs_find_task(cli, ref);
    if (task == NULL) {
        /* Neither a service nor a task: the service error says it best. */
        client_print_daemon_error(cli, service_resp);
        return 1;
    }
    char *prefix = logs_task_prefix(cli, task);
    int rc = 1;
    if (logs_fetch(cli, "tasks", json_path_str(task, "ID"), tail, &resp) == 0) {
        if (resp.status >= 200 && resp.status < 300) {
            logs_write(cli, &resp, prefix ? prefix : json_path_str(task, "ID"));
            rc = 0;
        } else {
            client_print_daemon_error(cli, &resp);
        }
        client_response_free(&resp);
    }
    free(prefix);
    json_decref(task);
    return rc;
}

static int service_logs(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"tail", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *tail = "all";
    uint64_t lines;
    char reason[PARSE_ERR_LEN];
    int rc = service_only_help(cli, argc, argv, "service logs", logs_usage, ":n:h", opts,
                               logs_apply, &tail);
    if (rc >= 0)
        return rc;
    if (strcmp(tail, "all") != 0 && parse_uint64(tail, &lines, reason, sizeof(reason)) != 0)
        return cli_flag_error(cli, "service logs", "--tail", tail, reason);
    if (argc - optind != 1)
        return cli_usage_error(cli, "service logs",
                               "\"orchctl service logs\" requires exactly 1 argument.");
    struct client_response resp;
    if (logs_fetch(cli, "services", argv[optind], tail, &resp) != 0)
        return 1;
    if (resp.status >= 200 && resp.status < 300) {
        logs_write(cli, &resp, NULL);
        rc = 0;
    } else if (resp.status == 404) {
        rc = logs_of_task(cli, argv[optind], tail, &resp);
    } else {
        client_print_daemon_error(cli, &resp);
        rc = 1;
    }
    client_response_free(&resp);
    return rc;
}

/* ================================================================== */

int cmd_service(struct cli *cli, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(struct cli *, int, char **);
    } verbs[] = {
        {"create", service_create}, {"ls", service_ls},         {"list", service_ls},
        {"ps", service_ps},         {"inspect", service_inspect}, {"scale", service_scale},
        {"rm", service_rm},         {"remove", service_rm},     {"logs", service_logs},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(service_usage, argc < 2 ? cli->err : cli->out);
        return argc < 2 ? 1 : 0;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strcmp(argv[1], verbs[i].name) == 0)
            return verbs[i].run(cli, argc - 1, argv + 1);
    }
    return cli_usage_error(cli, "service", "orchctl service: unknown command: %s", argv[1]);
}

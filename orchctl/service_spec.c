/*
 * service_spec.c: how each flag of `service create` and `service update`
 * changes a ServiceSpec (see service_spec.h for the rules).
 *
 * Every value is parsed with parse.c, so create and update accept the same
 * syntaxes and report the same reasons. No state; nothing here talks to
 * the daemon.
 */
#include "service_spec.h"

#include "parse.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The flags of service create and update, in the order their help lists
 * them; a flag whose help differs between the two (beyond the default
 * that create shows) has a row for each. */
const struct cli_flag svcspec_flags[] = {
	{ "--args", 0, required_argument, SVCSPEC_ARGS, "command",
	  "Service command args", SVCSPEC_IN_UPDATE },
	{ "--constraint", 0, required_argument, SVCSPEC_CONSTRAINT, "list",
	  "Placement constraints (KEY==VALUE, KEY!=VALUE)", SVCSPEC_IN_CREATE },
	{ "--constraint-add", 0, required_argument, SVCSPEC_CONSTRAINT_ADD,
	  "list", "Add or update a placement constraint", SVCSPEC_IN_UPDATE },
	{ "--constraint-rm", 0, required_argument, SVCSPEC_CONSTRAINT_RM,
	  "list", "Remove a constraint", SVCSPEC_IN_UPDATE },
	{ "--container-label", 0, required_argument, SVCSPEC_CONTAINER_LABEL,
	  "list", "Container labels", SVCSPEC_IN_CREATE },
	{ "--container-label-add", 0, required_argument, SVCSPEC_CONTAINER_LABEL_ADD,
	  "list", "Add or update a container label", SVCSPEC_IN_UPDATE },
	{ "--container-label-rm", 0, required_argument, SVCSPEC_CONTAINER_LABEL_RM,
	  "list", "Remove a container label by its key", SVCSPEC_IN_UPDATE },
	{ "--detach", 'd', no_argument, 0, NULL,
	  "Exit immediately instead of waiting for the\n"
	  "service to converge",
	  0 },
	{ "--env", 'e', required_argument, SVCSPEC_ENV, "list",
	  "Set environment variables", SVCSPEC_IN_CREATE },
	{ "--env-add", 0, required_argument, SVCSPEC_ENV_ADD, "list",
	  "Add or update an environment variable", SVCSPEC_IN_UPDATE },
	{ "--env-rm", 0, required_argument, SVCSPEC_ENV_RM, "list",
	  "Remove an environment variable", SVCSPEC_IN_UPDATE },
	{ "--force", 0, optional_argument, SVCSPEC_FORCE, NULL,
	  "Force update even if no changes require it", SVCSPEC_IN_UPDATE },
	{ "--image", 0, required_argument, SVCSPEC_IMAGE, "string",
	  "Service image tag", SVCSPEC_IN_UPDATE },
	{ "--label", 0, required_argument, SVCSPEC_LABEL, "list",
	  "Service labels", SVCSPEC_IN_CREATE },
	{ "--label-add", 0, required_argument, SVCSPEC_LABEL_ADD, "list",
	  "Add or update a service label", SVCSPEC_IN_UPDATE },
	{ "--label-rm", 0, required_argument, SVCSPEC_LABEL_RM, "list",
	  "Remove a label by its key", SVCSPEC_IN_UPDATE },
	{ "--limit-cpu", 0, required_argument, SVCSPEC_LIMIT_CPU, "decimal",
	  "Limit CPUs", 0 },
	{ "--limit-memory", 0, required_argument, SVCSPEC_LIMIT_MEMORY, "bytes",
	  "Limit Memory", 0 },
	{ "--mode", 0, required_argument, SVCSPEC_CREATE_MODE, "string",
	  "Service mode (\"replicated\" or \"global\")", SVCSPEC_IN_CREATE },
	{ "--mount", 0, required_argument, SVCSPEC_MOUNT, "mount",
	  "Attach a filesystem mount to the service", SVCSPEC_IN_CREATE },
	{ "--name", 0, required_argument, SVCSPEC_CREATE_NAME, "string",
	  "Service name", SVCSPEC_IN_CREATE },
	{ "--quiet", 'q', no_argument, 0, NULL, "Suppress progress output",
	  SVCSPEC_IN_UPDATE },
	{ "--rebalance", 0, optional_argument, SVCSPEC_REBALANCE, "[=true|false]",
	  "Even out this service's tasks across nodes when\n"
	  "they are uneven by 2 or more (orchd)",
	  0 },
	{ "--replicas", 0, required_argument, SVCSPEC_REPLICAS, "uint",
	  "Number of tasks", 0 },
	{ "--reserve-cpu", 0, required_argument, SVCSPEC_RESERVE_CPU, "decimal",
	  "Reserve CPUs", 0 },
	{ "--reserve-memory", 0, required_argument, SVCSPEC_RESERVE_MEMORY,
	  "bytes", "Reserve Memory", 0 },
	{ "--restart-condition", 0, required_argument,
	  SVCSPEC_RESTART_CONDITION, "string",
	  "Restart when condition is met\n"
	  "(\"none\", \"on-failure\", \"any\")",
	  0 },
	{ "--restart-delay", 0, required_argument, SVCSPEC_RESTART_DELAY,
	  "duration", "Delay between restart attempts (ns|us|ms|s|m|h)", 0 },
	{ "--restart-max-attempts", 0, required_argument, SVCSPEC_RESTART_MAX_ATTEMPTS,
	  "uint", "Maximum number of restarts before giving up", 0 },
	{ "--restart-window", 0, required_argument, SVCSPEC_RESTART_WINDOW,
	  "duration", "Window used to evaluate the restart policy", 0 },
	{ "--runtime", 0, required_argument, SVCSPEC_RUNTIME, "string",
	  "Task runtime (\"docker\", \"process\"...;\n"
	  "default: the node's)",
	  SVCSPEC_IN_CREATE },
	{ "--stop-grace-period", 0, required_argument, SVCSPEC_STOP_GRACE_PERIOD,
	  "duration", "Time to wait before force killing a container", 0 },
	{ "--update-delay", 0, required_argument, SVCSPEC_UPDATE_DELAY,
	  "duration", "Delay between updates (ns|us|ms|s|m|h)", 0 },
	{ "--update-failure-action", 0, required_argument,
	  SVCSPEC_UPDATE_FAILURE_ACTION, "string",
	  "Action on update failure (\"pause\", \"continue\",\n"
	  "\"rollback\") (default \"pause\")",
	  SVCSPEC_IN_CREATE },
	{ "--update-failure-action", 0, required_argument,
	  SVCSPEC_UPDATE_FAILURE_ACTION, "string",
	  "Action on update failure (\"pause\", \"continue\",\n"
	  "\"rollback\": orchd pauses for now)",
	  SVCSPEC_IN_UPDATE },
	{ "--update-max-failure-ratio", 0, required_argument,
	  SVCSPEC_UPDATE_MAX_FAILURE_RATIO, "float",
	  "Failure rate to tolerate during an update", 0 },
	{ "--update-monitor", 0, required_argument, SVCSPEC_UPDATE_MONITOR, "duration",
	  "Duration after each task update to monitor for\n"
	  "failure (ns|us|ms|s|m|h)",
	  0 },
	{ "--update-order", 0, required_argument, SVCSPEC_UPDATE_ORDER,
	  "string", "Update order (\"start-first\", \"stop-first\")", 0 },
	{ "--update-parallelism", 0, required_argument,
	  SVCSPEC_UPDATE_PARALLELISM, "uint",
	  "Maximum number of tasks updated simultaneously\n"
	  "(0 to update all at once)",
	  0 },
	{ NULL },
};

/* What `service create --help` adds to a flag's help: the value the flag
 * has when it is not given (update shows none: there it keeps the old). */
const struct cli_flag_default svcspec_create_defaults[] = {
	{ SVCSPEC_CREATE_MODE, "\n(default \"replicated\")" },
	{ SVCSPEC_UPDATE_DELAY, " (default 0s)" },
	{ SVCSPEC_UPDATE_MAX_FAILURE_RATIO, "\n(default 0)" },
	{ SVCSPEC_UPDATE_MONITOR, " (default 5s)" },
	{ SVCSPEC_UPDATE_ORDER, "\n(default \"stop-first\")" },
	{ SVCSPEC_UPDATE_PARALLELISM, " (default 1)" },
	{ 0, NULL },
};

bool svcspec_is_flag(int flag)
{
	return flag >= SVCSPEC_ENV && flag < SVCSPEC_FLAG_END;
}

const char *svcspec_flag_name(int flag)
{
	for (const struct cli_flag *f = svcspec_flags; f->name != NULL; f++) {
		if (f->code == flag && svcspec_is_flag(flag))
			return f->name;
	}
	return "";
}

bool svcspec_is_removal(int flag)
{
	return flag == SVCSPEC_ENV_RM || flag == SVCSPEC_LABEL_RM ||
	       flag == SVCSPEC_CONTAINER_LABEL_RM || flag == SVCSPEC_CONSTRAINT_RM;
}

/* ------------------------------------------------------------------ */
/* JSON helpers                                                        */

/* parent[key] = value (stolen); -1 "out of memory" when value is NULL or
 * cannot be stored. */
static int svcspec_set(json_t *parent, const char *key, json_t *value,
		       char *err, size_t err_len)
{
	if (parent == NULL || value == NULL ||
	    json_object_set_new(parent, key, value) != 0)
		return parse_fail(err, err_len, "out of memory");
	return 0;
}

json_t *svcspec_child(json_t *parent, const char *key)
{
	json_t *child = json_object_get(parent, key);
	if (json_is_object(child))
		return child;
	child = json_object();
	if (child == NULL || json_object_set_new(parent, key, child) != 0)
		return NULL;
	return child;
}

/* parent[key] as an array, created empty when missing; NULL out of memory. */
static json_t *svcspec_array(json_t *parent, const char *key)
{
	json_t *array = json_object_get(parent, key);
	if (json_is_array(array))
		return array;
	array = json_array();
	if (parent == NULL || array == NULL ||
	    json_object_set_new(parent, key, array) != 0)
		return NULL;
	return array;
}

static int svcspec_append(json_t *array, const char *text, char *err, size_t err_len)
{
	if (array == NULL || json_array_append_new(array, json_string(text)) != 0)
		return parse_fail(err, err_len, "out of memory");
	return 0;
}

static json_t *svcspec_task(json_t *spec)
{
	return svcspec_child(spec, "TaskTemplate");
}

static json_t *svcspec_container(json_t *spec)
{
	return svcspec_child(svcspec_task(spec), "ContainerSpec");
}

/* spec[a][b] without creating anything; NULL when absent. */
static json_t *svcspec_lookup(json_t *spec, const char *a, const char *b)
{
	return json_object_get(json_object_get(spec, a), b);
}

/* ------------------------------------------------------------------ */
/* Environment, labels, constraints                                    */

/* Length of an env entry's key: "A=1" and "A" both have key "A". */
static size_t svcspec_env_key_len(const char *entry)
{
	return strcspn(entry, "=");
}

/* Index of the env entry whose key is key[0..key_len), or -1. */
static long svcspec_env_find(json_t *env, const char *key, size_t key_len)
{
	size_t i;
	json_t *v;
	json_array_foreach(env, i, v) {
		const char *entry = json_string_value(v);
		if (entry != NULL && svcspec_env_key_len(entry) == key_len &&
		    strncmp(entry, key, key_len) == 0)
			return (long)i;
	}
	return -1;
}

/* A removal names a key: non-empty, no '=' and no whitespace. */
static int svcspec_check_key(const char *value, char *err, size_t err_len)
{
	if (value[0] == '\0')
		return parse_fail(err, err_len, "empty key");
	if (strchr(value, '=') != NULL)
		return parse_fail(err, err_len,
				  "expected a key without '=' (KEY, not KEY=VALUE)");
	if (strpbrk(value, " \t\r\n") != NULL)
		return parse_fail(err, err_len, "key '%s' contains whitespace", value);
	return 0;
}

/* Removes every entry of env whose key is key; drops the array from
 * parent when that empties it, so that removing what is not there changes
 * nothing. */
static void svcspec_env_remove(json_t *parent, const char *key)
{
	json_t *env = json_object_get(parent, "Env");
	long at;
	bool removed = false;
	while ((at = svcspec_env_find(env, key, strlen(key))) >= 0) {
		json_array_remove(env, (size_t)at);
		removed = true;
	}
	if (removed && json_array_size(env) == 0)
		json_object_del(parent, "Env");
}

static int svcspec_env(json_t *spec, int flag, const char *value, char *err,
		       size_t err_len)
{
	char *entry;
	if (flag == SVCSPEC_ENV_RM) {
		if (svcspec_check_key(value, err, err_len) != 0)
			return -1;
		svcspec_env_remove(svcspec_lookup(spec, "TaskTemplate", "ContainerSpec"),
				   value);
		return 0;
	}
	json_t *env = svcspec_array(svcspec_container(spec), "Env");
	if (env == NULL)
		return parse_fail(err, err_len, "out of memory");
	if (parse_env(value, &entry, err, err_len) != 0)
		return -1;
	long at = flag == SVCSPEC_ENV_ADD
			  ? svcspec_env_find(env, entry, svcspec_env_key_len(entry))
			  : -1;
	int rc = at >= 0 ? json_array_set_new(env, (size_t)at, json_string(entry))
			 : json_array_append_new(env, json_string(entry));
	free(entry);
	return rc == 0 ? 0 : parse_fail(err, err_len, "out of memory");
}

/* --label-rm, --container-label-rm: removes key from parent[field],
 * dropping the object when that empties it. */
static int svcspec_label_remove(json_t *parent, const char *field,
				const char *key, char *err, size_t err_len)
{
	json_t *labels = json_object_get(parent, field);
	if (svcspec_check_key(key, err, err_len) != 0)
		return -1;
	if (json_object_del(labels, key) == 0 && json_object_size(labels) == 0)
		json_object_del(parent, field);
	return 0;
}

/* --label, --label-add, --container-label(-add): KEY or KEY=VALUE into
 * parent[field]. */
static int svcspec_label_add(json_t *parent, const char *field,
			     const char *value, char *err, size_t err_len)
{
	char *key, *val;
	if (parse_key_value(value, &key, &val, err, err_len) != 0)
		return -1;
	int rc = svcspec_set(svcspec_child(parent, field), key,
			     json_string(val ? val : ""), err, err_len);
	free(key);
	free(val);
	return rc;
}

static bool svcspec_array_has(json_t *array, const char *text)
{
	size_t i;
	json_t *v;
	json_array_foreach(array, i, v) {
		if (json_string_value(v) != NULL &&
		    strcmp(json_string_value(v), text) == 0)
			return true;
	}
	return false;
}

/* --constraint-rm: removes the exact expression; drops the list (and an
 * emptied Placement) when that empties it. */
static void svcspec_constraint_remove(json_t *spec, const char *value)
{
	json_t *task = json_object_get(spec, "TaskTemplate");
	json_t *placement = json_object_get(task, "Placement");
	json_t *list = json_object_get(placement, "Constraints");
	bool removed = false;
	for (size_t i = json_array_size(list); i-- > 0;) {
		const char *c = json_string_value(json_array_get(list, i));
		if (c != NULL && strcmp(c, value) == 0) {
			json_array_remove(list, i);
			removed = true;
		}
	}
	if (!removed || json_array_size(list) > 0)
		return;
	json_object_del(placement, "Constraints");
	if (json_object_size(placement) == 0)
		json_object_del(task, "Placement");
}

static int svcspec_constraint(json_t *spec, int flag, const char *value,
			      char *err, size_t err_len)
{
	if (parse_constraint(value, err, err_len) != 0)
		return -1;
	if (flag == SVCSPEC_CONSTRAINT_RM) {
		svcspec_constraint_remove(spec, value);
		return 0;
	}
	json_t *list = svcspec_array(svcspec_child(svcspec_task(spec), "Placement"),
				     "Constraints");
	if (list == NULL)
		return parse_fail(err, err_len, "out of memory");
	if (flag == SVCSPEC_CONSTRAINT_ADD && svcspec_array_has(list, value))
		return 0;
	return svcspec_append(list, value, err, err_len);
}

/* ------------------------------------------------------------------ */
/* Container: image, args, mounts                                      */

static int svcspec_args(json_t *spec, const char *value, char *err, size_t err_len)
{
	char **words;
	size_t count;
	json_t *container = svcspec_container(spec);
	if (parse_shell_words(value, &words, &count, err, err_len) != 0)
		return -1;
	if (count == 0) {
		parse_words_free(words, count);
		json_object_del(container, "Args");
		return 0;
	}
	json_t *args = json_array();
	int rc = 0;
	for (size_t i = 0; i < count && rc == 0; i++)
		rc = svcspec_append(args, words[i], err, err_len);
	parse_words_free(words, count);
	if (rc != 0) {
		json_decref(args);
		return -1;
	}
	return svcspec_set(container, "Args", args, err, err_len);
}

static int svcspec_mount(json_t *spec, const char *value, char *err, size_t err_len)
{
	struct parse_mount m;
	if (parse_mount(value, &m, err, err_len) != 0)
		return -1;
	json_t *mount = json_pack("{s:s, s:s, s:b}", "Type", m.type, "Target",
				  m.target, "ReadOnly", m.readonly);
	int rc = mount == NULL ? parse_fail(err, err_len, "out of memory") : 0;
	if (rc == 0 && m.source != NULL)
		rc = svcspec_set(mount, "Source", json_string(m.source), err, err_len);
	parse_mount_free(&m);
	json_t *mounts = svcspec_array(svcspec_container(spec), "Mounts");
	if (rc == 0 && (mounts == NULL || json_array_append(mounts, mount) != 0))
		rc = parse_fail(err, err_len, "out of memory");
	json_decref(mount);
	return rc;
}

static int svcspec_duration(json_t *parent, const char *key, const char *value,
			    char *err, size_t err_len)
{
	int64_t ns;
	if (parse_duration_ns(value, &ns, err, err_len) != 0)
		return -1;
	return svcspec_set(parent, key, json_integer(ns), err, err_len);
}

/* A uint64 flag that must also fit the API's int64. */
static int svcspec_count(json_t *parent, const char *key, const char *value,
			 char *err, size_t err_len)
{
	uint64_t n;
	if (parse_uint64(value, &n, err, err_len) != 0)
		return -1;
	if (n > INT64_MAX)
		return parse_fail(err, err_len, "value out of range");
	return svcspec_set(parent, key, json_integer((json_int_t)n), err, err_len);
}

static int svcspec_container_flag(json_t *spec, int flag, const char *value,
				  char *err, size_t err_len)
{
	switch (flag) {
	case SVCSPEC_IMAGE:
		if (value[0] == '\0')
			return parse_fail(err, err_len, "image must not be empty");
		return svcspec_set(svcspec_container(spec), "Image",
				   json_string(value), err, err_len);
	case SVCSPEC_ARGS:
		return svcspec_args(spec, value, err, err_len);
	case SVCSPEC_MOUNT:
		return svcspec_mount(spec, value, err, err_len);
	case SVCSPEC_STOP_GRACE_PERIOD:
		return svcspec_duration(svcspec_container(spec),
					"StopGracePeriod", value, err, err_len);
	case SVCSPEC_CONTAINER_LABEL:
	case SVCSPEC_CONTAINER_LABEL_ADD:
		return svcspec_label_add(svcspec_container(spec), "Labels",
					 value, err, err_len);
	case SVCSPEC_CONTAINER_LABEL_RM:
		return svcspec_label_remove(svcspec_lookup(spec, "TaskTemplate",
							   "ContainerSpec"),
					    "Labels", value, err, err_len);
	default:
		return svcspec_env(spec, flag, value, err, err_len);
	}
}

/* ------------------------------------------------------------------ */
/* Resources and restart policy                                        */

static int svcspec_resource(json_t *spec, int flag, const char *value,
			    char *err, size_t err_len)
{
	bool cpu = flag == SVCSPEC_RESERVE_CPU || flag == SVCSPEC_LIMIT_CPU;
	bool limit = flag == SVCSPEC_LIMIT_CPU || flag == SVCSPEC_LIMIT_MEMORY;
	int64_t amount;
	int rc = cpu ? parse_nano_cpus(value, &amount, err, err_len)
		     : parse_memory_bytes(value, &amount, err, err_len);
	if (rc != 0)
		return -1;
	json_t *group = svcspec_child(svcspec_child(svcspec_task(spec), "Resources"),
				      limit ? "Limits" : "Reservations");
	return svcspec_set(group, cpu ? "NanoCPUs" : "MemoryBytes",
			   json_integer(amount), err, err_len);
}

static int svcspec_restart(json_t *spec, int flag, const char *value, char *err,
			   size_t err_len)
{
	json_t *policy = svcspec_child(svcspec_task(spec), "RestartPolicy");
	switch (flag) {
	case SVCSPEC_RESTART_CONDITION:
		if (parse_restart_condition(value, err, err_len) != 0)
			return -1;
		return svcspec_set(policy, "Condition", json_string(value), err,
				   err_len);
	case SVCSPEC_RESTART_DELAY:
		return svcspec_duration(policy, "Delay", value, err, err_len);
	case SVCSPEC_RESTART_WINDOW:
		return svcspec_duration(policy, "Window", value, err, err_len);
	default:
		return svcspec_count(policy, "MaxAttempts", value, err, err_len);
	}
}

/* ------------------------------------------------------------------ */
/* Update config                                                       */

int svcspec_update_defaults(json_t *spec)
{
	if (json_is_object(json_object_get(spec, "UpdateConfig")))
		return 0;
	json_t *config = json_pack("{s:i, s:i, s:s, s:I, s:f, s:s}",
				   "Parallelism", SVCSPEC_DEFAULT_PARALLELISM,
				   "Delay", 0, "FailureAction", "pause", "Monitor",
				   (json_int_t)SVCSPEC_DEFAULT_MONITOR_NS,
				   "MaxFailureRatio", 0.0, "Order", "stop-first");
	if (config == NULL || json_object_set_new(spec, "UpdateConfig", config) != 0)
		return -1;
	return 0;
}

static int svcspec_update_flag(json_t *spec, int flag, const char *value,
			       char *err, size_t err_len)
{
	double ratio;
	if (svcspec_update_defaults(spec) != 0)
		return parse_fail(err, err_len, "out of memory");
	json_t *config = json_object_get(spec, "UpdateConfig");
	switch (flag) {
	case SVCSPEC_UPDATE_PARALLELISM:
		return svcspec_count(config, "Parallelism", value, err, err_len);
	case SVCSPEC_UPDATE_DELAY:
		return svcspec_duration(config, "Delay", value, err, err_len);
	case SVCSPEC_UPDATE_MONITOR:
		return svcspec_duration(config, "Monitor", value, err, err_len);
	case SVCSPEC_UPDATE_FAILURE_ACTION:
		if (parse_failure_action(value, err, err_len) != 0)
			return -1;
		return svcspec_set(config, "FailureAction", json_string(value),
				   err, err_len);
	case SVCSPEC_UPDATE_ORDER:
		if (parse_update_order(value, err, err_len) != 0)
			return -1;
		return svcspec_set(config, "Order", json_string(value), err, err_len);
	default:
		if (parse_failure_ratio(value, &ratio, err, err_len) != 0)
			return -1;
		return svcspec_set(config, "MaxFailureRatio", json_real(ratio),
				   err, err_len);
	}
}

/* ------------------------------------------------------------------ */
/* Service-level flags                                                 */

static int svcspec_replicas(json_t *spec, const char *value, char *err, size_t err_len)
{
	uint64_t n;
	if (parse_uint64(value, &n, err, err_len) != 0)
		return -1;
	if (n > INT64_MAX)
		return parse_fail(err, err_len, "value out of range");
	json_t *replicated = json_object_get(json_object_get(spec, "Mode"),
					     "Replicated");
	if (!json_is_object(replicated))
		return parse_fail(err, err_len,
				  "replicas can only be used with replicated mode");
	return svcspec_set(replicated, "Replicas", json_integer((json_int_t)n),
			   err, err_len);
}

/* --force: TaskTemplate.ForceUpdate + 1 (unless --force=false). */
static int svcspec_force(json_t *spec, const char *value, char *err, size_t err_len)
{
	bool force = true;
	if (value != NULL && parse_bool(value, &force, err, err_len) != 0)
		return -1;
	if (!force)
		return 0;
	json_t *task = svcspec_task(spec);
	json_int_t count = json_integer_value(json_object_get(task, "ForceUpdate"));
	if (count < 0 || count == INT64_MAX)
		count = 0;
	return svcspec_set(task, "ForceUpdate", json_integer(count + 1), err, err_len);
}

static int svcspec_service_flag(json_t *spec, int flag, const char *value,
				char *err, size_t err_len)
{
	bool on = true;
	switch (flag) {
	case SVCSPEC_REPLICAS:
		return svcspec_replicas(spec, value, err, err_len);
	case SVCSPEC_FORCE:
		return svcspec_force(spec, value, err, err_len);
	case SVCSPEC_REBALANCE:
		if (value != NULL && parse_bool(value, &on, err, err_len) != 0)
			return -1;
		return svcspec_set(spec, "OrchRebalance", json_boolean(on), err,
				   err_len);
	case SVCSPEC_RUNTIME:
		if (value[0] == '\0' ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789_-.") !=
			    strlen(value))
			return parse_fail(err, err_len,
					  "runtime names use a-z, 0-9, '_', '-', '.'");
		return svcspec_set(svcspec_task(spec), "Runtime",
				   json_string(value), err, err_len);
	case SVCSPEC_LABEL_RM:
		return svcspec_label_remove(spec, "Labels", value, err, err_len);
	default:
		return svcspec_label_add(spec, "Labels", value, err, err_len);
	}
}

/* ------------------------------------------------------------------ */

int svcspec_apply(json_t *spec, int flag, const char *value, char *err, size_t err_len)
{
	bool optional = flag == SVCSPEC_REBALANCE || flag == SVCSPEC_FORCE;
	if (!svcspec_is_flag(flag))
		return parse_fail(err, err_len, "not a service spec flag");
	if (value == NULL && !optional)
		return parse_fail(err, err_len, "a value is required");
	if (flag >= SVCSPEC_UPDATE_PARALLELISM && flag <= SVCSPEC_UPDATE_ORDER)
		return svcspec_update_flag(spec, flag, value, err, err_len);
	if (flag >= SVCSPEC_RESERVE_CPU && flag <= SVCSPEC_LIMIT_MEMORY)
		return svcspec_resource(spec, flag, value, err, err_len);
	if (flag >= SVCSPEC_RESTART_CONDITION && flag <= SVCSPEC_RESTART_WINDOW)
		return svcspec_restart(spec, flag, value, err, err_len);
	if (flag >= SVCSPEC_CONSTRAINT && flag <= SVCSPEC_CONSTRAINT_RM)
		return svcspec_constraint(spec, flag, value, err, err_len);
	if (flag == SVCSPEC_LABEL || flag == SVCSPEC_LABEL_ADD ||
	    flag == SVCSPEC_LABEL_RM || flag == SVCSPEC_REPLICAS ||
	    flag == SVCSPEC_FORCE || flag == SVCSPEC_REBALANCE ||
	    flag == SVCSPEC_RUNTIME)
		return svcspec_service_flag(spec, flag, value, err, err_len);
	return svcspec_container_flag(spec, flag, value, err, err_len);
}

int svcspec_check(int flag, const char *value, char *err, size_t err_len)
{
	json_t *scratch = json_pack("{s:{s:{}}}", "Mode", "Replicated");
	if (scratch == NULL)
		return parse_fail(err, err_len, "out of memory");
	int rc = svcspec_apply(scratch, flag, value, err, err_len);
	json_decref(scratch);
	return rc;
}

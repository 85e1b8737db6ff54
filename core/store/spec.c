/*
 * spec.c: validation and normalization of ServiceSpec and NodeSpec (see
 * spec.h). Owns no state.
 */
#include "spec.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return -1;                          \
	} while (0)

static bool valid_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 63 || !isalnum((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

/* An optional member must be of the given JSON type. */
static int check_type(const json_t *obj, const char *key, json_type type,
		      const char *path, char *err, size_t errlen)
{
	static const char *const names[] = { "an object", "an array",
					     "a string",  "an integer",
					     "a number",  "a boolean",
					     "a boolean", "null" };
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	json_type got = json_typeof(v);
	if (type == JSON_TRUE && (got == JSON_TRUE || got == JSON_FALSE))
		return 0;
	if (got != type)
		FAIL("%s%s: must be %s", path, key, names[type]);
	return 0;
}

static int check_nonneg_int(const json_t *obj, const char *key,
			    const char *path, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		FAIL("%s%s: must be a non-negative integer", path, key);
	return 0;
}

static int check_string_array(const json_t *obj, const char *key,
			      const char *path, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	size_t i;
	json_t *item;
	if (!v)
		return 0;
	if (!json_is_array(v))
		FAIL("%s%s: must be an array of strings", path, key);
	json_array_foreach(v, i, item)
		if (!json_is_string(item))
			FAIL("%s%s[%zu]: must be a string", path, key, i);
	return 0;
}

static int check_mode(json_t *spec, char *err, size_t errlen)
{
	json_t *mode = json_object_get(spec, "Mode");
	if (!mode) {
		json_object_set_new(spec, "Mode",
				    json_pack("{s:{s:i}}", "Replicated", "Replicas", 1));
		return 0;
	}
	if (!json_is_object(mode))
		FAIL("Mode: must be an object");
	json_t *replicated = json_object_get(mode, "Replicated");
	json_t *global = json_object_get(mode, "Global");
	if (replicated && global)
		FAIL("Mode: Replicated and Global are mutually exclusive");
	if (global) {
		if (!json_is_object(global))
			FAIL("Mode.Global: must be an object");
		return 0;
	}
	if (!replicated) {
		const char *key = NULL;
		json_t *v;
		json_object_foreach(mode, key, v)
			FAIL("Mode: unknown mode \"%s\" (replicated or global)", key);
		json_object_set_new(mode, "Replicated", json_pack("{s:i}", "Replicas", 1));
		return 0;
	}
	if (!json_is_object(replicated))
		FAIL("Mode.Replicated: must be an object");
	json_t *replicas = json_object_get(replicated, "Replicas");
	if (!replicas)
		json_object_set_new(replicated, "Replicas", json_integer(1));
	else if (!json_is_integer(replicas) || json_integer_value(replicas) < 0)
		FAIL("Mode.Replicated.Replicas: must be a non-negative integer");
	return 0;
}

/* Member key of parent (path names parent) into *out: 1 if an object, 0
 * if absent (*out NULL), -1 if anything else. */
static int member_object(const json_t *parent, const char *path, const char *key,
			 json_t **out, char *err, size_t errlen)
{
	*out = json_object_get(parent, key);
	if (!*out)
		return 0;
	if (!json_is_object(*out))
		FAIL("%s%s: must be an object", path, key);
	return 1;
}

static int check_resources(const json_t *tt, char *err, size_t errlen)
{
	json_t *res, *part;
	int rc = member_object(tt, "TaskTemplate.", "Resources", &res, err, errlen);
	if (rc <= 0)
		return rc;
	const char *parts[] = { "Limits", "Reservations" };
	for (size_t i = 0; i < 2; i++) {
		char path[64];
		snprintf(path, sizeof(path), "TaskTemplate.Resources.%s.", parts[i]);
		if (member_object(res, "TaskTemplate.Resources.", parts[i], &part,
				  err, errlen) < 0 ||
		    check_nonneg_int(part, "NanoCPUs", path, err, errlen) ||
		    check_nonneg_int(part, "MemoryBytes", path, err, errlen))
			return -1;
	}
	return 0;
}

static int check_restart_policy(json_t *tt, char *err, size_t errlen)
{
	json_t *rp;
	const char *path = "TaskTemplate.RestartPolicy.";
	int rc = member_object(tt, "TaskTemplate.", "RestartPolicy", &rp, err, errlen);
	if (rc <= 0)
		return rc;
	json_t *cond = json_object_get(rp, "Condition");
	if (cond) {
		const char *c = json_string_value(cond);
		if (!c || (strcmp(c, "none") && strcmp(c, "on-failure") &&
			   strcmp(c, "any")))
			FAIL("TaskTemplate.RestartPolicy.Condition: must be none, on-failure or any");
	}
	return check_nonneg_int(rp, "Delay", path, err, errlen) ||
	       check_nonneg_int(rp, "MaxAttempts", path, err, errlen) ||
	       check_nonneg_int(rp, "Window", path, err, errlen);
}

static int check_one_of(const json_t *obj, const char *key, const char *path,
			const char *a, const char *b, const char *c, char *err,
			size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	const char *text = json_string_value(v);
	if (!v)
		return 0;
	if (text && (strcmp(text, a) == 0 || strcmp(text, b) == 0 ||
		     (c && strcmp(text, c) == 0)))
		return 0;
	if (c)
		FAIL("%s%s: must be \"%s\", \"%s\" or \"%s\"", path, key, a, b, c);
	FAIL("%s%s: must be \"%s\" or \"%s\"", path, key, a, b);
}

/* UpdateConfig: Parallelism, Delay, FailureAction, Monitor,
 * MaxFailureRatio, Order (defaults are applied by the orchestrator). */
static int check_update_config(const json_t *spec, char *err, size_t errlen)
{
	json_t *uc;
	const char *path = "UpdateConfig.";
	int rc = member_object(spec, "", "UpdateConfig", &uc, err, errlen);
	if (rc <= 0)
		return rc;
	json_t *ratio = json_object_get(uc, "MaxFailureRatio");
	if (ratio && (!json_is_number(ratio) || json_number_value(ratio) < 0 ||
		      json_number_value(ratio) > 1))
		FAIL("UpdateConfig.MaxFailureRatio: must be a number from 0 to 1");
	return check_nonneg_int(uc, "Parallelism", path, err, errlen) ||
	       check_nonneg_int(uc, "Delay", path, err, errlen) ||
	       check_nonneg_int(uc, "Monitor", path, err, errlen) ||
	       check_one_of(uc, "FailureAction", path, "pause", "continue",
			    "rollback", err, errlen) ||
	       check_one_of(uc, "Order", path, "stop-first", "start-first", NULL,
			    err, errlen);
}

static int check_mounts(const json_t *cs, char *err, size_t errlen)
{
	json_t *mounts = json_object_get(cs, "Mounts");
	size_t i;
	json_t *m;
	if (!mounts)
		return 0;
	if (!json_is_array(mounts))
		FAIL("TaskTemplate.ContainerSpec.Mounts: must be an array");
	json_array_foreach(mounts, i, m) {
		const char *type = json_string_value(json_object_get(m, "Type"));
		const char *src = json_string_value(json_object_get(m, "Source"));
		const char *dst = json_string_value(json_object_get(m, "Target"));
		if (type && strcmp(type, "bind") != 0)
			FAIL("TaskTemplate.ContainerSpec.Mounts[%zu].Type: only bind mounts are supported, got \"%s\"",
			     i, type);
		if (!src || src[0] != '/')
			FAIL("TaskTemplate.ContainerSpec.Mounts[%zu].Source: must be an absolute path", i);
		if (!dst || dst[0] != '/')
			FAIL("TaskTemplate.ContainerSpec.Mounts[%zu].Target: must be an absolute path", i);
	}
	return 0;
}

int spec_constraint_check(const char *expr, char *err, size_t errlen)
{
	const char *op = strstr(expr, "==");
	if (!op)
		op = strstr(expr, "!=");
	if (!op)
		FAIL("constraint \"%s\": expected KEY==VALUE or KEY!=VALUE", expr);
	size_t key_len = (size_t)(op - expr);
	while (key_len && expr[key_len - 1] == ' ')
		key_len--;
	const char *keys[] = { "node.id", "node.hostname", "node.role" };
	for (size_t i = 0; i < 3; i++)
		if (key_len == strlen(keys[i]) && strncmp(expr, keys[i], key_len) == 0)
			return 0;
	if (key_len > strlen("node.labels.") &&
	    strncmp(expr, "node.labels.", strlen("node.labels.")) == 0)
		return 0;
	FAIL("constraint \"%s\": unknown key \"%.*s\" (node.id, node.hostname, node.role, node.labels.KEY)",
	     expr, (int)key_len, expr);
}

static int check_placement(const json_t *tt, char *err, size_t errlen)
{
	json_t *placement;
	int rc = member_object(tt, "TaskTemplate.", "Placement", &placement, err, errlen);
	if (rc <= 0)
		return rc;
	if (check_string_array(placement, "Constraints", "TaskTemplate.Placement.",
			       err, errlen))
		return -1;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(placement, "Constraints"), i, c)
		if (spec_constraint_check(json_string_value(c), err, errlen))
			return -1;
	return 0;
}

static int check_container_spec(const json_t *tt, char *err, size_t errlen)
{
	json_t *cs = json_object_get(tt, "ContainerSpec");
	const char *path = "TaskTemplate.ContainerSpec.";
	if (!json_is_object(cs))
		FAIL("TaskTemplate.ContainerSpec: required object missing");
	const char *image = json_string_value(json_object_get(cs, "Image"));
	if (!image || !*image)
		FAIL("TaskTemplate.ContainerSpec.Image: required (the image, or for the process runtime the program)");
	return check_string_array(cs, "Command", path, err, errlen) ||
	       check_string_array(cs, "Args", path, err, errlen) ||
	       check_string_array(cs, "Env", path, err, errlen) ||
	       check_type(cs, "Labels", JSON_OBJECT, path, err, errlen) ||
	       check_nonneg_int(cs, "StopGracePeriod", path, err, errlen) ||
	       check_mounts(cs, err, errlen);
}

int spec_service_check(json_t *spec, char *err, size_t errlen)
{
	if (!json_is_object(spec))
		FAIL("service spec: must be a JSON object");
	json_t *name = json_object_get(spec, "Name");
	if (!json_is_string(name) || !valid_name(json_string_value(name)))
		FAIL("Name: invalid service name \"%s\": 1 to 63 characters from [a-zA-Z0-9_.-], starting with a letter or digit",
		     json_is_string(name) ? json_string_value(name) : "");
	if (check_type(spec, "Labels", JSON_OBJECT, "", err, errlen) ||
	    check_type(spec, "OrchRebalance", JSON_TRUE, "", err, errlen) ||
	    check_mode(spec, err, errlen) ||
	    check_update_config(spec, err, errlen))
		return -1;
	json_t *tt = json_object_get(spec, "TaskTemplate");
	if (!json_is_object(tt))
		FAIL("TaskTemplate: required object missing");
	if (check_type(tt, "Runtime", JSON_STRING, "TaskTemplate.", err, errlen) ||
	    check_nonneg_int(tt, "ForceUpdate", "TaskTemplate.", err, errlen) ||
	    check_container_spec(tt, err, errlen) ||
	    check_resources(tt, err, errlen) ||
	    check_restart_policy(tt, err, errlen) ||
	    check_placement(tt, err, errlen))
		return -1;
	return 0;
}

int spec_node_check(const json_t *spec, char *err, size_t errlen)
{
	if (!json_is_object(spec))
		FAIL("node spec: must be a JSON object");
	const char *role = json_string_value(json_object_get(spec, "Role"));
	const char *avail = json_string_value(json_object_get(spec, "Availability"));
	if (json_object_get(spec, "Role") &&
	    (!role || (strcmp(role, "manager") && strcmp(role, "worker"))))
		FAIL("Role: must be manager or worker");
	if (json_object_get(spec, "Availability") &&
	    (!avail || (strcmp(avail, "active") && strcmp(avail, "pause") &&
			strcmp(avail, "drain"))))
		FAIL("Availability: must be active, pause or drain");
	json_t *labels = json_object_get(spec, "Labels");
	const char *k;
	json_t *v;
	if (labels && !json_is_object(labels))
		FAIL("Labels: must be an object of strings");
	json_object_foreach(labels, k, v)
		if (!json_is_string(v))
			FAIL("Labels.%s: must be a string", k);
	return 0;
}

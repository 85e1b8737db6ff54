/*
 * orch_sdk_sched.c: the SDK's scheduler toolbox (orch_sdk.h):
 * decoding a "schedule" request into C structs with strict type checks,
 * parsing and matching placement constraints, per-node bookkeeping while a
 * batch is placed, and building the reply.
 *
 * State owned here: a decoded request owns its node and task arrays and a
 * reference to the JSON request its strings point into. Nothing else is
 * kept between calls.
 */
#include "sdk_decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --------------------------------------------------------------- decode */

/* {"<service_id>":N...} into tasks_by_service; empty when absent. */
static int dec_service_counts(json_t *obj, struct orch_sched_node *node,
			      const struct sdk_where *w)
{
	json_t *value = json_object_get(obj, "tasks_by_service"), *item;
	struct orch_sched_service_count *entry;
	const char *key;

	if (value == NULL)
		return 0;
	if (!json_is_object(value))
		return sdk_field_error(w, "tasks_by_service", "expected an object");
	if (json_object_size(value) == 0)
		return 0;
	node->tasks_by_service = calloc(json_object_size(value),
					sizeof(*node->tasks_by_service));
	if (node->tasks_by_service == NULL)
		return sdk_field_error(w, "tasks_by_service", "out of memory");
	node->cap_tasks_by_service = json_object_size(value);
	json_object_foreach(value, key, item)
	{
		if (!json_is_integer(item) || json_integer_value(item) < 0)
			return sdk_field_error(w, "tasks_by_service",
					   "counts must be non-negative "
					   "integers");
		entry = &node->tasks_by_service[node->n_tasks_by_service++];
		entry->service_id = key;
		entry->count = json_integer_value(item);
	}
	return 0;
}

static int dec_node(json_t *obj, struct orch_sched_node *node,
		    const struct sdk_where *w)
{
	if (sdk_dec_object(obj, w) ||
	    sdk_dec_string(obj, "id", NULL, &node->id, w) ||
	    sdk_dec_string(obj, "hostname", "", &node->hostname, w) ||
	    sdk_dec_string(obj, "role", "worker", &node->role, w) ||
	    sdk_dec_string(obj, "state", NULL, &node->state, w) ||
	    sdk_dec_string(obj, "availability", NULL, &node->availability, w) ||
	    sdk_dec_labels(obj, "labels", &node->labels, &node->n_labels, w) ||
	    sdk_dec_strings(obj, "runtimes", &node->runtimes, &node->n_runtimes,
			w) ||
	    sdk_dec_resources(obj, "resources", &node->resources, w) ||
	    sdk_dec_resources(obj, "reserved", &node->reserved, w) ||
	    sdk_dec_count(obj, "tasks_total", &node->tasks_total, w) ||
	    dec_service_counts(obj, node, w))
		return -1;
	return 0;
}

static int dec_task(json_t *obj, struct orch_sched_task *task,
		    const struct sdk_where *w)
{
	if (sdk_dec_object(obj, w) ||
	    sdk_dec_string(obj, "id", NULL, &task->id, w) ||
	    sdk_dec_string(obj, "service_id", NULL, &task->service_id, w) ||
	    sdk_dec_string(obj, "runtime", NULL, &task->runtime, w) ||
	    sdk_dec_strings(obj, "constraints", &task->constraints,
			&task->n_constraints, w) ||
	    sdk_dec_resources(obj, "reservations", &task->reservations, w))
		return -1;
	return 0;
}

/* The array `field` of request; allocates *items of n elements of size. */
static int dec_array(json_t *request, const char *field, size_t size,
		     void **items, size_t *n, char *err, size_t errlen)
{
	json_t *value = json_object_get(request, field);

	*items = NULL;
	*n = 0;
	if (!json_is_array(value)) {
		orch_errorf(err, errlen, "%s: expected an array", field);
		return -1;
	}
	if (json_array_size(value) == 0)
		return 0;
	*items = calloc(json_array_size(value), size);
	if (*items == NULL) {
		orch_errorf(err, errlen, "%s: out of memory", field);
		return -1;
	}
	*n = json_array_size(value);
	return 0;
}

int orch_sched_request_decode(json_t *request, struct orch_sched_request *out,
			      char *err, size_t errlen)
{
	struct sdk_where w = {.err = err, .errlen = errlen};
	void *items;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(request)) {
		orch_errorf(err, errlen, "request: expected an object");
		return -1;
	}
	out->json = json_incref(request);
	if (dec_array(request, "nodes", sizeof(*out->nodes), &items,
		      &out->n_nodes, err, errlen))
		goto fail;
	out->nodes = items;
	if (dec_array(request, "tasks", sizeof(*out->tasks), &items,
		      &out->n_tasks, err, errlen))
		goto fail;
	out->tasks = items;
	w.array = "nodes";
	for (w.index = 0; w.index < out->n_nodes; w.index++) {
		i = w.index;
		if (dec_node(json_array_get(json_object_get(request, "nodes"),
					    i),
			     &out->nodes[i], &w))
			goto fail;
	}
	w.array = "tasks";
	for (w.index = 0; w.index < out->n_tasks; w.index++) {
		i = w.index;
		if (dec_task(json_array_get(json_object_get(request, "tasks"),
					    i),
			     &out->tasks[i], &w))
			goto fail;
	}
	return 0;
fail:
	orch_sched_request_free(out);
	return -1;
}

void orch_sched_request_free(struct orch_sched_request *request)
{
	size_t i;

	for (i = 0; i < request->n_nodes; i++) {
		free(request->nodes[i].labels);
		free(request->nodes[i].runtimes);
		free(request->nodes[i].tasks_by_service);
	}
	for (i = 0; i < request->n_tasks; i++)
		free(request->tasks[i].constraints);
	free(request->nodes);
	free(request->tasks);
	json_decref(request->json);
	memset(request, 0, sizeof(*request));
}

/* ---------------------------------------------------------- constraints */

#define SCHED_LABEL_PREFIX "node.labels."

/* [start, end) with blanks trimmed at both ends. */
static void trim(const char **start, const char **end)
{
	while (*start < *end && (**start == ' ' || **start == '\t'))
		(*start)++;
	while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
		(*end)--;
}

/* True when [s, s+len) equals word, ignoring case. */
static bool span_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

static int constraint_key(const char *key, size_t len,
			  struct orch_sched_constraint *out)
{
	size_t prefix = strlen(SCHED_LABEL_PREFIX);

	if (span_is(key, len, "node.id"))
		out->key = ORCH_SCHED_KEY_ID;
	else if (span_is(key, len, "node.hostname"))
		out->key = ORCH_SCHED_KEY_HOSTNAME;
	else if (span_is(key, len, "node.role"))
		out->key = ORCH_SCHED_KEY_ROLE;
	else if (len > prefix &&
		 strncasecmp(key, SCHED_LABEL_PREFIX, prefix) == 0) {
		out->key = ORCH_SCHED_KEY_LABEL;
		out->label = key + prefix;
		out->label_len = len - prefix;
	} else
		return -1;
	return 0;
}

int orch_sched_constraint_parse(const char *expression,
				struct orch_sched_constraint *out, char *err,
				size_t errlen)
{
	const char *eq, *ne, *op, *key, *key_end, *value, *value_end;

	memset(out, 0, sizeof(*out));
	eq = strstr(expression, "==");
	ne = strstr(expression, "!=");
	op = eq == NULL ? ne : (ne == NULL || eq < ne ? eq : ne);
	if (op == NULL) {
		orch_errorf(err, errlen,
			     "invalid constraint \"%s\": no operator (== or !=)",
			     expression);
		return -1;
	}
	out->equal = op == eq;
	key = expression;
	key_end = op;
	trim(&key, &key_end);
	value = op + 2;
	value_end = value + strlen(value);
	trim(&value, &value_end);
	if (constraint_key(key, (size_t)(key_end - key), out)) {
		orch_errorf(err, errlen,
			     "invalid constraint \"%s\": unknown key \"%.*s\"",
			     expression, (int)(key_end - key), key);
		return -1;
	}
	if (value == value_end || strpbrk(value, "=!<>~") != NULL) {
		orch_errorf(err, errlen,
			     "invalid constraint \"%s\": missing or bad value",
			     expression);
		return -1;
	}
	out->value = value;
	out->value_len = (size_t)(value_end - value);
	return 0;
}

/* The node's value for a label ("" when the node lacks it, as in Swarm). */
static const char *node_label(const struct orch_sched_node *node,
			      const char *label, size_t len)
{
	size_t i;

	for (i = 0; i < node->n_labels; i++)
		if (strlen(node->labels[i].key) == len &&
		    strncmp(node->labels[i].key, label, len) == 0)
			return node->labels[i].value;
	return "";
}

bool orch_sched_constraint_match(const struct orch_sched_constraint *c,
				 const struct orch_sched_node *node)
{
	const char *actual;
	bool same;

	switch (c->key) {
	case ORCH_SCHED_KEY_ID:
		actual = node->id;
		break;
	case ORCH_SCHED_KEY_HOSTNAME:
		actual = node->hostname;
		break;
	case ORCH_SCHED_KEY_ROLE:
		actual = node->role;
		break;
	case ORCH_SCHED_KEY_LABEL:
		actual = node_label(node, c->label, c->label_len);
		break;
	default:
		return false;
	}
	same = span_is(c->value, c->value_len, actual);
	return c->equal ? same : !same;
}

int orch_sched_constraints_match(const struct orch_sched_task *task,
				 const struct orch_sched_node *node,
				 bool *match, char *err, size_t errlen)
{
	struct orch_sched_constraint c;
	size_t i;

	*match = true;
	for (i = 0; i < task->n_constraints; i++) {
		if (orch_sched_constraint_parse(task->constraints[i], &c, err,
						errlen))
			return -1;
		if (!orch_sched_constraint_match(&c, node))
			*match = false;
	}
	return 0;
}

/* ------------------------------------------------------------ node state */

bool orch_sched_node_available(const struct orch_sched_node *node)
{
	return strcmp(node->state, "ready") == 0 &&
	       strcmp(node->availability, "active") == 0;
}

bool orch_sched_node_offers_runtime(const struct orch_sched_node *node,
				    const char *runtime)
{
	size_t i;

	if (runtime == NULL || runtime[0] == '\0')
		return node->n_runtimes > 0; /* the node's default is one of them */

	for (i = 0; i < node->n_runtimes; i++)
		if (strcmp(node->runtimes[i], runtime) == 0)
			return true;
	return false;
}

static int64_t unreserved(int64_t capacity, int64_t reserved)
{
	return capacity > reserved ? capacity - reserved : 0;
}

struct orch_sched_resources
orch_sched_node_free(const struct orch_sched_node *node)
{
	struct orch_sched_resources free_now = {
		.nano_cpus = unreserved(node->resources.nano_cpus,
					node->reserved.nano_cpus),
		.memory_bytes = unreserved(node->resources.memory_bytes,
					   node->reserved.memory_bytes),
	};

	return free_now;
}

static struct orch_sched_service_count *
service_entry(const struct orch_sched_node *node, const char *service_id)
{
	size_t i;

	for (i = 0; i < node->n_tasks_by_service; i++)
		if (strcmp(node->tasks_by_service[i].service_id, service_id) ==
		    0)
			return &node->tasks_by_service[i];
	return NULL;
}

int64_t orch_sched_node_service_tasks(const struct orch_sched_node *node,
				      const char *service_id)
{
	struct orch_sched_service_count *entry;

	entry = service_entry(node, service_id);
	return entry == NULL ? 0 : entry->count;
}

/* Appends a zero count for service_id; NULL when out of memory. */
static struct orch_sched_service_count *
service_entry_add(struct orch_sched_node *node, const char *service_id)
{
	struct orch_sched_service_count *grown, *entry;
	size_t cap;

	if (node->n_tasks_by_service == node->cap_tasks_by_service) {
		cap = node->cap_tasks_by_service ? 2 * node->cap_tasks_by_service
						 : 4;
		grown = realloc(node->tasks_by_service, cap * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		node->tasks_by_service = grown;
		node->cap_tasks_by_service = cap;
	}
	entry = &node->tasks_by_service[node->n_tasks_by_service++];
	entry->service_id = service_id;
	entry->count = 0;
	return entry;
}

int orch_sched_node_commit(struct orch_sched_node *node,
			   const struct orch_sched_task *task)
{
	struct orch_sched_service_count *entry;

	entry = service_entry(node, task->service_id);
	if (entry == NULL)
		entry = service_entry_add(node, task->service_id);
	if (entry == NULL)
		return -1;
	entry->count++;
	node->tasks_total++;
	node->reserved.nano_cpus += task->reservations.nano_cpus;
	node->reserved.memory_bytes += task->reservations.memory_bytes;
	return 0;
}

/* ----------------------------------------------------------------- reply */

json_t *orch_sched_reply_new(void)
{
	return json_pack("{s:[], s:[]}", "placements", "unplaced");
}

int orch_sched_reply_place(json_t *reply, const char *task_id,
			   const char *node_id)
{
	json_t *entry;

	entry = json_pack("{s:s, s:s}", "task_id", task_id, "node_id",
			  node_id);
	if (entry == NULL)
		return -1;
	return json_array_append_new(json_object_get(reply, "placements"),
				     entry);
}

int orch_sched_reply_unplaced(json_t *reply, const char *task_id,
			      const char *fmt, ...)
{
	char reason[1024];
	json_t *entry;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	entry = json_pack("{s:s, s:s}", "task_id", task_id, "error", reason);
	if (entry == NULL)
		return -1;
	return json_array_append_new(json_object_get(reply, "unplaced"),
				     entry);
}

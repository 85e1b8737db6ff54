/*
 * spread.c: the "spread" scheduler plugin, Swarm's default strategy.
 *
 * For each task of a schedule request, in order: drop the nodes that cannot
 * take it (not ready or not active, runtime not offered, not enough
 * unreserved CPU or memory, constraints not satisfied; each node is counted
 * under the first filter it fails), then pick the node with the fewest
 * tasks of the task's service, ties broken by the fewest tasks in total and
 * then by node id, so that the result is deterministic. The pick is counted
 * (tasks and reservations) before the next task of the batch is placed. A
 * task that fits nowhere is unplaced with Swarm's kind of reason:
 * "no suitable node (insufficient memory on 1 node; scheduling constraints
 * not satisfied on 2 nodes)".
 *
 * State owned here: the request server (one per init). Every request is
 * decoded into its own structs, so concurrent requests share nothing.
 */
#include "orch_sdk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPREAD_NAME "spread"
#define SPREAD_WORKERS 2

/* Why nodes were filtered out for one task, in filter order. */
enum spread_filter {
	SPREAD_UNAVAILABLE,
	SPREAD_RUNTIME,
	SPREAD_CPU,
	SPREAD_MEMORY,
	SPREAD_CONSTRAINTS,
	SPREAD_PASSED,
};

struct spread_counts {
	size_t filtered[SPREAD_PASSED];
};

/* The first filter node fails for task (SPREAD_PASSED when none). */
static enum spread_filter
spread_filter(const struct orch_sched_node *node,
	      const struct orch_sched_task *task,
	      const struct orch_sched_constraint *constraints)
{
	struct orch_sched_resources room;
	size_t i;

	if (!orch_sched_node_available(node))
		return SPREAD_UNAVAILABLE;
	if (!orch_sched_node_offers_runtime(node, task->runtime))
		return SPREAD_RUNTIME;
	room = orch_sched_node_free(node);
	if (task->reservations.nano_cpus > room.nano_cpus)
		return SPREAD_CPU;
	if (task->reservations.memory_bytes > room.memory_bytes)
		return SPREAD_MEMORY;
	for (i = 0; i < task->n_constraints; i++)
		if (!orch_sched_constraint_match(&constraints[i], node))
			return SPREAD_CONSTRAINTS;
	return SPREAD_PASSED;
}

/* True when a is a better spread choice than b for service_id. */
static bool spread_better(const struct orch_sched_node *a,
			  const struct orch_sched_node *b,
			  const char *service_id)
{
	int64_t sa = orch_sched_node_service_tasks(a, service_id);
	int64_t sb = orch_sched_node_service_tasks(b, service_id);

	if (sa != sb)
		return sa < sb;
	if (a->tasks_total != b->tasks_total)
		return a->tasks_total < b->tasks_total;
	return strcmp(a->id, b->id) < 0;
}

/* Appends "<what> on N node(s)" to the explanation. */
static void explain_one(char *buf, size_t size, size_t nodes,
			const char *what, const char *on)
{
	size_t used = strlen(buf);

	if (nodes == 0 || used >= size)
		return;
	snprintf(buf + used, size - used, "%s%s %s %zu node%s",
		 used ? "; " : "", what, on, nodes, nodes == 1 ? "" : "s");
}

/* Swarm-style reason for an unplaceable task. */
static void spread_explain(const struct spread_counts *c,
			   const struct orch_sched_task *task, char *buf,
			   size_t size)
{
	char runtime[128];

	buf[0] = '\0';
	snprintf(runtime, sizeof(runtime), "runtime %s", task->runtime);
	if (c->filtered[SPREAD_UNAVAILABLE] > 0)
		snprintf(buf, size, "%zu node%s not available for new tasks",
			 c->filtered[SPREAD_UNAVAILABLE],
			 c->filtered[SPREAD_UNAVAILABLE] == 1 ? "" : "s");
	explain_one(buf, size, c->filtered[SPREAD_RUNTIME], runtime,
		    "not offered by");
	explain_one(buf, size, c->filtered[SPREAD_CPU], "insufficient cpu",
		    "on");
	explain_one(buf, size, c->filtered[SPREAD_MEMORY],
		    "insufficient memory", "on");
	explain_one(buf, size, c->filtered[SPREAD_CONSTRAINTS],
		    "scheduling constraints not satisfied", "on");
	if (buf[0] == '\0')
		snprintf(buf, size, "no nodes");
}

/* Parses every constraint of task; -1 with err on the first bad one. */
static int parse_constraints(const struct orch_sched_task *task,
			     struct orch_sched_constraint **out, char *err,
			     size_t errlen)
{
	size_t i;

	*out = NULL;
	if (task->n_constraints == 0)
		return 0;
	*out = calloc(task->n_constraints, sizeof(**out));
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < task->n_constraints; i++) {
		if (orch_sched_constraint_parse(task->constraints[i],
						&(*out)[i], err, errlen)) {
			free(*out);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}

/* Places one task: adds it to reply's placements or unplaced. */
static int spread_place(struct orch_sched_request *req,
			const struct orch_sched_task *task, json_t *reply)
{
	struct orch_sched_constraint *constraints;
	struct spread_counts counts = {{0}};
	struct orch_sched_node *best = NULL, *node;
	enum spread_filter verdict;
	char why[512];
	size_t i;

	if (parse_constraints(task, &constraints, why, sizeof(why)))
		return orch_sched_reply_unplaced(reply, task->id, "%s", why);
	for (i = 0; i < req->n_nodes; i++) {
		node = &req->nodes[i];
		verdict = spread_filter(node, task, constraints);
		if (verdict != SPREAD_PASSED)
			counts.filtered[verdict]++;
		else if (best == NULL ||
			 spread_better(node, best, task->service_id))
			best = node;
	}
	free(constraints);
	if (best == NULL) {
		spread_explain(&counts, task, why, sizeof(why));
		return orch_sched_reply_unplaced(reply, task->id,
						 "no suitable node (%s)", why);
	}
	if (orch_sched_node_commit(best, task) != 0)
		return -1;
	return orch_sched_reply_place(reply, task->id, best->id);
}

static json_t *spread_schedule(json_t *request)
{
	struct orch_sched_request req;
	char err[512];
	json_t *reply;
	size_t i;

	if (orch_sched_request_decode(request, &req, err, sizeof(err)))
		return orch_sdk_error("bad schedule request: %s", err);
	reply = orch_sched_reply_new();
	for (i = 0; reply != NULL && i < req.n_tasks; i++) {
		if (spread_place(&req, &req.tasks[i], reply) != 0) {
			json_decref(reply);
			reply = orch_sdk_error("out of memory while placing "
					       "task %s",
					       req.tasks[i].id);
			break;
		}
	}
	orch_sched_request_free(&req);
	return reply;
}

static json_t *spread_handle(void *ctx, const char *op, json_t *request)
{
	(void)ctx;
	if (strcmp(op, ORCH_OP_SCHEDULE) == 0)
		return spread_schedule(request);
	if (strcmp(op, ORCH_OP_INFO) == 0)
		return json_pack("{s:s, s:s, s:b}", "name", SPREAD_NAME,
				 "kind", "scheduler", "available", 1);
	return orch_sdk_error("scheduler %s does not know op \"%s\"",
			      SPREAD_NAME, op);
}

static int spread_init(const struct orch_host *host, void **state,
		       char *err, size_t errlen)
{
	struct orch_sdk_server *server;

	if (orch_sdk_server_start(host->request_url, SPREAD_WORKERS,
				  spread_handle, NULL, &server, err, errlen))
		return -1;
	*state = server;
	return 0;
}

static void spread_fini(void *state)
{
	orch_sdk_server_stop(state);
}

static const struct orch_plugin spread_plugin = {
	.abi_version = ORCH_PLUGIN_ABI_VERSION,
	.kind = ORCH_PLUGIN_SCHEDULER,
	.name = SPREAD_NAME,
	.version = "1.0.0",
	.init = spread_init,
	.fini = spread_fini,
};

const struct orch_plugin *orch_plugin_entry(void)
{
	return &spread_plugin;
}

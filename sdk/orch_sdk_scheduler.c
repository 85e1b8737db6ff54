/*
 * orch_sdk_scheduler.c: the scheduler helper (orch_sdk.h). It serves a
 * placement plugin's request_url, and for every task of a "schedule" batch
 * filters the nodes (available, runtime, CPU, memory, constraints; each
 * node counted under the first filter it fails, for the reason of an
 * unplaced task), hands the nodes that fit to the plugin's pick, records
 * the choice on the node and builds the reply.
 *
 * State owned here: struct sched_server (a copy of the plugin's
 * struct orch_scheduler and the request server) from start to stop. Each
 * request is decoded into its own structs; requests share nothing.
 */
#include "sdk_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why nodes were filtered out for one task, in filter order. */
enum sched_filter {
	SCHED_UNAVAILABLE,
	SCHED_RUNTIME,
	SCHED_CPU,
	SCHED_MEMORY,
	SCHED_CONSTRAINTS,
	SCHED_PASSED,
};

struct sched_server {
	struct orch_scheduler scheduler; /* the fields of its version */
	char name[64];
	struct orch_sdk_server *server;
};

/* One task being placed: its parsed constraints and what the filters
 * found. */
struct sched_pass {
	const struct orch_sched_task *task;
	struct orch_sched_constraint *constraints;
	size_t filtered[SCHED_PASSED];
	struct orch_sched_node **fit;
	size_t n_fit;
};

/* The first filter node fails (SCHED_PASSED when none). */
static enum sched_filter sched_filter(const struct orch_sched_node *node,
				      const struct sched_pass *pass)
{
	const struct orch_sched_task *task = pass->task;
	struct orch_sched_resources room;
	size_t i;

	if (!orch_sched_node_available(node))
		return SCHED_UNAVAILABLE;
	if (!orch_sched_node_offers_runtime(node, task->runtime))
		return SCHED_RUNTIME;
	room = orch_sched_node_free(node);
	if (task->reservations.nano_cpus > room.nano_cpus)
		return SCHED_CPU;
	if (task->reservations.memory_bytes > room.memory_bytes)
		return SCHED_MEMORY;
	for (i = 0; i < task->n_constraints; i++)
		if (!orch_sched_constraint_match(&pass->constraints[i], node))
			return SCHED_CONSTRAINTS;
	return SCHED_PASSED;
}

/* Appends "<what> <on> N node(s)" to the explanation. */
static void explain_one(char *buf, size_t size, size_t nodes,
			const char *what, const char *on)
{
	size_t used = strlen(buf);

	if (nodes == 0 || used >= size)
		return;
	snprintf(buf + used, size - used, "%s%s %s %zu node%s",
		 used ? "; " : "", what, on, nodes, nodes == 1 ? "" : "s");
}

/* Swarm-style reason why no node fits the task. */
static void sched_explain(const struct sched_pass *pass, char *buf,
			  size_t size)
{
	const size_t *n = pass->filtered;
	char runtime[128];

	buf[0] = '\0';
	snprintf(runtime, sizeof(runtime), "runtime %s", pass->task->runtime);
	if (n[SCHED_UNAVAILABLE] > 0)
		snprintf(buf, size, "%zu node%s not available for new tasks",
			 n[SCHED_UNAVAILABLE],
			 n[SCHED_UNAVAILABLE] == 1 ? "" : "s");
	explain_one(buf, size, n[SCHED_RUNTIME], runtime, "not offered by");
	explain_one(buf, size, n[SCHED_CPU], "insufficient cpu", "on");
	explain_one(buf, size, n[SCHED_MEMORY], "insufficient memory", "on");
	explain_one(buf, size, n[SCHED_CONSTRAINTS],
		    "scheduling constraints not satisfied", "on");
	if (buf[0] == '\0')
		snprintf(buf, size, "no nodes");
}

/* Parses every constraint of the task; -1 with err on the first bad one. */
static int sched_parse_constraints(struct sched_pass *pass, char *err,
				   size_t errlen)
{
	const struct orch_sched_task *task = pass->task;
	size_t i;

	if (task->n_constraints == 0)
		return 0;
	pass->constraints = calloc(task->n_constraints,
				   sizeof(*pass->constraints));
	if (pass->constraints == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < task->n_constraints; i++)
		if (orch_sched_constraint_parse(task->constraints[i],
						&pass->constraints[i], err,
						errlen))
			return -1;
	return 0;
}

/* Places one task: adds it to reply's placements or unplaced. fit has
 * room for every node of the request. Returns -1 when out of memory. */
static int sched_place(const struct sched_server *s,
		       struct orch_sched_request *req,
		       const struct orch_sched_task *task,
		       struct orch_sched_node **fit, json_t *reply)
{
	struct sched_pass pass = {.task = task, .fit = fit};
	struct orch_sched_node *chosen;
	enum sched_filter verdict;
	char why[512];
	size_t i;

	if (sched_parse_constraints(&pass, why, sizeof(why))) {
		free(pass.constraints);
		return orch_sched_reply_unplaced(reply, task->id, "%s", why);
	}
	for (i = 0; i < req->n_nodes; i++) {
		verdict = sched_filter(&req->nodes[i], &pass);
		if (verdict == SCHED_PASSED)
			pass.fit[pass.n_fit++] = &req->nodes[i];
		else
			pass.filtered[verdict]++;
	}
	free(pass.constraints);
	if (pass.n_fit == 0) {
		sched_explain(&pass, why, sizeof(why));
		return orch_sched_reply_unplaced(reply, task->id,
						 "no suitable node (%s)", why);
	}
	chosen = s->scheduler.pick(s->scheduler.ctx, task, pass.fit,
				   pass.n_fit);
	if (chosen == NULL)
		return orch_sched_reply_unplaced(
			reply, task->id,
			"no suitable node (%s chose none of %zu fitting "
			"node%s)",
			s->name, pass.n_fit, pass.n_fit == 1 ? "" : "s");
	if (orch_sched_node_commit(chosen, task) != 0)
		return -1;
	return orch_sched_reply_place(reply, task->id, chosen->id);
}

static json_t *sched_schedule(const struct sched_server *s, json_t *request)
{
	struct orch_sched_request req;
	struct orch_sched_node **fit;
	char err[512];
	json_t *reply;
	size_t i;

	if (orch_sched_request_decode(request, &req, err, sizeof(err)))
		return orch_sdk_error("bad schedule request: %s", err);
	fit = calloc(req.n_nodes + 1, sizeof(*fit));
	reply = fit != NULL ? orch_sched_reply_new() : NULL;
	for (i = 0; reply != NULL && i < req.n_tasks; i++) {
		if (sched_place(s, &req, &req.tasks[i], fit, reply) != 0) {
			json_decref(reply);
			reply = NULL;
		}
	}
	if (reply == NULL)
		reply = orch_sdk_error("out of memory while placing %zu tasks",
				       req.n_tasks);
	free(fit);
	orch_sched_request_free(&req);
	return reply;
}

static json_t *sched_handle(void *ctx, const char *op, json_t *request)
{
	const struct sched_server *s = ctx;

	if (strcmp(op, ORCH_OP_SCHEDULE) == 0)
		return sched_schedule(s, request);
	if (strcmp(op, ORCH_OP_INFO) == 0)
		return json_pack("{s:s, s:s, s:b}", "name", s->name, "kind",
				 "scheduler", "available", 1);
	return orch_sdk_error("scheduler %s does not know op \"%s\"", s->name,
			      op);
}

int orch_scheduler_start(const struct orch_host *host,
			 const struct orch_scheduler *scheduler, void **state,
			 char *err, size_t errlen)
{
	struct sched_server *s;

	*state = NULL;
	if (scheduler == NULL || scheduler->version < 1 ||
	    scheduler->pick == NULL) {
		orch_errorf(err, errlen, "orch_scheduler_start: %s",
			   scheduler == NULL || scheduler->version < 1
				   ? "struct orch_scheduler has no version"
				   : "no pick function");
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		orch_errorf(err, errlen, "out of memory");
		return -1;
	}
	/* Version 1 is every field of today's struct; a later version adds
	 * fields that are copied here only when scheduler->version has them. */
	s->scheduler = *scheduler;
	snprintf(s->name, sizeof(s->name), "%s",
		 host->plugin_name ? host->plugin_name : "scheduler");
	if (orch_sdk_server_start(host->request_url,
				  scheduler->workers ? scheduler->workers : 1,
				  sched_handle, s, &s->server, err, errlen)) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

void orch_scheduler_stop(void *state)
{
	struct sched_server *s = state;

	if (s == NULL)
		return;
	orch_sdk_server_stop(s->server);
	free(s);
}

/*
 * spread.c: the "spread" scheduler plugin, Swarm's default strategy.
 *
 * The SDK's scheduler helper does the serving, the filters (ready and
 * active, runtime offered, enough unreserved CPU and memory, constraints),
 * the bookkeeping of a batch and Swarm's kind of reason for a task that
 * fits nowhere. This file only picks: among the nodes that fit a task, the
 * one with the fewest tasks of the task's service, ties broken by the
 * fewest tasks in total and then by node id, so that the result is
 * deterministic.
 *
 * State owned here: none (the helper's server lives in the plugin state).
 */
#include "orch_sdk.h"

#include <string.h>

#define SPREAD_WORKERS 2

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

static struct orch_sched_node *spread_pick(void *ctx,
					   const struct orch_sched_task *task,
					   struct orch_sched_node *const *fit,
					   size_t n_fit)
{
	struct orch_sched_node *best = fit[0];
	size_t i;

	(void)ctx;
	for (i = 1; i < n_fit; i++)
		if (spread_better(fit[i], best, task->service_id))
			best = fit[i];
	return best;
}

static const struct orch_scheduler spread_scheduler = {
	.version = ORCH_SCHEDULER_VERSION,
	.workers = SPREAD_WORKERS,
	.pick = spread_pick,
};

static int spread_init(const struct orch_host *host, void **state,
		       char *err, size_t errlen)
{
	return orch_scheduler_start(host, &spread_scheduler, state, err,
				    errlen);
}

ORCH_PLUGIN_DEFINE(.kind = ORCH_PLUGIN_SCHEDULER,
		   .name = "spread",
		   .version = "1.0.0",
		   .init = spread_init,
		   .fini = orch_scheduler_stop);

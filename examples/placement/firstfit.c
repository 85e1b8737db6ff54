/*
 * firstfit.c: a minimal custom placement plugin for orchd, meant to be
 * copied. It places every task on the FIRST node, in the order the core
 * lists them, that is ready and active, offers the task's runtime, has room
 * for its reservations and satisfies its constraints. The SDK's scheduler
 * helper does all of that filtering, the serving and the bookkeeping; this
 * file only picks. Build it out of tree and drop it into --plugins:
 *
 *   cc -shared -fPIC -fvisibility=hidden -o firstfit.so firstfit.c \
 *      $(pkg-config --cflags --libs orch-sdk)
 *
 * State: none of its own (the helper's server is the plugin state).
 */
#include <orch_sdk.h>

/* fit holds every node that can take task, in the core's order. */
static struct orch_sched_node *firstfit_pick(void *ctx,
					     const struct orch_sched_task *task,
					     struct orch_sched_node *const *fit,
					     size_t n_fit)
{
	(void)ctx;
	(void)task;
	(void)n_fit;
	return fit[0];
}

static const struct orch_scheduler firstfit = {
	.version = ORCH_SCHEDULER_VERSION,
	.pick = firstfit_pick,
};

static int firstfit_init(const struct orch_host *host, void **state,
			 char *err, size_t errlen)
{
	return orch_scheduler_start(host, &firstfit, state, err, errlen);
}

/* The descriptor, and orch_plugin_entry: the one symbol orchd looks for. */
ORCH_PLUGIN_DEFINE(.kind = ORCH_PLUGIN_SCHEDULER,
		   .name = "firstfit",
		   .version = "1.0",
		   .init = firstfit_init,
		   .fini = orch_scheduler_stop);

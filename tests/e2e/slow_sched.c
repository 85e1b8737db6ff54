/*
 * slow_sched.c: a scheduler plugin for tests/e2e/hung_scheduler.sh that
 * hangs. While the file named by $ORCH_SLOWSCHED_FLAG exists, each schedule
 * request sleeps for 30 s (or until the file goes away) before it answers;
 * then it places each task on the first available node that offers the
 * task's runtime and has room. Built as build/tests/plugins/slowsched.so,
 * outside the plugin directory the other tests load.
 *
 * State: the SDK request server started by init, and the flag's path.
 */
#include <orch_sdk.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOWSCHED_HANG_S 30

static const char *flag_path(void)
{
	const char *p = getenv("ORCH_SLOWSCHED_FLAG");
	return p && *p ? p : NULL;
}

/* Sleeps while the flag exists, SLOWSCHED_HANG_S at most. */
static void hang_while_flagged(void)
{
	const char *flag = flag_path();
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	for (int i = 0; flag && i < SLOWSCHED_HANG_S * 10 && access(flag, F_OK) == 0; i++)
		nanosleep(&tick, NULL);
}

static bool fits(const struct orch_sched_node *node, const struct orch_sched_task *task)
{
	struct orch_sched_resources room = orch_sched_node_free(node);
	return orch_sched_node_available(node) &&
	       orch_sched_node_offers_runtime(node, task->runtime) &&
	       task->reservations.nano_cpus <= room.nano_cpus &&
	       task->reservations.memory_bytes <= room.memory_bytes;
}

static json_t *schedule(json_t *request)
{
	struct orch_sched_request req;
	char err[256];
	if (orch_sched_request_decode(request, &req, err, sizeof(err)))
		return orch_sdk_error("bad schedule request: %s", err);
	json_t *reply = orch_sched_reply_new();
	for (size_t t = 0; reply && t < req.n_tasks; t++) {
		const struct orch_sched_task *task = &req.tasks[t];
		size_t n = 0;
		while (n < req.n_nodes && !fits(&req.nodes[n], task))
			n++;
		int rc = n < req.n_nodes
				 ? (orch_sched_node_commit(&req.nodes[n], task) ||
				    orch_sched_reply_place(reply, task->id, req.nodes[n].id))
				 : orch_sched_reply_unplaced(reply, task->id, "no suitable node");
		if (rc) {
			json_decref(reply);
			reply = orch_sdk_error("out of memory");
		}
	}
	orch_sched_request_free(&req);
	return reply;
}

static json_t *handle(void *ctx, const char *op, json_t *request)
{
	(void)ctx;
	if (strcmp(op, ORCH_OP_SCHEDULE) == 0) {
		hang_while_flagged();
		return schedule(request);
	}
	if (strcmp(op, ORCH_OP_INFO) == 0)
		return json_pack("{s:s,s:s,s:b}", "name", "slowsched", "kind", "scheduler",
				 "available", 1);
	return orch_sdk_error("slowsched does not know op \"%s\"", op);
}

static int slowsched_init(const struct orch_host *host, void **state, char *err,
			  size_t errlen)
{
	struct orch_sdk_server *server;
	/* Several workers: requests that time out in the core do not queue
	 * behind one that still sleeps. */
	if (orch_sdk_server_start(host->request_url, 4, handle, NULL, &server, err, errlen))
		return -1;
	*state = server;
	return 0;
}

static void slowsched_fini(void *state)
{
	orch_sdk_server_stop(state);
}

static const struct orch_plugin slowsched = {
	.abi_version = ORCH_PLUGIN_ABI_VERSION,
	.kind = ORCH_PLUGIN_SCHEDULER,
	.name = "slowsched",
	.version = "1.0",
	.init = slowsched_init,
	.fini = slowsched_fini,
};

ORCH_PLUGIN_EXPORT const struct orch_plugin *orch_plugin_entry(void)
{
	return &slowsched;
}

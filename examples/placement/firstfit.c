/*
 * firstfit.c: a minimal custom placement plugin for orchd, meant to be
 * copied. It places every task on the FIRST node, in the order the core
 * lists them, that is ready and active, offers the task's runtime, has room
 * for its reservations and satisfies its constraints. Build it out of tree:
 *
 *   cc -shared -fPIC -o firstfit.so firstfit.c \
 *      $(pkg-config --cflags --libs orch-sdk)
 *
 * and drop firstfit.so into orchd's --plugins directory.
 *
 * State: the SDK request server started by init. Each request is decoded
 * on its own, so nothing is shared between requests.
 */
#include <orch_sdk.h>

#include <string.h>

/* True when task can go on node. On a bad constraint, fills err and
 * returns false. */
static bool fits(const struct orch_sched_node *node,
		 const struct orch_sched_task *task, char *err, size_t errlen)
{
	struct orch_sched_resources room = orch_sched_node_free(node);
	bool match = false;

	if (!orch_sched_node_available(node) ||
	    !orch_sched_node_offers_runtime(node, task->runtime) ||
	    task->reservations.nano_cpus > room.nano_cpus ||
	    task->reservations.memory_bytes > room.memory_bytes)
		return false;
	if (orch_sched_constraints_match(task, node, &match, err, errlen))
		return false;
	return match;
}

/* Places one task and records it in reply. Returns 0, or -1 when out of
 * memory. */
static int place(struct orch_sched_request *req,
		 const struct orch_sched_task *task, json_t *reply)
{
	char err[256] = "";
	size_t i;

	for (i = 0; i < req->n_nodes; i++) {
		if (fits(&req->nodes[i], task, err, sizeof(err))) {
			/* Count the task so that later tasks of the batch
			 * see the node's reservations. */
			if (orch_sched_node_commit(&req->nodes[i], task))
				return -1;
			return orch_sched_reply_place(reply, task->id,
						      req->nodes[i].id);
		}
		if (err[0] != '\0') /* an invalid constraint */
			return orch_sched_reply_unplaced(reply, task->id,
							 "%s", err);
	}
	return orch_sched_reply_unplaced(reply, task->id, "no suitable node");
}

static json_t *schedule(json_t *request)
{
	struct orch_sched_request req;
	char err[256];
	json_t *reply;
	size_t i;

	if (orch_sched_request_decode(request, &req, err, sizeof(err)))
		return orch_sdk_error("bad schedule request: %s", err);
	reply = orch_sched_reply_new();
	for (i = 0; reply != NULL && i < req.n_tasks; i++) {
		if (place(&req, &req.tasks[i], reply)) {
			json_decref(reply);
			reply = orch_sdk_error("out of memory");
		}
	}
	orch_sched_request_free(&req);
	return reply;
}

/* Called by the SDK for every request of the core. */
static json_t *handle(void *ctx, const char *op, json_t *request)
{
	(void)ctx;
	if (strcmp(op, ORCH_OP_SCHEDULE) == 0)
		return schedule(request);
	if (strcmp(op, ORCH_OP_INFO) == 0)
		return json_pack("{s:s, s:s, s:b}", "name", "firstfit", "kind",
				 "scheduler", "available", 1);
	return orch_sdk_error("firstfit does not know op \"%s\"", op);
}

static int firstfit_init(const struct orch_host *host, void **state,
			 char *err, size_t errlen)
{
	struct orch_sdk_server *server;

	if (orch_sdk_server_start(host->request_url, 1, handle, NULL, &server,
				  err, errlen))
		return -1;
	*state = server;
	return 0;
}

static void firstfit_fini(void *state)
{
	orch_sdk_server_stop(state);
}

static const struct orch_plugin firstfit = {
	.abi_version = ORCH_PLUGIN_ABI_VERSION,
	.kind = ORCH_PLUGIN_SCHEDULER,
	.name = "firstfit",
	.version = "1.0",
	.init = firstfit_init,
	.fini = firstfit_fini,
};

/* The one symbol orchd looks for. */
const struct orch_plugin *orch_plugin_entry(void)
{
	return &firstfit;
}

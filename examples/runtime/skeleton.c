/*
 * skeleton.c: the smallest orchd runtime plugin, to copy and grow. A task's
 * "image" is a program (found in PATH), run with its command and args as a
 * child process by the SDK's child helper (orch_children_*), which reports
 * it running and how it ended, and stops it (SIGTERM, SIGKILL after the
 * grace). Replace the callbacks' bodies to drive something else; child.c
 * beside it adds logs and an option. Build it out of tree:
 *   cc -shared -fPIC -fvisibility=hidden -o skeleton.so skeleton.c \
 *      $(pkg-config --cflags --libs orch-sdk)
 * State: struct skeleton from init to fini.
 */
#include <orch_sdk.h>

#include <stdio.h>
#include <stdlib.h>

struct skeleton {
	struct orch_runtime_server *server;
	struct orch_children *tasks;
};

static int sk_start(void *ctx, const struct orch_rt_task *task, char *err,
		    size_t errlen)
{
	struct skeleton *sk = ctx;

	return orch_children_start(sk->tasks, sk->server, task, NULL, err,
				   errlen);
}

static int sk_stop(void *ctx, const char *id, int64_t grace_ms, char *err,
		   size_t errlen)
{
	return orch_children_stop(((struct skeleton *)ctx)->tasks, id,
				  grace_ms, err, errlen);
}

static int sk_remove(void *ctx, const char *id, char *err, size_t errlen)
{
	return orch_children_remove(((struct skeleton *)ctx)->tasks, id, err,
				    errlen);
}

static int sk_list(void *ctx, struct orch_rt_list *list, char *err,
		   size_t errlen)
{
	return orch_children_list(((struct skeleton *)ctx)->tasks, list, err,
				  errlen);
}

static void sk_fini(void *state)
{
	struct skeleton *sk = state;

	orch_children_free(sk->tasks); /* kills what runs, reports its end */
	orch_runtime_stop(sk->server);
	free(sk);
}

static int sk_init(const struct orch_host *host, void **state, char *err,
		   size_t errlen)
{
	struct skeleton *sk = calloc(1, sizeof(*sk));
	struct orch_runtime callbacks = {
		.version = ORCH_RUNTIME_VERSION, .ctx = sk, .start = sk_start,
		.stop = sk_stop, .remove = sk_remove, .list = sk_list};

	if (sk == NULL || (sk->tasks = orch_children_new(10000)) == NULL) {
		free(sk);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (orch_runtime_start(host, &callbacks, &sk->server, err, errlen)) {
		sk_fini(sk);
		return -1;
	}
	*state = sk;
	return 0;
}

ORCH_PLUGIN_DEFINE(.kind = ORCH_PLUGIN_RUNTIME, .name = "skeleton",
		   .version = "1.0", .init = sk_init, .fini = sk_fini);

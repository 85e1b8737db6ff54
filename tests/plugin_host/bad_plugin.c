/*
 * bad_plugin.c: misbehaving plugins for test_plugin_faults, one source
 * compiled into several shared objects:
 *   BAD_NAME "bad-x"   descriptor name
 *   BAD_INIT_CRASH     segfaults in init
 *   BAD_GARBAGE        answers every request with bytes that are not JSON
 * Otherwise it serves, on one worker (so that one stuck call blocks all):
 *   "info"  {"name", "pid"}
 *   "segv"  segfaults (the process dies)
 *   "hang"  never answers, until fini (then an error reply)
 *
 * State: the request server (or, BAD_GARBAGE, a raw REP socket and the
 * thread answering on it) and the flag that releases a hung call.
 */
#include "orch_sdk.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef BAD_NAME
#define BAD_NAME "bad"
#endif

struct bad_state {
	struct orch_sdk_server *server;
	pthread_mutex_t lock;
	pthread_cond_t released;
	bool stopping;
	nng_socket rep;
	pthread_t garbage_thread;
};

static json_t *bad_hang(struct bad_state *s)
{
	pthread_mutex_lock(&s->lock);
	while (!s->stopping)
		pthread_cond_wait(&s->released, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return orch_sdk_error("released by fini");
}

static json_t *bad_handle(void *ctx, const char *op, json_t *request)
{
	struct bad_state *s = ctx;

	(void)request;
	if (strcmp(op, "info") == 0)
		return json_pack("{s:s, s:i}", "name", BAD_NAME, "pid",
				 (int)getpid());
	if (strcmp(op, "segv") == 0) {
		raise(SIGSEGV);
		return NULL;
	}
	if (strcmp(op, "hang") == 0)
		return bad_hang(s);
	return orch_sdk_error("unknown op %s", op);
}

/* BAD_GARBAGE: answers each request with something that is not JSON. */
static void *garbage_main(void *arg)
{
	struct bad_state *s = arg;
	static const char garbage[] = "\x01\x02 this is not json {";
	char *buf;
	size_t len;

	while (nng_recv(s->rep, &buf, &len, NNG_FLAG_ALLOC) == 0) {
		nng_free(buf, len);
		if (nng_send(s->rep, (void *)garbage, sizeof(garbage) - 1, 0))
			break;
	}
	return NULL;
}

static int garbage_start(struct bad_state *s, const char *url)
{
	if (nng_rep0_open(&s->rep) != 0)
		return -1;
	if (nng_listen(s->rep, url, NULL, 0) != 0 ||
	    pthread_create(&s->garbage_thread, NULL, garbage_main, s) != 0) {
		nng_close(s->rep);
		return -1;
	}
	return 0;
}

static void bad_fini(void *state)
{
	struct bad_state *s = state;

	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->released);
	pthread_mutex_unlock(&s->lock);
#ifdef BAD_GARBAGE
	nng_close(s->rep);
	pthread_join(s->garbage_thread, NULL);
#else
	orch_sdk_server_stop(s->server);
#endif
	pthread_cond_destroy(&s->released);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int bad_init(const struct orch_host *host, void **state, char *err,
		    size_t errlen)
{
	struct bad_state *s;

#ifdef BAD_INIT_CRASH
	raise(SIGSEGV);
#endif
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->released, NULL);
#ifdef BAD_GARBAGE
	(void)bad_handle;
	(void)err;
	(void)errlen;
	if (garbage_start(s, host->request_url) != 0) {
		free(s);
		return -1;
	}
#else
	(void)garbage_start;
	if (orch_sdk_server_start(host->request_url, 1, bad_handle, s,
				  &s->server, err, errlen) != 0) {
		free(s);
		return -1;
	}
#endif
	*state = s;
	return 0;
}

ORCH_PLUGIN_DEFINE(.kind = ORCH_PLUGIN_RUNTIME, .name = BAD_NAME,
		   .version = "bad-1", .init = bad_init, .fini = bad_fini);

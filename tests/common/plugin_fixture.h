/*
 * plugin_fixture.h: a tiny orchd host for a plugin's tests, as orchd
 * drives plugins: a temporary directory, an nng PULL socket listening for
 * the plugin's events, the plugin's .so dlopened and its descriptor
 * checked, init called with a struct orch_host, requests sent with the
 * SDK's client, and the task statuses of its events gathered in order so
 * that a test waits (bounded) for one. Every failure fails the test.
 * Include it after <cmocka.h>; link orchd_test_common.
 */
#ifndef PLUGIN_FIXTURE_H
#define PLUGIN_FIXTURE_H

#include <jansson.h>
#include <limits.h>
#include <nng/nng.h>
#include <stdbool.h>

#include "orch_sdk.h"
#include "test_common.h"

struct plugin_fixture {
	char root[64]; /* the temporary directory, removed by close */
	char request_url[PATH_MAX];
	char event_url[PATH_MAX];
	char config[4096];
	nng_socket events;
	bool events_open;
	unsigned inits; /* each init gets a request URL of its own */
	void *dl;
	const struct orch_plugin *plugin;
	void *state; /* the plugin's, between init and fini */
	struct orch_sdk_client *client;
	/* What init hands the plugin: open sets node_id "node-1", data_dir
	 * root and log test_log_stderr; a test may change them before. */
	struct orch_host host;
	json_t *seen; /* every status received, in order */
};

/* Makes f's temporary directory (/tmp/orchd-<name>-XXXXXX) and listens
 * for events in it. */
void fixture_open(struct plugin_fixture *f, const char *name);
/* dlopens so_path (once) and checks the descriptor's ABI and kind. */
void fixture_load(struct plugin_fixture *f, const char *so_path,
		  enum orch_plugin_kind kind);
/* Calls the plugin's init with config (NULL: "{}") and connects to it.
 * Returns 0, or init's -1 with its reason in err. */
int fixture_init(struct plugin_fixture *f, const char *config, char *err,
		 size_t errlen);
/* fixture_init that fails the test when init fails. */
void fixture_init_ok(struct plugin_fixture *f, const char *config);
/* Disconnects and calls fini (when init succeeded). */
void fixture_fini(struct plugin_fixture *f);
/* fixture_fini and dlclose. */
void fixture_unload(struct plugin_fixture *f);
/* Unloads, closes the event socket, removes the directory. */
void fixture_close(struct plugin_fixture *f);

/* Sends request (stolen); returns the reply (new). */
json_t *fixture_call(struct plugin_fixture *f, json_t *request);
/* Takes the next event within timeout_ms into f->seen; false: none. */
bool fixture_receive(struct plugin_fixture *f, int timeout_ms);
/* The first status of task_id received so far whose state is one of
 * states ('|' separated, "complete|failed"), or NULL. Borrowed. */
json_t *fixture_seen(struct plugin_fixture *f, const char *task_id,
		     const char *states);
/* fixture_seen, or the first such status to come within timeout_ms;
 * fails the test otherwise. Borrowed. */
json_t *fixture_wait(struct plugin_fixture *f, const char *task_id,
		     const char *states, int timeout_ms);
/* The status of task_id in a "list" reply, or NULL. */
json_t *fixture_listed(json_t *reply, const char *task_id);

#endif

/*
 * plugin_fixture.c: the plugin tests' host (plugin_fixture.h). State: one
 * struct plugin_fixture per test, owned by the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <stdio.h>
#include <string.h>

#include "plugin_fixture.h"

void fixture_open(struct plugin_fixture *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	if (test_tmpdir_make(f->root, sizeof(f->root), name) != 0)
		fail_msg("cannot make a temporary directory for %s", name);
	snprintf(f->event_url, sizeof(f->event_url), "ipc://%s/events",
		 f->root);
	assert_int_equal(nng_pull0_open(&f->events), 0);
	f->events_open = true;
	assert_int_equal(nng_socket_set_size(f->events, NNG_OPT_RECVMAXSZ, 0),
			 0);
	assert_int_equal(nng_listen(f->events, f->event_url, NULL, 0), 0);
	f->seen = json_array();
	f->host = (struct orch_host){
		.version = ORCH_PLUGIN_ABI_VERSION,
		.request_url = f->request_url,
		.event_url = f->event_url,
		.node_id = "node-1",
		.data_dir = f->root,
		.config_json = f->config,
		.log = test_log_stderr,
	};
}

void fixture_load(struct plugin_fixture *f, const char *so_path,
		  enum orch_plugin_kind kind)
{
	const struct orch_plugin *(*entry)(void);

	if (f->dl != NULL)
		return;
	f->dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
	if (f->dl == NULL)
		fail_msg("dlopen %s: %s", so_path, dlerror());
	entry = (const struct orch_plugin *(*)(void))dlsym(
		f->dl, ORCH_PLUGIN_ENTRY_SYMBOL);
	assert_non_null(entry);
	f->plugin = entry();
	assert_int_equal(f->plugin->abi_version, ORCH_PLUGIN_ABI_VERSION);
	assert_int_equal(f->plugin->kind, kind);
}

int fixture_init(struct plugin_fixture *f, const char *config, char *err,
		 size_t errlen)
{
	assert_non_null(f->plugin);
	snprintf(f->request_url, sizeof(f->request_url), "ipc://%s/req-%u",
		 f->root, f->inits++);
	snprintf(f->config, sizeof(f->config), "%s", config ? config : "{}");
	f->host.plugin_name = f->plugin->name;
	if (f->plugin->init(&f->host, &f->state, err, errlen) != 0) {
		f->state = NULL;
		return -1;
	}
	if (orch_sdk_client_open(f->request_url, &f->client, err, errlen) != 0)
		fail_msg("client open: %s", err);
	return 0;
}

void fixture_init_ok(struct plugin_fixture *f, const char *config)
{
	char err[512] = "";

	if (fixture_init(f, config, err, sizeof(err)) != 0)
		fail_msg("init of %s with %s: %s", f->plugin->name,
			 config ? config : "{}", err);
}

void fixture_fini(struct plugin_fixture *f)
{
	orch_sdk_client_close(f->client);
	f->client = NULL;
	if (f->state != NULL)
		f->plugin->fini(f->state);
	f->state = NULL;
}

void fixture_unload(struct plugin_fixture *f)
{
	fixture_fini(f);
	if (f->dl != NULL)
		dlclose(f->dl);
	f->dl = NULL;
	f->plugin = NULL;
}

void fixture_close(struct plugin_fixture *f)
{
	fixture_unload(f);
	if (f->events_open)
		nng_close(f->events);
	f->events_open = false;
	test_tmpdir_remove(f->root);
	json_decref(f->seen);
	f->seen = NULL;
}

json_t *fixture_call(struct plugin_fixture *f, json_t *request)
{
	char err[512] = "";
	json_t *reply = NULL;

	if (orch_sdk_client_call(f->client, request, 30000, &reply, err,
				 sizeof(err)) != 0)
		fail_msg("call: %s", err);
	assert_non_null(reply);
	return reply;
}

bool fixture_receive(struct plugin_fixture *f, int timeout_ms)
{
	char *buf = NULL;
	size_t len = 0;
	json_t *event;

	nng_socket_set_ms(f->events, NNG_OPT_RECVTIMEO, timeout_ms);
	if (nng_recv(f->events, &buf, &len, NNG_FLAG_ALLOC) != 0)
		return false;
	event = json_loadb(buf, len, 0, NULL);
	nng_free(buf, len);
	assert_non_null(event);
	assert_string_equal(test_json_str(event, "op"), ORCH_OP_TASK_STATUS);
	assert_string_equal(test_json_str(event, "plugin"), f->plugin->name);
	json_array_extend(f->seen, json_object_get(event, "statuses"));
	json_decref(event);
	return true;
}

/* Whether state is one of the '|'-separated states. */
static bool state_in(const char *state, const char *states)
{
	size_t n = strlen(state);
	const char *at;

	for (at = strstr(states, state); at != NULL; at = strstr(at + 1, state))
		if ((at == states || at[-1] == '|') &&
		    (at[n] == '\0' || at[n] == '|'))
			return true;
	return false;
}

json_t *fixture_seen(struct plugin_fixture *f, const char *task_id,
		     const char *states)
{
	json_t *s;
	size_t i;

	json_array_foreach(f->seen, i, s)
		if (strcmp(test_json_str(s, "task_id"), task_id) == 0 &&
		    state_in(test_json_str(s, "state"), states))
			return s;
	return NULL;
}

json_t *fixture_wait(struct plugin_fixture *f, const char *task_id,
		     const char *states, int timeout_ms)
{
	long long deadline = test_now_ms() + timeout_ms;
	json_t *s;

	while ((s = fixture_seen(f, task_id, states)) == NULL)
		if (test_now_ms() >= deadline ||
		    !fixture_receive(f, (int)(deadline - test_now_ms())))
			fail_msg("no status %s for %s within %d ms", states,
				 task_id, timeout_ms);
	return s;
}

json_t *fixture_listed(json_t *reply, const char *task_id)
{
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(reply, "tasks"), i, s)
		if (strcmp(test_json_str(s, "task_id"), task_id) == 0)
			return s;
	return NULL;
}

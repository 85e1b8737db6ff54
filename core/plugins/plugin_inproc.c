/*
 * plugin_inproc.c: plugins that run inside the host's own process. Owns,
 * for such a plugin, its dlopen handle, its descriptor, the state its init
 * returned and the struct orch_host it was given (valid until fini). A
 * crash of such a plugin is a crash of the host: PLUGIN_HOST_IPC is the
 * transport that survives one.
 */
#include "plugin_host_impl.h"
#include "plugin_check.h"
#include "orch_sdk.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* Keeps liborch-sdk loaded in this binary (the linker drops a library no
 * code calls): plugins link it, but one built out of tree with pkg-config
 * carries no path to it and finds it only because it is already here. */
__attribute__((used)) static void *const sdk_anchor = (void *)orch_sdk_error;

int inproc_describe(struct plugin_host_plugin *p, json_t **accepted,
		    char *why, size_t size)
{
	const struct orch_plugin *(*entry)(void);
	const char *problem;

	*accepted = NULL;
	p->handle = dlopen(p->file, RTLD_NOW | RTLD_LOCAL);
	if (p->handle == NULL) {
		util_errorf(why, size, "cannot load: %s", dlerror());
		return -1;
	}
	*(void **)&entry = dlsym(p->handle, ORCH_PLUGIN_ENTRY_SYMBOL);
	if (entry == NULL) {
		util_errorf(why, size, "no symbol %s (not an orchd plugin)",
			    ORCH_PLUGIN_ENTRY_SYMBOL);
		return -1;
	}
	p->desc = entry();
	problem = plugin_check_descriptor(p->desc, why, size);
	if (problem != NULL) {
		if (problem != why)
			util_errorf(why, size, "%s", problem);
		return -1;
	}
	p->kind = (enum orch_plugin_kind)p->desc->kind;
	p->name = strdup(p->desc->name);
	p->version = strdup(p->desc->version ? p->desc->version : "");
	*accepted = plugin_check_accepted(p->desc);
	if (p->name == NULL || p->version == NULL || *accepted == NULL) {
		util_errorf(why, size, "out of memory");
		return -1;
	}
	return 0;
}

int inproc_start(struct plugin_host_plugin *p, char *why, size_t size)
{
	char reason[PLUGIN_HOST_REASON_MAX] = "";
	const char *event_url;

	event_url = events_url(p->host, PLUGIN_HOST_INPROC, why, size);
	if (event_url == NULL)
		return -1;
	p->orch_host = (struct orch_host){
		.version = ORCH_PLUGIN_ABI_VERSION,
		.plugin_name = p->name,
		.request_url = p->request_url,
		.event_url = event_url,
		.node_id = p->host->node_id,
		.data_dir = p->data_dir,
		.config_json = p->config,
		.log = p->host->log,
	};
	if (p->desc->init(&p->orch_host, &p->state, reason,
			  sizeof(reason)) != 0) {
		util_errorf(why, size, "init failed: %s",
			    reason[0] ? reason : "(no reason given)");
		return -1;
	}
	if (client_connect(p, reason, sizeof(reason)) != 0) {
		p->desc->fini(p->state);
		util_errorf(why, size, "init succeeded but %s", reason);
		return -1;
	}
	return 0;
}

void inproc_stop(struct plugin_host_plugin *p)
{
	client_close(p);
	p->desc->fini(p->state);
}

void inproc_unload(struct plugin_host_plugin *p)
{
	if (p->handle != NULL)
		dlclose(p->handle);
	p->handle = NULL;
	p->desc = NULL;
}

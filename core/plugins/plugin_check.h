/*
 * plugin_check.h: the checks a plugin's descriptor and options pass before
 * its init runs. Shared by the host (plugins it loads into orchd) and by
 * orchd-plugin (the runner that loads one plugin in a child process), so
 * that a plugin is refused for the same reasons with the same words under
 * either transport. No state.
 */
#ifndef ORCHD_PLUGIN_CHECK_H
#define ORCHD_PLUGIN_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "orch_plugin.h"

#define PLUGIN_CHECK_NAME_MAX 32

/* [a-z0-9_-]{1,32} */
bool plugin_check_name(const char *name);

/* NULL when desc may be started, else why not (ABI version, kind, name,
 * missing functions); the text is static or written into why. */
const char *plugin_check_descriptor(const struct orch_plugin *desc,
				    char *why, size_t size);

/* The option keys desc accepts, as a new JSON array of strings: its
 * `options` list when abi_version >= 2, else empty (a version-1 descriptor
 * has no such field). NULL when out of memory. */
json_t *plugin_check_accepted(const struct orch_plugin *desc);

/* Checks that every key of config (a JSON object) is in accepted (a JSON
 * array of strings). Returns 0, or -1 with why naming the plugin, the key
 * and the keys it accepts. */
int plugin_check_options(const char *plugin, const json_t *config,
			 const json_t *accepted, char *why, size_t size);

#endif

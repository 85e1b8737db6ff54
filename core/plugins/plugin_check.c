/*
 * plugin_check.c: descriptor and option checks (plugin_check.h). No state.
 */
#include "plugin_check.h"

#include <stdio.h>
#include <string.h>

bool plugin_check_name(const char *name)
{
	size_t len;

	if (name == NULL)
		return false;
	len = strlen(name);
	return len >= 1 && len <= PLUGIN_CHECK_NAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

static bool kind_valid(uint32_t kind)
{
	return kind >= ORCH_PLUGIN_SCHEDULER && kind <= ORCH_PLUGIN_DISCOVERY;
}

const char *plugin_check_descriptor(const struct orch_plugin *desc,
				    char *why, size_t size)
{
	if (desc == NULL)
		return "orch_plugin_entry() returned NULL";
	if (desc->abi_version == 0 ||
	    desc->abi_version > ORCH_PLUGIN_ABI_VERSION) {
		snprintf(why, size, "built for ABI %u, orchd speaks %u",
			 (unsigned)desc->abi_version, ORCH_PLUGIN_ABI_VERSION);
		return why;
	}
	if (!kind_valid(desc->kind)) {
		snprintf(why, size, "unknown plugin kind %u",
			 (unsigned)desc->kind);
		return why;
	}
	if (!plugin_check_name(desc->name)) {
		snprintf(why, size,
			 "invalid plugin name \"%.40s\" (want [a-z0-9_-]{1,32})",
			 desc->name == NULL ? "(null)" : desc->name);
		return why;
	}
	if (desc->init == NULL || desc->fini == NULL)
		return "descriptor has no init or no fini function";
	return NULL;
}

json_t *plugin_check_accepted(const struct orch_plugin *desc)
{
	json_t *keys = json_array();
	size_t i;

	if (keys == NULL || desc->abi_version < 2 || desc->options == NULL)
		return keys;
	for (i = 0; desc->options[i] != NULL; i++)
		if (json_array_append_new(keys,
					  json_string(desc->options[i])) != 0) {
			json_decref(keys);
			return NULL;
		}
	return keys;
}

static bool accepts(const json_t *accepted, const char *key)
{
	size_t i;
	json_t *k;

	json_array_foreach(accepted, i, k)
		if (json_is_string(k) && strcmp(json_string_value(k), key) == 0)
			return true;
	return false;
}

/* "a, b, c" into out; "" when there are none. */
static void list_keys(const json_t *accepted, char *out, size_t size)
{
	size_t i, used = 0;
	json_t *k;

	out[0] = '\0';
	json_array_foreach(accepted, i, k) {
		int n = snprintf(out + used, size - used, "%s%s",
				 used ? ", " : "", json_string_value(k));

		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
}

int plugin_check_options(const char *plugin, const json_t *config,
			 const json_t *accepted, char *why, size_t size)
{
	char keys[256];
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)config, key, value) {
		if (accepts(accepted, key))
			continue;
		list_keys(accepted, keys, sizeof(keys));
		snprintf(why, size,
			 "plugin %s does not accept the option \"%s\" (%s%s)",
			 plugin, key, keys[0] ? "it accepts: " : "",
			 keys[0] ? keys : "it accepts no options");
		return -1;
	}
	return 0;
}

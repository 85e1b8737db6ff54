/*
 * leaky_plugin.c: the negative control of plugin_symbols.sh. Built like a
 * plugin but WITHOUT hidden visibility, so that its helper leaks into the
 * dynamic symbol table; the check must fail on it (test_plugin_symbols_leak
 * expects that failure). No state.
 */
#include "orch_sdk.h"

int leaky_helper(void); /* not static: exported by default visibility */
int leaky_helper(void)
{
	return 42;
}

ORCH_PLUGIN_EXPORT const struct orch_plugin *orch_plugin_entry(void)
{
	return NULL;
}

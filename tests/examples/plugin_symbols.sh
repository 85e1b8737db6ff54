#!/bin/sh
# plugin_symbols.sh: checks that each plugin given exports exactly one
# symbol of its own, orch_plugin_entry (the linker's _init, _fini, _edata,
# _end and __bss_start aside), as `nm -D --defined-only` shows them.
# Usage: plugin_symbols.sh PLUGIN.so...
set -eu
failed=0
for plugin in "$@"; do
	symbols=$(nm -D --defined-only "$plugin" | awk '{print $3}' |
		grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$' || true)
	if [ "$symbols" != "orch_plugin_entry" ]; then
		echo "FAIL $plugin exports:" $symbols
		failed=1
	else
		echo "ok   $plugin exports orch_plugin_entry only"
	fi
done
exit $failed

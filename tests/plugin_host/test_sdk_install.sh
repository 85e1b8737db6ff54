#!/bin/sh
# test_sdk_install.sh: the SDK as an outsider sees it. Installs the sdk
# component of BUILD_DIR into a fresh prefix, compiles the placement example
# and the runtime example (EXAMPLE_DIR/../runtime) out of tree with
# `cc -fvisibility=hidden ... $(pkg-config --cflags --libs orch-sdk)` (one
# header, one library), checks that each exports orch_plugin_entry alone,
# and has plugin_host_schedule load the placement plugin and schedule
# through it. (tests/examples runs the runtime example.)
# Usage: test_sdk_install.sh BUILD_DIR EXAMPLE_DIR PLUGIN_HOST_SCHEDULE WORK_DIR
set -eu
build=$1 example=$2 driver=$3 work=$4

rm -rf "$work"
mkdir -p "$work/plugins" "$work/data"
cmake --install "$build" --component sdk --prefix "$work/prefix" >/dev/null
PKG_CONFIG_PATH=$work/prefix/lib/pkgconfig
export PKG_CONFIG_PATH
echo "pkg-config: $(pkg-config --cflags --libs orch-sdk)"
# shellcheck disable=SC2046 # word splitting of pkg-config output is wanted
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
   -o "$work/plugins/firstfit.so" "$example/firstfit.c" \
   $(pkg-config --cflags --libs orch-sdk)
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
   -o "$work/child.so" "$example/../runtime/child.c" \
   $(pkg-config --cflags --libs orch-sdk)
sh "$(dirname "$0")/../examples/plugin_symbols.sh" \
   "$work/plugins/firstfit.so" "$work/child.so"
"$driver" "$work/plugins" "$work/data" firstfit
rm -rf "$work"
echo "ok"

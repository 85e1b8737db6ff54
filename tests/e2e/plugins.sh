#!/usr/bin/env bash
# plugins.sh BUILD_DIR SOURCE_DIR: orchd and its plugin directory as a user
# meets them: the SDK installed with cmake --install, the placement example
# compiled out of tree with pkg-config and loaded into a running orchd
# (--scheduler firstfit) that places a service through it; a broken shared
# object refused by name while orchd carries on; a plugin directory without a
# scheduler refused at start-up, naming the kind.
set -uo pipefail
build=$1 src=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

e2e_single_init "$build" plugins 300000

e2e_note "install the SDK and build the example out of tree"
cmake --install "$build" --component sdk --prefix "$work/prefix" >/dev/null ||
  e2e_fail "cmake --install of the sdk component failed"
mkdir -p "$work/plugins"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -o "$work/plugins/firstfit.so" \
  "$src/examples/placement/firstfit.c" \
  $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs orch-sdk) ||
  e2e_fail "the example does not build with pkg-config orch-sdk"
# The process runtime finds its shim at <plugin dir>/../bin/orchd-shim.
ln -s "$build/plugins/process.so" "$work/plugins/process.so"
ln -s "$build/bin" "$work/bin"
echo "this is not a shared object" > "$work/plugins/broken.so"

e2e_note "orchd loads the example, refuses broken.so, carries on"
E2E_PLUGINS="$work/plugins" e2e_start_orchd "$build" "$work/d1" --scheduler firstfit
grep -q "plugin firstfit (scheduler" "$E2E_LOG" || e2e_fail "firstfit was not loaded"
grep -q "broken.so refused: " "$E2E_LOG" || e2e_fail "broken.so was not refused with a reason"
grep "broken.so refused" "$E2E_LOG"
orchctl swarm init --advertise-addr 127.0.0.1 >/dev/null || e2e_fail "swarm init failed"
orchctl service create --detach --name ff --replicas 2 --runtime process /bin/sleep "$uniq" >/dev/null ||
  e2e_fail "service create failed"
e2e_wait 60 "2 tasks placed by firstfit and running" running_is ff 2
orchctl service rm ff >/dev/null
e2e_wait 30 "tasks removed" bash -c "[ \"\$(curl -sf --max-time 5 --unix-socket $SOCK http://orchd/tasks)\" = '[]' ]"
e2e_stop_orchd

e2e_note "no scheduler plugin: orchd refuses to start"
rm "$work/plugins/firstfit.so"
if "$build/bin/orchd" --plugins "$work/plugins" --data-root "$work/d2" \
     -H "unix://$work/d2.sock" --pidfile "$work/d2.pid" 2>"$work/d2.err"; then
  e2e_fail "orchd started without a scheduler plugin"
fi
grep -q "no scheduler plugin" "$work/d2.err" || e2e_fail "the refusal does not name the kind: $(cat "$work/d2.err")"
cat "$work/d2.err"
echo "PASS: plugins"

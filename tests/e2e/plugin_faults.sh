#!/usr/bin/env bash
# plugin_faults.sh BUILD_DIR: plugins out of process. orchd with
# --plugin-transport ipc runs each plugin in a child of its own
# (orchd-plugin); a process-runtime service runs; the runtime plugin's child
# is killed with SIGSEGV: orchd stays up, logs the crash and restarts the
# plugin; the service's tasks keep running (same pids), are adopted by the
# restarted plugin, `orchctl service ps` is right again and the service
# scales through the new child. orchd's stop ends its plugin children; when
# orchd is killed outright its children die with it (PR_SET_PDEATHSIG and
# their stdin closing).
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

e2e_single_init "$build" faults 400000
# The pid of the child running plugin file $1 (a child of orchd).
plugin_pid() { pgrep -P "$ORCHD_PID" -f "orchd-plugin .*/$1\$"; }
task_pids() { pgrep -f -x "/bin/sleep $uniq" | sort | tr '\n' ' '; }
logged() { grep -q "$1" "$E2E_LOG"; }
alive() { kill -0 "$1" 2>/dev/null; }
not_alive() { ! kill -0 "$1" 2>/dev/null; }

e2e_note "orchd --plugin-transport ipc: every plugin in a process of its own"
e2e_start_orchd "$build" "$work/d1" --plugin-transport ipc
logged "plugin process (runtime .* running in process [0-9]" ||
  e2e_fail "the process runtime is not running in a process of its own"
rt_pid=$(plugin_pid process.so) || e2e_fail "no orchd-plugin child runs process.so"
plugin_pid spread.so >/dev/null || e2e_fail "no orchd-plugin child runs spread.so"
orchctl swarm init --advertise-addr 127.0.0.1 >/dev/null || e2e_fail "swarm init failed"
orchctl service create --detach --name sleepy --replicas 2 --runtime process \
  /bin/sleep "$uniq" >/dev/null || e2e_fail "service create failed"
e2e_wait 60 "2 tasks running" running_is sleepy 2
before=$(task_pids)
[ "$(wc -w <<<"$before")" = 2 ] || e2e_fail "want 2 task processes, have: $before"

e2e_note "kill -SEGV the process runtime's child ($rt_pid)"
kill -SEGV "$rt_pid"
e2e_wait 10 "the crash logged" logged "plugin process is unavailable: crashed (signal 11), restarting in"
alive "$ORCHD_PID" || e2e_fail "orchd died with its plugin"
api_ok /_ping || e2e_fail "orchd's API does not answer after the plugin crashed"
grep "crashed (signal 11)" "$E2E_LOG" | head -n 2
e2e_wait 30 "the plugin restarted" logged "plugin process restarted (process [0-9]"
new_pid=$(plugin_pid process.so) || e2e_fail "no child runs process.so after the restart"
[ "$new_pid" != "$rt_pid" ] || e2e_fail "the plugin was not restarted (same pid $rt_pid)"
[ "$(task_pids)" = "$before" ] || e2e_fail "the tasks changed: before $before, now $(task_pids)"

e2e_note "the tasks were adopted: service ps right again, the service scales"
e2e_wait 30 "2 tasks running after the restart" running_is sleepy 2
[ "$(orchctl service ps sleepy | grep -c Running)" = 2 ] ||
  e2e_fail "service ps does not show 2 Running: $(orchctl service ps sleepy)"
[ "$(task_pids)" = "$before" ] || e2e_fail "the tasks were restarted: before $before, now $(task_pids)"
orchctl service scale sleepy=3 >/dev/null || e2e_fail "scale to 3 failed"
e2e_wait 60 "3 tasks running through the restarted runtime" running_is sleepy 3

e2e_note "orchd stops: its plugin children stop too"
e2e_stop_orchd
not_alive "$new_pid" || e2e_fail "plugin child $new_pid outlived orchd's stop"

e2e_note "orchd killed outright: its plugin children die with it"
e2e_start_orchd "$build" "$work/d1" --plugin-transport ipc
rt_pid=$(plugin_pid process.so) || e2e_fail "no orchd-plugin child runs process.so"
kill -KILL "$ORCHD_PID"
wait "$ORCHD_PID" 2>/dev/null
e2e_wait 10 "the plugin child $rt_pid gone" not_alive "$rt_pid"
[ "$(wc -w <<<"$(task_pids)")" = 3 ] || e2e_fail "the tasks did not survive orchd: $(task_pids)"
echo "PASS: plugin_faults"

#!/usr/bin/env bash
# hung_scheduler.sh BUILD_DIR SOURCE_DIR: a scheduler plugin that hangs
# must not stop the core. slowsched (slow_sched.c) is the only scheduler;
# while its flag file exists every schedule call sleeps 30 s.
# One manager: writes (service create, scale) are acknowledged within 2 s
# and `node ls` answers within 2 s throughout, the tasks stay pending with
# the reason "scheduler slowsched did not answer in 5 s" (in `service ps`
# and Status.Err); once the flag is removed they are placed and run.
# Then three managers on namespace hosts (root; skipped otherwise): the
# leader stays the leader (as the leader and a follower see it) and keeps
# answering while its plugin hangs for 15 s.
set -uo pipefail
build=$1 src=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
command -v jq >/dev/null || { echo "SKIP: no jq"; exit 77; }

e2e_single_init "$build" hung 500000

# A plugin directory with the process runtime and slowsched only (the
# process runtime finds its shim at <plugin dir>/../bin/orchd-shim).
mkdir -p "$work/plugins"
ln -s "$build/plugins/process.so" "$work/plugins/process.so"
ln -s "$build/tests/plugins/slowsched.so" "$work/plugins/slowsched.so"
ln -s "$build/bin" "$work/bin"
export ORCH_SLOWSCHED_FLAG=$work/hang
touch "$ORCH_SLOWSCHED_FLAG"
# A plugin still asleep would hold up orchd's stop: wake it first.
E2E_CLEANUPS+=('rm -f "$ORCH_SLOWSCHED_FLAG"')

# timed_ok LIMIT_S WHAT COMMAND...: runs the command, fails the test when
# it fails or takes LIMIT_S seconds or more; prints the time taken.
timed_ok() {
  local limit=$1 what=$2; shift 2
  local t0 t1 ms
  t0=$(date +%s%N)
  "$@" >/dev/null || e2e_fail "$what failed"
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  [ "$ms" -lt $((limit * 1000)) ] || e2e_fail "$what took ${ms} ms (limit ${limit} s)"
  echo "$ms"
}

reason="scheduler slowsched did not answer in 5 s"
pending_with_reason() {
  [ "$(api /tasks | jq --arg s "$1" --arg r "$reason" \
    '[.[] | select(.ServiceName == $s and .Status.State == "pending" and .Status.Err == $r)] | length')" = "$2" ]
}

e2e_note "one manager, slowsched hangs"
E2E_PLUGINS="$work/plugins" e2e_start_orchd "$build" "$work/d1" --scheduler slowsched
grep -q "plugin slowsched (scheduler" "$E2E_LOG" || e2e_fail "slowsched was not loaded"
orchctl swarm init --advertise-addr 127.0.0.1 >/dev/null || e2e_fail "swarm init failed"
ms=$(timed_ok 2 "service create" orchctl service create --detach --name hung --replicas 2 \
  --runtime process /bin/sleep "$uniq") || exit 1
echo "service create acknowledged in $ms ms"
e2e_wait 20 "2 tasks pending with \"$reason\"" pending_with_reason hung 2
orchctl service ps --no-trunc hung | grep -q "$reason" || e2e_fail "service ps does not show the reason"
orchctl service ps --no-trunc hung | grep "$reason" | head -n 1

e2e_note "the core answers while the plugin hangs"
worst=0
deadline=$((SECONDS + 12))
while [ $SECONDS -lt $deadline ]; do
  ms=$(timed_ok 2 "node ls" orchctl node ls) || exit 1
  [ "$ms" -gt "$worst" ] && worst=$ms
  sleep 0.2
done
echo "node ls: slowest answer ${worst} ms over 12 s"
ms=$(timed_ok 2 "service scale" orchctl service scale --detach hung=3) || exit 1
echo "service scale acknowledged in $ms ms"
e2e_wait 20 "3 tasks pending with the reason" pending_with_reason hung 3
[ "$(tasks_in_state hung running)" = 0 ] || e2e_fail "a task runs although the scheduler never answered"

e2e_note "the plugin answers again: the tasks are placed and run"
rm -f "$ORCH_SLOWSCHED_FLAG"
e2e_wait 60 "3 tasks running" running_is hung 3
[ "$(pgrep -f -x "/bin/sleep $uniq" | wc -l)" = 3 ] || e2e_fail "not 3 live processes"
orchctl service rm hung >/dev/null || e2e_fail "service rm failed"
e2e_wait 30 "the tasks gone" bash -c "! pgrep -f -x '/bin/sleep $uniq' >/dev/null"
e2e_stop_orchd

# ------------------------------------------------------------ 3 managers
if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
  echo "three managers skipped: needs root for network namespaces"
  exit 0
fi
e2e_note "three managers on namespace hosts, the leader's plugin hangs"
HOSTS_BUILD=$build
HOSTS_PLUGINS=$work/plugins
source "$src/tests/hosts/hosts.sh"
port=2577
hosts_create 3 || e2e_fail "hosts_create"
E2E_CLEANUPS+=('hosts_destroy')
oc() { hosts_orchctl "$@"; }
rm -f "$ORCH_SLOWSCHED_FLAG"
for i in 1 2 3; do
  hosts_start_orchd "$i" --scheduler slowsched --default-runtime process ||
    e2e_fail "orchd on host $i"
done
a1=$(hosts_addr 1)
E2E_LOG=$(hosts_log 1)
oc 1 swarm init --advertise-addr "$a1" --listen-addr "$a1:$port" >/dev/null || e2e_fail "swarm init"
mtoken=$(oc 1 swarm join-token -q manager) || e2e_fail "join-token manager"
for i in 2 3; do
  a=$(hosts_addr "$i")
  oc "$i" swarm join --token "$mtoken" --advertise-addr "$a" --listen-addr "$a:$port" "$a1:$port" >/dev/null ||
    e2e_fail "host $i manager join: $(tail -n 5 "$(hosts_log "$i")")"
done
reachable_managers() {
  [ "$(hosts_api 1 /nodes | jq '[.[] | select(.ManagerStatus.Reachability == "reachable")] | length')" = 3 ]
}
e2e_wait 60 "3 reachable managers" reachable_managers
leader_id() { hosts_api 1 /nodes | jq -r '.[] | select(.ManagerStatus.Leader == true) | .ID'; }
leader=$(leader_id)
[ "$leader" = "$(hosts_node_id 1)" ] || e2e_fail "host 1 is not the leader ($leader)"

touch "$ORCH_SLOWSCHED_FLAG"
oc 1 service create --detach --name hung --replicas 2 --runtime process /bin/sleep "$uniq" >/dev/null ||
  e2e_fail "service create"
SOCK=$(hosts_sock 1)
e2e_wait 20 "2 tasks pending with the reason (3 managers)" pending_with_reason hung 2
deadline=$((SECONDS + 15))
while [ $SECONDS -lt $deadline ]; do
  ms=$(timed_ok 2 "service ls on the leader" oc 1 service ls) || exit 1
  for i in 1 2; do
    now=$(hosts_api "$i" /nodes | jq -r '.[] | select(.ManagerStatus.Leader == true) | .ID')
    [ "$now" = "$leader" ] || e2e_fail "host $i sees leader '$now', not host 1, while its plugin hung"
  done
  sleep 0.5
done
echo "the leader stayed host 1 for 15 s of a hung plugin"
rm -f "$ORCH_SLOWSCHED_FLAG"
e2e_wait 60 "2 tasks running (3 managers)" running_is hung 2
oc 1 service rm hung >/dev/null || e2e_fail "service rm"
e2e_wait 30 "the tasks gone (3 managers)" bash -c "! pgrep -f -x '/bin/sleep $uniq' >/dev/null"
e2e_hosts_stop_clean 1 2 3
echo "PASS"

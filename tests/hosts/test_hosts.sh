#!/usr/bin/env bash
# test_hosts.sh BUILD_DIR: proves the multi-host harness (hosts.sh). Three
# hosts reach each other and nothing outside their subnet; each runs orchd
# (own single-node swarm, process runtime) with a service; a SIGSTOPped host
# stops answering and answers again after SIGCONT; a cut host is unreachable
# until healed (link mode and nftables drop mode); a SIGKILLed host restarts
# and adopts its task (same id, same process); and hosts_destroy leaves
# nothing behind: no namespace, link, firewall rule, process or directory.
# Owns nothing itself: hosts.sh owns and removes everything the run makes.
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root"; exit 77; }
if ! ip netns list >/dev/null 2>&1 || ! unshare --net true 2>/dev/null; then
  echo "SKIP: ip netns / network namespaces unavailable"; exit 77
fi
for tool in busybox curl jq timeout; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing" >&2; exit 1; }
done

HOSTS_BUILD=$build
source "$here/hosts.sh"

t0=$(date +%s%N)
th_note() { echo "--- [$(( ($(date +%s%N) - t0) / 1000000 )) ms] $*"; }
th_fail() {
  echo "FAIL: $*" >&2
  local i
  for ((i = 1; i <= HOSTS_N; i++)); do
    [ -f "$(hosts_log "$i")" ] && { echo "--- host $i log:" >&2; tail -n 15 "$(hosts_log "$i")" >&2; }
  done
  exit 1
}
th_wait() {   # th_wait SECONDS WHAT COMMAND...
  local seconds=$1 what=$2; shift 2
  hosts_poll "$seconds" "$@" || th_fail "timed out after ${seconds}s waiting for: $what"
}

reaches() { hosts_exec "$1" busybox ping -c1 -W1 "$(hosts_addr "$2")"; }
unreachable() { ! reaches "$1" "$2"; }
sleep_arg() { echo $((4000000 + ($$ % 100000) * 10 + $1)); }
sleep_pids() { pgrep -f -x "/bin/sleep $(sleep_arg "$1")"; }
running_ids() {
  hosts_api "$1" /tasks | jq -c --arg s "svc$1" \
    '[.[] | select(.ServiceName == $s and .DesiredState == "running" and .Status.State == "running") | .ID] | sort'
}
one_running() { [ "$(running_ids "$1" | jq length)" = 1 ]; }
ids_are() { [ "$(running_ids "$1")" = "$2" ]; }
api_down() { ! hosts_api_ok "$1"; }
in_namespace() { ip netns pids "$(hosts_ns "$1")" | grep -qx "$2"; }

th_note "create 3 hosts"
hosts_create 3 || th_fail "hosts_create 3"
echo "run $HOSTS_RUN: bridge $(hosts_bridge), subnet $HOSTS_NET.0/24, dir $HOSTS_DIR"

th_note "every host reaches the others, and its own loopback"
for i in 1 2 3; do
  hosts_exec "$i" busybox ping -c1 -W1 127.0.0.1 >/dev/null || th_fail "host $i: loopback does not answer"
  for j in 1 2 3; do
    [ "$i" = "$j" ] && continue
    th_wait 5 "host $i reaches host $j" reaches "$i" "$j"
  done
done
hosts_exec 2 busybox nc -l -p 7070 -e echo tcp-ok-$$ &
listener=$!
th_wait 5 "TCP from host 1 to host 2" bash -c \
  "ip netns exec $(hosts_ns 1) busybox nc -w 1 $(hosts_addr 2) 7070 </dev/null | grep -qx tcp-ok-$$"
wait "$listener"

th_note "no host has a route out of its subnet"
root_addr=$(ip -4 -o addr show scope global | awk '{ split($4, a, "/"); print a[1]; exit }')
neighbour="${HOSTS_NET%.*}.$(( (${HOSTS_NET##*.} + 1) % 256 )).10"
for i in 1 2 3; do
  for target in ${root_addr:+"$root_addr"} 172.17.0.1 1.1.1.1 "$neighbour"; do
    hosts_exec "$i" ip route get "$target" >/dev/null 2>&1 && th_fail "host $i has a route to $target"
  done
  # connect() fails in the namespace itself: no packet is sent anywhere.
  err=$(hosts_exec "$i" bash -c "exec 3<>/dev/tcp/${root_addr:-1.1.1.1}/22" 2>&1) &&
    th_fail "host $i connected to ${root_addr:-1.1.1.1}"
  grep -q "Network is unreachable" <<<"$err" || th_fail "host $i: unexpected error: $err"
done

th_note "orchd in every host: swarm init on its address, one process service"
for i in 1 2 3; do
  hosts_start_orchd "$i" --default-runtime process || th_fail "orchd of host $i did not start"
  pid=$(hosts_pid "$i")
  in_namespace "$i" "$pid" || th_fail "orchd of host $i (pid $pid) is not in $(hosts_ns "$i")"
  hosts_orchctl "$i" swarm init --advertise-addr "$(hosts_addr "$i")" >/dev/null ||
    th_fail "swarm init on host $i"
  hosts_orchctl "$i" info | grep -q "Swarm: active" || th_fail "host $i: info does not say Swarm: active"
  hosts_orchctl "$i" service create --detach --name "svc$i" --runtime process \
    /bin/sleep "$(sleep_arg "$i")" >/dev/null || th_fail "service create on host $i"
done
for i in 1 2 3; do
  th_wait 30 "svc$i running on host $i" one_running "$i"
  th_wait 10 "the sleep of host $i alive" sleep_pids "$i"
  in_namespace "$i" "$(sleep_pids "$i")" || th_fail "the task of host $i runs outside its namespace"
  hosts_orchctl "$i" node ls | grep -q "host$i" || th_fail "host $i: node ls does not show host$i"
done

th_note "SIGSTOP host 2: its API stops answering"
hosts_stop 2 || th_fail "hosts_stop 2"
th_wait 10 "host 2's API silent" api_down 2
if ! hosts_api_ok 1 || ! hosts_api_ok 3; then th_fail "hosts 1 and 3 stopped answering with host 2"; fi
start=$SECONDS
HOSTS_ORCHCTL_TIMEOUT=2 hosts_orchctl 2 service ls >/dev/null 2>&1 &&
  th_fail "orchctl answered from a stopped host"
[ $((SECONDS - start)) -le 4 ] || th_fail "orchctl against a stopped host was not bounded"
th_note "SIGCONT host 2: it answers again"
hosts_cont 2 || th_fail "hosts_cont 2"
th_wait 10 "host 2's API back" hosts_api_ok 2
one_running 2 || th_fail "host 2's service is not running after SIGCONT"

for mode in link drop; do
  if [ "$mode" = drop ] && ! command -v nft >/dev/null; then
    echo "NOTE: nft missing, drop mode not tested"; continue
  fi
  th_note "cut host 3 ($mode): nobody reaches it, it reaches nobody"
  hosts_cut 3 "$mode" || th_fail "hosts_cut 3 $mode"
  th_wait 10 "host 1 cannot reach host 3" unreachable 1 3
  th_wait 10 "host 2 cannot reach host 3" unreachable 2 3
  th_wait 10 "host 3 cannot reach host 1" unreachable 3 1
  reaches 1 2 >/dev/null || th_fail "cutting host 3 cut host 1 from host 2"
  hosts_api_ok 3 || th_fail "host 3's API (a unix socket) stopped answering when cut"
  th_note "heal host 3 ($mode): reachable again"
  hosts_heal 3 || th_fail "hosts_heal 3"
  th_wait 10 "host 1 reaches host 3" reaches 1 3
  th_wait 10 "host 2 reaches host 3" reaches 2 3
  th_wait 10 "host 3 reaches host 1" reaches 3 1
done

th_note "SIGKILL host 1: its task lives on; restart: the same task adopted"
ids_before=$(running_ids 1)
sleep_before=$(sleep_pids 1)
old_pid=$(hosts_pid 1)
hosts_kill 1 || th_fail "hosts_kill 1"
api_down 1 || th_fail "host 1's API answers after SIGKILL"
kill -0 "$sleep_before" 2>/dev/null || th_fail "host 1's task died with orchd"
hosts_restart 1 || th_fail "hosts_restart 1"
[ "$(hosts_pid 1)" != "$old_pid" ] || th_fail "hosts_restart 1 kept the old pid"
th_wait 30 "the same task running on host 1 ($ids_before)" ids_are 1 "$ids_before"
[ "$(sleep_pids 1)" = "$sleep_before" ] ||
  th_fail "host 1's task process changed across the restart: $sleep_before -> $(sleep_pids 1 | tr '\n' ' ')"
echo "task $ids_before, process $sleep_before, kept across SIGKILL + restart"

th_note "destroy: nothing left"
run_pids=$(hosts_run_pids)
echo "processes of the run before destroy: $(echo "$run_pids" | wc -l)"
hosts_destroy || th_fail "hosts_destroy reported errors"
left=$(hosts_leftovers)
[ -z "$left" ] || th_fail "left behind: $left"
for pid in $run_pids; do
  hosts_pid_gone "$pid" || th_fail "process $pid of the run is still alive: $(ps -o pid,ppid,stat,args -p "$pid")"
done
for i in 1 2 3; do sleep_pids "$i" >/dev/null && th_fail "the sleep of host $i survived"; done
hosts_destroy || th_fail "a second hosts_destroy failed"
th_note "done"
echo "PASS: hosts harness (3 hosts, run $HOSTS_RUN)"

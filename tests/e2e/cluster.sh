#!/usr/bin/env bash
# cluster.sh BUILD_DIR SOURCE_DIR: issue 4's acceptance on three network-
# namespace hosts (tests/hosts/hosts.sh) with the process runtime: init on
# host 1, workers 2 and 3 join over mutual TLS, bad and rotated tokens are
# refused, 6 replicas spread 2/2/2 and run in each host's namespace, drain
# moves tasks, SIGKILL of a worker's orchd marks it down and its tasks are
# re-placed (time measured), its restart brings it back Ready without moving
# anything back. Every wait is a bounded poll; hosts_destroy cleans up.
set -uo pipefail
build=$1 src=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
ip netns list >/dev/null 2>&1 || { echo "SKIP: no network namespaces"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: no jq"; exit 77; }

HOSTS_BUILD=$build
source "$src/tests/hosts/hosts.sh"
hosts_create 3 || e2e_fail "hosts_create"
port=2477
uniq=$((300000 + $$ % 100000))
E2E_CLEANUPS+=('hosts_destroy')

oc() { hosts_orchctl "$@"; }
for i in 1 2 3; do
  hosts_start_orchd "$i" --default-runtime process || e2e_fail "orchd on host $i"
done
a1=$(hosts_addr 1)
E2E_LOG=$(hosts_log 1)  # e2e_fail shows the manager's log

e2e_note "swarm init on host 1 ($a1:$port)"
oc 1 swarm init --advertise-addr "$a1" --listen-addr "$a1:$port" >/dev/null || e2e_fail "swarm init"
token=$(oc 1 swarm join-token -q worker) || e2e_fail "join-token"
[[ "$token" == SWMTKN-1-* ]] || e2e_fail "no worker token: $token"
hosts_api 1 /swarm | grep -q -i "BEGIN EC PRIVATE KEY\|OrchJoinSecrets\|OrchCA" &&
  e2e_fail "GET /swarm shows the CA key or the raw secrets"

node_count() { hosts_api 1 /nodes | jq 'length'; }
ready_count() { hosts_api 1 /nodes | jq '[.[] | select(.Status.State == "ready")] | length'; }
ready_is() { [ "$(ready_count)" = "$1" ]; }
e2e_wait 15 "host 1 ready" ready_is 1

e2e_note "a wrong token is refused"
bad=${token%?????}zzzzz
oc 2 swarm join --token "$bad" "$a1:$port" >/dev/null 2>&1 && e2e_fail "a wrong token was accepted"
[ "$(node_count)" = 1 ] || { grep -A30 "ERROR: AddressSanitizer" "$E2E_LOG" | grep -v libc; e2e_fail "a refused join changed node ls ($(node_count) nodes)"; }

for i in 2 3; do
  e2e_note "host $i joins"
  oc "$i" swarm join --token "$token" --advertise-addr "$(hosts_addr "$i")" "$a1:$port" ||
    e2e_fail "host $i join: $(tail -n 5 "$(hosts_log "$i")")"
  hosts_api "$i" /info | jq -e '.Swarm.LocalNodeState == "active" and .Swarm.ControlAvailable == false' >/dev/null ||
    e2e_fail "host $i /info is not an active worker"
done
curl -s --max-time 10 --unix-socket "$(hosts_sock 2)" http://orchd/nodes | grep -q "Worker nodes can't be used" ||
  e2e_fail "GET /nodes on a worker is not refused"
e2e_wait 15 "3 nodes ready" ready_is 3
oc 1 node ls

e2e_note "rotated token: the old one is refused"
oc 1 swarm join-token --rotate worker >/dev/null || e2e_fail "rotate"
new=$(oc 1 swarm join-token -q worker)
[ "$new" != "$token" ] || e2e_fail "rotation did not change the token"
oc 3 swarm leave >/dev/null 2>&1 || true
# host 3 left: it may not come back with the old token, but does with the new one
oc 3 swarm join --token "$token" "$a1:$port" >/dev/null 2>&1 && e2e_fail "the old token was accepted after rotation"
oc 3 swarm join --token "$new" --advertise-addr "$(hosts_addr 3)" "$a1:$port" >/dev/null || e2e_fail "rejoin with the new token"
[ "$(node_count)" = 3 ] || e2e_fail "node ls has $(node_count) nodes, not 3"
e2e_wait 15 "3 nodes ready again" ready_is 3

node_of() { hosts_api 1 /nodes | jq -r --arg h "host$1" '.[] | select(.Description.Hostname == $h) | .ID'; }
n1=$(node_of 1) n2=$(node_of 2) n3=$(node_of 3)
running_on() {
  hosts_api 1 /tasks | jq --arg n "$1" '[.[] | select(.ServiceName == "web" and .DesiredState == "running" and .Status.State == "running" and .NodeID == $n)] | length'
}
running_total() {
  hosts_api 1 /tasks | jq '[.[] | select(.ServiceName == "web" and .DesiredState == "running" and .Status.State == "running")] | length'
}
total_is() { [ "$(running_total)" = "$1" ]; }
live_in() { ip netns pids "$(hosts_ns "$1")" | xargs -r -n1 ps -o args= -p 2>/dev/null | grep -c -x "/bin/sleep $uniq"; }
E2E_CLEANUPS+=('pkill -9 -f -x "/bin/sleep '"$uniq"'"')

e2e_note "6 replicas spread 2/2/2"
oc 1 service create --name web --replicas 6 --runtime process /bin/sleep "$uniq" >/dev/null || e2e_fail "service create"
e2e_wait 60 "6 running" total_is 6
for i in 1 2 3; do
  n=$(eval echo "\$n$i")
  [ "$(running_on "$n")" = 2 ] || e2e_fail "host $i runs $(running_on "$n") tasks, not 2"
  e2e_wait 10 "2 processes in host $i's namespace" bash -c "[ \"\$(ip netns pids $(hosts_ns "$i") | xargs -r -n1 ps -o args= -p 2>/dev/null | grep -c -x '/bin/sleep $uniq')\" = 2 ]"
done

e2e_note "drain host 2"
v=$(hosts_api 1 "/nodes/$n2" | jq .Version.Index)
oc 1 node update --availability drain host2 >/dev/null || e2e_fail "drain"
zero_on_2() { [ "$(running_on "$n2")" = 0 ]; }
e2e_wait 30 "no task on host 2" zero_on_2
e2e_wait 30 "6 running after drain" total_is 6
[ "$(( $(running_on "$n1") + $(running_on "$n3") ))" = 6 ] || e2e_fail "drained tasks not on hosts 1 and 3"
oc 1 node update --availability active host2 >/dev/null || e2e_fail "activate"
: "$v"

e2e_note "SIGKILL host 3's orchd"
before3=$(running_on "$n3")
hosts_kill 3 || e2e_fail "kill"
t0=$(date +%s.%N)
down3() { hosts_api 1 "/nodes/$n3" | jq -e '.Status.State == "down"'; }
e2e_wait 6 "host 3 down" down3
t_down=$(date +%s.%N)
none_on_3() { [ "$(running_on "$n3")" = 0 ]; }
six_off_3() { none_on_3 && total_is 6; }
e2e_wait 60 "6 running on hosts 1-2" six_off_3
t_six=$(date +%s.%N)
printf -- '--- host 3 down after %.2fs; 6 running again after %.2fs (host 3 had %s)\n' \
  "$(echo "$t_down - $t0" | bc)" "$(echo "$t_six - $t0" | bc)" "$before3"

e2e_note "restart host 3: ready again, nothing moves back"
placement=$(hosts_api 1 /tasks | jq -c '[.[] | select(.DesiredState == "running") | .ID] | sort')
hosts_restart 3 || e2e_fail "restart host 3"
ready3() { hosts_api 1 "/nodes/$n3" | jq -e '.Status.State == "ready"'; }
e2e_wait 15 "host 3 ready" ready3
total_is 6 || e2e_fail "not 6 running after host 3 came back"
after=$(hosts_api 1 /tasks | jq -c '[.[] | select(.DesiredState == "running") | .ID] | sort')
[ "$placement" = "$after" ] || e2e_fail "tasks moved after host 3 came back"
none_on_3 || e2e_fail "tasks moved back to host 3"
e2e_note "restart the manager: the server comes back from its stored material"
hosts_restart 1 || e2e_fail "restart host 1"
e2e_wait 20 "3 nodes ready after the manager's restart" ready_is 3
e2e_wait 20 "6 running after the manager's restart" total_is 6

e2e_note "host 2 leaves: its tasks stop there and are re-placed"
on2=$(running_on "$n2")
[ "$on2" -gt 0 ] || e2e_fail "host 2 runs no task before leaving: the check would prove nothing"
oc 2 swarm leave >/dev/null || e2e_fail "leave on host 2"
e2e_wait 20 "no process left in host 2's namespace" bash -c "[ \"\$(ip netns pids $(hosts_ns 2) | xargs -r -n1 ps -o args= -p 2>/dev/null | grep -c -x '/bin/sleep $uniq')\" = 0 ]"
hosts_api 2 /info | jq -e '.Swarm.LocalNodeState == "inactive"' >/dev/null || e2e_fail "host 2 still in a swarm after leave"
none_on_2_six() { [ "$(running_on "$n2")" = 0 ] && total_is 6; }
e2e_wait 30 "host 2's $on2 tasks re-placed" none_on_2_six
oc 1 service rm web >/dev/null

e2e_note "orchd stops cleanly everywhere (sanitizer builds report here)"
for i in 1 2 3; do
  pid=$(hosts_pid "$i")
  hosts_signal TERM "$i" || e2e_fail "SIGTERM host $i"
  hosts_poll 20 hosts_pid_gone "$pid" || e2e_fail "orchd of host $i did not stop"
  wait "$pid"; rc=$?
  [ "$rc" = 0 ] || e2e_fail "orchd of host $i exited with $rc"
  HOSTS_PIDS[i]=""
  if grep -q "ERROR: .*Sanitizer\|runtime error" "$(hosts_log "$i")"; then
    grep -A25 "ERROR: .*Sanitizer\|runtime error" "$(hosts_log "$i")" | head -60
    e2e_fail "sanitizer report in host $i's log"
  fi
done
echo "PASS"

#!/usr/bin/env bash
# ha.sh RUNTIME BUILD_DIR SOURCE_DIR: several managers (Swarm's HA managers)
# on five network-namespace hosts (tests/hosts/hosts.sh), tasks on RUNTIME
# (process, or docker: the five orchd share the machine's dockerd):
# init on host 1, hosts 2 and 3 join with the manager token, hosts 4 and 5
# as workers; node ls shows 1 leader + 2 reachable managers and 5 ready
# nodes; 6 replicas run; SIGKILL of the leader's orchd elects a new leader
# among hosts 2-3 (time from the kill to the first accepted write printed),
# service ls works on both survivors with nothing acknowledged lost, the
# dead node's tasks are re-placed, workers follow the new leader (a scale
# up runs on them); host 1 restarted rejoins as a reachable follower.
# Then demotions: with the other follower killed, demoting host 1 is
# refused (quorum); with it back, host 1 is demoted (2 managers, writes
# work), then the leader is demoted (leadership moves, 1 manager left).
# The demoted host 1 holds a worker certificate, has no raft replica, and
# comes back as a worker after a restart; worker host 4 is promoted (its
# raft replica joins as a learner, then a voter) and serves the API; demoted
# while its orchd is down, it finds out when restarted and runs as a worker.
# Every wait is a bounded poll; hosts_destroy cleans up.
set -uo pipefail
runtime=$1 build=$2 src=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_hosts_init "$build" "$src" 400000

e2e_runtime_setup "$runtime" "$uniq"
hosts_create 5 || e2e_fail "hosts_create"
E2E_CLEANUPS+=('hosts_destroy')

oc() { hosts_orchctl "$@"; }
for i in 1 2 3 4 5; do
  hosts_start_orchd "$i" --default-runtime "$runtime" || e2e_fail "orchd on host $i"
  E2E_NODE_IDS+=("$(hosts_node_id "$i")")
done
a1=$(hosts_addr 1)
E2E_LOG=$(hosts_log 1)

e2e_note "swarm init on host 1 ($a1:$port)"
oc 1 swarm init --advertise-addr "$a1" --listen-addr "$a1:$port" >/dev/null || e2e_fail "swarm init"
mtoken=$(oc 1 swarm join-token -q manager) || e2e_fail "join-token manager"
wtoken=$(oc 1 swarm join-token -q worker) || e2e_fail "join-token worker"
for i in 2 3; do
  e2e_note "host $i joins as a manager"
  a=$(hosts_addr "$i")
  oc "$i" swarm join --token "$mtoken" --advertise-addr "$a" --listen-addr "$a:$port" "$a1:$port" >/dev/null ||
    e2e_fail "host $i manager join: $(tail -n 5 "$(hosts_log "$i")")"
done
for i in 4 5; do
  e2e_note "host $i joins as a worker"
  oc "$i" swarm join --token "$wtoken" --advertise-addr "$(hosts_addr "$i")" "$a1:$port" >/dev/null ||
    e2e_fail "host $i join: $(tail -n 5 "$(hosts_log "$i")")"
done

# nodes H: GET /nodes on host H (a manager).
nodes() { hosts_api "$1" /nodes; }
ready_is() { [ "$(nodes "$1" | jq '[.[] | select(.Status.State == "ready")] | length')" = "$2" ]; }
managers_ok() { # H LEADERS REACHABLE
  nodes "$1" | jq -e --argjson l "$2" --argjson r "$3" \
    '([.[] | select(.ManagerStatus.Leader == true)] | length) == $l and
     ([.[] | select(.ManagerStatus.Reachability == "reachable")] | length) == $r' >/dev/null
}
e2e_wait 30 "5 nodes ready" ready_is 1 5
e2e_wait 30 "1 leader, 3 reachable managers" managers_ok 1 1 3
e2e_wait 30 "host 2 sees the same" managers_ok 2 1 3
oc 1 node ls

node_of() { nodes "$1" | jq -r --arg h "host$2" '.[] | select(.Description.Hostname == $h) | .ID'; }
n1=$(node_of 1 1)
running_total() { # H
  hosts_api "$1" /tasks | jq '[.[] | select(.ServiceName == "web" and .DesiredState == "running" and .Status.State == "running")] | length'
}
running_on() { # H NODE
  hosts_api "$1" /tasks | jq --arg n "$2" '[.[] | select(.ServiceName == "web" and .DesiredState == "running" and .Status.State == "running" and .NodeID == $n)] | length'
}
total_is() { [ "$(running_total "$1")" = "$2" ]; }

e2e_note "6 replicas, created on a follower (host 2 forwards the write)"
# No --runtime: each node runs it on its default (--default-runtime above).
oc 2 service create --name web --replicas 6 "${E2E_IMAGE[@]}" >/dev/null ||
  e2e_fail "service create"
e2e_wait 60 "6 running" total_is 1 6
on1=$(running_on 1 "$n1")
before=$(hosts_api 1 /tasks | jq -c '[.[].ID]')
for i in 4 5; do
  saved=$(hosts_dir "$i")/root/swarm/worker/state.json
  knows3() { [ "$(jq '.managers | length' "$saved")" = 3 ]; }
  e2e_wait 10 "worker host $i saved the 3 manager addresses" knows3
done

e2e_note "SIGKILL the leader (host 1)"
hosts_kill 1 || e2e_fail "kill host 1"
t0=$(date +%s.%N)
try_scale() {
  for h in 2 3; do
    oc "$h" service scale -d web=8 >/dev/null 2>&1 && return 0
  done
  return 1
}
e2e_wait 20 "a write accepted by a new leader" try_scale
t_write=$(date +%s.%N)
leader_host() { # the host whose node is the leader, as host H sees it
  nodes "$1" | jq -r '.[] | select(.ManagerStatus.Leader == true) | .Description.Hostname' | sed 's/^host//'
}
new_leader() { leader=$(leader_host 2); [ "$leader" = 2 ] || [ "$leader" = 3 ]; }
e2e_wait 10 "the new leader in node ls" new_leader
printf -- '--- first write accepted %.2fs after the leader was killed (new leader: host %s)\n' \
  "$(echo "$t_write - $t0" | bc)" "$leader"
E2E_LOG=$(hosts_log "$leader")
for h in 2 3; do
  oc "$h" service ls | grep -q web || e2e_fail "service ls on host $h does not show web"
done
down1() { nodes "$leader" | jq -e --arg n "$n1" '.[] | select(.ID == $n) | .Status.State == "down"' >/dev/null; }
e2e_wait 15 "host 1 down" down1
none_on_1_eight() { [ "$(running_on "$leader" "$n1")" = 0 ] && total_is "$leader" 8; }
e2e_wait 60 "8 running off host 1 (it had $on1)" none_on_1_eight
new_on_workers() { # tasks made after the failover, running on hosts 4-5
  hosts_api "$leader" /tasks | jq --argjson old "$before" --arg a "$(node_of "$leader" 4)" --arg b "$(node_of "$leader" 5)" \
    '[.[] | select((.ID as $id | $old | index($id) | not) and .Status.State == "running" and (.NodeID == $a or .NodeID == $b))] | length'
}
[ "$(new_on_workers)" -gt 0 ] || e2e_fail "no task placed after the failover runs on a worker"
e2e_wait 30 "1 leader, 2 reachable, host 1 unreachable" managers_ok "$leader" 1 2

e2e_note "restart host 1: it rejoins as a follower"
hosts_restart 1 || e2e_fail "restart host 1"
e2e_wait 30 "3 reachable managers again" managers_ok "$leader" 1 3
e2e_wait 30 "5 nodes ready again" ready_is "$leader" 5
nodes "$leader" | jq -e --arg n "$n1" '.[] | select(.ID == $n) | .ManagerStatus.Leader == false' >/dev/null ||
  e2e_fail "host 1 came back as the leader"
e2e_wait 20 "host 1 serves reads" bash -c "curl -sf --max-time 5 --unix-socket $(hosts_sock 1) http://orchd/services | grep -q web"
oc "$leader" node ls

# Demotions: host 1 is a follower, $other the other one.
other=$((5 - leader))
managers_are() { # H N: N nodes with a ManagerStatus
  [ "$(nodes "$1" | jq '[.[] | select(.ManagerStatus != null)] | length')" = "$2" ]
}
e2e_note "kill host $other: demoting host 1 would lose quorum, refused"
hosts_kill "$other" || e2e_fail "kill host $other"
e2e_wait 30 "host $other unreachable" managers_ok "$leader" 1 2
if out=$(oc "$leader" node demote "$n1" 2>&1); then
  e2e_fail "demoting host 1 with host $other down was accepted: $out"
fi
echo "$out" | grep -q "loss of quorum" || e2e_fail "no quorum message: $out"
managers_are "$leader" 3 || e2e_fail "a refused demotion changed the managers"
hosts_restart "$other" || e2e_fail "restart host $other"
e2e_wait 30 "3 reachable managers again" managers_ok "$leader" 1 3

e2e_note "demote host 1 (a follower)"
oc "$leader" node demote "$n1" >/dev/null || e2e_fail "demote host 1"
n1_worker() {
  nodes "$leader" | jq -e --arg n "$n1" '.[] | select(.ID == $n) |
    .ManagerStatus == null and .Spec.Role == "worker"' >/dev/null
}
e2e_wait 30 "host 1 without MANAGER STATUS" n1_worker
e2e_wait 10 "2 managers left" managers_are "$leader" 2
e2e_wait 20 "1 leader, 2 reachable managers" managers_ok "$leader" 1 2
oc "$leader" node ls
oc "$leader" service scale -d web=6 >/dev/null || e2e_fail "write after demoting host 1"
e2e_wait 60 "6 running after demoting host 1" total_is "$leader" 6
e2e_wait 20 "host 1 ready as a worker" ready_is "$leader" 5

e2e_note "demote the leader (host $leader): leadership moves to host $other"
nl=$(node_of "$leader" "$leader")
oc "$leader" node demote "$nl" >/dev/null || e2e_fail "demote the leader"
old_leader=$leader
moved() {
  [ "$(leader_host "$other")" = "$other" ] &&
    nodes "$other" | jq -e --arg n "$nl" '.[] | select(.ID == $n) | .ManagerStatus == null' >/dev/null
}
E2E_LOG=$(hosts_log "$other")
e2e_wait 30 "host $other leads, host $old_leader demoted" moved
leader=$other
E2E_LOG=$(hosts_log "$leader")
e2e_wait 10 "1 manager left" managers_are "$leader" 1
oc "$leader" service scale -d web=4 >/dev/null || e2e_fail "write on the new leader"
e2e_wait 60 "4 running after demoting the old leader" total_is "$leader" 4
oc "$leader" node ls

e2e_note "host 1, demoted, runs as a worker: worker certificate, no raft replica"
worker_cert() { # H: the node certificate under the worker state says swarm-worker
  local crt; crt=$(hosts_dir "$1")/root/swarm/worker/swarm-node.crt
  [ -f "$crt" ] && openssl x509 -noout -subject -in "$crt" | grep -q "OU *= *swarm-worker"
}
e2e_wait 20 "host 1 holds a worker certificate" worker_cert 1
[ -e "$(hosts_dir 1)/root/swarm/raft" ] && e2e_fail "host 1 kept its raft directory after the demotion"
[ -e "$(hosts_dir 1)/root/swarm/certificates/swarm-root-ca.key" ] && e2e_fail "host 1 kept the CA key after the demotion"
hosts_api 1 /info | jq -e '.Swarm.ControlAvailable == false and .Swarm.LocalNodeState == "active"' >/dev/null ||
  e2e_fail "host 1 /info is not an active worker"
e2e_note "restart host 1: it comes back as a worker"
hosts_restart 1 || e2e_fail "restart host 1"
n1_ready_worker() {
  nodes "$leader" | jq -e --arg n "$n1" '.[] | select(.ID == $n) | .Status.State == "ready" and .ManagerStatus == null' >/dev/null
}
e2e_wait 20 "host 1 ready as a worker after its restart" n1_ready_worker
grep -q "raft" <(hosts_api 1 /info | jq -r '.Swarm.Error // ""') && e2e_fail "host 1 reports a raft error"

e2e_note "promote host 4 (a worker): learner, then voter; it serves the API"
n4=$(node_of "$leader" 4)
oc "$leader" node promote "$n4" >/dev/null || e2e_fail "promote host 4"
e2e_wait 40 "2 reachable managers (host 4 promoted)" managers_ok "$leader" 1 2
control4() { hosts_api 4 /info | jq -e '.Swarm.ControlAvailable == true' >/dev/null; }
e2e_wait 30 "host 4 /info says it is a manager" control4
e2e_wait 20 "host 4 serves reads" bash -c "curl -sf --max-time 5 --unix-socket $(hosts_sock 4) http://orchd/services | grep -q web"
[ -e "$(hosts_dir 4)/root/swarm/worker/state.json" ] && e2e_fail "host 4 kept its worker state after the promotion"
oc 4 service scale -d web=5 >/dev/null || e2e_fail "write through host 4 (forwarded to the leader)"
e2e_wait 60 "5 running after a write on host 4" total_is "$leader" 5
oc 4 node ls

e2e_note "promote host 5 too, then demote host 4 while its orchd is down: restarted, it finds out and runs as a worker"
oc "$leader" node promote "$(node_of "$leader" 5)" >/dev/null || e2e_fail "promote host 5"
e2e_wait 40 "3 reachable managers (host 5 promoted)" managers_ok "$leader" 1 3
voter5() { grep -q "promoted to manager .*(raft voter)" "$(hosts_log 5)"; }
e2e_wait 30 "host 5 a raft voter (else killing host 4 loses the quorum)" voter5
hosts_kill 4 || e2e_fail "kill host 4"
e2e_wait 30 "host 4 unreachable" managers_ok "$leader" 1 2
oc "$leader" node demote "$n4" >/dev/null || e2e_fail "demote host 4 while it is down"
e2e_wait 30 "2 managers left" managers_are "$leader" 2
hosts_restart 4 || e2e_fail "restart host 4"
n4_ready_worker() {
  nodes "$leader" | jq -e --arg n "$n4" '.[] | select(.ID == $n) | .Status.State == "ready" and .ManagerStatus == null' >/dev/null
}
e2e_wait 40 "host 4 ready as a worker" n4_ready_worker
e2e_wait 10 "host 4 holds a worker certificate" worker_cert 4
[ -e "$(hosts_dir 4)/root/swarm/raft" ] && e2e_fail "host 4 kept its raft directory"
oc "$leader" service rm web >/dev/null || e2e_fail "service rm"

e2e_note "orchd stops cleanly everywhere (sanitizer builds report here)"
e2e_hosts_stop_clean 1 2 3 4 5
echo "PASS"

#!/usr/bin/env bash
# cluster.sh RUNTIME BUILD_DIR SOURCE_DIR: issue 4's acceptance on three
# network-namespace hosts (tests/hosts/hosts.sh): host 1 the manager, hosts 2
# and 3 workers, tasks on the process runtime or on the docker runtime (the
# three orchd then share the machine's dockerd; each labels its containers
# with its node id and sees only those). In order:
#   join over mutual TLS, wrong and rotated tokens refused;
#   6 replicas spread 2/2/2, each node's runtime running what `service ps`
#   says runs there;
#   a short network blip of a worker (drop rules, ~0.7 s, under the 2.5 s
#   detection): nothing restarted, nothing re-placed (moby/moby#43508);
#   a long cut (link down until the manager marked the worker down and
#   re-placed its tasks): the worker's tasks keep running while cut; healed,
#   it is Ready, stops its superseded tasks and starts none, 6 run;
#   pause: the worker's tasks stay, a scale-up places nothing there; drain;
#   active again, nothing moves back; service update --force: 2/2/2;
#   SIGSTOP of a worker's orchd past the detection: down, re-placed;
#   SIGCONT: Ready, superseded tasks stopped;
#   SIGKILL of a worker's orchd: down in ~2 s, re-placed; restarted: Ready,
#   nothing moves back until swarm update --rebalance=true (then 2/2/2);
#   a worker's state wiped: it joins again as a new node, the old entry is
#   Down and removable without --force, nothing of the old identity runs;
#   manager restart; a worker leaves; every orchd stops cleanly.
# State: the hosts (hosts.sh removes them on exit), and with docker the
# containers labelled with the node ids this run made (removed on exit,
# after every orchd is dead). Every wait is a bounded poll; the blip's
# length is the one timed hold, as it is the fault being tested.
set -uo pipefail
runtime=${1:-} build=${2:-} src=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
case "$runtime" in
  process | docker) ;;
  *) echo "usage: cluster.sh process|docker BUILD_DIR SOURCE_DIR" >&2; exit 2 ;;
esac
source "$here/lib.sh"
e2e_hosts_init "$build" "$src" 300000
E2E_FINDINGS=()       # failures that do not stop the run; reported at the end
nid=()                # nid[i]: the node id host i currently runs as
# E2E_NODE_IDS: every node id this run made (docker cleanup by label, after
# every orchd is dead: hosts_destroy runs first).
e2e_runtime_setup "$runtime" "$uniq"
hosts_create 3 || e2e_fail "hosts_create"
E2E_CLEANUPS+=('hosts_destroy')
# ORCHD_E2E_KEEP_LOGS=DIR: the hosts' orchd logs are copied there on exit,
# before hosts.sh removes them.
keep_logs() {
  local dir=${ORCHD_E2E_KEEP_LOGS:-} i
  [ -n "$dir" ] || return 0
  mkdir -p "$dir" || { echo "cannot create $dir" >&2; return 1; }
  for ((i = 1; i <= HOSTS_N; i++)); do
    [ -f "$(hosts_log "$i")" ] && cp "$(hosts_log "$i")" "$dir/cluster-$runtime-host$i.log"
  done
  echo "--- logs kept in $dir"
}
# shellcheck disable=SC2064 # the trap hosts.sh set is meant to expand now
trap "keep_logs; $(eval "hosts_third_word $(trap -p EXIT)")" EXIT

image=("${E2E_IMAGE[@]}")
probe_image=("${E2E_IMAGE[@]}")
probe_image[-1]=$((uniq + 1))

oc() { hosts_orchctl "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
t_start=$(now_ms)
note() { e2e_note "[$((($(now_ms) - t_start) / 1000)) s] $*"; }
secs() { printf '%d.%02d s' $(($1 / 1000)) $((($1 % 1000) / 10)); }
finding() { echo "FINDING: $*" >&2; E2E_FINDINGS+=("$*"); }

# --- the manager's view
node_state() { hosts_api 1 "/nodes/$1" | jq -r '.Status.State'; }
state_is() { [ "$(node_state "$1")" = "$2" ]; }
node_gone() { ! hosts_api 1 /nodes | jq -e --arg n "$1" 'any(.[]; .ID == $n)' >/dev/null; }
availability_is() { [ "$(hosts_api 1 "/nodes/$1" | jq -r '.Spec.Availability')" = "$2" ]; }
node_count() { hosts_api 1 /nodes | jq 'length'; }
ready_is() { [ "$(hosts_api 1 /nodes | jq '[.[] | select(.Status.State == "ready")] | length')" = "$1" ]; }
# running_ids SERVICE [NODE]: ids of the service's tasks running (desired
# and observed), on NODE when given, sorted, as a JSON array.
running_ids() {
  hosts_api 1 /tasks | jq -c --arg s "$1" --arg n "${2:-}" '[.[] | select(.ServiceName == $s and
    .DesiredState == "running" and .Status.State == "running" and ($n == "" or .NodeID == $n)) | .ID] | sort'
}
running_on() { running_ids web "$1" | jq length; }
running_total() { running_ids web | jq length; }
total_is() { [ "$(running_total)" = "$1" ]; }
off_node_is() { [ "$(running_on "$1")" = 0 ] && total_is "$2"; }
# wait_replaced HOST DOWN_S WHERE: the fault on HOST has just happened;
# waits until HOST is down (within DOWN_S) and 6 tasks run off it (WHERE
# says where, for the message); sets t0 (now) and t_down, t_six (ms after).
wait_replaced() {
  t0=$(now_ms)
  e2e_wait "$2" "host $1 down" state_is "${nid[$1]}" down
  t_down=$(($(now_ms) - t0))
  e2e_wait 60 "6 running $3" off_node_is "${nid[$1]}" 6
  t_six=$(($(now_ms) - t0))
}
# dump_web: web's tasks and the nodes as the manager has them (for failures).
dump_web() {
  hosts_api 1 /tasks | jq -r '.[] | select(.ServiceName == "web") |
    "task \(.ID) slot \(.Slot) node \(.NodeID) desired \(.DesiredState) observed \(.Status.State) at \(.Status.Timestamp) created \(.CreatedAt) err \(.Status.Err // "")"'
  hosts_api 1 /nodes | jq -r '.[] | "node \(.ID) \(.Description.Hostname) \(.Status.State) updated \(.UpdatedAt) \(.Status.Message // "")"'
}
all_web_ids() { hosts_api 1 /tasks | jq -c '[.[] | select(.ServiceName == "web") | .ID] | sort'; }
# ps_running_on I: rows of `service ps web` on host I, desired and current Running.
ps_running_on() { oc 1 service ps web | awk -v h="host$1" '$4 == h && $5 == "Running" && $6 == "Running"' | wc -l; }

# --- what each host's runtime really runs
# live_list I [NODE]: web's live tasks in host I's runtime, sorted: the
# pids of "/bin/sleep UNIQ" in host I's namespace (process runtime), or the
# ids of running containers labelled with NODE (default: host I's node id).
if [ "$runtime" = process ]; then
  live_args() { # I ARGS: pids in host I's namespace whose command line is ARGS
    local pid
    for pid in $(ip netns pids "$(hosts_ns "$1")" 2>/dev/null); do
      [ "$(ps -o args= -p "$pid" 2>/dev/null)" = "$2" ] && echo "$pid"
    done | sort -n
  }
  live_list() { live_args "$1" "${image[*]}"; }
  probe_live() { local i; for i in 1 2 3; do live_args "$i" "${probe_image[*]}"; done; }
  # A stale object (of a wiped identity) is gone when its pid is.
  object_alive() { ! hosts_pid_gone "$1" && [ "$(ps -o args= -p "$1" 2>/dev/null)" = "${image[*]}" ]; }
  remove_object() { kill -KILL "$1"; }
else
  live_list() {
    docker ps -q --no-trunc --filter "label=orchd.node.id=${2:-${nid[$1]}}" \
      --filter label=orchd.service.name=web | sort
  }
  probe_live() {
    local i
    for i in 1 2 3; do
      docker ps -q --filter "label=orchd.node.id=${nid[i]}" --filter label=orchd.service.name=probe
    done
  }
  object_alive() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
  remove_object() { docker rm -f "$1" >/dev/null; }
fi
live_count() { live_list "$@" | grep -c .; }
live_total_is() { [ $(($(live_count 1) + $(live_count 2) + $(live_count 3))) = "$1" ]; }
live_is() { [ "$(live_count "$1")" = "$2" ]; }
# matches_manager I: host I's runtime runs as many web tasks as the manager
# says run on host I.
matches_manager() { [ "$(live_count "$1")" = "$(running_on "${nid[$1]}")" ]; }
all_match_manager() { matches_manager 1 && matches_manager 2 && matches_manager 3; }

# host_sheds I BEFORE: true once host I runs none of web's tasks; also true
# (stopping the wait) as soon as it runs one that is not in BEFORE, which is
# then added to $newcomers: a task started again where it was superseded.
newcomers=""
host_sheds() {
  local now obj; now=$(live_list "$1")
  for obj in $now; do grep -qxF "$obj" <<<"$2" || newcomers+=" $obj"; done
  [ -n "$newcomers" ] || [ -z "$now" ]
}
# docker_starts NODE SINCE: containers of web started on NODE since SINCE
# (unix time), from the engine's event log (nothing there: process runtime).
docker_starts() {
  [ "$runtime" = docker ] || return 0
  docker events --since "$2" --until "$(date +%s.%N)" --filter type=container \
    --filter event=start --filter "label=orchd.node.id=$1" \
    --format '{{.Actor.ID}} {{index .Actor.Attributes "orchd.service.name"}}' | awk '$2 == "web" { print $1 }'
}
# expect_shed I BEFORE SINCE WHAT: host I stops its superseded tasks
# (BEFORE) and starts none; web runs 6 tasks, each runtime what the manager says.
expect_shed() {
  newcomers=""
  e2e_wait 30 "host $1's superseded tasks stopped ($4)" host_sheds "$1" "$2"
  [ -z "$newcomers" ] || e2e_fail "host $1 started tasks again after $4:$newcomers"
  local again; again=$(docker_starts "${nid[$1]}" "$3")
  [ -z "$again" ] || e2e_fail "containers of web started on host $1 after $4: $again"
  e2e_wait 20 "6 running after $4" total_is 6
  e2e_wait 20 "every runtime runs what the manager says after $4" all_match_manager
  live_total_is 6 || e2e_fail "$(($(live_count 1) + $(live_count 2) + $(live_count 3))) live tasks after $4, not 6"
}

# probe_barrier: a global service runs a task on every node, then goes. Once
# it ran on a worker, that worker's session carried assignments and statuses
# both ways after whatever came before.
probe_on_all() {
  hosts_api 1 /tasks | jq -e '[.[] | select(.ServiceName == "probe" and .Status.State == "running") | .NodeID] | unique | length == 3' >/dev/null
}
no_probe_tasks() { hosts_api 1 /tasks | jq -e 'all(.[]; .ServiceName != "probe")' >/dev/null; }
no_probe_live() { [ -z "$(probe_live)" ]; }
probe_barrier() {
  oc 1 service create --detach --name probe --mode global --runtime "$runtime" --stop-grace-period 1s \
    "${probe_image[@]}" >/dev/null || e2e_fail "service create probe"
  e2e_wait 30 "the probe running on all 3 nodes" probe_on_all
  oc 1 service rm probe >/dev/null || e2e_fail "service rm probe"
  e2e_wait 30 "the probe's tasks gone" no_probe_tasks
  e2e_wait 30 "the probe's runtime objects gone" no_probe_live
}

# spread_222: 6 running, 2 on each node, in the manager's view, in `service
# ps` and in each node's runtime.
spread_222() {
  e2e_wait 60 "6 running" total_is 6
  local i
  for i in 1 2 3; do
    [ "$(running_on "${nid[i]}")" = 2 ] || e2e_fail "host $i runs $(running_on "${nid[i]}") tasks, not 2"
    e2e_wait 20 "host $i's runtime runs its 2 tasks" live_is "$i" 2
    [ "$(ps_running_on "$i")" = 2 ] || { oc 1 service ps web; e2e_fail "service ps does not show 2 Running on host$i"; }
  done
}
# respread: scale web to 0 and back to 6: 2/2/2 again after nodes emptied.
respread() {
  oc 1 service scale web=0 >/dev/null || e2e_fail "scale web=0"
  e2e_wait 60 "web at 0" total_is 0
  e2e_wait 60 "no web task left in any runtime" live_total_is 0
  oc 1 service scale web=6 >/dev/null || e2e_fail "scale web=6"
  spread_222
}

for i in 1 2 3; do
  hosts_start_orchd "$i" --default-runtime "$runtime" || e2e_fail "orchd on host $i"
  nid[i]=$(hosts_node_id "$i") || e2e_fail "no node id for host $i"
  E2E_NODE_IDS+=("${nid[i]}")
done
a1=$(hosts_addr 1)
E2E_LOG=$(hosts_log 1)  # e2e_fail shows the manager's log

note "swarm init on host 1 ($a1:$port), runtime $runtime"
oc 1 swarm init --advertise-addr "$a1" --listen-addr "$a1:$port" >/dev/null || e2e_fail "swarm init"
token=$(oc 1 swarm join-token -q worker) || e2e_fail "join-token"
[[ "$token" == SWMTKN-1-* ]] || e2e_fail "no worker token: $token"
hosts_api 1 /swarm | grep -q -i "BEGIN EC PRIVATE KEY\|OrchJoinSecrets\|OrchCA" &&
  e2e_fail "GET /swarm shows the CA key or the raw secrets"
e2e_wait 15 "host 1 ready" ready_is 1

note "a wrong token is refused"
bad=${token%?????}zzzzz
oc 2 swarm join --token "$bad" "$a1:$port" >/dev/null 2>&1 && e2e_fail "a wrong token was accepted"
[ "$(node_count)" = 1 ] || e2e_fail "a refused join changed node ls ($(node_count) nodes)"

for i in 2 3; do
  note "host $i joins"
  oc "$i" swarm join --token "$token" --advertise-addr "$(hosts_addr "$i")" "$a1:$port" ||
    e2e_fail "host $i join: $(tail -n 5 "$(hosts_log "$i")")"
  hosts_api "$i" /info | jq -e '.Swarm.LocalNodeState == "active" and .Swarm.ControlAvailable == false' >/dev/null ||
    e2e_fail "host $i /info is not an active worker"
done
curl -s --max-time 10 --unix-socket "$(hosts_sock 2)" http://orchd/nodes | grep -q "Worker nodes can't be used" ||
  e2e_fail "GET /nodes on a worker is not refused"
e2e_wait 15 "3 nodes ready" ready_is 3
oc 1 node ls

note "rotated token: the old one is refused"
oc 1 swarm join-token --rotate worker >/dev/null || e2e_fail "rotate"
token2=$(oc 1 swarm join-token -q worker)
[ "$token2" != "$token" ] || e2e_fail "rotation did not change the token"
oc 3 swarm leave >/dev/null 2>&1 || true
# host 3 left: it may not come back with the old token, but does with the new one
oc 3 swarm join --token "$token" "$a1:$port" >/dev/null 2>&1 && e2e_fail "the old token was accepted after rotation"
oc 3 swarm join --token "$token2" --advertise-addr "$(hosts_addr 3)" "$a1:$port" >/dev/null || e2e_fail "rejoin with the new token"
[ "$(node_count)" = 3 ] || e2e_fail "node ls has $(node_count) nodes, not 3"
e2e_wait 15 "3 nodes ready again" ready_is 3
for i in 1 2 3; do
  state_is "${nid[i]}" ready || e2e_fail "host $i's node ${nid[i]} is not a ready node of the swarm"
done

note "6 replicas spread 2/2/2 ($runtime)"
oc 1 service create --name web --replicas 6 --runtime "$runtime" --stop-grace-period 1s "${image[@]}" >/dev/null ||
  e2e_fail "service create"
spread_222
oc 1 service ps web

blip_ms=700
note "network blip of host 3 (drop rules for ${blip_ms} ms, detection 2.5 s): nothing restarted"
ids_before=$(all_web_ids)
for i in 1 2 3; do live_before[i]=$(live_list "$i"); done
since=$(date +%s.%N)
seen_down=""
hosts_cut 3 drop || e2e_fail "cut host 3"
t0=$(now_ms)
while left_ms=$((blip_ms - ($(now_ms) - t0))) && [ "$left_ms" -gt 0 ]; do   # the fault's length: the one timed hold
  if [ "$left_ms" -gt 300 ]; then   # a slow answer must not stretch the blip
    state_is "${nid[3]}" ready || seen_down+=" $(node_state "${nid[3]}")"
  fi
  [ "$left_ms" -gt 100 ] && left_ms=100
  sleep "0.$(printf '%03d' "$left_ms")"
done
hosts_heal 3 || e2e_fail "heal host 3"
blip=$(($(now_ms) - t0))
echo "--- the blip lasted $(secs "$blip")"
# A packet sent during the blip is retransmitted by TCP up to ~0.8 s after
# the heal (RTO 0.2, 0.4, 0.8 s): the manager hears nothing for up to blip +
# 0.8 s, which must stay under the 2.5 s detection for the test to mean it.
# A loaded machine (ctest -j) can stretch the hold; past 1.5 s the
# manager may rightly mark host 3 down, so only convergence is checked.
blip_long=""
[ "$blip" -lt 1500 ] || { blip_long=1; echo "--- the blip was stretched to $blip ms by the machine's load: only convergence is checked"; }
probe_barrier
# What goes wrong here is orchd's (the test held the cut under the
# detection): recorded as a finding, the cluster let converge and spread
# again, and the run goes on to the other steps.
blip_broke=""
[ -z "$seen_down" ] || blip_broke+=" the manager saw host 3 as$seen_down during the blip;"
ids_after=$(all_web_ids)
if [ "$ids_after" != "$ids_before" ]; then
  dump_web
  blip_broke+=" tasks replaced: $(jq -nrc --argjson a "$ids_before" --argjson b "$ids_after" \
    '"gone \($a - $b), new \($b - $a)"');"
else
  for i in 1 2 3; do
    [ "$(live_list "$i")" = "${live_before[i]}" ] ||
      blip_broke+=" host $i's runtime objects changed: ${live_before[i]//$'\n'/ } -> $(live_list "$i" | tr '\n' ' ');"
  done
  again=$(docker_starts "${nid[3]}" "$since")
  [ -z "$again" ] || blip_broke+=" containers of web started again on host 3: $again;"
fi
if [ -n "$blip_broke" ]; then
  [ -n "$blip_long" ] || finding "blip of $blip ms (cut at $(date -u -d @"$since" +%T.%N)):$blip_broke"
  e2e_wait 20 "host 3 ready after the blip" state_is "${nid[3]}" ready
  e2e_wait 30 "every runtime runs what the manager says (after the blip)" all_match_manager
  note "scale to 0 and back after the blip's finding: 2/2/2 again"
  respread
fi

note "cut host 3 (link down) until it is down and its tasks are re-placed"
live3=$(live_list 3)
ids3=$(running_ids web "${nid[3]}")
[ -n "$live3" ] || e2e_fail "host 3 runs no task before the cut: the check would prove nothing"
since=$(date +%s.%N)
hosts_cut 3 link || e2e_fail "cut host 3"
wait_replaced 3 10 "off host 3"
[ "$(live_list 3)" = "$live3" ] ||
  e2e_fail "host 3's tasks did not keep running while it was cut: ${live3//$'\n'/ } -> $(live_list 3 | tr '\n' ' ')"
hosts_heal 3 || e2e_fail "heal host 3"
t_heal=$(($(now_ms) - t0))
e2e_wait 20 "host 3 ready after the heal" state_is "${nid[3]}" ready
t_ready=$(($(now_ms) - t0))
expect_shed 3 "$live3" "$since" "the cut"
t_shed=$(($(now_ms) - t0))
echo "--- cut: down after $(secs $t_down), 6 running elsewhere after $(secs $t_six), healed at $(secs $t_heal)," \
  "ready after $(secs $t_ready), superseded tasks stopped after $(secs $t_shed)"
hosts_api 1 /tasks | jq -r --argjson ids "$ids3" \
  '.[] | select(.ID as $id | $ids | index($id)) | "--- superseded on host 3: \(.ID) desired \(.DesiredState) observed \(.Status.State)"'

note "pause host 2: its tasks stay, a scale-up places nothing there"
ids2=$(running_ids web "${nid[2]}")
live2=$(live_list 2)
[ "$(jq length <<<"$ids2")" -gt 0 ] || e2e_fail "host 2 runs no task before the pause: the check would prove nothing"
oc 1 node update --availability pause host2 >/dev/null || e2e_fail "node update --availability pause"
availability_is "${nid[2]}" pause || e2e_fail "host 2 is not paused in node inspect"
oc 1 service scale web=9 >/dev/null || e2e_fail "scale web=9"
e2e_wait 60 "9 running" total_is 9
[ "$(running_ids web "${nid[2]}")" = "$ids2" ] || e2e_fail "the scale-up changed paused host 2's tasks: $ids2 -> $(running_ids web "${nid[2]}")"
e2e_wait 20 "every runtime runs what the manager says (paused host 2)" all_match_manager
[ "$(live_list 2)" = "$live2" ] || e2e_fail "paused host 2's runtime objects changed"
oc 1 node update --availability active host2 >/dev/null || e2e_fail "node update --availability active"
availability_is "${nid[2]}" active || e2e_fail "host 2 is not active again"
oc 1 service scale web=6 >/dev/null || e2e_fail "scale web=6"
e2e_wait 60 "6 running" total_is 6
e2e_wait 30 "6 live tasks" live_total_is 6

note "drain host 2"
[ "$(running_on "${nid[2]}")" -gt 0 ] || e2e_fail "host 2 runs no task before the drain: the check would prove nothing"
oc 1 node update --availability drain host2 >/dev/null || e2e_fail "drain"
e2e_wait 30 "6 running, none on host 2" off_node_is "${nid[2]}" 6
e2e_wait 30 "host 2's runtime runs nothing" live_is 2 0
e2e_wait 20 "every runtime runs what the manager says (drain)" all_match_manager
oc 1 node update --availability active host2 >/dev/null || e2e_fail "activate"
[ "$(running_on "${nid[2]}")" = 0 ] || e2e_fail "tasks moved back to host 2 once active"

note "service update --force: every task replaced one at a time, spread 2/2/2 again"
before_force=$(running_ids web)
oc 1 service update --force web >/dev/null || e2e_fail "service update --force web"
hosts_api 1 /services/web | jq -e '.UpdateStatus.State == "completed"' >/dev/null ||
  e2e_fail "UpdateStatus is not completed after service update --force"
jq -ne --argjson a "$before_force" --argjson b "$(running_ids web)" '($a - $b) == $a' >/dev/null ||
  e2e_fail "service update --force left some tasks in place"
spread_222

note "SIGSTOP host 2's orchd past the detection, then SIGCONT"
live2=$(live_list 2)
since=$(date +%s.%N)
hosts_stop 2 || e2e_fail "SIGSTOP host 2"
wait_replaced 2 10 "off host 2"
[ "$(live_list 2)" = "$live2" ] || e2e_fail "host 2's tasks did not keep running while its orchd was stopped"
hosts_cont 2 || e2e_fail "SIGCONT host 2"
e2e_wait 20 "host 2 ready after SIGCONT" state_is "${nid[2]}" ready
t_ready=$(($(now_ms) - t0))
expect_shed 2 "$live2" "$since" "SIGSTOP/SIGCONT"
echo "--- SIGSTOP: down after $(secs $t_down), 6 running elsewhere after $(secs $t_six), ready $(secs $t_ready) after the stop"

note "SIGKILL host 3's orchd"
live3=$(live_list 3)
since=$(date +%s.%N)
hosts_kill 3 || e2e_fail "kill"
wait_replaced 3 6 "on hosts 1-2"
echo "--- host 3 down after $(secs $t_down); 6 running again after $(secs $t_six)"
[ "$(live_list 3)" = "$live3" ] || e2e_fail "host 3's tasks died with its orchd"

note "restart host 3: ready again, nothing moves back"
placement=$(running_ids web)
hosts_restart 3 || e2e_fail "restart host 3"
e2e_wait 15 "host 3 ready" state_is "${nid[3]}" ready
expect_shed 3 "$live3" "$since" "the restart"
[ "$placement" = "$(running_ids web)" ] || e2e_fail "tasks moved after host 3 came back"
[ "$(running_on "${nid[3]}")" = 0 ] || e2e_fail "tasks moved back to host 3"

note "swarm update --rebalance=true: host 3 gets its share back, one task at a time"
oc 1 swarm update --rebalance=true >/dev/null || e2e_fail "swarm update --rebalance=true"
balanced_222() { local i; for i in 1 2 3; do [ "$(running_on "${nid[i]}")" = 2 ] || return 1; done; }
e2e_wait 60 "2/2/2 after rebalancing" balanced_222
spread_222
oc 1 swarm update --rebalance=false >/dev/null || e2e_fail "swarm update --rebalance=false"

note "wipe host 3's state: it joins again as a new node"
old3=${nid[3]}
stale=$(live_list 3)
hosts_stop_orchd 3 || e2e_fail "stop host 3's orchd"
hosts_wipe 3 || e2e_fail "wipe host 3"
hosts_restart 3 || e2e_fail "start host 3 on an empty data root"
new3=$(hosts_node_id 3) || e2e_fail "no node id for the wiped host 3"
E2E_NODE_IDS+=("$new3")
[ "$new3" != "$old3" ] || e2e_fail "the wiped host 3 kept its node id $old3"
oc 3 swarm join --token "$token2" --advertise-addr "$(hosts_addr 3)" "$a1:$port" >/dev/null ||
  e2e_fail "the wiped host 3 cannot join: $(tail -n 5 "$(hosts_log 3)")"
nid[3]=$new3
e2e_wait 15 "the new host 3 ready" state_is "$new3" ready
e2e_wait 15 "the old host 3 down" state_is "$old3" down
oc 1 node ls
[ "$(node_count)" = 4 ] || e2e_fail "node ls has $(node_count) nodes, not 4 (3 + the old entry)"
oc 1 node rm host2 >/dev/null 2>"$HOSTS_DIR/err" && e2e_fail "node rm of a ready node without --force succeeded"
grep -q "not down" "$HOSTS_DIR/err" || e2e_fail "node rm of a ready node: unexpected message: $(cat "$HOSTS_DIR/err")"
oc 1 node rm "$old3" >/dev/null || e2e_fail "node rm of the down old entry $old3 (no --force)"
e2e_wait 10 "the old entry gone from node ls" node_gone "$old3"
[ "$(node_count)" = 3 ] || e2e_fail "node ls has $(node_count) nodes after node rm, not 3"
e2e_wait 60 "6 running after the wipe" total_is 6
# What ran under the old identity: orchd should stop it (the new identity
# cannot see it: other labels, other task directory). Given time, then
# removed by the test so that the counts below mean something.
left=""
stale_gone() {
  local obj; left=""
  for obj in $stale; do object_alive "$obj" && left+=" $obj"; done
  if [ "$runtime" = docker ]; then   # and anything else under the old label
    for obj in $(docker ps -q --no-trunc --filter "label=orchd.node.id=$old3"); do
      grep -qF "$obj" <<<"$left" || left+=" $obj"
    done
  fi
  [ -z "$left" ]
}
if ! hosts_poll 15 stale_gone; then
  finding "wipe: $(wc -w <<<"$left") task(s) of the old identity $old3 still running 15 s after the rejoin:$left"
  for obj in $left; do remove_object "$obj" || e2e_fail "cannot remove $obj"; done
fi
e2e_wait 20 "every runtime runs what the manager says (wipe)" all_match_manager
e2e_wait 20 "6 live tasks after the wipe" live_total_is 6

note "restart the manager: the server comes back from its stored material"
hosts_restart 1 || e2e_fail "restart host 1"
e2e_wait 20 "3 nodes ready after the manager's restart" ready_is 3
e2e_wait 20 "6 running after the manager's restart" total_is 6
e2e_wait 20 "every runtime runs what the manager says (manager restart)" all_match_manager

note "host 2 leaves: its tasks stop there and are re-placed"
[ "$(running_on "${nid[2]}")" -gt 0 ] || e2e_fail "host 2 runs no task before leaving: the check would prove nothing"
oc 2 swarm leave >/dev/null || e2e_fail "leave on host 2"
e2e_wait 20 "nothing of web left in host 2's runtime" live_is 2 0
hosts_api 2 /info | jq -e '.Swarm.LocalNodeState == "inactive"' >/dev/null || e2e_fail "host 2 still in a swarm after leave"
e2e_wait 30 "host 2's tasks re-placed" off_node_is "${nid[2]}" 6
oc 1 service rm web >/dev/null || e2e_fail "service rm web"
e2e_wait 30 "web's tasks gone from every runtime" live_total_is 0
if [ "$runtime" = docker ]; then
  for i in 1 2 3; do
    left=$(docker ps -aq --filter "label=orchd.node.id=${nid[i]}")
    [ -z "$left" ] || finding "after service rm, host $i keeps containers: $(tr '\n' ' ' <<<"$left")"
  done
fi

note "orchd stops cleanly everywhere (sanitizer builds report here)"
for i in 1 2 3; do
  hosts_stop_orchd "$i" || e2e_fail "stop host $i"
  if grep -q "ERROR: .*Sanitizer\|runtime error" "$(hosts_log "$i")"; then
    grep -A25 "ERROR: .*Sanitizer\|runtime error" "$(hosts_log "$i")" | head -60
    e2e_fail "sanitizer report in host $i's log"
  fi
done
if [ ${#E2E_FINDINGS[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${E2E_FINDINGS[@]}" >&2
  exit 1
fi
echo "PASS: cluster, $runtime runtime, $((($(now_ms) - t_start) / 1000)) s"

#!/usr/bin/env bash
# security.sh BUILD_DIR SOURCE_DIR PROBE: the cluster port (2377) refuses
# what it must, on five network-namespace hosts (tests/hosts/hosts.sh) with
# the process runtime. Cluster A: manager host 1 (running service "web")
# and worker host 2. Cluster B: manager host 3 and worker host 4, whose
# saved certificate is the "foreign" one. Host 5 is a bystander that tries
# to join A with bad tokens. PROBE (tests/e2e/cluster_probe) speaks the raw
# protocol. Each refusal must be visible (an error reply or a refused
# connection), and A's nodes, tasks and services, read through the API,
# must be identical before and after. Positive controls (a manager's own
# certificate, the CA fetch) show the probe can succeed, so the refusals
# are not an artefact of the tool. Every wait is a bounded poll.
set -uo pipefail
build=$1 src=$2 probe=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_hosts_init "$build" "$src" 400000
[ -x "$probe" ] || e2e_fail "no probe tool at $probe"

hosts_create 5 || e2e_fail "hosts_create"
E2E_CLEANUPS+=('hosts_destroy')
E2E_CLEANUPS+=('pkill -9 -f -x "/bin/sleep '"$uniq"'"')

oc() { hosts_orchctl "$@"; }
for i in 1 2 3 4 5; do
  hosts_start_orchd "$i" --default-runtime process || e2e_fail "orchd on host $i"
done
a1=$(hosts_addr 1) a3=$(hosts_addr 3)
urlA="tls+tcp://$a1:$port"
E2E_LOG=$(hosts_log 1)
# Where a node keeps its certificate, key and CA: managers and workers differ.
certs() { echo "$(hosts_dir "$1")/root/swarm/certificates"; }
wcerts() { echo "$(hosts_dir "$1")/root/swarm/worker"; }

e2e_note "cluster A on host 1, cluster B on host 3"
oc 1 swarm init --advertise-addr "$a1" --listen-addr "$a1:$port" >/dev/null || e2e_fail "init A"
oc 3 swarm init --advertise-addr "$a3" --listen-addr "$a3:$port" >/dev/null || e2e_fail "init B"
tokA=$(oc 1 swarm join-token -q worker) || e2e_fail "token A"
tokB=$(oc 3 swarm join-token -q worker) || e2e_fail "token B"
oc 2 swarm join --token "$tokA" --advertise-addr "$(hosts_addr 2)" "$a1:$port" >/dev/null ||
  e2e_fail "host 2 joins A: $(tail -n 5 "$(hosts_log 2)")"
oc 4 swarm join --token "$tokB" --advertise-addr "$(hosts_addr 4)" "$a3:$port" >/dev/null ||
  e2e_fail "host 4 joins B: $(tail -n 5 "$(hosts_log 4)")"
ready_is() { [ "$(hosts_api "$1" /nodes | jq '[.[] | select(.Status.State == "ready")] | length')" = "$2" ]; }
e2e_wait 20 "A has 2 ready nodes" ready_is 1 2
e2e_wait 20 "B has 2 ready nodes" ready_is 3 2
for f in swarm-node.crt swarm-node.key swarm-root-ca.crt; do
  [ -s "$(wcerts 2)/$f" ] && [ -s "$(wcerts 4)/$f" ] || e2e_fail "no saved $f on hosts 2 and 4"
done
oc 1 service create --name web --replicas 2 --runtime process /bin/sleep "$uniq" >/dev/null ||
  e2e_fail "service create"
running_is2() {
  [ "$(hosts_api 1 /tasks | jq '[.[] | select(.DesiredState == "running" and .Status.State == "running")] | length')" = 2 ]
}
e2e_wait 60 "web: 2 running" running_is2
oc 1 swarm join-token --rotate worker >/dev/null || e2e_fail "rotate"
tokA2=$(oc 1 swarm join-token -q worker)
[ "$tokA2" != "$tokA" ] || e2e_fail "rotation did not change the token"

# What must not change: A's nodes, tasks and services as the API shows them.
snapshot() {
  local n t s
  n=$(hosts_api 1 /nodes | jq -cS '[.[] | {ID, Version, Spec, h: .Description.Hostname, s: .Status.State, a: .ManagerStatus.Leader}] | sort_by(.ID)') || return 1
  t=$(hosts_api 1 /tasks | jq -cS '[.[] | {ID, Version, NodeID, DesiredState, s: .Status.State, ServiceID}] | sort_by(.ID)') || return 1
  s=$(hosts_api 1 /services | jq -cS '[.[] | {ID, Version, Spec}] | sort_by(.ID)') || return 1
  printf '%s\n%s\n%s\n' "$n" "$t" "$s"
}
before=$(snapshot) || e2e_fail "snapshot"
node1=$(hosts_api 1 /nodes | jq -r '.[] | select(.Description.Hostname == "host1") | .ID')
node2=$(hosts_api 1 /nodes | jq -r '.[] | select(.Description.Hostname == "host2") | .ID')
node4=$(hosts_api 3 /nodes | jq -r '.[] | select(.Description.Hostname == "host4") | .ID')
[ -n "$node1" ] && [ -n "$node2" ] && [ -n "$node4" ] || e2e_fail "node ids"

# probe ARGS...: runs the tool from host 5's namespace; output in $out.
probe() { out=$(hosts_exec 5 "$probe" "$@" 2>&1); }
# refused WHAT PATTERN ARGS...: the probe must fail and print PATTERN.
refused() {
  local what=$1 pattern=$2; shift 2
  probe "$@" && e2e_fail "$what was accepted: $out"
  grep -q -- "$pattern" <<<"$out" || e2e_fail "$what: refusal not shown (want '$pattern'): $out"
  echo "    refused: $what -> $(head -c 160 <<<"$out" | tr '\n' ' ')"
}
caA=$(certs 1)/swarm-root-ca.crt
api_get='{"op":"api","method":"GET","path":"/nodes","query":[]}'
api_create='{"op":"api","method":"POST","path":"/services/create","query":[],"body":"{\"Name\":\"evil\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"/bin/true\"}}}"}'
raft_batch='{"op":"raft","msgs":[]}'
join_req() { printf '{"op":"join","token":"%s","csr":"not a csr","node_id":"evilnode0000000000000000","hostname":"evil","advertise_addr":"%s"}' "$1" "$(hosts_addr 5)"; }

e2e_note "positive controls: the CA fetch and a manager's own certificate work"
probe --fetch-ca "$urlA" || e2e_fail "CA fetch failed: $out"
grep -q "BEGIN CERTIFICATE" <<<"$out" || e2e_fail "CA fetch printed no certificate"
probe --raw "$urlA" '{"op":"ca"}' || e2e_fail "raw CA op failed: $out"
probe --ca "$caA" --cert "$(certs 1)/swarm-node.crt" --key "$(certs 1)/swarm-node.key" "$urlA" "$api_get" ||
  e2e_fail "the manager's own certificate cannot call api: $out"
jq -e '.status == 200' <<<"$out" >/dev/null || e2e_fail "api GET /nodes: $out"

e2e_note "a certificate of ANOTHER cluster (host 4's, from B)"
fc="--cert $(wcerts 4)/swarm-node.crt --key $(wcerts 4)/swarm-node.key"
# shellcheck disable=SC2086
refused "foreign cert: authenticate to A" "server refused our certificate" --ca "$caA" $fc "$urlA" '{"op":"managers"}'
# shellcheck disable=SC2086
refused "foreign cert: checked against B's CA" "probe error: open" --ca "$(wcerts 4)/swarm-root-ca.crt" $fc "$urlA" '{"op":"managers"}'
# shellcheck disable=SC2086
refused "foreign cert, raw: session" "the peer is not node" --raw $fc "$urlA" \
  "{\"op\":\"session\",\"node_id\":\"$node4\"}"
# shellcheck disable=SC2086
refused "foreign cert, raw: session as A's worker" "the peer is not node" --raw $fc "$urlA" \
  "{\"op\":\"session\",\"node_id\":\"$node2\"}"
# shellcheck disable=SC2086
refused "foreign cert, raw: status" "the peer is not node" --raw $fc "$urlA" \
  "{\"op\":\"status\",\"node\":\"$node2\",\"statuses\":[]}"
# shellcheck disable=SC2086
refused "foreign cert, raw: join with B's token" "join token is for another cluster" --raw $fc "$urlA" "$(join_req "$tokB")"
# shellcheck disable=SC2086
refused "foreign cert, raw: api" "only managers" --raw $fc "$urlA" "$api_create"

e2e_note "no certificate at all"
refused "no cert: session" "the peer is not node" --raw "$urlA" "{\"op\":\"session\",\"node_id\":\"$node2\"}"
refused "no cert: status" "the peer is not node" --raw "$urlA" "{\"op\":\"status\",\"node\":\"$node2\",\"statuses\":[]}"
refused "no cert: node_info" "the peer is not node" --raw "$urlA" "{\"op\":\"node_info\",\"node\":\"$node2\"}"
refused "no cert: raft" "only managers" --raw "$urlA" "$raft_batch"
refused "no cert: api" "only managers" --raw "$urlA" "$api_create"
refused "no cert: managers" "authenticate first" --raw "$urlA" '{"op":"managers"}'
refused "no cert: claims auth" "unauthenticated" --raw "$urlA" '{"op":"api","auth":true,"method":"GET","path":"/nodes"}'
refused "no cert, checked client: api" "only managers" --ca "$caA" "$urlA" "$api_get"

e2e_note "bad tokens: wrong, another cluster's, the old one after rotation"
bad=${tokA2%?????}zzzzz
refused "raw join, wrong token" "join token" --raw "$urlA" "$(join_req "$bad")"
refused "raw join, B's token" "join token is for another cluster" --raw "$urlA" "$(join_req "$tokB")"
refused "raw join, old token" "join token secret is invalid or was rotated" --raw "$urlA" "$(join_req "$tokA")"
# Control: the current token passes the token check and fails only on the
# garbage CSR, so the refusals above are the token check's.
probe --raw "$urlA" "$(join_req "$tokA2")" && e2e_fail "a join with a garbage CSR was accepted: $out"
grep -q '"error"' <<<"$out" && ! grep -q "join token" <<<"$out" ||
  e2e_fail "the current token did not pass the token check: $out"
echo "    control: current token, garbage CSR -> $out"
for t in "$bad" "$tokB" "$tokA"; do
  oc 5 swarm join --token "$t" --advertise-addr "$(hosts_addr 5)" "$a1:$port" >/dev/null 2>&1 &&
    e2e_fail "host 5 joined A with token ${t:0:20}..."
  hosts_api 5 /info | jq -e '.Swarm.LocalNodeState == "inactive"' >/dev/null ||
    e2e_fail "host 5 is in a swarm after a refused join"
done
echo "    refused: orchctl swarm join on host 5 with the 3 bad tokens"

e2e_note "a worker's certificate (host 2's) sends manager-only ops"
wc="--ca $caA --cert $(wcerts 2)/swarm-node.crt --key $(wcerts 2)/swarm-node.key"
# shellcheck disable=SC2086
refused "worker cert: raft batch" "only managers" $wc "$urlA" "$raft_batch"
# shellcheck disable=SC2086
refused "worker cert: api create" "only managers" $wc "$urlA" "$api_create"
# shellcheck disable=SC2086
refused "worker cert: api GET" "only managers" $wc "$urlA" "$api_get"
# shellcheck disable=SC2086
refused "worker cert: status for the manager node" "the peer is not node" $wc "$urlA" \
  "{\"op\":\"status\",\"node\":\"$node1\",\"statuses\":[]}"

e2e_note "cluster A is unchanged"
after=$(snapshot) || e2e_fail "snapshot after"
if [ "$before" != "$after" ]; then
  diff <(echo "$before" | jq .) <(echo "$after" | jq .) | head -40
  e2e_fail "nodes/tasks/services changed"
fi
hosts_api 1 /services | jq -e 'map(.Spec.Name) == ["web"]' >/dev/null || e2e_fail "services are not just web"
ready_is 1 2 || e2e_fail "A no longer has 2 ready nodes"
running_is2 || e2e_fail "web is no longer 2 running"
echo "    nodes $(hosts_api 1 /nodes | jq length), tasks $(hosts_api 1 /tasks | jq length), services $(hosts_api 1 /services | jq length): identical"

e2e_note "orchd stops cleanly everywhere (sanitizer builds report here)"
e2e_hosts_stop_clean 1 2 3 4 5
echo "PASS"

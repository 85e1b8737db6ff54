#!/usr/bin/env bash
# certs.sh BUILD_DIR SOURCE_DIR: node certificates are renewed before they
# expire, without restarting anything. Three network-namespace hosts with
# the process runtime: host 1 inits and sets --cert-expiry 30s (the test
# lowers Swarm's one-hour floor with ORCHD_MIN_CERT_EXPIRY), host 2 joins as
# a manager, host 3 as a worker: both get 30 s certificates, and each is
# renewed at least twice (new serial, new expiry) by the same orchd process
# (a worker through the leader; a manager with its own CA, its port-2377
# server and raft transport taking the new one). Once the first
# certificates have expired, host 1's orchd restarts, so every connection
# to and from it is new: all nodes are Ready again and a scale runs on all
# three hosts, which only works with the renewed certificates.
set -uo pipefail
build=$1 src=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
e2e_hosts_init "$build" "$src" 500000
command -v openssl >/dev/null || { echo "SKIP: no openssl command to read certificates"; exit 77; }

export ORCHD_MIN_CERT_EXPIRY=10
hosts_create 3 || e2e_fail "hosts_create"
E2E_CLEANUPS+=('hosts_destroy')
oc() { hosts_orchctl "$@"; }
for i in 1 2 3; do
  hosts_start_orchd "$i" --default-runtime process || e2e_fail "orchd on host $i"
done
a1=$(hosts_addr 1)
E2E_LOG=$(hosts_log 1)

e2e_note "init on host 1, certificates of 30 s"
oc 1 swarm init --advertise-addr "$a1" --listen-addr "$a1:$port" >/dev/null || e2e_fail "swarm init"
oc 1 swarm update --cert-expiry 30s >/dev/null || e2e_fail "swarm update --cert-expiry 30s"
hosts_api 1 /swarm | jq -e '.Spec.CAConfig.NodeCertExpiry == 30000000000' >/dev/null ||
  e2e_fail "NodeCertExpiry is not 30 s"
a2=$(hosts_addr 2)
oc 2 swarm join --token "$(oc 1 swarm join-token -q manager)" --advertise-addr "$a2" \
  --listen-addr "$a2:$port" "$a1:$port" >/dev/null || e2e_fail "host 2 manager join"
oc 3 swarm join --token "$(oc 1 swarm join-token -q worker)" --advertise-addr "$(hosts_addr 3)" \
  "$a1:$port" >/dev/null || e2e_fail "host 3 join"
ready_is() { [ "$(hosts_api 1 /nodes | jq '[.[] | select(.Status.State == "ready")] | length')" = "$1" ]; }
e2e_wait 30 "3 nodes ready" ready_is 3

crt_of() { # H: the node certificate host H uses now
  if [ "$1" = 3 ]; then echo "$(hosts_dir 3)/root/swarm/worker/swarm-node.crt"
  else echo "$(hosts_dir "$1")/root/swarm/certificates/swarm-node.crt"; fi
}
serial() { openssl x509 -noout -serial -in "$(crt_of "$1")" 2>/dev/null; }
seconds_left() {
  local end; end=$(openssl x509 -noout -enddate -in "$(crt_of "$1")" | cut -d= -f2)
  echo $(( $(date -d "$end" +%s) - $(date +%s) ))
}
for h in 2 3; do
  left=$(seconds_left "$h")
  [ "$left" -le 31 ] && [ "$left" -gt 0 ] || e2e_fail "host $h's first certificate has $left s left, not about 30"
done
first_expiry=$(( $(date +%s) + 31 ))
pid2=$(hosts_pid 2) pid3=$(hosts_pid 3)

e2e_note "3 replicas while the certificates turn over"
E2E_CLEANUPS+=('pkill -9 -f -x "/bin/sleep '"$uniq"'"')
oc 1 service create --name web --replicas 3 --runtime process /bin/sleep "$uniq" >/dev/null ||
  e2e_fail "service create"
running_is_n() {
  [ "$(hosts_api 1 /tasks | jq '[.[] | select(.DesiredState == "running" and .Status.State == "running")] | length')" = "$1" ]
}
e2e_wait 30 "3 running" running_is_n 3

declare -A seen
for h in 2 3; do seen[$h]=$(serial "$h"); done
renewed_twice() { # H: two serials after the first
  local s; s=$(serial "$1")
  case " ${seen[$1]} " in *" $s "*) ;; *) seen[$1]="${seen[$1]} $s" ;; esac
  [ "$(wc -w <<<"${seen[$1]}")" -ge 3 ]
}
both_renewed_twice() { renewed_twice 2; renewed_twice 3; renewed_twice 2 && renewed_twice 3; }
e2e_wait 60 "hosts 2 and 3 renewed their certificates twice" both_renewed_twice
[ "$(hosts_pid 2)" = "$pid2" ] && [ "$(hosts_pid 3)" = "$pid3" ] || e2e_fail "an orchd restarted"
grep -q "renewed this node's certificate" "$(hosts_log 3)" || e2e_fail "host 3 did not log its renewal"
grep -q "renewed this manager's certificate" "$(hosts_log 2)" || e2e_fail "host 2 did not log its renewal"
while [ "$(date +%s)" -le "$first_expiry" ]; do sleep 1; done  # the first certificates are dead now
e2e_wait 10 "3 nodes still ready" ready_is 3

e2e_note "restart host 1: every connection is new, with the renewed certificates"
hosts_restart 1 || e2e_fail "restart host 1"
leader_known() { oc 1 node ls >/dev/null 2>&1 || oc 2 node ls >/dev/null 2>&1; }
e2e_wait 30 "a leader answers" leader_known
e2e_wait 30 "3 nodes ready after the restart" ready_is 3
try_scale() { oc 1 service scale -d web=6 >/dev/null 2>&1 || oc 2 service scale -d web=6 >/dev/null 2>&1; }
e2e_wait 20 "scale to 6 accepted" try_scale
e2e_wait 60 "6 running" running_is_n 6
on_each_host() {
  hosts_api 1 /tasks | jq -e '[.[] | select(.DesiredState == "running" and .Status.State == "running") | .NodeID] | unique | length == 3' >/dev/null
}
e2e_wait 20 "tasks on all 3 hosts" on_each_host
oc 1 node ls
oc 1 service rm web >/dev/null || e2e_fail "service rm"

e2e_note "orchd stops cleanly everywhere"
e2e_hosts_stop_clean 1 2 3
echo "PASS"

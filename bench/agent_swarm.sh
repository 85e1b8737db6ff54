#!/usr/bin/env bash
# agent_swarm.sh BUILD_DIR [DURATION_S] [N...]: how many agents one orchd
# manager serves (issue 4). For each N (default 100 500 1000 2000) it starts
# a fresh manager (swarm init on 127.0.0.1, its own temporary data root and
# API socket, process runtime), runs BUILD_DIR/bench/agent-swarm with N
# simulated agents joined over the real protocol, which runs
# `orchctl service create --replicas N` (on the workers only) once all N
# nodes are ready, and prints one line of figures per N. It stops at the
# first N that fails and prints why (the agent-swarm output and the end of
# the manager's log). Run by hand; never part of ctest.
# State: one temporary directory per N (data root, socket, pidfile, log,
# the agents' certificates), removed on exit as is every orchd it started
# (killed by pid), also when it fails.
set -uo pipefail
build=${1:?usage: agent_swarm.sh BUILD_DIR [DURATION_S] [N...]}
duration=${2:-20}
shift $(($# >= 2 ? 2 : $#))
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100 500 1000 2000)
port=${AGENT_SWARM_PORT:-2677}
build=$(cd "$build" && pwd)
for f in bin/orchd bin/orchctl bench/agent-swarm plugins/process.so plugins/spread.so; do
  [ -e "$build/$f" ] || { echo "missing $build/$f (ninja orchd orchctl agent-swarm process spread orchd-shim)" >&2; exit 2; }
done

pid=""
dir=""
# stop_manager: SIGTERM, then SIGKILL when it has not exited after 20 s
# (said on stderr: a manager that ignores SIGTERM under load is a finding).
stop_manager() {
  local i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "the manager (pid $pid) was still running 20 s after SIGTERM: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
}
cleanup() {
  [ -n "$pid" ] && stop_manager
  [ -n "$dir" ] && rm -rf "$dir"
  pid="" dir=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" || { echo "cannot raise the open files limit" >&2; exit 1; }

# start_manager: a fresh orchd in $dir, swarm initialised; sets pid, sock, token.
start_manager() {
  dir=$(mktemp -d /tmp/agent-swarm-XXXXXX) || return 1
  sock="$dir/orchd.sock"
  "$build/bin/orchd" --plugins "$build/plugins" --data-root "$dir/root" -H "unix://$sock" \
    --pidfile "$dir/orchd.pid" --default-runtime process --hostname bench-manager \
    >"$dir/orchd.log" 2>&1 &
  pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    curl -sf --max-time 2 --unix-socket "$sock" http://orchd/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$build/bin/orchctl" -H "unix://$sock" swarm init --advertise-addr 127.0.0.1 \
    --listen-addr "127.0.0.1:$port" >/dev/null || return 1
  token=$("$build/bin/orchctl" -H "unix://$sock" swarm join-token -q worker) || return 1
}

printf '%-6s %8s %8s %10s %10s %10s %9s %9s %9s %8s %8s %6s %s\n' N join_s ready_s running_s \
  cpu_join_s cpu_place_s cpu_idle% rss0_MiB rss1_MiB p50_ms p99_ms errs status
for n in "${sizes[@]}"; do
  if ! start_manager; then
    echo "N=$n: the manager did not start:" >&2
    tail -n 20 "$dir/orchd.log" >&2
    exit 1
  fi
  create="$build/bin/orchctl -H unix://$sock service create --detach --name swarm-bench"
  create+=" --replicas $n --runtime process --constraint node.role==worker /bin/sleep 100000 >/dev/null"
  "$build/bench/agent-swarm" --manager "127.0.0.1:$port" --token "$token" --agents "$n" \
    --duration "$duration" --workdir "$dir/agents" --api-socket "$sock" --manager-pid "$pid" \
    --create-cmd "$create" --timeout $((120 + n / 5)) >"$dir/swarm.out" 2>&1
  rc=$?
  result=$(grep '^RESULT ' "$dir/swarm.out")
  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
  printf '%-6s %8s %8s %10s %10s %10s %9s %9s %9s %8s %8s %6s %s\n' "$n" "$(field join_s)" \
    "$(field ready_s)" "$(field running_s)" "$(field cpu_join_s)" "$(field cpu_place_s)" \
    "$(field cpu_steady_pct)" "$(field rss_start_mib)" "$(field rss_end_mib)" \
    "$(field p50_ms)" "$(field p99_ms)" "$(field session_errors)" "$(field status)"
  if [ -n "${AGENT_SWARM_VERBOSE:-}" ] || [ $rc -ne 0 ]; then
    sed 's/^/    /' "$dir/swarm.out"
  fi
  if [ $rc -ne 0 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "N=$n failed (agent-swarm exit $rc); the manager's log ends with:"
    grep -v '^$' "$dir/orchd.log" | tail -n 20 | sed 's/^/    /'
    exit 1
  fi
  cleanup
done

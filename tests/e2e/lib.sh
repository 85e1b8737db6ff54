# lib.sh: helpers shared by the end-to-end tests. A test sources it, calls
# e2e_start_orchd, and everything it started is cleaned up on exit (by pid),
# also when the test fails.

E2E_PIDS=()
E2E_DIRS=()
E2E_CLEANUPS=()

e2e_fail() { echo "FAIL: $*" >&2; [ -n "${E2E_LOG:-}" ] && tail -n 30 "$E2E_LOG" >&2; exit 1; }
e2e_note() { echo "--- $*"; }

e2e_cleanup() {
  set +e
  for ((i=${#E2E_CLEANUPS[@]}-1; i>=0; i--)); do eval "${E2E_CLEANUPS[$i]}"; done
  for pid in "${E2E_PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  for d in "${E2E_DIRS[@]}"; do rm -rf "$d"; done
}
trap e2e_cleanup EXIT

# e2e_start_orchd BUILD_DIR DATA_DIR [ORCHD_FLAGS...]: starts orchd with
# the plugins of $E2E_PLUGINS (default BUILD_DIR/plugins); sets ORCHD_PID,
# SOCK.
e2e_start_orchd() {
  local build=$1 data=$2; shift 2
  mkdir -p "$data"
  SOCK="$data/orchd.sock"
  E2E_LOG="$data/orchd.log"
  "$build/bin/orchd" --plugins "${E2E_PLUGINS:-$build/plugins}" --data-root "$data/root" \
    -H "unix://$SOCK" --pidfile "$data/orchd.pid" --log-level debug "$@" \
    >>"$E2E_LOG" 2>&1 &
  ORCHD_PID=$!
  E2E_PIDS+=("$ORCHD_PID")
  e2e_wait 10 "orchd answers" api_ok /_ping
}

# e2e_stop_orchd: SIGTERM and wait (tasks keep running).
e2e_stop_orchd() {
  kill -TERM "$ORCHD_PID" && wait "$ORCHD_PID"
  local rc=$?
  [ $rc -eq 0 ] || e2e_fail "orchd exited with $rc on SIGTERM"
}

api() { curl -sf --max-time 10 --unix-socket "$SOCK" "http://orchd$1"; }
api_ok() { api "$1" >/dev/null; }

# e2e_wait SECONDS WHAT COMMAND...: polls the command (every 0.1 s) until it
# succeeds, or fails the test naming WHAT after SECONDS.
e2e_wait() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && e2e_fail "timed out after ${seconds}s waiting for: $what"
    sleep 0.1
  done
}

# Number of tasks of a service in a state (desired running).
tasks_in_state() {
  api "/tasks" | jq --arg s "$1" --arg st "$2" \
    '[.[] | select(.ServiceName == $s and .DesiredState == "running" and .Status.State == $st)] | length'
}
running_is() { [ "$(tasks_in_state "$1" running)" = "$2" ]; }

# e2e_hosts_stop_clean H...: SIGTERM the orchd of each namespace host
# (tests/hosts/hosts.sh), which must exit 0 within 20 s with no sanitizer
# report in its log.
e2e_hosts_stop_clean() {
  local i pid rc
  for i in "$@"; do
    pid=$(hosts_pid "$i")
    hosts_signal TERM "$i" || e2e_fail "SIGTERM host $i"
    hosts_poll 20 hosts_pid_gone "$pid" || e2e_fail "orchd of host $i did not stop"
    wait "$pid"; rc=$?
    HOSTS_PIDS[i]=""
    if [ "$rc" != 0 ]; then
      if grep -q "ERROR: .*Sanitizer\|runtime error" "$(hosts_log "$i")"; then
        grep -A40 "ERROR: .*Sanitizer\|runtime error" "$(hosts_log "$i")" | head -80 >&2
      else
        tail -n 20 "$(hosts_log "$i")" >&2
      fi
      e2e_fail "orchd of host $i exited with $rc"
    fi
    if grep -q "ERROR: .*Sanitizer\|runtime error" "$(hosts_log "$i")"; then
      grep -A25 "ERROR: .*Sanitizer\|runtime error" "$(hosts_log "$i")" | head -60
      e2e_fail "sanitizer report in host $i's log"
    fi
  done
}

# e2e_runtime_setup RUNTIME UNIQ: what a test on RUNTIME (process|docker)
# needs. docker: dockerd must answer (else SKIP 77, or a failure when
# ORCHD_REQUIRE_DOCKER=1) and busybox:local exist; on exit, after the hosts
# are gone, the containers labelled with the node ids in E2E_NODE_IDS are
# removed (call this before hosts_create). Sets E2E_IMAGE: the image and
# arguments of a long-running task unique to this run (UNIQ seconds).
E2E_NODE_IDS=()
# A one-node test's set-up: work=a fresh directory (removed at exit) for
# build dir $1, named after $2; uniq=a run-unique number from $3 (tasks run
# "/bin/sleep $uniq", killed at exit); orchctl talks to $SOCK.
e2e_single_init() {
  E2E_BUILD=$1
  work=$(mktemp -d "/tmp/orchd-e2e-$2-XXXXXX")
  E2E_DIRS+=("$work")
  uniq=$(($3 + $$ % 100000))
  E2E_CLEANUPS+=('pkill -9 -f -x "/bin/sleep '"$uniq"'"')
}
orchctl() { "$E2E_BUILD/bin/orchctl" -H "unix://$SOCK" "$@"; }

# Namespace hosts for a test: skips (exit 77) without root, network
# namespaces or jq; then loads tests/hosts/hosts.sh for build dir $1 from
# source dir $2, and sets the cluster port and a run-unique number from $3.
e2e_hosts_init() {
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
  ip netns list >/dev/null 2>&1 || { echo "SKIP: no network namespaces"; exit 77; }
  command -v jq >/dev/null || { echo "SKIP: no jq"; exit 77; }
  HOSTS_BUILD=$1
  source "$2/tests/hosts/hosts.sh"
  port=2477
  uniq=$(($3 + $$ % 100000))
}

e2e_runtime_setup() {
  local runtime=$1 uniq=$2
  case "$runtime" in
    process) E2E_IMAGE=(/bin/sleep "$uniq"); return 0 ;;
    docker) ;;
    *) echo "unknown runtime $runtime (process|docker)" >&2; exit 2 ;;
  esac
  if ! curl -sf --max-time 3 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null; then
    [ "${ORCHD_REQUIRE_DOCKER:-0}" = 1 ] && e2e_fail "dockerd is not reachable and ORCHD_REQUIRE_DOCKER=1"
    echo "SKIP: dockerd not reachable"; exit 77
  fi
  command -v docker >/dev/null || e2e_fail "dockerd answers but the docker CLI is missing"
  docker image inspect busybox:local >/dev/null 2>&1 ||
    e2e_fail "image busybox:local missing (scripts/docker-up.sh builds it)"
  E2E_IMAGE=(busybox:local sleep "$uniq")
  E2E_CLEANUPS+=('e2e_docker_cleanup')
}
e2e_docker_cleanup() {
  local id
  for id in "${E2E_NODE_IDS[@]}"; do
    docker ps -aq --filter "label=orchd.node.id=$id" | xargs -r docker rm -f >/dev/null
  done
}

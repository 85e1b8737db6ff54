#!/usr/bin/env bash
# service_create_bench.sh BUILD_DIR [N]: time from `orchctl service create
# --replicas N` to all N tasks running on one node with the docker runtime,
# beside N `docker run -d` of the same image at the docker runtime's
# concurrency (4 requests at a time). Prints both and their ratio. Run by
# hand (needs dockerd and busybox:local: scripts/docker-up.sh); cleans up
# what it made.
set -euo pipefail
build=${1:?usage: service_create_bench.sh BUILD_DIR [N]}
n=${2:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/tests/e2e/lib.sh"
data=$(mktemp -d /tmp/orchd-bench-XXXXXX)
E2E_DIRS+=("$data")
label="orchd-bench-$$"
E2E_CLEANUPS+=('docker ps -aq --filter "label='"$label"'" | xargs -r docker rm -f >/dev/null')
E2E_CLEANUPS+=('[ -n "${node_id:-}" ] && docker ps -aq --filter "label=orchd.node.id=$node_id" | xargs -r docker rm -f >/dev/null')

now() { date +%s.%N; }

# Bare engine: N containers, 4 at a time.
t0=$(now)
seq "$n" | xargs -P 4 -I{} docker run -d --init --label "$label" busybox:local sleep 100000 >/dev/null
t1=$(now)
bare=$(echo "$t1 - $t0" | bc -l)
docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null

e2e_start_orchd "$build" "$data"
node_id=$("$build/bin/orchctl" -H "unix://$SOCK" swarm init --advertise-addr 127.0.0.1 | grep -o '[0-9a-z]\{25\}' | head -n 1)
e2e_wait 30 "docker runtime offered" bash -c "curl -sf --unix-socket $SOCK http://orchd/info | jq -e '.OrchRuntimes | index(\"docker\")'"
t0=$(now)
"$build/bin/orchctl" -H "unix://$SOCK" service create --detach --name bench --replicas "$n" \
  --runtime docker busybox:local sleep 100000 >/dev/null
e2e_wait 600 "$n running" running_is bench "$n"
t1=$(now)
orch=$(echo "$t1 - $t0" | bc -l)
"$build/bin/orchctl" -H "unix://$SOCK" service rm bench >/dev/null
e2e_wait 300 "tasks removed" bash -c "[ \"\$(curl -sf --unix-socket $SOCK http://orchd/tasks)\" = '[]' ]"

printf 'containers: %d\n' "$n"
printf 'docker run -d x%d (4 concurrent): %.2f s\n' "$n" "$bare"
printf 'orchd service create --replicas %d to all running: %.2f s\n' "$n" "$orch"
printf 'ratio orchd / bare engine: %.2f\n' "$(echo "$orch / $bare" | bc -l)"

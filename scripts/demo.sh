#!/usr/bin/env bash
# The main job: builds orchd, starts a one-node cluster in /tmp/orchd-demo,
# runs a demo service with 3 replicas and shows it running. Uses Docker when
# dockerd answers (image busybox:local, made by scripts/docker-up.sh), the
# embedded process runtime otherwise. On a terminal it keeps the cluster up
# until Ctrl-C; otherwise it stops after showing it. Cleans up what it made.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build

demo=/tmp/orchd-demo
sock="unix://$demo/orchd.sock"
orchctl() { build/bin/orchctl -H "$sock" "$@"; }
orchd_pid=""
cleanup() {
  set +e
  if [ -n "$orchd_pid" ]; then
    orchctl service rm demo >/dev/null 2>&1
    # Wait (bounded) until the agent stopped and removed every task.
    for _ in $(seq 150); do
      [ "$(curl -s --unix-socket "$demo/orchd.sock" http://orchd/tasks)" = "[]" ] && break
      sleep 0.1
    done
    orchctl swarm leave --force >/dev/null 2>&1
    kill "$orchd_pid" 2>/dev/null && wait "$orchd_pid" 2>/dev/null
  fi
  rm -rf "$demo"
}
trap cleanup EXIT
rm -rf "$demo" && mkdir -p "$demo"

if curl -s --max-time 2 --unix-socket /var/run/docker.sock http://d/_ping >/dev/null 2>&1 &&
   scripts/docker-up.sh >/dev/null 2>&1; then
  runtime=docker; image=(busybox:local sleep 100000)
else
  runtime=process; image=(/bin/sleep 100000)
fi
build/bin/orchd --plugins build/plugins --data-root "$demo/data" -H "$sock" \
  --pidfile "$demo/orchd.pid" --log-level warn 2>"$demo/orchd.log" &
orchd_pid=$!
for _ in $(seq 100); do orchctl version >/dev/null 2>&1 && break; sleep 0.1; done

echo "== orchctl swarm init"; orchctl swarm init --advertise-addr 127.0.0.1
echo "== orchctl service create --name demo --replicas 3 --runtime $runtime ${image[*]}"
orchctl service create --name demo --replicas 3 --runtime "$runtime" "${image[@]}"
echo "== orchctl service ls"; orchctl service ls
echo "== orchctl service ps demo"; orchctl service ps demo
echo "== orchctl node ls"; orchctl node ls
if [ -t 0 ]; then
  echo "The cluster is up: try 'build/bin/orchctl -H $sock service scale demo=5'. Ctrl-C stops it."
  wait "$orchd_pid" || true
fi

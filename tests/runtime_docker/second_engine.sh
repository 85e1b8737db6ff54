#!/usr/bin/env bash
# second_engine.sh TEST_BINARY: runs test_docker_socket's second-engine
# group against a private dockerd of its own, to show that the docker
# runtime's option "socket" sends tasks to the engine it names.
#
# The private dockerd has its own data root, exec root, pidfile and socket
# under a fresh /tmp directory, no bridge and no iptables rules, and runs
# in a network namespace of its own (unshare -n): a dockerd started with
# --bridge=none deletes the host's docker0 at start, which would break the
# default engine's bridge network. busybox:local is copied into it from
# the default engine (docker save | docker load). The dockerd (and, if it
# had to be killed, its containerd) is stopped by pid at the end, also on
# failure, and the directory removed. Exit 77 = skipped (not root, no
# dockerd or unshare); ORCHD_REQUIRE_DOCKER=1 turns that into a failure.
set -euo pipefail

test_binary=$1
wait_s=${DOCKERD2_WAIT:-60}
say() { echo "second_engine: $*" >&2; }
skip() {
	say "SKIP: $*"
	[ "${ORCHD_REQUIRE_DOCKER:-}" = 1 ] && exit 1
	exit 77
}

[ "$(id -u)" = 0 ] || skip "a private dockerd needs root"
command -v dockerd >/dev/null || skip "dockerd not installed"
command -v unshare >/dev/null || skip "unshare not installed"
if [ -x /usr/bin/docker ]; then docker=/usr/bin/docker; else docker=docker; fi
command -v "$docker" >/dev/null || skip "the docker CLI is not installed"
"$docker" image inspect busybox:local >/dev/null 2>&1 ||
	skip "busybox:local missing in the default engine (scripts/docker-up.sh)"

dir=$(mktemp -d /tmp/orchd-dockerd2-XXXXXX)
sock=$dir/docker.sock
dockerd_pid=

# Stops a process by pid: TERM, then KILL after 30 s.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	say "pid $pid ignored TERM for 30 s: KILL"
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	local status=$? containerd_pid
	if [ -n "$dockerd_pid" ]; then
		stop_pid "$dockerd_pid"
		wait "$dockerd_pid" 2>/dev/null || true
	fi
	containerd_pid=$(cat "$dir/exec/containerd/containerd.pid" 2>/dev/null || true)
	[ -n "$containerd_pid" ] && stop_pid "$containerd_pid"
	if [ "$status" -ne 0 ] && [ -f "$dir/dockerd.log" ]; then
		say "tail of the private dockerd's log:"
		tail -n 20 "$dir/dockerd.log" >&2 || true
	fi
	rm -rf "$dir"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

unshare --net dockerd --data-root "$dir/root" --exec-root "$dir/exec" \
	--pidfile "$dir/dockerd.pid" -H "unix://$sock" --bridge=none \
	--iptables=false --ip6tables=false --ip-masq=false \
	>"$dir/dockerd.log" 2>&1 &
dockerd_pid=$!

for ((i = 0; i < wait_s * 10; i++)); do
	[ "$(curl -s -m 2 --unix-socket "$sock" http://docker/_ping 2>/dev/null)" = OK ] && break
	kill -0 "$dockerd_pid" 2>/dev/null || { say "the private dockerd exited"; exit 1; }
	sleep 0.1
done
[ "$(curl -s -m 2 --unix-socket "$sock" http://docker/_ping 2>/dev/null)" = OK ] ||
	{ say "the private dockerd did not answer /_ping within ${wait_s}s"; exit 1; }
say "private dockerd (pid $dockerd_pid) answers on $sock"

"$docker" save busybox:local | "$docker" -H "unix://$sock" load >/dev/null
ORCHD_TEST_ENGINE2="unix://$sock" "$test_binary"

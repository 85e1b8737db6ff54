#!/bin/sh
# docker-up.sh: makes the local Docker engine usable for orchd's docker
# runtime and its tests. Idempotent: starts dockerd only when
# /var/run/docker.sock does not answer /_ping, and builds the image
# busybox:local (from Debian's busybox-static, no registry needed) only when
# it is missing. Installs nothing (scripts/deps does apt). Owns no state of
# its own beyond /var/log/dockerd.log and the busybox:local image.
set -eu

SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
IMAGE=busybox:local
BUSYBOX=/bin/busybox
WAIT_SECONDS=${DOCKER_UP_WAIT:-60}
APPLETS="sh ash sleep httpd wget nslookup cat echo true false ls ps kill env
	 grep sed awk head tail wc id hostname ip ifconfig ping nc date mkdir rm
	 cp mv touch chmod printf test [ top free df du uname which yes seq tr
	 sort uniq cut xargs find vi less more tee dd sync stat pidof pgrep pkill
	 timeout netstat route"

# The CLI that matches the engine, when Debian's docker.io provides it.
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi

say() { echo "docker-up: $*"; }

ping_engine() {
	[ "$(curl -s -m 2 --unix-socket "$SOCK" http://docker/_ping 2>/dev/null)" = OK ]
}

start_engine() {
	if ping_engine; then
		say "dockerd already answers on $SOCK"
		return 0
	fi
	command -v dockerd >/dev/null 2>&1 || {
		say "error: dockerd not installed (apt-get install docker.io)"
		exit 1
	}
	say "starting dockerd (log: /var/log/dockerd.log)"
	dockerd >/var/log/dockerd.log 2>&1 &
	waited=0
	while ! ping_engine; do
		if [ "$waited" -ge "$((WAIT_SECONDS * 10))" ]; then
			say "error: dockerd did not answer /_ping within ${WAIT_SECONDS}s; tail of /var/log/dockerd.log:"
			tail -n 20 /var/log/dockerd.log >&2 || true
			exit 1
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	say "dockerd answers /_ping after ~$((waited / 10)).$((waited % 10))s"
}

build_image() {
	if $DOCKER image inspect "$IMAGE" >/dev/null 2>&1; then
		say "image $IMAGE already present"
		return 0
	fi
	[ -x "$BUSYBOX" ] || {
		say "error: $BUSYBOX missing (apt-get install busybox-static)"
		exit 1
	}
	rootfs=$(mktemp -d /tmp/busybox-rootfs.XXXXXX)
	trap 'rm -rf "$rootfs"' EXIT
	mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/proc" \
		"$rootfs/sys" "$rootfs/dev" "$rootfs/var/www"
	chmod 1777 "$rootfs/tmp"
	cp "$BUSYBOX" "$rootfs/bin/busybox"
	for applet in $APPLETS; do
		ln -sf busybox "$rootfs/bin/$applet"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
	echo 'root:x:0:' >"$rootfs/etc/group"
	tar -C "$rootfs" -c . |
		$DOCKER import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - "$IMAGE" >/dev/null
	say "built image $IMAGE from $BUSYBOX"
}

start_engine
build_image

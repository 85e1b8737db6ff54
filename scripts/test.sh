#!/usr/bin/env bash
# Builds orchd and runs every test: once in a normal build, once under
# AddressSanitizer + UndefinedBehaviorSanitizer. Installs what it needs and
# starts dockerd (with a locally imported busybox image) for the docker tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -x scripts/docker-up.sh ]; then
  scripts/docker-up.sh
  export ORCHD_REQUIRE_DOCKER=1
fi
jobs=$(nproc)
for variant in build build-asan; do
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ "$variant" = build-asan ] && flags=(-DCMAKE_BUILD_TYPE=Debug -DORCHD_SANITIZE=ON)
  cmake -S . -B "$variant" -G Ninja "${flags[@]}" >/dev/null
  ninja -C "$variant" -j "$jobs"
  echo "== ctest ($variant)"
  ctest --test-dir "$variant" --output-on-failure -j "$jobs" --timeout 900
done

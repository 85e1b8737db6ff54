#!/usr/bin/env bash
# Installs orchd's build and test dependencies from Debian 12's packages.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
          libnng-dev libmbedtls-dev libjansson-dev libcurl4-openssl-dev libyaml-dev
          libcmocka-dev busybox-static docker.io iproute2 procps jq curl bc nftables iptables
          openssl clang-format)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "install-deps: all dependencies present"

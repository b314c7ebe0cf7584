#!/usr/bin/env bash
# Installs every Debian package that building and testing cellos needs.
# Idempotent and quiet when everything is present: it only calls apt-get for
# packages that dpkg does not already report as installed.
set -euo pipefail

# Build: compiler toolchain, meson, and the libraries cellos links against.
BUILD_PKGS=(
  meson ninja-build pkg-config gcc clang libclang-rt-dev
  libjansson-dev libsodium-dev libseccomp-dev libcap-dev
  libnftables-dev libnftnl-dev libmnl-dev
  libnats-dev libcurl4-openssl-dev
)
# Tests: real peers the integration tests run against.
TEST_PKGS=(
  python3 python3-nacl iproute2 nftables procps util-linux nats-server socat
)
# Benchmarks (only with `scripts/setup.sh bench`): the named peers.
BENCH_PKGS=(
  hyperfine bubblewrap runc dnsmasq-base unbound dnsperf sniproxy
)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
[[ "${1:-}" == bench ]] && want+=("${BENCH_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "setup: installing ${missing[*]}" >&2
if [[ $(id -u) -ne 0 ]]; then
  echo "cellos: setup: missing packages (${missing[*]}) and not root: run 'sudo $0'" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=300 -qq "$@"; }
# An old or absent package list makes install fail with "unable to locate":
# refresh once, then install.
apt_get update >/dev/null || true
apt_get install -y --no-install-recommends "${missing[@]}" >/dev/null

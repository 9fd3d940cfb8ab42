#!/usr/bin/env bash
# Install every Debian package kvlb needs to build, test, benchmark and demo.
# Usage: scripts/deps.sh [--check]   (--check: only report what is missing)
set -euo pipefail

PKGS=(
	# build
	make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev libmnl-dev
	libcurl4-openssl-dev libmicrohttpd-dev libevent-dev libclang-rt-14-dev libjansson-dev
	# test topology and clients (python3-yaml, openssl: the Kubernetes manifest and discovery tests)
	iproute2 ethtool util-linux curl wrk python3 python3-httpx jq procps psmisc python3-yaml openssl
	# baselines and metrics
	haproxy prometheus
	# vmtest
	qemu-system-x86 busybox-static cpio xz-utils kmod
)
# Node.js and npm run the pinned npm test clients; a machine may already have
# them from elsewhere, so only install Debian's when the commands are absent.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${1:-}" = "--check" ]; then
	[ ${#missing[@]} -eq 0 ] && exit 0
	echo "missing packages: ${missing[*]}" >&2
	exit 1
fi

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2

#!/usr/bin/env bash
# Build or remove kvlb's test topology: a client namespace, a node namespace
# (where kvlbd runs) and N pod namespaces, joined by veth pairs.
#
#   topo.sh up NAME NPODS      build it (NAME should carry the caller's pid)
#   topo.sh down NAME          remove every namespace named NAME-*
#
#   NAME-client  c0 198.51.100.2/24, 2001:db8:c::2/64; routes to the VIPs via the node
#   NAME-node    up0 198.51.100.1/24, 2001:db8:c::1/64  (the uplink: XDP)
#                vpI 203.0.113.1/32, 2001:db8:b::1/128  (pod I's link: TC), I = 1..N
#   NAME-podI    eth0 203.0.113.(10+I)/32, 2001:db8:b::(10+I)/128, default via the node
#
# VIPs are taken from 192.0.2.0/24 and 2001:db8:a::/64 (routed to the node).
# TX checksum offload is off on the client and pods, because XDP sees only
# what the veth hands it (a partial checksum survives no XDP redirect);
# GRO is on at the pods so veth accepts frames redirected from XDP; the
# client's link runs build/tests/xdp_pass.bpf.o ($KVLB_XDP_PASS), as veth
# hands frames sent back with XDP_TX only to a peer with an XDP program.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
XDP_PASS=${KVLB_XDP_PASS:-$TOP/build/tests/xdp_pass.bpf.o}

die() { echo "topo.sh: $*" >&2; exit 1; }
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

ns_exec() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

up() {
	local name=$1 n=$2
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "NPODS must be 1..200"
	local c="$name-client" node="$name-node"
	ip netns add "$c"
	ip netns add "$node"
	ns_exec "$node" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	for ns in "$c" "$node"; do ns_exec "$ns" ip link set lo up; done

	ip link add c0 netns "$c" type veth peer name up0 netns "$node"
	ns_exec "$c" ip addr add 198.51.100.2/24 dev c0
	ns_exec "$c" ip addr add 2001:db8:c::2/64 dev c0 nodad
	ns_exec "$node" ip addr add 198.51.100.1/24 dev up0
	ns_exec "$node" ip addr add 2001:db8:c::1/64 dev up0 nodad
	ns_exec "$c" ip link set c0 up
	ns_exec "$node" ip link set up0 up
	ns_exec "$c" ip route add 192.0.2.0/24 via 198.51.100.1
	ns_exec "$c" ip -6 route add 2001:db8:a::/64 via 2001:db8:c::1
	ns_exec "$c" ethtool -K c0 tx off >/dev/null
	[ -f "$XDP_PASS" ] || die "$XDP_PASS missing: run make"
	ns_exec "$c" ip link set dev c0 xdpdrv obj "$XDP_PASS" sec xdp

	local i
	for ((i = 1; i <= n; i++)); do
		local p="$name-pod$i" a4="203.0.113.$((10 + i))" a6="2001:db8:b::$((10 + i))"
		ip netns add "$p"
		ns_exec "$p" ip link set lo up
		ip link add eth0 netns "$p" type veth peer name "vp$i" netns "$node"
		ns_exec "$p" ip addr add "$a4/32" dev eth0
		ns_exec "$p" ip addr add "$a6/128" dev eth0 nodad
		ns_exec "$p" ip link set eth0 up
		ns_exec "$p" ip route add 203.0.113.1 dev eth0
		ns_exec "$p" ip route add default via 203.0.113.1 dev eth0
		ns_exec "$p" ip -6 route add 2001:db8:b::1 dev eth0
		ns_exec "$p" ip -6 route add default via 2001:db8:b::1 dev eth0
		ns_exec "$p" ethtool -K eth0 tx off gro on >/dev/null
		ns_exec "$node" ip addr add 203.0.113.1/32 dev "vp$i"
		ns_exec "$node" ip addr add 2001:db8:b::1/128 dev "vp$i" nodad
		ns_exec "$node" ip link set "vp$i" up
		ns_exec "$node" ip route add "$a4/32" dev "vp$i"
		ns_exec "$node" ip -6 route add "$a6/128" dev "vp$i"
		ns_exec "$node" ethtool -K "vp$i" tx off >/dev/null
	done
}

down() {
	local name=$1 ns
	for ns in $(ip netns list | awk '{print $1}'); do
		case "$ns" in "$name"-client|"$name"-node|"$name"-pod*)
			# kill what still runs inside, then drop the namespace (and its veths)
			ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
			ip netns del "$ns" 2>/dev/null || true ;;
		esac
	done
}

case "${1:-}" in
up) [ $# -eq 3 ] || usage 1; up "$2" "$3" ;;
down) [ $# -eq 2 ] || usage 1; down "$2" ;;
-h | --help) usage 0 ;;
*) usage 1 ;;
esac

#!/usr/bin/env bash
# kvlb-discover --pod-ifaces-from-routes, in a network namespace whose routes
# mimic a node's: pods on /32 and /128 routes over their veths, one endpoint
# behind a gateway (another node), one with no route at all. The API server
# is the fake one, started inside the namespace.
. "$(dirname "$0")/../lib.sh"
T=69-k8s-routes

if [ "${1:-}" = --inner ]; then
	WORK=$2
	PIDS=()
	trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done' EXIT
	DISC=$KVLB_BUILD/tests/kvlb-discover
	[ -x "$DISC" ] || DISC=$KVLB_BUILD/kvlb-discover
	ip link set lo up
	. "$KVLB_TOP/tests/k8s/lib.sh"
	k8s_fake_api_start || { fail $T "fake API server did not start: $(cat "$WORK/api.err")"; exit 1; }
	D() {
		"$DISC" --api-server "$API" --token-file "$WORK/token" --ca-file "$WORK/ca.crt" \
			--namespace llm --service vllm --port-name http --vip 192.0.2.10:80 \
			--vip [2001:db8:a::10]:80 --pod-ifaces-from-routes --once "$@"
	}
	ifaces() { sed 's/#.*//' "$1" | awk '$1 == "pod-iface" { for (i = 2; i <= NF; i++) print $i }' | sort | paste -sd' '; }

	# 203.0.113.11 and 2001:db8:b::11 on vp1, .12 on vp2, .14 via a gateway,
	# 2001:db8:b::14 unroutable: the interfaces are vp1 and vp2, once each.
	printf 'uplink up0\n' >"$WORK/t-plain"
	D --template "$WORK/t-plain" --output "$WORK/plain.conf" 2>"$WORK/err"
	check routes_once_ok [ $? -eq 0 ]
	got=$(ifaces "$WORK/plain.conf")
	check routes_pod_ifaces [ "$got" = "vp1 vp2" ]
	check routes_unrouted_counted grep -q '2 pod interfaces; 2 backends without a route' "$WORK/err"
	# The template's own pod-iface names are not repeated (kvlbd rejects that).
	printf 'uplink up0\npod-iface vp2 # fixed\n' >"$WORK/t-vp2"
	D --template "$WORK/t-vp2" --output "$WORK/vp2.conf" 2>>"$WORK/err"
	got=$(ifaces "$WORK/vp2.conf")
	check routes_template_not_repeated [ "$got" = "vp1 vp2" ]
	check routes_kvlbd_accepts "$KVLB_BUILD/kvlbd" --check --config "$WORK/vp2.conf"
	# Without the option, no pod-iface line is added.
	"$DISC" --api-server "$API" --token-file "$WORK/token" --ca-file "$WORK/ca.crt" \
		--namespace llm --service vllm --port-name http --vip 192.0.2.10:80 --once \
		--template "$WORK/t-plain" --output "$WORK/none.conf" 2>>"$WORK/err"
	check routes_off_by_default [ -z "$(ifaces "$WORK/none.conf")" ]
	exit ${KVLB_FAILED:-0}
fi

need_root $T
for tool in python3 openssl; do
	command -v $tool >/dev/null || { skip $T "$tool is not installed"; exit 0; }
done
[ -x "$KVLB_BUILD/kvlb-discover" ] || { fail $T "kvlb-discover is not built (make)"; exit 1; }
NS=kvlb-routes-$$
WORK=$(mktemp -d)
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
n() { ip -n "$NS" "$@"; }
{
	ip netns add "$NS" &&
		n link add up0 type veth peer name up0p &&
		n link add vp1 type veth peer name vp1p &&
		n link add vp2 type veth peer name vp2p &&
		for i in up0 up0p vp1 vp1p vp2 vp2p; do n link set "$i" up || exit 1; done &&
		n addr add 198.51.100.1/24 dev up0 &&
		n route add 203.0.113.11/32 dev vp1 &&
		n route add 203.0.113.12/32 dev vp2 &&
		n route add 203.0.113.14/32 via 198.51.100.9 &&
		n -6 addr add 2001:db8:c::1/64 dev up0 nodad &&
		n -6 route add 2001:db8:b::11/128 dev vp1
} || { fail $T "cannot build the test namespace"; exit 1; }
ip netns exec "$NS" "$0" --inner "$WORK"

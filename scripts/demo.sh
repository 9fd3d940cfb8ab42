#!/usr/bin/env bash
# demo.sh - kvlb's demo: a namespace topology with emulated model servers, a
# generated multi-turn conversation workload sent through kvlb's VIP, and the
# same workload sent by client-side round robin, side by side.
#
#   scripts/demo.sh [--requests N] [--pods N] [--keep]
#
#   --requests N   requests of the built-in workload (default 600)
#   --pods N       emulated model servers (default 4)
#
# Needs root and a built tree (make demo does both). Everything it starts is
# stopped and every namespace and pin removed on exit, Ctrl-C included.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
LOAD=$TOP/tests/loadgen/kvlb-load
VIP=192.0.2.10
n=600 pods=4

die() { echo "demo: $*" >&2; exit 2; }
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--requests) n=${2:?}; shift ;;
	--pods) pods=${2:?}; shift ;;
	-h | --help) usage 0 ;;
	*) echo "demo: unknown argument: $1" >&2; usage 2 ;;
	esac
	shift
done
[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 10 ] || die "--requests: a number, at least 10"
[[ $pods =~ ^[0-9]+$ ]] && [ "$pods" -ge 2 ] && [ "$pods" -le 16 ] || die "--pods: 2..16"
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, BPF)"
for b in kvlbd kvlbctl kvlb-emu; do [ -x "$BUILD/$b" ] || die "$BUILD/$b missing: run make"; done

NAME=kvdemo$$
PIN=/sys/fs/bpf/kvlb-$NAME
WORK=$(mktemp -d /tmp/kvlb-demo.XXXXXX)
pids=()
kvlbd_pid=

stop_emus() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
cleanup() {
	trap - EXIT INT TERM
	stop_emus
	[ -n "$kvlbd_pid" ] && kill "$kvlbd_pid" 2>/dev/null
	"$BUILD/kvlbd" --cleanup --pin-root "$PIN" >/dev/null 2>&1 || true
	"$TOP/scripts/topo.sh" down "$NAME" 2>/dev/null || true
	[ -n "${KVLB_DEMO_KEEP:-}" ] && cp -r "$WORK" /tmp/kvlb-demo-kept; rm -rf "$WORK" "$PIN"
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM

wait_for() {
	local deadline=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}
pod_addr() { echo "203.0.113.$((10 + $1))"; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

echo "== topology: client, node (kvlbd), $pods pods running the emulated model server"
"$TOP/scripts/topo.sh" up "$NAME" "$pods"
# The client reaches pods directly only for the round-robin baseline.
ip netns exec "$NAME-client" ip route add 203.0.113.0/24 via 198.51.100.1

# Servers restart with empty caches for each policy, so both runs start equal.
start_emus() {
	local i
	for ((i = 1; i <= pods; i++)); do
		ip netns exec "$NAME-pod$i" "$BUILD/kvlb-emu" --listen "$(pod_addr "$i"):8000" \
			--name "pod$i" --model kvlb-emu --cache-blocks 4096 --time-scale 20 --seed "$i" \
			>"$WORK/emu$i.log" 2>&1 &
		pids+=($!)
	done
	for ((i = 1; i <= pods; i++)); do
		wait_for 10 ip netns exec "$NAME-node" curl -sf "http://$(pod_addr "$i"):8000/health" ||
			die "pod$i's server did not start: $(tail -3 "$WORK/emu$i.log")"
	done
}

{
	echo "uplink up0"
	printf 'pod-iface'; for ((i = 1; i <= pods; i++)); do printf ' vp%d' "$i"; done; echo
	echo "vip $VIP:80 mode http"
	for ((i = 1; i <= pods; i++)); do
		a=$(pod_addr "$i")
		echo "backend $a:8000 metrics http://$a:8000/metrics server vllm"
	done
} >"$WORK/kvlb.conf"
nsenter --net=/run/netns/$NAME-node "$BUILD/kvlbd" --config "$WORK/kvlb.conf" --pin-root "$PIN" \
	>"$WORK/kvlbd.log" 2>&1 &
kvlbd_pid=$!
wait_for 10 grep -q 'running (pid' "$WORK/kvlbd.log" || die "kvlbd: $(cat "$WORK/kvlbd.log")"
echo "== kvlbd is up; the VIP $VIP:80 routes by conversation prefix over the pods"
"$BUILD/kvlbctl" --pin-root "$PIN" backend list

run() { # LABEL TARGET-ARGS...
	local label=$1; shift
	start_emus
	echo "== $label: $n requests of the built-in conversation workload"
	ip netns exec "$NAME-client" "$LOAD" "$@" --requests "$n" --time-scale 20 \
		--nbackends "$pods" --pool-blocks $((4096 * pods)) --label "$label" --progress 5 --timeout 60 \
		--json >"$WORK/$label.json" || [ $? -eq 1 ]
	stop_emus
}
run kvlb --url "http://$VIP/"
urls=
for ((i = 1; i <= pods; i++)); do urls+=${urls:+,}http://$(pod_addr "$i"):8000; done
run round-robin --backends "$urls"

echo
echo "== results (same workload, same servers, fresh caches each run)"
echo "(TTFT is the servers' emulated time to first token, in unscaled milliseconds)"
printf '%-12s %9s %10s %10s %10s %9s %8s %7s\n' policy hit-rate '%-of-bound' 'ttft-p50' \
	'ttft-p99' 'max/mean' 'req/s' failed
for label in kvlb round-robin; do
	jq -r '[.label, (100 * .hit_rate), (.pct_of_bound // 0), (.emu_ttft_ms_p50 // 0),
		(.emu_ttft_ms_p99 // 0), (.max_mean_load // 0), .req_per_s, .failed] |
		"\(.[0]) \(.[1]) \(.[2]) \(.[3]) \(.[4]) \(.[5]) \(.[6]) \(.[7])"' \
		"$WORK/$label.json" |
		awk '{ printf "%-12s %8.1f%% %9.1f%% %8.1fms %8.1fms %9.2f %8.1f %7d\n",
			$1, $2, $3, $4, $5, $6, $7, $8 }'
done
echo
echo "== kvlb's per-backend share of requests"
jq -r '.backends // {} | to_entries[] |
	"\(.key)  \(.value.requests) requests (\(.value.share * 1000 | round / 10)%), \(.value.prompt_tokens) prompt tokens"' \
	"$WORK/kvlb.json"
echo
echo "== kvlb's counters (kvlbctl stats)"
"$BUILD/kvlbctl" --pin-root "$PIN" stats | awk '$2 != 0'
echo
echo "kvlb reads each request's front in XDP (delayed binding) and sends a conversation's"
echo "turns to the pod that cached its prefix, within a bound on each pod's load; round"
echo "robin spreads them blind. 'hit-rate' is the share of prompt tokens served from cache."

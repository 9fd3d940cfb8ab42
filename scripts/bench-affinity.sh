#!/usr/bin/env bash
# bench-affinity.sh - kvlb's cache-affinity benchmark: one table, policy by
# policy, of prompt-cache hit rate (and its share of the pooled-cache bound),
# TTFT p50/p99, max/mean backend load and requests/s, on the built-in
# conversation workload and on a Mooncake-format trace.
#
#   scripts/bench-affinity.sh [--trace PATH] [--requests N] [--trace-requests N]
#                             [--pods N] [--policies LIST] [--quick]
#
#   --trace PATH        also replay this Mooncake JSONL trace (make passes
#                       TRACE=PATH)
#   --requests N        requests of the built-in workload (default 3000)
#   --trace-requests N  first N requests of the trace (default 3000)
#   --pods N            emulated model servers (default 4)
#   --policies LIST     comma-separated, from: client-rr, haproxy-rr,
#                       haproxy-leastconn, haproxy-hash-1k, haproxy-hash-4k, kvlb
#                       (the default), haproxy-hash-1k-unbounded (by default on
#                       the trace only: it shows a key of the first block alone)
#   --quick             300 requests a workload (a smoke run, not figures)
#
# Every policy gets freshly started servers (empty caches) in the same
# namespaces (scripts/topo.sh): the client runs kvlb-load in NAME-client,
# HAProxy 2.6 listens on the VIP 192.0.2.10:80 in NAME-node, each pod runs
# build/kvlb-emu on its address, port 8000. Needs root. Everything started
# here is stopped on exit, Ctrl-C included.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
EMU=${KVLB_EMU:-$BUILD/kvlb-emu}
LOAD=$TOP/tests/loadgen/kvlb-load
VIP=192.0.2.10
PORT=80

trace= gen_n=3000 trace_n=3000 pods=4
policies=client-rr,haproxy-rr,haproxy-leastconn,haproxy-hash-1k,haproxy-hash-4k,kvlb
trace_policies=client-rr,haproxy-rr,haproxy-leastconn,haproxy-hash-1k,haproxy-hash-1k-unbounded
trace_policies+=,haproxy-hash-4k,kvlb

# Emulated servers: the issue's defaults except the cache, sized below per
# workload so that the pods together hold about half of what the workload
# could reuse: routing has to matter.
BLOCK=16
EMU_ARGS=(--model kvlb-emu --block-size "$BLOCK" --max-batch 32 --decode-rate 40
	--max-model-len 262144)
# built-in: 3000 requests over ~700 s, ~11.7M prompt tokens (~17k a second);
# 4 x 4096 blocks of 16 tokens; the default prefill rate leaves the pods
# about a third busy
GEN_CACHE=4096 GEN_SCALE=20 GEN_PREFILL=8000
# Mooncake: the first 3000 requests span 987 s with 40.5M prompt tokens
# (41k a second, ~1.8M distinct 16-token blocks): four pods of the default
# 8000 tokens/s would be saturated even at the bound's hit rate, so they
# prefill 20000/s here (about half busy)
TRACE_CACHE=200000 TRACE_SCALE=25 TRACE_PREFILL=20000

die() { echo "bench-affinity: $*" >&2; exit 2; }
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--trace) trace=${2:?}; shift ;;
	--requests) gen_n=${2:?}; shift ;;
	--trace-requests) trace_n=${2:?}; shift ;;
	--pods) pods=${2:?}; shift ;;
	--policies) policies=${2:?} trace_policies=${2:?}; shift ;;
	--quick) gen_n=300 trace_n=300 ;;
	-h | --help) usage 0 ;;
	*) echo "bench-affinity: unknown argument: $1" >&2; usage 2 ;;
	esac
	shift
done
for v in "$gen_n" "$trace_n" "$pods"; do
	[[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || die "counts must be positive integers"
done
[ "$pods" -le 50 ] || die "--pods: at most 50"
IFS=, read -ra _pl <<<"$policies,$trace_policies"
for p in "${_pl[@]}"; do
	case "$p" in
	client-rr | haproxy-rr | haproxy-leastconn | haproxy-hash-1k | haproxy-hash-4k | \
		haproxy-hash-1k-unbounded | kvlb) ;;
	*) die "unknown policy '$p' (see --help)" ;;
	esac
done
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
[ -x "$EMU" ] || die "$EMU missing: build it with 'make $BUILD/kvlb-emu'"
command -v haproxy >/dev/null || die "haproxy missing: run scripts/deps.sh"
command -v jq >/dev/null || die "jq missing: run scripts/deps.sh"
if [ -n "$trace" ] && [ ! -r "$trace" ]; then
	echo "bench-affinity: trace $trace not readable: only the built-in workload" >&2
	trace=
fi

NAME=kvab$$
WORK=$(mktemp -d /tmp/kvlb-bench-affinity.XXXXXX)
emu_pids=()
haproxy_pid=
load_pid=

stop_servers() {
	local p
	for p in "${emu_pids[@]}" $haproxy_pid; do kill "$p" 2>/dev/null || true; done
	for p in "${emu_pids[@]}" $haproxy_pid; do wait "$p" 2>/dev/null || true; done
	emu_pids=()
	haproxy_pid=
}

cleanup() {
	trap - EXIT INT TERM
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
	stop_servers
	stop_kvlb
	"$TOP/scripts/topo.sh" down "$NAME" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench-affinity: interrupted" >&2; exit 130' INT TERM

pod_addr() { echo "203.0.113.$((10 + $1))"; }

# poll CMD every 50 ms for up to $1 seconds
wait_for() {
	local deadline=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

start_servers() { # CACHE_BLOCKS TIME_SCALE PREFILL_RATE
	local i
	for ((i = 1; i <= pods; i++)); do
		ip netns exec "$NAME-pod$i" "$EMU" --listen "$(pod_addr "$i"):8000" --name "pod$i" \
			--cache-blocks "$1" --time-scale "$2" --prefill-rate "$3" --seed "$i" \
			"${EMU_ARGS[@]}" \
			>"$WORK/emu$i.log" 2>&1 &
		emu_pids+=($!)
	done
	for ((i = 1; i <= pods; i++)); do
		wait_for 10 ip netns exec "$NAME-node" curl -sf "http://$(pod_addr "$i"):8000/health" ||
			die "pod$i: kvlb-emu did not come up: $(tail -3 "$WORK/emu$i.log")"
	done
}

start_haproxy() { # BALANCE-LINES
	local i servers=
	for ((i = 1; i <= pods; i++)); do
		servers+=$(printf '\tserver pod%d %s:8000\n' "$i" "$(pod_addr "$i")")$'\n'
	done
	BAL=$1 SRV=$servers VIP=$VIP PORT=$PORT awk '
		{ gsub(/@VIP@/, ENVIRON["VIP"]); gsub(/@PORT@/, ENVIRON["PORT"]) }
		/@BALANCE@/ { print ENVIRON["BAL"]; next }
		/@SERVERS@/ { printf "%s", ENVIRON["SRV"]; next }
		{ print }' "$TOP/scripts/haproxy.cfg.in" >"$WORK/haproxy.cfg"
	haproxy -c -q -f "$WORK/haproxy.cfg" || die "bad HAProxy configuration"
	ip netns exec "$NAME-node" haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
	haproxy_pid=$!
	wait_for 10 ip netns exec "$NAME-client" curl -sf "http://$VIP:$PORT/health" ||
		die "HAProxy did not come up: $(tail -3 "$WORK/haproxy.log")"
}

# The kvlb row: kvlbd in $NAME-node with VIP $VIP:$PORT over the pods, XDP on
# the uplink and TC on the pods' links; the run goes to the VIP like HAProxy's.
# The VIP runs in KVLB_MODE (l4 until the HTTP-aware data path binds requests).
KVLB_MODE=${KVLB_MODE:-l4}
KVLB_PIN=/sys/fs/bpf/kvlb-$NAME
kvlbd_pid=
start_kvlb() {
	local i ifs=
	[ -x "$BUILD/kvlbd" ] || return 1
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	for ((i = 1; i <= pods; i++)); do ifs+=" vp$i"; done
	{
		echo "uplink up0"
		echo "pod-iface$ifs"
		echo "vip $VIP:$PORT mode $KVLB_MODE"
		for ((i = 1; i <= pods; i++)); do echo "backend $(pod_addr "$i"):8000"; done
	} >"$WORK/kvlb.conf"
	nsenter --net="/run/netns/$NAME-node" "$BUILD/kvlbd" --config "$WORK/kvlb.conf" \
		--pin-root "$KVLB_PIN" >"$WORK/kvlbd.log" 2>&1 &
	kvlbd_pid=$!
	wait_for 10 grep -q 'running (pid' "$WORK/kvlbd.log" ||
		die "kvlbd did not come up: $(tail -3 "$WORK/kvlbd.log")"
}

stop_kvlb() {
	[ -n "$kvlbd_pid" ] || return 0
	kill "$kvlbd_pid" 2>/dev/null || true
	wait "$kvlbd_pid" 2>/dev/null || true
	kvlbd_pid=
	# Detach too: the next policy's traffic to the VIP must not meet XDP.
	local i ifs=()
	for ((i = 1; i <= pods; i++)); do ifs+=(--pod-iface "vp$i"); done
	nsenter --net="/run/netns/$NAME-node" "$BUILD/kvlbd" --cleanup --uplink up0 "${ifs[@]}" \
		--pin-root "$KVLB_PIN" >/dev/null 2>&1 || true
}

# Hash of the first N body bytes on a consistent ring, loads bounded at
# 1.25 x the mean (kvlb's default bound), unless $2 is "unbounded". Bodies
# start {"model":...,"messages":[{"role":..., so N counts from there: 1024
# bytes hold little more than the start of the system prompt (one key per
# app; one key for all of Mooncake, whose requests all open with the same
# block); 4096 bytes reach past short system prompts and Mooncake's shared
# first block into what tells conversations apart. A longer N would reach,
# on short conversations, into later turns and change between turns.
hash_balance() {
	printf '\toption http-buffer-request\n\tbalance hash req.body,bytes(0,%d)\n' "$1"
	printf '\thash-type consistent'
	[ "${2:-}" = unbounded ] || printf '\n\thash-balance-factor 125'
}

rows=()

run_policy() { # POLICY WORKLOAD-LABEL CACHE SCALE PREFILL BOUND LOAD-ARGS...
	local pol=$1 wl=$2 cache=$3 scale=$4 prefill=$5 bound=$6 target
	shift 6
	start_servers "$cache" "$scale" "$prefill"
	case "$pol" in
	client-rr)
		local urls= i
		for ((i = 1; i <= pods; i++)); do urls+=${urls:+,}http://$(pod_addr "$i"):8000; done
		target=(--backends "$urls") ;;
	haproxy-rr) start_haproxy $'\tbalance roundrobin'; target=(--url "http://$VIP/") ;;
	haproxy-leastconn) start_haproxy $'\tbalance leastconn'; target=(--url "http://$VIP/") ;;
	haproxy-hash-1k) start_haproxy "$(hash_balance 1024)"; target=(--url "http://$VIP/") ;;
	haproxy-hash-4k) start_haproxy "$(hash_balance 4096)"; target=(--url "http://$VIP/") ;;
	haproxy-hash-1k-unbounded)
		start_haproxy "$(hash_balance 1024 unbounded)"; target=(--url "http://$VIP/") ;;
	kvlb)
		if ! start_kvlb; then
			rows+=("$(printf '%s\t%s\tpending (HTTP-aware data path)' "$wl" "$pol")")
			stop_servers
			return 0
		fi
		target=(--url "http://$VIP/") ;;
	*) die "unknown policy $pol" ;;
	esac
	echo "bench-affinity: $wl: $pol" >&2
	local out=$WORK/$wl-$pol.json rc=0
	# in the background, so that Ctrl-C reaches the trap at once
	ip netns exec "$NAME-client" "$LOAD" "${target[@]}" --nbackends "$pods" --json \
		--label "$pol" --time-scale "$scale" --progress 15 "$@" >"$out" &
	load_pid=$!
	wait "$load_pid" || rc=$?
	load_pid=
	stop_servers
	stop_kvlb
	[ "$rc" -le 1 ] && [ -s "$out" ] || die "$pol: kvlb-load failed (exit $rc)"
	rows+=("$(jq -r --arg wl "$wl" --argjson b "$bound" '[$wl, .label,
		(100 * .hit_rate | tostring),
		(if $b > 0 then 100 * .hit_rate / $b else 0 end | tostring),
		(.emu_ttft_ms_p50 // 0 | tostring), (.emu_ttft_ms_p99 // 0 | tostring),
		(.ttft_ms_p50 // 0 | tostring), (.ttft_ms_p99 // 0 | tostring),
		(.max_mean_load // 0 | tostring), (.req_per_s | tostring),
		(.failed | tostring), (.requests | tostring)] | join("\t")' "$out")")
}

run_workload() { # LABEL POLICIES CACHE SCALE PREFILL LOAD-ARGS...
	local wl=$1 pols=$2 cache=$3 scale=$4 prefill=$5 pol bj
	shift 5
	bj=$("$LOAD" --bound-only --json --pool-blocks $((cache * pods)) --block-size "$BLOCK" \
		--time-scale "$scale" --prefix-stats 1024,4096 "$@") || die "$wl: cannot build the workload"
	local b req tok span
	b=$(jq -r '.bound.hit_rate' <<<"$bj")
	req=$(jq -r '.workload.requests' <<<"$bj")
	tok=$(jq -r '.workload.prompt_tokens' <<<"$bj")
	span=$(jq -r '.workload.span_s' <<<"$bj")
	headers+=("$(printf '%s: %d requests, %d prompt tokens, sent over %.0f s (time-scale %s);\n  %d pods x %d cache blocks of %d tokens, prefill %d tokens/s; pooled-cache bound %.1f%%' \
		"$wl" "$req" "$tok" "$span" "$scale" "$pods" "$cache" "$BLOCK" "$prefill" \
		"$(jq -n "100 * $b")")")
	headers+=("$(jq -r '"  distinct request bodies cut to 1024 bytes: \(.prefixes."1024".distinct) (largest group \(100 * .prefixes."1024".top_share | floor)% of requests); to 4096 bytes: \(.prefixes."4096".distinct) (largest \(100 * .prefixes."4096".top_share * 10 | floor / 10)%)"' <<<"$bj")")
	rows+=("$(printf '%s\tpooled bound\t%.1f%%: one cache of all pods'"'"' blocks; no router does better' \
		"$wl" "$(jq -n "100 * $b")")")
	IFS=, read -ra pl <<<"$pols"
	for pol in "${pl[@]}"; do
		run_policy "$pol" "$wl" "$cache" "$scale" "$prefill" "$b" "$@"
	done
}

print_table() {
	local h r wl pol
	echo
	for h in "${headers[@]}"; do echo "$h"; done
	echo
	printf '%-9s %-25s %7s %7s %9s %9s %9s %9s %8s %6s %6s\n' workload policy "hit" "%bound" \
		"TTFT p50" "TTFT p99" "wall p50" "wall p99" "max/mean" "req/s" failed
	printf '%-9s %-25s %7s %7s %9s %9s %9s %9s %8s %6s %6s\n' "" "" "" "" "ms emu" "ms emu" \
		"ms" "ms" "load" "" ""
	for r in "${rows[@]}"; do
		IFS=$'\t' read -ra f <<<"$r"
		if [ "${#f[@]}" -eq 3 ]; then
			printf '%-9s %-25s %s\n' "${f[0]}" "${f[1]}" "${f[2]}"
			continue
		fi
		printf '%-9s %-25s %6.1f%% %6.1f%% %9.0f %9.0f %9.1f %9.1f %8.2f %6.1f %6d\n' "${f[@]:0:11}"
	done
}

headers=()
"$TOP/scripts/topo.sh" up "$NAME" "$pods"
ip netns exec "$NAME-node" ip addr add "$VIP/32" dev lo
# client-side round robin talks to the pods directly, through the node
ip netns exec "$NAME-client" ip route add 203.0.113.0/24 via 198.51.100.1

start=$SECONDS
run_workload built-in "$policies" "$GEN_CACHE" "$GEN_SCALE" "$GEN_PREFILL" --requests "$gen_n" --seed 1
if [ -n "$trace" ]; then
	run_workload mooncake "$trace_policies" "$TRACE_CACHE" "$TRACE_SCALE" "$TRACE_PREFILL" \
		--trace "$trace" --requests "$trace_n"
fi
print_table
[ -n "$trace" ] || echo "(no Mooncake trace given: make bench-affinity TRACE=path/to/conversation_trace.jsonl)"
echo
echo "hit = cached / prompt tokens (server usage); %bound = hit / pooled-cache bound (one LRU"
echo "cache of all pods' blocks, same workload in arrival order); TTFT = the emulator's time to"
echo "first token in emulated ms (queueing + prefill of the uncached part; x-kvlb-ttft-ms);"
echo "wall = client-side time to the first streamed event, real ms at the compressed rate,"
echo "proxy included; max/mean = busiest pod's requests / mean over $pods pods;"
echo "haproxy-hash-N = balance hash req.body,bytes(0,N), hash-type consistent, hash-balance-factor 125"
echo "(-unbounded: without hash-balance-factor); client-rr = kvlb-load's own round robin over the pods;"
echo "kvlb = kvlb's XDP/TC data path, VIP mode $KVLB_MODE (l4: a hash of the connection, blind to prompts)."
echo "total $((SECONDS - start)) s"

#!/usr/bin/env bash
# bench-affinity.sh - kvlb's cache-affinity benchmark: one table, policy by
# policy, of prompt-cache hit rate (and its share of the pooled-cache bound),
# TTFT p50/p99, max/mean backend load and requests/s, on the built-in
# conversation workload and on a Mooncake-format trace.
#
#   scripts/bench-affinity.sh [--trace PATH] [--requests N] [--trace-requests N]
#                             [--pods N] [--policies LIST] [--scrape-interval MS]
#                             [--quick]
#
#   --trace PATH        also replay this Mooncake JSONL trace (make passes
#                       TRACE=PATH)
#   --requests N        requests of the built-in workload (default 3000)
#   --trace-requests N  first N requests of the trace (default 3000)
#   --pods N            emulated model servers (default 4)
#   --policies LIST     comma-separated, from: client-rr, haproxy-rr,
#                       haproxy-leastconn, haproxy-hash-1k, haproxy-hash-4k,
#                       kvlb-l4, kvlb, kvlb-size (the default),
#                       haproxy-hash-1k-unbounded (by default on the trace
#                       only: it shows a key of the first block alone); a
#                       kvlb policy may carry knobs for 'kvlbctl policy set':
#                       kvlb+load_bound=1.5, kvlb-size+load_slack=32768+...;
#                       kvlb-count is kvlb with 'size off' said explicitly
#   --scrape-interval MS  kvlbd's scrape period (default 50, the brief's)
#   --quick             300 requests a workload (a smoke run, not figures)
#
# Every policy gets freshly started servers (empty caches) in the same
# namespaces (scripts/topo.sh): the client runs kvlb-load in NAME-client,
# HAProxy 2.6 listens on the VIP 192.0.2.10:80 in NAME-node, each pod runs
# build/kvlb-emu on its address, port 8000. Needs root. Everything started
# here is stopped on exit, Ctrl-C included.
#
# The kvlb rows run kvlbd in NAME-node over the same pods, every backend
# scraped at its /metrics: kvlb is the VIP in mode http with kvlb's defaults
# (delayed binding, prefix table, ring walk with loads bounded by request
# counts at 1.30 x the mean); kvlb-size the same with 'kvlbctl policy set
# size on' (loads bounded by estimated tokens); kvlb-l4 the VIP in mode l4
# (a hash of the connection, blind to prompts), for comparison.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
EMU=${KVLB_EMU:-$BUILD/kvlb-emu}
LOAD=$TOP/tests/loadgen/kvlb-load
VIP=192.0.2.10
PORT=80

trace= gen_n=3000 trace_n=3000 pods=4 scrape_ms=50
policies=client-rr,haproxy-rr,haproxy-leastconn,haproxy-hash-1k,haproxy-hash-4k
policies+=,kvlb-l4,kvlb,kvlb-size
trace_policies=client-rr,haproxy-rr,haproxy-leastconn,haproxy-hash-1k,haproxy-hash-1k-unbounded
trace_policies+=,haproxy-hash-4k,kvlb-l4,kvlb,kvlb-size

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
usage() { sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--trace) trace=${2:?}; shift ;;
	--requests) gen_n=${2:?}; shift ;;
	--trace-requests) trace_n=${2:?}; shift ;;
	--pods) pods=${2:?}; shift ;;
	--policies) policies=${2:?} trace_policies=${2:?}; shift ;;
	--scrape-interval) scrape_ms=${2:?}; shift ;;
	--quick) gen_n=300 trace_n=300 ;;
	-h | --help) usage 0 ;;
	*) echo "bench-affinity: unknown argument: $1" >&2; usage 2 ;;
	esac
	shift
done
for v in "$gen_n" "$trace_n" "$pods" "$scrape_ms"; do
	[[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || die "counts must be positive integers"
done
[ "$pods" -le 50 ] || die "--pods: at most 50"
IFS=, read -ra _pl <<<"$policies,$trace_policies"
for p in "${_pl[@]}"; do
	case "$p" in
	client-rr | haproxy-rr | haproxy-leastconn | haproxy-hash-1k | haproxy-hash-4k | \
		haproxy-hash-1k-unbounded | kvlb | kvlb-l4 | kvlb-count | kvlb-size) ;;
		kvlb+* | kvlb-count+* | kvlb-size+*)
			[[ $p =~ ^kvlb(-count|-size)?(\+[a-z_]+=[^+,]+)+$ ]] || die "bad knobs in '$p'" ;;
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

# The kvlb rows: kvlbd in $NAME-node with VIP $VIP:$PORT over the pods, XDP
# on the uplink and TC on the pods' links; the run goes to the VIP like
# HAProxy's. Every backend names its /metrics, so the bounded loads see what
# the servers report (running, waiting, KV usage, prompt sizes) and not only
# what the data path bound since the last scrape.
KVLB_PIN=/sys/fs/bpf/kvlb-$NAME
kvlbd_pid=
kvlbctl() { "$BUILD/kvlbctl" --pin-root "$KVLB_PIN" "$@"; }

# Every backend scraped at least once, so the first requests meet real loads.
all_scraped() {
	kvlbctl -j load | jq -e --argjson n "$pods" '[.[] | select(.scraped)] | length >= $n' \
		>/dev/null
}

start_kvlb() { # MODE
	local i ifs= a
	[ -x "$BUILD/kvlbd" ] || return 1
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	for ((i = 1; i <= pods; i++)); do ifs+=" vp$i"; done
	{
		echo "uplink up0"
		echo "pod-iface$ifs"
		echo "vip $VIP:$PORT mode $1"
		for ((i = 1; i <= pods; i++)); do
			a=$(pod_addr "$i")
			echo "backend $a:8000 metrics http://$a:8000/metrics server vllm"
		done
	} >"$WORK/kvlb.conf"
	nsenter --net="/run/netns/$NAME-node" "$BUILD/kvlbd" --config "$WORK/kvlb.conf" \
		--pin-root "$KVLB_PIN" --scrape-interval "$scrape_ms" --metrics-listen off \
		>"$WORK/kvlbd.log" 2>&1 &
	kvlbd_pid=$!
	wait_for 10 grep -q 'running (pid' "$WORK/kvlbd.log" ||
		die "kvlbd did not come up: $(tail -3 "$WORK/kvlbd.log")"
	wait_for 10 all_scraped ||
		die "kvlbd did not scrape every pod: $(kvlbctl load 2>&1 | tail -5)"
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
# 1.30 x the mean (kvlb's default bound), unless $2 is "unbounded". Bodies
# start {"model":...,"messages":[{"role":..., so N counts from there: 1024
# bytes hold little more than the start of the system prompt (one key per
# app; one key for all of Mooncake, whose requests all open with the same
# block); 4096 bytes reach past short system prompts and Mooncake's shared
# first block into what tells conversations apart. A longer N would reach,
# on short conversations, into later turns and change between turns.
hash_balance() {
	printf '\toption http-buffer-request\n\tbalance hash req.body,bytes(0,%d)\n' "$1"
	printf '\thash-type consistent'
	[ "${2:-}" = unbounded ] || printf '\n\thash-balance-factor 130'
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
	kvlb | kvlb-l4 | kvlb-count | kvlb-size | kvlb+* | kvlb-count+* | kvlb-size+*)
		local mode=http base=${pol%%+*} knobs=() kv msg
		[ "$pol" = kvlb-l4 ] && mode=l4
		if ! start_kvlb "$mode"; then
			rows+=("$(printf '%s\t%s\tnot available (no %s)' "$wl" "$pol" "$BUILD/kvlbd")")
			stop_servers
			return 0
		fi
		[ "$base" = kvlb-count ] && knobs+=(size off)
		[ "$base" = kvlb-size ] && knobs+=(size on)
		if [[ $pol == *+* ]]; then
			IFS=+ read -ra _kv <<<"${pol#*+}"
			for kv in "${_kv[@]}"; do knobs+=("${kv%%=*}" "${kv#*=}"); done
		fi
		if [ "${#knobs[@]}" -gt 0 ] && ! msg=$(kvlbctl policy set "${knobs[@]}" 2>&1); then
			rows+=("$(printf '%s\t%s\tnot available: kvlbctl policy set %s: %s' \
				"$wl" "$pol" "${knobs[*]}" "$(head -1 <<<"$msg")")")
			stop_servers
			stop_kvlb
			return 0
		fi
		kvlbctl -j stats >"$WORK/stats0.json"
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
	if [ -n "$kvlbd_pid" ]; then
		kvlbctl -j stats >"$WORK/stats1.json"
		notes+=("$(jq -rs --arg wl "$wl" --arg pol "$pol" '.[0] as $a | .[1] as $b
			| def d(k): ($b[k] - $a[k]);
			"\($wl) \($pol): new flows \(d("xdp_new_flow")), prefix hit \(d("http_prefix_hit")), ring \(d("http_ring")), over bound \(d("http_overloaded")), no key \(d("http_no_key")), not HTTP \(d("http_fallback_l4"));\n    bound \(d("sp_bound")), pod reset \(d("sp_pod_reset")), pod timeout \(d("sp_pod_timeout")), hold full \(d("sp_hold_full")), hold no memory \(d("sp_hold_nomem")), bad cookie \(d("sp_cookie_bad")), out of order \(d("sp_out_of_order")), resent bytes \(d("sp_resent_bytes"))"' \
			"$WORK/stats0.json" "$WORK/stats1.json")")
	fi
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

headers=() notes=()
"$TOP/scripts/topo.sh" up "$NAME" "$pods"
ip netns exec "$NAME-node" ip addr add "$VIP/32" dev lo
# client-side round robin talks to the pods directly, through the node
ip netns exec "$NAME-client" ip route add 203.0.113.0/24 via 198.51.100.1

start=$SECONDS
workloads=(built-in)
[ -n "$trace" ] && workloads+=(mooncake)
run_workload built-in "$policies" "$GEN_CACHE" "$GEN_SCALE" "$GEN_PREFILL" --requests "$gen_n" --seed 1
if [ -n "$trace" ]; then
	run_workload mooncake "$trace_policies" "$TRACE_CACHE" "$TRACE_SCALE" "$TRACE_PREFILL" \
		--trace "$trace" --requests "$trace_n"
fi
# The row of policy $2 on workload $1 (tab-separated), if it was measured.
row_of() {
	local r f
	for r in "${rows[@]}"; do
		IFS=$'\t' read -ra f <<<"$r"
		[ "${f[0]}" = "$1" ] && [ "${f[1]}" = "$2" ] && [ "${#f[@]}" -gt 3 ] && { echo "$r"; return 0; }
	done
	return 1
}

# Size-aware (kvlb-size) against request-count (kvlb, the default) bounded loads.
print_size_table() {
	local wl s c
	echo
	echo "bounded loads by estimated tokens (kvlb-size) vs. by request count (kvlb), same run:"
	printf '%-9s %-11s %9s %9s %9s %9s %7s %8s\n' workload bound "TTFT p50" "TTFT p99" \
		"wall p50" "wall p99" hit max/mean
	for wl in "${workloads[@]}"; do
		for pol in kvlb-size kvlb; do
			local label=tokens
			[ "$pol" = kvlb ] && label=requests
			if ! s=$(row_of "$wl" "$pol"); then
				printf '%-9s %-11s not available\n' "$wl" "$label"
				continue
			fi
			IFS=$'\t' read -ra f <<<"$s"
			printf '%-9s %-11s %9.0f %9.0f %9.1f %9.1f %6.1f%% %8.2f\n' "$wl" "$label" \
				"${f[4]}" "${f[5]}" "${f[6]}" "${f[7]}" "${f[2]}" "${f[8]}"
		done
		if s=$(row_of "$wl" kvlb-size) && c=$(row_of "$wl" kvlb); then
			IFS=$'\t' read -ra f <<<"$s"
			IFS=$'\t' read -ra g <<<"$c"
			printf '%-9s %-11s %9s %9s %9s %9s\n' "$wl" "tok/req" \
				"$(ratio "${f[4]}" "${g[4]}")" "$(ratio "${f[5]}" "${g[5]}")" \
				"$(ratio "${f[6]}" "${g[6]}")" "$(ratio "${f[7]}" "${g[7]}")"
		fi
	done
	echo "(tok/req = the token-bounded figure over the request-bounded one: below 1 favours size)"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# Where the kvlb row stands against the brief's goal.
print_goal() {
	local wl s
	echo
	echo "goal: kvlb hit >= 95% of the pooled bound with max/mean <= 1.10"
	for wl in "${workloads[@]}"; do
		if ! s=$(row_of "$wl" kvlb); then
			printf '  %-9s kvlb not measured\n' "$wl"
			continue
		fi
		IFS=$'\t' read -ra f <<<"$s"
		awk -v wl="$wl" -v b="${f[3]}" -v m="${f[8]}" 'BEGIN {
			printf "  %-9s %.1f%% of the bound (%s), max/mean %.2f (%s)\n", wl, b,
				(b >= 95 ? "met" : "not met"), m, (m <= 1.10 ? "met" : "not met") }'
	done
}

print_table
print_size_table
print_goal
if [ "${#notes[@]}" -gt 0 ]; then
	echo
	echo "kvlb counters over each kvlb run (kvlbctl stats deltas):"
	for n in "${notes[@]}"; do echo "  $n"; done
fi
[ -n "$trace" ] || echo "(no Mooncake trace given: make bench-affinity TRACE=path/to/conversation_trace.jsonl)"
echo
echo "hit = cached / prompt tokens (server usage); %bound = hit / pooled-cache bound (one LRU"
echo "cache of all pods' blocks, same workload in arrival order); TTFT = the emulator's time to"
echo "first token in emulated ms (queueing + prefill of the uncached part; x-kvlb-ttft-ms);"
echo "wall = client-side time to the first streamed event, real ms at the compressed rate,"
echo "proxy included; max/mean = busiest pod's requests / mean over $pods pods;"
echo "haproxy-hash-N = balance hash req.body,bytes(0,N), hash-type consistent, hash-balance-factor 130"
echo "(-unbounded: without hash-balance-factor); client-rr = kvlb-load's own round robin over the pods;"
echo "kvlb = kvlb's XDP/TC data path, VIP mode http (delayed binding: prefix table, then the ring"
echo "with loads bounded at c x mean in requests, c = 1.30: the defaults); kvlb-size = the same bounded"
echo "in estimated tokens (kvlbctl policy set size on); kvlb-l4 = VIP mode l4 (a hash of the connection, blind"
echo "to prompts). kvlbd scrapes every pod's /metrics every $scrape_ms ms (wall time)."
echo "total $((SECONDS - start)) s"

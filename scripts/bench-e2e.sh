#!/usr/bin/env bash
# bench-e2e.sh - end-to-end requests/s and latency through kvlb's HTTP VIP,
# against HAProxy and against the pods directly, on the same namespaces and
# pods, in one run.
#
#   scripts/bench-e2e.sh [--duration S] [--connections N] [--threads N]
#                        [--pods N] [--rounds N] [--quick]
#
#   --duration S      seconds per wrk run (default 8)
#   --connections N   wrk connections, the same for every target (default 32)
#   --threads N       wrk threads (default 2)
#   --pods N          emulated model servers (default 2)
#   --rounds N        runs per cell; the table shows the median (default 3)
#   --quick           --duration 3 --rounds 1 (a smoke run, not figures)
#
# Targets, every one driven by Debian's wrk from NAME-client:
#   direct   the pods themselves (wrk thread i talks to pod i mod N), routed
#            through the node's stack
#   haproxy  HAProxy 2.6 in NAME-node, mode http, balance roundrobin, on the
#            VIP (kvlb detached meanwhile, so its programs cost HAProxy nothing)
#   kvlb     kvlbd in NAME-node, the VIP in mode http: SYN cookie from XDP,
#            request front held and parsed, the pod's half opened, spliced
#            (HAProxy stopped meanwhile)
# Requests:
#   chat     POST /v1/chat/completions, a short prompt (one of 256
#            conversations), max_tokens 1, not streamed: kvlb parses the
#            prompt and places it by prefix
#   health   GET /health, the emulator's cheapest answer: shows whether the
#            emulator's model path is what limits the rate
# Connections:
#   close    "Connection: close": a new connection per request, where delayed
#            binding does all of its work (cookie, hold, connect, replay)
#   keep     keep-alive: one connection carries many requests (kvlb keeps a
#            connection on its first pod)
#
# Every order of targets is rotated round by round, so drift hits all alike.
# wrk's latency runs from the request's first write to its answer (the TCP
# handshake is outside it for every target); requests/s counts everything.
# Needs root. Everything started here is stopped on exit, Ctrl-C included.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
EMU=${KVLB_EMU:-$BUILD/kvlb-emu}
VIP=192.0.2.10
PORT=80

duration=8 conns=32 threads=2 pods=2 rounds=3

die() { echo "bench-e2e: $*" >&2; exit 2; }
usage() { sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--duration) duration=${2:?}; shift ;;
	--connections) conns=${2:?}; shift ;;
	--threads) threads=${2:?}; shift ;;
	--pods) pods=${2:?}; shift ;;
	--rounds) rounds=${2:?}; shift ;;
	--quick) duration=3 rounds=1 ;;
	-h | --help) usage 0 ;;
	*) echo "bench-e2e: unknown argument: $1" >&2; usage 2 ;;
	esac
	shift
done
for v in "$duration" "$conns" "$threads" "$pods" "$rounds"; do
	[[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || die "counts must be positive integers"
done
[ "$pods" -le 16 ] || die "--pods: at most 16"
[ "$conns" -ge "$threads" ] || die "--connections must be at least --threads"
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, BPF)"
for b in "$EMU" "$BUILD/kvlbd" "$BUILD/kvlbctl"; do
	[ -x "$b" ] || die "$b missing: run make"
done
for c in wrk haproxy jq curl; do
	command -v "$c" >/dev/null || die "$c missing: run scripts/deps.sh"
done

NAME=kve2e$$
PIN=/sys/fs/bpf/kvlb-$NAME
WORK=$(mktemp -d /tmp/kvlb-bench-e2e.XXXXXX)
emu_pids=()
haproxy_pid=
kvlbd_pid=
wrk_pid=

kvlbctl() { "$BUILD/kvlbctl" --pin-root "$PIN" "$@"; }
pod_addr() { echo "203.0.113.$((10 + $1))"; }

stop_haproxy() {
	[ -n "$haproxy_pid" ] || return 0
	kill "$haproxy_pid" 2>/dev/null || true
	wait "$haproxy_pid" 2>/dev/null || true
	haproxy_pid=
}

stop_kvlb() {
	[ -n "$kvlbd_pid" ] || return 0
	kill "$kvlbd_pid" 2>/dev/null || true
	wait "$kvlbd_pid" 2>/dev/null || true
	kvlbd_pid=
	# Detach too: HAProxy's and the direct runs must not meet XDP or TC.
	local i ifs=()
	for ((i = 1; i <= pods; i++)); do ifs+=(--pod-iface "vp$i"); done
	nsenter --net="/run/netns/$NAME-node" "$BUILD/kvlbd" --cleanup --uplink up0 "${ifs[@]}" \
		--pin-root "$PIN" >/dev/null 2>&1 || true
}

cleanup() {
	trap - EXIT INT TERM
	local p
	[ -n "$wrk_pid" ] && kill "$wrk_pid" 2>/dev/null
	stop_haproxy
	stop_kvlb
	for p in "${emu_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${emu_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	"$TOP/scripts/topo.sh" down "$NAME" 2>/dev/null || true
	rm -rf "$WORK" "$PIN"
}
trap cleanup EXIT
trap 'echo "bench-e2e: interrupted" >&2; exit 130' INT TERM

# poll CMD every 50 ms for up to $1 seconds
wait_for() {
	local deadline=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

start_haproxy() {
	local i servers=
	for ((i = 1; i <= pods; i++)); do
		servers+=$(printf '\tserver pod%d %s:8000\n' "$i" "$(pod_addr "$i")")$'\n'
	done
	BAL=$'\tbalance roundrobin' SRV=$servers VIP=$VIP PORT=$PORT awk '
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

all_scraped() {
	kvlbctl -j load | jq -e --argjson n "$pods" '[.[] | select(.scraped)] | length >= $n'
}

start_kvlb() {
	local i links= a
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	for ((i = 1; i <= pods; i++)); do links+=" vp$i"; done
	{
		echo "uplink up0"
		echo "pod-iface$links"
		echo "vip $VIP:$PORT mode http"
		for ((i = 1; i <= pods; i++)); do
			a=$(pod_addr "$i")
			echo "backend $a:8000 metrics http://$a:8000/metrics server vllm"
		done
	} >"$WORK/kvlb.conf"
	nsenter --net="/run/netns/$NAME-node" "$BUILD/kvlbd" --config "$WORK/kvlb.conf" \
		--pin-root "$PIN" --metrics-listen off >"$WORK/kvlbd.log" 2>&1 &
	kvlbd_pid=$!
	wait_for 10 grep -q 'running (pid' "$WORK/kvlbd.log" ||
		die "kvlbd did not come up: $(tail -3 "$WORK/kvlbd.log")"
	wait_for 10 all_scraped || die "kvlbd did not scrape every pod"
	ip netns exec "$NAME-client" curl -sf -o /dev/null "http://$VIP:$PORT/health" ||
		die "no answer through kvlb's VIP"
}

# The wrk script: method, body, and (for the direct target) which pod each
# thread talks to; done() prints one machine-readable line.
write_lua() { # REQUEST DIRECT(0|1)
	local f=$WORK/$1-$2.lua i
	{
		if [ "$2" = 1 ]; then
			printf 'local pods = {'
			for ((i = 1; i <= pods; i++)); do printf '"%s",' "$(pod_addr "$i")"; done
			printf '}\n'
			cat <<-'EOF'
				local next_pod = 0
				function setup(thread)
				    thread.addr = wrk.lookup(pods[next_pod % #pods + 1], "8000")[1]
				    next_pod = next_pod + 1
				end
			EOF
		fi
		if [ "$1" = chat ]; then
			# 256 conversations, told apart in the first bytes of the
			# prompt: kvlb spreads them over the pods as it would real
			# ones (one prompt repeated would all go to one pod).
			cat <<-'EOF'
				wrk.method = "POST"
				wrk.headers["Content-Type"] = "application/json"
				local n = 0
				function request()
				    n = n + 1
				    return wrk.format(nil, nil, nil, string.format(
				        '{"model":"kvlb-emu","messages":[{"role":"system","content":"Conversation %d. You are a terse assistant."},{"role":"user","content":"Say one word."}],"max_tokens":1}',
				        n % 256))
				end
			EOF
		fi
		cat <<-'EOF'
			function done(summary, latency, requests)
			    local e = summary.errors
			    io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests,
			        summary.duration, latency:percentile(50), latency:percentile(99),
			        e.connect + e.read + e.write + e.timeout, e.status))
			end
		EOF
	} >"$f"
	echo "$f"
}

# Pods whose emulator is no longer running, with the end of its log.
pods_gone() {
	local i
	for ((i = 1; i <= pods; i++)); do
		kill -0 "${emu_pids[i - 1]}" 2>/dev/null ||
			printf '\npod%d: kvlb-emu exited: %s' "$i" "$(tail -3 "$WORK/emu$i.log")"
	done
}

# Requests each pod has answered on its model path, space-separated.
pod_counts() {
	local i
	for ((i = 1; i <= pods; i++)); do
		ip netns exec "$NAME-client" curl -sf "http://$(pod_addr "$i"):8000/metrics" |
			awk '/^vllm:request_success_total/ { n += $NF } END { printf "%d ", n }'
	done
}

# One wrk run; appends "TARGET REQ CONN req/s p50_us p99_us errors non2xx".
run_wrk() { # TARGET REQUEST CONN
	local target=$1 req=$2 conn=$3 url lua hdr=() out rc=0 before after spread
	case "$req" in
	chat) url=/v1/chat/completions ;;
	health) url=/health ;;
	esac
	if [ "$target" = direct ]; then
		lua=$(write_lua "$req" 1)
		url=http://$(pod_addr 1):8000$url
	else
		lua=$(write_lua "$req" 0)
		url=http://$VIP:$PORT$url
	fi
	[ "$conn" = close ] && hdr=(-H "Connection: close")
	out=$WORK/wrk-$target-$req-$conn.out
	before=$(pod_counts)
	ip netns exec "$NAME-client" wrk -t "$threads" -c "$conns" -d "${duration}s" --timeout 5s \
		"${hdr[@]}" -s "$lua" "$url" >"$out" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid" || rc=$?
	wrk_pid=
	[ "$rc" -eq 0 ] || die "wrk failed on $target $req $conn: $(tail -3 "$out")$(pods_gone)"
	after=$(pod_counts)
	# busiest pod's share over the mean (model requests only: /health is
	# not counted by the emulator)
	spread=$(awk -v a="$before" -v b="$after" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= n; i++) { d = y[i] - x[i]; t += d; if (d > m) m = d }
		printf "%.2f", (t > 0 ? m * n / t : 0) }')
	awk -v t="$target" -v r="$req" -v c="$conn" -v s="$spread" '$1 == "RESULT" {
		printf "%s %s %s %.1f %d %d %d %d %s\n", t, r, c, $2 / ($3 / 1e6), $4, $5, $6, $7, s }' \
		"$out" >>"$WORK/results"
	grep -q "^$target $req $conn " "$WORK/results" || die "no result from wrk: $(tail -3 "$out")"
}

# Bring up the target, run the request kinds and connection modes on it,
# take it down.
run_target() { # TARGET
	local req conn
	case "$1" in
	haproxy) start_haproxy ;;
	kvlb)
		start_kvlb
		kvlbctl -j stats >"$WORK/stats0.json" ;;
	esac
	echo "bench-e2e: round $round: $1" >&2
	for req in chat health; do
		for conn in close keep; do run_wrk "$1" "$req" "$conn"; done
	done
	case "$1" in
	haproxy) stop_haproxy ;;
	kvlb)
		kvlbctl -j stats >"$WORK/stats1.json"
		jq -s '.[0] as $a | .[1] | with_entries(.value -= $a[.key])' \
			"$WORK/stats0.json" "$WORK/stats1.json" >>"$WORK/stats-delta.json"
		stop_kvlb ;;
	esac
}

"$TOP/scripts/topo.sh" up "$NAME" "$pods"
ip netns exec "$NAME-node" ip addr add "$VIP/32" dev lo
# The direct runs leave TIME_WAIT sockets in the pods. A kvlb connection on
# the same client address and port within a minute would meet one: the pod
# answers kvlb's SYN (the client's ISN, unrelated to the old connection's)
# with a bare ACK, which kvlb does not turn into an RST and a new SYN as a
# client's stack would, and the connection fails after kvlb's SYN retries.
# Direct traffic leaves from an address of its own, so the runs stay apart.
ip netns exec "$NAME-client" ip addr add 198.51.100.3/24 dev c0
ip netns exec "$NAME-client" ip route add 203.0.113.0/24 via 198.51.100.1 src 198.51.100.3
# New connections by the thousand a second: wide port ranges and TIME_WAIT
# reuse, so no target runs out of ports (HAProxy opens one towards a pod per
# client connection).
for ns in "$NAME-client" "$NAME-node"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
		net.ipv4.tcp_tw_reuse=1 net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
done
for ((i = 1; i <= pods; i++)); do
	ip netns exec "$NAME-pod$i" sysctl -qw net.core.somaxconn=4096 \
		net.ipv4.tcp_max_syn_backlog=4096
	# A fast, tiny answer: no prefill or decode time worth the name.
	ip netns exec "$NAME-pod$i" "$EMU" --listen "$(pod_addr "$i"):8000" --name "pod$i" \
		--model kvlb-emu --time-scale 1000000 --max-batch 1024 --seed "$i" \
		>"$WORK/emu$i.log" 2>&1 &
	emu_pids+=($!)
done
for ((i = 1; i <= pods; i++)); do
	wait_for 10 ip netns exec "$NAME-client" curl -sf "http://$(pod_addr "$i"):8000/health" ||
		die "pod$i: kvlb-emu did not come up: $(tail -3 "$WORK/emu$i.log")"
done

start=$SECONDS
: >"$WORK/results"
targets=(direct haproxy kvlb)
for ((round = 1; round <= rounds; round++)); do
	for ((k = 0; k < 3; k++)); do
		run_target "${targets[(k + round - 1) % 3]}"
	done
done

# Median over the rounds of each cell (by requests/s; its latencies with it).
median_of() { # TARGET REQUEST CONN -> "req/s p50_us p99_us errors non2xx max/mean"
	awk -v t="$1" -v r="$2" -v c="$3" '$1 == t && $2 == r && $3 == c { print $4, $5, $6, $7, $8, $9 }' \
		"$WORK/results" | sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}

echo
echo "bench-e2e: wrk -t $threads -c $conns -d ${duration}s from $NAME-client; $pods pods of kvlb-emu"
echo "  (--time-scale 1000000, max_tokens 1); median of $rounds round(s) per cell by req/s;"
echo "  direct = wrk thread i to pod i mod $pods; haproxy = mode http, roundrobin, on the VIP;"
echo "  kvlb = the VIP in mode http (delayed binding). 2 cores shared by everything."
echo "  max/mean: the busiest pod's model requests over the mean (chat only)."
echo
printf '%-7s %-6s %-8s %10s %9s %9s %7s %7s %8s\n' request conn target "req/s" "p50 ms" "p99 ms" \
	errors non2xx max/mean
for req in chat health; do
	for conn in close keep; do
		for t in direct haproxy kvlb; do
			read -r rps p50 p99 err n2 mm <<<"$(median_of "$t" "$req" "$conn")"
			[ "$req" = chat ] || mm=-
			printf '%-7s %-6s %-8s %10.1f %9.3f %9.3f %7d %7d %8s\n' "$req" "$conn" "$t" "$rps" \
				"$(awk -v u="$p50" 'BEGIN { print u / 1000 }')" \
				"$(awk -v u="$p99" 'BEGIN { print u / 1000 }')" "$err" "$n2" "$mm"
		done
	done
done

echo
echo "ratios (same run): rate = req/s over req/s; added = p - direct's p (ms), and kvlb's"
echo "added latency over HAProxy's (the brief's goal: kvlb/haproxy rate >= 3, added p99 < 10%)."
echo "dir/hap is the ceiling of kvlb/hap on this machine: no balancer answers faster than the"
echo "pods do without one, when wrk, the pods and the balancer share the same cores."
printf '%-7s %-6s %9s %9s %9s %10s %10s %10s %10s %8s\n' request conn "kvlb/hap" "kvlb/dir" \
	"dir/hap" "hap +p50" "kvlb +p50" "hap +p99" "kvlb +p99" "p99 k/h"
for req in chat health; do
	for conn in close keep; do
		read -r d_rps d_p50 d_p99 _ <<<"$(median_of direct "$req" "$conn")"
		read -r h_rps h_p50 h_p99 _ <<<"$(median_of haproxy "$req" "$conn")"
		read -r k_rps k_p50 k_p99 _ <<<"$(median_of kvlb "$req" "$conn")"
		awk -v req="$req" -v conn="$conn" -v dr="$d_rps" -v hr="$h_rps" -v kr="$k_rps" \
			-v d5="$d_p50" -v h5="$h_p50" -v k5="$k_p50" \
			-v d9="$d_p99" -v h9="$h_p99" -v k9="$k_p99" 'BEGIN {
			ha9 = (h9 - d9) / 1000; ka9 = (k9 - d9) / 1000
			printf "%-7s %-6s %9.2f %9.2f %9.2f %10.3f %10.3f %10.3f %10.3f %8s\n", req, conn,
				(hr > 0 ? kr / hr : 0), (dr > 0 ? kr / dr : 0), (hr > 0 ? dr / hr : 0),
				(h5 - d5) / 1000, (k5 - d5) / 1000, ha9, ka9,
				(ha9 > 0 ? sprintf("%.2f", ka9 / ha9) : "-") }'
	done
done

echo
echo "kvlb counters over its runs (kvlbctl stats deltas, all rounds):"
jq -rs 'reduce .[] as $d ({}; reduce ($d | keys[]) as $k (.; .[$k] += $d[$k]))
	| "  cookies sent \(.sp_cookie_sent), handshakes \(.sp_cookie_ok), bound \(.sp_bound), closed \(.sp_closed);",
	  "  prefix hit \(.http_prefix_hit), ring \(.http_ring), no key \(.http_no_key), not HTTP \(.http_fallback_l4);",
	  "  bad cookie \(.sp_cookie_bad), hold full \(.sp_hold_full), hold no memory \(.sp_hold_nomem), pod reset \(.sp_pod_reset), pod timeout \(.sp_pod_timeout), SYN retries \(.sp_syn_retries), out of order \(.sp_out_of_order), resent bytes \(.sp_resent_bytes)"' \
	"$WORK/stats-delta.json"
echo "total $((SECONDS - start)) s"

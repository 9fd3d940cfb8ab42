#!/usr/bin/env bash
# End to end through HTTP VIPs (delayed binding) with real clients, on a
# namespace topology: three kvlb-emu pods behind 192.0.2.10:80 and
# [2001:db8:a::10]:80, both `mode http`, scraped by kvlbd as in production.
#  1. curl: a small and a 40 KB body (over the 8192-byte hold limit), with
#     and without Expect: 100-continue, IPv4 and IPv6, and an SSE stream;
#  2. python httpx: several requests on one keep-alive client, both families;
#  3. the openai npm client streaming a chat completion;
#  4. wrk, kept-alive connections and one connection per request;
#  5. every answer of 1-3 and 7 byte-exact: see same_answer;
#  6. affinity: every turn of a conversation on one pod, 30 conversations
#     over at least two pods; an agent loop's quick, growing turns too;
#  7. awkward clients: the body a second after the headers, headers alone over
#     the hold limit, a pod with no listener, a pod that never answers the SYN,
#     TLS and HTTP/2 bytes: an answer or a clean reset, never a hang;
#  8. the counters, through kvlbctl and through bpftool;
#  9. the kvlb_splice and kvlb_hold maps drain to empty, and no reverse NAT
#     entry of a spliced connection outlives it.
. "$(dirname "$0")/../lib.sh"
need_root e2e-http
ensure_bpffs

T=h52$$
PIN=/sys/fs/bpf/kvlb-$T
WORK=$(mktemp -d /tmp/kvlb-$T.XXXX)
KVLBD=$KVLB_BUILD/kvlbd
KVLBCTL=$KVLB_BUILD/kvlbctl
EMU=$KVLB_BUILD/kvlb-emu
E2E=$KVLB_TOP/tests/http/e2e
JS=$KVLB_TOP/tests/js
# Debian's interpreter: python3-httpx is installed for it, whatever python3
# comes first in PATH.
PY=/usr/bin/python3
VIP4=192.0.2.10
VIP6=2001:db8:a::10
kvlbd_pid=
declare -A emu_pid

for b in "$KVLBD" "$KVLBCTL" "$EMU" "$KVLB_BUILD/tests/xdp_pass.bpf.o"; do
	[ -e "$b" ] || { fail e2e-http-setup "$b is not built (run make)"; exit 1; }
done

cleanup() {
	local p
	for p in $kvlbd_pid "${emu_pid[@]}"; do kill -9 "$p" 2>/dev/null; done
	"$KVLB_TOP/scripts/topo.sh" down "$T"
	"$KVLBD" --cleanup --pin-root "$PIN" >/dev/null 2>&1
	[ -n "${KVLB_KEEP:-}" ] && cp -r "$WORK" /tmp/kvlb-kept
	rm -rf "$WORK" "$PIN"
}
trap cleanup EXIT

node() { ip netns exec "$T-node" "$@"; }
client() { ip netns exec "$T-client" "$@"; }
ctl() { "$KVLBCTL" --pin-root "$PIN" "$@"; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }
snap() { ctl -j stats >"$WORK/stats.$1"; }
# delta NAME FROM TO: how much counter NAME grew between two snapshots.
delta() { jq -n --slurpfile a "$WORK/stats.$2" --slurpfile b "$WORK/stats.$3" "\$b[0].$1 - \$a[0].$1"; }
# pod_addr N 4|6: pod N's address as a URL host.
pod_addr() { [ "$2" = 4 ] && echo "203.0.113.1$1" || echo "[2001:db8:b::1$1]"; }
vip_url() { [ "$1" = 4 ] && echo "http://$VIP4" || echo "http://[$VIP6]"; }

"$KVLB_TOP/scripts/topo.sh" up "$T" 3

# One emulator a pod, on both families. Each pod has its own text seed, so
# the same request gets different words from different pods: an answer can
# only match the direct answer of the pod that really produced it.
for i in 1 2 3; do
	ip netns exec "$T-pod$i" "$EMU" --listen '[::]:8000' --name "pod$i" --seed "$i" \
		--time-scale 1000 >"$WORK/emu$i.log" 2>&1 &
	emu_pid[$i]=$!
	disown
done
for i in 1 2 3; do
	wait_for 10 node curl -sf -o /dev/null "http://203.0.113.1$i:8000/health" &&
		wait_for 10 node curl -sf -o /dev/null "http://[2001:db8:b::1$i]:8000/health" ||
		{ fail e2e-http-setup "pod$i's emulator did not start: $(cat "$WORK/emu$i.log")"; exit 1; }
done
# Pod 3 never answers connections to port 8002: everything it would send
# from that port (SYN-ACK or RST) is blackholed. Nothing listens on 8001.
ip netns exec "$T-pod3" ip rule add ipproto tcp sport 8002 blackhole
ip netns exec "$T-pod3" ip -6 rule add ipproto tcp sport 8002 blackhole

# VIPs .11 and .12 have one backend each, so the choice cannot avoid the pod
# under test; they have no metrics URL, so kvlbd does not mark them down.
cat >"$WORK/kvlb.conf" <<CONF
uplink up0
pod-iface vp1 vp2 vp3
vip $VIP4:80 mode http
backend 203.0.113.11:8000 metrics http://203.0.113.11:8000/metrics
backend 203.0.113.12:8000 metrics http://203.0.113.12:8000/metrics
backend 203.0.113.13:8000 metrics http://203.0.113.13:8000/metrics
vip [$VIP6]:80 mode http
backend [2001:db8:b::11]:8000 metrics http://[2001:db8:b::11]:8000/metrics
backend [2001:db8:b::12]:8000 metrics http://[2001:db8:b::12]:8000/metrics
backend [2001:db8:b::13]:8000 metrics http://[2001:db8:b::13]:8000/metrics
vip 192.0.2.11:80 mode http
backend 203.0.113.13:8001
vip [2001:db8:a::11]:80 mode http
backend [2001:db8:b::13]:8001
vip 192.0.2.12:80 mode http
backend 203.0.113.13:8002
vip [2001:db8:a::12]:80 mode http
backend [2001:db8:b::13]:8002
vip 192.0.2.13:80 mode http
backend 203.0.113.11:8000
CONF
started() { grep -q "running (pid $1)" "$WORK/kvlbd.log"; }
nsenter --net=/run/netns/$T-node "$KVLBD" --config "$WORK/kvlb.conf" --pin-root "$PIN" \
	--metrics-listen off >"$WORK/kvlbd.log" 2>&1 &
kvlbd_pid=$!
disown
wait_for 10 started "$kvlbd_pid" ||
	{ fail e2e-http-kvlbd "kvlbd did not start: $(cat "$WORK/kvlbd.log")"; exit 1; }
scraped() { [ "$(ctl -j load | jq '[.[] | select(.scraped and .state == "up")] | length')" -ge 6 ]; }
wait_for 10 scraped || echo "# not every backend scraped yet: $(ctl load)"
pass e2e-http-kvlbd-start
snap start

# ---- byte-exact comparison --------------------------------------------------
# The fields of an answer that differ between two equal requests however
# faithfully they are carried: the request id (the emulator numbers its
# requests), the clock, and how much of the prompt the pod's cache held.
normalize() {
	sed -E 's/"id":"(chatcmpl|cmpl)-[0-9a-f]{32}"/"id":"ID"/g
		s/"created":[0-9]+/"created":0/g
		s/"cached_tokens":[0-9]+/"cached_tokens":0/g' "$1"
}
compared=0 matched=0
: >"$WORK/digests"
# same_answer NAME VIA_BODY FAMILY PATH REQ_FILE: the answer that came through
# the VIP is non-empty, names exactly one pod, and equals (normalized) the
# answer that pod gives to the same request sent to it directly.
same_answer() {
	local name=$1 via=$2 fam=$3 path=$4 req=$5 pods pod direct=$WORK/$1.direct dv dd
	compared=$((compared + 1))
	pods=$(grep -oE '"kvlb_backend":"pod[1-3]"' "$via" | sort -u)
	if [ ! -s "$via" ] || [ "$(grep -c . <<<"$pods")" -ne 1 ]; then
		fail "e2e-http-bytes-$name" "answer through the VIP is empty or names no single pod: $(head -c 300 "$via")"
		return 1
	fi
	pod=${pods//[^0-9]/}
	pod=${pod: -1}
	if ! node curl -sS -m 20 -o "$direct" -H 'content-type: application/json' \
		--data-binary @"$req" "http://$(pod_addr "$pod" "$fam"):8000$path"; then
		fail "e2e-http-bytes-$name" "direct request to pod$pod failed"
		return 1
	fi
	dv=$(normalize "$via" | sha256sum | cut -c1-64)
	dd=$(normalize "$direct" | sha256sum | cut -c1-64)
	if [ "$dv" != "$dd" ]; then
		fail "e2e-http-bytes-$name" "pod$pod: $(wc -c <"$via") bytes via the VIP, $(wc -c <"$direct") direct, digests ${dv:0:12} != ${dd:0:12}"
		cmp "$via" "$direct" | sed 's/^/# /'
		return 1
	fi
	matched=$((matched + 1))
	echo "$(sha256sum <"$req" | cut -c1-16) pod$pod $dv" >>"$WORK/digests"
	return 0
}

# A request body: chat messages of about BYTES bytes, asking for TOKENS tokens.
mkreq() {
	local out=$1 bytes=$2 tokens=$3 extra=${4:-}
	$PY - "$bytes" "$tokens" "$extra" >"$out" <<'PY'
import json, sys
size, tokens, extra = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
msgs = [{"role": "system", "content": "You answer questions about load balancers."}]
i = 0
while len(json.dumps(msgs)) < size:
    msgs.append({"role": "user" if i % 2 == 0 else "assistant",
                 "content": "message %d: why does the prefix cache matter for turn %d? " % (i, i) * 6})
    i += 1
req = {"model": "kvlb-emu-model", "messages": msgs, "max_tokens": tokens}
if extra:
    req.update(json.loads(extra))
print(json.dumps(req), end="")
PY
}
mkreq "$WORK/small.json" 200 20
mkreq "$WORK/big.json" 40000 2500
mkreq "$WORK/stream.json" 3000 64 '{"stream": true}'

# ---- 1. curl ----------------------------------------------------------------
# curl 7.88 adds Expect: 100-continue by itself only above 1 MiB, so both
# cases are asked for explicitly.
curl_ok=0 curl_n=0
snap curl.0
for fam in 4 6; do
	for size in small big; do
		for ex in expect noexpect; do
			name=curl-v$fam-$size-$ex
			[ $ex = expect ] && hdr='Expect: 100-continue' || hdr='Expect:'
			curl_n=$((curl_n + 1))
			code=$(client curl -sS -m 20 -o "$WORK/$name.via" -D "$WORK/$name.hdr" -w '%{http_code}' \
				-H 'content-type: application/json' -H "$hdr" --data-binary @"$WORK/$size.json" \
				"$(vip_url $fam)/v1/chat/completions" 2>"$WORK/$name.err")
			if [ "$code" != 200 ]; then
				fail "e2e-http-$name" "HTTP $code: $(cat "$WORK/$name.err")"
				continue
			fi
			# The pod's 100 Continue must reach a client that waits for it.
			if [ $ex = expect ] && ! grep -q '^HTTP/1.1 100 Continue' "$WORK/$name.hdr"; then
				fail "e2e-http-$name" "no 100 Continue came back"
				continue
			fi
			same_answer "$name" "$WORK/$name.via" $fam /v1/chat/completions "$WORK/$size.json" &&
				curl_ok=$((curl_ok + 1))
		done
	done
done
snap curl.1
# How they were placed, for the record: a client that waits for 100 Continue
# sends no body before kvlb must choose, so it has no prefix key.
placed="prefix $(delta http_prefix_hit curl.0 curl.1), ring $(delta http_ring curl.0 curl.1), no key $(delta http_no_key curl.0 curl.1)"
[ $curl_ok -eq $curl_n ] && pass "e2e-http-curl ($curl_ok of $curl_n answers byte-exact; bodies $(wc -c <"$WORK/small.json") and $(wc -c <"$WORK/big.json") bytes; placed by $placed)" ||
	fail e2e-http-curl "$curl_ok of $curl_n answers byte-exact"

code=$(client curl -sS -N -m 20 -o "$WORK/sse.via" -w '%{http_code}' -H 'content-type: application/json' \
	--data-binary @"$WORK/stream.json" "http://$VIP4/v1/chat/completions")
events=$(grep -c '^data: ' "$WORK/sse.via")
if [ "$code" = 200 ] && grep -q '^data: \[DONE\]' "$WORK/sse.via" &&
	same_answer curl-sse "$WORK/sse.via" 4 /v1/chat/completions "$WORK/stream.json"; then
	pass "e2e-http-curl-sse ($events events byte-exact)"
else
	fail e2e-http-curl-sse "HTTP $code, $events events"
fi

# ---- 2. httpx, one keep-alive client ----------------------------------------
for fam in 4 6; do
	dir=$WORK/httpx$fam
	mkdir "$dir"
	snap "httpx$fam.0"
	client timeout 60 $PY "$E2E/clients.py" httpx "$(vip_url $fam)" 5 "$dir" >"$dir/out" 2>"$dir/err"
	snap "httpx$fam.1"
	ok=0
	for i in 0 1 2 3 4; do
		[ "$(jq ".requests[$i].status" "$dir/out" 2>/dev/null)" = 200 ] &&
			same_answer "httpx-v$fam-$i" "$dir/$i.body" $fam /v1/chat/completions "$dir/$i.req" &&
			ok=$((ok + 1))
	done
	conns=$(delta sp_cookie_ok "httpx$fam.0" "httpx$fam.1")
	ports=$(jq -c '.local_ports' "$dir/out" 2>/dev/null)
	if [ $ok -eq 5 ] && [ "$conns" = 1 ] && [ "$(jq length <<<"$ports")" = 1 ]; then
		pass "e2e-http-httpx-v$fam (5 of 5 byte-exact on one connection, $(jq -r '.requests[0].backend' "$dir/out"))"
	else
		fail "e2e-http-httpx-v$fam" "$ok of 5 byte-exact, $conns handshakes, local ports $ports: $(cat "$dir/out" "$dir/err")"
	fi
done

# ---- 3. the openai npm client -----------------------------------------------
want=$(jq -r '.dependencies.openai' "$JS/package.json")
have=$(jq -r '.version' "$JS/node_modules/openai/package.json" 2>/dev/null)
if ! command -v node >/dev/null; then
	skip e2e-http-openai "node is not installed"
elif [ "$have" != "$want" ]; then
	skip e2e-http-openai "tests/js has openai ${have:-none}, not the pinned $want (tests/cases/30-emulator-openai.sh installs it)"
else
	# The client sends two requests (streamed, then whole), on one connection
	# or two, so each part is matched on its own against the pods' direct
	# answers, without the cache figure, which depends on what a pod saw.
	openai_part() { jq -cS ".$2 | del(.. | .cached_tokens?)" "$1" 2>/dev/null; }
	openai_match() {
		local out=$1 part=$2 i m=
		for i in 1 2 3; do
			[ "$(openai_part "$out" "$part")" = "$(openai_part "$WORK/openai.pod$i" "$part")" ] && m="$m pod$i"
		done
		echo "$m"
	}
	for i in 1 2 3; do
		node timeout 60 node "$JS/stream_chat.mjs" "http://203.0.113.1$i:8000/v1" >"$WORK/openai.pod$i" 2>&1
	done
	for fam in 4 6; do
		out=$WORK/openai.v$fam
		if ! client timeout 60 node "$JS/stream_chat.mjs" "$(vip_url $fam)/v1" >"$out" 2>&1; then
			fail "e2e-http-openai-v$fam" "the client failed: $(tail -5 "$out")"
			continue
		fi
		ms=$(openai_match "$out" streamed)
		mw=$(openai_match "$out" whole)
		if jq -e '(.streamed.text | length) == 48 and .streamed.chunks == 14 and
			.streamed.finish == "length" and .streamed.role == "assistant"' "$out" >/dev/null &&
			[ "$(wc -w <<<"$ms")" = 1 ] && [ "$(wc -w <<<"$mw")" = 1 ]; then
			pass "e2e-http-openai-v$fam (stream of $(jq .streamed.chunks "$out") chunks equals the direct answer of$ms, the whole answer that of$mw)"
		else
			fail "e2e-http-openai-v$fam" "stream matches direct answers of [$ms], whole answer of [$mw]: $(cat "$out")"
		fi
	done
fi

# ---- 4. wrk -------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
	skip e2e-http-wrk "wrk is not installed"
else
	for mode in keepalive close; do
		[ $mode = close ] && set -- -c4 -H 'Connection: close' || set -- -c8
		client timeout 30 wrk -t2 -d2s "$@" -s "$E2E/post.lua" \
			"http://$VIP4/v1/chat/completions" >"$WORK/wrk.$mode" 2>&1
		total=$(awk '/requests in/ { print $1 }' "$WORK/wrk.$mode")
		sockerr=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$WORK/wrk.$mode")
		line=$(grep '^answers ' "$WORK/wrk.$mode")
		read -r _ answers _ non2xx _ unnamed _ pods <<<"$line"
		if [ "${total:-0}" -gt 0 ] && [ "${sockerr:-0}" -eq 0 ] && [ "${non2xx:-1}" -eq 0 ] &&
			[ "${unnamed:-1}" -eq 0 ] && [ "${answers:-0}" -ge "$total" ]; then
			pass "e2e-http-wrk-$mode ($total requests, 0 socket errors, 0 non-2xx; $pods)"
		else
			fail "e2e-http-wrk-$mode" "$(cat "$WORK/wrk.$mode")"
		fi
	done
fi

# ---- 6. affinity --------------------------------------------------------------
snap conv.0
client timeout 120 $PY "$E2E/clients.py" conv "http://$VIP4" 30 4 "$WORK/conv" 2>"$WORK/conv.err"
snap conv.1
answered=$(jq -s '[.[] | select(.status == 200 and .backend != null)] | length' "$WORK/conv")
split=$(jq -rs 'group_by(.conv)[] | select(([.[].backend] | unique | length) > 1) |
	"conv \(.[0].conv): \([.[].backend] | join(" "))"' "$WORK/conv")
spread=$(jq -rs '[group_by(.conv)[] | .[0].backend] | group_by(.) |
	map("\(.[0])=\(length)") | join(" ")' "$WORK/conv")
if [ "$answered" -eq 120 ] && [ -z "$split" ]; then
	pass "e2e-http-affinity-turns (120 of 120 answered, every conversation's 4 turns on one pod)"
else
	fail e2e-http-affinity-turns "$answered of 120 answered; split: ${split:-none} $(head -3 "$WORK/conv.err")"
fi
[ "$(wc -w <<<"$spread")" -ge 2 ] && pass "e2e-http-affinity-spread (30 conversations: $spread)" ||
	fail e2e-http-affinity-spread "30 conversations on $spread"
hits=$(delta http_prefix_hit conv.0 conv.1)
[ "$hits" -ge 90 ] && pass "e2e-http-affinity-prefix-hits ($hits prefix-table hits for 90 later turns)" ||
	fail e2e-http-affinity-prefix-hits "$hits prefix-table hits for 90 later turns; ring $(delta http_ring conv.0 conv.1), overloaded $(delta http_overloaded conv.0 conv.1)"

# An agent's tool loop sends the next turn as soon as the answer is in, and
# its context grows by kilobytes a turn: 3 such conversations of 6 turns,
# 4 KB more each turn.
snap agent.0
client timeout 120 $PY "$E2E/clients.py" conv "http://$VIP4" 3 6 "$WORK/agent" \
	--sequential --turn-bytes 4000 2>"$WORK/agent.err"
snap agent.1
answered=$(jq -s '[.[] | select(.status == 200 and .backend != null)] | length' "$WORK/agent")
split=$(jq -rs 'group_by(.conv)[] | select(([.[].backend] | unique | length) > 1) |
	"agent \(.[0].conv): \([.[] | "\(.backend)@\(.bytes)B"] | join(" "))"' "$WORK/agent")
if [ "$answered" -eq 18 ] && [ -z "$split" ]; then
	pass "e2e-http-affinity-agent-loop (18 of 18 answered, each agent's 6 turns on one pod, up to $(jq -s 'map(.bytes) | max' "$WORK/agent") bytes)"
else
	fail e2e-http-affinity-agent-loop "$answered of 18 answered; prefix hits $(delta http_prefix_hit agent.0 agent.1), ring $(delta http_ring agent.0 agent.1), overloaded $(delta http_overloaded agent.0 agent.1); split: ${split:-none} $(head -3 "$WORK/agent.err")"
fi

# ---- 7. awkward clients -----------------------------------------------------
# The body a second after the headers, which kvlb has to acknowledge alone.
for spec in 4:small 6:big; do
	fam=${spec%:*} size=${spec#*:} name=slow-v${spec%:*}-${spec#*:}
	[ $fam = 4 ] && a=$VIP4 || a=$VIP6
	res=$(client timeout 60 $PY "$E2E/clients.py" send "$a" 80 /v1/chat/completions \
		"$WORK/$size.json" "$WORK/$name.via" --pause 1)
	if [ "$(jq -r .status <<<"$res" 2>/dev/null)" = 200 ] &&
		same_answer "$name" "$WORK/$name.via" $fam /v1/chat/completions "$WORK/$size.json"; then
		pass "e2e-http-$name (body 1 s after the headers: answer byte-exact)"
	else
		fail "e2e-http-$name" "$res"
	fi
done

# Headers alone longer than the hold limit: the choice is made before the
# body starts.
snap bighdr.0
res=$(client timeout 60 $PY "$E2E/clients.py" send $VIP4 80 /v1/chat/completions \
	"$WORK/big.json" "$WORK/bighdr.via" --pad-header 10000)
snap bighdr.1
if [ "$(jq -r .status <<<"$res" 2>/dev/null)" = 200 ] &&
	same_answer bighdr "$WORK/bighdr.via" 4 /v1/chat/completions "$WORK/big.json"; then
	pass "e2e-http-headers-over-hold-limit ($(jq .head_bytes <<<"$res") bytes of headers: answer byte-exact; ring $(delta http_ring bighdr.0 bighdr.1) no_key $(delta http_no_key bighdr.0 bighdr.1) fallback_l4 $(delta http_fallback_l4 bighdr.0 bighdr.1))"
else
	fail e2e-http-headers-over-hold-limit "$res"
fi

# dead_backend NAME URL: a request to a VIP whose one backend cannot be
# reached, with the counters before and after; dead_report NAME COUNTER: it
# ended with a reset (curl 56, or 7/52), not curl's own time limit (28), and
# COUNTER grew.
dead_backend() {
	local name=$1 url=$2 t0 rc
	snap "$name.0"
	t0=$(ms_now)
	client curl -sS -m 30 -o /dev/null -H 'content-type: application/json' \
		--data-binary @"$WORK/small.json" "$url/v1/chat/completions" 2>"$WORK/$name.err"
	rc=$?
	echo "$rc $(($(ms_now) - t0))" >"$WORK/$name.rc"
	snap "$name.1"
}
dead_report() {
	local name=$1 counter=$2 rc ms d
	read -r rc ms <"$WORK/$name.rc"
	d=$(delta "$counter" "$name.0" "$name.1")
	if [[ $rc =~ ^(7|52|56)$ ]] && [ "$d" -ge 1 ]; then
		pass "e2e-http-$name (curl exit $rc after $ms ms: $(tr -d '\n' <"$WORK/$name.err"); $counter +$d)"
	else
		fail "e2e-http-$name" "curl exit $rc after $ms ms ($(tr -d '\n' <"$WORK/$name.err")), $counter +$d"
	fi
}
# A pod holding many client tuples in TIME_WAIT (the client reached it
# directly, one connection per request) answers kvlb's SYN on a reused tuple
# with a bare ACK; kvlb must clear that socket and connect, not time out.
client ip route add 203.0.113.11/32 via 198.51.100.1
client wrk -t1 -c8 -d1s -H 'Connection: close' http://203.0.113.11:8000/health >"$WORK/tw.wrk" 2>&1
client ip route del 203.0.113.11/32 via 198.51.100.1
snap tw.0
tw_ok=0
for _ in $(seq 1 60); do
	code=$(client curl -s -o /dev/null -m 10 -w '%{http_code}' -H 'Connection: close' \
		http://192.0.2.13/health) || true
	[ "$code" = 200 ] && tw_ok=$((tw_ok + 1))
done
snap tw.1
tw_direct=$(awk '/requests in/ { print $1 }' "$WORK/tw.wrk")
tw_retries=$(delta sp_syn_retries tw.0 tw.1)
if [ "$tw_ok" -eq 60 ] && [ "$(delta sp_pod_timeout tw.0 tw.1)" -eq 0 ]; then
	pass "e2e-http-pod-time-wait (60 of 60 answered after $tw_direct direct connections; SYNs sent again: $tw_retries)"
else
	fail e2e-http-pod-time-wait "$tw_ok of 60 answered; sp_pod_timeout +$(delta sp_pod_timeout tw.0 tw.1)"
fi

dead_backend no-listener-v4 "http://192.0.2.11"
dead_report no-listener-v4 sp_pod_reset
dead_backend no-listener-v6 "http://[2001:db8:a::11]"
dead_report no-listener-v6 sp_pod_reset
# The two silent pods wait for several SYN retries: run both at once. Their
# counter deltas then include each other, so each must grow by both.
dead_backend no-synack-v4 "http://192.0.2.12" &
p1=$!
dead_backend no-synack-v6 "http://[2001:db8:a::12]" &
p2=$!
wait $p1 $p2
snap synack.1
d=$(jq -n --slurpfile a "$WORK/stats.no-synack-v4.0" --slurpfile b "$WORK/stats.synack.1" \
	'$b[0].sp_pod_timeout - $a[0].sp_pod_timeout')
for name in no-synack-v4 no-synack-v6; do
	read -r rc ms <"$WORK/$name.rc"
	if [[ $rc =~ ^(7|52|56)$ ]] && [ "$d" -ge 2 ]; then
		pass "e2e-http-$name (curl exit $rc after $ms ms: $(tr -d '\n' <"$WORK/$name.err"); sp_pod_timeout +$d for both)"
	else
		fail "e2e-http-$name" "curl exit $rc after $ms ms ($(tr -d '\n' <"$WORK/$name.err")), sp_pod_timeout +$d for both"
	fi
done

# Not HTTP/1.1: a TLS ClientHello and the HTTP/2 preface get a pod by the L4
# hash, and end as they end when sent to a pod directly (the pod's HTTP/1.1
# parser answers 400 and closes).
for fam in 4 6; do
	[ $fam = 4 ] && a=$VIP4 || a=$VIP6
	[ $fam = 4 ] && d=203.0.113.11 || d=2001:db8:b::11
	for kind in tls h2; do
		name=raw-$kind-v$fam
		snap "$name.0"
		via=$(client timeout 60 $PY "$E2E/clients.py" raw "$a" 80 $kind)
		snap "$name.1"
		direct=$(node timeout 60 $PY "$E2E/clients.py" raw "$d" 8000 $kind)
		fb=$(delta http_fallback_l4 "$name.0" "$name.1")
		if [ -n "$via" ] && [ "$via" = "$direct" ] && [ "$(jq -r .outcome <<<"$via")" != timeout ] &&
			[ "$fb" -ge 1 ]; then
			pass "e2e-http-$name (http_fallback_l4 +$fb; $(jq -r '"\(.outcome) after \(.received) bytes: \(.first_line)"' <<<"$via"), as direct)"
		else
			fail "e2e-http-$name" "via the VIP: ${via:-nothing}; direct: $direct; http_fallback_l4 +$fb"
		fi
	done
done
# curl's preface and SETTINGS race the pod's 400 and close: curl reports an
# empty reply (52) or, when the close came first, a send failure (55, 56),
# directly as through the VIP. Any of those is a clean end; 28 is a hang.
snap h2curl.0
client curl -sS -m 20 -o /dev/null --http2-prior-knowledge "http://$VIP4/v1/models" 2>"$WORK/h2.err"
rc=$?
snap h2curl.1
node curl -sS -m 20 -o /dev/null --http2-prior-knowledge "http://203.0.113.11:8000/v1/models" 2>/dev/null
rcd=$?
fb=$(delta http_fallback_l4 h2curl.0 h2curl.1)
if [[ $rc =~ ^(52|55|56)$ ]] && [ "$fb" -ge 1 ]; then
	pass "e2e-http-curl-http2-prior-knowledge (curl exit $rc, direct $rcd: $(tr -d '\n' <"$WORK/h2.err"); http_fallback_l4 +$fb)"
else
	fail e2e-http-curl-http2-prior-knowledge "curl exit $rc, direct $rcd: $(cat "$WORK/h2.err"); http_fallback_l4 +$fb"
fi
if command -v openssl >/dev/null; then
	client timeout 20 openssl s_client -connect $VIP4:80 -servername kvlb.test </dev/null \
		>"$WORK/ssl.out" 2>&1
	rc=$?
	# The pod's plain-text 400 is what s_client calls a wrong version number.
	if [ $rc -ne 124 ] && grep -q 'wrong version number' "$WORK/ssl.out"; then
		pass "e2e-http-openssl-s_client (exit $rc: the pod's HTTP answer came back)"
	else
		fail e2e-http-openssl-s_client "exit $rc: $(head -5 "$WORK/ssl.out")"
	fi
fi

# ---- 5. the digests, all together ---------------------------------------------
# Equal requests answered by one pod give one digest; any other pair of
# (request, pod) gives another: the comparison tells answers apart.
pairs=$(cut -d' ' -f1-2 "$WORK/digests" | sort -u | wc -l)
digests=$(cut -d' ' -f3 "$WORK/digests" | sort -u | wc -l)
pods_seen=$(cut -d' ' -f2 "$WORK/digests" | sort -u | tr '\n' ' ')
if [ $compared -gt 0 ] && [ $matched -eq $compared ] && [ "$pairs" -eq "$digests" ]; then
	pass "e2e-http-byte-exact ($matched of $compared answers equal to the pod's direct answer; $digests distinct digests for $pairs request-pod pairs; pods: $pods_seen)"
else
	fail e2e-http-byte-exact "$matched of $compared matched; $digests digests for $pairs request-pod pairs"
fi
# The same request to two different pods differs, so a wrong pod cannot match.
node curl -sS -m 10 -o "$WORK/ctl1" -H 'content-type: application/json' \
	--data-binary @"$WORK/small.json" http://203.0.113.11:8000/v1/chat/completions
node curl -sS -m 10 -o "$WORK/ctl2" -H 'content-type: application/json' \
	--data-binary @"$WORK/small.json" http://203.0.113.12:8000/v1/chat/completions
if [ -s "$WORK/ctl1" ] && [ "$(normalize "$WORK/ctl1" | sha256sum)" != "$(normalize "$WORK/ctl2" | sha256sum)" ]; then
	pass e2e-http-digest-tells-pods-apart
else
	fail e2e-http-digest-tells-pods-apart "pod1 and pod2 gave equal answers"
fi

# ---- 8. counters ----------------------------------------------------------------
snap end
ctl stats | grep -E '^(sp_|http_)' | sed 's/^/# /'
# Lower bounds from what this case sent: 8 curl, 1 SSE, 10 httpx requests
# on 2 connections, 120 turns, 2 slow and 1 padded, 4 dead-backend, 6
# non-HTTP; wrk's on top.
answered_conns=$((8 + 1 + 2 + 120 + 3))
counters_ok=1
want() {
	local name=$1 min=$2 v
	v=$(delta "$name" start end)
	if [ "$v" -ge "$min" ]; then
		printf ' %s=%s' "$name" "$v"
	else
		counters_ok=0
		printf ' %s=%s(<%s)' "$name" "$v" "$min"
	fi
}
figs=$(
	want sp_cookie_sent $((answered_conns + 10))
	want sp_cookie_ok $((answered_conns + 10))
	want sp_bound $((answered_conns + 10))
	want sp_replayed_bytes $((4 * 8192))
	want sp_xlate_c2s "$answered_conns"
	want sp_xlate_s2c "$answered_conns"
	want sp_pod_reset 2
	want sp_pod_timeout 2
	want http_prefix_hit 90
	want http_ring 30
	want http_fallback_l4 5
	echo " ok=$counters_ok"
)
if [[ $figs == *" ok=1" ]]; then
	pass "e2e-http-counters (${figs% ok=1} )"
else
	fail e2e-http-counters "${figs% ok=*}"
fi
# bpftool prints the counters by name (BTF), and their per-CPU sums equal
# kvlbctl's figures (sp_* and http_* stand still once the clients are done).
bpftool map dump pinned "$PIN/kvlb_stats" >"$WORK/bpftool.stats" 2>&1
named=1
for n in sp_cookie_sent sp_cookie_ok sp_bound sp_replayed_bytes sp_xlate_c2s sp_xlate_s2c \
	http_prefix_hit http_ring http_fallback_l4; do
	grep -q "\"$n\": [0-9]" "$WORK/bpftool.stats" || named=0
done
bpftool -j map dump pinned "$PIN/kvlb_stats" >"$WORK/bpftool.json"
snap after
differ=$(jq -r --slurpfile k "$WORK/stats.after" '
	[(.[0].formatted // .[0]).values[].value] as $cpus | $k[0] | to_entries[] |
	select(.key | test("^(sp_|http_)")) |
	select(([$cpus[][.key]] | add) != .value) | .key' "$WORK/bpftool.json" 2>&1)
if [ $named -eq 1 ] && [ -z "$differ" ]; then
	pass "e2e-http-bpftool-stats-by-name (sp_cookie_sent=$(jq '[(.[0].formatted // .[0]).values[].value.sp_cookie_sent] | add' "$WORK/bpftool.json") summed over CPUs, as kvlbctl)"
else
	fail e2e-http-bpftool-stats-by-name "names found: $named; differing from kvlbctl: ${differ:-none}"
fi

# ---- 9. drain -------------------------------------------------------------------
# Every connection ended with FIN both ways or a reset: kvlbd's sweep removes
# closed entries after 2 s, with their held bytes and reverse entries.
splice_left() { bpftool -j map dump pinned "$PIN/kvlb_splice" | jq length; }
hold_left() { bpftool -j map dump pinned "$PIN/kvlb_hold" | jq length; }
# reverse entries of delayed-binding connections (KVLB_NAT_F_SPLICE)
rev_left() {
	bpftool -j map dump pinned "$PIN/kvlb_nat_rev" |
		jq '[.[] | select((.formatted.value // .value).flags % 2 == 1)] | length'
}
drained() { [ "$(splice_left)" -eq 0 ] && [ "$(hold_left)" -eq 0 ] && [ "$(rev_left)" -eq 0 ]; }
# entries left, by state, with the age of their latest packet
left_states() {
	bpftool -j map dump pinned "$PIN/kvlb_splice" | jq -c --argjson now "$(($(cut -d' ' -f1 /proc/uptime | tr -d .) * 10))" '
		[.[] | (.formatted.value // .value)] | group_by(.state) |
		map({state: .[0].state, n: length, oldest_ms: (map($now - .last_ns / 1000000) | max | floor)})'
}
t0=$(ms_now)
# Closed entries go within the 2 s grace and the 1 s sweep period; what is
# still there after 4 s waited for another reason, worth seeing.
if ! wait_for 4 drained; then
	echo "# after 4 s: $(splice_left) kvlb_splice, $(hold_left) kvlb_hold, $(rev_left) kvlb_nat_rev entries; kvlb_splice by state: $(left_states)"
	wait_for 11 drained
fi
waited=$(($(ms_now) - t0))
sl=$(splice_left) hl=$(hold_left) rl=$(rev_left)
if [ "$sl" -eq 0 ] && [ "$hl" -eq 0 ]; then
	pass "e2e-http-drain (kvlb_splice and kvlb_hold empty $waited ms after the last client)"
else
	fail e2e-http-drain "after $waited ms, $sl kvlb_splice and $hl kvlb_hold entries remain; by state: $(left_states)"
fi
# Held bytes without a connection (the LRU evicted it) are freed by the
# sweep that finds them alone a second time, a walk later: a slot XDP has
# just written, a moment before its connection's entry, is not one of them.
hold_vsz=$(bpftool -j map show pinned "$PIN/kvlb_hold" | jq .bytes_value)
orphan_key="198 51 100 99 $(printf '0 %.0s' {1..12})192 0 2 20 $(printf '0 %.0s' {1..12})0x9c 0x40 0 80 6 2 0 0"
if bpftool map update pinned "$PIN/kvlb_hold" key $orphan_key value $(printf '0 %.0s' $(seq "$hold_vsz")); then
	t0=$(ms_now)
	orphan_gone() { ! bpftool map lookup pinned "$PIN/kvlb_hold" key $orphan_key >/dev/null 2>&1; }
	if wait_for 5 orphan_gone; then
		pass "e2e-http-sweep-orphan-hold (held bytes without a connection freed after $(($(ms_now) - t0)) ms)"
	else
		fail e2e-http-sweep-orphan-hold "a kvlb_hold entry without a connection still there after 5 s"
	fi
else
	fail e2e-http-sweep-orphan-hold "cannot write a kvlb_hold entry with bpftool"
fi

# A connection's reverse entry goes with it, whoever removes it.
if [ "$rl" -eq 0 ]; then
	pass "e2e-http-drain-nat-rev (no reverse entry of a delayed-binding connection left)"
else
	fail e2e-http-drain-nat-rev "after $waited ms, $rl reverse entries without a connection: $(bpftool -j map dump pinned "$PIN/kvlb_nat_rev" |
		jq -c '[.[] | select((.formatted.value // .value).flags % 2 == 1) | .formatted.key | {src, sport, dst, dport}]')"
fi

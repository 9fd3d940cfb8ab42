#!/usr/bin/env bash
# kvlbd's agent side, end to end, on a namespace topology: three emulated
# model servers (kvlb-emu: two vLLM, one SGLang) behind a VIP.
#  a) the figures kvlbd scrapes (kvlbctl load, kvlbctl hist) equal the
#     emulators' own /metrics;
#  b) a killed emulator is marked down within 1 s of the kill and new
#     connections through the VIP avoid it; restarted, it is marked up and
#     gets connections again;
#  c) a real Prometheus server scrapes kvlbd's /metrics and answers a query
#     for kvlb series through its HTTP API;
#  e) hostile /metrics answers (garbage, 9 MB, a 404) are scrape errors that
#     neither crash kvlbd nor mark the backend down; good lines among bad
#     ones are still read;
#  d) wrk runs through the VIP (one connection per request: Connection:
#     close) while kvlbd is killed with SIGKILL and restarted: no request
#     fails.
. "$(dirname "$0")/../lib.sh"
need_root agent-e2e
ensure_bpffs

T=agt$$
PIN=/sys/fs/bpf/kvlb-$T
WORK=$(mktemp -d /tmp/kvlb-$T.XXXX)
KVLBD=$KVLB_BUILD/kvlbd
KVLBCTL=$KVLB_BUILD/kvlbctl
EMU=$KVLB_BUILD/kvlb-emu
VIP=192.0.2.10:80
kvlbd_pid=
prom_pid=
wrk_pid=
declare -A emu_pid
load_pids=()

for b in "$KVLBD" "$KVLBCTL" "$EMU"; do
	[ -x "$b" ] || { fail agent-e2e-setup "$b is not built (run make)"; exit 1; }
done

cleanup() {
	local p
	for p in $kvlbd_pid $prom_pid $wrk_pid "${emu_pid[@]}" "${load_pids[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
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
# Background processes are disowned, so killing one prints no job notice;
# gone PID tells when it has exited (and been reaped).
gone() { ! kill -0 "$1" 2>/dev/null; }

# start_emu I FLAVOR: kvlb-emu in pod I. Few batch slots and a slow decode, so
# a handful of long requests gives stable, non-zero running/waiting figures.
start_emu() {
	local i=$1 flavor=$2
	ip netns exec "$T-pod$i" "$EMU" --listen "203.0.113.1$i:8000" --name "pod$i" \
		--flavor "$flavor" --max-batch 2 --decode-rate 5 >>"$WORK/emu$i.log" 2>&1 &
	emu_pid[$i]=$!
	disown
	wait_for 10 node curl -sf -o /dev/null "http://203.0.113.1$i:8000/health"
}

started() { [ "$(grep -c "running (pid $1)" "$WORK/kvlbd.log")" -eq 1 ]; }
start_kvlbd() {
	nsenter --net=/run/netns/$T-node "$KVLBD" --config "$WORK/kvlb.conf" --pin-root "$PIN" \
		--metrics-listen 127.0.0.1:9464 >>"$WORK/kvlbd.log" 2>&1 &
	kvlbd_pid=$!
	disown
	wait_for 10 started "$kvlbd_pid"
}

# Bad scraper and metrics options are usage errors, before anything is loaded.
opts_ok=1
for bad in "--scrape-interval 5" "--scrape-timeout 0" \
	"--scrape-failures 0" "--bytes-per-token abc" "--metrics-listen nowhere" \
	"--metrics-listen 127.0.0.1:0x50"; do
	# shellcheck disable=SC2086
	"$KVLBD" --config /dev/null --pin-root "$PIN" $bad >"$WORK/opt.out" 2>&1
	rc=$?
	if [ $rc -ne 2 ] || ! grep -q "^kvlbd: --" "$WORK/opt.out" || [ -e "$PIN" ]; then
		opts_ok=0
		echo "# kvlbd $bad: exit $rc: $(cat "$WORK/opt.out")"
	fi
done
check agent-bad-options-exit-2 [ $opts_ok -eq 1 ]

"$KVLB_TOP/scripts/topo.sh" up "$T" 4
start_emu 1 vllm && start_emu 2 vllm && start_emu 3 sglang ||
	{ fail agent-e2e-setup "kvlb-emu did not start: $(cat "$WORK"/emu*.log)"; exit 1; }
# Pod 4 serves files as /metrics answers, for e); absent files are 404s.
mkdir "$WORK/hostile"
ip netns exec "$T-pod4" python3 -m http.server -d "$WORK/hostile" --bind 203.0.113.14 8000 \
	>"$WORK/pod4.log" 2>&1 &
load_pids+=($!)
disown
wait_for 10 node curl -s -o /dev/null http://203.0.113.14:8000/ ||
	{ fail agent-e2e-setup "pod4's file server did not start"; exit 1; }

# Backend 1's kind is told by its metric names; 2 and 3 say theirs.
cat >"$WORK/kvlb.conf" <<CONF
uplink up0
pod-iface vp1 vp2 vp3
vip $VIP
backend 203.0.113.11:8000 metrics http://203.0.113.11:8000/metrics
backend 203.0.113.12:8000 metrics http://203.0.113.12:8000/metrics server vllm
backend 203.0.113.13:8000 metrics http://203.0.113.13:8000/metrics server sglang
vip 192.0.2.11:80
backend 203.0.113.14:8000 metrics http://203.0.113.14:8000/garbage
vip 192.0.2.12:80
backend 203.0.113.14:8000 metrics http://203.0.113.14:8000/huge server vllm
CONF
start_kvlbd || { fail agent-e2e-kvlbd "kvlbd did not start: $(cat "$WORK/kvlbd.log")"; exit 1; }
pass agent-e2e-kvlbd-start

# --- a) scraped figures equal the emulators' own --------------------------------
# Finished requests of known sizes on pod 1, for its prompt histogram: three of
# 100 tokens and two of 1000 (the emulator counts 4 bytes a token).
p100=$(printf 'x%.0s' $(seq 400))
p1000=$(printf 'y%.0s' $(seq 4000))
for p in "$p100" "$p100" "$p100" "$p1000" "$p1000"; do
	node curl -sf -o /dev/null http://203.0.113.11:8000/v1/completions \
		-H 'content-type: application/json' -d "{\"prompt\":\"$p\",\"max_tokens\":1}" ||
		fail agent-e2e-setup "a request to pod1 failed"
done
# Long requests that stay (3000 tokens at 5 a second): pod1 one (running 1),
# pod2 three (2 running, 1 waiting), pod3 two (running 2).
for spec in 1:1 2:3 3:2; do
	i=${spec%:*}
	for ((k = 0; k < ${spec#*:}; k++)); do
		node curl -s -N -o /dev/null http://203.0.113.1$i:8000/v1/completions \
			-H 'content-type: application/json' \
			-d "{\"prompt\":\"$p1000 $k\",\"max_tokens\":3000,\"stream\":true}" &
		load_pids+=($!)
		disown
	done
done

# emu_fig I: "running waiting kv" from pod I's /metrics, summed over series as
# kvlbd does (one series each here).
emu_fig() {
	node curl -sf "http://203.0.113.1$1:8000/metrics" | awk '
		/^(vllm:num_requests_running|sglang:num_running_reqs)[{ ]/ { r += $NF }
		/^(vllm:num_requests_waiting|sglang:num_queue_reqs)[{ ]/ { w += $NF }
		/^(vllm:kv_cache_usage_perc|sglang:token_usage)[{ ]/ { k = $NF }
		END { printf "%d %d %.6f\n", r, w, k }'
}
kvlb_fig() {
	ctl -j load | jq -r ".[] | select(.backend == \"203.0.113.1$1:8000\") |
		\"\(.running) \(.waiting) \(.kv_usage * 1000000 | round / 1000000)\""
}
# Equal, KV usage to the map's parts per million.
same_fig() {
	local e k
	e=$(emu_fig "$1") && k=$(kvlb_fig "$1") || return 1
	awk -v e="$e" -v k="$k" 'BEGIN { split(e, a); split(k, b);
		exit !(a[1] == b[1] && a[2] == b[2] && (a[3] - b[3])^2 < 1e-11) }'
}
want_busy() { [ "$(emu_fig 2 | cut -d' ' -f1-2)" = "2 1" ]; }
wait_for 10 want_busy || fail agent-e2e-setup "pod2 never showed 2 running, 1 waiting: $(emu_fig 2)"
for i in 1 2 3; do
	if wait_for 5 same_fig "$i"; then
		pass "agent-load-matches-emulator-pod$i (running waiting kv: $(kvlb_fig "$i"))"
	else
		fail "agent-load-matches-emulator-pod$i" "kvlbctl: $(kvlb_fig "$i"), emulator: $(emu_fig "$i")"
	fi
done
ctl load | sed 's/^/# /'
kvlb_score=$(ctl -j load | jq '.[] | select(.backend == "203.0.113.12:8000") | .load_score')
[ "${kvlb_score:-0}" -gt 0 ] && pass "agent-load-score-nonzero (pod2: $kvlb_score)" ||
	fail agent-load-score-nonzero "pod2's load score is '$kvlb_score'"

# The histogram: 5 prompts, the three of 100 tokens under 128.
hist_ok() {
	local h count
	count=$(node curl -sf http://203.0.113.11:8000/metrics |
		awk '/^vllm:request_prompt_tokens_count/ { print $NF + 0 }')
	h=$(ctl -j hist 203.0.113.11:8000) || return 1
	[ "$count" = 5 ] && [ "$(jq .total <<<"$h")" = 5 ] && [ "$(jq '.buckets[0].count' <<<"$h")" = 3 ]
}
if wait_for 5 hist_ok; then
	pass agent-hist-matches-emulator
else
	fail agent-hist-matches-emulator "$(ctl -j hist 203.0.113.11:8000)"
fi
ctl hist 203.0.113.11:8000 | sed 's/^/# /'
ctl hist 203.0.113.11:8000 | grep -q '█' && pass agent-hist-draws-bars ||
	fail agent-hist-draws-bars "no bars in: $(ctl hist 203.0.113.11:8000)"
bad=$(ctl -j hist 203.0.113.99:8000)
[ "$(jq -r .error <<<"$bad")" != null ] && pass agent-hist-unknown-backend-json-error ||
	fail agent-hist-unknown-backend-json-error "$bad"

# Keep-alive: kvlbd's scrapes of pod1 reuse one connection (the same local
# port) while at least five scrapes go by.
scrape_conn() {
	node ss -Htnp state established dst 203.0.113.11:8000 | awk '/"kvlbd"/ { print $3 }'
}
scrapes_of1() {
	node curl -sf http://127.0.0.1:9464/metrics |
		awk '/^kvlb_scrapes_total\{.*203.0.113.11:8000/ { print $NF }'
}
c1=$(scrape_conn)
s1=$(scrapes_of1)
more_scrapes() { [ "$(scrapes_of1)" -ge $((s1 + 5)) ]; }
wait_for 5 more_scrapes
c2=$(scrape_conn)
if [ -n "$c1" ] && [ "$(wc -l <<<"$c1")" -eq 1 ] && [ "$c1" = "$c2" ]; then
	pass "agent-scrapes-keep-alive (one connection, $c1, over $(($(scrapes_of1) - s1)) scrapes)"
else
	fail agent-scrapes-keep-alive "kvlbd's connections to pod1: before '$c1', after '$c2'"
fi

# --- b) a dead backend is marked down within 1 s, and back up -------------------
state_of() { ctl -j load | jq -r ".[] | select(.backend == \"203.0.113.1$1:8000\") | .state"; }
# fetch N OUT: N new connections through the VIP; one line per answer: the
# backend that answered (x-kvlb-backend) and the status.
fetch() {
	local k
	for ((k = 0; k < $1; k++)); do
		client curl -s -o /dev/null -m 5 -H 'Connection: close' \
			-w '%header{x-kvlb-backend} %{http_code}\n' "http://$VIP/health"
	done >"$2"
}

kill -9 "${emu_pid[2]}"
t0=$(ms_now)
down_ms=
while [ $(($(ms_now) - t0)) -le 1000 ]; do
	if [ "$(state_of 2)" = down ]; then
		down_ms=$(($(ms_now) - t0))
		break
	fi
	sleep 0.01
done
if [ -n "$down_ms" ]; then
	pass "agent-dead-backend-down-within-1s (marked down ${down_ms} ms after kill -9)"
else
	fail agent-dead-backend-down-within-1s "pod2 still '$(state_of 2)' 1 s after its kill"
fi
fetch 60 "$WORK/down.out"
if [ "$(grep -c ' 200$' "$WORK/down.out")" -eq 60 ] && ! grep -q '^pod2 ' "$WORK/down.out"; then
	pass "agent-down-backend-gets-no-new-connections ($(cut -d' ' -f1 "$WORK/down.out" | sort | uniq -c | xargs))"
else
	fail agent-down-backend-gets-no-new-connections "$(sort "$WORK/down.out" | uniq -c | xargs)"
fi

t0=$(ms_now)
wait_for 5 gone "${emu_pid[2]}"
start_emu 2 vllm || fail agent-e2e-setup "pod2's emulator did not restart"
is_up() { [ "$(state_of 2)" = up ]; }
if wait_for 5 is_up; then
	pass "agent-recovered-backend-up (marked up $(($(ms_now) - t0)) ms after restart began)"
else
	fail agent-recovered-backend-up "pod2 is '$(state_of 2)'"
fi
fetch 60 "$WORK/up.out"
if [ "$(grep -c ' 200$' "$WORK/up.out")" -eq 60 ] && grep -q '^pod2 ' "$WORK/up.out"; then
	pass "agent-recovered-backend-gets-connections ($(cut -d' ' -f1 "$WORK/up.out" | sort | uniq -c | xargs))"
else
	fail agent-recovered-backend-gets-connections "$(sort "$WORK/up.out" | uniq -c | xargs)"
fi
if grep -q 'backend 203.0.113.12:8000 of 192.0.2.10:80 is down (connection refused)' "$WORK/kvlbd.log"; then
	pass agent-logs-down-reason
else
	fail agent-logs-down-reason "no down line in the log: $(grep -i backend "$WORK/kvlbd.log" | tail -3)"
fi

# A backend that stops answering (stopped, its port still open) is marked down
# after the failures in a row (timeouts), and up when it answers again.
kill -STOP "${emu_pid[3]}"
t0=$(ms_now)
down_ms=
while [ $(($(ms_now) - t0)) -le 1000 ]; do
	if [ "$(state_of 3)" = down ]; then
		down_ms=$(($(ms_now) - t0))
		break
	fi
	sleep 0.01
done
kill -CONT "${emu_pid[3]}"
if [ -n "$down_ms" ]; then
	pass "agent-silent-backend-down-within-1s (marked down ${down_ms} ms after SIGSTOP)"
else
	fail agent-silent-backend-down-within-1s "pod3 still '$(state_of 3)' 1 s after SIGSTOP"
fi
is_up3() { [ "$(state_of 3)" = up ]; }
wait_for 5 is_up3 && pass agent-silent-backend-up-again ||
	fail agent-silent-backend-up-again "pod3 is '$(state_of 3)' after SIGCONT"

# SIGHUP with a config that drops pod3's metrics URL stops its scrapes (its
# figures age) and keeps the others'; pod3 is down (stopped) at the time, and
# a backend kvlbd no longer checks must not stay down on its word. The
# original config brings the scrapes back.
age_of() { ctl -j load | jq ".[] | select(.backend == \"203.0.113.1$1:8000\") | .age_s"; }
scraping() { grep -c "scraping $1 backends" "$WORK/kvlbd.log"; }
kill -STOP "${emu_pid[3]}"
is_down3() { [ "$(state_of 3)" = down ]; }
wait_for 5 is_down3 || fail agent-sighup-drops-scrape-target "stopped pod3 not marked down"
n2=$(scraping 4)
cp "$WORK/kvlb.conf" "$WORK/kvlb.conf.orig"
sed -i 's|^backend 203.0.113.13:8000 .*|backend 203.0.113.13:8000|' "$WORK/kvlb.conf"
kill -HUP "$kvlbd_pid"
reloaded() { [ "$(scraping 4)" -gt "$n2" ]; }
stale3() { awk -v a="$(age_of 3)" -v b="$(age_of 1)" 'BEGIN { exit !(a > 0.5 && b >= 0 && b < 0.5) }'; }
if wait_for 5 reloaded && wait_for 5 stale3 && [ "$(state_of 3)" = up ]; then
	pass "agent-sighup-drops-scrape-target (pod3 up again, its figures $(age_of 3) s old, pod1's $(age_of 1) s)"
else
	fail agent-sighup-drops-scrape-target "pod3 $(state_of 3), ages: pod3 $(age_of 3), pod1 $(age_of 1); $(tail -3 "$WORK/kvlbd.log")"
fi
kill -CONT "${emu_pid[3]}"
n3=$(scraping 5)
cp "$WORK/kvlb.conf.orig" "$WORK/kvlb.conf"
kill -HUP "$kvlbd_pid"
back3() { [ "$(scraping 5)" -gt "$n3" ] && awk -v a="$(age_of 3)" 'BEGIN { exit !(a >= 0 && a < 0.5) }'; }
wait_for 5 back3 && pass agent-sighup-adds-scrape-target ||
	fail agent-sighup-adds-scrape-target "pod3's figures are $(age_of 3) s old"

# --- e) hostile answers -----------------------------------------------------------
# hrow VIP: pod4's row in kvlbctl load under that VIP.
hrow() { ctl -j load "$1" | jq -c '.[0] | {state, running, waiting, age_s}'; }
fails_of() {
	node curl -sf http://127.0.0.1:9464/metrics |
		awk -v v="$1" 'index($0, "kvlb_scrape_failures_total{vip=\"" v "\"") == 1 { print $NF }'
}
logged() { grep -qF "$1" "$WORK/kvlbd.log"; }
python3 - "$WORK/hostile" <<'PY'
import os, sys
d = sys.argv[1]
bad = [b"\x00\xff\xfe garbage", b"m{a=\"unterminated} 1", b"m{" + b"l=\"v\"," * 40 + b"} 1",
       b"vllm:num_requests_running{a=\"\\\"\"} NaN", b"{} 1", b"# TYPE"]
with open(os.path.join(d, "garbage.tmp"), "wb") as f:
    f.write(b"x" * 70000 + b" 1\n")  # over the parser's line limit
    for i in range(600):
        f.write(bad[i % len(bad)] + b"\n")
with open(os.path.join(d, "huge.tmp"), "wb") as f:
    line = b'vllm:num_requests_running{engine="0",model_name="m"} 1\n'
    f.write(line * (9 * 1024 * 1024 // len(line) + 1))
PY
mv "$WORK/hostile/garbage.tmp" "$WORK/hostile/garbage"
mv "$WORK/hostile/huge.tmp" "$WORK/hostile/huge"
if wait_for 10 logged "scraping http://203.0.113.14:8000/garbage: no running/waiting gauges" &&
	wait_for 10 logged "scraping http://203.0.113.14:8000/huge: body over the size limit"; then
	pass agent-hostile-answers-logged
else
	fail agent-hostile-answers-logged "$(grep 203.0.113.14 "$WORK/kvlbd.log" | tail -4)"
fi
rm -f "$WORK/hostile/huge" # 8 MB ten times a second is enough of a test
# (Only the garbage: a 9 MB answer may also take longer than the scrape
# timeout, which does count against the backend's health.)
three_fails() { [ "$(fails_of 192.0.2.11:80)" -ge 3 ]; }
if wait_for 5 three_fails && kill -0 "$kvlbd_pid" && [ "$(hrow 192.0.2.11:80 | jq -r .state)" = up ]; then
	pass "agent-garbage-answers-not-down (failed scrapes: $(fails_of 192.0.2.11:80))"
else
	fail agent-garbage-answers-not-down "$(hrow 192.0.2.11:80), failures $(fails_of 192.0.2.11:80)"
fi
# The recorded vLLM body with the garbage lines between its own: read all the same.
{ cat "$WORK/hostile/garbage" "$KVLB_TOP/tests/prom/samples/vllm.txt" "$WORK/hostile/garbage"; } \
	>"$WORK/hostile/mixed.tmp"
mv "$WORK/hostile/mixed.tmp" "$WORK/hostile/garbage"
read_mixed() { [ "$(hrow 192.0.2.11:80 | jq -c '[.running, .waiting]')" = "[17,4]" ]; }
if wait_for 5 read_mixed; then
	pass "agent-good-lines-among-garbage-read ($(hrow 192.0.2.11:80))"
else
	fail agent-good-lines-among-garbage-read "$(hrow 192.0.2.11:80)"
fi
rm -f "$WORK/hostile/garbage"
# Pod 4 serves two VIPs: 'hist' needs --vip (or the id) to know which.
amb=$(ctl -j hist 203.0.113.14:8000)
id4=$(ctl -j load 192.0.2.11:80 | jq '.[0].id')
if jq -e '.error | test("--vip")' <<<"$amb" >/dev/null &&
	[ "$(ctl -j hist 203.0.113.14:8000 --vip 192.0.2.11:80 | jq .id)" = "$id4" ] &&
	[ "$(ctl -j hist "$id4" | jq -r .vip)" = 192.0.2.11:80 ]; then
	pass agent-hist-backend-of-two-vips
else
	fail agent-hist-backend-of-two-vips "$amb; id $id4: $(ctl -j hist "$id4")"
fi

# --- c) Prometheus scrapes kvlbd ------------------------------------------------
node curl -sf http://127.0.0.1:9464/metrics >"$WORK/own.metrics" ||
	fail agent-own-metrics "kvlbd's /metrics did not answer"
code() { node curl -s -o /dev/null -w '%{http_code}' "$@"; }
if [ "$(code http://127.0.0.1:9464/nope)" = 404 ] &&
	[ "$(code -X POST -d x http://127.0.0.1:9464/metrics)" = 405 ] &&
	[ "$(code -I http://127.0.0.1:9464/metrics)" = 200 ]; then
	pass agent-own-metrics-http-errors
else
	fail agent-own-metrics-http-errors "other path: $(code http://127.0.0.1:9464/nope), POST: $(code -X POST http://127.0.0.1:9464/metrics)"
fi
if promtool check metrics <"$WORK/own.metrics" >"$WORK/promtool.out" 2>&1; then
	pass agent-own-metrics-promtool-clean
else
	fail agent-own-metrics-promtool-clean "$(head -5 "$WORK/promtool.out")"
fi
if ! command -v prometheus >/dev/null; then
	skip agent-prometheus-query "prometheus is not installed (scripts/deps.sh)"
else
	cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: kvlbd
    static_configs:
      - targets: ['127.0.0.1:9464']
YML
	# Its own namespace's loopback: port 9090 cannot be taken by anything else.
	node prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
		--web.listen-address=127.0.0.1:9090 >"$WORK/prometheus.log" 2>&1 &
	prom_pid=$!
	disown
	query() {
		node curl -sf -G http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$1"
	}
	has_sample() {
		query "$1" | jq -e '.status == "success" and (.data.result | length) > 0' >/dev/null
	}
	got_rx() {
		rx=$(query kvlb_xdp_rx_total | jq -er '.data.result[0].value[1]') && [ "${rx%.*}" -gt 0 ]
	}
	if wait_for 60 got_rx; then
		pass "agent-prometheus-query (kvlb_xdp_rx_total = $rx through Prometheus's API)"
	else
		fail agent-prometheus-query "no kvlb_xdp_rx_total sample: $(query kvlb_xdp_rx_total) $(tail -3 "$WORK/prometheus.log")"
	fi
	if wait_for 10 has_sample 'kvlb_backend_up{backend="203.0.113.12:8000"} == 1'; then
		pass agent-prometheus-backend-up-series
	else
		fail agent-prometheus-backend-up-series "$(query kvlb_backend_up)"
	fi
	kill "$prom_pid" 2>/dev/null
	wait_for 10 gone "$prom_pid"
	prom_pid=
fi

# --- d) wrk through kvlbd's SIGKILL and restart ---------------------------------
if ! command -v wrk >/dev/null; then
	skip agent-wrk-kill9 "wrk is not installed (scripts/deps.sh)"
	exit 0
fi
new_flows() { ctl -j stats | jq .xdp_new_flow; }
grown() { [ "$(new_flows)" -ge "$1" ]; }
base=$(new_flows)
client wrk -t2 -c8 -d12s -H 'Connection: close' "http://$VIP/health" >"$WORK/wrk.out" 2>&1 &
wrk_pid=$!
wait_for 10 grown $((base + 300)) || fail agent-wrk-kill9 "wrk made no connections"
kill -9 "$kvlbd_pid"
wait_for 5 gone "$kvlbd_pid"
at_kill=$(new_flows)
wait_for 10 grown $((at_kill + 300)) || fail agent-wrk-kill9 "no connections while kvlbd was down"
at_restart=$(new_flows)
start_kvlbd || fail agent-wrk-kill9 "kvlbd did not restart: $(tail -5 "$WORK/kvlbd.log")"
restarted_during_wrk=0
kill -0 "$wrk_pid" 2>/dev/null && restarted_during_wrk=1
wait "$wrk_pid"
wrk_rc=$?
wrk_pid=
sed 's/^/# /' "$WORK/wrk.out"
requests=$(awk '/ requests in / { print $1 }' "$WORK/wrk.out")
# wrk prints these lines only when there is something to report.
sock_err=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$WORK/wrk.out")
non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$WORK/wrk.out")
after=$(($(new_flows) - at_restart))
if [ "$wrk_rc" -eq 0 ] && [ "${requests:-0}" -gt 0 ] && [ "${sock_err:-0}" -eq 0 ] &&
	[ "${non2xx:-0}" -eq 0 ] && [ $restarted_during_wrk -eq 1 ] && [ $after -gt 0 ]; then
	pass "agent-wrk-kill9-restart-no-error ($requests requests, 0 errors; connections: $((at_kill - base)) before SIGKILL, $((at_restart - at_kill)) while down, $after after restart)"
else
	fail agent-wrk-kill9-restart-no-error "rc $wrk_rc, requests '$requests', socket errors '${sock_err:-0}', non-2xx '${non2xx:-0}', restarted during the run: $restarted_during_wrk, connections after restart: $after"
fi
# The restarted agent scrapes again.
fresh() { [ "$(ctl -j load "$VIP" | jq '[.[] | select(.age_s >= 0 and .age_s < 1)] | length')" -eq 3 ]; }
wait_for 5 fresh && pass agent-restart-scrapes-again ||
	fail agent-restart-scrapes-again "$(ctl load)"

# SIGTERM: the scraper and the /metrics server stop, kvlbd exits cleanly.
kill -TERM "$kvlbd_pid"
if wait_for 10 gone "$kvlbd_pid" && logged "SIGTERM: exiting" &&
	! grep -qE 'Sanitizer|runtime error|ERROR' "$WORK/kvlbd.log"; then
	pass agent-sigterm-clean-exit
else
	fail agent-sigterm-clean-exit "$(tail -5 "$WORK/kvlbd.log")"
fi
kvlbd_pid=
[ -z "$KVLB_FAILED" ]

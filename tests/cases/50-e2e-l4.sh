#!/usr/bin/env bash
# End to end, L4 balancing through the VIP on a namespace topology:
# a client, the node running kvlbd, three pods serving HTTP.
#  - 1,200 IPv4 and 300 IPv6 connections, every answer checked, spread
#    close to the weights 1:2:3;
#  - a backend drained while slow downloads run: its downloads finish intact,
#    new connections avoid it;
#  - kvlbd killed with SIGKILL and restarted while requests flow: none fails,
#    and the restarted agent adopts the pinned flows and drain state.
. "$(dirname "$0")/../lib.sh"
need_root e2e-l4
ensure_bpffs

T=l4e$$
PIN=/sys/fs/bpf/kvlb-$T
WORK=$(mktemp -d /tmp/kvlb-$T.XXXX)
KVLBD=$KVLB_BUILD/kvlbd
KVLBCTL=$KVLB_BUILD/kvlbctl
VIP=192.0.2.10:80
VIP6='[2001:db8:a::10]:80'
kvlbd_pid=

cleanup() {
	[ -n "$kvlbd_pid" ] && kill -9 "$kvlbd_pid" 2>/dev/null
	"$KVLB_TOP/scripts/topo.sh" down "$T"
	"$KVLBD" --cleanup --pin-root "$PIN" >/dev/null 2>&1
	[ -n "${KVLB_KEEP:-}" ] && cp -r "$WORK" /tmp/kvlb-kept; rm -rf "$WORK" "$PIN"
}
trap cleanup EXIT

client() { ip netns exec "$T-client" "$@"; }
ctl() { "$KVLBCTL" --pin-root "$PIN" "$@"; }

started() { [ "$(grep -c "running (pid $1)" "$WORK/kvlbd.log")" -eq 1 ]; }
start_kvlbd() {
	nsenter --net=/run/netns/$T-node "$KVLBD" --config "$WORK/kvlb.conf" --pin-root "$PIN" \
		>>"$WORK/kvlbd.log" 2>&1 &
	kvlbd_pid=$!
	wait_for 10 started "$kvlbd_pid"
}

"$KVLB_TOP/scripts/topo.sh" up "$T" 3

# Each pod serves its name, and a 512 KiB file whose bytes name the pod too.
for i in 1 2 3; do
	mkdir -p "$WORK/www$i"
	printf 'pod%d' "$i" >"$WORK/www$i/index.html"
	{ for _ in $(seq 1 8192); do printf 'pod%d %058d\n' "$i" 0; done; } >"$WORK/www$i/big"
	sha256sum <"$WORK/www$i/big" | cut -d' ' -f1 >"$WORK/big$i.sha"
	ip netns exec "$T-pod$i" /usr/bin/python3 -m http.server -d "$WORK/www$i" --bind :: 8080 \
		>/dev/null 2>&1 &
done
for i in 1 2 3; do
	wait_for 10 ip netns exec "$T-pod$i" curl -sf -o /dev/null http://127.0.0.1:8080/ ||
		{ fail e2e-l4-setup "pod$i's HTTP server did not start"; exit 1; }
done

cat >"$WORK/kvlb.conf" <<CONF
uplink up0
pod-iface vp1 vp2 vp3
vip $VIP
backend 203.0.113.11:8080 weight 1
backend 203.0.113.12:8080 weight 2
backend 203.0.113.13:8080 weight 3
vip $VIP6
backend [2001:db8:b::11]:8080
backend [2001:db8:b::12]:8080
backend [2001:db8:b::13]:8080
CONF
start_kvlbd || { fail e2e-l4-kvlbd "kvlbd did not start: $(cat "$WORK/kvlbd.log")"; exit 1; }
pass e2e-l4-kvlbd-start

# fetch N URL OUT: N new connections (Connection: close), one line per answer:
# "<body> <http code>". Bodies go to files of their own: parallel transfers
# sharing stdout would interleave.
fetch() {
	local n=$1 url=$2 out=$3 dir
	dir=$(mktemp -d "$WORK/fetch.XXXX")
	for ((k = 0; k < n; k++)); do printf 'url = "%s"\noutput = "%s/%d"\n' "$url" "$dir" "$k"; done \
		>"$dir.cfg"
	client curl -s -Z --parallel-max 16 -H 'Connection: close' -m 10 \
		-w '%{http_code} %{filename_effective}\n' -K "$dir.cfg" 2>/dev/null |
		awk '{ body = "-"; getline body < $2; close($2); print body, $1 }' >"$out"
	rm -rf "$dir" "$dir.cfg"
}

# answers_ok FILE N: N lines, each "podX 200".
answers_ok() {
	local total good
	total=$(grep -c . "$1")
	good=$(grep -cE '^pod[1-3] 200$' "$1")
	[ "$total" -eq "$2" ] && [ "$good" -eq "$2" ]
}

# --- 1,200 IPv4 connections, weights 1:2:3 ---------------------------------
fetch 1200 "http://$VIP/" "$WORK/v4.out"
if answers_ok "$WORK/v4.out" 1200; then
	pass e2e-l4-ipv4-1200-answers
else
	fail e2e-l4-ipv4-1200-answers "$(grep -cE '^pod[1-3] 200$' "$WORK/v4.out") of 1200 correct"
fi
ok=1
for i in 1 2 3; do
	got=$(grep -c "^pod$i " "$WORK/v4.out")
	want=$((1200 * i / 6))
	# Within 5 points of share (about 3.5 standard deviations at n=1200).
	[ $((got - want)) -le 60 ] && [ $((want - got)) -le 60 ] || ok=0
	shares="$shares pod$i=$got/$want"
done
[ $ok -eq 1 ] && pass "e2e-l4-weights ($shares)" || fail e2e-l4-weights "shares off:$shares"

# --- a client reaching a pod directly on a port it used through the VIP ------
# Replies of the direct connection must not be rewritten by the reverse entry
# the VIP connection left in the LRU.
client ip route add 203.0.113.0/24 via 198.51.100.1
# No TIME_WAIT sockets in the way of reusing the tuple at once.
for ns in "$T-client" "$T-pod1" "$T-pod2" "$T-pod3"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_max_tw_buckets=0
done
reuse_ok=0
for port in $(seq 40001 40010); do
	via=$(client curl -s -m 5 --local-port "$port" -H 'Connection: close' "http://$VIP/")
	pod=${via#pod}
	[[ $pod =~ ^[1-3]$ ]] || continue
	direct=$(client curl -s -m 5 --local-port "$port" -H 'Connection: close' \
		"http://203.0.113.1$pod:8080/")
	[ "$direct" = "$via" ] && reuse_ok=$((reuse_ok + 1))
done
[ $reuse_ok -eq 10 ] && pass e2e-l4-direct-connection-reusing-a-balanced-tuple ||
	fail e2e-l4-direct-connection-reusing-a-balanced-tuple "$reuse_ok of 10 direct answers"
client ip route del 203.0.113.0/24 via 198.51.100.1

# --- IPv6 --------------------------------------------------------------------
fetch 300 "http://$VIP6/" "$WORK/v6.out"
if answers_ok "$WORK/v6.out" 300 && [ "$(cut -d' ' -f1 "$WORK/v6.out" | sort -u | wc -l)" -eq 3 ]; then
	pass e2e-l4-ipv6-300-answers
else
	fail e2e-l4-ipv6-300-answers "$(grep -cE '^pod[1-3] 200$' "$WORK/v6.out") of 300 correct"
fi

# --- drain while downloads run ----------------------------------------------
bpftool -j map dump pinned "$PIN/kvlb_flows" | jq '[.[].key]' >"$WORK/flows.before"
for j in $(seq 1 10); do
	client curl -s --limit-rate 200k -H 'Connection: close' -m 30 "http://$VIP/big" \
		-o "$WORK/dl$j" &
	dl_pids+=($!)
done
# Backend ids of the flows the downloads opened (keys new since the snapshot).
download_backends() {
	bpftool -j map dump pinned "$PIN/kvlb_flows" >"$WORK/flows.now"
	jq -r --slurpfile old "$WORK/flows.before" \
		'.[] | select(.key as $k | $old[0] | index([$k]) | not) |
		 (.formatted.value // .value).backend_id' "$WORK/flows.now"
}
ten_flows() { [ "$(download_backends | wc -l)" -ge 10 ]; }
wait_for 10 ten_flows
# Drain the backend holding the most downloads.
victim_id=$(download_backends | sort | uniq -c | sort -rn | awk 'NR==1 {print $2}')
victim=
for i in 1 2 3; do
	id=$(ctl -j backend list | jq ".[] | select(.backend == \"203.0.113.1$i:8080\") | .id")
	[ "$id" = "$victim_id" ] && victim=$i
done
if [ -z "$victim" ]; then
	fail e2e-l4-drain "no open flow found on any backend"
else
	ctl backend drain "$VIP" "203.0.113.1$victim:8080"
	fetch 300 "http://$VIP/" "$WORK/drained.out"
	if answers_ok "$WORK/drained.out" 300 && ! grep -q "^pod$victim " "$WORK/drained.out"; then
		pass "e2e-l4-drain-new-connections-avoid-pod$victim"
	else
		fail e2e-l4-drain-new "$(grep -c "^pod$victim " "$WORK/drained.out") new answers from drained pod$victim"
	fi
	for p in "${dl_pids[@]}"; do wait "$p"; done
	intact=0 on_victim=0
	for j in $(seq 1 10); do
		s=$(sha256sum <"$WORK/dl$j" | cut -d' ' -f1)
		for i in 1 2 3; do
			if [ "$s" = "$(cat "$WORK/big$i.sha")" ]; then
				intact=$((intact + 1))
				[ "$i" = "$victim" ] && on_victim=$((on_victim + 1))
			fi
		done
	done
	if [ $intact -eq 10 ] && [ $on_victim -ge 1 ]; then
		pass "e2e-l4-drain-open-downloads-finish ($on_victim of 10 on pod$victim, all intact)"
	else
		fail e2e-l4-drain-open "$intact of 10 downloads intact, $on_victim on drained pod$victim"
	fi
fi

# --- kill -9 and restart while requests flow ---------------------------------
flows_before=$(bpftool -j map dump pinned "$PIN/kvlb_flows" | jq length)
# Batches of requests run until told to stop, so traffic flows before, during
# and after the agent's absence whatever the machine's speed.
(
	while [ ! -e "$WORK/stop" ]; do
		fetch 25 "http://$VIP/" "$WORK/batch" || true
		cat "$WORK/batch" >>"$WORK/kill.out"
	done
) &
load=$!
answered() { grep -c . "$WORK/kill.out" 2>/dev/null || echo 0; }
grown() { [ "$(answered)" -ge "$1" ]; }
wait_for 20 grown 200
kill -9 "$kvlbd_pid"
wait "$kvlbd_pid" 2>/dev/null
at_kill=$(answered)
wait_for 20 grown $((at_kill + 200))
at_restart=$(answered)
start_kvlbd || fail e2e-l4-restart "kvlbd did not restart: $(tail -5 "$WORK/kvlbd.log")"
wait_for 20 grown $((at_restart + 200))
touch "$WORK/stop"
wait "$load"
total=$(answered)
if [ "$total" -ge $((at_restart + 200)) ] && answers_ok "$WORK/kill.out" "$total"; then
	pass "e2e-l4-kill9-restart-no-failed-request ($total ok: $at_kill before SIGKILL, $((at_restart - at_kill)) while down, $((total - at_restart)) after restart)"
else
	fail e2e-l4-kill9-restart "$(grep -cE '^pod[1-3] 200$' "$WORK/kill.out") of $total correct"
fi
if grep -q 'adopted pinned maps' "$WORK/kvlbd.log"; then
	pass e2e-l4-restart-adopts-pins
else
	fail e2e-l4-restart-adopts-pins "restarted kvlbd did not adopt the pinned maps"
fi
if [ -n "$victim" ]; then
	fl=$(ctl -j backend list | jq -r ".[] | select(.id == $victim_id) | .draining")
	[ "$fl" = "true" ] && pass e2e-l4-restart-keeps-drain ||
		fail e2e-l4-restart-keeps-drain "drain flag of pod$victim lost (draining=$fl)"
fi
[ "$flows_before" -gt 0 ] && pass "e2e-l4-flow-table-used ($flows_before flows)" ||
	fail e2e-l4-flow-table-used "no flow entries"

# --- SIGTERM exits cleanly, the data path stays ------------------------------
kill -TERM "$kvlbd_pid"
if wait "$kvlbd_pid"; then pass e2e-l4-sigterm-exit-0; else fail e2e-l4-sigterm-exit-0 "exit $?"; fi
kvlbd_pid=
fetch 30 "http://$VIP/" "$WORK/after.out"
answers_ok "$WORK/after.out" 30 && pass e2e-l4-datapath-outlives-agent ||
	fail e2e-l4-datapath-outlives-agent "requests failed after kvlbd exited"

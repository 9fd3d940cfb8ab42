#!/usr/bin/env bash
# kvlbd and its configuration: --check, a rejected config at start, SIGHUP
# reloads that apply a good file and reject a bad one without touching the
# running state, and --cleanup.
. "$(dirname "$0")/../lib.sh"
need_root kvlbd-config
ensure_bpffs

T=cfg$$
PIN=/sys/fs/bpf/kvlb-$T
WORK=$(mktemp -d /tmp/kvlb-$T.XXXX)
KVLBD=$KVLB_BUILD/kvlbd
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	"$KVLB_TOP/scripts/topo.sh" down "$T"
	"$KVLBD" --cleanup --pin-root "$PIN" >/dev/null 2>&1
	rm -rf "$WORK" "$PIN"
}
trap cleanup EXIT
ctl() { "$KVLB_BUILD/kvlbctl" --pin-root "$PIN" "$@"; }
backends() { ctl -j backend list | jq -r '[.[].backend] | sort | join(",")'; }
# VIPs on a TCP port as the data path's first filter counts them: every VIP
# in the low 16 bits, the HTTP VIPs in the high 16.
port_vips() {
	bpftool -j map lookup pinned "$PIN/kvlb_vip_ports" key $(($1 & 255)) $(($1 >> 8)) 0 0 |
		jq -r '(.formatted.value // .value) |
			if type == "array" then (map(tonumber) | .[0] + 256 * .[1] + 65536 * .[2] + 16777216 * .[3]) else . end'
}
port80() { port_vips 80; }

"$KVLB_TOP/scripts/topo.sh" up "$T" 2

cat >"$WORK/good.conf" <<'CONF'
uplink up0
pod-iface vp1
vip 192.0.2.10:80
backend 203.0.113.11:8080
backend 203.0.113.12:8080 weight 2
CONF
printf 'uplink up0\nvip 192.0.2.10:80\nbackend 203.0.113.11:8080 weight many\n' >"$WORK/bad.conf"

# --check
out=$("$KVLBD" --check --config "$WORK/good.conf" 2>&1)
[[ $out == *"OK (1 VIPs, 2 backends)"* ]] && pass kvlbd-check-good || fail kvlbd-check-good "$out"
out=$("$KVLBD" --check --config "$WORK/bad.conf" 2>&1); rc=$?
if [ $rc -eq 2 ] && [[ $out == *"bad.conf:3: backend: weight must be 1..65535, not 'many'"* ]]; then
	pass kvlbd-check-bad-names-line-and-reason
else
	fail kvlbd-check-bad-names-line-and-reason "rc=$rc: $out"
fi
out=$("$KVLBD" --bogus 2>&1); rc=$?
[ $rc -eq 2 ] && [[ $out == *"--help"* ]] && pass kvlbd-bad-option || fail kvlbd-bad-option "rc=$rc: $out"
"$KVLBD" --help | grep -q 'SIGHUP' && pass kvlbd-help || fail kvlbd-help "no help text"

# A bad config at start: nothing loaded, nothing pinned.
nsenter --net=/run/netns/$T-node "$KVLBD" --config "$WORK/bad.conf" --pin-root "$PIN" \
	>"$WORK/bad.log" 2>&1; rc=$?
if [ $rc -eq 2 ] && [ ! -e "$PIN/kvlb_flows" ]; then
	pass kvlbd-bad-config-at-start-refused
else
	fail kvlbd-bad-config-at-start-refused "rc=$rc, pins: $(ls "$PIN" 2>&1)"
fi

cp "$WORK/good.conf" "$WORK/kvlb.conf"
nsenter --net=/run/netns/$T-node "$KVLBD" --config "$WORK/kvlb.conf" --pin-root "$PIN" \
	>"$WORK/kvlbd.log" 2>&1 &
pid=$!
applied() { [ "$(grep -c 'config applied' "$WORK/kvlbd.log")" -ge "$1" ]; }
rejected() { [ "$(grep -c 'config rejected' "$WORK/kvlbd.log")" -ge "$1" ]; }
wait_for 10 applied 1 || { fail kvlbd-start "$(cat "$WORK/kvlbd.log")"; exit 1; }
[ "$(backends)" = "203.0.113.11:8080,203.0.113.12:8080" ] && pass kvlbd-start-applies-config ||
	fail kvlbd-start-applies-config "backends: $(backends)"
[ "$(port80)" = 1 ] && pass kvlbd-vip-port-open || fail kvlbd-vip-port-open "kvlb_vip_ports[80] = $(port80)"
tc_on() { [[ $(ip netns exec "$T-node" tc filter show dev "$1" ingress) == *kvlb_tc* ]]; }
tc_on vp1 && ! tc_on vp2 && pass kvlbd-tc-on-configured-pod-links ||
	fail kvlbd-tc-on-configured-pod-links "vp1: $(tc_on vp1 && echo yes), vp2: $(tc_on vp2 && echo yes)"
health=$(ip netns exec "$T-node" curl -s -m 5 -w ' %{http_code}' http://127.0.0.1:9464/healthz)
[ "$health" = "ok
 200" ] && pass kvlbd-healthz || fail kvlbd-healthz "got '$health'"

# SIGHUP with a changed file: a backend swapped, weight changed.
cat >"$WORK/kvlb.conf" <<'CONF'
uplink up0
pod-iface vp1 vp2
vip 192.0.2.10:80
backend 203.0.113.12:8080 weight 5
backend 203.0.113.13:8080
vip [2001:db8:a::10]:80
backend [2001:db8:b::11]:8080
CONF
cp "$WORK/kvlb.conf" "$WORK/two.conf"
kill -HUP $pid
wait_for 10 applied 2
# A pod link that appeared in the config gets the TC program on reload.
wait_for 10 tc_on vp2 && pass kvlbd-sighup-attaches-new-pod-links ||
	fail kvlbd-sighup-attaches-new-pod-links "no kvlb_tc on vp2 after SIGHUP"
got=$(ctl -j backend list | jq -r '[.[] | "\(.backend)/\(.weight)"] | sort | join(",")')
want='203.0.113.12:8080/5,203.0.113.13:8080/1,[2001:db8:b::11]:8080/1'
[ "$got" = "$want" ] && pass kvlbd-sighup-reload || fail kvlbd-sighup-reload "got $got"

[ "$(port80)" = 2 ] && pass kvlbd-vip-ports-count-both-families ||
	fail kvlbd-vip-ports-count-both-families "kvlb_vip_ports[80] = $(port80), want 2"

# HTTP VIPs are counted apart (XDP asks the splice table first on a port of
# HTTP VIPs only); deleting one takes it off both counts.
ctl vip add 192.0.2.11:8081 mode http && ctl vip add 192.0.2.12:8081 mode http &&
	ctl vip add 192.0.2.13:8081
c3=$(port_vips 8081)
ctl vip del 192.0.2.13:8081
c2=$(port_vips 8081)
ctl vip del 192.0.2.11:8081 && ctl vip del 192.0.2.12:8081
c0=$(port_vips 8081)
[ "$c3" = $((3 + 2 * 65536)) ] && [ "$c2" = $((2 + 2 * 65536)) ] && [ "$c0" = 0 ] &&
	pass kvlbd-vip-ports-count-http-vips ||
	fail kvlbd-vip-ports-count-http-vips "kvlb_vip_ports[8081]: $c3, $c2, $c0; want 196611, 131074, 0"

# SIGHUP with a broken file: rejected with line and reason, state untouched.
before=$(ctl -j backend list; ctl -j vip list)
cp "$WORK/bad.conf" "$WORK/kvlb.conf"
kill -HUP $pid
wait_for 10 rejected 1
after=$(ctl -j backend list; ctl -j vip list)
if grep -q "kvlb.conf:3: backend: weight must be" "$WORK/kvlbd.log" && [ "$before" = "$after" ]; then
	pass kvlbd-sighup-bad-config-keeps-state
else
	fail kvlbd-sighup-bad-config-keeps-state "log: $(tail -3 "$WORK/kvlbd.log")"
fi
kill -0 $pid && pass kvlbd-survives-bad-reload || fail kvlbd-survives-bad-reload "kvlbd died"

kill -TERM $pid; wait $pid; pid=

# A port count lost (an edit interrupted half way) is repaired at start, by
# the resync alone: the config is the running one, so no VIP is edited.
bpftool map update pinned "$PIN/kvlb_vip_ports" key 80 0 0 0 value 0 0 0 0
cp "$WORK/two.conf" "$WORK/kvlb.conf"
nsenter --net=/run/netns/$T-node "$KVLBD" --config "$WORK/kvlb.conf" --pin-root "$PIN" \
	--metrics-listen off >>"$WORK/kvlbd.log" 2>&1 &
pid=$!
wait_for 10 applied 3
[ "$(port80)" = 2 ] && pass kvlbd-start-resyncs-vip-ports ||
	fail kvlbd-start-resyncs-vip-ports "kvlb_vip_ports[80] = $(port80) after restart"
kill -TERM $pid; wait $pid; pid=
"$KVLBD" --cleanup --pin-root "$PIN" >/dev/null 2>&1
[ ! -e "$PIN" ] && pass kvlbd-cleanup-removes-pins || fail kvlbd-cleanup-removes-pins "$(ls "$PIN")"

# Another program's XDP on the uplink is not replaced without --force.
bounce=$KVLB_BUILD/tests/xdp_bounce.bpf.o
ip -n "$T-node" link set dev up0 xdp off
if [ -e "$bounce" ] && ip -n "$T-node" link set dev up0 xdp obj "$bounce" sec xdp 2>/dev/null; then
	out=$(nsenter --net="/run/netns/$T-node" "$KVLBD" --config "$WORK/good.conf" \
		--pin-root "$PIN" --metrics-listen off 2>&1); rc=$?
	if [ $rc -ne 0 ] && [[ $out == *"already runs XDP program id"*"--force"* ]] &&
		[[ $(ip -n "$T-node" link show up0) != *kvlb_xdp* ]]; then
		pass kvlbd-keeps-foreign-xdp-without-force
	else
		fail kvlbd-keeps-foreign-xdp-without-force "rc=$rc: $(tail -2 <<<"$out")"
	fi
	nsenter --net="/run/netns/$T-node" "$KVLBD" --config "$WORK/good.conf" --pin-root "$PIN" \
		--metrics-listen off --force >"$WORK/force.log" 2>&1 &
	pid=$!
	if wait_for 10 grep -q 'running (pid' "$WORK/force.log" &&
		[[ $(ip -n "$T-node" link show up0) == *kvlb_xdp* ]]; then
		pass kvlbd-force-replaces-foreign-xdp
	else
		fail kvlbd-force-replaces-foreign-xdp "$(tail -3 "$WORK/force.log")"
	fi
else
	skip kvlbd-keeps-foreign-xdp "cannot attach $bounce with ip(8)"
fi

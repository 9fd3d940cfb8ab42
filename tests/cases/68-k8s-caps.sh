#!/usr/bin/env bash
# The capabilities the DaemonSet grants kvlbd are enough and each is needed:
# kvlbd runs as root with exactly the manifest's capabilities in its bounding
# set (as a container runtime sets them), inside a private network namespace,
# on a host-mounted bpffs as in the pod. It must load, attach, pin, apply the
# configuration, answer the readiness probe's /metrics and the liveness
# probe's `kvlbctl stats`, leave the data path attached on SIGTERM, and
# remove it with --cleanup; with any one capability taken away it must fail.
. "$(dirname "$0")/../lib.sh"
T=68-k8s-caps
MAN=$KVLB_TOP/scripts/k8s/kvlb-daemonset.yaml

if [ "${1:-}" = --inner ]; then
	# Inside the namespace (own mount namespace too): $2 = caps, $3 = work dir.
	caps=$2 W=$3
	KVLBD=$KVLB_BUILD/kvlbd KVLBCTL=$KVLB_BUILD/kvlbctl
	ip link set lo up
	mount -t bpf bpf /sys/fs/bpf || { fail $T "cannot mount bpffs in the namespace"; exit 1; }
	PIN=/sys/fs/bpf/kvlb
	withcaps() { setpriv --bounding-set "-all,$1" --inh-caps -all -- "${@:2}"; }
	# For `bgcaps ... &`: exec, so that $! is kvlbd itself (setpriv execs too).
	bgcaps() { exec setpriv --bounding-set "-all,$1" --inh-caps -all -- "${@:2}"; }
	stats() { withcaps "$caps" "$KVLBCTL" --pin-root "$PIN" stats >/dev/null; }
	started() { grep -q -e 'config applied' -e '\] error: ' "$1"; }

	bgcaps "$caps" "$KVLBD" --config "$W/kvlb.conf" --pin-root "$PIN" \
		--metrics-listen 127.0.0.1:9464 >"$W/kvlbd.log" 2>&1 &
	pid=$!
	wait_for 20 started "$W/kvlbd.log"
	check caps_kvlbd_applies_config grep -q 'config applied: 1 VIPs, 1 backends' "$W/kvlbd.log"
	check caps_xdp_attached bash -c "ip link show up0 | grep -q xdp"
	check caps_maps_pinned test -e "$PIN/kvlb_backends"
	wait_for 10 curl -sf -o /dev/null http://127.0.0.1:9464/metrics
	check caps_readiness_probe_answers [ $? -eq 0 ]
	check caps_liveness_probe_runs stats
	kill -TERM $pid
	wait $pid
	check caps_sigterm_exit_0 [ $? -eq 0 ]
	check caps_sigterm_leaves_xdp bash -c "ip link show up0 | grep -q xdp"
	check caps_sigterm_leaves_pins test -e "$PIN/kvlb_backends"
	check caps_liveness_after_exit stats

	# A new kvlbd with the same capabilities adopts the pinned state.
	bgcaps "$caps" "$KVLBD" --config "$W/kvlb.conf" --pin-root "$PIN" --metrics-listen off \
		>"$W/kvlbd2.log" 2>&1 &
	pid=$!
	wait_for 20 started "$W/kvlbd2.log"
	check caps_restart_adopts grep -q 'config applied' "$W/kvlbd2.log"
	kill -TERM $pid
	wait $pid

	withcaps "$caps" "$KVLBD" --cleanup --config "$W/kvlb.conf" --pin-root "$PIN" \
		>"$W/cleanup.log" 2>&1
	check caps_cleanup_runs [ $? -eq 0 ]
	check caps_cleanup_detaches bash -c "! ip link show up0 | grep -q xdp"

	# Without any one of them, kvlbd must fail (and say so), not run half set up.
	for drop in ${caps//,/ }; do
		less=$(tr ',' '\n' <<<"$caps" | grep -vx "$drop" | paste -sd,)
		bgcaps "$less" "$KVLBD" --config "$W/kvlb.conf" --pin-root "$PIN" \
			--metrics-listen off >"$W/less.log" 2>&1 &
		pid=$!
		wait_for 20 started "$W/less.log"
		if grep -q 'config applied' "$W/less.log"; then
			fail "caps_${drop#+}_needed" "kvlbd ran without it; drop it from the manifest"
		elif grep -q '\] error: ' "$W/less.log"; then
			pass "caps_${drop#+}_needed"
		else
			fail "caps_${drop#+}_needed" "kvlbd neither ran nor reported an error"
		fi
		kill -TERM $pid 2>/dev/null
		wait $pid 2>/dev/null
		"$KVLBD" --cleanup --config "$W/kvlb.conf" --pin-root "$PIN" >/dev/null 2>&1
	done
	exit ${KVLB_FAILED:-0}
fi

need_root $T
python3 -c 'import yaml' 2>/dev/null || { skip $T "python3-yaml is not installed"; exit 0; }
command -v setpriv >/dev/null || { skip $T "setpriv (util-linux) is not installed"; exit 0; }
for b in kvlbd kvlbctl; do
	[ -x "$KVLB_BUILD/$b" ] || { fail $T "$KVLB_BUILD/$b is not built (make)"; exit 1; }
done
caps=$(python3 "$KVLB_TOP/tests/k8s/manifest_get.py" "$MAN" caps | sed 's/\([a-z_]*\)/+\1/g')
[ -n "$caps" ] || { fail $T "no capabilities in the manifest"; exit 1; }

NS=kvlb-caps-$$
WORK=$(mktemp -d)
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NS" &&
	ip -n "$NS" link add up0 type veth peer name up0p &&
	ip -n "$NS" link add vp1 type veth peer name vp1p &&
	for i in up0 up0p vp1 vp1p; do ip -n "$NS" link set "$i" up || exit 1; done ||
	{ fail $T "cannot build the test namespace"; exit 1; }
printf 'uplink up0\npod-iface vp1\nvip 192.0.2.10:80 mode http\nbackend 203.0.113.11:8000\n' \
	>"$WORK/kvlb.conf"
ip netns exec "$NS" "$0" --inner "$caps" "$WORK"

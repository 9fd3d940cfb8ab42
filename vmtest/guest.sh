#!/usr/bin/env bash
# The checks vmtest runs inside the guest (started by guest-init.sh from the
# copy of the repository at /kvlb).
#
#   guest.sh MODE BUILD      MODE: test (everything) or stats (verifier figures only)
#
# Results go to the second serial port, one line each, for the host to read:
#   PASS name | FAIL name: why | SKIP name: why   a check
#   STAT line                                      a line of the verifier table
#   LOG line                                       detail shown on failure
#   @@DMESG-BEGIN ... @@DMESG-END                  the kernel log at the end
#   @@DONE                                         the guest finished
# Everything also goes to the console (first serial port), with command output.
set -uo pipefail

MODE=${1:-test}
BUILD=${2:-build}
REL=$(uname -r)
MODDIR=/lib/modules/$REL
# Modules to load; vmtest.sh copies them and their dependencies.
MODULES="veth sch_ingress cls_bpf sch_netem"

exec 3>/dev/ttyS1
res() { echo "$*" >&3; echo "$*"; }
pass() { res "PASS $*"; }
fail() { res "FAIL $1: ${*:2}"; }
skip() { res "SKIP $1: ${*:2}"; }
log_lines() { sed 's/^/LOG /' >&3; }

# wait_for TIMEOUT_S CMD...: poll CMD until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1)); shift
	while ! "$@" 2>/dev/null; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}

# ---------------------------------------------------------------- modules

declare -A loaded
# load_path PATH: insmod the module at PATH (relative to MODDIR) after
# everything modules.dep says it needs. Compressed modules are unpacked first,
# because insmod hands the kernel the bytes as they are on disk.
load_path() {
	local p=$1 d f name
	[ -n "${loaded[$p]:-}" ] && return 0
	for d in $(sed -n "s|^$p: *||p" "$MODDIR/modules.dep"); do
		load_path "$d" || return 1
	done
	name=${p##*/}
	name=${name%%.ko*}
	if [ -d "/sys/module/${name//-/_}" ]; then
		loaded[$p]=1
		return 0
	fi
	f="$MODDIR/$p"
	case "$p" in
	*.ko.xz) unxz -c "$f" >/tmp/mod.ko || return 1; f=/tmp/mod.ko ;;
	*.ko.gz) gunzip -c "$f" >/tmp/mod.ko || return 1; f=/tmp/mod.ko ;;
	*.ko.zst) echo "no zstd decompressor in the guest for $p"; return 1 ;;
	esac
	insmod "$f" || return 1
	loaded[$p]=1
}

# load_module NAME: built-in, already loaded, or found in modules.dep.
load_module() {
	local want=${1//-/_} p
	[ -d "/sys/module/$want" ] && return 0
	grep -qE "/$1\.ko" "$MODDIR/modules.builtin" 2>/dev/null && return 0
	p=$(awk -F: -v w="$want" '{
		n = $1; sub(/.*\//, "", n); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", n); gsub(/-/, "_", n)
		if (n == w) { print $1; exit }
	}' "$MODDIR/modules.dep")
	[ -n "$p" ] || { echo "module $1 not in $MODDIR/modules.dep"; return 1; }
	load_path "$p"
}

check_modules() {
	local m bad=""
	for m in $MODULES; do
		load_module "$m" || bad="$bad $m"
	done
	if [ -z "$bad" ]; then
		pass "kernel modules load ($MODULES)"
	else
		fail "kernel modules load" "could not load$bad"
	fi
}

check_bpffs() {
	mkdir -p /sys/fs/bpf
	if mount -t bpf bpf /sys/fs/bpf; then
		pass "bpffs mounts"
	else
		fail "bpffs mounts" "mount -t bpf failed"
	fi
}

# ---------------------------------------------------------------- verifier

check_verifier() {
	local out rc line objs
	objs=$(ls "$BUILD"/*.bpf.o "$BUILD/vmtest/probe.bpf.o")
	out=$("$BUILD/vmtest/verifier_stats" $objs 2>/tmp/vs.err)
	rc=$?
	while IFS= read -r line; do
		res "STAT $line"
		set -- $line
		case "$line" in
		kernel*) ;;
		*REFUSED*) fail "verifier accepts $2/$3" "${line#*REFUSED }" ;;
		*) pass "verifier accepts $2/$3" ;;
		esac
	done <<<"$out"
	[ -s /tmp/vs.err ] && log_lines </tmp/vs.err
	[ $rc -eq 0 ] || [ -n "$out" ] || fail "verifier_stats" "exited $rc without output"
}

# ---------------------------------------------------------------- unit tests

# run_unit NAME: build/tests/NAME (BPF_PROG_TEST_RUN packet tests) inside
# the guest, its PASS/FAIL/SKIP lines reported as ours.
run_unit() {
	local name=$1 t="$BUILD/tests/$1" out rc line fails=0 n=0
	if [ ! -x "$t" ]; then
		fail "BPF unit tests" "$t was not built"
		return
	fi
	out=$("$t" --obj-dir "$BUILD" 2>&1)
	rc=$?
	echo "$out"
	while IFS= read -r line; do
		case "$line" in
		"PASS "*) res "PASS $name ${line#PASS }"; n=$((n + 1)) ;;
		"SKIP "*) res "SKIP $name ${line#SKIP }" ;;
		"FAIL "*) res "FAIL $name ${line#FAIL }"; fails=$((fails + 1)) ;;
		esac
	done <<<"$out"
	if [ $rc -ne 0 ] && [ $fails -eq 0 ]; then
		fail "BPF unit tests" "$name exited $rc"
		tail -n 20 <<<"$out" | log_lines
	elif [ $rc -eq 0 ] && [ $n -eq 0 ]; then
		fail "BPF unit tests" "$name reported no PASS line"
	fi
}

# The L4 packet tests, and delayed binding packet by packet.
check_unit() {
	run_unit test_bpf
	run_unit test_splice
}

# ---------------------------------------------------------------- probe attach

# innet NS CMD...: run CMD in network namespace NS but in this mount
# namespace, so pinned objects under /sys/fs/bpf stay visible.
# The command goes by its full path: busybox nsenter would otherwise run its
# own applet of the same name (its tc knows no clsact).
innet() {
	local ns=$1 cmd
	cmd=$(type -P "$2") || { echo "no $2"; return 127; }
	shift 2
	nsenter --net="/run/netns/$ns" "$cmd" "$@"
}

probe_count() {
	bpftool -j map lookup pinned /sys/fs/bpf/vmtest-maps/probe_echo key "$1" 0 0 0 2>/dev/null |
		sed -n 's/.*"value":\([0-9]*\).*/\1/p'
}

probe_cleanup() {
	ip netns del pa 2>/dev/null
	ip netns del pb 2>/dev/null
	rm -rf /sys/fs/bpf/vmtest /sys/fs/bpf/vmtest-maps
}

check_probe() {
	local name="XDP and TC programs run on a veth"
	probe_attach "$name"
	probe_cleanup
}

probe_attach() {
	local name=$1 x t
	ip netns add pa && ip netns add pb &&
		ip link add va netns pa type veth peer name vb netns pb &&
		ip -n pa addr add 198.51.100.1/24 dev va && ip -n pb addr add 198.51.100.2/24 dev vb &&
		ip -n pa link set va up && ip -n pb link set vb up ||
		{ fail "$name" "cannot build the veth pair"; return; }
	bpftool prog loadall "$BUILD/vmtest/probe.bpf.o" /sys/fs/bpf/vmtest \
		pinmaps /sys/fs/bpf/vmtest-maps ||
		{ fail "$name" "bpftool prog loadall failed"; return; }
	innet pb bpftool net attach xdp pinned /sys/fs/bpf/vmtest/probe_xdp dev vb ||
		{ fail "$name" "XDP attach failed"; return; }
	innet pb tc qdisc add dev vb clsact &&
		innet pb tc filter add dev vb ingress bpf direct-action \
			object-pinned /sys/fs/bpf/vmtest/probe_tc ||
		{ fail "$name" "TC attach failed"; return; }
	if ! innet pa ping -c 3 -W 5 198.51.100.2; then
		fail "$name" "no ping answer through the attached programs"
		return
	fi
	x=$(probe_count 0)
	t=$(probe_count 1)
	if [ "${x:-0}" -ge 3 ] && [ "${t:-0}" -ge 3 ]; then
		pass "$name"
	else
		fail "$name" "echo requests counted: XDP ${x:-none}, TC ${t:-none}; want >= 3 each"
	fi
}

# ---------------------------------------------------------------- kvlbd end to end

E2E=vm$$
NPODS=3
KVLBD_PID=

e2e_cleanup() {
	[ -n "$KVLBD_PID" ] && kill "$KVLBD_PID" 2>/dev/null && wait "$KVLBD_PID" 2>/dev/null
	KVLBD_PID=
	scripts/topo.sh down "$E2E" 2>/dev/null
	rm -rf "$E2E_PINS"
}

pod_http() {
	local i=$1 www=/tmp/www$1
	mkdir -p "$www/cgi-bin"
	# A CGI script, because busybox httpd only accepts POST for CGI.
	printf '#!/bin/sh\ncat >/dev/null\nprintf "Content-Type: text/plain\\r\\n\\r\\npod%s\\n"\n' \
		"$i" >"$www/cgi-bin/v1"
	chmod +x "$www/cgi-bin/v1"
	ip netns exec "$E2E-pod$i" httpd -p 8080 -h "$www"
}

# No wget -T: Debian's static busybox crashes on it; timeout bounds the wait.
post() {
	ip netns exec "$E2E-client" timeout 15 wget -q -O - --header 'Content-Type: application/json' \
		--post-data "$2" "http://$1/cgi-bin/v1"
}

E2E_PINS=/sys/fs/bpf/kvlb-e2e

# Ready: XDP sits on the uplink and the VIP has all its backends. Outputs
# are read whole (no grep -q in a pipe: see check_e2e).
e2e_ready() {
	local link list
	link=$(ip -n "$E2E-node" link show up0) && [[ $link == *xdp* ]] || return 1
	list=$("$BUILD/kvlbctl" --pin-root "$E2E_PINS" backend list 192.0.2.10:80) || return 1
	[ "$(grep -c '203\.0\.113\.' <<<"$list")" -eq "$NPODS" ]
}

check_e2e() {
	local name="kvlbd balances HTTP over namespaces" kvlbd="$BUILD/kvlbd" i ans k pods=""
	local conf=/tmp/kvlbd.conf
	# The help is read whole first: grep -q would stop reading early and,
	# under pipefail, kvlbd's SIGPIPE would count as a missing option.
	if [ ! -x "$kvlbd" ] || [[ "$("$kvlbd" --help 2>&1)" != *--config* ]]; then
		fail "$name" "$kvlbd is missing or has no --config option"
		return
	fi
	scripts/topo.sh up "$E2E" "$NPODS" || { fail "$name" "topo.sh up failed"; e2e_cleanup; return; }
	{
		echo "uplink up0"
		printf 'pod-iface'; for ((i = 1; i <= NPODS; i++)); do printf ' vp%d' $i; done; echo
		echo "vip 192.0.2.10:80"
		for ((i = 1; i <= NPODS; i++)); do echo "backend 203.0.113.$((10 + i)):8080 weight 1"; done
	} >"$conf"
	for ((i = 1; i <= NPODS; i++)); do pod_http $i; done
	# nsenter, not ip netns exec: kvlbd's pins stay visible here for kvlbctl.
	innet "$E2E-node" "$kvlbd" --config "$conf" --pin-root "$E2E_PINS" >/tmp/kvlbd.log 2>&1 &
	KVLBD_PID=$!
	if ! wait_for 30 e2e_ready; then
		fail "$name" "kvlbd did not attach XDP to up0 and list $NPODS backends within 30s"
		tail -n 20 /tmp/kvlbd.log | log_lines
		{ ip -n "$E2E-node" link show up0
		  "$BUILD/kvlbctl" --pin-root "$E2E_PINS" backend list 192.0.2.10:80; } 2>&1 | log_lines
		e2e_cleanup
		return
	fi
	# Distinct conversations must spread over the pods; each answer must be whole.
	for k in 1 2 3 4 5 6 7 8 9 10 11 12; do
		ans=$(post 192.0.2.10 "{\"model\":\"m\",\"prompt\":\"conversation $k: tell me about $((k * 7919))\"}")
		case "$ans" in
		pod[1-9]) pods="$pods $ans" ;;
		*)
			fail "$name" "request $k got '${ans:0:60}' instead of a pod's answer"
			tail -n 20 /tmp/kvlbd.log | log_lines
			e2e_cleanup
			return
			;;
		esac
	done
	k=$(tr ' ' '\n' <<<"$pods" | sort -u | grep -c pod)
	if [ "$k" -ge 2 ]; then
		pass "$name (12 requests over $k of $NPODS pods)"
	else
		fail "$name" "12 distinct conversations all went to$pods"
	fi
	check_netem
	e2e_cleanup
}

# ---------------------------------------------------------------- under netem

NETEM="loss 5% delay 2ms 1ms reorder 25% 50% duplicate 3%"
NETEM_N=40

# netem_run LABEL: NETEM_N downloads of the pods' 64 KiB blobs through the
# VIP, 8 at a time, each bounded in time; all must arrive byte-exact.
netem_run() {
	local label=$1 dir=/tmp/netem-$1 k ok=0 s pids=()
	mkdir -p "$dir"
	for ((k = 0; k < NETEM_N; k++)); do
		ip netns exec "$E2E-client" timeout 60 wget -q -O "$dir/$k" http://192.0.2.10/blob &
		pids+=($!)
		if [ ${#pids[@]} -eq 8 ]; then wait "${pids[@]}"; pids=(); fi
	done
	[ ${#pids[@]} -gt 0 ] && wait "${pids[@]}"
	for ((k = 0; k < NETEM_N; k++)); do
		s=$(sha256sum <"$dir/$k" 2>/dev/null | cut -d' ' -f1)
		[[ -n $s && $'\n'$(cat /tmp/blob.sha)$'\n' == *$'\n'$s$'\n'* ]] && ok=$((ok + 1))
	done
	if [ $ok -eq $NETEM_N ]; then
		pass "kvlbd under netem, $label ($ok of $NETEM_N downloads byte-exact; $NETEM)"
	else
		fail "kvlbd under netem, $label" "$ok of $NETEM_N downloads byte-exact"
	fi
}

# Loss, reordering, duplication and delay on the client's side (what it
# sends, and what the node sends it), then on the pods' side.
check_netem() {
	local i
	: >/tmp/blob.sha
	for ((i = 1; i <= NPODS; i++)); do
		head -c 65536 /dev/urandom >"/tmp/www$i/blob"
		sha256sum <"/tmp/www$i/blob" | cut -d' ' -f1 >>/tmp/blob.sha
	done
	if ! ip netns exec "$E2E-client" tc qdisc add dev c0 root netem $NETEM 2>/tmp/netem.err; then
		fail "kvlbd under netem" "tc netem: $(cat /tmp/netem.err)"
		return
	fi
	ip netns exec "$E2E-node" tc qdisc add dev up0 root netem $NETEM
	netem_run client-side
	# The impairment must have been real: netem counts what it dropped.
	local st
	st=$(ip netns exec "$E2E-client" tc -s qdisc show dev c0)
	if [[ $st =~ dropped\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
		pass "netem dropped packets on the client side (${BASH_REMATCH[1]})"
	else
		fail "netem dropped packets on the client side" "$(tr '\n' ' ' <<<"$st")"
	fi
	ip netns exec "$E2E-client" tc qdisc del dev c0 root
	ip netns exec "$E2E-node" tc qdisc del dev up0 root
	for ((i = 1; i <= NPODS; i++)); do
		ip netns exec "$E2E-pod$i" tc qdisc add dev eth0 root netem $NETEM
	done
	netem_run pod-side
}

# ---------------------------------------------------------------- HTTP VIP under netem

. vmtest/guest-http.sh

# ---------------------------------------------------------------- main

echo "vmtest guest: Linux $REL, mode $MODE"
check_modules
check_bpffs
check_verifier
if [ "$MODE" = test ]; then
	check_unit
	check_probe
	check_e2e
	check_http_netem
	echo "@@DMESG-BEGIN" >&3
	dmesg >&3
	echo "@@DMESG-END" >&3
fi
echo "@@DONE" >&3

#!/usr/bin/env bash
# The HTTP-aware knobs and the prefix table, live:
#  - kvlbd writes the default knobs into a fresh kvlb_config, and keeps what
#    kvlbctl set when it restarts over its pins;
#  - kvlbctl's changes are visible with bpftool and apply to the very next
#    request the BPF parser and choice handle (tests/http/http_verify.bpf.o
#    sharing kvlbd's pinned maps), with no restart;
#  - kvlbctl prefix list shows what that choice learned, prefix flush empties
#    the table; bad arguments fail cleanly;
#  - kvlbd --cleanup removes the new pins too.
. "$(dirname "$0")/../lib.sh"
T=46-policy
need_root $T
ensure_bpffs || { skip $T "cannot mount bpffs"; exit 0; }
for tool in bpftool python3 nsenter; do
	command -v $tool >/dev/null || { skip $T "$tool is not installed"; exit 0; }
done
KVLBD=$KVLB_BUILD/kvlbd
KVLBCTL=$KVLB_BUILD/tests/kvlbctl # the ASan/UBSan build
[ -x "$KVLBCTL" ] || KVLBCTL=$KVLB_BUILD/kvlbctl
RUNNER=$KVLB_BUILD/tests/test_http_bpf
OBJ=$KVLB_BUILD/tests/http_verify.bpf.o
for f in "$KVLBD" "$KVLBCTL" "$RUNNER" "$OBJ"; do
	[ -e "$f" ] || { fail $T "$f is not built (make)"; exit 1; }
done

NS=kvlbpol$$
PIN=/sys/fs/bpf/kvlb-pol$$
WORK=$(mktemp -d)
kvlbd_pid=
cleanup() {
	[ -n "$kvlbd_pid" ] && kill "$kvlbd_pid" 2>/dev/null && wait "$kvlbd_pid" 2>/dev/null
	nsenter --net=/run/netns/$NS "$KVLBD" --cleanup --pin-root "$PIN" --uplink up0 \
		>/dev/null 2>&1
	ip netns del $NS 2>/dev/null
	rm -rf "$PIN" "$WORK"
	rm -f "/run/kvlb/$(tr / _ <<<"$PIN").lock"
}
trap cleanup EXIT

ip netns add $NS && ip -n $NS link add up0 type veth peer name up1 &&
	ip -n $NS link set up0 up && ip -n $NS link set up1 up ||
	{ fail $T "cannot build the namespace"; exit 1; }

K() { "$KVLBCTL" --pin-root "$PIN" "$@"; }
started() { [ "$(grep -c "running (pid $1)" "$WORK/kvlbd.log")" -ge 1 ]; }
start_kvlbd() {
	nsenter --net=/run/netns/$NS "$KVLBD" --uplink up0 --xdp-mode generic --pin-root "$PIN" \
		--metrics-listen off >>"$WORK/kvlbd.log" 2>&1 &
	kvlbd_pid=$!
	wait_for 10 started "$kvlbd_pid"
}
stop_kvlbd() {
	kill "$kvlbd_pid" && wait "$kvlbd_pid" 2>/dev/null
	kvlbd_pid=
}
# knob NAME: the field as bpftool prints it (BTF names the fields).
knob() {
	bpftool -j map dump pinned "$PIN/kvlb_config" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["formatted"]["value"][sys.argv[1]])' "$1"
}
run_chat() { "$RUNNER" "$OBJ" --pin-root "$PIN" --run chat; }
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# --- kvlbd writes the defaults once -----------------------------------------
start_kvlbd || { fail $T "kvlbd did not start: $(cat "$WORK/kvlbd.log")"; exit 1; }
got="$(knob chunk_size) $(knob prefix_depth) $(knob hold_limit) $(knob load_bound_pct)"
got="$got $(knob walk_limit) $(knob load_slack) $(knob affinity_header)"
if [ "$got" = "256 16 8192 130 8 2048 x-session-id" ]; then
	pass kvlbd_writes_default_knobs
else
	fail kvlbd_writes_default_knobs "bpftool shows '$got'"
fi

K policy set chunk_size 64 affinity_header X-User-Session load_bound 1.5
if [ "$(knob chunk_size) $(knob affinity_header) $(knob load_bound_pct)" = \
	"64 x-user-session 150" ]; then
	pass config_set_visible_with_bpftool
else
	fail config_set_visible_with_bpftool "bpftool shows $(knob chunk_size) $(knob affinity_header)"
fi

stop_kvlbd
start_kvlbd || { fail $T "kvlbd did not restart: $(cat "$WORK/kvlbd.log")"; exit 1; }
check kvlbd_restart_keeps_knobs [ "$(knob chunk_size) $(knob affinity_header)" = "64 x-user-session" ]

# --- the next request is parsed and placed under the new knobs ---------------
r1=$(run_chat) || { fail knobs_apply_to_next_request "run failed: $r1"; exit 1; }
K policy set chunk_size 16 prefix_depth 4
r2=$(run_chat) || { fail knobs_apply_to_next_request "run failed: $r2"; exit 1; }
echo "# chunk 64: $r1"
echo "# chunk 16, depth 4: $r2"
if [ "$(field "$r1" chunk_size)" = 64 ] && [ "$(field "$r1" same_state)" = 1 ] &&
	[ "$(field "$r1" links)" = "$(field "$r1" user_links)" ] &&
	[ "$(field "$r2" chunk_size)" = 16 ] && [ "$(field "$r2" prefix_depth)" = 4 ] &&
	[ "$(field "$r2" links)" = 4 ] && [ "$(field "$r2" same_state)" = 1 ]; then
	pass knobs_apply_to_next_request
else
	fail knobs_apply_to_next_request "kernel runs: '$r1' / '$r2'"
fi

# --- the prefix table ---------------------------------------------------------
n1=$(field "$r1" links)
n2=$(field "$r2" links)
b2=$(field "$r2" backend)
K -j prefix list >"$WORK/p.json" || fail prefix_list "exit $?"
python3 - "$WORK/p.json" "$n1" "$n2" "$b2" <<'EOF'
import json, sys
p, n1, n2, b2 = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
recent = p[:n2]
ok = (len(p) == n1 + n2 and all(e["backend_id"] == b2 for e in recent)
      and sorted(e["depth"] for e in recent) == list(range(1, n2 + 1))
      and all(e["backend"].endswith(":8000") and e["key"].startswith("0x") for e in p))
print("PASS prefix_list_shows_learned" if ok else
      "FAIL prefix_list_shows_learned: %d entries (want %d + %d): %s" % (len(p), n1, n2, p[:3]))
EOF
lines=$(K prefix list --limit 2 | wc -l)
check prefix_list_limit [ "$lines" -eq 3 ]
out=$(K prefix flush)
check prefix_flush_counts [ "$out" = "removed $((n1 + n2)) prefix entries" ]
left=$(bpftool -j map dump pinned "$PIN/kvlb_prefix" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check prefix_flush_empties [ "$left:$(K -j prefix list)" = "0:[]" ]
check prefix_flush_json [ "$(K -j prefix flush)" = '{"removed":0}' ]

# --- bad arguments: a clear message and exit 2; missing maps: exit 1 ----------
bad=1
K prefix list --limit 0 >/dev/null 2>"$WORK/e"
[ $? -eq 2 ] && grep -q "out of range" "$WORK/e" || bad=0
K prefix flush now >/dev/null 2>&1
[ $? -eq 2 ] || bad=0
K policy set chunk_size 5 >/dev/null 2>&1
[ $? -eq 2 ] && [ "$(knob chunk_size)" = 16 ] || bad=0
"$KVLBCTL" --pin-root "$WORK" -j prefix list >"$WORK/e2" 2>&1
[ $? -eq 1 ] && grep -q '"error"' "$WORK/e2" || bad=0
check prefix_bad_arguments [ $bad -eq 1 ]

# --- cleanup removes the new pins ----------------------------------------------
stop_kvlbd
nsenter --net=/run/netns/$NS "$KVLBD" --cleanup --pin-root "$PIN" --uplink up0 >/dev/null 2>&1
check kvlbd_cleanup_removes_pins [ ! -e "$PIN" ]

#!/usr/bin/env bash
# kvlbctl against real pinned maps. The maps are created here with bpftool
# (the sizes kvlbd pins), so this needs neither kvlbd nor the BPF programs;
# what kvlbctl wrote is read back with bpftool (tests/user/kvlbmaps.py) as
# well as with kvlbctl -j.
. "$(dirname "$0")/../lib.sh"
T=20-kvlbctl
need_root $T
for tool in bpftool python3; do
	command -v $tool >/dev/null || { skip $T "$tool is not installed"; exit 0; }
done
KVLBCTL=${KVLBCTL:-$KVLB_BUILD/tests/kvlbctl} # the ASan/UBSan build
[ -x "$KVLBCTL" ] || KVLBCTL=$KVLB_BUILD/kvlbctl
[ -x "$KVLBCTL" ] || { fail $T "kvlbctl is not built (make)"; exit 1; }
MAPS="python3 $KVLB_TOP/tests/user/kvlbmaps.py"
ensure_bpffs || { skip $T "cannot mount bpffs on /sys/fs/bpf"; exit 0; }

PIN=/sys/fs/bpf/kvlb-test-$$
WORK=$(mktemp -d)
cleanup() {
	rm -rf "$PIN" "$WORK"
	rm -f "/run/kvlb/$(tr / _ <<<"$PIN").lock"
}
trap cleanup EXIT
$MAPS "$PIN" create || { fail $T "cannot create maps with bpftool"; exit 1; }

K() { "$KVLBCTL" --pin-root "$PIN" "$@"; }
state() { $MAPS "$PIN" state; }
# py CODE ARGS...: run a python check; its stdout (PASS/FAIL lines) is the report.
py() { python3 -c "$@"; }

V4=192.0.2.10:80
V6='[2001:db8:a::10]:80'

# --- VIPs -----------------------------------------------------------------
out=$(K vip list) && [ -z "$out" ]
check vip_list_empty [ $? -eq 0 ]
K vip add "$V4" && K vip add "$V6" mode http
check vip_add_v4_v6 [ $? -eq 0 ]
K -j vip list >"$WORK/vips.json"
state >"$WORK/s1.json"
py '
import json, sys
ctl = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
want = {"192.0.2.10:80": ("l4", 2, 0), "[2001:db8:a::10]:80": ("http", 10, 1)}
got_ctl = {v["vip"]: (v["mode"], 2 if v["family"] == "ipv4" else 10, v["index"]) for v in ctl}
got_map = {v["vip"]: ("http" if v["flags"] & 1 else "l4", v["family"], v["index"]) for v in s["vips"]}
bad = [v for v in s["vips"] if v["proto"] != 6 or v["ring_slot"] // 2 != v["index"]]
empty = all(set(r) == {0xffffffff} for r in s["rings"].values())
if got_ctl == want and got_map == want and not bad and empty:
    print("PASS vip_list_matches_maps")
else:
    print("FAIL vip_list_matches_maps: kvlbctl %s maps %s bad %s empty rings %s" % (got_ctl, got_map, bad, empty))
' "$WORK/vips.json" "$WORK/s1.json"

# --- backends and ring shares ---------------------------------------------
for w in 1 2 3; do K backend add "$V4" 203.0.113.1$w:8000 weight $w || fail backend_add_v4 "weight $w"; done
K backend add "$V6" '[2001:db8:b::10]:8000' && K backend add "$V6" '[2001:db8:b::11]:8000' weight 1
check backend_add_v6 [ $? -eq 0 ]
K -j backend list >"$WORK/be.json"
state >"$WORK/s2.json"
# shares: from the ring bpftool reads, and as kvlbctl reports them
share_check='
import json, sys, collections
name, ctl, s, want = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), json.loads(sys.argv[4])
errs = []
for vip, shares in want.items():
    ring = s["rings"][vip]
    cnt = collections.Counter(ring)
    by_ep = {b["backend"]: int(i) for i, b in s["backends"].items()}
    for ep, share in shares.items():
        n = cnt.get(by_ep.get(ep, -1), 0)
        if abs(n / len(ring) - share) > 0.03 * max(share, 0.01):
            errs.append("%s %s: ring share %.4f, expected %.4f" % (vip, ep, n / len(ring), share))
        c = [b for b in ctl if b["vip"] == vip and b["backend"] == ep]
        if share > 0 and (len(c) != 1 or c[0]["ring_slots"] != n):
            errs.append("%s %s: kvlbctl says %s, ring has %d" % (vip, ep, c and c[0]["ring_slots"], n))
    stray = set(cnt) - {by_ep[e] for e in shares if shares[e] > 0}
    if stray:
        errs.append("%s: ring names ids %s" % (vip, sorted(stray)))
print("FAIL %s: %s" % (name, "; ".join(errs)) if errs else "PASS " + name)
'
py "$share_check" weights_1_2_3_ring_shares "$WORK/be.json" "$WORK/s2.json" \
	'{"192.0.2.10:80": {"203.0.113.11:8000": 0.16667, "203.0.113.12:8000": 0.33333, "203.0.113.13:8000": 0.5},
	  "[2001:db8:a::10]:80": {"[2001:db8:b::10]:8000": 0.5, "[2001:db8:b::11]:8000": 0.5}}'

K backend drain "$V4" 203.0.113.12:8000
K -j backend list "$V4" >"$WORK/be.json"
state >"$WORK/s3.json"
py "$share_check" drain_leaves_ring "$WORK/be.json" "$WORK/s3.json" \
	'{"192.0.2.10:80": {"203.0.113.11:8000": 0.25, "203.0.113.12:8000": 0, "203.0.113.13:8000": 0.75}}'
py '
import json, sys
b = [x for x in json.load(open(sys.argv[1])) if x["backend"] == "203.0.113.12:8000"]
print("PASS drain_state_shown" if b and b[0]["state"] == "draining" and b[0]["ring_slots"] == 0
      else "FAIL drain_state_shown: %s" % b)' "$WORK/be.json"
K backend drain "$V4" 203.0.113.12:8000 --undo
state >"$WORK/s4.json"
py '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
same = a["rings"]["192.0.2.10:80"] == b["rings"]["192.0.2.10:80"]
print("PASS undrain_restores_ring" if same else "FAIL undrain_restores_ring: ring differs from before the drain")
' "$WORK/s2.json" "$WORK/s4.json"

K backend weight "$V4" 203.0.113.11:8000 3
K -j backend list "$V4" >"$WORK/be.json"
state >"$WORK/s5.json"
py "$share_check" weight_change "$WORK/be.json" "$WORK/s5.json" \
	'{"192.0.2.10:80": {"203.0.113.11:8000": 0.375, "203.0.113.12:8000": 0.25, "203.0.113.13:8000": 0.375}}'

# Removing one of four equal backends moves about a quarter of the ring.
K backend weight "$V4" 203.0.113.11:8000 1 && K backend weight "$V4" 203.0.113.13:8000 1 &&
	K backend weight "$V4" 203.0.113.12:8000 1 && K backend add "$V4" 203.0.113.14:8000
state >"$WORK/s6.json"
K backend del "$V4" 203.0.113.14:8000 || fail backend_del "203.0.113.14:8000"
state >"$WORK/s7.json"
py '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ra, rb = a["rings"]["192.0.2.10:80"], b["rings"]["192.0.2.10:80"]
moved = sum(x != y for x, y in zip(ra, rb)) / len(ra)
gone = [i for i, x in b["backends"].items() if x["backend"] == "203.0.113.14:8000"]
ok = 0.24 <= moved < 0.25 * 1.5 and not gone and len(set(ra)) == 4 and len(set(rb)) == 3
print("PASS del_moves_about_1_over_n (%.3f of the ring moved)" % moved if ok else
      "FAIL del_moves_about_1_over_n: moved %.3f, slot left %s, ids %d -> %d" % (moved, gone, len(set(ra)), len(set(rb))))
' "$WORK/s6.json" "$WORK/s7.json"

# Editors serialise: parallel adds must all land, each in its own slot.
pids=()
for i in $(seq 20 29); do K backend add "$V4" 203.0.113.$i:9000 & pids+=($!); done
okp=1
for p in "${pids[@]}"; do wait "$p" || okp=0; done
K -j backend list "$V4" >"$WORK/be.json"
state >"$WORK/s8.json"
py '
import json, sys, collections
okp, ctl, s = sys.argv[1] == "1", json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
new = {"203.0.113.%d:9000" % i for i in range(20, 30)}
slots = [i for i, b in s["backends"].items() if b["backend"] in new]
inring = set(s["rings"]["192.0.2.10:80"])
ok = okp and len(slots) == 10 and all(int(i) in inring for i in slots) and \
     {b["backend"] for b in ctl} >= new
print("PASS parallel_edits_serialised" if ok else
      "FAIL parallel_edits_serialised: exit ok %s, %d of 10 slots, in ring %s" % (okp, len(slots), [int(i) in inring for i in slots]))
' $okp "$WORK/be.json" "$WORK/s8.json"
for i in $(seq 20 29); do K backend del "$V4" 203.0.113.$i:9000 || fail backend_del "203.0.113.$i"; done

# --- bad arguments: an error naming the problem, maps unchanged ------------
snap() {
	bpftool -j map dump pinned "$PIN/kvlb_vips" |
		python3 -c 'import json,sys; print(sorted(json.dumps(e, sort_keys=True) for e in json.load(sys.stdin)))'
	bpftool -j map dump pinned "$PIN/kvlb_backends"
	bpftool -j map dump pinned "$PIN/kvlb_config"
}
state >"$WORK/before.json"
snap >"$WORK/snap0"
# bad EXPECTED_RC WORDS_IN_MESSAGE ARGS...
bad() {
	local want=$1 msg=$2 name
	shift 2
	name="${BAD_NAME:-bad_args}: kvlbctl $*"
	K "$@" >"$WORK/out" 2>"$WORK/err"
	local rc=$?
	snap >"$WORK/snap1"
	if [ $rc -ne "$want" ]; then
		fail "$name" "exit $rc, expected $want"
	elif ! grep -qiF -- "$msg" "$WORK/err"; then
		fail "$name" "message '$(head -1 "$WORK/err")' does not say '$msg'"
	elif [ -s "$WORK/out" ]; then
		fail "$name" "printed on stdout: $(head -1 "$WORK/out")"
	elif ! cmp -s "$WORK/snap0" "$WORK/snap1"; then
		fail "$name" "maps changed"
	else
		pass "$name"
	fi
}
bad 2 "not a valid IPv4 address" vip add 192.0.2.300:80
bad 2 "port must be 1..65535" vip add 192.0.2.11:0
bad 2 "port must be 1..65535" vip add 192.0.2.11:70000
bad 2 "must be in brackets" vip add 2001:db8:a::11:80
bad 2 "missing ':PORT'" vip add 192.0.2.11
bad 2 "trailing characters" vip add 192.0.2.11:80abc
bad 2 "unknown mode 'tcp'" vip add 192.0.2.11:80 mode tcp
bad 2 "unexpected argument 'extra'" vip add 192.0.2.11:80 extra
bad 2 "missing ADDR:PORT" vip add
bad 1 "VIP 192.0.2.10:80 already exists" vip add "$V4"
bad 1 "no VIP 192.0.2.99:80" vip del 192.0.2.99:80
bad 2 "unknown command 'frob'" vip frob
bad 2 "unknown object 'frob'" frob
bad 2 "missing command" backend
bad 2 "missing BACKEND" backend add "$V4"
bad 2 "missing VIP" backend del
bad 2 "weight 0 is out of range 1..65535" backend add "$V4" 203.0.113.50:80 weight 0
bad 2 "weight 65536 is out of range" backend add "$V4" 203.0.113.50:80 weight 65536
bad 2 "weight '3x' is not a number" backend add "$V4" 203.0.113.50:80 weight 3x
bad 2 "weight '-1' is not a number" backend weight "$V4" 203.0.113.11:8000 -1
bad 2 "'weight' needs a value" backend add "$V4" 203.0.113.50:80 weight
bad 2 "missing the weight" backend weight "$V4" 203.0.113.11:8000
bad 2 "weight 0 is out of range" backend weight "$V4" 203.0.113.11:8000 0
bad 2 "not of the VIP's address family" backend add "$V4" '[2001:db8:b::50]:80'
bad 1 "no backend 203.0.113.99:80 in VIP 192.0.2.10:80" backend del "$V4" 203.0.113.99:80
bad 1 "no backend 203.0.113.99:80" backend drain "$V4" 203.0.113.99:80
bad 1 "no backend 203.0.113.99:80" backend weight "$V4" 203.0.113.99:80 2
bad 1 "no VIP 192.0.2.99:80" backend add 192.0.2.99:80 203.0.113.50:80
bad 1 "no VIP 192.0.2.99:80" backend list 192.0.2.99:80
bad 1 "already exists" backend add "$V4" 203.0.113.11:8000
bad 2 "unexpected argument '--force'" backend drain "$V4" 203.0.113.11:8000 --force
bad 2 "--limit 'x' is not a number" flows --limit x
bad 2 "--limit needs a number" flows --limit
bad 2 "unexpected argument '--bogus'" stats --bogus
bad 2 "ambiguous command 'd'" backend d
bad 2 "--pin-root needs a directory" --pin-root
bad 1 "no kvlb maps at /nonexistent-$$: is kvlbd running?" --pin-root /nonexistent-$$ vip list
state >"$WORK/after.json"
check bad_args_leave_rings_unchanged cmp -s "$WORK/before.json" "$WORK/after.json"

# In JSON mode an error is a JSON object on stdout, and the exit code stays.
out=$(K -j backend add "$V4" 203.0.113.50:80 weight 0 2>/dev/null)
rc=$?
py 'import json,sys; d=json.loads(sys.argv[1]); assert "out of range" in d["error"]' "$out" 2>/dev/null &&
	[ $rc -eq 2 ]
check json_usage_error [ $? -eq 0 ]
out=$(K -j vip del 192.0.2.99:80 2>/dev/null)
rc=$?
py 'import json,sys; d=json.loads(sys.argv[1]); assert "no VIP" in d["error"]' "$out" 2>/dev/null &&
	[ $rc -eq 1 ]
check json_runtime_error [ $? -eq 0 ]

# --- capacity: the 65th VIP is refused whole --------------------------------
okc=1
for i in $(seq 2 63); do K vip add 198.51.100.$i:80 >/dev/null || okc=0; done
snap >"$WORK/snap0"
bad 1 "all 64 VIPs are in use" vip add 198.51.100.200:80
check vip_table_filled [ $okc -eq 1 ]
for i in $(seq 2 63); do K vip del 198.51.100.$i:80 || okc=0; done
check vip_del_many [ $okc -eq 1 ]

# Backend slots full: the slots not in use are filled behind kvlbctl's back
# (for a VIP index nobody uses), then an add must be refused whole.
fill_slots() { # fill_slots 1: fill every free slot (listed in free.json); 0: clear them
	python3 - "$PIN" "$1" "$WORK/cap.json" "$WORK/free.json" >"$WORK/fill.batch" <<'PYEOF'
import json, struct, sys
pin, fill, cap, free_path = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
if fill:
    used = json.load(open(cap))["backends"]
    free = [i for i in range(1024) if str(i) not in used]
    json.dump(free, open(free_path, "w"))
else:
    free = json.load(open(free_path))
# 203.0.113.200:80, vip_index 40, weight 1, in use
v = bytes([203, 0, 113, 200]) + bytes(12) + struct.pack(">H", 80) + bytes([2, 0]) + \
    struct.pack("<3I", 40, 1, 1) if fill else bytes(32)
for i in free:
    print("map update pinned %s/kvlb_backends key %s value %s" % (
        pin, " ".join(map(str, struct.pack("<I", i))), " ".join(map(str, v))))
PYEOF
	bpftool batch file "$WORK/fill.batch" >/dev/null
}
state >"$WORK/cap.json"
if fill_slots 1; then
	snap >"$WORK/snap0"
	bad 1 "all 1024 backend slots are in use" backend add "$V4" 203.0.113.70:8000
	fill_slots 0 || fail backend_slots_full "cannot clear the filled slots"
else
	fail backend_slots_full "cannot fill the backend slots with bpftool"
fi

# --- deletes ------------------------------------------------------------------
K backend del "$V6" '[2001:db8:b::11]:8000' && K vip del "$V6"
state >"$WORK/s9.json"
py '
import json, sys
s = json.load(open(sys.argv[1]))
v6 = [v for v in s["vips"] if v["family"] == 10]
left = [b for b in s["backends"].values() if b["backend"] and "2001:db8:b::" in b["backend"]]
v4 = [v["vip"] for v in s["vips"]]
print("PASS vip_del_clears_backends" if not v6 and not left and v4 == ["192.0.2.10:80"] else
      "FAIL vip_del_clears_backends: vips %s, v6 backends left %s" % (v4, left))
' "$WORK/s9.json"
# A VIP added again takes the lowest free index and starts with no backend.
K vip add "$V6"
state >"$WORK/s10.json"
py '
import json, sys
s = json.load(open(sys.argv[1]))
v6 = [v for v in s["vips"] if v["family"] == 10]
ok = len(v6) == 1 and v6[0]["index"] == 1 and set(s["rings"][v6[0]["vip"]]) == {0xffffffff}
print("PASS vip_readd_empty" if ok else "FAIL vip_readd_empty: %s" % v6)
' "$WORK/s10.json"

# --- stats and flows ----------------------------------------------------------
# xdp_rx = 5 and xdp_bytes (13th word) = 7, on every CPU.
words=$(($(bpftool -j map show pinned "$PIN/kvlb_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_value"])') / 8))
val=$(python3 -c 'import struct,sys; n=int(sys.argv[1]); print(" ".join(str(b) for b in struct.pack("<%dQ" % n, 5, *[0]*11, 7, *[0]*(n-13))))' "$words")
bpftool map update pinned "$PIN/kvlb_stats" key 0 0 0 0 value $val
K -j stats >"$WORK/stats.json"
K stats >"$WORK/stats.txt"
py '
import json, re, sys
d = json.load(open(sys.argv[1]))
names = re.findall(r"X\((\w+), \"", open(sys.argv[2]).read())
txt = open(sys.argv[3]).read().splitlines()
rows = {l.split()[0]: int(l.split()[1]) for l in txt[1:]}
possible = open("/sys/devices/system/cpu/possible").read().strip()
ncpu = sum(int(b) - int(a) + 1 for a, b in (r.split("-") if "-" in r else (r, r) for r in possible.split(",")))
why = [w for w, bad in (
    ("JSON names differ from kvlb.h: %s" % [(a, b) for a, b in zip(list(d), names) if a != b][:1], list(d) != names),
    ("xdp_rx %s, want %d" % (d.get("xdp_rx"), 5 * ncpu), d.get("xdp_rx") != 5 * ncpu),
    ("xdp_bytes %s, want %d" % (d.get("xdp_bytes"), 7 * ncpu), d.get("xdp_bytes") != 7 * ncpu),
    ("sum %d, want %d" % (sum(d.values()), 12 * ncpu), sum(d.values()) != 12 * ncpu),
    ("text rows differ from JSON", rows != d),
    ("a text row without its description", not all(len(l.split()) > 2 for l in txt[1:])))
    if bad]
print("FAIL stats_named_and_summed: %s" % "; ".join(why) if why else "PASS stats_named_and_summed")
' "$WORK/stats.json" "$KVLB_TOP/include/kvlb.h" "$WORK/stats.txt"
K stats --reset && K -j stats >"$WORK/stats.json"
py 'import json,sys; d=json.load(open(sys.argv[1])); print("PASS stats_reset" if d and not any(d.values()) else "FAIL stats_reset: %s" % d)' "$WORK/stats.json"

# Three flows to 192.0.2.10:80 from 198.51.100.1:4000x, on backend id 0.
flow_size=$($MAPS "$PIN" size kvlb_flow)
for i in 1 2 3; do
	kv=$(python3 -c '
import struct, sys, ipaddress
i = int(sys.argv[1])
src = ipaddress.IPv4Address("198.51.100.1").packed + bytes(12)
dst = ipaddress.IPv4Address("192.0.2.10").packed + bytes(12)
k = src + dst + struct.pack(">HH", 40000 + i, 80) + bytes([6, 2, 0, 0])
v = struct.pack("<IIQ", 0, 0, 0).ljust(int(sys.argv[2]), b"\0")  # backend 0, VIP 0
print(" ".join(map(str, k)), "value", " ".join(map(str, v)))' $i "$flow_size")
	bpftool map update pinned "$PIN/kvlb_flows" key ${kv/ value / value }
done
K -j flows >"$WORK/flows.json"
K -j flows --limit 2 >"$WORK/flows2.json"
be0=$(K -j backend list "$V4" | python3 -c 'import json,sys; print([b["backend"] for b in json.load(sys.stdin) if b["id"] == 0][0])')
py '
import json, sys
f, f2, be0 = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
clients = sorted(x["client"] for x in f)
ok = clients == ["198.51.100.1:40001", "198.51.100.1:40002", "198.51.100.1:40003"] and \
     all(x["vip"] == "192.0.2.10:80" and x["backend"] == be0 for x in f) and len(f2) == 2
print("PASS flows_listed" if ok else "FAIL flows_listed: %s (limit 2: %d)" % (f, len(f2)))
' "$WORK/flows.json" "$WORK/flows2.json" "$be0"

# --- tunables -------------------------------------------------------------------
# An entry never written shows the defaults kvlb.h defines.
K -j policy show >"$WORK/cfg0.json"
py '
import json, re, sys
d, h = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
D = dict(re.findall(r"#define KVLB_DEF_(\w+)\s+(\S+)", h))
want = {"chunk_size": int(D["CHUNK_SIZE"]),
        "prefix_depth": int(D["PREFIX_DEPTH"]), "hold_limit": int(D["HOLD_LIMIT"]),
        "load_bound": int(D["LOAD_BOUND_PCT"]) / 100, "walk_limit": int(D["WALK_LIMIT"]),
        "prefix": True, "affinity": True, "size": False,
        "affinity_header": D["AFFINITY_HEADER"].strip("\"")}
bad = {k: (d.get(k), v) for k, v in want.items() if d.get(k) != v}
print("FAIL config_defaults: %s" % bad if bad else "PASS config_defaults")
' "$WORK/cfg0.json" "$KVLB_TOP/include/kvlb.h"
K policy set chunk_size 512 load_bound 1.5 prefix off affinity_header X-User-Id
check config_set [ $? -eq 0 ]
# Decode the entry as bpftool reads it (offsets of struct kvlb_config).
cfg_raw() {
	bpftool -j map dump pinned "$PIN/kvlb_config" | python3 -c '
import json, struct, sys
v = bytes(int(b, 16) for b in json.load(sys.stdin)[0]["value"])
rsv, chunk, depth, hold, bound, walk, flags = struct.unpack("<7I", v[:28])
print(rsv, chunk, depth, hold, bound, walk, flags, v[32:64].rstrip(b"\0").decode())'
}
got=$(cfg_raw)
# flags: 1 prefix off, 4 size off (the default)
[ "$got" = "0 512 16 8192 150 8 5 x-user-id" ]
check config_set_written_whole [ $? -eq 0 ] || echo "# config entry: $got"
snap >"$WORK/snap0"
bad 2 "chunk_size 8 is out of range 16..4096" policy set chunk_size 8
bad 2 "load_bound 0.5 is out of range 1.00..100.00" policy set load_bound 0.5
bad 2 "at most two decimals" policy set load_bound 1.255
bad 2 "unknown knob 'bogus'" policy set bogus 1
bad 2 "missing the value of chunk_size" policy set chunk_size
bad 2 "must be on or off" policy set prefix maybe
bad 2 "bad character ' '" policy set affinity_header "x session"
bad 2 "chunk_size is given twice" policy set chunk_size 512 chunk_size 600
bad 2 "hold_limit 1 is out of range" policy set chunk_size 1024 hold_limit 1
bad 2 "unexpected argument 'now'" policy reset now
K policy reset && K -j policy show >"$WORK/cfg1.json"
check config_reset cmp -s "$WORK/cfg0.json" "$WORK/cfg1.json"

# --- JSON everywhere, help everywhere, completion in line with help ------------
okj=1
for mode in -j -p; do
	for args in "vip list" "backend list" "backend list $V4" "flows" "stats" "policy show" \
		"vip add 192.0.2.77:80" "backend add 192.0.2.77:80 203.0.113.77:80" \
		"backend drain 192.0.2.77:80 203.0.113.77:80" "vip del 192.0.2.77:80"; do
		# shellcheck disable=SC2086
		K $mode $args >"$WORK/j" || { okj=0; echo "# failed: $mode $args"; }
		python3 -m json.tool "$WORK/j" >/dev/null 2>&1 || { okj=0; echo "# not JSON: $mode $args"; }
	done
done
check json_output_valid [ $okj -eq 1 ]

help_ok=1
objects=$(K --help | sed -n '/^Objects:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ "$(K --help | head -1)" = "Usage: kvlbctl [OPTIONS] OBJECT COMMAND [ARGS]" ] || help_ok=0
for o in $objects; do
	h=$(K $o --help) || help_ok=0
	grep -q "^Usage: kvlbctl \[OPTIONS\] $o" <<<"$h" || { help_ok=0; echo "# no usage for $o"; }
	for v in $(sed -n '/^Commands:/,/^$/p' <<<"$h" | awk '/^  [a-z]/ { print $1 }'); do
		hv=$(K $o $v --help) || help_ok=0
		grep -q "^Usage: kvlbctl \[OPTIONS\] $o $v" <<<"$hv" || { help_ok=0; echo "# no usage for $o $v"; }
		[ "$(K $o $v -h)" = "$hv" ] || help_ok=0
	done
done
[ "$(echo $objects)" = "vip backend flows conns stats load hist policy prefix" ] || help_ok=0
check help_every_command [ $help_ok -eq 1 ]
# No HTTP-VIP connection exists here: conns lists none, counts 0, and JSON is [].
conns_empty() {
	[ "$(K conns --count)" = 0 ] && [ "$(K -j conns)" = "[]" ] &&
		[ "$(K -j conns --count)" = '{"connections":0}' ] && [ -z "$(K conns)" ]
}
check conns_empty conns_empty

# Ask the completion function itself, as bash would.
complete_words() {
	bash -c '
		complete() { :; }
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_kvlbctl
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$KVLB_TOP/user/kvlbctl/kvlbctl.bash" "$@"
}
comp_ok=1
globals=$(K --help | sed -n '/^Options:/,/^$/p' | cut -c1-24 | grep -oE -- '--?[a-zA-Z-]+' | sort)
[ "$(complete_words kvlbctl -)" = "$globals" ] || { comp_ok=0; echo "# global options differ"; }
[ "$(complete_words kvlbctl '')" = "$(sort <<<"$objects")" ] || { comp_ok=0; echo "# objects differ"; }
for o in $objects; do
	h=$(K $o --help)
	verbs=$(sed -n '/^Commands:/,/^$/p' <<<"$h" | awk '/^  [a-z]/ { print $1 }' | sort)
	cmds=("$o")
	if [ -n "$verbs" ]; then
		[ "$(complete_words kvlbctl $o '')" = "$verbs" ] || { comp_ok=0; echo "# verbs of $o differ"; }
		cmds=()
		for v in $verbs; do cmds+=("$o $v"); done
	fi
	for c in "${cmds[@]}"; do
		# shellcheck disable=SC2086
		opts=$(K $c --help | sed -n '/^Options:/,/^$/p' | awk '/^  -/ { print $1 }' | sort)
		# shellcheck disable=SC2086
		got=$(complete_words kvlbctl $c - | grep -vxF -f <(echo "$globals"))
		[ "$got" = "$opts" ] || { comp_ok=0; echo "# options of '$c': completion '$got', help '$opts'"; }
	done
done
knobs=$(K policy set --help | sed -n '/^Knobs:/,/^$/p' | awk '/^  [a-z]/ { print $1 }' | sort)
[ -n "$knobs" ] && [ "$(complete_words kvlbctl policy set '')" = "$knobs" ] &&
	[ "$(complete_words kvlbctl policy set chunk_size 512 '')" = "$knobs" ] ||
	{ comp_ok=0; echo "# knobs differ"; }
check completion_matches_help [ $comp_ok -eq 1 ]

# The man page documents every command the help lists.
if command -v man >/dev/null; then
	mantext=$(MANWIDTH=200 man -l "$KVLB_TOP/user/kvlbctl/kvlbctl.8" 2>&1 | col -b)
	man_ok=1
	for o in $objects; do
		verbs=$(K "$o" --help | sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z]/ { print $1 }')
		for v in ${verbs:-""}; do
			grep -qE "^ +$o${v:+ $v}( |$)" <<<"$mantext" || { man_ok=0; echo "# man page lacks '$o $v'"; }
		done
	done
	# and every knob with the range and default 'policy set --help' gives
	while read -r knob range _ def; do
		grep -qF "$knob $range ($def)" <<<"$mantext" || { man_ok=0; echo "# man page lacks '$knob $range ($def)'"; }
	done < <(K policy set --help | sed -n '/^Knobs:/,/^$/p' | grep -E '^  [a-z]')
	grep -q "^EXIT STATUS" <<<"$mantext" || man_ok=0
	check man_page_covers_help [ $man_ok -eq 1 ]
else
	skip man_page_covers_help "man is not installed"
fi

# --- a write failing half way is undone ----------------------------------------
# Freezing the ring makes every ring write fail (EPERM) after the backend slot
# was written: the edit must fail and leave the other maps as they were.
# Last, since a frozen map stays frozen.
if bpftool map freeze pinned "$PIN/kvlb_ring" 2>/dev/null; then
	snap >"$WORK/snap0"
	BAD_NAME=failed_write_undone
	bad 1 "writing kvlb_ring" backend add "$V4" 203.0.113.60:8000
	bad 1 "writing kvlb_ring" backend del "$V4" 203.0.113.11:8000
	bad 1 "writing kvlb_ring" backend drain "$V4" 203.0.113.11:8000
	bad 1 "writing kvlb_ring" vip add 192.0.2.61:80
else
	skip failed_write_is_undone "bpftool cannot freeze maps here"
fi

[ -z "$KVLB_FAILED" ]

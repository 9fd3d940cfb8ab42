#!/usr/bin/env python3
"""Read kvlb's pinned maps with bpftool alone, independently of libkvlb.

Decodes the raw bytes with the layouts of include/kvlb.h, so tests can check
what kvlbctl wrote without trusting kvlbctl's own reading of it.

  kvlbmaps.py PIN_ROOT state            VIPs, backends, active ring of each VIP
  kvlbmaps.py PIN_ROOT create           create empty maps (the sizes kvlbd uses)
  kvlbmaps.py PIN_ROOT size STRUCT      sizeof(struct STRUCT) from kvlb.h
"""
import ipaddress
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

RING_SIZE = 16381
MAX_VIPS = 64
NO_BACKEND = 0xFFFFFFFF
F_IN_USE = 1

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../include/kvlb.h")


def sizes():
    """Struct sizes from kvlb.h's _Static_asserts, so the maps made here
    follow a layout change without an edit."""
    text = open(HEADER).read()
    out = {}
    for name, expr in re.findall(r"sizeof\(struct (\w+)\) == ([0-9 *+]+),", text):
        out[name] = int(eval(expr, {"__builtins__": {}}))  # digits and * + only
    return out


def maps():
    z = sizes()
    return [  # name, type, key, value, entries
        ("kvlb_vips", "hash", z["kvlb_vip_key"], z["kvlb_vip"], MAX_VIPS),
        ("kvlb_vip_ports", "array", 4, 4, 65536),
        ("kvlb_backends", "array", 4, z["kvlb_backend"], 1024),
        ("kvlb_ring", "array", 4, 4, MAX_VIPS * 2 * RING_SIZE),
        ("kvlb_flows", "lru_hash", z["kvlb_flow_key"], z["kvlb_flow"], 4096),
        ("kvlb_nat_rev", "lru_hash", z["kvlb_flow_key"], z["kvlb_nat"], 4096),
        ("kvlb_stats", "percpu_array", 4, z["kvlb_stats"], 1),
        ("kvlb_config", "array", 4, z["kvlb_config"], 1),
        ("kvlb_backend_load", "array", 4, z["kvlb_backend_load"], 1024),
        ("kvlb_splice", "lru_hash", z["kvlb_flow_key"], z["kvlb_splice"], 4096),
    ]


def bpftool(*args):
    out = subprocess.run(["bpftool", "-j", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout) if out.stdout.strip() else None


def raw(hexlist):
    return bytes(int(b, 16) for b in hexlist)


def addr(b, family):
    if family == 2:
        return str(ipaddress.IPv4Address(b[:4]))
    return str(ipaddress.IPv6Address(b[:16]))


def endpoint(b, port, family):
    a = addr(b, family)
    return f"[{a}]:{port}" if family == 10 else f"{a}:{port}"


def vips(pin):
    out = []
    for e in bpftool("map", "dump", "pinned", f"{pin}/kvlb_vips"):
        k, v = raw(e["key"]), raw(e["value"])
        port = struct.unpack(">H", k[16:18])[0]
        proto, family = k[18], k[19]
        index, ring_slot, flags, n = struct.unpack("<4I", v)
        out.append({"vip": endpoint(k, port, family), "proto": proto, "family": family,
                    "index": index, "ring_slot": ring_slot, "flags": flags,
                    "n_backends": n, "key_hex": k.hex()})
    return sorted(out, key=lambda x: x["index"])


def backends(pin):
    out = {}
    for e in bpftool("map", "dump", "pinned", f"{pin}/kvlb_backends"):
        k, v = raw(e["key"]), raw(e["value"])
        bid = struct.unpack("<I", k)[0]
        port = struct.unpack(">H", v[16:18])[0]
        family = v[18]
        vip_index, weight, flags = struct.unpack("<3I", v[20:32])
        if flags == 0 and v == bytes(32):
            continue
        out[bid] = {"backend": endpoint(v, port, family) if family else None,
                    "vip_index": vip_index, "weight": weight, "flags": flags}
    return out


def ring(pin, slot):
    """The RING_SIZE entries of one ring slot, in one bpftool process."""
    with tempfile.NamedTemporaryFile("w", suffix=".batch") as f:
        for i in range(slot * RING_SIZE, (slot + 1) * RING_SIZE):
            key = " ".join(str(x) for x in struct.pack("<I", i))
            f.write(f"map lookup pinned {pin}/kvlb_ring key {key}\n")
        f.flush()
        res = bpftool("batch", "file", f.name)
    return [struct.unpack("<I", raw(r["output"]["value"]))[0] for r in res]


def state(pin):
    v = vips(pin)
    s = {"vips": v, "backends": backends(pin), "rings": {}}
    for x in v:
        s["rings"][x["vip"]] = ring(pin, x["ring_slot"])
    return s


def create(pin):
    os.makedirs(pin, exist_ok=True)
    for name, typ, k, v, n in maps():
        subprocess.run(["bpftool", "map", "create", f"{pin}/{name}", "type", typ, "key",
                        str(k), "value", str(v), "entries", str(n), "name", name], check=True)


if __name__ == "__main__":
    pin, what = sys.argv[1], sys.argv[2]
    if what == "create":
        create(pin)
    elif what == "size":
        print(sizes()[sys.argv[3]])
    elif what == "state":
        json.dump(state(pin), sys.stdout, sort_keys=True)
        print()
    else:
        sys.exit(f"unknown request {what}")

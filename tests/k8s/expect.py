#!/usr/bin/env python3
"""Independent oracle: the backends a recorded EndpointSliceList should yield.

Prints one ADDR:PORT per line (IPv6 in brackets): endpoints whose
conditions.ready is not false and terminating is not true, of IPv4/IPv6
slices carrying the named port, optionally on one node. With --pool, the
pages are PodLists and the backends are the Running, Ready, not deleted pods,
each of their IPs with the pool's targetPortNumber. Written from the API
reference, not from kvlb-discover's code.
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pages", nargs="+")
    ap.add_argument("--port-name")
    ap.add_argument("--pool", help="the pages are PodLists of this InferencePool")
    ap.add_argument("--node")
    ap.add_argument("--family", choices=["IPv4", "IPv6"])
    a = ap.parse_args()
    out = set()
    if a.pool:
        with open(a.pool) as f:
            port = json.load(f)["spec"]["targetPortNumber"]
        for page in a.pages:
            with open(page) as f:
                for p in json.load(f)["items"]:
                    st = p.get("status", {})
                    ready = any(c["type"] == "Ready" and c["status"] == "True"
                                for c in st.get("conditions", []))
                    if p["metadata"].get("deletionTimestamp") or st.get("phase") != "Running" \
                            or not ready:
                        continue
                    if a.node and p["spec"].get("nodeName") != a.node:
                        continue
                    ips = [x["ip"] for x in st.get("podIPs") or []] or [st["podIP"]]
                    for addr in ips:
                        fam = "IPv6" if ":" in addr else "IPv4"
                        if a.family and fam != a.family:
                            continue
                        out.add(f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}")
        pages = []
    else:
        pages = a.pages
    for page in pages:
        with open(page) as f:
            lst = json.load(f)
        for s in lst.get("items") or []:
            if s["addressType"] not in ("IPv4", "IPv6"):
                continue
            if a.family and s["addressType"] != a.family:
                continue
            ports = [p["port"] for p in s.get("ports") or [] if p.get("name", "") == a.port_name]
            if not ports:
                continue
            for e in s.get("endpoints") or []:
                c = e.get("conditions") or {}
                if c.get("ready") is False or c.get("terminating") is True:
                    continue
                if a.node and e.get("nodeName") != a.node:
                    continue
                addr = e["addresses"][0]
                out.add(f"[{addr}]:{ports[0]}" if ":" in addr else f"{addr}:{ports[0]}")
    for x in sorted(out):
        print(x)


if __name__ == "__main__":
    main()

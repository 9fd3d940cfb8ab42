#!/usr/bin/env python3
"""Print one thing from scripts/k8s/kvlb-daemonset.yaml for a shell test.

  manifest_get.py MANIFEST caps            kvlbd's added capabilities, "bpf,net_admin,..."
  manifest_get.py MANIFEST template        the ConfigMap's kvlb.conf.in
  manifest_get.py MANIFEST discover-args   the discover container's arguments, one a line,
                                           with $(VAR) resolved as the kubelet would
                                           (NODE_NAME is "node-a")
  manifest_get.py MANIFEST cm KEY          one ConfigMap value
"""
import re
import sys

import yaml


def main():
    docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    cm = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    pod = next(d for d in docs if d["kind"] == "DaemonSet")["spec"]["template"]["spec"]
    conts = {c["name"]: c for c in pod["containers"]}
    what = sys.argv[2]
    if what == "caps":
        caps = conts["kvlbd"]["securityContext"]["capabilities"]["add"]
        print(",".join(c.lower() for c in caps))
    elif what == "template":
        sys.stdout.write(cm["kvlb.conf.in"])
    elif what == "cm":
        print(cm[sys.argv[3]])
    elif what == "discover-args":
        c = conts["discover"]
        env = {}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
            elif "configMapKeyRef" in e.get("valueFrom", {}):
                env[e["name"]] = str(cm[e["valueFrom"]["configMapKeyRef"]["key"]])
            elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
                env[e["name"]] = "node-a"
        for a in c.get("command", [])[1:] + c.get("args", []):
            print(re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1),
                                                                             m.group(0)), a))
    else:
        sys.exit(f"unknown item {what}")


if __name__ == "__main__":
    main()

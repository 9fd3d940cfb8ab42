#!/usr/bin/env python3
"""Checks of scripts/k8s/kvlb-daemonset.yaml that need no cluster.

Prints PASS/FAIL lines. Usage: check_manifest.py MANIFEST KVLBD_HELP_FILE
The properties checked are the ones the deployment relies on: the host
network, exactly the capabilities kvlbd needs and no others, the host's
bpffs mounted without privileged propagation, probes that match what kvlbd
serves, read-only RBAC, and references that resolve inside the file.
"""
import re
import sys

import yaml

KVLBD_CAPS = {"BPF", "NET_ADMIN", "PERFMON"}
failed = False


def check(name, ok, why=""):
    global failed
    if ok:
        print(f"PASS {name}")
    else:
        failed = True
        print(f"FAIL {name}: {why}")


def main():
    docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    help_text = open(sys.argv[2]).read()
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    for k in ("Namespace", "ServiceAccount", "ClusterRole", "ConfigMap", "DaemonSet"):
        check(f"manifest_has_{k}", len(by_kind.get(k, [])) == 1, f"{k} missing or repeated")
    ns = by_kind["Namespace"][0]["metadata"]["name"]
    for d in docs:
        if d["kind"] not in ("Namespace", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
            check(f"namespaced_{d['kind']}", d["metadata"].get("namespace") == ns,
                  f"not in namespace {ns}")

    # RBAC: read EndpointSlices, nothing else, bound to kvlb's account.
    rules = by_kind["ClusterRole"][0]["rules"]
    check("rbac_endpointslices_read_only",
          rules == [{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                     "verbs": ["get", "list", "watch"]}], f"rules are {rules}")
    sa = by_kind["ServiceAccount"][0]["metadata"]["name"]
    bindings = by_kind.get("RoleBinding", []) + by_kind.get("ClusterRoleBinding", [])
    check("rbac_bound_to_service_account", bindings and all(
        b["roleRef"]["name"] == by_kind["ClusterRole"][0]["metadata"]["name"] and
        b["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]
        for b in bindings), "a binding names another role or subject")

    ds = by_kind["DaemonSet"][0]
    pod = ds["spec"]["template"]["spec"]
    check("selector_matches_labels", all(
        ds["spec"]["template"]["metadata"]["labels"].get(k) == v
        for k, v in ds["spec"]["selector"]["matchLabels"].items()), "selector misses the pod")
    check("host_network", pod.get("hostNetwork") is True, "hostNetwork is not true")
    check("dns_with_host_network", pod.get("dnsPolicy") == "ClusterFirstWithHostNet",
          "hostNetwork pods need ClusterFirstWithHostNet to resolve cluster names")
    check("service_account", pod.get("serviceAccountName") == sa, "wrong service account")
    check("gpu_nodes", "nvidia.com/gpu.present" in pod.get("nodeSelector", {}) and any(
        t.get("key") == "nvidia.com/gpu" for t in pod.get("tolerations", [])),
        "no GPU node selector or toleration")
    check("share_process_namespace", pod.get("shareProcessNamespace") is True,
          "kvlb-discover could not signal kvlbd")
    check("no_host_pid_ipc", not pod.get("hostPID") and not pod.get("hostIPC"),
          "hostPID/hostIPC are not needed")

    conts = {c["name"]: c for c in pod["containers"]}
    inits = {c["name"]: c for c in pod.get("initContainers", [])}
    kvlbd = conts.get("kvlbd")
    check("kvlbd_container", kvlbd is not None, "no container named kvlbd")
    if kvlbd is None:
        return
    sc = kvlbd.get("securityContext", {})
    caps = sc.get("capabilities", {})
    check("kvlbd_caps_exact", set(caps.get("add", [])) == KVLBD_CAPS and
          len(caps.get("add", [])) == len(KVLBD_CAPS), f"add is {caps.get('add')}")
    check("kvlbd_caps_drop_all", caps.get("drop") == ["ALL"], f"drop is {caps.get('drop')}")
    check("kvlbd_not_privileged", sc.get("privileged") is False and
          sc.get("allowPrivilegeEscalation") is False, "privileged or escalation allowed")
    for c in list(conts.values()) + list(inits.values()):
        csc = c.get("securityContext", {})
        check(f"{c['name']}_read_only_root", csc.get("readOnlyRootFilesystem") is True,
              "root filesystem writable")
        check(f"{c['name']}_resources", "requests" in c.get("resources", {}) and
              "memory" in c["resources"].get("limits", {}), "no requests or memory limit")
        if c is not kvlbd:
            check(f"{c['name']}_no_caps", csc.get("capabilities", {}).get("drop") == ["ALL"]
                  and not csc.get("capabilities", {}).get("add"), "has capabilities")

    # bpffs from the host, without Bidirectional (which needs privileged).
    vols = {v["name"]: v for v in pod["volumes"]}
    bpf_mounts = [m for m in kvlbd["volumeMounts"] if m["mountPath"] == "/sys/fs/bpf"]
    check("bpffs_mounted", len(bpf_mounts) == 1 and
          vols.get(bpf_mounts[0]["name"], {}).get("hostPath", {}).get("path") == "/sys/fs/bpf",
          "/sys/fs/bpf is not the host's")
    check("bpffs_propagation", bpf_mounts and
          bpf_mounts[0].get("mountPropagation") in (None, "None", "HostToContainer"),
          "Bidirectional propagation requires a privileged container")
    for c in list(conts.values()) + list(inits.values()):
        for m in c.get("volumeMounts", []):
            check(f"{c['name']}_mount_{m['name']}_resolves", m["name"] in vols,
                  "no such volume")

    # Probes: liveness runs a command the image has; readiness asks /healthz
    # on the port kvlbd serves its metrics on by default.
    live = kvlbd.get("livenessProbe", {})
    ready = kvlbd.get("readinessProbe", {})
    check("liveness_probe", live.get("exec", {}).get("command", [""])[0] == "kvlbctl",
          f"liveness is {live}")
    m = re.search(r"default (\d+\.\d+\.\d+\.\d+):(\d+)\)", help_text)
    check("readiness_matches_kvlbd_metrics_listen", m is not None and
          ready.get("httpGet", {}).get("host") == m.group(1) and
          ready.get("httpGet", {}).get("port") == int(m.group(2)) and
          ready["httpGet"].get("path") == "/healthz",
          f"readiness {ready} vs kvlbd --help default {m and m.group(0)}")
    check("grace_period", 0 < pod.get("terminationGracePeriodSeconds", 0) <= 30,
          "kvlbd exits at once on SIGTERM; a long grace period only delays updates")

    # Every ConfigMap key referenced exists.
    cm = by_kind["ConfigMap"][0]
    for c in list(conts.values()) + list(inits.values()):
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                check(f"{c['name']}_env_{e['name']}", ref["name"] == cm["metadata"]["name"] and
                      ref["key"] in cm["data"], f"no key {ref['key']}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

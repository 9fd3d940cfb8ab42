#!/usr/bin/env bash
# The DaemonSet manifest and the Containerfile, checked without a cluster or a
# container engine: the manifest's key properties (tests/k8s/check_manifest.py),
# its kvlb-discover arguments run against the fake API server with the
# ConfigMap's template, kvlbd accepting the result, and every library the
# binaries link provided by a package the Containerfile installs.
. "$(dirname "$0")/../lib.sh"
T=67-k8s-manifest
MAN=$KVLB_TOP/scripts/k8s/kvlb-daemonset.yaml
CF=$KVLB_TOP/scripts/k8s/Containerfile
python3 -c 'import yaml' 2>/dev/null || { skip $T "python3-yaml is not installed"; exit 0; }
command -v openssl >/dev/null || { skip $T "openssl is not installed"; exit 0; }
for b in kvlbd kvlbctl kvlb-discover; do
	[ -x "$KVLB_BUILD/$b" ] || { fail $T "$KVLB_BUILD/$b is not built (make)"; exit 1; }
done

WORK=$(mktemp -d)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
GET() { python3 "$KVLB_TOP/tests/k8s/manifest_get.py" "$MAN" "$@"; }

# --- the manifest's properties ------------------------------------------------
"$KVLB_BUILD/kvlbd" --help >"$WORK/kvlbd-help"
python3 "$KVLB_TOP/tests/k8s/check_manifest.py" "$MAN" "$WORK/kvlbd-help" ||
	KVLB_FAILED=1

# --- the discover container's arguments, run as the kubelet would -------------
. "$KVLB_TOP/tests/k8s/lib.sh"
k8s_fake_api_start || { fail $T "fake API server did not start: $(cat "$WORK/api.err")"; exit 1; }
GET template >"$WORK/template"
mapfile -t args < <(GET discover-args)
[ ${#args[@]} -gt 0 ] || { fail $T "no discover arguments in the manifest"; exit 1; }
# Paths under /run and /etc are the pod's; later options override them here.
"$KVLB_BUILD/kvlb-discover" "${args[@]}" --once --api-server "$API" --token-file "$WORK/token" \
	--ca-file "$WORK/ca.crt" --template "$WORK/template" --output "$WORK/kvlb.conf" \
	--kvlbd-pid-file "$WORK/no-such.pid" 2>"$WORK/discover.err"
check manifest_discover_args_work [ $? -eq 0 ]
want=$(python3 "$K8S/expect.py" "$REC/vllm-v1.json" --port-name "$(GET cm port-name)" \
	--node node-a --family IPv4 | sort)
got=$(awk '$1 == "backend" { print $2 }' "$WORK/kvlb.conf" | sort)
if [ -n "$want" ] && [ "$got" = "$want" ]; then
	pass manifest_discover_backends
else
	fail manifest_discover_backends "got [$got] want [$want]"
fi
"$KVLB_BUILD/kvlbd" --check --config "$WORK/kvlb.conf" --xdp-mode "$(GET cm xdp-mode)" \
	>"$WORK/check.out" 2>&1
check manifest_config_accepted_by_kvlbd [ $? -eq 0 ]

# --- the Containerfile ---------------------------------------------------------
# The runtime stage's package list: the install line after the last FROM.
runtime_pkgs=$(awk '/^FROM/ { last = NR } { line[NR] = $0 } END {
	for (i = last; i in line; i++) print line[i] }' "$CF" |
	sed -n '/apt-get install/,/&&/p' | tr ' \t\\' '\n\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
	grep -v -x -e apt-get -e install -e '-y' | sort -u)
[ -n "$runtime_pkgs" ] || fail containerfile_runtime_packages "no install line found"
missing=()
for b in kvlbd kvlbctl kvlb-discover; do
	for so in $(readelf -d "$KVLB_BUILD/$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		path=$(ldd "$KVLB_BUILD/$b" | awk -v s="$so" '$1 == s { print $3 }')
		pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null ||
			dpkg -S "$(realpath "$path")" 2>/dev/null)
		pkg=${pkg%%:*}
		# libc6 is in every Debian image.
		[ "$pkg" = libc6 ] && continue
		if [ -z "$pkg" ]; then
			missing+=("$b:$so(no package owns $path)")
		elif ! grep -qx "$pkg" <<<"$runtime_pkgs"; then
			missing+=("$b:$so($pkg)")
		fi
	done
done
if [ ${#missing[@]} -eq 0 ]; then
	pass containerfile_runtime_libraries
else
	fail containerfile_runtime_libraries "not installed in the image: ${missing[*]}"
fi
copy=$(grep -E '^COPY --from=build' "$CF")
for b in kvlbd kvlbctl kvlb-discover; do
	check "containerfile_copies_$b" grep -q "/$b" <<<"$copy"
done
# Commands the manifest runs exist in the image.
for cmd in $(python3 -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "DaemonSet":
        s = d["spec"]["template"]["spec"]
        for c in s["containers"] + s.get("initContainers", []):
            print(c["command"][0])
            p = c.get("livenessProbe", {}).get("exec")
            if p:
                print(p["command"][0])' "$MAN" | sort -u); do
	case $cmd in
	/bin/sh) pass manifest_command_sh ;; # dash, in every Debian image
	*) check "manifest_command_$cmd" grep -q "/$cmd\b" <<<"$copy" ;;
	esac
done
exit ${KVLB_FAILED:-0}

#!/usr/bin/env bash
# libkvlb's whole-set edit (kvlb_vip_set_backends) against real maps, made
# here with bpftool; build/tests/test_maps (ASan/UBSan) reports its checks.
. "$(dirname "$0")/../lib.sh"
T=21-maps-lib
need_root $T
for tool in bpftool python3; do
	command -v $tool >/dev/null || { skip $T "$tool is not installed"; exit 0; }
done
bin=$KVLB_BUILD/tests/test_maps
[ -x "$bin" ] || { fail $T "$bin is not built"; exit 1; }
ensure_bpffs || { skip $T "cannot mount bpffs on /sys/fs/bpf"; exit 0; }

PIN=/sys/fs/bpf/kvlb-test-lib-$$
cleanup() {
	rm -rf "$PIN"
	rm -f "/run/kvlb/$(tr / _ <<<"$PIN").lock"
}
trap cleanup EXIT
python3 "$KVLB_TOP/tests/user/kvlbmaps.py" "$PIN" create || { fail $T "cannot create maps"; exit 1; }
out=$("$bin" "$PIN" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
	fail $T "test_maps exited $rc"
fi
# A frozen ring makes every ring write fail: the edit must undo its slots.
if bpftool map freeze pinned "$PIN/kvlb_ring" 2>/dev/null; then
	out=$("$bin" "$PIN" frozen 2>&1)
	rc2=$?
	printf '%s\n' "$out"
	if [ $rc2 -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
		fail $T "test_maps frozen exited $rc2"
	fi
	[ $rc2 -eq 0 ] || rc=1
else
	skip set_backends_failed_write_undone "bpftool cannot freeze maps here"
fi
exit $rc

#!/usr/bin/env bash
# Unit tests of the XDP and TC programs: crafted packets through
# BPF_PROG_TEST_RUN, checking verdicts, exact output bytes, checksums, flow
# entries and counters. build/tests/test_bpf prints one PASS/FAIL/SKIP line
# per scenario; it works in its own network namespace, which ends with it.
. "$(dirname "$0")/../lib.sh"

need_root bpf-unit
bin=$KVLB_BUILD/tests/test_bpf
# The sanitized build when there is one (SAN=1, the default).
[ -x "$KVLB_BUILD/tests/test_bpf-san" ] && bin=$KVLB_BUILD/tests/test_bpf-san
if [ ! -x "$bin" ]; then
	skip bpf-unit "$bin not built (make $bin)"
	exit 0
fi
for o in kvlb_xdp.bpf.o kvlb_tc.bpf.o; do
	if [ ! -f "$KVLB_BUILD/$o" ]; then
		skip bpf-unit "$KVLB_BUILD/$o not built (make)"
		exit 0
	fi
done
if ! command -v ip >/dev/null; then
	echo "note: no ip(8) command; forwarding scenarios will be skipped"
fi
exec "$bin" --obj-dir "$KVLB_BUILD"

#!/usr/bin/env bash
# Unit tests of delayed binding (HTTP VIPs): whole TCP conversations through
# the XDP and TC programs with BPF_PROG_TEST_RUN, packet by packet, IPv4 and
# IPv6 (SYN cookie, held front, choice and SYN to the pod, replay, spliced
# translation, teardown), then 2,000 random packets. build/tests/test_splice
# prints one PASS/FAIL/SKIP line per scenario; it works in its own network
# namespace, which ends with it.
. "$(dirname "$0")/../lib.sh"

need_root bpf-splice
bin=$KVLB_BUILD/tests/test_splice
# The sanitized build when there is one (SAN=1, the default).
[ -x "$KVLB_BUILD/tests/test_splice-san" ] && bin=$KVLB_BUILD/tests/test_splice-san
if [ ! -x "$bin" ]; then
	skip bpf-splice "$bin not built (make $bin)"
	exit 0
fi
for o in kvlb_xdp.bpf.o kvlb_tc.bpf.o; do
	if [ ! -f "$KVLB_BUILD/$o" ]; then
		skip bpf-splice "$KVLB_BUILD/$o not built (make)"
		exit 0
	fi
done
if ! command -v ip >/dev/null; then
	echo "note: no ip(8) command; scenarios that forward will be skipped"
fi
run_unit bpf-splice "$bin" --obj-dir "$KVLB_BUILD"

#!/usr/bin/env bash
# The BPF checks inside VMs on Debian 12's kernels (6.1 and 6.12): verifier
# acceptance of every program, the BPF unit tests, a probe XDP/TC attach,
# one kvlbd end-to-end test (also under tc netem: this machine's kernel has no
# netem), 4,000 streamed requests through an HTTP VIP under tc netem (2,000
# with the faults on the client's side, 2,000 on the pods'), and a kernel log
# free of BUG/WARNING/lockup.
# Each kernel reports its own PASS/FAIL lines (vmtest/vmtest.sh).
# VMTEST_KERNELS overrides the kernel list.
# Two VMs of at most VMTEST_TIMEOUT (600 s) each, and the kernel downloads:
# case-timeout: 1500
. "$(dirname "$0")/../lib.sh"
cd "$KVLB_TOP" || exit 1
status=0
for k in ${VMTEST_KERNELS:-6.1 6.12}; do
	vmtest/vmtest.sh "$k"
	rc=$?
	case $rc in
	0) ;;
	3) skip "vmtest-$k" "this machine cannot boot it (reason above)" ;;
	1) status=1 ;;
	*) fail "vmtest-$k" "vmtest.sh exited $rc (reason above)"; status=1 ;;
	esac
done
exit $status

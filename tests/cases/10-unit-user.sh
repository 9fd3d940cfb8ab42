#!/usr/bin/env bash
# Userspace unit tests (Maglev table, endpoint parsing), built with
# ASan/UBSan by tests/user.mk. Each binary prints its own PASS/FAIL lines.
. "$(dirname "$0")/../lib.sh"

rc=0
for t in test_maglev test_endpoint; do
	run_unit "$t" "$KVLB_BUILD/tests/$t" || rc=1
done
# A short, seeded libFuzzer run of the endpoint parser (the long one is make fuzz).
fz=$KVLB_BUILD/tests/fuzz_endpoint
if [ -x "$fz" ]; then
	corpus=$(mktemp -d)
	trap 'rm -rf "$corpus"' EXIT
	if out=$("$fz" -runs=200000 -seed=1 -max_len=128 "$corpus" "$KVLB_TOP/tests/user/fuzz-seeds" 2>&1); then
		pass fuzz_endpoint_200k_inputs
	else
		fail fuzz_endpoint_200k_inputs "$(grep -m1 -E 'ERROR|abort|SUMMARY' <<<"$out")"
		rc=1
	fi
else
	skip fuzz_endpoint_200k_inputs "$fz is not built (needs clang)"
fi
exit $rc

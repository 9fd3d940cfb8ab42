#!/usr/bin/env bash
# The HTTP/JSON front parser and the prefix chain (bpf/http.h, bpf/prefix.h)
# and the HTTP-aware choice (bpf/choose.h), as userspace C under ASan/UBSan.
# Each binary prints its own PASS/FAIL lines.
. "$(dirname "$0")/../lib.sh"

rc=0
for t in test_http test_choose; do
	run_unit "$t" "$KVLB_BUILD/tests/$t" || rc=1
done
exit $rc

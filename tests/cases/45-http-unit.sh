#!/usr/bin/env bash
# The HTTP/JSON front parser and the prefix chain (bpf/http.h, bpf/prefix.h)
# and the HTTP-aware choice (bpf/choose.h), as userspace C under ASan/UBSan.
# Each binary prints its own PASS/FAIL lines.
. "$(dirname "$0")/../lib.sh"

rc=0
for t in test_http test_choose; do
	bin=$KVLB_BUILD/tests/$t
	if [ ! -x "$bin" ]; then
		fail "$t" "$bin is not built (make $bin)"
		rc=1
		continue
	fi
	out=$("$bin" 2>&1)
	status=$?
	printf '%s\n' "$out"
	if [ $status -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
		# A sanitizer report or crash ends the binary without a FAIL line.
		fail "$t" "exited $status"
	fi
	[ $status -eq 0 ] || rc=1
done
exit $rc

#!/usr/bin/env bash
# Unit tests of kvlbd's configuration parser (ASan/UBSan build).
. "$(dirname "$0")/../lib.sh"
bin=$KVLB_BUILD/tests/test_config
[ -x "$bin" ] || { fail unit-config "$bin is not built (make $bin)"; exit 1; }
out=$("$bin" 2>&1)
status=$?
printf '%s\n' "$out"
[ $status -ne 0 ] && ! grep -q '^FAIL ' <<<"$out" && fail unit-config "exited $status"
exit $status

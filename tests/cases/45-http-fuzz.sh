#!/usr/bin/env bash
# A short bounded libFuzzer run of the HTTP parser, prefix chain and choice
# (tests/http/fuzz_http.c, ASan/UBSan) from the seed corpus. Any crash,
# sanitizer report, or segmented parse that differs from the whole parse
# fails. `make fuzz` runs the same harness for longer.
. "$(dirname "$0")/../lib.sh"

T=http_fuzz
bin=$KVLB_BUILD/tests/fuzz_http
if [ ! -x "$bin" ]; then
	fail $T "$bin is not built (make $bin; needs clang with libFuzzer)"
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# New inputs go to $work, never into the committed corpus.
"$bin" -runs=50000 -max_total_time=60 -max_len=4096 -timeout=10 \
	-dict="$KVLB_TOP/tests/http/http.dict" -artifact_prefix="$work/" \
	"$work" "$KVLB_TOP/tests/http/corpus" >"$work/log" 2>&1
status=$?
runs=$(grep -oE 'Done [0-9]+ runs' "$work/log" | grep -oE '[0-9]+')
if [ $status -eq 0 ] && [ -n "$runs" ]; then
	pass "$T ($runs inputs, $(ls "$KVLB_TOP/tests/http/corpus" | wc -l) seeds)"
else
	tail -25 "$work/log" | sed 's/^/# /'
	fail $T "the fuzzer stopped with status $status"
	exit 1
fi

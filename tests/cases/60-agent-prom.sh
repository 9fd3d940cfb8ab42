#!/usr/bin/env bash
# The Prometheus text parser kvlbd reads model servers with: unit tests
# under ASan/UBSan (escapes, +Inf/NaN, exemplars, timestamps, garbage, 10 MB
# inputs, label limits, recorded vLLM/SGLang/TGI/llama.cpp bodies), then a
# short libFuzzer run from the seed corpus (make fuzz-prom runs longer).
. "$(dirname "$0")/../lib.sh"

rc=0
run_unit prom-unit "$KVLB_BUILD/tests/test_prom" "$KVLB_TOP/tests/prom/samples" || rc=1

fuzz=$KVLB_BUILD/tests/fuzz_prom
if [ ! -x "$fuzz" ]; then
	skip prom-fuzz "$fuzz is not built (needs clang's libFuzzer: libclang-rt-14-dev)"
	exit $rc
fi
corpus=$(mktemp -d /tmp/kvlb-fuzz-prom.XXXX)
trap 'rm -rf "$corpus"' EXIT
cp "$KVLB_TOP"/tests/prom/fuzz-seeds/* "$corpus/"
# Bounded by run count and time, so a slow machine still finishes.
if "$fuzz" -runs=30000 -max_total_time=20 -max_len=65536 -artifact_prefix="$corpus/" "$corpus" >"$corpus/log" 2>&1; then
	pass "prom-fuzz ($(grep -o 'Done [0-9]* runs' "$corpus/log" | head -1))"
else
	fail prom-fuzz "libFuzzer found a crash: $(grep -m3 -E 'ERROR|SUMMARY|abort' "$corpus/log")"
	rc=1
fi
exit $rc

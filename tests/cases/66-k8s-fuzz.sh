#!/usr/bin/env bash
# A short libFuzzer run of the EndpointSlice, InferencePool and pod parsers
# and the renderer (tests/k8s/fuzz_slices.c), seeded with the recorded API
# responses. `make fuzz-k8s` runs it longer. Any crash, leak or undefined
# behaviour fails.
. "$(dirname "$0")/../lib.sh"
T=66-k8s-fuzz
FUZZ=$KVLB_BUILD/tests/fuzz_slices
[ -x "$FUZZ" ] || { skip $T "$FUZZ is not built (needs clang's libFuzzer: libclang-rt-14-dev)"; exit 0; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/corpus"
# The harness reads its first byte as option bits; give each seed every variant.
for f in "$KVLB_TOP"/tests/k8s/recorded/*.json; do
	for sel in 0 1 2 3 5 9 17 32 34; do
		{ printf "\\x$(printf %02x $sel)"; cat "$f"; } >"$WORK/corpus/$sel-$(basename "$f")"
	done
done
if "$FUZZ" -max_total_time=${FUZZ_K8S_TEST_TIME:-10} -max_len=16384 -artifact_prefix="$WORK/" \
	"$WORK/corpus" >"$WORK/log" 2>&1; then
	pass "$T $(grep -o 'Done [0-9]* runs' "$WORK/log")"
else
	fail $T "$(grep -m3 -E 'ERROR|SUMMARY|runtime error' "$WORK/log")"
	exit 1
fi

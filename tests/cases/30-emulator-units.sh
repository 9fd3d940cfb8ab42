#!/usr/bin/env bash
# kvlb-emu's pieces in isolation: the prefix-cache unit test (hash chain, LRU,
# pinning; built with ASan/UBSan) and a short libFuzzer run of the request
# parser (JSON reader and OpenAI validation) on hostile input.
. "$(dirname "$0")/../lib.sh"
T=30-emulator-units
cd "$KVLB_TOP" || exit 1

# Both are built by make test (tests/emulator.mk's TEST_DEPS).
UNIT=$KVLB_BUILD/tests/emu_cache_test
[ -x "$UNIT" ] || { fail $T "$UNIT is not built (make $UNIT)"; exit 1; }
"$UNIT" || exit 1

FUZZ=$KVLB_BUILD/tests/fuzz_emu_request
[ -x "$FUZZ" ] || { fail emu-fuzz-request "$FUZZ is not built (make $FUZZ)"; exit 1; }
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# new inputs go to the scratch corpus; the seeds in the tree stay untouched
if "$FUZZ" -runs=30000 -max_len=4096 -seed=1 "$corpus" tests/emulator/fuzz-seeds \
	>"$corpus/log" 2>&1; then
	pass emu-fuzz-request
else
	tail -30 "$corpus/log"
	fail emu-fuzz-request "the fuzzer found a crash (log above)"
fi

#!/usr/bin/env bash
# kvlb-emu's pieces in isolation: the prefix-cache unit test (hash chain, LRU,
# pinning; built with ASan/UBSan) and a short libFuzzer run of the request
# parser (JSON reader and OpenAI validation) on hostile input.
. "$(dirname "$0")/../lib.sh"
T=30-emulator-units
cd "$KVLB_TOP" || exit 1

UNIT=$KVLB_BUILD/tests/emu_cache_test
if [ ! -x "$UNIT" ]; then
	make --no-print-directory -s "$UNIT" >/dev/null || { fail $T "cannot build $UNIT"; exit 1; }
fi
"$UNIT" || exit 1

FUZZ=$KVLB_BUILD/tests/fuzz_emu_request
if ! make --no-print-directory -s "$FUZZ" >/dev/null 2>"$KVLB_BUILD/fuzz-emu-build.log"; then
	if grep -qi 'fuzzer' "$KVLB_BUILD/fuzz-emu-build.log"; then
		skip emu-fuzz-request "clang cannot link libFuzzer (libclang-rt-14-dev missing?)"
		exit 0
	fi
	fail emu-fuzz-request "cannot build: $(head -3 "$KVLB_BUILD/fuzz-emu-build.log")"
	exit 1
fi
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

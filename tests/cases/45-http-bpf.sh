#!/usr/bin/env bash
# The HTTP parser and the HTTP-aware choice compiled for BPF: the program
# must pass this kernel's verifier, and BPF_PROG_TEST_RUN over the sample
# requests (whole and in segments) must give the parser state userspace
# computes, byte for byte. build/tests/test_http_bpf prints the PASS/FAIL lines.
. "$(dirname "$0")/../lib.sh"

need_root http-bpf
bin=$KVLB_BUILD/tests/test_http_bpf
obj=$KVLB_BUILD/tests/http_verify.bpf.o
for f in "$bin" "$obj"; do
	if [ ! -e "$f" ]; then
		fail http-bpf "$f is not built (make $f)"
		exit 1
	fi
done
run_unit http-bpf "$bin" "$obj"

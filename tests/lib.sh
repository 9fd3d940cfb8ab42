# Shared helpers for shell test cases: reporting, waiting, namespace cleanup.
# Source it from a case: . "$(dirname "$0")/../lib.sh"

KVLB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KVLB_BUILD=${KVLB_BUILD:-$KVLB_TOP/build}

pass() { echo "PASS $*"; }
fail() { echo "FAIL $1: ${*:2}"; KVLB_FAILED=1; }
skip() { echo "SKIP $1: ${*:2}"; }
# check NAME CMD...: PASS when CMD succeeds, FAIL otherwise.
check() {
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

# wait_for TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1)); shift
	while ! "$@" 2>/dev/null; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.05
	done
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		skip "$1" "needs root (network namespaces, BPF)"
		exit 0
	fi
}

ensure_bpffs() {
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
}

# run_unit NAME BIN [ARGS...]: run a unit-test binary that prints its own
# PASS/FAIL lines; an exit without a FAIL line (a sanitizer report, a crash)
# is reported as a failure of NAME. Returns the binary's status.
run_unit() {
	local name=$1 bin=$2 out status
	shift 2
	if [ ! -x "$bin" ]; then
		fail "$name" "$bin is not built (make $bin)"
		return 1
	fi
	out=$("$bin" "$@" 2>&1)
	status=$?
	printf '%s\n' "$out"
	if [ $status -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
		fail "$name" "exited $status (sanitizer report or crash?)"
	fi
	return $status
}

# shellcheck shell=bash
# Shell helpers for the kvlb-emu test cases (sourced after tests/lib.sh).
#
# emu_start VAR ARGS...  start build/kvlb-emu on a free loopback port with ARGS;
#                        sets VAR_PORT, VAR_PID, VAR_URL once /health answers.
# metric URL NAME      first sample of metric NAME; metric_is URL NAME VALUE tests it.
# emu_stop_all           stop every emulator started here (call from the EXIT trap) and
#                        report emu-clean-exit: each exited 0, no sanitizer reports.

# the ASan/UBSan build when there is one, so the HTTP tests also check memory safety
EMU_BIN=${KVLB_EMU:-$KVLB_BUILD/tests/kvlb-emu}
[ -x "$EMU_BIN" ] || EMU_BIN=$KVLB_BUILD/kvlb-emu
EMU_WORK=${EMU_WORK:-$(mktemp -d)}
EMU_PIDS=()

emu_port_of() { sed -n 's/^kvlb-emu: listening on .*:\([0-9][0-9]*\)$/\1/p' "$1"; }

emu_start() {
	local var=$1 log port pid url host=127.0.0.1
	shift
	log=$EMU_WORK/$var.log
	[[ " $* " == *" --listen ["* ]] && host=
	if [ -n "$host" ]; then
		"$EMU_BIN" --listen 127.0.0.1:0 "$@" 2>"$log" &
	else
		"$EMU_BIN" "$@" 2>"$log" &
	fi
	pid=$!
	EMU_PIDS+=("$pid")
	# the bound port is printed once the socket listens
	if ! wait_for 10 grep -q 'listening on' "$log"; then
		echo "kvlb-emu did not start: $(cat "$log")" >&2
		return 1
	fi
	port=$(emu_port_of "$log")
	if [ -n "$host" ]; then
		url=http://127.0.0.1:$port
	else
		url=http://[$(sed -n 's/^kvlb-emu: listening on \[\(.*\)\]:.*/\1/p' "$log")]:$port
	fi
	wait_for 10 curl -gsf -o /dev/null "$url/health" || return 1
	printf -v "${var}_PORT" %s "$port"
	printf -v "${var}_PID" %s "$pid"
	printf -v "${var}_URL" %s "$url"
}

emu_stop_all() {
	local p rc bad=0
	for p in "${EMU_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	# SIGTERM is a clean exit: anything else (a sanitizer report, a leak) is a bug
	for p in "${EMU_PIDS[@]}"; do
		wait "$p" 2>/dev/null
		rc=$?
		[ $rc -eq 0 ] || { echo "kvlb-emu pid $p exited $rc" >&2; bad=1; }
	done
	if grep -l -e 'Sanitizer' -e 'runtime error' "$EMU_WORK"/*.log 2>/dev/null; then
		cat "$EMU_WORK"/*.log >&2
		bad=1
	fi
	[ $bad -eq 0 ] && pass emu-clean-exit || fail emu-clean-exit "an emulator crashed, leaked or misbehaved"
	rm -rf "$EMU_WORK"
}

# metric_is URL NAME VALUE: the metric has that value now (for wait_for).
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }

# metric URL NAME: value of the first sample whose name is NAME (labels ignored).
metric() {
	curl -gsf "$1/metrics" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { print $NF; exit }'
}

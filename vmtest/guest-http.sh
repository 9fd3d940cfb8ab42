# Delayed binding under tc netem, inside the vmtest guest (sourced by
# guest.sh, which defines res/pass/fail, log_lines, wait_for and innet).
#
# An HTTP VIP (kvlbd's "vip ... mode http") in front of three pods running
# kvlb-emu. With loss, delay, reordering and duplication first on the
# client's link (c0 and up0), then on the pods' links (each pod's eth0 and
# the node's vpI), HTTP_N streamed requests per side must:
#  - each come back byte for byte as the same request answered by the same
#    pod directly (over its loopback: no netem, no kvlb), compared by sha256;
#  - never hang: every transfer is bounded by HTTP_MAXTIME, and a transfer
#    that runs out of it counts as a hang;
#  - leave the splice table (kvlb_splice) and the held fronts (kvlb_hold)
#    with at most HTTP_DRAIN_MAX entries once traffic stops.
#
# kvlb-emu's streamed answers are deterministic per request and pod except
# for the request id (a per-server counter) and "created" (the clock's
# second). Both are taken from the answer's own first event and replaced, as
# literal strings, wherever they occur; every other byte is compared.

HTTP_NAME=vh$$
HTTP_PINS=/sys/fs/bpf/kvlb-http$$
HTTP_WORK=/tmp/http$$
HTTP_VIP=192.0.2.20
HTTP_NPODS=3
HTTP_PORT=8000
# Streamed requests per side (client, then pods): 2,000 each unless
# vmtest.sh was given another VMTEST_HTTP_N.
HTTP_N=${HTTP_N:-2000}
# Distinct request bodies; request j sends body j % HTTP_BODIES.
HTTP_BODIES=48
# Transfers in flight at once, and the bound on each.
HTTP_PAR=32
HTTP_MAXTIME=30
HTTP_NETEM="loss 5% delay 2ms 1ms reorder 25% 50% duplicate 3%"
# Entries the tables may keep once traffic stopped: a connection whose last
# segments were lost after its peer stopped retransmitting waits for kvlbd's
# sweep.
HTTP_DRAIN_MAX=5
HTTP_KVLBD_PID=
declare -A HTTP_REF

hctl() { "$BUILD/kvlbctl" --pin-root "$HTTP_PINS" "$@"; }

http_cleanup() {
	[ -n "$HTTP_KVLBD_PID" ] && kill "$HTTP_KVLBD_PID" 2>/dev/null && wait "$HTTP_KVLBD_PID" 2>/dev/null
	HTTP_KVLBD_PID=
	scripts/topo.sh down "$HTTP_NAME" 2>/dev/null
	rm -rf "$HTTP_PINS" "$HTTP_WORK"
}

# http_body B: request body B. Three sizes: one segment, a few segments
# (about 3 KB), and more than the hold limit (8 KiB: about 12 KB), so the pod
# is chosen before the whole body arrived. Chat and completions; answers of
# 8 to 64 tokens.
http_body() {
	local b=$1 words pad toks
	case $((b % 3)) in
	0) words=3 ;;
	1) words=100 ;;
	*) words=430 ;;
	esac
	printf -v pad '%*s' "$words" ''
	pad=${pad// / tell me more about topic $b.}
	toks=$((8 + (b * 7) % 57))
	if [ $((b % 4)) -eq 3 ]; then
		printf '{"model":"kvlb-emu-model","stream":true,"max_tokens":%d,"prompt":"conversation %d:%s"}' \
			"$toks" "$b" "$pad"
	else
		printf '{"model":"kvlb-emu-model","stream":true,"max_tokens":%d,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"conversation %d:%s"}]}' \
			"$toks" "$b" "$pad"
	fi
}

http_path() {
	if [ $(($1 % 4)) -eq 3 ]; then echo /v1/completions; else echo /v1/chat/completions; fi
}

# http_fetch NS HOST COUNT DIR: COUNT streamed requests (request j sends
# body j % HTTP_BODIES) from namespace NS to HOST, HTTP_PAR at once, each on
# a connection of its own and bounded by HTTP_MAXTIME. Answers go to DIR/J;
# DIR/status gets "J curl-exit-code http-code bytes seconds client-port" per
# finished transfer. One curl runs them all: a process per request costs
# too much under emulation. parallel-immediate: by default curl parks a new
# transfer until it knows whether a connection being opened to the same host
# could carry it too, and a transfer parked behind a stalled one would run
# out of its own time without ever connecting.
http_fetch() {
	local ns=$1 host=$2 n=$3 dir=$4 j b
	mkdir -p "$dir"
	{
		echo 'parallel'
		echo 'parallel-immediate'
		echo "parallel-max = $HTTP_PAR"
		for ((j = 0; j < n; j++)); do
			b=$((j % HTTP_BODIES))
			[ "$j" -gt 0 ] && echo 'next'
			echo "url = \"http://$host$(http_path "$b")\""
			echo "data-binary = \"@$HTTP_WORK/body/$b\""
			echo 'header = "Content-Type: application/json"'
			echo 'header = "Connection: close"'
			echo "max-time = $HTTP_MAXTIME"
			echo "output = \"$dir/$j\""
			echo "write-out = \"$j %{exitcode} %{http_code} %{size_download} %{time_total} %{local_port}\\n\""
		done
	} >"$dir.cfg"
	# The outer bound only matters if curl itself stalls; transfers it
	# never reported count as hangs.
	ip netns exec "$ns" timeout $((HTTP_MAXTIME * (n / HTTP_PAR + 2))) \
		curl --no-progress-meter -K "$dir.cfg" >"$dir/status" 2>"$dir.err"
	return 0
}

# http_norm DIR: for each answer DIR/J, write DIR/J.n (the answer with its
# own id and created replaced) and print "J BACKEND" (kvlb_backend of its
# first event, "-" when it has none). A record separator that never occurs
# keeps each file whole, trailing newlines included.
http_norm() {
	local dir=$1
	(cd "$dir" && printf '%s\n' * | grep -E '^[0-9]+$' | xargs -r awk -v RS='\001' '
	{
		s = $0; id = ""; cr = ""; be = "-"
		if (match(s, /"id":"[^"]*"/)) id = substr(s, RSTART, RLENGTH)
		if (match(s, /"created":[0-9]+,/)) cr = substr(s, RSTART, RLENGTH)
		if (match(s, /"kvlb_backend":"[^"]*"/)) be = substr(s, RSTART + 16, RLENGTH - 17)
		# Only an id of the expected form is replaced: it then holds no
		# regular-expression metacharacter.
		if (id ~ /^"id":"c?(hat)?cmpl-[0-9a-f]+"$/) gsub(id, "\"id\":\"ID\"", s)
		if (cr != "") gsub(cr, "\"created\":0,", s)
		printf "%s", s > (FILENAME ".n")
		close(FILENAME ".n")
		print FILENAME, be
	}')
}

# http_refs: every body asked of every pod directly, in its own namespace
# over loopback; HTTP_REF["B podI"] = sha256 of the normalized answer.
# Prints what is wrong and fails when a pod did not answer them all.
http_refs() {
	local i j be dir sha f pids=()
	for ((i = 1; i <= HTTP_NPODS; i++)); do
		http_fetch "$HTTP_NAME-pod$i" "127.0.0.1:$HTTP_PORT" "$HTTP_BODIES" "$HTTP_WORK/ref$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for ((i = 1; i <= HTTP_NPODS; i++)); do
		dir=$HTTP_WORK/ref$i
		[ "$(grep -c ' 0 200 ' "$dir/status")" -eq "$HTTP_BODIES" ] ||
			{ echo "pod$i answered $(grep -c ' 0 200 ' "$dir/status") of $HTTP_BODIES directly"; return 1; }
		http_norm "$dir" >"$dir.backend" || return 1
		while read -r j be; do
			[ "$be" = "pod$i" ] || { echo "pod$i's answer to body $j names '$be'"; return 1; }
			f=$dir/$j
			[[ $(tail -c 14 "$f") == 'data: [DONE]' ]] ||
				{ echo "pod$i's answer to body $j does not end with [DONE]"; return 1; }
			sha=$(sha256sum <"$f.n")
			HTTP_REF["$j pod$i"]=${sha%% *}
		done <"$dir.backend"
	done
}

http_ready() {
	local link list
	link=$(ip -n "$HTTP_NAME-node" link show up0) && [[ $link == *xdp* ]] || return 1
	list=$(hctl backend list "$HTTP_VIP:80") || return 1
	[ "$(grep -c '203\.0\.113\.' <<<"$list")" -eq "$HTTP_NPODS" ]
}

emu_ready() {
	ip netns exec "$HTTP_NAME-pod$1" curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$HTTP_PORT/health"
}

# conns_count: connections in kvlb_splice; holds_count: held request fronts
# in kvlb_hold (bpftool: kvlbctl has no view of that map).
conns_count() { hctl conns --count; }
holds_count() {
	local out
	out=$(bpftool -j map dump pinned "$HTTP_PINS/kvlb_hold") || return 1
	awk '{ n += gsub(/"key":/, "") } END { print n + 0 }' <<<"$out"
}

# conns_left: the connections left and their states, from one reading of
# the table, e.g. "3 (closed:2 spliced:1)".
conns_left() {
	hctl -j conns 2>/dev/null | grep -o '"state":"[a-z]*"' | sort | uniq -c |
		awk '{ sub(/"state":"/, "", $2); sub(/"/, "", $2); n += $1; l = l sep $2 ":" $1; sep = " " }
			END { printf "%d", n; if (n) printf " (%s)", l }'
}

drained() {
	local s h
	s=$(conns_count) && h=$(holds_count) || return 1
	[ "$s" -le "$HTTP_DRAIN_MAX" ] && [ "$h" -le "$HTTP_DRAIN_MAX" ]
}

# stat_line: the delayed-binding counters that are not zero, "name=value ...".
stat_line() {
	hctl stats 2>/dev/null | awk '$1 ~ /^(sp_|http_)/ && $2 != 0 { printf "%s%s=%s", sep, $1, $2; sep = " " }'
}

# netem_on NS:DEV... / netem_off / netem_drops: the impairment on a side's
# links, and the packets netem dropped there.
netem_on() {
	local d
	for d in "$@"; do
		ip netns exec "${d%%:*}" tc qdisc add dev "${d#*:}" root netem $HTTP_NETEM || return 1
	done
}
netem_off() {
	local d
	for d in "$@"; do ip netns exec "${d%%:*}" tc qdisc del dev "${d#*:}" root 2>/dev/null; done
}
netem_drops() {
	local d st sum=0
	for d in "$@"; do
		st=$(ip netns exec "${d%%:*}" tc -s qdisc show dev "${d#*:}")
		[[ $st =~ dropped\ ([0-9]+) ]] && sum=$((sum + BASH_REMATCH[1]))
	done
	echo "$sum"
}

# http_side LABEL NS:DEV...: HTTP_N streamed requests through the VIP with
# netem on DEV..., then the checks.
http_side() {
	local label=$1 dir=$HTTP_WORK/$1 name="HTTP VIP under netem, $1"
	shift
	local j ec code size port be sha want ok=0 hangs=0 errs=0 done_n=0 drops secs first=""
	local -A got
	if ! netem_on "$@" 2>"$HTTP_WORK/netem.err"; then
		fail "$name" "tc netem: $(cat "$HTTP_WORK/netem.err")"
		netem_off "$@"
		return
	fi
	secs=$SECONDS
	http_fetch "$HTTP_NAME-client" "$HTTP_VIP" "$HTTP_N" "$dir"
	secs=$((SECONDS - secs))
	drops=$(netem_drops "$@")
	netem_off "$@"
	http_norm "$dir" >"$dir.backend"
	while read -r j be; do got[$j]=$be; done <"$dir.backend"
	while read -r j ec code size _ port; do
		done_n=$((done_n + 1))
		if [ "$ec" = 28 ]; then
			hangs=$((hangs + 1))
			[ -n "$first" ] || first="request $j (client port $port) timed out with $size bytes"
			continue
		fi
		if [ "$ec" != 0 ] || [ "$code" != 200 ]; then
			errs=$((errs + 1))
			[ -n "$first" ] || first="request $j (client port $port): curl exit $ec, HTTP $code, $size bytes"
			continue
		fi
		sha=$(sha256sum <"$dir/$j.n" 2>/dev/null)
		want=${HTTP_REF["$((j % HTTP_BODIES)) ${got[$j]:--}"]:-}
		if [ -n "$want" ] && [ "${sha%% *}" = "$want" ]; then
			ok=$((ok + 1))
		elif [ -z "$first" ]; then
			first="request $j (client port $port, body $((j % HTTP_BODIES)), ${got[$j]:-no backend}): $size bytes, not the pod's own answer"
		fi
	done <"$dir/status"
	# Transfers curl never reported were still running when it was stopped.
	hangs=$((hangs + HTTP_N - done_n))
	echo "$label: $HTTP_N requests in ${secs}s, $ok byte-exact, $hangs hangs, $errs errors, netem dropped $drops"
	if [ "$ok" -eq "$HTTP_N" ]; then
		pass "$name: $ok of $HTTP_N streamed answers byte-exact"
	else
		fail "$name: streamed answers byte-exact" "$ok of $HTTP_N ($hangs hangs, $errs errors); first: $first"
		[ -s "$dir.err" ] && sort "$dir.err" | uniq -c | sort -rn | head -n 5 | log_lines
	fi
	if [ "$hangs" -eq 0 ]; then
		pass "$name: no hangs (none of $HTTP_N ran out of ${HTTP_MAXTIME}s)"
	else
		fail "$name: no hangs" "$hangs of $HTTP_N ran out of ${HTTP_MAXTIME}s"
	fi
	if [ "$drops" -gt 0 ]; then
		pass "netem dropped packets on the HTTP $label ($drops)"
	else
		fail "netem dropped packets on the HTTP $label" "tc -s qdisc shows none on $*"
	fi
	if wait_for 20 drained; then
		pass "$name: splice table drains ($(conns_left) connections left, $(holds_count) held fronts)"
	else
		fail "$name: splice table drains" \
			"after 20s $(conns_left) connections, $(holds_count) held fronts; want <= $HTTP_DRAIN_MAX each"
		hctl conns 2>&1 | grep -v ' closed ' | head -n 10 | log_lines
	fi
	res "LOG $label: kvlb counters so far: $(stat_line)"
}

check_http_netem() {
	local name="HTTP VIP (delayed binding) under netem" i devs conf=$HTTP_WORK/kvlbd.conf
	local emu="$BUILD/kvlb-emu"
	if [ ! -x "$emu" ]; then
		fail "$name" "$emu was not built"
		return
	fi
	if ! command -v curl >/dev/null; then
		fail "$name" "no curl in the guest"
		return
	fi
	mkdir -p "$HTTP_WORK/body"
	for ((i = 0; i < HTTP_BODIES; i++)); do http_body "$i" >"$HTTP_WORK/body/$i"; done
	scripts/topo.sh up "$HTTP_NAME" "$HTTP_NPODS" ||
		{ fail "$name" "topo.sh up failed"; http_cleanup; return; }
	{
		echo "uplink up0"
		printf 'pod-iface'; for ((i = 1; i <= HTTP_NPODS; i++)); do printf ' vp%d' $i; done; echo
		echo "vip $HTTP_VIP:80 mode http"
		# No metrics URL: scrapes through the lossy pod links would time out
		# and take backends down, which is not what this check is about.
		for ((i = 1; i <= HTTP_NPODS; i++)); do echo "backend 203.0.113.$((10 + i)):$HTTP_PORT"; done
	} >"$conf"
	# A large time scale keeps the emulated model quick; answers still
	# stream as one event per token.
	for ((i = 1; i <= HTTP_NPODS; i++)); do
		ip netns exec "$HTTP_NAME-pod$i" "$emu" --listen "0.0.0.0:$HTTP_PORT" --name "pod$i" \
			--time-scale 1000 --max-batch 64 >"$HTTP_WORK/emu$i.log" 2>&1 &
	done
	for ((i = 1; i <= HTTP_NPODS; i++)); do
		wait_for 20 emu_ready $i ||
			{ fail "$name" "kvlb-emu on pod$i did not answer /health within 20s"
			  log_lines <"$HTTP_WORK/emu$i.log"; http_cleanup; return; }
	done
	innet "$HTTP_NAME-node" "$BUILD/kvlbd" --config "$conf" --pin-root "$HTTP_PINS" \
		>"$HTTP_WORK/kvlbd.log" 2>&1 &
	HTTP_KVLBD_PID=$!
	if ! wait_for 30 http_ready; then
		fail "$name" "kvlbd did not attach XDP to up0 and list $HTTP_NPODS backends within 30s"
		tail -n 20 "$HTTP_WORK/kvlbd.log" | log_lines
		http_cleanup
		return
	fi
	if ! http_refs >"$HTTP_WORK/refs.err"; then
		fail "$name" "reference answers: $(cat "$HTTP_WORK/refs.err")"
		http_cleanup
		return
	fi
	http_side client-side "$HTTP_NAME-client:c0" "$HTTP_NAME-node:up0"
	devs=()
	for ((i = 1; i <= HTTP_NPODS; i++)); do devs+=("$HTTP_NAME-pod$i:eth0" "$HTTP_NAME-node:vp$i"); done
	http_side pod-side "${devs[@]}"
	http_cleanup
}

#!/usr/bin/env bash
# kvlb-discover against a fake API server (tests/k8s/fake_apiserver.py) that
# serves recorded EndpointSlice lists over HTTPS with a throw-away CA. The
# expected backends come from an independent reading of the recordings
# (tests/k8s/expect.py); the signal checks use a process that counts SIGHUPs.
. "$(dirname "$0")/../lib.sh"
T=65-k8s
for tool in python3 openssl; do
	command -v $tool >/dev/null || { skip $T "$tool is not installed"; exit 0; }
done
DISC=$KVLB_BUILD/tests/kvlb-discover # the ASan/UBSan build
[ -x "$DISC" ] || DISC=$KVLB_BUILD/kvlb-discover
[ -x "$DISC" ] || { fail $T "kvlb-discover is not built (make)"; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

. "$KVLB_TOP/tests/k8s/lib.sh"
k8s_fake_api_start || { fail $T "fake API server did not start: $(cat "$WORK/api.err")"; exit 1; }
serve() { k8s_serve "$@"; }

printf 'uplink eth0\npod-iface veth-pod1 veth-pod2\n' >"$WORK/template"
D() {
	"$DISC" --api-server "$API" --token-file "$WORK/token" --ca-file "$WORK/ca.crt" \
		--namespace llm --service vllm "$@"
}
V4=192.0.2.10:80
V6=[2001:db8:a::10]:80
backends() { awk '$1 == "backend" { print $2 }' "$1" | sort; }
# expect_same NAME GOT_FILE EXPECT_ARGS...: backend endpoints equal the oracle's
expect_same() {
	local name=$1 got=$2; shift 2
	local want
	want=$(python3 "$K8S/expect.py" "$@" | sort)
	if [ -z "$want" ]; then
		fail "$name" "the oracle found no backends; the recording is wrong"
	elif [ "$(backends "$got")" = "$want" ]; then
		pass "$name"
	else
		fail "$name" "backends differ: got [$(backends "$got" | tr '\n' ' ')]" \
			"want [$(tr '\n' ' ' <<<"$want")]"
	fi
}
lines() { wc -l <"$WORK/api.log"; }
seen() { [ "$(lines)" -ge "$1" ]; }
# wait_syncs N: wait until the server saw N more requests than now.
wait_syncs() {
	local target=$(($(lines) + $1))
	wait_for 20 seen $target || fail wait_syncs "kvlb-discover stopped asking the API server"
}

# --- one sync: exactly the ready, non-terminating endpoints ------------------
D --port-name http --vip $V4 --vip $V6 --template "$WORK/template" \
	--output "$WORK/all.conf" --once 2>"$WORK/err"
check once_exit_0 [ $? -eq 0 ]
expect_same ready_endpoints_v4_v6 "$WORK/all.conf" "$REC/vllm-v1.json" --port-name http
check template_first [ "$(head -2 "$WORK/all.conf")" = "$(cat "$WORK/template")" ]
# Backends sit under the VIP of their own family.
awk '$1 == "vip" { v = $2 } $1 == "backend" { print v, $2 }' "$WORK/all.conf" >"$WORK/pairs"
check families_under_their_vip bash -c "! grep -v -e '^192.0.2.10:80 203\.' \
	-e '^\[2001:db8:a::10\]:80 \[2001:db8:b::' '$WORK/pairs' | grep -q ."
check selector_sent grep -q 'labelSelector=kubernetes.io%2Fservice-name%3Dvllm' "$WORK/api.log"

# The other port of the same slices, whose order differs between slices.
D --port-name metrics --vip $V4 --output "$WORK/metrics-port.conf" --once 2>>"$WORK/err"
expect_same port_by_name "$WORK/metrics-port.conf" "$REC/vllm-v1.json" --port-name metrics \
	--family IPv4

D --port-name http --vip $V4 --vip $V6 --node node-a --output "$WORK/node.conf" --once \
	2>>"$WORK/err"
expect_same node_filter "$WORK/node.conf" "$REC/vllm-v1.json" --port-name http --node node-a

# Without an IPv6 VIP the IPv6 endpoints are left out, not misplaced.
D --port-name http --vip $V4 --output "$WORK/v4only.conf" --once 2>>"$WORK/err"
expect_same v4_only "$WORK/v4only.conf" "$REC/vllm-v1.json" --port-name http --family IPv4

# A list split into pages with a continue token gives the same result.
cp "$REC/vllm-v1-page1.json" "$WORK/root/llm/vllm.json"
tok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["continue"])' \
	"$REC/vllm-v1-page1.json")
cp "$REC/vllm-v1-page2.json" "$WORK/root/llm/vllm.continue-$tok.json"
D --port-name http --vip $V4 --vip $V6 --template "$WORK/template" --output "$WORK/paged.conf" \
	--once 2>>"$WORK/err"
check paged_list_same_result cmp -s "$WORK/paged.conf" "$WORK/all.conf"
check continue_token_sent grep -q "continue=$tok" "$WORK/api.log"
serve vllm-v1.json

# Metrics URL, server kind, mode, weight; IPv6 URLs bracketed.
D --port-name http --vip $V4 --vip $V6 --mode http --metrics-path /metrics --metrics-port 9400 \
	--server vllm --weight 3 --template "$WORK/template" --output "$WORK/full.conf" --once \
	2>>"$WORK/err"
check backend_line_v6 grep -qxF 'backend [2001:db8:b::11]:8000 weight 3 metrics http://[2001:db8:b::11]:9400/metrics server vllm' "$WORK/full.conf"
check backend_line_v4 grep -qxF 'backend 203.0.113.14:8000 weight 3 metrics http://203.0.113.14:9400/metrics server vllm' "$WORK/full.conf"
check vip_line_mode grep -qxF "vip $V6 mode http" "$WORK/full.conf"

# kvlbd itself accepts what was generated.
if [ -x "$KVLB_BUILD/kvlbd" ]; then
	check kvlbd_check_accepts "$KVLB_BUILD/kvlbd" --check --config "$WORK/full.conf"
else
	fail kvlbd_check_accepts "$KVLB_BUILD/kvlbd is not built"
fi

# --- errors: clear message, non-zero exit, output untouched -------------------
cp "$WORK/all.conf" "$WORK/keep.conf"
"$DISC" --api-server "$API" --token-file "$WORK/badtoken" --ca-file "$WORK/ca.crt" \
	--namespace llm --service vllm --port-name http --vip $V4 --output "$WORK/keep.conf" \
	--once 2>"$WORK/err.token"
rc=$?
check wrong_token_fails [ $rc -eq 1 ]
check wrong_token_message grep -q 'rejected the token (HTTP 401): Unauthorized' "$WORK/err.token"
check wrong_token_file_untouched cmp -s "$WORK/keep.conf" "$WORK/all.conf"

# An API server whose certificate the CA file does not vouch for.
"$DISC" --api-server "$API" --token-file "$WORK/token" --ca-file /etc/ssl/certs/ca-certificates.crt \
	--namespace llm --service vllm --port-name http --vip $V4 --output "$WORK/keep.conf" \
	--once 2>"$WORK/err.ca"
check untrusted_server_fails [ $? -eq 1 ]
check untrusted_server_not_asked bash -c "! grep -q badtoken '$WORK/api.log'"

for bad in malformed-truncated.json malformed-type.json; do
	serve $bad
	D --port-name http --vip $V4 --output "$WORK/keep.conf" --once 2>"$WORK/err.bad"
	check "malformed_fails_${bad%.json}" [ $? -eq 1 ]
	check "malformed_file_untouched_${bad%.json}" cmp -s "$WORK/keep.conf" "$WORK/all.conf"
	grep -E 'error: EndpointSlices of llm/vllm: (not JSON|slice vllm-b9w4m: endpoints\[0\]\.addresses is not)' \
		"$WORK/err.bad" >/dev/null
	check "malformed_message_${bad%.json}" [ $? -eq 0 ]
done
serve vllm-v1.json

D --vip $V4 --output "$WORK/x.conf" --once 2>"$WORK/err.ports"
check two_ports_need_port_name grep -q 'has 2 ports; choose one with --port-name' "$WORK/err.ports"
"$DISC" --vip $V4 --output "$WORK/x.conf" --namespace llm --once 2>/dev/null
check usage_missing_service [ $? -eq 2 ]
"$DISC" --api-server "http://127.0.0.1:1" --token-file "$WORK/token" --namespace llm \
	--service vllm --vip $V4 --output "$WORK/x.conf" --once 2>"$WORK/err.http"
check usage_refuses_plain_http [ $? -eq 2 ]
"$DISC" --namespace 'llm/../kube-system' --service vllm --api-server "$API" --vip $V4 \
	--output "$WORK/x.conf" --once 2>/dev/null
check usage_rejects_bad_namespace [ $? -eq 2 ]

# --- InferencePool: the ready pods its selector picks, on its target port -----
cp "$REC/pool-llama3-chat.json" "$WORK/root/llm/pool-llama3-chat.json"
cp "$REC/pods-llama3-chat.json" "$WORK/root/llm/pods.json"
P() {
	"$DISC" --api-server "$API" --token-file "$WORK/token" --ca-file "$WORK/ca.crt" \
		--namespace llm --inference-pool llama3-chat --vip $V4 --vip $V6 --once "$@"
}
P --output "$WORK/pool.conf" 2>"$WORK/err.pool"
check pool_once_ok [ $? -eq 0 ]
expect_same pool_ready_pods "$WORK/pool.conf" "$REC/pods-llama3-chat.json" \
	--pool "$REC/pool-llama3-chat.json"
# The selector goes out as the pool states it: keys sorted, URL-escaped.
sel=$(python3 -c 'import json, sys, urllib.parse
s = json.load(open(sys.argv[1]))["spec"]["selector"]
print(urllib.parse.quote(",".join(f"{k}={v}" for k, v in sorted(s.items())), safe=""))' \
	"$REC/pool-llama3-chat.json")
check pool_selector_sent grep -qF "/api/v1/namespaces/llm/pods?labelSelector=$sel&" "$WORK/api.log"
P --node node-a --output "$WORK/pool-a.conf" 2>>"$WORK/err.pool"
expect_same pool_node_filter "$WORK/pool-a.conf" "$REC/pods-llama3-chat.json" \
	--pool "$REC/pool-llama3-chat.json" --node node-a
check pool_kvlbd_accepts "$KVLB_BUILD/kvlbd" --check --config "$WORK/pool.conf"
P --port-name http --output "$WORK/x.conf" 2>/dev/null
check pool_rejects_port_name [ $? -eq 2 ]
cp "$WORK/pool.conf" "$WORK/pool.before"
cp "$REC/pool-bad-selector.json" "$WORK/root/llm/pool-llama3-chat.json"
P --output "$WORK/pool.conf" 2>"$WORK/err.badpool"
check pool_bad_selector_fails [ $? -eq 1 ]
check pool_bad_selector_message grep -q "InferencePool llm/llama3-chat: selector label 'app' is not a valid label" "$WORK/err.badpool"
check pool_bad_selector_file_untouched cmp -s "$WORK/pool.conf" "$WORK/pool.before"

# --- running: SIGHUP exactly once per change, none otherwise ------------------
python3 -c '
import signal, sys
n = 0
def hup(*_):
    global n
    n += 1
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(n))
    import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.signal(signal.SIGHUP, hup)
open(sys.argv[2], "w").close()
while True:
    signal.pause()
' "$WORK/hups" "$WORK/hup-ready" &
HUP_PID=$!
PIDS+=($HUP_PID)
echo $HUP_PID >"$WORK/kvlbd.pid"
wait_for 10 test -e "$WORK/hup-ready" || { fail $T "SIGHUP counter did not start"; exit 1; }
hups() { cat "$WORK/hups" 2>/dev/null || echo 0; }

cp "$WORK/all.conf" "$WORK/run.conf"
ino=$(stat -c %i "$WORK/run.conf")
# Not through D: $! must be kvlb-discover itself, not a subshell.
"$DISC" --api-server "$API" --token-file "$WORK/token" --ca-file "$WORK/ca.crt" \
	--namespace llm --service vllm --port-name http --vip $V4 --vip $V6 \
	--template "$WORK/template" --output "$WORK/run.conf" --interval 50 \
	--kvlbd-pid-file "$WORK/kvlbd.pid" 2>"$WORK/run.err" &
DPID=$!
PIDS+=($DPID)
wait_syncs 4
check loop_unchanged_no_signal [ "$(hups)" = 0 ]
check loop_unchanged_not_rewritten [ "$(stat -c %i "$WORK/run.conf")" = "$ino" ]

serve vllm-v2.json
wait_for 20 grep -q '^backend 203.0.113.13:8000' "$WORK/run.conf"
check loop_change_written [ $? -eq 0 ]
expect_same loop_change_content "$WORK/run.conf" "$REC/vllm-v2.json" --port-name http
wait_for 10 test "$(hups)" -ge 1
wait_syncs 4
check loop_change_one_signal [ "$(hups)" = 1 ]

# Bad data while running: the file and kvlbd are left alone, the loop goes on.
cp "$WORK/run.conf" "$WORK/run.before"
serve malformed-type.json
wait_syncs 4
check loop_malformed_file_kept cmp -s "$WORK/run.conf" "$WORK/run.before"
check loop_malformed_no_signal [ "$(hups)" = 1 ]
check loop_malformed_logged grep -q 'addresses is not a non-empty array (file left as it was' \
	"$WORK/run.err"
check loop_survives kill -0 $DPID

# Recovery: back to v1, one more signal.
serve vllm-v1.json
wait_for 20 cmp -s "$WORK/run.conf" "$WORK/all.conf"
check loop_recovers [ $? -eq 0 ]
wait_for 10 test "$(hups)" -ge 2
wait_syncs 4
check loop_recovery_one_signal [ "$(hups)" = 2 ]

# SIGTERM stops it cleanly, with status 0 (and no sanitizer report).
kill -TERM $DPID
wait $DPID
rc=$?
check loop_sigterm_exit_0 [ $rc -eq 0 ]
# --- --watch: a change arrives through the watch, long before any resync -----
serve vllm-v1.json
cp "$WORK/all.conf" "$WORK/watch.conf"
h0=$(hups)
"$DISC" --api-server "$API" --token-file "$WORK/token" --ca-file "$WORK/ca.crt" \
	--namespace llm --service vllm --port-name http --vip $V4 --vip $V6 \
	--template "$WORK/template" --output "$WORK/watch.conf" --watch --interval 600000 \
	--kvlbd-pid-file "$WORK/kvlbd.pid" 2>"$WORK/watch.err" &
WPID=$!
PIDS+=($WPID)
rv1=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["metadata"]["resourceVersion"])' "$REC/vllm-v1.json")
rv2=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["metadata"]["resourceVersion"])' "$REC/vllm-v2.json")
wait_for 10 grep -q "watch=1&resourceVersion=$rv1&" "$WORK/api.log"
check watch_from_list_version [ $? -eq 0 ]
check watch_unchanged_no_signal [ "$(hups)" = "$h0" ]
serve vllm-v2.json
wait_for 20 grep -q '^backend 203.0.113.13:8000' "$WORK/watch.conf"
check watch_change_written [ $? -eq 0 ]
expect_same watch_change_content "$WORK/watch.conf" "$REC/vllm-v2.json" --port-name http
wait_for 10 grep -q "watch=1&resourceVersion=$rv2&" "$WORK/api.log"
check watch_again_from_new_version [ $? -eq 0 ]
wait_for 10 test "$(hups)" -ge $((h0 + 1))
check watch_one_signal [ "$(hups)" = $((h0 + 1)) ]
# SIGTERM ends a watch that is waiting on the server.
kill -TERM $WPID
wait $WPID
check watch_sigterm_exit_0 [ $? -eq 0 ]

if grep -q 'Sanitizer' "$WORK/run.err" "$WORK/err" "$WORK/err.bad" "$WORK/err.token" \
	"$WORK/err.pool" "$WORK/err.badpool" "$WORK/watch.err" 2>/dev/null; then
	fail sanitizers "$(grep -h -m3 Sanitizer "$WORK"/*err* "$WORK/run.err")"
else
	pass sanitizers_quiet
fi
exit ${KVLB_FAILED:-0}

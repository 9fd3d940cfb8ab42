#!/usr/bin/env bash
# kvlb-emu over loopback: the OpenAI API, SSE framing, the prefix cache (hits,
# shared prefixes, LRU eviction) against hand-computed figures, metrics that
# promtool accepts and that agree with the usage objects, the emulator's own
# TTFT figures, and bad requests. Timing is never asserted, only emulated
# figures the emulator reports.
. "$(dirname "$0")/../lib.sh"
. "$KVLB_TOP/tests/emulator/testlib.sh"
T=30-emulator
for tool in curl jq promtool; do
	command -v $tool >/dev/null || { skip $T "$tool is not installed"; exit 0; }
done
[ -x "$EMU_BIN" ] || { fail $T "kvlb-emu is not built (make)"; exit 1; }
trap emu_stop_all EXIT
W=$EMU_WORK

# post URL PATH BODY: status on stdout; body in $W/body, headers in $W/hdr.
post() {
	curl -gs -o "$W/body" -D "$W/hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "$3" "$1$2"
}
hdr() { tr -d '\r' <"$W/hdr" | awk -v h="$1:" 'tolower($1) == h { print $2 }'; }
tokens() { echo $(((${#1} + 3) / 4)); }
# a run of N bytes of text made from TAG (ASCII, deterministic)
text() { local s=""; while [ ${#s} -lt "$2" ]; do s+="$1 lorem ipsum dolor sit amet. "; done; echo "${s:0:$2}"; }
jqe() { jq -e "$@" >/dev/null; }
completion() { jq -cn --arg p "$1" --argjson n "${2:-4}" '{prompt:$p, max_tokens:$n}'; }

emu_start A --name emu-a --seed 7 --time-scale 1000 --prefill-rate 4000 ||
	{ fail $T "emulator did not start"; exit 1; }

# --- CLI -----------------------------------------------------------------
"$EMU_BIN" --help | grep -q -- '--prefill-rate TOK/S'
check cli_help [ $? -eq 0 ]
"$EMU_BIN" --block-size 0 2>"$W/err"; rc=$?
check cli_bad_value [ $rc -eq 1 ] && grep -q 'block-size' "$W/err"
"$EMU_BIN" --listen nonsense 2>"$W/err"; rc=$?
check cli_bad_listen [ $rc -eq 1 ]

# --- basic API -------------------------------------------------------------
curl -gsf -D "$W/hdr" -o /dev/null "$A_URL/health"
check health_backend_header [ "$(hdr x-kvlb-backend)" = emu-a ]
curl -gsf "$A_URL/v1/models" >"$W/models"
check models_list jqe '.object == "list" and .data[0].id == "kvlb-emu-model" and
	.kvlb_backend == "emu-a"' "$W/models" >/dev/null

# chat tokenization is documented: "<role>: <content>\n" per message, 4 bytes a token
sys="You are terse."
usr="Tell me about prefix caches, please, in some detail."
expect=$(tokens "system: $sys
user: $usr
")
body=$(jq -cn --arg s "$sys" --arg u "$usr" '{model:"kvlb-emu-model", max_tokens:5,
	messages:[{role:"system",content:$s},{role:"user",content:[{type:"text",text:$u}]}]}')
st=$(post "$A_URL" /v1/chat/completions "$body")
check chat_status [ "$st" = 200 ]
check chat_shape jqe --argjson p "$expect" '.object == "chat.completion" and
	.choices[0].message.role == "assistant" and .usage.prompt_tokens == $p and
	.usage.completion_tokens == 5 and .usage.total_tokens == $p + 5 and
	(.choices[0].message.content | length) == 20 and .choices[0].finish_reason == "length" and
	.usage.prompt_tokens_details.cached_tokens == 0 and .kvlb_backend == "emu-a"' "$W/body"
check chat_headers [ "$(hdr x-kvlb-backend)" = emu-a ] && [ "$(hdr x-kvlb-prompt-tokens)" = "$expect" ]
chat_text=$(jq -r '.choices[0].message.content' "$W/body")

# deterministic text: same request, same words; kvlb_output_tokens forces the length
post "$A_URL" /v1/chat/completions "$body" >/dev/null
check chat_deterministic [ "$(jq -r '.choices[0].message.content' "$W/body")" = "$chat_text" ]
post "$A_URL" /v1/chat/completions "$(jq -c '.kvlb_output_tokens = 3 | del(.max_tokens)' <<<"$body")" >/dev/null
check forced_output_tokens jqe '.usage.completion_tokens == 3 and
	.choices[0].finish_reason == "stop"' "$W/body"

# --- prefix cache: hand-computed hits ------------------------------------------
# block = 16 tokens = 64 bytes. P1 is 5 full blocks and a bit (345 bytes = 87 tokens).
p1=$(text alpha 345)
t1=$(tokens "$p1")
post "$A_URL" /v1/completions "$(completion "$p1")" >/dev/null
c1=$(jq .usage.prompt_tokens_details.cached_tokens "$W/body")
post "$A_URL" /v1/completions "$(completion "$p1")" >/dev/null
c2=$(jq .usage.prompt_tokens_details.cached_tokens "$W/body")
check cache_cold_then_hit [ "$c1" = 0 ] && [ "$c2" = $((t1 / 16 * 16)) ] && [ "$c2" = 80 ]
check cache_hit_header [ "$(hdr x-kvlb-cached-tokens)" = "$c2" ]
# P2 shares exactly the first 3 blocks (192 bytes) of P1, then differs
p2="${p1:0:192}$(text beta 300)"
post "$A_URL" /v1/completions "$(completion "$p2")" >/dev/null
check cache_shared_prefix [ "$(jq .usage.prompt_tokens_details.cached_tokens "$W/body")" = 48 ]
# a change inside block 0 breaks the whole chain
p3="X${p1:1}"
post "$A_URL" /v1/completions "$(completion "$p3")" >/dev/null
check cache_chain_breaks [ "$(jq .usage.prompt_tokens_details.cached_tokens "$W/body")" = 0 ]

# --- TTFT figures (emulated, from the emulator's own header) -----------------
# sequential requests never queue, so TTFT = max(1, uncached) / prefill rate exactly
ttft_ok=1 prev=0
for n in 400 1600 6400; do
	p=$(text "fresh$n" "$n")
	post "$A_URL" /v1/completions "$(completion "$p" 1)" >/dev/null
	got=$(hdr x-kvlb-ttft-ms)
	want=$(awk -v t="$(tokens "$p")" 'BEGIN { printf "%.3f", t / 4000 * 1000 }')
	[ "$got" = "$want" ] || { ttft_ok=0; echo "ttft for $n bytes: $got, expected $want"; }
	awk -v a="$got" -v b="$prev" 'BEGIN { exit !(a > b) }' || ttft_ok=0
	prev=$got
done
check ttft_grows_with_uncached_tokens [ $ttft_ok = 1 ]
post "$A_URL" /v1/completions "$(completion "$p" 1)" >/dev/null
hit_ttft=$(hdr x-kvlb-ttft-ms)
check ttft_smaller_when_cached awk -v a="$hit_ttft" -v b="$prev" 'BEGIN { exit !(a < b) }'

# --- streaming SSE with curl -N ------------------------------------------------
sbody=$(jq -c '.stream = true | .stream_options = {include_usage: true}' <<<"$body")
curl -gsN -D "$W/hdr" -H 'Content-Type: application/json' --data-binary "$sbody" \
	"$A_URL/v1/chat/completions" >"$W/sse"
check sse_content_type grep -qi '^content-type: text/event-stream' "$W/hdr"
check sse_only_data_lines [ "$(grep -cv -e '^data: ' -e '^$' "$W/sse")" = 0 ]
check sse_ends_done [ "$(grep -v '^$' "$W/sse" | tail -1)" = "data: [DONE]" ]
grep '^data: {' "$W/sse" | sed 's/^data: //' >"$W/chunks"
check sse_chunks_json jqe -s 'length >= 7 and all(.[]; .object == "chat.completion.chunk")' "$W/chunks"
check sse_text_matches [ "$(jq -j '.choices[0].delta.content // empty' "$W/chunks")" = "$chat_text" ]
check sse_usage_last jqe -s --argjson p "$expect" '.[-1].choices == [] and
	.[-1].usage.prompt_tokens == $p and .[-1].usage.completion_tokens == 5 and
	.[-1].usage.prompt_tokens_details.cached_tokens == 16 and
	.[-2].choices[0].finish_reason == "length" and .[0].choices[0].delta.role == "assistant"' \
	"$W/chunks"
# without include_usage there is no usage chunk
curl -gsN --data-binary "$(completion "$p1" 3 | jq -c '.stream = true')" "$A_URL/v1/completions" >"$W/sse2"
check sse_no_usage_by_default [ "$(grep -c '"usage"' "$W/sse2")" = 0 ] &&
	[ "$(grep -c '^data: {' "$W/sse2")" = 3 ] && [ "$(grep -v '^$' "$W/sse2" | tail -1)" = "data: [DONE]" ]

# --- metrics agree with the usage objects ----------------------------------------
# a fresh emulator with a 4-block cache: eviction is easy to provoke
emu_start B --name emu-b --cache-blocks 4 --time-scale 1000 || { fail $T "emulator B"; exit 1; }
sum_p=0 sum_c=0 seq=""
b_req() {
	post "$B_URL" /v1/completions "$(completion "$1" 2)" >/dev/null
	local c
	c=$(jq .usage.prompt_tokens_details.cached_tokens "$W/body")
	sum_p=$((sum_p + $(jq .usage.prompt_tokens "$W/body"))) sum_c=$((sum_c + c))
	seq+="$c "
}
x=$(text xray 260) # 65 tokens: 4 full blocks, the whole cache
y=$(text yank 260)
b_req "$x"; b_req "$x"; b_req "$y"; b_req "$y"; b_req "$x"
check lru_eviction [ "$seq" = "0 64 0 64 0 " ] || echo "cached sequence: $seq"
check metrics_queries_match [ "$(metric "$B_URL" vllm:prefix_cache_queries_total)" = "$sum_p.0" ]
check metrics_hits_match [ "$(metric "$B_URL" vllm:prefix_cache_hits_total)" = "$sum_c.0" ]
check metrics_prompt_tokens [ "$(metric "$B_URL" vllm:prompt_tokens_total)" = "$sum_p.0" ]
check metrics_idle_gauges [ "$(metric "$B_URL" vllm:num_requests_running)" = 0.0 ] &&
	[ "$(metric "$B_URL" vllm:kv_cache_usage_perc)" = 0.0 ]
check metrics_ttft_count [ "$(metric "$B_URL" vllm:time_to_first_token_seconds_count)" = 5.0 ]

# promtool: parse errors fail; the only lint allowed is what the real names draw
promtool_ok() {
	curl -gsf "$1/metrics" >"$W/m" || return 1
	promtool check metrics <"$W/m" >"$W/lint" 2>&1
	local rc=$?
	[ $rc -eq 0 ] || [ $rc -eq 3 ] || { cat "$W/lint"; return 1; }
	# lint findings that the real servers' own names draw are expected, no others
	! grep -v -e "metric names should not contain ':'" \
		-e "^sglang:[a-z_]*_histogram metric name should not include type 'histogram'" \
		"$W/lint"
}
check promtool_vllm promtool_ok "$A_URL"
emu_start S --flavor sglang --model my/model --cache-blocks 8 --time-scale 1000 ||
	{ fail $T "emulator S"; exit 1; }
post "$S_URL" /v1/completions "$(completion "$x" 2)" >/dev/null
post "$S_URL" /v1/completions "$(completion "$x" 2)" >/dev/null
check promtool_sglang promtool_ok "$S_URL"
check sglang_names [ "$(metric "$S_URL" sglang:cached_tokens_total)" = 64.0 ] &&
	[ "$(metric "$S_URL" sglang:prompt_tokens_total)" = 130.0 ] &&
	grep -q '^sglang:num_queue_reqs{engine_type="unified",model_name="my/model",' "$W/m" &&
	grep -q '^sglang:cache_config_info{num_pages="8",page_size="16"} 1.0$' "$W/m" &&
	! grep -q '^vllm:' "$W/m"
# counters print as prometheus_client does: 1100000 tokens is 1.1e+06
emu_start G --decode-rate 1e9 --max-model-len 2000000 --time-scale 1000 || { fail $T "emulator G"; exit 1; }
curl -gsf -o /dev/null --data-binary '{"prompt":"go","kvlb_output_tokens":1100000}' "$G_URL/v1/completions"
check python_float_format [ "$(metric "$G_URL" vllm:generation_tokens_total)" = 1.1e+06 ] &&
	curl -gsf "$G_URL/metrics" | grep -q '^vllm:request_generation_tokens_bucket{engine="0",le="1e+06",model_name="kvlb-emu-model"} 0.0$'
check vllm_buckets bash -c "curl -gsf '$A_URL/metrics' | grep -c '^vllm:time_to_first_token_seconds_bucket' | grep -qx 23"

# --- queueing and aborts: one running, one waiting -----------------------------
# decode at 1 token/s keeps the first request running as long as the test needs
emu_start Q --max-batch 1 --decode-rate 1 --time-scale 1000 --max-model-len 1000000 ||
	{ fail $T "emulator Q"; exit 1; }
curl -gsN --data-binary "$(jq -cn '{prompt:"abandoned", kvlb_output_tokens:500000, stream:true}')" \
	"$Q_URL/v1/completions" >/dev/null &
q1=$!
wait_for 10 metric_is "$Q_URL" vllm:num_requests_running 1.0
check queue_running_gauge [ $? -eq 0 ]
# the running request holds KV blocks (its prompt and output) that count as used
check kv_usage_while_running awk -v u="$(metric "$Q_URL" vllm:kv_cache_usage_perc)" 'BEGIN { exit !(u > 0) }'
curl -gs -D "$W/q2.hdr" -o /dev/null --data-binary "$(completion "second request" 1)" \
	"$Q_URL/v1/completions" &
q2=$!
wait_for 10 metric_is "$Q_URL" vllm:num_requests_waiting 1.0
check queue_waiting_gauge [ $? -eq 0 ]
# a third client gives up while still queued: it leaves the queue
curl -gs -o /dev/null --data-binary "$(completion "third request" 1)" "$Q_URL/v1/completions" &
q3=$!
wait_for 10 metric_is "$Q_URL" vllm:num_requests_waiting 2.0
kill $q3
wait $q3 2>/dev/null
wait_for 10 metric_is "$Q_URL" vllm:num_requests_waiting 1.0
check abort_while_waiting [ $? -eq 0 ]
# the first client goes away: its request is aborted, which lets the second run
kill $q1
wait $q1 2>/dev/null
wait $q2
wait_for 10 metric_is "$Q_URL" vllm:num_requests_running 0.0
check abort_frees_batch [ $? -eq 0 ] &&
	curl -gsf "$Q_URL/metrics" | grep -q '^vllm:request_success_total{engine="0",finished_reason="abort",model_name="kvlb-emu-model"} 2.0$'
q2_ttft=$(tr -d '\r' <"$W/q2.hdr" | awk 'tolower($1) == "x-kvlb-ttft-ms:" { print $2 }')
# alone: 4 tokens / 8000 per s = 0.5 ms; it queued for at least the poll above,
# which is more than 0.1 ms of wall time, so 100 ms of emulated time
check queue_in_ttft awk -v t="$q2_ttft" 'BEGIN { exit !(t > 100) }'

# --- clients that give up at varied points: every request is accounted for --------
# streaming clients hang up after some bytes (so their request surely arrived),
# every third client reads a whole plain answer
emu_start C --max-batch 4 --decode-rate 200 --time-scale 5 || { fail $T "emulator C"; exit 1; }
pids=()
for i in $(seq 1 40); do
	cbody="{\"prompt\":\"chaos $((i % 5)) $(text c $((i * 37 % 3000)))\",\"max_tokens\":$((i * 13 % 500 + 1))"
	if [ $((i % 3)) = 0 ]; then
		curl -gs -o /dev/null --data-binary "$cbody}" "$C_URL/v1/completions" &
	else
		curl -gsN --data-binary "$cbody,\"stream\":true}" "$C_URL/v1/completions" 2>/dev/null |
			head -c $((i * 97 % 2000 + 100)) >/dev/null &
	fi
	pids+=($!)
done
wait "${pids[@]}"
drained() {
	metric_is "$C_URL" vllm:num_requests_running 0.0 &&
		metric_is "$C_URL" vllm:num_requests_waiting 0.0 &&
		metric_is "$C_URL" vllm:kv_cache_usage_perc 0.0
}
wait_for 10 drained
check chaos_drains [ $? -eq 0 ]
check chaos_all_accounted [ "$(curl -gsf "$C_URL/metrics" |
	awk '/^vllm:request_success_total/ { n += $NF } END { print n }')" = 40 ]
# streams of hundreds of tokens at 1 ms each outlast a reader that stops after 2 kB
check chaos_aborts_seen awk -v n="$(curl -gsf "$C_URL/metrics" |
	awk '/^vllm:request_success_total.*"abort"/ { print $NF }')" 'BEGIN { exit !(n >= 1) }'

# --- bad requests: JSON errors, right status, server stays up ----------------------
err_ok() { # STATUS: the last response is that status with a vLLM-style error object
	[ "$st" = "$1" ] && jq -e --argjson c "$1" '.object == "error" and .code == $c and
		(.message | length) > 0 and (.type | endswith("Error")) and .param == null' \
		"$W/body" >/dev/null
}
st=$(post "$A_URL" /v1/chat/completions '{"messages": [')
check bad_json err_ok 400
st=$(post "$A_URL" /v1/chat/completions '{"model":"kvlb-emu-model"}')
check missing_messages err_ok 400
st=$(post "$A_URL" /v1/chat/completions '{"messages":[{"content":"no role"}]}')
check message_without_role err_ok 400
st=$(post "$A_URL" /v1/completions '{"prompt":"x","max_tokens":0}')
check max_tokens_zero err_ok 400
st=$(post "$A_URL" /v1/completions '{"prompt":"x","max_tokens":"many"}')
check max_tokens_type err_ok 400
st=$(post "$A_URL" /v1/completions '{"prompt":"x","stream_options":{"include_usage":true}}')
check stream_options_without_stream err_ok 400
st=$(post "$A_URL" /v1/completions '{"prompt":"x","max_tokens":200000}')
check context_too_long err_ok 400
st=$(post "$A_URL" /v1/completions '{"prompt":"x","model":"other-model"}')
check unknown_model err_ok 404
st=$(post "$A_URL" /v1/completions "$(printf '{"prompt":"\xff\xfe"}')")
check invalid_utf8 err_ok 400
st=$(post "$A_URL" /v1/completions "$(printf '%.0s[' $(seq 5000))")
check deep_nesting err_ok 400
{ printf '{"prompt":"x","junk":['; yes 1, | head -300000 | tr -d '\n'; printf '1]}'; } >"$W/many"
st=$(post "$A_URL" /v1/completions @"$W/many")
check too_many_values err_ok 400
st=$(post "$A_URL" /v1/completions '[1,2,3]')
check body_not_object err_ok 400
st=$(curl -gs -o "$W/body" -w '%{http_code}' "$A_URL/v1/chat/completions")
check wrong_method err_ok 405
st=$(curl -gs -o "$W/body" -w '%{http_code}' -X DELETE "$A_URL/metrics")
check wrong_method_metrics err_ok 405
st=$(curl -gs -o "$W/body" -w '%{http_code}' "$A_URL/v2/nothing")
check unknown_path err_ok 404
emu_start L --max-body 100000 --time-scale 1000 || { fail $T "emulator L"; exit 1; }
head -c 150000 /dev/zero | tr '\0' a >"$W/big"
st=$(curl -gs -o "$W/body" -w '%{http_code}' --data-binary @"$W/big" "$L_URL/v1/completions")
check body_too_large err_ok 413
head -c 5000000 /dev/zero | tr '\0' a >"$W/huge"
st=$(curl -gs -o /dev/null -w '%{http_code}' --data-binary @"$W/huge" "$L_URL/v1/completions")
check body_far_too_large [ "$st" = 413 ]
# broken HTTP (not JSON): libevent's own 400, and the connection is simply dropped
raw() { # BYTES [close]: send on a fresh connection, print the answer's status line
	exec 3<>"/dev/tcp/127.0.0.1/$A_PORT" || return 1
	(trap '' PIPE; printf '%b' "$1" >&3) 2>/dev/null
	[ "${2:-}" = close ] || timeout 5 head -1 <&3 | tr -d '\r'
	exec 3<&-
}
check raw_garbage_line [ "$(raw 'GARBAGE\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ]
# the server may answer and close before all of these bytes are written: no status check
raw "GET /health HTTP/1.1\r\nX-Big: $(head -c 100000 /dev/zero | tr '\0' a)\r\n\r\n" close
raw 'POST /v1/completions HTTP/1.1\r\nContent-Length: 50\r\n\r\n{"pro' close
check raw_negative_length [ "$(raw 'POST /v1/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ]
alive=1
for u in "$A_URL" "$L_URL"; do
	curl -gsf -o /dev/null "$u/health" || alive=0
done
check still_up_after_bad_requests [ $alive = 1 ] && kill -0 "$A_PID" && kill -0 "$L_PID"

# --- IPv6 listener and seeds ---------------------------------------------------------
if emu_start V --listen '[::1]:0' --seed 7 --time-scale 1000 2>/dev/null; then
	post "$V_URL" /v1/chat/completions "$body" >/dev/null
	check ipv6_same_seed_same_text [ "$(jq -r '.choices[0].message.content' "$W/body")" = "$chat_text" ]
else
	skip ipv6_listen "no IPv6 loopback"
fi
emu_start D --seed 8 --time-scale 1000 || { fail $T "emulator D"; exit 1; }
post "$D_URL" /v1/chat/completions "$body" >/dev/null
check other_seed_other_text [ "$(jq -r '.choices[0].message.content' "$W/body")" != "$chat_text" ]
exit 0

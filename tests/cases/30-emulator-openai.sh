#!/usr/bin/env bash
# The official openai npm client (exact version pinned in tests/js/) streams a
# chat completion from kvlb-emu: proves the SSE framing real clients parse, and
# that the streamed text equals the non-streamed text for the same request.
. "$(dirname "$0")/../lib.sh"
. "$KVLB_TOP/tests/emulator/testlib.sh"
T=30-emulator-openai
for tool in node npm jq curl; do
	command -v $tool >/dev/null || { skip $T "$tool is not installed"; exit 0; }
done
[ -x "$EMU_BIN" ] || { fail $T "kvlb-emu is not built (make)"; exit 1; }
JS=$KVLB_TOP/tests/js
want=$(jq -r '.dependencies.openai' "$JS/package.json")
have=$(jq -r '.version' "$JS/node_modules/openai/package.json" 2>/dev/null)
if [ "$have" != "$want" ]; then
	if ! (cd "$JS" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts) \
		>"$EMU_WORK/npm.log" 2>&1; then
		if grep -qiE 'ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|network' \
			"$EMU_WORK/npm.log"; then
			skip $T "npm registry unreachable: $(grep -m1 -i 'err' "$EMU_WORK/npm.log")"
			exit 0
		fi
		tail -20 "$EMU_WORK/npm.log"
		fail $T "npm ci failed"
		exit 1
	fi
fi
trap emu_stop_all EXIT
emu_start A --name emu-js --time-scale 1000 || { fail $T "emulator did not start"; exit 1; }

if ! timeout 60 node "$JS/stream_chat.mjs" "$A_URL/v1" >"$EMU_WORK/out" 2>"$EMU_WORK/err"; then
	cat "$EMU_WORK/err"
	fail $T "the openai client failed"
	exit 1
fi
r=$EMU_WORK/out
jqe() { jq -e "$@" >/dev/null; }
# the prompt as the emulator tokenizes it (see kvlb-emu --help): 4 bytes a token
bytes=$(printf 'system: You are a test.\nuser: Stream me some deterministic words, please.\n' | wc -c)
ptok=$(((bytes + 3) / 4))
check openai_stream_text jqe '.streamed.text == .whole.text and (.streamed.text | length) == 48' "$r"
check openai_stream_role_finish jqe '.streamed.role == "assistant" and .streamed.finish == "length"' "$r"
# role chunk + 12 token chunks + usage chunk
check openai_stream_chunks jqe '.streamed.chunks == 14' "$r"
check openai_stream_usage jqe --argjson p "$ptok" '.streamed.usage.prompt_tokens == $p and
	.streamed.usage.completion_tokens == 12 and .streamed.usage.total_tokens == $p + 12 and
	.streamed.usage.prompt_tokens_details.cached_tokens == 0 and
	.whole.usage.prompt_tokens_details.cached_tokens == ($p / 16 | floor) * 16' "$r"

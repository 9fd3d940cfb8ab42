// Streams one chat completion from an OpenAI-compatible server with the
// official openai client, then asks for the same completion without streaming,
// and prints what both returned as one JSON line for the shell test to check.
// Usage: node stream_chat.mjs BASE_URL   (e.g. http://127.0.0.1:8000/v1)
import OpenAI from 'openai';

const baseURL = process.argv[2];
if (!baseURL) {
	console.error('usage: node stream_chat.mjs BASE_URL');
	process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 20000 });
const request = {
	model: 'kvlb-emu-model',
	messages: [
		{ role: 'system', content: 'You are a test.' },
		{ role: 'user', content: 'Stream me some deterministic words, please.' },
	],
	max_tokens: 12,
};

const stream = await client.chat.completions.create({
	...request,
	stream: true,
	stream_options: { include_usage: true },
});
let text = '';
let chunks = 0;
let usage = null;
let finish = null;
let role = null;
for await (const chunk of stream) {
	chunks++;
	if (chunk.usage)
		usage = chunk.usage;
	for (const choice of chunk.choices) {
		if (choice.delta?.role)
			role = choice.delta.role;
		if (choice.delta?.content)
			text += choice.delta.content;
		if (choice.finish_reason)
			finish = choice.finish_reason;
	}
}
const whole = await client.chat.completions.create(request);
console.log(JSON.stringify({
	streamed: { text, chunks, usage, finish, role },
	whole: { text: whole.choices[0].message.content, usage: whole.usage },
}));

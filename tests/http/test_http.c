// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the HTTP/JSON front parser (bpf/http.h) and of the prefix
 * chain (bpf/prefix.h), compiled as userspace C from the same headers the
 * BPF programs use.
 *
 * Every sample is parsed whole, then split at every byte offset into two
 * segments, then fed one byte at a time, then in random pieces: each
 * state must equal the whole parse byte for byte, because the data path
 * will see a request in whatever segments the client's stack produced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http.h"
#include "unit.h"
#include "samples.h"

#define HOLD 8192

static void parse(struct http_state *st, const struct sample *s, const size_t *cuts, int ncuts)
{
	size_t len = sample_len(s), at = 0;
	int i;

	memset(st, 0, sizeof(*st));
	http_init(st, s->chunk ? s->chunk : 64, 16, s->aff ? s->aff : "x-session-id");
	for (i = 0; i < ncuts; i++) {
		http_feed(st, s->req + at, cuts[i] - at);
		at = cuts[i];
	}
	http_feed(st, s->req + at, len - at);
}

static void test_known_strings(void)
{
	static const char *const str[KS_N] = {
	    "content-length", "transfer-encoding", "expect", "chunked",		 "100-continue",
	    "model",	      "messages",	   "prompt", "prompt_cache_key", "HTTP/1.",
	};
	int id, bad = 0;
	__u32 i;

	CASE_BEGIN();
	for (id = 0; id < KS_N; id++) {
		if (ks_len(id) != strlen(str[id]))
			bad++;
		for (i = 0; i < 24; i++)
			if (ks_char(id, i) != (i < strlen(str[id]) ? (__u8)str[id][i] : 0))
				bad++;
	}
	CHECK("http_known_strings", bad == 0, "%d mismatching bytes", bad);
	CASE_END("http_known_strings");
}

/* The fields each sample promises. */
static void check_expect(const struct sample *s, const struct http_state *st)
{
	char name[96];

	snprintf(name, sizeof(name), "http_sample_%s", s->name);
	CASE_BEGIN();
	CHECK(name, st->s == s->want_s, "state %u, want %d (err %u)", st->s, s->want_s, st->err);
	CHECK(name, st->err == s->want_err, "err %u, want %u", st->err, s->want_err);
	CHECK(name, (st->flags & s->flags) == s->flags, "flags %#x lack %#x", st->flags,
	      s->flags & ~st->flags);
	CHECK(name, !(st->flags & s->no_flags), "flags %#x have %#x", st->flags,
	      st->flags & s->no_flags);
	if (s->method)
		CHECK(name,
		      st->method_len == strlen(s->method) &&
			  !memcmp(st->method, s->method, st->method_len),
		      "method '%.*s', want '%s'", st->method_len, st->method, s->method);
	if (s->path)
		CHECK(name,
		      st->path_len == strlen(s->path) && !memcmp(st->path, s->path, st->path_len),
		      "path '%.*s', want '%s'", st->path_len, st->path, s->path);
	if (s->model)
		CHECK(name,
		      st->model_len == strlen(s->model) &&
			  !memcmp(st->model, s->model, st->model_len),
		      "model '%.*s', want '%s'", (int)st->model_len, st->model, s->model);
	if (s->cl >= 0)
		CHECK(name, st->content_length == (__u64)s->cl, "content length %llu, want %lld",
		      (unsigned long long)st->content_length, s->cl);
	if (s->links >= 0)
		CHECK(name, pfx_len(&st->chain) == (__u32)s->links, "%u chain links, want %d",
		      pfx_len(&st->chain), s->links);
	if (s->body >= 0)
		CHECK(name, st->body_seen == (__u32)s->body, "%u body bytes, want %d",
		      st->body_seen, s->body);
	CHECK(name, http_ready(st, HOLD) == s->ready, "ready %d, want %d", http_ready(st, HOLD),
	      s->ready);
	CHECK(name, st->consumed <= sample_len(s), "consumed %u of %zu", st->consumed,
	      sample_len(s));
	CASE_END(name);
}

/* Splits: at every offset in two, byte by byte, and random pieces. */
static void check_splits(const struct sample *s, const struct http_state *whole)
{
	size_t len = sample_len(s), k, cuts[2048];
	struct http_state st;
	char name[96];
	int r, n, bad2 = 0, bad3 = 0;

	snprintf(name, sizeof(name), "http_split_%s", s->name);
	CASE_BEGIN();
	for (k = 0; k <= len; k++) {
		cuts[0] = k;
		parse(&st, s, cuts, 1);
		if (memcmp(&st, whole, sizeof(st))) {
			if (!bad2)
				CHECK(name, 0, "split at %zu differs from the whole parse", k);
			bad2++;
		}
	}
	if (len < sizeof(cuts) / sizeof(cuts[0])) {
		for (k = 1; k < len; k++)
			cuts[k - 1] = k;
		parse(&st, s, cuts, len ? (int)len - 1 : 0);
		CHECK(name, !memcmp(&st, whole, sizeof(st)), "byte-by-byte feed differs");
	}
	/* Random pieces of 1..40 bytes. */
	srand(0x6b766c62);
	for (r = 0; r < 50; r++) {
		size_t at = 0;

		n = 0;
		while (n < 2000) {
			at += 1 + rand() % 40;
			if (at >= len)
				break;
			cuts[n++] = at;
		}
		parse(&st, s, cuts, n);
		if (memcmp(&st, whole, sizeof(st)))
			bad3++;
	}
	CHECK(name, bad3 == 0, "%d of 50 random splits differ", bad3);
	CASE_END(name);
}

/* ---- the prefix chain ---------------------------------------------------- */

static void parse_str(struct http_state *st, const char *req, __u32 chunk)
{
	memset(st, 0, sizeof(*st));
	http_init(st, chunk, 16, "x-session-id");
	http_feed(st, req, strlen(req));
}

/* A request with this JSON body. */
static char *request(const char *body, bool chunked)
{
	size_t n = strlen(body) + 512;
	char *r = malloc(n * 2);

	if (!r)
		abort();
	if (!chunked) {
		snprintf(r, n,
			 "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(body), body);
		return r;
	}
	/* Chunks of 7 bytes, so they straddle every token boundary. */
	snprintf(r, n, "POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (size_t at = 0; at < strlen(body); at += 7) {
		size_t c = strlen(body) - at < 7 ? strlen(body) - at : 7;

		sprintf(r + strlen(r), "%zx\r\n%.*s\r\n", c, (int)c, body + at);
	}
	strcat(r, "0\r\n\r\n");
	return r;
}

#define SYS_A                                                                                      \
	"You are a careful assistant for the city library. Answer questions about opening "        \
	"hours, loans, renewals, fines and events. Be brief, be kind, cite the rule."
#define SYS_B                                                                                      \
	"You are a terse assistant for a bicycle repair shop. Answer questions about "             \
	"bookings, prices and parts. Never promise a date you cannot keep, ever."
#define USER1 "When does the branch on Elm Street open on Sundays, and can I renew a loan there?"
#define ASST1 "It opens at noon on Sundays. Yes: renewals work at any branch or online."
#define USER2 "And what is the fine for a week late?"

static void test_chain(void)
{
	char b1[2048], b2[2048], b3[2048], b4[2048];
	struct http_state t1, t2, t3, st;
	const __u32 chunk = 64;
	__u32 common, full, i, bad = 0;
	char *r;

	snprintf(b1, sizeof(b1),
		 "{\"model\":\"m-7b\",\"messages\":[{\"role\":\"system\",\"content\":\"%s\"},"
		 "{\"role\":\"user\",\"content\":\"%s\"}],\"stream\":true}",
		 SYS_A, USER1);
	snprintf(b2, sizeof(b2),
		 "{\"model\":\"m-7b\",\"messages\":[{\"role\":\"system\",\"content\":\"%s\"},"
		 "{\"role\":\"user\",\"content\":\"%s\"},{\"role\":\"assistant\",\"content\":"
		 "\"%s\"},{\"role\":\"user\",\"content\":\"%s\"}],\"max_tokens\":100}",
		 SYS_A, USER1, ASST1, USER2);
	snprintf(b3, sizeof(b3),
		 "{\"messages\":[{\"role\":\"system\",\"content\":\"%s\"},"
		 "{\"role\":\"user\",\"content\":\"%s\"}],\"model\":\"m-7b\"}",
		 SYS_B, USER1);
	r = request(b1, false);
	parse_str(&t1, r, chunk);
	free(r);
	r = request(b2, false);
	parse_str(&t2, r, chunk);
	free(r);
	r = request(b3, false);
	parse_str(&t3, r, chunk);
	free(r);

	/* Turn 2 repeats turn 1's messages up to turn 1's closing ']': every
	 * full chunk inside that common part is the same link. */
	common = strstr(b1, "}],") - strstr(b1, "[{") + 1;
	full = common / chunk;
	CASE_BEGIN();
	CHECK("prefix_two_turns_share", t1.s == HS_DONE && t2.s == HS_DONE, "parse failed");
	CHECK("prefix_two_turns_share", full >= 3 && t1.chain.n >= full, "%u full chunks", full);
	for (i = 0; i < full; i++)
		if (pfx_link(&t1.chain, i) != pfx_link(&t2.chain, i))
			bad++;
	CHECK("prefix_two_turns_share", bad == 0, "%u of %u leading links differ", bad, full);
	/* Past the common part they differ (turn 1's tail is partial). */
	CHECK("prefix_two_turns_share",
	      pfx_link(&t1.chain, pfx_len(&t1.chain) - 1) !=
		  pfx_link(&t2.chain, pfx_len(&t1.chain) - 1),
	      "the link after the common part is equal");
	CHECK("prefix_two_turns_share", pfx_len(&t2.chain) > pfx_len(&t1.chain),
	      "turn 2 not longer");
	CASE_END("prefix_two_turns_share");

	CASE_BEGIN();
	bad = 0;
	for (i = 0; i < pfx_len(&t3.chain); i++)
		if (pfx_link(&t3.chain, i) == pfx_link(&t1.chain, i))
			bad++;
	CHECK("prefix_system_prompt_differs", bad == 0, "%u links equal across system prompts",
	      bad);
	CASE_END("prefix_system_prompt_differs");

	/* The model enters the key, not the link; field order does not matter. */
	CASE_BEGIN();
	{
		char b5[2048];
		struct http_state t5;

		snprintf(b5, sizeof(b5),
			 "{\"messages\":[{\"role\":\"system\",\"content\":\"%s\"},"
			 "{\"role\":\"user\",\"content\":\"%s\"}],\"model\":\"m-70b\"}",
			 SYS_A, USER1);
		r = request(b5, false);
		parse_str(&t5, r, chunk);
		free(r);
		CHECK("prefix_model_in_key", pfx_link(&t5.chain, 0) == pfx_link(&t1.chain, 0),
		      "links should not depend on the model");
		CHECK("prefix_model_in_key",
		      pfx_key(pfx_link(&t5.chain, 0), t5.model_hash, 0, PFX_TAG_PROMPT) !=
			  pfx_key(pfx_link(&t1.chain, 0), t1.model_hash, 0, PFX_TAG_PROMPT),
		      "the model does not change the key");
		CHECK("prefix_model_in_key",
		      pfx_key(pfx_link(&t2.chain, 0), t2.model_hash, 0, PFX_TAG_PROMPT) ==
			  pfx_key(pfx_link(&t1.chain, 0), t1.model_hash, 0, PFX_TAG_PROMPT),
		      "one model, one conversation: keys differ");
		CHECK("prefix_model_in_key",
		      pfx_key(pfx_link(&t1.chain, 0), t1.model_hash, 0, PFX_TAG_PROMPT) !=
			  pfx_key(pfx_link(&t1.chain, 0), t1.model_hash, 1, PFX_TAG_PROMPT),
		      "the VIP does not change the key");
	}
	CASE_END("prefix_model_in_key");

	/* Pretty-printed and compact encodings give one chain; so do chunked
	 * and Content-Length framing. */
	CASE_BEGIN();
	snprintf(
	    b4, sizeof(b4),
	    "{\n  \"model\": \"m-7b\",\n  \"messages\": [\n    {\n      \"role\": \"system\",\n"
	    "      \"content\": \"%s\"\n    },\n    {\"role\" : \"user\", \"content\" :\t\"%s\"}\n"
	    "  ],\n  \"stream\": true\n}\n",
	    SYS_A, USER1);
	r = request(b4, false);
	parse_str(&st, r, chunk);
	free(r);
	CHECK("prefix_whitespace_and_framing",
	      pfx_len(&st.chain) == pfx_len(&t1.chain) &&
		  !memcmp(st.chain.link, t1.chain.link, sizeof(st.chain.link)) &&
		  st.chain.acc == t1.chain.acc,
	      "pretty-printed JSON gives another chain");
	r = request(b1, true);
	parse_str(&st, r, chunk);
	free(r);
	CHECK("prefix_whitespace_and_framing",
	      st.s == HS_DONE && (st.flags & HTTP_F_CHUNKED) && st.chain.n == t1.chain.n &&
		  !memcmp(st.chain.link, t1.chain.link, sizeof(st.chain.link)) &&
		  st.model_hash == t1.model_hash,
	      "chunked framing gives another chain (state %u err %u)", st.s, st.err);
	CASE_END("prefix_whitespace_and_framing");

	/* The depth knob caps the links; the rest of the prompt is not hashed. */
	CASE_BEGIN();
	r = request(b2, false);
	memset(&st, 0, sizeof(st));
	http_init(&st, 16, 4, "");
	http_feed(&st, r, strlen(r));
	free(r);
	CHECK("prefix_depth_cap", st.chain.n == 4 && pfx_len(&st.chain) == 4, "%u links at depth 4",
	      st.chain.n);
	CHECK("prefix_depth_cap", http_ready(&st, HOLD) == HTTP_READY_DONE, "not done");
	CASE_END("prefix_depth_cap");
}

/* The reasons to stop holding that no whole sample reaches. */
static void test_ready(void)
{
	const char *req = "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 900\r\n\r\n"
			  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\""
			  "0123456789abcdef0123456789abcdef0123456789abcdef";
	struct http_state st;
	__u32 at;

	CASE_BEGIN();
	/* Depth 2 of 16-byte chunks: ready once 32 prompt bytes are hashed
	 * (the model came first), long before the body ends. */
	memset(&st, 0, sizeof(st));
	http_init(&st, 16, 2, "");
	for (at = 0; at < strlen(req) && http_ready(&st, HOLD) == HTTP_WAIT; at++)
		http_byte(&st, req[at]);
	CHECK("http_ready_prefix_and_hold", http_ready(&st, HOLD) == HTTP_READY_PREFIX,
	      "ready %d at byte %u", http_ready(&st, HOLD), at);
	CHECK("http_ready_prefix_and_hold", st.chain.n == 2 && st.s == HS_BODY,
	      "%u links, state %u", st.chain.n, st.s);
	/* The hold limit ends the wait however little was learned. */
	memset(&st, 0, sizeof(st));
	http_init(&st, 16, 16, "");
	for (at = 0; at < strlen(req) && http_ready(&st, 70) == HTTP_WAIT; at++)
		http_byte(&st, req[at]);
	CHECK("http_ready_prefix_and_hold", http_ready(&st, 70) == HTTP_READY_HOLD && at == 70,
	      "ready %d at byte %u", http_ready(&st, 70), at);
	CASE_END("http_ready_prefix_and_hold");
}

/* Write every sample to DIR/NAME: the fuzzer's seed corpus. */
static int write_corpus(const char *dir)
{
	char path[4096];
	int i;

	for (i = 0; samples[i].name; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, samples[i].name);
		f = fopen(path, "wb");
		if (!f ||
		    fwrite(samples[i].req, 1, sample_len(&samples[i]), f) !=
			sample_len(&samples[i]) ||
		    fclose(f)) {
			perror(path);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct http_state whole;
	int i;

	if (argc == 3 && !strcmp(argv[1], "--corpus"))
		return write_corpus(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: test_http [--corpus DIR]\n");
		return 2;
	}

	test_known_strings();
	for (i = 0; samples[i].name; i++) {
		parse(&whole, &samples[i], NULL, 0);
		check_expect(&samples[i], &whole);
		check_splits(&samples[i], &whole);
	}
	printf("# %d samples, each split at every offset\n", i);
	test_chain();
	test_ready();
	return unit_failed;
}

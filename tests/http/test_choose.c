// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the HTTP-aware choice (choose_backend_http in bpf/choose.h)
 * compiled in userspace over array-backed maps (bpf_shim.h): the same code
 * the data path runs, with every map state a test wants.
 */
#include <stdio.h>
#include <string.h>
#include "bpf_shim.h"
#include "choose.h"
#include "unit.h"

#define VIP 3
#define NB  4

static struct kvlb_vip vip = {.index = VIP, .ring_slot = VIP * 2 + 1, .n_backends = NB};
static struct kvlb_config cfg;
static const struct kvlb_flow_key flow = {
    .src.v4 = 0x016433c6, /* 198.51.100.1 */
    .dst.v4 = 0x0a0200c0, /* 192.0.2.10 */
    .sport = 0x4242,
    .dport = 0x5000,
    .proto = 6,
    .family = KVLB_AF_INET,
};

static struct kvlb_backend *be(__u32 id)
{
	return bpf_map_lookup_elem(&kvlb_backends, &id);
}

static struct kvlb_backend_load *load(__u32 id)
{
	return bpf_map_lookup_elem(&kvlb_backend_load, &id);
}

static void ring_set(__u32 pos, __u32 id)
{
	__u32 idx = vip.ring_slot * KVLB_RING_SIZE + pos % KVLB_RING_SIZE;

	bpf_map_update_elem(&kvlb_ring, &idx, &id, 0);
}

/* NB backends on the VIP, all usable and idle; a ring cycling 0,1,2,3;
 * an empty prefix table; default knobs. */
static void reset(void)
{
	__u32 i;

	fake_map_clear(&kvlb_backends);
	fake_map_clear(&kvlb_backend_load);
	fake_map_clear(&kvlb_prefix);
	for (i = 0; i < NB; i++) {
		be(i)->flags = KVLB_BE_F_IN_USE;
		be(i)->weight = 1;
		be(i)->vip_index = VIP;
	}
	/* a backend of another VIP, never to be chosen */
	be(7)->flags = KVLB_BE_F_IN_USE;
	be(7)->weight = 1;
	be(7)->vip_index = VIP + 1;
	for (i = 0; i < KVLB_RING_SIZE; i++)
		ring_set(i, i % NB);
	memset(&cfg, 0, sizeof(cfg));
	cfg.chunk_size = 16;
	cfg.prefix_depth = 16;
	cfg.load_bound_pct = KVLB_DEF_LOAD_BOUND_PCT;
	cfg.walk_limit = KVLB_DEF_WALK_LIMIT;
	cfg.load_slack = KVLB_DEF_LOAD_SLACK;
	strcpy(cfg.affinity_header, "x-session-id");
}

static void parse(struct http_state *st, const char *req)
{
	memset(st, 0, sizeof(*st));
	http_init(st, cfg.chunk_size, cfg.prefix_depth, cfg.affinity_header);
	http_feed(st, req, strlen(req));
}

static char *chat(char *buf, size_t n, const char *model, const char *msgs, const char *extra_hdr)
{
	char body[2048];

	snprintf(body, sizeof(body), "{\"model\":\"%s\",\"messages\":%s}", model, msgs);
	snprintf(
	    buf, n,
	    "POST /v1/chat/completions HTTP/1.1\r\nHost: kvlb\r\n%sContent-Length: %zu\r\n\r\n%s",
	    extra_hdr, strlen(body), body);
	return buf;
}

#define TURN1                                                                                      \
	"[{\"role\":\"system\",\"content\":\"You answer questions about trains.\"},"               \
	"{\"role\":\"user\",\"content\":\"When is the first train to the coast?\"}]"
#define TURN2                                                                                      \
	"[{\"role\":\"system\",\"content\":\"You answer questions about trains.\"},"               \
	"{\"role\":\"user\",\"content\":\"When is the first train to the coast?\"},"               \
	"{\"role\":\"assistant\",\"content\":\"At 6:10.\"},"                                       \
	"{\"role\":\"user\",\"content\":\"And the last one back?\"}]"

static __u64 key_of(const struct http_state *st, __u32 i)
{
	return pfx_key(pfx_link(&st->chain, i), pfx_mix64(st->model_hash), VIP, PFX_TAG_PROMPT);
}

static void table_put(__u64 key, __u32 id)
{
	struct kvlb_prefix_entry e = {.backend_id = id, .depth = 1};

	bpf_map_update_elem(&kvlb_prefix, &key, &e, 0);
}

static __u32 table_get(__u64 key)
{
	struct kvlb_prefix_entry *e = bpf_map_lookup_elem(&kvlb_prefix, &key);

	return e ? e->backend_id : KVLB_NO_BACKEND;
}

/* The ring position a prefix miss starts from: the deepest link's key. */
static __u32 ring_start(const struct http_state *st)
{
	return key_of(st, pfx_len(&st->chain) - 1) % KVLB_RING_SIZE;
}

static void test_longest_match(void)
{
	struct http_state st;
	char req[4096];
	__u32 id, why, i, n, bad = 0;

	reset();
	parse(&st, chat(req, sizeof(req), "m", TURN1, ""));
	n = pfx_len(&st.chain);
	CASE_BEGIN();
	CHECK("choose_longest_match_wins", n >= 6, "only %u links", n);
	table_put(key_of(&st, 0), 1);
	table_put(key_of(&st, 3), 2);
	table_put(key_of(&st, 1), 3);
	id = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_longest_match_wins", id == 2 && why == CHOSE_PREFIX, "chose %u (why %u)", id,
	      why);
	/* Every link now names the chosen backend. */
	for (i = 0; i < n; i++)
		if (table_get(key_of(&st, i)) != 2)
			bad++;
	CHECK("choose_longest_match_wins", bad == 0, "%u links not learned", bad);
	CHECK("choose_longest_match_wins",
	      load(2)->bound_tokens == st.content_length * 100 / 400 + 1, "bound_tokens %llu",
	      (unsigned long long)load(2)->bound_tokens);
	CASE_END("choose_longest_match_wins");
}

static void test_unusable_skipped(void)
{
	struct http_state st;
	char req[4096];
	__u32 id, why;

	CASE_BEGIN();
	reset();
	parse(&st, chat(req, sizeof(req), "m", TURN1, ""));
	table_put(key_of(&st, 0), 1);
	table_put(key_of(&st, 3), 2);
	be(2)->flags |= KVLB_BE_F_DRAINING;
	id = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_draining_down_skipped", id == 1 && why == CHOSE_PREFIX,
	      "draining: chose %u (why %u), want the shorter match 1", id, why);

	reset();
	table_put(key_of(&st, 0), 1);
	table_put(key_of(&st, 3), 2);
	be(2)->flags |= KVLB_BE_F_DRAINING;
	be(1)->flags |= KVLB_BE_F_DOWN;
	/* The ring from the start position: 2 (draining), 1 (down), 0. */
	ring_set(ring_start(&st), 2);
	ring_set(ring_start(&st) + 1, 1);
	ring_set(ring_start(&st) + 2, 0);
	id = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_draining_down_skipped", id == 0 && why == CHOSE_RING,
	      "chose %u (why %u), want 0 by the ring", id, why);

	/* A table entry naming another VIP's backend is ignored. */
	reset();
	table_put(key_of(&st, 5), 7);
	id = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_draining_down_skipped", id != 7 && id < NB && why == CHOSE_RING,
	      "chose %u (why %u)", id, why);

	reset();
	for (id = 0; id < NB; id++)
		be(id)->flags |= KVLB_BE_F_DOWN;
	id = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_draining_down_skipped", id == KVLB_NO_BACKEND && why == CHOSE_NONE,
	      "all down: chose %u (why %u)", id, why);
	CASE_END("choose_draining_down_skipped");
}

static void test_bounded_load(void)
{
	struct http_state st;
	char req[4096];
	__u32 id, why, start;

	CASE_BEGIN();
	CHECK("choose_bounded_load", !choose_over_bound(0, 0, 4, 125, 0), "idle is over the bound");
	CHECK("choose_bounded_load", !choose_over_bound(125, 400, 4, 125, 0),
	      "at c x mean is over");
	CHECK("choose_bounded_load", choose_over_bound(126, 400, 4, 125, 0),
	      "above c x mean is not");
	CHECK("choose_bounded_load", !choose_over_bound(625, 400, 4, 125, 500), "slack ignored");
	CHECK("choose_bounded_load", choose_over_bound(626, 400, 4, 125, 500), "slack too wide");
	/* Huge scraped figures saturate instead of wrapping. */
	CHECK("choose_bounded_load", !choose_over_bound(~0ULL / 4, ~0ULL, 4, 125, 0),
	      "equal huge loads are over the bound");
	CHECK("choose_bounded_load", choose_over_bound(~0ULL, 1000, 4, 125, 0),
	      "a huge load is within the bound");

	/* The deep match is overloaded: the shorter one wins. Loads 1000,
	 * 100, 100, 100: mean 325, bound 406. */
	reset();
	parse(&st, chat(req, sizeof(req), "m", TURN1, ""));
	cfg.load_slack = 0;
	load(0)->load_score = 900;
	load(0)->bound_tokens = 100;
	load(1)->load_score = load(2)->load_score = load(3)->load_score = 100;
	table_put(key_of(&st, 0), 1);
	table_put(key_of(&st, 4), 0);
	id = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_bounded_load", id == 1 && why == CHOSE_PREFIX,
	      "chose %u (why %u), want 1 (0 is over the bound)", id, why);

	/* A higher bound (c = 4) keeps the deep match. */
	reset();
	cfg.load_slack = 0;
	load(0)->load_score = 1000;
	load(1)->load_score = load(2)->load_score = load(3)->load_score = 100;
	table_put(key_of(&st, 0), 1);
	table_put(key_of(&st, 4), 0);
	cfg.load_bound_pct = 400;
	id = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_bounded_load", id == 0 && why == CHOSE_PREFIX, "c=4: chose %u (why %u)", id,
	      why);

	/* Ring walk: the start is overloaded, the next is down, then 3. */
	reset();
	cfg.load_slack = 0;
	start = ring_start(&st);
	load(0)->load_score = 1000;
	ring_set(start, 0);
	ring_set(start + 1, 2);
	be(2)->flags |= KVLB_BE_F_DOWN;
	ring_set(start + 2, 3);
	id = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_ring_walk", id == 3 && why == CHOSE_RING, "chose %u (why %u), want 3", id,
	      why);

	/* Everything within the walk is over the bound: the least loaded of
	 * the candidates seen (3, load 950; bound 1.25 x 737.5) takes it. */
	reset();
	cfg.load_bound_pct = 125;
	cfg.load_slack = 0;
	load(0)->load_score = 1000;
	load(1)->load_score = 1000;
	load(3)->load_score = 950;
	load(2)->load_score = 0;
	for (id = 0; id < KVLB_DEF_WALK_LIMIT; id++)
		ring_set(start + id, id % 3 == 0 ? 0 : id % 3 == 1 ? 1 : 3);
	id = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_all_overloaded", id == 3 && why == CHOSE_OVERLOADED,
	      "chose %u (why %u), want 3 (least loaded seen)", id, why);
	CHECK("choose_all_overloaded", table_get(key_of(&st, 0)) == 3, "not learned");
	/* A longer walk reaches the idle backend 2. */
	fake_map_clear(&kvlb_prefix);
	load(3)->bound_tokens = 0;
	ring_set(start + KVLB_DEF_WALK_LIMIT, 2);
	cfg.walk_limit = KVLB_DEF_WALK_LIMIT + 1;
	id = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_all_overloaded", id == 2 && why == CHOSE_RING, "walk 9: chose %u (why %u)",
	      id, why);
	CASE_END("choose_bounded_load");
	CASE_END("choose_ring_walk");
	CASE_END("choose_all_overloaded");
}

static void test_conversation_sticks(void)
{
	struct http_state t1, t2, t3;
	char req[4096];
	__u32 id1, id2, id3, why2, why3, why, i;

	CASE_BEGIN();
	reset();
	parse(&t1, chat(req, sizeof(req), "m", TURN1, ""));
	parse(&t2, chat(req, sizeof(req), "m", TURN2, ""));
	parse(&t3, chat(req, sizeof(req), "other-model", TURN2, ""));
	id1 = choose_backend_http(&vip, &flow, &t1, &cfg, &why);
	/* Make turn 2's own ring position name another backend. */
	for (i = 0; i < KVLB_DEF_WALK_LIMIT; i++)
		ring_set(ring_start(&t2) + i, (id1 + 1) % NB);
	id2 = choose_backend_http(&vip, &flow, &t2, &cfg, &why2);
	CHECK("choose_conversation_sticks", id1 < NB && id2 == id1 && why2 == CHOSE_PREFIX,
	      "turn 1 on %u, turn 2 on %u (why %u)", id1, id2, why2);
	/* Another model shares no key with it. */
	for (i = 0; i < KVLB_DEF_WALK_LIMIT; i++)
		ring_set(ring_start(&t3) + i, (id1 + 2) % NB);
	id3 = choose_backend_http(&vip, &flow, &t3, &cfg, &why3);
	CHECK("choose_conversation_sticks", id3 == (id1 + 2) % NB && why3 == CHOSE_RING,
	      "other model: %u (why %u)", id3, why3);
	/* Without the table, turn 2 follows the ring. */
	cfg.flags = KVLB_CFG_F_NO_PREFIX;
	id2 = choose_backend_http(&vip, &flow, &t2, &cfg, &why2);
	CHECK("choose_conversation_sticks", id2 == (id1 + 1) % NB && why2 == CHOSE_RING,
	      "no-prefix: %u (why %u)", id2, why2);
	CASE_END("choose_conversation_sticks");
}

static void test_affinity_and_fallback(void)
{
	struct http_state a, b, st;
	char req[4096];
	__u32 ia, ib, why, whyb, l4;

	CASE_BEGIN();
	reset();
	/* One cache key, two unrelated prompts: one backend. */
	parse(&a, "POST /v1/completions HTTP/1.1\r\nContent-Length: 58\r\n\r\n"
		  "{\"model\":\"m\",\"prompt\":\"aaaa\",\"prompt_cache_key\":\"user-7\"}");
	parse(&b, "POST /v1/completions HTTP/1.1\r\nContent-Length: 80\r\n\r\n"
		  "{\"prompt_cache_key\":\"user-7\",\"model\":\"m\",\"prompt\":\"something else "
		  "entirely\"}");
	CHECK("choose_affinity_key", (a.flags & HTTP_F_CACHE_KEY) && (b.flags & HTTP_F_CACHE_KEY),
	      "cache key not parsed (%#x %#x)", a.flags, b.flags);
	ia = choose_backend_http(&vip, &flow, &a, &cfg, &why);
	ib = choose_backend_http(&vip, &flow, &b, &cfg, &whyb);
	CHECK("choose_affinity_key",
	      ia < NB && ia == ib && why == CHOSE_AFFINITY && whyb == CHOSE_AFFINITY,
	      "%u (why %u) vs %u (why %u)", ia, why, ib, whyb);
	/* The header does the same, for requests with different prompts. */
	parse(&a, chat(req, sizeof(req), "m", TURN1, "X-Session-Id: s-99\r\n"));
	parse(&b, chat(req, sizeof(req), "m", "[{\"role\":\"user\",\"content\":\"hm\"}]",
		       "x-session-id: s-99\r\n"));
	fake_map_clear(&kvlb_prefix);
	ia = choose_backend_http(&vip, &flow, &a, &cfg, &why);
	for (__u32 i = 0; i < KVLB_RING_SIZE; i++)
		ring_set(i, (ia + 1) % NB); /* the ring alone would move it */
	ib = choose_backend_http(&vip, &flow, &b, &cfg, &whyb);
	CHECK("choose_affinity_key", ia == ib && why == CHOSE_AFFINITY && whyb == CHOSE_AFFINITY,
	      "header: %u (why %u) vs %u (why %u)", ia, why, ib, whyb);
	/* Turned off, the prompt decides. */
	cfg.flags = KVLB_CFG_F_NO_AFFINITY;
	ib = choose_backend_http(&vip, &flow, &b, &cfg, &whyb);
	CHECK("choose_affinity_key", whyb == CHOSE_RING, "no-affinity: why %u", whyb);
	CASE_END("choose_affinity_key");

	CASE_BEGIN();
	reset();
	l4 = choose_backend_l4(&vip, &flow);
	parse(&st, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
	ia = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_non_http_l4", ia == l4 && why == CHOSE_L4, "TLS: %u (why %u), L4 %u", ia, why,
	      l4);
	parse(&st, "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
	ia = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_non_http_l4", ia == l4 && why == CHOSE_NO_KEY, "GET: %u (why %u), L4 %u", ia,
	      why, l4);
	parse(&st, "POST /v1/chat/compl");
	ia = choose_backend_http(&vip, &flow, &st, &cfg, &why);
	CHECK("choose_non_http_l4", ia == l4 && why == CHOSE_L4, "partial: %u (why %u)", ia, why);
	CHECK("choose_non_http_l4", kvlb_prefix.updates == 0, "keyless requests were learned");
	CASE_END("choose_non_http_l4");

	CASE_BEGIN();
	{
		struct kvlb_stats s = {};

		choose_count(&s, CHOSE_L4);
		choose_count(&s, CHOSE_L4);
		choose_count(&s, CHOSE_PREFIX);
		choose_count(&s, CHOSE_NONE);
		CHECK("choose_counted",
		      s.http_fallback_l4 == 2 && s.http_prefix_hit == 1 && s.http_ring == 0,
		      "counters %llu %llu", (unsigned long long)s.http_fallback_l4,
		      (unsigned long long)s.http_prefix_hit);
	}
	CASE_END("choose_counted");
}

int main(void)
{
	fake_maps_init();
	test_longest_match();
	test_unusable_skipped();
	test_bounded_load();
	test_conversation_sticks();
	test_affinity_and_fallback();
	return unit_failed;
}

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Choosing a backend for a new flow. The L4 choice: the flow's hash picks
 * a slot of the VIP's Maglev table. The HTTP-aware choice (below) picks by
 * what the request asks for: the longest remembered prompt prefix, else a
 * walk of the same ring with bounded loads.
 *
 * Every map access goes through bpf_map_lookup_elem/update_elem and loops
 * through bpf_loop, so tests/http/test_choose.c compiles this file in
 * userspace over plain arrays (tests/http/bpf_shim.h) and tests the code
 * the data path runs.
 */
#ifndef KVLB_CHOOSE_H
#define KVLB_CHOOSE_H

#include "maps.bpf.h"
#include "hash.h"
#include "http.h"

static __always_inline struct kvlb_vip *lookup_vip(const struct kvlb_flow_key *k)
{
	struct kvlb_vip_key vk = {
	    .addr = k->dst,
	    .port = k->dport,
	    .proto = k->proto,
	    .family = k->family,
	};

	return bpf_map_lookup_elem(&kvlb_vips, &vk);
}

/* The VIPs on this port (KVLB_PORT_VIPS, KVLB_PORT_HTTP), 0 when none: the
 * cheap first filter. */
static __always_inline __u32 vip_port_vips(__be16 port)
{
	__u32 k = bpf_ntohs(port), *n = bpf_map_lookup_elem(&kvlb_vip_ports, &k);

	return n ? *n : 0;
}

/* A backend that may take new flows. */
static __always_inline bool backend_usable(const struct kvlb_backend *be)
{
	return (be->flags & (KVLB_BE_F_IN_USE | KVLB_BE_F_DRAINING | KVLB_BE_F_DOWN)) ==
	       KVLB_BE_F_IN_USE;
}

/* The ring slot for hash h; KVLB_NO_BACKEND when the VIP has no backend. */
static __always_inline __u32 ring_lookup(const struct kvlb_vip *vip, __u32 h)
{
	__u32 idx, *id;

	if (vip->ring_slot >= KVLB_RING_SLOTS)
		return KVLB_NO_BACKEND;
	idx = vip->ring_slot * KVLB_RING_SIZE + h % KVLB_RING_SIZE;
	id = bpf_map_lookup_elem(&kvlb_ring, &idx);
	return id ? *id : KVLB_NO_BACKEND;
}

static __always_inline __u32 choose_backend_l4(const struct kvlb_vip *vip,
					       const struct kvlb_flow_key *k)
{
	return ring_lookup(vip, hash_flow(k));
}

/* ---- HTTP-aware choice ---------------------------------------------------- */

/* How choose_backend_http decided (the caller counts it, see choose_count). */
enum {
	CHOSE_NONE = 0,	  /* no usable backend */
	CHOSE_PREFIX,	  /* longest prefix-table match */
	CHOSE_AFFINITY,	  /* explicit key: table or ring */
	CHOSE_RING,	  /* prefix miss: ring walk within the load bound */
	CHOSE_OVERLOADED, /* every candidate over the bound: least loaded of them */
	CHOSE_NO_KEY,	  /* HTTP without prompt or key: L4 hash */
	CHOSE_L4,	  /* not a parseable request: L4 hash */
};

/* Request cost when no bytes-per-token ratio was scraped: 4 bytes a token. */
#define CHOOSE_DEF_BPT_X100 400

/* Backend b may take new flows for VIP vip_index. */
static __always_inline bool backend_serves(const struct kvlb_backend *be, __u32 vip_index)
{
	return be && backend_usable(be) && be->vip_index == vip_index && be->weight;
}

/* Scraped load plus what was bound since the scrape: token units, or
 * requests when count is set (KVLB_CFG_F_COUNT_LOAD). */
static __always_inline __u64 backend_load_of(const struct kvlb_backend_load *l, __u32 count)
{
	__u64 bound;

	if (!l)
		return 0;
	bound = l->bound_tokens > l->done_tokens ? l->bound_tokens - l->done_tokens : 0;
	if (count)
		return (__u64)l->running + l->waiting + bound;
	return l->load_score + bound;
}

/*
 * The bounded-load test: a backend is over the bound when its load
 * exceeds c x the mean of the VIP's usable backends plus a slack, c =
 * pct / 100. The slack keeps a nearly idle pool from calling a backend
 * overloaded for the one request it just took (with all loads near zero,
 * c x mean is near zero too), which would scatter a conversation for no
 * gain. Written without division: load * n * 100 > pct * total + slack * n * 100.
 */
static __always_inline bool choose_over_bound(__u64 load, __u64 total, __u32 n, __u32 pct,
					      __u32 slack)
{
	if (!n)
		return false;
	/* Saturate so no product below can wrap (n <= 1024, pct <= 10000). */
	if (load > (1ULL << 40))
		load = 1ULL << 40;
	if (total > (1ULL << 44))
		total = 1ULL << 44;
	return load * n * 100 > (__u64)pct * total + (__u64)slack * n * 100;
}

/* Sum of loads over the VIP's usable backends: one pass over the array,
 * done once per request. */
struct load_sum {
	__u32 vip_index;
	__u32 n;
	__u64 total;
	__u32 count; /* KVLB_CFG_F_COUNT_LOAD */
	__u32 pad;
};

static long load_sum_cb(__u32 id, void *ctx)
{
	struct load_sum *ls = ctx;
	struct kvlb_backend *be;
	struct kvlb_backend_load *l;

	be = bpf_map_lookup_elem(&kvlb_backends, &id);
	if (!backend_serves(be, ls->vip_index))
		return 0;
	l = bpf_map_lookup_elem(&kvlb_backend_load, &id);
	ls->n++;
	ls->total += backend_load_of(l, ls->count);
	return 0;
}

/* A candidate is acceptable: serves the VIP and is within the bound. */
struct choose_ctx {
	/* inputs */
	__u32 vip_index;
	__u32 ring_slot;
	__u32 pct;
	__u32 walk;
	__u32 slack;
	__u32 count; /* KVLB_CFG_F_COUNT_LOAD */
	__u64 total;
	__u32 n;
	/* prefix keys: link i's key is made from these */
	__u32 n_keys;
	__u64 model_hash;
	__u64 tag;
	__u64 ring_hash;
	const struct pfx_chain *chain; /* NULL: the one key is `single` */
	__u64 single;
	/* outputs */
	__u32 chosen;
	__u32 depth; /* 1-based link that matched */
	__u32 spare; /* least-loaded usable candidate seen */
	__u32 pad;
	__u64 spare_load;
	bool over_seen;
};

static __always_inline __u64 choose_key(const struct choose_ctx *c, __u32 i)
{
	if (!c->chain)
		return c->single;
	return pfx_key(pfx_link(c->chain, i), c->model_hash, c->vip_index, c->tag);
}

/* Candidate id: 1 = take it, 0 = look further. Remembers the least loaded
 * usable one, for when every candidate is over the bound. */
static __always_inline int choose_try(struct choose_ctx *c, __u32 id)
{
	struct kvlb_backend *be;
	struct kvlb_backend_load *l;
	__u64 load;

	if (id >= KVLB_MAX_BACKENDS)
		return 0;
	be = bpf_map_lookup_elem(&kvlb_backends, &id);
	if (!backend_serves(be, c->vip_index))
		return 0;
	l = bpf_map_lookup_elem(&kvlb_backend_load, &id);
	load = backend_load_of(l, c->count);
	if (!choose_over_bound(load, c->total, c->n, c->pct, c->slack))
		return 1;
	c->over_seen = true;
	if (c->spare == KVLB_NO_BACKEND || load < c->spare_load) {
		c->spare = id;
		c->spare_load = load;
	}
	return 0;
}

/* Longest match first: link n_keys-1 down to 0. */
static long choose_prefix_cb(__u32 i, void *ctx)
{
	struct choose_ctx *c = ctx;
	struct kvlb_prefix_entry *e;
	__u32 d = c->n_keys - 1 - i;
	__u64 key;

	if (i >= c->n_keys)
		return 1;
	key = choose_key(c, d);
	e = bpf_map_lookup_elem(&kvlb_prefix, &key);
	if (!e || !choose_try(c, e->backend_id))
		return 0;
	c->chosen = e->backend_id;
	c->depth = d + 1;
	return 1;
}

/* Ring positions ring_hash, ring_hash + 1, ... */
static long choose_ring_cb(__u32 i, void *ctx)
{
	struct choose_ctx *c = ctx;
	__u32 idx, *id;

	if (c->ring_slot >= KVLB_RING_SLOTS)
		return 1;
	idx = c->ring_slot * KVLB_RING_SIZE + (__u32)((c->ring_hash + i) % KVLB_RING_SIZE);
	id = bpf_map_lookup_elem(&kvlb_ring, &idx);
	if (!id || !choose_try(c, *id))
		return 0;
	c->chosen = *id;
	return 1;
}

/* Remember where every link of this request went. */
static long choose_learn_cb(__u32 i, void *ctx)
{
	struct choose_ctx *c = ctx;
	struct kvlb_prefix_entry e = {
	    .backend_id = c->chosen,
	    .depth = i + 1,
	    .last_use_ns = bpf_ktime_get_ns(),
	};
	__u64 key;

	if (i >= c->n_keys)
		return 1;
	key = choose_key(c, i);
	bpf_map_update_elem(&kvlb_prefix, &key, &e, BPF_ANY);
	return 0;
}

/* Token units a request costs, from its body size and the backend's ratio
 * (one request in request-count mode). */
static __always_inline __u64 choose_cost(const struct http_state *st,
					 const struct kvlb_backend_load *l, __u32 count)
{
	__u64 bytes;
	__u32 bpt;

	if (count)
		return 1;
	bytes = st->flags & HTTP_F_CONTENT_LEN ? st->content_length : st->body_seen;
	bpt = l && l->bytes_per_token_x100 ? l->bytes_per_token_x100 : CHOOSE_DEF_BPT_X100;

	return bytes * 100 / bpt + 1;
}

/*
 * Choose a backend for the HTTP request parsed into st, arriving on flow k
 * to vip. Returns a backend id or KVLB_NO_BACKEND; *why says how
 * (CHOSE_*). On a choice made by key, the prefix table learns every link
 * of the request and the backend's bound_tokens grows by the request's
 * cost, so the next request sees this one before the next scrape.
 *
 *  1. Not a request we parsed (HS_ERROR, or stopped before the headers
 *     ended): the L4 hash, as for any TCP flow.
 *  2. The key: prompt_cache_key if the body has one, else the affinity
 *     header (both hashed with the model; KVLB_CFG_F_NO_AFFINITY turns them
 *     off), else the prompt's prefix chain. No key: the L4 hash.
 *  3. The prefix table, longest link first; a hit on a usable backend
 *     within the load bound wins (KVLB_CFG_F_NO_PREFIX skips this).
 *  4. Else the ring, from the deepest key's position, walking at most
 *     walk_limit slots and skipping unusable and over-bound backends.
 *  5. Every candidate over the bound: the least loaded of those seen (the
 *     request has to go somewhere, and that one is the least bad).
 */
static __always_inline __u32 choose_backend_http_cost(const struct kvlb_vip *vip,
						      const struct kvlb_flow_key *k,
						      const struct http_state *st,
						      const struct kvlb_config *cfg, __u32 *why,
						      __u64 *cost)
{
	struct load_sum ls = {.vip_index = vip->index};
	struct choose_ctx c = {};
	struct kvlb_backend_load *l;
	__u32 id;

	*cost = 0;
	if (st->s == HS_ERROR || !(st->flags & HTTP_F_HEADERS_DONE)) {
		*why = CHOSE_L4;
		return choose_backend_l4(vip, k);
	}
	c.vip_index = vip->index;
	c.ring_slot = vip->ring_slot;
	c.pct = cfg->load_bound_pct >= KVLB_LOAD_BOUND_MIN ? cfg->load_bound_pct
							   : KVLB_DEF_LOAD_BOUND_PCT;
	c.walk = cfg->walk_limit && cfg->walk_limit <= KVLB_WALK_MAX ? cfg->walk_limit
								     : KVLB_DEF_WALK_LIMIT;
	c.slack = cfg->load_slack <= KVLB_LOAD_SLACK_MAX ? cfg->load_slack : KVLB_LOAD_SLACK_MAX;
	c.count = !!(cfg->flags & KVLB_CFG_F_COUNT_LOAD);
	if (c.count)
		c.slack /= KVLB_COUNT_SLACK_DIV;
	ls.count = c.count;
	c.model_hash = st->flags & HTTP_F_MODEL ? pfx_mix64(st->model_hash) : 0;
	c.chosen = KVLB_NO_BACKEND;
	c.spare = KVLB_NO_BACKEND;
	*why = CHOSE_PREFIX;
	if (!(cfg->flags & KVLB_CFG_F_NO_AFFINITY) &&
	    (st->flags & (HTTP_F_CACHE_KEY | HTTP_F_AFFINITY_HDR))) {
		__u64 h = st->flags & HTTP_F_CACHE_KEY ? st->cache_key_hash : st->aff_hash;

		c.single = pfx_key(pfx_mix64(h), c.model_hash, c.vip_index, PFX_TAG_AFFINITY);
		c.n_keys = 1;
		*why = CHOSE_AFFINITY;
	} else {
		c.chain = &st->chain;
		c.tag = PFX_TAG_PROMPT;
		c.n_keys = pfx_len(&st->chain);
		if (c.n_keys > PFX_MAX_DEPTH)
			c.n_keys = PFX_MAX_DEPTH;
	}
	if (!c.n_keys) {
		*why = CHOSE_NO_KEY;
		return choose_backend_l4(vip, k);
	}
	c.ring_hash = choose_key(&c, c.n_keys - 1);

	bpf_loop(KVLB_MAX_BACKENDS, load_sum_cb, &ls, 0);
	c.total = ls.total;
	c.n = ls.n;

	if (!(cfg->flags & KVLB_CFG_F_NO_PREFIX))
		bpf_loop(c.n_keys, choose_prefix_cb, &c, 0);
	if (c.chosen == KVLB_NO_BACKEND) {
		if (*why == CHOSE_PREFIX)
			*why = CHOSE_RING;
		bpf_loop(c.walk, choose_ring_cb, &c, 0);
	}
	if (c.chosen == KVLB_NO_BACKEND) {
		if (c.spare == KVLB_NO_BACKEND) {
			*why = CHOSE_NONE;
			return KVLB_NO_BACKEND;
		}
		c.chosen = c.spare;
		*why = CHOSE_OVERLOADED;
	}
	id = c.chosen;
	bpf_loop(c.n_keys, choose_learn_cb, &c, 0);
	l = bpf_map_lookup_elem(&kvlb_backend_load, &id);
	if (l) {
		*cost = choose_cost(st, l, c.count);
		__sync_fetch_and_add(&l->bound_tokens, *cost);
	}
	return id;
}

/* The same, when the caller does not keep the request's cost. */
static __always_inline __u32 choose_backend_http(const struct kvlb_vip *vip,
						 const struct kvlb_flow_key *k,
						 const struct http_state *st,
						 const struct kvlb_config *cfg, __u32 *why)
{
	__u64 cost;

	return choose_backend_http_cost(vip, k, st, cfg, why, &cost);
}

/* Count a choice in the stats (per-CPU value, plain increments). */
static __always_inline void choose_count(struct kvlb_stats *s, __u32 why)
{
	if (!s)
		return;
	switch (why) {
	case CHOSE_PREFIX:
		s->http_prefix_hit++;
		break;
	case CHOSE_AFFINITY:
		s->http_affinity++;
		break;
	case CHOSE_RING:
		s->http_ring++;
		break;
	case CHOSE_OVERLOADED:
		s->http_overloaded++;
		break;
	case CHOSE_NO_KEY:
		s->http_no_key++;
		break;
	case CHOSE_L4:
		s->http_fallback_l4++;
		break;
	}
}

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The conversation-prefix key: a hash chain over fixed-size chunks of the
 * prompt's bytes, h1 = H(h0, chunk1), h2 = H(h1, chunk2), ... so two
 * requests whose prompts share their first k chunks share h1..hk.
 *
 * H is FNV-1a over the chunk's bytes started from the previous link (the
 * offset basis for h0), then murmur3's 64-bit finaliser over the result
 * plus the chunk's length. It is fed one byte at a time from the parser
 * (http.h), so a chunk may straddle any number of segments.
 *
 * The model name and the VIP are mixed in only when a link becomes a table
 * key (pfx_key), because "model" may come after "messages" in the body.
 * Pure functions: compiled as BPF and as userspace C alike.
 */
#ifndef KVLB_PREFIX_H
#define KVLB_PREFIX_H

#include "cshim.h"

#define PFX_FNV_BASIS 0xcbf29ce484222325ULL
#define PFX_FNV_PRIME 0x00000100000001b3ULL

/* Chain links a request can carry (kvlb_config.prefix_depth is at most this). */
#define PFX_MAX_DEPTH 32

/* Tags that keep the key spaces of the different key kinds apart. */
#define PFX_TAG_PROMPT	 0x70726f6d70740000ULL /* "prompt" */
#define PFX_TAG_AFFINITY 0x6166666e74790000ULL /* "affnty" */

/* murmur3's fmix64: every input bit reaches every output bit. */
static __always_inline __u64 pfx_mix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static __always_inline __u64 pfx_fnv_byte(__u64 h, __u8 c)
{
	return (h ^ c) * PFX_FNV_PRIME;
}

/* The chain state inside the parser's state (struct http_state). */
struct pfx_chain {
	__u64 acc;	  /* FNV state of the chunk being filled */
	__u32 fill;	  /* bytes in it */
	__u32 chunk_size; /* bytes per chunk (a knob) */
	__u32 depth_max;  /* links to compute (a knob, <= PFX_MAX_DEPTH) */
	__u32 n;	  /* complete links in link[] */
	__u64 link[PFX_MAX_DEPTH];
};

static __always_inline void pfx_init(struct pfx_chain *p, __u32 chunk_size, __u32 depth_max)
{
	p->acc = PFX_FNV_BASIS;
	p->fill = 0;
	p->chunk_size = chunk_size ? chunk_size : 1;
	p->depth_max = depth_max > PFX_MAX_DEPTH ? PFX_MAX_DEPTH : depth_max;
	p->n = 0;
}

/* Close a link: the finaliser covers the length so a short tail never
 * equals a full chunk that happens to end in the same FNV state. */
static __always_inline __u64 pfx_close(__u64 acc, __u32 fill)
{
	return pfx_mix64(acc + fill);
}

/* One prompt byte. Bytes past depth_max links are ignored. */
static __always_inline void pfx_byte(struct pfx_chain *p, __u8 c)
{
	__u32 i;
	__u64 h;

	if (p->n >= p->depth_max)
		return;
	p->acc = pfx_fnv_byte(p->acc, c);
	p->fill++;
	if (p->fill < p->chunk_size)
		return;
	h = pfx_close(p->acc, p->fill);
	i = p->n;
	KVLB_OPAQUE(i);
	p->link[i & (PFX_MAX_DEPTH - 1)] = h;
	p->n++;
	p->acc = h;
	p->fill = 0;
}

/* Links including the partial last chunk, if any. */
static __always_inline __u32 pfx_len(const struct pfx_chain *p)
{
	return p->n + (p->fill && p->n < p->depth_max ? 1 : 0);
}

/* Link i (0-based) of pfx_len(p); the last may be the partial tail. */
static __always_inline __u64 pfx_link(const struct pfx_chain *p, __u32 i)
{
	if (i < p->n) {
		KVLB_OPAQUE(i);
		return p->link[i & (PFX_MAX_DEPTH - 1)];
	}
	return pfx_close(p->acc, p->fill);
}

/* FNV-1a + finaliser of a whole short string (model name, affinity value)
 * as the parser streams it: start with PFX_FNV_BASIS, pfx_fnv_byte per
 * byte, then pfx_mix64 when the key is made. */

/* The prefix-table key of one link: the link, the model and the VIP. */
static __always_inline __u64 pfx_key(__u64 link, __u64 model_hash, __u32 vip_index, __u64 tag)
{
	return pfx_mix64(link ^ pfx_mix64(model_hash ^ tag ^ ((__u64)vip_index << 32)));
}

#endif

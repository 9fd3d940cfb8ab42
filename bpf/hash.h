/* SPDX-License-Identifier: GPL-2.0-only */
/* Hashing of connection tuples onto the consistent-hash ring. */
#ifndef KVLB_HASH_H
#define KVLB_HASH_H

#include "common.bpf.h"

/* murmur3's finaliser: full avalanche from a few multiplies. */
static __always_inline __u32 hash_mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 hash_add32(__u32 h, __u32 w)
{
	return hash_mix32(h ^ w) + 0x9e3779b9;
}

/* The L4 placement key: the whole 5-tuple, so one client's connections
 * spread over the backends. */
static __always_inline __u32 hash_flow(const struct kvlb_flow_key *k)
{
	__u32 h = 0x6b766c62; /* "kvlb" */
	int i;

#pragma unroll
	for (i = 0; i < 4; i++)
		h = hash_add32(h, k->src.v6[i]);
#pragma unroll
	for (i = 0; i < 4; i++)
		h = hash_add32(h, k->dst.v6[i]);
	h = hash_add32(h, ((__u32)k->sport << 16) | k->dport);
	return hash_mix32(h ^ k->proto);
}

#endif

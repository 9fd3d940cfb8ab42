/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Choosing a backend for a new flow. The L4 choice: the flow's hash picks
 * a slot of the VIP's Maglev table. The HTTP-aware choice will call into
 * the same ring walk with a prefix hash instead of the tuple hash.
 */
#ifndef KVLB_CHOOSE_H
#define KVLB_CHOOSE_H

#include "maps.bpf.h"
#include "hash.h"

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

#endif

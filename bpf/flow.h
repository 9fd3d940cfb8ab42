/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The flow table: an existing connection keeps its backend whatever happens
 * to the ring. Both directions are recorded when a flow is placed: the
 * forward entry for XDP, the reverse one for TC's source rewrite.
 */
#ifndef KVLB_FLOW_H
#define KVLB_FLOW_H

#include "maps.bpf.h"

static __always_inline struct kvlb_flow *flow_lookup(const struct kvlb_flow_key *k)
{
	return bpf_map_lookup_elem(&kvlb_flows, k);
}

/*
 * A connection that is not to a VIP may reuse the tuple of a balanced one
 * whose entries still sit in the LRU (a client that also talks to a pod
 * directly). Its SYN drops the stale reverse entry, or TC would rewrite the
 * new connection's replies to come from the VIP.
 */
static __always_inline void flow_forget_reverse(const struct kvlb_flow_key *k)
{
	struct kvlb_flow_key rk = {
	    .src = k->dst,
	    .dst = k->src,
	    .sport = k->dport,
	    .dport = k->sport,
	    .proto = k->proto,
	    .family = k->family,
	};

	bpf_map_delete_elem(&kvlb_nat_rev, &rk);
}

/* Record both directions of a flow bound to backend id; returns the forward
 * entry. */
static __always_inline struct kvlb_flow *flow_create(const struct kvlb_flow_key *k,
						     const struct kvlb_vip *vip, __u32 id,
						     const struct kvlb_backend *be)
{
	struct kvlb_flow f = {
	    .backend_id = id,
	    .vip_index = vip->index,
	    .placed_ns = bpf_ktime_get_coarse_ns(),
	};
	struct kvlb_flow_key rk = {
	    .src = be->addr,
	    .dst = k->src,
	    .sport = be->port,
	    .dport = k->sport,
	    .proto = k->proto,
	    .family = k->family,
	};
	struct kvlb_nat nat = {
	    .vip = k->dst,
	    .vip_port = k->dport,
	    .backend_id = id,
	};

	if (bpf_map_update_elem(&kvlb_nat_rev, &rk, &nat, BPF_ANY) ||
	    bpf_map_update_elem(&kvlb_flows, k, &f, BPF_ANY))
		return NULL;
	/* The map's copy, so the next hop learned later is kept with it. */
	return flow_lookup(k);
}

#endif

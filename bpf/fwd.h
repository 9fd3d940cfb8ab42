/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Forwarding without the host stack: a FIB lookup gives the egress device
 * and the neighbour's MAC, and the frame is redirected there. When the
 * kernel has no neighbour entry yet (first packet to a pod), the packet
 * goes to the stack once, which resolves it for the next ones.
 */
#ifndef KVLB_FWD_H
#define KVLB_FWD_H

#include "parse.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

static __always_inline void fib_params_from(struct bpf_fib_lookup *fib, const struct pkt *p,
					    const struct kvlb_addr *src,
					    const struct kvlb_addr *dst, __u32 ifindex)
{
	fib->ifindex = ifindex;
	fib->l4_protocol = IPPROTO_TCP;
	if (p->key.family == KVLB_AF_INET) {
		fib->family = AF_INET;
		fib->ipv4_src = src->v4;
		fib->ipv4_dst = dst->v4;
	} else {
		fib->family = AF_INET6;
		__builtin_memcpy(fib->ipv6_src, src->v6, 16);
		__builtin_memcpy(fib->ipv6_dst, dst->v6, 16);
	}
}

/*
 * Drop the VLAN tags of a frame about to leave on a pod's untagged link,
 * keeping the MAC addresses. Invalidates every packet pointer.
 */
static __always_inline int xdp_vlan_pop(struct xdp_md *ctx, struct pkt *p)
{
	unsigned char macs[12];
	__u32 shift = p->vlan_tags * 4;
	struct ethhdr *eth;
	void *data, *data_end;

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 12 > data_end)
		return -1;
	__builtin_memcpy(macs, data, 12);
	if (bpf_xdp_adjust_head(ctx, (int)shift))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(eth, macs, 12);
	eth->h_proto = p->l3_proto;
	p->l3_off -= shift;
	p->l4_off -= shift;
	p->vlan_tags = 0;
	return 0;
}

/*
 * Learn the next hop towards dst into *nh (left unset unless the FIB lookup
 * succeeds). Returns the FIB verdict; *oif is the egress device whenever the
 * route is known, resolved neighbour or not.
 */
static __always_inline long nexthop_learn(void *ctx, const struct pkt *p,
					  const struct kvlb_addr *src, const struct kvlb_addr *dst,
					  __u32 ifindex, struct kvlb_nexthop *nh, __u32 *oif)
{
	struct bpf_fib_lookup fib = {};
	long rc;

	fib_params_from(&fib, p, src, dst, ifindex);
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	*oif = fib.ifindex;
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
		__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
		nh->ifindex = fib.ifindex;
	}
	return rc;
}

/* Returns the XDP verdict; *to_stack tells which way it went. The
 * connection's next hop (*nh, kept in its entry) is learned on its first
 * packets and reused after. */
static __always_inline int xdp_forward(struct xdp_md *ctx, struct pkt *p, struct kvlb_nexthop *nh,
				       const struct kvlb_backend *be, bool *to_stack)
{
	struct ethhdr *eth;
	void *data, *data_end;
	__u32 oif;

	*to_stack = true;
	if (p->vlan_tags && xdp_vlan_pop(ctx, p))
		return XDP_DROP;
	if (!nh->ifindex && nexthop_learn(ctx, p, &p->key.src, &be->addr, ctx->ingress_ifindex, nh,
					  &oif) != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, nh->smac, ETH_ALEN);
	*to_stack = false;
	if (nh->ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(nh->ifindex, 0);
}

/* TC: send a rewritten reply straight out of the egress device. Returns
 * the TC verdict; *redirected tells which way it went. */
static __always_inline int tc_forward(struct __sk_buff *skb, struct pkt *p, struct kvlb_nat *nat,
				      bool *redirected)
{
	__u32 oif = 0;
	long rc;

	*redirected = false;
	if (!nat->nh.ifindex) {
		rc = nexthop_learn(skb, p, &nat->vip, &p->key.dst, skb->ingress_ifindex, &nat->nh,
				   &oif);
		if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
			*redirected = true;
			return bpf_redirect_neigh(oif, NULL, 0, 0);
		}
		if (rc != BPF_FIB_LKUP_RET_SUCCESS)
			return TC_ACT_OK;
	}
	if (bpf_skb_store_bytes(skb, 0, nat->nh.dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, nat->nh.smac, ETH_ALEN, 0))
		return TC_ACT_OK;
	*redirected = true;
	return bpf_redirect(nat->nh.ifindex, 0);
}

#endif

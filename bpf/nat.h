/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Address translation. Forward (XDP): the VIP destination becomes the
 * backend, so the pod sees the real client. Reverse (TC): the backend's
 * source becomes the VIP again. Checksums are patched incrementally.
 */
#ifndef KVLB_NAT_H
#define KVLB_NAT_H

#include "parse.h"
#include "csum.h"

/* XDP: rewrite destination address and port to the backend's. */
static __always_inline int nat_dst_xdp(void *data, void *data_end, struct pkt *p,
				       const struct kvlb_backend *be)
{
	struct tcphdr *th;
	__u32 l3 = p->l3_off, l4 = p->l4_off;

	if (l3 > 64 || l4 > 128)
		return -1;
	th = data + l4;
	if ((void *)(th + 1) > data_end)
		return -1;

	if (p->key.family == KVLB_AF_INET) {
		struct iphdr *iph = data + l3;

		if ((void *)(iph + 1) > data_end)
			return -1;
		csum_replace4(&iph->check, iph->daddr, be->addr.v4);
		csum_replace4(&th->check, iph->daddr, be->addr.v4);
		iph->daddr = be->addr.v4;
	} else {
		struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		csum_replace16(&th->check, (__u32 *)&ip6->daddr, be->addr.v6);
		__builtin_memcpy(&ip6->daddr, be->addr.v6, 16);
	}
	csum_replace2(&th->check, th->dest, be->port);
	th->dest = be->port;
	return 0;
}

/* TC: rewrite source address and port to the VIP's. Through the skb
 * helpers, which keep a CHECKSUM_PARTIAL skb (pods with TX offload)
 * consistent. */
static __always_inline int nat_src_tc(struct __sk_buff *skb, struct pkt *p,
				      const struct kvlb_nat *nat)
{
	__u32 csum_off = p->l4_off + __builtin_offsetof(struct tcphdr, check);
	__u32 sport_off = p->l4_off + __builtin_offsetof(struct tcphdr, source);
	__be16 old_port = p->key.sport;

	if (p->key.family == KVLB_AF_INET) {
		__u32 off = p->l3_off + __builtin_offsetof(struct iphdr, saddr);
		__u32 old = p->key.src.v4, new = nat->vip.v4;

		if (bpf_l4_csum_replace(skb, csum_off, old, new, BPF_F_PSEUDO_HDR | 4) ||
		    bpf_l3_csum_replace(skb, p->l3_off + __builtin_offsetof(struct iphdr, check),
					old, new, 4) ||
		    bpf_skb_store_bytes(skb, off, &new, 4, 0))
			return -1;
	} else {
		__u32 off = p->l3_off + __builtin_offsetof(struct ipv6hdr, saddr);
		__s64 diff = bpf_csum_diff(p->key.src.v6, 16, (__be32 *)nat->vip.v6, 16, 0);

		if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, diff, BPF_F_PSEUDO_HDR) ||
		    bpf_skb_store_bytes(skb, off, nat->vip.v6, 16, 0))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, csum_off, old_port, nat->vip_port, 2) ||
	    bpf_skb_store_bytes(skb, sport_off, &nat->vip_port, 2, 0))
		return -1;
	return 0;
}

#endif

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Segments kvlb writes itself: SYN-ACKs, ACKs and resets to clients, SYNs
 * to pods, and the held bytes replayed to a pod. Headers are built whole
 * on the stack and checksummed from scratch, because the frame they replace
 * may carry a partial (offloaded) checksum that nothing would complete.
 */
#ifndef KVLB_SEGMENT_H
#define KVLB_SEGMENT_H

#include "parse.h"
#include "csum.h"
#include "tcpopt.h"

/* A TCP header with room for the longest option layout kvlb sends. */
struct seg_hdr {
	struct tcphdr th;
	__u8 opt[20];
};

/* The IP header of either family. */
union seg_ip {
	struct iphdr v4;
	struct ipv6hdr v6;
};

/* Where a segment's headers are built: per CPU, as the BPF stack is too
 * small for them next to everything else on the path. */
struct seg_build {
	union seg_ip ip;
	struct seg_hdr h;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct seg_build);
} kvlb_seg_build SEC(".maps");

static __always_inline struct seg_build *seg_build_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kvlb_seg_build, &zero);
}

static __always_inline __u32 seg_ip_len(__u8 family)
{
	return family == KVLB_AF_INET ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
}

/* One's complement sum of the first `words` 16-bit words at buf (at most
 * 20), as they lie in memory. */
static __always_inline __u32 csum_words(const void *buf, __u32 words, __u32 sum)
{
	const __u16 *w = buf;
	__u32 i;

#pragma unroll
	for (i = 0; i < 20; i++)
		if (i < words)
			sum += w[i];
	return sum;
}

static __always_inline __u32 csum_pseudo(const struct kvlb_addr *s, const struct kvlb_addr *d,
					 __u8 family, __u32 l4_len)
{
	__u32 sum = bpf_htons(IPPROTO_TCP) + bpf_htons((__u16)l4_len);

	if (family == KVLB_AF_INET)
		return csum_words(&s->v4, 2, csum_words(&d->v4, 2, sum));
	return csum_words(s->v6, 8, csum_words(d->v6, 8, sum));
}

/* Fill an IP header from src to dst carrying l4_len bytes of TCP. */
static __always_inline void seg_ip_fill(union seg_ip *ip, __u8 family, const struct kvlb_addr *src,
					const struct kvlb_addr *dst, __u32 l4_len)
{
	if (family == KVLB_AF_INET) {
		struct iphdr *h = &ip->v4;

		__builtin_memset(h, 0, sizeof(*h));
		h->version = 4;
		h->ihl = 5;
		h->tot_len = bpf_htons(sizeof(*h) + l4_len);
		h->frag_off = bpf_htons(0x4000); /* DF */
		h->ttl = 64;
		h->protocol = IPPROTO_TCP;
		h->saddr = src->v4;
		h->daddr = dst->v4;
		h->check = ~csum_fold32(csum_words(h, 10, 0));
	} else {
		struct ipv6hdr *h = &ip->v6;

		__builtin_memset(h, 0, sizeof(*h));
		h->version = 6;
		h->payload_len = bpf_htons(l4_len);
		h->nexthdr = IPPROTO_TCP;
		h->hop_limit = 64;
		__builtin_memcpy(&h->saddr, src->v6, 16);
		__builtin_memcpy(&h->daddr, dst->v6, 16);
	}
}

/* Fill the fixed part of a TCP header (options are the caller's). */
static __always_inline void seg_tcp_fill(struct seg_hdr *h, __be16 sport, __be16 dport, __u32 seq,
					 __u32 ack, __u8 flags, __u16 win, __u32 opt_len)
{
	__builtin_memset(&h->th, 0, sizeof(h->th));
	h->th.source = sport;
	h->th.dest = dport;
	h->th.seq = bpf_htonl(seq);
	h->th.ack_seq = bpf_htonl(ack);
	h->th.doff = (sizeof(h->th) + opt_len) / 4;
	((__u8 *)&h->th)[13] = flags;
	h->th.window = bpf_htons(win);
}

/* The TCP checksum of a header (and a payload whose sum is psum). */
static __always_inline void seg_tcp_csum(struct seg_hdr *h, __u32 hdr_len,
					 const struct kvlb_addr *src, const struct kvlb_addr *dst,
					 __u8 family, __u32 payload_len, __u32 psum)
{
	__u32 sum = csum_pseudo(src, dst, family, hdr_len + payload_len);

	h->th.check = 0;
	sum = csum_words(h, hdr_len / 2, sum);
	/* psum is a 32-bit one's complement sum: fold it in without loss */
	sum = csum_fold32(sum) + csum_fold32(psum);
	h->th.check = ~csum_fold32(sum);
}

/*
 * XDP: turn the frame into a payload-less segment of the given headers
 * (the Ethernet header and VLAN tags stay). opt_len is a constant at every
 * call site: 0, 12 or 20. Invalidates packet pointers; updates p's offsets.
 */
static __always_inline int xdp_write_segment(struct xdp_md *ctx, struct pkt *p, union seg_ip *ip,
					     struct seg_hdr *h, const __u32 opt_len)
{
	__u32 ip_len = seg_ip_len(p->key.family), tcp_len = sizeof(struct tcphdr) + opt_len;
	__u32 l3 = p->l3_off, want = l3 + ip_len + tcp_len;
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	void *at;

	if (l3 > 14 + 4 * KVLB_MAX_VLAN_TAGS)
		return -1;
	if (bpf_xdp_adjust_tail(ctx, (int)want - (int)bpf_xdp_get_buff_len(ctx)))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	at = data + l3;
	if (p->key.family == KVLB_AF_INET) {
		if (at + sizeof(struct iphdr) + tcp_len > data_end)
			return -1;
		__builtin_memcpy(at, &ip->v4, sizeof(struct iphdr));
		at += sizeof(struct iphdr);
	} else {
		if (at + sizeof(struct ipv6hdr) + tcp_len > data_end)
			return -1;
		__builtin_memcpy(at, &ip->v6, sizeof(struct ipv6hdr));
		at += sizeof(struct ipv6hdr);
	}
	__builtin_memcpy(at, h, sizeof(struct tcphdr));
	if (opt_len == 12)
		__builtin_memcpy(at + sizeof(struct tcphdr), h->opt, 12);
	else if (opt_len == 20)
		__builtin_memcpy(at + sizeof(struct tcphdr), h->opt, 20);
	p->l4_off = l3 + ip_len;
	p->len = want;
	p->ip_options = 0;
	return 0;
}

/* XDP: send the frame back where it came from (swap the MAC addresses). */
static __always_inline int xdp_bounce(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 mac[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	return XDP_TX;
}

#endif

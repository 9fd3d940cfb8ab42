/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Packet parsing: Ethernet (and up to KVLB_MAX_VLAN_TAGS VLAN tags), IPv4
 * with options or IPv6, TCP. Works on a [data, data_end) window, so XDP and
 * TC share it. Fills the connection tuple in the layout of kvlb_flow_key.
 */
#ifndef KVLB_PARSE_H
#define KVLB_PARSE_H

#include "common.bpf.h"

enum parse_result {
	PARSE_OK,
	PARSE_NOT_IP,	 /* ARP, LLDP, ...: none of kvlb's business */
	PARSE_NOT_TCP,	 /* IP, but nothing kvlb balances */
	PARSE_FRAGMENT,	 /* ports unknown: cannot be placed */
	PARSE_MALFORMED, /* truncated or self-contradictory headers */
};

struct pkt {
	__u32 l3_off;	 /* IP header, from data */
	__u32 l4_off;	 /* TCP header, from data */
	__u32 len;	 /* bytes on the wire, from data */
	__be16 l3_proto; /* ETH_P_IP / ETH_P_IPV6, network order */
	__u8 vlan_tags;
	__u8 ip_options; /* IPv4 header longer than 20 bytes */
	__u8 tcp_flags;	 /* byte 13 of the TCP header: FIN SYN RST PSH ACK ... */
	struct kvlb_flow_key key;
};

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

/* The first packet of a connection. */
static __always_inline bool tcp_syn_only(const struct pkt *p)
{
	return (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
}

static __always_inline int parse_eth(void *data, void *data_end, struct pkt *p)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__be16 proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return PARSE_NOT_IP;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < KVLB_MAX_VLAN_TAGS; i++) {
		struct {
			__be16 tci;
			__be16 proto;
		} *vlan = data + off;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > data_end)
			return PARSE_MALFORMED;
		proto = vlan->proto;
		off += sizeof(*vlan);
		p->vlan_tags++;
	}
	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return PARSE_NOT_IP;
	p->l3_proto = proto;
	p->l3_off = off;
	return PARSE_OK;
}

static __always_inline int parse_ipv4(void *data, void *data_end, struct pkt *p)
{
	struct iphdr *iph = data + p->l3_off;
	__u32 hlen;

	if ((void *)(iph + 1) > data_end)
		return PARSE_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return PARSE_MALFORMED;
	hlen = iph->ihl * 4;
	if (bpf_ntohs(iph->tot_len) < hlen || data + p->l3_off + hlen > data_end)
		return PARSE_MALFORMED;
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return PARSE_FRAGMENT;
	if (iph->protocol != IPPROTO_TCP)
		return PARSE_NOT_TCP;
	p->ip_options = hlen > sizeof(*iph);
	p->key.family = KVLB_AF_INET;
	p->key.src.v4 = iph->saddr;
	p->key.dst.v4 = iph->daddr;
	p->l4_off = p->l3_off + hlen;
	return PARSE_OK;
}

static __always_inline int parse_ipv6(void *data, void *data_end, struct pkt *p)
{
	struct ipv6hdr *ip6 = data + p->l3_off;

	if ((void *)(ip6 + 1) > data_end)
		return PARSE_MALFORMED;
	if (ip6->version != 6)
		return PARSE_MALFORMED;
	if (ip6->nexthdr == IPPROTO_FRAGMENT)
		return PARSE_FRAGMENT;
	/* Extension headers before TCP are not followed (documented limit). */
	if (ip6->nexthdr != IPPROTO_TCP)
		return PARSE_NOT_TCP;
	p->key.family = KVLB_AF_INET6;
	__builtin_memcpy(p->key.src.v6, &ip6->saddr, 16);
	__builtin_memcpy(p->key.dst.v6, &ip6->daddr, 16);
	p->l4_off = p->l3_off + sizeof(*ip6);
	return PARSE_OK;
}

static __always_inline int parse_tcp(void *data, void *data_end, struct pkt *p)
{
	struct tcphdr *th;
	__u32 off = p->l4_off;

	/* Bound the offset so the verifier can follow the pointer. */
	if (off > 128)
		return PARSE_MALFORMED;
	th = data + off;
	if ((void *)(th + 1) > data_end)
		return PARSE_MALFORMED;
	if (th->doff < 5 || data + off + th->doff * 4 > data_end)
		return PARSE_MALFORMED;
	p->key.proto = IPPROTO_TCP;
	p->key.sport = th->source;
	p->key.dport = th->dest;
	p->tcp_flags = ((__u8 *)th)[13];
	return PARSE_OK;
}

/* Parse up to the TCP header. */
static __always_inline int parse_packet(void *data, void *data_end, struct pkt *p)
{
	int rc = parse_eth(data, data_end, p);

	if (rc != PARSE_OK)
		return rc;
	if (p->l3_proto == bpf_htons(ETH_P_IP))
		rc = parse_ipv4(data, data_end, p);
	else
		rc = parse_ipv6(data, data_end, p);
	if (rc != PARSE_OK)
		return rc;
	p->len = data_end - data;
	return parse_tcp(data, data_end, p);
}

#endif

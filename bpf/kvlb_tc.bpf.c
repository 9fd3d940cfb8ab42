// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvlb_tc: where pods' packets enter the node (TC ingress of each pod's
 * link). A reply of a balanced connection gets the VIP back as its source
 * and leaves by the uplink directly; everything else passes untouched.
 */
#include "common.bpf.h"
#include "maps.bpf.h"
#include "stats.h"
#include "parse.h"
#include "nat.h"
#include "fwd.h"
#include "splice_pod.h"

/* Enough linear bytes for Ethernet, two VLAN tags, IPv4 with options or
 * IPv6, and a TCP header with options. */
#define TC_PULL_LEN (14 + 8 + 60 + 60)

SEC("tc")
int kvlb_tc(struct __sk_buff *skb)
{
	struct kvlb_stats *st = stats_get();
	struct kvlb_nat *nat;
	struct pkt p = {};
	bool redirected;
	void *data, *data_end;
	int verdict, rc;

	STAT_INC(st, tc_rx);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (data + TC_PULL_LEN > data_end) {
		bpf_skb_pull_data(skb, skb->len < TC_PULL_LEN ? skb->len : TC_PULL_LEN);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}

	rc = parse_packet(data, data_end, &p);
	if (rc == PARSE_MALFORMED) {
		STAT_INC(st, tc_malformed);
		return TC_ACT_OK;
	}
	if (rc != PARSE_OK) {
		STAT_INC(st, tc_passed);
		return TC_ACT_OK;
	}

	nat = bpf_map_lookup_elem(&kvlb_nat_rev, &p.key);
	if (!nat) {
		STAT_INC(st, tc_passed);
		return TC_ACT_OK;
	}
	p.len = skb->len;
	if (nat->flags & KVLB_NAT_F_SPLICE)
		return splice_pod(skb, &p, nat, st);
	if (nat_src_tc(skb, &p, nat)) {
		STAT_INC(st, tc_malformed);
		return TC_ACT_SHOT;
	}
	STAT_INC(st, tc_rev_nat);
	STAT_ADD(st, tc_bytes, p.len);

	verdict = tc_forward(skb, &p, nat, &redirected);
	if (redirected)
		STAT_INC(st, tc_redirected);
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Delayed binding, the state both halves share: the connection's entry,
 * what a segment says, and tearing a connection down. See bpf/DESIGN.md,
 * "Delayed binding", for the whole exchange.
 */
#ifndef KVLB_SPLICE_H
#define KVLB_SPLICE_H

#include "maps.bpf.h"
#include "parse.h"
#include "tcpopt.h"
#include "stats.h"

/* The MSS kvlb announces to clients: a 1500-byte MTU on the uplink. */
#define SPLICE_MSS_V4 1460
#define SPLICE_MSS_V6 1440

/* A pod that has not answered after this many SYNs: the client is reset.
 * The client's own retransmissions pace them (about 0.2, 0.4, 0.8, 1.6,
 * 3.2 s): with 5% loss each way a pod that is up is still reached. */
#define SPLICE_SYN_TRIES KVLB_POD_SYN_TRIES

/* Held bytes the pod missed are sent again at most this often from the
 * same place: each resend the pod already has draws another duplicate
 * ACK, which must not draw another resend at once. */
#define SPLICE_RESEND_NS   200000000ULL
#define SPLICE_CLOCK_SHIFT 20 /* kvlb_splice.resent_at: 2^20 ns, about 1 ms */

/* The client's latest timestamp, for the segments kvlb sends the pod on
 * its behalf, from a segment at sequence seq. RFC 7323: a segment beyond a
 * gap does not count. Never moved back: a late duplicate (say of the
 * handshake's ACK) would make the pod drop everything after it as old
 * (PAWS). */
static __always_inline void splice_ts_seen(struct kvlb_splice *sp, __u32 seq,
					   const struct tcp_opts *o)
{
	__u32 off = seq - (sp->c_isn + 1);

	if (o->has_ts && (__s32)(off - sp->held) <= 0 && (__s32)(o->tsval - sp->ts_recent) > 0)
		sp->ts_recent = o->tsval;
}

/* While kvlb holds the request it announces the room left in the hold
 * buffer, so everything the client may send before the pod answers fits:
 * the right edge of the window stays at KVLB_HOLD_BUF bytes. */
static __always_inline __u16 splice_hold_win(const struct kvlb_splice *sp)
{
	__u32 room = sp->held < KVLB_HOLD_BUF ? KVLB_HOLD_BUF - sp->held : 0;

	return sp->flags & KVLB_SP_F_WS ? room >> KVLB_SP_WSCALE : room;
}

/* The TCP fields of one segment, in host order. */
struct seg_info {
	__u32 seq;
	__u32 ack;
	__u16 win;
	__u8 flags;
	__u8 doff;     /* header bytes */
	__u32 pay_off; /* payload, from data */
	__u32 pay_len;
	struct tcp_opts o;
};

static __always_inline __u16 splice_mss(__u8 family)
{
	return family == KVLB_AF_INET ? SPLICE_MSS_V4 : SPLICE_MSS_V6;
}

/* Read the TCP header and options at p->l4_off; the payload length comes
 * from the IP header, so Ethernet padding is not mistaken for data. XDP
 * holds the whole frame (checked); TC only the headers it pulled. */
static __always_inline int seg_read(void *data, void *data_end, const struct pkt *p,
				    struct seg_info *s, bool linear)
{
	__u32 l3 = p->l3_off, l4 = p->l4_off, ip_pay;
	struct tcphdr *th;

	if (l3 > 64 || l4 > 128)
		return -1;
	th = data + l4;
	if ((void *)(th + 1) > data_end)
		return -1;
	if (p->key.family == KVLB_AF_INET) {
		struct iphdr *ip = data + l3;

		if ((void *)(ip + 1) > data_end)
			return -1;
		ip_pay = bpf_ntohs(ip->tot_len) - (l4 - l3);
	} else {
		struct ipv6hdr *ip6 = data + l3;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		ip_pay = bpf_ntohs(ip6->payload_len);
	}
	s->seq = bpf_ntohl(th->seq);
	s->ack = bpf_ntohl(th->ack_seq);
	s->win = bpf_ntohs(th->window);
	s->flags = p->tcp_flags;
	s->doff = th->doff * 4;
	if (ip_pay < s->doff || ip_pay > 0xffff)
		return -1;
	s->pay_len = ip_pay - s->doff;
	s->pay_off = l4 + s->doff;
	if (linear && data + s->pay_off + s->pay_len > data_end)
		return -1;
	tcp_opts_read(th, data_end, &s->o);
	return 0;
}

/* The pod -> client key of a connection bound to backend be. */
static __always_inline void splice_rev_key(struct kvlb_flow_key *rk, const struct kvlb_flow_key *k,
					   const struct kvlb_backend *be)
{
	__builtin_memset(rk, 0, sizeof(*rk));
	rk->src = be->addr;
	rk->dst = k->src;
	rk->sport = be->port;
	rk->dport = k->sport;
	rk->proto = k->proto;
	rk->family = k->family;
}

/* Forget a connection: its entry, its held bytes and its reverse entry. */
static __always_inline void splice_forget(const struct kvlb_flow_key *k,
					  const struct kvlb_splice *sp)
{
	__u32 id = sp->backend_id;
	struct kvlb_backend *be = bpf_map_lookup_elem(&kvlb_backends, &id);
	struct kvlb_flow_key rk;

	bpf_map_delete_elem(&kvlb_hold, k);
	if (be) {
		splice_rev_key(&rk, k, be);
		bpf_map_delete_elem(&kvlb_nat_rev, &rk);
	}
	bpf_map_delete_elem(&kvlb_splice, k);
}

/* A closed connection's request is no longer load on its backend: its cost
 * goes to done_tokens, unless a scrape has counted it since (the scraper
 * reset bound_tokens, and its figures say what still runs). Once. */
static __always_inline void splice_return_cost(struct kvlb_splice *sp)
{
	__u32 id = sp->backend_id;
	struct kvlb_backend_load *l;

	if (sp->flags & KVLB_SP_F_DONE)
		return;
	sp->flags |= KVLB_SP_F_DONE;
	l = bpf_map_lookup_elem(&kvlb_backend_load, &id);
	if (l && sp->cost && l->scrape_ns == sp->bound_scrape_ns)
		__sync_fetch_and_add(&l->done_tokens, sp->cost);
}

static __always_inline void splice_close(struct kvlb_splice *sp, struct kvlb_stats *st)
{
	sp->state = KVLB_SP_CLOSED;
	splice_return_cost(sp);
	STAT_INC(st, sp_closed);
}

/* FIN and RST bookkeeping for a packet about to be translated. A RST closes
 * at once, but the entry stays for kvlbd to sweep: the endpoint judges a
 * RST's sequence number, and a connection that ignores a blind one must
 * keep its translation. Both FINs close it; the test runs on every packet,
 * so the last ACKs close it even when both FINs crossed on two CPUs. */
static __always_inline void splice_track_close(struct kvlb_splice *sp, __u8 flags, bool from_client,
					       __u64 now, struct kvlb_stats *st)
{
	sp->last_ns = now;
	if (sp->state == KVLB_SP_CLOSED)
		return;
	if (flags & TCP_FLAG_RST) {
		splice_close(sp, st);
		return;
	}
	if (flags & TCP_FLAG_FIN) {
		if (from_client)
			sp->fin_c = 1;
		else
			sp->fin_s = 1;
	}
	if (sp->fin_c && sp->fin_s)
		splice_close(sp, st);
}

/* The client's window as the pod must read it: unchanged, unless the pod
 * declined window scaling (then neither side of its half scales). */
static __always_inline __u16 splice_c2s_win(const struct kvlb_splice *sp, __u16 win)
{
	__u32 w;

	if (!(sp->flags & KVLB_SP_F_S_NOWS) || !(sp->flags & KVLB_SP_F_WS))
		return win;
	w = (__u32)win << (sp->c_wscale & 15);
	return w > 0xffff ? 0xffff : w;
}

#endif

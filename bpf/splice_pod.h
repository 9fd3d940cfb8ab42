/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Delayed binding, the pod's half (TC where the pod's packets enter the
 * node): the pod's SYN-ACK is turned into the replay of the held bytes,
 * held bytes the pod missed are sent again, and the pod's packets are
 * translated onto the client's half.
 */
#ifndef KVLB_SPLICE_POD_H
#define KVLB_SPLICE_POD_H

#include "splice.h"
#include "segment.h"
#include "stats.h"
#include "nat.h"

/* The most payload kvlb writes into one of the pod's own packets. Those are
 * small control packets (a SYN-ACK, an ACK) whose truesize the kernel does
 * not grow when the packet belongs to a socket; Linux 6.7+ divides a
 * segment's length by its truesize into a u8 (tcp_measure_rcv_mss), and a
 * segment as long as its truesize wraps that to 0 and divides by zero later
 * (tcp_rcv_space_adjust). Such packets are at least 768 bytes of truesize. */
#define SPLICE_REPLAY_SEG KVLB_REPLAY_SEG
/* Most segments one replay sends: everything held, 512 bytes a segment. */
#define SPLICE_REPLAY_SEGS                                                                         \
	((KVLB_HOLD_BUF + KVLB_SEG_MAX + SPLICE_REPLAY_SEG - 1) / SPLICE_REPLAY_SEG)
#define CSUM_CHUNK 512 /* the most bpf_csum_diff sums at once */

/* One's complement sum of n held bytes from offset off. */
static __always_inline __u32 hold_csum(const struct kvlb_hold *h, __u32 off, __u32 n)
{
	__u32 sum = 0, base, len, j;
	__u8 tail[4];
	int c;

	if (off >= KVLB_HOLD_BUF || n > KVLB_SEG_MAX)
		return 0;
#pragma unroll
	for (c = 0; c < KVLB_SEG_MAX / CSUM_CHUNK; c++) {
		base = c * CSUM_CHUNK;
		if (base >= n)
			break;
		len = n - base;
		if (len > CSUM_CHUNK)
			len = CSUM_CHUNK;
		if (len & ~3u) {
			/* 64-bit, so no zero-extension splits the bound the
			 * verifier learns from the compare off the register
			 * that indexes (6.1 does not carry it across) */
			__u64 l4 = len & ~3u, at = (__u64)off + base;
			__s64 r;

			KVLB_OPAQUE(at);
			KVLB_OPAQUE(l4);
			if (at > KVLB_HOLD_BUF + KVLB_SEG_MAX - CSUM_CHUNK || l4 > CSUM_CHUNK)
				break;
			r = bpf_csum_diff(NULL, 0, (__be32 *)(h->data + at), l4, sum);
			if (r >= 0)
				sum = (__u32)r;
		}
		if (len & 3) {
			__u64 at = (__u64)off + base + (len & ~3u);

			*(__u32 *)tail = 0;
#pragma unroll
			for (j = 0; j < 3; j++) {
				__u64 t = at + j;

				KVLB_OPAQUE(t);
				if (j >= (len & 3) || t >= KVLB_HOLD_BUF + KVLB_SEG_MAX)
					break;
				tail[j] = h->data[t];
			}
			sum = csum_fold32(sum) + *(__u16 *)tail + *(__u16 *)(tail + 2);
		}
	}
	return sum;
}

/* Write one segment of held bytes [off, off + n) over the skb. A global
 * function, so the verifier checks it once rather than once per segment of
 * the replay loop. */
struct replay_seg {
	__u32 off;
	__u32 n;
	__u32 last; /* the last of the burst: PSH */
	__u32 tsecr;
};

__noinline int replay_write(struct __sk_buff *skb, const struct pkt *p,
			    const struct kvlb_splice *sp, const struct kvlb_hold *h,
			    const struct replay_seg *rs)
{
	struct seg_build *b = seg_build_get();
	__u32 opt, hlen, ip_len, l3 = ETH_HLEN, off, n, tsecr;
	__u64 at;
	bool ts, v4, last;

	if (!skb || !p || !sp || !h || !rs || !b)
		return -1;
	ts = sp->flags & KVLB_SP_F_TS;
	v4 = p->key.family == KVLB_AF_INET;
	opt = ts ? 12 : 0;
	hlen = sizeof(struct tcphdr) + opt;
	ip_len = seg_ip_len(p->key.family);
	off = rs->off;
	n = rs->n;
	last = rs->last;
	tsecr = rs->tsecr;
	if (off >= KVLB_HOLD_BUF || !n || n > KVLB_SEG_MAX)
		return -1;
	KVLB_OPAQUE(n);
	n = ((n - 1) & (KVLB_SEG_MAX - 1)) + 1;
	/* client -> pod: the reverse of the pod's packet */
	seg_ip_fill(&b->ip, p->key.family, &p->key.dst, &p->key.src, hlen + n);
	seg_tcp_fill(&b->h, p->key.dport, p->key.sport, sp->c_isn + 1 + off,
		     sp->our_isn + 1 - sp->seq_delta, TCP_FLAG_ACK | (last ? 0x08 : 0),
		     splice_c2s_win(sp, sp->c_win), opt);
	if (ts)
		tcp_opts_ts(b->h.opt, sp->ts_recent, tsecr);
	seg_tcp_csum(&b->h, hlen, &p->key.dst, &p->key.src, p->key.family, n, hold_csum(h, off, n));
	if (bpf_skb_change_tail(skb, l3 + ip_len + hlen + n, 0))
		return -1;
	if (v4 ? bpf_skb_store_bytes(skb, l3, &b->ip.v4, sizeof(b->ip.v4), 0)
	       : bpf_skb_store_bytes(skb, l3, &b->ip.v6, sizeof(b->ip.v6), 0))
		return -1;
	if (ts ? bpf_skb_store_bytes(skb, l3 + ip_len, &b->h, sizeof(b->h.th) + 12, 0)
	       : bpf_skb_store_bytes(skb, l3 + ip_len, &b->h, sizeof(b->h.th), 0))
		return -1;
	at = off;
	KVLB_OPAQUE(at);
	if (at >= KVLB_HOLD_BUF)
		return -1;
	return bpf_skb_store_bytes(skb, l3 + ip_len + hlen, h->data + at, n, 0) ? -1 : 0;
}

_Static_assert(KVLB_HOLD_BUF + KVLB_SEG_MAX <= 0xffff, "held offsets fit kvlb_splice.resent_from");

/* Payload bytes of one replayed segment: the pod's MSS (which counts the
 * timestamp option) and kvlb's, within SPLICE_REPLAY_SEG. */
static __always_inline __u32 replay_seg_len(const struct kvlb_splice *sp, __u8 family)
{
	__u32 mss = sp->s_mss, our = splice_mss(family);

	if (!mss || mss > our)
		mss = our;
	if (sp->flags & KVLB_SP_F_TS)
		mss -= 12;
	return mss > SPLICE_REPLAY_SEG ? SPLICE_REPLAY_SEG : mss;
}

/* Send held bytes [from, to) back to the pod, replay_seg_len a segment,
 * turning the pod's own packet into them. Returns the TC verdict. */
static __always_inline int replay_held(struct __sk_buff *skb, const struct pkt *p,
				       struct kvlb_splice *sp, const struct kvlb_hold *h,
				       __u32 from, __u32 to, __u32 tsecr, bool resend,
				       struct kvlb_stats *st)
{
	__u32 mss = replay_seg_len(sp, p->key.family), ifindex = skb->ifindex, off, n;
	__u8 macs[12], swapped[12];
	struct replay_seg rs = {.tsecr = tsecr};
	int i;

	if (p->vlan_tags || p->l3_off != ETH_HLEN) {
		STAT_INC(st, sp_unsupported);
		return TC_ACT_SHOT;
	}
	if (bpf_skb_load_bytes(skb, 0, macs, 12))
		return TC_ACT_SHOT;
	__builtin_memcpy(swapped, macs + 6, 6);
	__builtin_memcpy(swapped + 6, macs, 6);
	if (bpf_skb_store_bytes(skb, 0, swapped, 12, 0))
		return TC_ACT_SHOT;
	off = from;
	for (i = 0; i < SPLICE_REPLAY_SEGS; i++) {
		if (off >= to)
			break;
		n = to - off > mss ? mss : to - off;
		rs.off = off;
		rs.n = n;
		rs.last = off + n >= to;
		if (replay_write(skb, p, sp, h, &rs))
			return TC_ACT_SHOT;
		off += n;
		if (off >= to)
			break;
		bpf_clone_redirect(skb, ifindex, 0);
	}
	if (resend)
		STAT_ADD(st, sp_resent_bytes, off - from);
	else
		STAT_ADD(st, sp_replayed_bytes, off - from);
	return bpf_redirect(ifindex, 0);
}

/* Turn the skb into a segment from the client to the pod: headers written
 * whole, opt_len bytes of options (0 or 20). */
static __always_inline int pod_seg_write(struct __sk_buff *skb, const struct pkt *p,
					 struct seg_build *b, const __u32 opt_len)
{
	__u32 ip_len = seg_ip_len(p->key.family), l3 = ETH_HLEN;
	__u32 tcp_len = sizeof(struct tcphdr) + opt_len;

	seg_ip_fill(&b->ip, p->key.family, &p->key.dst, &p->key.src, tcp_len);
	seg_tcp_csum(&b->h, tcp_len, &p->key.dst, &p->key.src, p->key.family, 0, 0);
	if (bpf_skb_change_tail(skb, l3 + ip_len + tcp_len, 0))
		return -1;
	if (p->key.family == KVLB_AF_INET ? bpf_skb_store_bytes(skb, l3, &b->ip.v4, 20, 0)
					  : bpf_skb_store_bytes(skb, l3, &b->ip.v6, 40, 0))
		return -1;
	if (opt_len == 20)
		return bpf_skb_store_bytes(skb, l3 + ip_len, &b->h, 40, 0) ? -1 : 0;
	return bpf_skb_store_bytes(skb, l3 + ip_len, &b->h, 20, 0) ? -1 : 0;
}

/* The pod answered kvlb's SYN with a bare ACK: a socket of an earlier
 * connection on the same tuple (TIME_WAIT) found the SYN old. As the
 * client's own stack would: a RST for that ACK, which clears the old socket,
 * then at once the SYN again. A global function: verified once. */
__noinline int pod_resyn(struct __sk_buff *skb, const struct pkt *p, struct kvlb_splice *sp,
			 __u32 rst_seq)
{
	struct seg_build *b = seg_build_get();
	__u8 macs[12], swapped[12];
	__u32 ifindex;

	if (!skb || !p || !sp || !b || p->vlan_tags || p->l3_off != ETH_HLEN)
		return TC_ACT_SHOT;
	ifindex = skb->ifindex;
	if (bpf_skb_load_bytes(skb, 0, macs, 12))
		return TC_ACT_SHOT;
	__builtin_memcpy(swapped, macs + 6, 6);
	__builtin_memcpy(swapped + 6, macs, 6);
	if (bpf_skb_store_bytes(skb, 0, swapped, 12, 0))
		return TC_ACT_SHOT;
	seg_tcp_fill(&b->h, p->key.dport, p->key.sport, rst_seq, 0, TCP_FLAG_RST, 0, 0);
	if (pod_seg_write(skb, p, b, 0))
		return TC_ACT_SHOT;
	bpf_clone_redirect(skb, ifindex, 0);
	seg_tcp_fill(&b->h, p->key.dport, p->key.sport, sp->c_isn, 0, TCP_FLAG_SYN, 65535, 20);
	tcp_opts_syn(b->h.opt, sp->c_mss, sp->flags & KVLB_SP_F_SACK, sp->flags & KVLB_SP_F_TS,
		     sp->ts_recent, 0, sp->flags & KVLB_SP_F_WS ? sp->c_wscale : 0xff);
	if (pod_seg_write(skb, p, b, 20))
		return TC_ACT_SHOT;
	sp->tries++;
	sp->last_ns = bpf_ktime_get_coarse_ns();
	return bpf_redirect(ifindex, 0);
}

/* Reset the client on the pod's behalf: its RST gets kvlb's sequence
 * number, which is the one the client expects. */
static __always_inline int splice_pod_reset(struct __sk_buff *skb, struct pkt *p,
					    struct kvlb_nat *nat, const struct kvlb_splice *sp,
					    const struct seg_info *s)
{
	__u32 csum_off = p->l4_off + __builtin_offsetof(struct tcphdr, check);
	__be32 old = bpf_htonl(s->seq), new = bpf_htonl(sp->our_isn + 1);
	bool redirected;

	if (bpf_l4_csum_replace(skb, csum_off, old, new, 4) ||
	    bpf_skb_store_bytes(skb, p->l4_off + 4, &new, 4, 0) || nat_src_tc(skb, p, nat))
		return TC_ACT_SHOT;
	return tc_forward(skb, p, nat, &redirected);
}

/* Translate a pod segment onto the client's half: kvlb's sequence space,
 * its timestamp clock, and the window scale kvlb announced. */
static __always_inline int splice_xlate_s2c(struct __sk_buff *skb, const struct pkt *p,
					    const struct kvlb_splice *sp, const struct seg_info *s)
{
	__u32 l4 = p->l4_off, csum_off = l4 + __builtin_offsetof(struct tcphdr, check);
	__be32 old = bpf_htonl(s->seq), new = bpf_htonl(s->seq + sp->seq_delta);

	if (bpf_l4_csum_replace(skb, csum_off, old, new, 4) ||
	    bpf_skb_store_bytes(skb, l4 + 4, &new, 4, 0))
		return -1;
	if (s->o.has_ts && (sp->flags & KVLB_SP_F_TS) && !(s->o.ts_off & 1)) {
		__u32 at = l4 + (s->o.ts_off & 63) + 2;

		old = bpf_htonl(s->o.tsval);
		new = bpf_htonl(s->o.tsval + sp->ts_delta);
		if (bpf_l4_csum_replace(skb, csum_off, old, new, 4) ||
		    bpf_skb_store_bytes(skb, at, &new, 4, 0))
			return -1;
	}
	if ((sp->flags & KVLB_SP_F_WS) && sp->s_wscale != KVLB_SP_WSCALE &&
	    !(s->flags & TCP_FLAG_SYN)) {
		__u32 w = ((__u32)s->win << (sp->s_wscale & 15)) >> KVLB_SP_WSCALE;
		__be16 ow = bpf_htons(s->win), nw = bpf_htons(w > 0xffff ? 0xffff : w);

		if (bpf_l4_csum_replace(skb, csum_off, ow, nw, 2) ||
		    bpf_skb_store_bytes(skb, l4 + 14, &nw, 2, 0))
			return -1;
	}
	return 0;
}

/* A pod packet of a delayed-binding connection. */
static __always_inline int splice_pod(struct __sk_buff *skb, struct pkt *p, struct kvlb_nat *nat,
				      struct kvlb_stats *st)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct kvlb_flow_key k = {
	    .src = p->key.dst,
	    .dst = nat->vip,
	    .sport = p->key.dport,
	    .dport = nat->vip_port,
	    .proto = p->key.proto,
	    .family = p->key.family,
	};
	struct kvlb_splice *sp = bpf_map_lookup_elem(&kvlb_splice, &k);
	struct seg_info s = {};
	struct kvlb_hold *h;
	bool redirected;
	__u32 base, from, to;
	int verdict;

	if (!sp) {
		/* The connection is gone; its replies must not reach the
		 * client from the pod's address. */
		bpf_map_delete_elem(&kvlb_nat_rev, &p->key);
		STAT_INC(st, tc_malformed);
		return TC_ACT_SHOT;
	}
	if (seg_read(data, data_end, p, &s, false)) {
		STAT_INC(st, tc_malformed);
		return TC_ACT_SHOT;
	}
	base = sp->c_isn + 1;

	if (sp->state == KVLB_SP_CONNECTING) {
		if (s.flags & TCP_FLAG_RST) {
			STAT_INC(st, sp_pod_reset);
			verdict = splice_pod_reset(skb, p, nat, sp, &s);
			splice_forget(&k, sp);
			return verdict;
		}
		if ((s.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_ACK &&
		    s.ack != base) {
			if (sp->tries >= SPLICE_SYN_TRIES)
				return TC_ACT_SHOT; /* the client's next retry resets it */
			STAT_INC(st, sp_syn_retries);
			return pod_resyn(skb, p, sp, s.ack);
		}
		if ((s.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != (TCP_FLAG_SYN | TCP_FLAG_ACK) ||
		    s.ack != base)
			return TC_ACT_SHOT;
		h = bpf_map_lookup_elem(&kvlb_hold, &k);
		if (!h)
			return TC_ACT_SHOT;
		sp->seq_delta = sp->our_isn - s.seq;
		sp->s_mss = s.o.mss ? s.o.mss : 536;
		sp->s_wscale = s.o.wscale == 0xff ? 0 : s.o.wscale;
		if (s.o.wscale == 0xff)
			sp->flags |= KVLB_SP_F_S_NOWS;
		if (s.o.has_ts)
			sp->ts_delta = sp->ts_ours - s.o.tsval;
		sp->state = KVLB_SP_REPLAYING;
		return replay_held(skb, p, sp, h, 0, sp->held, s.o.tsval, false, st);
	}

	if (sp->state == KVLB_SP_REPLAYING) {
		h = bpf_map_lookup_elem(&kvlb_hold, &k);
		if ((s.flags & TCP_FLAG_SYN) && h)
			/* our first segment was lost: the pod answers again */
			return replay_held(skb, p, sp, h, 0, sp->held, s.o.tsval, true, st);
		bool dup = s.ack == sp->s_ack;

		sp->s_ack = s.ack;
		if (h && dup && !s.pay_len &&
		    (s.flags & (TCP_FLAG_FIN | TCP_FLAG_RST | TCP_FLAG_ACK)) == TCP_FLAG_ACK &&
		    (__s32)(s.ack - (base + sp->acked)) < 0 && (__s32)(s.ack - base) >= 0) {
			/* A duplicate ACK below what kvlb acknowledged to the
			 * client: those bytes went missing, and only kvlb has
			 * them. (A rising ACK is the replay arriving.) One
			 * segment, not again from there for a while. */
			__u32 now = bpf_ktime_get_coarse_ns() >> SPLICE_CLOCK_SHIFT;

			from = s.ack - base;
			if (from == sp->resent_from &&
			    now - sp->resent_at < (SPLICE_RESEND_NS >> SPLICE_CLOCK_SHIFT)) {
				STAT_INC(st, sp_resend_held);
				return TC_ACT_SHOT;
			}
			/* held offsets fit 16 bits: KVLB_HOLD_BUF + one segment */
			sp->resent_from = (__u16)from;
			sp->resent_at = now;
			to = from + replay_seg_len(sp, p->key.family);
			if (to > sp->acked)
				to = sp->acked;
			return replay_held(skb, p, sp, h, from, to, s.o.tsval, true, st);
		}
		if ((s.flags & TCP_FLAG_ACK) && (__s32)(s.ack - (base + sp->acked)) >= 0) {
			/* the rest is the client's to send again if lost */
			sp->state = KVLB_SP_SPLICED;
			bpf_map_delete_elem(&kvlb_hold, &k);
		}
	}
	if (s.flags & TCP_FLAG_SYN)
		return TC_ACT_SHOT;

	splice_track_close(sp, s.flags, false, bpf_ktime_get_coarse_ns(), st);
	if (splice_xlate_s2c(skb, p, sp, &s) || nat_src_tc(skb, p, nat)) {
		STAT_INC(st, tc_malformed);
		return TC_ACT_SHOT;
	}
	STAT_INC(st, sp_xlate_s2c);
	STAT_ADD(st, tc_bytes, p->len);
	verdict = tc_forward(skb, p, nat, &redirected);
	if (redirected)
		STAT_INC(st, tc_redirected);
	return verdict;
}

#endif

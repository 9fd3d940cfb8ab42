/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Delayed binding, the client's half (XDP on the uplink): the SYN cookie,
 * holding and acknowledging the request front, the SYN to the chosen pod,
 * and translating the client's packets once the halves are spliced.
 */
#ifndef KVLB_SPLICE_CLIENT_H
#define KVLB_SPLICE_CLIENT_H

#include "splice.h"
#include "cookie.h"
#include "segment.h"
#include "choose.h"
#include "stats.h"
#include "nat.h"
#include "fwd.h"

/* What a handler returns instead of a verdict when the next step must run
 * in a call of its own (the BPF stack of a call chain is 512 bytes). */
#define SPLICE_DO_HOLD (-4) /* a segment while holding: splice_hold */
#define SPLICE_DO_BIND (-2) /* the front is enough: splice_bind */
#define SPLICE_DO_SYN  (-3) /* send the SYN to the pod: splice_syn_pod */

/* Answer a segment of k's client: from the VIP, with kvlb's sequence
 * numbers. opt is 12 when the connection has timestamps. */
static __always_inline int splice_reply(struct xdp_md *ctx, struct pkt *p, __u32 seq, __u32 ack,
					__u8 flags, __u16 win, bool ts, __u32 tsval, __u32 tsecr)
{
	struct seg_build *b = seg_build_get();
	__u32 opt = ts ? 12 : 0;

	if (!b)
		return XDP_DROP;
	seg_ip_fill(&b->ip, p->key.family, &p->key.dst, &p->key.src, sizeof(b->h.th) + opt);
	seg_tcp_fill(&b->h, p->key.dport, p->key.sport, seq, ack, flags, win, opt);
	if (ts)
		tcp_opts_ts(b->h.opt, tsval, tsecr);
	seg_tcp_csum(&b->h, sizeof(b->h.th) + opt, &p->key.dst, &p->key.src, p->key.family, 0, 0);
	if (ts ? xdp_write_segment(ctx, p, &b->ip, &b->h, 12)
	       : xdp_write_segment(ctx, p, &b->ip, &b->h, 0))
		return XDP_DROP;
	return xdp_bounce(ctx);
}

/* Reset the client (kvlb's next sequence number, so it is accepted). */
static __always_inline int splice_reset_client(struct xdp_md *ctx, struct pkt *p, __u32 seq)
{
	return splice_reply(ctx, p, seq, 0, TCP_FLAG_RST, 0, false, 0, 0);
}

/* Give up on a connection: forget it and reset the client. */
static __always_inline int splice_abort(struct xdp_md *ctx, struct pkt *p, struct kvlb_splice *sp)
{
	__u32 seq = sp->our_isn + 1;

	splice_forget(&p->key, sp);
	return splice_reset_client(ctx, p, seq);
}

/* A SYN to an HTTP VIP: answered with a cookie, nothing remembered. */
static __noinline int splice_syn(struct xdp_md *ctx, struct pkt *p, struct kvlb_stats *st)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct seg_build *b = seg_build_get();
	struct kvlb_splice *old;
	struct cookie_offer off;
	struct seg_info s = {};
	__u32 cookie;

	if (!b || seg_read(data, data_end, p, &s, true))
		return XDP_DROP;
	old = bpf_map_lookup_elem(&kvlb_splice, &p->key);
	if (old) {
		/* A late duplicate of this connection's own SYN changes
		 * nothing; a new ISN is a new connection on a reused tuple. */
		if (old->c_isn == s.seq && old->state != KVLB_SP_CLOSED)
			return XDP_DROP;
		splice_forget(&p->key, old);
	}
	off.mss = s.o.mss ? s.o.mss : 536;
	off.wscale = s.o.wscale;
	off.sack = s.o.sack_perm;
	cookie = cookie_make(&p->key, s.seq, &off);

	seg_ip_fill(&b->ip, p->key.family, &p->key.dst, &p->key.src, sizeof(b->h));
	/* a SYN's window is never scaled: the hold buffer's size as it is */
	seg_tcp_fill(&b->h, p->key.dport, p->key.sport, cookie, s.seq + 1, 0x12 /* SYN ACK */,
		     KVLB_HOLD_BUF, 20);
	tcp_opts_syn(b->h.opt, splice_mss(p->key.family), off.sack, s.o.has_ts,
		     cookie_ts_make(&p->key, cookie), s.o.tsval,
		     off.wscale == 0xff ? 0xff : KVLB_SP_WSCALE);
	seg_tcp_csum(&b->h, sizeof(b->h), &p->key.dst, &p->key.src, p->key.family, 0, 0);
	if (xdp_write_segment(ctx, p, &b->ip, &b->h, 20))
		return XDP_DROP;
	STAT_INC(st, sp_cookie_sent);
	return xdp_bounce(ctx);
}

/* Acknowledge what is held so far. */
static __always_inline int splice_ack_client(struct xdp_md *ctx, struct pkt *p,
					     struct kvlb_splice *sp, struct kvlb_stats *st)
{
	__u16 win = splice_hold_win(sp);

	STAT_INC(st, sp_acks_sent);
	return splice_reply(ctx, p, sp->our_isn + 1, sp->c_isn + 1 + sp->held, TCP_FLAG_ACK, win,
			    sp->flags & KVLB_SP_F_TS, sp->ts_ours, sp->ts_recent);
}

/* Send (again) the SYN that opens the pod's half, on the client's behalf:
 * the client's address, ISN and options. */
static __noinline int splice_syn_pod(struct xdp_md *ctx, struct pkt *p, struct kvlb_stats *st)
{
	struct kvlb_splice *sp = bpf_map_lookup_elem(&kvlb_splice, &p->key);
	struct seg_build *b = seg_build_get();
	struct kvlb_backend *be;
	bool to_stack;
	int verdict;
	__u32 id;

	if (!b || !sp)
		return XDP_DROP;
	id = sp->backend_id;
	be = bpf_map_lookup_elem(&kvlb_backends, &id);
	if (!be || !(be->flags & KVLB_BE_F_IN_USE)) {
		return splice_abort(ctx, p, sp);
	}
	sp->tries++;
	sp->last_ns = bpf_ktime_get_coarse_ns();
	seg_ip_fill(&b->ip, p->key.family, &p->key.src, &be->addr, sizeof(b->h));
	seg_tcp_fill(&b->h, p->key.sport, be->port, sp->c_isn, 0, TCP_FLAG_SYN, 65535, 20);
	tcp_opts_syn(b->h.opt, sp->c_mss, sp->flags & KVLB_SP_F_SACK, sp->flags & KVLB_SP_F_TS,
		     sp->ts_recent, 0, sp->flags & KVLB_SP_F_WS ? sp->c_wscale : 0xff);
	seg_tcp_csum(&b->h, sizeof(b->h), &p->key.src, &be->addr, p->key.family, 0, 0);
	if (xdp_write_segment(ctx, p, &b->ip, &b->h, 20))
		return XDP_DROP;
	if (p->vlan_tags)
		STAT_INC(st, xdp_vlan);
	verdict = xdp_forward(ctx, p, &sp->nh, be, &to_stack);
	if (verdict == XDP_DROP)
		STAT_INC(st, xdp_malformed);
	else if (to_stack)
		STAT_INC(st, xdp_forwarded_stack);
	else
		STAT_INC(st, xdp_forwarded);
	return verdict;
}

/* The front is enough: choose the pod and open its half. */
static __noinline int splice_bind(struct xdp_md *ctx, struct pkt *p, struct kvlb_stats *st)
{
	struct kvlb_splice *sp = bpf_map_lookup_elem(&kvlb_splice, &p->key);
	struct kvlb_hold *h = bpf_map_lookup_elem(&kvlb_hold, &p->key);
	struct kvlb_config *cfg;
	struct kvlb_backend *be;
	struct kvlb_flow_key rk;
	struct kvlb_nat nat = {};
	struct kvlb_backend_load *l;
	struct kvlb_vip *vip;
	__u32 zero = 0, id, why = CHOSE_NONE;
	__u64 cost = 0;

	if (!sp)
		return XDP_DROP;
	if (!h) {
		STAT_INC(st, sp_hold_lost);
		return splice_abort(ctx, p, sp);
	}
	vip = lookup_vip(&p->key);
	cfg = bpf_map_lookup_elem(&kvlb_config, &zero);
	id = vip && cfg ? choose_backend_http_cost(vip, &p->key, &h->hs, cfg, &why, &cost)
			: KVLB_NO_BACKEND;
	choose_count(st, why);
	be = bpf_map_lookup_elem(&kvlb_backends, &id);
	if (!be || !(be->flags & KVLB_BE_F_IN_USE)) {
		STAT_INC(st, xdp_no_backend);
		return splice_abort(ctx, p, sp);
	}
	sp->backend_id = id;
	sp->state = KVLB_SP_CONNECTING;
	sp->tries = 0;
	l = bpf_map_lookup_elem(&kvlb_backend_load, &id);
	sp->cost = cost > 0xffffffffULL ? 0xffffffffu : (__u32)cost;
	sp->bound_scrape_ns = l ? l->scrape_ns : 0;
	nat.vip = p->key.dst;
	nat.vip_port = p->key.dport;
	nat.flags = KVLB_NAT_F_SPLICE;
	nat.backend_id = id;
	splice_rev_key(&rk, &p->key, be);
	if (bpf_map_update_elem(&kvlb_nat_rev, &rk, &nat, BPF_ANY)) {
		return splice_abort(ctx, p, sp);
	}
	STAT_INC(st, sp_bound);
	return SPLICE_DO_SYN;
}

struct hold_feed {
	struct http_state *hs;
	__u8 *data;
	__u32 start;
};

static long hold_feed_cb(__u32 i, void *ctx)
{
	struct hold_feed *f = ctx;
	__u32 idx = f->start + i;

	if (idx >= KVLB_HOLD_BUF + KVLB_SEG_MAX)
		return 1;
	http_byte(f->hs, f->data[idx]);
	return 0;
}

/* Copy an in-order segment's payload into the hold; false when it does
 * not fit (it is then left to the client to send again). */
static __always_inline bool hold_append(struct xdp_md *ctx, struct kvlb_splice *sp,
					struct kvlb_hold *h, const struct seg_info *s, bool parse,
					struct kvlb_stats *st)
{
	__u32 at = sp->held, n = s->pay_len;
	struct hold_feed f;

	if (!n || n > KVLB_SEG_MAX || at >= KVLB_HOLD_BUF)
		return false;
	KVLB_OPAQUE(n);
	n = ((n - 1) & (KVLB_SEG_MAX - 1)) + 1;
	if (bpf_xdp_load_bytes(ctx, s->pay_off, h->data + at, n))
		return false;
	if (parse) {
		f.hs = &h->hs;
		f.data = h->data;
		f.start = at;
		bpf_loop(n, hold_feed_cb, &f, 0);
	}
	sp->held = at + n;
	STAT_INC(st, sp_held_segments);
	STAT_ADD(st, sp_held_bytes, n);
	return true;
}

/* A client segment while kvlb holds the request front. */
static __noinline int splice_hold(struct xdp_md *ctx, struct pkt *p, struct kvlb_stats *st)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct kvlb_splice *sp = bpf_map_lookup_elem(&kvlb_splice, &p->key);
	struct kvlb_hold *h = bpf_map_lookup_elem(&kvlb_hold, &p->key);
	struct seg_info seg = {}, *s = &seg;
	struct kvlb_config *cfg;
	__u32 zero = 0, off;
	bool fin, ready;

	if (!sp || seg_read(data, data_end, p, s, true))
		return XDP_DROP;
	off = s->seq - (sp->c_isn + 1);
	fin = s->flags & TCP_FLAG_FIN;

	if (s->flags & TCP_FLAG_RST) {
		STAT_INC(st, sp_closed);
		splice_forget(&p->key, sp);
		return XDP_DROP;
	}
	if (!h) {
		STAT_INC(st, sp_hold_lost);
		return splice_abort(ctx, p, sp);
	}
	sp->c_win = s->win;
	sp->last_ns = bpf_ktime_get_coarse_ns();
	splice_ts_seen(sp, s->seq, &s->o);
	if (!s->pay_len && !fin)
		return XDP_DROP; /* a bare ACK: nothing to hold */
	if (off != sp->held) {
		/* Earlier bytes again (kvlb's ACK was lost), or a gap. */
		if ((__s32)(off - sp->held) > 0)
			STAT_INC(st, sp_out_of_order);
		return splice_ack_client(ctx, p, sp, st);
	}
	cfg = bpf_map_lookup_elem(&kvlb_config, &zero);
	if (!cfg)
		return XDP_DROP;
	ready = !hold_append(ctx, sp, h, s, true, st) && s->pay_len;
	ready = ready || fin || http_ready(&h->hs, cfg->hold_limit) != HTTP_WAIT;
	if (!ready) {
		sp->acked = sp->held;
		return splice_ack_client(ctx, p, sp, st);
	}
	if (!sp->held) {
		/* Closed before sending a byte. */
		STAT_INC(st, sp_closed);
		return splice_abort(ctx, p, sp);
	}
	/* The segment that made the front enough is not acknowledged: while
	 * the client still waits for it, its retransmissions are the clock
	 * that repairs any loss on the pod's side. */
	return SPLICE_DO_BIND;
}

/* A segment completing the handshake (no entry yet): the cookie is checked
 * and the connection starts holding. */
static __noinline int splice_cookie_ack(struct xdp_md *ctx, struct pkt *p, struct kvlb_vip *vip,
					struct kvlb_stats *st)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct kvlb_splice init = {}, *sp;
	struct cookie_offer off;
	struct kvlb_config *cfg;
	struct kvlb_hold *h, *tmpl;
	struct seg_info s = {};
	__u32 zero = 0;
	long err;

	if (seg_read(data, data_end, p, &s, true))
		return XDP_DROP;
	if (s.flags & TCP_FLAG_RST)
		return XDP_DROP;
	if (!(s.flags & TCP_FLAG_ACK) || !cookie_check(&p->key, s.seq - 1, s.ack - 1, &off)) {
		if (!(s.flags & TCP_FLAG_ACK)) {
			STAT_INC(st, sp_cookie_bad);
			return XDP_DROP;
		}
		/* A later segment of a real handshake whose first ones were
		 * lost: wait for the client to send those again. */
		if (s.o.has_ts && cookie_ts_check(&p->key, s.ack - 1, s.o.tsecr)) {
			STAT_INC(st, sp_out_of_order);
			return XDP_DROP;
		}
		STAT_INC(st, sp_cookie_bad);
		return splice_reset_client(ctx, p, s.ack);
	}
	tmpl = bpf_map_lookup_elem(&kvlb_hold_zero, &zero);
	cfg = bpf_map_lookup_elem(&kvlb_config, &zero);
	if (!tmpl || !cfg)
		return XDP_DROP;
	err = bpf_map_update_elem(&kvlb_hold, &p->key, tmpl, BPF_ANY);
	if (err == -E2BIG) {
		STAT_INC(st, sp_hold_full);
		return splice_reset_client(ctx, p, s.ack);
	}
	if (err || !(h = bpf_map_lookup_elem(&kvlb_hold, &p->key))) {
		/* No memory for the slot this instant (slots are allocated
		 * as connections come, from per-CPU caches refilled behind a
		 * burst): the cookie holds everything, so the client's next
		 * segment or retransmission simply starts over. */
		STAT_INC(st, sp_hold_nomem);
		return XDP_DROP;
	}
	STAT_INC(st, sp_cookie_ok);
	http_init(&h->hs, cfg->chunk_size, cfg->prefix_depth, cfg->affinity_header);

	init.state = KVLB_SP_HOLD;
	init.c_isn = s.seq - 1;
	init.our_isn = s.ack - 1;
	init.c_mss = off.mss;
	init.c_wscale = off.wscale == 0xff ? 0 : off.wscale;
	init.flags = (off.wscale != 0xff ? KVLB_SP_F_WS : 0) | (off.sack ? KVLB_SP_F_SACK : 0) |
		     (s.o.has_ts ? KVLB_SP_F_TS : 0);
	init.ts_ours = s.o.tsecr;
	init.ts_recent = s.o.tsval;
	init.backend_id = KVLB_NO_BACKEND;
	init.vip_index = vip->index;
	init.last_ns = bpf_ktime_get_coarse_ns();
	if (bpf_map_update_elem(&kvlb_splice, &p->key, &init, BPF_ANY) ||
	    !(sp = bpf_map_lookup_elem(&kvlb_splice, &p->key))) {
		bpf_map_delete_elem(&kvlb_hold, &p->key);
		STAT_INC(st, sp_hold_full);
		return splice_reset_client(ctx, p, s.ack);
	}
	return SPLICE_DO_HOLD;
}

/* Translate a client segment onto the pod's half: destination, the pod's
 * sequence space in ACK and SACK, its clock in the timestamp echo. */
static __always_inline int splice_xlate_c2s(void *data, void *data_end, struct pkt *p,
					    struct kvlb_splice *sp, const struct seg_info *s,
					    const struct kvlb_backend *be)
{
	struct tcphdr *th;
	__u8 *o;
	int i;

	if (nat_dst_xdp(data, data_end, p, be))
		return -1;
	th = data + (p->l4_off & 127);
	if ((void *)(th + 1) > data_end)
		return -1;
	if (s->flags & TCP_FLAG_ACK) {
		__u32 ack = bpf_htonl(s->ack - sp->seq_delta);

		csum_replace4(&th->check, th->ack_seq, ack);
		th->ack_seq = ack;
	}
	if (sp->flags & KVLB_SP_F_S_NOWS) {
		__u16 win = bpf_htons(splice_c2s_win(sp, s->win));

		csum_replace2(&th->check, th->window, win);
		th->window = win;
	}
	if (s->o.has_ts && (sp->flags & KVLB_SP_F_TS)) {
		o = (__u8 *)th + (s->o.ts_off & 63);
		if ((void *)(o + 10) > data_end)
			return -1;
		if (!(s->o.ts_off & 1)) {
			__u32 old = *(__u32 *)(o + 6), new = bpf_htonl(s->o.tsecr - sp->ts_delta);

			csum_replace4(&th->check, old, new);
			*(__u32 *)(o + 6) = new;
		}
	}
	if (s->o.sack_n && !(s->o.sack_off & 1)) {
		for (i = 0; i < 8; i++) {
			__u32 old, new;

			if (i >= s->o.sack_n * 2)
				break;
			o = (__u8 *)th + ((s->o.sack_off + i * 4) & 63);
			if ((void *)(o + 4) > data_end)
				return -1;
			old = *(__u32 *)o;
			new = bpf_htonl(bpf_ntohl(old) - sp->seq_delta);
			csum_replace4(&th->check, old, new);
			*(__u32 *)o = new;
		}
	}
	return 0;
}

/* A client segment of a connection that has an entry. */
static __noinline int splice_client(struct xdp_md *ctx, struct pkt *p, struct kvlb_splice *sp,
				    struct kvlb_stats *st)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct kvlb_backend *be;
	struct seg_info s = {};
	bool to_stack;
	__u32 id, off;
	__u64 now;
	int verdict;

	if (seg_read(data, data_end, p, &s, true)) {
		STAT_INC(st, xdp_malformed);
		return XDP_DROP;
	}
	if (sp->state == KVLB_SP_HOLD)
		return SPLICE_DO_HOLD;

	if (sp->state == KVLB_SP_CONNECTING) {
		struct kvlb_hold *h = bpf_map_lookup_elem(&kvlb_hold, &p->key);

		if (s.flags & TCP_FLAG_RST) {
			STAT_INC(st, sp_closed);
			splice_forget(&p->key, sp);
			return XDP_DROP;
		}
		off = s.seq - (sp->c_isn + 1);
		splice_ts_seen(sp, s.seq, &s.o);
		/* Data the client sent before it could know: kept for the
		 * replay, not acknowledged. */
		if (h && s.pay_len && off == sp->held && hold_append(ctx, sp, h, &s, false, st))
			return XDP_DROP;
		if (!s.pay_len && !(s.flags & TCP_FLAG_FIN))
			return XDP_DROP;
		/* A retransmission: the pod has not answered yet. */
		now = bpf_ktime_get_coarse_ns();
		if (now - sp->last_ns < 100000000ULL)
			return XDP_DROP;
		if (sp->tries >= SPLICE_SYN_TRIES) {
			STAT_INC(st, sp_pod_timeout);
			return splice_abort(ctx, p, sp);
		}
		STAT_INC(st, sp_syn_retries);
		return SPLICE_DO_SYN;
	}

	if (sp->state == KVLB_SP_REPLAYING)
		splice_ts_seen(sp, s.seq, &s.o); /* for what kvlb sends again */
	id = sp->backend_id;
	be = bpf_map_lookup_elem(&kvlb_backends, &id);
	if (!be) {
		STAT_INC(st, xdp_no_backend);
		return XDP_DROP;
	}
	splice_track_close(sp, s.flags, true, bpf_ktime_get_coarse_ns(), st);
	if (splice_xlate_c2s(data, data_end, p, sp, &s, be)) {
		STAT_INC(st, xdp_malformed);
		return XDP_DROP;
	}
	if (p->vlan_tags)
		STAT_INC(st, xdp_vlan);
	verdict = xdp_forward(ctx, p, &sp->nh, be, &to_stack);
	if (verdict == XDP_DROP) {
		STAT_INC(st, xdp_malformed);
		return verdict;
	}
	STAT_INC(st, sp_xlate_c2s);
	if (to_stack)
		STAT_INC(st, xdp_forwarded_stack);
	else
		STAT_INC(st, xdp_forwarded);
	STAT_ADD(st, xdp_bytes, p->len);
	return verdict;
}

/* Run the steps a handler asked for. */
static __always_inline int splice_finish(struct xdp_md *ctx, struct pkt *p, int rc,
					 struct kvlb_stats *st)
{
	if (rc == SPLICE_DO_HOLD)
		rc = splice_hold(ctx, p, st);
	if (rc == SPLICE_DO_BIND)
		rc = splice_bind(ctx, p, st);
	if (rc == SPLICE_DO_SYN)
		rc = splice_syn_pod(ctx, p, st);
	return rc;
}

#endif

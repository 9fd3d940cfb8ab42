/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TCP options: reading what a SYN offers, finding the timestamp and SACK
 * blocks a spliced segment carries, and writing the fixed option layouts
 * kvlb sends. Bounded loops over at most 40 bytes of packet.
 */
#ifndef KVLB_TCPOPT_H
#define KVLB_TCPOPT_H

#include "common.bpf.h"
#include "cshim.h"

#define TCPOPT_EOL	 0
#define TCPOPT_NOP	 1
#define TCPOPT_MSS	 2
#define TCPOPT_WSCALE	 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK	 5
#define TCPOPT_TS	 8

#define TCP_OPT_MAX 40

/* What a segment's options say, and where the rewritable ones are (offsets
 * from the TCP header; 0 = absent). */
struct tcp_opts {
	__u16 mss;
	__u8 wscale; /* 0xff: absent */
	__u8 sack_perm;
	__u8 has_ts;
	__u8 sack_n; /* SACK blocks */
	__u16 ts_off;
	__u16 sack_off;
	__u32 tsval; /* host order */
	__u32 tsecr;
};

/* The options copied out, and what the walk found (per CPU, see below). */
struct tcpopt_buf {
	__u8 buf[64 + 12]; /* options, and room for a masked index to read past */
	struct tcp_opts o;
};

struct tcpopt_walk {
	struct tcpopt_buf *b;
	__u32 len;
	__u32 next; /* offset of the next option */
};

static __always_inline __u32 tcpopt_be32(const __u8 *b)
{
	return (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
}

/* One step of the walk: bytes before the next option are skipped, so the
 * callback is verified once whatever the layout. */
static long tcpopt_cb(__u32 i, void *ctx)
{
	struct tcpopt_walk *w = ctx;
	struct tcp_opts *o = &w->b->o;
	__u8 *b, kind, olen;
	__u32 at = i;

	if (i != w->next)
		return 0;
	if (at >= w->len || at >= TCP_OPT_MAX)
		return 1;
	KVLB_OPAQUE(at);
	b = &w->b->buf[at & 63];
	kind = b[0];
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		w->next = i + 1;
		return 0;
	}
	olen = b[1];
	if (olen < 2 || i + olen > w->len)
		return 1;
	if (kind == TCPOPT_MSS && olen == 4) {
		o->mss = (__u16)b[2] << 8 | b[3];
	} else if (kind == TCPOPT_WSCALE && olen == 3) {
		o->wscale = b[2] > 14 ? 14 : b[2];
	} else if (kind == TCPOPT_SACK_PERM && olen == 2) {
		o->sack_perm = 1;
	} else if (kind == TCPOPT_TS && olen == 10) {
		o->has_ts = 1;
		o->ts_off = sizeof(struct tcphdr) + i;
		o->tsval = tcpopt_be32(b + 2);
		o->tsecr = tcpopt_be32(b + 6);
	} else if (kind == TCPOPT_SACK && olen >= 10 && (olen - 2) % 8 == 0) {
		o->sack_off = sizeof(struct tcphdr) + i + 2;
		o->sack_n = (olen - 2) / 8;
	}
	w->next = i + olen;
	return 0;
}

/* The walk's buffer, per CPU: the stack is short on the paths that read
 * options. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpopt_buf);
} kvlb_tcpopt_buf SEC(".maps");

/* Read the options of the TCP header at th (bounds: data_end). */
static __always_inline void tcp_opts_read(struct tcphdr *th, void *data_end, struct tcp_opts *o)
{
	__u8 *base = (__u8 *)(th + 1);
	__u32 len = th->doff * 4 - sizeof(*th), zero = 0;
	struct tcpopt_walk w = {.b = bpf_map_lookup_elem(&kvlb_tcpopt_buf, &zero), .len = len};
	int i;

	o->wscale = 0xff;
	/* What nearly every segment of an established connection carries
	 * (Linux: NOP NOP TS), read in place without the walk. */
	if (len == 12 && (void *)(base + 12) <= data_end && base[0] == TCPOPT_NOP &&
	    base[1] == TCPOPT_NOP && base[2] == TCPOPT_TS && base[3] == 10) {
		o->has_ts = 1;
		o->ts_off = sizeof(*th) + 2;
		o->tsval = tcpopt_be32(base + 4);
		o->tsecr = tcpopt_be32(base + 8);
		return;
	}
	if (!w.b || len > TCP_OPT_MAX)
		return;
	for (i = 0; i < TCP_OPT_MAX; i++) {
		if ((__u32)i >= len || (void *)(base + i + 1) > data_end)
			break;
		w.b->buf[i] = base[i];
	}
	__builtin_memset(&w.b->o, 0, sizeof(w.b->o));
	w.b->o.wscale = 0xff;
	bpf_loop(TCP_OPT_MAX, tcpopt_cb, &w, 0);
	*o = w.b->o;
}

/* The 20 option bytes of a SYN or SYN-ACK kvlb sends: MSS, then SACK
 * permitted, timestamps and window scale where wanted, NOPs elsewhere, so
 * the layout is fixed. */
static __always_inline void tcp_opts_syn(__u8 *o, __u16 mss, bool sack, bool ts, __u32 tsval,
					 __u32 tsecr, __u8 wscale /* 0xff: none */)
{
	int i;

#pragma unroll
	for (i = 0; i < 20; i++)
		o[i] = TCPOPT_NOP;
	o[0] = TCPOPT_MSS;
	o[1] = 4;
	o[2] = mss >> 8;
	o[3] = mss & 0xff;
	if (sack) {
		o[4] = TCPOPT_SACK_PERM;
		o[5] = 2;
	}
	if (ts) {
		o[6] = TCPOPT_TS;
		o[7] = 10;
		*(__be32 *)&o[8] = bpf_htonl(tsval);
		*(__be32 *)&o[12] = bpf_htonl(tsecr);
	}
	if (wscale != 0xff) {
		o[17] = TCPOPT_WSCALE;
		o[18] = 3;
		o[19] = wscale;
	}
}

/* The 12 option bytes of a timestamped data segment or ACK. */
static __always_inline void tcp_opts_ts(__u8 *o, __u32 tsval, __u32 tsecr)
{
	o[0] = TCPOPT_NOP;
	o[1] = TCPOPT_NOP;
	o[2] = TCPOPT_TS;
	o[3] = 10;
	*(__be32 *)&o[4] = bpf_htonl(tsval);
	*(__be32 *)&o[8] = bpf_htonl(tsecr);
}

#endif

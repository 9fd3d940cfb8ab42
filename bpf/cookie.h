/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SYN cookies: kvlb's ISN towards a client is a keyed hash of the
 * connection, the client's ISN and a coarse clock, with what the client's
 * SYN offered (MSS, window scale, SACK) in its low byte. The ACK that
 * completes the handshake gives it back, so the offer is known without any
 * state kept for the SYN. Unlike the kernel's raw cookie helpers this keeps
 * window scale and SACK for clients that do not send timestamps.
 *
 * The hash is SipHash-2-4 under kvlb_secret's key; a cookie is valid for
 * two periods of 2^36 ns (68.7 s each).
 */
#ifndef KVLB_COOKIE_H
#define KVLB_COOKIE_H

#include "maps.bpf.h"

#define COOKIE_PERIOD_SHIFT 36

/* MSS values a cookie can name; the largest not above the client's is
 * kept (three bits). */
static __always_inline __u16 cookie_mss_of(__u32 idx)
{
	switch (idx & 7) {
	case 0:
		return 536;
	case 1:
		return 1200;
	case 2:
		return 1280;
	case 3:
		return 1360;
	case 4:
		return 1400;
	case 5:
		return 1440;
	case 6:
		return 1460;
	default:
		return 8960;
	}
}

static __always_inline __u32 cookie_mss_idx(__u16 mss)
{
	__u32 i = 0;

	if (mss >= 1200)
		i = 1;
	if (mss >= 1280)
		i = 2;
	if (mss >= 1360)
		i = 3;
	if (mss >= 1400)
		i = 4;
	if (mss >= 1440)
		i = 5;
	if (mss >= 1460)
		i = 6;
	if (mss >= 8960)
		i = 7;
	return i;
}

#define SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
	__u64 v0, v1, v2, v3;
};

static __always_inline void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = SIP_ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = SIP_ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = SIP_ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = SIP_ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = SIP_ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = SIP_ROTL(s->v2, 32);
}

static __always_inline void sip_word(struct sip *s, __u64 m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

/* SipHash-2-4 of six 64-bit words: addresses, ports, client ISN, period
 * and the encoded offer. */
static __noinline __u32 cookie_hash(const struct kvlb_flow_key *k, __u32 c_isn, __u64 period,
				    __u32 enc)
{
	struct kvlb_secret *key, none = {};
	__u32 zero = 0;
	struct sip s;

	key = bpf_map_lookup_elem(&kvlb_secret, &zero);
	if (!key)
		key = &none;
	s.v0 = key->k0 ^ 0x736f6d6570736575ULL;
	s.v1 = key->k1 ^ 0x646f72616e646f6dULL;
	s.v2 = key->k0 ^ 0x6c7967656e657261ULL;
	s.v3 = key->k1 ^ 0x7465646279746573ULL;
	sip_word(&s, (__u64)k->src.v6[0] << 32 | k->src.v6[1]);
	sip_word(&s, (__u64)k->src.v6[2] << 32 | k->src.v6[3]);
	sip_word(&s, (__u64)k->dst.v6[0] << 32 | k->dst.v6[1]);
	sip_word(&s, (__u64)k->dst.v6[2] << 32 | k->dst.v6[3]);
	sip_word(&s, (__u64)k->sport << 48 | (__u64)k->dport << 32 | c_isn);
	sip_word(&s, period << 16 | (__u64)k->family << 8 | enc);
	s.v2 ^= 0xff;
	sip_round(&s);
	sip_round(&s);
	sip_round(&s);
	sip_round(&s);
	return (__u32)(s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
}

/* What the client's SYN offered, as a cookie carries it. */
struct cookie_offer {
	__u16 mss;
	__u8 wscale; /* 0xff: none */
	__u8 sack;
};

static __always_inline __u32 cookie_encode(const struct cookie_offer *o)
{
	__u32 ws = o->wscale == 0xff ? 15 : o->wscale;

	return cookie_mss_idx(o->mss) | ws << 3 | (o->sack ? 1u << 7 : 0);
}

static __always_inline __u32 cookie_make(const struct kvlb_flow_key *k, __u32 c_isn,
					 const struct cookie_offer *o)
{
	__u64 period = bpf_ktime_get_coarse_ns() >> COOKIE_PERIOD_SHIFT;
	__u32 enc = cookie_encode(o);

	return (cookie_hash(k, c_isn, period, enc) & ~0xffu) | enc;
}

/*
 * The timestamp kvlb's SYN-ACK carries, when the client offered timestamps:
 * a second keyed hash, of the connection and the cookie (not the client's
 * ISN). The client echoes it in every segment and acknowledges the cookie,
 * so a segment that fails the cookie check only because the segments before
 * it were lost (its sequence number no longer gives the client's ISN) is
 * told from a stale or forged one.
 */
#define COOKIE_TS_DOMAIN 0x100 /* an "offer" no SYN can have */

static __always_inline __u32 cookie_ts_make(const struct kvlb_flow_key *k, __u32 cookie)
{
	__u64 period = bpf_ktime_get_coarse_ns() >> COOKIE_PERIOD_SHIFT;

	return cookie_hash(k, cookie, period, COOKIE_TS_DOMAIN);
}

static __always_inline bool cookie_ts_check(const struct kvlb_flow_key *k, __u32 cookie,
					    __u32 tsecr)
{
	__u64 period = bpf_ktime_get_coarse_ns() >> COOKIE_PERIOD_SHIFT;

	return cookie_hash(k, cookie, period, COOKIE_TS_DOMAIN) == tsecr ||
	       cookie_hash(k, cookie, period - 1, COOKIE_TS_DOMAIN) == tsecr;
}

/* Whether cookie answers k's SYN with client ISN c_isn, made in this
 * period or the one before; fills *o from it. */
static __always_inline bool cookie_check(const struct kvlb_flow_key *k, __u32 c_isn, __u32 cookie,
					 struct cookie_offer *o)
{
	__u64 period = bpf_ktime_get_coarse_ns() >> COOKIE_PERIOD_SHIFT;
	__u32 enc = cookie & 0xff, ws = (enc >> 3) & 15;

	if ((cookie_hash(k, c_isn, period, enc) & ~0xffu) != (cookie & ~0xffu) &&
	    (cookie_hash(k, c_isn, period - 1, enc) & ~0xffu) != (cookie & ~0xffu))
		return false;
	o->mss = cookie_mss_of(enc);
	o->wscale = ws == 15 ? 0xff : ws;
	o->sack = !!(enc & (1u << 7));
	return true;
}

#endif

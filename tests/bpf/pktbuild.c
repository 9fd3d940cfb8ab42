// SPDX-License-Identifier: GPL-2.0-only
/* Packet builder: see pktbuild.h. Everything is written byte by byte in
 * network order so the result does not depend on the host. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "pktbuild.h"

#define ETH_HLEN  14
#define IP4_HLEN  20
#define IP6_HLEN  40
#define TCP_HLEN  20
#define UDP_HLEN  8
#define ICMP_HLEN 8
#define P_ICMP	  1
#define P_TCP	  6
#define P_UDP	  17
#define P_ICMP6	  58
#define ET_IP	  0x0800
#define ET_IPV6	  0x86dd
#define ET_8021Q  0x8100
#define ET_8021AD 0x88a8

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t pb_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	/* Fold early so long buffers cannot overflow. */
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint16_t pb_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

int pb_addr(const char *s, uint8_t family, uint8_t out[16])
{
	memset(out, 0, 16);
	if (!s)
		return -1;
	return inet_pton(family == 6 ? AF_INET6 : AF_INET, s, out) == 1 ? 0 : -1;
}

/* Sum of the TCP/UDP pseudo header. */
static uint32_t pseudo_sum(uint8_t family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
			   size_t l4_len)
{
	uint32_t sum = 0;
	size_t alen = family == 6 ? 16 : 4;

	sum = pb_csum_add(sum, src, alen);
	sum = pb_csum_add(sum, dst, alen);
	sum += proto;
	sum += (uint32_t)l4_len;
	return sum;
}

static size_t l4_hlen(const struct pb_spec *s, uint8_t proto)
{
	if (proto == P_TCP)
		return TCP_HLEN + (s->tcp_opt ? s->tcp_opt->len : 0);
	return proto == P_UDP ? UDP_HLEN : ICMP_HLEN;
}

size_t pb_build(const struct pb_spec *s, uint8_t *buf, size_t cap, struct pb_layout *lay)
{
	uint8_t proto = s->proto ? s->proto : P_TCP;
	uint8_t src[16], dst[16];
	size_t off, l3, l4, l4_len, len, i;
	uint16_t et;

	if (s->n_vlan > 2 || s->ip_opt_len % 4 || s->ip_opt_len > 40)
		return 0;
	if (s->tcp_opt && (s->tcp_opt->len % 4 || s->tcp_opt->len > PB_TCPOPT_MAX))
		return 0;
	if (s->family == 6 && proto == P_ICMP)
		proto = P_ICMP6;
	memset(buf, 0, cap);
	memcpy(buf, s->dmac, 6);
	memcpy(buf + 6, s->smac, 6);
	off = 12;
	for (i = 0; i < s->n_vlan; i++) {
		put16(buf + off, s->vlan_tpid[i] ? s->vlan_tpid[i] : ET_8021Q);
		put16(buf + off + 2, s->vlan_id[i] & 0x0fff);
		off += 4;
	}
	et = s->ethertype ? s->ethertype : s->family == 6 ? ET_IPV6 : ET_IP;
	put16(buf + off, et);
	off += 2;
	l3 = off;

	if (s->ethertype) {
		/* Not IP: a payload of recognisable bytes. */
		len = l3 + s->payload;
		if (len > cap)
			return 0;
		for (i = 0; i < s->payload; i++)
			buf[l3 + i] = (uint8_t)(0xa0 + i);
		if (lay)
			*lay = (struct pb_layout){.len = len, .l3_off = l3, .l4_off = l3};
		return len;
	}
	if (pb_addr(s->saddr, s->family, src) || pb_addr(s->daddr, s->family, dst))
		return 0;

	if (s->family == 4) {
		size_t hlen = IP4_HLEN + s->ip_opt_len;

		l4 = l3 + hlen;
		l4_len = l4_hlen(s, proto) + s->payload;
		len = l4 + l4_len;
		if (len > cap)
			return 0;
		buf[l3] = 0x40 | (uint8_t)(hlen / 4);
		put16(buf + l3 + 2, (uint16_t)(hlen + l4_len));
		put16(buf + l3 + 4, s->pb_flags & PB_F_IP_ID ? s->ip_id : 0x1234);
		put16(buf + l3 + 6, s->frag);
		buf[l3 + 8] = 64;
		buf[l3 + 9] = proto;
		memcpy(buf + l3 + 12, src, 4);
		memcpy(buf + l3 + 16, dst, 4);
		/* Options: NOPs closed by an End of Options. */
		for (i = 0; i < s->ip_opt_len; i++)
			buf[l3 + IP4_HLEN + i] = i + 1 == s->ip_opt_len ? 0 : 1;
		put16(buf + l3 + 10, (uint16_t)~pb_csum_fold(pb_csum_add(0, buf + l3, hlen)));
	} else if (s->family == 6) {
		size_t ext = s->v6_ext == PB_EXT_NONE ? 0 : 8;

		l4 = l3 + IP6_HLEN + ext;
		l4_len = l4_hlen(s, proto) + s->payload;
		len = l4 + l4_len;
		if (len > cap)
			return 0;
		put32(buf + l3, 0x60000000);
		put16(buf + l3 + 4, (uint16_t)(ext + l4_len));
		buf[l3 + 7] = 64;
		memcpy(buf + l3 + 8, src, 16);
		memcpy(buf + l3 + 24, dst, 16);
		if (s->v6_ext == PB_EXT_FRAG) {
			buf[l3 + 6] = 44;
			buf[l3 + IP6_HLEN] = proto;
			/* Offset 0 with M set: the first fragment of a datagram. */
			put16(buf + l3 + IP6_HLEN + 2, 0x0001);
			put32(buf + l3 + IP6_HLEN + 4, 0xabcd0001);
		} else if (s->v6_ext == PB_EXT_HBH) {
			buf[l3 + 6] = 0;
			buf[l3 + IP6_HLEN] = proto;
			/* Hdr Ext Len 0 (8 bytes); PadN filling the rest. */
			buf[l3 + IP6_HLEN + 2] = 1;
			buf[l3 + IP6_HLEN + 3] = 4;
		} else {
			buf[l3 + 6] = proto;
		}
	} else {
		return 0;
	}

	for (i = 0; i < s->payload; i++)
		buf[l4 + l4_hlen(s, proto) + i] = s->data ? s->data[i] : (uint8_t)(i * 7 + 1);
	if (proto == P_TCP) {
		bool f = s->pb_flags & PB_F_TCP_FIELDS;

		put16(buf + l4, s->sport);
		put16(buf + l4 + 2, s->dport);
		put32(buf + l4 + 4, f ? s->seq : 0x01020304);
		put32(buf + l4 + 8, f ? s->ack : 0x0a0b0c0d);
		buf[l4 + 12] = (uint8_t)(l4_hlen(s, proto) / 4) << 4;
		buf[l4 + 13] = s->tcp_flags ? s->tcp_flags : 0x10;
		put16(buf + l4 + 14, f ? s->win : 65535);
		if (s->tcp_opt)
			memcpy(buf + l4 + TCP_HLEN, s->tcp_opt->b, s->tcp_opt->len);
	} else if (proto == P_UDP) {
		put16(buf + l4, s->sport);
		put16(buf + l4 + 2, s->dport);
		put16(buf + l4 + 4, (uint16_t)l4_len);
	} else {
		buf[l4] = 8; /* echo request */
		if (proto == P_ICMP6)
			buf[l4] = 128;
		put16(buf + l4 + 4, 0x4242);
	}
	if (proto == P_TCP || proto == P_UDP || proto == P_ICMP6) {
		uint32_t sum = pseudo_sum(s->family, src, dst, proto, l4_len);
		size_t at = proto == P_TCP ? 16 : proto == P_UDP ? 6 : 2;
		uint16_t c = (uint16_t)~pb_csum_fold(pb_csum_add(sum, buf + l4, l4_len));

		if (proto == P_UDP && c == 0)
			c = 0xffff;
		put16(buf + l4 + at, c);
	} else {
		put16(buf + l4 + 2, (uint16_t)~pb_csum_fold(pb_csum_add(0, buf + l4, l4_len)));
	}
	if (len + s->eth_pad > cap)
		return 0;
	len += s->eth_pad; /* already zero: buf was cleared */
	if (lay)
		*lay = (struct pb_layout){.len = len, .l3_off = l3, .l4_off = l4};
	return len;
}

int pb_verify_csums(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	size_t off = 12, l3, l4, l4_len;
	uint8_t family, proto;
	uint16_t et;
	uint32_t sum;

	if (len < ETH_HLEN)
		goto short_pkt;
	et = get16(buf + off);
	while (et == ET_8021Q || et == ET_8021AD) {
		off += 4;
		if (off + 2 > len)
			goto short_pkt;
		et = get16(buf + off);
	}
	l3 = off + 2;
	if (et == ET_IP) {
		size_t hlen;

		if (l3 + IP4_HLEN > len)
			goto short_pkt;
		hlen = (buf[l3] & 0x0f) * 4u;
		if (hlen < IP4_HLEN || l3 + hlen > len || get16(buf + l3 + 2) < hlen ||
		    l3 + get16(buf + l3 + 2) > len)
			goto short_pkt;
		if (pb_csum_fold(pb_csum_add(0, buf + l3, hlen)) != 0xffff) {
			snprintf(err, errlen, "IPv4 header checksum 0x%04x invalid",
				 get16(buf + l3 + 10));
			return -1;
		}
		family = 4;
		proto = buf[l3 + 9];
		l4 = l3 + hlen;
		l4_len = get16(buf + l3 + 2) - hlen;
		sum = proto == P_ICMP ? 0
				      : pseudo_sum(4, buf + l3 + 12, buf + l3 + 16, proto, l4_len);
	} else if (et == ET_IPV6) {
		if (l3 + IP6_HLEN > len)
			goto short_pkt;
		family = 6;
		proto = buf[l3 + 6];
		l4 = l3 + IP6_HLEN;
		l4_len = get16(buf + l3 + 4);
		if (l4 + l4_len > len)
			goto short_pkt;
		sum = pseudo_sum(6, buf + l3 + 8, buf + l3 + 24, proto, l4_len);
	} else {
		return 0; /* nothing to check */
	}
	if (proto != P_TCP && proto != P_UDP && proto != P_ICMP && proto != P_ICMP6)
		return 0;
	if (l4 + l4_len > len)
		goto short_pkt;
	if (pb_csum_fold(pb_csum_add(sum, buf + l4, l4_len)) != 0xffff) {
		snprintf(err, errlen, "IPv%u L4 (proto %u) checksum invalid", family, proto);
		return -1;
	}
	return 0;
short_pkt:
	snprintf(err, errlen, "packet too short to verify checksums");
	return -1;
}

int pb_opt_raw(struct pb_tcpopt *o, const void *bytes, size_t n)
{
	if (o->len + n > PB_TCPOPT_MAX)
		return -1;
	memcpy(o->b + o->len, bytes, n);
	o->len += (uint8_t)n;
	return 0;
}

int pb_opt_nop(struct pb_tcpopt *o)
{
	return pb_opt_raw(o, (uint8_t[]){1}, 1);
}

int pb_opt_mss(struct pb_tcpopt *o, uint16_t mss)
{
	return pb_opt_raw(o, (uint8_t[]){2, 4, mss >> 8, mss & 0xff}, 4);
}

int pb_opt_ws(struct pb_tcpopt *o, uint8_t shift)
{
	return pb_opt_raw(o, (uint8_t[]){3, 3, shift}, 3);
}

int pb_opt_sack_perm(struct pb_tcpopt *o)
{
	return pb_opt_raw(o, (uint8_t[]){4, 2}, 2);
}

int pb_opt_ts(struct pb_tcpopt *o, uint32_t tsval, uint32_t tsecr)
{
	uint8_t b[10] = {8, 10};

	put32(b + 2, tsval);
	put32(b + 6, tsecr);
	return pb_opt_raw(o, b, sizeof(b));
}

int pb_opt_sack(struct pb_tcpopt *o, const uint32_t *edges, unsigned int blocks)
{
	uint8_t b[2 + 8 * 4];
	unsigned int i;

	if (!blocks || blocks > 4)
		return -1;
	b[0] = 5;
	b[1] = (uint8_t)(2 + 8 * blocks);
	for (i = 0; i < 2 * blocks; i++)
		put32(b + 2 + 4 * i, edges[i]);
	return pb_opt_raw(o, b, b[1]);
}

int pb_opt_pad(struct pb_tcpopt *o)
{
	while (o->len % 4)
		if (pb_opt_nop(o))
			return -1;
	return 0;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Decode an option list the way a receiver would: unknown kinds skipped by
 * their length, a length that does not fit ends the walk. */
static void opts_decode(const uint8_t *o, size_t len, struct pb_tcpopt_view *v)
{
	size_t i = 0, n, k;

	memset(v, 0, sizeof(*v));
	v->ws = -1;
	while (i < len) {
		if (o[i] == 0)
			break;
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len) {
			v->bad = true;
			break;
		}
		n = o[i + 1];
		if (o[i] == 2 && n == 4)
			v->mss = get16(o + i + 2);
		else if (o[i] == 3 && n == 3)
			v->ws = o[i + 2];
		else if (o[i] == 4 && n == 2)
			v->sack_perm = true;
		else if (o[i] == 8 && n == 10) {
			v->ts = true;
			v->tsval = get32(o + i + 2);
			v->tsecr = get32(o + i + 6);
		} else if (o[i] == 5 && n >= 10 && (n - 2) % 8 == 0) {
			v->sack_n = (unsigned int)(n - 2) / 8;
			for (k = 0; k < 2 * v->sack_n && k < 8; k++)
				v->sack[k] = get32(o + i + 2 + 4 * k);
		}
		i += n;
	}
}

int pb_parse(const uint8_t *buf, size_t len, struct pb_view *v, char *err, size_t errlen)
{
	size_t l3 = ETH_HLEN, l4, ip_pay;
	uint16_t et;

	memset(v, 0, sizeof(*v));
	if (len < ETH_HLEN)
		goto short_pkt;
	memcpy(v->dmac, buf, 6);
	memcpy(v->smac, buf + 6, 6);
	et = get16(buf + 12);
	while (et == ET_8021Q || et == ET_8021AD) {
		if (l3 + 4 > len || v->n_vlan == 2)
			goto short_pkt;
		v->vlan_id[v->n_vlan++] = get16(buf + l3) & 0x0fff;
		et = get16(buf + l3 + 2);
		l3 += 4;
	}
	v->l3_off = l3;
	if (et == ET_IP) {
		size_t hlen;

		if (l3 + IP4_HLEN > len)
			goto short_pkt;
		hlen = (buf[l3] & 0x0f) * 4u;
		if ((buf[l3] >> 4) != 4 || hlen < IP4_HLEN || l3 + hlen > len ||
		    get16(buf + l3 + 2) < hlen + TCP_HLEN || l3 + get16(buf + l3 + 2) > len)
			goto bad_len;
		if (buf[l3 + 9] != P_TCP) {
			snprintf(err, errlen, "IPv4 protocol %u, not TCP", buf[l3 + 9]);
			return -1;
		}
		v->family = 4;
		v->ttl = buf[l3 + 8];
		v->ip_id = get16(buf + l3 + 4);
		v->frag = get16(buf + l3 + 6);
		memcpy(v->src, buf + l3 + 12, 4);
		memcpy(v->dst, buf + l3 + 16, 4);
		l4 = l3 + hlen;
		ip_pay = get16(buf + l3 + 2) - hlen;
	} else if (et == ET_IPV6) {
		if (l3 + IP6_HLEN > len)
			goto short_pkt;
		if ((buf[l3] >> 4) != 6)
			goto bad_len;
		if (buf[l3 + 6] != P_TCP) {
			snprintf(err, errlen, "IPv6 next header %u, not TCP", buf[l3 + 6]);
			return -1;
		}
		v->family = 6;
		v->ttl = buf[l3 + 7];
		memcpy(v->src, buf + l3 + 8, 16);
		memcpy(v->dst, buf + l3 + 24, 16);
		l4 = l3 + IP6_HLEN;
		ip_pay = get16(buf + l3 + 4);
		if (ip_pay < TCP_HLEN || l4 + ip_pay > len)
			goto bad_len;
	} else {
		snprintf(err, errlen, "ethertype 0x%04x, not IPv4/IPv6", et);
		return -1;
	}
	v->l4_off = l4;
	v->sport = get16(buf + l4);
	v->dport = get16(buf + l4 + 2);
	v->seq = get32(buf + l4 + 4);
	v->ack = get32(buf + l4 + 8);
	v->doff = (uint8_t)((buf[l4 + 12] >> 4) * 4);
	v->flags = buf[l4 + 13];
	v->win = get16(buf + l4 + 14);
	if (v->doff < TCP_HLEN || v->doff > ip_pay)
		goto bad_len;
	v->opt = buf + l4 + TCP_HLEN;
	v->opt_len = (uint8_t)(v->doff - TCP_HLEN);
	opts_decode(v->opt, v->opt_len, &v->o);
	v->pay_off = l4 + v->doff;
	v->pay_len = ip_pay - v->doff;
	return 0;
short_pkt:
	snprintf(err, errlen, "frame of %zu bytes too short for its headers", len);
	return -1;
bad_len:
	snprintf(err, errlen, "header lengths do not fit the frame (%zu bytes)", len);
	return -1;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_splice - unit tests of delayed binding, the path of HTTP VIPs
 * (bpf/splice_client.h, bpf/splice_pod.h, bpf/cookie.h).
 *
 * kvlb's XDP and TC programs are run with BPF_PROG_TEST_RUN on the packets
 * of whole TCP conversations, one packet at a time, IPv4 and IPv6: the
 * client's SYN, the cookie's ACK, request segments while kvlb holds them,
 * the segment that completes the request, the pod's SYN-ACK and the replay,
 * then spliced traffic both ways and its teardown. Each packet is checked
 * for its verdict, every byte of what comes out (against a frame built
 * independently with pktbuild, checksums recomputed from scratch), the
 * kvlb_splice, kvlb_hold and kvlb_nat_rev entries and the change of every
 * counter. A seeded random run then throws malformed and out-of-place
 * packets at the same programs and checks what must always hold.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>

#include "kvlb.h"
#include "harness.h"
#include "pktbuild.h"

/* Counter indexes, in the order of struct kvlb_stats. */
enum {
#define X_ENUM(name, desc) S_##name,
	KVLB_STATS_FIELDS(X_ENUM)
#undef X_ENUM
	    S_NAMED
};

static const char *const stat_names[] = {
#define X_NAME(name, desc) #name,
    KVLB_STATS_FIELDS(X_NAME)
#undef X_NAME
};

/* ---- the fixture ---- */

#define CLIENT4 "198.51.100.1"	 /* routed via kvin, neighbour 02:00:00:00:cc:01 */
#define CLIENT6 "2001:db8:c::1"	 /* likewise */
#define HVIP4	"192.0.2.10"	 /* HTTP VIPs */
#define HVIP6	"2001:db8:a::10" /* */
#define POD4	"203.0.113.11"	 /* routed via kvpod, neighbour 02:00:00:00:00:11 */
#define POD4B	"203.0.113.12"	 /* routed back out of kvin */
#define POD6	"2001:db8:b::11" /* routed via kvpod */
#define POD6B	"2001:db8:b::12" /* no route (never forwarded to) */
#define VPORT	80
#define BPORT	8000

/* Backend ids; VIP 0 is IPv4, VIP 1 IPv6. */
enum { BE_POD4, BE_POD6, BE_POD4B, BE_POD6B, N_BE };
static const struct {
	const char *addr;
	uint8_t family;
	uint32_t vip;
} fx_be[N_BE] = {{POD4, 4, 0}, {POD6, 6, 1}, {POD4B, 4, 0}, {POD6B, 6, 1}};

/* Ring slots (VIP index * 2 + i) and the backend filling each. */
static const uint32_t fx_ring[4] = {BE_POD4, BE_POD4B, BE_POD6, BE_POD6B};

static const struct kvlb_secret SECRET_A = {0x0123456789abcdefULL, 0x1122334455667788ULL};
static const struct kvlb_secret SECRET_B = {0x0123456789abcdefULL, 0x1122334455667789ULL};

/* The MSS a kvlb SYN-ACK announces (bpf/splice.h). */
#define OUR_MSS(fam) ((fam) == 4 ? 1460 : 1440)
/* A hold entry keeps the parser's state, then KVLB_HOLD_BUF bytes and a
 * segment's slack (KVLB_SEG_MAX in bpf/hold.h). */
#define HOLD_DATA_LEN (KVLB_HOLD_BUF + 2048)

static const uint8_t MAC_UPLINK[6] = {0x02, 0, 0, 0, 0xaa, 0x01};    /* kvin */
static const uint8_t MAC_ROUTER[6] = {0x02, 0, 0, 0, 0xee, 0x01};    /* client packets' source */
static const uint8_t MAC_PODLINK[6] = {0x02, 0, 0, 0, 0xbb, 0x01};   /* kvpod */
static const uint8_t MAC_POD[6] = {0x02, 0, 0, 0, 0, 0x11};	     /* the pods' neighbour entry */
static const uint8_t MAC_CLIENT_GW[6] = {0x02, 0, 0, 0, 0xcc, 0x01}; /* the clients' */

static struct kt T;
static bool verbose;
static bool have_net;
static int if_kvin, if_kvpod, if_kvpod_peer;
static int m_splice, m_hold, m_secret, m_prefix, m_load;
static size_t hold_vsz;
static uint8_t *hold_buf;

/* Why the current scenario failed, and at which packet. */
static char E[768];
static const char *STEP = "";

#define FAILF(...)                                                                                 \
	do {                                                                                       \
		char why_[512];                                                                    \
		snprintf(why_, sizeof(why_), __VA_ARGS__);                                         \
		snprintf(E, sizeof(E), "%s: %s", STEP, why_);                                      \
		return -1;                                                                         \
	} while (0)
#define TRY(x)                                                                                     \
	do {                                                                                       \
		if (x)                                                                             \
			return -1;                                                                 \
	} while (0)
#define EQ(what, got, want)                                                                        \
	do {                                                                                       \
		unsigned long long g_ = (unsigned long long)(got),                                 \
				   w_ = (unsigned long long)(want);                                \
		if (g_ != w_)                                                                      \
			FAILF("%s is %llu (0x%llx), want %llu (0x%llx)", what, g_, g_, w_, w_);    \
	} while (0)

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fx_reset(void)
{
	static const struct kvlb_config cfg = {
	    .chunk_size = KVLB_DEF_CHUNK_SIZE,
	    .prefix_depth = KVLB_DEF_PREFIX_DEPTH,
	    .hold_limit = KVLB_DEF_HOLD_LIMIT,
	    .load_bound_pct = KVLB_DEF_LOAD_BOUND_PCT,
	    .walk_limit = KVLB_DEF_WALK_LIMIT,
	    .load_slack = KVLB_DEF_LOAD_SLACK,
	    .affinity_header = KVLB_DEF_AFFINITY_HEADER,
	};
	struct kvlb_backend_load load;
	struct kvlb_vip_key vk;
	struct kvlb_backend be;
	struct kvlb_vip v;
	/* the v4 and v6 HTTP VIPs: a port of HTTP VIPs only */
	uint32_t i, zero = 0, port = VPORT, vips = 2 + 2 * KVLB_PORT_HTTP_ONE;

	if (kt_clear_map(T.flows, sizeof(struct kvlb_flow_key)) ||
	    kt_clear_map(T.nat_rev, sizeof(struct kvlb_flow_key)) ||
	    kt_clear_map(m_splice, sizeof(struct kvlb_flow_key)) ||
	    kt_clear_map(m_hold, sizeof(struct kvlb_flow_key)) || kt_clear_map(m_prefix, 8))
		goto fail;
	for (i = 0; i < 2; i++) {
		memset(&vk, 0, sizeof(vk));
		pb_addr(i ? HVIP6 : HVIP4, i ? 6 : 4, (uint8_t *)&vk.addr);
		vk.port = htons(VPORT);
		vk.proto = 6;
		vk.family = i ? KVLB_AF_INET6 : KVLB_AF_INET;
		v = (struct kvlb_vip){
		    .index = i, .ring_slot = i * 2, .flags = KVLB_VIP_F_HTTP, .n_backends = 1};
		if (bpf_map_update_elem(T.vips, &vk, &v, BPF_ANY))
			goto fail;
	}
	if (bpf_map_update_elem(T.vip_ports, &port, &vips, BPF_ANY))
		goto fail;
	memset(&load, 0, sizeof(load));
	for (i = 0; i < N_BE; i++) {
		memset(&be, 0, sizeof(be));
		pb_addr(fx_be[i].addr, fx_be[i].family, (uint8_t *)&be.addr);
		be.port = htons(BPORT);
		be.family = fx_be[i].family == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
		be.vip_index = fx_be[i].vip;
		be.weight = 1;
		be.flags = KVLB_BE_F_IN_USE;
		if (bpf_map_update_elem(T.backends, &i, &be, BPF_ANY) ||
		    bpf_map_update_elem(m_load, &i, &load, BPF_ANY))
			goto fail;
	}
	if (bpf_map_update_elem(T.config, &zero, &cfg, BPF_ANY) ||
	    bpf_map_update_elem(m_secret, &zero, &SECRET_A, BPF_ANY))
		goto fail;
	return 0;
fail:
	snprintf(E, sizeof(E), "fixture reset failed: %s", strerror(errno));
	return -1;
}

/* Point VIP fam's ring at its second slot. */
static int fx_flip_ring(uint8_t fam)
{
	struct kvlb_vip_key vk = {.port = htons(VPORT), .proto = 6};
	struct kvlb_vip v;

	pb_addr(fam == 6 ? HVIP6 : HVIP4, fam, (uint8_t *)&vk.addr);
	vk.family = fam == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
	if (bpf_map_lookup_elem(T.vips, &vk, &v))
		return -1;
	v.ring_slot++;
	return bpf_map_update_elem(T.vips, &vk, &v, BPF_EXIST) ? -1 : 0;
}

/* ---- a connection, as the test drives it ---- */

struct conn {
	uint8_t fam;
	const char *cli, *vip, *pod;
	uint16_t cport;
	uint32_t be_id;
	/* the client's SYN offers */
	uint16_t mss; /* 0: no MSS option */
	int ws;	      /* -1: none */
	bool sack, ts;
	uint16_t vlan; /* the client's packets carry this VLAN tag (0: none) */
	uint8_t pad;   /* and this many bytes of Ethernet padding */
	uint32_t c_isn;
	uint32_t tsval; /* the client's clock, one tick a packet */
	uint16_t win;	/* the client's window field after the SYN */
	/* learned from kvlb */
	uint32_t cookie;  /* kvlb's ISN */
	uint32_t ts_ours; /* kvlb's tsval in the SYN-ACK */
	uint32_t ts_recent;
	uint16_t c_win; /* the window of the client's latest segment */
	/* the request */
	uint8_t req[20480];
	size_t req_len;
	uint32_t held, acked;
	/* the pod's half */
	uint32_t s_isn, s_tsval;
	uint32_t ts_delta; /* pod tsval + ts_delta = what the client sees */
	uint16_t s_mss;
	int s_ws; /* -1: the pod's SYN-ACK has no window scale */
	struct kvlb_nexthop nh;
};

/* A chat completion request of exactly total bytes whose messages value
 * ends 16 bytes before the end. */
static size_t make_request(uint8_t *buf, size_t cap, size_t total, unsigned int seed)
{
	static const char pre[] =
	    "{\"model\":\"m1\",\"messages\":[{\"role\":\"user\",\"content\":\"";
	static const char post[] = "\"}],\"max_tokens\":8}";
	char head[256];
	size_t hlen = 0, body = 0, fill, i;
	int pass;

	for (pass = 0; pass < 3; pass++) {
		hlen = (size_t)snprintf(
		    head, sizeof(head),
		    "POST /v1/chat/completions HTTP/1.1\r\nHost: kvlb.test\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		    body);
		body = total - hlen;
	}
	fill = body - (sizeof(pre) - 1) - (sizeof(post) - 1);
	if (total > cap || body < sizeof(pre) + sizeof(post))
		return 0;
	memcpy(buf, head, hlen);
	memcpy(buf + hlen, pre, sizeof(pre) - 1);
	for (i = 0; i < fill; i++)
		buf[hlen + sizeof(pre) - 1 + i] =
		    (i + seed) % 6 == 5 ? ' ' : (uint8_t)('a' + (i * 7 + seed) % 26);
	memcpy(buf + hlen + sizeof(pre) - 1 + fill, post, sizeof(post) - 1);
	return total;
}

static void conn_init(struct conn *c, uint8_t fam, uint16_t cport, bool opts)
{
	memset(c, 0, sizeof(*c));
	c->fam = fam;
	c->cli = fam == 4 ? CLIENT4 : CLIENT6;
	c->vip = fam == 4 ? HVIP4 : HVIP6;
	c->pod = fam == 4 ? POD4 : POD6;
	c->be_id = fam == 4 ? BE_POD4 : BE_POD6;
	c->cport = cport;
	c->ws = -1;
	if (opts) {
		c->mss = (uint16_t)OUR_MSS(fam);
		c->ws = fam == 4 ? 9 : 2; /* not kvlb's 7, so the two cannot be confused */
		c->sack = true;
		c->ts = true;
	}
	c->c_isn = 0x11223344u * fam + cport;
	c->tsval = 0x7000000u + cport;
	c->win = fam == 4 ? 502 : 1000;
	c->req_len = make_request(c->req, sizeof(c->req), 2701, cport);
	c->s_isn = 0x50000000u + cport * 3;
	c->s_tsval = 0x30000000u + cport;
	/* odd, so replayed segments start at odd offsets of the hold */
	c->s_mss = fam == 4 ? 1001 : 1201;
	c->s_ws = fam == 4 ? 9 : 7;
}

static void flow_key(const struct conn *c, struct kvlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	pb_addr(c->cli, c->fam, (uint8_t *)&k->src);
	pb_addr(c->vip, c->fam, (uint8_t *)&k->dst);
	k->sport = htons(c->cport);
	k->dport = htons(VPORT);
	k->proto = 6;
	k->family = c->fam == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
}

static void rev_key(const struct conn *c, struct kvlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	pb_addr(fx_be[c->be_id].addr, c->fam, (uint8_t *)&k->src);
	pb_addr(c->cli, c->fam, (uint8_t *)&k->dst);
	k->sport = htons(BPORT);
	k->dport = htons(c->cport);
	k->proto = 6;
	k->family = c->fam == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
}

/* ---- packets ---- */

static void spec_base(struct pb_spec *s, const struct conn *c, uint8_t flags, uint32_t seq,
		      uint32_t ack, uint16_t win, const struct pb_tcpopt *o)
{
	memset(s, 0, sizeof(*s));
	s->family = c->fam;
	s->tcp_flags = flags;
	s->pb_flags = PB_F_TCP_FIELDS;
	s->seq = seq;
	s->ack = ack;
	s->win = win;
	s->tcp_opt = o && o->len ? o : NULL;
}

/* A client segment, as it reaches the uplink. */
static void spec_client(struct pb_spec *s, const struct conn *c, uint8_t flags, uint32_t seq,
			uint32_t ack, uint16_t win, const struct pb_tcpopt *o, const uint8_t *data,
			uint16_t len)
{
	spec_base(s, c, flags, seq, ack, win, o);
	memcpy(s->dmac, MAC_UPLINK, 6);
	memcpy(s->smac, MAC_ROUTER, 6);
	s->saddr = c->cli;
	s->daddr = c->vip;
	s->sport = c->cport;
	s->dport = VPORT;
	s->data = data;
	s->payload = len;
	s->eth_pad = c->pad;
	if (c->vlan) {
		s->n_vlan = 1;
		s->vlan_id[0] = c->vlan;
	}
}

/* A pod segment, as it enters kvpod. */
static void spec_pod(struct pb_spec *s, const struct conn *c, uint8_t flags, uint32_t seq,
		     uint32_t ack, uint16_t win, const struct pb_tcpopt *o, const uint8_t *data,
		     uint16_t len)
{
	spec_base(s, c, flags, seq, ack, win, o);
	memcpy(s->dmac, MAC_PODLINK, 6);
	memcpy(s->smac, MAC_POD, 6);
	s->saddr = c->pod;
	s->daddr = c->cli;
	s->sport = BPORT;
	s->dport = c->cport;
	s->data = data;
	s->payload = len;
}

/* What kvlb writes itself: IPv4 with DF and id 0, TTL/hop limit 64. */
static void spec_kvlb(struct pb_spec *s)
{
	s->pb_flags |= PB_F_IP_ID;
	s->ip_id = 0;
	s->frag = s->family == 4 ? 0x4000 : 0;
}

/* kvlb's answer to the client, sent back out of the uplink (XDP_TX). */
static void spec_vip_reply(struct pb_spec *s, const struct conn *c, uint8_t flags, uint32_t seq,
			   uint32_t ack, uint16_t win, const struct pb_tcpopt *o)
{
	spec_base(s, c, flags, seq, ack, win, o);
	memcpy(s->dmac, MAC_ROUTER, 6);
	memcpy(s->smac, MAC_UPLINK, 6);
	s->saddr = c->vip;
	s->daddr = c->cli;
	s->sport = VPORT;
	s->dport = c->cport;
	if (c->vlan) { /* kvlb's answers keep the client's tag */
		s->n_vlan = 1;
		s->vlan_id[0] = c->vlan;
	}
	spec_kvlb(s);
}

/* The client's window as the pod must read it: when the pod declined
 * window scaling, neither side of its half scales (RFC 7323 2.2), while
 * the client still does. */
static uint16_t win_to_pod(const struct conn *c, uint16_t win)
{
	uint32_t w = win;

	if (c->ws >= 0 && c->s_ws < 0) {
		w <<= c->ws;
		if (w > 0xffff)
			w = 0xffff;
	}
	return (uint16_t)w;
}

/* The option layout of a SYN or SYN-ACK kvlb sends: 20 bytes, MSS first,
 * absent options as NOPs, so every field has a fixed place. */
static void opt_kvlb_syn(struct pb_tcpopt *o, uint16_t mss, bool sack, bool ts, uint32_t tsval,
			 uint32_t tsecr, int ws)
{
	int i;

	memset(o, 0, sizeof(*o));
	pb_opt_mss(o, mss);
	if (sack)
		pb_opt_sack_perm(o);
	else
		for (i = 0; i < 2; i++)
			pb_opt_nop(o);
	if (ts)
		pb_opt_ts(o, tsval, tsecr);
	else
		for (i = 0; i < 10; i++)
			pb_opt_nop(o);
	pb_opt_nop(o);
	if (ws >= 0)
		pb_opt_ws(o, (uint8_t)ws);
	else
		for (i = 0; i < 3; i++)
			pb_opt_nop(o);
}

/* Linux's layout of a SYN's options. */
static void opt_client_syn(struct pb_tcpopt *o, const struct conn *c)
{
	memset(o, 0, sizeof(*o));
	if (c->mss)
		pb_opt_mss(o, c->mss);
	if (c->sack)
		pb_opt_sack_perm(o);
	if (c->ts)
		pb_opt_ts(o, c->tsval, 0);
	if (c->ws >= 0) {
		pb_opt_nop(o);
		pb_opt_ws(o, (uint8_t)c->ws);
	}
	pb_opt_pad(o);
}

/* NOP NOP TS: a timestamped segment. */
static void opt_ts(struct pb_tcpopt *o, bool ts, uint32_t tsval, uint32_t tsecr)
{
	memset(o, 0, sizeof(*o));
	if (!ts)
		return;
	pb_opt_nop(o);
	pb_opt_nop(o);
	pb_opt_ts(o, tsval, tsecr);
}

/* ---- running a packet ---- */

struct run {
	uint8_t in[PB_MAX_LEN];
	size_t in_len;
	uint8_t out[4096];
	size_t out_len;
	uint32_t ret;
	struct kvlb_stats a, b;
};

static int run_tc_ctx(const uint8_t *in, size_t len, uint8_t *out, size_t *olen, uint32_t *ret)
{
	/* The skb comes in on kvpod (its device and ingress device), so the
	 * replay's copies leave by kvpod for real and the final one's verdict
	 * names kvpod, as on a node. */
	struct __sk_buff ctx = {.ifindex = (__u32)if_kvpod, .ingress_ifindex = (__u32)if_kvpod};
	struct bpf_test_run_opts o = {
	    .sz = sizeof(o),
	    .data_in = in,
	    .data_size_in = (__u32)len,
	    .data_out = out,
	    .data_size_out = (__u32)*olen,
	    .ctx_in = have_net ? &ctx : NULL,
	    .ctx_size_in = have_net ? sizeof(ctx) : 0,
	    .repeat = 1,
	};

	if (bpf_prog_test_run_opts(T.tc_fd, &o))
		return -errno;
	*olen = o.data_size_out;
	*ret = o.retval;
	return 0;
}

/* Build s (cut to `cut` bytes when non-zero), run it through XDP (tc
 * false) or TC, with the counters before and after. */
static int run_pkt(bool tc, const struct pb_spec *s, size_t cut, struct run *r)
{
	int rc;

	r->in_len = pb_build(s, r->in, sizeof(r->in), NULL);
	if (!r->in_len)
		FAILF("the input packet spec does not build");
	if (cut && cut < r->in_len)
		r->in_len = cut;
	if (kt_stats(&T, &r->a))
		FAILF("cannot read kvlb_stats");
	r->out_len = sizeof(r->out);
	if (tc)
		rc = run_tc_ctx(r->in, r->in_len, r->out, &r->out_len, &r->ret);
	else
		rc = kt_run_xdp(T.xdp_fd, r->in, r->in_len, have_net ? (uint32_t)if_kvin : 0,
				r->out, &r->out_len, &r->ret, NULL);
	if (rc)
		FAILF("BPF_PROG_TEST_RUN failed: %s", strerror(-rc));
	if (kt_stats(&T, &r->b))
		FAILF("cannot read kvlb_stats");
	return 0;
}

static const char *verdict_name(bool tc, uint32_t v)
{
	static const char *const xdp[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					  "XDP_REDIRECT"};
	static const char *const tcn[] = {"TC_ACT_OK",	   "TC_ACT_RECLASSIFY", "TC_ACT_SHOT",
					  "TC_ACT_PIPE",   "TC_ACT_STOLEN",	"TC_ACT_QUEUED",
					  "TC_ACT_REPEAT", "TC_ACT_REDIRECT"};

	if (!tc && v < 5)
		return xdp[v];
	if (tc && v < 8)
		return tcn[v];
	return "?";
}

static int want_verdict(const struct run *r, bool tc, uint32_t v)
{
	if (r->ret != v)
		FAILF("verdict %s (%u), want %s (%u)", verdict_name(tc, r->ret), r->ret,
		      verdict_name(tc, v), v);
	return 0;
}

struct delta {
	int field; /* S_* + 1; 0 ends the list */
	long long n;
};
#define D(f, n)                                                                                    \
	{                                                                                          \
		S_##f + 1, (long long)(n)                                                          \
	}

/* Every counter moved by exactly what d lists (the others by nothing). */
static int want_stats(const struct run *r, const struct delta *d)
{
	long long want[S_NAMED] = {0}, got;
	int k;

	for (; d->field; d++)
		want[d->field - 1] += d->n;
	for (k = 0; k < S_NAMED; k++) {
		got = (long long)(((const __u64 *)&r->b)[k] - ((const __u64 *)&r->a)[k]);
		if (got != want[k])
			FAILF("counter %s changed by %lld, want %lld", stat_names[k], got, want[k]);
	}
	return 0;
}
#define STATS(r, ...) want_stats(r, (const struct delta[]){__VA_ARGS__, {0, 0}})

static void hexdump(const char *what, const uint8_t *p, size_t len)
{
	size_t i;

	fprintf(stderr, "  %s (%zu bytes):", what, len);
	for (i = 0; i < len; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n    ", p[i]);
	fprintf(stderr, "\n");
}

static const char *addr_str(const uint8_t *a, uint8_t fam, char *buf, size_t n)
{
	return inet_ntop(fam == 6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)n) ? buf : "?";
}

/* The frame (got, glen) is exactly the one spec e builds, and its
 * checksums are right. On a difference, name the first field that differs. */
static int want_frame(const uint8_t *got, size_t glen, const struct pb_spec *e, const char *what)
{
	uint8_t exp[PB_MAX_LEN + 64];
	struct pb_view g, w;
	char why[256], a1[64], a2[64];
	size_t elen = pb_build(e, exp, sizeof(exp), NULL), i;

	if (!elen)
		FAILF("%s: the expected packet spec does not build", what);
	if (glen == elen && !memcmp(got, exp, elen)) {
		if (pb_verify_csums(got, glen, why, sizeof(why)))
			FAILF("%s: %s", what, why);
		return 0;
	}
	if (verbose) {
		hexdump("got", got, glen);
		hexdump("want", exp, elen);
	}
#define FEQ(name, gv, wv)                                                                          \
	do {                                                                                       \
		unsigned long long g_ = (gv), w_ = (wv);                                           \
		if (g_ != w_)                                                                      \
			FAILF("%s: %s is %llu (0x%llx), want %llu (0x%llx)", what, name, g_, g_,   \
			      w_, w_);                                                             \
	} while (0)
	if (pb_parse(got, glen, &g, why, sizeof(why)))
		FAILF("%s: not a TCP frame (%s)", what, why);
	pb_parse(exp, elen, &w, why, sizeof(why));
	if (memcmp(g.dmac, w.dmac, 6) || memcmp(g.smac, w.smac, 6))
		FAILF("%s: MACs %02x:..:%02x:%02x -> %02x:..:%02x:%02x, want %02x:..:%02x:%02x -> "
		      "%02x:..:%02x:%02x",
		      what, g.smac[0], g.smac[4], g.smac[5], g.dmac[0], g.dmac[4], g.dmac[5],
		      w.smac[0], w.smac[4], w.smac[5], w.dmac[0], w.dmac[4], w.dmac[5]);
	FEQ("VLAN tags", g.n_vlan, w.n_vlan);
	FEQ("VLAN id", g.vlan_id[0], w.vlan_id[0]);
	FEQ("IP version", g.family, w.family);
	if (memcmp(g.src, w.src, 16))
		FAILF("%s: source %s, want %s", what, addr_str(g.src, g.family, a1, sizeof(a1)),
		      addr_str(w.src, w.family, a2, sizeof(a2)));
	if (memcmp(g.dst, w.dst, 16))
		FAILF("%s: destination %s, want %s", what,
		      addr_str(g.dst, g.family, a1, sizeof(a1)),
		      addr_str(w.dst, w.family, a2, sizeof(a2)));
	FEQ("TTL/hop limit", g.ttl, w.ttl);
	FEQ("IPv4 id", g.ip_id, w.ip_id);
	FEQ("IPv4 flags/fragment", g.frag, w.frag);
	FEQ("source port", g.sport, w.sport);
	FEQ("destination port", g.dport, w.dport);
	FEQ("seq", g.seq, w.seq);
	FEQ("ack", g.ack, w.ack);
	FEQ("TCP flags", g.flags, w.flags);
	FEQ("window", g.win, w.win);
	FEQ("TCP header length", g.doff, w.doff);
	for (i = 0; i < g.opt_len; i++)
		if (g.opt[i] != w.opt[i])
			FAILF("%s: TCP option byte %zu is 0x%02x, want 0x%02x (ts %u/%u, want "
			      "%u/%u)",
			      what, i, g.opt[i], w.opt[i], g.o.tsval, g.o.tsecr, w.o.tsval,
			      w.o.tsecr);
	FEQ("payload length", g.pay_len, w.pay_len);
	for (i = 0; i < g.pay_len; i++)
		if (got[g.pay_off + i] != exp[w.pay_off + i])
			FAILF("%s: payload byte %zu is 0x%02x, want 0x%02x", what, i,
			      got[g.pay_off + i], exp[w.pay_off + i]);
	if (pb_verify_csums(got, glen, why, sizeof(why)))
		FAILF("%s: %s", what, why);
	for (i = 0; i < glen && i < elen && got[i] == exp[i]; i++)
		;
	FAILF("%s: differs from the expected frame (%zu vs %zu bytes, first at byte %zu)", what,
	      glen, elen, i);
#undef FEQ
}

/* ---- map entries ---- */

static int get_splice(const struct conn *c, struct kvlb_splice *sp)
{
	struct kvlb_flow_key k;

	flow_key(c, &k);
	if (bpf_map_lookup_elem(m_splice, &k, sp))
		FAILF("no kvlb_splice entry for the connection");
	return 0;
}

static bool has_entry(int fd, const struct kvlb_flow_key *k, void *val)
{
	return bpf_map_lookup_elem(fd, k, val) == 0;
}

static int map_count(int fd, size_t ksz)
{
	uint8_t k[64], prev[64] = {0};
	int n = 0;

	if (ksz > sizeof(k))
		return -1;
	while (bpf_map_get_next_key(fd, n ? prev : NULL, k) == 0 && n < 100000) {
		memcpy(prev, k, ksz);
		n++;
	}
	return n;
}

/* Entries in kvlb_splice, kvlb_hold, kvlb_nat_rev and kvlb_flows. */
struct state_count {
	int splice, hold, nat, flows;
};

static void count_state(struct state_count *n)
{
	n->splice = map_count(m_splice, sizeof(struct kvlb_flow_key));
	n->hold = map_count(m_hold, sizeof(struct kvlb_flow_key));
	n->nat = map_count(T.nat_rev, sizeof(struct kvlb_flow_key));
	n->flows = map_count(T.flows, sizeof(struct kvlb_flow_key));
}

/* The packet stored nothing: no entry was added anywhere. */
static int want_no_new_state(const struct state_count *before)
{
	struct state_count n;

	count_state(&n);
	if (memcmp(&n, before, sizeof(n)))
		FAILF("state was stored: kvlb_splice %d -> %d, kvlb_hold %d -> %d, kvlb_nat_rev "
		      "%d -> %d, kvlb_flows %d -> %d entries",
		      before->splice, n.splice, before->hold, n.hold, before->nat, n.nat,
		      before->flows, n.flows);
	return 0;
}

/* The connection's entries are gone (after a RST). */
static int want_conn_gone(const struct conn *c)
{
	struct kvlb_flow_key k, rk;
	struct kvlb_splice sp;
	struct kvlb_nat nat;

	flow_key(c, &k);
	rev_key(c, &rk);
	if (has_entry(m_splice, &k, &sp))
		FAILF("the kvlb_splice entry is still there (state %u)", sp.state);
	if (has_entry(m_hold, &k, hold_buf))
		FAILF("the kvlb_hold entry is still there");
	if (has_entry(T.nat_rev, &rk, &nat))
		FAILF("the kvlb_nat_rev entry is still there");
	return 0;
}

/* After a RST the connection is closed but kept, for kvlbd to sweep: the
 * endpoint judges a RST, and one that ignores a blind RST keeps working. */
static int want_conn_closed(const struct conn *c)
{
	struct kvlb_flow_key k, rk;
	struct kvlb_splice sp;
	struct kvlb_nat nat;

	flow_key(c, &k);
	rev_key(c, &rk);
	if (!has_entry(m_splice, &k, &sp))
		FAILF("the kvlb_splice entry is gone");
	if (sp.state != KVLB_SP_CLOSED)
		FAILF("the kvlb_splice entry is in state %u, want closed (%u)", sp.state,
		      KVLB_SP_CLOSED);
	if (has_entry(m_hold, &k, hold_buf))
		FAILF("the kvlb_hold entry is still there");
	if (!has_entry(T.nat_rev, &rk, &nat))
		FAILF("the kvlb_nat_rev entry is gone");
	return 0;
}

/* The held bytes are the request's first n bytes. */
static int want_held_bytes(const struct conn *c, uint32_t n)
{
	struct kvlb_flow_key k;
	const uint8_t *data;
	uint32_t i;

	flow_key(c, &k);
	if (!has_entry(m_hold, &k, hold_buf))
		FAILF("no kvlb_hold entry");
	data = hold_buf + hold_vsz - HOLD_DATA_LEN;
	for (i = 0; i < n; i++)
		if (data[i] != c->req[i])
			FAILF("held byte %u is 0x%02x, want 0x%02x", i, data[i], c->req[i]);
	return 0;
}

/* ---- the cookie, computed independently (bpf/cookie.h documents it) ---- */

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

/* SipHash-2-4 over six words: the addresses as kvlb_flow_key holds them,
 * ports and the client's ISN, then period, family and the offer. */
static uint32_t ref_cookie_hash(const struct kvlb_flow_key *k, uint32_t c_isn, uint64_t period,
				uint32_t enc, const struct kvlb_secret *key)
{
	uint64_t v[4] = {key->k0 ^ 0x736f6d6570736575ULL, key->k1 ^ 0x646f72616e646f6dULL,
			 key->k0 ^ 0x6c7967656e657261ULL, key->k1 ^ 0x7465646279746573ULL};
	uint64_t m[6] = {
	    (uint64_t)k->src.v6[0] << 32 | k->src.v6[1],
	    (uint64_t)k->src.v6[2] << 32 | k->src.v6[3],
	    (uint64_t)k->dst.v6[0] << 32 | k->dst.v6[1],
	    (uint64_t)k->dst.v6[2] << 32 | k->dst.v6[3],
	    (uint64_t)k->sport << 48 | (uint64_t)k->dport << 32 | c_isn,
	    period << 16 | (uint64_t)k->family << 8 | enc,
	};
	int i;

	for (i = 0; i < 6; i++) {
		v[3] ^= m[i];
		sip_round(v);
		sip_round(v);
		v[0] ^= m[i];
	}
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sip_round(v);
	return (uint32_t)(v[0] ^ v[1] ^ v[2] ^ v[3]);
}

/* The low byte: index of the largest cookie MSS not above the offer, the
 * window shift (15: none) and SACK-permitted. */
static uint32_t ref_cookie_enc(uint16_t mss, int ws, bool sack)
{
	static const uint16_t tab[8] = {536, 1200, 1280, 1360, 1400, 1440, 1460, 8960};
	uint32_t i, idx = 0;

	for (i = 0; i < 8; i++)
		if (mss >= tab[i])
			idx = i;
	return idx | (uint32_t)(ws < 0 ? 15 : ws) << 3 | (sack ? 0x80u : 0);
}

static uint16_t ref_cookie_mss(uint32_t enc)
{
	static const uint16_t tab[8] = {536, 1200, 1280, 1360, 1400, 1440, 1460, 8960};

	return tab[enc & 7];
}

static const char *stats_moved(const struct run *r);

/* ---- the steps of a conversation ---- */

/* The client's SYN: answered with a cookie from the VIP, nothing stored. */
static int step_syn(struct conn *c)
{
	struct pb_tcpopt o, eo;
	struct pb_spec in, exp;
	struct state_count st;
	struct kvlb_flow_key k;
	struct pb_view v;
	struct run r;
	uint64_t t0, t1;
	uint32_t enc, tsval = 0;
	char why[128];

	STEP = "client SYN";
	count_state(&st);
	opt_client_syn(&o, c);
	spec_client(&in, c, 0x02, c->c_isn, 0, 64240, &o, NULL, 0);
	t0 = coarse_ns();
	TRY(run_pkt(false, &in, 0, &r));
	t1 = coarse_ns();
	TRY(want_verdict(&r, false, XDP_TX));
	if (pb_parse(r.out, r.out_len, &v, why, sizeof(why)))
		FAILF("the SYN-ACK does not parse: %s", why);
	c->cookie = v.seq;
	enc = ref_cookie_enc(c->mss ? c->mss : 536, c->ws, c->sack);
	EQ("the cookie's low byte (the SYN's offer)", c->cookie & 0xff, enc);
	flow_key(c, &k);
	if ((ref_cookie_hash(&k, c->c_isn, t0 >> 36, enc, &SECRET_A) & ~0xffu) !=
		(c->cookie & ~0xffu) &&
	    (ref_cookie_hash(&k, c->c_isn, t1 >> 36, enc, &SECRET_A) & ~0xffu) !=
		(c->cookie & ~0xffu))
		FAILF("cookie 0x%08x is not SipHash-2-4 of the connection under kvlb_secret",
		      c->cookie);
	if (c->ts) {
		/* the second keyed hash, of the connection and the cookie in the
		 * ISN's place (domain 0x100) */
		tsval = v.o.tsval;
		if (tsval != ref_cookie_hash(&k, c->cookie, t0 >> 36, 0x100, &SECRET_A) &&
		    tsval != ref_cookie_hash(&k, c->cookie, t1 >> 36, 0x100, &SECRET_A))
			FAILF("SYN-ACK tsval %u is not SipHash-2-4 of the connection under "
			      "kvlb_secret",
			      tsval);
	}
	c->ts_ours = tsval;
	opt_kvlb_syn(&eo, (uint16_t)OUR_MSS(c->fam), c->sack, c->ts, tsval, c->tsval,
		     c->ws >= 0 ? KVLB_SP_WSCALE : -1);
	spec_vip_reply(&exp, c, 0x12, c->cookie, c->c_isn + 1, KVLB_HOLD_BUF, &eo);
	TRY(want_frame(r.out, r.out_len, &exp, "the SYN-ACK"));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_cookie_sent, 1)));
	TRY(want_no_new_state(&st));
	c->tsval++;
	return 0;
}

/* The ACK that completes the handshake (with data when len > 0). */
static int run_hs_ack(struct conn *c, uint32_t ack, uint16_t sport, struct run *r)
{
	struct pb_tcpopt o;
	struct pb_spec in;
	struct conn cc = *c;

	cc.cport = sport;
	opt_ts(&o, c->ts, c->tsval, c->ts_ours);
	spec_client(&in, &cc, 0x10, c->c_isn + 1, ack, c->win, &o, NULL, 0);
	TRY(run_pkt(false, &in, 0, r));
	c->tsval++;
	return 0;
}

static int step_hs_ack(struct conn *c)
{
	struct kvlb_flow_key k, rk;
	struct kvlb_splice sp;
	struct kvlb_nat nat;
	struct run r;
	uint64_t now;

	STEP = "client ACK completing the handshake";
	TRY(run_hs_ack(c, c->cookie + 1, c->cport, &r));
	now = coarse_ns();
	/* a bare ACK: nothing to hold, nothing to answer */
	TRY(want_verdict(&r, false, XDP_DROP));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_cookie_ok, 1)));
	TRY(get_splice(c, &sp));
	EQ("state", sp.state, KVLB_SP_HOLD);
	EQ("flags", sp.flags,
	   (c->ts ? KVLB_SP_F_TS : 0) | (c->sack ? KVLB_SP_F_SACK : 0) |
	       (c->ws >= 0 ? KVLB_SP_F_WS : 0));
	EQ("c_mss", sp.c_mss, ref_cookie_mss(ref_cookie_enc(c->mss ? c->mss : 536, -1, false)));
	EQ("c_wscale", sp.c_wscale, c->ws >= 0 ? c->ws : 0);
	EQ("c_isn", sp.c_isn, c->c_isn);
	EQ("our_isn", sp.our_isn, c->cookie);
	EQ("ts_ours", sp.ts_ours, c->ts_ours);
	EQ("ts_recent", sp.ts_recent, c->ts ? c->tsval - 1 : 0);
	EQ("held", sp.held, 0);
	EQ("acked", sp.acked, 0);
	EQ("backend_id", sp.backend_id, KVLB_NO_BACKEND);
	EQ("vip_index", sp.vip_index, c->fam == 4 ? 0 : 1);
	EQ("c_win", sp.c_win, c->win);
	EQ("seq_delta", sp.seq_delta, 0);
	EQ("tries", sp.tries, 0);
	if (!sp.last_ns || sp.last_ns > now)
		FAILF("last_ns %llu is not a coarse clock reading (now %llu)",
		      (unsigned long long)sp.last_ns, (unsigned long long)now);
	flow_key(c, &k);
	if (!has_entry(m_hold, &k, hold_buf))
		FAILF("no kvlb_hold entry");
	rev_key(c, &rk);
	if (has_entry(T.nat_rev, &rk, &nat))
		FAILF("a kvlb_nat_rev entry exists before any pod was chosen");
	c->ts_recent = c->tsval - 1;
	c->c_win = c->win;
	return 0;
}

/* kvlb's ACK of what it holds. */
static void spec_hold_ack(struct pb_spec *e, struct pb_tcpopt *eo, const struct conn *c,
			  uint32_t held)
{
	uint32_t room = KVLB_HOLD_BUF - held;

	opt_ts(eo, c->ts, c->ts_ours, c->ts_recent);
	spec_vip_reply(e, c, 0x10, c->cookie + 1, c->c_isn + 1 + held,
		       (uint16_t)(c->ws >= 0 ? room >> KVLB_SP_WSCALE : room), eo);
}

/* H_STALE: a late duplicate, its timestamp older than ones seen since */
enum hold_kind { H_NEW, H_RETRANS, H_GAP, H_STALE };

/* A request segment [off, off + n) while kvlb holds; n bytes do not
 * complete the request. */
static int step_hold(struct conn *c, uint32_t off, uint16_t n, enum hold_kind kind)
{
	struct pb_tcpopt o, eo;
	struct pb_spec in, exp;
	struct kvlb_splice sp;
	struct run r;

	STEP = kind == H_NEW	   ? "partial request segment"
	       : kind == H_RETRANS ? "retransmitted request segment"
	       : kind == H_STALE   ? "late duplicate of a request segment"
				   : "request segment beyond a gap";
	opt_ts(&o, c->ts, kind == H_STALE ? c->ts_recent - 7 : c->tsval, c->ts_ours);
	spec_client(&in, c, 0x18, c->c_isn + 1 + off, c->cookie + 1, c->win, &o, c->req + off, n);
	TRY(run_pkt(false, &in, 0, &r));
	/* RFC 7323: a segment beyond a gap leaves ts_recent as it was, and
	 * an older timestamp never moves it back */
	if (c->ts && kind != H_GAP && kind != H_STALE)
		c->ts_recent = c->tsval;
	if (kind != H_STALE)
		c->tsval++;
	c->c_win = c->win;
	TRY(want_verdict(&r, false, XDP_TX));
	if (kind == H_NEW) {
		c->held += n;
		c->acked = c->held;
	}
	spec_hold_ack(&exp, &eo, c, c->held);
	TRY(want_frame(r.out, r.out_len, &exp, "kvlb's ACK"));
	if (kind == H_NEW)
		TRY(STATS(&r, D(xdp_rx, 1), D(sp_held_segments, 1), D(sp_held_bytes, n),
			  D(sp_acks_sent, 1)));
	else if (kind == H_RETRANS || kind == H_STALE)
		TRY(STATS(&r, D(xdp_rx, 1), D(sp_acks_sent, 1)));
	else
		TRY(STATS(&r, D(xdp_rx, 1), D(sp_out_of_order, 1), D(sp_acks_sent, 1)));
	TRY(get_splice(c, &sp));
	EQ("state", sp.state, KVLB_SP_HOLD);
	EQ("held", sp.held, c->held);
	EQ("acked", sp.acked, c->acked);
	EQ("ts_recent", sp.ts_recent, c->ts ? c->ts_recent : 0);
	EQ("c_win", sp.c_win, c->win);
	TRY(want_held_bytes(c, c->held));
	return 0;
}

/* The SYN kvlb sends the pod: the client's address, ISN and options. */
static void spec_pod_syn(struct pb_spec *e, struct pb_tcpopt *eo, const struct conn *c)
{
	memset(e, 0, sizeof(*e));
	opt_kvlb_syn(eo, ref_cookie_mss(ref_cookie_enc(c->mss ? c->mss : 536, -1, false)), c->sack,
		     c->ts, c->ts_recent, 0, c->ws);
	spec_base(e, c, 0x02, c->c_isn, 0, 65535, eo);
	memcpy(e->dmac, MAC_POD, 6);
	memcpy(e->smac, MAC_PODLINK, 6);
	e->saddr = c->cli;
	e->daddr = c->pod;
	e->sport = c->cport;
	e->dport = BPORT;
	spec_kvlb(e);
}

/* The segment that completes the request: no ACK to the client, the
 * choice, and the SYN to the pod. */
static int step_bind(struct conn *c, uint32_t off, uint16_t n)
{
	struct pb_tcpopt o, eo;
	struct pb_spec in, exp;
	struct kvlb_splice sp;
	struct kvlb_flow_key rk;
	struct kvlb_nat nat, want_nat;
	struct kvlb_backend_load load;
	struct run r;

	STEP = "segment completing the request";
	opt_ts(&o, c->ts, c->tsval, c->ts_ours);
	spec_client(&in, c, 0x18, c->c_isn + 1 + off, c->cookie + 1, c->win, &o, c->req + off, n);
	TRY(run_pkt(false, &in, 0, &r));
	if (c->ts)
		c->ts_recent = c->tsval;
	c->tsval++;
	c->c_win = c->win;
	c->held += n;
	TRY(want_verdict(&r, false, XDP_REDIRECT));
	spec_pod_syn(&exp, &eo, c);
	TRY(want_frame(r.out, r.out_len, &exp, "the SYN to the pod"));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_held_segments, 1), D(sp_held_bytes, n), D(http_ring, 1),
		  D(sp_bound, 1), D(xdp_forwarded, 1), D(xdp_vlan, c->vlan ? 1 : 0)));
	TRY(get_splice(c, &sp));
	EQ("state", sp.state, KVLB_SP_CONNECTING);
	EQ("backend_id", sp.backend_id, c->be_id);
	EQ("tries", sp.tries, 1);
	EQ("held", sp.held, c->held);
	EQ("acked (the completing segment is not acknowledged)", sp.acked, c->acked);
	EQ("next hop ifindex", sp.nh.ifindex, if_kvpod);
	if (memcmp(sp.nh.dmac, MAC_POD, 6) || memcmp(sp.nh.smac, MAC_PODLINK, 6))
		FAILF("the next hop's MACs are not the pod's neighbour and kvpod's");
	TRY(want_held_bytes(c, c->held));
	rev_key(c, &rk);
	if (!has_entry(T.nat_rev, &rk, &nat))
		FAILF("no kvlb_nat_rev entry for pod -> client");
	memset(&want_nat, 0, sizeof(want_nat));
	pb_addr(c->vip, c->fam, (uint8_t *)&want_nat.vip);
	want_nat.vip_port = htons(VPORT);
	want_nat.flags = KVLB_NAT_F_SPLICE;
	want_nat.backend_id = c->be_id;
	if (memcmp(&nat, &want_nat, sizeof(nat)))
		FAILF("kvlb_nat_rev value {backend %u, port %u, flags 0x%x, nh %u} differs from "
		      "{%u, %u, 0x%x, 0}",
		      nat.backend_id, ntohs(nat.vip_port), nat.flags, nat.nh.ifindex, c->be_id,
		      (unsigned int)VPORT, KVLB_NAT_F_SPLICE);
	/* the choice learned the prompt's links and counted the request */
	if (map_count(m_prefix, 8) <= 0)
		FAILF("the prefix table learned nothing");
	if (bpf_map_lookup_elem(m_load, &c->be_id, &load) || !load.bound_tokens)
		FAILF("backend %u's bound_tokens did not grow", c->be_id);
	c->nh = sp.nh;
	return 0;
}

/* SYN, ACK, then the request in three segments up to the SYN to the pod. */
static int steps_to_connecting(struct conn *c)
{
	TRY(step_syn(c));
	TRY(step_hs_ack(c));
	TRY(step_hold(c, 0, 100, H_NEW));
	TRY(step_hold(c, 100, 1200, H_NEW));
	return step_bind(c, 1300, (uint16_t)(c->req_len - 1300));
}

/* ---- capturing what the replay sends out of kvpod ---- */

static int cap_open(void)
{
	struct sockaddr_ll sa = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETH_P_ALL),
				 .sll_ifindex = if_kvpod_peer};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The next frame of c towards the pod that reaches kvpod-p; waits up to
 * 5 s for it (it crosses the veth pair asynchronously). */
static int cap_next(int fd, const struct conn *c, uint8_t *buf, size_t cap, size_t *len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint8_t dst[16];
	struct pb_view v;
	char why[128];
	ssize_t n;

	pb_addr(c->pod, c->fam, dst);
	for (;;) {
		n = recv(fd, buf, cap, 0);
		if (n < 0 && errno == EAGAIN) {
			if (poll(&pfd, 1, 5000) <= 0)
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		if (pb_parse(buf, (size_t)n, &v, why, sizeof(why)) || v.family != c->fam ||
		    memcmp(v.dst, dst, 16) || v.sport != c->cport || v.dport != BPORT)
			continue;
		*len = (size_t)n;
		return 0;
	}
}

/* ---- the pod's half ---- */

static void opt_pod_synack(struct pb_tcpopt *o, const struct conn *c)
{
	memset(o, 0, sizeof(*o));
	pb_opt_mss(o, c->s_mss);
	if (c->sack)
		pb_opt_sack_perm(o);
	if (c->ts)
		pb_opt_ts(o, c->s_tsval, c->ts_recent);
	if (c->ws >= 0 && c->s_ws >= 0) {
		pb_opt_nop(o);
		pb_opt_ws(o, (uint8_t)c->s_ws);
	}
	pb_opt_pad(o);
}

/* Replay segment [off, off + n), as kvlb writes it over the pod's
 * SYN-ACK (so the MACs are that frame's, swapped). */
/* Payload of one replayed segment: the smaller MSS less the timestamp
 * option, and never above KVLB_REPLAY_SEG. */
static uint32_t replay_seg(const struct conn *c)
{
	uint32_t seg = (c->s_mss < OUR_MSS(c->fam) ? c->s_mss : OUR_MSS(c->fam)) - (c->ts ? 12 : 0);

	return seg > KVLB_REPLAY_SEG ? KVLB_REPLAY_SEG : seg;
}

static void spec_replay(struct pb_spec *e, struct pb_tcpopt *eo, const struct conn *c, uint32_t off,
			uint32_t n, bool last, uint32_t tsecr)
{
	opt_ts(eo, c->ts, c->ts_recent, tsecr);
	spec_base(e, c, last ? 0x18 : 0x10, c->c_isn + 1 + off, c->s_isn + 1,
		  win_to_pod(c, c->c_win), eo);
	memcpy(e->dmac, MAC_POD, 6);
	memcpy(e->smac, MAC_PODLINK, 6);
	e->saddr = c->cli;
	e->daddr = c->pod;
	e->sport = c->cport;
	e->dport = BPORT;
	e->data = c->req + off;
	e->payload = (uint16_t)n;
	spec_kvlb(e);
}

/* The pod's SYN-ACK: turned into the replay of the held bytes. */
static int step_replay(struct conn *c)
{
	struct pb_tcpopt o, eo;
	struct pb_spec in, exp;
	struct kvlb_splice sp;
	struct run r;
	uint8_t cap[2048];
	size_t clen;
	uint32_t seg, off, n, i;
	char what[64];
	int fd;

	STEP = "the pod's SYN-ACK";
	fd = cap_open();
	if (fd < 0)
		FAILF("cannot capture on kvpod-p: %s", strerror(errno));
	opt_pod_synack(&o, c);
	spec_pod(&in, c, 0x12, c->s_isn, c->c_isn + 1, 65160, &o, NULL, 0);
	if (run_pkt(true, &in, 0, &r)) {
		close(fd);
		return -1;
	}
	seg = replay_seg(c);
	/* every segment but the last leaves as a copy, out of kvpod */
	for (off = 0, i = 0; off + seg < c->held; off += seg, i++) {
		snprintf(what, sizeof(what), "replayed segment %u (copy sent out of kvpod)", i + 1);
		if (cap_next(fd, c, cap, sizeof(cap), &clen)) {
			close(fd);
			FAILF("%s never reached kvpod-p", what);
		}
		spec_replay(&exp, &eo, c, off, seg, false, c->s_tsval);
		if (want_frame(cap, clen, &exp, what)) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	n = c->held - off;
	TRY(want_verdict(&r, true, TC_ACT_REDIRECT));
	snprintf(what, sizeof(what), "replayed segment %u (the last, returned)", i + 1);
	{
		struct pb_view v;
		char why[64];

		if (off && !pb_parse(r.out, r.out_len, &v, why, sizeof(why)) &&
		    v.seq == c->c_isn + 1 + off - seg)
			FAILF("%s is a second copy of segment %u: held bytes [%u, %u) never leave, "
			      "yet sp_replayed_bytes grew by %llu",
			      what, i, off, c->held,
			      (unsigned long long)(r.b.sp_replayed_bytes - r.a.sp_replayed_bytes));
	}
	spec_replay(&exp, &eo, c, off, n, true, c->s_tsval);
	TRY(want_frame(r.out, r.out_len, &exp, what));
	TRY(STATS(&r, D(tc_rx, 1), D(sp_replayed_bytes, c->held)));
	TRY(get_splice(c, &sp));
	EQ("state", sp.state, KVLB_SP_REPLAYING);
	EQ("seq_delta", sp.seq_delta, c->cookie - c->s_isn);
	EQ("ts_delta", sp.ts_delta, c->ts ? c->ts_ours - c->s_tsval : 0);
	c->ts_delta = sp.ts_delta;
	EQ("s_mss", sp.s_mss, c->s_mss);
	EQ("s_wscale", sp.s_wscale, c->ws >= 0 && c->s_ws >= 0 ? c->s_ws : 0);
	TRY(want_held_bytes(c, c->held));
	return 0;
}

/* A pod segment translated onto the client's half: seq + seq_delta, tsval
 * + ts_delta, the window rescaled to kvlb's shift, from the VIP, and out of
 * the uplink to the client's gateway. */
static int step_pod_seg(struct conn *c, uint8_t flags, uint32_t sseq, uint32_t ack, uint16_t win,
			const uint8_t *data, uint16_t len, struct run *r)
{
	struct pb_tcpopt o, eo;
	struct pb_spec in, exp;
	uint32_t w = win;

	opt_ts(&o, c->ts, c->s_tsval, c->ts_recent);
	spec_pod(&in, c, flags, sseq, ack, win, &o, data, len);
	TRY(run_pkt(true, &in, 0, r));
	TRY(want_verdict(r, true, TC_ACT_REDIRECT));
	opt_ts(&eo, c->ts, c->s_tsval + c->ts_delta, c->ts_recent);
	if (c->ws >= 0) {
		w = (w << (c->s_ws >= 0 ? c->s_ws : 0)) >> KVLB_SP_WSCALE;
		if (w > 0xffff)
			w = 0xffff;
	}
	exp = in;
	exp.tcp_opt = eo.len ? &eo : NULL;
	exp.saddr = c->vip;
	exp.sport = VPORT;
	exp.seq = sseq + (c->cookie - c->s_isn);
	exp.win = (uint16_t)w;
	memcpy(exp.dmac, MAC_CLIENT_GW, 6);
	memcpy(exp.smac, MAC_UPLINK, 6);
	TRY(want_frame(r->out, r->out_len, &exp, "the pod's segment as the client gets it"));
	c->s_tsval++;
	return 0;
}

/* A client segment translated onto the pod's half: ack - seq_delta, tsecr
 * - ts_delta, SACK blocks - seq_delta, to the pod, out of kvpod. */
static int step_client_seg(struct conn *c, uint8_t flags, uint32_t seq, uint32_t ack,
			   const uint32_t *sack, unsigned int sack_n, const uint8_t *data,
			   uint16_t len, struct run *r)
{
	struct pb_tcpopt o, eo;
	struct pb_spec in, exp;
	uint32_t delta = c->cookie - c->s_isn, tsd = c->ts_delta, xs[8];
	uint32_t tsecr = c->ts_ours + 5; /* the echo of one of kvlb's translated tsvals */
	unsigned int i;

	memset(&o, 0, sizeof(o));
	memset(&eo, 0, sizeof(eo));
	if (c->ts) {
		opt_ts(&o, true, c->tsval, tsecr);
		opt_ts(&eo, true, c->tsval, tsecr - tsd);
	}
	if (sack_n) {
		for (i = 0; i < 2 * sack_n; i++)
			xs[i] = sack[i] - delta;
		pb_opt_nop(&o);
		pb_opt_nop(&o);
		pb_opt_sack(&o, sack, sack_n);
		pb_opt_nop(&eo);
		pb_opt_nop(&eo);
		pb_opt_sack(&eo, xs, sack_n);
	}
	spec_client(&in, c, flags, seq, ack, c->win, &o, data, len);
	TRY(run_pkt(false, &in, 0, r));
	c->tsval++;
	TRY(want_verdict(r, false, XDP_REDIRECT));
	exp = in;
	exp.tcp_opt = eo.len ? &eo : NULL;
	exp.daddr = c->pod;
	exp.dport = BPORT;
	exp.ack = ack - delta;
	exp.win = win_to_pod(c, c->win);
	exp.n_vlan = 0; /* the tag stays on the uplink */
	memcpy(exp.dmac, MAC_POD, 6);
	memcpy(exp.smac, MAC_PODLINK, 6);
	TRY(want_frame(r->out, r->out_len, &exp, "the client's segment as the pod gets it"));
	return 0;
}

/* The pod acknowledges the whole replay: SPLICED, the hold freed. */
static int step_pod_acks_all(struct conn *c)
{
	struct kvlb_splice sp;
	struct kvlb_flow_key k;
	struct run r;

	STEP = "the pod's ACK of the whole replay";
	TRY(step_pod_seg(c, 0x10, c->s_isn + 1, c->c_isn + 1 + c->held, 1000, NULL, 0, &r));
	TRY(STATS(&r, D(tc_rx, 1), D(sp_xlate_s2c, 1), D(tc_bytes, r.in_len), D(tc_redirected, 1)));
	TRY(get_splice(c, &sp));
	EQ("state", sp.state, KVLB_SP_SPLICED);
	flow_key(c, &k);
	if (has_entry(m_hold, &k, hold_buf))
		FAILF("kvlb_hold still holds the request once the pod acknowledged it");
	return 0;
}

/* ---- scenarios ---- */

static uint16_t next_port = 41000;

/* 1. SYNs: cookies, with and without options. */
static int sc_syn_options(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, true);
	return step_syn(&c);
}

static int sc_syn_no_options(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, false);
	return step_syn(&c);
}

/* 2. The handshake's ACK. */
static int sc_handshake(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, true);
	TRY(step_syn(&c));
	return step_hs_ack(&c);
}

static int sc_handshake_no_options(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, false);
	TRY(step_syn(&c));
	return step_hs_ack(&c);
}

/* A wrong cookie: the client is reset with the sequence number it sent as
 * its ACK, and nothing is stored. */
static int bad_cookie(struct conn *c, uint32_t ack, uint16_t sport)
{
	struct pb_spec exp;
	struct conn cc = *c;
	struct state_count st;
	struct run r;

	count_state(&st);
	TRY(run_hs_ack(c, ack, sport, &r));
	TRY(want_verdict(&r, false, XDP_TX));
	cc.cport = sport;
	spec_vip_reply(&exp, &cc, 0x04, ack, 0, 0, NULL);
	TRY(want_frame(r.out, r.out_len, &exp, "the RST"));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_cookie_bad, 1)));
	return want_no_new_state(&st);
}

static int sc_bad_cookie_ack(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, true);
	TRY(step_syn(&c));
	STEP = "ACK one above the cookie";
	return bad_cookie(&c, c.cookie + 2, c.cport);
}

/* The handshake's ACK and the first request bytes were lost: a later
 * segment (its sequence number no longer names the client's ISN) echoes
 * kvlb's timestamp and acknowledges the cookie, so it is dropped, not reset,
 * and the connection starts when the first bytes come again. */
static int sc_first_segments_lost(uint8_t fam)
{
	struct state_count st;
	struct pb_tcpopt o;
	struct pb_spec in;
	struct conn c;
	struct run r;

	conn_init(&c, fam, next_port++, true);
	TRY(step_syn(&c));
	STEP = "a segment after lost ones";
	count_state(&st);
	opt_ts(&o, c.ts, c.tsval, c.ts_ours);
	spec_client(&in, &c, 0x18, c.c_isn + 1 + 100, c.cookie + 1, c.win, &o, c.req + 100, 50);
	TRY(run_pkt(false, &in, 0, &r));
	c.tsval++;
	TRY(want_verdict(&r, false, XDP_DROP));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_out_of_order, 1)));
	TRY(want_no_new_state(&st));
	return step_hs_ack(&c);
}

static int sc_bad_cookie_port(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port, true);
	next_port += 2;
	TRY(step_syn(&c));
	STEP = "ACK with the cookie from another source port";
	return bad_cookie(&c, c.cookie + 1, (uint16_t)(c.cport + 1));
}

static int sc_bad_cookie_secret(uint8_t fam)
{
	struct conn c;
	uint32_t zero = 0;

	conn_init(&c, fam, next_port++, true);
	TRY(step_syn(&c));
	STEP = "ACK after kvlb_secret changed";
	if (bpf_map_update_elem(m_secret, &zero, &SECRET_B, BPF_ANY))
		FAILF("cannot write kvlb_secret: %s", strerror(errno));
	return bad_cookie(&c, c.cookie + 1, c.cport);
}

/* 3. Holding: ACKs for new bytes, a retransmission, a gap. */
static int sc_hold(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, true);
	TRY(step_syn(&c));
	TRY(step_hs_ack(&c));
	TRY(step_hold(&c, 0, 100, H_NEW));
	TRY(step_hold(&c, 0, 100, H_RETRANS));
	TRY(step_hold(&c, 0, 100, H_STALE));
	return step_hold(&c, 150, 30, H_GAP);
}

static int sc_hold_no_options(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, false);
	TRY(step_syn(&c));
	TRY(step_hs_ack(&c));
	TRY(step_hold(&c, 0, 100, H_NEW));
	return step_hold(&c, 0, 100, H_RETRANS);
}

/* VLAN-tagged clients: kvlb's answers keep the tag. */
static int sc_syn_vlan(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, true);
	c.vlan = 100;
	TRY(step_syn(&c));
	TRY(step_hs_ack(&c));
	return step_hold(&c, 0, 100, H_NEW);
}

/* Ethernet padding after short frames is not request data. */
static int sc_hold_padding(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, true);
	c.pad = 6;
	TRY(step_syn(&c));
	TRY(step_hs_ack(&c));
	TRY(step_hold(&c, 0, 1, H_NEW));
	TRY(step_hold(&c, 1, 99, H_NEW));
	return step_hold(&c, 1, 99, H_RETRANS);
}

/* Send the client's next data segment and say what became of it, for a
 * failure message. */
static const char *what_next(struct conn *c, uint32_t seq, uint32_t ack)
{
	static char buf[400];
	struct pb_tcpopt o;
	struct pb_spec in;
	struct pb_view v;
	struct run r;
	char why[64];

	opt_ts(&o, c->ts, c->tsval, c->ts_ours);
	spec_client(&in, c, 0x18, seq, ack, c->win, &o, c->req, 50);
	if (run_pkt(false, &in, 0, &r))
		return "(the next segment could not be run)";
	c->tsval++;
	snprintf(buf, sizeof(buf), "the client's next data segment got %s%s (counters: %s)",
		 verdict_name(false, r.ret),
		 r.ret == XDP_TX && !pb_parse(r.out, r.out_len, &v, why, sizeof(why)) &&
			 (v.flags & 0x04) && v.seq == ack
		     ? ", a RST the client accepts"
		     : "",
		 stats_moved(&r));
	return buf;
}

/*
 * A copy of the client's own SYN arriving late (duplicated and reordered
 * in the network, as netem does): the same ISN, so the same connection.
 * It may be answered with the same SYN-ACK or dropped, but must not cost
 * the connection its state. Returns through *tx whether it was answered.
 */
static int dup_syn(struct conn *c)
{
	struct pb_tcpopt o, eo;
	struct pb_spec in, exp;
	struct run r;
	struct conn cc = *c;

	STEP = "a late duplicate of the client's SYN";
	cc.tsval = c->tsval - 1000; /* as it was when the SYN left */
	opt_client_syn(&o, &cc);
	spec_client(&in, c, 0x02, c->c_isn, 0, 64240, &o, NULL, 0);
	TRY(run_pkt(false, &in, 0, &r));
	if (r.ret == XDP_TX) {
		struct pb_view v;
		char why[64];

		if (pb_parse(r.out, r.out_len, &v, why, sizeof(why)))
			FAILF("the answer does not parse: %s", why);
		opt_kvlb_syn(&eo, (uint16_t)OUR_MSS(c->fam), c->sack, c->ts, v.o.tsval, cc.tsval,
			     c->ws >= 0 ? KVLB_SP_WSCALE : -1);
		spec_vip_reply(&exp, c, 0x12, c->cookie, c->c_isn + 1, KVLB_HOLD_BUF, &eo);
		TRY(want_frame(r.out, r.out_len, &exp, "the SYN-ACK sent again"));
		TRY(STATS(&r, D(xdp_rx, 1), D(sp_cookie_sent, 1)));
	} else if (r.ret == XDP_DROP) {
		TRY(STATS(&r, D(xdp_rx, 1)));
	} else {
		FAILF("verdict %s, want XDP_TX (the same SYN-ACK) or XDP_DROP",
		      verdict_name(false, r.ret));
	}
	return 0;
}

static int sc_dup_syn_hold(uint8_t fam)
{
	struct conn c;
	struct kvlb_splice sp;

	conn_init(&c, fam, next_port++, true);
	TRY(step_syn(&c));
	c.tsval += 1000;
	TRY(step_hs_ack(&c));
	TRY(step_hold(&c, 0, 100, H_NEW));
	TRY(dup_syn(&c));
	if (get_splice(&c, &sp))
		FAILF("it deleted the connection's kvlb_splice entry; %s",
		      what_next(&c, c.c_isn + 1 + c.held, c.cookie + 1));
	EQ("state", sp.state, KVLB_SP_HOLD);
	EQ("held", sp.held, 100);
	TRY(want_held_bytes(&c, 100));
	return step_hold(&c, 100, 1200, H_NEW);
}

/* 4. The completing segment: choice and SYN to the pod. */
static int sc_bind(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, true);
	return steps_to_connecting(&c);
}

/* The whole request in one segment, sent with the handshake's ACK: the
 * cookie is checked, the front held and the pod chosen on one packet;
 * nothing is acknowledged by kvlb, so the pod's first ACK ends the hold. */
static int sc_request_in_handshake_ack(uint8_t fam)
{
	struct conn c;
	struct pb_tcpopt o, eo;
	struct pb_spec in, exp;
	struct kvlb_splice sp;
	struct run r;

	conn_init(&c, fam, next_port++, true);
	c.req_len = make_request(c.req, sizeof(c.req), 700, c.cport);
	TRY(step_syn(&c));
	STEP = "the handshake's ACK carrying the whole request";
	opt_ts(&o, c.ts, c.tsval, c.ts_ours);
	spec_client(&in, &c, 0x18, c.c_isn + 1, c.cookie + 1, c.win, &o, c.req,
		    (uint16_t)c.req_len);
	TRY(run_pkt(false, &in, 0, &r));
	c.ts_recent = c.tsval++;
	c.c_win = c.win;
	c.held = (uint32_t)c.req_len;
	TRY(want_verdict(&r, false, XDP_REDIRECT));
	spec_pod_syn(&exp, &eo, &c);
	TRY(want_frame(r.out, r.out_len, &exp, "the SYN to the pod"));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_cookie_ok, 1), D(sp_held_segments, 1),
		  D(sp_held_bytes, c.req_len), D(http_ring, 1), D(sp_bound, 1),
		  D(xdp_forwarded, 1)));
	TRY(get_splice(&c, &sp));
	EQ("state", sp.state, KVLB_SP_CONNECTING);
	EQ("held", sp.held, c.req_len);
	EQ("acked", sp.acked, 0);
	TRY(want_held_bytes(&c, c.held));
	TRY(step_replay(&c));
	return step_pod_acks_all(&c);
}

/* A VLAN-tagged client's front: the SYN to the pod leaves untagged. */
static int sc_bind_vlan(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, true);
	c.vlan = 100;
	return steps_to_connecting(&c);
}

/* A second conversation with the same prompt, after the ring changed:
 * the prefix table sends it where the first went. */
static int sc_prefix_hit(uint8_t fam)
{
	struct conn a, b;
	struct kvlb_splice sp;
	struct run r;
	struct pb_tcpopt o;
	struct pb_spec in;

	conn_init(&a, fam, next_port++, true);
	TRY(steps_to_connecting(&a));
	if (fx_flip_ring(fam)) /* new conversations now go to POD4B / POD6B */
		FAILF("cannot switch the VIP's ring: %s", strerror(errno));
	conn_init(&b, fam, next_port++, true);
	memcpy(b.req, a.req, a.req_len);
	TRY(step_syn(&b));
	TRY(step_hs_ack(&b));
	STEP = "the same request on a second connection";
	opt_ts(&o, b.ts, b.tsval, b.ts_ours);
	spec_client(&in, &b, 0x18, b.c_isn + 1, b.cookie + 1, b.win, &o, b.req, (uint16_t)1300);
	TRY(run_pkt(false, &in, 0, &r));
	TRY(want_verdict(&r, false, XDP_TX));
	b.tsval++;
	spec_client(&in, &b, 0x18, b.c_isn + 1 + 1300, b.cookie + 1, b.win, &o, b.req + 1300,
		    (uint16_t)(b.req_len - 1300));
	TRY(run_pkt(false, &in, 0, &r));
	TRY(want_verdict(&r, false, XDP_REDIRECT));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_held_segments, 1), D(sp_held_bytes, b.req_len - 1300),
		  D(http_prefix_hit, 1), D(sp_bound, 1), D(xdp_forwarded, 1)));
	TRY(get_splice(&b, &sp));
	EQ("backend_id (the prefix table's)", sp.backend_id, a.be_id);
	return 0;
}

/* The pod does not answer: the client's retransmission sends the SYN
 * again, up to KVLB_POD_SYN_TRIES SYNs, then the client is reset. The
 * 100 ms between retries are skipped by moving last_ns back. */
static int sc_syn_retry(uint8_t fam)
{
	struct conn c;
	struct kvlb_flow_key k;
	struct kvlb_splice sp;
	struct pb_tcpopt o, eo;
	struct pb_spec in, exp;
	struct run r;
	int i;

	conn_init(&c, fam, next_port++, true);
	TRY(steps_to_connecting(&c));
	flow_key(&c, &k);
	for (i = 2; i <= KVLB_POD_SYN_TRIES + 1; i++) {
		STEP = i <= KVLB_POD_SYN_TRIES ? "retransmission while the pod is silent"
					       : "retransmission after the last SYN";
		TRY(get_splice(&c, &sp));
		sp.last_ns -= 200000000ull;
		if (bpf_map_update_elem(m_splice, &k, &sp, BPF_EXIST))
			FAILF("cannot age the entry: %s", strerror(errno));
		opt_ts(&o, c.ts, c.tsval, c.ts_ours);
		spec_client(&in, &c, 0x18, c.c_isn + 1 + 1300, c.cookie + 1, c.win, &o,
			    c.req + 1300, (uint16_t)(c.req_len - 1300));
		TRY(run_pkt(false, &in, 0, &r));
		c.ts_recent = c.tsval++;
		if (i <= KVLB_POD_SYN_TRIES) {
			TRY(want_verdict(&r, false, XDP_REDIRECT));
			spec_pod_syn(&exp, &eo, &c);
			TRY(want_frame(r.out, r.out_len, &exp, "the SYN sent again"));
			TRY(STATS(&r, D(xdp_rx, 1), D(sp_syn_retries, 1), D(xdp_forwarded, 1)));
			TRY(get_splice(&c, &sp));
			EQ("tries", sp.tries, i);
		} else {
			TRY(want_verdict(&r, false, XDP_TX));
			spec_vip_reply(&exp, &c, 0x04, c.cookie + 1, 0, 0, NULL);
			TRY(want_frame(r.out, r.out_len, &exp, "the RST to the client"));
			TRY(STATS(&r, D(xdp_rx, 1), D(sp_pod_timeout, 1)));
			TRY(want_conn_gone(&c));
		}
	}
	return 0;
}

/* The front went to a backend that cannot take it: the client is reset. */
static int sc_no_backend(uint8_t fam)
{
	struct conn c;
	struct kvlb_backend be;
	struct pb_tcpopt o;
	struct pb_spec in, exp;
	struct run r;

	conn_init(&c, fam, next_port++, true);
	TRY(step_syn(&c));
	TRY(step_hs_ack(&c));
	TRY(step_hold(&c, 0, 1300, H_NEW));
	if (bpf_map_lookup_elem(T.backends, &c.be_id, &be))
		FAILF("no backend %u", c.be_id);
	be.flags |= KVLB_BE_F_DOWN;
	if (bpf_map_update_elem(T.backends, &c.be_id, &be, BPF_ANY))
		FAILF("cannot mark backend %u down: %s", c.be_id, strerror(errno));
	STEP = "segment completing the request, its only backend down";
	opt_ts(&o, c.ts, c.tsval, c.ts_ours);
	spec_client(&in, &c, 0x18, c.c_isn + 1 + 1300, c.cookie + 1, c.win, &o, c.req + 1300,
		    (uint16_t)(c.req_len - 1300));
	TRY(run_pkt(false, &in, 0, &r));
	TRY(want_verdict(&r, false, XDP_TX));
	spec_vip_reply(&exp, &c, 0x04, c.cookie + 1, 0, 0, NULL);
	TRY(want_frame(r.out, r.out_len, &exp, "the RST to the client"));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_held_segments, 1), D(sp_held_bytes, c.req_len - 1300),
		  D(xdp_no_backend, 1)));
	return want_conn_gone(&c);
}

/* Client data while the SYN to the pod is out: kept for the replay, not
 * acknowledged. */
static int step_connecting_data(struct conn *c, uint32_t off, uint16_t n)
{
	struct pb_tcpopt o;
	struct pb_spec in;
	struct kvlb_splice sp;
	struct run r;

	STEP = "client data while the pod's SYN is out";
	opt_ts(&o, c->ts, c->tsval, c->ts_ours);
	spec_client(&in, c, 0x10, c->c_isn + 1 + off, c->cookie + 1, c->win, &o, c->req + off, n);
	TRY(run_pkt(false, &in, 0, &r));
	c->ts_recent = c->tsval++;
	c->held += n;
	TRY(want_verdict(&r, false, XDP_DROP));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_held_segments, 1), D(sp_held_bytes, n)));
	TRY(get_splice(c, &sp));
	EQ("state", sp.state, KVLB_SP_CONNECTING);
	EQ("held", sp.held, c->held);
	EQ("acked", sp.acked, c->acked);
	return 0;
}

/*
 * The largest replay: a front held to the hold limit, then data up to the
 * window kvlb announced (the hold buffer's end) sent while the SYN is out,
 * replayed to a pod with the smallest MSS. Every byte must reach the pod
 * once, in order.
 */
static int sc_replay_full_hold(uint8_t fam)
{
	struct kvlb_config cfg;
	struct conn c;
	uint32_t zero = 0, off;

	conn_init(&c, fam, next_port++, true);
	c.req_len = make_request(c.req, sizeof(c.req), 20000, c.cport);
	c.s_mss = 536;
	/* the hold limit, not the prefix depth, ends the front */
	if (bpf_map_lookup_elem(T.config, &zero, &cfg))
		FAILF("cannot read kvlb_config");
	cfg.prefix_depth = KVLB_PREFIX_DEPTH_MAX;
	if (bpf_map_update_elem(T.config, &zero, &cfg, BPF_ANY))
		FAILF("cannot write kvlb_config");
	TRY(step_syn(&c));
	TRY(step_hs_ack(&c));
	for (off = 0; off + 1400 <= KVLB_DEF_HOLD_LIMIT; off += 1400)
		TRY(step_hold(&c, off, 1400, H_NEW));
	TRY(step_bind(&c, off, 1400));
	for (off += 1400; off < KVLB_HOLD_BUF; off += 1400)
		TRY(step_connecting_data(
		    &c, off, (uint16_t)(KVLB_HOLD_BUF - off < 1400 ? KVLB_HOLD_BUF - off : 1400)));
	EQ("bytes held", c.held, KVLB_HOLD_BUF);
	return step_replay(&c);
}

/* 5. The pod answers: the replay. */
static int sc_replay(uint8_t fam)
{
	struct conn c;

	conn_init(&c, fam, next_port++, true);
	TRY(steps_to_connecting(&c));
	return step_replay(&c);
}

/* The pod refuses: the client gets a RST it will accept. */
static int sc_pod_reset(uint8_t fam)
{
	struct conn c;
	struct pb_spec in, exp;
	struct run r;

	conn_init(&c, fam, next_port++, true);
	TRY(steps_to_connecting(&c));
	STEP = "the pod's RST to the SYN";
	spec_pod(&in, &c, 0x14, 0, c.c_isn + 1, 0, NULL, NULL, 0);
	TRY(run_pkt(true, &in, 0, &r));
	TRY(want_verdict(&r, true, TC_ACT_REDIRECT));
	exp = in;
	exp.saddr = c.vip;
	exp.sport = VPORT;
	exp.seq = c.cookie + 1;
	memcpy(exp.dmac, MAC_CLIENT_GW, 6);
	memcpy(exp.smac, MAC_UPLINK, 6);
	TRY(want_frame(r.out, r.out_len, &exp, "the RST the client gets"));
	TRY(STATS(&r, D(tc_rx, 1), D(sp_pod_reset, 1)));
	return want_conn_gone(&c);
}

/* A duplicate ACK below what kvlb acknowledged: those held bytes are sent
 * again from kvlb_hold. */
static int sc_replay_resend(uint8_t fam)
{
	struct conn c;
	struct pb_tcpopt o, eo;
	struct pb_spec in, exp;
	struct run r;
	uint32_t seg, n;

	conn_init(&c, fam, next_port++, true);
	TRY(steps_to_connecting(&c));
	TRY(step_replay(&c));
	seg = replay_seg(&c);
	STEP = "the pod's first ACK of the replay";
	opt_ts(&o, c.ts, c.s_tsval + 1, c.ts_recent);
	spec_pod(&in, &c, 0x10, c.s_isn + 1, c.c_isn + 1 + seg, 1000, &o, NULL, 0);
	TRY(run_pkt(true, &in, 0, &r));
	/* a rising ACK is the replay arriving: translated to the client */
	TRY(want_verdict(&r, true, TC_ACT_REDIRECT));
	TRY(STATS(&r, D(tc_rx, 1), D(sp_xlate_s2c, 1), D(tc_bytes, r.in_len), D(tc_redirected, 1)));
	STEP = "the pod's duplicate ACK";
	TRY(run_pkt(true, &in, 0, &r));
	TRY(want_verdict(&r, true, TC_ACT_REDIRECT));
	n = c.acked - seg; /* up to what kvlb acknowledged, one segment */
	if (n > seg)
		n = seg;
	opt_ts(&eo, c.ts, c.ts_recent, c.s_tsval + 1);
	spec_base(&exp, &c, 0x18, c.c_isn + 1 + seg, c.s_isn + 1, c.c_win, &eo);
	memcpy(exp.dmac, MAC_POD, 6);
	memcpy(exp.smac, MAC_PODLINK, 6);
	exp.saddr = c.cli;
	exp.daddr = c.pod;
	exp.sport = c.cport;
	exp.dport = BPORT;
	exp.data = c.req + seg;
	exp.payload = (uint16_t)n;
	spec_kvlb(&exp);
	TRY(want_frame(r.out, r.out_len, &exp, "the held bytes sent again"));
	TRY(STATS(&r, D(tc_rx, 1), D(sp_resent_bytes, n)));
	/* The resend draws another duplicate ACK at once (the pod had it,
	 * or the resend was lost): not sent again so soon. */
	STEP = "another duplicate ACK at once";
	TRY(run_pkt(true, &in, 0, &r));
	TRY(want_verdict(&r, true, TC_ACT_SHOT));
	TRY(STATS(&r, D(tc_rx, 1), D(sp_resend_held, 1)));
	return 0;
}

/* 6. Spliced traffic both ways, then FIN both ways. */
static int spliced(uint8_t fam, bool opts, bool pod_ws)
{
	struct conn c;
	struct kvlb_splice sp;
	struct run r;
	uint32_t sack[2], cseq, sseq;
	uint8_t resp[300];
	size_t i;

	conn_init(&c, fam, next_port++, opts);
	if (!pod_ws)
		c.s_ws = -1;
	TRY(steps_to_connecting(&c));
	TRY(step_replay(&c));
	TRY(step_pod_acks_all(&c));
	cseq = c.c_isn + 1 + c.held;
	sseq = c.s_isn + 1;

	STEP = "the pod's response data";
	for (i = 0; i < sizeof(resp); i++)
		resp[i] = (uint8_t)(i * 13 + 5);
	TRY(step_pod_seg(&c, 0x18, sseq, cseq, 1000, resp, sizeof(resp), &r));
	TRY(STATS(&r, D(tc_rx, 1), D(sp_xlate_s2c, 1), D(tc_bytes, r.in_len), D(tc_redirected, 1)));
	sseq += sizeof(resp);

	STEP = "client data with ACK, timestamps and a SACK block";
	sack[0] = c.cookie + 1 + 1000;
	sack[1] = c.cookie + 1 + 1500;
	TRY(step_client_seg(&c, 0x18, cseq, c.cookie + 1 + 300, sack, opts ? 1 : 0, c.req, 50, &r));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_xlate_c2s, 1), D(xdp_forwarded, 1),
		  D(xdp_bytes, r.in_len)));
	cseq += 50;

	STEP = "the client's FIN";
	TRY(step_client_seg(&c, 0x11, cseq, c.cookie + 1 + 300, NULL, 0, NULL, 0, &r));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_xlate_c2s, 1), D(xdp_forwarded, 1),
		  D(xdp_bytes, r.in_len)));
	TRY(get_splice(&c, &sp));
	EQ("state after one FIN", sp.state, KVLB_SP_SPLICED);
	EQ("client FIN", sp.fin_c, 1);
	EQ("pod FIN", sp.fin_s, 0);

	STEP = "the pod's FIN";
	TRY(step_pod_seg(&c, 0x11, sseq, cseq + 1, 1000, NULL, 0, &r));
	TRY(STATS(&r, D(tc_rx, 1), D(sp_xlate_s2c, 1), D(tc_bytes, r.in_len), D(tc_redirected, 1),
		  D(sp_closed, 1)));
	TRY(get_splice(&c, &sp));
	EQ("state after both FINs", sp.state, KVLB_SP_CLOSED);

	STEP = "the client's last ACK";
	TRY(step_client_seg(&c, 0x10, cseq + 1, c.cookie + 1 + 300 + 1, NULL, 0, NULL, 0, &r));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_xlate_c2s, 1), D(xdp_forwarded, 1),
		  D(xdp_bytes, r.in_len)));
	TRY(get_splice(&c, &sp));
	EQ("state (kvlbd removes CLOSED entries)", sp.state, KVLB_SP_CLOSED);
	return 0;
}

static int sc_spliced(uint8_t fam)
{
	return spliced(fam, true, true);
}

/* A client that offered no options: no timestamps to translate, no window
 * scaling, segments of the pod's MSS. */
static int sc_spliced_no_options(uint8_t fam)
{
	return spliced(fam, false, true);
}

/* A pod that answers without window scaling: then neither side of its
 * half scales, so the client's windows must reach it scaled up. */
/* An L4 VIP on the HTTP VIPs' port: XDP looks for a flow first, then
 * the splice table, and the spliced connection is served all the same. */
static int sc_spliced_shared_port(uint8_t fam)
{
	uint32_t port = VPORT, vips = 3 + 2 * KVLB_PORT_HTTP_ONE, own = 2 + 2 * KVLB_PORT_HTTP_ONE;
	int rc;

	if (bpf_map_update_elem(T.vip_ports, &port, &vips, BPF_ANY))
		FAILF("cannot write kvlb_vip_ports: %s", strerror(errno));
	rc = spliced(fam, true, true);
	if (bpf_map_update_elem(T.vip_ports, &port, &own, BPF_ANY))
		FAILF("cannot write kvlb_vip_ports: %s", strerror(errno));
	return rc;
}

static int sc_spliced_pod_no_ws(uint8_t fam)
{
	return spliced(fam, true, false);
}

/* The same late duplicate SYN on a spliced connection. */
static int sc_dup_syn_spliced(uint8_t fam)
{
	struct conn c;
	struct kvlb_splice sp;
	struct kvlb_flow_key rk;
	struct kvlb_nat nat;
	struct run r;

	conn_init(&c, fam, next_port++, true);
	TRY(step_syn(&c));
	c.tsval += 1000;
	TRY(step_hs_ack(&c));
	TRY(step_hold(&c, 0, 100, H_NEW));
	TRY(step_hold(&c, 100, 1200, H_NEW));
	TRY(step_bind(&c, 1300, (uint16_t)(c.req_len - 1300)));
	TRY(step_replay(&c));
	TRY(step_pod_acks_all(&c));
	TRY(dup_syn(&c));
	if (get_splice(&c, &sp))
		FAILF("it deleted the spliced connection's kvlb_splice entry; %s",
		      what_next(&c, c.c_isn + 1 + c.held, c.cookie + 1 + 300));
	EQ("state", sp.state, KVLB_SP_SPLICED);
	rev_key(&c, &rk);
	if (!has_entry(T.nat_rev, &rk, &nat))
		FAILF("the duplicate SYN deleted the kvlb_nat_rev entry");
	STEP = "client data after the duplicate SYN";
	TRY(step_client_seg(&c, 0x18, c.c_isn + 1 + c.held, c.cookie + 1, NULL, 0, c.req, 50, &r));
	return STATS(&r, D(xdp_rx, 1), D(sp_xlate_c2s, 1), D(xdp_forwarded, 1),
		     D(xdp_bytes, r.in_len));
}

static int sc_spliced_client_rst(uint8_t fam)
{
	struct conn c;
	struct run r;

	conn_init(&c, fam, next_port++, true);
	TRY(steps_to_connecting(&c));
	TRY(step_replay(&c));
	TRY(step_pod_acks_all(&c));
	STEP = "the client's RST";
	TRY(step_client_seg(&c, 0x14, c.c_isn + 1 + c.held, c.cookie + 1, NULL, 0, NULL, 0, &r));
	TRY(STATS(&r, D(xdp_rx, 1), D(sp_xlate_c2s, 1), D(xdp_forwarded, 1), D(xdp_bytes, r.in_len),
		  D(sp_closed, 1)));
	return want_conn_closed(&c);
}

static int sc_spliced_pod_rst(uint8_t fam)
{
	struct conn c;
	struct run r;

	conn_init(&c, fam, next_port++, true);
	TRY(steps_to_connecting(&c));
	TRY(step_replay(&c));
	TRY(step_pod_acks_all(&c));
	STEP = "the pod's RST";
	TRY(step_pod_seg(&c, 0x14, c.s_isn + 1, c.c_isn + 1 + c.held, 0, NULL, 0, &r));
	TRY(STATS(&r, D(tc_rx, 1), D(sp_xlate_s2c, 1), D(tc_bytes, r.in_len), D(tc_redirected, 1),
		  D(sp_closed, 1)));
	return want_conn_closed(&c);
}

/* ---- 7. random packets ---- */

#define RAND_RUNS  2000
#define RAND_PORTS 24

struct rconn {
	struct conn c;
	bool cookie_known;
};

static uint32_t rnd(void)
{
	return (uint32_t)rand() << 16 ^ (uint32_t)rand();
}

static void rand_opts(struct pb_tcpopt *o)
{
	unsigned int i, n;
	uint32_t edges[6];

	memset(o, 0, sizeof(*o));
	if (rand() % 2) {
		/* arbitrary bytes */
		o->len = (uint8_t)(4 * (rand() % 11));
		for (i = 0; i < o->len; i++)
			o->b[i] = (uint8_t)(rand() % 3 ? rand() % 10 : rand());
		return;
	}
	n = (unsigned int)(rand() % 6);
	for (i = 0; i < n; i++) {
		switch (rand() % 7) {
		case 0:
			pb_opt_mss(o, (uint16_t)rand());
			break;
		case 1:
			pb_opt_ws(o, (uint8_t)(rand() % 20));
			break;
		case 2:
			pb_opt_sack_perm(o);
			break;
		case 3:
			pb_opt_ts(o, rnd(), rnd());
			break;
		case 4:
			edges[0] = rnd();
			edges[1] = edges[0] + (uint32_t)(rand() % 3000);
			edges[2] = rnd();
			edges[3] = rnd();
			edges[4] = rnd();
			edges[5] = rnd();
			pb_opt_sack(o, edges, 1 + (unsigned int)(rand() % 3));
			break;
		default:
			pb_opt_nop(o);
		}
	}
	pb_opt_pad(o);
	if (o->len % 4)
		o->len = (uint8_t)(o->len & ~3u);
}

/* The counters a run moved, for messages. */
static const char *stats_moved(const struct run *r)
{
	static char buf[512];
	size_t at = 0;
	int k;

	buf[0] = '\0';
	for (k = 0; k < S_NAMED && at < sizeof(buf) - 64; k++) {
		long long d = (long long)(((const __u64 *)&r->b)[k] - ((const __u64 *)&r->a)[k]);

		if (d)
			at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%s %+lld",
					       at ? ", " : "", stat_names[k], d);
	}
	return buf;
}

/* Check what one random packet did. */
static int rand_check(bool tc, const struct run *r, bool cut, bool poked, const struct conn *c)
{
	uint8_t pod[16];
	struct pb_view v, iv;
	char why[128];
	long long d;
	int k;

	for (k = 0; k < S_NAMED; k++)
		if (((const __u64 *)&r->b)[k] < ((const __u64 *)&r->a)[k])
			FAILF("counter %s went down", stat_names[k]);
	EQ(tc ? "tc_rx change" : "xdp_rx change",
	   tc ? r->b.tc_rx - r->a.tc_rx : r->b.xdp_rx - r->a.xdp_rx, 1);
	EQ(tc ? "xdp_rx change" : "tc_rx change",
	   tc ? r->b.xdp_rx - r->a.xdp_rx : r->b.tc_rx - r->a.tc_rx, 0);
	/* a changed header byte may make it no VIP's, no TCP, or a fragment */
	if (!tc && r->ret == XDP_PASS && poked &&
	    r->b.xdp_not_vip + r->b.xdp_not_ip + r->b.xdp_fragment >
		r->a.xdp_not_vip + r->a.xdp_not_ip + r->a.xdp_fragment)
		return 0;
	if (!tc && r->ret != XDP_DROP && r->ret != XDP_TX && r->ret != XDP_REDIRECT)
		FAILF("verdict %s (%u), not one of XDP_DROP, XDP_TX, XDP_REDIRECT (counters: %s)",
		      verdict_name(false, r->ret), r->ret, stats_moved(r));
	if (tc && r->ret != TC_ACT_OK && r->ret != TC_ACT_SHOT && r->ret != TC_ACT_REDIRECT)
		FAILF("verdict %s (%u), not one of TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT "
		      "(counters: %s)",
		      verdict_name(true, r->ret), r->ret, stats_moved(r));
	if (!tc && cut && r->ret != XDP_DROP)
		FAILF("a truncated packet got %s, want XDP_DROP", verdict_name(false, r->ret));
	if ((!tc && r->ret == XDP_DROP) || (tc && r->ret == TC_ACT_SHOT))
		return 0;
	if (tc && r->ret == TC_ACT_OK &&
	    r->b.tc_passed + r->b.tc_malformed > r->a.tc_passed + r->a.tc_malformed)
		return 0; /* passed untouched */
	if (pb_parse(r->out, r->out_len, &v, why, sizeof(why))) {
		if (cut || poked)
			return 0;
		FAILF("the output does not parse: %s", why);
	}
	/* the tuple as the program saw it (a changed byte may have moved it) */
	if (pb_parse(r->in, r->in_len, &iv, why, sizeof(why)) && !cut)
		FAILF("a packet that does not parse was not dropped: %s", why);
	if (cut && (iv.family != 4 && iv.family != 6))
		return 0;
	pb_addr(c->pod, c->fam, pod);
	if (!tc && r->ret == XDP_TX) {
		/* kvlb's own segment: always whole and right */
		if (pb_verify_csums(r->out, r->out_len, why, sizeof(why)))
			FAILF("kvlb's segment: %s", why);
		if (memcmp(v.src, iv.dst, 16) || memcmp(v.dst, iv.src, 16) || v.sport != iv.dport ||
		    v.dport != iv.sport)
			FAILF("kvlb's segment does not answer the packet's tuple");
		d = (long long)(r->b.sp_cookie_sent - r->a.sp_cookie_sent);
		if ((v.flags == 0x12) != (d == 1))
			FAILF("a SYN-ACK (flags 0x%02x) with sp_cookie_sent +%lld", v.flags, d);
		d = (long long)(r->b.sp_acks_sent - r->a.sp_acks_sent);
		if ((v.flags == 0x10) != (d == 1))
			FAILF("an ACK (flags 0x%02x) with sp_acks_sent +%lld", v.flags, d);
		if (v.flags != 0x12 && v.flags != 0x10 && v.flags != 0x04)
			FAILF("kvlb sent flags 0x%02x", v.flags);
		return 0;
	}
	if (!cut && !poked && pb_verify_csums(r->out, r->out_len, why, sizeof(why)))
		FAILF("output of a valid packet: %s", why);
	if (!tc && (memcmp(v.src, iv.src, 16) || memcmp(v.dst, pod, 16) || v.dport != BPORT))
		FAILF("XDP sent something that is not client -> pod");
	if (!tc && v.n_vlan)
		FAILF("XDP sent a frame to the pod with its VLAN tag");
	if (tc && !(memcmp(v.dst, iv.dst, 16) == 0 && v.sport == VPORT) &&
	    !(memcmp(v.src, iv.dst, 16) == 0 && memcmp(v.dst, iv.src, 16) == 0 && v.dport == BPORT))
		FAILF("TC sent something that is neither VIP -> client nor a replay to the pod");
	return 0;
}

/* Every hold slot belongs to a connection, and there are never more than
 * connections made. */
static int rand_invariants(long long made)
{
	struct kvlb_flow_key k, prev = {0};
	struct kvlb_splice sp;
	int n = 0;

	while (bpf_map_get_next_key(m_hold, n ? &prev : NULL, &k) == 0) {
		if (!has_entry(m_splice, &k, &sp))
			FAILF("a kvlb_hold entry (client port %u) has no kvlb_splice entry",
			      ntohs(k.sport));
		if (sp.state == KVLB_SP_SPLICED)
			FAILF("a SPLICED connection (client port %u) still holds bytes",
			      ntohs(k.sport));
		prev = k;
		n++;
	}
	if (n > made)
		FAILF("kvlb_hold has %d entries, more than the %lld connections made", n, made);
	return 0;
}

static int sc_random(uint8_t fam_unused)
{
	static struct rconn pool[RAND_PORTS];
	struct kvlb_stats s0, s1;
	struct kvlb_flow_key k;
	struct kvlb_splice sp;
	struct pb_tcpopt o;
	struct pb_spec in;
	struct run r;
	uint8_t data[1500];
	char step[160];
	unsigned int i, j, seed = 0x73706c63u;
	long long made;

	(void)fam_unused;
	srand(seed);
	for (i = 0; i < RAND_PORTS; i++) {
		conn_init(&pool[i].c, i % 2 ? 6 : 4, (uint16_t)(52000 + i), true);
		pool[i].cookie_known = false;
	}
	if (kt_stats(&T, &s0))
		FAILF("cannot read kvlb_stats");
	for (i = 0; i < RAND_RUNS; i++) {
		struct rconn *rc = &pool[rand() % RAND_PORTS];
		struct conn *c = &rc->c;
		int kind = rand() % 100;
		bool tc = false, have_sp, poked = false;
		size_t cut = 0;
		uint16_t len = (uint16_t)(rand() % 3 ? rand() % 200 : rand() % 1400);
		uint8_t flags = (uint8_t)rand();
		uint32_t seq = rnd(), ack = rnd();

		for (j = 0; j < len; j++)
			data[j] = (uint8_t)rand();
		if (rand() % 3 == 0 && len <= c->req_len) {
			j = (unsigned int)(rand() % (int)(c->req_len - len + 1));
			memcpy(data, c->req + j, len);
		}
		rand_opts(&o);
		flow_key(c, &k);
		have_sp = has_entry(m_splice, &k, &sp);
		if (kind < 10) {
			/* anything at all, on the connection's tuple */
			spec_client(&in, c, flags, seq, ack, (uint16_t)rand(), &o, data, len);
		} else if (kind < 15 || !rc->cookie_known) {
			/* a SYN with whatever else: a new connection on the tuple */
			flags = (uint8_t)((flags & ~0x10) | 0x02);
			spec_client(&in, c, rand() % 2 ? 0x02 : flags, seq, ack, (uint16_t)rand(),
				    &o, data, rand() % 4 ? 0 : len);
		} else if (!have_sp) {
			/* the cookie's ACK, maybe with data */
			spec_client(&in, c, (uint8_t)(0x10 | (flags & 0x08)), c->c_isn + 1,
				    c->cookie + 1, (uint16_t)rand(), &o, data,
				    rand() % 2 ? 0 : len);
		} else if (sp.backend_id != KVLB_NO_BACKEND &&
			   rand() % 100 < (sp.state == KVLB_SP_SPLICED ? 50 : 60)) {
			/* the pod: mostly what the connection's state calls for,
			 * with random options and lengths */
			uint32_t s_next = sp.our_isn - sp.seq_delta + 1;

			tc = true;
			if (sp.state == KVLB_SP_CONNECTING && rand() % 4) {
				flags = 0x12;
				ack = sp.c_isn + 1;
				len = 0;
				if (rand() % 2) {
					memset(&o, 0, sizeof(o));
					pb_opt_mss(&o, (uint16_t)(536 + rand() % 1000));
					pb_opt_sack_perm(&o);
					pb_opt_ts(&o, rnd(), sp.ts_recent);
					pb_opt_nop(&o);
					pb_opt_ws(&o, (uint8_t)(rand() % 15));
				}
			} else if (sp.state == KVLB_SP_REPLAYING && rand() % 4) {
				flags = 0x10;
				seq = s_next;
				ack = sp.c_isn + 1 + sp.held -
				      (uint32_t)(rand() % 3 ? 0 : rand() % 600);
			} else if (sp.state >= KVLB_SP_SPLICED && rand() % 4) {
				flags = (uint8_t)(rand() % 8 ? 0x18 : flags);
				seq = s_next + (uint32_t)(rand() % 2000);
				ack = sp.c_isn + 1 + sp.held + (uint32_t)(rand() % 100);
			} else if (rand() % 2) {
				ack = sp.c_isn + 1 + (uint32_t)(rand() % (int)(sp.held + 1));
			}
			spec_pod(&in, c, flags, seq, ack, (uint16_t)rand(), &o, data, len);
		} else {
			/* the client, in sequence for the connection as it stands;
			 * while holding, mostly the request's next bytes */
			uint32_t off = sp.held - (uint32_t)(rand() % 4 ? 0 : rand() % 200);

			if (sp.state == KVLB_SP_HOLD && rand() % 4 && off < c->req_len) {
				if (len > c->req_len - off)
					len = (uint16_t)(c->req_len - off);
				memcpy(data, c->req + off, len);
			}
			spec_client(&in, c, (uint8_t)(rand() % 8 ? 0x18 : flags),
				    sp.c_isn + 1 + off, sp.our_isn + 1 + (uint32_t)(rand() % 100),
				    (uint16_t)rand(), &o, data, len);
		}
		if (!tc && rand() % 5 == 0) {
			in.n_vlan = (uint8_t)(1 + rand() % 2);
			in.vlan_id[0] = (uint16_t)(rand() & 0xfff);
			in.vlan_id[1] = (uint16_t)(rand() & 0xfff);
		}
		if (rand() % 10 == 0)
			in.eth_pad = (uint8_t)(rand() % 20);
		if (rand() % 10 == 0) {
			uint8_t tmp[PB_MAX_LEN];
			size_t full;

			in.eth_pad = 0; /* a cut in the padding would cut nothing */
			full = pb_build(&in, tmp, sizeof(tmp), NULL);

			/* the kernel refuses TC test frames without a whole IP header */
			size_t min = tc ? 14 + (c->fam == 4 ? 20 : 40) : 14;

			if (full > min)
				cut = min + (size_t)rand() % (full - min);
		}
		/* one header byte changed after building: bad checksums, bad lengths */
		poked = rand() % 20 == 0;
		snprintf(step, sizeof(step),
			 "random packet %u (%s, IPv%u port %u, flags 0x%02x, %u bytes%s%s)", i,
			 tc ? "TC" : "XDP", c->fam, c->cport, in.tcp_flags, in.payload,
			 cut ? ", truncated" : "", poked ? ", a header byte changed" : "");
		STEP = step;
		if (poked) {
			/* run_pkt builds from the spec; poke through a copy */
			size_t at;
			int rc2;

			r.in_len = pb_build(&in, r.in, sizeof(r.in), NULL);
			at = 14 + (size_t)rand() % (c->fam == 4 ? 40 : 60);
			if (at < r.in_len)
				r.in[at] = (uint8_t)rand();
			if (cut && cut < r.in_len)
				r.in_len = cut;
			if (kt_stats(&T, &r.a))
				FAILF("cannot read kvlb_stats");
			r.out_len = sizeof(r.out);
			rc2 = tc ? run_tc_ctx(r.in, r.in_len, r.out, &r.out_len, &r.ret)
				 : kt_run_xdp(T.xdp_fd, r.in, r.in_len, (uint32_t)if_kvin, r.out,
					      &r.out_len, &r.ret, NULL);
			if (rc2)
				FAILF("BPF_PROG_TEST_RUN failed: %s", strerror(-rc2));
			if (kt_stats(&T, &r.b))
				FAILF("cannot read kvlb_stats");
		} else {
			TRY(run_pkt(tc, &in, cut, &r));
		}
		TRY(rand_check(tc, &r, cut != 0, poked, c));
		if (!tc && !cut && !poked && r.ret == XDP_TX && (in.tcp_flags & 0x12) == 0x02) {
			struct pb_view v;
			char why[64];

			if (!pb_parse(r.out, r.out_len, &v, why, sizeof(why)) && v.flags == 0x12) {
				c->c_isn = v.ack - 1;
				c->cookie = v.seq;
				rc->cookie_known = true;
			}
		}
		if (kt_stats(&T, &s1))
			FAILF("cannot read kvlb_stats");
		made = (long long)(s1.sp_cookie_ok - s0.sp_cookie_ok);
		TRY(rand_invariants(made));
	}
	STEP = "after the random packets";
	if (kt_stats(&T, &s1))
		FAILF("cannot read kvlb_stats");
	EQ("xdp_rx + tc_rx", (s1.xdp_rx - s0.xdp_rx) + (s1.tc_rx - s0.tc_rx), RAND_RUNS);
	if (s1.sp_cookie_ok == s0.sp_cookie_ok || s1.sp_bound == s0.sp_bound ||
	    s1.sp_replayed_bytes == s0.sp_replayed_bytes || s1.sp_xlate_c2s == s0.sp_xlate_c2s ||
	    s1.sp_xlate_s2c == s0.sp_xlate_s2c)
		FAILF("the random run missed a phase (cookie_ok %llu, bound %llu, replayed %llu, "
		      "c2s %llu, s2c %llu): the generator needs tuning",
		      (unsigned long long)(s1.sp_cookie_ok - s0.sp_cookie_ok),
		      (unsigned long long)(s1.sp_bound - s0.sp_bound),
		      (unsigned long long)(s1.sp_replayed_bytes - s0.sp_replayed_bytes),
		      (unsigned long long)(s1.sp_xlate_c2s - s0.sp_xlate_c2s),
		      (unsigned long long)(s1.sp_xlate_s2c - s0.sp_xlate_s2c));
	if (verbose)
		fprintf(stderr,
			"  random: %llu cookies sent, %llu ok, %llu bad, %llu bound, %llu replayed "
			"bytes, %llu c2s, %llu s2c, %llu closed\n",
			(unsigned long long)(s1.sp_cookie_sent - s0.sp_cookie_sent),
			(unsigned long long)(s1.sp_cookie_ok - s0.sp_cookie_ok),
			(unsigned long long)(s1.sp_cookie_bad - s0.sp_cookie_bad),
			(unsigned long long)(s1.sp_bound - s0.sp_bound),
			(unsigned long long)(s1.sp_replayed_bytes - s0.sp_replayed_bytes),
			(unsigned long long)(s1.sp_xlate_c2s - s0.sp_xlate_c2s),
			(unsigned long long)(s1.sp_xlate_s2c - s0.sp_xlate_s2c),
			(unsigned long long)(s1.sp_closed - s0.sp_closed));
	return 0;
}

/* ---- the table ---- */

struct scenario {
	const char *name; /* "splice-ipvN-" is put in front */
	int (*fn)(uint8_t fam);
	bool net;  /* needs the forwarding fixture */
	bool both; /* once per family (else once) */
};

static const struct scenario scenarios[] = {
    {"syn-cookie-options", sc_syn_options, false, true},
    {"syn-cookie-no-options", sc_syn_no_options, false, true},
    {"handshake-ack-hold-entry", sc_handshake, false, true},
    {"handshake-ack-no-options", sc_handshake_no_options, false, true},
    {"bad-cookie-ack-off-by-one", sc_bad_cookie_ack, false, true},
    {"first-segments-lost", sc_first_segments_lost, false, true},
    {"bad-cookie-other-port", sc_bad_cookie_port, false, true},
    {"bad-cookie-other-secret", sc_bad_cookie_secret, false, true},
    {"hold-ack-retransmit-stale-gap", sc_hold, false, true},
    {"hold-ack-no-options", sc_hold_no_options, false, true},
    {"hold-ack-vlan-tagged", sc_syn_vlan, false, true},
    {"hold-ack-eth-padding", sc_hold_padding, false, true},
    {"hold-late-duplicate-syn-keeps-state", sc_dup_syn_hold, false, true},
    {"bind-syn-to-pod", sc_bind, true, true},
    {"bind-vlan-tagged-client", sc_bind_vlan, true, true},
    {"bind-request-in-handshake-ack", sc_request_in_handshake_ack, true, true},
    {"bind-no-usable-backend-reset", sc_no_backend, true, true},
    {"bind-prefix-hit-second-connection", sc_prefix_hit, true, true},
    {"pod-silent-syn-retries-then-reset", sc_syn_retry, true, true},
    {"replay-on-pod-syn-ack", sc_replay, true, true},
    {"replay-resend-on-dup-ack", sc_replay_resend, true, true},
    {"replay-full-hold-smallest-mss", sc_replay_full_hold, true, true},
    {"pod-reset-while-connecting", sc_pod_reset, true, true},
    {"spliced-both-ways-fin-closed", sc_spliced, true, true},
    {"spliced-no-options", sc_spliced_no_options, true, true},
    {"spliced-pod-without-window-scale", sc_spliced_pod_no_ws, true, true},
    {"spliced-port-shared-with-l4-vip", sc_spliced_shared_port, true, true},
    {"spliced-late-duplicate-syn-keeps-state", sc_dup_syn_spliced, true, true},
    {"spliced-client-rst", sc_spliced_client_rst, true, true},
    {"spliced-pod-rst", sc_spliced_pod_rst, true, true},
    {"random-2000-packets", sc_random, true, false},
};
#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: test_splice [--obj-dir DIR] [-v] [PATTERN]\n"
		"\n"
		"Unit tests of kvlb's delayed binding (HTTP VIPs): the XDP and TC programs run\n"
		"with BPF_PROG_TEST_RUN on the packets of whole TCP conversations, IPv4 and\n"
		"IPv6, from the SYN cookie through holding, binding and replay to spliced\n"
		"traffic and teardown, then on 2,000 random packets. Every step checks the\n"
		"verdict, every byte of the output (checksums recomputed), the kvlb_splice,\n"
		"kvlb_hold and kvlb_nat_rev entries and the change of every counter.\n"
		"One line per scenario: 'PASS name', 'FAIL name: reason' or 'SKIP name: reason'.\n"
		"\n"
		"The process moves itself into a new network namespace and builds the\n"
		"forwarding fixture there with ip(8) (veth pairs, routes, neighbours); the\n"
		"scenarios that forward are skipped without it. Needs root.\n"
		"\n"
		"Options:\n"
		"  --obj-dir DIR  where kvlb_xdp.bpf.o and kvlb_tc.bpf.o are (default: build)\n"
		"  -v, --verbose  hex dumps of differing packets, libbpf messages\n"
		"  -h, --help     this text\n"
		"  PATTERN        run only scenarios whose name contains PATTERN\n"
		"\n"
		"Exit status: 0 when nothing failed (skips included), 1 on a failure, 2 on\n"
		"bad usage.\n");
}

static int open_maps(void)
{
	struct bpf_map *h = bpf_object__find_map_by_name(T.xdp_obj, KVLB_MAP_HOLD);

	m_splice = bpf_object__find_map_fd_by_name(T.xdp_obj, KVLB_MAP_SPLICE);
	m_hold = bpf_object__find_map_fd_by_name(T.xdp_obj, KVLB_MAP_HOLD);
	m_secret = bpf_object__find_map_fd_by_name(T.xdp_obj, KVLB_MAP_SECRET);
	m_prefix = bpf_object__find_map_fd_by_name(T.xdp_obj, KVLB_MAP_PREFIX);
	m_load = bpf_object__find_map_fd_by_name(T.xdp_obj, KVLB_MAP_BACKEND_LOAD);
	if (m_splice < 0 || m_hold < 0 || m_secret < 0 || m_prefix < 0 || m_load < 0 || !h)
		return -1;
	hold_vsz = bpf_map__value_size(h);
	if (hold_vsz <= HOLD_DATA_LEN)
		return -1;
	hold_buf = malloc(hold_vsz);
	return hold_buf ? 0 : -1;
}

static int fill_rings(void)
{
	uint32_t i;
	int err;

	for (i = 0; i < 4; i++) {
		err = kt_fill_slot(&T, i, fx_ring[i]);
		if (err)
			return err;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct kt_args args;
	const char *pattern;
	char name[128], net_err[256] = "";
	int c, failed = 0, fam, rc;
	size_t i;

	c = kt_start(&T, "bpf-splice", argc, argv, usage, &args);
	if (c >= 0)
		return c;
	verbose = args.verbose;
	pattern = args.pattern;
	if (open_maps()) {
		printf("FAIL bpf-splice-load: the objects lack the delayed-binding maps\n");
		kt_close(&T);
		return 1;
	}
	c = fill_rings();
	if (c) {
		printf("FAIL bpf-splice-fixture: cannot fill the rings: %s\n", strerror(-c));
		kt_close(&T);
		return 1;
	}
	have_net = kt_net_setup(net_err, sizeof(net_err)) == 0;
	if (have_net) {
		if_kvin = (int)if_nametoindex("kvin");
		if_kvpod = (int)if_nametoindex("kvpod");
		if_kvpod_peer = (int)if_nametoindex("kvpod-p");
		if (!if_kvin || !if_kvpod || !if_kvpod_peer) {
			have_net = false;
			snprintf(net_err, sizeof(net_err), "the fixture's devices are missing");
		}
	}

	for (i = 0; i < N_SCENARIOS; i++) {
		const struct scenario *s = &scenarios[i];

		for (fam = 4; fam <= 6; fam += 2) {
			if (!s->both && fam == 6)
				break;
			if (s->both)
				snprintf(name, sizeof(name), "splice-ipv%d-%s", fam, s->name);
			else
				snprintf(name, sizeof(name), "splice-%s", s->name);
			if (pattern && !strstr(name, pattern))
				continue;
			if (s->net && !have_net) {
				printf("SKIP %s: forwarding setup: %s\n", name, net_err);
				continue;
			}
			E[0] = '\0';
			STEP = "fixture";
			rc = fx_reset();
			if (!rc)
				rc = s->fn((uint8_t)fam);
			if (rc) {
				printf("FAIL %s: %s\n", name, E);
				failed = 1;
			} else {
				printf("PASS %s\n", name);
			}
		}
	}
	free(hold_buf);
	kt_close(&T);
	return failed;
}

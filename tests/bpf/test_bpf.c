// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_bpf - unit tests of kvlb's XDP and TC programs.
 *
 * Each scenario is a row of data: an input packet (as a pb_spec, optionally
 * cut short or with bytes overwritten), the map state, the verdict and the
 * exact output packet expected, and the expected change of every counter.
 * The programs are run with BPF_PROG_TEST_RUN (one run per packet) in a
 * private network namespace, so routes and neighbours are the test's own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
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

/* ---- the fixture: VIPs, backends and rings every scenario starts from ---- */

#define CLIENT4 "198.51.100.1"
#define CLIENT6 "2001:db8:c::1"
#define VIP4	"192.0.2.1"
#define VIP6	"2001:db8:a::1"
#define BE0	"203.0.113.11" /* routed to kvpod, neighbour known */
#define BE1	"203.0.113.12" /* routed back out of kvin (same link) */
#define BE2	"2001:db8:b::11"
#define BE3	"2001:db8:b::12"
#define BE4	"203.0.113.13" /* no route */
#define BE5	"203.0.113.14" /* route, no neighbour */
#define BE_PORT 8000

struct fx_vip {
	const char *addr;
	uint8_t family;
	uint16_t port;
	uint32_t slot[2]; /* backend id of every entry of ring slot index*2+i */
};

static const struct fx_vip fx_vips[] = {
    {VIP4, 4, 80, {0, 1}},
    {VIP6, 6, 80, {2, 3}},
    {"192.0.2.2", 4, 80, {KVLB_NO_BACKEND, KVLB_NO_BACKEND}},
    {"192.0.2.3", 4, 80, {4, 4}},
    {"192.0.2.4", 4, 80, {5, 5}},
    {"192.0.2.5", 4, 80, {1, 1}},
};
#define N_VIPS (sizeof(fx_vips) / sizeof(fx_vips[0]))

static const struct {
	const char *addr;
	uint8_t family;
	uint32_t vip;
} fx_backends[] = {
    {BE0, 4, 0}, {BE1, 4, 0}, {BE2, 6, 1}, {BE3, 6, 1}, {BE4, 4, 3}, {BE5, 4, 4},
};
#define N_BACKENDS (sizeof(fx_backends) / sizeof(fx_backends[0]))

/* ---- scenario description ---- */

enum prog_kind { XDP, TC };
enum base { L2, L3, L4 };

/* Overwrite one byte of the built packet (base + off). */
struct poke {
	bool set;
	uint8_t base, off, val;
};

/* Cut the packet at base + off. */
struct cut {
	bool set;
	uint8_t base, off;
};

/* The expected output: the input spec with these fields replaced. */
struct out_edit {
	bool same; /* output == input, byte for byte */
	const char *saddr, *daddr;
	uint16_t sport, dport;
	bool strip_vlan;
	bool macs;
	uint8_t smac[6], dmac[6];
};

/* State changes made between the priming packet and the tested one. */
#define M_FLIP_V4   (1u << 0) /* VIP 0 uses its second ring slot */
#define M_FLIP_V6   (1u << 1) /* VIP 1 uses its second ring slot */
#define M_CLEAR_BE0 (1u << 2) /* backend 0's slot emptied (flags 0) */
#define M_CLEAR_BE2 (1u << 3)
#define M_DRAIN_BE0 (1u << 4) /* backend 0 draining: no new flows, existing ones finish */
#define M_DOWN_BE0  (1u << 5) /* backend 0 unhealthy: no new flows */

struct delta {
	int field;   /* S_* + 1; 0 ends the list */
	long long n; /* LEN_IN: the input packet's length */
};
#define LEN_IN (-1LL)
#define D(f, n)                                                                                    \
	{                                                                                          \
		S_##f + 1, n                                                                       \
	}

/* Flow table expectation: F_NONE (both flow maps empty), F_BE(id), or 0 (not checked). */
#define F_NONE	(-1)
#define F_BE(n) ((n) + 1)

struct scenario {
	const char *name;
	enum prog_kind prog;
	bool net;	    /* needs the forwarding fixture (routes, neighbours) */
	const char *in_dev; /* ctx ingress_ifindex: this device; NULL: none */
	struct pb_spec in;
	struct poke poke[3];
	struct cut cut;
	const struct pb_spec *prime; /* run through XDP first (creates the flow) */
	unsigned int mutate;	     /* M_* after the prime */
	int expect_errno;	     /* the kernel refuses the run with this errno */
	uint32_t verdict;
	struct out_edit out;
	struct delta d[8];
	int flow;
};

/* ---- packets ---- */

/* The scenario table reads best one row per paragraph, as written. */
/* clang-format off */

#define MAC_IN_D { 0x02, 0, 0, 0, 0xaa, 0x01 }
#define MAC_IN_S { 0x02, 0, 0, 0, 0xee, 0x01 }
#define MAC_POD  { 0x02, 0, 0, 0, 0xbb, 0x01 }
#define MAC_POD_PEER { 0x02, 0, 0, 0, 0xbb, 0x02 }

#define TCP4(dst, dp, sp)                                                                          \
	.dmac = MAC_IN_D, .smac = MAC_IN_S, .family = 4, .saddr = CLIENT4, .daddr = dst,           \
	.sport = sp, .dport = dp, .payload = 64
#define TCP6(dst, dp, sp)                                                                          \
	.dmac = MAC_IN_D, .smac = MAC_IN_S, .family = 6, .saddr = CLIENT6, .daddr = dst,           \
	.sport = sp, .dport = dp, .payload = 64
/* A pod's reply to a client. */
#define REPLY4(src, sp, dp)                                                                        \
	.dmac = MAC_IN_D, .smac = MAC_POD_PEER, .family = 4, .saddr = src, .daddr = CLIENT4,      \
	.sport = sp, .dport = dp, .payload = 100
#define REPLY6(src, sp, dp)                                                                        \
	.dmac = MAC_IN_D, .smac = MAC_POD_PEER, .family = 6, .saddr = src, .daddr = CLIENT6,      \
	.sport = sp, .dport = dp, .payload = 100

static const struct pb_spec prime4 = { TCP4(VIP4, 80, 40000) };
static const struct pb_spec prime6 = { TCP6(VIP6, 80, 40000) };
static const struct pb_spec prime4_c2 = { .dmac = MAC_IN_D, .smac = MAC_IN_S, .family = 4,
					  .saddr = "198.51.100.2", .daddr = VIP4, .sport = 40000,
					  .dport = 80 };

#define SAME      { .same = true }
#define TO(a, p)  { .daddr = a, .dport = p }
#define TO_NOVLAN(a, p) { .daddr = a, .dport = p, .strip_vlan = true }
#define FROM(a, p) { .saddr = a, .sport = p }

/* Counter deltas of the common outcomes. */
#define D_XDP_PASS_STACK_NEW D(xdp_rx, 1), D(xdp_new_flow, 1), D(xdp_forwarded_stack, 1),          \
	D(xdp_bytes, LEN_IN)
#define D_XDP_MALFORMED D(xdp_rx, 1), D(xdp_malformed, 1)

/* Rows start from a packet macro and override some of its fields. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct scenario scenarios[] = {
	/* --- XDP in an empty namespace: no route anywhere, so a balanced packet is
	 * rewritten and handed to the stack (XDP_PASS). --- */
	{ "xdp-arp-pass", XDP, .in = { .dmac = MAC_IN_D, .smac = MAC_IN_S, .ethertype = 0x0806,
				       .payload = 28 },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_ip, 1) },
	  .flow = F_NONE },
	{ "xdp-eth-only-arp-14B", XDP, .in = { .dmac = MAC_IN_D, .smac = MAC_IN_S,
					       .ethertype = 0x0806 },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_ip, 1) },
	  .flow = F_NONE },
	/* The kernel refuses test frames shorter than an Ethernet header, so a
	 * truncated Ethernet header cannot reach the program this way. */
	{ "xdp-eth-truncated-10B-refused-by-kernel", XDP, .in = { TCP4(VIP4, 80, 40001) },
	  .cut = { true, L2, 10 }, .expect_errno = EINVAL, .flow = F_NONE },
	{ "xdp-ipv4-tcp-vip-rewrite", XDP, .in = { TCP4(VIP4, 80, 40001) }, .verdict = XDP_PASS,
	  .out = TO(BE0, BE_PORT), .d = { D_XDP_PASS_STACK_NEW }, .flow = F_BE(0) },
	{ "xdp-ipv6-tcp-vip-rewrite", XDP, .in = { TCP6(VIP6, 80, 40001) }, .verdict = XDP_PASS,
	  .out = TO(BE2, BE_PORT), .d = { D_XDP_PASS_STACK_NEW }, .flow = F_BE(2) },
	{ "xdp-ipv4-tcp-syn-no-payload", XDP,
	  .in = { TCP4(VIP4, 80, 40002), .tcp_flags = 0x02, .payload = 0 }, .verdict = XDP_PASS,
	  .out = TO(BE0, BE_PORT), .d = { D_XDP_PASS_STACK_NEW }, .flow = F_BE(0) },
	{ "xdp-ipv4-odd-payload", XDP, .in = { TCP4(VIP4, 80, 40003), .payload = 333 },
	  .verdict = XDP_PASS, .out = TO(BE0, BE_PORT), .d = { D_XDP_PASS_STACK_NEW },
	  .flow = F_BE(0) },
	/* A bare ACK is 54 bytes; on the wire it is padded to 60. The padding
	 * must survive and must not enter the checksums. */
	{ "xdp-ipv4-ack-with-eth-padding", XDP,
	  .in = { TCP4(VIP4, 80, 40004), .payload = 0, .eth_pad = 6 }, .verdict = XDP_PASS,
	  .out = TO(BE0, BE_PORT), .d = { D_XDP_PASS_STACK_NEW }, .flow = F_BE(0) },
	{ "xdp-ipv4-non-vip-address", XDP, .in = { TCP4("192.0.2.99", 80, 40001) },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) },
	  .flow = F_NONE },
	{ "xdp-ipv4-non-vip-port", XDP, .in = { TCP4(VIP4, 81, 40001) }, .verdict = XDP_PASS,
	  .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) }, .flow = F_NONE },
	{ "xdp-ipv6-non-vip-address", XDP, .in = { TCP6("2001:db8:a::99", 80, 40001) },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) },
	  .flow = F_NONE },
	{ "xdp-ipv6-non-vip-port", XDP, .in = { TCP6(VIP6, 443, 40001) }, .verdict = XDP_PASS,
	  .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) }, .flow = F_NONE },
	{ "xdp-ipv4-udp-to-vip-pass", XDP, .in = { TCP4(VIP4, 80, 40001), .proto = 17 },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) },
	  .flow = F_NONE },
	{ "xdp-ipv4-icmp-to-vip-pass", XDP, .in = { TCP4(VIP4, 0, 0), .proto = 1 },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) },
	  .flow = F_NONE },
	{ "xdp-ipv6-udp-to-vip-pass", XDP, .in = { TCP6(VIP6, 80, 40001), .proto = 17 },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) },
	  .flow = F_NONE },
	{ "xdp-ipv6-icmpv6-to-vip-pass", XDP, .in = { TCP6(VIP6, 0, 0), .proto = 1 },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) },
	  .flow = F_NONE },
	{ "xdp-ipv4-fragment-mf", XDP, .in = { TCP4(VIP4, 80, 40001), .frag = 0x2000 },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_fragment, 1) },
	  .flow = F_NONE },
	{ "xdp-ipv4-fragment-offset", XDP, .in = { TCP4(VIP4, 80, 40001), .frag = 0x00b9 },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_fragment, 1) },
	  .flow = F_NONE },
	{ "xdp-ipv4-df-not-fragment", XDP, .in = { TCP4(VIP4, 80, 40001), .frag = 0x4000 },
	  .verdict = XDP_PASS, .out = TO(BE0, BE_PORT), .d = { D_XDP_PASS_STACK_NEW },
	  .flow = F_BE(0) },
	{ "xdp-ipv6-fragment-header", XDP, .in = { TCP6(VIP6, 80, 40001), .v6_ext = PB_EXT_FRAG },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_fragment, 1) },
	  .flow = F_NONE },
	/* Extension headers are not followed (a documented limit): passed. */
	{ "xdp-ipv6-hop-by-hop-passed", XDP, .in = { TCP6(VIP6, 80, 40001), .v6_ext = PB_EXT_HBH },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) },
	  .flow = F_NONE },
	{ "xdp-ipv4-options-balanced", XDP, .in = { TCP4(VIP4, 80, 40001), .ip_opt_len = 12 },
	  .verdict = XDP_PASS, .out = TO(BE0, BE_PORT),
	  .d = { D_XDP_PASS_STACK_NEW, D(xdp_ip_options, 1) }, .flow = F_BE(0) },
	{ "xdp-ipv4-options-max-40B", XDP, .in = { TCP4(VIP4, 80, 40001), .ip_opt_len = 40 },
	  .verdict = XDP_PASS, .out = TO(BE0, BE_PORT),
	  .d = { D_XDP_PASS_STACK_NEW, D(xdp_ip_options, 1) }, .flow = F_BE(0) },
	{ "xdp-ipv4-options-non-vip", XDP, .in = { TCP4(VIP4, 81, 40001), .ip_opt_len = 8 },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) },
	  .flow = F_NONE },
	{ "xdp-vlan-8021q-stripped", XDP,
	  .in = { TCP4(VIP4, 80, 40001), .n_vlan = 1, .vlan_id = { 100 } }, .verdict = XDP_PASS,
	  .out = TO_NOVLAN(BE0, BE_PORT), .d = { D_XDP_PASS_STACK_NEW, D(xdp_vlan, 1) },
	  .flow = F_BE(0) },
	{ "xdp-vlan-qinq-stripped", XDP,
	  .in = { TCP4(VIP4, 80, 40001), .n_vlan = 2, .vlan_tpid = { 0x88a8, 0x8100 },
		  .vlan_id = { 10, 20 } },
	  .verdict = XDP_PASS, .out = TO_NOVLAN(BE0, BE_PORT),
	  .d = { D_XDP_PASS_STACK_NEW, D(xdp_vlan, 1) }, .flow = F_BE(0) },
	{ "xdp-vlan-ipv6-stripped", XDP,
	  .in = { TCP6(VIP6, 80, 40001), .n_vlan = 1, .vlan_id = { 7 } }, .verdict = XDP_PASS,
	  .out = TO_NOVLAN(BE2, BE_PORT), .d = { D_XDP_PASS_STACK_NEW, D(xdp_vlan, 1) },
	  .flow = F_BE(2) },
	{ "xdp-vlan-non-vip-untouched", XDP,
	  .in = { TCP4(VIP4, 81, 40001), .n_vlan = 1, .vlan_id = { 100 } }, .verdict = XDP_PASS,
	  .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_vip, 1) }, .flow = F_NONE },
	{ "xdp-vlan-arp-untouched", XDP,
	  .in = { .dmac = MAC_IN_D, .smac = MAC_IN_S, .ethertype = 0x0806, .payload = 28,
		  .n_vlan = 1, .vlan_id = { 100 } },
	  .verdict = XDP_PASS, .out = SAME, .d = { D(xdp_rx, 1), D(xdp_not_ip, 1) },
	  .flow = F_NONE },
	{ "xdp-vlan-tag-truncated", XDP,
	  .in = { TCP4(VIP4, 80, 40001), .n_vlan = 1, .vlan_id = { 100 } }, .cut = { true, L2, 16 },
	  .verdict = XDP_DROP, .d = { D_XDP_MALFORMED }, .flow = F_NONE },
	{ "xdp-ipv4-header-missing", XDP, .in = { TCP4(VIP4, 80, 40001) }, .cut = { true, L3, 0 },
	  .verdict = XDP_DROP, .d = { D_XDP_MALFORMED }, .flow = F_NONE },
	{ "xdp-ipv4-header-truncated", XDP, .in = { TCP4(VIP4, 80, 40001) },
	  .cut = { true, L3, 19 }, .verdict = XDP_DROP, .d = { D_XDP_MALFORMED }, .flow = F_NONE },
	{ "xdp-ipv4-ihl-4", XDP, .in = { TCP4(VIP4, 80, 40001) }, .poke = { { true, L3, 0, 0x44 } },
	  .verdict = XDP_DROP, .d = { D_XDP_MALFORMED }, .flow = F_NONE },
	{ "xdp-ipv4-version-6-in-ipv4-frame", XDP, .in = { TCP4(VIP4, 80, 40001) },
	  .poke = { { true, L3, 0, 0x65 } }, .verdict = XDP_DROP, .d = { D_XDP_MALFORMED },
	  .flow = F_NONE },
	{ "xdp-ipv4-tot-len-below-ihl", XDP, .in = { TCP4(VIP4, 80, 40001) },
	  .poke = { { true, L3, 2, 0 }, { true, L3, 3, 19 } }, .verdict = XDP_DROP,
	  .d = { D_XDP_MALFORMED }, .flow = F_NONE },
	{ "xdp-ipv4-options-beyond-packet", XDP, .in = { TCP4(VIP4, 80, 40001), .payload = 0 },
	  .poke = { { true, L3, 0, 0x4f }, { true, L3, 2, 0x05 }, { true, L3, 3, 0xdc } },
	  .cut = { true, L3, 40 }, .verdict = XDP_DROP, .d = { D_XDP_MALFORMED }, .flow = F_NONE },
	{ "xdp-ipv6-header-truncated", XDP, .in = { TCP6(VIP6, 80, 40001) },
	  .cut = { true, L3, 39 }, .verdict = XDP_DROP, .d = { D_XDP_MALFORMED }, .flow = F_NONE },
	{ "xdp-ipv6-version-4-in-ipv6-frame", XDP, .in = { TCP6(VIP6, 80, 40001) },
	  .poke = { { true, L3, 0, 0x40 } }, .verdict = XDP_DROP, .d = { D_XDP_MALFORMED },
	  .flow = F_NONE },
	{ "xdp-ipv4-tcp-header-truncated", XDP, .in = { TCP4(VIP4, 80, 40001) },
	  .cut = { true, L4, 19 }, .verdict = XDP_DROP, .d = { D_XDP_MALFORMED }, .flow = F_NONE },
	{ "xdp-ipv4-tcp-doff-4", XDP, .in = { TCP4(VIP4, 80, 40001) },
	  .poke = { { true, L4, 12, 0x40 } }, .verdict = XDP_DROP, .d = { D_XDP_MALFORMED },
	  .flow = F_NONE },
	{ "xdp-ipv4-tcp-doff-beyond-packet", XDP, .in = { TCP4(VIP4, 80, 40001), .payload = 39 },
	  .poke = { { true, L4, 12, 0xf0 } }, .verdict = XDP_DROP, .d = { D_XDP_MALFORMED },
	  .flow = F_NONE },
	{ "xdp-ipv6-tcp-header-truncated", XDP, .in = { TCP6(VIP6, 80, 40001) },
	  .cut = { true, L4, 12 }, .verdict = XDP_DROP, .d = { D_XDP_MALFORMED }, .flow = F_NONE },
	{ "xdp-ipv6-tcp-doff-0", XDP, .in = { TCP6(VIP6, 80, 40001) },
	  .poke = { { true, L4, 12, 0x00 } }, .verdict = XDP_DROP, .d = { D_XDP_MALFORMED },
	  .flow = F_NONE },
	{ "xdp-vip-empty-ring-drop", XDP, .in = { TCP4("192.0.2.2", 80, 40001) },
	  .verdict = XDP_DROP, .d = { D(xdp_rx, 1), D(xdp_no_backend, 1) }, .flow = F_NONE },
	/* The flow table keeps a connection on its backend... */
	{ "xdp-ipv4-flow-kept-after-ring-change", XDP, .in = { TCP4(VIP4, 80, 40000) },
	  .prime = &prime4, .mutate = M_FLIP_V4, .verdict = XDP_PASS, .out = TO(BE0, BE_PORT),
	  .d = { D(xdp_rx, 1), D(xdp_forwarded_stack, 1), D(xdp_bytes, LEN_IN) }, .flow = F_BE(0) },
	{ "xdp-ipv6-flow-kept-after-ring-change", XDP, .in = { TCP6(VIP6, 80, 40000) },
	  .prime = &prime6, .mutate = M_FLIP_V6, .verdict = XDP_PASS, .out = TO(BE2, BE_PORT),
	  .d = { D(xdp_rx, 1), D(xdp_forwarded_stack, 1), D(xdp_bytes, LEN_IN) }, .flow = F_BE(2) },
	/* ...while a new one follows the new ring (so the test above means something). */
	{ "xdp-ipv4-new-flow-follows-ring-change", XDP, .in = { TCP4(VIP4, 80, 40009) },
	  .mutate = M_FLIP_V4, .verdict = XDP_PASS, .out = TO(BE1, BE_PORT),
	  .d = { D_XDP_PASS_STACK_NEW }, .flow = F_BE(1) },
	{ "xdp-ipv4-other-client-new-flow", XDP,
	  .in = { TCP4(VIP4, 80, 40000), .saddr = "198.51.100.2" }, .prime = &prime4,
	  .mutate = M_FLIP_V4, .verdict = XDP_PASS, .out = TO(BE1, BE_PORT),
	  .d = { D_XDP_PASS_STACK_NEW }, .flow = F_BE(1) },
	/* Draining or unhealthy backends take no new flows (kvlbd rebuilds the
	 * ring without them) but keep the ones they have. */
	{ "xdp-ipv4-flow-kept-on-draining-backend", XDP, .in = { TCP4(VIP4, 80, 40000) },
	  .prime = &prime4, .mutate = M_FLIP_V4 | M_DRAIN_BE0, .verdict = XDP_PASS,
	  .out = TO(BE0, BE_PORT),
	  .d = { D(xdp_rx, 1), D(xdp_forwarded_stack, 1), D(xdp_bytes, LEN_IN) }, .flow = F_BE(0) },
	{ "xdp-ipv4-flow-kept-on-down-backend", XDP, .in = { TCP4(VIP4, 80, 40000) },
	  .prime = &prime4, .mutate = M_FLIP_V4 | M_DOWN_BE0, .verdict = XDP_PASS,
	  .out = TO(BE0, BE_PORT),
	  .d = { D(xdp_rx, 1), D(xdp_forwarded_stack, 1), D(xdp_bytes, LEN_IN) }, .flow = F_BE(0) },
	{ "xdp-ipv4-stale-backend-replaced", XDP, .in = { TCP4(VIP4, 80, 40000) },
	  .prime = &prime4, .mutate = M_FLIP_V4 | M_CLEAR_BE0, .verdict = XDP_PASS,
	  .out = TO(BE1, BE_PORT), .d = { D_XDP_PASS_STACK_NEW, D(xdp_stale_backend, 1) },
	  .flow = F_BE(1) },
	{ "xdp-ipv6-stale-backend-replaced", XDP, .in = { TCP6(VIP6, 80, 40000) },
	  .prime = &prime6, .mutate = M_FLIP_V6 | M_CLEAR_BE2, .verdict = XDP_PASS,
	  .out = TO(BE3, BE_PORT), .d = { D_XDP_PASS_STACK_NEW, D(xdp_stale_backend, 1) },
	  .flow = F_BE(3) },
	{ "xdp-ipv4-stale-backend-ring-empty-drop", XDP, .in = { TCP4(VIP4, 80, 40000) },
	  .prime = &prime4, .mutate = M_CLEAR_BE0, .verdict = XDP_DROP,
	  .d = { D(xdp_rx, 1), D(xdp_stale_backend, 1), D(xdp_no_backend, 1) }, .flow = F_BE(0) },

	/* --- TC, no ingress device: the FIB lookup fails, the reply goes on (TC_ACT_OK). --- */
	{ "tc-ipv4-reverse-nat", TC, .in = { REPLY4(BE0, BE_PORT, 40000) }, .prime = &prime4,
	  .verdict = TC_ACT_OK, .out = FROM(VIP4, 80),
	  .d = { D(tc_rx, 1), D(tc_rev_nat, 1), D(tc_bytes, LEN_IN) } },
	{ "tc-ipv6-reverse-nat", TC, .in = { REPLY6(BE2, BE_PORT, 40000) }, .prime = &prime6,
	  .verdict = TC_ACT_OK, .out = FROM(VIP6, 80),
	  .d = { D(tc_rx, 1), D(tc_rev_nat, 1), D(tc_bytes, LEN_IN) } },
	{ "tc-ipv4-reverse-nat-syn-ack", TC,
	  .in = { REPLY4(BE0, BE_PORT, 40000), .tcp_flags = 0x12, .payload = 0 }, .prime = &prime4,
	  .verdict = TC_ACT_OK, .out = FROM(VIP4, 80),
	  .d = { D(tc_rx, 1), D(tc_rev_nat, 1), D(tc_bytes, LEN_IN) } },
	{ "tc-ipv4-reverse-nat-vlan-tagged", TC,
	  .in = { REPLY4(BE0, BE_PORT, 40000), .n_vlan = 1, .vlan_id = { 30 } }, .prime = &prime4,
	  .verdict = TC_ACT_OK, .out = FROM(VIP4, 80),
	  .d = { D(tc_rx, 1), D(tc_rev_nat, 1), D(tc_bytes, LEN_IN) } },
	{ "tc-ipv4-reverse-nat-ip-options", TC,
	  .in = { REPLY4(BE0, BE_PORT, 40000), .ip_opt_len = 20 }, .prime = &prime4,
	  .verdict = TC_ACT_OK, .out = FROM(VIP4, 80),
	  .d = { D(tc_rx, 1), D(tc_rev_nat, 1), D(tc_bytes, LEN_IN) } },
	{ "tc-ipv4-no-entry-untouched", TC, .in = { REPLY4(BE0, BE_PORT, 40000) },
	  .verdict = TC_ACT_OK, .out = SAME, .d = { D(tc_rx, 1), D(tc_passed, 1) } },
	{ "tc-ipv6-no-entry-untouched", TC, .in = { REPLY6(BE2, BE_PORT, 40000) },
	  .verdict = TC_ACT_OK, .out = SAME, .d = { D(tc_rx, 1), D(tc_passed, 1) } },
	{ "tc-ipv4-other-port-untouched", TC, .in = { REPLY4(BE0, BE_PORT + 1, 40000) },
	  .prime = &prime4, .verdict = TC_ACT_OK, .out = SAME,
	  .d = { D(tc_rx, 1), D(tc_passed, 1) } },
	{ "tc-ipv4-other-client-untouched", TC, .in = { REPLY4(BE0, BE_PORT, 40000) },
	  .prime = &prime4_c2, .verdict = TC_ACT_OK, .out = SAME,
	  .d = { D(tc_rx, 1), D(tc_passed, 1) } },
	{ "tc-arp-untouched", TC, .in = { .dmac = MAC_IN_D, .smac = MAC_POD_PEER,
					  .ethertype = 0x0806, .payload = 28 },
	  .verdict = TC_ACT_OK, .out = SAME, .d = { D(tc_rx, 1), D(tc_passed, 1) } },
	{ "tc-ipv4-fragment-untouched", TC, .in = { REPLY4(BE0, BE_PORT, 40000), .frag = 0x2000 },
	  .prime = &prime4, .verdict = TC_ACT_OK, .out = SAME,
	  .d = { D(tc_rx, 1), D(tc_passed, 1) } },
	{ "tc-ipv4-malformed-untouched", TC, .in = { REPLY4(BE0, BE_PORT, 40000) },
	  .prime = &prime4, .poke = { { true, L3, 0, 0x44 } }, .verdict = TC_ACT_OK, .out = SAME,
	  .d = { D(tc_rx, 1), D(tc_malformed, 1) } },
	{ "tc-ipv4-tcp-truncated-untouched", TC, .in = { REPLY4(BE0, BE_PORT, 40000) },
	  .prime = &prime4, .cut = { true, L4, 10 }, .verdict = TC_ACT_OK, .out = SAME,
	  .d = { D(tc_rx, 1), D(tc_malformed, 1) } },

	/* --- With routes and neighbours (kt_net_setup), packets entering on kvin. --- */
	{ "xdp-fwd-ipv4-redirect-to-pod-link", XDP, .net = true, .in_dev = "kvin",
	  .in = { TCP4(VIP4, 80, 40001) }, .verdict = XDP_REDIRECT,
	  .out = { .daddr = BE0, .dport = BE_PORT, .macs = true, .smac = MAC_POD,
		   .dmac = { 0x02, 0, 0, 0, 0, 0x11 } },
	  .d = { D(xdp_rx, 1), D(xdp_new_flow, 1), D(xdp_forwarded, 1), D(xdp_bytes, LEN_IN) },
	  .flow = F_BE(0) },
	{ "xdp-fwd-ipv6-redirect-to-pod-link", XDP, .net = true, .in_dev = "kvin",
	  .in = { TCP6(VIP6, 80, 40001) }, .verdict = XDP_REDIRECT,
	  .out = { .daddr = BE2, .dport = BE_PORT, .macs = true, .smac = MAC_POD,
		   .dmac = { 0x02, 0, 0, 0, 0, 0x11 } },
	  .d = { D(xdp_rx, 1), D(xdp_new_flow, 1), D(xdp_forwarded, 1), D(xdp_bytes, LEN_IN) },
	  .flow = F_BE(2) },
	{ "xdp-fwd-vlan-redirect-tag-removed", XDP, .net = true, .in_dev = "kvin",
	  .in = { TCP4(VIP4, 80, 40001), .n_vlan = 2, .vlan_tpid = { 0x88a8, 0x8100 },
		  .vlan_id = { 10, 20 } },
	  .verdict = XDP_REDIRECT,
	  .out = { .daddr = BE0, .dport = BE_PORT, .strip_vlan = true, .macs = true,
		   .smac = MAC_POD, .dmac = { 0x02, 0, 0, 0, 0, 0x11 } },
	  .d = { D(xdp_rx, 1), D(xdp_new_flow, 1), D(xdp_forwarded, 1), D(xdp_bytes, LEN_IN),
		 D(xdp_vlan, 1) },
	  .flow = F_BE(0) },
	{ "xdp-fwd-same-link-tx", XDP, .net = true, .in_dev = "kvin",
	  .in = { TCP4("192.0.2.5", 80, 40001) }, .verdict = XDP_TX,
	  .out = { .daddr = BE1, .dport = BE_PORT, .macs = true, .smac = MAC_IN_D,
		   .dmac = { 0x02, 0, 0, 0, 0, 0x12 } },
	  .d = { D(xdp_rx, 1), D(xdp_new_flow, 1), D(xdp_forwarded, 1), D(xdp_bytes, LEN_IN) },
	  .flow = F_BE(1) },
	{ "xdp-fwd-no-route-to-stack", XDP, .net = true, .in_dev = "kvin",
	  .in = { TCP4("192.0.2.3", 80, 40001) }, .verdict = XDP_PASS, .out = TO(BE4, BE_PORT),
	  .d = { D_XDP_PASS_STACK_NEW }, .flow = F_BE(4) },
	{ "xdp-fwd-no-neighbour-to-stack", XDP, .net = true, .in_dev = "kvin",
	  .in = { TCP4("192.0.2.4", 80, 40001) }, .verdict = XDP_PASS, .out = TO(BE5, BE_PORT),
	  .d = { D_XDP_PASS_STACK_NEW }, .flow = F_BE(5) },
	{ "xdp-fwd-established-redirect", XDP, .net = true, .in_dev = "kvin",
	  .in = { TCP4(VIP4, 80, 40000) }, .prime = &prime4, .mutate = M_FLIP_V4,
	  .verdict = XDP_REDIRECT,
	  .out = { .daddr = BE0, .dport = BE_PORT, .macs = true, .smac = MAC_POD,
		   .dmac = { 0x02, 0, 0, 0, 0, 0x11 } },
	  .d = { D(xdp_rx, 1), D(xdp_forwarded, 1), D(xdp_bytes, LEN_IN) }, .flow = F_BE(0) },
	/* TC with a route back to the client: the reply leaves by the uplink
	 * directly. The test run does not perform redirects; it returns the
	 * verdict, TC_ACT_REDIRECT (7). */
	{ "tc-fwd-ipv4-redirect-to-uplink", TC, .net = true, .in_dev = "kvpod",
	  .in = { REPLY4(BE0, BE_PORT, 40000) }, .prime = &prime4, .verdict = TC_ACT_REDIRECT,
	  .out = { .saddr = VIP4, .sport = 80, .macs = true, .smac = MAC_IN_D,
		   .dmac = { 0x02, 0, 0, 0, 0xcc, 0x01 } },
	  .d = { D(tc_rx, 1), D(tc_rev_nat, 1), D(tc_redirected, 1), D(tc_bytes, LEN_IN) } },
	{ "tc-fwd-ipv6-redirect-to-uplink", TC, .net = true, .in_dev = "kvpod",
	  .in = { REPLY6(BE2, BE_PORT, 40000) }, .prime = &prime6, .verdict = TC_ACT_REDIRECT,
	  .out = { .saddr = VIP6, .sport = 80, .macs = true, .smac = MAC_IN_D,
		   .dmac = { 0x02, 0, 0, 0, 0xcc, 0x01 } },
	  .d = { D(tc_rx, 1), D(tc_rev_nat, 1), D(tc_redirected, 1), D(tc_bytes, LEN_IN) } },
	/* No neighbour for this client: bpf_redirect_neigh() resolves it later,
	 * so the MACs are left as they are. */
	{ "tc-fwd-no-neighbour-redirect-neigh", TC, .net = true, .in_dev = "kvpod",
	  .in = { REPLY4(BE0, BE_PORT, 40000), .daddr = "198.51.100.2" }, .prime = &prime4_c2,
	  .verdict = TC_ACT_REDIRECT, .out = FROM(VIP4, 80),
	  .d = { D(tc_rx, 1), D(tc_rev_nat, 1), D(tc_redirected, 1), D(tc_bytes, LEN_IN) } },
};
/* clang-format on */
#pragma GCC diagnostic pop
#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* ---- running ---- */

/* Packets per random property check. */
#define RANDOM_RUNS 400

static struct kt T;
static bool verbose;

static int fx_reset(char *err, size_t n)
{
	struct kvlb_vip_key vk;
	struct kvlb_vip v;
	struct kvlb_backend be;
	uint32_t i, port, one = 1;

	if (kt_clear_map(T.flows, sizeof(struct kvlb_flow_key)) ||
	    kt_clear_map(T.nat_rev, sizeof(struct kvlb_flow_key)))
		goto fail;
	for (i = 0; i < N_VIPS; i++) {
		memset(&vk, 0, sizeof(vk));
		pb_addr(fx_vips[i].addr, fx_vips[i].family, (uint8_t *)&vk.addr);
		vk.port = htons(fx_vips[i].port);
		vk.proto = 6;
		vk.family = fx_vips[i].family == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
		v = (struct kvlb_vip){.index = i, .ring_slot = i * 2, .n_backends = 1};
		if (bpf_map_update_elem(T.vips, &vk, &v, BPF_ANY))
			goto fail;
		/* As kvlbd keeps it: the VIP's port is marked in use. */
		port = fx_vips[i].port;
		if (bpf_map_update_elem(T.vip_ports, &port, &one, BPF_ANY))
			goto fail;
	}
	for (i = 0; i < N_BACKENDS; i++) {
		memset(&be, 0, sizeof(be));
		pb_addr(fx_backends[i].addr, fx_backends[i].family, (uint8_t *)&be.addr);
		be.port = htons(BE_PORT);
		be.family = fx_backends[i].family == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
		be.vip_index = fx_backends[i].vip;
		be.weight = 1;
		be.flags = KVLB_BE_F_IN_USE;
		if (bpf_map_update_elem(T.backends, &i, &be, BPF_ANY))
			goto fail;
	}
	return 0;
fail:
	snprintf(err, n, "fixture reset failed: %s", strerror(errno));
	return -1;
}

static int fx_rings(void)
{
	uint32_t i, j;
	int err;

	for (i = 0; i < N_VIPS; i++)
		for (j = 0; j < 2; j++) {
			err = kt_fill_slot(&T, i * 2 + j, fx_vips[i].slot[j]);
			if (err)
				return err;
		}
	return 0;
}

static int fx_mutate(unsigned int m)
{
	struct kvlb_vip_key vk;
	struct kvlb_vip v;
	struct kvlb_backend be;
	uint32_t i;

	for (i = 0; i < 2; i++) {
		if (!(m & (i ? M_FLIP_V6 : M_FLIP_V4)))
			continue;
		memset(&vk, 0, sizeof(vk));
		pb_addr(fx_vips[i].addr, fx_vips[i].family, (uint8_t *)&vk.addr);
		vk.port = htons(fx_vips[i].port);
		vk.proto = 6;
		vk.family = fx_vips[i].family == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
		if (bpf_map_lookup_elem(T.vips, &vk, &v))
			return -errno;
		v.ring_slot = i * 2 + 1;
		if (bpf_map_update_elem(T.vips, &vk, &v, BPF_EXIST))
			return -errno;
	}
	for (i = 0; i < N_BACKENDS; i++) {
		bool clear = (i == 0 && (m & M_CLEAR_BE0)) || (i == 2 && (m & M_CLEAR_BE2));
		bool drain = i == 0 && (m & M_DRAIN_BE0), down = i == 0 && (m & M_DOWN_BE0);

		if (!clear && !drain && !down)
			continue;
		if (bpf_map_lookup_elem(T.backends, &i, &be))
			return -errno;
		if (clear)
			memset(&be, 0, sizeof(be));
		if (drain)
			be.flags |= KVLB_BE_F_DRAINING;
		if (down)
			be.flags |= KVLB_BE_F_DOWN;
		if (bpf_map_update_elem(T.backends, &i, &be, BPF_ANY))
			return -errno;
	}
	return 0;
}

static int build(const struct scenario *s, uint8_t *buf, size_t *len, char *err, size_t n)
{
	struct pb_layout lay;
	size_t base[3];
	int i;

	*len = pb_build(&s->in, buf, PB_MAX_LEN, &lay);
	if (!*len) {
		snprintf(err, n, "bad input packet spec");
		return -1;
	}
	base[L2] = 0;
	base[L3] = lay.l3_off;
	base[L4] = lay.l4_off;
	for (i = 0; i < 3; i++)
		if (s->poke[i].set)
			buf[base[s->poke[i].base] + s->poke[i].off] = s->poke[i].val;
	if (s->cut.set)
		*len = base[s->cut.base] + s->cut.off;
	return 0;
}

static size_t build_expected(const struct scenario *s, uint8_t *buf)
{
	struct pb_spec e = s->in;
	const struct out_edit *o = &s->out;

	if (o->saddr)
		e.saddr = o->saddr;
	if (o->daddr)
		e.daddr = o->daddr;
	if (o->sport)
		e.sport = o->sport;
	if (o->dport)
		e.dport = o->dport;
	if (o->strip_vlan)
		e.n_vlan = 0;
	if (o->macs) {
		memcpy(e.smac, o->smac, 6);
		memcpy(e.dmac, o->dmac, 6);
	}
	return pb_build(&e, buf, PB_MAX_LEN, NULL);
}

static void hexdump(const char *what, const uint8_t *p, size_t len)
{
	size_t i;

	fprintf(stderr, "  %s (%zu bytes):", what, len);
	for (i = 0; i < len; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n    ", p[i]);
	fprintf(stderr, "\n");
}

/* The flow key of a client packet, as XDP records it. */
static void flow_key_of(const struct pb_spec *in, struct kvlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	pb_addr(in->saddr, in->family, (uint8_t *)&k->src);
	pb_addr(in->daddr, in->family, (uint8_t *)&k->dst);
	k->sport = htons(in->sport);
	k->dport = htons(in->dport);
	k->proto = 6;
	k->family = in->family == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
}

static int map_count(int fd)
{
	unsigned char k[64];
	int n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, k) == 0 && n < 1000) {
		n++;
		prev = k;
	}
	return n;
}

/* The fixture index of the VIP a flow key is addressed to. */
static uint32_t fx_vip_index(const struct kvlb_flow_key *k)
{
	struct kvlb_addr a;
	uint32_t i;

	for (i = 0; i < N_VIPS; i++) {
		memset(&a, 0, sizeof(a));
		pb_addr(fx_vips[i].addr, fx_vips[i].family, (uint8_t *)&a);
		if (!memcmp(&a, &k->dst, sizeof(a)) && htons(fx_vips[i].port) == k->dport)
			return i;
	}
	return UINT32_MAX;
}

static int check_flow(const struct scenario *s, char *err, size_t n)
{
	struct kvlb_flow_key fk, rk;
	struct kvlb_flow f;
	struct kvlb_nat nat, want_nat;
	uint32_t id, vip;
	int nf, nr;

	if (s->flow == F_NONE) {
		nf = map_count(T.flows);
		nr = map_count(T.nat_rev);
		if (nf || nr) {
			snprintf(err, n, "expected no flow, found %d flow and %d reverse entries",
				 nf, nr);
			return -1;
		}
		return 0;
	}
	id = (uint32_t)(s->flow - 1);
	flow_key_of(&s->in, &fk);
	vip = fx_vip_index(&fk);
	if (bpf_map_lookup_elem(T.flows, &fk, &f)) {
		snprintf(err, n, "no kvlb_flows entry for the packet's tuple");
		return -1;
	}
	if (f.backend_id != id || f.vip_index != vip || !f.placed_ns) {
		snprintf(err, n,
			 "kvlb_flows entry {backend %u, vip %u, placed %llu}, want {%u, %u, >0}",
			 f.backend_id, f.vip_index, (unsigned long long)f.placed_ns, id, vip);
		return -1;
	}
	memset(&rk, 0, sizeof(rk));
	pb_addr(fx_backends[id].addr, fx_backends[id].family, (uint8_t *)&rk.src);
	rk.dst = fk.src;
	rk.sport = htons(BE_PORT);
	rk.dport = fk.sport;
	rk.proto = 6;
	rk.family = fk.family;
	if (bpf_map_lookup_elem(T.nat_rev, &rk, &nat)) {
		snprintf(err, n, "no kvlb_nat_rev entry for backend %u -> client", id);
		return -1;
	}
	memset(&want_nat, 0, sizeof(want_nat));
	want_nat.vip = fk.dst;
	want_nat.vip_port = fk.dport;
	want_nat.backend_id = id;
	if (memcmp(&nat, &want_nat, sizeof(nat))) {
		snprintf(err, n, "kvlb_nat_rev value differs (backend %u, port %u)", nat.backend_id,
			 ntohs(nat.vip_port));
		return -1;
	}
	return 0;
}

static int check_deltas(const struct scenario *s, const struct kvlb_stats *a,
			const struct kvlb_stats *b, size_t in_len, char *err, size_t n)
{
	long long want[S_NAMED] = {0}, got;
	int i, k;

	for (i = 0; i < 8 && s->d[i].field; i++)
		want[s->d[i].field - 1] = s->d[i].n == LEN_IN ? (long long)in_len : s->d[i].n;
	for (k = 0; k < S_NAMED; k++) {
		got = (long long)(((const __u64 *)b)[k] - ((const __u64 *)a)[k]);
		if (got != want[k]) {
			snprintf(err, n, "counter %s changed by %lld, want %lld", stat_names[k],
				 got, want[k]);
			return -1;
		}
	}
	return 0;
}

static const char *verdict_name(enum prog_kind p, uint32_t v)
{
	static const char *const xdp[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					  "XDP_REDIRECT"};
	static const char *const tc[] = {"TC_ACT_OK",	  "TC_ACT_RECLASSIFY", "TC_ACT_SHOT",
					 "TC_ACT_PIPE",	  "TC_ACT_STOLEN",     "TC_ACT_QUEUED",
					 "TC_ACT_REPEAT", "TC_ACT_REDIRECT"};

	if (p == XDP && v < 5)
		return xdp[v];
	if (p == TC && v < 8)
		return tc[v];
	return "?";
}

static int run_prog(const struct scenario *s, int fd, const uint8_t *in, size_t len,
		    uint32_t ifindex, uint8_t *out, size_t *olen, uint32_t *ret)
{
	*olen = PB_MAX_LEN + 256;
	if (s->prog == XDP)
		return kt_run_xdp(fd, in, len, ifindex, out, olen, ret, NULL);
	return kt_run_tc(fd, in, len, ifindex, out, olen, ret, NULL);
}

static int run_scenario(const struct scenario *s, char *err, size_t n)
{
	uint8_t in[PB_MAX_LEN], exp[PB_MAX_LEN], out[PB_MAX_LEN + 256];
	size_t len, olen, elen, i;
	struct kvlb_stats before, after;
	uint32_t ifindex = 0, ret;
	int rc;

	if (fx_reset(err, n))
		return -1;
	if (s->in_dev) {
		ifindex = if_nametoindex(s->in_dev);
		if (!ifindex) {
			snprintf(err, n, "no device %s", s->in_dev);
			return -1;
		}
	}
	if (s->prime) {
		uint8_t p[PB_MAX_LEN], po[PB_MAX_LEN + 256];
		size_t plen = pb_build(s->prime, p, sizeof(p), NULL), polen = sizeof(po);

		if (!plen || kt_run_xdp(T.xdp_fd, p, plen, 0, po, &polen, &ret, NULL)) {
			snprintf(err, n, "priming packet failed");
			return -1;
		}
	}
	if (fx_mutate(s->mutate)) {
		snprintf(err, n, "map change failed: %s", strerror(errno));
		return -1;
	}
	if (build(s, in, &len, err, n))
		return -1;
	if (kt_stats(&T, &before)) {
		snprintf(err, n, "cannot read kvlb_stats");
		return -1;
	}
	rc = run_prog(s, s->prog == XDP ? T.xdp_fd : T.tc_fd, in, len, ifindex, out, &olen, &ret);
	if (s->expect_errno) {
		if (rc != -s->expect_errno) {
			snprintf(err, n, "test run returned %d (%s), want -%s", rc,
				 rc ? strerror(-rc) : "ok", strerrorname_np(s->expect_errno));
			return -1;
		}
		goto counters;
	}
	if (rc) {
		snprintf(err, n, "BPF_PROG_TEST_RUN failed: %s", strerror(-rc));
		return -1;
	}
	if (ret != s->verdict) {
		snprintf(err, n, "verdict %s (%u), want %s (%u)", verdict_name(s->prog, ret), ret,
			 verdict_name(s->prog, s->verdict), s->verdict);
		return -1;
	}
	/* Dropped packets: the content does not matter. */
	if (!(s->prog == XDP && s->verdict == XDP_DROP) &&
	    !(s->prog == TC && s->verdict == TC_ACT_SHOT)) {
		if (s->out.same) {
			memcpy(exp, in, len);
			elen = len;
		} else {
			elen = build_expected(s, exp);
			if (pb_verify_csums(out, olen, err, n))
				return -1;
		}
		if (olen != elen || memcmp(out, exp, elen)) {
			for (i = 0; i < olen && i < elen && out[i] == exp[i]; i++)
				;
			snprintf(
			    err, n,
			    "output differs from expected (%zu vs %zu bytes, first at byte %zu)",
			    olen, elen, i);
			if (verbose) {
				hexdump("got", out, olen);
				hexdump("want", exp, elen);
			}
			return -1;
		}
	}
counters:
	if (kt_stats(&T, &after)) {
		snprintf(err, n, "cannot read kvlb_stats");
		return -1;
	}
	if (check_deltas(s, &before, &after, len, err, n))
		return -1;
	if (s->prog == XDP && s->flow && check_flow(s, err, n))
		return -1;
	return 0;
}

/*
 * Property check beside the table: many random tuples, lengths, IPv4 option
 * lengths and VLAN tag counts through one program, each output compared byte
 * for byte with the builder's, so no checksum corner goes unseen. The seed is
 * fixed: a failure names the iteration and reproduces.
 */
static int run_random(enum prog_kind prog, uint8_t family, unsigned int n, char *err, size_t errlen)
{
	static char cli[64];
	struct pb_spec fwd;
	struct scenario s;
	unsigned int i, k, seed = 0x6b766c62u + family * 2 + prog;
	char why[256];

	srand(seed);
	for (i = 0; i < n; i++) {
		memset(&fwd, 0, sizeof(fwd));
		memcpy(fwd.dmac, (uint8_t[6]){0x02, 0, 0, 0, 0xaa, 0x01}, 6);
		memcpy(fwd.smac, (uint8_t[6]){0x02, 0, 0, 0, 0xee, 0x01}, 6);
		fwd.family = family;
		if (family == 4)
			snprintf(cli, sizeof(cli), "198.51.100.%d", 1 + rand() % 254);
		else
			snprintf(cli, sizeof(cli), "2001:db8:c::%x:%x", rand() & 0xffff,
				 1 + rand() % 0xfffe);
		fwd.saddr = cli;
		fwd.daddr = family == 4 ? VIP4 : VIP6;
		fwd.sport = (uint16_t)(1 + rand() % 65535);
		fwd.dport = 80;

		memset(&s, 0, sizeof(s));
		s.name = "random";
		s.prog = prog;
		k = 0;
		if (prog == XDP) {
			s.in = fwd;
			s.in.payload = (uint16_t)(rand() % 1401);
			s.in.tcp_flags = (uint8_t)(rand() & 0x3f);
			s.in.n_vlan = (uint8_t)(rand() % 3);
			s.in.vlan_id[0] = (uint16_t)(rand() & 0xfff);
			s.in.vlan_id[1] = (uint16_t)(rand() & 0xfff);
			if (family == 4)
				s.in.ip_opt_len = (uint8_t)(4 * (rand() % 11));
			s.verdict = XDP_PASS;
			s.out.daddr = family == 4 ? BE0 : BE2;
			s.out.dport = BE_PORT;
			s.out.strip_vlan = true;
			s.flow = F_BE(family == 4 ? 0 : 2);
			s.d[k++] = (struct delta){S_xdp_rx + 1, 1};
			s.d[k++] = (struct delta){S_xdp_new_flow + 1, 1};
			s.d[k++] = (struct delta){S_xdp_forwarded_stack + 1, 1};
			s.d[k++] = (struct delta){S_xdp_bytes + 1, LEN_IN};
			if (s.in.ip_opt_len)
				s.d[k++] = (struct delta){S_xdp_ip_options + 1, 1};
			if (s.in.n_vlan)
				s.d[k++] = (struct delta){S_xdp_vlan + 1, 1};
		} else {
			s.prime = &fwd;
			s.in = fwd;
			memcpy(s.in.smac, (uint8_t[6]){0x02, 0, 0, 0, 0xbb, 0x02}, 6);
			s.in.saddr = family == 4 ? BE0 : BE2;
			s.in.sport = BE_PORT;
			s.in.daddr = cli;
			s.in.dport = fwd.sport;
			s.in.payload = (uint16_t)(rand() % 1401);
			s.in.tcp_flags = (uint8_t)(rand() & 0x3f);
			if (family == 4)
				s.in.ip_opt_len = (uint8_t)(4 * (rand() % 11));
			s.verdict = TC_ACT_OK;
			s.out.saddr = family == 4 ? VIP4 : VIP6;
			s.out.sport = 80;
			s.d[k++] = (struct delta){S_tc_rx + 1, 1};
			s.d[k++] = (struct delta){S_tc_rev_nat + 1, 1};
			s.d[k++] = (struct delta){S_tc_bytes + 1, LEN_IN};
		}
		if (run_scenario(&s, why, sizeof(why))) {
			snprintf(err, errlen,
				 "iteration %u (client %s port %u, %u payload bytes): %s", i, cli,
				 fwd.sport, s.in.payload, why);
			return -1;
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: test_bpf [--obj-dir DIR] [-v] [PATTERN]\n"
		"\n"
		"Unit tests of kvlb's XDP (kvlb_xdp.bpf.o) and TC (kvlb_tc.bpf.o) programs.\n"
		"Each scenario runs crafted packets through a program with BPF_PROG_TEST_RUN\n"
		"and checks the verdict, the exact output packet (and its checksums, recomputed\n"
		"in full), the flow table and the change of every counter in kvlb_stats.\n"
		"One line per scenario: 'PASS name', 'FAIL name: reason' or 'SKIP name: reason'.\n"
		"\n"
		"The programs are loaded without pinning (no bpffs needed) and never attached.\n"
		"The process moves itself into a new network namespace (unshare), so the run\n"
		"sees only the routes it makes. Scenarios marked for forwarding first create\n"
		"veth pairs, routes and permanent neighbour entries with the ip(8) command;\n"
		"without it they are skipped. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).\n"
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

int main(int argc, char **argv)
{
	struct kt_args args;
	const char *pattern;
	char err[512], net_err[256] = "";
	int c, failed = 0, net_state = 0; /* 0 not tried, 1 ready, -1 failed */
	size_t i;

	c = kt_start(&T, "bpf-unit", argc, argv, usage, &args);
	if (c >= 0)
		return c;
	verbose = args.verbose;
	pattern = args.pattern;
	c = fx_rings();
	if (c) {
		printf("FAIL bpf-unit-fixture: cannot fill the rings: %s\n", strerror(-c));
		kt_close(&T);
		return 1;
	}

	/* Before any route exists: the random checks expect the to-stack path. */
	for (i = 0; i < 4; i++) {
		static const char *const names[] = {
		    "xdp-ipv4-random-tuples", "xdp-ipv6-random-tuples", "tc-ipv4-random-tuples",
		    "tc-ipv6-random-tuples"};

		if (pattern && !strstr(names[i], pattern))
			continue;
		if (run_random(i < 2 ? XDP : TC, i % 2 ? 6 : 4, RANDOM_RUNS, err, sizeof(err))) {
			printf("FAIL %s: %s\n", names[i], err);
			failed = 1;
		} else {
			printf("PASS %s (%d packets)\n", names[i], RANDOM_RUNS);
		}
	}

	for (i = 0; i < N_SCENARIOS; i++) {
		const struct scenario *s = &scenarios[i];

		if (pattern && !strstr(s->name, pattern))
			continue;
		if (s->net && net_state == 0)
			net_state = kt_net_setup(net_err, sizeof(net_err)) ? -1 : 1;
		if (s->net && net_state < 0) {
			printf("SKIP %s: forwarding setup: %s\n", s->name, net_err);
			continue;
		}
		err[0] = '\0';
		if (run_scenario(s, err, sizeof(err))) {
			printf("FAIL %s: %s\n", s->name, err);
			failed = 1;
		} else {
			printf("PASS %s\n", s->name);
		}
	}
	kt_close(&T);
	return failed;
}

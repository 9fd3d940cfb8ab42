// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_pkt - the per-packet cost of kvlb's XDP program (and of its TC
 * program on a spliced connection's replies), as a ratio to a bare XDP_TX
 * program measured in the same run.
 *
 * Every timed run is one BPF_PROG_TEST_RUN call with repeat=1: the kernel's
 * repeat loop would hand runs 2..n the packet run 1 had already rewritten
 * (destination = backend, no longer a VIP), timing the not-for-a-VIP path.
 * With one call per run, each run starts from the original packet copied in
 * by the call. The time is the kernel-reported duration of that call (the
 * program run alone, not the syscall or the copy), averaged over many calls.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "kvlb.h"
#include "harness.h"
#include "pktbuild.h"

#define HIST_MAX 8192 /* ns; slower runs land in the last bucket */

struct cell {
	unsigned long long sum_ns, n;
	unsigned int hist[HIST_MAX];
};

/*
 * A delayed-binding connection in the SPLICED state, written into
 * kvlb_splice and kvlb_nat_rev by the harness (what a handshake, a held
 * front and a replay would have left), so that its packets take the
 * translated fast path from the first timed run.
 */
struct splice_spec {
	const char *client, *vip, *pod;
	uint16_t cport;
	uint32_t be_id, vip_index;
	bool l4; /* an L4 VIP's flow instead: only its kvlb_nat_rev entry */
};

struct path {
	const char *name;
	struct pb_spec pkt;
	bool new_flow;			  /* a fresh source port per call */
	bool tc;			  /* kvlb's TC program (pod -> client), not XDP */
	const uint8_t *opts;		  /* TCP options put in front of the payload */
	uint8_t optlen;			  /* a multiple of 4 */
	const struct splice_spec *splice; /* state written before each batch */
	uint32_t want;			  /* kvlb's verdict for it */
	struct cell kvlb, bounce;
	unsigned long long bad; /* runs with another verdict */
};

/* What Linux puts in a SYN: MSS 1460, SACK permitted, timestamps, NOP,
 * window scale 7 (20 bytes). */
static const uint8_t syn_opts[] = {2,	 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
				   0x10, 0, 0,	  0,	0, 0, 1, 3,  3, 7};
/* What every later segment of such a connection carries: NOP NOP TS. */
static const uint8_t ts_opts[] = {1, 1, 8, 10, 0, 0, 0x20, 0, 0, 0, 0x10, 0};

/* The HTTP VIPs (mode http: delayed binding) and their one backend each. */
#define HTTP_PORT 8080 /* the HTTP VIPs' port */
#define HTTP_VIP4 "192.0.2.2"
#define HTTP_VIP6 "2001:db8:a::2"
static const struct splice_spec spliced4 = {.client = "198.51.100.1",
					    .vip = HTTP_VIP4,
					    .pod = "203.0.113.11",
					    .cport = 40001,
					    .be_id = 2,
					    .vip_index = 2};
static const struct splice_spec spliced6 = {.client = "2001:db8:c::1",
					    .vip = HTTP_VIP6,
					    .pod = "2001:db8:b::11",
					    .cport = 40001,
					    .be_id = 3,
					    .vip_index = 3};
/* The L4 VIP's established flow of the first rows, seen from the pod. */
static const struct splice_spec l4flow4 = {.client = "198.51.100.1",
					   .vip = "192.0.2.1",
					   .pod = "203.0.113.11",
					   .cport = 40000,
					   .be_id = 0,
					   .vip_index = 0,
					   .l4 = true};

static struct kt T;
static uint32_t ifindex, pod_ifindex;
static int splice_fd, secret_fd;
static unsigned long primes; /* untimed runs that (re)create established flows */

static void add(struct cell *c, uint32_t d)
{
	c->sum_ns += d;
	c->n++;
	c->hist[d < HIST_MAX ? d : HIST_MAX - 1]++;
}

static double mean(const struct cell *c)
{
	return c->n ? (double)c->sum_ns / (double)c->n : 0;
}

static unsigned int median(const struct cell *c)
{
	unsigned long long seen = 0;
	unsigned int i;

	for (i = 0; i < HIST_MAX; i++) {
		seen += c->hist[i];
		if (seen * 2 >= c->n)
			return i;
	}
	return HIST_MAX;
}

static int setup_maps(void)
{
	/* L4 VIPs on port 80, HTTP VIPs on a port of their own, as kvlbd
	 * counts them in kvlb_vip_ports */
	static const struct {
		const char *vip, *be;
		uint8_t family;
		uint32_t flags;
		uint16_t port;
	} svc[] = {{"192.0.2.1", "203.0.113.11", 4, 0, 80},
		   {"2001:db8:a::1", "2001:db8:b::11", 6, 0, 80},
		   {HTTP_VIP4, "203.0.113.11", 4, KVLB_VIP_F_HTTP, HTTP_PORT},
		   {HTTP_VIP6, "2001:db8:b::11", 6, KVLB_VIP_F_HTTP, HTTP_PORT}};
	/* a fixed SYN-cookie key, as kvlbd draws one at start */
	struct kvlb_secret key = {.k0 = 0x0706050403020100ULL, .k1 = 0x0f0e0d0c0b0a0908ULL};
	uint32_t i, port, vips, zero = 0;
	int err;

	if (bpf_map_update_elem(secret_fd, &zero, &key, BPF_ANY))
		return -errno;
	for (i = 0; i < sizeof(svc) / sizeof(svc[0]); i++) {
		struct kvlb_vip_key vk = {.port = htons(svc[i].port), .proto = 6};
		struct kvlb_vip v = {
		    .index = i, .ring_slot = i * 2, .flags = svc[i].flags, .n_backends = 1};
		struct kvlb_backend be = {
		    .port = htons(8000), .vip_index = i, .weight = 1, .flags = KVLB_BE_F_IN_USE};

		vk.family = be.family = svc[i].family == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
		pb_addr(svc[i].vip, svc[i].family, (uint8_t *)&vk.addr);
		pb_addr(svc[i].be, svc[i].family, (uint8_t *)&be.addr);
		port = svc[i].port;
		if (bpf_map_lookup_elem(T.vip_ports, &port, &vips))
			return -errno;
		vips += KVLB_PORT_ONE(svc[i].flags);
		if (bpf_map_update_elem(T.vips, &vk, &v, BPF_ANY) ||
		    bpf_map_update_elem(T.vip_ports, &port, &vips, BPF_ANY) ||
		    bpf_map_update_elem(T.backends, &i, &be, BPF_ANY))
			return -errno;
		err = kt_fill_slot(&T, i * 2, i);
		if (err)
			return err;
	}
	return 0;
}

static int run(int fd, bool tc, const uint8_t *pkt, size_t len, uint32_t *ret, uint32_t *dur)
{
	uint8_t out[PB_MAX_LEN + 256];
	size_t olen = sizeof(out);

	if (tc)
		return kt_run_tc(fd, pkt, len, pod_ifindex, out, &olen, ret, dur);
	return kt_run_xdp(fd, pkt, len, ifindex, out, &olen, ret, dur);
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* Build p's packet from s; with options, they take the first bytes of the
 * TCP payload, the data offset grows over them and the checksum is
 * computed again. Returns the length, 0 on error. */
static size_t build(const struct path *p, struct pb_spec *s, uint8_t *pkt)
{
	struct pb_layout lay;
	uint8_t pseudo[40] = {0};
	size_t len, l4, seg, plen;
	uint32_t sum;

	s->payload = (uint16_t)(p->pkt.payload + p->optlen);
	len = pb_build(s, pkt, PB_MAX_LEN, &lay);
	s->payload = p->pkt.payload;
	if (!len || !p->optlen)
		return len;
	l4 = lay.l4_off;
	seg = len - l4 - s->eth_pad;
	memcpy(pkt + l4 + 20, p->opts, p->optlen);
	pkt[l4 + 12] = (uint8_t)((20 + p->optlen) / 4 << 4);
	put16(pkt + l4 + 16, 0);
	if (s->family == 4) {
		memcpy(pseudo, pkt + lay.l3_off + 12, 8);
		pseudo[9] = 6;
		put16(pseudo + 10, (uint16_t)seg);
		plen = 12;
	} else {
		memcpy(pseudo, pkt + lay.l3_off + 8, 32);
		put16(pseudo + 34, (uint16_t)seg);
		pseudo[39] = 6;
		plen = 40;
	}
	sum = pb_csum_add(pb_csum_add(0, pseudo, plen), pkt + l4, seg);
	put16(pkt + l4 + 16, (uint16_t)~pb_csum_fold(sum));
	return len;
}

/* Write a SPLICED connection: kvlb_splice under client -> VIP, kvlb_nat_rev
 * under pod -> client, as splice_bind and the replay leave them (the next
 * hops are learnt by the first packet each way, an untimed run). */
static int splice_state(const struct splice_spec *c, uint8_t family)
{
	uint8_t fam = family == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
	struct kvlb_flow_key k = {
	    .sport = htons(c->cport), .dport = htons(HTTP_PORT), .proto = 6, .family = fam};
	struct kvlb_flow_key rk = {
	    .sport = htons(8000), .dport = htons(c->cport), .proto = 6, .family = fam};
	struct kvlb_splice sp = {
	    .state = KVLB_SP_SPLICED,
	    .flags = KVLB_SP_F_TS | KVLB_SP_F_SACK | KVLB_SP_F_WS,
	    .c_wscale = 7,
	    .s_wscale = KVLB_SP_WSCALE,
	    .c_mss = 1460,
	    .c_isn = 0x01020303,
	    .our_isn = 0x50000000,
	    .seq_delta = 0x1f2e3d4c,
	    .ts_ours = 0x2000,
	    .ts_delta = 0x0badf00d,
	    .ts_recent = 0x1000,
	    .held = 300,
	    .acked = 300,
	    .backend_id = c->be_id,
	    .vip_index = c->vip_index,
	    .c_win = 502,
	    .s_mss = 1460,
	};
	struct kvlb_nat nat = {
	    .vip_port = htons(HTTP_PORT), .flags = KVLB_NAT_F_SPLICE, .backend_id = c->be_id};

	if (pb_addr(c->client, family, (uint8_t *)&k.src) ||
	    pb_addr(c->vip, family, (uint8_t *)&k.dst) ||
	    pb_addr(c->pod, family, (uint8_t *)&rk.src) ||
	    pb_addr(c->client, family, (uint8_t *)&rk.dst))
		return -EINVAL;
	nat.vip = k.dst;
	if (c->l4)
		nat.flags = 0;
	else if (bpf_map_update_elem(splice_fd, &k, &sp, BPF_ANY))
		return -errno;
	if (bpf_map_update_elem(T.nat_rev, &rk, &nat, BPF_ANY))
		return -errno;
	return 0;
}

/* One batch of `calls` runs of prog on path p; port is the running source port. */
static int batch(struct path *p, int fd, bool is_kvlb, unsigned int calls, unsigned int *port)
{
	uint8_t pkt[PB_MAX_LEN];
	struct pb_spec s = p->pkt;
	size_t len = build(p, &s, pkt);
	bool tc = p->tc && is_kvlb; /* the bounce program is XDP for every path */
	unsigned int i;
	uint32_t ret, dur;
	int err;

	if (!len)
		return -EINVAL;
	if (!p->new_flow && is_kvlb) {
		/* A spliced connection's state is written anew: a first-packet
		 * batch empties kvlb_nat_rev. */
		if (p->splice && (err = splice_state(p->splice, p->pkt.family)))
			return err;
		/* Make sure the flow exists and its next hop is learnt (an
		 * untimed run), whatever came before. */
		err = run(fd, tc, pkt, len, &ret, &dur);
		if (err)
			return err;
		if (!p->splice && !p->opts) /* the L4 rows: this run placed the flow */
			primes++;
	}
	for (i = 0; i < calls; i++) {
		if (p->new_flow) {
			/* A tuple the flow table has not seen since it was last
			 * emptied: the placement path, on both programs alike.
			 * Ports stay below the established flows' 40000. */
			s.sport = (uint16_t)(1024 + (*port)++ % 38000);
			len = build(p, &s, pkt);
		}
		err = run(fd, tc, pkt, len, &ret, &dur);
		if (err)
			return err;
		add(is_kvlb ? &p->kvlb : &p->bounce, dur);
		if (is_kvlb && ret != p->want)
			p->bad++;
	}
	if (p->new_flow && is_kvlb) {
		/* Untimed: keep the table small so every batch starts alike. */
		if ((err = kt_clear_map(T.flows, sizeof(struct kvlb_flow_key))) ||
		    (err = kt_clear_map(T.nat_rev, sizeof(struct kvlb_flow_key))))
			return err;
	}
	return 0;
}

static const char *vname(uint32_t v, bool tc)
{
	static const char *const n[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					"XDP_REDIRECT"};
	static const char *const t[] = {"TC_ACT_OK", "?", "TC_ACT_SHOT", "?",
					"?",	     "?", "?",		 "TC_ACT_REDIR"};

	if (tc)
		return v < 8 ? t[v] : "?";
	return v < 5 ? n[v] : "?";
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bench_pkt [--obj-dir DIR] [--bounce OBJ] [--calls N] [--batch N]\n"
		"\n"
		"Measures the per-packet cost of kvlb's XDP program (kvlb_xdp.bpf.o) against a\n"
		"minimal program that only returns XDP_TX, in the same run, and prints ns/packet\n"
		"for both and their ratio, for IPv4 and IPv6: on an L4 VIP, an established flow\n"
		"and a flow's first packet (backend placement); on an HTTP VIP (delayed\n"
		"binding), the SYN answered with a cookie (first packet, no state), and a\n"
		"spliced connection's data segment with timestamps each way: client to pod\n"
		"through XDP, and the pod's reply through kvlb's TC program (kvlb_tc.bpf.o,\n"
		"an skb test run, still against the XDP_TX program on the same bytes; an L4\n"
		"flow's reply through the same TC program is the reference row). The\n"
		"spliced state (kvlb_splice, kvlb_nat_rev) is written by the harness before\n"
		"each batch, as a handshake and replay would have left it.\n"
		"\n"
		"Method: one BPF_PROG_TEST_RUN call per packet with repeat=1, so every timed run\n"
		"sees the original packet (the kernel's repeat loop would feed later runs the\n"
		"packet the first run rewrote). The figure is the kernel-reported duration of\n"
		"the program run, averaged over N calls; batches of kvlb and bounce calls\n"
		"alternate so drift affects both. For first packets each call uses a new source\n"
		"port, and the flow tables are emptied between batches, outside the timing.\n"
		"The process runs in its own network namespace with a veth pair, a route and a\n"
		"permanent neighbour for the backend, so the established path ends in a FIB hit\n"
		"and XDP_REDIRECT (needs ip(8); without it the path ends in XDP_PASS).\n"
		"\n"
		"Options:\n"
		"  --obj-dir DIR  where kvlb_xdp.bpf.o and kvlb_tc.bpf.o are (default: build)\n"
		"  --bounce OBJ   the XDP_TX program (default: DIR/tests/xdp_bounce.bpf.o)\n"
		"  --calls N      timed calls per program and path (default: 200000)\n"
		"  --batch N      calls per batch before switching program (default: 2000)\n"
		"  -h, --help     this text\n"
		"\n"
		"Needs root. Timings are not asserted: compare ratios, not nanoseconds.\n");
}

static long parse_count(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > 100000000) {
		fprintf(stderr, "bench_pkt: bad %s '%s' (a number from 1 to 100000000)\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"obj-dir", required_argument, NULL, 'o'}, {"bounce", required_argument, NULL, 'b'},
	    {"calls", required_argument, NULL, 'n'},   {"batch", required_argument, NULL, 'B'},
	    {"help", no_argument, NULL, 'h'},	       {NULL, 0, NULL, 0},
	};
	static struct path paths[] = {
	    {.name = "ipv4 established flow",
	     .pkt = {.family = 4,
		     .saddr = "198.51.100.1",
		     .daddr = "192.0.2.1",
		     .sport = 40000,
		     .dport = 80,
		     .payload = 64}},
	    {.name = "ipv6 established flow",
	     .pkt = {.family = 6,
		     .saddr = "2001:db8:c::1",
		     .daddr = "2001:db8:a::1",
		     .sport = 40000,
		     .dport = 80,
		     .payload = 64}},
	    {.name = "ipv4 first packet",
	     .pkt = {.family = 4,
		     .saddr = "198.51.100.1",
		     .daddr = "192.0.2.1",
		     .dport = 80,
		     .payload = 64},
	     .new_flow = true},
	    {.name = "ipv6 first packet",
	     .pkt = {.family = 6,
		     .saddr = "2001:db8:c::1",
		     .daddr = "2001:db8:a::1",
		     .dport = 80,
		     .payload = 64},
	     .new_flow = true},
	    /* HTTP VIPs: the SYN answered from XDP with a cookie (no state),
	     * then a spliced connection's data both ways. */
	    {.name = "ipv4 http SYN, cookie",
	     .pkt = {.family = 4,
		     .saddr = "198.51.100.1",
		     .daddr = HTTP_VIP4,
		     .sport = 40002,
		     .dport = HTTP_PORT,
		     .tcp_flags = 0x02},
	     .opts = syn_opts,
	     .optlen = sizeof(syn_opts)},
	    {.name = "ipv6 http SYN, cookie",
	     .pkt = {.family = 6,
		     .saddr = "2001:db8:c::1",
		     .daddr = HTTP_VIP6,
		     .sport = 40002,
		     .dport = HTTP_PORT,
		     .tcp_flags = 0x02},
	     .opts = syn_opts,
	     .optlen = sizeof(syn_opts)},
	    {.name = "ipv4 spliced, to pod",
	     .pkt = {.family = 4,
		     .saddr = "198.51.100.1",
		     .daddr = HTTP_VIP4,
		     .sport = 40001,
		     .dport = HTTP_PORT,
		     .tcp_flags = 0x18,
		     .payload = 64},
	     .opts = ts_opts,
	     .optlen = sizeof(ts_opts),
	     .splice = &spliced4},
	    {.name = "ipv6 spliced, to pod",
	     .pkt = {.family = 6,
		     .saddr = "2001:db8:c::1",
		     .daddr = HTTP_VIP6,
		     .sport = 40001,
		     .dport = HTTP_PORT,
		     .tcp_flags = 0x18,
		     .payload = 64},
	     .opts = ts_opts,
	     .optlen = sizeof(ts_opts),
	     .splice = &spliced6},
	    /* The same without options: what timestamps cost. */
	    {.name = "ipv4 spliced, no TS",
	     .pkt = {.family = 4,
		     .saddr = "198.51.100.1",
		     .daddr = HTTP_VIP4,
		     .sport = 40001,
		     .dport = HTTP_PORT,
		     .tcp_flags = 0x18,
		     .payload = 64},
	     .splice = &spliced4},
	    /* TC: an L4 flow's reply first, the spliced one's next. */
	    {.name = "ipv4 L4 reply (TC)",
	     .pkt = {.family = 4,
		     .saddr = "203.0.113.11",
		     .daddr = "198.51.100.1",
		     .sport = 8000,
		     .dport = 40000,
		     .tcp_flags = 0x18,
		     .payload = 64},
	     .tc = true,
	     .opts = ts_opts,
	     .optlen = sizeof(ts_opts),
	     .splice = &l4flow4},
	    {.name = "ipv4 spliced, reply (TC)",
	     .pkt = {.family = 4,
		     .saddr = "203.0.113.11",
		     .daddr = "198.51.100.1",
		     .sport = 8000,
		     .dport = 40001,
		     .tcp_flags = 0x18,
		     .payload = 64},
	     .tc = true,
	     .opts = ts_opts,
	     .optlen = sizeof(ts_opts),
	     .splice = &spliced4},
	    {.name = "ipv6 spliced, reply (TC)",
	     .pkt = {.family = 6,
		     .saddr = "2001:db8:b::11",
		     .daddr = "2001:db8:c::1",
		     .sport = 8000,
		     .dport = 40001,
		     .tcp_flags = 0x18,
		     .payload = 64},
	     .tc = true,
	     .opts = ts_opts,
	     .optlen = sizeof(ts_opts),
	     .splice = &spliced6},
	};
	const size_t npaths = sizeof(paths) / sizeof(paths[0]);
	const char *obj_dir = "build", *bounce_path = NULL;
	char bounce_buf[4096], err[256];
	unsigned long calls = 200000, bsize = 2000, done;
	struct bpf_object *bounce_obj = NULL;
	struct kvlb_stats s0, s1;
	unsigned int port = 0;
	bool routed = true;
	int c, bounce_fd, rc = 1;
	cpu_set_t cpus;
	size_t i;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			obj_dir = optarg;
			break;
		case 'b':
			bounce_path = optarg;
			break;
		case 'n':
			calls = (unsigned long)parse_count(optarg, "--calls");
			break;
		case 'B':
			bsize = (unsigned long)parse_count(optarg, "--batch");
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!bounce_path) {
		snprintf(bounce_buf, sizeof(bounce_buf), "%s/tests/xdp_bounce.bpf.o", obj_dir);
		bounce_path = bounce_buf;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_pkt: needs root\n");
		return 1;
	}
	/* One CPU: both programs see the same caches and clock. */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);

	c = kt_enter_netns();
	if (c) {
		fprintf(stderr, "bench_pkt: cannot create a network namespace: %s\n", strerror(-c));
		return 1;
	}
	if (kt_net_setup(err, sizeof(err))) {
		fprintf(stderr, "bench_pkt: %s; established path will end in XDP_PASS\n", err);
		routed = false;
	}
	ifindex = routed ? if_nametoindex("kvin") : 0;
	pod_ifindex = routed ? if_nametoindex("kvpod") : 0;
	if (kt_load(&T, obj_dir))
		return 1;
	splice_fd = bpf_object__find_map_fd_by_name(T.xdp_obj, KVLB_MAP_SPLICE);
	secret_fd = bpf_object__find_map_fd_by_name(T.xdp_obj, KVLB_MAP_SECRET);
	if (splice_fd < 0 || secret_fd < 0) {
		fprintf(stderr, "bench_pkt: no %s or %s map in %s/kvlb_xdp.bpf.o\n",
			KVLB_MAP_SPLICE, KVLB_MAP_SECRET, obj_dir);
		goto out;
	}
	bounce_fd = kt_load_single(bounce_path, &bounce_obj);
	if (bounce_fd < 0)
		goto out;
	if (setup_maps()) {
		fprintf(stderr, "bench_pkt: cannot fill the maps\n");
		goto out;
	}
	for (i = 0; i < npaths; i++) {
		memcpy(paths[i].pkt.dmac, "\x02\x00\x00\x00\xaa\x01", 6);
		memcpy(paths[i].pkt.smac, "\x02\x00\x00\x00\xee\x01", 6);
		if (paths[i].tc)
			paths[i].want = routed ? TC_ACT_REDIRECT : TC_ACT_OK;
		else if (paths[i].pkt.tcp_flags == 0x02)
			paths[i].want = XDP_TX; /* the SYN-ACK goes back out of the uplink */
		else
			paths[i].want = routed ? XDP_REDIRECT : XDP_PASS;
	}
	if (kt_stats(&T, &s0))
		goto out;

	for (done = 0; done < calls; done += bsize) {
		unsigned int n = (unsigned int)(calls - done < bsize ? calls - done : bsize);

		for (i = 0; i < npaths; i++) {
			/* Alternate which program goes first, too. */
			bool kvlb_first = (done / bsize) % 2 == 0;
			int kfd = paths[i].tc ? T.tc_fd : T.xdp_fd;

			c = batch(&paths[i], kvlb_first ? kfd : bounce_fd, kvlb_first, n, &port);
			if (!c)
				c = batch(&paths[i], kvlb_first ? bounce_fd : kfd, !kvlb_first, n,
					  &port);
			if (c) {
				fprintf(stderr, "bench_pkt: %s: BPF_PROG_TEST_RUN failed: %s\n",
					paths[i].name, strerror(-c));
				goto out;
			}
		}
	}
	if (kt_stats(&T, &s1))
		goto out;

	printf("bench-pkt: kvlb XDP program vs. a bare XDP_TX program, same run, same packets\n"
	       "  method: one BPF_PROG_TEST_RUN call per packet (repeat=1), so every timed run\n"
	       "  starts from the original packet; ns = kernel-reported run duration, mean\n"
	       "  (and median) over %lu calls per cell; kvlb and bounce batches of %lu calls\n"
	       "  alternate; first packets use a new source port per call, flow tables\n"
	       "  emptied between batches outside the timing; 64-byte TCP payload; one CPU.\n"
	       "  forwarding: %s\n\n",
	       calls, bsize,
	       routed ? "veth + route + permanent neighbour: FIB hit, XDP_REDIRECT"
		      : "no route (ip(8) unavailable): rewrite, then XDP_PASS");
	printf("%-24s %-13s %13s %13s %7s %9s\n", "path", "kvlb verdict", "kvlb ns/pkt",
	       "bounce ns/pkt", "ratio", "extra ns");
	for (i = 0; i < npaths; i++) {
		struct path *p = &paths[i];
		double k = mean(&p->kvlb), b = mean(&p->bounce);

		printf("%-24s %-13s %7.1f (%4u) %7.1f (%4u) %7.2f %9.1f\n", p->name,
		       vname(p->want, p->tc), k, median(&p->kvlb), b, median(&p->bounce),
		       b > 0 ? k / b : 0, k - b);
		if (p->bad)
			printf("  warning: %llu runs returned another verdict\n", p->bad);
	}
	printf("\n  (mean, median in parentheses; ratio = kvlb mean / bounce mean)\n"
	       "  http rows: VIP mode http. SYN: with MSS, SACK, timestamps, window scale;\n"
	       "  answered from XDP, no state. spliced: a SPLICED connection's segment of 64\n"
	       "  bytes with timestamps (no TS: without options). reply (TC) rows: kvlb's TC\n"
	       "  program in an skb test run, against the same XDP_TX program; the L4 reply\n"
	       "  row (an L4 VIP's flow) is the TC program's own reference.\n");
	printf(
	    "  counters over the run: new flows %llu (first-packet calls %lu + untimed\n"
	    "  established-flow set-up runs %lu), forwarded %llu, to stack %llu, malformed %llu\n",
	    (unsigned long long)(s1.xdp_new_flow - s0.xdp_new_flow), 2 * calls, primes,
	    (unsigned long long)(s1.xdp_forwarded - s0.xdp_forwarded),
	    (unsigned long long)(s1.xdp_forwarded_stack - s0.xdp_forwarded_stack),
	    (unsigned long long)(s1.xdp_malformed - s0.xdp_malformed));
	printf("  http: cookies sent %llu, translated to pod %llu, replies translated %llu\n"
	       "  (redirected %llu), torn down %llu, TC malformed %llu\n",
	       (unsigned long long)(s1.sp_cookie_sent - s0.sp_cookie_sent),
	       (unsigned long long)(s1.sp_xlate_c2s - s0.sp_xlate_c2s),
	       (unsigned long long)(s1.sp_xlate_s2c - s0.sp_xlate_s2c),
	       (unsigned long long)(s1.tc_redirected - s0.tc_redirected),
	       (unsigned long long)(s1.sp_closed - s0.sp_closed),
	       (unsigned long long)(s1.tc_malformed - s0.tc_malformed));
	rc = 0;
	for (i = 0; i < npaths; i++)
		if (paths[i].bad)
			rc = 1;
out:
	bpf_object__close(bounce_obj);
	kt_close(&T);
	return rc;
}

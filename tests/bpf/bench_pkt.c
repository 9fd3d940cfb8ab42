// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_pkt - the per-packet cost of kvlb's XDP program, as a ratio to a
 * bare XDP_TX program measured in the same run.
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

#include "kvlb.h"
#include "harness.h"
#include "pktbuild.h"

#define HIST_MAX 8192 /* ns; slower runs land in the last bucket */

struct cell {
	unsigned long long sum_ns, n;
	unsigned int hist[HIST_MAX];
};

struct path {
	const char *name;
	struct pb_spec pkt;
	bool new_flow; /* a fresh source port per call */
	uint32_t want; /* kvlb's verdict for it */
	struct cell kvlb, bounce;
	unsigned long long bad; /* runs with another verdict */
};

static struct kt T;
static uint32_t ifindex;
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
	static const struct {
		const char *vip, *be;
		uint8_t family;
	} svc[] = {{"192.0.2.1", "203.0.113.11", 4}, {"2001:db8:a::1", "2001:db8:b::11", 6}};
	uint32_t i, port = 80, one = 1;
	int err;

	for (i = 0; i < 2; i++) {
		struct kvlb_vip_key vk = {.port = htons(80), .proto = 6};
		struct kvlb_vip v = {.index = i, .ring_slot = i * 2, .n_backends = 1};
		struct kvlb_backend be = {
		    .port = htons(8000), .vip_index = i, .weight = 1, .flags = KVLB_BE_F_IN_USE};

		vk.family = be.family = svc[i].family == 6 ? KVLB_AF_INET6 : KVLB_AF_INET;
		pb_addr(svc[i].vip, svc[i].family, (uint8_t *)&vk.addr);
		pb_addr(svc[i].be, svc[i].family, (uint8_t *)&be.addr);
		if (bpf_map_update_elem(T.vips, &vk, &v, BPF_ANY) ||
		    bpf_map_update_elem(T.vip_ports, &port, &one, BPF_ANY) ||
		    bpf_map_update_elem(T.backends, &i, &be, BPF_ANY))
			return -errno;
		err = kt_fill_slot(&T, i * 2, i);
		if (err)
			return err;
	}
	return 0;
}

static int run(int fd, const uint8_t *pkt, size_t len, uint32_t *ret, uint32_t *dur)
{
	uint8_t out[PB_MAX_LEN + 256];
	size_t olen = sizeof(out);

	return kt_run_xdp(fd, pkt, len, ifindex, out, &olen, ret, dur);
}

/* One batch of `calls` runs of prog on path p; port is the running source port. */
static int batch(struct path *p, int fd, bool is_kvlb, unsigned int calls, unsigned int *port)
{
	uint8_t pkt[PB_MAX_LEN];
	struct pb_spec s = p->pkt;
	size_t len = pb_build(&s, pkt, sizeof(pkt), NULL);
	unsigned int i;
	uint32_t ret, dur;
	int err;

	if (!len)
		return -EINVAL;
	if (!p->new_flow && is_kvlb) {
		/* Make sure the flow exists (an untimed run), whatever came before. */
		err = run(fd, pkt, len, &ret, &dur);
		if (err)
			return err;
		primes++;
	}
	for (i = 0; i < calls; i++) {
		if (p->new_flow) {
			/* A tuple the flow table has not seen since it was last
			 * emptied: the placement path, on both programs alike.
			 * Ports stay below the established flows' 40000. */
			s.sport = (uint16_t)(1024 + (*port)++ % 38000);
			len = pb_build(&s, pkt, sizeof(pkt), NULL);
		}
		err = run(fd, pkt, len, &ret, &dur);
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

static const char *vname(uint32_t v)
{
	static const char *const n[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					"XDP_REDIRECT"};
	return v < 5 ? n[v] : "?";
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bench_pkt [--obj-dir DIR] [--bounce OBJ] [--calls N] [--batch N]\n"
		"\n"
		"Measures the per-packet cost of kvlb's XDP program (kvlb_xdp.bpf.o) against a\n"
		"minimal program that only returns XDP_TX, in the same run, and prints ns/packet\n"
		"for both and their ratio, for IPv4 and IPv6, on an established flow and on a\n"
		"flow's first packet (backend placement).\n"
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
	if (kt_load(&T, obj_dir))
		return 1;
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
		paths[i].want = routed ? XDP_REDIRECT : XDP_PASS;
	}
	if (kt_stats(&T, &s0))
		goto out;

	for (done = 0; done < calls; done += bsize) {
		unsigned int n = (unsigned int)(calls - done < bsize ? calls - done : bsize);

		for (i = 0; i < npaths; i++) {
			/* Alternate which program goes first, too. */
			bool kvlb_first = (done / bsize) % 2 == 0;

			if (batch(&paths[i], kvlb_first ? T.xdp_fd : bounce_fd, kvlb_first, n,
				  &port) ||
			    batch(&paths[i], kvlb_first ? bounce_fd : T.xdp_fd, !kvlb_first, n,
				  &port)) {
				fprintf(stderr, "bench_pkt: BPF_PROG_TEST_RUN failed: %s\n",
					strerror(errno));
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
	printf("%-22s %-13s %13s %13s %7s %9s\n", "path", "kvlb verdict", "kvlb ns/pkt",
	       "bounce ns/pkt", "ratio", "extra ns");
	for (i = 0; i < npaths; i++) {
		struct path *p = &paths[i];
		double k = mean(&p->kvlb), b = mean(&p->bounce);

		printf("%-22s %-13s %7.1f (%4u) %7.1f (%4u) %7.2f %9.1f\n", p->name, vname(p->want),
		       k, median(&p->kvlb), b, median(&p->bounce), b > 0 ? k / b : 0, k - b);
		if (p->bad)
			printf("  warning: %llu runs returned another verdict\n", p->bad);
	}
	printf("\n  (mean, median in parentheses; ratio = kvlb mean / bounce mean)\n");
	printf(
	    "  counters over the run: new flows %llu (first-packet calls %lu + untimed\n"
	    "  established-flow set-up runs %lu), forwarded %llu, to stack %llu, malformed %llu\n",
	    (unsigned long long)(s1.xdp_new_flow - s0.xdp_new_flow), 2 * calls, primes,
	    (unsigned long long)(s1.xdp_forwarded - s0.xdp_forwarded),
	    (unsigned long long)(s1.xdp_forwarded_stack - s0.xdp_forwarded_stack),
	    (unsigned long long)(s1.xdp_malformed - s0.xdp_malformed));
	rc = 0;
	for (i = 0; i < npaths; i++)
		if (paths[i].bad)
			rc = 1;
out:
	bpf_object__close(bounce_obj);
	kt_close(&T);
	return rc;
}

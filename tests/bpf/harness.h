/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Loading kvlb's BPF objects for tests and benchmarks, without attaching
 * them anywhere: the programs are run with BPF_PROG_TEST_RUN.
 *
 * Pinning is switched off (no bpffs needed, nothing left behind): the XDP
 * object creates the maps and the TC object reuses their fds, which is what
 * pinning by name achieves for kvlbd.
 */
#ifndef KVLB_TEST_HARNESS_H
#define KVLB_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>
#include <bpf/libbpf.h>

#include "kvlb.h"

struct kt {
	struct bpf_object *xdp_obj;
	struct bpf_object *tc_obj;
	int xdp_fd;							    /* kvlb_xdp program */
	int tc_fd;							    /* kvlb_tc program */
	int vips, vip_ports, backends, ring, flows, nat_rev, stats, config; /* map fds */
};

/* What a test program's command line gave (see kt_start). */
struct kt_args {
	const char *obj_dir; /* --obj-dir DIR, default "build" */
	const char *pattern; /* PATTERN, or NULL for every scenario */
	bool verbose;	     /* -v: hex dumps, libbpf's messages */
};

/*
 * The start every BPF test program shares: its options (--obj-dir, -v, -h
 * and one PATTERN), root, a network namespace of its own, kvlb's objects
 * loaded into t. What cannot be done is reported as "SKIP suite: why" or
 * "FAIL suite-load: why". Returns -1 to go on, else the exit status to
 * return at once.
 */
int kt_start(struct kt *t, const char *suite, int argc, char **argv, void (*usage)(FILE *),
	     struct kt_args *a);

/* Open and load build objects from obj_dir. Returns 0 or a negative errno
 * (with a message on stderr). */
int kt_load(struct kt *t, const char *obj_dir);
void kt_close(struct kt *t);

/* Load a one-program object (e.g. the benchmark's bounce program); returns
 * the program fd or a negative errno. */
int kt_load_single(const char *path, struct bpf_object **objp);

/* Sum of the per-CPU counters. */
int kt_stats(const struct kt *t, struct kvlb_stats *out);

/* Set every entry of ring slot `slot` to backend `id`. */
int kt_fill_slot(const struct kt *t, uint32_t slot, uint32_t id);

/* Delete every entry of a hash map. */
int kt_clear_map(int map_fd, size_t key_size);

/*
 * One BPF_PROG_TEST_RUN call with repeat=1. For XDP, ifindex (if non-zero)
 * becomes ctx ingress_ifindex; for TC, the skb's ingress_ifindex. *out_len
 * is the capacity in, the output length out. Returns 0 or a negative errno.
 */
int kt_run_xdp(int prog_fd, const void *in, size_t len, uint32_t ifindex, void *out,
	       size_t *out_len, uint32_t *retval, uint32_t *duration);
int kt_run_tc(int prog_fd, const void *in, size_t len, uint32_t ifindex, void *out, size_t *out_len,
	      uint32_t *retval, uint32_t *duration);

/* Move the calling process into a new, empty network namespace. */
int kt_enter_netns(void);

/* Run a shell command quietly; returns 0 when it succeeded. */
int kt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write a value to a file under /proc/sys (the caller's netns). */
int kt_sysctl(const char *path, const char *val);

/*
 * The forwarding fixture in the current netns: ingress device "kvin"
 * (02:00:00:00:aa:01), pod device "kvpod" (02:00:00:00:bb:01), each one end
 * of a veth pair, forwarding on, and these routes:
 *   203.0.113.11/32, 2001:db8:b::11/128 dev kvpod, neighbour 02:00:00:00:00:11
 *   203.0.113.12/32 dev kvin, neighbour 02:00:00:00:00:12 (same link: XDP_TX)
 *   203.0.113.14/32 dev kvpod, no neighbour
 *   198.51.100.0/24, 2001:db8:c::/64 dev kvin, neighbours for .1 / ::1 02:00:00:00:cc:01
 * Needs the `ip` command. Returns 0, or -1 with the failing command in err.
 */
int kt_net_setup(char *err, size_t errlen);

#endif

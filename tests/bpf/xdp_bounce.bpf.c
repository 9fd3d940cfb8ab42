// SPDX-License-Identifier: GPL-2.0-only
/*
 * The cheapest XDP program that still sends the frame back out (XDP_TX):
 * the benchmark's baseline, so kvlb's cost reads as a ratio to it rather
 * than as nanoseconds that depend on the machine.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_bounce(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";

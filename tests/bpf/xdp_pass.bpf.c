// SPDX-License-Identifier: GPL-2.0-only
/*
 * xdp_pass: attached by scripts/topo.sh to the client's veth, because veth
 * delivers frames another veth sends with XDP_TX (kvlb's SYN cookies and
 * ACKs) only to a peer that runs an XDP program. A NIC needs nothing.
 */
#include "common.bpf.h"

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

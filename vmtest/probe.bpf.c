// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * probe.bpf.c - the smallest XDP and TC programs vmtest attaches inside the
 * guest. They prove that the guest kernel accepts a program of each hook and
 * actually runs it on a veth, independently of kvlb's own programs, so a
 * failure points at the kernel or the guest setup rather than at kvlb.
 *
 * Both count IPv4 ICMP echo requests into one array map; the guest reads the
 * count with bpftool after pinging across the veth.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum { PROBE_XDP, PROBE_TC, PROBE_NR };

/* linux/icmp.h drags in libc headers that do not exist for the BPF target. */
#define PROBE_IPPROTO_ICMP 1
#define PROBE_ICMP_ECHO	   8
struct probe_icmp {
	__u8 type;
	__u8 code;
	__u16 csum;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROBE_NR);
	__type(key, __u32);
	__type(value, __u64);
} probe_echo SEC(".maps");

static __always_inline void count_echo(void *data, void *data_end, __u32 slot)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct probe_icmp *icmp;
	__u64 *n;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return;
	if (ip->protocol != PROBE_IPPROTO_ICMP || ip->ihl != 5)
		return;
	icmp = (void *)(ip + 1);
	if ((void *)(icmp + 1) > data_end || icmp->type != PROBE_ICMP_ECHO)
		return;
	n = bpf_map_lookup_elem(&probe_echo, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("xdp")
int probe_xdp(struct xdp_md *ctx)
{
	count_echo((void *)(long)ctx->data, (void *)(long)ctx->data_end, PROBE_XDP);
	return XDP_PASS;
}

SEC("tc")
int probe_tc(struct __sk_buff *skb)
{
	count_echo((void *)(long)skb->data, (void *)(long)skb->data_end, PROBE_TC);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

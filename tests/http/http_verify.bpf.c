// SPDX-License-Identifier: GPL-2.0-only
/*
 * Proof that the HTTP front parser (bpf/http.h) and the HTTP-aware choice
 * (bpf/choose.h) compile for BPF, pass the verifier, and compute in the
 * kernel what they compute in userspace.
 *
 * http_feed: an XDP program run by BPF_PROG_TEST_RUN on a frame whose
 * payload (after a 14-byte Ethernet header) is one segment of a request.
 * The parser state lives in the http_state map across runs, as it will
 * live in a flow's entry between held segments; the knobs come from
 * kvlb_config. Once the request is ready, it calls choose_backend_http and
 * writes the outcome to http_choice.
 */
#include "common.bpf.h"
#include "maps.bpf.h"
#include "choose.h"

#define SEG_MAX 4096 /* bytes of one segment copied out of the frame; a power of 2 */

struct http_choice {
	__u32 ready;   /* HTTP_* readiness */
	__u32 backend; /* choose_backend_http's answer (when ready) */
	__u32 why;     /* CHOSE_* */
	__u32 runs;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_state);
} http_state_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_choice);
} http_choice SEC(".maps");

/* The segment's bytes, copied out of the frame so the loop indexes a map
 * value instead of re-proving packet bounds per byte. */
struct seg {
	__u8 b[SEG_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct seg);
} http_seg SEC(".maps");

struct feed_ctx {
	struct http_state *st;
	struct seg *seg;
};

static long feed_cb(__u32 i, void *ctx)
{
	struct feed_ctx *f = ctx;

	http_byte(f->st, f->seg->b[i & (SEG_MAX - 1)]);
	return 0;
}

SEC("xdp")
int http_feed(struct xdp_md *ctx)
{
	struct kvlb_flow_key k = {};
	struct kvlb_vip vip = {.index = 0, .ring_slot = 0};
	struct http_choice *out;
	struct kvlb_config *cfg;
	struct feed_ctx f;
	__u32 zero = 0;
	__u64 len;

	len = (__u64)ctx->data_end - ctx->data;
	f.st = bpf_map_lookup_elem(&http_state_map, &zero);
	f.seg = bpf_map_lookup_elem(&http_seg, &zero);
	cfg = bpf_map_lookup_elem(&kvlb_config, &zero);
	out = bpf_map_lookup_elem(&http_choice, &zero);
	if (!f.st || !f.seg || !cfg || !out || len <= ETH_HLEN)
		return XDP_ABORTED;
	len -= ETH_HLEN;
	if (len >= SEG_MAX)
		return XDP_ABORTED;
	/* Make both bounds visible to the verifier on the register the
	 * helper gets, whatever the compiler kept it in: 1..SEG_MAX, as an
	 * identity on len (1..SEG_MAX-1 here). 6.1 does not learn a minimum
	 * from a "len != 0" test on a masked value; it does from this. */
	asm volatile("" : "+r"(len));
	len = ((len - 1) & (SEG_MAX - 1)) + 1;
	if (bpf_xdp_load_bytes(ctx, ETH_HLEN, f.seg->b, len))
		return XDP_ABORTED;
	/* A zeroed state is a new request. */
	if (!f.st->chain.chunk_size)
		http_init(f.st, cfg->chunk_size, cfg->prefix_depth, cfg->affinity_header);
	bpf_loop(len, feed_cb, &f, 0);
	out->runs++;
	out->ready = http_ready(f.st, cfg->hold_limit);
	if (out->ready != HTTP_WAIT)
		out->backend = choose_backend_http(&vip, &k, f.st, cfg, &out->why);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvlb_xdp: the uplink. A packet for a VIP is bound to a backend (its flow's,
 * or a new one from the VIP's ring), rewritten to the backend's address and
 * redirected to the pod's link. Everything else passes untouched.
 */
#include "common.bpf.h"
#include "maps.bpf.h"
#include "stats.h"
#include "parse.h"
#include "choose.h"
#include "flow.h"
#include "nat.h"
#include "fwd.h"
#include "splice_client.h"

/* The backend an existing flow is bound to, while it still serves the
 * flow's VIP: its slot may have been freed (backend or VIP deleted) and even
 * taken by another VIP's backend since. */
static __always_inline struct kvlb_backend *flow_backend(const struct kvlb_flow *f)
{
	__u32 id = f->backend_id;
	struct kvlb_backend *be = bpf_map_lookup_elem(&kvlb_backends, &id);

	if (be && (be->flags & KVLB_BE_F_IN_USE) && be->vip_index == f->vip_index)
		return be;
	return NULL;
}

/* A new placement: a connection's first packet, a flow the LRU evicted, or
 * one whose backend was removed. */
static __noinline struct kvlb_flow *place_flow(struct pkt *p, const struct kvlb_vip *vip,
					       struct kvlb_stats *st, struct kvlb_backend **bep)
{
	__u32 id = choose_backend_l4(vip, &p->key);
	struct kvlb_backend *be = bpf_map_lookup_elem(&kvlb_backends, &id);
	struct kvlb_flow *f;

	if (!be || !(be->flags & KVLB_BE_F_IN_USE))
		return NULL;
	f = flow_create(&p->key, vip, id, be);
	if (f)
		STAT_INC(st, xdp_new_flow);
	*bep = be;
	return f;
}

SEC("xdp")
int kvlb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct kvlb_stats *st = stats_get();
	struct kvlb_backend *be = NULL;
	struct kvlb_splice *sp = NULL;
	struct kvlb_flow *f = NULL;
	struct kvlb_vip *vip;
	struct pkt p = {};
	bool to_stack, syn, http_only;
	__u32 ports;
	int verdict;

	STAT_INC(st, xdp_rx);
	switch (parse_packet(data, data_end, &p)) {
	case PARSE_OK:
		break;
	case PARSE_NOT_IP:
		STAT_INC(st, xdp_not_ip);
		return XDP_PASS;
	case PARSE_NOT_TCP:
		STAT_INC(st, xdp_not_vip);
		return XDP_PASS;
	case PARSE_FRAGMENT:
		STAT_INC(st, xdp_fragment);
		return XDP_PASS;
	default:
		STAT_INC(st, xdp_malformed);
		return XDP_DROP;
	}

	/* Traffic to a port no VIP listens on is told apart by an array
	 * index. A SYN there may reuse the tuple of a balanced connection
	 * still in the LRU (a client reaching a pod directly). */
	syn = tcp_syn_only(&p);
	ports = vip_port_vips(p.key.dport);
	if (!KVLB_PORT_VIPS(ports)) {
		if (syn)
			flow_forget_reverse(&p.key);
		STAT_INC(st, xdp_not_vip);
		return XDP_PASS;
	}

	/* An established connection needs no VIP lookup, and one lookup
	 * finds it: on a port of HTTP VIPs only, in the splice table first.
	 * A SYN is always placed anew: its tuple may be a reused one, bound
	 * to a drained backend. */
	http_only = KVLB_PORT_HTTP(ports) == KVLB_PORT_VIPS(ports);
	if (!syn && http_only)
		sp = bpf_map_lookup_elem(&kvlb_splice, &p.key);
	if (!sp && !syn) {
		f = flow_lookup(&p.key);
		if (f)
			be = flow_backend(f);
		/* (a VIP whose mode changed keeps its spliced connections) */
		if (!be && !http_only)
			sp = bpf_map_lookup_elem(&kvlb_splice, &p.key);
	}
	if (sp)
		return splice_finish(ctx, &p, splice_client(ctx, &p, sp, st), st);
	if (!be) {
		vip = lookup_vip(&p.key);
		if (!vip) {
			if (syn)
				flow_forget_reverse(&p.key);
			STAT_INC(st, xdp_not_vip);
			return XDP_PASS;
		}
		/* An HTTP VIP binds after reading the request: the handshake
		 * is kvlb's, answered with a cookie. */
		if (vip->flags & KVLB_VIP_F_HTTP) {
			if (syn)
				return splice_syn(ctx, &p, st);
			return splice_finish(ctx, &p, splice_cookie_ack(ctx, &p, vip, st), st);
		}
		if (f)
			STAT_INC(st, xdp_stale_backend);
		f = place_flow(&p, vip, st, &be);
		if (!f || !be) {
			STAT_INC(st, xdp_no_backend);
			return XDP_DROP;
		}
	}
	if (p.ip_options)
		STAT_INC(st, xdp_ip_options);
	if (p.vlan_tags)
		STAT_INC(st, xdp_vlan);

	if (nat_dst_xdp(data, data_end, &p, be)) {
		STAT_INC(st, xdp_malformed);
		return XDP_DROP;
	}

	verdict = xdp_forward(ctx, &p, &f->nh, be, &to_stack);
	if (verdict == XDP_DROP) {
		STAT_INC(st, xdp_malformed);
		return verdict;
	}
	if (to_stack)
		STAT_INC(st, xdp_forwarded_stack);
	else
		STAT_INC(st, xdp_forwarded);
	STAT_ADD(st, xdp_bytes, p.len);
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";

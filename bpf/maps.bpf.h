/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every map of kvlb's data path. Pinned by name under the pin root that
 * kvlbd passes to libbpf, so the XDP and TC objects share them and an
 * agent restart adopts them.
 */
#ifndef KVLB_MAPS_BPF_H
#define KVLB_MAPS_BPF_H

#include "common.bpf.h"
#include "hold.h"

/* Service addresses. Written by kvlbd/kvlbctl; read by XDP per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVLB_MAX_VIPS);
	__type(key, struct kvlb_vip_key);
	__type(value, struct kvlb_vip);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_vips SEC(".maps");

/* How many VIPs listen on each TCP port (index: port in host order).
 * Written by kvlbd/kvlbctl with kvlb_vips; read by XDP per packet, so that
 * traffic to other ports is told apart by an array index, not a hash
 * lookup, and an established flow needs no VIP lookup at all. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_vip_ports SEC(".maps");

/* Backends by id. Written by kvlbd/kvlbctl; read by XDP when placing and
 * forwarding a flow. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct kvlb_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_backends SEC(".maps");

/* Maglev tables, two slots per VIP (see kvlb.h). Built in userspace;
 * read by XDP for new flows. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVLB_RING_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_ring SEC(".maps");

/* Client -> VIP connections and the backend each is bound to. Written by
 * XDP on a flow's first packet; LRU, so idle flows age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVLB_MAX_FLOWS);
	__type(key, struct kvlb_flow_key);
	__type(value, struct kvlb_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_flows SEC(".maps");

/* Backend -> client direction of the same connections: the VIP the replies
 * must come from. Written by XDP with the flow; read by TC. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVLB_MAX_FLOWS);
	__type(key, struct kvlb_flow_key);
	__type(value, struct kvlb_nat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_nat_rev SEC(".maps");

/* Outcome counters, per CPU so the fast path never shares a cache line. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvlb_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_stats SEC(".maps");

/* Live tunables (one entry). Written by kvlbctl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvlb_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_config SEC(".maps");

/* Load per backend id. The scraper in kvlbd writes the scraped fields; the
 * data path adds what it binds to bound_tokens (see kvlb.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct kvlb_backend_load);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_backend_load SEC(".maps");

/* The learned prefix table: chunk-chain hash -> backend it was sent to.
 * Written by the HTTP-aware choice; LRU, so cold conversations age out;
 * flushed by kvlbctl. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVLB_MAX_PREFIXES);
	__type(key, __u64);
	__type(value, struct kvlb_prefix_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_prefix SEC(".maps");

/* Delayed-binding connections to HTTP VIPs, keyed like kvlb_flows (client
 * -> VIP). Written by XDP from the cookie-checked ACK on, and by TC when the
 * pod answers; LRU, and kvlbd sweeps closed and idle ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVLB_MAX_FLOWS);
	__type(key, struct kvlb_flow_key);
	__type(value, struct kvlb_splice);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_splice SEC(".maps");

/* Request fronts being held (see bpf/hold.h). Allocated on demand: a slot
 * is 21 KB and lives only from the handshake until the pod acknowledged
 * what kvlb acknowledged for it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVLB_MAX_HOLDS);
	__type(key, struct kvlb_flow_key);
	__type(value, struct kvlb_hold);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_hold SEC(".maps");

/* One all-zero kvlb_hold, never written: the source a new slot is copied
 * from (a value this size cannot be built on the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvlb_hold);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_hold_zero SEC(".maps");

/* The SYN-cookie key. Written once by kvlbd. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvlb_secret);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvlb_secret SEC(".maps");

#endif

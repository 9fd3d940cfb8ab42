// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness for the HTTP/JSON front parser (bpf/http.h), the
 * prefix chain and the HTTP-aware choice (bpf/choose.h).
 *
 * For every input: parse it whole; parse it again in segments cut where a
 * hash of the input says; the two states must be identical (the data path
 * sees arbitrary segmentation). Then invariants that hostile input must
 * never break, and a choice over array-backed maps that must name a
 * backend of the VIP or none. Knobs (chunk size, depth) are derived from
 * the input too, so the corpus explores them.
 *
 *   make fuzz                               a long run
 *   build/tests/fuzz_http -runs=N corpus/   what tests/cases/45-http-fuzz.sh does
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "bpf_shim.h"
#include "choose.h"

#define NB 5

static void fail(const char *why, size_t len)
{
	fprintf(stderr, "fuzz_http: %s (input of %zu bytes)\n", why, len);
	abort();
}

static void maps_setup(void)
{
	__u32 i, id;

	fake_maps_init();
	for (i = 0; i < NB; i++) {
		struct kvlb_backend b = {.flags = KVLB_BE_F_IN_USE, .weight = 1, .vip_index = 0};

		if (i == 3)
			b.flags |= KVLB_BE_F_DRAINING;
		bpf_map_update_elem(&kvlb_backends, &i, &b, 0);
	}
	for (i = 0; i < KVLB_RING_SIZE; i++) {
		id = i % NB;
		bpf_map_update_elem(&kvlb_ring, &i, &id, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static bool ready;
	static struct http_state whole, split;
	struct kvlb_vip vip = {.index = 0, .ring_slot = 0};
	struct kvlb_flow_key k = {.proto = 6, .family = KVLB_AF_INET};
	struct kvlb_config cfg = {
	    .load_bound_pct = KVLB_DEF_LOAD_BOUND_PCT,
	    .walk_limit = KVLB_DEF_WALK_LIMIT,
	    .load_slack = 100,
	    .affinity_header = "x-session-id",
	};
	__u64 h = PFX_FNV_BASIS;
	size_t i, at = 0;
	__u32 id, why;

	if (!ready) {
		maps_setup();
		ready = true;
	}
	if (len > 1 << 16)
		return 0;
	for (i = 0; i < len; i++)
		h = pfx_fnv_byte(h, data[i]);
	h = pfx_mix64(h);
	cfg.chunk_size = 1 + h % 97;
	cfg.prefix_depth = (h >> 8) % (PFX_MAX_DEPTH + 4); /* also beyond the maximum */

	memset(&whole, 0, sizeof(whole));
	http_init(&whole, cfg.chunk_size, cfg.prefix_depth, cfg.affinity_header);
	if (http_feed(&whole, data, len) > len)
		fail("consumed more than given", len);

	memset(&split, 0, sizeof(split));
	http_init(&split, cfg.chunk_size, cfg.prefix_depth, cfg.affinity_header);
	while (at < len) {
		size_t n = 1 + (h & 31);

		h = pfx_mix64(h + at);
		if (n > len - at)
			n = len - at;
		http_feed(&split, data + at, n);
		at += n;
	}
	if (memcmp(&whole, &split, sizeof(whole)))
		fail("segmented parse differs from the whole parse", len);

	/* Invariants. */
	if (whole.consumed > len || whole.s > HS_ERROR || (whole.s == HS_ERROR) != (whole.err != 0))
		fail("state out of range", len);
	if (whole.chain.n > whole.chain.depth_max || whole.chain.depth_max > PFX_MAX_DEPTH ||
	    pfx_len(&whole.chain) > PFX_MAX_DEPTH)
		fail("chain longer than its depth", len);
	if (whole.body_seen > len || whole.hdr_len > len)
		fail("counts past the input", len);
	if ((whole.flags & HTTP_F_CHUNKED) && (whole.flags & HTTP_F_CONTENT_LEN) &&
	    whole.s >= HS_BODY && whole.s != HS_ERROR)
		fail("read a body framed by both Content-Length and chunked", len);

	id = choose_backend_http(&vip, &k, &whole, &cfg, &why);
	if (id != KVLB_NO_BACKEND && (id >= NB || id == 3) && why != CHOSE_L4 &&
	    why != CHOSE_NO_KEY)
		fail("chose a backend that is not usable", len);
	if (why > CHOSE_L4)
		fail("unknown reason", len);
	if (kvlb_prefix.updates > 3000)
		fake_map_clear(&kvlb_prefix);
	return 0;
}

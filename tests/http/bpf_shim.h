/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Just enough of the BPF environment to compile bpf/choose.h as userspace
 * C: the maps become plain arrays behind bpf_map_lookup_elem and
 * bpf_map_update_elem, bpf_loop a for loop, the clock a counter. Include
 * it before choose.h; it stands in for common.bpf.h and maps.bpf.h.
 */
#ifndef KVLB_BPF_SHIM_H
#define KVLB_BPF_SHIM_H

/* Keep the real BPF headers out. */
#define KVLB_COMMON_BPF_H
#define KVLB_MAPS_BPF_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "kvlb.h"
#include "cshim.h"

#define BPF_ANY 0
#include <arpa/inet.h>
#define bpf_ntohs(x) ntohs(x)

enum { FAKE_ARRAY, FAKE_HASH };

/* A map: arrays index by a __u32 key; hashes search their used slots. */
struct fake_map {
	int type;
	__u32 key_size, value_size, max;
	unsigned char *keys, *vals;
	bool *used;
	__u64 updates;
};

static struct fake_map kvlb_vips, kvlb_vip_ports, kvlb_backends, kvlb_ring, kvlb_backend_load,
    kvlb_prefix;

static void fake_map_init(struct fake_map *m, int type, __u32 ks, __u32 vs, __u32 max)
{
	m->type = type;
	m->key_size = ks;
	m->value_size = vs;
	m->max = max;
	m->keys = calloc(max, ks);
	m->vals = calloc(max, vs);
	m->used = calloc(max, sizeof(bool));
	m->updates = 0;
	if (!m->keys || !m->vals || !m->used)
		abort();
}

static void fake_map_clear(struct fake_map *m)
{
	memset(m->keys, 0, (size_t)m->max * m->key_size);
	memset(m->vals, 0, (size_t)m->max * m->value_size);
	memset(m->used, 0, m->max * sizeof(bool));
	m->updates = 0;
}

static void fake_maps_init(void)
{
	fake_map_init(&kvlb_backends, FAKE_ARRAY, 4, sizeof(struct kvlb_backend),
		      KVLB_MAX_BACKENDS);
	fake_map_init(&kvlb_ring, FAKE_ARRAY, 4, 4, KVLB_RING_ENTRIES);
	fake_map_init(&kvlb_backend_load, FAKE_ARRAY, 4, sizeof(struct kvlb_backend_load),
		      KVLB_MAX_BACKENDS);
	fake_map_init(&kvlb_prefix, FAKE_HASH, 8, sizeof(struct kvlb_prefix_entry), 4096);
}

static long fake_find(struct fake_map *m, const void *key)
{
	__u32 i;

	if (m->type == FAKE_ARRAY) {
		__u32 idx;

		memcpy(&idx, key, 4);
		return idx < m->max ? (long)idx : -1;
	}
	for (i = 0; i < m->max; i++)
		if (m->used[i] && !memcmp(m->keys + (size_t)i * m->key_size, key, m->key_size))
			return i;
	return -1;
}

static void *bpf_map_lookup_elem(void *map, const void *key)
{
	struct fake_map *m = map;
	long i = fake_find(m, key);

	if (i < 0 || (m->type == FAKE_HASH && !m->used[i]))
		return NULL;
	return m->vals + (size_t)i * m->value_size;
}

static long bpf_map_update_elem(void *map, const void *key, const void *val, __u64 flags)
{
	struct fake_map *m = map;
	long i = fake_find(m, key);
	__u32 j;

	(void)flags;
	if (i < 0 && m->type == FAKE_HASH) {
		for (j = 0; j < m->max && m->used[j]; j++)
			;
		if (j == m->max)
			return -7; /* -E2BIG; the real map is LRU */
		i = j;
		memcpy(m->keys + (size_t)i * m->key_size, key, m->key_size);
	}
	if (i < 0)
		return -22;
	m->used[i] = true;
	memcpy(m->vals + (size_t)i * m->value_size, val, m->value_size);
	m->updates++;
	return 0;
}

static __u64 fake_clock;

static __u64 bpf_ktime_get_ns(void)
{
	return ++fake_clock;
}

static long bpf_loop(__u32 n, long (*cb)(__u32, void *), void *ctx, __u64 flags)
{
	__u32 i;

	(void)flags;
	for (i = 0; i < n; i++)
		if (cb(i, ctx))
			return i + 1;
	return n;
}

#endif

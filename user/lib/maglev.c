// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weighted Maglev table construction.
 *
 * Backends are visited in the order of their keys, not of their ids or of
 * the caller's array, so the same set of backends always yields the same
 * table: kvlbd rebuilding the rings after a restart, and kvlbctl editing
 * them live, agree slot for slot.
 *
 * Weights are honoured with credits rather than by giving a backend w turns
 * in a row: each round the heaviest backend takes one turn and a backend of
 * weight w earns w/wmax of a turn. Turns stay interleaved, which keeps the
 * "remove one backend, move about 1/N" property for weighted sets too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kvlb.h"
#include "maglev.h"

/* Seeds of the two permutation parameters; part of the ring's identity. */
#define SEED_OFFSET 0x6b766c622d6f6666ull /* "kvlb-off" */
#define SEED_SKIP   0x6b766c622d736b70ull /* "kvlb-skp" */

static __u64 mix64(__u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* FNV-1a over the bytes, then a strong finaliser so that nearby inputs
 * (addresses one apart) land far apart. Byte-wise, so the value does not
 * depend on the host's endianness. */
__u64 kvlb_hash64(const void *data, size_t len, __u64 seed)
{
	const unsigned char *p = data;
	__u64 h = 0xcbf29ce484222325ull ^ mix64(seed);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return mix64(h ^ len);
}

static int is_prime(__u32 n)
{
	__u32 d;

	if (n < 2)
		return 0;
	if (n % 2 == 0)
		return n == 2;
	for (d = 3; (__u64)d * d <= n; d += 2)
		if (n % d == 0)
			return 0;
	return 1;
}

struct perm {
	__u32 id;
	__u64 key;
	__u64 weight;
	__u64 credit;
	__u32 offset;
	__u32 skip;
	__u32 next; /* j of the next permutation entry to try */
};

static int perm_cmp(const void *a, const void *b)
{
	const struct perm *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

static void key_bytes(__u64 key, unsigned char out[8])
{
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (unsigned char)(key >> (8 * i));
}

int kvlb_maglev_build(const struct kvlb_maglev_backend *b, int n, __u32 *table, __u32 size)
{
	struct perm *p;
	__u64 wmax = 0;
	__u32 filled = 0, i;
	int m = 0, k;

	if (!is_prime(size) || n < 0 || (n > 0 && !b))
		return -1;
	for (i = 0; i < size; i++)
		table[i] = KVLB_NO_BACKEND;
	p = calloc(n > 0 ? (size_t)n : 1, sizeof(*p));
	if (!p)
		return -1;
	for (k = 0; k < n; k++) {
		unsigned char kb[8];

		if (!b[k].weight || b[k].id == KVLB_NO_BACKEND)
			continue;
		key_bytes(b[k].key, kb);
		p[m].id = b[k].id;
		p[m].key = b[k].key;
		p[m].weight = b[k].weight;
		p[m].offset = (__u32)(kvlb_hash64(kb, sizeof(kb), SEED_OFFSET) % size);
		p[m].skip =
		    size > 1 ? (__u32)(kvlb_hash64(kb, sizeof(kb), SEED_SKIP) % (size - 1)) + 1 : 1;
		if (p[m].weight > wmax)
			wmax = p[m].weight;
		m++;
	}
	if (m == 0) {
		free(p);
		return 0;
	}
	qsort(p, (size_t)m, sizeof(*p), perm_cmp);

	while (filled < size) {
		for (k = 0; k < m && filled < size; k++) {
			__u64 slot;

			p[k].credit += p[k].weight;
			if (p[k].credit < wmax)
				continue;
			p[k].credit -= wmax;
			/* Walk this backend's permutation to its next free slot;
			 * skip is non-zero mod a prime, so every slot is reached. */
			do {
				slot = ((__u64)p[k].offset + (__u64)p[k].next * p[k].skip) % size;
				p[k].next++;
			} while (table[slot] != KVLB_NO_BACKEND);
			table[slot] = p[k].id;
			filled++;
		}
	}
	free(p);
	return 0;
}

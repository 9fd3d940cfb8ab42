// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cache.c - hash-chained block cache with pinning and LRU eviction. */
#include <stdlib.h>

#include "cache.h"
#include "tokenizer.h"

struct cache_entry {
	uint64_t hash;
	uint32_t chain;	     /* next entry in the same bucket, or next free entry */
	uint32_t prev, next; /* LRU links, valid while refs == 0 */
	uint32_t refs;
};

int cache_init(struct emu_cache *c, uint32_t capacity)
{
	uint32_t i;

	*c = (struct emu_cache){.capacity = capacity, .lru_head = CACHE_NIL, .lru_tail = CACHE_NIL};
	c->nbuckets = 1;
	/* load factor at most 1/2 keeps chains short */
	while (c->nbuckets < capacity * 2ULL && c->nbuckets < (1U << 31))
		c->nbuckets <<= 1;
	c->buckets = malloc(sizeof(*c->buckets) * c->nbuckets);
	c->entries = calloc(capacity ? capacity : 1, sizeof(*c->entries));
	if (!c->buckets || !c->entries) {
		cache_destroy(c);
		return -1;
	}
	for (i = 0; i < c->nbuckets; i++)
		c->buckets[i] = CACHE_NIL;
	for (i = 0; i < capacity; i++)
		c->entries[i].chain = i + 1 < capacity ? i + 1 : CACHE_NIL;
	c->free_list = capacity ? 0 : CACHE_NIL;
	return 0;
}

void cache_destroy(struct emu_cache *c)
{
	free(c->buckets);
	free(c->entries);
	c->buckets = NULL;
	c->entries = NULL;
}

size_t cache_full_blocks(size_t len, uint32_t block_tokens)
{
	return block_tokens ? emu_tokens(len) / block_tokens : 0;
}

void cache_block_hashes(const char *text, size_t len, uint32_t block_tokens, uint64_t *out)
{
	size_t n = cache_full_blocks(len, block_tokens),
	       bytes = (size_t)block_tokens * EMU_TOKEN_BYTES;
	uint64_t h = CACHE_ROOT_HASH;
	size_t i;

	for (i = 0; i < n; i++) {
		size_t off = i * bytes, run = len - off < bytes ? len - off : bytes;

		h = emu_hash(h, text + off, run);
		out[i] = h;
	}
}

static uint32_t bucket_of(const struct emu_cache *c, uint64_t hash)
{
	return (uint32_t)(hash ^ (hash >> 32)) & (c->nbuckets - 1);
}

static uint32_t find(const struct emu_cache *c, uint64_t hash)
{
	uint32_t i;

	for (i = c->buckets[bucket_of(c, hash)]; i != CACHE_NIL; i = c->entries[i].chain)
		if (c->entries[i].hash == hash)
			return i;
	return CACHE_NIL;
}

static void lru_unlink(struct emu_cache *c, uint32_t i)
{
	struct cache_entry *e = &c->entries[i];

	if (e->prev != CACHE_NIL)
		c->entries[e->prev].next = e->next;
	else
		c->lru_head = e->next;
	if (e->next != CACHE_NIL)
		c->entries[e->next].prev = e->prev;
	else
		c->lru_tail = e->prev;
}

static void lru_append(struct emu_cache *c, uint32_t i)
{
	struct cache_entry *e = &c->entries[i];

	e->next = CACHE_NIL;
	e->prev = c->lru_tail;
	if (c->lru_tail != CACHE_NIL)
		c->entries[c->lru_tail].next = i;
	else
		c->lru_head = i;
	c->lru_tail = i;
}

static void pin(struct emu_cache *c, uint32_t i)
{
	if (c->entries[i].refs++ == 0) {
		lru_unlink(c, i);
		c->pinned++;
	}
}

static void unhash(struct emu_cache *c, uint32_t i)
{
	uint32_t *pp = &c->buckets[bucket_of(c, c->entries[i].hash)];

	while (*pp != i)
		pp = &c->entries[*pp].chain;
	*pp = c->entries[i].chain;
}

/* A free slot for a new block: unused capacity first, else the LRU victim. */
static uint32_t take_slot(struct emu_cache *c)
{
	uint32_t i = c->free_list;

	if (i != CACHE_NIL) {
		c->free_list = c->entries[i].chain;
		c->used++;
		return i;
	}
	i = c->lru_head;
	if (i == CACHE_NIL)
		return CACHE_NIL;
	lru_unlink(c, i);
	unhash(c, i);
	c->evictions++;
	return i;
}

uint32_t cache_match(const struct emu_cache *c, const uint64_t *hashes, uint32_t n)
{
	uint32_t m = 0;

	while (m < n && find(c, hashes[m]) != CACHE_NIL)
		m++;
	return m;
}

uint32_t cache_acquire(struct emu_cache *c, const uint64_t *hashes, uint32_t n, uint32_t *matched)
{
	uint32_t k, i, b;

	*matched = cache_match(c, hashes, n);
	/* pin the hits first so that inserting the misses cannot evict them */
	for (k = 0; k < *matched; k++)
		pin(c, find(c, hashes[k]));
	for (; k < n; k++) {
		i = find(c, hashes[k]);
		if (i == CACHE_NIL) {
			i = take_slot(c);
			if (i == CACHE_NIL)
				break;
			c->entries[i].hash = hashes[k];
			b = bucket_of(c, hashes[k]);
			c->entries[i].chain = c->buckets[b];
			c->buckets[b] = i;
			c->entries[i].refs = 1;
			c->pinned++;
			continue;
		}
		pin(c, i);
	}
	return k;
}

void cache_release(struct emu_cache *c, const uint64_t *hashes, uint32_t n)
{
	while (n--) {
		uint32_t i = find(c, hashes[n]);

		if (i == CACHE_NIL || c->entries[i].refs == 0)
			continue; /* not ours: a caller bug, but never corrupt the lists */
		if (--c->entries[i].refs == 0) {
			c->pinned--;
			lru_append(c, i);
		}
	}
}

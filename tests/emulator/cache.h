/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cache.h - the emulated prefix cache: fixed-size blocks of prompt tokens,
 * named by a hash chain over their contents, with LRU eviction at a fixed
 * capacity.
 *
 * This follows vLLM's automatic prefix caching closely enough that a router
 * sees the same effects: block i of a prompt is named
 * h_i = H(h_{i-1}, bytes of block i), so a block matches only when the whole
 * prefix before it matches too; only full blocks are cached; a lookup walks
 * the chain from the first block and stops at the first miss. Blocks used by
 * a running request are pinned and never evicted. Released blocks join the
 * LRU list tail-block first, so when capacity runs out a prompt's tail is
 * evicted before its head (which other requests are more likely to share).
 */
#ifndef KVLB_EMU_CACHE_H
#define KVLB_EMU_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache_entry;

struct emu_cache {
	uint32_t capacity;  /* blocks */
	uint32_t used;	    /* entries holding a block */
	uint32_t pinned;    /* entries used by at least one running request */
	uint64_t evictions; /* blocks dropped to make room */
	uint32_t nbuckets;  /* power of two */
	uint32_t *buckets;  /* entry index, or CACHE_NIL */
	struct cache_entry *entries;
	uint32_t free_list;
	uint32_t lru_head, lru_tail; /* unpinned entries, head evicted first */
};

#define CACHE_NIL UINT32_MAX

/* Hash of the chain before the first block. */
#define CACHE_ROOT_HASH 0x6b766c62u

int cache_init(struct emu_cache *c, uint32_t capacity);
void cache_destroy(struct emu_cache *c);

/*
 * Number of full blocks in a prompt of @len bytes with @block_tokens tokens per
 * block, and their chained hashes (@out holds that many).
 */
size_t cache_full_blocks(size_t len, uint32_t block_tokens);
void cache_block_hashes(const char *text, size_t len, uint32_t block_tokens, uint64_t *out);

/* Leading blocks of @hashes present in the cache; no side effects. */
uint32_t cache_match(const struct emu_cache *c, const uint64_t *hashes, uint32_t n);

/*
 * Start using a prompt's blocks: pin the cached prefix (its length goes to
 * *@matched) and insert the rest, evicting least recently used blocks. Returns
 * the number of leading blocks now pinned (less than @n only when every other
 * block is pinned); pass that number to cache_release().
 */
uint32_t cache_acquire(struct emu_cache *c, const uint64_t *hashes, uint32_t n, uint32_t *matched);

/* Stop using the first @n blocks of @hashes, as returned by cache_acquire(). */
void cache_release(struct emu_cache *c, const uint64_t *hashes, uint32_t n);

#endif

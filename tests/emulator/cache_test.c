// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cache_test.c - unit test of the emulator's prefix cache: the hash chain,
 * prefix matching, pinning and LRU eviction. Built with ASan/UBSan.
 * Prints PASS/FAIL lines for tests/run.
 */
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "tokenizer.h"

#define BS 4 /* tokens per block: 16 bytes */

static int failed;

static void expect(int ok, const char *name, const char *what)
{
	if (ok) {
		printf("PASS emu-cache-%s\n", name);
	} else {
		printf("FAIL emu-cache-%s: %s\n", name, what);
		failed = 1;
	}
}

/* A prompt of @nblocks 16-byte blocks; block i's bytes are derived from tag[i]. */
static void make_prompt(char *buf, const char *tags, size_t nblocks)
{
	size_t i;

	for (i = 0; i < nblocks; i++)
		snprintf(buf + i * 16, 17, "block-%c-%08zu", tags[i], i);
}

static void test_chain(void)
{
	char a[16 * 4 + 1], b[16 * 4 + 1], c[16 * 4 + 1];
	uint64_t ha[4], hb[4], hc[4], hx[4];

	make_prompt(a, "abcd", 4);
	make_prompt(b, "abxd", 4); /* differs in block 2 only */
	make_prompt(c, "abcd", 4);
	cache_block_hashes(a, 64, BS, ha);
	cache_block_hashes(b, 64, BS, hb);
	cache_block_hashes(c, 64, BS, hc);
	expect(!memcmp(ha, hc, sizeof(ha)), "chain-deterministic", "equal prompts, unequal hashes");
	expect(ha[0] == hb[0] && ha[1] == hb[1], "chain-shared-prefix",
	       "blocks before the change must keep their hashes");
	/* block 3 has equal bytes in a and b but a different prefix */
	expect(ha[2] != hb[2] && ha[3] != hb[3], "chain-depends-on-prefix",
	       "a block after a change must get a new hash");
	/* 60 bytes are 15 tokens, 61 bytes 16 (a partial token counts as one) */
	expect(cache_full_blocks(60, BS) == 3 && cache_full_blocks(61, BS) == 4 &&
		   cache_full_blocks(64, BS) == 4 && cache_full_blocks(76, BS) == 4 &&
		   cache_full_blocks(0, BS) == 0,
	       "full-blocks", "only full blocks of 4-byte tokens count (60/61/64/76/0 bytes)");
	/* 61..64 bytes are all 16 tokens: the last block is full but its bytes differ */
	cache_block_hashes(a, 61, BS, hx);
	expect(hx[2] == ha[2] && hx[3] != ha[3], "chain-partial-token",
	       "a shorter last token must change only the last block");
}

static void test_match_and_lru(void)
{
	struct emu_cache c;
	char p[16 * 8 + 1];
	uint64_t h1[2], h2[2], h3[2], h4[3];
	uint32_t m, n;

	if (cache_init(&c, 4)) {
		expect(0, "init", "cache_init failed");
		return;
	}
	make_prompt(p, "1122", 2);
	cache_block_hashes(p, 32, BS, h1);
	make_prompt(p, "3344", 2);
	cache_block_hashes(p, 32, BS, h2);
	make_prompt(p, "5566", 2);
	cache_block_hashes(p, 32, BS, h3);

	n = cache_acquire(&c, h1, 2, &m);
	expect(n == 2 && m == 0 && c.pinned == 2, "first-miss", "new prompt must miss and pin 2");
	cache_release(&c, h1, n);
	n = cache_acquire(&c, h1, 2, &m);
	expect(m == 2, "repeat-hit", "the same prompt again must hit both blocks");
	cache_release(&c, h1, n);

	n = cache_acquire(&c, h2, 2, &m);
	cache_release(&c, h2, n);
	expect(c.used == 4 && c.evictions == 0, "fill",
	       "4 blocks fill capacity 4 without evicting");

	/* h1 is older than h2, so h3 must evict h1's blocks */
	n = cache_acquire(&c, h3, 2, &m);
	cache_release(&c, h3, n);
	expect(c.evictions == 2 && cache_match(&c, h1, 2) == 0 && cache_match(&c, h2, 2) == 2,
	       "lru-evicts-oldest", "h1 (least recently used) must be evicted, h2 kept");

	/* using h2 again makes h3 the oldest */
	n = cache_acquire(&c, h2, 2, &m);
	cache_release(&c, h2, n);
	n = cache_acquire(&c, h1, 2, &m);
	cache_release(&c, h1, n);
	expect(m == 0 && cache_match(&c, h2, 2) == 2 && cache_match(&c, h3, 2) == 0, "lru-touch",
	       "a hit must refresh a block's recency");

	/* released tail-first: with one slot needed, a prompt's last block goes first */
	make_prompt(p, "7", 1);
	cache_block_hashes(p, 16, BS, h4);
	n = cache_acquire(&c, h4, 1, &m);
	cache_release(&c, h4, n);
	expect(cache_match(&c, h2, 2) == 1, "tail-evicted-first",
	       "the evicted block must be the oldest prompt's last block");

	/* pinned blocks are never evicted; inserts stop when all are pinned */
	n = cache_acquire(&c, h1, 2, &m);
	{
		uint32_t m2, n2 = cache_acquire(&c, h4, 1, &m2);
		uint64_t big[3];

		make_prompt(p, "abc", 3);
		cache_block_hashes(p, 48, BS, big);
		uint32_t m3, n3 = cache_acquire(&c, big, 3, &m3);

		expect(n3 == 1 && m3 == 0 && cache_match(&c, h1, 2) == 2, "pinned-kept",
		       "with 3 of 4 blocks pinned only one new block fits");
		cache_release(&c, big, n3);
		cache_release(&c, h4, n2);
	}
	cache_release(&c, h1, n);
	expect(c.pinned == 0 && c.used <= c.capacity, "release-all",
	       "every pin released, used within capacity");
	cache_destroy(&c);
}

static void test_stress(void)
{
	struct emu_cache c;
	uint64_t h[64];
	char p[16 * 64];
	uint32_t i, m, n, ok = 1;

	cache_init(&c, 100);
	/* many overlapping prompts: the lists must stay consistent under churn */
	for (i = 0; i < 20000; i++) {
		uint32_t len = 1 + emu_mix(i) % 64, k;

		for (k = 0; k < len; k++)
			snprintf(p + k * 16, 17, "%015u", (unsigned)(emu_mix(k + (i % 7)) % 5));
		cache_block_hashes(p, (size_t)len * 16, BS, h);
		n = cache_acquire(&c, h, len, &m);
		if (m > n || n > len || c.used > c.capacity)
			ok = 0;
		cache_release(&c, h, n);
		if (c.pinned)
			ok = 0;
	}
	expect(ok, "stress", "capacity, pins or match bounds violated under churn");
	cache_destroy(&c);
}

int main(void)
{
	test_chain();
	test_match_and_lru();
	test_stress();
	return failed;
}

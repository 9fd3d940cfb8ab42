// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tokenizer.c - hashing and deterministic pseudo-words. */
#include <string.h>

#include "tokenizer.h"

uint64_t emu_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

uint64_t emu_hash(uint64_t seed, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = emu_mix(seed ^ (len * 0xff51afd7ed558ccdULL));
	uint64_t w;

	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8);
		h = rotl(h ^ emu_mix(w), 27) * 0x9fb21c651e98df25ULL + 0x52dce729ULL;
	}
	w = 0;
	memcpy(&w, p, len);
	h = rotl(h ^ emu_mix(w ^ ((uint64_t)len << 56)), 31) * 0xc4ceb9fe1a85ec53ULL;
	return emu_mix(h);
}

void emu_token_text(uint64_t text_seed, uint64_t index, char out[EMU_TOKEN_BYTES])
{
	/* consonant-vowel-consonant makes pronounceable, obviously fake words */
	static const char cons[] = "bcdfghjklmnprstvwz";
	static const char vow[] = "aeiou";
	uint64_t x = emu_mix(text_seed + index * 0x9e3779b97f4a7c15ULL);

	out[0] = ' ';
	out[1] = cons[x % (sizeof(cons) - 1)];
	out[2] = vow[(x >> 16) % (sizeof(vow) - 1)];
	out[3] = cons[(x >> 32) % (sizeof(cons) - 1)];
}

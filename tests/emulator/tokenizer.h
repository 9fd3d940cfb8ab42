/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tokenizer.h - the emulator's fixed, documented tokenizer and its
 * deterministic text.
 *
 * One token is 4 bytes of prompt text (a last partial token counts as one):
 * crude, but any client can compute it, so tests and the load driver know
 * exactly which requests share which cache blocks. Every generated token is
 * exactly 4 bytes (a space and three letters), so re-tokenizing an answer
 * gives back its completion_tokens.
 */
#ifndef KVLB_EMU_TOKENIZER_H
#define KVLB_EMU_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#define EMU_TOKEN_BYTES 4

static inline uint64_t emu_tokens(size_t bytes)
{
	return (bytes + EMU_TOKEN_BYTES - 1) / EMU_TOKEN_BYTES;
}

/* A 64-bit hash of @len bytes, chained from @seed (block hashes, text seeds). */
uint64_t emu_hash(uint64_t seed, const void *data, size_t len);

/* Well-mixed 64-bit value from @x (splitmix64 finaliser). */
uint64_t emu_mix(uint64_t x);

/* Write output token number @index of the text seeded by @text_seed into @out. */
void emu_token_text(uint64_t text_seed, uint64_t index, char out[EMU_TOKEN_BYTES]);

#endif

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_request.c - libFuzzer harness for the emulator's request parsing
 * (JSON reader, OpenAI field validation, prompt assembly, block hashing).
 * Any input must give either a request or an error with a sane status,
 * never a crash, leak or undefined behaviour.
 */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct emu_limits lim = {"kvlb-emu-model", 4096, 16};
	struct emu_request req;
	struct emu_error err;
	int ep;

	for (ep = EMU_CHAT; ep <= EMU_COMPLETION; ep++) {
		if (emu_request_parse((const char *)data, size, ep, &lim, &req, &err)) {
			if (err.status < 400 || err.status > 599 || !err.type || !err.message[0])
				abort();
			continue;
		}
		if (req.prompt_tokens + req.max_tokens > lim.max_model_len ||
		    req.output_tokens < 1 || req.output_tokens > req.max_tokens)
			abort();
		size_t n = cache_full_blocks(req.prompt_len, 16);
		uint64_t *h = malloc(sizeof(*h) * (n ? n : 1));

		if (h)
			cache_block_hashes(req.prompt, req.prompt_len, 16, h);
		free(h);
		emu_request_free(&req);
	}
	return 0;
}

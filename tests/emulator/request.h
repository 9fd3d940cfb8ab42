/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * request.h - turning an OpenAI-style request body into what the emulator
 * needs: the prompt text, its tokens, output length and streaming options.
 *
 * Validation follows vLLM's OpenAI server: a malformed body or a field of the
 * wrong type is a 400 with an error object naming the problem, an unknown
 * model is a 404. The parser is the fuzzing target (fuzz_request.c).
 */
#ifndef KVLB_EMU_REQUEST_H
#define KVLB_EMU_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum emu_endpoint { EMU_CHAT, EMU_COMPLETION };

struct emu_limits {
	const char *model;	/* the served model name */
	uint64_t max_model_len; /* prompt + output tokens */
	uint64_t default_max_tokens;
};

struct emu_request {
	enum emu_endpoint endpoint;
	char *prompt; /* the text that is tokenized and cached (malloc'd) */
	size_t prompt_len;
	uint64_t prompt_tokens;
	uint64_t max_tokens;	/* the request's limit (or the default) */
	uint64_t output_tokens; /* tokens to generate */
	bool stream;
	bool include_usage;
	uint64_t text_seed; /* content-derived; the server mixes in --seed */
};

struct emu_error {
	int status;	  /* HTTP status */
	const char *type; /* e.g. "BadRequestError" */
	const char *param;
	char message[256];
};

/* Returns 0 and fills @req, or -1 and fills @err. Release with emu_request_free(). */
int emu_request_parse(const char *body, size_t len, enum emu_endpoint endpoint,
		      const struct emu_limits *lim, struct emu_request *req, struct emu_error *err);
void emu_request_free(struct emu_request *req);

/* Fill @err (also used by the HTTP layer for its own errors). */
void emu_error_set(struct emu_error *err, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * metrics.h - the emulator's Prometheus exposition, with the metric names,
 * types, labels and histogram buckets of vLLM's V1 engine or of SGLang.
 *
 * Routers read these (queue depth, running batch, KV usage, prefix-cache hit
 * counters), so their names and shapes must match the real servers exactly;
 * the values are the emulator's own, in emulated seconds.
 */
#ifndef KVLB_EMU_METRICS_H
#define KVLB_EMU_METRICS_H

#include <stdint.h>

enum emu_flavor { EMU_VLLM, EMU_SGLANG };
enum emu_finish { EMU_FINISH_STOP, EMU_FINISH_LENGTH, EMU_FINISH_ABORT, EMU_FINISH_N };

#define HIST_MAX_BUCKETS 40

struct emu_hist {
	const double *le;
	int n;
	uint64_t counts[HIST_MAX_BUCKETS]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

struct emu_metrics {
	uint64_t prompt_tokens, generation_tokens, cache_queries, cache_hits, requests;
	uint64_t finished[EMU_FINISH_N];
	double last_hit_rate; /* of the latest admitted request (SGLang's per-batch gauge) */
	/* vLLM */
	struct emu_hist v_prompt, v_gen, v_max_gen, v_max_tokens, v_n, v_ttft, v_itl, v_e2e,
	    v_queue, v_prefill, v_decode, v_inference;
	/* SGLang */
	struct emu_hist s_ttft, s_itl, s_e2e, s_prompt, s_gen;
};

/* Instantaneous values the scheduler owns. */
struct emu_gauges {
	uint64_t running, waiting;
	double kv_usage; /* fraction, 0..1 */
	uint64_t used_tokens, total_tokens;
	double gen_throughput; /* tokens per emulated second */
};

struct emu_metrics_info {
	enum emu_flavor flavor;
	const char *model;
	uint32_t block_size, cache_blocks;
};

/* Set up the buckets; 1-2-5 token buckets stop at @max_model_len, as vLLM's. */
void metrics_init(struct emu_metrics *m, uint64_t max_model_len);
void hist_observe(struct emu_hist *h, double v, uint64_t times);

struct evbuffer;
void metrics_render(struct evbuffer *out, const struct emu_metrics *m, const struct emu_gauges *g,
		    const struct emu_metrics_info *info);

#endif

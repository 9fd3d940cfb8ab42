/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sched.h - the emulated engine: a running batch of at most --max-batch
 * requests, a FIFO waiting queue, one prefill at a time, per-request decoding.
 *
 * Time is emulated: emulated seconds = wall seconds since start x time scale,
 * so every figure (TTFT, metrics) is in model time whatever the scale.
 * A request admitted to the batch looks its prompt up in the prefix cache;
 * its prefill of the uncached tokens (at least one, as a real engine always
 * computes the last position) starts when the previous prefill ends, at
 * --prefill-rate tokens/s. Its first token comes at the end of that prefill,
 * so TTFT = waiting in the queue + waiting for the prefill unit + own prefill.
 * Later tokens follow at --decode-rate tokens/s each. All of this is computed
 * at admission, so it is deterministic given the arrival order; timers only
 * release the tokens to the client when they are due.
 */
#ifndef KVLB_EMU_SCHED_H
#define KVLB_EMU_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "cache.h"
#include "metrics.h"
#include "request.h"

struct event_base;
struct event;
struct emu_job;

struct emu_sched_config {
	uint32_t block_size, cache_blocks, max_batch;
	double prefill_rate, decode_rate, time_scale;
};

/*
 * Called when tokens [0, due) are available (due counts up to
 * req.output_tokens); @done marks the last call, after which the scheduler
 * has forgotten the job and the callee owns (and frees) it.
 */
typedef void (*emu_progress_fn)(struct emu_job *job, uint64_t due, bool done);

enum emu_job_state { JOB_NEW, JOB_WAITING, JOB_RUNNING, JOB_DONE };

struct emu_job {
	struct emu_request req;
	uint64_t *hashes; /* chained hashes of the prompt's full blocks */
	uint32_t nblocks, pinned, private_blocks;
	uint64_t cached_tokens;
	double arrival, admitted, first_token, finish; /* emulated seconds */
	uint64_t due;				       /* tokens released so far */
	uint64_t due_sent;			       /* tokens the HTTP layer has written */
	enum emu_job_state state;
	bool stream_progress; /* report every token (streaming), not only the end */
	struct event *timer;
	struct emu_sched *sched;
	emu_progress_fn progress;
	void *ctx; /* the HTTP layer's */
	TAILQ_ENTRY(emu_job) link;
};

TAILQ_HEAD(emu_job_queue, emu_job);

struct emu_sched {
	struct emu_sched_config cfg;
	struct event_base *base;
	struct emu_cache cache;
	struct emu_metrics metrics;
	struct emu_job_queue waiting;
	uint64_t n_waiting, n_running, private_blocks;
	double prefill_free_at;
	double t0; /* monotonic wall clock at start */
};

int sched_init(struct emu_sched *s, struct event_base *base, const struct emu_sched_config *cfg,
	       uint64_t max_model_len);
void sched_destroy(struct emu_sched *s);

/* Emulated seconds since start. */
double sched_now(const struct emu_sched *s);

/* Prepare @job (hashes its prompt); 0 on success. */
int sched_job_init(struct emu_sched *s, struct emu_job *job);
void sched_job_free(struct emu_job *job);

/* Queue a prepared job; progress callbacks follow. */
void sched_submit(struct emu_sched *s, struct emu_job *job);

/* The client went away: drop the job without callbacks (counted as an abort). */
void sched_abort(struct emu_sched *s, struct emu_job *job);

void sched_gauges(const struct emu_sched *s, struct emu_gauges *g);

#endif

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sched.c - batch admission, cache lookups, and the per-job token timeline. */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "sched.h"

static double wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sched_now(const struct emu_sched *s)
{
	return (wall_seconds() - s->t0) * s->cfg.time_scale;
}

int sched_init(struct emu_sched *s, struct event_base *base, const struct emu_sched_config *cfg,
	       uint64_t max_model_len)
{
	*s = (struct emu_sched){.cfg = *cfg, .base = base};
	TAILQ_INIT(&s->waiting);
	metrics_init(&s->metrics, max_model_len);
	s->t0 = wall_seconds();
	return cache_init(&s->cache, cfg->cache_blocks);
}

void sched_destroy(struct emu_sched *s)
{
	cache_destroy(&s->cache);
}

static void arm(struct emu_sched *s, struct emu_job *job, double at)
{
	double delay = (at - sched_now(s)) / s->cfg.time_scale;
	struct timeval tv = {0, 0};

	if (delay > 0) {
		/* round up so the timer never fires before the token is due */
		double us = ceil(delay * 1e6);

		tv.tv_sec = (time_t)(us / 1e6);
		tv.tv_usec = (suseconds_t)(us - (double)tv.tv_sec * 1e6);
	}
	evtimer_add(job->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg);

int sched_job_init(struct emu_sched *s, struct emu_job *job)
{
	size_t n = cache_full_blocks(job->req.prompt_len, s->cfg.block_size);

	job->sched = s;
	job->nblocks = (uint32_t)n;
	job->hashes = malloc(sizeof(*job->hashes) * (n ? n : 1));
	job->timer = evtimer_new(s->base, timer_cb, job);
	if (!job->hashes || !job->timer) {
		sched_job_free(job);
		return -1;
	}
	cache_block_hashes(job->req.prompt, job->req.prompt_len, s->cfg.block_size, job->hashes);
	return 0;
}

void sched_job_free(struct emu_job *job)
{
	if (job->timer)
		event_free(job->timer);
	free(job->hashes);
	job->timer = NULL;
	job->hashes = NULL;
}

static void admit(struct emu_sched *s, struct emu_job *job, double now)
{
	struct emu_metrics *m = &s->metrics;
	const struct emu_request *r = &job->req;
	uint64_t bs = s->cfg.block_size, blocks, compute;
	uint32_t matched;
	double start;

	job->pinned = cache_acquire(&s->cache, job->hashes, job->nblocks, &matched);
	job->cached_tokens = (uint64_t)matched * bs;
	/* the rest of the prompt and every output token need blocks of their own */
	blocks = (r->prompt_tokens + r->output_tokens + bs - 1) / bs;
	job->private_blocks = blocks > job->pinned ? (uint32_t)(blocks - job->pinned) : 0;
	s->private_blocks += job->private_blocks;

	m->requests++;
	m->prompt_tokens += r->prompt_tokens;
	m->cache_queries += r->prompt_tokens;
	m->cache_hits += job->cached_tokens;
	m->last_hit_rate = r->prompt_tokens ? (double)job->cached_tokens / r->prompt_tokens : 0;

	compute = r->prompt_tokens - job->cached_tokens;
	if (compute < 1)
		compute = 1;
	start = now > s->prefill_free_at ? now : s->prefill_free_at;
	job->admitted = now;
	job->first_token = start + (double)compute / s->cfg.prefill_rate;
	job->finish = job->first_token + (double)(r->output_tokens - 1) / s->cfg.decode_rate;
	s->prefill_free_at = job->first_token;
	hist_observe(&m->v_queue, now - job->arrival, 1);

	job->state = JOB_RUNNING;
	s->n_running++;
	arm(s, job, job->first_token);
}

/* @now is passed in so that a job admitted on arrival has no queueing time at all. */
static void try_schedule(struct emu_sched *s, double now)
{
	struct emu_job *job;

	while (s->n_running < s->cfg.max_batch && (job = TAILQ_FIRST(&s->waiting))) {
		TAILQ_REMOVE(&s->waiting, job, link);
		s->n_waiting--;
		admit(s, job, now);
	}
}

/* Return the job's resources to the engine (finish or abort). */
static void retire(struct emu_sched *s, struct emu_job *job)
{
	cache_release(&s->cache, job->hashes, job->pinned);
	job->pinned = 0;
	s->private_blocks -= job->private_blocks;
	job->private_blocks = 0;
	s->n_running--;
	job->state = JOB_DONE;
	evtimer_del(job->timer);
}

static void finish(struct emu_sched *s, struct emu_job *job)
{
	struct emu_metrics *m = &s->metrics;
	const struct emu_request *r = &job->req;
	uint64_t out = r->output_tokens;
	double itl = 1.0 / s->cfg.decode_rate;

	retire(s, job);
	m->generation_tokens += out;
	m->finished[out >= r->max_tokens ? EMU_FINISH_LENGTH : EMU_FINISH_STOP]++;
	hist_observe(&m->v_prompt, (double)r->prompt_tokens, 1);
	hist_observe(&m->s_prompt, (double)r->prompt_tokens, 1);
	hist_observe(&m->v_gen, (double)out, 1);
	hist_observe(&m->s_gen, (double)out, 1);
	hist_observe(&m->v_max_tokens, (double)r->max_tokens, 1);
	/* n is always 1 here, so the most tokens any sequence may get is max_tokens */
	hist_observe(&m->v_max_gen, (double)r->max_tokens, 1);
	hist_observe(&m->v_n, 1, 1);
	hist_observe(&m->v_itl, itl, out - 1);
	hist_observe(&m->s_itl, itl, out - 1);
	hist_observe(&m->v_e2e, job->finish - job->arrival, 1);
	hist_observe(&m->s_e2e, job->finish - job->arrival, 1);
	hist_observe(&m->v_prefill, job->first_token - job->admitted, 1);
	hist_observe(&m->v_decode, job->finish - job->first_token, 1);
	hist_observe(&m->v_inference, job->finish - job->admitted, 1);
	job->due = out;
	job->progress(job, out, true); /* the job is gone after this */
	try_schedule(s, sched_now(s));
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct emu_job *job = arg;
	struct emu_sched *s = job->sched;
	uint64_t out = job->req.output_tokens, due;
	double now = sched_now(s);

	(void)fd;
	(void)what;
	if (job->state != JOB_RUNNING)
		return;
	/* the timer was set for the next token, so at least that one is due */
	due = job->due + 1;
	if (now > job->first_token) {
		double k = floor((now - job->first_token) * s->cfg.decode_rate) + 1;

		if (k > (double)due)
			due = k > (double)out ? out : (uint64_t)k;
	}
	if (job->due == 0) {
		double ttft = job->first_token - job->arrival;

		hist_observe(&s->metrics.v_ttft, ttft, 1);
		hist_observe(&s->metrics.s_ttft, ttft, 1);
	}
	if (due >= out) {
		finish(s, job);
		return;
	}
	if (job->stream_progress) {
		job->due = due;
		job->progress(job, due, false);
		arm(s, job, job->first_token + (double)due / s->cfg.decode_rate);
	} else {
		job->due = due;
		arm(s, job, job->finish);
	}
}

void sched_submit(struct emu_sched *s, struct emu_job *job)
{
	job->arrival = sched_now(s);
	job->state = JOB_WAITING;
	TAILQ_INSERT_TAIL(&s->waiting, job, link);
	s->n_waiting++;
	try_schedule(s, job->arrival);
}

void sched_abort(struct emu_sched *s, struct emu_job *job)
{
	switch (job->state) {
	case JOB_WAITING:
		TAILQ_REMOVE(&s->waiting, job, link);
		s->n_waiting--;
		job->state = JOB_DONE;
		break;
	case JOB_RUNNING:
		retire(s, job);
		s->metrics.generation_tokens += job->due;
		break;
	default:
		return;
	}
	s->metrics.finished[EMU_FINISH_ABORT]++;
	try_schedule(s, sched_now(s));
}

void sched_gauges(const struct emu_sched *s, struct emu_gauges *g)
{
	uint64_t used = s->cache.pinned + s->private_blocks, total = s->cfg.cache_blocks;

	if (used > total)
		used = total;
	g->running = s->n_running;
	g->waiting = s->n_waiting;
	g->kv_usage = total ? (double)used / (double)total : 0;
	g->used_tokens = used * s->cfg.block_size;
	g->total_tokens = total * s->cfg.block_size;
	g->gen_throughput = (double)s->n_running * s->cfg.decode_rate;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* metrics.c - counters, histograms and their Prometheus text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"

/* Bucket bounds as the servers define them (see the metrics reference). */
/* clang-format off */
static const double vllm_ttft_le[] = {
	0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
	10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
};
static const double vllm_n_le[] = { 1, 2, 5, 10, 20 };
static const double vllm_itl_le[] = {
	0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
	20.0, 40.0, 80.0,
};
static const double vllm_latency_le[] = {
	0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
	240.0, 480.0, 960.0, 1920.0, 7680.0,
};
static const double sgl_ttft_le[] = {
	0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400,
};
static const double sgl_itl_le[] = {
	0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.025, 0.030, 0.035, 0.040, 0.060,
	0.080, 0.100, 0.200, 0.400, 0.600, 0.800, 1.0, 2.0, 4.0, 6.0, 8.0,
};
static const double sgl_e2e_le[] = {
	0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200,
	1800, 2400,
};
static const double sgl_tokens_le[] = {
	100, 300, 500, 700, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000,
	12000, 15000, 20000, 22000, 25000, 30000, 35000, 40000, 66000, 99000, 132000, 300000,
	600000, 900000, 1100000,
};
/* clang-format on */

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))
/* room for any formatted double */
#define FMT_LEN 64

/* 1, 2, 5 x 10^k up to max_model_len: vLLM's build_1_2_5_buckets(). */
static double buckets_125[HIST_MAX_BUCKETS];
static int n_125;

static void hist_setup(struct emu_hist *h, const double *le, int n)
{
	memset(h, 0, sizeof(*h));
	h->le = le;
	h->n = n;
}

void metrics_init(struct emu_metrics *m, uint64_t max_model_len)
{
	static const int mant[] = {1, 2, 5};
	double scale = 1;

	memset(m, 0, sizeof(*m));
	n_125 = 0;
	while (n_125 < HIST_MAX_BUCKETS - 1) {
		int i, added = 0;

		for (i = 0; i < 3 && n_125 < HIST_MAX_BUCKETS - 1; i++) {
			double v = mant[i] * scale;

			if (v > (double)max_model_len)
				break;
			buckets_125[n_125++] = v;
			added++;
		}
		if (added < 3)
			break;
		scale *= 10;
	}
	hist_setup(&m->v_prompt, buckets_125, n_125);
	hist_setup(&m->v_gen, buckets_125, n_125);
	hist_setup(&m->v_max_gen, buckets_125, n_125);
	hist_setup(&m->v_max_tokens, buckets_125, n_125);
	hist_setup(&m->v_n, vllm_n_le, N(vllm_n_le));
	hist_setup(&m->v_ttft, vllm_ttft_le, N(vllm_ttft_le));
	hist_setup(&m->v_itl, vllm_itl_le, N(vllm_itl_le));
	hist_setup(&m->v_e2e, vllm_latency_le, N(vllm_latency_le));
	hist_setup(&m->v_queue, vllm_latency_le, N(vllm_latency_le));
	hist_setup(&m->v_prefill, vllm_latency_le, N(vllm_latency_le));
	hist_setup(&m->v_decode, vllm_latency_le, N(vllm_latency_le));
	hist_setup(&m->v_inference, vllm_latency_le, N(vllm_latency_le));
	hist_setup(&m->s_ttft, sgl_ttft_le, N(sgl_ttft_le));
	hist_setup(&m->s_itl, sgl_itl_le, N(sgl_itl_le));
	hist_setup(&m->s_e2e, sgl_e2e_le, N(sgl_e2e_le));
	hist_setup(&m->s_prompt, sgl_tokens_le, N(sgl_tokens_le));
	hist_setup(&m->s_gen, sgl_tokens_le, N(sgl_tokens_le));
}

void hist_observe(struct emu_hist *h, double v, uint64_t times)
{
	int i = 0;

	if (!times)
		return;
	while (i < h->n && v > h->le[i])
		i++;
	h->counts[i] += times; /* i == n is the +Inf bucket */
	h->count += times;
	h->sum += v * (double)times;
}

/* Python's repr() of a float: shortest round-trip digits, "3.0", "0.25", "1e-05". */
static void py_repr(double v, char buf[FMT_LEN])
{
	int p;

	if (v == floor(v) && fabs(v) < 1e16) {
		snprintf(buf, FMT_LEN, "%.1f", v);
		return;
	}
	for (p = 1; p <= 17; p++) {
		snprintf(buf, FMT_LEN, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/*
 * A value as prometheus_client prints it (floatToGoString): repr(), except
 * that positive numbers with more than 6 integer digits switch to Go's
 * exponent form, 1234567.0 -> "1.234567e+06".
 */
static const char *fmt(double v, char buf[FMT_LEN])
{
	char digits[40], *dot;
	size_t d, n;

	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	if (isnan(v))
		return "NaN";
	py_repr(v, buf);
	dot = strchr(buf, '.');
	if (v <= 0 || !dot || dot - buf <= 6)
		return buf;
	d = (size_t)(dot - buf);
	/* mantissa: first digit, '.', the other digits; then trailing '0's and '.' go */
	n = (size_t)snprintf(digits, sizeof(digits), "%c.%.*s%s", buf[0], (int)(d - 1), buf + 1,
			     dot + 1);
	while (n > 0 && (digits[n - 1] == '0' || digits[n - 1] == '.'))
		digits[--n] = '\0';
	snprintf(buf, FMT_LEN, "%se+0%zu", digits, d - 1);
	return buf;
}

/* Label values escaped per the text format: backslash, quote, newline. */
static void label_escape(char *out, size_t outlen, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < outlen; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

static void head(struct evbuffer *o, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct evbuffer *o, const char *name, const char *labels, double v)
{
	char b[FMT_LEN];

	evbuffer_add_printf(o, "%s{%s} %s\n", name, labels, fmt(v, b));
}

static void gauge(struct evbuffer *o, const char *name, const char *help, const char *labels,
		  double v)
{
	head(o, name, "gauge", help);
	sample(o, name, labels, v);
}

static void counter(struct evbuffer *o, const char *name, const char *help, const char *labels,
		    double v)
{
	char full[128];

	/* prometheus_client's text format names counters with _total in HELP/TYPE too */
	snprintf(full, sizeof(full), "%s_total", name);
	head(o, full, "counter", help);
	sample(o, full, labels, v);
}

/*
 * A histogram's labels come split where "le" sorts in (@pre, then le, then
 * @post), so the output keeps the alphabetical label order the servers print.
 */
static void histogram(struct evbuffer *o, const char *name, const char *help, const char *pre,
		      const char *post, const struct emu_hist *h)
{
	char b[FMT_LEN], lb[FMT_LEN];
	uint64_t cum = 0;
	int i;

	head(o, name, "histogram", help);
	for (i = 0; i <= h->n; i++) {
		cum += h->counts[i];
		evbuffer_add_printf(o, "%s_bucket{%s%sle=\"%s\"%s%s} %s\n", name, pre,
				    *pre ? "," : "", i < h->n ? fmt(h->le[i], lb) : "+Inf",
				    *post ? "," : "", post, fmt((double)cum, b));
	}
	evbuffer_add_printf(o, "%s_count{%s%s%s} %s\n", name, pre, *pre && *post ? "," : "", post,
			    fmt((double)h->count, b));
	evbuffer_add_printf(o, "%s_sum{%s%s%s} %s\n", name, pre, *pre && *post ? "," : "", post,
			    fmt(h->sum, b));
}

static void render_vllm(struct evbuffer *o, const struct emu_metrics *m, const struct emu_gauges *g,
			const struct emu_metrics_info *info)
{
	static const char *const reasons[EMU_FINISH_N] = {"stop", "length", "abort"};
	char model[512], L[600], post[560], lbl[700];
	int i;

	label_escape(model, sizeof(model), info->model);
	snprintf(L, sizeof(L), "engine=\"0\",model_name=\"%s\"", model);
	snprintf(post, sizeof(post), "model_name=\"%s\"", model);

	gauge(o, "vllm:num_requests_running", "Number of requests in model execution batches.", L,
	      (double)g->running);
	gauge(o, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", L,
	      (double)g->waiting);
	gauge(o, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", L,
	      g->kv_usage);
	counter(o, "vllm:prefix_cache_queries",
		"Prefix cache queries, in terms of number of queried tokens.", L,
		(double)m->cache_queries);
	counter(o, "vllm:prefix_cache_hits",
		"Prefix cache hits, in terms of number of cached tokens.", L,
		(double)m->cache_hits);
	counter(o, "vllm:num_preemptions", "Cumulative number of preemption from the engine.", L,
		0);
	counter(o, "vllm:prompt_tokens", "Number of prefill tokens processed.", L,
		(double)m->prompt_tokens);
	counter(o, "vllm:generation_tokens", "Number of generation tokens processed.", L,
		(double)m->generation_tokens);
	head(o, "vllm:request_success_total", "counter",
	     "Count of successfully processed requests.");
	for (i = 0; i < EMU_FINISH_N; i++) {
		snprintf(lbl, sizeof(lbl), "engine=\"0\",finished_reason=\"%s\",%s", reasons[i],
			 post);
		sample(o, "vllm:request_success_total", lbl, (double)m->finished[i]);
	}
	histogram(o, "vllm:request_prompt_tokens", "Number of prefill tokens processed.",
		  "engine=\"0\"", post, &m->v_prompt);
	histogram(o, "vllm:request_generation_tokens", "Number of generation tokens processed.",
		  "engine=\"0\"", post, &m->v_gen);
	histogram(o, "vllm:request_max_num_generation_tokens",
		  "Histogram of maximum number of requested generation tokens.", "engine=\"0\"",
		  post, &m->v_max_gen);
	histogram(o, "vllm:request_params_n", "Histogram of the n request parameter.",
		  "engine=\"0\"", post, &m->v_n);
	histogram(o, "vllm:request_params_max_tokens",
		  "Histogram of the max_tokens request parameter.", "engine=\"0\"", post,
		  &m->v_max_tokens);
	histogram(o, "vllm:time_to_first_token_seconds",
		  "Histogram of time to first token in seconds.", "engine=\"0\"", post, &m->v_ttft);
	histogram(o, "vllm:inter_token_latency_seconds",
		  "Histogram of inter-token latency in seconds.", "engine=\"0\"", post, &m->v_itl);
	histogram(o, "vllm:e2e_request_latency_seconds",
		  "Histogram of e2e request latency in seconds.", "engine=\"0\"", post, &m->v_e2e);
	histogram(o, "vllm:request_queue_time_seconds",
		  "Histogram of time spent in WAITING phase for request.", "engine=\"0\"", post,
		  &m->v_queue);
	histogram(o, "vllm:request_inference_time_seconds",
		  "Histogram of time spent in RUNNING phase for request.", "engine=\"0\"", post,
		  &m->v_inference);
	histogram(o, "vllm:request_prefill_time_seconds",
		  "Histogram of time spent in PREFILL phase for request.", "engine=\"0\"", post,
		  &m->v_prefill);
	histogram(o, "vllm:request_decode_time_seconds",
		  "Histogram of time spent in DECODE phase for request.", "engine=\"0\"", post,
		  &m->v_decode);
	snprintf(lbl, sizeof(lbl),
		 "block_size=\"%u\",cache_dtype=\"auto\",enable_prefix_caching=\"True\","
		 "engine=\"0\",num_gpu_blocks=\"%u\"",
		 info->block_size, info->cache_blocks);
	gauge(o, "vllm:cache_config_info", "Information of the LLMEngine CacheConfig", lbl, 1);
}

static void render_sglang(struct evbuffer *o, const struct emu_metrics *m,
			  const struct emu_gauges *g, const struct emu_metrics_info *info)
{
	char model[512], S[700], T[560], lbl[128];

	label_escape(model, sizeof(model), info->model);
	snprintf(S, sizeof(S),
		 "engine_type=\"unified\",model_name=\"%s\",moe_ep_rank=\"0\",pp_rank=\"0\","
		 "tp_rank=\"0\"",
		 model);
	snprintf(T, sizeof(T), "model_name=\"%s\"", model);

	gauge(o, "sglang:num_running_reqs", "The number of running requests.", S,
	      (double)g->running);
	gauge(o, "sglang:num_queue_reqs", "The number of requests in the waiting queue.", S,
	      (double)g->waiting);
	gauge(o, "sglang:token_usage", "The token usage.", S, g->kv_usage);
	gauge(o, "sglang:num_used_tokens", "The number of used tokens.", S, (double)g->used_tokens);
	gauge(o, "sglang:max_total_num_tokens",
	      "Maximum total number of tokens in the KV cache pool.", S, (double)g->total_tokens);
	gauge(o, "sglang:cache_hit_rate", "The prefix cache hit rate.", S, m->last_hit_rate);
	gauge(o, "sglang:gen_throughput", "The generation throughput (token/s).", S,
	      g->gen_throughput);
	snprintf(lbl, sizeof(lbl), "num_pages=\"%u\",page_size=\"%u\"", info->cache_blocks,
		 info->block_size);
	gauge(o, "sglang:cache_config_info", "Cache configuration information.", lbl, 1);
	counter(o, "sglang:prompt_tokens", "Number of prefill tokens processed.", T,
		(double)m->prompt_tokens);
	counter(o, "sglang:generation_tokens", "Number of generation tokens processed.", T,
		(double)m->generation_tokens);
	counter(o, "sglang:cached_tokens", "Number of cached prompt tokens.", T,
		(double)m->cache_hits);
	counter(o, "sglang:num_requests", "Number of requests processed.", T, (double)m->requests);
	counter(o, "sglang:num_aborted_requests", "Number of requests aborted.", T,
		(double)m->finished[EMU_FINISH_ABORT]);
	histogram(o, "sglang:time_to_first_token_seconds",
		  "Histogram of time to first token in seconds.", "", T, &m->s_ttft);
	histogram(o, "sglang:inter_token_latency_seconds",
		  "Histogram of inter-token latency in seconds.", "", T, &m->s_itl);
	histogram(o, "sglang:e2e_request_latency_seconds",
		  "Histogram of End-to-end request latency in seconds", "", T, &m->s_e2e);
	histogram(o, "sglang:prompt_tokens_histogram", "Histogram of prompt token length.", "", T,
		  &m->s_prompt);
	histogram(o, "sglang:generation_tokens_histogram", "Histogram of generation token length.",
		  "", T, &m->s_gen);
}

void metrics_render(struct evbuffer *out, const struct emu_metrics *m, const struct emu_gauges *g,
		    const struct emu_metrics_info *info)
{
	if (info->flavor == EMU_SGLANG)
		render_sglang(out, m, g, info);
	else
		render_vllm(out, m, g, info);
}

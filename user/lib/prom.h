/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prometheus text exposition (version 0.0.4, and what OpenMetrics adds to it)
 * read from a whole buffer, and the load figures kvlb takes from the
 * /metrics of vLLM, SGLang, TGI and llama.cpp servers.
 *
 * The parser is for input kvlb does not control: it never reads past the
 * buffer, needs no NUL terminator, allocates nothing, bounds every line,
 * label and value, and skips (and counts) a line it cannot read rather than
 * giving up on the rest, as Prometheus itself would not: one odd series from
 * a newer server must not blind the balancer to the gauges it needs.
 */
#ifndef KVLB_PROM_H
#define KVLB_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVLB_PROM_MAX_LABELS 32	   /* per sample; more: the line is skipped */
#define KVLB_PROM_MAX_LINE   65536 /* bytes; a longer line is skipped */
#define KVLB_PROM_MAX_NAME   1024  /* bytes of a metric or label name */

enum kvlb_prom_type {
	KVLB_PROM_UNTYPED = 0,
	KVLB_PROM_COUNTER,
	KVLB_PROM_GAUGE,
	KVLB_PROM_HISTOGRAM,
	KVLB_PROM_SUMMARY,
	KVLB_PROM_OTHER, /* info, stateset, gaugehistogram, unknown (OpenMetrics) */
};

/* A string inside the input or the parser's scratch space: not
 * NUL-terminated, valid only during the callback. */
struct kvlb_prom_str {
	const char *p;
	size_t len;
};

struct kvlb_prom_sample {
	struct kvlb_prom_str name;
	int n_labels;
	struct kvlb_prom_str label_name[KVLB_PROM_MAX_LABELS];
	struct kvlb_prom_str label_value[KVLB_PROM_MAX_LABELS]; /* escapes resolved */
	double value;						/* may be +-Inf or NaN */
	bool has_timestamp;
	int64_t timestamp_ms;
	/* From the last "# TYPE" line, when it names this sample's family
	 * (the name itself, or it less _bucket/_sum/_count/_total/_created). */
	enum kvlb_prom_type type;
};

struct kvlb_prom_result {
	size_t samples;	       /* handed to the callback */
	size_t bad_lines;      /* skipped: malformed, too long, too many labels */
	size_t first_bad_line; /* 1-based line number of the first, or 0 */
	bool stopped;	       /* the callback asked to stop */
};

/* Return non-zero to stop the parse. */
typedef int (*kvlb_prom_cb)(const struct kvlb_prom_sample *s, void *arg);

/* Parse buf[0..len). Always returns (fills *res); never fails as a whole. */
void kvlb_prom_parse(const char *buf, size_t len, kvlb_prom_cb cb, void *arg,
		     struct kvlb_prom_result *res);

/* Compare a string from a sample with a C string. */
bool kvlb_prom_str_eq(struct kvlb_prom_str s, const char *c);
/* The value of label name in s, or NULL. */
const struct kvlb_prom_str *kvlb_prom_label(const struct kvlb_prom_sample *s, const char *name);

/* ---- what kvlb reads from a model server ------------------------------- */

enum kvlb_prom_server {
	KVLB_PROM_SERVER_UNKNOWN = 0,
	KVLB_PROM_SERVER_VLLM,
	KVLB_PROM_SERVER_SGLANG,
	KVLB_PROM_SERVER_TGI,
	KVLB_PROM_SERVER_LLAMACPP,
};

const char *kvlb_prom_server_name(enum kvlb_prom_server k);

#define KVLB_PROM_MAX_BUCKETS 128

/*
 * One scrape's figures. Gauges are summed over a server's series (vLLM runs
 * one series per data-parallel engine, SGLang one per rank: the pod's load is
 * their sum), except KV-cache usage, which is the largest: the fullest engine
 * is the one that evicts first.
 */
struct kvlb_prom_load {
	enum kvlb_prom_server server; /* configured, else detected from names */
	bool has_running, has_waiting, has_kv;
	double running;	 /* requests being computed */
	double waiting;	 /* requests queued */
	double kv_usage; /* fraction 0..1 of the KV cache in use */
	/* Prompt-size histogram (tokens), cumulative as exposed: le bounds
	 * ascending, the last one +Inf when the server sent it. */
	int n_buckets;
	double bucket_le[KVLB_PROM_MAX_BUCKETS];
	double bucket_count[KVLB_PROM_MAX_BUCKETS];
	bool has_prompt_sum; /* the histogram's _sum and _count */
	double prompt_sum, prompt_count;
	bool has_prompt_tokens; /* prompt tokens processed since start (counter) */
	double prompt_tokens;
	struct kvlb_prom_result parse;
};

/*
 * Read the figures from one /metrics body. server is the configured kind,
 * or KVLB_PROM_SERVER_UNKNOWN to detect it from the metric names (the first
 * sample whose name has a known server's prefix decides). Returns 0 when the
 * body gave at least the running and waiting counts, -1 otherwise (*out is
 * filled with what was found either way).
 */
int kvlb_prom_extract(const char *buf, size_t len, enum kvlb_prom_server server,
		      struct kvlb_prom_load *out);

/*
 * Calibration of request bytes per prompt token. The data path estimates a
 * request's cost in tokens from its body size and the ratio it was given;
 * the servers count the tokens they actually received. Each scrape adds one
 * interval's evidence (bytes the data path bound, tokens the servers
 * counted); both sums decay, so the ratio follows a change of client mix
 * within about KVLB_BPT_WINDOW updates. No value is given until
 * KVLB_BPT_MIN_TOKENS tokens were seen in the window, and none outside
 * [KVLB_BPT_MIN, KVLB_BPT_MAX]: traffic that reached the servers without
 * passing through kvlb would otherwise drag the ratio down.
 */
#define KVLB_BPT_WINDOW	    100
#define KVLB_BPT_MIN_TOKENS 2000.0
#define KVLB_BPT_MIN	    1.0
#define KVLB_BPT_MAX	    64.0

struct kvlb_bpt_cal {
	double bytes, tokens; /* decayed sums */
	double value;	      /* the current ratio; 0 until there is one */
};

void kvlb_bpt_update(struct kvlb_bpt_cal *c, double bytes, double tokens);

/*
 * Re-bin a cumulative histogram (le ascending, cum the counts at or below
 * each le; a last le of +Inf holds the total) into n_edges + 1 bins:
 * out[0] below edges[0], out[i] in [edges[i-1], edges[i]), out[n_edges] at
 * or above the last edge. Counts inside a source bucket are taken as evenly
 * spread over it (the first starts at 0); what lies above the last finite
 * bound is spread over (bound, 2 x bound]. Bins are rounded so they add up
 * to the histogram's total. Hostile input (NaN, decreasing counts, huge
 * values) gives bounded, non-negative bins.
 */
void kvlb_prom_rebin(const double *le, const double *cum, int n, const double *edges, int n_edges,
		     uint64_t *out);

#endif

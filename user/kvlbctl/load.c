// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kvlbctl load [VIP], kvlbctl hist BACKEND: what kvlbd scraped, per backend. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kvlbctl.h"

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static const char *state_name(__u32 flags)
{
	if (flags & KVLB_BE_F_DOWN)
		return "down";
	if (flags & KVLB_BE_F_DRAINING)
		return "draining";
	return "up";
}

/* Backends (of vip, or all), each with its load entry. */
static int read_all(struct kv_ctx *c, const struct kvlb_endpoint *vip,
		    struct kvlb_backend_info **bo, struct kvlb_backend_load **lo)
{
	struct kvlb_backend_info *b;
	struct kvlb_backend_load *l;
	int n, i;

	b = calloc(KVLB_MAX_BACKENDS, sizeof(*b));
	l = calloc(KVLB_MAX_BACKENDS, sizeof(*l));
	if (!b || !l) {
		free(b);
		free(l);
		return kv_fail(c, "out of memory"), -1;
	}
	n = kvlb_backend_list(&c->h, vip, b, KVLB_MAX_BACKENDS);
	for (i = 0; i < n; i++) {
		if (kvlb_load_read(&c->h, b[i].id, &l[i])) {
			n = -1;
			break;
		}
	}
	if (n < 0) {
		free(b);
		free(l);
		return kv_fail(c, "%s", kvlb_error()), -1;
	}
	*bo = b;
	*lo = l;
	return n;
}

int kv_load(struct kv_ctx *c, int argc, char **argv)
{
	char vs[KVLB_ENDPOINT_STRLEN], bs[KVLB_ENDPOINT_STRLEN], age[16];
	struct kvlb_endpoint vip;
	struct kvlb_backend_info *b;
	struct kvlb_backend_load *l;
	__u64 now;
	int n, i;

	if (argc > 1)
		return kv_usage(c, "unexpected argument '%s'", argv[1]);
	if (argc == 1 && kv_parse_endpoint(c, "VIP", argv[0], &vip))
		return KV_USAGE;
	if (kv_open(c))
		return KV_ERR;
	n = read_all(c, argc == 1 ? &vip : NULL, &b, &l);
	if (n < 0)
		return KV_ERR;
	now = mono_ns();
	if (c->json) {
		json_array_start(&c->jw);
		for (i = 0; i < n; i++) {
			json_object_start(&c->jw);
			json_kv_u64(&c->jw, "id", b[i].id);
			json_kv_string(&c->jw, "vip",
				       kvlb_endpoint_format(&b[i].vip, vs, sizeof(vs)));
			json_kv_string(&c->jw, "backend",
				       kvlb_endpoint_format(&b[i].ep, bs, sizeof(bs)));
			json_kv_string(&c->jw, "state", state_name(b[i].be.flags));
			json_kv_bool(&c->jw, "down", b[i].be.flags & KVLB_BE_F_DOWN);
			json_kv_bool(&c->jw, "draining", b[i].be.flags & KVLB_BE_F_DRAINING);
			json_kv_bool(&c->jw, "scraped", l[i].scrape_ns != 0);
			json_kv_u64(&c->jw, "running", l[i].running);
			json_kv_u64(&c->jw, "waiting", l[i].waiting);
			json_kv_double(&c->jw, "kv_usage", l[i].kv_usage_ppm / 1e6);
			json_kv_u64(&c->jw, "load_score", l[i].load_score);
			json_kv_u64(&c->jw, "bound_tokens", l[i].bound_tokens);
			json_kv_double(&c->jw, "bytes_per_token",
				       l[i].bytes_per_token_x100 / 100.0);
			if (l[i].scrape_ns && now >= l[i].scrape_ns)
				json_kv_double(&c->jw, "age_s", (now - l[i].scrape_ns) / 1e9);
			else
				json_kv_double(&c->jw, "age_s", -1);
			json_object_end(&c->jw);
		}
		json_array_end(&c->jw);
		json_finish(&c->jw);
	} else if (n > 0) {
		printf("%4s %-22s %-22s %-8s %7s %7s %6s %10s %10s %6s %8s\n", "ID", "VIP",
		       "BACKEND", "STATE", "RUNNING", "WAITING", "KV%", "LOAD", "BOUND", "B/TOK",
		       "AGE");
		for (i = 0; i < n; i++) {
			if (l[i].scrape_ns && now >= l[i].scrape_ns)
				snprintf(age, sizeof(age), "%.2fs", (now - l[i].scrape_ns) / 1e9);
			else
				snprintf(age, sizeof(age), "never");
			printf("%4u %-22s %-22s %-8s %7u %7u %6.1f %10llu %10llu %6.2f %8s\n",
			       b[i].id, kvlb_endpoint_format(&b[i].vip, vs, sizeof(vs)),
			       kvlb_endpoint_format(&b[i].ep, bs, sizeof(bs)),
			       state_name(b[i].be.flags), l[i].running, l[i].waiting,
			       l[i].kv_usage_ppm / 1e4, (unsigned long long)l[i].load_score,
			       (unsigned long long)l[i].bound_tokens,
			       l[i].bytes_per_token_x100 / 100.0, age);
		}
	}
	free(b);
	free(l);
	return KV_OK;
}

/* Bucket b holds prompts of [2^(b+6), 2^(b+7)) tokens; the first also the
 * smaller ones, the last also the larger ones (kvlb.h). */
static __u64 bucket_lo(int b)
{
	return b == 0 ? 0 : 1ull << (b + 6);
}

#define BAR_WIDTH 40

static void print_hist(const struct kvlb_backend_load *l)
{
	static const char *const blocks[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
	__u64 max = 0, total = 0;
	int b, k;

	for (b = 0; b < KVLB_PROMPT_HIST_BUCKETS; b++) {
		total += l->prompt_hist[b];
		if (l->prompt_hist[b] > max)
			max = l->prompt_hist[b];
	}
	for (b = 0; b < KVLB_PROMPT_HIST_BUCKETS; b++) {
		__u64 v = l->prompt_hist[b];
		/* In eighths of a character cell. */
		__u64 w = max ? (v * BAR_WIDTH * 8 + max / 2) / max : 0;
		char range[32];

		if (b == 0)
			snprintf(range, sizeof(range), "< %llu", 1ull << 7);
		else if (b == KVLB_PROMPT_HIST_BUCKETS - 1)
			snprintf(range, sizeof(range), ">= %llu", (unsigned long long)bucket_lo(b));
		else
			snprintf(range, sizeof(range), "%llu-%llu",
				 (unsigned long long)bucket_lo(b), (1ull << (b + 7)) - 1);
		printf("%17s |", range);
		if (v && !w)
			w = 1; /* a non-empty bucket always shows */
		for (k = 0; k < (int)(w / 8); k++)
			fputs("█", stdout);
		fputs(blocks[w % 8], stdout);
		printf("%*s %llu (%.1f%%)\n", (int)(BAR_WIDTH - w / 8 - (w % 8 ? 1 : 0)), "",
		       (unsigned long long)v, total ? 100.0 * v / total : 0.0);
	}
	printf("%17s  %llu prompts\n", "total", (unsigned long long)total);
}

int kv_hist(struct kv_ctx *c, int argc, char **argv)
{
	char vs[KVLB_ENDPOINT_STRLEN], bs[KVLB_ENDPOINT_STRLEN];
	struct kvlb_endpoint be, vip;
	struct kvlb_backend_info *b;
	struct kvlb_backend_load *l;
	bool by_id = false, have_vip = false;
	__u32 id = 0;
	int n, i, hit = -1, hits = 0;

	if (argc < 1)
		return kv_usage(c, "missing BACKEND (ADDR:PORT or backend id)");
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--vip")) {
			if (++i == argc)
				return kv_usage(c, "--vip needs a VIP (ADDR:PORT)");
			if (kv_parse_endpoint(c, "VIP", argv[i], &vip))
				return KV_USAGE;
			have_vip = true;
		} else {
			return kv_usage(c, "unexpected argument '%s'", argv[i]);
		}
	}
	if (argv[0][0] >= '0' && argv[0][0] <= '9' && !strpbrk(argv[0], ".:")) {
		if (kv_parse_u32(c, "backend id", argv[0], 0, KVLB_MAX_BACKENDS - 1, &id))
			return KV_USAGE;
		by_id = true;
	} else if (kv_parse_endpoint(c, "backend", argv[0], &be)) {
		return KV_USAGE;
	}
	if (kv_open(c))
		return KV_ERR;
	n = read_all(c, have_vip ? &vip : NULL, &b, &l);
	if (n < 0)
		return KV_ERR;
	for (i = 0; i < n; i++) {
		if (by_id ? b[i].id == id : kvlb_endpoint_equal(&b[i].ep, &be)) {
			hit = i;
			hits++;
		}
	}
	if (hits != 1) {
		free(b);
		free(l);
		if (!hits)
			return kv_fail(c, "no backend %s%s%s", argv[0], have_vip ? " in VIP " : "",
				       have_vip ? kvlb_endpoint_format(&vip, vs, sizeof(vs)) : "");
		return kv_fail(c, "backend %s serves %d VIPs: name one with --vip, or give its id",
			       argv[0], hits);
	}
	kvlb_endpoint_format(&b[hit].vip, vs, sizeof(vs));
	kvlb_endpoint_format(&b[hit].ep, bs, sizeof(bs));
	if (c->json) {
		__u64 total = 0;

		json_object_start(&c->jw);
		json_kv_u64(&c->jw, "id", b[hit].id);
		json_kv_string(&c->jw, "vip", vs);
		json_kv_string(&c->jw, "backend", bs);
		json_kv_bool(&c->jw, "scraped", l[hit].scrape_ns != 0);
		json_name(&c->jw, "buckets");
		json_array_start(&c->jw);
		for (i = 0; i < KVLB_PROMPT_HIST_BUCKETS; i++) {
			json_object_start(&c->jw);
			json_kv_u64(&c->jw, "min_tokens", bucket_lo(i));
			json_name(&c->jw, "max_tokens");
			if (i == KVLB_PROMPT_HIST_BUCKETS - 1)
				json_null(&c->jw);
			else
				json_u64(&c->jw, (1ull << (i + 7)) - 1);
			json_kv_u64(&c->jw, "count", l[hit].prompt_hist[i]);
			json_object_end(&c->jw);
			total += l[hit].prompt_hist[i];
		}
		json_array_end(&c->jw);
		json_kv_u64(&c->jw, "total", total);
		json_object_end(&c->jw);
		json_finish(&c->jw);
	} else {
		printf("Prompt sizes (tokens) seen by backend %s (id %u) of VIP %s%s:\n", bs,
		       b[hit].id, vs, l[hit].scrape_ns ? "" : ", never scraped");
		print_hist(&l[hit]);
	}
	free(b);
	free(l);
	return KV_OK;
}

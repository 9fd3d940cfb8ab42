// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the Prometheus text parser and of the model-server figures
 * read from it. Built with ASan/UBSan; every input is handed over in a
 * buffer of its exact size (no NUL after it), so a read past the end is a
 * sanitizer report.
 *
 *   test_prom SAMPLES_DIR      (tests/prom/samples: recorded /metrics bodies)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"
#include "unit.h"

#define MAX_SEEN 64

struct seen {
	int n;
	char name[MAX_SEEN][128];
	int n_labels[MAX_SEEN];
	char labels[MAX_SEEN][512]; /* "k=v;k=v;" with values as given */
	double value[MAX_SEEN];
	int has_ts[MAX_SEEN];
	long long ts[MAX_SEEN];
	enum kvlb_prom_type type[MAX_SEEN];
	int stop_after;
};

static int record(const struct kvlb_prom_sample *s, void *arg)
{
	struct seen *z = arg;
	int i, k = z->n;

	if (k >= MAX_SEEN)
		return 0;
	snprintf(z->name[k], sizeof(z->name[k]), "%.*s", (int)s->name.len, s->name.p);
	z->n_labels[k] = s->n_labels;
	z->labels[k][0] = '\0';
	for (i = 0; i < s->n_labels; i++) {
		size_t l = strlen(z->labels[k]);

		snprintf(z->labels[k] + l, sizeof(z->labels[k]) - l, "%.*s=%.*s;",
			 (int)s->label_name[i].len, s->label_name[i].p, (int)s->label_value[i].len,
			 s->label_value[i].p);
	}
	z->value[k] = s->value;
	z->has_ts[k] = s->has_timestamp;
	z->ts[k] = (long long)s->timestamp_ms;
	z->type[k] = s->type;
	z->n++;
	return z->stop_after && z->n >= z->stop_after;
}

/* Parse text from an exact-size heap copy. */
static void parse(const char *text, size_t len, struct seen *z, struct kvlb_prom_result *r)
{
	char *b = malloc(len ? len : 1);

	memcpy(b, text, len);
	memset(z->name, 0, sizeof(z->name));
	z->n = 0;
	kvlb_prom_parse(b, len, record, z, r);
	free(b);
}

static void parse_str(const char *text, struct seen *z, struct kvlb_prom_result *r)
{
	parse(text, strlen(text), z, r);
}

static void test_basic(void)
{
	const char *name = "prom-basic-samples-labels-types";
	struct kvlb_prom_result r;
	struct seen z = {};

	CASE_BEGIN();
	parse_str("# HELP up Whether the target is up.\n"
		  "# TYPE up gauge\n"
		  "up 1\n"
		  "\n"
		  "   \t\n"
		  "# a free comment\n"
		  "# TYPE req counter\n"
		  "req_total{code=\"200\",method=\"get\"} 1027 1395066363000\n"
		  "req_total { code = \"400\" , } 3\n"
		  "req_created{code=\"200\"} 1.7e9\n"
		  "other 2.5e-3\n",
		  &z, &r);
	CHECK(name, r.samples == 5 && r.bad_lines == 0, "samples %zu bad %zu", r.samples,
	      r.bad_lines);
	CHECK(name, !strcmp(z.name[0], "up") && z.value[0] == 1 && z.type[0] == KVLB_PROM_GAUGE,
	      "up: %s %g %d", z.name[0], z.value[0], z.type[0]);
	CHECK(name,
	      !strcmp(z.labels[1], "code=200;method=get;") && z.value[1] == 1027 && z.has_ts[1] &&
		  z.ts[1] == 1395066363000LL && z.type[1] == KVLB_PROM_COUNTER,
	      "req_total: %s %g ts %lld", z.labels[1], z.value[1], z.ts[1]);
	CHECK(name, z.n_labels[2] == 1 && !strcmp(z.labels[2], "code=400;") && z.value[2] == 3,
	      "spaces and trailing comma: %s", z.labels[2]);
	CHECK(name, z.type[3] == KVLB_PROM_COUNTER, "_created belongs to its family");
	CHECK(name, z.type[4] == KVLB_PROM_UNTYPED && fabs(z.value[4] - 0.0025) < 1e-12,
	      "other: type %d value %g", z.type[4], z.value[4]);
	CASE_END(name);
}

static void test_escapes(void)
{
	const char *name = "prom-label-escapes";
	struct kvlb_prom_result r;
	struct seen z = {};

	CASE_BEGIN();
	parse_str("m{a=\"q\\\"w\\\\e\\nr\",b=\"\",c=\"\\x\",d=\"}{,=\\\"\"} 1\n"
		  "m{a=\"unterminated} 1\n"
		  "m{a=\"bad\\\"} 1\n"
		  "m{a=\"utf8 \xc3\xa9\xe2\x82\xac\"} 2\n",
		  &z, &r);
	CHECK(name, r.samples == 2 && r.bad_lines == 2, "samples %zu bad %zu", r.samples,
	      r.bad_lines);
	CHECK(name, !strcmp(z.labels[0], "a=q\"w\\e\nr;b=;c=x;d=}{,=\";"), "got '%s'", z.labels[0]);
	CHECK(name, !strcmp(z.labels[1], "a=utf8 \xc3\xa9\xe2\x82\xac;"), "got '%s'", z.labels[1]);
	CHECK(name, r.first_bad_line == 2, "first bad line %zu", r.first_bad_line);
	CASE_END(name);
}

static void test_special_values(void)
{
	const char *name = "prom-inf-nan-hex-values";
	struct kvlb_prom_result r;
	struct seen z = {};

	CASE_BEGIN();
	parse_str("a +Inf\nb -Inf\nc NaN\nd Inf\ne nan\nf 0x1p4\ng -0\nh 1e400\n"
		  "h_bucket{le=\"+Inf\"} 7\n"
		  "bad1 nan(123)\nbad2 1x\nbad3 --1\nbad4\nbad5 \n",
		  &z, &r);
	CHECK(name, r.samples == 9 && r.bad_lines == 5, "samples %zu bad %zu", r.samples,
	      r.bad_lines);
	CHECK(name, isinf(z.value[0]) && z.value[0] > 0, "+Inf: %g", z.value[0]);
	CHECK(name, isinf(z.value[1]) && z.value[1] < 0, "-Inf: %g", z.value[1]);
	CHECK(name, isnan(z.value[2]) && isinf(z.value[3]) && isnan(z.value[4]), "NaN/Inf");
	CHECK(name, z.value[5] == 16, "hex float: %g", z.value[5]);
	CHECK(name, isinf(z.value[7]), "overflow is +Inf: %g", z.value[7]);
	CHECK(name, !strcmp(z.labels[8], "le=+Inf;") && z.value[8] == 7, "le: %s", z.labels[8]);
	CASE_END(name);
}

static void test_timestamps_exemplars(void)
{
	const char *name = "prom-timestamps-exemplars";
	struct kvlb_prom_result r;
	struct seen z = {};

	CASE_BEGIN();
	parse_str("a 1 -5\n"
		  "b 2 1520879607.789\n"
		  "c_bucket{le=\"0.1\"} 8 # {trace_id=\"KOO5S4vxi0o\"} 0.067 1520879602.982\n"
		  "d_total 17 # {trace_id=\"oHg5SJYRHA0\",span=\"a\\\"b\"} 9.8\n"
		  "e 3 1000 # {} 1\n"
		  "f 1 # no braces\n"
		  "g 1 # {x=\"y\"}\n"
		  "h 1 # {x=\"y\"} 1 2 3\n"
		  "i 1 12 13\n"
		  "j 1 1e30\n",
		  &z, &r);
	CHECK(name, r.samples == 5 && r.bad_lines == 5, "samples %zu bad %zu", r.samples,
	      r.bad_lines);
	CHECK(name, z.has_ts[0] && z.ts[0] == -5, "negative ms timestamp: %lld", z.ts[0]);
	CHECK(name, z.has_ts[1] && z.ts[1] == 1520879607789LL, "seconds timestamp: %lld", z.ts[1]);
	CHECK(name, z.value[2] == 8 && z.n_labels[2] == 1 && !strcmp(z.labels[2], "le=0.1;"),
	      "exemplar labels must not join the series: %s", z.labels[2]);
	CHECK(name, z.value[3] == 17 && z.n_labels[3] == 0 && !z.has_ts[3],
	      "exemplar after value only");
	CHECK(name, z.value[4] == 3 && z.ts[4] == 1000, "timestamp then exemplar");
	CASE_END(name);
}

static void test_quoted_names_crlf_eof(void)
{
	const char *name = "prom-quoted-names-crlf-eof";
	struct kvlb_prom_result r;
	struct seen z = {};

	CASE_BEGIN();
	parse_str("{\"my.metric\",\"label.x\"=\"v\"} 4\r\n"
		  "{\"only.name\"} 5\r\n"
		  "{a=\"b\"} 6\n"
		  "{\"n\" 7\n"
		  "plain 8\r\n"
		  "# EOF\n"
		  "after 9\n",
		  &z, &r);
	CHECK(name, r.samples == 3 && r.bad_lines == 2, "samples %zu bad %zu", r.samples,
	      r.bad_lines);
	CHECK(name, !strcmp(z.name[0], "my.metric") && !strcmp(z.labels[0], "label.x=v;"),
	      "quoted: %s %s", z.name[0], z.labels[0]);
	CHECK(name, !strcmp(z.name[1], "only.name") && z.value[1] == 5, "quoted alone");
	CHECK(name, !strcmp(z.name[2], "plain") && z.value[2] == 8, "CRLF: %s %g", z.name[2],
	      z.value[2]);
	CASE_END(name);
}

static void test_garbage(void)
{
	const char *name = "prom-garbage-lines-skipped";
	static const char *bad[] = {
	    "1abc 1",
	    "a{ 1",
	    "a{b} 1",
	    "a{b=} 1",
	    "a{b=c} 1",
	    "a{=\"c\"} 1",
	    "a{b=\"c\" d=\"e\"} 1",
	    "a{b=\"c\"}",
	    "a b c d",
	    "\x01\x02 3",
	    "a\xff 1",
	    "a{b=\"c\"}} 1",
	    "{} 1",
	    "{\"x\"=\"y\"} 1",
	    "a 1 x",
	    "a{b=\"c\",,d=\"e\"} 1",
	};
	struct kvlb_prom_result r;
	struct seen z = {};
	char text[2048] = "good 1\n";
	size_t i;

	CASE_BEGIN();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcat(text, bad[i]);
		strcat(text, "\n");
	}
	strcat(text, "good 2");
	parse_str(text, &z, &r);
	CHECK(name, r.samples == 2 && r.bad_lines == sizeof(bad) / sizeof(bad[0]),
	      "samples %zu bad %zu of %zu", r.samples, r.bad_lines, sizeof(bad) / sizeof(bad[0]));
	CHECK(name, z.value[0] == 1 && z.value[1] == 2, "good lines around the bad");
	/* A NUL inside a line. */
	parse("a 1\nb\0 2\nc 3\n", 13, &z, &r);
	CHECK(name, r.samples == 2 && r.bad_lines == 1, "NUL: samples %zu bad %zu", r.samples,
	      r.bad_lines);
	parse("", 0, &z, &r);
	CHECK(name, r.samples == 0 && r.bad_lines == 0, "empty input");
	kvlb_prom_parse(NULL, 5, record, &z, &r);
	CHECK(name, r.samples == 0, "NULL input");
	CASE_END(name);
}

static void test_limits(void)
{
	const char *name = "prom-deep-labels-long-lines";
	struct kvlb_prom_result r;
	struct seen z = {};
	char *t;
	size_t n = 0, i;

	CASE_BEGIN();
	t = malloc(4 * KVLB_PROM_MAX_LINE);
	/* Exactly the most labels, then one more. */
	for (int want = KVLB_PROM_MAX_LABELS; want <= KVLB_PROM_MAX_LABELS + 1; want++) {
		n = (size_t)sprintf(t, "m{");
		for (int k = 0; k < want; k++)
			n += (size_t)sprintf(t + n, "l%d=\"%d\",", k, k);
		n += (size_t)sprintf(t + n, "} 1\n");
		parse(t, n, &z, &r);
		CHECK(name, r.samples == (want <= KVLB_PROM_MAX_LABELS ? 1u : 0u),
		      "%d labels: %zu samples", want, r.samples);
	}
	CHECK(name, z.n == 0, "33 labels parsed anyway");
	/* A label value as long as a line may be (less the frame). */
	n = (size_t)sprintf(t, "m{v=\"");
	for (i = 0; i < KVLB_PROM_MAX_LINE - 20; i++)
		t[n++] = (char)('a' + i % 26);
	n += (size_t)sprintf(t + n, "\"} 1\n");
	parse(t, n, &z, &r);
	CHECK(name, r.samples == 1, "long label value: %zu samples", r.samples);
	/* Over the line limit: skipped, the next line still read. */
	n = (size_t)sprintf(t, "m{v=\"");
	for (i = 0; i < KVLB_PROM_MAX_LINE + 10; i++)
		t[n++] = '\\';
	n += (size_t)sprintf(t + n, "\"} 1\nnext 2\n");
	parse(t, n, &z, &r);
	CHECK(name, r.samples == 1 && r.bad_lines == 1 && z.value[0] == 2,
	      "long line: samples %zu bad %zu", r.samples, r.bad_lines);
	/* Escapes filling the scratch space exactly. */
	n = (size_t)sprintf(t, "m{v=\"");
	for (i = 0; i < (KVLB_PROM_MAX_LINE - 12) / 2; i++) {
		t[n++] = '\\';
		t[n++] = '"';
	}
	n += (size_t)sprintf(t + n, "\"} 1\n");
	parse(t, n, &z, &r);
	CHECK(name, r.samples == 1, "escaped value: %zu samples", r.samples);
	/* A very long metric name. */
	for (i = 0; i < KVLB_PROM_MAX_NAME + 1; i++)
		t[i] = 'a';
	memcpy(t + i, " 1\n", 3);
	parse(t, i + 3, &z, &r);
	CHECK(name, r.samples == 0 && r.bad_lines == 1, "long name: %zu samples", r.samples);
	free(t);
	CASE_END(name);
}

static int count_only(const struct kvlb_prom_sample *s, void *arg)
{
	(void)s;
	(*(size_t *)arg)++;
	return 0;
}

static void test_huge(void)
{
	const char *name = "prom-10MB-inputs";
	const size_t size = 10u << 20;
	struct kvlb_prom_result r;
	size_t n = 0, lines = 0, got = 0, i;
	char *t = malloc(size);
	unsigned int x = 12345;

	CASE_BEGIN();
	while (n + 200 < size) {
		n +=
		    (size_t)sprintf(t + n,
				    "vllm:request_prompt_tokens_bucket{engine=\"%zu\",le=\"%zu.0\","
				    "model_name=\"m\"} %zu\n",
				    lines % 8, lines, lines);
		lines++;
	}
	kvlb_prom_parse(t, n, count_only, &got, &r);
	CHECK(name, r.samples == lines && got == lines && r.bad_lines == 0,
	      "%zu lines: %zu samples, %zu bad", lines, r.samples, r.bad_lines);
	/* One 10 MB line without a newline. */
	memset(t, 'a', size);
	kvlb_prom_parse(t, size, count_only, &got, &r);
	CHECK(name, r.samples == 0 && r.bad_lines == 1, "one huge line: %zu bad", r.bad_lines);
	/* 10 MB of noise, biased towards the format's own bytes. */
	for (i = 0; i < size; i++) {
		static const char alpha[] = "a{}=\",# \n\\01.e+InfNaN_:\t";

		x = x * 1103515245u + 12345u;
		t[i] = (x >> 16) % 4 ? alpha[(x >> 8) % (sizeof(alpha) - 1)] : (char)(x >> 20);
	}
	kvlb_prom_parse(t, size, count_only, &got, &r);
	CHECK(name, r.samples + r.bad_lines > 0, "noise: nothing read");
	printf("# noise: %zu samples, %zu bad lines\n", r.samples, r.bad_lines);
	free(t);
	CASE_END(name);
}

static void test_stop(void)
{
	const char *name = "prom-callback-stops";
	struct kvlb_prom_result r;
	struct seen z = {.stop_after = 2};

	CASE_BEGIN();
	parse_str("a 1\nb 2\nc 3\n", &z, &r);
	CHECK(name, z.n == 2 && r.stopped && r.samples == 2, "n %d stopped %d", z.n, r.stopped);
	CASE_END(name);
}

/* ---- model-server figures from recorded bodies --------------------------- */

static char *slurp(const char *dir, const char *file, size_t *len)
{
	char path[512];
	FILE *f;
	char *b;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(n > 0 ? (size_t)n : 1);
	*len = fread(b, 1, (size_t)n, f);
	fclose(f);
	return b;
}

struct want {
	const char *file;
	enum kvlb_prom_server configured;
	int rc;
	enum kvlb_prom_server server;
	double running, waiting;
	int has_kv;
	double kv;
	int n_buckets;
	double prompt_mean;   /* 0: no histogram sum */
	double prompt_tokens; /* -1: none */
};

static void test_servers(const char *dir)
{
	static const struct want w[] = {
	    /* two engines: counts summed, KV usage the larger */
	    {"vllm.txt", KVLB_PROM_SERVER_UNKNOWN, 0, KVLB_PROM_SERVER_VLLM, 17, 4, 1, 0.4375, 12,
	     251330.0 / 449, 252330},
	    {"vllm.txt", KVLB_PROM_SERVER_VLLM, 0, KVLB_PROM_SERVER_VLLM, 17, 4, 1, 0.4375, 12,
	     251330.0 / 449, 252330},
	    /* 0.10 and older: gpu_cache_usage_perc */
	    {"vllm-0.10.txt", KVLB_PROM_SERVER_UNKNOWN, 0, KVLB_PROM_SERVER_VLLM, 7, 0, 1, 0.61, 0,
	     0, 88000},
	    /* both names: the new one wins */
	    {"vllm-0.11-both.txt", KVLB_PROM_SERVER_UNKNOWN, 0, KVLB_PROM_SERVER_VLLM, 2, 9, 1,
	     0.125, 0, 0, -1},
	    {"sglang.txt", KVLB_PROM_SERVER_UNKNOWN, 0, KVLB_PROM_SERVER_SGLANG, 24, 5, 1, 0.61, 5,
	     98000.0 / 150, 902113},
	    /* TGI: KV usage from the batch token budget */
	    {"tgi.txt", KVLB_PROM_SERVER_UNKNOWN, 0, KVLB_PROM_SERVER_TGI, 16, 4, 1, 6144.0 / 16384,
	     6, 183004.0 / 220, -1},
	    {"tgi.txt", KVLB_PROM_SERVER_TGI, 0, KVLB_PROM_SERVER_TGI, 16, 4, 1, 6144.0 / 16384, 6,
	     183004.0 / 220, -1},
	    /* current llama.cpp: no KV signal at all */
	    {"llamacpp.txt", KVLB_PROM_SERVER_UNKNOWN, 0, KVLB_PROM_SERVER_LLAMACPP, 3, 1, 0, 0, 0,
	     0, 52311},
	    {"llamacpp-old.txt", KVLB_PROM_SERVER_LLAMACPP, 0, KVLB_PROM_SERVER_LLAMACPP, 0, 0, 1,
	     0.3, 0, 0, 1200},
	    /* configured as the wrong server: nothing found, an error */
	    {"vllm.txt", KVLB_PROM_SERVER_SGLANG, -1, KVLB_PROM_SERVER_SGLANG, 0, 0, 0, 0, 0, 0,
	     -1},
	    {"sglang.txt", KVLB_PROM_SERVER_TGI, -1, KVLB_PROM_SERVER_TGI, 0, 0, 0, 0, 0, 0, -1},
	};
	static struct kvlb_prom_load l;
	size_t i;

	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		char name[128];
		size_t len;
		char *b = slurp(dir, w[i].file, &len);
		int rc;

		snprintf(name, sizeof(name), "prom-server-%s-as-%s", w[i].file,
			 kvlb_prom_server_name(w[i].configured));
		CASE_BEGIN();
		if (!b) {
			CHECK(name, 0, "cannot read %s/%s", dir, w[i].file);
			CASE_END(name);
			continue;
		}
		rc = kvlb_prom_extract(b, len, w[i].configured, &l);
		CHECK(name, rc == w[i].rc, "rc %d", rc);
		CHECK(name, l.server == w[i].server, "server %s", kvlb_prom_server_name(l.server));
		CHECK(name, l.parse.bad_lines == 0, "%zu bad lines", l.parse.bad_lines);
		if (w[i].rc == 0) {
			CHECK(name, l.running == w[i].running && l.waiting == w[i].waiting,
			      "running %g waiting %g", l.running, l.waiting);
			CHECK(name, l.has_kv == w[i].has_kv && fabs(l.kv_usage - w[i].kv) < 1e-9,
			      "kv %d %g", l.has_kv, l.kv_usage);
			CHECK(name, l.n_buckets == w[i].n_buckets, "%d buckets", l.n_buckets);
			if (l.n_buckets) {
				CHECK(name, isinf(l.bucket_le[l.n_buckets - 1]),
				      "last bucket not +Inf");
				for (int k = 1; k < l.n_buckets; k++)
					CHECK(name, l.bucket_le[k] > l.bucket_le[k - 1],
					      "buckets not ascending");
			}
			if (w[i].prompt_mean > 0)
				CHECK(name,
				      l.has_prompt_sum && fabs(l.prompt_sum / l.prompt_count -
							       w[i].prompt_mean) < 1e-9,
				      "prompt mean %g", l.prompt_sum / l.prompt_count);
			CHECK(name,
			      w[i].prompt_tokens < 0 ? !l.has_prompt_tokens
						     : l.prompt_tokens == w[i].prompt_tokens,
			      "prompt tokens %g", l.prompt_tokens);
		}
		free(b);
		CASE_END(name);
	}
}

static void test_rebin(void)
{
	const char *name = "prom-rebin-into-kvlb-buckets";
	const double le[] = {10, 100, 1000, INFINITY}, cum[] = {10, 20, 30, 40};
	const double bad_le[] = {NAN, 5, 3, 3, INFINITY, 1e300, INFINITY};
	const double bad_cum[] = {4, NAN, 2, 9, -1, 1e300, 7};
	double edges[15];
	uint64_t out[16], sum;
	int i;

	CASE_BEGIN();
	for (i = 0; i < 15; i++)
		edges[i] = (double)(1u << (i + 7));
	kvlb_prom_rebin(le, cum, 4, edges, 15, out);
	for (sum = 0, i = 0; i < 16; i++)
		sum += out[i];
	/* Under 128 tokens: the 20 at or below 100, and 28/900 of the next 10. */
	CHECK(name, out[0] == 20 && sum == 40, "bin0 %llu sum %llu", (unsigned long long)out[0],
	      (unsigned long long)sum);
	/* 1000..2000 (the +Inf share) is mostly in [1024, 2048): bin 4. */
	CHECK(name, out[4] >= 9 && out[15] == 0, "bin4 %llu bin15 %llu", (unsigned long long)out[4],
	      (unsigned long long)out[15]);
	kvlb_prom_rebin(bad_le, bad_cum, 7, edges, 15, out);
	for (sum = 0, i = 0; i < 16; i++)
		sum += out[i];
	CHECK(name, sum > 0 && sum <= (uint64_t)1e18, "hostile input: sum %llu",
	      (unsigned long long)sum);
	kvlb_prom_rebin(le, cum, 0, edges, 15, out);
	for (sum = 0, i = 0; i < 16; i++)
		sum += out[i];
	CHECK(name, sum == 0, "empty histogram: sum %llu", (unsigned long long)sum);
	CASE_END(name);
}

static void test_bpt(void)
{
	const char *name = "prom-bytes-per-token-calibration";
	struct kvlb_bpt_cal c = {};
	int i;

	CASE_BEGIN();
	kvlb_bpt_update(&c, 4300, 1000);
	CHECK(name, c.value == 0, "a value before enough tokens: %g", c.value);
	for (i = 0; i < 20; i++)
		kvlb_bpt_update(&c, 4300, 1000);
	CHECK(name, fabs(c.value - 4.3) < 1e-9, "steady 4.3: %g", c.value);
	/* Intervals with bytes but no tokens yet (the server counts later)
	 * and the reverse even out. */
	for (i = 0; i < 200; i++) {
		kvlb_bpt_update(&c, i % 2 ? 6000 : 0, i % 2 ? 0 : 1000);
	}
	CHECK(name, fabs(c.value - 6.0) < 0.1, "uneven intervals average to 6: %g", c.value);
	/* Traffic bypassing kvlb: the ratio would fall under 1; the last good
	 * value stays. */
	for (i = 0; i < 300; i++)
		kvlb_bpt_update(&c, 100, 1000);
	CHECK(name, c.value >= KVLB_BPT_MIN, "below the floor: %g", c.value);
	kvlb_bpt_update(&c, NAN, 5);
	kvlb_bpt_update(&c, INFINITY, 5);
	kvlb_bpt_update(&c, -5, 5);
	CHECK(name, isfinite(c.bytes) && isfinite(c.tokens), "bad input spoiled the sums");
	CASE_END(name);
}

int main(int argc, char **argv)
{
	test_bpt();
	test_rebin();
	test_basic();
	test_escapes();
	test_special_values();
	test_timestamps_exemplars();
	test_quoted_names_crlf_eof();
	test_garbage();
	test_limits();
	test_huge();
	test_stop();
	test_servers(argc > 1 ? argv[1] : "tests/prom/samples");
	return unit_failed;
}

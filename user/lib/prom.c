// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Prometheus text exposition parser. Line by line over a buffer that is not
 * NUL-terminated: every read is checked against the line's end, and a line
 * that breaks the grammar is skipped and counted.
 *
 *   # HELP name text            ignored
 *   # TYPE name type            remembered for the samples of that family
 *   # EOF                       OpenMetrics' end marker: stop
 *   # anything else             a comment
 *   name{l="v",...} value [timestamp] [# {exemplar labels} value [timestamp]]
 *   {"quoted.name",l="v"} value  (the UTF-8 names of Prometheus 3)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"

struct cur {
	const char *p, *end;
};

static bool at_end(const struct cur *c)
{
	return c->p >= c->end;
}

static void skip_blank(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static bool name_start(char ch, bool metric)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
	       (metric && ch == ':');
}

static bool name_char(char ch, bool metric)
{
	return name_start(ch, metric) || (ch >= '0' && ch <= '9');
}

/* A bare name: [a-zA-Z_:][a-zA-Z0-9_:]* (no ':' in label names). */
static int bare_name(struct cur *c, bool metric, struct kvlb_prom_str *out)
{
	const char *s = c->p;

	if (at_end(c) || !name_start(*c->p, metric))
		return -1;
	while (c->p < c->end && name_char(*c->p, metric))
		c->p++;
	if ((size_t)(c->p - s) > KVLB_PROM_MAX_NAME)
		return -1;
	out->p = s;
	out->len = (size_t)(c->p - s);
	return 0;
}

/*
 * A double-quoted string, escapes resolved into scratch (which never
 * overflows: the result is no longer than the quoted text, and scratch is as
 * large as the longest line). \\, \" and \n are the format's escapes; any
 * other escaped byte stands for itself, as Prometheus reads it.
 */
static int quoted(struct cur *c, char **scratch, const char *scratch_end, size_t max,
		  struct kvlb_prom_str *out)
{
	char *o = *scratch;

	if (at_end(c) || *c->p != '"')
		return -1;
	c->p++;
	out->p = o;
	for (;;) {
		char ch;

		if (at_end(c) || o >= scratch_end)
			return -1;
		ch = *c->p++;
		if (ch == '"')
			break;
		if (ch == '\n')
			return -1;
		if (ch == '\\') {
			if (at_end(c))
				return -1;
			ch = *c->p++;
			if (ch == 'n')
				ch = '\n';
		}
		*o++ = ch;
	}
	out->len = (size_t)(o - out->p);
	if (out->len > max)
		return -1;
	*scratch = o;
	return 0;
}

/* The label set after '{' (the name may be inside, quoted, when the line
 * began with '{'). */
static int label_set(struct cur *c, char **scratch, const char *scratch_end,
		     struct kvlb_prom_sample *s, bool name_inside)
{
	bool first = true;

	for (;;) {
		struct kvlb_prom_str ln, lv;
		bool was_quoted;

		skip_blank(c);
		if (at_end(c))
			return -1;
		if (*c->p == '}') {
			c->p++;
			return name_inside && !s->name.p ? -1 : 0;
		}
		if (!first) {
			if (*c->p != ',')
				return -1;
			c->p++;
			skip_blank(c);
			if (!at_end(c) && *c->p == '}') /* a trailing comma is allowed */
				continue;
		}
		first = false;
		was_quoted = !at_end(c) && *c->p == '"';
		if (was_quoted) {
			if (quoted(c, scratch, scratch_end, KVLB_PROM_MAX_NAME, &ln))
				return -1;
		} else if (bare_name(c, false, &ln)) {
			return -1;
		}
		skip_blank(c);
		if (at_end(c))
			return -1;
		if (*c->p != '=') {
			/* {"metric.name", ...}: a quoted string alone is the name. */
			if (!name_inside || !was_quoted || s->name.p || !ln.len ||
			    (*c->p != ',' && *c->p != '}'))
				return -1;
			s->name = ln;
			continue;
		}
		c->p++;
		skip_blank(c);
		if (quoted(c, scratch, scratch_end, KVLB_PROM_MAX_LINE, &lv))
			return -1;
		if (s->n_labels == KVLB_PROM_MAX_LABELS)
			return -1;
		s->label_name[s->n_labels] = ln;
		s->label_value[s->n_labels] = lv;
		s->n_labels++;
	}
}

/* A run of non-blank bytes. */
static int token(struct cur *c, struct kvlb_prom_str *t)
{
	t->p = c->p;
	while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
		c->p++;
	t->len = (size_t)(c->p - t->p);
	return t->len ? 0 : -1;
}

/* Go's ParseFloat accepts what strtod does (decimal, hex, Inf, NaN, in any
 * case); anything else in the token is an error. */
static int parse_double(struct kvlb_prom_str t, double *v)
{
	char buf[64];
	char *end;

	if (t.len == 0 || t.len >= sizeof(buf) || memchr(t.p, '\0', t.len))
		return -1;
	memcpy(buf, t.p, t.len);
	buf[t.len] = '\0';
	/* strtod would also take "nan(...)" and leading blanks; neither is a
	 * Prometheus number. */
	if (strchr(buf, '(') || buf[0] == ' ')
		return -1;
	*v = strtod(buf, &end);
	return *end ? -1 : 0;
}

/* Milliseconds (integer, the text format) or seconds with a fraction
 * (OpenMetrics). */
static int parse_timestamp(struct kvlb_prom_str t, int64_t *ms)
{
	double v;

	if (parse_double(t, &v) || !isfinite(v))
		return -1;
	if (memchr(t.p, '.', t.len) || memchr(t.p, 'e', t.len) || memchr(t.p, 'E', t.len))
		v *= 1000.0;
	if (v >= 9.2e18 || v <= -9.2e18)
		return -1;
	*ms = (int64_t)v;
	return 0;
}

struct family {
	char name[KVLB_PROM_MAX_NAME];
	size_t len;
	enum kvlb_prom_type type;
};

static enum kvlb_prom_type type_of(struct kvlb_prom_str t)
{
	static const struct {
		const char *name;
		enum kvlb_prom_type type;
	} types[] = {
	    {"counter", KVLB_PROM_COUNTER},	{"gauge", KVLB_PROM_GAUGE},
	    {"histogram", KVLB_PROM_HISTOGRAM}, {"summary", KVLB_PROM_SUMMARY},
	    {"untyped", KVLB_PROM_UNTYPED},	{"unknown", KVLB_PROM_UNTYPED},
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (kvlb_prom_str_eq(t, types[i].name))
			return types[i].type;
	return KVLB_PROM_OTHER;
}

static enum kvlb_prom_type family_type(const struct family *f, struct kvlb_prom_str n)
{
	static const char *const suffixes[] = {"",	 "_bucket",  "_sum",	"_count",
					       "_total", "_created", "_gcount", "_gsum"};
	size_t i;

	if (!f->len || n.len < f->len || memcmp(n.p, f->name, f->len))
		return KVLB_PROM_UNTYPED;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);

		if (n.len == f->len + sl && !memcmp(n.p + f->len, suffixes[i], sl))
			return f->type;
	}
	return KVLB_PROM_UNTYPED;
}

/* "# ..." lines. Returns 1 at "# EOF". */
static int comment(struct cur *c, struct family *f)
{
	struct kvlb_prom_str kw, name, type;

	c->p++; /* '#' */
	skip_blank(c);
	if (token(c, &kw))
		return 0;
	if (kvlb_prom_str_eq(kw, "EOF")) {
		skip_blank(c);
		return at_end(c) ? 1 : 0;
	}
	if (!kvlb_prom_str_eq(kw, "TYPE"))
		return 0;
	skip_blank(c);
	if (token(c, &name) || name.len > sizeof(f->name))
		return 0;
	skip_blank(c);
	if (token(c, &type))
		type.len = 0;
	memcpy(f->name, name.p, name.len);
	f->len = name.len;
	f->type = type_of(type);
	return 0;
}

static int sample_line(struct cur *c, char *scratch, const char *scratch_end,
		       struct kvlb_prom_sample *s)
{
	struct kvlb_prom_str v, ts;

	memset(s, 0, sizeof(*s));
	if (*c->p == '{') {
		c->p++;
		if (label_set(c, &scratch, scratch_end, s, true))
			return -1;
	} else {
		if (bare_name(c, true, &s->name))
			return -1;
		skip_blank(c);
		if (!at_end(c) && *c->p == '{') {
			c->p++;
			if (label_set(c, &scratch, scratch_end, s, false))
				return -1;
		}
	}
	skip_blank(c);
	if (token(c, &v) || parse_double(v, &s->value))
		return -1;
	skip_blank(c);
	if (at_end(c))
		return 0;
	if (*c->p != '#') {
		if (token(c, &ts) || parse_timestamp(ts, &s->timestamp_ms))
			return -1;
		s->has_timestamp = true;
		skip_blank(c);
		if (at_end(c))
			return 0;
		if (*c->p != '#')
			return -1;
	}
	/* An exemplar: checked for shape, then dropped. Its labels go into a
	 * throwaway sample so they cannot displace the series' own. */
	{
		struct kvlb_prom_sample ex;
		double d;
		int64_t t;

		c->p++;
		skip_blank(c);
		if (at_end(c) || *c->p != '{')
			return -1;
		c->p++;
		memset(&ex, 0, sizeof(ex));
		if (label_set(c, &scratch, scratch_end, &ex, false))
			return -1;
		skip_blank(c);
		if (token(c, &v) || parse_double(v, &d))
			return -1;
		skip_blank(c);
		if (!at_end(c) && (token(c, &ts) || parse_timestamp(ts, &t)))
			return -1;
		skip_blank(c);
		return at_end(c) ? 0 : -1;
	}
}

void kvlb_prom_parse(const char *buf, size_t len, kvlb_prom_cb cb, void *arg,
		     struct kvlb_prom_result *res)
{
	static __thread char scratch[KVLB_PROM_MAX_LINE];
	static __thread struct kvlb_prom_sample s;
	struct family fam = {};
	const char *p = buf, *end;
	size_t line = 0;

	memset(res, 0, sizeof(*res));
	if (!buf)
		return;
	end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct cur c = {p, le};

		line++;
		p = nl ? nl + 1 : end;
		if (c.end > c.p && c.end[-1] == '\r')
			c.end--;
		if ((size_t)(c.end - c.p) > KVLB_PROM_MAX_LINE)
			goto bad;
		skip_blank(&c);
		if (at_end(&c))
			continue;
		if (*c.p == '#') {
			if (comment(&c, &fam))
				break;
			continue;
		}
		if (sample_line(&c, scratch, scratch + sizeof(scratch), &s))
			goto bad;
		s.type = family_type(&fam, s.name);
		res->samples++;
		if (cb && cb(&s, arg)) {
			res->stopped = true;
			break;
		}
		continue;
	bad:
		if (!res->bad_lines)
			res->first_bad_line = line;
		res->bad_lines++;
	}
}

bool kvlb_prom_str_eq(struct kvlb_prom_str s, const char *c)
{
	size_t n = strlen(c);

	return s.len == n && !memcmp(s.p, c, n);
}

const struct kvlb_prom_str *kvlb_prom_label(const struct kvlb_prom_sample *s, const char *name)
{
	int i;

	for (i = 0; i < s->n_labels; i++)
		if (kvlb_prom_str_eq(s->label_name[i], name))
			return &s->label_value[i];
	return NULL;
}

/* ---- model-server figures ------------------------------------------------ */

/*
 * Where each figure lives, per server (spec: the servers' own exporters).
 * Alternatives are in order of preference: a server that exposes both the
 * new and the old name (vLLM between 0.9.2 and 0.11) is read by the new.
 */
#define MAX_ALT 2
struct server_names {
	enum kvlb_prom_server kind;
	const char *name;
	const char *prefix; /* detects the server */
	const char *running[MAX_ALT];
	const char *waiting[MAX_ALT];
	const char *kv[MAX_ALT];
	const char *hist; /* prompt-token histogram family */
	const char *prompt_tokens;
	/* TGI: KV usage as the batch's token budget in use over the budget. */
	const char *kv_used, *kv_total;
};

static const struct server_names servers[] = {
    {KVLB_PROM_SERVER_VLLM,
     "vllm",
     "vllm:",
     {"vllm:num_requests_running"},
     {"vllm:num_requests_waiting"},
     {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"},
     "vllm:request_prompt_tokens",
     "vllm:prompt_tokens_total",
     NULL,
     NULL},
    {KVLB_PROM_SERVER_SGLANG,
     "sglang",
     "sglang:",
     {"sglang:num_running_reqs"},
     {"sglang:num_queue_reqs"},
     {"sglang:token_usage"},
     "sglang:prompt_tokens_histogram",
     "sglang:prompt_tokens_total",
     NULL,
     NULL},
    {KVLB_PROM_SERVER_TGI,
     "tgi",
     "tgi_",
     {"tgi_batch_current_size"},
     {"tgi_queue_size"},
     {NULL},
     "tgi_request_input_length",
     NULL,
     "tgi_batch_current_max_tokens",
     "tgi_batch_max_total_tokens"},
    {KVLB_PROM_SERVER_LLAMACPP,
     "llamacpp",
     "llamacpp:",
     {"llamacpp:requests_processing"},
     {"llamacpp:requests_deferred"},
     {"llamacpp:kv_cache_usage_ratio"},
     NULL,
     "llamacpp:prompt_tokens_total",
     NULL,
     NULL},
};
#define N_SERVERS (sizeof(servers) / sizeof(servers[0]))

const char *kvlb_prom_server_name(enum kvlb_prom_server k)
{
	size_t i;

	for (i = 0; i < N_SERVERS; i++)
		if (servers[i].kind == k)
			return servers[i].name;
	return "unknown";
}

struct extract {
	struct kvlb_prom_load *out;
	const struct server_names *sn;
	bool has[3][MAX_ALT];
	double val[3][MAX_ALT];
	bool has_used, has_total;
	double used, total;
	bool has_sum, has_count;
};

enum { F_RUNNING, F_WAITING, F_KV };

static bool has_suffix(struct kvlb_prom_str n, const char *family, const char *suffix)
{
	size_t fl = strlen(family), sl = strlen(suffix);

	return n.len == fl + sl && !memcmp(n.p, family, fl) && !memcmp(n.p + fl, suffix, sl);
}

static void add_bucket(struct kvlb_prom_load *o, double le, double count)
{
	int i, j;

	for (i = 0; i < o->n_buckets && o->bucket_le[i] < le; i++)
		;
	if (i < o->n_buckets && o->bucket_le[i] == le) {
		o->bucket_count[i] += count;
		return;
	}
	if (o->n_buckets == KVLB_PROM_MAX_BUCKETS)
		return;
	for (j = o->n_buckets; j > i; j--) {
		o->bucket_le[j] = o->bucket_le[j - 1];
		o->bucket_count[j] = o->bucket_count[j - 1];
	}
	o->bucket_le[i] = le;
	o->bucket_count[i] = count;
	o->n_buckets++;
}

static int extract_cb(const struct kvlb_prom_sample *s, void *arg)
{
	struct extract *x = arg;
	const struct server_names *sn = x->sn;
	double v = s->value;
	int f, a;

	if (!sn) {
		size_t i;

		for (i = 0; i < N_SERVERS; i++) {
			size_t pl = strlen(servers[i].prefix);

			if (s->name.len > pl && !memcmp(s->name.p, servers[i].prefix, pl))
				break;
		}
		if (i == N_SERVERS)
			return 0;
		sn = x->sn = &servers[i];
		x->out->server = sn->kind;
	}
	/* Counts and fractions are never negative or NaN; such a sample is
	 * a broken exporter, not a figure. */
	if (isnan(v) || v < 0)
		return 0;
	for (f = 0; f < 3; f++) {
		const char *const *alt = f == F_RUNNING	  ? sn->running
					 : f == F_WAITING ? sn->waiting
							  : sn->kv;

		for (a = 0; a < MAX_ALT && alt[a]; a++) {
			if (!kvlb_prom_str_eq(s->name, alt[a]))
				continue;
			if (f == F_KV)
				x->val[f][a] = x->has[f][a] && x->val[f][a] > v ? x->val[f][a] : v;
			else
				x->val[f][a] += v;
			x->has[f][a] = true;
			return 0;
		}
	}
	if (sn->hist) {
		if (has_suffix(s->name, sn->hist, "_bucket")) {
			const struct kvlb_prom_str *le = kvlb_prom_label(s, "le");
			double b;

			if (le && !parse_double(*le, &b) && !isnan(b))
				add_bucket(x->out, b, v);
			return 0;
		}
		if (has_suffix(s->name, sn->hist, "_sum")) {
			x->out->prompt_sum += v;
			x->has_sum = true;
			return 0;
		}
		if (has_suffix(s->name, sn->hist, "_count")) {
			x->out->prompt_count += v;
			x->has_count = true;
			return 0;
		}
	}
	if (sn->prompt_tokens && kvlb_prom_str_eq(s->name, sn->prompt_tokens)) {
		x->out->prompt_tokens += v;
		x->out->has_prompt_tokens = true;
	} else if (sn->kv_used && kvlb_prom_str_eq(s->name, sn->kv_used)) {
		x->used += v;
		x->has_used = true;
	} else if (sn->kv_total && kvlb_prom_str_eq(s->name, sn->kv_total)) {
		x->total += v;
		x->has_total = true;
	}
	return 0;
}

static const struct server_names *server_of(enum kvlb_prom_server k)
{
	size_t i;

	for (i = 0; i < N_SERVERS; i++)
		if (servers[i].kind == k)
			return &servers[i];
	return NULL;
}

int kvlb_prom_extract(const char *buf, size_t len, enum kvlb_prom_server server,
		      struct kvlb_prom_load *out)
{
	struct extract x = {};
	int f, a;

	memset(out, 0, sizeof(*out));
	out->server = server;
	x.out = out;
	x.sn = server_of(server);
	kvlb_prom_parse(buf, len, extract_cb, &x, &out->parse);
	for (f = 0; f < 3; f++) {
		for (a = 0; a < MAX_ALT && !x.has[f][a]; a++)
			;
		if (a == MAX_ALT)
			continue;
		if (f == F_RUNNING) {
			out->has_running = true;
			out->running = x.val[f][a];
		} else if (f == F_WAITING) {
			out->has_waiting = true;
			out->waiting = x.val[f][a];
		} else {
			out->has_kv = true;
			out->kv_usage = x.val[f][a];
		}
	}
	if (!out->has_kv && x.has_used && x.has_total && x.total > 0) {
		out->has_kv = true;
		out->kv_usage = x.used / x.total;
	}
	if (out->has_kv && out->kv_usage > 1)
		out->kv_usage = 1;
	out->has_prompt_sum = x.has_sum && x.has_count;
	return out->has_running && out->has_waiting ? 0 : -1;
}

#define REBIN_MAX 1e18 /* counts above this are clamped (and fit a u64) */

struct cumf {
	double lo[KVLB_PROM_MAX_BUCKETS + 1], hi[KVLB_PROM_MAX_BUCKETS + 1];
	double c0[KVLB_PROM_MAX_BUCKETS + 1], c1[KVLB_PROM_MAX_BUCKETS + 1];
	int n;
	double total;
};

/* The interpolated count at or below x. */
static double cum_at(const struct cumf *f, double x)
{
	int k;

	for (k = 0; k < f->n; k++) {
		if (x <= f->lo[k])
			return f->c0[k];
		if (x < f->hi[k])
			return f->c0[k] +
			       (f->c1[k] - f->c0[k]) * (x - f->lo[k]) / (f->hi[k] - f->lo[k]);
	}
	return f->total;
}

void kvlb_prom_rebin(const double *le, const double *cum, int n, const double *edges, int n_edges,
		     uint64_t *out)
{
	static __thread struct cumf f;
	double prev_le = 0, prev_c = 0, last;
	int k, i;

	memset(&f, 0, sizeof(f));
	if (n > KVLB_PROM_MAX_BUCKETS)
		n = KVLB_PROM_MAX_BUCKETS;
	for (k = 0; k < n; k++) {
		double c = cum[k], b = le[k];

		if (isnan(c) || c < prev_c)
			c = prev_c;
		if (c > REBIN_MAX)
			c = REBIN_MAX;
		if (isnan(b) || b <= prev_le) {
			/* (.., 0] or a repeated bound: a point mass at the bound. */
			if (isinf(b) || isnan(b))
				b = prev_le > 0 ? prev_le * 2 : 1;
			else if (b < prev_le)
				b = prev_le;
		}
		if (isinf(b))
			b = prev_le > 0 ? prev_le * 2 : 1; /* spread the overflow */
		if (b > REBIN_MAX)
			b = REBIN_MAX;
		if (b > prev_le) {
			f.lo[f.n] = prev_le;
			f.hi[f.n] = b;
			f.c0[f.n] = prev_c;
			f.c1[f.n] = c;
			f.n++;
			prev_le = b;
		} else if (f.n) {
			f.c1[f.n - 1] = c; /* same bound again: take the larger count */
		} else {
			f.lo[0] = 0;
			f.hi[0] = 1e-9; /* everything at 0 */
			f.c0[0] = 0;
			f.c1[0] = c;
			f.n = 1;
			prev_le = 1e-9;
		}
		prev_c = c;
	}
	f.total = prev_c;
	last = 0;
	for (i = 0; i <= n_edges; i++) {
		double c = i < n_edges ? cum_at(&f, edges[i]) : f.total;
		double r = floor(c + 0.5);

		out[i] = r > last ? (uint64_t)(r - last) : 0;
		if (r > last)
			last = r;
	}
}

void kvlb_bpt_update(struct kvlb_bpt_cal *c, double bytes, double tokens)
{
	const double keep = 1.0 - 1.0 / KVLB_BPT_WINDOW;
	double v;

	if (!(bytes >= 0) || !(tokens >= 0) || isinf(bytes) || isinf(tokens))
		return;
	c->bytes = c->bytes * keep + bytes;
	c->tokens = c->tokens * keep + tokens;
	if (c->tokens < KVLB_BPT_MIN_TOKENS || c->bytes <= 0)
		return;
	v = c->bytes / c->tokens;
	if (v >= KVLB_BPT_MIN && v <= KVLB_BPT_MAX)
		c->value = v;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Backend scraping and health. One libcurl multi handle drives every
 * scrape from kvlbd's single loop: scrapes of all backends run at once,
 * each on its own easy handle, so the multi handle's connection cache keeps
 * one connection per backend alive from one period to the next.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "log.h"
#include "scrape.h"

const double scrape_lat_bounds[SCRAPE_LAT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
						      0.05,  0.1,    0.25,  0.5,  1.0};

/* Mean prompt size assumed while a server's histogram says nothing. */
#define DEFAULT_PROMPT_TOKENS 512.0

struct target {
	struct kvlb_endpoint vip, ep;
	char url[KVLB_CONF_URL_LEN];
	enum kvlb_prom_server configured;
	CURL *easy;
	bool busy;
	char *body;
	size_t len, cap;
	bool too_big;
	int fails;	 /* consecutive health failures */
	bool has_tokens; /* tokens: the server's prompt-token count at the last good scrape */
	double tokens;
	char warned[160]; /* the problem last logged; logged again only when it changes */
	struct scrape_view v;
};

struct scraper {
	struct kvlb_handle *h;
	struct scrape_opts o;
	CURLM *multi;
	struct target *t;
	int n;
	uint64_t next_ms;
	pthread_mutex_t lock;	    /* guards every t[i].v and n against the metrics thread */
	struct kvlb_bpt_cal cal;    /* bytes per token, over all backends */
	struct kvlb_prom_load load; /* scratch: too large for the stack */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct target *t = arg;
	size_t add = sz * n;

	if (add > SCRAPE_MAX_BODY - t->len) {
		t->too_big = true;
		return 0; /* aborts the transfer */
	}
	if (t->len + add > t->cap) {
		size_t cap = t->cap ? t->cap : 65536;
		char *b;

		while (cap < t->len + add)
			cap *= 2;
		b = realloc(t->body, cap);
		if (!b)
			return 0;
		t->body = b;
		t->cap = cap;
	}
	memcpy(t->body + t->len, p, add);
	t->len += add;
	return add;
}

static enum kvlb_prom_server prom_kind(enum kvlb_server_kind k)
{
	switch (k) {
	case KVLB_SERVER_VLLM:
		return KVLB_PROM_SERVER_VLLM;
	case KVLB_SERVER_SGLANG:
		return KVLB_PROM_SERVER_SGLANG;
	case KVLB_SERVER_TGI:
		return KVLB_PROM_SERVER_TGI;
	case KVLB_SERVER_LLAMACPP:
		return KVLB_PROM_SERVER_LLAMACPP;
	default:
		return KVLB_PROM_SERVER_UNKNOWN;
	}
}

static int easy_setup(struct scraper *s, struct target *t)
{
	CURL *e = curl_easy_init();

	if (!e)
		return -1;
	curl_easy_setopt(e, CURLOPT_URL, t->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->o.timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->o.timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kvlbd");
	/* Servers may compress /metrics; the body limit applies after it. */
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	t->easy = e;
	return 0;
}

static void target_release(struct scraper *s, struct target *t)
{
	if (t->easy) {
		if (t->busy)
			curl_multi_remove_handle(s->multi, t->easy);
		curl_easy_cleanup(t->easy);
	}
	free(t->body);
	memset(t, 0, sizeof(*t));
}

struct scraper *scrape_new(struct kvlb_handle *h, const struct scrape_opts *o)
{
	struct scraper *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		free(s);
		return NULL;
	}
	s->h = h;
	s->o = *o;
	s->multi = curl_multi_init();
	if (!s->multi) {
		curl_global_cleanup();
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->next_ms = now_ms();
	return s;
}

void scrape_free(struct scraper *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		target_release(s, &s->t[i]);
	free(s->t);
	curl_multi_cleanup(s->multi);
	curl_global_cleanup();
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static struct target *find_old(struct target *old, int n, const struct kvlb_conf_backend *cb,
			       const struct kvlb_endpoint *vip)
{
	int i;

	for (i = 0; i < n; i++)
		if (old[i].easy && kvlb_endpoint_equal(&old[i].vip, vip) &&
		    kvlb_endpoint_equal(&old[i].ep, &cb->ep) &&
		    !strcmp(old[i].url, cb->metrics_url))
			return &old[i];
	return NULL;
}

int scrape_set_targets(struct scraper *s, const struct kvlb_conf *c)
{
	struct kvlb_backend_info *bes;
	struct target *nt = NULL, *old = s->t;
	int nb, i, j, n = 0, n_old = s->n;

	bes = calloc(KVLB_MAX_BACKENDS, sizeof(*bes));
	if (!bes)
		return -1;
	nb = kvlb_backend_list(s->h, NULL, bes, KVLB_MAX_BACKENDS);
	if (nb < 0) {
		log_err("scraper: reading backends: %s", kvlb_error());
		free(bes);
		return -1;
	}
	if (c->n_backends) {
		nt = calloc((size_t)c->n_backends, sizeof(*nt));
		if (!nt) {
			free(bes);
			return -1;
		}
	}
	/* Targets move out of the old array: the metrics thread must not read
	 * it meanwhile. */
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < c->n_backends; i++) {
		const struct kvlb_conf_backend *cb = &c->backends[i];
		const struct kvlb_endpoint *vip = &c->vips[cb->vip].ep;
		struct target *t = &nt[n], *o;

		if (!cb->metrics_url[0])
			continue;
		for (j = 0; j < nb; j++)
			if (kvlb_endpoint_equal(&bes[j].vip, vip) &&
			    kvlb_endpoint_equal(&bes[j].ep, &cb->ep))
				break;
		if (j == nb) {
			log_warn("scraper: backend %s is not in the maps; not scraped",
				 kvlb_endpoint_format(&cb->ep, t->v.backend, sizeof(t->v.backend)));
			continue;
		}
		o = find_old(old, n_old, cb, vip);
		if (o) {
			/* Keep the connection, health and counters; stop a scrape in
			 * flight (its answer would be for the old id). */
			*t = *o;
			memset(o, 0, sizeof(*o));
			curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
			curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
			if (t->busy) {
				curl_multi_remove_handle(s->multi, t->easy);
				t->busy = false;
			}
		} else {
			memset(t, 0, sizeof(*t));
			snprintf(t->url, sizeof(t->url), "%s", cb->metrics_url);
			t->vip = *vip;
			t->ep = cb->ep;
			if (easy_setup(s, t)) {
				log_err("scraper: cannot set up a transfer for %s", t->url);
				continue;
			}
			kvlb_endpoint_format(vip, t->v.vip, sizeof(t->v.vip));
			kvlb_endpoint_format(&cb->ep, t->v.backend, sizeof(t->v.backend));
			snprintf(t->v.url, sizeof(t->v.url), "%s", t->url);
		}
		t->configured = prom_kind(cb->server);
		if (t->configured != KVLB_PROM_SERVER_UNKNOWN)
			t->v.server = t->configured;
		t->v.id = bes[j].id;
		n++;
	}
	free(bes);
	for (i = 0; i < n_old; i++) {
		/* A backend kvlbd no longer checks must not stay down on its
		 * word (if it still exists). */
		if (old[i].easy && old[i].v.health == HEALTH_DOWN &&
		    !kvlb_backend_flags(s->h, &old[i].vip, &old[i].ep, 0, KVLB_BE_F_DOWN))
			log_info("backend %s of %s is no longer checked: marked up",
				 old[i].v.backend, old[i].v.vip);
		target_release(s, &old[i]);
	}
	free(old);
	s->t = nt;
	s->n = n;
	pthread_mutex_unlock(&s->lock);
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)(n ? n * 2 : 8));
	log_info("scraping %d backend%s every %d ms (timeout %d ms, down after %d failures)", n,
		 n == 1 ? "" : "s", s->o.interval_ms, s->o.timeout_ms, s->o.fail_threshold);
	return 0;
}

static uint32_t clamp_u32(double v)
{
	if (!(v > 0))
		return 0;
	return v >= 4294967295.0 ? UINT32_MAX : (uint32_t)(v + 0.5);
}

/*
 * The scraped load in token units (what the data path adds its own bound
 * tokens to): the requests the server holds, running and waiting, times the
 * mean prompt it has seen, scaled by 1 + KV-cache usage (a fuller cache
 * evicts more prefixes, so the same queue costs more to serve).
 */
static uint64_t load_score(const struct kvlb_prom_load *l)
{
	double mean = DEFAULT_PROMPT_TOKENS, v;

	if (l->has_prompt_sum && l->prompt_count >= 1 && isfinite(l->prompt_sum / l->prompt_count))
		mean = l->prompt_sum / l->prompt_count;
	v = (l->running + l->waiting) * mean * (1.0 + (l->has_kv ? l->kv_usage : 0));
	if (!(v > 0))
		return 0;
	return v >= 1e18 ? (uint64_t)1e18 : (uint64_t)(v + 0.5);
}

/*
 * One interval's evidence for the bytes-per-token ratio: the bytes the data
 * path bound to this backend since the last scrape (its bound tokens times
 * the ratio it used) against the prompt tokens the server counted since.
 * Servers without a prompt-token count give none.
 */
static void calibrate(struct scraper *s, struct target *t, const struct kvlb_prom_load *l)
{
	struct kvlb_backend_load old;
	double tokens, bpt;

	if (l->has_prompt_tokens)
		tokens = l->prompt_tokens;
	else if (l->has_prompt_sum)
		tokens = l->prompt_sum;
	else
		return;
	if (t->has_tokens && tokens >= t->tokens && !kvlb_load_read(s->h, t->v.id, &old)) {
		bpt = old.bytes_per_token_x100 ? old.bytes_per_token_x100 / 100.0
					       : s->o.bytes_per_token;
		kvlb_bpt_update(&s->cal, (double)old.bound_tokens * bpt, tokens - t->tokens);
	}
	/* A smaller count is a restarted server: start again from it. */
	t->tokens = tokens;
	t->has_tokens = true;
}

static void write_load(struct scraper *s, struct target *t, const struct kvlb_prom_load *l)
{
	struct kvlb_backend_load bl = {};
	double edges[KVLB_PROMPT_HIST_BUCKETS - 1];
	uint64_t hist[KVLB_PROMPT_HIST_BUCKETS];
	int i;

	bl.running = clamp_u32(l->running);
	bl.waiting = clamp_u32(l->waiting);
	bl.kv_usage_ppm = l->has_kv ? clamp_u32(l->kv_usage * 1e6) : 0;
	calibrate(s, t, l);
	bl.bytes_per_token_x100 =
	    clamp_u32((s->cal.value ? s->cal.value : s->o.bytes_per_token) * 100);
	bl.load_score = load_score(l);
	bl.bound_tokens = 0; /* the scraped figures now include what was bound */
	bl.scrape_ns = now_ns();
	/* Bucket b is [2^(b+6), 2^(b+7)) tokens (kvlb.h): edges 2^7 .. 2^21. */
	for (i = 0; i < KVLB_PROMPT_HIST_BUCKETS - 1; i++)
		edges[i] = (double)(1u << (i + 7));
	kvlb_prom_rebin(l->bucket_le, l->bucket_count, l->n_buckets, edges,
			KVLB_PROMPT_HIST_BUCKETS - 1, hist);
	for (i = 0; i < KVLB_PROMPT_HIST_BUCKETS; i++)
		bl.prompt_hist[i] = hist[i];
	if (kvlb_load_write(s->h, t->v.id, &bl))
		log_warn("scraper: %s", kvlb_error());
	pthread_mutex_lock(&s->lock);
	t->v.load_score = bl.load_score;
	pthread_mutex_unlock(&s->lock);
}

/* Make the map's DOWN flag say what the scrapes say. */
static void set_health(struct scraper *s, struct target *t, bool up, const char *why)
{
	struct kvlb_backend be;
	enum scrape_health was = t->v.health;
	bool down_in_map;

	if (kvlb_backend_get(s->h, t->v.id, &be)) {
		log_warn("scraper: %s", kvlb_error());
		return;
	}
	down_in_map = be.flags & KVLB_BE_F_DOWN;
	pthread_mutex_lock(&s->lock);
	t->v.health = up ? HEALTH_UP : HEALTH_DOWN;
	if (!up && was != HEALTH_DOWN)
		t->v.down_transitions++;
	pthread_mutex_unlock(&s->lock);
	if (up == !down_in_map) {
		if (was != t->v.health && was != HEALTH_UNKNOWN)
			log_info("backend %s of %s is %s", t->v.backend, t->v.vip,
				 up ? "up" : "down");
		return;
	}
	if (kvlb_backend_flags(s->h, &t->vip, &t->ep, up ? 0 : KVLB_BE_F_DOWN,
			       up ? KVLB_BE_F_DOWN : 0)) {
		log_err("marking backend %s %s: %s", t->v.backend, up ? "up" : "down",
			kvlb_error());
		return;
	}
	if (up)
		log_info("backend %s of %s is up: new connections go to it again", t->v.backend,
			 t->v.vip);
	else
		log_warn("backend %s of %s is down (%s): no new connections", t->v.backend,
			 t->v.vip, why);
}

static void observe_latency(struct target *t, double sec)
{
	int b;

	for (b = 0; b < SCRAPE_LAT_BUCKETS && sec > scrape_lat_bounds[b]; b++)
		;
	t->v.lat_counts[b]++;
	t->v.lat_sum += sec;
}

static void finished(struct scraper *s, struct target *t, CURLcode rc)
{
	struct kvlb_prom_load *l = &s->load;
	long code = 0;
	curl_off_t us = 0;
	char why[160];
	bool health_fail = false, ok = false;

	t->busy = false;
	curl_multi_remove_handle(s->multi, t->easy);
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &us);

	if (rc == CURLE_COULDNT_CONNECT) {
		/* Refused (or unreachable): nothing serves there now. */
		snprintf(why, sizeof(why), "connection refused");
		health_fail = true;
		t->fails = s->o.fail_threshold;
	} else if (rc != CURLE_OK) {
		snprintf(why, sizeof(why), "%s",
			 t->too_big ? "body over the size limit" : curl_easy_strerror(rc));
		health_fail = !t->too_big;
		if (health_fail)
			t->fails++;
	} else if (code >= 500) {
		snprintf(why, sizeof(why), "HTTP %ld", code);
		health_fail = true;
		t->fails++;
	} else if (code != 200) {
		snprintf(why, sizeof(why), "HTTP %ld", code);
	} else if (kvlb_prom_extract(t->body, t->len, t->configured, l)) {
		snprintf(why, sizeof(why),
			 "no running/waiting gauges of a known server (%zu samples)",
			 l->parse.samples);
		t->v.parse_errors++;
	} else {
		ok = true;
	}

	pthread_mutex_lock(&s->lock);
	t->v.scrapes++;
	observe_latency(t, (double)us / 1e6);
	if (ok) {
		t->v.has_figures = true;
		t->v.running = l->running;
		t->v.waiting = l->waiting;
		t->v.kv_usage = l->has_kv ? l->kv_usage : 0;
		t->v.server = l->server;
		t->v.bad_lines += l->parse.bad_lines;
	} else {
		t->v.failures++;
	}
	pthread_mutex_unlock(&s->lock);

	if (ok) {
		t->fails = 0;
		t->warned[0] = '\0';
		write_load(s, t, l);
		if (t->v.health != HEALTH_UP)
			set_health(s, t, true, NULL);
		return;
	}
	if (!health_fail) {
		t->fails = 0; /* it answered: a run of timeouts is broken */
		if (strcmp(t->warned, why))
			log_warn("scraping %s: %s (the backend stays as it is)", t->url, why);
		snprintf(t->warned, sizeof(t->warned), "%s", why);
		return;
	}
	log_debug("scraping %s: %s (%d in a row)", t->url, why, t->fails);
	if (t->fails >= s->o.fail_threshold && t->v.health != HEALTH_DOWN)
		set_health(s, t, false, why);
}

static void start_due(struct scraper *s)
{
	int i;

	for (i = 0; i < s->n; i++) {
		struct target *t = &s->t[i];

		/* A scrape still running (a slow server) skips beats rather
		 * than pile up requests on it. */
		if (t->busy || !t->easy)
			continue;
		t->len = 0;
		t->too_big = false;
		if (curl_multi_add_handle(s->multi, t->easy) == CURLM_OK)
			t->busy = true;
	}
}

static void reap(struct scraper *s)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(s->multi, &left))) {
		struct target *t = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		if (t)
			finished(s, t, m->data.result);
	}
}

int scrape_wait(struct scraper *s, int fd, bool *fd_ready)
{
	struct curl_waitfd w = {.fd = fd, .events = CURL_WAIT_POLLIN};
	uint64_t now = now_ms();
	long ct = -1;
	int running, timeout, nfds;
	CURLMcode mc;

	*fd_ready = false;
	if (s->n && now >= s->next_ms) {
		start_due(s);
		s->next_ms += (uint64_t)s->o.interval_ms;
		if (s->next_ms <= now) /* we fell behind: keep the period, not the debt */
			s->next_ms = now + (uint64_t)s->o.interval_ms;
	}
	curl_multi_perform(s->multi, &running);
	reap(s);

	now = now_ms();
	timeout = s->n ? (int)(s->next_ms > now ? s->next_ms - now : 0) : 1000;
	curl_multi_timeout(s->multi, &ct);
	if (ct >= 0 && ct < timeout)
		timeout = (int)ct;
	mc = curl_multi_poll(s->multi, &w, 1, timeout, &nfds);
	if (mc != CURLM_OK) {
		log_err("scraper: waiting: %s", curl_multi_strerror(mc));
		return -1;
	}
	*fd_ready = w.revents & CURL_WAIT_POLLIN;
	curl_multi_perform(s->multi, &running);
	reap(s);
	return 0;
}

int scrape_snapshot(struct scraper *s, struct scrape_view *out, int max)
{
	int i, n;

	pthread_mutex_lock(&s->lock);
	n = s->n < max ? s->n : max;
	for (i = 0; i < n; i++)
		out[i] = s->t[i].v;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int scrape_count(struct scraper *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kvlbd's /metrics. Rendered afresh for each request from the pinned maps
 * and a copy of the scraper's state, so it never holds the scraper's lock
 * while writing to a slow client.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "log.h"
#include "metrics_server.h"

struct metrics_server {
	struct MHD_Daemon *d;
	struct kvlb_handle *h;
	struct scraper *sc;
	const char *version;
};

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values here are endpoints and URLs; escape anyway, as the format
 * requires. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void labels(FILE *f, const struct scrape_view *v)
{
	fputs("{vip=\"", f);
	label_value(f, v->vip);
	fputs("\",backend=\"", f);
	label_value(f, v->backend);
	fputs("\"}", f);
}

/* The per-backend series, in the order they are written. */
enum series {
	S_UP,
	S_RUNNING,
	S_WAITING,
	S_KV,
	S_LOAD,
	S_BOUND,
	S_SCRAPES,
	S_FAILURES,
	S_BAD_LINES,
	S_DOWNS,
};

static void per_backend(FILE *f, const struct scrape_view *v, int n, const char *name,
			const char *type, const char *help, enum series which,
			const struct kvlb_backend_load *maps)
{
	int i;

	head(f, name, type, help);
	for (i = 0; i < n; i++) {
		double x;

		switch (which) {
		case S_UP:
			if (v[i].health == HEALTH_UNKNOWN)
				continue;
			x = v[i].health == HEALTH_UP;
			break;
		case S_RUNNING:
			if (!v[i].has_figures)
				continue;
			x = v[i].running;
			break;
		case S_WAITING:
			if (!v[i].has_figures)
				continue;
			x = v[i].waiting;
			break;
		case S_KV:
			if (!v[i].has_figures)
				continue;
			x = v[i].kv_usage;
			break;
		case S_LOAD:
			x = (double)v[i].load_score;
			break;
		case S_BOUND:
			x = (double)maps[i].bound_tokens;
			break;
		case S_SCRAPES:
			x = (double)v[i].scrapes;
			break;
		case S_FAILURES:
			x = (double)v[i].failures;
			break;
		case S_BAD_LINES:
			x = (double)v[i].bad_lines;
			break;
		case S_DOWNS:
		default:
			x = (double)v[i].down_transitions;
			break;
		}
		fputs(name, f);
		labels(f, &v[i]);
		fprintf(f, " %.17g\n", x);
	}
}

static void latency(FILE *f, const struct scrape_view *v, int n)
{
	const char *name = "kvlb_scrape_duration_seconds";
	int i, b;

	head(f, name, "histogram", "time to scrape a backend's /metrics, failures included");
	for (i = 0; i < n; i++) {
		uint64_t cum = 0;

		for (b = 0; b <= SCRAPE_LAT_BUCKETS; b++) {
			cum += v[i].lat_counts[b];
			fprintf(f, "%s_bucket{vip=\"", name);
			label_value(f, v[i].vip);
			fputs("\",backend=\"", f);
			label_value(f, v[i].backend);
			if (b < SCRAPE_LAT_BUCKETS)
				fprintf(f, "\",le=\"%g\"} %llu\n", scrape_lat_bounds[b],
					(unsigned long long)cum);
			else
				fprintf(f, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		}
		fprintf(f, "%s_sum", name);
		labels(f, &v[i]);
		fprintf(f, " %.9g\n%s_count", v[i].lat_sum, name);
		labels(f, &v[i]);
		fprintf(f, " %llu\n", (unsigned long long)cum);
	}
}

char *metrics_render(struct kvlb_handle *h, struct scraper *sc, const char *version, size_t *len)
{
	struct scrape_view *v = NULL;
	struct kvlb_backend_load *maps = NULL;
	struct kvlb_stats st;
	char *buf = NULL;
	FILE *f;
	int n = 0, i;

	f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	if (!kvlb_stats_read(h, &st)) {
		const __u64 *c = (const __u64 *)&st;

		for (i = 0; i < KVLB_STATS_NAMED; i++) {
			char name[96];

			snprintf(name, sizeof(name), "kvlb_%s_total", kvlb_stats_name[i]);
			head(f, name, "counter", kvlb_stats_desc[i]);
			fprintf(f, "%s %llu\n", name, (unsigned long long)c[i]);
		}
	}
	if (sc) {
		n = scrape_count(sc);
		v = calloc(n ? (size_t)n : 1, sizeof(*v));
		maps = calloc(n ? (size_t)n : 1, sizeof(*maps));
		n = v && maps ? scrape_snapshot(sc, v, n) : 0;
	}
	for (i = 0; i < n; i++)
		if (kvlb_load_read(h, v[i].id, &maps[i]))
			memset(&maps[i], 0, sizeof(maps[i]));
	per_backend(f, v, n, "kvlb_backend_up", "gauge",
		    "1 while the backend's scrapes succeed, 0 once it is marked down", S_UP, maps);
	per_backend(f, v, n, "kvlb_backend_running", "gauge",
		    "requests the backend reports running", S_RUNNING, maps);
	per_backend(f, v, n, "kvlb_backend_waiting", "gauge",
		    "requests the backend reports waiting", S_WAITING, maps);
	per_backend(f, v, n, "kvlb_backend_kv_cache_usage", "gauge",
		    "fraction of the backend's KV cache in use (0 to 1)", S_KV, maps);
	per_backend(f, v, n, "kvlb_backend_load_score", "gauge", "scraped load in token units",
		    S_LOAD, maps);
	per_backend(f, v, n, "kvlb_backend_bound_tokens", "gauge",
		    "token units the data path bound to the backend since its last scrape", S_BOUND,
		    maps);
	per_backend(f, v, n, "kvlb_scrapes_total", "counter", "scrapes of the backend's /metrics",
		    S_SCRAPES, maps);
	per_backend(f, v, n, "kvlb_scrape_failures_total", "counter",
		    "scrapes that failed (refused, timeout, HTTP error, unreadable body)",
		    S_FAILURES, maps);
	per_backend(f, v, n, "kvlb_scrape_bad_lines_total", "counter",
		    "lines of good scrapes that were not valid exposition format", S_BAD_LINES,
		    maps);
	per_backend(f, v, n, "kvlb_backend_down_total", "counter",
		    "times the backend was marked down", S_DOWNS, maps);
	latency(f, v, n);
	head(f, "kvlb_build_info", "gauge", "the running kvlbd's version");
	fprintf(f, "kvlb_build_info{version=\"%s\"} 1\n", version);
	free(v);
	free(maps);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **con_cls)
{
	static const char not_found[] = "not found: kvlbd serves /metrics and /healthz\n";
	static const char healthy[] = "ok\n";
	static const char unhealthy[] = "the pinned maps cannot be read\n";
	static const char bad_method[] = "only GET and HEAD\n";
	struct metrics_server *m = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned int status = MHD_HTTP_OK;
	size_t len = 0;
	char *body;

	(void)version;
	(void)upload_data;
	(void)con_cls;
	if (*upload_size) {
		*upload_size = 0; /* a body is read and dropped */
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		r = MHD_create_response_from_buffer(sizeof(bad_method) - 1, (void *)bad_method,
						    MHD_RESPMEM_PERSISTENT);
	} else if (!strcmp(url, "/healthz")) {
		/* Healthy while the data path's maps answer: what a probe should
		 * restart kvlbd for. */
		struct kvlb_stats st;
		bool ok = kvlb_stats_read(m->h, &st) == 0;

		status = ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
		r = ok ? MHD_create_response_from_buffer(sizeof(healthy) - 1, (void *)healthy,
							 MHD_RESPMEM_PERSISTENT)
		       : MHD_create_response_from_buffer(sizeof(unhealthy) - 1, (void *)unhealthy,
							 MHD_RESPMEM_PERSISTENT);
	} else if (strcmp(url, "/metrics")) {
		status = MHD_HTTP_NOT_FOUND;
		r = MHD_create_response_from_buffer(sizeof(not_found) - 1, (void *)not_found,
						    MHD_RESPMEM_PERSISTENT);
	} else {
		body = metrics_render(m->h, m->sc, m->version, &len);
		if (!body)
			return MHD_NO;
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
						"text/plain; version=0.0.4; charset=utf-8");
	}
	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

struct metrics_server *metrics_server_start(const char *listen, struct kvlb_handle *h,
					    struct scraper *sc, const char *version)
{
	struct sockaddr_storage ss = {};
	struct kvlb_endpoint ep;
	struct metrics_server *m;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	char err[256];

	if (kvlb_endpoint_parse(listen, &ep, err, sizeof(err))) {
		log_err("--metrics-listen %s: %s", listen, err);
		return NULL;
	}
	if (ep.family == KVLB_AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(ep.port);
		memcpy(&a->sin_addr, &ep.addr.v4, 4);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(ep.port);
		memcpy(&a->sin6_addr, ep.addr.v6, 16);
		flags |= MHD_USE_IPv6;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->h = h;
	m->sc = sc;
	m->version = version;
	m->d = MHD_start_daemon(flags, ep.port, NULL, NULL, answer, m, MHD_OPTION_SOCK_ADDR,
				(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 64u,
				MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!m->d) {
		log_err("cannot serve /metrics on %s (address in use, or not local?)", listen);
		free(m);
		return NULL;
	}
	log_info("serving /metrics on %s", listen);
	return m;
}

void metrics_server_stop(struct metrics_server *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}

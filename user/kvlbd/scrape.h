/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The scraper: reads every backend's /metrics each period (libcurl multi:
 * all backends at once, connections kept alive), writes the figures into
 * kvlb_backend_load, and keeps each backend's health.
 *
 * Health: a backend is marked down (KVLB_BE_F_DOWN: no new connections)
 * when its scrape is refused (nothing listens: at once) or fails
 * fail_threshold times in a row (timeout, reset, HTTP 5xx); the first good
 * scrape marks it up again. An answer kvlbd cannot read (HTTP 4xx, a body
 * without the server's gauges) is a scrape error but not a health verdict:
 * the server is alive, the configuration is wrong. Backends without a
 * metrics URL are neither scraped nor health-checked.
 */
#ifndef KVLBD_SCRAPE_H
#define KVLBD_SCRAPE_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "maps.h"
#include "prom.h"

struct scrape_opts {
	int interval_ms;	/* scrape period */
	int timeout_ms;		/* per request; below the period */
	int fail_threshold;	/* consecutive failures that mark a backend down */
	double bytes_per_token; /* written as bytes_per_token_x100 */
};

#define SCRAPE_DEF_INTERVAL_MS 100
/* A loaded model server can take longer than a period to render /metrics:
 * the timeout is its own, and a scrape still running skips beats. A silent
 * backend is down after about FAILS x (TIMEOUT + INTERVAL): 700 ms. */
#define SCRAPE_DEF_TIMEOUT_MS	   250
#define SCRAPE_DEF_FAILS	   2
#define SCRAPE_DEF_BYTES_PER_TOKEN 4.0
#define SCRAPE_MAX_BODY		   (8u << 20) /* a larger /metrics body is an error */

/* Scrape latency histogram bounds (seconds), for kvlbd's own /metrics. */
#define SCRAPE_LAT_BUCKETS 10
extern const double scrape_lat_bounds[SCRAPE_LAT_BUCKETS];

enum scrape_health { HEALTH_UNKNOWN, HEALTH_UP, HEALTH_DOWN };

/* What the metrics server shows of one target (a copy). */
struct scrape_view {
	char vip[64], backend[64], url[KVLB_CONF_URL_LEN];
	uint32_t id;
	enum kvlb_prom_server server; /* configured or detected */
	enum scrape_health health;
	bool has_figures;
	double running, waiting, kv_usage;
	uint64_t load_score;
	uint64_t scrapes, failures, parse_errors, bad_lines;
	uint64_t lat_counts[SCRAPE_LAT_BUCKETS + 1]; /* per bucket, last is +Inf */
	double lat_sum;
	uint64_t down_transitions;
};

struct scraper;

struct scraper *scrape_new(struct kvlb_handle *h, const struct scrape_opts *o);
void scrape_free(struct scraper *s);

/* The backends to scrape: those of c with a metrics URL, matched to their
 * ids in the maps (call after the config is applied). Health and counters
 * of a backend that stays are kept. Returns 0 or -1 (logged). */
int scrape_set_targets(struct scraper *s, const struct kvlb_conf *c);

/*
 * One turn of the agent's loop: start the scrapes that are due, wait for
 * network activity, the next due time, or fd becoming readable, and handle
 * finished scrapes. *fd_ready tells whether fd is readable. Returns 0, or
 * -1 on an error of the wait itself (logged).
 */
int scrape_wait(struct scraper *s, int fd, bool *fd_ready);

/* Copy up to max targets' views, under the scraper's lock (callable from
 * another thread). Returns the count. */
int scrape_snapshot(struct scraper *s, struct scrape_view *out, int max);
int scrape_count(struct scraper *s);

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kvlbd's own Prometheus /metrics (libmicrohttpd, on its own thread):
 *
 *   kvlb_<counter>_total                 every data-path counter of kvlb_stats
 *   kvlb_backend_up{vip,backend}         1 healthy, 0 marked down by the scraper
 *   kvlb_backend_running / _waiting      requests the server reports
 *   kvlb_backend_kv_cache_usage          fraction 0..1
 *   kvlb_backend_load_score              scraped load, token units
 *   kvlb_backend_bound_tokens            added by the data path since the scrape
 *   kvlb_scrapes_total, kvlb_scrape_failures_total, kvlb_scrape_bad_lines_total,
 *   kvlb_backend_down_total              scrape health, per backend
 *   kvlb_scrape_duration_seconds         histogram, per backend
 *   kvlb_build_info{version}             1
 */
#ifndef KVLBD_METRICS_SERVER_H
#define KVLBD_METRICS_SERVER_H

#include "maps.h"
#include "scrape.h"

#define METRICS_DEF_LISTEN "127.0.0.1:9464"

struct metrics_server;

/* Serve on listen ("ADDR:PORT", "[ADDR6]:PORT"). NULL on failure (logged). */
struct metrics_server *metrics_server_start(const char *listen, struct kvlb_handle *h,
					    struct scraper *sc, const char *version);
void metrics_server_stop(struct metrics_server *m);

/* The text served at /metrics, malloc'd (for tests and the handler). */
char *metrics_render(struct kvlb_handle *h, struct scraper *sc, const char *version, size_t *len);

#endif

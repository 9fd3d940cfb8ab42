// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kvlbd - the kvlb agent: loads and attaches the data path, pins its maps,
 * applies the configuration, and keeps running to reload it on SIGHUP.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config.h"
#include "opts.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "metrics_server.h"
#include "reconcile.h"
#include "scrape.h"
#include "sweep.h"

#define KVLB_VERSION "0.1.0"

struct opts {
	const char *config;
	const char *pin_root;
	const char *uplink;
	const char *pod_ifaces[KVLB_CONF_MAX_IFACES];
	int n_pod_ifaces;
	bool xdp_generic;
	bool force;
	bool check;
	bool cleanup;
	struct scrape_opts scrape;
	unsigned splice_idle_s;
	const char *metrics_listen; /* NULL: off */
	bool metrics_listen_given;
};

/* The option table: one place for the parser and the help text. */
static const struct kvlb_opt opt_table[] = {
    {{"config", required_argument, NULL, 'c'},
     "FILE",
     "configuration file (uplink, pod interfaces, VIPs, backends); see CONFIGURATION"},
    {{"pin-root", required_argument, NULL, 'P'},
     "DIR",
     "where maps are pinned (default $KVLB_PIN_ROOT or " KVLB_PIN_ROOT ")"},
    {{"uplink", required_argument, NULL, 'u'},
     "IFNAME",
     "interface where clients' packets arrive; overrides the config's 'uplink'"},
    {{"pod-iface", required_argument, NULL, 'i'},
     "IFNAME",
     "interface where a pod's packets enter the node; repeatable; adds to the config's"},
    {{"xdp-mode", required_argument, NULL, 'm'},
     "native|generic",
     "XDP attach mode (default native; generic works on any device, slower)"},
    {{"force", no_argument, NULL, 'f'},
     NULL,
     "replace an XDP program on the uplink even if it is not kvlb's"},
    {{"check", no_argument, NULL, 'n'},
     NULL,
     "parse the configuration, report errors, and exit without touching anything"},
    {{"cleanup", no_argument, NULL, 'C'},
     NULL,
     "detach kvlb from the interfaces, remove the pinned maps, and exit"},
    {{"scrape-interval", required_argument, NULL, 's'},
     "MS",
     "scrape every backend's metrics URL every MS ms (10..60000, default 100)"},
    {{"scrape-timeout", required_argument, NULL, 't'},
     "MS",
     "give up on a scrape after MS ms (default 250; a scrape still running skips beats)"},
    {{"scrape-failures", required_argument, NULL, 'F'},
     "N",
     "mark a backend down after N failed scrapes in a row (1..100, default 2)"},
    {{"bytes-per-token", required_argument, NULL, 'B'},
     "X",
     "request bytes per prompt token until kvlbd has measured it (0.5..64, default 4)"},
    {{"splice-idle", required_argument, NULL, 'I'},
     "SEC",
     "forget an HTTP-VIP connection idle for SEC s without FIN or RST (10..86400, default 600)"},
    {{"metrics-listen", required_argument, NULL, 'M'},
     "ADDR:PORT|off",
     "serve kvlbd's Prometheus /metrics there (default " METRICS_DEF_LISTEN ")"},
    {{"verbose", no_argument, NULL, 'v'}, NULL, "log debug messages (libbpf's too)"},
    {{"version", no_argument, NULL, 'V'}, NULL, "print the version and exit"},
    {{"help", no_argument, NULL, 'h'}, NULL, "print this help and exit"},
};
#define N_OPTS (sizeof(opt_table) / sizeof(opt_table[0]))

static void usage(FILE *f)
{

	fprintf(f, "Usage: kvlbd [OPTIONS]\n"
		   "\n"
		   "The kvlb agent. Loads the XDP program onto the uplink and the TC program onto\n"
		   "the pod-facing interfaces, pins the maps under the pin root, applies the\n"
		   "configuration, and stays in the foreground, logging to stderr.\n"
		   "\n"
		   "Options:\n");
	kvlb_opts_help(f, opt_table, N_OPTS);
	fprintf(f,
		"\n"
		"CONFIGURATION (one statement a line, '#' starts a comment):\n"
		"  uplink IFNAME\n"
		"  pod-iface IFNAME...\n"
		"  vip ADDR:PORT [mode l4|http]         backends below belong to it\n"
		"  backend ADDR:PORT [weight N] [metrics URL] [server vllm|sglang|tgi|llamacpp]\n"
		"IPv6 endpoints are written [2001:db8::1]:80. A file with an error is rejected\n"
		"whole, with its line number and reason, and the running state is kept.\n"
		"\n"
		"BACKEND LOAD AND HEALTH\n"
		"  Every backend with a 'metrics URL' is scraped each --scrape-interval, all at\n"
		"  once, over kept-alive connections. The server kind (vLLM, SGLang, TGI,\n"
		"  llama.cpp) is the 'server' given, else told by the metric names. Running and\n"
		"  waiting requests, KV-cache usage, a load score ((running + waiting) x mean\n"
		"  prompt tokens x (1 + KV usage)) and the prompt-size histogram go into the\n"
		"  kvlb_backend_load map ('kvlbctl load', 'kvlbctl hist'), with the ratio of\n"
		"  request bytes to prompt tokens: the bytes the data path bound against the\n"
		"  tokens the servers counted, over the last ~100 scrapes (--bytes-per-token\n"
		"  until 2000 tokens were seen).\n"
		"  A backend whose scrape is refused is marked down at once; one whose scrapes\n"
		"  time out or answer HTTP 5xx is marked down after --scrape-failures in a row\n"
		"  (with the defaults, within about 0.7 s). Down backends get no new connections;\n"
		"  their open ones go on. The first good scrape marks a backend up again. An\n"
		"  answer kvlbd cannot read (HTTP 4xx, no known gauges) is logged but does not\n"
		"  change the backend's health. Backends without a metrics URL are not checked.\n"
		"\n"
		"OWN METRICS\n"
		"  GET /metrics on --metrics-listen: kvlb_*_total data-path counters, per-backend\n"
		"  gauges (kvlb_backend_up, _running, _waiting, _kv_cache_usage, _load_score),\n"
		"  scrape health (kvlb_scrapes_total, kvlb_scrape_failures_total) and the\n"
		"  kvlb_scrape_duration_seconds histogram. On by default on loopback only; if\n"
		"  the default port is taken kvlbd warns and runs without it, if an address\n"
		"  given is unusable kvlbd exits. 'off' disables it.\n"
		"\n"
		"SIGNALS AND RESTARTS\n"
		"  SIGHUP          reload the configuration file\n"
		"  SIGTERM/SIGINT  exit; programs stay attached and maps pinned, so traffic\n"
		"                  keeps flowing (use --cleanup to remove kvlb)\n"
		"  On start, kvlbd adopts maps already pinned under the pin root: existing\n"
		"  connections keep their backends, backends keep their ids and drain state,\n"
		"  and the programs are replaced atomically.\n"
		"\n"
		"EXIT STATUS\n"
		"  0 success, 1 runtime error, 2 usage or configuration error\n"
		"\n"
		"EXAMPLE\n"
		"  kvlbd --config /etc/kvlb/kvlb.conf\n"
		"  kvlbctl backend drain 192.0.2.10:80 203.0.113.11:8000\n");
}

/* A number in [min, max], or a message and -1. */
static int num_arg(const char *opt, const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || !(*out >= min && *out <= max)) {
		fprintf(stderr, "kvlbd: %s '%s': expected a number from %g to %g\n", opt, s, min,
			max);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	struct option longopts[N_OPTS + 1];
	char shortopts[N_OPTS * 2 + 1];
	double d;
	int c;

	kvlb_opts_getopt(opt_table, N_OPTS, longopts, shortopts);

	o->pin_root = kvlb_default_pin_root();
	o->scrape.interval_ms = SCRAPE_DEF_INTERVAL_MS;
	o->scrape.fail_threshold = SCRAPE_DEF_FAILS;
	o->scrape.bytes_per_token = SCRAPE_DEF_BYTES_PER_TOKEN;
	o->metrics_listen = METRICS_DEF_LISTEN;
	o->splice_idle_s = SWEEP_DEF_IDLE_S;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'P':
			o->pin_root = optarg;
			break;
		case 'u':
			o->uplink = optarg;
			break;
		case 'i':
			if (o->n_pod_ifaces == KVLB_CONF_MAX_IFACES) {
				fprintf(stderr, "kvlbd: more than %d --pod-iface\n",
					KVLB_CONF_MAX_IFACES);
				return -1;
			}
			o->pod_ifaces[o->n_pod_ifaces++] = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "generic")) {
				o->xdp_generic = true;
			} else if (strcmp(optarg, "native")) {
				fprintf(stderr, "kvlbd: --xdp-mode must be native or generic\n");
				return -1;
			}
			break;
		case 'f':
			o->force = true;
			break;
		case 'n':
			o->check = true;
			break;
		case 'C':
			o->cleanup = true;
			break;
		case 's':
			if (num_arg("--scrape-interval", optarg, 10, 60000, &d))
				return -1;
			o->scrape.interval_ms = (int)d;
			break;
		case 't':
			if (num_arg("--scrape-timeout", optarg, 1, 60000, &d))
				return -1;
			o->scrape.timeout_ms = (int)d;
			break;
		case 'F':
			if (num_arg("--scrape-failures", optarg, 1, 100, &d))
				return -1;
			o->scrape.fail_threshold = (int)d;
			break;
		case 'I':
			if (num_arg("--splice-idle", optarg, 10, 86400, &d))
				return -1;
			o->splice_idle_s = (unsigned)d;
			break;
		case 'B':
			if (num_arg("--bytes-per-token", optarg, 0.5, 64, &d))
				return -1;
			o->scrape.bytes_per_token = d;
			break;
		case 'M': {
			struct kvlb_endpoint ep;
			char err[128];

			o->metrics_listen = strcmp(optarg, "off") ? optarg : NULL;
			o->metrics_listen_given = true;
			if (o->metrics_listen &&
			    kvlb_endpoint_parse(optarg, &ep, err, sizeof(err))) {
				fprintf(stderr, "kvlbd: --metrics-listen %s\n", err);
				return -1;
			}
			break;
		}
		case 'v':
			log_max_level = LOG_DEBUG;
			break;
		case 'V':
			printf("kvlbd %s (map ABI %d)\n", KVLB_VERSION, KVLB_MAP_ABI);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'kvlbd --help'.\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kvlbd: unexpected argument '%s'\nTry 'kvlbd --help'.\n",
			argv[optind]);
		return -1;
	}
	if (!o->scrape.timeout_ms)
		o->scrape.timeout_ms = SCRAPE_DEF_TIMEOUT_MS;
	if (!o->config && !o->cleanup && !o->uplink) {
		fprintf(stderr, "kvlbd: give --config FILE (or at least --uplink)\n"
				"Try 'kvlbd --help'.\n");
		return -1;
	}
	return 0;
}

/* Command-line interfaces come first, then the config's (not repeated). */
static void merge_ifaces(const struct opts *o, const struct kvlb_conf *c, struct loader_opts *lo,
			 const char **ifs)
{
	int i, j, n = 0;

	for (i = 0; i < o->n_pod_ifaces; i++)
		ifs[n++] = o->pod_ifaces[i];
	for (i = 0; i < c->n_pod_ifaces && n < KVLB_CONF_MAX_IFACES; i++) {
		for (j = 0; j < n && strcmp(ifs[j], c->pod_ifaces[i]); j++)
			;
		if (j == n)
			ifs[n++] = c->pod_ifaces[i];
	}
	lo->uplink = o->uplink ? o->uplink : (c->uplink[0] ? c->uplink : NULL);
	lo->pod_ifaces = ifs;
	lo->n_pod_ifaces = n;
}

static int load_config(const char *path, struct kvlb_conf *c)
{
	char err[512];

	if (!path) {
		memset(c, 0, sizeof(*c));
		return 0;
	}
	if (kvlb_conf_load(path, c, err, sizeof(err))) {
		log_err("config rejected: %s", err);
		return -1;
	}
	return 0;
}

static int reload(const struct opts *o, struct kvlb_handle *h, struct scraper *sc)
{
	struct kvlb_conf c;
	int rc;

	log_info("SIGHUP: reloading %s", o->config ? o->config : "(no config file)");
	if (!o->config || load_config(o->config, &c)) {
		log_warn("keeping the running state");
		return -1;
	}
	rc = reconcile(h, &c);
	if (!rc)
		rc = scrape_set_targets(sc, &c);
	if (!rc) {
		/* Pods started since: their links get the TC program too (the
		 * ones already attached are replaced in place). */
		const char *ifs[KVLB_CONF_MAX_IFACES];
		struct loader_opts lo = {.pin_root = o->pin_root};

		merge_ifaces(o, &c, &lo, ifs);
		lo.uplink = NULL;
		if (lo.n_pod_ifaces)
			rc = loader_start(&lo);
	}
	kvlb_conf_free(&c);
	return rc;
}

/* The signals kvlbd handles through its signalfd. */
static void signals_mask(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
}

/* A fresh pin root has an all-zero config entry: give the data path the
 * default tunables, once. An existing entry (kvlbd restarting over its
 * pins) is kept as kvlbctl left it. */
static int config_init(struct kvlb_handle *h)
{
	struct kvlb_config cfg;

	if (kvlb_config_read(h, &cfg))
		return -1;
	if (!kvlb_config_unset(&cfg))
		return 0;
	kvlb_config_defaults(&cfg);
	if (kvlb_config_write(h, &cfg))
		return -1;
	log_info("wrote the default tunables to %s", KVLB_MAP_CONFIG);
	return 0;
}

/* The agent's loop: scrapes run between signals (the scraper's wait also
 * watches the signalfd). */
static int run(const struct opts *o, struct kvlb_handle *h, struct scraper *sc, struct sweeper *sw)
{
	struct pollfd pfd;
	sigset_t mask;

	signals_mask(&mask);
	pfd.fd = signalfd(-1, &mask, SFD_CLOEXEC);
	pfd.events = POLLIN;
	if (pfd.fd < 0) {
		log_err("signalfd: %s", strerror(errno));
		return 1;
	}
	log_info("running (pid %d); SIGHUP reloads, SIGTERM exits", getpid());
	for (;;) {
		struct signalfd_siginfo si;
		bool sig;

		if (scrape_wait(sc, pfd.fd, &sig))
			break;
		sweep_run(sw);
		if (!sig)
			continue;
		if (read(pfd.fd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			reload(o, h, sc);
			continue;
		}
		log_info("%s: exiting; the data path stays attached",
			 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	close(pfd.fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *ifs[KVLB_CONF_MAX_IFACES];
	struct loader_opts lo = {};
	struct metrics_server *ms = NULL;
	struct scraper *sc;
	struct sweeper *sw;
	struct kvlb_handle h;
	struct opts o = {};
	struct kvlb_conf c;
	int rc;

	sigset_t mask;

	if (parse_args(argc, argv, &o))
		return 2;
	/* Blocked before any thread exists (libcurl's resolver starts some):
	 * a thread that left SIGTERM unblocked would die of it instead of
	 * letting the signalfd report it. */
	signals_mask(&mask);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		perror("kvlbd: sigprocmask");
		return 1;
	}
	log_hook_libbpf();
	if (load_config(o.config, &c))
		return 2;
	if (o.check) {
		printf("%s: OK (%d VIPs, %d backends)\n", o.config ? o.config : "(none)", c.n_vips,
		       c.n_backends);
		kvlb_conf_free(&c);
		return 0;
	}
	merge_ifaces(&o, &c, &lo, ifs);
	lo.pin_root = o.pin_root;
	lo.xdp_generic = o.xdp_generic;
	lo.force = o.force;

	if (loader_ensure_bpffs()) {
		kvlb_conf_free(&c);
		return 1;
	}
	if (o.cleanup) {
		rc = loader_cleanup(&lo) ? 1 : 0;
		kvlb_conf_free(&c);
		return rc;
	}
	if (loader_start(&lo)) {
		kvlb_conf_free(&c);
		return 1;
	}
	if (kvlb_open(&h, o.pin_root)) {
		log_err("%s", kvlb_error());
		kvlb_conf_free(&c);
		return 1;
	}
	if (config_init(&h) || kvlb_vip_ports_resync(&h)) {
		log_err("%s", kvlb_error());
		kvlb_close(&h);
		kvlb_conf_free(&c);
		return 1;
	}
	if (reconcile(&h, &c)) {
		kvlb_close(&h);
		kvlb_conf_free(&c);
		return 1;
	}
	sc = scrape_new(&h, &o.scrape);
	if (!sc || scrape_set_targets(sc, &c)) {
		log_err("cannot start the scraper");
		scrape_free(sc);
		kvlb_close(&h);
		kvlb_conf_free(&c);
		return 1;
	}
	kvlb_conf_free(&c);
	if (o.metrics_listen) {
		ms = metrics_server_start(o.metrics_listen, &h, sc, KVLB_VERSION);
		if (!ms && o.metrics_listen_given) {
			scrape_free(sc);
			kvlb_close(&h);
			return 1;
		}
		if (!ms)
			log_warn("running without /metrics (give --metrics-listen to choose)");
	}
	sw = sweep_new(o.pin_root ? o.pin_root : kvlb_default_pin_root(), o.splice_idle_s);
	if (!sw) {
		metrics_server_stop(ms);
		scrape_free(sc);
		kvlb_close(&h);
		return 1;
	}
	rc = run(&o, &h, sc, sw);
	sweep_free(sw);
	metrics_server_stop(ms);
	scrape_free(sc);
	kvlb_close(&h);
	return rc;
}

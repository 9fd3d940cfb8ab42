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
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "reconcile.h"

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
};

/* The option table: one place for the parser and the help text. */
static const struct opt_doc {
	struct option lo;
	const char *arg;
	const char *help;
} opt_table[] = {
	{ { "config", required_argument, NULL, 'c' }, "FILE",
	  "configuration file (uplink, pod interfaces, VIPs, backends); see CONFIGURATION" },
	{ { "pin-root", required_argument, NULL, 'P' }, "DIR",
	  "where maps are pinned (default $KVLB_PIN_ROOT or " KVLB_PIN_ROOT ")" },
	{ { "uplink", required_argument, NULL, 'u' }, "IFNAME",
	  "interface where clients' packets arrive; overrides the config's 'uplink'" },
	{ { "pod-iface", required_argument, NULL, 'i' }, "IFNAME",
	  "interface where a pod's packets enter the node; repeatable; adds to the config's" },
	{ { "xdp-mode", required_argument, NULL, 'm' }, "native|generic",
	  "XDP attach mode (default native; generic works on any device, slower)" },
	{ { "force", no_argument, NULL, 'f' }, NULL,
	  "replace an XDP program on the uplink even if it is not kvlb's" },
	{ { "check", no_argument, NULL, 'n' }, NULL,
	  "parse the configuration, report errors, and exit without touching anything" },
	{ { "cleanup", no_argument, NULL, 'C' }, NULL,
	  "detach kvlb from the interfaces, remove the pinned maps, and exit" },
	{ { "verbose", no_argument, NULL, 'v' }, NULL, "log debug messages (libbpf's too)" },
	{ { "version", no_argument, NULL, 'V' }, NULL, "print the version and exit" },
	{ { "help", no_argument, NULL, 'h' }, NULL, "print this help and exit" },
};
#define N_OPTS (sizeof(opt_table) / sizeof(opt_table[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: kvlbd [OPTIONS]\n"
		   "\n"
		   "The kvlb agent. Loads the XDP program onto the uplink and the TC program onto\n"
		   "the pod-facing interfaces, pins the maps under the pin root, applies the\n"
		   "configuration, and stays in the foreground, logging to stderr.\n"
		   "\n"
		   "Options:\n");
	for (i = 0; i < N_OPTS; i++) {
		char left[64];

		snprintf(left, sizeof(left), "-%c, --%s%s%s", opt_table[i].lo.val,
			 opt_table[i].lo.name, opt_table[i].arg ? " " : "",
			 opt_table[i].arg ? opt_table[i].arg : "");
		fprintf(f, "  %-32s %s\n", left, opt_table[i].help);
	}
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

static int parse_args(int argc, char **argv, struct opts *o)
{
	struct option longopts[N_OPTS + 1];
	char shortopts[N_OPTS * 2 + 1], *s = shortopts;
	size_t i;
	int c;

	memset(longopts, 0, sizeof(longopts));
	for (i = 0; i < N_OPTS; i++) {
		longopts[i] = opt_table[i].lo;
		*s++ = (char)opt_table[i].lo.val;
		if (opt_table[i].lo.has_arg == required_argument)
			*s++ = ':';
	}
	*s = '\0';

	o->pin_root = kvlb_default_pin_root();
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

static int reload(const struct opts *o, struct kvlb_handle *h)
{
	struct kvlb_conf c;
	int rc;

	log_info("SIGHUP: reloading %s", o->config ? o->config : "(no config file)");
	if (!o->config || load_config(o->config, &c)) {
		log_warn("keeping the running state");
		return -1;
	}
	rc = reconcile(h, &c);
	kvlb_conf_free(&c);
	return rc;
}

static int run(const struct opts *o, struct kvlb_handle *h)
{
	struct pollfd pfd;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		log_err("sigprocmask: %s", strerror(errno));
		return 1;
	}
	pfd.fd = signalfd(-1, &mask, SFD_CLOEXEC);
	pfd.events = POLLIN;
	if (pfd.fd < 0) {
		log_err("signalfd: %s", strerror(errno));
		return 1;
	}
	log_info("running (pid %d); SIGHUP reloads, SIGTERM exits", getpid());
	for (;;) {
		struct signalfd_siginfo si;

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (read(pfd.fd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			reload(o, h);
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
	struct kvlb_handle h;
	struct opts o = {};
	struct kvlb_conf c;
	int rc;

	if (parse_args(argc, argv, &o))
		return 2;
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
	if (reconcile(&h, &c)) {
		kvlb_close(&h);
		kvlb_conf_free(&c);
		return 1;
	}
	kvlb_conf_free(&c);
	rc = run(&o, &h);
	kvlb_close(&h);
	return rc;
}

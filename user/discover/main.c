// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kvlb-discover - keeps kvlbd's backend list equal to the ready endpoints of
 * a Kubernetes Service, read from its EndpointSlices through the API server.
 * It writes kvlbd's configuration file (atomically) and sends kvlbd SIGHUP
 * only when the file's content changed, so kvlbd itself never talks to the
 * API server and runs unchanged outside Kubernetes.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "opts.h"
#include "pool.h"
#include "route.h"
#include "slices.h"

#define KVLB_VERSION "0.1.0"
#define SA_DIR	     "/var/run/secrets/kubernetes.io/serviceaccount"
#define FILE_MAX     (16 << 20) /* kvlbd's own limit on its configuration file */
#define MAX_PAGES    10000
#define PAGE_LIMIT   500
#define POOL_API     "inference.networking.x-k8s.io/v1alpha2"

struct opts {
	struct api api;
	const char *ns, *name, *port_name, *node;
	bool pool; /* name is an InferencePool, not a Service */
	const char *template_path, *output;
	const char *pid_file;
	long pid;
	struct kvlb_endpoint vip4, vip6;
	bool has_vip4, has_vip6, once, verbose, ifaces_from_routes, watch;
	long interval_ms;
	struct disc_render render;
	char api_server[512];
	char ns_buf[64];
	char source[160];
};

/* One option per entry, laid out as the help lists them. */
/* clang-format off */
static const struct kvlb_opt opt_table[] = {
	{ { "service", required_argument, NULL, 's' }, "NAME",
	  "the Service whose endpoints become backends (or --inference-pool)" },
	{ { "inference-pool", required_argument, NULL, 'I' }, "NAME",
	  "instead of a Service, the pods an InferencePool (" POOL_API ") selects" },
	{ { "namespace", required_argument, NULL, 'N' }, "NS",
	  "its namespace (default: the pod's own, from the service account)" },
	{ { "port-name", required_argument, NULL, 'p' }, "NAME",
	  "the Service port to balance to (default: the only port)" },
	{ { "vip", required_argument, NULL, 'a' }, "ADDR:PORT",
	  "the VIP the backends are placed under; once per address family (required)" },
	{ { "mode", required_argument, NULL, 'M' }, "l4|http", "the VIPs' mode (default kvlbd's)" },
	{ { "node", required_argument, NULL, 'n' }, "NAME",
	  "keep only endpoints on this node (default: all)" },
	{ { "template", required_argument, NULL, 't' }, "FILE",
	  "static configuration copied first (uplink, pod-iface, other VIPs); re-read each time" },
	{ { "output", required_argument, NULL, 'o' }, "FILE",
	  "the configuration file kvlbd reads (required)" },
	{ { "pod-ifaces-from-routes", no_argument, NULL, 'R' }, NULL,
	  "add a pod-iface line for each interface the node routes a backend through" },
	{ { "metrics-path", required_argument, NULL, 'm' }, "PATH",
	  "give each backend 'metrics http://ADDR:PORT/PATH' (default: no metrics URL)" },
	{ { "metrics-port", required_argument, NULL, 'P' }, "PORT",
	  "port of the metrics URL (default: the backend's port)" },
	{ { "server", required_argument, NULL, 'k' }, "KIND",
	  "model server kind for every backend: vllm, sglang, tgi or llamacpp" },
	{ { "weight", required_argument, NULL, 'w' }, "N", "weight for every backend" },
	{ { "kvlbd-pid-file", required_argument, NULL, 'f' }, "FILE",
	  "send SIGHUP to the pid in FILE after a change" },
	{ { "kvlbd-pid", required_argument, NULL, 'H' }, "PID", "send SIGHUP to PID after a change" },
	{ { "watch", no_argument, NULL, 'e' }, NULL,
	  "between syncs, watch the API server and sync as soon as something changes" },
	{ { "once", no_argument, NULL, '1' }, NULL,
	  "sync once and exit (status 1 if it failed)" },
	{ { "interval", required_argument, NULL, 'i' }, "MS",
	  "time between syncs (default 1000); with --watch, the most between lists" },
	{ { "api-server", required_argument, NULL, 'A' }, "URL",
	  "API server (default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)" },
	{ { "token-file", required_argument, NULL, 'T' }, "FILE",
	  "bearer token, re-read before each request (default " SA_DIR "/token)" },
	{ { "ca-file", required_argument, NULL, 'c' }, "FILE",
	  "CA certificate(s) of the API server (default " SA_DIR "/ca.crt)" },
	{ { "timeout", required_argument, NULL, 'W' }, "MS",
	  "limit on one API request (default 10000)" },
	{ { "verbose", no_argument, NULL, 'v' }, NULL, "also log syncs that changed nothing" },
	{ { "version", no_argument, NULL, 'V' }, NULL, "print the version and exit" },
	{ { "help", no_argument, NULL, 'h' }, NULL, "print this help and exit" },
    /* clang-format on */
};
#define N_OPTS (sizeof(opt_table) / sizeof(opt_table[0]))

static void usage(FILE *f)
{

	fprintf(f,
		"Usage: kvlb-discover (--service NAME | --inference-pool NAME) --vip ADDR:PORT\n"
		"                     --output FILE [OPTIONS]\n"
		"\n"
		"Keeps kvlbd's backends equal to the ready endpoints of a Kubernetes Service\n"
		"(its EndpointSlices, discovery.k8s.io/v1) or of an InferencePool of the Gateway\n"
		"API Inference Extension (the pods it selects), read from the API server. Writes\n"
		"the configuration file (the template, then one 'vip' line per family and one\n"
		"'backend' line per ready endpoint), replacing it atomically, and sends kvlbd\n"
		"SIGHUP only when the content changed.\n"
		"\n"
		"Options:\n");
	kvlb_opts_help(f, opt_table, N_OPTS);
	fprintf(
	    f,
	    "\n"
	    "WHICH ENDPOINTS\n"
	    "  An endpoint is a backend when its conditions say ready (or say nothing) and\n"
	    "  not terminating, its slice carries the chosen port, and, with --node, it runs\n"
	    "  on that node. The first of its addresses is used. IPv4 endpoints go under the\n"
	    "  IPv4 --vip and IPv6 endpoints under the IPv6 one; a family without a VIP is\n"
	    "  left out. FQDN slices are ignored. Endpoints that stop being ready or start\n"
	    "  terminating disappear from the file; kvlbd then sends them no new\n"
	    "  connections while connections already bound to them finish.\n"
	    "  With --inference-pool, the pool's spec.selector picks the pods and its\n"
	    "  spec.targetPortNumber is the port; a pod is a backend when it is Running,\n"
	    "  its Ready condition is True and it is not being deleted, with every address\n"
	    "  of status.podIPs.\n"
	    "\n"
	    "POD INTERFACES\n"
	    "  With --pod-ifaces-from-routes, the interface the node's routing table sends\n"
	    "  each backend's address to (the pod's host-side veth, or a CNI bridge) gets a\n"
	    "  'pod-iface' line, unless the template already names it. Backends reached\n"
	    "  through a gateway are not on this node and add no interface.\n"
	    "\n"
	    "ERRORS\n"
	    "  A failed request or a response that does not parse leaves the file as it\n"
	    "  was and sends no signal; the next sync tries again. Requests go over HTTPS\n"
	    "  only, with the token re-read each time (kubelet rotates it).\n"
	    "\n"
	    "PERMISSIONS\n"
	    "  The service account needs 'list' on endpointslices.discovery.k8s.io in the\n"
	    "  namespace ('watch' too with --watch); with --inference-pool, 'get' on\n"
	    "  inferencepools and 'list' (and 'watch') on pods instead. Signalling kvlbd\n"
	    "  needs the same user or CAP_KILL.\n"
	    "\n"
	    "EXIT STATUS\n"
	    "  0 success (or stopped by SIGTERM/SIGINT), 1 a --once sync failed,\n"
	    "  2 usage error\n"
	    "\n"
	    "EXAMPLE\n"
	    "  kvlb-discover --service vllm --namespace llm --port-name http \\\n"
	    "      --vip 192.0.2.10:80 --mode http --node \"$NODE_NAME\" \\\n"
	    "      --template /etc/kvlb/kvlb.conf.in --output /run/kvlb/kvlb.conf \\\n"
	    "      --metrics-path /metrics --server vllm --kvlbd-pid-file /run/kvlb/kvlbd.pid \\\n"
	    "      --pod-ifaces-from-routes --watch --interval 60000\n");
}

static void logm(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logm(const char *fmt, ...)
{
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ kvlb-discover[%d] ", ts, now.tv_nsec / 1000000, getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* RFC 1123 label, as Kubernetes requires of namespaces, services and port names. */
static bool dns_label(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if (!n || n > max || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static int parse_num(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "kvlb-discover: --%s must be a number from %ld to %ld, not '%s'\n",
			opt, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Read a whole small file; NULL with errno set on failure. */
static char *slurp(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		int e = ferror(f) ? EIO : EFBIG;

		fclose(f);
		free(buf);
		errno = e;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static int default_namespace(struct opts *o)
{
	char *ns = slurp(SA_DIR "/namespace", 63, NULL);
	size_t n;

	if (!ns)
		return -1;
	n = strcspn(ns, "\r\n");
	ns[n] = '\0';
	snprintf(o->ns_buf, sizeof(o->ns_buf), "%s", ns);
	free(ns);
	o->ns = o->ns_buf;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	struct option longopts[N_OPTS + 1];
	char shortopts[N_OPTS * 2 + 1], err[128];
	struct kvlb_endpoint ep;
	long v;
	int c;

	kvlb_opts_getopt(opt_table, N_OPTS, longopts, shortopts);

	o->interval_ms = 1000;
	o->api.timeout_ms = 10000;
	o->api.token_file = SA_DIR "/token";
	o->api.ca_file = SA_DIR "/ca.crt";
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'I':
			if (o->name) {
				fprintf(stderr, "kvlb-discover: give one --service or "
						"--inference-pool\n");
				return -1;
			}
			o->name = optarg;
			o->pool = c == 'I';
			break;
		case 'N':
			o->ns = optarg;
			break;
		case 'p':
			o->port_name = optarg;
			break;
		case 'a':
			if (kvlb_endpoint_parse(optarg, &ep, err, sizeof(err))) {
				fprintf(stderr, "kvlb-discover: --vip: %s\n", err);
				return -1;
			}
			if ((ep.family == KVLB_AF_INET && o->has_vip4) ||
			    (ep.family == KVLB_AF_INET6 && o->has_vip6)) {
				fprintf(stderr,
					"kvlb-discover: --vip: one VIP per address family\n");
				return -1;
			}
			if (ep.family == KVLB_AF_INET) {
				o->vip4 = ep;
				o->has_vip4 = true;
			} else {
				o->vip6 = ep;
				o->has_vip6 = true;
			}
			break;
		case 'M':
			if (strcmp(optarg, "l4") && strcmp(optarg, "http")) {
				fprintf(stderr, "kvlb-discover: --mode must be l4 or http\n");
				return -1;
			}
			o->render.mode = optarg;
			break;
		case 'n':
			o->node = optarg;
			break;
		case 't':
			o->template_path = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'R':
			o->ifaces_from_routes = true;
			break;
		case 'm':
			if (optarg[0] != '/' || strpbrk(optarg, " \t\r\n#")) {
				fprintf(stderr,
					"kvlb-discover: --metrics-path must start with '/' and "
					"hold no spaces or '#'\n");
				return -1;
			}
			o->render.metrics_path = optarg;
			break;
		case 'P':
			if (parse_num("metrics-port", optarg, 1, 65535, &v))
				return -1;
			o->render.metrics_port = (int)v;
			break;
		case 'k':
			if (strcmp(optarg, "vllm") && strcmp(optarg, "sglang") &&
			    strcmp(optarg, "tgi") && strcmp(optarg, "llamacpp")) {
				fprintf(stderr,
					"kvlb-discover: --server must be vllm, sglang, tgi or "
					"llamacpp\n");
				return -1;
			}
			o->render.server = optarg;
			break;
		case 'w':
			if (parse_num("weight", optarg, 1, 65535, &v))
				return -1;
			o->render.weight = (int)v;
			break;
		case 'f':
			o->pid_file = optarg;
			break;
		case 'H':
			if (parse_num("kvlbd-pid", optarg, 2, INT_MAX, &o->pid))
				return -1;
			break;
		case '1':
			o->once = true;
			break;
		case 'e':
			o->watch = true;
			break;
		case 'i':
			if (parse_num("interval", optarg, 10, 3600000, &o->interval_ms))
				return -1;
			break;
		case 'A':
			o->api.server = optarg;
			break;
		case 'T':
			o->api.token_file = optarg;
			break;
		case 'c':
			o->api.ca_file = optarg;
			break;
		case 'W':
			if (parse_num("timeout", optarg, 100, 600000, &o->api.timeout_ms))
				return -1;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'V':
			printf("kvlb-discover %s\n", KVLB_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'kvlb-discover --help'.\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kvlb-discover: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->name || !o->output || (!o->has_vip4 && !o->has_vip6)) {
		fprintf(stderr, "kvlb-discover: --service or --inference-pool, --vip and "
				"--output are required; see --help\n");
		return -1;
	}
	if (o->pool && o->port_name) {
		fprintf(stderr, "kvlb-discover: the InferencePool names the port; drop "
				"--port-name\n");
		return -1;
	}
	if (!o->ns && default_namespace(o)) {
		fprintf(stderr, "kvlb-discover: no --namespace, and %s/namespace is unreadable\n",
			SA_DIR);
		return -1;
	}
	/* These go into the request path, so they are checked, not escaped. */
	if (!dns_label(o->ns, 63) || !dns_label(o->name, 63)) {
		fprintf(stderr, "kvlb-discover: namespace, service and pool names must be DNS "
				"labels (a-z, 0-9, '-', at most 63)\n");
		return -1;
	}
	if (o->port_name && !dns_label(o->port_name, 63)) {
		fprintf(stderr, "kvlb-discover: --port-name must be a DNS label\n");
		return -1;
	}
	if (o->pid_file && o->pid) {
		fprintf(stderr, "kvlb-discover: give --kvlbd-pid or --kvlbd-pid-file, not both\n");
		return -1;
	}
	if (!o->api.server) {
		const char *h = getenv("KUBERNETES_SERVICE_HOST");
		const char *p = getenv("KUBERNETES_SERVICE_PORT");

		if (!h || !*h || !p || !*p) {
			fprintf(stderr, "kvlb-discover: no --api-server and not running in a pod "
					"(KUBERNETES_SERVICE_HOST/PORT unset)\n");
			return -1;
		}
		snprintf(o->api_server, sizeof(o->api_server),
			 strchr(h, ':') ? "https://[%s]:%s" : "https://%s:%s", h, p);
		o->api.server = o->api_server;
	}
	if (strncmp(o->api.server, "https://", 8)) {
		fprintf(stderr, "kvlb-discover: --api-server must be an https:// URL\n");
		return -1;
	}
	snprintf(o->source, sizeof(o->source), "%s %s/%s", o->pool ? "InferencePool" : "service",
		 o->ns, o->name);
	o->render.source = o->source;
	o->render.vip4 = o->has_vip4 ? &o->vip4 : NULL;
	o->render.vip6 = o->has_vip6 ? &o->vip6 : NULL;
	return 0;
}

/* List every page of the Service's slices. */
static char *escape(const char *s)
{
	CURL *c = curl_easy_init();
	char *e = c ? curl_easy_escape(c, s, 0) : NULL;

	if (c)
		curl_easy_cleanup(c);
	return e;
}

typedef int (*page_fn)(const char *json, size_t len, const struct disc_filter *f, int port,
		       struct disc_result *r, char *err, size_t errlen);

static int slices_page(const char *json, size_t len, const struct disc_filter *f, int port,
		       struct disc_result *r, char *err, size_t errlen)
{
	(void)port;
	return disc_parse_page(json, len, f, r, err, errlen);
}

/* GET base (a path with its query) page by page, following continue tokens. */
static int list_all(const struct opts *o, const char *base, const char *what, page_fn parse,
		    int port, struct disc_result *r, char *err, size_t errlen)
{
	const struct disc_filter f = {.port_name = o->port_name, .node = o->node};
	char path[3072], perr[512];
	int page;

	for (page = 0; page < MAX_PAGES; page++) {
		char *body, *cont = NULL;
		size_t len;
		int n, rc;

		if (r->cont[0] && !(cont = escape(r->cont))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		n = snprintf(path, sizeof(path), "%s&limit=%d%s%s", base, PAGE_LIMIT,
			     cont ? "&continue=" : "", cont ? cont : "");
		curl_free(cont);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			snprintf(err, errlen, "continue token too long");
			return -1;
		}
		if (api_get(&o->api, path, &body, &len, err, errlen))
			return -1;
		rc = parse(body, len, &f, port, r, perr, sizeof(perr));
		free(body);
		if (rc) {
			snprintf(err, errlen, "%s of %s/%s: %s", what, o->ns, o->name, perr);
			return -1;
		}
		if (!r->cont[0]) {
			disc_finish(r);
			return 0;
		}
	}
	snprintf(err, errlen, "more than %d pages of %s", MAX_PAGES, what);
	return -1;
}

/* The backends: the Service's EndpointSlices, or the pods an InferencePool selects. */
static int list_backends(const struct opts *o, struct disc_result *r, char *path, size_t pathlen,
			 char *err, size_t errlen)
{
	char sel[POOL_SELECTOR_LEN], perr[512], *body, *esc;
	size_t len;
	int port, rc;

	if (!o->pool) {
		snprintf(path, pathlen,
			 "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices"
			 "?labelSelector=kubernetes.io%%2Fservice-name%%3D%s",
			 o->ns, o->name);
		return list_all(o, path, "EndpointSlices", slices_page, 0, r, err, errlen);
	}
	snprintf(path, pathlen, "/apis/%s/namespaces/%s/inferencepools/%s", POOL_API, o->ns,
		 o->name);
	if (api_get(&o->api, path, &body, &len, err, errlen))
		return -1;
	rc = pool_parse(body, len, sel, sizeof(sel), &port, perr, sizeof(perr));
	free(body);
	if (rc) {
		snprintf(err, errlen, "InferencePool %s/%s: %s", o->ns, o->name, perr);
		return -1;
	}
	esc = escape(sel);
	if (!esc) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(path, pathlen, "/api/v1/namespaces/%s/pods?labelSelector=%s", o->ns, esc);
	curl_free(esc);
	return list_all(o, path, "pods of InferencePool", pool_parse_pods_page, port, r, err,
			errlen);
}

static int ifname_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * The interfaces the backends are routed through, sorted and unique, so the
 * same pods give the same file. *n_unrouted counts backends with no local route.
 */
static char (*backend_ifaces(const struct opts *o, const struct disc_result *r, int *n,
			     int *n_unrouted))[IF_NAMESIZE]
{
	char(*names)[IF_NAMESIZE] = calloc((size_t)r->n + 1, IF_NAMESIZE);
	char err[160];
	int i, k = 0;

	*n = 0;
	*n_unrouted = 0;
	if (!names)
		return NULL;
	for (i = 0; i < r->n; i++) {
		const struct kvlb_endpoint *ep = &r->eps[i];
		bool gw;

		if ((ep->family == KVLB_AF_INET && !o->has_vip4) ||
		    (ep->family == KVLB_AF_INET6 && !o->has_vip6))
			continue;
		if (route_dev(ep, names[k], &gw, err, sizeof(err)) || gw) {
			(*n_unrouted)++;
			if (o->verbose) {
				char b[KVLB_ENDPOINT_STRLEN];

				logm("%s: %s", kvlb_endpoint_format(ep, b, sizeof(b)),
				     gw ? "routed through a gateway" : err);
			}
			continue;
		}
		k++;
	}
	qsort(names, (size_t)k, IF_NAMESIZE, ifname_cmp);
	for (i = 0; i < k; i++)
		if (!*n || strcmp(names[*n - 1], names[i]))
			memmove(names[(*n)++], names[i], IF_NAMESIZE);
	return names;
}

/* Replace the output with text: a temporary file in the same directory, then rename. */
static int write_atomic(const char *path, const char *text, char *err, size_t errlen)
{
	size_t len = strlen(text), off = 0;
	char tmp[PATH_MAX];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "creating a file next to %s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) || fsync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "writing %s: %s", path, strerror(errno ? errno : EIO));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

static void signal_kvlbd(const struct opts *o)
{
	long pid = o->pid;

	if (o->pid_file) {
		char *s = slurp(o->pid_file, 32, NULL), *end;

		if (!s) {
			logm("warning: cannot read %s (%s); kvlbd not signalled", o->pid_file,
			     strerror(errno));
			return;
		}
		errno = 0;
		pid = strtol(s, &end, 10);
		if (errno || end == s || (*end && *end != '\n') || pid < 2 || pid > INT_MAX) {
			logm("warning: %s holds no pid; kvlbd not signalled", o->pid_file);
			free(s);
			return;
		}
		free(s);
	}
	if (!pid)
		return;
	if (kill((pid_t)pid, SIGHUP))
		logm("warning: SIGHUP to kvlbd (pid %ld): %s", pid, strerror(errno));
	else
		logm("sent SIGHUP to kvlbd (pid %ld)", pid);
}

/* How long one watch lasts: about one resync interval. */
static long watch_seconds(const struct opts *o)
{
	return o->interval_ms < 2000 ? 1 : o->interval_ms / 1000;
}

/*
 * One sync. With watch non-NULL, also leaves there the path to watch for the
 * next change (empty when the list carried no resourceVersion).
 */
static int sync_once(const struct opts *o, char *watch, size_t wlen, char *err, size_t errlen)
{
	char base[2048];
	struct disc_result r = {};
	struct disc_render rd = o->render;
	char *tmpl = NULL, *text = NULL, *old;
	char(*ifaces)[IF_NAMESIZE] = NULL;
	int skipped, unrouted = 0, rc = -1;
	bool same;

	if (o->template_path) {
		tmpl = slurp(o->template_path, FILE_MAX / 2, NULL);
		if (!tmpl) {
			snprintf(err, errlen, "template %s: %s", o->template_path, strerror(errno));
			return -1;
		}
		rd.template_text = tmpl;
	}
	if (watch)
		watch[0] = '\0';
	if (list_backends(o, &r, base, sizeof(base), err, errlen))
		goto out;
	if (watch && r.resource_version[0]) {
		char *rv = escape(r.resource_version);

		if (!rv || (size_t)snprintf(watch, wlen,
					    "%s&watch=1&resourceVersion=%s&timeoutSeconds=%ld",
					    base, rv, watch_seconds(o)) >= wlen)
			watch[0] = '\0';
		curl_free(rv);
	}
	if (o->ifaces_from_routes) {
		ifaces = backend_ifaces(o, &r, &rd.n_pod_ifaces, &unrouted);
		if (!ifaces) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		rd.pod_ifaces = (const char(*)[IF_NAMESIZE])ifaces;
	}
	if (disc_render_conf(&rd, &r, &text, &skipped, err, errlen))
		goto out;
	if (strlen(text) > FILE_MAX) {
		snprintf(err, errlen, "configuration larger than %d bytes", FILE_MAX);
		goto out;
	}
	old = slurp(o->output, FILE_MAX, NULL);
	same = old && !strcmp(old, text);
	free(old);
	if (same) {
		if (o->verbose)
			logm("%s: %d backends, unchanged (resourceVersion %s)", o->source, r.n,
			     r.resource_version);
		rc = 0;
		goto out;
	}
	if (write_atomic(o->output, text, err, errlen))
		goto out;
	logm("%s: wrote %s with %d backends (left out: %d not ready, %d terminating, "
	     "%d on other nodes, %d without the port, %d of a family without a VIP; "
	     "resourceVersion %s)",
	     o->source, o->output, r.n - skipped, r.n_not_ready, r.n_terminating, r.n_other_node,
	     r.n_no_port, skipped, r.resource_version[0] ? r.resource_version : "-");
	if (o->ifaces_from_routes)
		logm("%d pod interfaces; %d backends without a route on a local link",
		     rd.n_pod_ifaces, unrouted);
	signal_kvlbd(o);
	rc = 0;
out:
	free(ifaces);
	free(text);
	free(tmpl);
	disc_result_free(&r);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = {};
	char err[1024], last_err[1024] = "", watch[4096];
	struct timespec ts;
	sigset_t stop;

	if (parse_args(argc, argv, &o))
		return 2;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "kvlb-discover: cannot initialise libcurl\n");
		return 1;
	}
	if (o.once) {
		int rc = sync_once(&o, NULL, 0, err, sizeof(err));

		if (rc)
			logm("error: %s", err);
		curl_global_cleanup();
		return rc ? 1 : 0;
	}

	/* Stop signals are taken synchronously, between syncs, so a file is never half done. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	ts.tv_sec = o.interval_ms / 1000;
	ts.tv_nsec = (o.interval_ms % 1000) * 1000000;
	logm("following %s: %s, resync every %ld ms", o.source,
	     o.watch ? "watching for changes" : "polling", o.interval_ms);
	for (;;) {
		int sig, ok = !sync_once(&o, watch, sizeof(watch), err, sizeof(err));

		if (ok && o.watch && watch[0]) {
			/* The watch ends at the first change, or after about one interval. */
			struct timespec t0, t1;
			int w;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			w = api_watch(&o.api, watch, watch_seconds(&o), &stop, err, sizeof(err));
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (w == 2)
				break;
			if (w == 1)
				continue;
			/* A watch that ends at once with no event (a proxy closing it,
			 * say) would make a busy loop of list and watch: wait instead. */
			if (w == 0 && t1.tv_sec - t0.tv_sec >= 1)
				continue;
			ok = w == 0;
		}
		if (!ok) {
			/* Repeat a failure only when it changes, not once per interval. */
			if (strcmp(err, last_err))
				logm("error: %s (file left as it was; retrying)", err);
			snprintf(last_err, sizeof(last_err), "%s", err);
		} else if (last_err[0]) {
			logm("recovered");
			last_err[0] = '\0';
		}
		sig = sigtimedwait(&stop, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	logm("stopping");
	curl_global_cleanup();
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kvlbctl - edit and inspect kvlb's pinned maps.
 *
 *   kvlbctl [OPTIONS] OBJECT COMMAND [ARGS]
 *
 * Global options may appear anywhere on the line, as with bpftool. -h or
 * --help after a command asks for that command's help.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kvlbctl.h"

#ifndef KVLB_VERSION
#define KVLB_VERSION "0.1"
#endif

static const struct kv_opt conns_opts[] = {
    {"--limit", "N", "print at most N connections (default: all)"},
    {"--count", NULL, "print only how many there are"},
    {NULL, NULL, NULL},
};

static const struct kv_opt flows_opts[] = {
    {"--limit", "N", "print at most N flows (default: all)"},
    {},
};

static const struct kv_opt stats_opts[] = {
    {"--reset", NULL, "set every counter to zero instead of printing them"},
    {},
};

static const struct kv_opt hist_opts[] = {
    {"--vip", "VIP", "the VIP whose backend is meant (when it serves several)"},
    {},
};

static const struct kv_cmd objects[] = {
    {"vip", NULL, "service addresses (VIPs) that kvlb balances",
     "A VIP is an address and TCP port that clients connect to. kvlb places each new\n"
     "connection to a VIP on one of its backends and rewrites the packets both ways.",
     NULL, NULL, kv_vip_cmds},
    {"backend", NULL, "the servers behind each VIP",
     "A backend is an address and port that serves a VIP. New connections are spread\n"
     "over a VIP's active backends by a Maglev consistent-hash table in proportion to\n"
     "their weights; adding or removing one of N backends moves about 1/N of new\n"
     "placements. Established connections stay on their backend.",
     NULL, NULL, kv_backend_cmds},
    {"flows", "[--limit N]", "connections the data path has placed",
     "Print the flow table: each client connection, the VIP it was addressed to, the\n"
     "backend it was placed on and how long ago it was placed. Entries are evicted\n"
     "least-recently-used when the table is full.",
     flows_opts, kv_flows, NULL},
    {"conns", "[--limit N] [--count]", "connections to HTTP VIPs and their binding state",
     "Print the connections to HTTP VIPs (delayed binding): client, VIP, state\n"
     "(holding: kvlb answers the client and reads the request; connecting: the SYN\n"
     "to the chosen pod is out; replaying: the held bytes went to the pod;\n"
     "spliced: every packet is translated; closed: FIN seen both ways), the\n"
     "backend, the request bytes held and the time since the last packet. kvlbd\n"
     "removes closed connections after 2 s and idle ones after --splice-idle.",
     conns_opts, kv_conns, NULL},
    {"stats", "[--reset]", "counters of every data-path outcome",
     "Print every counter (summed over CPUs) with what it counts. In JSON mode the\n"
     "output is one object of counter name to value.",
     stats_opts, kv_stats, NULL},
    {"load", "[VIP]", "what kvlbd scraped from each backend",
     "Print, per backend (of VIP, or of every VIP), what kvlbd read from its metrics\n"
     "URL and gave the data path: state (up, draining, down: marked by kvlbd when\n"
     "its scrapes fail), running and waiting requests, KV-cache usage, the load score\n"
     "(token units), the tokens bound by the data path since the last scrape, bytes\n"
     "per token and the age of the last good scrape ('never' for a backend without a\n"
     "metrics URL).",
     NULL, kv_load, NULL},
    {"hist", "BACKEND [--vip VIP]", "a backend's prompt-size histogram",
     "Draw the prompt sizes (tokens) that BACKEND (ADDR:PORT or backend id) reports,\n"
     "in kvlb's 16 power-of-two buckets, as bars. Counts are since the model server\n"
     "started. A backend serving several VIPs needs --vip.",
     hist_opts, kv_hist, NULL},
    {"policy", NULL, "the data path's live tunables",
     "The tunables of the data path (idle timeout, prefix chunking, load bound,\n"
     "session affinity) live in one map entry that kvlbd and the data path read\n"
     "at once; a change applies to the next packet.",
     NULL, NULL, kv_config_cmds},
    {"prefix", NULL, "the learned conversation-prefix table",
     "The HTTP-aware choice remembers where each conversation prefix (a chain hash\n"
     "of the prompt's leading chunks, with its model and VIP) was sent, so the next\n"
     "turn of the conversation finds the backend that has it cached. The table is\n"
     "LRU: cold prefixes age out on their own.",
     NULL, NULL, kv_prefix_cmds},
    {},
};

/* Help printed from tables other than this one (only where a list of things
 * a command accepts is long and lives with their code). */
static const struct {
	const struct kv_cmd *cmd;
	void (*print)(FILE *f);
} more_help[] = {
    {&kv_config_cmds[1], kv_knobs_help}, /* policy set */
};

static const struct kv_opt global_opts[] = {
    {"-j, --json", NULL, "print JSON; errors too are JSON objects {\"error\": ...}"},
    {"-p, --pretty", NULL, "print indented JSON (implies --json)"},
    {"    --pin-root", "DIR",
     "the maps are pinned under DIR (default: $KVLB_PIN_ROOT,\n"
     "else " KVLB_PIN_ROOT ")"},
    {"-h, --help", NULL, "show help; after a command, help for that command"},
    {"-V, --version", NULL, "print the version and exit"},
    {},
};

static void print_opts(FILE *f, const struct kv_opt *o)
{
	for (; o && o->name; o++) {
		char left[64];
		const char *p;

		snprintf(left, sizeof(left), "%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		fprintf(f, "  %-22s ", left);
		/* Continuation lines of the text line up under its start. */
		for (p = o->help; *p; p++) {
			fputc(*p, f);
			if (*p == '\n')
				fprintf(f, "  %-22s ", "");
		}
		fputc('\n', f);
	}
}

static void help_top(FILE *f)
{
	const struct kv_cmd *o;

	fprintf(f, "Usage: kvlbctl [OPTIONS] OBJECT COMMAND [ARGS]\n\n"
		   "Edit and inspect the maps of the kvlb load balancer, pinned by kvlbd under a\n"
		   "BPF filesystem directory. Changes reach the running data path at once, and\n"
		   "each is applied whole or not at all.\n\nObjects:\n");
	for (o = objects; o->name; o++)
		fprintf(f, "  %-10s %s\n", o->name, o->summary);
	fprintf(f, "\nOptions:\n");
	print_opts(f, global_opts);
	fprintf(f, "\nRun 'kvlbctl OBJECT --help' for the commands of an object.\n"
		   "Exit status: 0 success, 1 the command failed, 2 bad command line.\n");
}

static void help_cmd(FILE *f, const struct kv_cmd *parent, const struct kv_cmd *cmd)
{
	const struct kv_cmd *v;
	char name[64];
	size_t i;

	if (parent)
		snprintf(name, sizeof(name), "%s %s", parent->name, cmd->name);
	else
		snprintf(name, sizeof(name), "%s", cmd->name);
	if (cmd->sub) {
		fprintf(f, "Usage: kvlbctl [OPTIONS] %s COMMAND [ARGS]\n\n%s\n\nCommands:\n", name,
			cmd->help);
		for (v = cmd->sub; v->name; v++)
			fprintf(f, "  %s%s%s\n        %s\n", v->name, *v->synopsis ? " " : "",
				v->synopsis, v->summary);
		fprintf(f, "\nRun 'kvlbctl %s COMMAND --help' for the details of a command.\n",
			name);
		return;
	}
	fprintf(f, "Usage: kvlbctl [OPTIONS] %s%s%s\n\n%s\n", name,
		cmd->synopsis && *cmd->synopsis ? " " : "", cmd->synopsis ? cmd->synopsis : "",
		cmd->help);
	for (i = 0; i < sizeof(more_help) / sizeof(more_help[0]); i++)
		if (more_help[i].cmd == cmd)
			more_help[i].print(f);
	if (cmd->opts && cmd->opts->name) {
		fprintf(f, "\nOptions:\n");
		print_opts(f, cmd->opts);
	}
	fprintf(f, "\nGlobal options (-j, -p, --pin-root): see 'kvlbctl --help'.\n");
}

static void report(struct kv_ctx *c, const char *msg, bool usage)
{
	if (c->json) {
		json_init(&c->jw, stdout, c->pretty);
		json_object_start(&c->jw);
		json_kv_string(&c->jw, "error", msg);
		json_object_end(&c->jw);
		json_finish(&c->jw);
		return;
	}
	fprintf(stderr, "kvlbctl: %s%s%s\n", c->path, *c->path ? ": " : "", msg);
	if (usage)
		fprintf(stderr, "Try 'kvlbctl %s%s--help'.\n", c->path, *c->path ? " " : "");
}

int kv_usage(struct kv_ctx *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(c, msg, true);
	return KV_USAGE;
}

int kv_fail(struct kv_ctx *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(c, msg, false);
	return KV_ERR;
}

int kv_done(struct kv_ctx *c)
{
	if (c->json) {
		json_null(&c->jw);
		json_finish(&c->jw);
	}
	return KV_OK;
}

int kv_open(struct kv_ctx *c)
{
	if (kvlb_open(&c->h, c->pin_root))
		return kv_fail(c, "%s", kvlb_error());
	c->open = true;
	return KV_OK;
}

int kv_parse_endpoint(struct kv_ctx *c, const char *what, const char *s, struct kvlb_endpoint *ep)
{
	char err[256];

	if (kvlb_endpoint_parse(s, ep, err, sizeof(err)))
		return kv_usage(c, "bad %s: %s", what, err);
	return 0;
}

int kv_parse_u32(struct kv_ctx *c, const char *what, const char *s, __u32 min, __u32 max,
		 __u32 *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return kv_usage(c, "%s '%s' is not a number (expected %u..%u)", what, s ? s : "",
				min, max);
	v = strtoull(s, &end, 10);
	if (*end)
		return kv_usage(c, "%s '%s' is not a number (expected %u..%u)", what, s, min, max);
	if (errno || v < min || v > max)
		return kv_usage(c, "%s %s is out of range %u..%u", what, s, min, max);
	*out = (__u32)v;
	return 0;
}

static bool is_help(const char *a)
{
	return !strcmp(a, "-h") || !strcmp(a, "--help");
}

/* Exact name, else an unambiguous prefix. */
static const struct kv_cmd *find_cmd(struct kv_ctx *c, const struct kv_cmd *list, const char *w,
				     const char *what, int *rc)
{
	const struct kv_cmd *hit = NULL, *p;
	char names[256] = "";
	int n = 0;

	for (p = list; p->name; p++) {
		if (!strcmp(p->name, w))
			return p;
		if (*w && !strncmp(p->name, w, strlen(w))) {
			hit = p;
			n++;
		}
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 p == list ? "" : ", ", p->name);
	}
	if (n == 1)
		return hit;
	if (n > 1)
		*rc = kv_usage(c, "ambiguous %s '%s' (one of: %s)", what, w, names);
	else
		*rc = kv_usage(c, "unknown %s '%s' (one of: %s)", what, w, names);
	return NULL;
}

/* Take the global options out of argv, wherever they are. */
static int global_options(struct kv_ctx *c, int *argc, char **argv)
{
	int i, n = 0;

	for (i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--json")) {
			c->json = true;
		} else if (!strcmp(a, "--pretty")) {
			c->json = c->pretty = true;
		} else if (!strcmp(a, "--version")) {
			printf("kvlbctl %s (map ABI %d)\n", KVLB_VERSION, KVLB_MAP_ABI);
			exit(KV_OK);
		} else if (!strcmp(a, "--pin-root") || !strncmp(a, "--pin-root=", 11)) {
			if (a[10] == '=') {
				c->pin_root = a + 11;
			} else if (i + 1 < *argc) {
				c->pin_root = argv[++i];
			} else {
				return kv_usage(c, "--pin-root needs a directory");
			}
			if (!*c->pin_root)
				return kv_usage(c, "--pin-root needs a directory");
		} else if (a[0] == '-' && a[1] && strspn(a + 1, "jpV") == strlen(a + 1)) {
			/* bundled short flags such as -jp */
			if (strchr(a, 'V')) {
				printf("kvlbctl %s (map ABI %d)\n", KVLB_VERSION, KVLB_MAP_ABI);
				exit(KV_OK);
			}
			c->json = true;
			if (strchr(a, 'p'))
				c->pretty = true;
		} else {
			argv[1 + n++] = argv[i];
		}
	}
	*argc = n + 1;
	argv[*argc] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	const struct kv_cmd *obj, *verb = NULL;
	struct kv_ctx c = {};
	int rc = KV_OK, i, first;

	c.pin_root = kvlb_default_pin_root();
	rc = global_options(&c, &argc, argv);
	if (c.json)
		json_init(&c.jw, stdout, c.pretty);
	if (rc)
		return rc;
	if (argc < 2) {
		if (c.json) {
			char names[256] = "";
			const struct kv_cmd *o;

			for (o = objects; o->name; o++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
					 "%s%s", o == objects ? "" : ", ", o->name);
			return kv_usage(&c, "missing OBJECT (one of: %s)", names);
		}
		help_top(stderr);
		return KV_USAGE;
	}
	if (is_help(argv[1])) {
		help_top(stdout);
		return KV_OK;
	}
	if (argv[1][0] == '-')
		return kv_usage(&c, "unknown option '%s'", argv[1]);
	obj = find_cmd(&c, objects, argv[1], "object", &rc);
	if (!obj)
		return rc;
	snprintf(c.path, sizeof(c.path), "%s", obj->name);
	first = 2;
	if (obj->sub) {
		if (argc < 3)
			return kv_usage(&c, "missing command");
		if (is_help(argv[2])) {
			help_cmd(stdout, NULL, obj);
			return KV_OK;
		}
		verb = find_cmd(&c, obj->sub, argv[2], "command", &rc);
		if (!verb)
			return rc;
		snprintf(c.path, sizeof(c.path), "%s %s", obj->name, verb->name);
		first = 3;
	}
	for (i = first; i < argc; i++) {
		if (is_help(argv[i])) {
			help_cmd(stdout, verb ? obj : NULL, verb ? verb : obj);
			return KV_OK;
		}
	}
	rc = (verb ? verb : obj)->run(&c, argc - first, argv + first);
	if (c.open)
		kvlb_close(&c.h);
	return rc;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Parser of kvlbd's configuration file (syntax in config.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

/* Longest line accepted; longer ones are an error, not silently cut. */
#define CONF_LINE_MAX  4096
#define CONF_MAX_WORDS 64
/* Largest file accepted: a config, not a data dump. */
#define CONF_FILE_MAX (16 << 20)

struct conf_ctx {
	const char *name;
	int line;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int conf_err(struct conf_ctx *x, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(x->err, x->errlen, "%s:%d: ", x->name, x->line);
	if (n < 0 || (size_t)n >= x->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (__u32)v;
	return 0;
}

static int parse_server(const char *s, enum kvlb_server_kind *k)
{
	static const struct {
		const char *name;
		enum kvlb_server_kind kind;
	} kinds[] = {
	    {"auto", KVLB_SERVER_AUTO},		{"vllm", KVLB_SERVER_VLLM},
	    {"sglang", KVLB_SERVER_SGLANG},	{"tgi", KVLB_SERVER_TGI},
	    {"llamacpp", KVLB_SERVER_LLAMACPP},
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!strcmp(s, kinds[i].name)) {
			*k = kinds[i].kind;
			return 0;
		}
	}
	return -1;
}

static int check_ifname(struct conf_ctx *x, const char *s)
{
	if (strlen(s) >= IF_NAMESIZE)
		return conf_err(x, "interface name '%s' is longer than %d characters", s,
				IF_NAMESIZE - 1);
	return 0;
}

static int line_uplink(struct conf_ctx *x, struct kvlb_conf *c, char **w, int n)
{
	if (n != 2)
		return conf_err(x, "'uplink' takes one interface name");
	if (c->uplink[0])
		return conf_err(x, "'uplink' given twice");
	if (check_ifname(x, w[1]))
		return -1;
	strcpy(c->uplink, w[1]);
	return 0;
}

static int line_pod_iface(struct conf_ctx *x, struct kvlb_conf *c, char **w, int n)
{
	int i, j;

	if (n < 2)
		return conf_err(x, "'pod-iface' takes one or more interface names");
	for (i = 1; i < n; i++) {
		if (check_ifname(x, w[i]))
			return -1;
		for (j = 0; j < c->n_pod_ifaces; j++)
			if (!strcmp(c->pod_ifaces[j], w[i]))
				return conf_err(x, "pod interface '%s' listed twice", w[i]);
		if (c->n_pod_ifaces == KVLB_CONF_MAX_IFACES)
			return conf_err(x, "more than %d pod interfaces", KVLB_CONF_MAX_IFACES);
		strcpy(c->pod_ifaces[c->n_pod_ifaces++], w[i]);
	}
	return 0;
}

static int line_vip(struct conf_ctx *x, struct kvlb_conf *c, char **w, int n)
{
	struct kvlb_conf_vip v = {};
	char msg[128];
	int i;

	if (n != 2 && n != 4)
		return conf_err(x, "usage: vip ADDR:PORT [mode l4|http]");
	if (kvlb_endpoint_parse(w[1], &v.ep, msg, sizeof(msg)))
		return conf_err(x, "vip: %s", msg);
	if (n == 4) {
		if (strcmp(w[2], "mode"))
			return conf_err(x, "vip: unknown option '%s' (expected 'mode')", w[2]);
		if (!strcmp(w[3], "http"))
			v.flags |= KVLB_VIP_F_HTTP;
		else if (strcmp(w[3], "l4"))
			return conf_err(x, "vip: mode must be 'l4' or 'http', not '%s'", w[3]);
	}
	for (i = 0; i < c->n_vips; i++)
		if (kvlb_endpoint_equal(&c->vips[i].ep, &v.ep))
			return conf_err(x, "vip %s defined twice", w[1]);
	if (c->n_vips == KVLB_MAX_VIPS)
		return conf_err(x, "more than %d VIPs", KVLB_MAX_VIPS);
	c->vips[c->n_vips++] = v;
	return 0;
}

static int line_backend(struct conf_ctx *x, struct kvlb_conf *c, char **w, int n)
{
	struct kvlb_conf_backend b = {.weight = 1};
	char msg[128];
	int i;

	if (!c->n_vips)
		return conf_err(x, "backend before any 'vip' line");
	if (n < 2 || n % 2)
		return conf_err(x, "usage: backend ADDR:PORT [weight N] [metrics URL] "
				   "[server vllm|sglang|tgi|llamacpp]");
	b.vip = c->n_vips - 1;
	if (kvlb_endpoint_parse(w[1], &b.ep, msg, sizeof(msg)))
		return conf_err(x, "backend: %s", msg);
	if (b.ep.family != c->vips[b.vip].ep.family)
		return conf_err(x, "backend %s: address family differs from its VIP's", w[1]);
	for (i = 2; i < n; i += 2) {
		const char *k = w[i], *v = w[i + 1];

		if (!strcmp(k, "weight")) {
			if (parse_u32(v, 1, 65535, &b.weight))
				return conf_err(x, "backend: weight must be 1..65535, not '%s'", v);
		} else if (!strcmp(k, "metrics")) {
			if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
				return conf_err(x, "backend: metrics URL must start with http:// "
						   "or https://");
			if (strlen(v) >= KVLB_CONF_URL_LEN)
				return conf_err(x, "backend: metrics URL longer than %d bytes",
						KVLB_CONF_URL_LEN - 1);
			strcpy(b.metrics_url, v);
		} else if (!strcmp(k, "server")) {
			if (parse_server(v, &b.server))
				return conf_err(x, "backend: unknown server kind '%s'", v);
		} else {
			return conf_err(x, "backend: unknown option '%s'", k);
		}
	}
	for (i = 0; i < c->n_backends; i++)
		if (c->backends[i].vip == b.vip && kvlb_endpoint_equal(&c->backends[i].ep, &b.ep))
			return conf_err(x, "backend %s listed twice for the same VIP", w[1]);
	if (c->n_backends == KVLB_MAX_BACKENDS)
		return conf_err(x, "more than %d backends", KVLB_MAX_BACKENDS);
	if (!c->backends) {
		c->backends = calloc(KVLB_MAX_BACKENDS, sizeof(*c->backends));
		if (!c->backends)
			return conf_err(x, "out of memory");
	}
	c->backends[c->n_backends++] = b;
	return 0;
}

static const struct {
	const char *word;
	int (*parse)(struct conf_ctx *x, struct kvlb_conf *c, char **w, int n);
} conf_lines[] = {
    {"uplink", line_uplink},
    {"pod-iface", line_pod_iface},
    {"vip", line_vip},
    {"backend", line_backend},
};

static int parse_line(struct conf_ctx *x, struct kvlb_conf *c, char *line)
{
	char *w[CONF_MAX_WORDS], *save = NULL, *tok;
	size_t i;
	int n = 0;

	for (tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
		if (*tok == '#')
			break;
		if (n == CONF_MAX_WORDS)
			return conf_err(x, "more than %d words on one line", CONF_MAX_WORDS);
		w[n++] = tok;
	}
	if (!n)
		return 0;
	for (i = 0; i < sizeof(conf_lines) / sizeof(conf_lines[0]); i++)
		if (!strcmp(w[0], conf_lines[i].word))
			return conf_lines[i].parse(x, c, w, n);
	return conf_err(x, "unknown keyword '%s' (expected uplink, pod-iface, vip or backend)",
			w[0]);
}

int kvlb_conf_parse(const char *text, const char *name, struct kvlb_conf *c, char *err,
		    size_t errlen)
{
	struct conf_ctx x = {.name = name, .line = 0, .err = err, .errlen = errlen};
	char buf[CONF_LINE_MAX + 1];
	const char *p = text;

	memset(c, 0, sizeof(*c));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		x.line++;
		if (len > CONF_LINE_MAX) {
			conf_err(&x, "line longer than %d bytes", CONF_LINE_MAX);
			goto fail;
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (strlen(buf) != len) {
			conf_err(&x, "NUL byte in line");
			goto fail;
		}
		if (parse_line(&x, c, buf))
			goto fail;
		p += len + (nl ? 1 : 0);
	}
	return 0;
fail:
	kvlb_conf_free(c);
	return -1;
}

int kvlb_conf_load(const char *path, struct kvlb_conf *c, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text;
	size_t n;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	text = malloc(CONF_FILE_MAX + 1);
	if (!text) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	n = fread(text, 1, CONF_FILE_MAX + 1, f);
	if (ferror(f) || n > CONF_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path,
			 ferror(f) ? "read error" : "larger than 16 MiB");
		fclose(f);
		free(text);
		return -1;
	}
	fclose(f);
	if (memchr(text, '\0', n)) {
		snprintf(err, errlen, "%s: contains a NUL byte (not a text file?)", path);
		free(text);
		return -1;
	}
	text[n] = '\0';
	rc = kvlb_conf_parse(text, path, c, err, errlen);
	free(text);
	return rc;
}

void kvlb_conf_free(struct kvlb_conf *c)
{
	free(c->backends);
	memset(c, 0, sizeof(*c));
}

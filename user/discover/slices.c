// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * EndpointSlice semantics kvlb relies on (discovery.k8s.io/v1):
 *  - a slice holds endpoints of one addressType (IPv4, IPv6 or FQDN) and a
 *    list of ports that applies to every endpoint in it;
 *  - an endpoint's addresses are interchangeable, so the first one is used;
 *  - conditions.ready absent or null means ready; a terminating endpoint is
 *    never ready. Only ready endpoints are balanced: removing a backend from
 *    kvlb stops new connections to it while bound ones run to completion,
 *    which is what a pod in its termination grace period needs.
 * Anything that does not fit this schema rejects the whole response: a
 * partial backend set would silently move traffic.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "slices.h"

#define DISC_MAX_ENDPOINTS (1 << 20)

static int derr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int derr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A string member, or NULL when absent or null; *bad when present with another type. */
static const char *get_str(json_t *obj, const char *key, int *bad)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

int disc_add(struct disc_result *r, const struct kvlb_endpoint *ep, char *err, size_t errlen)
{
	if (r->n == r->cap) {
		int cap = r->cap ? r->cap * 2 : 64;
		struct kvlb_endpoint *n;

		if (cap > DISC_MAX_ENDPOINTS)
			return derr(err, errlen, "more than %d endpoints", DISC_MAX_ENDPOINTS);
		n = realloc(r->eps, (size_t)cap * sizeof(*n));
		if (!n)
			return derr(err, errlen, "out of memory");
		r->eps = n;
		r->cap = cap;
	}
	r->eps[r->n++] = *ep;
	return 0;
}

/* The port this slice serves for the filter: >0, 0 when the slice lacks it, -1 on error. */
static int slice_port(json_t *ports, const struct disc_filter *f, const char *sname, char *err,
		      size_t errlen)
{
	json_t *p, *num;
	size_t i, n;
	int bad = 0;

	if (!ports || json_is_null(ports))
		return 0;
	if (!json_is_array(ports))
		return derr(err, errlen, "slice %s: ports is not an array", sname);
	n = json_array_size(ports);
	if (!f->port_name && n > 1)
		return derr(err, errlen, "slice %s has %zu ports; choose one with --port-name",
			    sname, n);
	json_array_foreach(ports, i, p)
	{
		const char *name, *proto;
		json_int_t port;

		if (!json_is_object(p))
			return derr(err, errlen, "slice %s: ports[%zu] is not an object", sname, i);
		name = get_str(p, "name", &bad);
		proto = get_str(p, "protocol", &bad);
		if (bad)
			return derr(err, errlen,
				    "slice %s: ports[%zu]: name or protocol is not a string", sname,
				    i);
		if (f->port_name && strcmp(f->port_name, name ? name : ""))
			continue;
		if (proto && strcmp(proto, "TCP"))
			return derr(err, errlen, "slice %s: port '%s' is %s; kvlb balances TCP",
				    sname, name ? name : "", proto);
		num = json_object_get(p, "port");
		/* A null port means "all ports", which an address-only backend cannot express. */
		if (!num || json_is_null(num))
			return 0;
		if (!json_is_integer(num))
			return derr(err, errlen, "slice %s: ports[%zu].port is not an integer",
				    sname, i);
		port = json_integer_value(num);
		if (port < 1 || port > 65535)
			return derr(err, errlen, "slice %s: port %lld is out of range", sname,
				    (long long)port);
		return (int)port;
	}
	return 0;
}

static int parse_endpoint(json_t *e, size_t i, const char *sname, int family, int port,
			  const struct disc_filter *f, struct disc_result *r, char *err,
			  size_t errlen)
{
	json_t *addrs, *a0, *cond, *v;
	struct kvlb_endpoint ep;
	const char *node;
	char perr[128];
	int bad = 0;
	bool ready = true, terminating = false;

	if (!json_is_object(e))
		return derr(err, errlen, "slice %s: endpoints[%zu] is not an object", sname, i);
	addrs = json_object_get(e, "addresses");
	if (!json_is_array(addrs) || json_array_size(addrs) == 0)
		return derr(err, errlen,
			    "slice %s: endpoints[%zu].addresses is not a non-empty array", sname,
			    i);
	a0 = json_array_get(addrs, 0);
	if (!json_is_string(a0))
		return derr(err, errlen, "slice %s: endpoints[%zu].addresses[0] is not a string",
			    sname, i);
	/* The API server writes IPv6 addresses bare; brackets mean something is off. */
	if (json_string_value(a0)[0] == '[')
		return derr(err, errlen, "slice %s: endpoints[%zu]: bracketed address", sname, i);
	if (kvlb_addr_parse(json_string_value(a0), &ep, perr, sizeof(perr)))
		return derr(err, errlen, "slice %s: endpoints[%zu]: %s", sname, i, perr);
	if (ep.family != family)
		return derr(err, errlen,
			    "slice %s: endpoints[%zu]: %s does not match the slice's "
			    "addressType",
			    sname, i, json_string_value(a0));

	cond = json_object_get(e, "conditions");
	if (cond && !json_is_null(cond)) {
		if (!json_is_object(cond))
			return derr(err, errlen,
				    "slice %s: endpoints[%zu].conditions is not an object", sname,
				    i);
		v = json_object_get(cond, "ready");
		if (v && !json_is_null(v) && !json_is_boolean(v))
			return derr(err, errlen, "slice %s: endpoints[%zu]: ready is not a boolean",
				    sname, i);
		ready = !v || !json_is_false(v);
		v = json_object_get(cond, "terminating");
		if (v && !json_is_null(v) && !json_is_boolean(v))
			return derr(err, errlen,
				    "slice %s: endpoints[%zu]: terminating is not a boolean", sname,
				    i);
		terminating = v && json_is_true(v);
	}
	node = get_str(e, "nodeName", &bad);
	if (bad)
		return derr(err, errlen, "slice %s: endpoints[%zu].nodeName is not a string", sname,
			    i);

	if (terminating) {
		r->n_terminating++;
		return 0;
	}
	if (!ready) {
		r->n_not_ready++;
		return 0;
	}
	if (f->node && (!node || strcmp(node, f->node))) {
		r->n_other_node++;
		return 0;
	}
	if (!port) {
		r->n_no_port++;
		return 0;
	}
	ep.port = (__u16)port;
	return disc_add(r, &ep, err, errlen);
}

static int parse_slice(json_t *s, size_t idx, const struct disc_filter *f, struct disc_result *r,
		       char *err, size_t errlen)
{
	json_t *meta, *eps, *e;
	const char *type, *name = NULL;
	char sname[128];
	int bad = 0, family, port;
	size_t i;

	if (!json_is_object(s))
		return derr(err, errlen, "items[%zu] is not an object", idx);
	meta = json_object_get(s, "metadata");
	if (json_is_object(meta))
		name = get_str(meta, "name", &bad);
	if (bad)
		return derr(err, errlen, "items[%zu]: metadata.name is not a string", idx);
	if (name)
		snprintf(sname, sizeof(sname), "%.100s", name);
	else
		snprintf(sname, sizeof(sname), "items[%zu]", idx);

	type = get_str(s, "addressType", &bad);
	if (bad || !type)
		return derr(err, errlen, "slice %s: addressType is missing or not a string", sname);
	if (!strcmp(type, "IPv4")) {
		family = KVLB_AF_INET;
	} else if (!strcmp(type, "IPv6")) {
		family = KVLB_AF_INET6;
	} else {
		/* FQDN slices (and types newer than this code) name no address to balance to. */
		r->n_fqdn++;
		return 0;
	}
	port = slice_port(json_object_get(s, "ports"), f, sname, err, errlen);
	if (port < 0)
		return -1;

	eps = json_object_get(s, "endpoints");
	if (!eps || json_is_null(eps))
		return 0;
	if (!json_is_array(eps))
		return derr(err, errlen, "slice %s: endpoints is not an array", sname);
	json_array_foreach(eps, i, e)
	{
		if (parse_endpoint(e, i, sname, family, port, f, r, err, errlen))
			return -1;
	}
	return 0;
}

int disc_parse_page(const char *json, size_t len, const struct disc_filter *f,
		    struct disc_result *r, char *err, size_t errlen)
{
	struct disc_result saved = *r;
	json_error_t jerr;
	json_t *root, *meta, *items, *s;
	const char *kind, *api, *rv = NULL, *cont = NULL;
	int bad = 0, rc = -1;
	size_t i;

	r->cont[0] = '\0';
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return derr(err, errlen, "not JSON (line %d, column %d): %s", jerr.line,
			    jerr.column, jerr.text);
	if (!json_is_object(root)) {
		derr(err, errlen, "not a JSON object");
		goto out;
	}
	kind = get_str(root, "kind", &bad);
	api = get_str(root, "apiVersion", &bad);
	if (bad || !kind || strcmp(kind, "EndpointSliceList")) {
		derr(err, errlen, "kind is '%.40s', expected EndpointSliceList",
		     kind ? kind : "(none)");
		goto out;
	}
	if (!api || strcmp(api, "discovery.k8s.io/v1")) {
		derr(err, errlen, "apiVersion is '%.40s', expected discovery.k8s.io/v1",
		     api ? api : "(none)");
		goto out;
	}
	meta = json_object_get(root, "metadata");
	if (json_is_object(meta)) {
		rv = get_str(meta, "resourceVersion", &bad);
		cont = get_str(meta, "continue", &bad);
	}
	if (bad) {
		derr(err, errlen, "metadata.resourceVersion or metadata.continue is not a string");
		goto out;
	}
	if (cont && strlen(cont) >= sizeof(r->cont)) {
		derr(err, errlen, "continue token longer than %zu bytes", sizeof(r->cont) - 1);
		goto out;
	}
	items = json_object_get(root, "items");
	if (items && !json_is_null(items) && !json_is_array(items)) {
		derr(err, errlen, "items is not an array");
		goto out;
	}
	json_array_foreach(items, i, s)
	{
		if (parse_slice(s, i, f, r, err, errlen))
			goto out;
	}
	if (rv && !r->resource_version[0])
		snprintf(r->resource_version, sizeof(r->resource_version), "%s", rv);
	if (cont)
		snprintf(r->cont, sizeof(r->cont), "%s", cont);
	rc = 0;
out:
	if (rc) {
		/* Keep the array (it may have grown) but forget this page's entries. */
		saved.eps = r->eps;
		saved.cap = r->cap;
		*r = saved;
		r->cont[0] = '\0';
	}
	json_decref(root);
	return rc;
}

static int ep_cmp(const void *pa, const void *pb)
{
	const struct kvlb_endpoint *a = pa, *b = pb;
	int c;

	if (a->family != b->family)
		return a->family == KVLB_AF_INET ? -1 : 1;
	c = memcmp(&a->addr, &b->addr, sizeof(a->addr));
	if (c)
		return c;
	return (int)a->port - (int)b->port;
}

void disc_finish(struct disc_result *r)
{
	int i, n = 0;

	if (!r->n)
		return;
	qsort(r->eps, (size_t)r->n, sizeof(*r->eps), ep_cmp);
	for (i = 0; i < r->n; i++)
		if (!n || ep_cmp(&r->eps[n - 1], &r->eps[i]))
			r->eps[n++] = r->eps[i];
	r->n = n;
}

void disc_result_free(struct disc_result *r)
{
	free(r->eps);
	memset(r, 0, sizeof(*r));
}

static void put_vip(FILE *f, const struct kvlb_endpoint *vip, const char *mode)
{
	char b[KVLB_ENDPOINT_STRLEN];

	fprintf(f, "vip %s", kvlb_endpoint_format(vip, b, sizeof(b)));
	if (mode)
		fprintf(f, " mode %s", mode);
	fputc('\n', f);
}

static int put_backends(FILE *f, const struct disc_render *o, const struct disc_result *r,
			int family, char *err, size_t errlen)
{
	char b[KVLB_ENDPOINT_STRLEN], a[KVLB_ENDPOINT_STRLEN];
	int i;

	for (i = 0; i < r->n; i++) {
		const struct kvlb_endpoint *ep = &r->eps[i];

		if (ep->family != family)
			continue;
		fprintf(f, "backend %s", kvlb_endpoint_format(ep, b, sizeof(b)));
		if (o->weight)
			fprintf(f, " weight %d", o->weight);
		if (o->metrics_path) {
			char url[KVLB_CONF_URL_LEN];
			int n;

			kvlb_addr_format(&ep->addr, ep->family, a, sizeof(a));
			n = snprintf(
			    url, sizeof(url),
			    family == KVLB_AF_INET6 ? "http://[%s]:%d%s" : "http://%s:%d%s", a,
			    o->metrics_port ? o->metrics_port : ep->port, o->metrics_path);
			if (n < 0 || (size_t)n >= sizeof(url))
				return derr(err, errlen,
					    "metrics URL for %s is longer than %d bytes", b,
					    KVLB_CONF_URL_LEN - 1);
			fprintf(f, " metrics %s", url);
		}
		if (o->server)
			fprintf(f, " server %s", o->server);
		fputc('\n', f);
	}
	return 0;
}

/* Whether a pod-iface line of the template names ifname (kvlbd refuses a name twice). */
static bool template_has_iface(const char *t, const char *ifname)
{
	size_t want = strlen(ifname);

	while (t && *t) {
		const char *eol = strchrnul(t, '\n'), *hash = memchr(t, '#', (size_t)(eol - t));
		const char *end = hash ? hash : eol, *p = t;
		bool first = true, is_pod = false;

		while (p < end) {
			size_t n;

			p += strspn(p, " \t\r");
			if (p >= end)
				break;
			n = strcspn(p, " \t\r#\n");
			if (first)
				is_pod = n == 9 && !strncmp(p, "pod-iface", 9);
			else if (is_pod && n == want && !strncmp(p, ifname, n))
				return true;
			first = false;
			p += n;
		}
		t = *eol ? eol + 1 : eol;
	}
	return false;
}

int disc_render_conf(const struct disc_render *o, const struct disc_result *r, char **out,
		     int *n_skipped, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int i, rc = 0;

	*out = NULL;
	*n_skipped = 0;
	for (i = 0; i < r->n; i++)
		if ((r->eps[i].family == KVLB_AF_INET && !o->vip4) ||
		    (r->eps[i].family == KVLB_AF_INET6 && !o->vip6))
			(*n_skipped)++;
	f = open_memstream(&buf, &len);
	if (!f)
		return derr(err, errlen, "out of memory");
	if (o->template_text && *o->template_text) {
		size_t tl = strlen(o->template_text);

		fputs(o->template_text, f);
		if (o->template_text[tl - 1] != '\n')
			fputc('\n', f);
	}
	/* No resourceVersion or time here: equal backend sets must give equal bytes. */
	fprintf(f, "# Backends of %s, written by kvlb-discover; changes here are overwritten.\n",
		o->source ? o->source : "(unknown)");
	for (i = 0; i < o->n_pod_ifaces; i++)
		if (!template_has_iface(o->template_text, o->pod_ifaces[i]))
			fprintf(f, "pod-iface %s\n", o->pod_ifaces[i]);
	if (o->vip4) {
		put_vip(f, o->vip4, o->mode);
		rc = put_backends(f, o, r, KVLB_AF_INET, err, errlen);
	}
	if (!rc && o->vip6) {
		put_vip(f, o->vip6, o->mode);
		rc = put_backends(f, o, r, KVLB_AF_INET6, err, errlen);
	}
	if (fclose(f) || !buf) {
		free(buf);
		return derr(err, errlen, "out of memory");
	}
	if (rc) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

#define POOL_MAX_LABELS 32

static int perr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Label keys and values as Kubernetes allows them, which also keeps the
 * selector free of the ',', '=', '!' and '(' of selector syntax.
 */
static bool label_ok(const char *s, size_t max, bool key)
{
	size_t i, n = strlen(s);

	if (n > max || (!n && key))
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || (key && c == '/')))
			return false;
	}
	return true;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int pool_parse(const char *json, size_t len, char *selector, size_t sellen, int *port, char *err,
	       size_t errlen)
{
	const char *keys[POOL_MAX_LABELS];
	json_error_t jerr;
	json_t *root, *spec, *sel, *ml, *v, *p;
	const char *kind, *k;
	size_t n = 0, i, off = 0;
	json_int_t pn;
	int rc = -1;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return perr(err, errlen, "not JSON (line %d, column %d): %s", jerr.line,
			    jerr.column, jerr.text);
	kind = json_string_value(json_object_get(root, "kind"));
	if (!kind || strcmp(kind, "InferencePool")) {
		perr(err, errlen, "kind is '%.40s', expected InferencePool",
		     kind ? kind : "(none)");
		goto out;
	}
	spec = json_object_get(root, "spec");
	sel = json_object_get(spec, "selector");
	ml = json_object_get(sel, "matchLabels");
	if (json_is_object(ml))
		sel = ml;
	if (!json_is_object(sel) || !json_object_size(sel)) {
		perr(err, errlen, "spec.selector is missing or empty");
		goto out;
	}
	json_object_foreach(sel, k, v)
	{
		if (n == POOL_MAX_LABELS) {
			perr(err, errlen, "more than %d selector labels", POOL_MAX_LABELS);
			goto out;
		}
		if (!json_is_string(v) || !label_ok(k, 253, true) ||
		    !label_ok(json_string_value(v), 63, false)) {
			perr(err, errlen, "selector label '%.80s' is not a valid label", k);
			goto out;
		}
		keys[n++] = k;
	}
	qsort(keys, n, sizeof(keys[0]), key_cmp);
	for (i = 0; i < n; i++) {
		int w = snprintf(selector + off, sellen - off, "%s%s=%s", i ? "," : "", keys[i],
				 json_string_value(json_object_get(sel, keys[i])));

		if (w < 0 || (size_t)w >= sellen - off) {
			perr(err, errlen, "selector longer than %zu bytes", sellen - 1);
			goto out;
		}
		off += (size_t)w;
	}

	p = json_object_get(spec, "targetPortNumber");
	if (!p) {
		/* v1: targetPorts is a list; kvlb balances to the first. */
		p = json_object_get(json_array_get(json_object_get(spec, "targetPorts"), 0),
				    "number");
	}
	pn = json_is_integer(p) ? json_integer_value(p) : 0;
	if (pn < 1 || pn > 65535) {
		perr(err, errlen, "spec.targetPortNumber is missing or not a port number");
		goto out;
	}
	*port = (int)pn;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* Whether the pod's Ready condition is "True". */
static bool pod_ready(json_t *status)
{
	json_t *conds = json_object_get(status, "conditions"), *c;
	size_t i;

	json_array_foreach(conds, i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *s = json_string_value(json_object_get(c, "status"));

		if (t && !strcmp(t, "Ready"))
			return s && !strcmp(s, "True");
	}
	return false;
}

static int pod_add_ip(const char *s, const char *pname, int port, struct disc_result *r, char *err,
		      size_t errlen)
{
	struct kvlb_endpoint ep;
	char aerr[128];

	if (!s)
		return perr(err, errlen, "pod %s is ready but has no IP", pname);
	if (s[0] == '[' || kvlb_addr_parse(s, &ep, aerr, sizeof(aerr)))
		return perr(err, errlen, "pod %s: bad IP '%.60s'", pname, s);
	ep.port = (__u16)port;
	return disc_add(r, &ep, err, errlen);
}

static int pod_add(json_t *pod, size_t idx, const struct disc_filter *f, int port,
		   struct disc_result *r, char *err, size_t errlen)
{
	json_t *meta, *spec, *status, *ips, *ip;
	const char *name, *phase, *node;
	char pname[128];
	size_t i;

	if (!json_is_object(pod))
		return perr(err, errlen, "items[%zu] is not an object", idx);
	meta = json_object_get(pod, "metadata");
	spec = json_object_get(pod, "spec");
	status = json_object_get(pod, "status");
	name = json_string_value(json_object_get(meta, "name"));
	snprintf(pname, sizeof(pname), "%.100s", name ? name : "(unnamed)");
	if (status && !json_is_object(status))
		return perr(err, errlen, "pod %s: status is not an object", pname);

	if (json_object_get(meta, "deletionTimestamp") &&
	    !json_is_null(json_object_get(meta, "deletionTimestamp"))) {
		r->n_terminating++;
		return 0;
	}
	phase = json_string_value(json_object_get(status, "phase"));
	if (!phase || strcmp(phase, "Running") || !pod_ready(status)) {
		r->n_not_ready++;
		return 0;
	}
	node = json_string_value(json_object_get(spec, "nodeName"));
	if (f->node && (!node || strcmp(node, f->node))) {
		r->n_other_node++;
		return 0;
	}
	ips = json_object_get(status, "podIPs");
	if (json_is_array(ips) && json_array_size(ips)) {
		json_array_foreach(ips, i, ip)
		{
			if (pod_add_ip(json_string_value(json_object_get(ip, "ip")), pname, port, r,
				       err, errlen))
				return -1;
		}
		return 0;
	}
	/* Older API servers fill only podIP. */
	return pod_add_ip(json_string_value(json_object_get(status, "podIP")), pname, port, r, err,
			  errlen);
}

int pool_parse_pods_page(const char *json, size_t len, const struct disc_filter *f, int port,
			 struct disc_result *r, char *err, size_t errlen)
{
	struct disc_result saved = *r;
	json_error_t jerr;
	json_t *root, *items, *pod, *meta;
	const char *kind, *cont, *rv;
	int rc = -1;
	size_t i;

	r->cont[0] = '\0';
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return perr(err, errlen, "not JSON (line %d, column %d): %s", jerr.line,
			    jerr.column, jerr.text);
	kind = json_string_value(json_object_get(root, "kind"));
	if (!kind || strcmp(kind, "PodList")) {
		perr(err, errlen, "kind is '%.40s', expected PodList", kind ? kind : "(none)");
		goto out;
	}
	meta = json_object_get(root, "metadata");
	cont = json_string_value(json_object_get(meta, "continue"));
	rv = json_string_value(json_object_get(meta, "resourceVersion"));
	if (cont && strlen(cont) >= sizeof(r->cont)) {
		perr(err, errlen, "continue token longer than %zu bytes", sizeof(r->cont) - 1);
		goto out;
	}
	items = json_object_get(root, "items");
	if (items && !json_is_null(items) && !json_is_array(items)) {
		perr(err, errlen, "items is not an array");
		goto out;
	}
	json_array_foreach(items, i, pod)
	{
		if (pod_add(pod, i, f, port, r, err, errlen))
			goto out;
	}
	if (rv && !r->resource_version[0])
		snprintf(r->resource_version, sizeof(r->resource_version), "%s", rv);
	if (cont)
		snprintf(r->cont, sizeof(r->cont), "%s", cont);
	rc = 0;
out:
	if (rc) {
		saved.eps = r->eps;
		saved.cap = r->cap;
		*r = saved;
		r->cont[0] = '\0';
	}
	json_decref(root);
	return rc;
}

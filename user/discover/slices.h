/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Turning the API server's EndpointSliceList JSON into kvlb backends, and the
 * backends into kvlbd configuration text. No I/O here, so the fuzzer and the
 * tests drive exactly the code the daemon runs.
 */
#ifndef KVLB_DISCOVER_SLICES_H
#define KVLB_DISCOVER_SLICES_H

#include <net/if.h>
#include <stddef.h>
#include "endpoint.h"

#define DISC_TOKEN_LEN 1024 /* longest "continue" token kept */
#define DISC_RV_LEN    64

/* Which endpoints of which slices become backends. */
struct disc_filter {
	const char *port_name; /* NULL: the slice must have exactly one port */
	const char *node;      /* NULL: endpoints on every node */
};

struct disc_result {
	struct kvlb_endpoint *eps; /* sorted, no duplicates after disc_finish() */
	int n, cap;
	char resource_version[DISC_RV_LEN];
	char cont[DISC_TOKEN_LEN]; /* "": this was the last page */
	/* What was left out, for the log. */
	int n_not_ready, n_terminating, n_other_node, n_no_port, n_fqdn;
};

/*
 * Add the ready endpoints of one page of an EndpointSliceList to r. Returns
 * 0, or -1 with a reason in err; on error r holds what it held before the
 * call, except for cont, which is cleared.
 */
int disc_parse_page(const char *json, size_t len, const struct disc_filter *f,
		    struct disc_result *r, char *err, size_t errlen);
/* Append one backend; -1 with a reason in err when out of room or memory. */
int disc_add(struct disc_result *r, const struct kvlb_endpoint *ep, char *err, size_t errlen);
/* Sort and drop duplicates (an address may sit in two slices while a slice moves). */
void disc_finish(struct disc_result *r);
void disc_result_free(struct disc_result *r);

/* How the configuration is written. */
struct disc_render {
	const char *source;			 /* "namespace/service", for the header comment */
	const char *template_text;		 /* static part, copied first; may be NULL */
	const struct kvlb_endpoint *vip4, *vip6; /* NULL: that family is left out */
	const char *mode;			 /* NULL or "l4" / "http" */
	const char *metrics_path;		 /* NULL: no metrics URL */
	int metrics_port;			 /* 0: the backend's own port */
	const char *server;			 /* NULL: let kvlbd detect */
	int weight;				 /* 0: kvlbd's default */
	/* Written as pod-iface lines, except those the template already names. */
	const char (*pod_ifaces)[IF_NAMESIZE];
	int n_pod_ifaces;
};

/*
 * Write the configuration into a malloc'd, NUL-terminated string. Returns
 * 0, or -1 with a reason in err. *n_skipped counts endpoints whose family
 * has no VIP.
 */
int disc_render_conf(const struct disc_render *o, const struct disc_result *r, char **out,
		     int *n_skipped, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kvlbd's configuration file. Line based; '#' starts a comment:
 *
 *   uplink IFNAME                  interface where clients' packets arrive (XDP)
 *   pod-iface IFNAME...            interfaces where pods' packets enter the node (TC)
 *   vip ADDR:PORT [mode l4|http]   a balanced service; following backends belong to it
 *   backend ADDR:PORT [weight N] [metrics URL] [server vllm|sglang|tgi|llamacpp]
 *
 * Errors name the file, line and reason; a file with any error is rejected
 * whole.
 */
#ifndef KVLB_CONFIG_H
#define KVLB_CONFIG_H

#include <net/if.h>
#include <stddef.h>
#include "endpoint.h"

#define KVLB_CONF_MAX_IFACES 64
#define KVLB_CONF_URL_LEN    256

enum kvlb_server_kind {
	KVLB_SERVER_AUTO = 0,
	KVLB_SERVER_VLLM,
	KVLB_SERVER_SGLANG,
	KVLB_SERVER_TGI,
	KVLB_SERVER_LLAMACPP,
};

struct kvlb_conf_backend {
	int vip; /* index into kvlb_conf.vips */
	struct kvlb_endpoint ep;
	__u32 weight;
	enum kvlb_server_kind server;
	char metrics_url[KVLB_CONF_URL_LEN]; /* empty: none */
};

struct kvlb_conf_vip {
	struct kvlb_endpoint ep;
	__u32 flags; /* KVLB_VIP_F_* */
};

struct kvlb_conf {
	char uplink[IF_NAMESIZE];
	int n_pod_ifaces;
	char pod_ifaces[KVLB_CONF_MAX_IFACES][IF_NAMESIZE];
	int n_vips;
	struct kvlb_conf_vip vips[KVLB_MAX_VIPS];
	int n_backends;
	struct kvlb_conf_backend *backends; /* malloc'd */
};

/* Parse text (name is used in messages). Returns 0, or -1 with
 * "name:line: reason" in err. On error *c is left empty. */
int kvlb_conf_parse(const char *text, const char *name, struct kvlb_conf *c, char *err,
		    size_t errlen);
int kvlb_conf_load(const char *path, struct kvlb_conf *c, char *err, size_t errlen);
void kvlb_conf_free(struct kvlb_conf *c);

#endif

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kvlbctl conns: connections to HTTP VIPs (delayed binding) and their state */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "kvlbctl.h"

static const char *const state_names[] = {
    [KVLB_SP_HOLD] = "holding",	       [KVLB_SP_CONNECTING] = "connecting",
    [KVLB_SP_REPLAYING] = "replaying", [KVLB_SP_SPLICED] = "spliced",
    [KVLB_SP_CLOSED] = "closed",
};

static const char *state_name(__u8 s)
{
	return s < sizeof(state_names) / sizeof(state_names[0]) && state_names[s] ? state_names[s]
										  : "?";
}

static void conn_ep(const struct kvlb_addr *a, __be16 port, __u8 family, char *buf)
{
	struct kvlb_endpoint ep = {.addr = *a, .port = ntohs(port), .family = family};

	kvlb_endpoint_format(&ep, buf, KVLB_ENDPOINT_STRLEN);
}

static void show_conn(struct kv_ctx *c, const struct kvlb_flow_key *k, const struct kvlb_splice *sp,
		      __u64 now, bool first)
{
	char cs[KVLB_ENDPOINT_STRLEN], vs[KVLB_ENDPOINT_STRLEN], bs[KVLB_ENDPOINT_STRLEN];
	struct kvlb_backend be;
	double idle = now > sp->last_ns ? (double)(now - sp->last_ns) / 1e9 : 0;

	conn_ep(&k->src, k->sport, k->family, cs);
	conn_ep(&k->dst, k->dport, k->family, vs);
	if (sp->backend_id != KVLB_NO_BACKEND && !kvlb_backend_get(&c->h, sp->backend_id, &be) &&
	    (be.flags & KVLB_BE_F_IN_USE))
		conn_ep(&be.addr, be.port, be.family, bs);
	else
		strcpy(bs, "-"); /* not chosen yet, or removed since */
	if (c->json) {
		json_object_start(&c->jw);
		json_kv_string(&c->jw, "client", cs);
		json_kv_string(&c->jw, "vip", vs);
		json_kv_string(&c->jw, "state", state_name(sp->state));
		json_kv_string(&c->jw, "backend", bs);
		json_kv_u64(&c->jw, "held_bytes", sp->held);
		json_kv_double(&c->jw, "idle_s", idle);
		json_object_end(&c->jw);
		return;
	}
	if (first)
		printf("%-*s %-*s %-10s %-*s %8s %8s\n", KV_EP_COL + 6, "CLIENT", KV_EP_COL, "VIP",
		       "STATE", KV_EP_COL, "BACKEND", "HELD", "IDLE");
	printf("%-*s %-*s %-10s %-*s %8u %7.1fs\n", KV_EP_COL + 6, cs, KV_EP_COL, vs,
	       state_name(sp->state), KV_EP_COL, bs, sp->held, idle);
}

int kv_conns(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_flow_key k, next;
	struct kvlb_splice sp;
	char path[PATH_MAX];
	__u32 limit = 0, shown = 0;
	bool count_only = false;
	struct timespec ts;
	int fd, i, more;
	__u64 now;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--limit")) {
			if (++i == argc)
				return kv_usage(c, "--limit needs a number");
			if (kv_parse_u32(c, "--limit", argv[i], 1, 0xffffffffu, &limit))
				return KV_USAGE;
		} else if (!strcmp(argv[i], "--count")) {
			count_only = true;
		} else {
			return kv_usage(c, "unexpected argument '%s'", argv[i]);
		}
	}
	if (kv_open(c))
		return KV_ERR;
	snprintf(path, sizeof(path), "%s/%s", c->pin_root, KVLB_MAP_SPLICE);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return kv_fail(c, "%s: %s", path, strerror(errno));
	/* the data path stamps connections with the coarse CLOCK_MONOTONIC */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	if (c->json && !count_only)
		json_array_start(&c->jw);
	more = !bpf_map_get_next_key(fd, NULL, &next);
	while (more && (!limit || shown < limit)) {
		k = next;
		more = !bpf_map_get_next_key(fd, &k, &next);
		if (bpf_map_lookup_elem(fd, &k, &sp))
			continue; /* gone meanwhile */
		if (!count_only)
			show_conn(c, &k, &sp, now, shown == 0);
		shown++;
	}
	close(fd);
	if (count_only) {
		if (c->json) {
			json_object_start(&c->jw);
			json_kv_u64(&c->jw, "connections", shown);
			json_object_end(&c->jw);
		} else {
			printf("%u\n", shown);
		}
	} else if (c->json) {
		json_array_end(&c->jw);
	}
	if (c->json)
		json_finish(&c->jw);
	return KV_OK;
}

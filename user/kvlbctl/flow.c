// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kvlbctl flows */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kvlbctl.h"

struct flow_walk {
	struct kv_ctx *c;
	__u32 limit; /* 0: no limit */
	__u32 shown;
	__u64 now_ns;
};

static void flow_ep(const struct kvlb_addr *a, __be16 port, __u8 family, char *buf)
{
	struct kvlb_endpoint ep = {.addr = *a, .port = ntohs(port), .family = family};

	kvlb_endpoint_format(&ep, buf, KVLB_ENDPOINT_STRLEN);
}

static int show_flow(const struct kvlb_flow_key *k, const struct kvlb_flow *f, void *arg)
{
	char cs[KVLB_ENDPOINT_STRLEN], vs[KVLB_ENDPOINT_STRLEN], bs[KVLB_ENDPOINT_STRLEN];
	struct flow_walk *w = arg;
	struct kvlb_backend be;
	double age;

	flow_ep(&k->src, k->sport, k->family, cs);
	flow_ep(&k->dst, k->dport, k->family, vs);
	if (!kvlb_backend_get(&w->c->h, f->backend_id, &be) && (be.flags & KVLB_BE_F_IN_USE))
		flow_ep(&be.addr, be.port, be.family, bs);
	else
		strcpy(bs, "-"); /* removed since: placed again on the next packet */
	age = w->now_ns > f->placed_ns ? (double)(w->now_ns - f->placed_ns) / 1e9 : 0;

	if (w->c->json) {
		struct json *j = &w->c->jw;

		json_object_start(j);
		json_kv_string(j, "client", cs);
		json_kv_string(j, "vip", vs);
		json_kv_string(j, "backend", bs);
		json_kv_u64(j, "backend_id", f->backend_id);
		json_kv_u64(j, "vip_index", f->vip_index);
		json_kv_double(j, "age_s", age);
		json_object_end(j);
	} else {
		if (w->shown == 0)
			printf("%-*s %-*s %-*s %8s\n", KV_EP_COL + 6, "CLIENT", KV_EP_COL, "VIP",
			       KV_EP_COL, "BACKEND", "AGE");
		printf("%-*s %-*s %-*s %7.1fs\n", KV_EP_COL + 6, cs, KV_EP_COL, vs, KV_EP_COL, bs,
		       age);
	}
	w->shown++;
	return w->limit && w->shown >= w->limit;
}

int kv_flows(struct kv_ctx *c, int argc, char **argv)
{
	struct flow_walk w = {.c = c};
	struct timespec ts;
	FILE *mem = NULL;
	char *buf = NULL;
	size_t len = 0;
	int i, n;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--limit")) {
			if (++i == argc)
				return kv_usage(c, "--limit needs a number");
			if (kv_parse_u32(c, "--limit", argv[i], 1, 0xffffffffu, &w.limit))
				return KV_USAGE;
		} else {
			return kv_usage(c, "unexpected argument '%s'", argv[i]);
		}
	}
	if (kv_open(c))
		return KV_ERR;
	/* the data path stamps flows with the coarse CLOCK_MONOTONIC */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	w.now_ns = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	/* JSON goes to a buffer first, so a walk failing half way prints
	 * only the error: stdout stays one JSON document. */
	if (c->json) {
		mem = open_memstream(&buf, &len);
		if (!mem)
			return kv_fail(c, "out of memory");
		json_init(&c->jw, mem, c->pretty);
		json_array_start(&c->jw);
	}
	n = kvlb_flow_walk(&c->h, show_flow, &w);
	if (c->json) {
		json_array_end(&c->jw);
		json_finish(&c->jw);
		fclose(mem);
		json_init(&c->jw, stdout, c->pretty);
		if (n >= 0)
			fwrite(buf, 1, len, stdout);
		free(buf);
	}
	if (n < 0)
		return kv_fail(c, "%s", kvlb_error());
	return KV_OK;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kvlbctl backend add|del|drain|weight|list */
#include <stdlib.h>
#include <string.h>
#include "kvlbctl.h"

/* VIP and BACKEND, the first two arguments of every editing verb. */
static int two_endpoints(struct kv_ctx *c, int argc, char **argv, struct kvlb_endpoint *vip,
			 struct kvlb_endpoint *be)
{
	if (argc < 1)
		return kv_usage(c, "missing VIP (ADDR:PORT)");
	if (kv_parse_endpoint(c, "VIP", argv[0], vip))
		return KV_USAGE;
	if (argc < 2)
		return kv_usage(c, "missing BACKEND (ADDR:PORT)");
	if (kv_parse_endpoint(c, "backend", argv[1], be))
		return KV_USAGE;
	if (vip->family != be->family)
		return kv_usage(c, "backend %s is not of the VIP's address family", argv[1]);
	return 0;
}

static int be_add(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_endpoint vip, be;
	__u32 weight = 1;
	int i;

	if (two_endpoints(c, argc, argv, &vip, &be))
		return KV_USAGE;
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "weight")) {
			if (++i == argc)
				return kv_usage(c, "'weight' needs a value (1..%d)",
						KVLB_MAX_WEIGHT);
			if (kv_parse_u32(c, "weight", argv[i], 1, KVLB_MAX_WEIGHT, &weight))
				return KV_USAGE;
		} else {
			return kv_usage(c, "unexpected argument '%s'", argv[i]);
		}
	}
	if (kv_open(c))
		return KV_ERR;
	if (kvlb_backend_create(&c->h, &vip, &be, weight))
		return kv_fail(c, "%s", kvlb_error());
	return kv_done(c);
}

static int be_del(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_endpoint vip, be;

	if (two_endpoints(c, argc, argv, &vip, &be))
		return KV_USAGE;
	if (argc > 2)
		return kv_usage(c, "unexpected argument '%s'", argv[2]);
	if (kv_open(c))
		return KV_ERR;
	if (kvlb_backend_del(&c->h, &vip, &be))
		return kv_fail(c, "%s", kvlb_error());
	return kv_done(c);
}

static int be_drain(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_endpoint vip, be;
	bool undo = false;
	int i;

	if (two_endpoints(c, argc, argv, &vip, &be))
		return KV_USAGE;
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--undo"))
			undo = true;
		else
			return kv_usage(c, "unexpected argument '%s'", argv[i]);
	}
	if (kv_open(c))
		return KV_ERR;
	if (kvlb_backend_flags(&c->h, &vip, &be, undo ? 0 : KVLB_BE_F_DRAINING,
			       undo ? KVLB_BE_F_DRAINING : 0))
		return kv_fail(c, "%s", kvlb_error());
	return kv_done(c);
}

static int be_weight(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_endpoint vip, be;
	__u32 weight;

	if (two_endpoints(c, argc, argv, &vip, &be))
		return KV_USAGE;
	if (argc < 3)
		return kv_usage(c, "missing the weight N (1..%d)", KVLB_MAX_WEIGHT);
	if (argc > 3)
		return kv_usage(c, "unexpected argument '%s'", argv[3]);
	if (kv_parse_u32(c, "weight", argv[2], 1, KVLB_MAX_WEIGHT, &weight))
		return KV_USAGE;
	if (kv_open(c))
		return KV_ERR;
	if (kvlb_backend_weight(&c->h, &vip, &be, weight))
		return kv_fail(c, "%s", kvlb_error());
	return kv_done(c);
}

static const char *state_name(__u32 flags)
{
	if (flags & KVLB_BE_F_DOWN)
		return "down";
	if (flags & KVLB_BE_F_DRAINING)
		return "draining";
	return "active";
}

static int be_list(struct kv_ctx *c, int argc, char **argv)
{
	char vs[KVLB_ENDPOINT_STRLEN], bs[KVLB_ENDPOINT_STRLEN], a[KVLB_ENDPOINT_STRLEN];
	struct kvlb_endpoint vip;
	struct kvlb_backend_info *b;
	int n, i;

	if (argc > 1)
		return kv_usage(c, "unexpected argument '%s'", argv[1]);
	if (argc == 1 && kv_parse_endpoint(c, "VIP", argv[0], &vip))
		return KV_USAGE;
	if (kv_open(c))
		return KV_ERR;
	b = calloc(KVLB_MAX_BACKENDS, sizeof(*b));
	if (!b)
		return kv_fail(c, "out of memory");
	n = kvlb_backend_list(&c->h, argc == 1 ? &vip : NULL, b, KVLB_MAX_BACKENDS);
	if (n < 0) {
		free(b);
		return kv_fail(c, "%s", kvlb_error());
	}
	if (c->json) {
		json_array_start(&c->jw);
		for (i = 0; i < n; i++) {
			json_object_start(&c->jw);
			json_kv_string(&c->jw, "vip",
				       kvlb_endpoint_format(&b[i].vip, vs, sizeof(vs)));
			json_kv_string(&c->jw, "backend",
				       kvlb_endpoint_format(&b[i].ep, bs, sizeof(bs)));
			json_kv_string(
			    &c->jw, "address",
			    kvlb_addr_format(&b[i].ep.addr, b[i].ep.family, a, sizeof(a)));
			json_kv_u64(&c->jw, "port", b[i].ep.port);
			json_kv_u64(&c->jw, "id", b[i].id);
			json_kv_u64(&c->jw, "weight", b[i].be.weight);
			json_kv_string(&c->jw, "state", state_name(b[i].be.flags));
			json_kv_bool(&c->jw, "draining", b[i].be.flags & KVLB_BE_F_DRAINING);
			json_kv_bool(&c->jw, "down", b[i].be.flags & KVLB_BE_F_DOWN);
			json_kv_u64(&c->jw, "ring_slots", b[i].ring_slots);
			json_kv_double(&c->jw, "ring_share",
				       (double)b[i].ring_slots / KVLB_RING_SIZE);
			json_object_end(&c->jw);
		}
		json_array_end(&c->jw);
		json_finish(&c->jw);
	} else if (n > 0) {
		printf("%-*s %-*s %4s %6s %-8s %6s\n", KV_EP_COL, "VIP", KV_EP_COL, "BACKEND", "ID",
		       "WEIGHT", "STATE", "SHARE");
		for (i = 0; i < n; i++)
			printf("%-*s %-*s %4u %6u %-8s %5.1f%%\n", KV_EP_COL,
			       kvlb_endpoint_format(&b[i].vip, vs, sizeof(vs)), KV_EP_COL,
			       kvlb_endpoint_format(&b[i].ep, bs, sizeof(bs)), b[i].id,
			       b[i].be.weight, state_name(b[i].be.flags),
			       100.0 * b[i].ring_slots / KVLB_RING_SIZE);
	}
	free(b);
	return KV_OK;
}

const struct kv_cmd kv_backend_cmds[] = {
    {"add", "VIP BACKEND [weight N]", "add a backend to a VIP",
     "Add BACKEND (ADDR:PORT, of the VIP's address family) to VIP, with a weight of\n"
     "1..65535 (default 1): its share of new connections is its weight over the sum\n"
     "of the active backends' weights. The VIP's consistent-hash table is rebuilt and\n"
     "replaced in one step. Adding a backend that exists is an error; change its\n"
     "weight with 'kvlbctl backend weight'.",
     NULL, be_add, NULL},
    {"del", "VIP BACKEND", "remove a backend from a VIP",
     "Remove BACKEND from VIP. It leaves the consistent-hash table first; connections\n"
     "still on it are placed again on their next packet. To let them finish, drain\n"
     "the backend first and remove it when 'kvlbctl flows' shows none.",
     NULL, be_del, NULL},
    {"drain", "VIP BACKEND [--undo]", "stop new connections to a backend",
     "Mark BACKEND as draining: it leaves VIP's consistent-hash table, so it gets no\n"
     "new connections, while established ones stay with it until they end.",
     (const struct kv_opt[]){
	 {"--undo", NULL, "take the backend back into service"},
	 {},
     },
     be_drain, NULL},
    {"weight", "VIP BACKEND N", "set a backend's weight",
     "Set BACKEND's weight to N (1..65535) and rebuild VIP's consistent-hash table.\n"
     "To stop new connections to a backend, drain it instead.",
     NULL, be_weight, NULL},
    {"list", "[VIP]", "list backends",
     "List the backends of VIP, or of every VIP: id, weight, state (active, draining,\n"
     "down) and share, the fraction of the VIP's consistent-hash table it owns, which\n"
     "is the fraction of new connections it gets.",
     NULL, be_list, NULL},
    {},
};

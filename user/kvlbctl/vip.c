// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kvlbctl vip add|del|list */
#include <string.h>
#include "kvlbctl.h"

static const char *mode_name(__u32 flags)
{
	return flags & KVLB_VIP_F_HTTP ? "http" : "l4";
}

static int vip_add(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_endpoint ep;
	__u32 flags = 0;
	int i;

	if (argc < 1)
		return kv_usage(c, "missing ADDR:PORT of the VIP");
	if (kv_parse_endpoint(c, "VIP", argv[0], &ep))
		return KV_USAGE;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "mode")) {
			if (++i == argc)
				return kv_usage(c, "'mode' needs a value: l4 or http");
			if (!strcmp(argv[i], "l4"))
				flags &= ~KVLB_VIP_F_HTTP;
			else if (!strcmp(argv[i], "http"))
				flags |= KVLB_VIP_F_HTTP;
			else
				return kv_usage(c, "unknown mode '%s' (l4 or http)", argv[i]);
		} else {
			return kv_usage(c, "unexpected argument '%s'", argv[i]);
		}
	}
	if (kv_open(c))
		return KV_ERR;
	if (kvlb_vip_create(&c->h, &ep, flags))
		return kv_fail(c, "%s", kvlb_error());
	return kv_done(c);
}

static int vip_del(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_endpoint ep;

	if (argc < 1)
		return kv_usage(c, "missing ADDR:PORT of the VIP");
	if (argc > 1)
		return kv_usage(c, "unexpected argument '%s'", argv[1]);
	if (kv_parse_endpoint(c, "VIP", argv[0], &ep))
		return KV_USAGE;
	if (kv_open(c))
		return KV_ERR;
	if (kvlb_vip_del(&c->h, &ep))
		return kv_fail(c, "%s", kvlb_error());
	return kv_done(c);
}

static int vip_list(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_vip_info v[KVLB_MAX_VIPS];
	char s[KVLB_ENDPOINT_STRLEN], a[KVLB_ENDPOINT_STRLEN];
	int n, i;

	if (argc > 0)
		return kv_usage(c, "unexpected argument '%s'", argv[0]);
	if (kv_open(c))
		return KV_ERR;
	n = kvlb_vip_list(&c->h, v, KVLB_MAX_VIPS);
	if (n < 0)
		return kv_fail(c, "%s", kvlb_error());
	if (c->json) {
		json_array_start(&c->jw);
		for (i = 0; i < n; i++) {
			json_object_start(&c->jw);
			json_kv_string(&c->jw, "vip", kvlb_endpoint_format(&v[i].ep, s, sizeof(s)));
			json_kv_string(
			    &c->jw, "address",
			    kvlb_addr_format(&v[i].ep.addr, v[i].ep.family, a, sizeof(a)));
			json_kv_u64(&c->jw, "port", v[i].ep.port);
			json_kv_string(&c->jw, "family",
				       v[i].ep.family == KVLB_AF_INET6 ? "ipv6" : "ipv4");
			json_kv_string(&c->jw, "mode", mode_name(v[i].vip.flags));
			json_kv_u64(&c->jw, "index", v[i].vip.index);
			json_kv_u64(&c->jw, "ring_slot", v[i].vip.ring_slot);
			json_kv_u64(&c->jw, "active_backends", v[i].vip.n_backends);
			json_object_end(&c->jw);
		}
		json_array_end(&c->jw);
		json_finish(&c->jw);
		return KV_OK;
	}
	if (n == 0)
		return KV_OK;
	printf("%-*s %-5s %5s %15s\n", KV_EP_COL, "VIP", "MODE", "INDEX", "ACTIVE_BACKENDS");
	for (i = 0; i < n; i++)
		printf("%-*s %-5s %5u %15u\n", KV_EP_COL,
		       kvlb_endpoint_format(&v[i].ep, s, sizeof(s)), mode_name(v[i].vip.flags),
		       v[i].vip.index, v[i].vip.n_backends);
	return KV_OK;
}

const struct kv_cmd kv_vip_cmds[] = {
    {"add", "ADDR:PORT [mode l4|http]", "add a VIP",
     "Add a VIP: an IPv4 address and port (192.0.2.10:80) or an IPv6 address in\n"
     "brackets and port ([2001:db8:a::10]:80), TCP. It has no backends yet: add them\n"
     "with 'kvlbctl backend add'; until then its connections are dropped.\n"
     "\n"
     "  mode l4    place connections by the consistent-hash table only (default)\n"
     "  mode http  let the HTTP-aware policy choose where kvlbd supports it\n"
     "\n"
     "Adding a VIP that exists is an error.",
     NULL, vip_add, NULL},
    {"del", "ADDR:PORT", "delete a VIP and all its backends",
     "Delete a VIP. The data path stops balancing it at once, then its backends are\n"
     "removed. Established connections to it are no longer rewritten.",
     NULL, vip_del, NULL},
    {"list", "", "list the VIPs",
     "List the VIPs with their mode, ring index and the number of backends in the\n"
     "active consistent-hash table.",
     NULL, vip_list, NULL},
    {},
};

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kvlbctl stats */
#include <string.h>
#include "kvlbctl.h"

int kv_stats(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_stats s;
	bool reset = false;
	const __u64 *v;
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--reset"))
			reset = true;
		else
			return kv_usage(c, "unexpected argument '%s'", argv[i]);
	}
	if (kv_open(c))
		return KV_ERR;
	if (reset) {
		if (kvlb_stats_reset(&c->h))
			return kv_fail(c, "%s", kvlb_error());
		return kv_done(c);
	}
	if (kvlb_stats_read(&c->h, &s))
		return kv_fail(c, "%s", kvlb_error());
	/* The named counters are the struct's leading words, in list order. */
	v = (const __u64 *)&s;
	if (c->json) {
		json_object_start(&c->jw);
		for (i = 0; i < KVLB_STATS_NAMED; i++)
			json_kv_u64(&c->jw, kvlb_stats_name[i], v[i]);
		json_object_end(&c->jw);
		json_finish(&c->jw);
		return KV_OK;
	}
	printf("%-20s %20s  %s\n", "COUNTER", "VALUE", "DESCRIPTION");
	for (i = 0; i < KVLB_STATS_NAMED; i++)
		printf("%-20s %20llu  %s\n", kvlb_stats_name[i], (unsigned long long)v[i],
		       kvlb_stats_desc[i]);
	return KV_OK;
}

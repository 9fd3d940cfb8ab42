// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness of the Prometheus text parser and the model-server
 * figures read from it. Every input goes through the parser alone and
 * through each server's mapping; invariants are checked, not just crashes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "prom.h"

static int check_sample(const struct kvlb_prom_sample *s, void *arg)
{
	int i;

	(void)arg;
	if (!s->name.len || s->n_labels < 0 || s->n_labels > KVLB_PROM_MAX_LABELS)
		abort();
	for (i = 0; i < s->n_labels; i++) {
		/* Touch every byte, so ASan sees a string that points outside. */
		volatile char sink = 0;
		size_t k;

		for (k = 0; k < s->label_name[i].len; k++)
			sink ^= s->label_name[i].p[k];
		for (k = 0; k < s->label_value[i].len; k++)
			sink ^= s->label_value[i].p[k];
		(void)sink;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvlb_prom_load l;
	struct kvlb_prom_result r;
	char *b = malloc(size ? size : 1);
	int k;

	memcpy(b, data, size);
	kvlb_prom_parse(b, size, check_sample, NULL, &r);
	if (r.samples > size)
		abort();
	for (k = KVLB_PROM_SERVER_UNKNOWN; k <= KVLB_PROM_SERVER_LLAMACPP; k++) {
		kvlb_prom_extract(b, size, (enum kvlb_prom_server)k, &l);
		if (l.n_buckets < 0 || l.n_buckets > KVLB_PROM_MAX_BUCKETS)
			abort();
		if (l.has_kv && !(l.kv_usage >= 0 && l.kv_usage <= 1))
			abort();
		if (l.has_running && (isnan(l.running) || l.running < 0))
			abort();
		{
			double edges[15];
			uint64_t out[16];
			int i;

			for (i = 0; i < 15; i++)
				edges[i] = (double)(1u << (i + 7));
			kvlb_prom_rebin(l.bucket_le, l.bucket_count, l.n_buckets, edges, 15, out);
		}
	}
	free(b);
	return 0;
}

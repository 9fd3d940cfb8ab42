// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: any bytes as an API response must give either a clean
 * error or a backend set that renders; never a crash, leak or UB. The first
 * byte picks the filter so port selection and node filtering are covered too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "slices.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kvlb_endpoint vip4 = {.family = KVLB_AF_INET, .port = 80};
	static const struct kvlb_endpoint vip6 = {.family = KVLB_AF_INET6, .port = 80};
	struct disc_filter f = {};
	struct disc_result r = {};
	struct disc_render o = {.source = "fuzz/fuzz", .vip4 = &vip4, .vip6 = &vip6};
	static const char ifaces[][IF_NAMESIZE] = {"vp1", "eth0"};
	char err[256], *text, *tmpl = NULL;
	int skipped;
	uint8_t sel;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	if (sel & 1)
		f.port_name = "http";
	if (sel & 2)
		f.node = "node-a";
	if (sel & 4)
		o.metrics_path = "/metrics";
	if (sel & 8)
		o.vip6 = NULL;
	if (sel & 16) {
		/* The input doubles as the template, for its pod-iface scan. */
		tmpl = strndup((const char *)data, size);
		o.template_text = tmpl;
		o.pod_ifaces = ifaces;
		o.n_pod_ifaces = 2;
	}
	if (sel & 32) {
		char selector[POOL_SELECTOR_LEN];
		int port;

		/* An InferencePool, then the same bytes as its pods. */
		if (pool_parse((const char *)data, size, selector, sizeof(selector), &port, err,
			       sizeof(err)) == 0 &&
		    (port < 1 || port > 65535 || strchr(selector, '&') || strchr(selector, ' ')))
			abort();
		pool_parse_pods_page((const char *)data, size, &f, 8000, &r, err, sizeof(err));
	} else if (disc_parse_page((const char *)data, size, &f, &r, err, sizeof(err)) == 0) {
		/* Two pages into one result, as a paged list does. */
		disc_parse_page((const char *)data, size, &f, &r, err, sizeof(err));
	}
	disc_finish(&r);
	if (disc_render_conf(&o, &r, &text, &skipped, err, sizeof(err)) == 0) {
		if (!text || (!tmpl && strncmp(text, "# Backends", 10)))
			abort();
		free(text);
	}
	free(tmpl);
	disc_result_free(&r);
	return 0;
}

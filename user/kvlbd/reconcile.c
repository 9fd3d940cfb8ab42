// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdlib.h>

#include "log.h"
#include "reconcile.h"

static bool conf_has_vip(const struct kvlb_conf *c, const struct kvlb_endpoint *ep)
{
	int i;

	for (i = 0; i < c->n_vips; i++)
		if (kvlb_endpoint_equal(&c->vips[i].ep, ep))
			return true;
	return false;
}

int reconcile(struct kvlb_handle *h, const struct kvlb_conf *c)
{
	struct kvlb_vip_info vips[KVLB_MAX_VIPS];
	struct kvlb_backend_spec *specs;
	char a[KVLB_ENDPOINT_STRLEN];
	int nv, i, j, n, rc = -1;

	specs = calloc(KVLB_MAX_BACKENDS, sizeof(*specs));
	if (!specs) {
		log_err("reconcile: out of memory");
		return -1;
	}

	/* VIPs the config dropped go first, freeing their backend slots. */
	nv = kvlb_vip_list(h, vips, KVLB_MAX_VIPS);
	if (nv < 0) {
		log_err("reading the pinned state: %s", kvlb_error());
		goto out;
	}
	for (i = 0; i < nv; i++) {
		if (conf_has_vip(c, &vips[i].ep))
			continue;
		if (kvlb_vip_del(h, &vips[i].ep)) {
			log_err("removing VIP %s: %s",
				kvlb_endpoint_format(&vips[i].ep, a, sizeof(a)), kvlb_error());
			goto out;
		}
		log_info("VIP %s removed", kvlb_endpoint_format(&vips[i].ep, a, sizeof(a)));
	}

	/* Each VIP then moves to its configured backend set in one ring flip:
	 * whole or not at all, kept backends keeping their ids and flags. */
	for (i = 0; i < c->n_vips; i++) {
		const struct kvlb_endpoint *vep = &c->vips[i].ep;

		if (kvlb_vip_add(h, vep, c->vips[i].flags)) {
			log_err("VIP %s: %s", kvlb_endpoint_format(vep, a, sizeof(a)),
				kvlb_error());
			goto out;
		}
		for (j = 0, n = 0; j < c->n_backends; j++) {
			if (c->backends[j].vip != i)
				continue;
			specs[n].ep = c->backends[j].ep;
			specs[n].weight = c->backends[j].weight;
			n++;
		}
		if (kvlb_vip_set_backends(h, vep, specs, n)) {
			log_err("VIP %s: %s", kvlb_endpoint_format(vep, a, sizeof(a)),
				kvlb_error());
			goto out;
		}
	}
	log_info("config applied: %d VIPs, %d backends", c->n_vips, c->n_backends);
	rc = 0;
out:
	free(specs);
	return rc;
}

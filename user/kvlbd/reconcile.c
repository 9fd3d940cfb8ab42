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

static bool conf_has_backend(const struct kvlb_conf *c, const struct kvlb_endpoint *vip,
			     const struct kvlb_endpoint *be)
{
	int i;

	for (i = 0; i < c->n_backends; i++)
		if (kvlb_endpoint_equal(&c->vips[c->backends[i].vip].ep, vip) &&
		    kvlb_endpoint_equal(&c->backends[i].ep, be))
			return true;
	return false;
}

int reconcile(struct kvlb_handle *h, const struct kvlb_conf *c)
{
	struct kvlb_vip_info vips[KVLB_MAX_VIPS];
	struct kvlb_backend_info *bes;
	char a[KVLB_ENDPOINT_STRLEN], b[KVLB_ENDPOINT_STRLEN];
	int nv, nb, i, rc = -1;

	bes = calloc(KVLB_MAX_BACKENDS, sizeof(*bes));
	if (!bes) {
		log_err("reconcile: out of memory");
		return -1;
	}

	/* Removals first, so a config that swaps backends never needs more
	 * slots than the maps have. */
	nv = kvlb_vip_list(h, vips, KVLB_MAX_VIPS);
	nb = kvlb_backend_list(h, NULL, bes, KVLB_MAX_BACKENDS);
	if (nv < 0 || nb < 0) {
		log_err("reading the pinned state: %s", kvlb_error());
		goto out;
	}
	for (i = 0; i < nb; i++) {
		if (!conf_has_vip(c, &bes[i].vip) || conf_has_backend(c, &bes[i].vip, &bes[i].ep))
			continue;
		if (kvlb_backend_del(h, &bes[i].vip, &bes[i].ep)) {
			log_err("removing backend %s: %s",
				kvlb_endpoint_format(&bes[i].ep, a, sizeof(a)), kvlb_error());
			goto out;
		}
		log_info("backend %s of %s removed", kvlb_endpoint_format(&bes[i].ep, a, sizeof(a)),
			 kvlb_endpoint_format(&bes[i].vip, b, sizeof(b)));
	}
	for (i = 0; i < nv; i++) {
		if (conf_has_vip(c, &vips[i].ep))
			continue;
		if (kvlb_vip_del(h, &vips[i].ep)) {
			log_err("removing VIP %s: %s", kvlb_endpoint_format(&vips[i].ep, a, sizeof(a)),
				kvlb_error());
			goto out;
		}
		log_info("VIP %s removed", kvlb_endpoint_format(&vips[i].ep, a, sizeof(a)));
	}

	for (i = 0; i < c->n_vips; i++) {
		if (c->vips[i].flags & KVLB_VIP_F_HTTP)
			log_warn("VIP %s: mode http is recorded, but the data path does not bind "
				 "by request yet: its connections are balanced by L4 hash",
				 kvlb_endpoint_format(&c->vips[i].ep, a, sizeof(a)));
		if (kvlb_vip_add(h, &c->vips[i].ep, c->vips[i].flags)) {
			log_err("VIP %s: %s", kvlb_endpoint_format(&c->vips[i].ep, a, sizeof(a)),
				kvlb_error());
			goto out;
		}
	}
	for (i = 0; i < c->n_backends; i++) {
		const struct kvlb_conf_backend *cb = &c->backends[i];

		if (kvlb_backend_add(h, &c->vips[cb->vip].ep, &cb->ep, cb->weight)) {
			log_err("backend %s: %s", kvlb_endpoint_format(&cb->ep, a, sizeof(a)),
				kvlb_error());
			goto out;
		}
	}
	log_info("config applied: %d VIPs, %d backends", c->n_vips, c->n_backends);
	rc = 0;
out:
	free(bes);
	return rc;
}

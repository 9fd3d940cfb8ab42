/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Which interface the node routes an endpoint's address through. */
#ifndef KVLB_DISCOVER_ROUTE_H
#define KVLB_DISCOVER_ROUTE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include "endpoint.h"

/*
 * Ask the kernel (RTM_GETROUTE) for the route to ep's address. Returns 0
 * with the output interface in ifname and *via_gw set when the route goes
 * through a gateway (the address is not on a link of this node), or -1 with
 * a reason in err.
 */
int route_dev(const struct kvlb_endpoint *ep, char ifname[IF_NAMESIZE], bool *via_gw, char *err,
	      size_t errlen);

#endif

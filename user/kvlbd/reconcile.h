/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef KVLBD_RECONCILE_H
#define KVLBD_RECONCILE_H

#include "config.h"
#include "maps.h"

/*
 * Make the pinned balancing state match the config: add what is missing,
 * update weights and modes, remove what the config no longer lists.
 * Backends that stay keep their id and runtime flags (a drain set with
 * kvlbctl survives a reload), so their flows and ring slots are untouched.
 * Returns 0, or -1 after logging what failed.
 */
int reconcile(struct kvlb_handle *h, const struct kvlb_conf *c);

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Gateway API Inference Extension's InferencePool as a backend source: the
 * pool names a label selector and a target port; the backends are the ready
 * pods the selector matches. Parsing only, like slices.h.
 */
#ifndef KVLB_DISCOVER_POOL_H
#define KVLB_DISCOVER_POOL_H

#include <stddef.h>
#include "slices.h"

#define POOL_SELECTOR_LEN 1024

/*
 * Read an InferencePool object (inference.networking.x-k8s.io/v1alpha2:
 * spec.selector is a label map and spec.targetPortNumber the port; the v1
 * shape, spec.selector.matchLabels and spec.targetPorts[0].number, is read
 * too). Writes the selector as "k=v,k2=v2" (keys sorted) and the port.
 * Returns 0, or -1 with a reason in err.
 */
int pool_parse(const char *json, size_t len, char *selector, size_t sellen, int *port, char *err,
	       size_t errlen);

/*
 * Add the ready pods of one page of a PodList to r, each address of
 * status.podIPs (both families on a dual-stack pod) with the given port.
 * A pod counts as ready when status.phase is Running, its Ready condition
 * is "True" and it has no deletionTimestamp (terminating). Same error
 * contract as disc_parse_page().
 */
int pool_parse_pods_page(const char *json, size_t len, const struct disc_filter *f, int port,
			 struct disc_result *r, char *err, size_t errlen);

#endif

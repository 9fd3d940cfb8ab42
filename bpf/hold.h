/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The held request front of a connection to an HTTP VIP: the bytes the
 * client sent before a pod was chosen, and the parser's state over them.
 * The bytes stay until the pod has acknowledged every one kvlb itself
 * acknowledged to the client, because only kvlb can send those again.
 */
#ifndef KVLB_HOLD_H
#define KVLB_HOLD_H

#include "http.h"

/* The largest client segment kept; a larger one (jumbo frames, GRO) is not
 * held: the choice is made without it and the client sends it again. */
#define KVLB_SEG_MAX 2048

/* kvlb_hold value. data has a segment's worth of slack past KVLB_HOLD_BUF so
 * that an offset below KVLB_HOLD_BUF plus a length up to KVLB_SEG_MAX is
 * provably inside it, without the verifier relating the two. */
struct kvlb_hold {
	struct http_state hs;
	__u8 data[KVLB_HOLD_BUF + KVLB_SEG_MAX];
};

#endif

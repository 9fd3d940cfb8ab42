/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Incremental Internet checksum updates (RFC 1624: HC' = ~(~HC + ~m + m')),
 * over 16-bit words as they lie in the packet, so byte order never matters.
 * Plain arithmetic: no helper call, nothing for the verifier to track.
 */
#ifndef KVLB_CSUM_H
#define KVLB_CSUM_H

#include "common.bpf.h"

static __always_inline __u16 csum_fold32(__u32 c)
{
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (__u16)c;
}

/* Replace one 16-bit word covered by *check. */
static __always_inline void csum_replace2(__sum16 *check, __u16 old, __u16 new)
{
	__u32 c = (__u16) ~*check;

	c += (__u16)~old;
	c += new;
	*check = ~csum_fold32(c);
}

/* Replace one 32-bit word covered by *check. */
static __always_inline void csum_replace4(__sum16 *check, __u32 old, __u32 new)
{
	__u32 c = (__u16) ~*check;

	c += (__u16) ~(old & 0xffff);
	c += (__u16) ~(old >> 16);
	c += new & 0xffff;
	c += new >> 16;
	*check = ~csum_fold32(c);
}

/* Replace a 16-byte IPv6 address covered by *check. */
static __always_inline void csum_replace16(__sum16 *check, const __u32 *old, const __u32 *new)
{
	__u32 c = (__u16) ~*check;
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		c += (__u16) ~(old[i] & 0xffff);
		c += (__u16) ~(old[i] >> 16);
		c += new[i] & 0xffff;
		c += new[i] >> 16;
	}
	*check = ~csum_fold32(c);
}

#endif

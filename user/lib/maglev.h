/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Weighted Maglev consistent hashing (Eisenbud et al., NSDI'16): every
 * backend owns a pseudo-random permutation of the table, and backends take
 * turns claiming their next free slot, a backend of weight w taking w turns
 * per round. Removing one of N backends moves about 1/N of the slots.
 */
#ifndef KVLB_MAGLEV_H
#define KVLB_MAGLEV_H

#include <linux/types.h>

struct kvlb_maglev_backend {
	__u32 id;     /* written into the table */
	__u32 weight; /* 0: not placed */
	__u64 key;    /* stable identity (hash of address and port) */
};

/*
 * Fill table[0..size-1] (size must be prime) with backend ids. With no
 * backend of non-zero weight every slot is KVLB_NO_BACKEND. Returns 0, or
 * -1 if size is not a prime or memory runs out.
 */
int kvlb_maglev_build(const struct kvlb_maglev_backend *b, int n, __u32 *table, __u32 size);

/* 64-bit hash used for backend keys (stable across runs and hosts). */
__u64 kvlb_hash64(const void *data, size_t len, __u64 seed);

#endif

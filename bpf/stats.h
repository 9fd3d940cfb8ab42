/* SPDX-License-Identifier: GPL-2.0-only */
/* Outcome counters: every exit of a program bumps exactly one of them. */
#ifndef KVLB_STATS_H
#define KVLB_STATS_H

#include "maps.bpf.h"

static __always_inline struct kvlb_stats *stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kvlb_stats, &zero);
}

/* Per-CPU value: a plain increment is race-free. */
#define STAT_INC(st, field)                                                                        \
	do {                                                                                       \
		if (st)                                                                            \
			(st)->field++;                                                             \
	} while (0)

#define STAT_ADD(st, field, n)                                                                     \
	do {                                                                                       \
		if (st)                                                                            \
			(st)->field += (n);                                                        \
	} while (0)

#endif

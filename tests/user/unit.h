/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Minimal reporting for userspace unit tests, in tests/run's line format. */
#ifndef KVLB_UNIT_H
#define KVLB_UNIT_H

#include <stdio.h>

static int unit_failed;	     /* any check of the whole binary */
static int unit_case_failed; /* any check of the current case */

/* Report a failed check (once per case is enough to read, all are printed). */
#define CHECK(name, cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("FAIL %s: ", name);                                                 \
			printf(__VA_ARGS__);                                                       \
			printf(" (%s:%d)\n", __FILE__, __LINE__);                                  \
			unit_failed = unit_case_failed = 1;                                        \
		}                                                                                  \
	} while (0)

#define CASE_BEGIN() (unit_case_failed = 0)
#define CASE_END(name)                                                                             \
	do {                                                                                       \
		if (!unit_case_failed)                                                             \
			printf("PASS %s\n", name);                                                 \
	} while (0)

#endif

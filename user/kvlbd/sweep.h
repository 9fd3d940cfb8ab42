/* SPDX-License-Identifier: GPL-2.0-only */
/* Delayed-binding housekeeping: the SYN-cookie key, and removing the
 * connections the data path cannot time out itself. */
#ifndef KVLBD_SWEEP_H
#define KVLBD_SWEEP_H

#include <stdint.h>

struct sweeper;

/* Grace times (seconds). */
#define SWEEP_CLOSED_S	 2  /* after FIN both ways, for late retransmissions */
#define SWEEP_PENDING_S	 30 /* holding, connecting or replaying: the client went quiet */
#define SWEEP_DEF_IDLE_S 600

/* Open the maps under pin_root and give the cookie key a random value if
 * it has none. NULL on error (logged). */
struct sweeper *sweep_new(const char *pin_root, unsigned idle_s);
/* Remove what is due; at most once a second whatever the call rate.
 * Returns the entries removed. */
int sweep_run(struct sweeper *s);
void sweep_free(struct sweeper *s);

#endif

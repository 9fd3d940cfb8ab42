/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Access to kvlb's pinned maps, and every edit of the balancing state
 * (VIPs, backends, rings). Shared by kvlbd (config) and kvlbctl (live
 * edits). Edits take an exclusive lock so two editors never interleave,
 * and are applied whole or not at all: arguments and capacity are checked
 * before the first map write, and a new ring becomes visible only by the
 * final single update that flips the VIP to it.
 */
#ifndef KVLB_MAPS_H
#define KVLB_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include "kvlb.h"
#include "endpoint.h"

struct kvlb_handle {
	int vips_fd;
	int vip_ports_fd; /* kvlb_vip_ports */
	int backends_fd;
	int ring_fd;
	int flows_fd;
	int nat_rev_fd;
	int stats_fd;
	int config_fd;
	int load_fd; /* kvlb_backend_load */
	int lock_fd;
	char pin_root[256];
};

/* Lock file serialising editors of one pin root. */
#define KVLB_LOCK_DIR "/run/kvlb"

/* The lock file serialising editors of pin_root. */
void kvlb_lock_path(const char *pin_root, char *path, size_t len);

/* The pin root to use: $KVLB_PIN_ROOT, else KVLB_PIN_ROOT. */
const char *kvlb_default_pin_root(void);

/* Open every pinned map under pin_root. Returns 0, or -1 (see kvlb_error()). */
int kvlb_open(struct kvlb_handle *h, const char *pin_root);
void kvlb_close(struct kvlb_handle *h);

/* The last error message of this thread (never NULL). */
const char *kvlb_error(void);
/* Set it (printf-style); returns -1 so callers can `return kvlb_fail(...)`. */
int kvlb_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct kvlb_vip_info {
	struct kvlb_endpoint ep;
	struct kvlb_vip vip;
};

struct kvlb_backend_info {
	__u32 id;
	struct kvlb_endpoint ep;
	struct kvlb_endpoint vip;
	struct kvlb_backend be;
	__u32 ring_slots; /* entries of its VIP's active ring that name it */
};

/* VIPs. flags: KVLB_VIP_F_*. Adding an existing VIP only updates its flags. */
int kvlb_vip_add(struct kvlb_handle *h, const struct kvlb_endpoint *vip, __u32 flags);
/* As kvlb_vip_add, but an existing VIP is an error (what a user adding one means). */
int kvlb_vip_create(struct kvlb_handle *h, const struct kvlb_endpoint *vip, __u32 flags);
/* Look one VIP up: 1 found (info filled), 0 not found, -1 error. */
int kvlb_vip_get(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
		 struct kvlb_vip_info *info);
/* Deletes the VIP and all its backends. */
int kvlb_vip_del(struct kvlb_handle *h, const struct kvlb_endpoint *vip);
/* Fills up to max entries, sorted by index; returns the count or -1. */
int kvlb_vip_list(struct kvlb_handle *h, struct kvlb_vip_info *out, int max);

/* Backends (weight 1..65535). Adding an existing backend sets its weight. */
int kvlb_backend_add(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
		     const struct kvlb_endpoint *be, __u32 weight);
/* As kvlb_backend_add, but an existing backend is an error. */
int kvlb_backend_create(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
			const struct kvlb_endpoint *be, __u32 weight);
#define KVLB_MAX_WEIGHT 65535
int kvlb_backend_del(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
		     const struct kvlb_endpoint *be);
int kvlb_backend_weight(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
			const struct kvlb_endpoint *be, __u32 weight);
/* Set and clear KVLB_BE_F_DRAINING / KVLB_BE_F_DOWN; rebuilds the ring. */
int kvlb_backend_flags(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
		       const struct kvlb_endpoint *be, __u32 set, __u32 clear);
/* One backend slot by id (check KVLB_BE_F_IN_USE). */
int kvlb_backend_get(struct kvlb_handle *h, __u32 id, struct kvlb_backend *be);
/* One backend of a VIP's desired set. */
struct kvlb_backend_spec {
	struct kvlb_endpoint ep;
	__u32 weight; /* 1..KVLB_MAX_WEIGHT */
};
/*
 * Make the VIP's backends exactly b[0..n-1] in one step: backends kept keep
 * their id (so their connections stay) and their draining/down flags, and
 * take the new weight; the others are removed; new ones are added. The data
 * path goes from the old set to the new one with a single ring flip, and a
 * failure leaves the old set in place. For applying a configuration.
 */
int kvlb_vip_set_backends(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
			  const struct kvlb_backend_spec *b, int n);
/* vip NULL: all VIPs. Returns the count or -1; sorted by id. */
int kvlb_backend_list(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
		      struct kvlb_backend_info *out, int max);

/* A VIP's active ring (KVLB_RING_SIZE backend ids). */
int kvlb_ring_read(struct kvlb_handle *h, const struct kvlb_endpoint *vip, __u32 *ring);
/* The key a backend is placed by in the Maglev table: a hash of its address,
 * port and family, so a rebuilt ring is identical to the one it replaces. */
__u64 kvlb_backend_key(const struct kvlb_backend *be);

/* Rewrite kvlb_vip_ports from kvlb_vips: the data path's first filter. VIP
 * edits keep it in step; kvlbd runs this at start, to repair whatever an
 * interrupted edit left. */
int kvlb_vip_ports_resync(struct kvlb_handle *h);

/* Counters summed over CPUs. */
int kvlb_stats_read(struct kvlb_handle *h, struct kvlb_stats *sum);
/* Zero every counter on every CPU. Increments racing with it may be lost. */
int kvlb_stats_reset(struct kvlb_handle *h);
/* Counter names and descriptions, in struct order (KVLB_STATS_NAMED). */
extern const char *const kvlb_stats_name[];
extern const char *const kvlb_stats_desc[];

/* Walk the forward flow table; cb returns non-zero to stop. Returns the
 * number of flows visited or -1. */
typedef int (*kvlb_flow_cb)(const struct kvlb_flow_key *k, const struct kvlb_flow *f, void *arg);
int kvlb_flow_walk(struct kvlb_handle *h, kvlb_flow_cb cb, void *arg);

/* Per-backend load (kvlb_backend_load), by backend id. The writer is kvlbd's
 * scraper alone, so no edit lock is taken. */
int kvlb_load_read(struct kvlb_handle *h, __u32 id, struct kvlb_backend_load *l);
int kvlb_load_write(struct kvlb_handle *h, __u32 id, const struct kvlb_backend_load *l);

/* Live tunables. */
int kvlb_config_read(struct kvlb_handle *h, struct kvlb_config *c);
/* Every knob at its KVLB_DEF_* value. */
void kvlb_config_defaults(struct kvlb_config *c);
/* An all-zero entry has never been written: it means the defaults. */
bool kvlb_config_unset(const struct kvlb_config *c);
int kvlb_config_write(struct kvlb_handle *h, const struct kvlb_config *c);

#endif

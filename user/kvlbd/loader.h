/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Loading, pinning and attaching kvlb's BPF programs. */
#ifndef KVLBD_LOADER_H
#define KVLBD_LOADER_H

#include <stdbool.h>

struct loader_opts {
	const char *pin_root;
	const char *uplink;
	const char *const *pod_ifaces;
	int n_pod_ifaces;
	bool xdp_generic; /* skb-mode XDP, for devices without native XDP */
	bool force;	  /* replace an XDP program that is not kvlb's */
};

/*
 * Load both programs against the maps pinned under pin_root (created and
 * pinned on first start, reused afterwards, so flows survive a restart) and
 * attach them, replacing kvlb's previous programs atomically. Attachments
 * are netlink ones: they outlive kvlbd. Returns 0 or -1 (logged).
 */
int loader_start(const struct loader_opts *o);

/* Detach from every interface given and remove the pins. */
int loader_cleanup(const struct loader_opts *o);

/* Mount bpffs at /sys/fs/bpf if nothing is mounted there. */
int loader_ensure_bpffs(void);

#endif

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvlb.h"
#include "kvlb_xdp.skel.h"
#include "kvlb_tc.skel.h"
#include "loader.h"
#include "log.h"
#include "maps.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* TC filter identity: fixed, so a restart replaces its own filter. */
#define KVLB_TC_HANDLE 0x6b76
#define KVLB_TC_PRIO   1

static const char *const pinned_maps[] = {
    KVLB_MAP_VIPS,	   KVLB_MAP_VIP_PORTS, KVLB_MAP_BACKENDS, KVLB_MAP_RING,
    KVLB_MAP_FLOWS,	   KVLB_MAP_NAT_REV,   KVLB_MAP_STATS,	  KVLB_MAP_CONFIG,
    KVLB_MAP_BACKEND_LOAD, KVLB_MAP_PREFIX,    KVLB_MAP_SPLICE,	  KVLB_MAP_HOLD,
    KVLB_MAP_HOLD_ZERO,	   KVLB_MAP_SECRET,
};

int loader_ensure_bpffs(void)
{
	struct statfs sfs;

	if (statfs("/sys/fs/bpf", &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		log_err("cannot mount bpffs on /sys/fs/bpf: %s", strerror(errno));
		return -1;
	}
	log_info("mounted bpffs on /sys/fs/bpf");
	return 0;
}

static int ifindex_of(const char *name)
{
	int idx = (int)if_nametoindex(name);

	if (!idx)
		log_err("interface '%s': %s", name, strerror(errno));
	return idx;
}

/* Where kvlbd pins the XDP program it attached, to know it again. */
static void xdp_prog_pin_path(const char *pin_root, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", pin_root, KVLB_PROG_XDP_PIN);
}

static __u32 prog_id_of_fd(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * Whether the XDP program on ifindex (if any) is one kvlb may replace: the
 * one this pin root's kvlbd attached (its pinned copy has the same id), or
 * with --force anything. Reading a foreign program's name would need
 * CAP_SYS_ADMIN, which kvlbd does not ask for, so ids are compared instead.
 */
static int xdp_check_owner(int ifindex, const char *ifname, const char *pin_root, bool force)
{
	char path[512];
	__u32 id = 0, ours = 0;
	int fd;

	if (bpf_xdp_query_id(ifindex, 0, &id) || !id || force)
		return 0;
	xdp_prog_pin_path(pin_root, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		ours = prog_id_of_fd(fd);
		close(fd);
	}
	if (ours == id)
		return 0;
	log_err("%s already runs XDP program id %u, not the one kvlb pinned under %s; "
		"use --force to replace it",
		ifname, id, pin_root);
	return -1;
}

/* Remember the attached program, for the next kvlbd's owner check. */
static void xdp_prog_pin(int prog_fd, const char *pin_root)
{
	char path[512];

	xdp_prog_pin_path(pin_root, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		log_warn("removing %s: %s", path, strerror(errno));
	if (bpf_obj_pin(prog_fd, path))
		log_warn("pinning the XDP program at %s: %s", path, strerror(errno));
}

static int attach_xdp(int prog_fd, const struct loader_opts *o)
{
	int ifindex = ifindex_of(o->uplink);
	__u32 mode = o->xdp_generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	int err;

	if (!ifindex || xdp_check_owner(ifindex, o->uplink, o->pin_root, o->force))
		return -1;
	/* Without XDP_FLAGS_UPDATE_IF_NOEXIST the kernel swaps programs in
	 * one step: no packet sees the device without a program. */
	err = bpf_xdp_attach(ifindex, prog_fd, mode, NULL);
	if (err) {
		log_err("attaching XDP (%s mode) to %s: %s", o->xdp_generic ? "generic" : "native",
			o->uplink, strerror(-err));
		return -1;
	}
	xdp_prog_pin(prog_fd, o->pin_root);
	log_info("XDP attached to %s (%s mode)", o->uplink, o->xdp_generic ? "generic" : "native");
	return 0;
}

static int attach_tc(int prog_fd, const char *ifname)
{
	int ifindex = ifindex_of(ifname);
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = KVLB_TC_HANDLE, .priority = KVLB_TC_PRIO,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	if (!ifindex)
		return -1;
	hook.ifindex = ifindex;
	/* On a restart the clsact qdisc is already there: replace the filter
	 * first and create the qdisc only when that fails. */
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST) {
			log_err("creating clsact on %s: %s", ifname, strerror(-err));
			return -1;
		}
		opts.prog_id = 0;
		err = bpf_tc_attach(&hook, &opts);
	}
	if (err) {
		log_err("attaching TC to %s: %s", ifname, strerror(-err));
		return -1;
	}
	log_info("TC attached to %s ingress", ifname);
	return 0;
}

static int pins_exist(const char *root)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, KVLB_MAP_FLOWS);
	return access(path, F_OK) == 0;
}

int loader_start(const struct loader_opts *o)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_root);
	struct kvlb_xdp *xdp = NULL;
	struct kvlb_tc *tc = NULL;
	bool adopted = pins_exist(o->pin_root);
	int i, rc = -1;

	if (mkdir(o->pin_root, 0700) && errno != EEXIST) {
		log_err("creating pin directory %s: %s", o->pin_root, strerror(errno));
		return -1;
	}
	xdp = kvlb_xdp__open_opts(&oo);
	tc = kvlb_tc__open_opts(&oo);
	if (!xdp || !tc) {
		log_err("opening the BPF objects: %s", strerror(errno));
		goto out;
	}
	/* Pinned maps of the same name and layout are reused; a layout
	 * mismatch fails here instead of misreading old state. */
	if (kvlb_xdp__load(xdp) || kvlb_tc__load(tc)) {
		log_err("loading the BPF programs failed (see above); if the pinned maps under "
			"%s come from an incompatible kvlb, remove them with kvlbd --cleanup",
			o->pin_root);
		goto out;
	}
	log_info("%s maps under %s", adopted ? "adopted pinned" : "created and pinned",
		 o->pin_root);

	if (o->uplink && attach_xdp(bpf_program__fd(xdp->progs.kvlb_xdp), o))
		goto out;
	for (i = 0; i < o->n_pod_ifaces; i++)
		if (attach_tc(bpf_program__fd(tc->progs.kvlb_tc), o->pod_ifaces[i]))
			goto out;
	rc = 0;
out:
	/* The attachments and pins hold the programs and maps; kvlbd's own
	 * file descriptors are not needed past this point. */
	kvlb_tc__destroy(tc);
	kvlb_xdp__destroy(xdp);
	return rc;
}

int loader_cleanup(const struct loader_opts *o)
{
	char path[512];
	size_t i;
	int j, rc = 0;

	if (o->uplink) {
		int ifindex = (int)if_nametoindex(o->uplink);

		if (ifindex && xdp_check_owner(ifindex, o->uplink, o->pin_root, o->force) == 0 &&
		    bpf_xdp_detach(ifindex, 0, NULL) == 0)
			log_info("XDP detached from %s", o->uplink);
	}
	for (j = 0; j < o->n_pod_ifaces; j++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = KVLB_TC_HANDLE,
				    .priority = KVLB_TC_PRIO);

		hook.ifindex = (int)if_nametoindex(o->pod_ifaces[j]);
		if (hook.ifindex && bpf_tc_detach(&hook, &opts) == 0)
			log_info("TC detached from %s", o->pod_ifaces[j]);
	}
	for (i = 0; i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", o->pin_root, pinned_maps[i]);
		if (unlink(path) && errno != ENOENT) {
			log_err("removing %s: %s", path, strerror(errno));
			rc = -1;
		}
	}
	snprintf(path, sizeof(path), "%s/%s", o->pin_root, KVLB_PROG_XDP_PIN);
	if (unlink(path) && errno != ENOENT) {
		log_err("removing %s: %s", path, strerror(errno));
		rc = -1;
	}
	/* Nobody edits maps that are gone: their lock file can go too. */
	kvlb_lock_path(o->pin_root, path, sizeof(path));
	unlink(path);
	if (rmdir(o->pin_root) && errno != ENOENT) {
		log_warn("removing %s: %s", o->pin_root, strerror(errno));
	}
	log_info("removed pinned maps under %s", o->pin_root);
	return rc;
}

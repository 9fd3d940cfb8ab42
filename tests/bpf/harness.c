// SPDX-License-Identifier: GPL-2.0-only
/* Test/benchmark harness: see harness.h. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "harness.h"

static int open_obj(const char *path, struct bpf_object **objp)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_map *m;
	int err;

	if (!obj) {
		err = -errno;
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(-err));
		return err;
	}
	/* No pinning: the test's maps must be its own, not kvlbd's. */
	bpf_object__for_each_map(m, obj)
	{
		err = bpf_map__set_pin_path(m, NULL);
		if (err) {
			bpf_object__close(obj);
			return err;
		}
	}
	*objp = obj;
	return 0;
}

static int prog_fd_of(struct bpf_object *obj)
{
	struct bpf_program *p = bpf_object__next_program(obj, NULL);

	return p ? bpf_program__fd(p) : -ENOENT;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

int kt_load(struct kt *t, const char *obj_dir)
{
	char path[4096];
	struct bpf_map *m;
	int err;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/kvlb_xdp.bpf.o", obj_dir);
	err = open_obj(path, &t->xdp_obj);
	if (err)
		return err;
	err = bpf_object__load(t->xdp_obj);
	if (err) {
		fprintf(stderr, "cannot load %s: %s\n", path, strerror(-err));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/kvlb_tc.bpf.o", obj_dir);
	err = open_obj(path, &t->tc_obj);
	if (err)
		goto fail;
	bpf_object__for_each_map(m, t->tc_obj)
	{
		int fd = map_fd(t->xdp_obj, bpf_map__name(m));

		if (fd < 0)
			continue; /* .rodata and the like: private to the object */
		err = bpf_map__reuse_fd(m, fd);
		if (err) {
			fprintf(stderr, "cannot share map %s: %s\n", bpf_map__name(m),
				strerror(-err));
			goto fail;
		}
	}
	err = bpf_object__load(t->tc_obj);
	if (err) {
		fprintf(stderr, "cannot load %s: %s\n", path, strerror(-err));
		goto fail;
	}
	t->xdp_fd = prog_fd_of(t->xdp_obj);
	t->tc_fd = prog_fd_of(t->tc_obj);
	t->vips = map_fd(t->xdp_obj, KVLB_MAP_VIPS);
	t->vip_ports = map_fd(t->xdp_obj, KVLB_MAP_VIP_PORTS);
	t->backends = map_fd(t->xdp_obj, KVLB_MAP_BACKENDS);
	t->ring = map_fd(t->xdp_obj, KVLB_MAP_RING);
	t->flows = map_fd(t->xdp_obj, KVLB_MAP_FLOWS);
	t->nat_rev = map_fd(t->xdp_obj, KVLB_MAP_NAT_REV);
	t->stats = map_fd(t->xdp_obj, KVLB_MAP_STATS);
	t->config = map_fd(t->xdp_obj, KVLB_MAP_CONFIG);
	if (t->xdp_fd < 0 || t->tc_fd < 0 || t->vips < 0 || t->vip_ports < 0 || t->backends < 0 ||
	    t->ring < 0 || t->flows < 0 || t->nat_rev < 0 || t->stats < 0 || t->config < 0) {
		fprintf(stderr, "objects in %s lack a program or map\n", obj_dir);
		err = -ENOENT;
		goto fail;
	}
	return 0;
fail:
	kt_close(t);
	return err;
}

void kt_close(struct kt *t)
{
	bpf_object__close(t->tc_obj);
	bpf_object__close(t->xdp_obj);
	t->tc_obj = t->xdp_obj = NULL;
}

int kt_load_single(const char *path, struct bpf_object **objp)
{
	int err = open_obj(path, objp);

	if (err)
		return err;
	err = bpf_object__load(*objp);
	if (err) {
		fprintf(stderr, "cannot load %s: %s\n", path, strerror(-err));
		bpf_object__close(*objp);
		*objp = NULL;
		return err;
	}
	return prog_fd_of(*objp);
}

int kt_stats(const struct kt *t, struct kvlb_stats *out)
{
	int ncpu = libbpf_num_possible_cpus(), i, f;
	struct kvlb_stats *v;
	__u32 zero = 0;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(t->stats, &zero, v)) {
		free(v);
		return -errno;
	}
	memset(out, 0, sizeof(*out));
	for (i = 0; i < ncpu; i++)
		for (f = 0; f < (int)(sizeof(*out) / 8); f++)
			((__u64 *)out)[f] += ((__u64 *)&v[i])[f];
	free(v);
	return 0;
}

int kt_fill_slot(const struct kt *t, uint32_t slot, uint32_t id)
{
	uint32_t i, idx;

	for (i = 0; i < KVLB_RING_SIZE; i++) {
		idx = slot * KVLB_RING_SIZE + i;
		if (bpf_map_update_elem(t->ring, &idx, &id, BPF_ANY))
			return -errno;
	}
	return 0;
}

int kt_clear_map(int fd, size_t key_size)
{
	unsigned char *keys = NULL, *prev = NULL, *grown;
	size_t n = 0, cap = 0, i;
	int err = 0;

	/* Collect first, then delete: a walk restarted after every delete
	 * would scan the whole bucket array each time. */
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(keys, cap * key_size);
			if (!grown) {
				err = -ENOMEM;
				goto out;
			}
			keys = grown;
		}
		prev = n ? keys + (n - 1) * key_size : NULL;
		if (bpf_map_get_next_key(fd, prev, keys + n * key_size))
			break;
		n++;
	}
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, keys + i * key_size) && errno != ENOENT) {
			err = -errno;
			break;
		}
out:
	free(keys);
	return err;
}

/* One BPF_PROG_TEST_RUN call (repeat 1) with ctx, when given, as the
 * program's context. */
static int kt_run(int prog_fd, const void *in, size_t len, void *ctx, size_t ctx_size, void *out,
		  size_t *out_len, uint32_t *retval, uint32_t *duration)
{
	struct bpf_test_run_opts o = {
	    .sz = sizeof(o),
	    .data_in = in,
	    .data_size_in = (__u32)len,
	    .data_out = out,
	    .data_size_out = (__u32)*out_len,
	    .ctx_in = ctx,
	    .ctx_size_in = (__u32)ctx_size,
	    .repeat = 1,
	};

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	*out_len = o.data_size_out;
	*retval = o.retval;
	if (duration)
		*duration = o.duration;
	return 0;
}

int kt_run_xdp(int prog_fd, const void *in, size_t len, uint32_t ifindex, void *out,
	       size_t *out_len, uint32_t *retval, uint32_t *duration)
{
	struct xdp_md ctx = {.data_end = (__u32)len, .ingress_ifindex = ifindex};

	return kt_run(prog_fd, in, len, ifindex ? &ctx : NULL, ifindex ? sizeof(ctx) : 0, out,
		      out_len, retval, duration);
}

int kt_run_tc(int prog_fd, const void *in, size_t len, uint32_t ifindex, void *out, size_t *out_len,
	      uint32_t *retval, uint32_t *duration)
{
	struct __sk_buff ctx = {.ingress_ifindex = ifindex};

	return kt_run(prog_fd, in, len, ifindex ? &ctx : NULL, ifindex ? sizeof(ctx) : 0, out,
		      out_len, retval, duration);
}

int kt_enter_netns(void)
{
	return unshare(CLONE_NEWNET) ? -errno : 0;
}

int kt_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	/* Quiet: callers report the failing command themselves. */
	strncat(cmd, " >/dev/null 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

int kt_sysctl(const char *path, const char *val)
{
	char full[256];
	int fd, n;

	snprintf(full, sizeof(full), "/proc/sys/%s", path);
	fd = open(full, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = (int)write(fd, val, strlen(val));
	close(fd);
	return n == (int)strlen(val) ? 0 : -EIO;
}

int kt_net_setup(char *err, size_t errlen)
{
	static const char *const cmds[] = {
	    "ip link set lo up",
	    "ip link add kvin address 02:00:00:00:aa:01 type veth peer name kvin-p",
	    "ip link add kvpod address 02:00:00:00:bb:01 type veth peer name kvpod-p",
	    "ip link set kvin up",
	    "ip link set kvin-p up",
	    "ip link set kvpod up",
	    "ip link set kvpod-p up",
	    "ip route add 203.0.113.11/32 dev kvpod",
	    "ip neigh replace 203.0.113.11 lladdr 02:00:00:00:00:11 dev kvpod nud permanent",
	    "ip -6 route add 2001:db8:b::11/128 dev kvpod",
	    "ip -6 neigh replace 2001:db8:b::11 lladdr 02:00:00:00:00:11 dev kvpod nud permanent",
	    "ip route add 203.0.113.12/32 dev kvin",
	    "ip neigh replace 203.0.113.12 lladdr 02:00:00:00:00:12 dev kvin nud permanent",
	    "ip route add 203.0.113.14/32 dev kvpod",
	    "ip route add 198.51.100.0/24 dev kvin",
	    "ip neigh replace 198.51.100.1 lladdr 02:00:00:00:cc:01 dev kvin nud permanent",
	    "ip -6 route add 2001:db8:c::/64 dev kvin",
	    "ip -6 neigh replace 2001:db8:c::1 lladdr 02:00:00:00:cc:01 dev kvin nud permanent",
	};
	size_t i;

	if (kt_sh("command -v ip")) {
		snprintf(err, errlen, "no ip(8) command (iproute2) in PATH");
		return -1;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (kt_sh("%s", cmds[i])) {
			snprintf(err, errlen, "'%s' failed", cmds[i]);
			return -1;
		}
	}
	/* bpf_fib_lookup() answers FWD_DISABLED unless the ingress device forwards;
	 * a new netns starts with forwarding off. Written after the devices exist
	 * so every device inherits it. */
	if (kt_sysctl("net/ipv4/ip_forward", "1") ||
	    kt_sysctl("net/ipv6/conf/all/forwarding", "1")) {
		snprintf(err, errlen, "cannot enable forwarding in /proc/sys/net");
		return -1;
	}
	return 0;
}

static bool kt_verbose;

static int kt_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (!kt_verbose && level == LIBBPF_INFO))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int kt_start(struct kt *t, const char *suite, int argc, char **argv, void (*usage)(FILE *),
	     struct kt_args *a)
{
	static const struct option opts[] = {
	    {"obj-dir", required_argument, NULL, 'o'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	a->obj_dir = "build";
	a->pattern = NULL;
	a->verbose = false;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a->obj_dir = optarg;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 < argc) {
		usage(stderr);
		return 2;
	}
	if (optind < argc)
		a->pattern = argv[optind];
	kt_verbose = a->verbose;
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(kt_libbpf_print);

	if (geteuid() != 0) {
		printf("SKIP %s: needs root (BPF programs, network namespace)\n", suite);
		return 0;
	}
	c = kt_enter_netns();
	if (c) {
		printf("SKIP %s: cannot create a network namespace: %s\n", suite, strerror(-c));
		return 0;
	}
	c = kt_load(t, a->obj_dir);
	if (c == -EPERM) {
		printf("SKIP %s: loading BPF programs not permitted\n", suite);
		return 0;
	}
	if (c) {
		printf("FAIL %s-load: cannot load the objects in %s: %s\n", suite, a->obj_dir,
		       strerror(-c));
		return 1;
	}
	return -1;
}

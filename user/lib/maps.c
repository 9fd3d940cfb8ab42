// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Every edit of kvlb's balancing state goes through here. The rules that
 * keep the data path consistent:
 *
 *  - An edit is checked whole (arguments, existence, capacity, the new ring
 *    computed in memory) before the first map write.
 *  - A VIP's new ring is written into the ring slot the VIP does not use and
 *    becomes visible only by the one update of the VIP value that flips
 *    ring_slot. A backend slot is written before a ring that names it, and
 *    cleared only after no active ring names it.
 *  - A failure after a write undoes what was written.
 *  - Editors hold an exclusive flock, so two never interleave.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "maglev.h"
#include "maps.h"

static __thread char err_buf[512];

const char *kvlb_error(void)
{
	return err_buf[0] ? err_buf : "no error";
}

int kvlb_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	return -1;
}

#define X_NAME(name, desc) #name,
#define X_DESC(name, desc) desc,
const char *const kvlb_stats_name[] = {KVLB_STATS_FIELDS(X_NAME)};
const char *const kvlb_stats_desc[] = {KVLB_STATS_FIELDS(X_DESC)};
#undef X_NAME
#undef X_DESC

const char *kvlb_default_pin_root(void)
{
	const char *e = getenv("KVLB_PIN_ROOT");

	return e && *e ? e : KVLB_PIN_ROOT;
}

/* ---- opening ---------------------------------------------------------- */

struct map_spec {
	const char *name;
	size_t off; /* of the fd in struct kvlb_handle */
	__u32 key_size;
	__u32 value_size;
	__u32 min_entries;
};

static const struct map_spec map_specs[] = {
    {KVLB_MAP_VIPS, offsetof(struct kvlb_handle, vips_fd), sizeof(struct kvlb_vip_key),
     sizeof(struct kvlb_vip), 1},
    {KVLB_MAP_VIP_PORTS, offsetof(struct kvlb_handle, vip_ports_fd), sizeof(__u32), sizeof(__u32),
     65536},
    {KVLB_MAP_BACKENDS, offsetof(struct kvlb_handle, backends_fd), sizeof(__u32),
     sizeof(struct kvlb_backend), KVLB_MAX_BACKENDS},
    {KVLB_MAP_RING, offsetof(struct kvlb_handle, ring_fd), sizeof(__u32), sizeof(__u32),
     KVLB_RING_ENTRIES},
    {KVLB_MAP_FLOWS, offsetof(struct kvlb_handle, flows_fd), sizeof(struct kvlb_flow_key),
     sizeof(struct kvlb_flow), 1},
    {KVLB_MAP_NAT_REV, offsetof(struct kvlb_handle, nat_rev_fd), sizeof(struct kvlb_flow_key),
     sizeof(struct kvlb_nat), 1},
    {KVLB_MAP_STATS, offsetof(struct kvlb_handle, stats_fd), sizeof(__u32),
     sizeof(struct kvlb_stats), 1},
    {KVLB_MAP_CONFIG, offsetof(struct kvlb_handle, config_fd), sizeof(__u32),
     sizeof(struct kvlb_config), 1},
    {KVLB_MAP_BACKEND_LOAD, offsetof(struct kvlb_handle, load_fd), sizeof(__u32),
     sizeof(struct kvlb_backend_load), KVLB_MAX_BACKENDS},
};

#define N_MAPS (sizeof(map_specs) / sizeof(map_specs[0]))

static int *fd_of(struct kvlb_handle *h, const struct map_spec *m)
{
	return (int *)((char *)h + m->off);
}

static void handle_reset(struct kvlb_handle *h)
{
	size_t i;

	for (i = 0; i < N_MAPS; i++)
		*fd_of(h, &map_specs[i]) = -1;
	h->lock_fd = -1;
}

void kvlb_close(struct kvlb_handle *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < N_MAPS; i++) {
		int *fd = fd_of(h, &map_specs[i]);

		if (*fd >= 0)
			close(*fd);
	}
	if (h->lock_fd >= 0)
		close(h->lock_fd);
	handle_reset(h);
}

int kvlb_open(struct kvlb_handle *h, const char *pin_root)
{
	struct stat st;
	size_t i;

	memset(h, 0, sizeof(*h));
	handle_reset(h);
	if (!pin_root || !*pin_root)
		pin_root = kvlb_default_pin_root();
	if (strlen(pin_root) >= sizeof(h->pin_root))
		return kvlb_fail("pin root '%s' is too long", pin_root);
	snprintf(h->pin_root, sizeof(h->pin_root), "%s", pin_root);
	if (stat(pin_root, &st) || !S_ISDIR(st.st_mode))
		return kvlb_fail("no kvlb maps at %s: is kvlbd running? (set --pin-root or "
				 "KVLB_PIN_ROOT)",
				 pin_root);

	for (i = 0; i < N_MAPS; i++) {
		const struct map_spec *m = &map_specs[i];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char path[512];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", pin_root, m->name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			int e = errno;

			kvlb_close(h);
			if (e == ENOENT)
				return kvlb_fail("no kvlb maps at %s (%s is missing): is kvlbd "
						 "running? (set --pin-root or KVLB_PIN_ROOT)",
						 pin_root, m->name);
			return kvlb_fail("opening %s: %s", path, strerror(e));
		}
		*fd_of(h, m) = fd;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			int e = errno;

			kvlb_close(h);
			return kvlb_fail("reading the type of %s: %s", path, strerror(e));
		}
		if (info.key_size != m->key_size || info.value_size != m->value_size ||
		    info.max_entries < m->min_entries) {
			kvlb_close(h);
			return kvlb_fail("%s has key size %u, value size %u, %u entries; expected "
					 "%u, %u, at least %u (map ABI %d): kvlbd and this tool "
					 "are from different versions",
					 path, info.key_size, info.value_size, info.max_entries,
					 m->key_size, m->value_size, m->min_entries, KVLB_MAP_ABI);
		}
	}
	return 0;
}

/* ---- locking ---------------------------------------------------------- */

void kvlb_lock_path(const char *pin_root, char *path, size_t len)
{
	size_t n, i;

	n = (size_t)snprintf(path, len, "%s/", KVLB_LOCK_DIR);
	/* One lock per pin root: its path with '/' spelled '_'. */
	for (i = 0; pin_root[i] && n + 6 < len; i++)
		path[n++] = pin_root[i] == '/' ? '_' : pin_root[i];
	snprintf(path + n, len - n, ".lock");
}

static int edit_lock(struct kvlb_handle *h)
{
	char path[sizeof(h->pin_root) + 64];

	if (h->lock_fd < 0) {
		if (mkdir(KVLB_LOCK_DIR, 0755) && errno != EEXIST)
			return kvlb_fail("creating %s: %s", KVLB_LOCK_DIR, strerror(errno));
		kvlb_lock_path(h->pin_root, path, sizeof(path));
		h->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (h->lock_fd < 0)
			return kvlb_fail("opening lock %s: %s", path, strerror(errno));
	}
	while (flock(h->lock_fd, LOCK_EX)) {
		if (errno != EINTR)
			return kvlb_fail("locking %s: %s", h->pin_root, strerror(errno));
	}
	return 0;
}

static void edit_unlock(struct kvlb_handle *h)
{
	if (h->lock_fd >= 0)
		flock(h->lock_fd, LOCK_UN);
}

/* ---- conversions ------------------------------------------------------ */

static int check_ep(const struct kvlb_endpoint *ep, const char *what)
{
	if (!ep)
		return kvlb_fail("no %s given", what);
	if (ep->family != KVLB_AF_INET && ep->family != KVLB_AF_INET6)
		return kvlb_fail("%s has an unknown address family %u", what, ep->family);
	if (ep->port == 0)
		return kvlb_fail("%s needs a port (1..65535)", what);
	return 0;
}

static void vip_key_of(const struct kvlb_endpoint *ep, struct kvlb_vip_key *k)
{
	memset(k, 0, sizeof(*k));
	k->addr = ep->addr;
	if (ep->family == KVLB_AF_INET)
		memset(&k->addr.v6[1], 0, 3 * sizeof(__u32));
	k->port = htons(ep->port);
	k->proto = IPPROTO_TCP;
	k->family = ep->family;
}

static void ep_of_vip_key(const struct kvlb_vip_key *k, struct kvlb_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr = k->addr;
	ep->port = ntohs(k->port);
	ep->family = k->family;
}

static void ep_of_backend(const struct kvlb_backend *b, struct kvlb_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr = b->addr;
	ep->port = ntohs(b->port);
	ep->family = b->family;
}

static const char *ep_str(const struct kvlb_endpoint *ep, char *buf)
{
	return kvlb_endpoint_format(ep, buf, KVLB_ENDPOINT_STRLEN);
}

__u64 kvlb_backend_key(const struct kvlb_backend *be)
{
	unsigned char buf[sizeof(be->addr) + sizeof(be->port) + 1];
	struct kvlb_addr a = be->addr;

	if (be->family == KVLB_AF_INET)
		memset(&a.v6[1], 0, 3 * sizeof(__u32));
	memcpy(buf, &a, sizeof(a));
	memcpy(buf + sizeof(a), &be->port, sizeof(be->port));
	buf[sizeof(buf) - 1] = be->family;
	return kvlb_hash64(buf, sizeof(buf), 0);
}

/* ---- whole-map reads -------------------------------------------------- */

/* Every backend slot, read with one batch call where the kernel has it. */
static int read_backends(struct kvlb_handle *h, struct kvlb_backend *all)
{
	__u32 keys[KVLB_MAX_BACKENDS], out_batch = 0, count = KVLB_MAX_BACKENDS, i;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	if (!bpf_map_lookup_batch(h->backends_fd, NULL, &out_batch, keys, all, &count, &opts) ||
	    (errno == ENOENT && count == KVLB_MAX_BACKENDS)) {
		int ok = count == KVLB_MAX_BACKENDS;

		for (i = 0; ok && i < count; i++)
			ok = keys[i] == i;
		if (ok)
			return 0;
	}
	for (i = 0; i < KVLB_MAX_BACKENDS; i++)
		if (bpf_map_lookup_elem(h->backends_fd, &i, &all[i]))
			return kvlb_fail("reading %s[%u]: %s", KVLB_MAP_BACKENDS, i,
					 strerror(errno));
	return 0;
}

struct vip_entry {
	struct kvlb_vip_key key;
	struct kvlb_vip val;
};

static int read_vips(struct kvlb_handle *h, struct vip_entry *out, int max)
{
	struct kvlb_vip_key k, next;
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(h->vips_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(h->vips_fd, &k, &out[n].val)) {
			if (errno == ENOENT) /* deleted while walking */
				continue;
			return kvlb_fail("reading %s: %s", KVLB_MAP_VIPS, strerror(errno));
		}
		out[n].key = k;
		if (++n == max)
			break;
	}
	if (n < max && errno != ENOENT)
		return kvlb_fail("walking %s: %s", KVLB_MAP_VIPS, strerror(errno));
	return n;
}

static int ring_read_slot(struct kvlb_handle *h, __u32 slot, __u32 *ring)
{
	__u32 base = slot * KVLB_RING_SIZE, i, count = KVLB_RING_SIZE, in = base - 1, out = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 *keys;
	int ok = 0;

	keys = malloc(KVLB_RING_SIZE * sizeof(*keys));
	if (!keys)
		return kvlb_fail("out of memory");
	/* An array's batch starts after in_batch; none means from key 0. */
	if (!bpf_map_lookup_batch(h->ring_fd, base ? &in : NULL, &out, keys, ring, &count, &opts) ||
	    errno == ENOENT) {
		ok = count == KVLB_RING_SIZE;
		for (i = 0; ok && i < count; i++)
			ok = keys[i] == base + i;
	}
	free(keys);
	if (ok)
		return 0;
	for (i = 0; i < KVLB_RING_SIZE; i++) {
		__u32 k = base + i;

		if (bpf_map_lookup_elem(h->ring_fd, &k, &ring[i]))
			return kvlb_fail("reading %s[%u]: %s", KVLB_MAP_RING, k, strerror(errno));
	}
	return 0;
}

/* Write a ring into a slot no VIP reads, in one batch where possible. */
static int ring_write_slot(struct kvlb_handle *h, __u32 slot, const __u32 *ring)
{
	__u32 base = slot * KVLB_RING_SIZE, count = KVLB_RING_SIZE, i;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 *keys;
	int err;

	keys = malloc(KVLB_RING_SIZE * sizeof(*keys));
	if (!keys)
		return kvlb_fail("out of memory");
	for (i = 0; i < KVLB_RING_SIZE; i++)
		keys[i] = base + i;
	err = bpf_map_update_batch(h->ring_fd, keys, ring, &count, &opts);
	if (err &&
	    (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS)) {
		/* Kernels before 5.6 have no batch ops for arrays. */
		for (i = 0, err = 0; i < KVLB_RING_SIZE && !err; i++)
			err = bpf_map_update_elem(h->ring_fd, &keys[i], &ring[i], BPF_ANY);
	}
	if (err)
		err = kvlb_fail("writing %s slot %u: %s", KVLB_MAP_RING, slot, strerror(errno));
	free(keys);
	return err;
}

/* ---- rings ------------------------------------------------------------ */

static bool in_ring(const struct kvlb_backend *b, __u32 vip_index)
{
	return (b->flags & KVLB_BE_F_IN_USE) && b->vip_index == vip_index &&
	       !(b->flags & (KVLB_BE_F_DRAINING | KVLB_BE_F_DOWN)) && b->weight > 0;
}

/* Compute the ring of vip_index from the backend slots in all. */
static int ring_build(const struct kvlb_backend *all, __u32 vip_index, __u32 *ring, __u32 *n_out)
{
	struct kvlb_maglev_backend *mb;
	int n = 0, err;
	__u32 i;

	mb = calloc(KVLB_MAX_BACKENDS, sizeof(*mb));
	if (!mb)
		return kvlb_fail("out of memory");
	for (i = 0; i < KVLB_MAX_BACKENDS; i++) {
		if (!in_ring(&all[i], vip_index))
			continue;
		mb[n].id = i;
		mb[n].weight = all[i].weight;
		mb[n].key = kvlb_backend_key(&all[i]);
		n++;
	}
	err = kvlb_maglev_build(mb, n, ring, KVLB_RING_SIZE);
	free(mb);
	if (err)
		return kvlb_fail("building the Maglev table failed (out of memory?)");
	*n_out = (__u32)n;
	return 0;
}

static int vip_flip(struct kvlb_handle *h, const struct kvlb_vip_key *k, const struct kvlb_vip *v)
{
	if (bpf_map_update_elem(h->vips_fd, k, v, BPF_EXIST))
		return kvlb_fail("updating %s: %s", KVLB_MAP_VIPS, strerror(errno));
	return 0;
}

static __u32 spare_slot(const struct kvlb_vip *v)
{
	if (v->ring_slot / 2 != v->index)
		return v->index * 2;
	return v->ring_slot ^ 1;
}

static int write_backend(struct kvlb_handle *h, __u32 id, const struct kvlb_backend *b)
{
	if (bpf_map_update_elem(h->backends_fd, &id, b, BPF_ANY))
		return kvlb_fail("writing %s[%u]: %s", KVLB_MAP_BACKENDS, id, strerror(errno));
	return 0;
}

/*
 * Replace backend slot id of the VIP (k, v) with *nb, rebuilding and
 * flipping the VIP's ring. all[] holds the current slots (left unchanged).
 * Removal (nb not in use) clears the slot after the flip; anything else
 * writes the slot before the ring that may name it.
 */
static int backend_apply(struct kvlb_handle *h, const struct kvlb_vip_key *k,
			 const struct kvlb_vip *v, struct kvlb_backend *all, __u32 id,
			 const struct kvlb_backend *nb)
{
	struct kvlb_backend old = all[id];
	bool removing = !(nb->flags & KVLB_BE_F_IN_USE);
	struct kvlb_vip nv = *v;
	__u32 *ring;
	int err;

	ring = malloc(KVLB_RING_SIZE * sizeof(*ring));
	if (!ring)
		return kvlb_fail("out of memory");
	all[id] = *nb;
	err = ring_build(all, v->index, ring, &nv.n_backends);
	all[id] = old;
	if (err)
		goto out;
	nv.ring_slot = spare_slot(v);

	if (!removing) {
		/* A slot taken anew must not inherit the load figures of the
		 * backend that had it before; nothing reads a free slot's load,
		 * so clearing it needs no undo. */
		if (!(old.flags & KVLB_BE_F_IN_USE)) {
			struct kvlb_backend_load zero = {};

			if (bpf_map_update_elem(h->load_fd, &id, &zero, BPF_ANY)) {
				err = kvlb_fail("writing %s[%u]: %s", KVLB_MAP_BACKEND_LOAD, id,
						strerror(errno));
				goto out;
			}
		}
		err = write_backend(h, id, nb);
		if (err)
			goto out;
	}
	err = ring_write_slot(h, nv.ring_slot, ring);
	if (!err)
		err = vip_flip(h, k, &nv);
	if (err) {
		if (!removing)
			write_backend(h, id, &old); /* the old ring never named a new slot */
		goto out;
	}
	if (removing) {
		err = write_backend(h, id, nb);
		if (err) {
			char msg[sizeof(err_buf)];

			snprintf(msg, sizeof(msg), "%s", err_buf);
			vip_flip(h, k, v); /* the old ring is intact in the other slot */
			kvlb_fail("%s", msg);
		}
	}
out:
	free(ring);
	return err;
}

/* ---- VIPs ------------------------------------------------------------- */

static int vip_lookup(struct kvlb_handle *h, const struct kvlb_endpoint *ep, struct kvlb_vip_key *k,
		      struct kvlb_vip *v)
{
	vip_key_of(ep, k);
	if (!bpf_map_lookup_elem(h->vips_fd, k, v))
		return 1;
	if (errno == ENOENT)
		return 0;
	return kvlb_fail("reading %s: %s", KVLB_MAP_VIPS, strerror(errno));
}

int kvlb_vip_get(struct kvlb_handle *h, const struct kvlb_endpoint *vip, struct kvlb_vip_info *info)
{
	struct kvlb_vip_key k;
	struct kvlb_vip v;
	int r;

	if (check_ep(vip, "VIP"))
		return -1;
	r = vip_lookup(h, vip, &k, &v);
	if (r == 1 && info) {
		ep_of_vip_key(&k, &info->ep);
		info->vip = v;
	}
	return r;
}

/* Set kvlb_vip_ports[port] to the VIPs on that port (see KVLB_PORT_*). */
static int vip_port_sync(struct kvlb_handle *h, __be16 port)
{
	struct vip_entry vips[KVLB_MAX_VIPS];
	__u32 key = ntohs(port), count = 0;
	int n, i;

	n = read_vips(h, vips, KVLB_MAX_VIPS);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (vips[i].key.port == port)
			count += KVLB_PORT_ONE(vips[i].val.flags);
	if (bpf_map_update_elem(h->vip_ports_fd, &key, &count, BPF_ANY))
		return kvlb_fail("updating %s: %s", KVLB_MAP_VIP_PORTS, strerror(errno));
	return 0;
}

int kvlb_vip_ports_resync(struct kvlb_handle *h)
{
	struct vip_entry vips[KVLB_MAX_VIPS];
	__u32 *counts, *keys, nkeys = 65536, i;
	int n, err = -1;

	counts = calloc(65536, sizeof(*counts));
	keys = malloc(65536 * sizeof(*keys));
	if (!counts || !keys) {
		kvlb_fail("out of memory");
		goto out;
	}
	if (edit_lock(h))
		goto out;
	n = read_vips(h, vips, KVLB_MAX_VIPS);
	if (n < 0)
		goto unlock;
	for (i = 0; i < (__u32)n; i++)
		counts[ntohs(vips[i].key.port)] += KVLB_PORT_ONE(vips[i].val.flags);
	for (i = 0; i < 65536; i++)
		keys[i] = i;
	if (bpf_map_update_batch(h->vip_ports_fd, keys, counts, &nkeys, NULL)) {
		/* Kernels without batch operations on arrays: one by one. */
		for (i = 0; i < 65536; i++) {
			if (bpf_map_update_elem(h->vip_ports_fd, &keys[i], &counts[i], BPF_ANY)) {
				kvlb_fail("updating %s: %s", KVLB_MAP_VIP_PORTS, strerror(errno));
				goto unlock;
			}
		}
	}
	err = 0;
unlock:
	edit_unlock(h);
out:
	free(counts);
	free(keys);
	return err;
}

static int vip_add(struct kvlb_handle *h, const struct kvlb_endpoint *ep, __u32 flags, bool excl)
{
	struct vip_entry *vips = NULL;
	struct kvlb_backend *all = NULL;
	bool used[KVLB_MAX_VIPS] = {};
	__u32 *ring = NULL, idx, i;
	struct kvlb_vip_key k;
	struct kvlb_vip v;
	char s[KVLB_ENDPOINT_STRLEN];
	int n, r, err = -1;

	if (check_ep(ep, "VIP"))
		return -1;
	if (flags & ~KVLB_VIP_F_HTTP)
		return kvlb_fail("unknown VIP flags 0x%x", flags);
	if (edit_lock(h))
		return -1;
	r = vip_lookup(h, ep, &k, &v);
	if (r < 0)
		goto out;
	if (r == 1) {
		if (excl) {
			kvlb_fail("VIP %s already exists", ep_str(ep, s));
			goto out;
		}
		v.flags = flags;
		err = vip_flip(h, &k, &v);
		if (!err)
			err = vip_port_sync(h, k.port); /* the port's HTTP count */
		goto out;
	}

	vips = calloc(KVLB_MAX_VIPS, sizeof(*vips));
	all = calloc(KVLB_MAX_BACKENDS, sizeof(*all));
	ring = malloc(KVLB_RING_SIZE * sizeof(*ring));
	if (!vips || !all || !ring) {
		kvlb_fail("out of memory");
		goto out;
	}
	n = read_vips(h, vips, KVLB_MAX_VIPS);
	if (n < 0)
		goto out;
	for (i = 0; i < (__u32)n; i++)
		if (vips[i].val.index < KVLB_MAX_VIPS)
			used[vips[i].val.index] = true;
	for (idx = 0; idx < KVLB_MAX_VIPS && used[idx]; idx++)
		;
	if (idx == KVLB_MAX_VIPS) {
		kvlb_fail("cannot add VIP %s: all %d VIPs are in use", ep_str(ep, s),
			  KVLB_MAX_VIPS);
		goto out;
	}
	if (read_backends(h, all))
		goto out;
	/* Slots still naming this free index were left by an interrupted
	 * delete; no VIP reads them, so clearing them first changes nothing
	 * visible. */
	for (i = 0; i < KVLB_MAX_BACKENDS; i++) {
		if ((all[i].flags & KVLB_BE_F_IN_USE) && all[i].vip_index == idx) {
			struct kvlb_backend z = {};

			if (write_backend(h, i, &z))
				goto out;
		}
	}
	for (i = 0; i < KVLB_RING_SIZE; i++)
		ring[i] = KVLB_NO_BACKEND;
	memset(&v, 0, sizeof(v));
	v.index = idx;
	v.ring_slot = idx * 2;
	v.flags = flags;
	if (ring_write_slot(h, v.ring_slot, ring))
		goto out;
	if (bpf_map_update_elem(h->vips_fd, &k, &v, BPF_NOEXIST)) {
		if (errno == E2BIG)
			kvlb_fail("cannot add VIP %s: %s is full", ep_str(ep, s), KVLB_MAP_VIPS);
		else
			kvlb_fail("adding VIP %s: %s", ep_str(ep, s), strerror(errno));
		goto out;
	}
	/* The port opens only now that the VIP is there to match. */
	if (vip_port_sync(h, k.port)) {
		bpf_map_delete_elem(h->vips_fd, &k);
		goto out;
	}
	err = 0;
out:
	edit_unlock(h);
	free(vips);
	free(all);
	free(ring);
	return err;
}

int kvlb_vip_add(struct kvlb_handle *h, const struct kvlb_endpoint *vip, __u32 flags)
{
	return vip_add(h, vip, flags, false);
}

int kvlb_vip_create(struct kvlb_handle *h, const struct kvlb_endpoint *vip, __u32 flags)
{
	return vip_add(h, vip, flags, true);
}

/*
 * Under the edit lock: the VIP's key and value, and a copy of every backend
 * slot in *all (malloc'd; the caller frees it, also on failure).
 */
static int vip_and_backends(struct kvlb_handle *h, const struct kvlb_endpoint *ep,
			    struct kvlb_vip_key *k, struct kvlb_vip *v, struct kvlb_backend **all)
{
	char s[KVLB_ENDPOINT_STRLEN];
	int r = vip_lookup(h, ep, k, v);

	if (r <= 0)
		return r == 0 ? kvlb_fail("no VIP %s", ep_str(ep, s)) : -1;
	*all = calloc(KVLB_MAX_BACKENDS, sizeof(**all));
	if (!*all)
		return kvlb_fail("out of memory");
	return read_backends(h, *all);
}

int kvlb_vip_del(struct kvlb_handle *h, const struct kvlb_endpoint *ep)
{
	struct kvlb_backend *all = NULL;
	struct kvlb_vip_key k;
	struct kvlb_vip v;
	char s[KVLB_ENDPOINT_STRLEN];
	int err = -1;
	__u32 i;

	if (check_ep(ep, "VIP"))
		return -1;
	if (edit_lock(h))
		return -1;
	if (vip_and_backends(h, ep, &k, &v, &all))
		goto out;
	/* The key goes first: from then on the data path no longer matches
	 * the VIP, so its backend slots are free to clear. */
	if (bpf_map_delete_elem(h->vips_fd, &k)) {
		kvlb_fail("deleting VIP %s: %s", ep_str(ep, s), strerror(errno));
		goto out;
	}
	for (i = 0; i < KVLB_MAX_BACKENDS; i++) {
		struct kvlb_backend z = {};

		if ((all[i].flags & KVLB_BE_F_IN_USE) && all[i].vip_index == v.index &&
		    write_backend(h, i, &z))
			goto out; /* left over slots are cleared by the next add of the index */
	}
	/* A port left open would only cost its traffic a VIP lookup; kvlbd's
	 * resync at start closes it if this fails. */
	if (vip_port_sync(h, k.port))
		goto out;
	err = 0;
out:
	edit_unlock(h);
	free(all);
	return err;
}

static int vip_info_cmp(const void *a, const void *b)
{
	const struct kvlb_vip_info *x = a, *y = b;

	return x->vip.index < y->vip.index ? -1 : x->vip.index > y->vip.index;
}

int kvlb_vip_list(struct kvlb_handle *h, struct kvlb_vip_info *out, int max)
{
	struct vip_entry vips[KVLB_MAX_VIPS];
	int n, i;

	n = read_vips(h, vips, KVLB_MAX_VIPS);
	if (n < 0)
		return -1;
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		ep_of_vip_key(&vips[i].key, &out[i].ep);
		out[i].vip = vips[i].val;
	}
	qsort(out, (size_t)n, sizeof(*out), vip_info_cmp);
	return n;
}

int kvlb_ring_read(struct kvlb_handle *h, const struct kvlb_endpoint *vip, __u32 *ring)
{
	struct kvlb_vip_key k;
	struct kvlb_vip v;
	char s[KVLB_ENDPOINT_STRLEN];
	int r;

	if (check_ep(vip, "VIP"))
		return -1;
	r = vip_lookup(h, vip, &k, &v);
	if (r <= 0)
		return r == 0 ? kvlb_fail("no VIP %s", ep_str(vip, s)) : -1;
	return ring_read_slot(h, v.ring_slot, ring);
}

/* ---- backends --------------------------------------------------------- */

static int find_backend(const struct kvlb_backend *all, __u32 vip_index,
			const struct kvlb_endpoint *ep)
{
	struct kvlb_endpoint e;
	int i;

	for (i = 0; i < KVLB_MAX_BACKENDS; i++) {
		if (!(all[i].flags & KVLB_BE_F_IN_USE) || all[i].vip_index != vip_index)
			continue;
		ep_of_backend(&all[i], &e);
		if (kvlb_endpoint_equal(&e, ep))
			return i;
	}
	return -1;
}

enum be_op { BE_ADD, BE_CREATE, BE_DEL, BE_WEIGHT, BE_FLAGS };

static int backend_edit(struct kvlb_handle *h, const struct kvlb_endpoint *vep,
			const struct kvlb_endpoint *bep, enum be_op op, __u32 weight, __u32 set,
			__u32 clear)
{
	char vs[KVLB_ENDPOINT_STRLEN], bs[KVLB_ENDPOINT_STRLEN];
	struct kvlb_backend *all = NULL, nb;
	struct kvlb_vip_key k;
	struct kvlb_vip v;
	int id, err = -1;

	if (check_ep(vep, "VIP") || check_ep(bep, "backend"))
		return -1;
	if ((op == BE_ADD || op == BE_CREATE || op == BE_WEIGHT) &&
	    (weight < 1 || weight > KVLB_MAX_WEIGHT))
		return kvlb_fail("weight %u is out of range 1..%d", weight, KVLB_MAX_WEIGHT);
	if ((set | clear) & ~(KVLB_BE_F_DRAINING | KVLB_BE_F_DOWN))
		return kvlb_fail("only the draining and down flags can be changed");
	if (bep->family != vep->family)
		return kvlb_fail("backend %s and VIP %s are of different address families",
				 ep_str(bep, bs), ep_str(vep, vs));
	if (edit_lock(h))
		return -1;
	if (vip_and_backends(h, vep, &k, &v, &all))
		goto out;
	id = find_backend(all, v.index, bep);
	if (id < 0 && op != BE_ADD && op != BE_CREATE) {
		kvlb_fail("no backend %s in VIP %s", ep_str(bep, bs), ep_str(vep, vs));
		goto out;
	}
	if (id >= 0 && op == BE_CREATE) {
		kvlb_fail("backend %s already exists in VIP %s (use 'backend weight' to change "
			  "it)",
			  ep_str(bep, bs), ep_str(vep, vs));
		goto out;
	}
	if (id < 0) {
		for (id = 0; id < KVLB_MAX_BACKENDS; id++)
			if (!(all[id].flags & KVLB_BE_F_IN_USE))
				break;
		if (id == KVLB_MAX_BACKENDS) {
			kvlb_fail("cannot add backend %s: all %d backend slots are in use",
				  ep_str(bep, bs), KVLB_MAX_BACKENDS);
			goto out;
		}
		memset(&nb, 0, sizeof(nb));
		nb.addr = bep->addr;
		if (bep->family == KVLB_AF_INET)
			memset(&nb.addr.v6[1], 0, 3 * sizeof(__u32));
		nb.port = htons(bep->port);
		nb.family = bep->family;
		nb.vip_index = v.index;
		nb.flags = KVLB_BE_F_IN_USE;
	} else {
		nb = all[id];
	}
	switch (op) {
	case BE_ADD:
	case BE_CREATE:
	case BE_WEIGHT:
		nb.weight = weight;
		break;
	case BE_DEL:
		memset(&nb, 0, sizeof(nb));
		break;
	case BE_FLAGS:
		nb.flags = (nb.flags | set) & ~clear;
		break;
	}
	err = backend_apply(h, &k, &v, all, (__u32)id, &nb);
out:
	edit_unlock(h);
	free(all);
	return err;
}

int kvlb_backend_add(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
		     const struct kvlb_endpoint *be, __u32 weight)
{
	return backend_edit(h, vip, be, BE_ADD, weight, 0, 0);
}

int kvlb_backend_create(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
			const struct kvlb_endpoint *be, __u32 weight)
{
	return backend_edit(h, vip, be, BE_CREATE, weight, 0, 0);
}

int kvlb_backend_del(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
		     const struct kvlb_endpoint *be)
{
	return backend_edit(h, vip, be, BE_DEL, 0, 0, 0);
}

int kvlb_backend_weight(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
			const struct kvlb_endpoint *be, __u32 weight)
{
	return backend_edit(h, vip, be, BE_WEIGHT, weight, 0, 0);
}

int kvlb_backend_flags(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
		       const struct kvlb_endpoint *be, __u32 set, __u32 clear)
{
	return backend_edit(h, vip, be, BE_FLAGS, 0, set, clear);
}

/* Slot i of the set edit: what it was, what it becomes. */
enum set_change { SET_SAME, SET_NEW, SET_CHANGED, SET_REMOVED };

static int load_zero(struct kvlb_handle *h, __u32 id)
{
	struct kvlb_backend_load zero = {};

	if (bpf_map_update_elem(h->load_fd, &id, &zero, BPF_ANY))
		return kvlb_fail("writing %s[%u]: %s", KVLB_MAP_BACKEND_LOAD, id, strerror(errno));
	return 0;
}

/* Put back the slots in ids[0..n-1] as all[] has them (best effort: this
 * runs after a failure, to leave the maps as they were). */
static void restore_slots(struct kvlb_handle *h, const struct kvlb_backend *all, const __u32 *ids,
			  int n)
{
	char msg[sizeof(err_buf)];

	snprintf(msg, sizeof(msg), "%s", err_buf);
	while (n-- > 0)
		write_backend(h, ids[n], &all[ids[n]]);
	snprintf(err_buf, sizeof(err_buf), "%s", msg);
}

int kvlb_vip_set_backends(struct kvlb_handle *h, const struct kvlb_endpoint *vep,
			  const struct kvlb_backend_spec *b, int n)
{
	char vs[KVLB_ENDPOINT_STRLEN], bs[KVLB_ENDPOINT_STRLEN];
	struct kvlb_backend *all = NULL, *next = NULL;
	enum set_change *chg = NULL;
	__u32 *ring = NULL, *written = NULL;
	int i, j, r, id, n_written = 0, err = -1;
	struct kvlb_vip_key k;
	struct kvlb_vip v, nv;

	if (check_ep(vep, "VIP"))
		return -1;
	if (n < 0 || n > KVLB_MAX_BACKENDS || (n > 0 && !b))
		return kvlb_fail("%d backends given: at most %d", n, KVLB_MAX_BACKENDS);
	for (i = 0; i < n; i++) {
		if (check_ep(&b[i].ep, "backend"))
			return -1;
		if (b[i].ep.family != vep->family)
			return kvlb_fail("backend %s and VIP %s are of different address families",
					 ep_str(&b[i].ep, bs), ep_str(vep, vs));
		if (b[i].weight < 1 || b[i].weight > KVLB_MAX_WEIGHT)
			return kvlb_fail("backend %s: weight %u is out of range 1..%d",
					 ep_str(&b[i].ep, bs), b[i].weight, KVLB_MAX_WEIGHT);
		for (j = 0; j < i; j++)
			if (kvlb_endpoint_equal(&b[i].ep, &b[j].ep))
				return kvlb_fail("backend %s is given twice", ep_str(&b[i].ep, bs));
	}
	if (edit_lock(h))
		return -1;
	r = vip_lookup(h, vep, &k, &v);
	if (r <= 0) {
		if (r == 0)
			kvlb_fail("no VIP %s", ep_str(vep, vs));
		goto out;
	}
	all = calloc(KVLB_MAX_BACKENDS, sizeof(*all));
	next = calloc(KVLB_MAX_BACKENDS, sizeof(*next));
	chg = calloc(KVLB_MAX_BACKENDS, sizeof(*chg));
	written = calloc(KVLB_MAX_BACKENDS, sizeof(*written));
	ring = malloc(KVLB_RING_SIZE * sizeof(*ring));
	if (!all || !next || !chg || !written || !ring) {
		kvlb_fail("out of memory");
		goto out;
	}
	if (read_backends(h, all))
		goto out;

	/* The new slots, in memory: kept ones first, then new ones in slots
	 * free both before and after (a slot freed by this edit is not reused,
	 * so its old connections never land on a different backend). */
	memcpy(next, all, KVLB_MAX_BACKENDS * sizeof(*next));
	for (id = 0; id < KVLB_MAX_BACKENDS; id++) {
		struct kvlb_endpoint e;

		if (!(all[id].flags & KVLB_BE_F_IN_USE) || all[id].vip_index != v.index)
			continue;
		ep_of_backend(&all[id], &e);
		for (i = 0; i < n && !kvlb_endpoint_equal(&e, &b[i].ep); i++)
			;
		if (i == n) {
			memset(&next[id], 0, sizeof(next[id]));
			chg[id] = SET_REMOVED;
		} else if (all[id].weight != b[i].weight) {
			next[id].weight = b[i].weight;
			chg[id] = SET_CHANGED;
		}
	}
	for (i = 0, id = 0; i < n; i++) {
		if (find_backend(all, v.index, &b[i].ep) >= 0)
			continue;
		while (id < KVLB_MAX_BACKENDS &&
		       ((all[id].flags & KVLB_BE_F_IN_USE) || chg[id] != SET_SAME))
			id++;
		if (id == KVLB_MAX_BACKENDS) {
			kvlb_fail(
			    "cannot set the backends of VIP %s: not enough free backend slots "
			    "(%d in all)",
			    ep_str(vep, vs), KVLB_MAX_BACKENDS);
			goto out;
		}
		memset(&next[id], 0, sizeof(next[id]));
		next[id].addr = b[i].ep.addr;
		if (b[i].ep.family == KVLB_AF_INET)
			memset(&next[id].addr.v6[1], 0, 3 * sizeof(__u32));
		next[id].port = htons(b[i].ep.port);
		next[id].family = b[i].ep.family;
		next[id].vip_index = v.index;
		next[id].weight = b[i].weight;
		next[id].flags = KVLB_BE_F_IN_USE;
		chg[id] = SET_NEW;
	}
	nv = v;
	if (ring_build(next, v.index, ring, &nv.n_backends))
		goto out;
	nv.ring_slot = spare_slot(&v);

	/* Slots the new ring names go in before it; removed ones after. */
	for (id = 0; id < KVLB_MAX_BACKENDS; id++) {
		if (chg[id] != SET_NEW && chg[id] != SET_CHANGED)
			continue;
		if (chg[id] == SET_NEW && load_zero(h, (__u32)id))
			goto undo;
		if (write_backend(h, (__u32)id, &next[id]))
			goto undo;
		written[n_written++] = (__u32)id;
	}
	if (ring_write_slot(h, nv.ring_slot, ring) || vip_flip(h, &k, &nv))
		goto undo;
	for (id = 0; id < KVLB_MAX_BACKENDS; id++) {
		if (chg[id] != SET_REMOVED)
			continue;
		if (write_backend(h, (__u32)id, &next[id])) {
			char msg[sizeof(err_buf)];

			snprintf(msg, sizeof(msg), "%s", err_buf);
			vip_flip(h, &k, &v); /* the old ring is intact in the other slot */
			snprintf(err_buf, sizeof(err_buf), "%s", msg);
			goto undo;
		}
		written[n_written++] = (__u32)id;
	}
	err = 0;
	goto out;
undo:
	restore_slots(h, all, written, n_written);
out:
	edit_unlock(h);
	free(all);
	free(next);
	free(chg);
	free(written);
	free(ring);
	return err;
}

int kvlb_backend_get(struct kvlb_handle *h, __u32 id, struct kvlb_backend *be)
{
	if (id >= KVLB_MAX_BACKENDS)
		return kvlb_fail("backend id %u is out of range", id);
	if (bpf_map_lookup_elem(h->backends_fd, &id, be))
		return kvlb_fail("reading %s[%u]: %s", KVLB_MAP_BACKENDS, id, strerror(errno));
	return 0;
}

int kvlb_backend_list(struct kvlb_handle *h, const struct kvlb_endpoint *vip,
		      struct kvlb_backend_info *out, int max)
{
	struct kvlb_vip_info vips[KVLB_MAX_VIPS];
	struct kvlb_backend *all = NULL;
	__u32 *ring = NULL, *counts = NULL, i;
	int n_vips, j, n = -1;
	char s[KVLB_ENDPOINT_STRLEN];

	if (vip && check_ep(vip, "VIP"))
		return -1;
	n_vips = kvlb_vip_list(h, vips, KVLB_MAX_VIPS);
	if (n_vips < 0)
		return -1;
	if (vip) {
		for (j = 0; j < n_vips; j++)
			if (kvlb_endpoint_equal(&vips[j].ep, vip))
				break;
		if (j == n_vips)
			return kvlb_fail("no VIP %s", ep_str(vip, s));
		vips[0] = vips[j];
		n_vips = 1;
	}
	all = calloc(KVLB_MAX_BACKENDS, sizeof(*all));
	ring = malloc(KVLB_RING_SIZE * sizeof(*ring));
	counts = calloc(KVLB_MAX_BACKENDS, sizeof(*counts));
	if (!all || !ring || !counts) {
		kvlb_fail("out of memory");
		goto out;
	}
	if (read_backends(h, all))
		goto out;
	for (j = 0; j < n_vips; j++) {
		if (ring_read_slot(h, vips[j].vip.ring_slot, ring))
			goto out;
		for (i = 0; i < KVLB_RING_SIZE; i++)
			if (ring[i] < KVLB_MAX_BACKENDS &&
			    all[ring[i]].vip_index == vips[j].vip.index)
				counts[ring[i]]++;
	}
	n = 0;
	for (i = 0; i < KVLB_MAX_BACKENDS && n < max; i++) {
		if (!(all[i].flags & KVLB_BE_F_IN_USE))
			continue;
		for (j = 0; j < n_vips; j++)
			if (vips[j].vip.index == all[i].vip_index)
				break;
		if (j == n_vips) /* not of a listed VIP (or a leftover slot) */
			continue;
		out[n].id = i;
		ep_of_backend(&all[i], &out[n].ep);
		out[n].vip = vips[j].ep;
		out[n].be = all[i];
		out[n].ring_slots = counts[i];
		n++;
	}
out:
	free(all);
	free(ring);
	free(counts);
	return n;
}

/* ---- counters, flows, config ------------------------------------------ */

int kvlb_stats_read(struct kvlb_handle *h, struct kvlb_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	size_t words = sizeof(*sum) / sizeof(__u64), w;
	__u32 key = 0;
	__u64 *vals;

	if (ncpu <= 0)
		return kvlb_fail("cannot count CPUs: %s", strerror(-ncpu));
	vals = calloc((size_t)ncpu, sizeof(*sum));
	if (!vals)
		return kvlb_fail("out of memory");
	if (bpf_map_lookup_elem(h->stats_fd, &key, vals)) {
		int e = errno;

		free(vals);
		return kvlb_fail("reading %s: %s", KVLB_MAP_STATS, strerror(e));
	}
	memset(sum, 0, sizeof(*sum));
	for (c = 0; c < ncpu; c++)
		for (w = 0; w < words; w++)
			((__u64 *)sum)[w] += vals[(size_t)c * words + w];
	free(vals);
	return 0;
}

int kvlb_stats_reset(struct kvlb_handle *h)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	__u32 key = 0;
	void *zero;

	if (ncpu <= 0)
		return kvlb_fail("cannot count CPUs: %s", strerror(-ncpu));
	zero = calloc((size_t)ncpu, sizeof(struct kvlb_stats));
	if (!zero)
		return kvlb_fail("out of memory");
	if (bpf_map_update_elem(h->stats_fd, &key, zero, BPF_ANY))
		err = kvlb_fail("resetting %s: %s", KVLB_MAP_STATS, strerror(errno));
	free(zero);
	return err;
}

int kvlb_flow_walk(struct kvlb_handle *h, kvlb_flow_cb cb, void *arg)
{
	struct kvlb_flow_key k, next;
	struct kvlb_flow f;
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(h->flows_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(h->flows_fd, &k, &f)) {
			if (errno == ENOENT) /* evicted while walking */
				continue;
			return kvlb_fail("reading %s: %s", KVLB_MAP_FLOWS, strerror(errno));
		}
		n++;
		if (cb(&k, &f, arg))
			return n;
	}
	if (errno != ENOENT)
		return kvlb_fail("walking %s: %s", KVLB_MAP_FLOWS, strerror(errno));
	return n;
}

int kvlb_load_read(struct kvlb_handle *h, __u32 id, struct kvlb_backend_load *l)
{
	if (id >= KVLB_MAX_BACKENDS)
		return kvlb_fail("backend id %u is out of range", id);
	if (bpf_map_lookup_elem(h->load_fd, &id, l))
		return kvlb_fail("reading %s[%u]: %s", KVLB_MAP_BACKEND_LOAD, id, strerror(errno));
	return 0;
}

int kvlb_load_write(struct kvlb_handle *h, __u32 id, const struct kvlb_backend_load *l)
{
	if (id >= KVLB_MAX_BACKENDS)
		return kvlb_fail("backend id %u is out of range", id);
	if (bpf_map_update_elem(h->load_fd, &id, l, BPF_ANY))
		return kvlb_fail("writing %s[%u]: %s", KVLB_MAP_BACKEND_LOAD, id, strerror(errno));
	return 0;
}

int kvlb_config_read(struct kvlb_handle *h, struct kvlb_config *c)
{
	__u32 key = 0;

	if (bpf_map_lookup_elem(h->config_fd, &key, c))
		return kvlb_fail("reading %s: %s", KVLB_MAP_CONFIG, strerror(errno));
	return 0;
}

void kvlb_config_defaults(struct kvlb_config *c)
{
	memset(c, 0, sizeof(*c));
	c->chunk_size = KVLB_DEF_CHUNK_SIZE;
	c->prefix_depth = KVLB_DEF_PREFIX_DEPTH;
	c->hold_limit = KVLB_DEF_HOLD_LIMIT;
	c->load_bound_pct = KVLB_DEF_LOAD_BOUND_PCT;
	c->walk_limit = KVLB_DEF_WALK_LIMIT;
	c->load_slack = KVLB_DEF_LOAD_SLACK;
	c->flags = KVLB_DEF_FLAGS;
	snprintf(c->affinity_header, sizeof(c->affinity_header), "%s", KVLB_DEF_AFFINITY_HEADER);
}

bool kvlb_config_unset(const struct kvlb_config *c)
{
	static const struct kvlb_config zero;

	return !memcmp(c, &zero, sizeof(zero));
}

int kvlb_config_write(struct kvlb_handle *h, const struct kvlb_config *c)
{
	__u32 key = 0;
	int err = 0;

	if (edit_lock(h))
		return -1;
	if (bpf_map_update_elem(h->config_fd, &key, c, BPF_ANY))
		err = kvlb_fail("writing %s: %s", KVLB_MAP_CONFIG, strerror(errno));
	edit_unlock(h);
	return err;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The data path deletes a delayed-binding connection on RST; everything
 * else that ends needs a clock: a connection closed by FIN (kept a moment
 * for the last retransmissions), one whose client went quiet while kvlb
 * held its request, one idle past --splice-idle, and held bytes whose
 * connection the LRU already evicted. kvlbd walks the table once a second.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kvlb.h"
#include "log.h"
#include "sweep.h"

struct sweeper {
	int splice_fd, hold_fd, nat_fd, backends_fd;
	uint64_t idle_ns;
	uint64_t last_run;
	/* Held fronts without a connection at the previous walk, sorted: one
	 * goes only when the next walk finds it alone still. (XDP writes the
	 * hold slot a moment before the connection's entry; a walk between
	 * the two must not take the slot of a connection being born.) */
	struct kvlb_flow_key *orphans;
	size_t n_orphans;
};

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct kvlb_flow_key));
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int open_map(const char *root, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		log_err("%s: %s", path, strerror(errno));
	return fd;
}

static int secret_init(const char *root)
{
	struct kvlb_secret s = {}, zero = {};
	int fd = open_map(root, KVLB_MAP_SECRET);
	__u32 k = 0;
	int rc = -1;

	if (fd < 0)
		return -1;
	if (bpf_map_lookup_elem(fd, &k, &s)) {
		log_err("reading %s: %s", KVLB_MAP_SECRET, strerror(errno));
		goto out;
	}
	rc = 0;
	if (memcmp(&s, &zero, sizeof(s)))
		goto out; /* kept across restarts: cookies in flight stay valid */
	if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s) ||
	    bpf_map_update_elem(fd, &k, &s, BPF_ANY)) {
		log_err("setting the SYN-cookie key: %s", strerror(errno));
		rc = -1;
		goto out;
	}
	log_info("drew a new SYN-cookie key");
out:
	close(fd);
	return rc;
}

struct sweeper *sweep_new(const char *pin_root, unsigned idle_s)
{
	struct sweeper *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->splice_fd = open_map(pin_root, KVLB_MAP_SPLICE);
	s->hold_fd = open_map(pin_root, KVLB_MAP_HOLD);
	s->nat_fd = open_map(pin_root, KVLB_MAP_NAT_REV);
	s->backends_fd = open_map(pin_root, KVLB_MAP_BACKENDS);
	s->idle_ns = (uint64_t)idle_s * 1000000000ull;
	if (s->splice_fd < 0 || s->hold_fd < 0 || s->nat_fd < 0 || s->backends_fd < 0 ||
	    secret_init(pin_root)) {
		sweep_free(s);
		return NULL;
	}
	return s;
}

void sweep_free(struct sweeper *s)
{
	if (!s)
		return;
	if (s->splice_fd >= 0)
		close(s->splice_fd);
	if (s->hold_fd >= 0)
		close(s->hold_fd);
	if (s->nat_fd >= 0)
		close(s->nat_fd);
	if (s->backends_fd >= 0)
		close(s->backends_fd);
	free(s->orphans);
	free(s);
}

static uint64_t grace_ns(const struct sweeper *s, const struct kvlb_splice *sp)
{
	switch (sp->state) {
	case KVLB_SP_CLOSED:
		return SWEEP_CLOSED_S * 1000000000ull;
	case KVLB_SP_SPLICED:
		return s->idle_ns;
	default:
		return SWEEP_PENDING_S * 1000000000ull;
	}
}

static int forget(struct sweeper *s, const struct kvlb_flow_key *k, const struct kvlb_splice *sp)
{
	struct kvlb_splice now;
	struct kvlb_backend be;
	__u32 id = sp->backend_id;

	/* The data path may have reused the tuple, or seen a packet, since
	 * the walk read the entry: only the connection that was read goes.
	 * (A packet between this check and the delete is the remaining race,
	 * a few microseconds wide; such a connection is reset by its next
	 * packet's failed cookie check and the client retries.) */
	if (bpf_map_lookup_elem(s->splice_fd, k, &now) || now.c_isn != sp->c_isn ||
	    now.last_ns != sp->last_ns)
		return 0;

	bpf_map_delete_elem(s->hold_fd, k);
	if (id != KVLB_NO_BACKEND && !bpf_map_lookup_elem(s->backends_fd, &id, &be)) {
		struct kvlb_flow_key rk = {
		    .src = be.addr,
		    .dst = k->src,
		    .sport = be.port,
		    .dport = k->sport,
		    .proto = k->proto,
		    .family = k->family,
		};

		bpf_map_delete_elem(s->nat_fd, &rk);
	}
	bpf_map_delete_elem(s->splice_fd, k);
	return 1;
}

/* Held bytes of connections the LRU evicted (or a sweep removed): freed
 * when two walks in a row find them without a connection. */
static int sweep_orphans(struct sweeper *s)
{
	struct kvlb_flow_key k, next, *now = NULL;
	struct kvlb_splice sp;
	size_t n = 0, cap = 0;
	int removed = 0, more;

	more = !bpf_map_get_next_key(s->hold_fd, NULL, &next);
	while (more) {
		k = next;
		more = !bpf_map_get_next_key(s->hold_fd, &k, &next);
		if (!bpf_map_lookup_elem(s->splice_fd, &k, &sp) || errno != ENOENT)
			continue;
		if (s->n_orphans && bsearch(&k, s->orphans, s->n_orphans, sizeof(k), key_cmp)) {
			bpf_map_delete_elem(s->hold_fd, &k);
			removed++;
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct kvlb_flow_key *g = realloc(now, ncap * sizeof(*now));

			if (!g)
				break; /* the rest waits for the next walk */
			now = g;
			cap = ncap;
		}
		now[n++] = k;
	}
	if (n)
		qsort(now, n, sizeof(*now), key_cmp);
	free(s->orphans);
	s->orphans = now;
	s->n_orphans = n;
	return removed;
}

int sweep_run(struct sweeper *s)
{
	struct kvlb_flow_key k, next;
	struct kvlb_splice sp;
	uint64_t now = mono_ns();
	int removed = 0, more;

	if (now - s->last_run < 1000000000ull)
		return 0;
	s->last_run = now;
	/* Collect the next key before deleting the current one, so the walk
	 * goes on from where it was. */
	more = !bpf_map_get_next_key(s->splice_fd, NULL, &next);
	while (more) {
		k = next;
		more = !bpf_map_get_next_key(s->splice_fd, &k, &next);
		if (bpf_map_lookup_elem(s->splice_fd, &k, &sp))
			continue;
		if (now > sp.last_ns && now - sp.last_ns > grace_ns(s, &sp))
			removed += forget(s, &k, &sp);
	}
	removed += sweep_orphans(s);
	if (removed)
		log_debug("swept %d delayed-binding entries", removed);
	return removed;
}

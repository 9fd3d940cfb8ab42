// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libkvlb against real maps (made by the caller under argv[1], see
 * tests/cases/21-maps-lib.sh): kvlb_vip_set_backends, the edit kvlbd applies
 * a configuration with.
 */
#include <stdlib.h>
#include <string.h>
#include "maps.h"
#include "unit.h"

static struct kvlb_handle h;
static __u32 ring[KVLB_RING_SIZE];

static struct kvlb_endpoint ep(const char *s)
{
	struct kvlb_endpoint e;
	char err[128];

	if (kvlb_endpoint_parse(s, &e, err, sizeof(err))) {
		printf("FAIL setup: %s\n", err);
		exit(1);
	}
	return e;
}

/* Everything an edit may touch, to compare before and after a refusal. */
struct snap {
	int n;
	struct kvlb_backend_info b[KVLB_MAX_BACKENDS];
	struct kvlb_vip_info v;
	__u32 ring[KVLB_RING_SIZE];
};

static void take(struct snap *s, const struct kvlb_endpoint *vip)
{
	memset(s, 0, sizeof(*s));
	s->n = kvlb_backend_list(&h, NULL, s->b, KVLB_MAX_BACKENDS);
	kvlb_vip_get(&h, vip, &s->v);
	kvlb_ring_read(&h, vip, s->ring);
}

static int share(const struct kvlb_endpoint *vip, __u32 id)
{
	int i, n = 0;

	kvlb_ring_read(&h, vip, ring);
	for (i = 0; i < KVLB_RING_SIZE; i++)
		n += ring[i] == id;
	return n;
}

/* id of backend s of vip, or -1 */
static int id_of(const struct kvlb_endpoint *vip, const char *s)
{
	static struct kvlb_backend_info b[KVLB_MAX_BACKENDS];
	struct kvlb_endpoint e = ep(s);
	int n = kvlb_backend_list(&h, vip, b, KVLB_MAX_BACKENDS), i;

	for (i = 0; i < n; i++)
		if (kvlb_endpoint_equal(&b[i].ep, &e))
			return (int)b[i].id;
	return -1;
}

int main(int argc, char **argv)
{
	struct kvlb_endpoint vip = ep("192.0.2.10:80"), vip2 = ep("192.0.2.11:80");
	static struct snap before, after;
	static struct kvlb_backend_spec many[KVLB_MAX_BACKENDS];
	struct kvlb_backend_spec set1[] = {{ep("203.0.113.10:8000"), 1},
					   {ep("203.0.113.11:8000"), 2}};
	struct kvlb_backend_spec set2[] = {{ep("203.0.113.11:8000"), 3},
					   {ep("203.0.113.12:8000"), 1}};
	struct kvlb_backend_spec dup[] = {{ep("203.0.113.13:8000"), 1},
					  {ep("203.0.113.13:8000"), 2}};
	struct kvlb_backend_spec v6[] = {{ep("[2001:db8:b::10]:8000"), 1}};
	struct kvlb_backend_spec w0[] = {{ep("203.0.113.13:8000"), 0}};
	struct kvlb_vip_info vi, vi2;
	int a, b, c, b2, i;
	const char *name;

	if (argc < 2 || kvlb_open(&h, argv[1])) {
		printf("FAIL maps_open: %s\n",
		       argc >= 2 ? kvlb_error() : "usage: test_maps PIN [frozen]");
		return 1;
	}
	if (argc == 3 && !strcmp(argv[2], "frozen")) {
		/* The caller froze kvlb_ring after the run below: every edit
		 * fails at the ring write, after writing backend slots, and must
		 * put them back. */
		name = "set_backends_failed_write_undone";
		CASE_BEGIN();
		take(&before, &vip);
		CHECK(name, before.n > 0, "no backends to start from");
		CHECK(name,
		      kvlb_vip_set_backends(&h, &vip, set1, 2) == -1 &&
			  strstr(kvlb_error(), "writing kvlb_ring"),
		      "expected a ring write failure: %s", kvlb_error());
		take(&after, &vip);
		CHECK(name, !memcmp(&before, &after, sizeof(before)), "state changed");
		CASE_END(name);
		kvlb_close(&h);
		return unit_failed;
	}
	if (kvlb_vip_add(&h, &vip, 0) || kvlb_vip_add(&h, &vip2, 0)) {
		printf("FAIL setup: %s\n", kvlb_error());
		return 1;
	}

	name = "set_backends_adds";
	CASE_BEGIN();
	kvlb_vip_get(&h, &vip, &vi);
	CHECK(name, kvlb_vip_set_backends(&h, &vip, set1, 2) == 0, "%s", kvlb_error());
	kvlb_vip_get(&h, &vip, &vi2);
	a = id_of(&vip, "203.0.113.10:8000");
	b = id_of(&vip, "203.0.113.11:8000");
	CHECK(name, a >= 0 && b >= 0, "ids %d %d", a, b);
	CHECK(name, vi2.vip.ring_slot == (vi.vip.ring_slot ^ 1), "ring flipped %u -> %u",
	      vi.vip.ring_slot, vi2.vip.ring_slot);
	CHECK(name, vi2.vip.n_backends == 2, "n_backends %u", vi2.vip.n_backends);
	CHECK(name, abs(share(&vip, (__u32)a) * 3 - KVLB_RING_SIZE) < KVLB_RING_SIZE / 50,
	      "weight 1 of 3 has %d slots", share(&vip, (__u32)a));
	CHECK(name, share(&vip, (__u32)a) + share(&vip, (__u32)b) == KVLB_RING_SIZE,
	      "ring names other backends");
	CASE_END(name);

	name = "set_backends_keeps_ids_and_flags";
	CASE_BEGIN();
	CHECK(name, kvlb_backend_flags(&h, &vip, &set1[1].ep, KVLB_BE_F_DRAINING, 0) == 0, "%s",
	      kvlb_error());
	CHECK(name, kvlb_vip_set_backends(&h, &vip, set2, 2) == 0, "%s", kvlb_error());
	b2 = id_of(&vip, "203.0.113.11:8000");
	c = id_of(&vip, "203.0.113.12:8000");
	CHECK(name, id_of(&vip, "203.0.113.10:8000") == -1, "removed backend still listed");
	CHECK(name, b2 == b, "kept backend moved from id %d to %d", b, b2);
	CHECK(name, c >= 0 && c != a, "new backend took id %d (the removed one had %d)", c, a);
	{
		struct kvlb_backend be;

		kvlb_backend_get(&h, (__u32)a, &be);
		CHECK(name, !(be.flags & KVLB_BE_F_IN_USE), "removed slot %d still in use", a);
		kvlb_backend_get(&h, (__u32)b, &be);
		CHECK(name, (be.flags & KVLB_BE_F_DRAINING) && be.weight == 3,
		      "kept backend flags 0x%x weight %u", be.flags, be.weight);
	}
	CHECK(name, share(&vip, (__u32)c) == KVLB_RING_SIZE, "draining backend still in ring");
	CASE_END(name);

	name = "set_backends_refusals_change_nothing";
	CASE_BEGIN();
	take(&before, &vip);
	CHECK(name,
	      kvlb_vip_set_backends(&h, &vip, dup, 2) == -1 && strstr(kvlb_error(), "given twice"),
	      "duplicate: %s", kvlb_error());
	CHECK(name,
	      kvlb_vip_set_backends(&h, &vip, v6, 1) == -1 &&
		  strstr(kvlb_error(), "address families"),
	      "family: %s", kvlb_error());
	CHECK(name,
	      kvlb_vip_set_backends(&h, &vip, w0, 1) == -1 && strstr(kvlb_error(), "weight 0"),
	      "weight: %s", kvlb_error());
	CHECK(name, kvlb_vip_set_backends(&h, &vip2, NULL, -1) == -1, "n = -1 accepted");
	{
		struct kvlb_endpoint nov = ep("192.0.2.99:80");

		CHECK(name,
		      kvlb_vip_set_backends(&h, &nov, set1, 2) == -1 &&
			  strstr(kvlb_error(), "no VIP"),
		      "missing VIP: %s", kvlb_error());
	}
	/* More backends than free slots: refused before any write. */
	for (i = 0; i < KVLB_MAX_BACKENDS - 1; i++) {
		many[i].ep = ep("203.0.113.20:1");
		many[i].ep.port = (__u16)(i + 1);
		many[i].weight = 1;
	}
	CHECK(name,
	      kvlb_vip_set_backends(&h, &vip2, many, KVLB_MAX_BACKENDS - 1) == -1 &&
		  strstr(kvlb_error(), "not enough free backend slots"),
	      "capacity: %s", kvlb_error());
	take(&after, &vip);
	CHECK(name, !memcmp(&before, &after, sizeof(before)), "state changed");
	CASE_END(name);

	name = "set_backends_same_set_same_ring";
	CASE_BEGIN();
	take(&before, &vip);
	CHECK(name, kvlb_vip_set_backends(&h, &vip, set2, 2) == 0, "%s", kvlb_error());
	take(&after, &vip);
	CHECK(name, !memcmp(before.ring, after.ring, sizeof(ring)), "ring differs");
	CHECK(name,
	      before.n == after.n && !memcmp(before.b, after.b, sizeof(before.b[0]) * before.n),
	      "backends differ");
	CASE_END(name);

	name = "set_backends_many_then_none";
	CASE_BEGIN();
	CHECK(name, kvlb_vip_set_backends(&h, &vip2, many, 500) == 0, "%s", kvlb_error());
	kvlb_vip_get(&h, &vip2, &vi2);
	CHECK(name, vi2.vip.n_backends == 500, "n_backends %u", vi2.vip.n_backends);
	CHECK(name, kvlb_vip_set_backends(&h, &vip2, NULL, 0) == 0, "%s", kvlb_error());
	kvlb_vip_get(&h, &vip2, &vi2);
	kvlb_ring_read(&h, &vip2, ring);
	for (i = 0; i < KVLB_RING_SIZE && ring[i] == KVLB_NO_BACKEND; i++)
		;
	CHECK(name, vi2.vip.n_backends == 0 && i == KVLB_RING_SIZE, "VIP not emptied");
	CHECK(name, kvlb_backend_list(&h, &vip2, before.b, KVLB_MAX_BACKENDS) == 0,
	      "backends left");
	CASE_END(name);

	kvlb_close(&h);
	return unit_failed;
}

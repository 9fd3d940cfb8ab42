// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the weighted Maglev table: balance, weights, disruption. */
#include <stdlib.h>
#include <string.h>
#include "kvlb.h"
#include "maglev.h"
#include "unit.h"

#define M KVLB_RING_SIZE

static __u32 table_a[M], table_b[M];

/* Backends as kvlbd makes them: id = slot, key = hash of a distinct address. */
static void make_backends(struct kvlb_maglev_backend *b, int n, __u32 first_id)
{
	int i;

	for (i = 0; i < n; i++) {
		__u32 addr = 0xcb007100u + (__u32)i; /* 203.0.113.i */

		b[i].id = first_id + (__u32)i;
		b[i].weight = 1;
		b[i].key = kvlb_hash64(&addr, sizeof(addr), 0);
	}
}

static void count(const __u32 *t, __u32 size, __u32 *counts, int n_ids)
{
	__u32 i;

	memset(counts, 0, sizeof(*counts) * (size_t)n_ids);
	for (i = 0; i < size; i++)
		if (t[i] < (__u32)n_ids)
			counts[t[i]]++;
}

static __u32 changed(const __u32 *a, const __u32 *b)
{
	__u32 i, n = 0;

	for (i = 0; i < M; i++)
		n += a[i] != b[i];
	return n;
}

static int is_prime(__u32 n)
{
	__u32 d;

	if (n < 2)
		return 0;
	for (d = 2; d * d <= n; d++)
		if (n % d == 0)
			return 0;
	return 1;
}

static void test_sizes(void)
{
	const char *name = "maglev_table_size_prime";
	struct kvlb_maglev_backend b[3];
	static __u32 t[65537];

	CASE_BEGIN();
	make_backends(b, 3, 0);
	CHECK(name, is_prime(KVLB_RING_SIZE), "KVLB_RING_SIZE %d is not prime", KVLB_RING_SIZE);
	CHECK(name, KVLB_RING_SIZE > 100u * 100, "ring too small for 100 backends per VIP");
	CHECK(name, kvlb_maglev_build(b, 3, t, 251) == 0, "size 251 rejected");
	CHECK(name, kvlb_maglev_build(b, 3, t, 65537) == 0, "size 65537 rejected");
	CHECK(name, kvlb_maglev_build(b, 3, t, 16384) == -1, "size 16384 accepted");
	CHECK(name, kvlb_maglev_build(b, 3, t, 1) == -1, "size 1 accepted");
	CHECK(name, kvlb_maglev_build(b, 3, t, 65535) == -1, "size 65535 accepted");
	CASE_END(name);
}

static void test_empty(void)
{
	const char *name = "maglev_no_backends";
	struct kvlb_maglev_backend b[4];
	__u32 i, bad = 0;

	CASE_BEGIN();
	memset(table_a, 0, sizeof(table_a));
	CHECK(name, kvlb_maglev_build(NULL, 0, table_a, M) == 0, "empty build failed");
	for (i = 0; i < M; i++)
		bad += table_a[i] != KVLB_NO_BACKEND;
	CHECK(name, bad == 0, "%u slots name a backend with none given", bad);

	make_backends(b, 4, 0);
	for (i = 0; i < 4; i++)
		b[i].weight = 0;
	memset(table_a, 0, sizeof(table_a));
	CHECK(name, kvlb_maglev_build(b, 4, table_a, M) == 0, "zero-weight build failed");
	for (i = 0, bad = 0; i < M; i++)
		bad += table_a[i] != KVLB_NO_BACKEND;
	CHECK(name, bad == 0, "%u slots name a zero-weight backend", bad);
	CASE_END(name);
}

static void test_equal_weights(void)
{
	const char *name = "maglev_equal_weights_balanced";
	struct kvlb_maglev_backend b[50];
	__u32 counts[50];
	int n, i;

	CASE_BEGIN();
	for (n = 3; n <= 50; n++) {
		double want = (double)M / n;

		make_backends(b, n, 0);
		CHECK(name, kvlb_maglev_build(b, n, table_a, M) == 0, "build n=%d", n);
		count(table_a, M, counts, n);
		for (i = 0; i < n; i++)
			CHECK(name, counts[i] >= want * 0.98 && counts[i] <= want * 1.02,
			      "n=%d: backend %d has %u slots, expected %.1f +-2%%", n, i, counts[i],
			      want);
	}
	CASE_END(name);
}

static void test_weighted(void)
{
	const char *name = "maglev_weighted_shares";
	static const __u32 sets[][6] = {
	    {1, 2, 3}, {1, 1, 1, 1, 4}, {5, 10, 20, 40, 80, 100}, {1, 65535}, {100, 101, 1, 7},
	};
	static const int lens[] = {3, 5, 6, 2, 4};
	struct kvlb_maglev_backend b[6];
	__u32 counts[6];
	size_t s;
	int i;

	CASE_BEGIN();
	for (s = 0; s < sizeof(lens) / sizeof(lens[0]); s++) {
		double sum = 0;

		make_backends(b, lens[s], 0);
		for (i = 0; i < lens[s]; i++) {
			b[i].weight = sets[s][i];
			sum += sets[s][i];
		}
		CHECK(name, kvlb_maglev_build(b, lens[s], table_a, M) == 0, "build set %zu", s);
		count(table_a, M, counts, lens[s]);
		for (i = 0; i < lens[s]; i++) {
			double want = M * sets[s][i] / sum;

			/* 2% of the share, or a slot for shares of a few slots. */
			CHECK(name, counts[i] >= want * 0.98 - 1 && counts[i] <= want * 1.02 + 1,
			      "set %zu: weight %u has %u slots, expected %.1f", s, sets[s][i],
			      counts[i], want);
		}
	}
	CASE_END(name);
}

static void test_disruption(void)
{
	const char *name = "maglev_remove_moves_about_1_over_n";
	const char *name2 = "maglev_readd_restores_table";
	struct kvlb_maglev_backend b[50], rest[50];
	double worst = 0;
	int n, gone, i, k, ok2 = 1;

	CASE_BEGIN();
	srand(7);
	for (n = 3; n <= 50; n++) {
		make_backends(b, n, 0);
		for (i = 0; i < n; i++)
			b[i].weight = (n % 3 == 0) ? 1 + (__u32)(rand() % 4) : 1;
		kvlb_maglev_build(b, n, table_a, M);
		gone = rand() % n;
		for (i = 0, k = 0; i < n; i++)
			if (i != gone)
				rest[k++] = b[i];
		kvlb_maglev_build(rest, n - 1, table_b, M);
		{
			double frac = (double)changed(table_a, table_b) / M;
			double sum = 0, share;

			for (i = 0; i < n; i++)
				sum += b[i].weight;
			share = b[gone].weight / sum; /* what must move at least */
			if (frac / share > worst)
				worst = frac / share;
			CHECK(name, frac < share * 1.5 + 0.01,
			      "n=%d: removing one (share %.3f) changed %.3f of the slots", n, share,
			      frac);
			CHECK(name, frac >= share * 0.98, "n=%d: only %.3f changed, share %.3f", n,
			      frac, share);
		}
		/* Adding it back (at the end, as a re-added slot would be) restores
		 * the table exactly: placement depends on keys, not on order. */
		rest[n - 1] = b[gone];
		kvlb_maglev_build(rest, n, table_b, M);
		if (changed(table_a, table_b)) {
			printf("FAIL %s: n=%d: table differs after re-adding\n", name2, n);
			unit_failed = 1;
			ok2 = 0;
		}
	}
	printf("# worst disruption: %.2f x the removed backend's share\n", worst);
	CASE_END(name);
	if (ok2)
		printf("PASS %s\n", name2);
}

static void test_determinism(void)
{
	const char *name = "maglev_deterministic";
	struct kvlb_maglev_backend b[20], shuffled[20];
	unsigned char s[4] = {'k', 'v', 'l', 'b'};
	int i;

	CASE_BEGIN();
	make_backends(b, 20, 100);
	kvlb_maglev_build(b, 20, table_a, M);
	kvlb_maglev_build(b, 20, table_b, M);
	CHECK(name, changed(table_a, table_b) == 0, "same input, different tables");
	for (i = 0; i < 20; i++)
		shuffled[i] = b[(i * 7) % 20];
	kvlb_maglev_build(shuffled, 20, table_b, M);
	CHECK(name, changed(table_a, table_b) == 0, "input order changed the table");
	for (i = 0; i < M; i++)
		if (table_a[i] < 100 || table_a[i] >= 120)
			break;
	CHECK(name, i == M, "slot %d holds id %u, not one given", i, table_a[i]);
	/* Rings must be identical across hosts and releases: a changed hash
	 * re-places every connection after an upgrade. */
	CHECK(name, kvlb_hash64(s, sizeof(s), 0) == kvlb_hash64(s, sizeof(s), 0), "unstable");
	CHECK(name, kvlb_hash64(s, sizeof(s), 0) != kvlb_hash64(s, sizeof(s), 1), "seed ignored");
	CHECK(name, kvlb_hash64(s, 3, 0) != kvlb_hash64(s, 4, 0), "length ignored");
	CASE_END(name);
}

int main(void)
{
	test_sizes();
	test_empty();
	test_equal_weights();
	test_weighted();
	test_disruption();
	test_determinism();
	return unit_failed;
}

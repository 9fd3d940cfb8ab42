// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kvlbctl prefix list|flush: the learned prefix table (kvlb_prefix), the
 * chain-hash keys of conversation prefixes and the backend each was last
 * sent to. The data path's HTTP-aware choice writes it; only kvlbctl reads
 * and flushes it, so its access lives here rather than in the library.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "kvlbctl.h"

struct kvlb_prefix_item {
	__u64 key;
	struct kvlb_prefix_entry e;
};

/* Open pin_root/kvlb_prefix and check its layout. Returns an fd, or -1
 * (see kvlb_error()). */
static int prefix_open(const char *pin_root)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[512];
	int fd;

	if (!pin_root || !*pin_root)
		pin_root = kvlb_default_pin_root();
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", pin_root, KVLB_MAP_PREFIX) >=
	    sizeof(path))
		return kvlb_fail("pin root '%s' is too long", pin_root);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return kvlb_fail("cannot open %s: %s (is kvlbd running a version with the "
				 "prefix table?)",
				 path, strerror(errno));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return kvlb_fail("%s: %s", path, strerror(errno));
	}
	if (info.key_size != sizeof(__u64) || info.value_size != sizeof(struct kvlb_prefix_entry)) {
		close(fd);
		return kvlb_fail("%s has key/value sizes %u/%u, expected %zu/%zu: made by another "
				 "version of kvlb",
				 path, info.key_size, info.value_size, sizeof(__u64),
				 sizeof(struct kvlb_prefix_entry));
	}
	return fd;
}

/* Most recently used first. */
static int by_recent_use(const void *a, const void *b)
{
	const struct kvlb_prefix_item *x = a, *y = b;

	if (x->e.last_use_ns != y->e.last_use_ns)
		return x->e.last_use_ns > y->e.last_use_ns ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* Every entry, sorted, in a malloc'd array (*out). Returns the count or -1.
 * Entries evicted during the walk are skipped. */
static int prefix_read(int fd, struct kvlb_prefix_item **out)
{
	struct kvlb_prefix_item *items = NULL, *grown;
	__u64 key, next;
	void *prev = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(items, cap * sizeof(*items));
			if (!grown) {
				free(items);
				return kvlb_fail("out of memory reading %s", KVLB_MAP_PREFIX);
			}
			items = grown;
		}
		if (bpf_map_lookup_elem(fd, &key, &items[n].e)) {
			if (errno == ENOENT) /* evicted while walking */
				continue;
			free(items);
			return kvlb_fail("reading %s: %s", KVLB_MAP_PREFIX, strerror(errno));
		}
		items[n++].key = key;
		/* An LRU map can keep changing under the walk; never loop past
		 * what it can hold. */
		if (n > 2 * (size_t)KVLB_MAX_PREFIXES)
			break;
	}
	if (errno != ENOENT && n <= 2 * (size_t)KVLB_MAX_PREFIXES) {
		free(items);
		return kvlb_fail("walking %s: %s", KVLB_MAP_PREFIX, strerror(errno));
	}
	if (n)
		qsort(items, n, sizeof(*items), by_recent_use);
	*out = items;
	return (int)n;
}

/* Delete every entry. Returns the number deleted or -1. */
static int prefix_flush_all(int fd)
{
	__u64 key;
	int n = 0, rounds;

	/* Always delete the first key: the walk restarts from the top, so
	 * a deleted key never breaks it. Bounded, since the data path may be
	 * adding entries as fast as we delete them. */
	for (rounds = 0; rounds < 2 * KVLB_MAX_PREFIXES; rounds++) {
		if (bpf_map_get_next_key(fd, NULL, &key)) {
			if (errno == ENOENT)
				return n;
			return kvlb_fail("walking %s: %s", KVLB_MAP_PREFIX, strerror(errno));
		}
		if (bpf_map_delete_elem(fd, &key)) {
			if (errno == ENOENT)
				continue;
			return kvlb_fail("deleting from %s: %s", KVLB_MAP_PREFIX, strerror(errno));
		}
		n++;
	}
	return n;
}

static int prefix_fd(struct kv_ctx *c)
{
	int fd;

	if (kv_open(c))
		return -1;
	fd = prefix_open(c->pin_root);
	if (fd < 0)
		kv_fail(c, "%s", kvlb_error());
	return fd;
}

static void backend_text(struct kv_ctx *c, __u32 id, char *buf)
{
	struct kvlb_backend be;
	struct kvlb_endpoint ep;

	if (kvlb_backend_get(&c->h, id, &be) || !(be.flags & KVLB_BE_F_IN_USE)) {
		strcpy(buf, "-"); /* removed since; the data path ignores the entry */
		return;
	}
	ep.addr = be.addr;
	ep.port = ntohs(be.port);
	ep.family = be.family;
	kvlb_endpoint_format(&ep, buf, KVLB_ENDPOINT_STRLEN);
}

static int prefix_list(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_prefix_item *items;
	char bs[KVLB_ENDPOINT_STRLEN];
	__u32 limit = 0;
	struct timespec ts;
	__u64 now;
	int i, n, fd;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--limit")) {
			if (++i == argc)
				return kv_usage(c, "--limit needs a number");
			if (kv_parse_u32(c, "--limit", argv[i], 1, 0xffffffffu, &limit))
				return KV_USAGE;
		} else {
			return kv_usage(c, "unexpected argument '%s'", argv[i]);
		}
	}
	fd = prefix_fd(c);
	if (fd < 0)
		return KV_ERR;
	n = prefix_read(fd, &items);
	close(fd);
	if (n < 0)
		return kv_fail(c, "%s", kvlb_error());
	if (limit && (__u32)n > limit)
		n = (int)limit;
	/* last_use_ns is bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	if (c->json)
		json_array_start(&c->jw);
	else if (n)
		printf("%-18s %-*s %5s %10s\n", "KEY", KV_EP_COL, "BACKEND", "DEPTH", "IDLE");
	for (i = 0; i < n; i++) {
		const struct kvlb_prefix_item *it = &items[i];
		double idle = now > it->e.last_use_ns ? (now - it->e.last_use_ns) / 1e9 : 0;
		char key[19];

		snprintf(key, sizeof(key), "0x%016llx", (unsigned long long)it->key);
		backend_text(c, it->e.backend_id, bs);
		if (c->json) {
			json_object_start(&c->jw);
			json_kv_string(&c->jw, "key", key);
			json_kv_u64(&c->jw, "backend_id", it->e.backend_id);
			json_kv_string(&c->jw, "backend", bs);
			json_kv_u64(&c->jw, "depth", it->e.depth);
			json_kv_double(&c->jw, "idle_s", idle);
			json_object_end(&c->jw);
		} else {
			printf("%-18s %-*s %5u %9.1fs\n", key, KV_EP_COL, bs, it->e.depth, idle);
		}
	}
	if (c->json) {
		json_array_end(&c->jw);
		json_finish(&c->jw);
	}
	free(items);
	return KV_OK;
}

static int prefix_flush(struct kv_ctx *c, int argc, char **argv)
{
	int fd, n;

	if (argc)
		return kv_usage(c, "unexpected argument '%s'", argv[0]);
	fd = prefix_fd(c);
	if (fd < 0)
		return KV_ERR;
	n = prefix_flush_all(fd);
	close(fd);
	if (n < 0)
		return kv_fail(c, "%s", kvlb_error());
	if (c->json) {
		json_object_start(&c->jw);
		json_kv_u64(&c->jw, "removed", (__u64)n);
		json_object_end(&c->jw);
		json_finish(&c->jw);
	} else {
		printf("removed %d prefix entries\n", n);
	}
	return KV_OK;
}

static const struct kv_opt list_opts[] = {
    {"--limit", "N", "print at most N entries, most recently used first (default: all)"},
    {},
};

const struct kv_cmd kv_prefix_cmds[] = {
    {"list", "[--limit N]", "print the learned prefix table",
     "Print the prefix table, most recently used first: each key (a chain hash of a\n"
     "conversation prefix, with its model and VIP), the backend it was last sent to,\n"
     "its depth in the chain (1 = the prompt's first chunk) and how long it has been\n"
     "unused. An entry naming a removed backend prints '-' and is ignored.",
     list_opts, prefix_list, NULL},
    {"flush", "", "forget every learned prefix",
     "Delete every entry of the prefix table: new requests are placed by the ring\n"
     "(with bounded loads) until the table learns again. Prints how many entries\n"
     "were removed; entries the data path adds during the flush may remain.",
     NULL, prefix_flush, NULL},
    {},
};

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loads tests/http/http_verify.bpf.o (the parser and the HTTP-aware choice
 * compiled for BPF; loading it is the verifier's verdict on this kernel),
 * runs every sample request through it with BPF_PROG_TEST_RUN, whole and
 * in segments, and compares the parser state the kernel computed with the
 * one bpf/http.h computes in userspace, byte for byte. Then checks the
 * kernel's choice against what the maps it was given imply.
 *
 *   test_http_bpf OBJ
 *   test_http_bpf OBJ --pin-root DIR --run SAMPLE
 *
 * The second form shares the kvlb_* maps pinned under DIR (creating and
 * pinning them if absent) and leaves kvlb_config as it finds it, so a test
 * can change knobs with kvlbctl between runs and see the next request
 * parsed and placed under them. It prints one line of key=value pairs: the
 * knobs the kernel used, its chain length and choice, and the chain length
 * the userspace parser computes under the same knobs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kvlb.h"
#include "http.h"
#include "unit.h"
#include "samples.h"

/* As in http_verify.bpf.c. */
#define SEG_MAX 3000 /* what fits a test-run frame */
struct http_choice {
	__u32 ready, backend, why, runs;
};
enum {
	CHOSE_NONE = 0,
	CHOSE_PREFIX,
	CHOSE_AFFINITY,
	CHOSE_RING,
	CHOSE_OVERLOADED,
	CHOSE_NO_KEY,
	CHOSE_L4
};

#define NB 4

static int prog_fd, state_fd, choice_fd, config_fd, backends_fd, ring_fd, prefix_fd;
static struct kvlb_config cfg;

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* The verifier log matters only when the load fails; libbpf prints
	 * it at warning level then. */
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int fd_of(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -1;
}

static int reset_request(void)
{
	static struct http_state zero_st;
	struct http_choice zero_ch = {};
	__u32 zero = 0;

	if (bpf_map_update_elem(state_fd, &zero, &zero_st, BPF_ANY))
		return -1;
	return bpf_map_update_elem(choice_fd, &zero, &zero_ch, BPF_ANY);
}

/* One segment through the program. */
static int run_seg(const char *p, size_t n)
{
	unsigned char frame[14 + SEG_MAX] = {};
	LIBBPF_OPTS(bpf_test_run_opts, o);

	if (n > SEG_MAX)
		return -1;
	memcpy(frame + 14, p, n);
	frame[12] = 0x08; /* an IPv4 ethertype; the program does not look */
	o.data_in = frame;
	o.data_size_in = 14 + n;
	o.repeat = 1;
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -1;
	return o.retval == XDP_PASS ? 0 : -1;
}

/* Zero-length segments cannot be sent (the frame needs a payload byte). */
static int run_request(const struct sample *s, const size_t *cuts, int ncuts, struct http_state *st,
		       struct http_choice *ch)
{
	size_t len = sample_len(s), at = 0;
	__u32 zero = 0;
	int i;

	cfg.chunk_size = s->chunk ? s->chunk : 64;
	snprintf(cfg.affinity_header, sizeof(cfg.affinity_header), "%s",
		 s->aff ? s->aff : "x-session-id");
	if (bpf_map_update_elem(config_fd, &zero, &cfg, BPF_ANY) || reset_request())
		return -1;
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		if (end > at && run_seg(s->req + at, end - at))
			return -1;
		at = end;
	}
	if (bpf_map_lookup_elem(state_fd, &zero, st) || bpf_map_lookup_elem(choice_fd, &zero, ch))
		return -1;
	return 0;
}

static void user_parse(const struct sample *s, struct http_state *st)
{
	memset(st, 0, sizeof(*st));
	http_init(st, s->chunk ? s->chunk : 64, cfg.prefix_depth, s->aff ? s->aff : "x-session-id");
	http_feed(st, s->req, sample_len(s));
}

static void test_samples(void)
{
	struct http_state kst, ust;
	struct http_choice ch;
	int i, n = 0, bad = 0, bad_split = 0;
	size_t cuts[3];

	CASE_BEGIN();
	for (i = 0; samples[i].name; i++) {
		const struct sample *s = &samples[i];
		size_t len = sample_len(s);

		user_parse(s, &ust);
		if (run_request(s, NULL, 0, &kst, &ch)) {
			CHECK("bpf_parser_equals_user", 0, "%s: test run failed: %s", s->name,
			      strerror(errno));
			continue;
		}
		n++;
		if (memcmp(&kst, &ust, sizeof(kst)) || ch.ready != (__u32)http_ready(&ust, 8192)) {
			CHECK("bpf_parser_equals_user", 0,
			      "%s: kernel state differs (s %u/%u, flags %#x/%#x)", s->name, kst.s,
			      ust.s, kst.flags, ust.flags);
			bad++;
		}
		/* The same request in three segments, one run each. */
		cuts[0] = len / 3 ? len / 3 : 1;
		cuts[1] = 2 * len / 3 > cuts[0] ? 2 * len / 3 : cuts[0];
		if (run_request(s, cuts, 2, &kst, &ch) || memcmp(&kst, &ust, sizeof(kst)) ||
		    ch.runs < 2) {
			CHECK("bpf_parser_segments", 0, "%s: state after 3 segments differs",
			      s->name);
			bad_split++;
		}
	}
	CHECK("bpf_parser_equals_user", n == i, "only %d of %d samples ran", n, i);
	CASE_END("bpf_parser_equals_user");
	printf("# %d samples parsed in the kernel, %d differ, %d differ when segmented\n", n, bad,
	       bad_split);
	if (!bad_split)
		printf("PASS bpf_parser_segments\n");
}

static const struct sample *find(const char *name)
{
	int i;

	for (i = 0; samples[i].name; i++)
		if (!strcmp(samples[i].name, name))
			return &samples[i];
	abort();
}

static void test_choice(void)
{
	const struct sample *chat = find("chat"), *tls = find("tls_client_hello");
	struct kvlb_prefix_entry e;
	struct http_state ust, kst;
	struct http_choice ch;
	__u32 i, id, start, want;
	__u64 key;

	CASE_BEGIN();
	/* Backends 0..3 on VIP 0, a ring cycling through them. */
	for (i = 0; i < NB; i++) {
		struct kvlb_backend b = {.flags = KVLB_BE_F_IN_USE, .weight = 1, .vip_index = 0};

		bpf_map_update_elem(backends_fd, &i, &b, BPF_ANY);
	}
	for (i = 0; i < KVLB_RING_SIZE; i++) {
		id = i % NB;
		bpf_map_update_elem(ring_fd, &i, &id, BPF_ANY);
	}
	user_parse(chat, &ust);
	key = pfx_key(pfx_link(&ust.chain, pfx_len(&ust.chain) - 1), pfx_mix64(ust.model_hash), 0,
		      PFX_TAG_PROMPT);
	start = key % KVLB_RING_SIZE;
	want = start % NB;
	if (run_request(chat, NULL, 0, &kst, &ch)) {
		CHECK("bpf_choice", 0, "test run failed");
		return;
	}
	CHECK("bpf_choice",
	      ch.ready == HTTP_READY_DONE && ch.backend == want && ch.why == CHOSE_RING,
	      "ring: backend %u why %u, want %u by the ring", ch.backend, ch.why, want);
	/* It learned the first link. */
	key = pfx_key(pfx_link(&ust.chain, 0), pfx_mix64(ust.model_hash), 0, PFX_TAG_PROMPT);
	CHECK("bpf_choice", !bpf_map_lookup_elem(prefix_fd, &key, &e) && e.backend_id == want,
	      "link 1 not learned");
	/* The same request again, with the ring now pointing elsewhere:
	 * the prefix table keeps it where it was. */
	for (i = 0; i < KVLB_RING_SIZE; i++) {
		id = (want + 1) % NB;
		bpf_map_update_elem(ring_fd, &i, &id, BPF_ANY);
	}
	if (!run_request(chat, NULL, 0, &kst, &ch))
		CHECK("bpf_choice", ch.backend == want && ch.why == CHOSE_PREFIX,
		      "again: backend %u why %u, want %u by prefix", ch.backend, ch.why, want);
	if (!run_request(tls, NULL, 0, &kst, &ch))
		CHECK("bpf_choice", ch.why == CHOSE_L4 && ch.backend < NB, "TLS: why %u backend %u",
		      ch.why, ch.backend);
	CASE_END("bpf_choice");
}

/* Backends 0..NB-1 on VIP 0 (203.0.113.10+i:8000) and a ring over them,
 * unless backend 0 is already there. */
static void ensure_backends(void)
{
	struct kvlb_backend b;
	__u32 i, id;

	if (!bpf_map_lookup_elem(backends_fd, &(__u32){0}, &b) && (b.flags & KVLB_BE_F_IN_USE))
		return;
	for (i = 0; i < NB; i++) {
		memset(&b, 0, sizeof(b));
		b.flags = KVLB_BE_F_IN_USE;
		b.weight = 1;
		b.family = KVLB_AF_INET;
		b.addr.v4 = htonl(0xcb00710a + i); /* 203.0.113.10 + i */
		b.port = htons(8000);
		bpf_map_update_elem(backends_fd, &i, &b, BPF_ANY);
	}
	for (i = 0; i < KVLB_RING_SIZE; i++) {
		id = i % NB;
		bpf_map_update_elem(ring_fd, &i, &id, BPF_ANY);
	}
}

/* --run: one sample under the pinned knobs. */
static int run_pinned(const char *name)
{
	const struct sample *s = NULL;
	struct http_state kst, ust;
	struct http_choice ch;
	__u32 zero = 0;
	int i;

	for (i = 0; samples[i].name; i++)
		if (!strcmp(samples[i].name, name))
			s = &samples[i];
	if (!s) {
		fprintf(stderr, "no sample named '%s'\n", name);
		return 2;
	}
	if (bpf_map_lookup_elem(config_fd, &zero, &cfg) || !cfg.chunk_size) {
		fprintf(stderr, "kvlb_config is unset under the pin root\n");
		return 1;
	}
	ensure_backends();
	if (reset_request())
		return 1;
	if (run_seg(s->req, sample_len(s)) || bpf_map_lookup_elem(state_fd, &zero, &kst) ||
	    bpf_map_lookup_elem(choice_fd, &zero, &ch)) {
		fprintf(stderr, "test run failed: %s\n", strerror(errno));
		return 1;
	}
	memset(&ust, 0, sizeof(ust));
	http_init(&ust, cfg.chunk_size, cfg.prefix_depth, cfg.affinity_header);
	http_feed(&ust, s->req, sample_len(s));
	printf("chunk_size=%u prefix_depth=%u links=%u user_links=%u same_state=%d ready=%u "
	       "backend=%u why=%u\n",
	       kst.chain.chunk_size, kst.chain.depth_max, pfx_len(&kst.chain), pfx_len(&ust.chain),
	       !memcmp(&kst, &ust, sizeof(kst)), ch.ready, ch.backend, ch.why);
	return 0;
}

int main(int argc, char **argv)
{
	const char *pin_root = NULL, *run = NULL;
	struct bpf_object *obj;
	struct bpf_program *p;
	struct bpf_map *m;
	char path[512];

	if (argc == 6 && !strcmp(argv[2], "--pin-root") && !strcmp(argv[4], "--run")) {
		pin_root = argv[3];
		run = argv[5];
	} else if (argc != 2) {
		fprintf(stderr, "usage: %s http_verify.bpf.o [--pin-root DIR --run SAMPLE]\n",
			argv[0]);
		return 2;
	}
	libbpf_set_print(libbpf_quiet);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		printf("FAIL bpf_parser_verifier: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* The test's maps are its own, never kvlbd's pinned ones; with
	 * --pin-root, the kvlb_* maps under that directory. */
	bpf_object__for_each_map(m, obj)
	{
		if (pin_root && !strncmp(bpf_map__name(m), "kvlb_", 5)) {
			snprintf(path, sizeof(path), "%s/%s", pin_root, bpf_map__name(m));
			bpf_map__set_pin_path(m, path);
		} else {
			bpf_map__set_pin_path(m, NULL);
		}
	}
	if (bpf_object__load(obj)) {
		printf("FAIL bpf_parser_verifier: the program was rejected (log above)\n");
		return 1;
	}
	if (!run)
		printf("PASS bpf_parser_verifier\n");
	p = bpf_object__find_program_by_name(obj, "http_feed");
	prog_fd = p ? bpf_program__fd(p) : -1;
	state_fd = fd_of(obj, "http_state_map");
	choice_fd = fd_of(obj, "http_choice");
	config_fd = fd_of(obj, "kvlb_config");
	backends_fd = fd_of(obj, "kvlb_backends");
	ring_fd = fd_of(obj, "kvlb_ring");
	prefix_fd = fd_of(obj, "kvlb_prefix");
	if (prog_fd < 0 || state_fd < 0 || choice_fd < 0 || config_fd < 0 || backends_fd < 0 ||
	    ring_fd < 0 || prefix_fd < 0) {
		printf("FAIL bpf_parser_verifier: program or maps missing from the object\n");
		return 1;
	}
	if (run) {
		int rc = run_pinned(run);

		bpf_object__close(obj);
		return rc;
	}
	cfg.prefix_depth = 16;
	cfg.hold_limit = 8192;
	cfg.load_bound_pct = KVLB_DEF_LOAD_BOUND_PCT;
	cfg.walk_limit = KVLB_DEF_WALK_LIMIT;
	cfg.load_slack = KVLB_DEF_LOAD_SLACK;
	test_samples();
	test_choice();
	bpf_object__close(obj);
	return unit_failed;
}

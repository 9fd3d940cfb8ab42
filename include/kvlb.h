/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kvlb.h - the one definition of every structure that the BPF programs and
 * userspace (kvlbd, kvlbctl, tests) both read.
 *
 * Included by BPF code (after vmlinux.h) and by userspace (after
 * <linux/types.h>). Layouts are fixed-size and padding-free; sizes are
 * checked below so a change on one side cannot silently break the other.
 * A layout change of a pinned map must bump KVLB_MAP_ABI, which is part of
 * the pin directory's marker so an old pinned map is never misread.
 */
#ifndef KVLB_H
#define KVLB_H

#include <linux/types.h>

/* Bumped whenever a pinned map's key or value layout changes. */
#define KVLB_MAP_ABI 4

/* Default directory where kvlbd pins maps (a bpffs mount). */
#define KVLB_PIN_ROOT "/sys/fs/bpf/kvlb"

/* Pinned map names (the file names under the pin root). */
#define KVLB_MAP_VIPS	      "kvlb_vips"
#define KVLB_MAP_BACKENDS     "kvlb_backends"
#define KVLB_MAP_RING	      "kvlb_ring"
#define KVLB_MAP_FLOWS	      "kvlb_flows"
#define KVLB_MAP_NAT_REV      "kvlb_nat_rev"
#define KVLB_MAP_STATS	      "kvlb_stats"
#define KVLB_MAP_CONFIG	      "kvlb_config"
#define KVLB_MAP_BACKEND_LOAD "kvlb_backend_load"
/* VIPs per destination port (array indexed by the port, host order): the
 * low 16 bits count every VIP on the port, the high 16 its HTTP VIPs. */
#define KVLB_MAP_VIP_PORTS "kvlb_vip_ports"
#define KVLB_PORT_VIPS(v)  ((v)&0xffffu)
#define KVLB_PORT_HTTP(v)  ((v) >> 16)
#define KVLB_PORT_HTTP_ONE (1u << 16)
/* What one VIP with these kvlb_vip.flags adds to its port's entry. */
#define KVLB_PORT_ONE(flags) (1u + ((flags)&KVLB_VIP_F_HTTP ? KVLB_PORT_HTTP_ONE : 0))
/* The XDP program kvlbd attached, pinned so a restart knows it is its own. */
#define KVLB_PROG_XDP_PIN "kvlb_xdp_prog"
#define KVLB_MAP_PREFIX	  "kvlb_prefix"
/* Delayed binding (HTTP VIPs): connection state, held request fronts, the
 * SYN-cookie key, and the all-zero template a new hold entry starts from. */
#define KVLB_MAP_SPLICE	   "kvlb_splice"
#define KVLB_MAP_HOLD	   "kvlb_hold"
#define KVLB_MAP_SECRET	   "kvlb_secret"
#define KVLB_MAP_HOLD_ZERO "kvlb_hold_zero"

/* Hard limits. Changing one changes a map size: bump KVLB_MAP_ABI. */
#define KVLB_MAX_VIPS	  64	 /* service addresses balanced by one node */
#define KVLB_MAX_BACKENDS 1024	 /* backend slots, shared by all VIPs */
#define KVLB_RING_SIZE	  16381	 /* Maglev table per VIP: a prime > 100 x backends per VIP */
#define KVLB_MAX_FLOWS	  262144 /* LRU flow entries (each direction) */
#define KVLB_MAX_PREFIXES 65536	 /* LRU prefix-table entries (chain hash -> backend) */
#define KVLB_MAX_HOLDS	  4096	 /* connections holding a request front at once */
#define KVLB_HOLD_BUF	  18432	 /* bytes a hold entry keeps: hold limit + one segment */

/* The most request bytes one segment of a replay to a pod carries (see
 * SPLICE_REPLAY_SEG in bpf/splice_pod.h for why it is below an MSS). */
#define KVLB_REPLAY_SEG 512
/* SYNs kvlb sends a pod for one connection before it resets the client. */
#define KVLB_POD_SYN_TRIES 6

/*
 * Each VIP owns two ring slots; kvlbd/kvlbctl write a new ring into the
 * slot not in use and then flip kvlb_vip.ring_slot in one map update, so
 * the data path never sees a half-written ring.
 */
#define KVLB_RING_SLOTS	  (KVLB_MAX_VIPS * 2)
#define KVLB_RING_ENTRIES (KVLB_RING_SLOTS * KVLB_RING_SIZE)

/* Ring entry meaning "no backend" (empty VIP, or all backends drained). */
#define KVLB_NO_BACKEND 0xffffffffu

/* Address family tags used in keys (AF_INET/AF_INET6 values, fixed here
 * so BPF code does not need libc headers). */
#define KVLB_AF_INET  2
#define KVLB_AF_INET6 10

/*
 * An address of either family. IPv4 lives in the first word, the rest zero,
 * so one key layout serves both families.
 */
struct kvlb_addr {
	union {
		__u32 v4;
		__u32 v6[4];
	};
};

/* kvlb_vips key: a service address. Ports are in network byte order. */
struct kvlb_vip_key {
	struct kvlb_addr addr;
	__be16 port;
	__u8 proto;  /* IPPROTO_TCP */
	__u8 family; /* KVLB_AF_INET or KVLB_AF_INET6 */
};

/* kvlb_vip.flags */
#define KVLB_VIP_F_HTTP (1u << 0) /* HTTP-aware choice (else plain L4 hash) */

/* kvlb_vips value. */
struct kvlb_vip {
	__u32 index;	  /* 0 .. KVLB_MAX_VIPS-1, names this VIP's ring slots */
	__u32 ring_slot;  /* ring in use: index * 2 + (0 or 1) */
	__u32 flags;	  /* KVLB_VIP_F_* */
	__u32 n_backends; /* backends in the active ring (for display) */
};

/* kvlb_backend.flags */
#define KVLB_BE_F_IN_USE   (1u << 0) /* slot holds a backend */
#define KVLB_BE_F_DRAINING (1u << 1) /* no new flows; existing ones finish */
#define KVLB_BE_F_DOWN	   (1u << 2) /* unhealthy: no new flows */

/* kvlb_backends value, indexed by backend id (array). */
struct kvlb_backend {
	struct kvlb_addr addr;
	__be16 port;
	__u8 family;
	__u8 pad;
	__u32 vip_index; /* the VIP this backend serves */
	__u32 weight;	 /* relative share of new flows; 0 = none */
	__u32 flags;	 /* KVLB_BE_F_* */
};

/* kvlb_flows key (forward: client -> VIP) and kvlb_nat_rev key (reverse:
 * backend -> client). Ports in network byte order. */
struct kvlb_flow_key {
	struct kvlb_addr src;
	struct kvlb_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

/*
 * Where a forwarded frame leaves, learned from a FIB lookup on a flow's first
 * packets and kept with the flow: a FIB lookup per packet would cost more
 * than the rest of the fast path together, and a connection's next hop
 * outlives it (a pod that moves gets new connections).
 */
struct kvlb_nexthop {
	__u32 ifindex; /* 0: not learned yet (neighbour unresolved) */
	__u8 dmac[6];
	__u8 smac[6];
};

/* kvlb_flows value: where an established client connection goes. */
struct kvlb_flow {
	__u32 backend_id;
	__u32 vip_index;
	__u64 placed_ns;	/* CLOCK_MONOTONIC (coarse) when the flow was placed; no
				 * per-packet time: reading a clock costs a fifth of the
				 * fast path, and the LRU evicts idle flows */
	struct kvlb_nexthop nh; /* towards the backend */
};

/* kvlb_nat.flags */
#define KVLB_NAT_F_SPLICE (1u << 0) /* a delayed-binding connection: see kvlb_splice */

/* kvlb_nat_rev value: what the backend's replies must look like. */
struct kvlb_nat {
	struct kvlb_addr vip;
	__be16 vip_port;
	__u8 flags; /* KVLB_NAT_F_* */
	__u8 pad;
	__u32 backend_id;
	struct kvlb_nexthop nh; /* towards the client */
};

/* kvlb_splice.state: a connection to an HTTP VIP, after the SYN cookie. */
#define KVLB_SP_HOLD	   1 /* reading the request front; kvlb answers the client */
#define KVLB_SP_CONNECTING 2 /* SYN sent to the chosen pod */
#define KVLB_SP_REPLAYING  3 /* pod answered; held bytes sent, not all acknowledged */
#define KVLB_SP_SPLICED	   4 /* both halves joined; every packet translated */
#define KVLB_SP_CLOSED	   5 /* FIN seen both ways; kvlbd removes it after a grace time */

/* kvlb_splice.flags: what the client's SYN offered (kvlb honours it). */
#define KVLB_SP_F_TS	 (1u << 0) /* timestamps */
#define KVLB_SP_F_SACK	 (1u << 1) /* SACK permitted */
#define KVLB_SP_F_WS	 (1u << 2) /* window scaling */
#define KVLB_SP_F_S_NOWS (1u << 5) /* the pod declined window scaling */
#define KVLB_SP_F_DONE	 (1u << 6) /* its cost was returned (done_tokens) */

/* The window scale kvlb announces to clients (Linux's usual). */
#define KVLB_SP_WSCALE 7

/*
 * kvlb_splice value (LRU hash keyed by the client -> VIP kvlb_flow_key).
 * The pod's half is opened with the client's own ISN, so client sequence
 * numbers pass unchanged; only the pod's sequence space (seq_delta), its
 * timestamp clock (ts_delta) and its window scale are translated.
 */
struct kvlb_splice {
	__u8 state;    /* KVLB_SP_* */
	__u8 flags;    /* KVLB_SP_F_* */
	__u8 c_wscale; /* the client's window shift */
	__u8 s_wscale; /* the pod's window shift */
	__u16 c_mss;   /* the client's MSS */
	__u8 tries;    /* SYNs sent to the pod */
	/* FIN seen from each side: a byte each, as XDP and TC write them at
	 * once on different CPUs (bits of one byte would lose an update) */
	__u8 fin_c;
	__u8 fin_s;
	__u8 pad;
	__u16 resent_from; /* held offset the latest resend to the pod started at */
	__u32 resent_at;   /* coarse clock of that resend, in 2^20 ns */
	__u32 c_isn;	   /* the client's initial sequence number */
	__u32 our_isn;	   /* the cookie: kvlb's ISN towards the client */
	__u32 seq_delta;   /* pod seq + seq_delta = seq the client sees */
	__u32 ts_ours;	   /* the timestamp kvlb sent the client */
	__u32 ts_delta;	   /* pod tsval + ts_delta = tsval the client sees */
	__u32 ts_recent;   /* the client's latest tsval */
	__u32 held;	   /* request bytes held, from c_isn + 1 */
	__u32 acked;	   /* of them, acknowledged to the client by kvlb */
	__u32 backend_id;  /* chosen pod (KVLB_NO_BACKEND while holding) */
	__u32 vip_index;
	__u16 c_win;		/* the client's latest window field */
	__u16 s_mss;		/* the pod's MSS */
	__u64 last_ns;		/* coarse clock of the latest packet */
	struct kvlb_nexthop nh; /* towards the pod */
	__u32 s_ack;		/* the pod's latest ACK while replaying */
	__u32 cost;		/* what the request added to its backend's bound_tokens */
	__u64 bound_scrape_ns;	/* the backend's scrape_ns when it was bound */
};

/* kvlb_secret value: the SYN-cookie key, drawn by kvlbd at start. */
struct kvlb_secret {
	__u64 k0;
	__u64 k1;
};

/*
 * Prompt-size histogram buckets (kvlb_backend_load.prompt_hist). Bucket b
 * counts prompts of [2^(b+6), 2^(b+7)) tokens; bucket 0 also takes every
 * prompt under 64 tokens and bucket 15 every prompt of 2^21 tokens or more.
 */
#define KVLB_PROMPT_HIST_BUCKETS 16

/*
 * kvlb_backend_load value (array indexed by backend id, like kvlb_backends).
 *
 * Who writes what:
 *  - kvlbd's scraper writes running, waiting, kv_usage_ppm,
 *    bytes_per_token_x100, load_score, scrape_ns and prompt_hist from the
 *    backend's /metrics, and resets bound_tokens to 0 on each scrape (the
 *    scraped figures now include what was bound before).
 *  - The data path only adds to bound_tokens (__sync_fetch_and_add) the
 *    estimated cost of each request it binds, so a burst between two scrapes
 *    is visible at once; and, when a delayed-binding connection bound since
 *    that scrape closes, adds its cost to done_tokens: a finished request is
 *    no load. The scraper resets both.
 *  - The choice reads load_score + bound_tokens - done_tokens (never below
 *    load_score) as the backend's load.
 */
struct kvlb_backend_load {
	__u32 running;		    /* requests being decoded */
	__u32 waiting;		    /* requests queued */
	__u32 kv_usage_ppm;	    /* KV-cache usage, parts per million */
	__u32 bytes_per_token_x100; /* request bytes per prompt token, x100 (0 = unknown) */
	__u64 load_score;	    /* scraped load in token units */
	__u64 bound_tokens;	    /* token units bound by the data path since scrape_ns */
	__u64 scrape_ns;	    /* CLOCK_MONOTONIC time of the last good scrape; 0 = never */
	__u64 prompt_hist[KVLB_PROMPT_HIST_BUCKETS]; /* prompts per size bucket */
	__u64 done_tokens; /* of bound_tokens, the part whose connections have closed */
};

/* kvlb_prefix key is the __u64 chain hash (see bpf/prefix.h); value: */
struct kvlb_prefix_entry {
	__u32 backend_id;  /* where the chain was last sent */
	__u32 depth;	   /* 1-based chunk index of this chain hash */
	__u64 last_use_ns; /* bpf_ktime_get_ns() of the last match or insert */
};

/* kvlb_config.flags */
#define KVLB_CFG_F_NO_PREFIX   (1u << 0) /* ignore the prefix table: ring only */
#define KVLB_CFG_F_NO_AFFINITY (1u << 1) /* ignore prompt_cache_key and the header */
/* Bounded loads count requests (running + waiting + bound), each request
 * costing one, instead of weighing them by their estimated tokens. */
#define KVLB_CFG_F_COUNT_LOAD (1u << 2)
/* In request-count mode the slack is load_slack / this (2048 -> 2 requests). */
#define KVLB_COUNT_SLACK_DIV 1024

/* Knob defaults, written by kvlbd when the config entry is all zero. */
#define KVLB_DEF_CHUNK_SIZE	 256  /* bytes of raw JSON per chunk */
#define KVLB_DEF_PREFIX_DEPTH	 16   /* chain hashes kept per request */
#define KVLB_DEF_HOLD_LIMIT	 8192 /* bytes held before choosing anyway */
#define KVLB_DEF_LOAD_BOUND_PCT	 130  /* c = 1.30 */
#define KVLB_DEF_WALK_LIMIT	 8    /* ring positions tried on a miss */
#define KVLB_DEF_LOAD_SLACK	 2048 /* token units: about one long prompt */
#define KVLB_DEF_AFFINITY_HEADER "x-session-id"
/* Loads bounded by request counts: the higher hit rate on every workload
 * measured (bpf/DESIGN.md, "Requests or tokens"); 'size on' weighs tokens. */
#define KVLB_DEF_FLAGS KVLB_CFG_F_COUNT_LOAD

/* Knob limits (kvlbctl refuses values outside, the data path clamps). */
#define KVLB_CHUNK_MIN	      16
#define KVLB_CHUNK_MAX	      4096
#define KVLB_PREFIX_DEPTH_MAX 32
#define KVLB_HOLD_MIN	      512
#define KVLB_HOLD_MAX	      16384 /* KVLB_HOLD_BUF less the largest segment */
#define KVLB_LOAD_BOUND_MIN   100
#define KVLB_LOAD_BOUND_MAX   10000
#define KVLB_WALK_MAX	      32
#define KVLB_LOAD_SLACK_MAX   (1u << 30)
#define KVLB_AFFINITY_HDR_MAX 32 /* bytes, including the terminating NUL */

/* kvlb_config (array, one entry): live tunables, edited by kvlbctl. */
struct kvlb_config {
	__u32 reserved0;      /* 0; idle flows leave the LRU, nothing times them out */
	__u32 chunk_size;     /* bytes per prefix-chain chunk */
	__u32 prefix_depth;   /* chain hashes computed and looked up, <= 32 */
	__u32 hold_limit;     /* bytes of request held before choosing anyway */
	__u32 load_bound_pct; /* c x 100: skip a backend above c x mean load */
	__u32 walk_limit;     /* ring positions tried on a prefix miss */
	__u32 flags;	      /* KVLB_CFG_F_* */
	__u32 load_slack;     /* token units a backend may exceed c x mean by */
	char affinity_header[KVLB_AFFINITY_HDR_MAX]; /* lower case, NUL-terminated; "" = none */
};

/*
 * Counters, one per outcome. KVLB_STATS_FIELDS(X) lists each as
 * X(name, description) so userspace prints names and help text from the same
 * list the struct is made of.
 */
#define KVLB_STATS_FIELDS(X)                                                                       \
	/* XDP on the uplink: client -> VIP */                                                     \
	X(xdp_rx, "packets seen by the XDP program")                                               \
	X(xdp_not_ip, "not IPv4/IPv6: passed untouched")                                           \
	X(xdp_not_vip, "not for a VIP: passed untouched")                                          \
	X(xdp_new_flow, "new flows placed on a backend")                                           \
	X(xdp_forwarded, "rewritten and redirected to a backend by XDP")                           \
	X(xdp_forwarded_stack, "rewritten and handed to the stack (no neighbour/route)")           \
	X(xdp_no_backend, "for a VIP without a usable backend: dropped")                           \
	X(xdp_stale_backend, "flow whose backend was removed: placed again")                       \
	X(xdp_malformed, "truncated or invalid headers: dropped")                                  \
	X(xdp_fragment, "IP fragments: not balanced, passed to the stack")                         \
	X(xdp_ip_options, "IPv4 packets with options to a VIP (balanced)")                         \
	X(xdp_vlan, "VLAN-tagged packets to a VIP (tag removed on forwarding)")                    \
	X(xdp_bytes, "bytes of packets forwarded to backends")                                     \
	/* TC on pod-facing interfaces: backend -> client */                                       \
	X(tc_rx, "packets seen by the TC program")                                                 \
	X(tc_rev_nat, "backend replies rewritten to come from the VIP")                            \
	X(tc_redirected, "rewritten replies redirected to the uplink")                             \
	X(tc_passed, "not a balanced flow: passed untouched")                                      \
	X(tc_malformed, "truncated or invalid headers: passed untouched")                          \
	X(tc_bytes, "bytes of rewritten replies")                                                  \
	/* HTTP-aware choice (bpf/choose.h) */                                                     \
	X(http_prefix_hit, "requests placed by their longest prefix-table match")                  \
	X(http_affinity, "requests placed by prompt_cache_key or the affinity header")             \
	X(http_ring, "requests placed by the ring walk after a prefix miss")                       \
	X(http_overloaded, "requests whose candidates were all over the load bound")               \
	X(http_no_key, "HTTP requests without a prompt or key: placed by the L4 hash")             \
	X(http_fallback_l4, "not a parseable HTTP/1.1 request: placed by the L4 hash")             \
	/* Delayed binding (HTTP VIPs) */                                                          \
	X(sp_cookie_sent, "SYNs answered with a SYN cookie")                                       \
	X(sp_cookie_ok, "handshakes completed by a valid cookie")                                  \
	X(sp_cookie_bad, "ACKs without a connection and a wrong cookie: reset")                    \
	X(sp_held_segments, "request segments held while reading the front")                       \
	X(sp_held_bytes, "request bytes held")                                                     \
	X(sp_acks_sent, "ACKs kvlb sent for held segments")                                        \
	X(sp_out_of_order, "held-phase segments not next in sequence: dropped")                    \
	X(sp_hold_full, "connections refused because every hold slot was taken: reset")            \
	X(sp_hold_nomem, "hold slots the kernel could not allocate: dropped, the client resends")  \
	X(sp_hold_lost, "connections whose held bytes were gone (swept): reset")                   \
	X(sp_bound, "connections bound to a pod (SYN sent)")                                       \
	X(sp_syn_retries, "SYNs sent to a pod again")                                              \
	X(sp_pod_timeout, "pods that never answered the SYN: client reset")                        \
	X(sp_pod_reset, "pods that refused the connection: client reset")                          \
	X(sp_replayed_bytes, "held bytes replayed to pods")                                        \
	X(sp_resent_bytes, "held bytes sent again to a pod that missed them")                      \
	X(sp_resend_held, "pod duplicate ACKs asking again too soon for the same held bytes")      \
	X(sp_xlate_c2s, "client packets translated onto the pod's half")                           \
	X(sp_xlate_s2c, "pod packets translated onto the client's half")                           \
	X(sp_closed, "connections torn down by FIN or RST")                                        \
	X(sp_unsupported, "HTTP-VIP packets kvlb cannot splice (IPv4 options): dropped")

/* kvlb_stats (per-CPU array, one entry). Named fields, so `bpftool map dump`
 * prints every counter by name. */
struct kvlb_stats {
#define KVLB_X_FIELD(name, desc) __u64 name;
	KVLB_STATS_FIELDS(KVLB_X_FIELD)
#undef KVLB_X_FIELD
	__u64 reserved[10]; /* room for new counters without a layout change */
};

/* Number of named counters (reserved words excluded). */
#define KVLB_X_COUNT(name, desc) +1
#define KVLB_STATS_NAMED	 (0 KVLB_STATS_FIELDS(KVLB_X_COUNT))

_Static_assert(sizeof(struct kvlb_addr) == 16, "kvlb_addr layout");
_Static_assert(sizeof(struct kvlb_vip_key) == 20, "kvlb_vip_key layout");
_Static_assert(sizeof(struct kvlb_vip) == 16, "kvlb_vip layout");
_Static_assert(sizeof(struct kvlb_backend) == 32, "kvlb_backend layout");
_Static_assert(sizeof(struct kvlb_flow_key) == 40, "kvlb_flow_key layout");
_Static_assert(sizeof(struct kvlb_nexthop) == 16, "kvlb_nexthop layout");
_Static_assert(sizeof(struct kvlb_flow) == 32, "kvlb_flow layout");
_Static_assert(sizeof(struct kvlb_nat) == 40, "kvlb_nat layout");
_Static_assert(sizeof(struct kvlb_config) == 64, "kvlb_config layout");
_Static_assert(sizeof(struct kvlb_backend_load) == 176, "kvlb_backend_load layout");
_Static_assert(sizeof(struct kvlb_prefix_entry) == 16, "kvlb_prefix_entry layout");
_Static_assert(sizeof(struct kvlb_stats) == 56 * 8, "kvlb_stats layout");
_Static_assert(sizeof(struct kvlb_splice) == 104, "kvlb_splice layout");
_Static_assert(sizeof(struct kvlb_secret) == 16, "kvlb_secret layout");

#endif /* KVLB_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kvlbctl's command table and the helpers every command file shares.
 *
 * Commands are declared, not hand-parsed in main(): each object (vip,
 * backend, flows, stats) lists its verbs with their synopsis, help text and
 * options, and the usage messages and --help at every level are generated
 * from that table, so they cannot drift from what is accepted.
 */
#ifndef KVLBCTL_H
#define KVLBCTL_H

/* Column of an ADDR:PORT in tables: an IPv4 endpoint or a short IPv6 one
 * ("[2001:db8:b::11]:8000"); longer ones push the rest of their line. */
#define KV_EP_COL 22

#include <stdbool.h>
#include "endpoint.h"
#include "json.h"
#include "maps.h"

/* Exit codes (documented in kvlbctl(8)). */
#define KV_OK	 0
#define KV_ERR	 1 /* the command failed: maps missing, no such VIP, ... */
#define KV_USAGE 2 /* the command line is wrong */

struct kv_ctx {
	bool json;
	bool pretty;
	const char *pin_root;
	char path[64]; /* "backend add": names the command in messages */
	struct json jw;
	struct kvlb_handle h;
	bool open;
};

struct kv_opt {
	const char *name; /* "--limit" */
	const char *arg;  /* "N", or NULL for a flag */
	const char *help;
};

struct kv_cmd {
	const char *name;
	const char *synopsis;	   /* arguments after the name */
	const char *summary;	   /* one line, for the parent's list */
	const char *help;	   /* full description, for this command's --help */
	const struct kv_opt *opts; /* ends with a zeroed entry; may be NULL */
	/* argv holds only the arguments after the command name. */
	int (*run)(struct kv_ctx *c, int argc, char **argv);
	const struct kv_cmd *sub; /* verbs, ending with a zeroed entry */
};

extern const struct kv_cmd kv_vip_cmds[];
extern const struct kv_cmd kv_backend_cmds[];
extern const struct kv_cmd kv_config_cmds[];
extern const struct kv_cmd kv_prefix_cmds[];
/* The knob list of 'config set --help', printed from the knob table. */
void kv_knobs_help(FILE *f);
int kv_flows(struct kv_ctx *c, int argc, char **argv);
int kv_conns(struct kv_ctx *c, int argc, char **argv);
int kv_stats(struct kv_ctx *c, int argc, char **argv);
int kv_load(struct kv_ctx *c, int argc, char **argv);
int kv_hist(struct kv_ctx *c, int argc, char **argv);

/* Report a command-line error; returns KV_USAGE. */
int kv_usage(struct kv_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report a failure; returns KV_ERR. */
int kv_fail(struct kv_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report a successful edit that prints nothing ("null" in JSON mode). */
int kv_done(struct kv_ctx *c);

/* Open the pinned maps (reports the failure itself). Returns 0 or KV_ERR. */
int kv_open(struct kv_ctx *c);

/* Argument parsers: each reports a usage error naming what and returns
 * non-zero on bad input. */
int kv_parse_endpoint(struct kv_ctx *c, const char *what, const char *s, struct kvlb_endpoint *ep);
int kv_parse_u32(struct kv_ctx *c, const char *what, const char *s, __u32 min, __u32 max,
		 __u32 *out);

#endif

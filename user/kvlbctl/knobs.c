// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kvlbctl policy show|set|reset: the data path's live tunables (the one
 * kvlb_config entry). Knobs are declared once below; show, set, the help and
 * the limits all come from that table.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kvlbctl.h"

enum knob_type {
	KNOB_U32,      /* a whole number in [min, max] */
	KNOB_X100,     /* a decimal with two places, stored times 100 */
	KNOB_OFF_FLAG, /* on|off, stored as a flag that turns it off */
	KNOB_HEADER,   /* an HTTP header name, stored lower case; "none" = "" */
};

struct knob {
	const char *name;
	enum knob_type type;
	size_t off;	/* of the __u32 or string in struct kvlb_config */
	__u32 min, max; /* KNOB_U32, KNOB_X100 (stored units) */
	__u32 flag;	/* KNOB_OFF_FLAG */
	const char *help;
};

#define OFF(f) offsetof(struct kvlb_config, f)

static const struct knob knobs[] = {
    {"chunk_size", KNOB_U32, OFF(chunk_size), KVLB_CHUNK_MIN, KVLB_CHUNK_MAX, 0,
     "bytes of request body per prefix-chain chunk"},
    {"prefix_depth", KNOB_U32, OFF(prefix_depth), 1, KVLB_PREFIX_DEPTH_MAX, 0,
     "prefix-chain hashes computed and looked up per request"},
    {"hold_limit", KNOB_U32, OFF(hold_limit), KVLB_HOLD_MIN, KVLB_HOLD_MAX, 0,
     "bytes of a request held back before choosing a backend anyway"},
    {"load_bound", KNOB_X100, OFF(load_bound_pct), KVLB_LOAD_BOUND_MIN, KVLB_LOAD_BOUND_MAX, 0,
     "c: a backend loaded above c x the mean is skipped for the next on the ring"},
    {"load_slack", KNOB_U32, OFF(load_slack), 0, KVLB_LOAD_SLACK_MAX, 0,
     "token units a backend may exceed c x the mean by before it is skipped"},
    {"walk_limit", KNOB_U32, OFF(walk_limit), 1, KVLB_WALK_MAX, 0,
     "ring positions tried for a backend under the load bound"},
    {"prefix", KNOB_OFF_FLAG, OFF(flags), 0, 0, KVLB_CFG_F_NO_PREFIX,
     "on: send a request where its longest known prompt prefix went"},
    {"affinity", KNOB_OFF_FLAG, OFF(flags), 0, 0, KVLB_CFG_F_NO_AFFINITY,
     "on: keep a session (prompt_cache_key or the affinity header) on one backend"},
    {"size", KNOB_OFF_FLAG, OFF(flags), 0, 0, KVLB_CFG_F_COUNT_LOAD,
     "on: weigh a request by its estimated tokens; off: bound request counts"},
    {"affinity_header", KNOB_HEADER, OFF(affinity_header), 0, KVLB_AFFINITY_HDR_MAX - 1, 0,
     "request header naming a session, or none"},
};

#define N_KNOBS (sizeof(knobs) / sizeof(knobs[0]))

static __u32 *u32_of(struct kvlb_config *c, const struct knob *k)
{
	return (__u32 *)((char *)c + k->off);
}

static const struct knob *find_knob(const char *name)
{
	size_t i;

	for (i = 0; i < N_KNOBS; i++)
		if (!strcmp(knobs[i].name, name))
			return &knobs[i];
	return NULL;
}

/* The value as `policy set` accepts it back. */
static void knob_format(const struct kvlb_config *c, const struct knob *k, char *buf, size_t len)
{
	__u32 v = *u32_of((struct kvlb_config *)c, k);

	switch (k->type) {
	case KNOB_U32:
		snprintf(buf, len, "%u", v);
		break;
	case KNOB_X100:
		snprintf(buf, len, "%u.%02u", v / 100, v % 100);
		break;
	case KNOB_OFF_FLAG:
		snprintf(buf, len, "%s", v & k->flag ? "off" : "on");
		break;
	case KNOB_HEADER:
		snprintf(buf, len, "%.*s", KVLB_AFFINITY_HDR_MAX - 1,
			 c->affinity_header[0] ? c->affinity_header : "none");
		break;
	}
}

static void knob_json(struct json *j, const struct kvlb_config *c, const struct knob *k)
{
	__u32 v = *u32_of((struct kvlb_config *)c, k);
	char buf[KVLB_AFFINITY_HDR_MAX];

	json_name(j, k->name);
	switch (k->type) {
	case KNOB_U32:
		json_u64(j, v);
		break;
	case KNOB_X100:
		json_double(j, v / 100.0);
		break;
	case KNOB_OFF_FLAG:
		json_bool(j, !(v & k->flag));
		break;
	case KNOB_HEADER:
		snprintf(buf, sizeof(buf), "%.*s", KVLB_AFFINITY_HDR_MAX - 1, c->affinity_header);
		json_string(j, buf);
		break;
	}
}

/* "1.25" -> 125, exactly: no floating point, at most two decimals. */
static int parse_x100(const char *s, __u32 *out)
{
	unsigned long whole, frac = 0;
	const char *p = s;
	char *end;
	int digits = 0;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	whole = strtoul(p, &end, 10);
	if (errno || whole > 0xffffffffu / 100)
		return -1;
	p = end;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9' && digits < 2; p++, digits++)
			frac = frac * 10 + (unsigned long)(*p - '0');
		if (digits == 0)
			return -1;
		if (digits == 1)
			frac *= 10;
	}
	if (*p)
		return -1;
	*out = (__u32)(whole * 100 + frac);
	return 0;
}

static int knob_set(struct kv_ctx *c, struct kvlb_config *cfg, const struct knob *k,
		    const char *val)
{
	__u32 *p = u32_of(cfg, k), v;
	size_t i, n;

	switch (k->type) {
	case KNOB_U32:
		return kv_parse_u32(c, k->name, val, k->min, k->max, p);
	case KNOB_X100:
		if (parse_x100(val, &v))
			return kv_usage(c, "%s '%s' is not a number with at most two decimals",
					k->name, val);
		if (v < k->min || v > k->max)
			return kv_usage(c, "%s %s is out of range %u.%02u..%u.%02u", k->name, val,
					k->min / 100, k->min % 100, k->max / 100, k->max % 100);
		*p = v;
		return 0;
	case KNOB_OFF_FLAG:
		if (!strcmp(val, "on"))
			*p &= ~k->flag;
		else if (!strcmp(val, "off"))
			*p |= k->flag;
		else
			return kv_usage(c, "%s must be on or off, not '%s'", k->name, val);
		return 0;
	case KNOB_HEADER:
		if (!strcmp(val, "none")) {
			memset(cfg->affinity_header, 0, sizeof(cfg->affinity_header));
			return 0;
		}
		n = strlen(val);
		if (n == 0 || n > k->max)
			return kv_usage(c, "%s must be 1..%u characters (or none)", k->name,
					k->max);
		/* RFC 9110 token characters: what a header name may be made of. */
		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)val[i]) && !strchr("!#$%&'*+-.^_`|~", val[i]))
				return kv_usage(c,
						"%s '%s' is not a header name (bad character '%c')",
						k->name, val, val[i]);
		memset(cfg->affinity_header, 0, sizeof(cfg->affinity_header));
		for (i = 0; i < n; i++)
			cfg->affinity_header[i] = (char)tolower((unsigned char)val[i]);
		return 0;
	}
	return kv_usage(c, "%s cannot be set", k->name);
}

/* The entry as in force: an entry never written means the defaults. */
static int read_config(struct kv_ctx *c, struct kvlb_config *cfg)
{
	if (kvlb_config_read(&c->h, cfg))
		return kv_fail(c, "%s", kvlb_error());
	if (kvlb_config_unset(cfg))
		kvlb_config_defaults(cfg);
	return 0;
}

static int cfg_show(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_config cfg, def;
	char v[64], d[64];
	size_t i;

	if (argc > 0)
		return kv_usage(c, "unexpected argument '%s'", argv[0]);
	if (kv_open(c) || read_config(c, &cfg))
		return KV_ERR;
	if (c->json) {
		json_object_start(&c->jw);
		for (i = 0; i < N_KNOBS; i++)
			knob_json(&c->jw, &cfg, &knobs[i]);
		json_object_end(&c->jw);
		json_finish(&c->jw);
		return KV_OK;
	}
	kvlb_config_defaults(&def);
	printf("%-18s %-14s %-14s %s\n", "KNOB", "VALUE", "DEFAULT", "MEANING");
	for (i = 0; i < N_KNOBS; i++) {
		knob_format(&cfg, &knobs[i], v, sizeof(v));
		knob_format(&def, &knobs[i], d, sizeof(d));
		printf("%-18s %-14s %-14s %s\n", knobs[i].name, v, d, knobs[i].help);
	}
	return KV_OK;
}

static int cfg_set(struct kv_ctx *c, int argc, char **argv)
{
	bool seen[N_KNOBS] = {};
	struct kvlb_config cfg;
	int i;

	if (argc == 0)
		return kv_usage(c, "missing KNOB VALUE");
	/* Names and values are checked before the maps are opened ... */
	for (i = 0; i < argc; i += 2) {
		const struct knob *k = find_knob(argv[i]);

		if (!k)
			return kv_usage(c, "unknown knob '%s' (see 'kvlbctl policy set --help')",
					argv[i]);
		if (i + 1 == argc)
			return kv_usage(c, "missing the value of %s", argv[i]);
		if (seen[k - knobs])
			return kv_usage(c, "%s is given twice", k->name);
		seen[k - knobs] = true;
	}
	/* ... and applied to a copy, written in one update or not at all. */
	if (kv_open(c) || read_config(c, &cfg))
		return KV_ERR;
	for (i = 0; i < argc; i += 2)
		if (knob_set(c, &cfg, find_knob(argv[i]), argv[i + 1]))
			return KV_USAGE;
	if (kvlb_config_write(&c->h, &cfg))
		return kv_fail(c, "%s", kvlb_error());
	return kv_done(c);
}

/* The knob list of `policy set --help`, from the table. */
void kv_knobs_help(FILE *f)
{
	struct kvlb_config def;
	char range[48], d[48];
	size_t i;

	kvlb_config_defaults(&def);
	fprintf(f, "\nKnobs:\n");
	for (i = 0; i < N_KNOBS; i++) {
		const struct knob *k = &knobs[i];

		switch (k->type) {
		case KNOB_U32:
			snprintf(range, sizeof(range), "%u..%u", k->min, k->max);
			break;
		case KNOB_X100:
			snprintf(range, sizeof(range), "%u.%02u..%u.%02u", k->min / 100,
				 k->min % 100, k->max / 100, k->max % 100);
			break;
		case KNOB_OFF_FLAG:
			snprintf(range, sizeof(range), "on|off");
			break;
		case KNOB_HEADER:
			snprintf(range, sizeof(range), "NAME|none");
			break;
		}
		knob_format(&def, k, d, sizeof(d));
		fprintf(f, "  %-18s %-22s default %s\n  %-18s %s\n", k->name, range, d, "",
			k->help);
	}
}

static int cfg_reset(struct kv_ctx *c, int argc, char **argv)
{
	struct kvlb_config cfg;

	if (argc > 0)
		return kv_usage(c, "unexpected argument '%s'", argv[0]);
	if (kv_open(c))
		return KV_ERR;
	kvlb_config_defaults(&cfg);
	if (kvlb_config_write(&c->h, &cfg))
		return kv_fail(c, "%s", kvlb_error());
	return kv_done(c);
}

const struct kv_cmd kv_config_cmds[] = {
    {"show", "", "print the tunables",
     "Print every tunable with its value, its default and what it does. In JSON mode,\n"
     "one object of knob name to value (load_bound a number, prefix and affinity\n"
     "booleans, affinity_header a string, \"\" for none).",
     NULL, cfg_show, NULL},
    {"set", "KNOB VALUE [KNOB VALUE]...", "change tunables",
     "Change one or more tunables at once: all are checked first and written in one\n"
     "update, so either every change applies or none does.",
     NULL, cfg_set, NULL},
    {"reset", "", "set every tunable to its default",
     "Write the default of every tunable, in one update.", NULL, cfg_reset, NULL},
    {},
};

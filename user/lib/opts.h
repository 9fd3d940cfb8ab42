/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Command-line option tables: one declarative table per program gives both
 * getopt_long's arguments and the "Options:" part of --help, so the two
 * never drift apart.
 */
#ifndef KVLB_OPTS_H
#define KVLB_OPTS_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

struct kvlb_opt {
	struct option lo; /* lo.val is the short option letter */
	const char *arg;  /* the argument's name in the help, NULL for a flag */
	const char *help;
};

/*
 * Fill longopts[0..n] (n + 1 entries, the last zeroed) and shortopts
 * (at least 2n + 1 bytes) from the table.
 */
void kvlb_opts_getopt(const struct kvlb_opt *t, size_t n, struct option *longopts, char *shortopts);

/* Print the table as the help's option lines: "  -c, --config FILE  text".
 * An option too wide for the column gets its text on the next line. */
void kvlb_opts_help(FILE *f, const struct kvlb_opt *t, size_t n);

#endif

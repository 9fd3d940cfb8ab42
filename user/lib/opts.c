// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <string.h>

#include "opts.h"

/* Width of the option column in --help. */
#define OPTS_COLUMN 30

void kvlb_opts_getopt(const struct kvlb_opt *t, size_t n, struct option *longopts, char *shortopts)
{
	char *s = shortopts;
	size_t i;

	for (i = 0; i < n; i++) {
		longopts[i] = t[i].lo;
		*s++ = (char)t[i].lo.val;
		if (t[i].lo.has_arg == required_argument)
			*s++ = ':';
	}
	memset(&longopts[n], 0, sizeof(longopts[n]));
	*s = '\0';
}

void kvlb_opts_help(FILE *f, const struct kvlb_opt *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char left[96];

		snprintf(left, sizeof(left), "-%c, --%s%s%s", t[i].lo.val, t[i].lo.name,
			 t[i].arg ? " " : "", t[i].arg ? t[i].arg : "");
		if (strlen(left) > OPTS_COLUMN)
			fprintf(f, "  %s\n  %-*s %s\n", left, OPTS_COLUMN, "", t[i].help);
		else
			fprintf(f, "  %-*s %s\n", OPTS_COLUMN, left, t[i].help);
	}
}

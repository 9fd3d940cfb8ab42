// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "log.h"

enum log_level log_max_level = LOG_INFO;

static const char *const level_name[] = {"error", "warning", "info", "debug"};

static void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char when[32], line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (lvl > log_max_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/* One write per line, so lines from a crash or a restart never mix. */
	fprintf(stderr, "%s.%03ldZ kvlbd[%d] %s: %s\n", when, ts.tv_nsec / 1000000, getpid(),
		level_name[lvl], line);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level lvl = level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG;

	/* libbpf echoes the kernel's extended ack for every failed netlink
	 * request, including those kvlbd expects and handles (a qdisc that is
	 * not there yet); kvlbd logs the failures that matter itself. */
	if (!strncmp(fmt, "Kernel error message", 20))
		lvl = LOG_DEBUG;

	log_vmsg(lvl, fmt, ap);
	return 0;
}

void log_hook_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

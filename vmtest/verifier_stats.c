// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * verifier_stats - load every program of one or more BPF objects into the
 * running kernel and report how much of the verifier's budget each one uses.
 *
 * Each program is loaded on its own (the others of its object are not), so
 * one program that the verifier refuses does not hide the figures of the
 * rest. Map pinning is switched off: the figures must not depend on, or
 * disturb, maps that a running kvlbd has pinned.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* Enough for the statistics lines of log level 4. */
#define STATS_LOG_SIZE (64 * 1024)
/* Enough for the tail of a full verifier log of a refused program. */
#define FULL_LOG_SIZE  (16 * 1024 * 1024)
#define FAIL_LOG_LINES 25

struct prog_stats {
	unsigned int insns;  /* instructions handed to the verifier */
	unsigned int xlated; /* instructions after the verifier rewrote them */
	long processed;	     /* "processed N insns" */
	long limit;	     /* "(limit N)" */
	long states;	     /* "total_states N" */
	long peak_states;    /* "peak_states N" */
	long usec;	     /* "verification time N usec" */
	char stack[32];	     /* "stack depth A+B" */
};

static const char *kernel_label;
static int verbose;

static void usage(FILE *f, int code)
{
	fprintf(f, "Usage: verifier_stats [OPTIONS] OBJECT.bpf.o...\n"
		   "\n"
		   "Load each program of each BPF object into the running kernel, one program\n"
		   "at a time, and print one line per program:\n"
		   "\n"
		   "  kernel     release of the running kernel (or --kernel LABEL)\n"
		   "  object     file name of the object\n"
		   "  program    program (function) name\n"
		   "  type       program type\n"
		   "  insns      instructions handed to the verifier, after libbpf's relocation\n"
		   "  xlated     instructions after the verifier's rewrites\n"
		   "  processed  instructions the verifier walked, over all paths\n"
		   "  limit      the kernel's limit on processed instructions\n"
		   "  used       processed as a share of limit\n"
		   "  states     verifier states kept (total/peak)\n"
		   "  stack      stack depth of the main program and its subprograms\n"
		   "  time       verification time\n"
		   "\n"
		   "A program the verifier refuses is reported as REFUSED with the last lines\n"
		   "of its verifier log on standard error.\n"
		   "\n"
		   "Options:\n"
		   "  -k, --kernel LABEL  label for the kernel column (default: uname -r)\n"
		   "  -H, --no-header     omit the header line\n"
		   "  -v, --verbose       show libbpf's messages\n"
		   "  -h, --help          show this help\n"
		   "\n"
		   "Exit status: 0 when every program loaded, 1 when one was refused or an\n"
		   "object could not be opened, 2 on bad usage. Needs CAP_BPF and\n"
		   "CAP_PERFMON (or root).\n");
	exit(code);
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* A refusal is reported from the verifier log; libbpf's own lines only add noise. */
	if (!verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Read "KEY N" from the verifier log; -1 when the kernel did not print it. */
static long log_value(const char *log, const char *key)
{
	const char *p = strstr(log, key);

	if (!p)
		return -1;
	return strtol(p + strlen(key), NULL, 10);
}

static void parse_log(const char *log, struct prog_stats *st)
{
	const char *p;

	st->processed = log_value(log, "processed ");
	st->limit = log_value(log, "(limit ");
	st->states = log_value(log, "total_states ");
	st->peak_states = log_value(log, "peak_states ");
	st->usec = log_value(log, "verification time ");
	p = strstr(log, "stack depth ");
	if (p)
		sscanf(p + strlen("stack depth "), "%31s", st->stack);
	else
		snprintf(st->stack, sizeof(st->stack), "-");
}

/*
 * Open the object with only program @idx set to load. Pinning is cleared
 * so that loading never reuses nor creates a pinned map.
 */
static struct bpf_object *open_one(const char *path, int idx, struct bpf_program **out)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	int i = 0;

	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return NULL;
	bpf_object__for_each_map(map, obj) bpf_map__set_pin_path(map, NULL);
	*out = NULL;
	bpf_object__for_each_program(prog, obj)
	{
		bpf_program__set_autoload(prog, i == idx);
		if (i == idx)
			*out = prog;
		i++;
	}
	if (!*out) {
		bpf_object__close(obj);
		errno = ENOENT;
		return NULL;
	}
	return obj;
}

/* Load again with the full log and print its tail, to show why it failed. */
static void show_refusal(const char *path, int idx, const char *name)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	char *log, *p;
	int lines = 0;

	log = calloc(1, FULL_LOG_SIZE);
	if (!log)
		return;
	obj = open_one(path, idx, &prog);
	if (!obj) {
		free(log);
		return;
	}
	bpf_program__set_log_level(prog, 1);
	bpf_program__set_log_buf(prog, log, FULL_LOG_SIZE);
	bpf_object__load(obj);
	/* Walk back from the end over the last FAIL_LOG_LINES lines. */
	p = log + strlen(log);
	while (p > log && lines <= FAIL_LOG_LINES)
		if (*--p == '\n')
			lines++;
	fprintf(stderr, "--- %s/%s: last lines of the verifier log ---\n%s\n", base_name(path),
		name, p == log ? p : p + 1);
	bpf_object__close(obj);
	free(log);
}

static void print_header(void)
{
	printf("%-28s %-18s %-24s %-10s %7s %7s %9s %8s %6s %11s %7s %9s\n", "kernel", "object",
	       "program", "type", "insns", "xlated", "processed", "limit", "used", "states",
	       "stack", "time");
}

static void print_num(long v, int width)
{
	if (v < 0)
		printf(" %*s", width, "-");
	else
		printf(" %*ld", width, v);
}

/* Load program @idx of @path alone; returns 0 loaded, 1 refused, -1 no such program. */
static int measure(const char *path, int idx)
{
	struct prog_stats st = {0};
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	struct bpf_program *prog;
	struct bpf_object *obj;
	const char *type;
	char name[64];
	char *log;
	char states[24];
	int err;

	obj = open_one(path, idx, &prog);
	if (!obj)
		return -1;
	log = calloc(1, STATS_LOG_SIZE);
	if (!log) {
		bpf_object__close(obj);
		return 1;
	}
	snprintf(name, sizeof(name), "%s", bpf_program__name(prog));
	type = libbpf_bpf_prog_type_str(bpf_program__type(prog));
	/* Level 4 asks only for the statistics, not the instruction trace. */
	bpf_program__set_log_level(prog, 4);
	bpf_program__set_log_buf(prog, log, STATS_LOG_SIZE);
	err = bpf_object__load(obj);

	printf("%-28s %-18s %-24s %-10s", kernel_label, base_name(path), name, type ? type : "?");
	if (err) {
		printf(" REFUSED (%s)\n", strerror(-err));
		fflush(stdout);
		bpf_object__close(obj);
		free(log);
		show_refusal(path, idx, name);
		return 1;
	}

	st.insns = bpf_program__insn_cnt(prog);
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		st.xlated = info.xlated_prog_len / sizeof(struct bpf_insn);
	parse_log(log, &st);

	print_num(st.insns, 7);
	print_num(st.xlated, 7);
	print_num(st.processed, 9);
	print_num(st.limit, 8);
	if (st.processed >= 0 && st.limit > 0)
		printf(" %5.2f%%", 100.0 * st.processed / st.limit);
	else
		printf(" %6s", "-");
	snprintf(states, sizeof(states), "%ld/%ld", st.states, st.peak_states);
	printf(" %11s %7s", st.states >= 0 ? states : "-", st.stack);
	if (st.usec >= 0)
		printf(" %7ldus\n", st.usec);
	else
		printf(" %9s\n", "-");
	fflush(stdout);

	bpf_object__close(obj);
	free(log);
	return 0;
}

static int count_programs(const char *path)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	int n = 0;

	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return -1;
	bpf_object__for_each_program(prog, obj) n++;
	bpf_object__close(obj);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kernel", required_argument, NULL, 'k'},
	    {"no-header", no_argument, NULL, 'H'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct utsname uts;
	int header = 1, status = 0;
	int c, i, n;

	while ((c = getopt_long(argc, argv, "k:Hvh", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kernel_label = optarg;
			break;
		case 'H':
			header = 0;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "verifier_stats: no BPF object given (see --help)\n");
		return 2;
	}
	if (!kernel_label) {
		if (uname(&uts)) {
			perror("verifier_stats: uname");
			return 1;
		}
		kernel_label = strdup(uts.release);
		if (!kernel_label)
			return 1;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	libbpf_set_print(print_libbpf);

	if (header)
		print_header();
	for (; optind < argc; optind++) {
		const char *path = argv[optind];

		n = count_programs(path);
		if (n < 0) {
			fprintf(stderr, "verifier_stats: %s: cannot open BPF object: %s\n", path,
				strerror(errno));
			status = 1;
			continue;
		}
		if (n == 0) {
			fprintf(stderr, "verifier_stats: %s: no programs\n", path);
			status = 1;
			continue;
		}
		for (i = 0; i < n; i++)
			if (measure(path, i))
				status = 1;
	}
	return status;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A small streaming JSON writer for kvlbctl's --json output. */
#include <math.h>
#include "json.h"

void json_init(struct json *j, FILE *f, bool pretty)
{
	j->f = f;
	j->pretty = pretty;
	j->depth = 0;
	j->first = true;
	j->after_name = false;
}

static void newline(struct json *j)
{
	int i;

	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (i = 0; i < j->depth; i++)
		fputs("    ", j->f);
}

/* Separator before a value or member name at the current depth. */
static void sep(struct json *j)
{
	if (j->after_name) {
		j->after_name = false;
		return;
	}
	if (!j->first)
		fputc(',', j->f);
	if (j->depth > 0)
		newline(j);
	j->first = false;
}

static void open_(struct json *j, char c)
{
	sep(j);
	fputc(c, j->f);
	j->depth++;
	j->first = true;
}

static void close_(struct json *j, char c)
{
	bool empty = j->first;

	j->depth--;
	if (!empty)
		newline(j);
	fputc(c, j->f);
	j->first = false;
}

void json_object_start(struct json *j)
{
	open_(j, '{');
}

void json_object_end(struct json *j)
{
	close_(j, '}');
}

void json_array_start(struct json *j)
{
	open_(j, '[');
}

void json_array_end(struct json *j)
{
	close_(j, ']');
}

static void quoted(struct json *j, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', j->f);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", j->f);
			break;
		case '\\':
			fputs("\\\\", j->f);
			break;
		case '\n':
			fputs("\\n", j->f);
			break;
		case '\t':
			fputs("\\t", j->f);
			break;
		case '\r':
			fputs("\\r", j->f);
			break;
		default:
			if (*p < 0x20)
				fprintf(j->f, "\\u%04x", *p);
			else
				fputc(*p, j->f);
		}
	}
	fputc('"', j->f);
}

void json_name(struct json *j, const char *name)
{
	sep(j);
	quoted(j, name);
	fputs(j->pretty ? ": " : ":", j->f);
	j->after_name = true;
}

void json_string(struct json *j, const char *s)
{
	sep(j);
	quoted(j, s);
}

void json_u64(struct json *j, __u64 v)
{
	sep(j);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_double(struct json *j, double v)
{
	sep(j);
	if (isfinite(v))
		fprintf(j->f, "%.6g", v);
	else
		fputs("null", j->f);
}

void json_bool(struct json *j, bool v)
{
	sep(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
	sep(j);
	fputs("null", j->f);
}

void json_finish(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

void json_kv_string(struct json *j, const char *name, const char *s)
{
	json_name(j, name);
	json_string(j, s);
}

void json_kv_u64(struct json *j, const char *name, __u64 v)
{
	json_name(j, name);
	json_u64(j, v);
}

void json_kv_double(struct json *j, const char *name, double v)
{
	json_name(j, name);
	json_double(j, v);
}

void json_kv_bool(struct json *j, const char *name, bool v)
{
	json_name(j, name);
	json_bool(j, v);
}

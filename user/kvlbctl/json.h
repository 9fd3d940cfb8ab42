/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A small streaming JSON writer for kvlbctl's --json output. */
#ifndef KVLBCTL_JSON_H
#define KVLBCTL_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

struct json {
	FILE *f;
	bool pretty;
	int depth;
	bool first;	 /* nothing written yet at this depth */
	bool after_name; /* a member name was written; its value comes next */
};

void json_init(struct json *j, FILE *f, bool pretty);
void json_object_start(struct json *j);
void json_object_end(struct json *j);
void json_array_start(struct json *j);
void json_array_end(struct json *j);
/* Name of the next object member. */
void json_name(struct json *j, const char *name);
void json_string(struct json *j, const char *s);
void json_u64(struct json *j, __u64 v);
void json_double(struct json *j, double v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* End the document with a newline. */
void json_finish(struct json *j);

/* name: value shorthands for object members. */
void json_kv_string(struct json *j, const char *name, const char *s);
void json_kv_u64(struct json *j, const char *name, __u64 v);
void json_kv_double(struct json *j, const char *name, double v);
void json_kv_bool(struct json *j, const char *name, bool v);

#endif

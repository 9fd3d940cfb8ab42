/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * json.h - a small strict JSON (RFC 8259) reader for request bodies, and the
 * string escaping the emulator's writers share.
 *
 * The reader builds a tree in one arena that is freed in a single call, so a
 * handler cannot leak pieces of a request on an error path. Input is hostile:
 * nesting depth is bounded, every byte is bounds-checked, strings must be valid
 * UTF-8, and any error yields a message instead of a partial tree.
 */
#ifndef KVLB_EMU_JSON_H
#define KVLB_EMU_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deeper documents are rejected: a stack-overflow guard, far above real requests. */
#define JSON_MAX_DEPTH 64
/*
 * More values are rejected: a tree node is ~20 times the size of the "1," that
 * makes it, so without a cap a large body of tiny values would cost gigabytes.
 */
#define JSON_MAX_VALUES (1 << 18)

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
	enum json_type type;
	bool boolean;
	bool is_int;	 /* number written without fraction/exponent and fits int64 */
	int64_t integer; /* valid when is_int */
	double number;
	const char *str;	  /* decoded, NUL-terminated (may contain NUL: use len) */
	size_t len;		  /* string length, or element count of array/object */
	struct json_value *first; /* first element / member value */
	struct json_value *next;  /* next sibling in the parent */
	const char *key;	  /* member name when the parent is an object */
	size_t key_len;
};

struct json_doc {
	struct json_value *root;
	void *arena;
};

/*
 * Parse @len bytes at @text. On success returns 0 and fills @doc; on failure
 * returns -1 and writes a one-line reason into @err (size @errlen).
 */
int json_parse(const char *text, size_t len, struct json_doc *doc, char *err, size_t errlen);
void json_free(struct json_doc *doc);

/* Member @name of object @obj, or NULL (also when @obj is not an object). */
const struct json_value *json_get(const struct json_value *obj, const char *name);

/* Append @len bytes of @s to @out as a JSON string literal body (no quotes). */
struct evbuffer;
void json_escape(struct evbuffer *out, const char *s, size_t len);

#endif

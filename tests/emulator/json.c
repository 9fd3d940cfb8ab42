// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* json.c - strict JSON reader into an arena, and string escaping. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "json.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct parser {
	const char *p, *end;
	struct arena_chunk *arena;
	char *err;
	size_t errlen;
	int depth;
	size_t values;
};

static void *arena_alloc(struct parser *ps, size_t n)
{
	struct arena_chunk *c = ps->arena;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!c || c->size - c->used < n) {
		size_t size = n > 16384 ? n : 16384;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = ps->arena;
		ps->arena = c;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->err && ps->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(ps->err, ps->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static size_t offset(struct parser *ps, const char *start)
{
	return (size_t)(ps->p - start);
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* Length of the valid UTF-8 sequence at @s (1..4), or 0 when invalid. */
static int utf8_len(const unsigned char *s, const unsigned char *end)
{
	unsigned char c = s[0];
	int n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (end - s < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Parses a string literal at ps->p (on the opening quote). */
static int parse_string(struct parser *ps, const char *start, const char **out, size_t *outlen)
{
	const char *q;
	char *buf, *o;

	ps->p++;
	/* Decoded text is never longer than the literal: size the copy once. */
	for (q = ps->p; q < ps->end && *q != '"'; q++)
		if (*q == '\\' && q + 1 < ps->end)
			q++;
	if (q >= ps->end)
		return fail(ps, "unterminated string at offset %zu", offset(ps, start));
	buf = arena_alloc(ps, (size_t)(q - ps->p) + 1);
	if (!buf)
		return fail(ps, "out of memory");
	o = buf;
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;

		if (c < 0x20)
			return fail(ps, "control character in string at offset %zu",
				    offset(ps, start));
		if (c == '\\') {
			uint32_t cp, lo;

			if (ps->end - ps->p < 2)
				return fail(ps, "bad escape at offset %zu", offset(ps, start));
			switch (ps->p[1]) {
			case '"':
				*o++ = '"';
				break;
			case '\\':
				*o++ = '\\';
				break;
			case '/':
				*o++ = '/';
				break;
			case 'b':
				*o++ = '\b';
				break;
			case 'f':
				*o++ = '\f';
				break;
			case 'n':
				*o++ = '\n';
				break;
			case 'r':
				*o++ = '\r';
				break;
			case 't':
				*o++ = '\t';
				break;
			case 'u':
				if (ps->end - ps->p < 6 || hex4(ps->p + 2, &cp))
					return fail(ps, "bad \\u escape at offset %zu",
						    offset(ps, start));
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return fail(ps, "lone surrogate at offset %zu",
						    offset(ps, start));
				if (cp >= 0xd800 && cp <= 0xdbff) {
					/* a high surrogate must be followed by a low one */
					if (ps->end - ps->p < 12 || ps->p[6] != '\\' ||
					    ps->p[7] != 'u' || hex4(ps->p + 8, &lo) ||
					    lo < 0xdc00 || lo > 0xdfff)
						return fail(ps, "lone surrogate at offset %zu",
							    offset(ps, start));
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					ps->p += 6;
				}
				/* 6 escape bytes always cover the at most 4 output bytes */
				o += put_utf8(o, cp);
				ps->p += 4;
				break;
			default:
				return fail(ps, "bad escape at offset %zu", offset(ps, start));
			}
			ps->p += 2;
			continue;
		}
		int n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);

		if (!n)
			return fail(ps, "invalid UTF-8 at offset %zu", offset(ps, start));
		memcpy(o, ps->p, (size_t)n);
		o += n;
		ps->p += n;
	}
	*o = '\0';
	ps->p++; /* closing quote, found by the sizing scan */
	*out = buf;
	*outlen = (size_t)(o - buf);
	return 0;
}

static int parse_number(struct parser *ps, const char *start, struct json_value *v)
{
	const char *s = ps->p, *p = ps->p;
	bool integral = true;
	char tmp[64], *endp;
	size_t n;

	if (p < ps->end && *p == '-')
		p++;
	if (p >= ps->end || *p < '0' || *p > '9')
		return fail(ps, "bad number at offset %zu", offset(ps, start));
	if (*p == '0')
		p++;
	else
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	if (p < ps->end && *p == '.') {
		integral = false;
		p++;
		if (p >= ps->end || *p < '0' || *p > '9')
			return fail(ps, "bad number at offset %zu", offset(ps, start));
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		integral = false;
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= ps->end || *p < '0' || *p > '9')
			return fail(ps, "bad number at offset %zu", offset(ps, start));
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	n = (size_t)(p - s);
	if (n >= sizeof(tmp))
		/* a literal this long is either huge or over-precise: keep it as a double */
		n = sizeof(tmp) - 1, integral = false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	v->type = JSON_NUMBER;
	v->number = strtod(tmp, NULL);
	if (integral) {
		errno = 0;
		long long ll = strtoll(tmp, &endp, 10);

		if (errno == 0 && *endp == '\0') {
			v->is_int = true;
			v->integer = ll;
		}
	}
	ps->p = p;
	return 0;
}

static int parse_value(struct parser *ps, const char *start, struct json_value *v);

static int parse_container(struct parser *ps, const char *start, struct json_value *v)
{
	bool object = *ps->p == '{';
	char close = object ? '}' : ']';
	struct json_value **tail = &v->first;

	if (++ps->depth > JSON_MAX_DEPTH)
		return fail(ps, "nesting deeper than %d", JSON_MAX_DEPTH);
	v->type = object ? JSON_OBJECT : JSON_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		struct json_value *e;

		if (++ps->values > JSON_MAX_VALUES)
			return fail(ps, "more than %d values", JSON_MAX_VALUES);
		e = arena_alloc(ps, sizeof(*e));
		if (!e)
			return fail(ps, "out of memory");
		memset(e, 0, sizeof(*e));
		skip_ws(ps);
		if (object) {
			if (ps->p >= ps->end || *ps->p != '"')
				return fail(ps, "expected member name at offset %zu",
					    offset(ps, start));
			if (parse_string(ps, start, &e->key, &e->key_len))
				return -1;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return fail(ps, "expected ':' at offset %zu", offset(ps, start));
			ps->p++;
		}
		if (parse_value(ps, start, e))
			return -1;
		*tail = e;
		tail = &e->next;
		v->len++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			ps->depth--;
			return 0;
		}
		return fail(ps, "expected ',' or '%c' at offset %zu", close, offset(ps, start));
	}
}

static int literal(struct parser *ps, const char *start, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return fail(ps, "unexpected character at offset %zu", offset(ps, start));
	ps->p += n;
	return 0;
}

static int parse_value(struct parser *ps, const char *start, struct json_value *v)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of input");
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, start, v);
	case '"':
		v->type = JSON_STRING;
		return parse_string(ps, start, &v->str, &v->len);
	case 't':
		v->type = JSON_BOOL;
		v->boolean = true;
		return literal(ps, start, "true");
	case 'f':
		v->type = JSON_BOOL;
		return literal(ps, start, "false");
	case 'n':
		v->type = JSON_NULL;
		return literal(ps, start, "null");
	default:
		return parse_number(ps, start, v);
	}
}

static void arena_free(struct arena_chunk *c)
{
	while (c) {
		struct arena_chunk *next = c->next;

		free(c);
		c = next;
	}
}

int json_parse(const char *text, size_t len, struct json_doc *doc, char *err, size_t errlen)
{
	struct parser ps = {.p = text, .end = text + len, .err = err, .errlen = errlen};
	struct json_value *root;

	if (err && errlen)
		err[0] = '\0';
	doc->root = NULL;
	doc->arena = NULL;
	root = arena_alloc(&ps, sizeof(*root));
	if (!root) {
		fail(&ps, "out of memory");
		goto out_err;
	}
	memset(root, 0, sizeof(*root));
	if (parse_value(&ps, text, root))
		goto out_err;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		fail(&ps, "trailing data at offset %zu", offset(&ps, text));
		goto out_err;
	}
	doc->root = root;
	doc->arena = ps.arena;
	return 0;
out_err:
	arena_free(ps.arena);
	return -1;
}

void json_free(struct json_doc *doc)
{
	arena_free(doc->arena);
	doc->arena = NULL;
	doc->root = NULL;
}

const struct json_value *json_get(const struct json_value *obj, const char *name)
{
	const struct json_value *m;
	size_t n = strlen(name);

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	/* Duplicate names: the last one wins, as in Python's json module. */
	const struct json_value *found = NULL;

	for (m = obj->first; m; m = m->next)
		if (m->key_len == n && !memcmp(m->key, name, n))
			found = m;
	return found;
}

void json_escape(struct evbuffer *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = "\\u00";

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		evbuffer_add(out, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			evbuffer_add(out, "\\\"", 2);
			break;
		case '\\':
			evbuffer_add(out, "\\\\", 2);
			break;
		case '\n':
			evbuffer_add(out, "\\n", 2);
			break;
		case '\r':
			evbuffer_add(out, "\\r", 2);
			break;
		case '\t':
			evbuffer_add(out, "\\t", 2);
			break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			evbuffer_add(out, esc, 6);
		}
	}
	evbuffer_add(out, s + run, len - run);
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * An incremental parser of the front of an HTTP/1.1 request and of its
 * JSON body, for choosing a backend by what the request asks for.
 *
 * The parser is fed one byte at a time (http_byte) and keeps everything it
 * knows in struct http_state: a fixed-size, pointer-free struct that can
 * live in a BPF map value, so a request split over any number of segments
 * gives exactly the state the unsplit request gives. It never looks back
 * at earlier bytes and never loops by itself: the work per byte is bounded
 * by a constant, and the caller bounds the bytes (hold limit).
 *
 * What it extracts:
 *  - request line: method, target (first HTTP_PATH_MAX bytes), version;
 *  - headers, names case-insensitive, in any order: Content-Length,
 *    Transfer-Encoding (chunked), Expect (100-continue), and the affinity
 *    header whose (lower-case) name is given at init;
 *  - the body, de-chunked when chunked, scanned as JSON: the top-level
 *    members "model" and "prompt_cache_key" (string values, hashed), and
 *    the value of "messages" or "prompt", whichever comes first, fed to the
 *    prefix chain (prefix.h).
 *
 * Exactly which body bytes feed the chain: the raw bytes of that member's
 * value as they appear in the (de-chunked) body, from its first byte ('['
 * or '"' or a scalar's first character) to its last (the matching ']' or
 * closing '"'), escapes left as written, with one exception: whitespace
 * outside strings (between tokens) is skipped, so compact and pretty-printed
 * encodings of one conversation hash alike. Bytes inside strings, escapes
 * included, are hashed as sent; "\u00e9" and "é" are therefore different.
 *
 * Compiled for BPF (by the data path and tests/http/http_verify.bpf.c) and
 * for userspace (unit tests and the fuzzer) from this one file.
 */
#ifndef KVLB_HTTP_H
#define KVLB_HTTP_H

#include "cshim.h"
#include "prefix.h"

#define HTTP_METHOD_MAX 8	     /* method bytes kept (longer methods: error) */
#define HTTP_PATH_MAX	64	     /* target bytes kept (the rest only counted) */
#define HTTP_MODEL_MAX	64	     /* model-name bytes kept (the rest only hashed) */
#define HTTP_NAME_MAX	32	     /* affinity header name, NUL included */
#define HTTP_CL_MAX	(1ULL << 40) /* larger Content-Length: error */
#define HTTP_CHUNK_HEX	7	     /* hex digits of a chunk size (< 256 MiB) */
#define HTTP_JSON_NEST	200	     /* deeper JSON nesting: stop reading the body */

/* Parser states (http_state.s). */
enum {
	HS_METHOD = 0,
	HS_TARGET,
	HS_VERSION,
	HS_RL_END,	/* after the version: the line end */
	HS_HNAME_START, /* start of a header line, or the empty line */
	HS_HNAME,
	HS_HVALUE,
	HS_BODY, /* Content-Length body */
	HS_CHUNK_SIZE,
	HS_CHUNK_EXT, /* chunk extension or whitespace, up to the line end */
	HS_CHUNK_DATA,
	HS_CHUNK_END, /* the CRLF after chunk data */
	HS_TRAILER_START,
	HS_TRAILER,
	HS_DONE,  /* the request is complete; later bytes are not looked at */
	HS_ERROR, /* not a request this parser accepts (see err) */
};

/* Why the parse failed (http_state.err). */
enum {
	HTTP_E_NONE = 0,
	HTTP_E_METHOD,	     /* not a method token, or too long */
	HTTP_E_TARGET,	     /* control byte or empty target */
	HTTP_E_VERSION,	     /* not HTTP/1.0 or HTTP/1.1 */
	HTTP_E_LINE,	     /* CR not followed by LF */
	HTTP_E_HEADER,	     /* bad header name or value byte, or obsolete folding */
	HTTP_E_CONTENT_LEN,  /* bad, huge or conflicting Content-Length */
	HTTP_E_TRANSFER_ENC, /* a transfer coding other than just "chunked" */
	HTTP_E_CL_AND_TE,    /* both Content-Length and Transfer-Encoding */
	HTTP_E_CHUNK,	     /* bad chunk size line or chunk end */
};

/* What the parser found (http_state.flags). */
#define HTTP_F_HEADERS_DONE (1u << 0) /* the empty line after the headers was read */
#define HTTP_F_CONTENT_LEN  (1u << 1)
#define HTTP_F_CHUNKED	    (1u << 2)
#define HTTP_F_EXPECT_100   (1u << 3)  /* Expect: 100-continue */
#define HTTP_F_AFFINITY_HDR (1u << 4)  /* the affinity header, non-empty */
#define HTTP_F_TE_OTHER	    (1u << 5)  /* Transfer-Encoding other than chunked */
#define HTTP_F_JSON	    (1u << 6)  /* the body starts as a JSON object */
#define HTTP_F_JSON_BAD	    (1u << 7)  /* the body stopped being JSON we follow */
#define HTTP_F_MODEL	    (1u << 8)  /* "model": "..." read whole */
#define HTTP_F_CACHE_KEY    (1u << 9)  /* "prompt_cache_key": "..." read whole */
#define HTTP_F_MESSAGES	    (1u << 10) /* the chain is over "messages" */
#define HTTP_F_PROMPT	    (1u << 11) /* the chain is over "prompt" */
#define HTTP_F_PROMPT_END   (1u << 12) /* that value was read to its end */
#define HTTP_F_V11	    (1u << 13) /* HTTP/1.1 (else 1.0) */

/* Headers the parser looks for (bit numbers of the name-match mask). */
enum { HH_CONTENT_LEN = 0, HH_TRANSFER_ENC, HH_EXPECT, HH_AFFINITY, HH_N, HH_OTHER = 0xff };

/* JSON scanner states (http_state.j). */
enum {
	J_START = 0, /* before the top-level '{' */
	J_KEY_OR_END,
	J_KEY,
	J_COLON,
	J_VALUE_START,
	J_VALUE,
	J_AFTER_VALUE,
	J_END,	/* the top-level object closed */
	J_STOP, /* not followed any further (HTTP_F_JSON_BAD) */
};

/* Top-level members of interest (bit numbers of the key-match mask). */
enum { JK_MODEL = 0, JK_MESSAGES, JK_PROMPT, JK_CACHE_KEY, JK_N, JK_NONE = 0xff };

/* Kinds of JSON value (http_state.jkind). */
enum { VK_STRING = 0, VK_NESTED, VK_SCALAR };

/* http_state.jbits */
#define JB_IN_STR 1 /* inside a string */
#define JB_ESC	  2 /* the previous byte was a backslash in a string */

struct http_state {
	/* Set by http_init, never changed after. */
	char aff_name[HTTP_NAME_MAX]; /* lower case; "" = no affinity header */
	__u32 aff_len;

	__u32 flags;	 /* HTTP_F_* */
	__u32 consumed;	 /* bytes taken, up to and including the request's last */
	__u32 hdr_len;	 /* bytes of request line and headers, once read */
	__u32 body_seen; /* body bytes after de-chunking */
	__u32 pos;	 /* index in the current token */
	__u32 cand;	 /* names or values still matching (bitmask) */
	__u8 s;		 /* HS_* */
	__u8 err;	 /* HTTP_E_* */
	__u8 cr;	 /* a CR was read; a LF must follow */
	__u8 hdr;	 /* HH_* of the header value being read */
	__u8 ows;	 /* whitespace followed the value's bytes */
	__u8 method_len;
	__u16 path_len; /* target length, saturating at 65535 */
	char method[HTTP_METHOD_MAX];
	char path[HTTP_PATH_MAX];
	__u64 content_length;
	__u64 num;	      /* number being read: Content-Length, chunk size */
	__u64 left;	      /* body bytes left: Content-Length body, or this chunk */
	__u64 aff_hash;	      /* FNV-1a of the affinity header value, whitespace skipped */
	__u64 cache_key_hash; /* FNV-1a of prompt_cache_key's raw string bytes */
	__u64 model_hash;     /* FNV-1a of model's raw string bytes */
	char model[HTTP_MODEL_MAX];
	__u32 model_len; /* bytes of the model name (all, not just those kept) */
	__u32 cache_key_len;

	/* JSON scanner */
	__u8 j;	     /* J_* */
	__u8 jkeys;  /* key candidates still matching (JK_* bits) */
	__u8 jwhich; /* JK_* whose value is being read, or JK_NONE */
	__u8 jkind;  /* VK_* */
	__u8 jnest;  /* open '{'/'[' inside the value */
	__u8 jbits;  /* JB_* */
	__u8 pad[2];
	__u32 jpos; /* bytes of the key so far */

	struct pfx_chain chain;
};

/* ---- character classes ------------------------------------------------ */

static __always_inline bool http_is_ws(__u8 c)
{
	return c == ' ' || c == '\t';
}

static __always_inline __u8 http_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* RFC 9110 tchar: the bytes of a method or header name. */
static __always_inline bool http_is_tchar(__u8 c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '.':
	case '^':
	case '_':
	case '`':
	case '|':
	case '~':
		return true;
	}
	return false;
}

static __always_inline int http_hex(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = http_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static __always_inline bool json_is_ws(__u8 c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The constant strings the parser compares with, byte by byte. Kept as
 * packed little-endian words in switches rather than string literals so
 * the BPF object needs no .rodata and every index is a shift.
 */
enum {
	KS_CONTENT_LENGTH = 0,
	KS_TRANSFER_ENCODING,
	KS_EXPECT,
	KS_CHUNKED,
	KS_100_CONTINUE,
	KS_MODEL,
	KS_MESSAGES,
	KS_PROMPT,
	KS_CACHE_KEY,
	KS_HTTP1,
	KS_N,
};

static __always_inline __u32 ks_len(int id)
{
	switch (id) {
	case KS_CONTENT_LENGTH:
		return 14;
	case KS_TRANSFER_ENCODING:
		return 17;
	case KS_EXPECT:
		return 6;
	case KS_CHUNKED:
		return 7;
	case KS_100_CONTINUE:
		return 12;
	case KS_MODEL:
		return 5;
	case KS_MESSAGES:
		return 8;
	case KS_PROMPT:
		return 6;
	case KS_CACHE_KEY:
		return 16;
	case KS_HTTP1:
		return 7;
	}
	return 0;
}

/* Byte pos of string id; 0 past its end. */
static __always_inline __u8 ks_char(int id, __u32 pos)
{
	__u64 w0 = 0, w1 = 0, w2 = 0, w;

	if (pos >= ks_len(id))
		return 0;
	switch (id) {
	case KS_CONTENT_LENGTH: /* "content-length" */
		w0 = 0x2d746e65746e6f63ULL;
		w1 = 0x00006874676e656cULL;
		break;
	case KS_TRANSFER_ENCODING: /* "transfer-encoding" */
		w0 = 0x726566736e617274ULL;
		w1 = 0x6e69646f636e652dULL;
		w2 = 0x0000000000000067ULL;
		break;
	case KS_EXPECT: /* "expect" */
		w0 = 0x0000746365707865ULL;
		break;
	case KS_CHUNKED: /* "chunked" */
		w0 = 0x0064656b6e756863ULL;
		break;
	case KS_100_CONTINUE: /* "100-continue" */
		w0 = 0x746e6f632d303031ULL;
		w1 = 0x0000000065756e69ULL;
		break;
	case KS_MODEL: /* "model" */
		w0 = 0x0000006c65646f6dULL;
		break;
	case KS_MESSAGES: /* "messages" */
		w0 = 0x736567617373656dULL;
		break;
	case KS_PROMPT: /* "prompt" */
		w0 = 0x000074706d6f7270ULL;
		break;
	case KS_CACHE_KEY: /* "prompt_cache_key" */
		w0 = 0x635f74706d6f7270ULL;
		w1 = 0x79656b5f65686361ULL;
		break;
	case KS_HTTP1: /* "HTTP/1." */
		w0 = 0x002e312f50545448ULL;
		break;
	}
	w = pos < 8 ? w0 : pos < 16 ? w1 : w2;
	return (w >> ((pos & 7) * 8)) & 0xff;
}

/* The constant string of a member (JK_*) or header (HH_*). */
static __always_inline int jk_str(int k)
{
	return k == JK_MODEL	  ? KS_MODEL
	       : k == JK_MESSAGES ? KS_MESSAGES
	       : k == JK_PROMPT	  ? KS_PROMPT
				  : KS_CACHE_KEY;
}

static __always_inline int hh_str(int k)
{
	return k == HH_CONTENT_LEN    ? KS_CONTENT_LENGTH
	       : k == HH_TRANSFER_ENC ? KS_TRANSFER_ENCODING
				      : KS_EXPECT;
}

/* ---- setup ------------------------------------------------------------ */

/*
 * Start a request. chunk_size and depth are the prefix knobs; aff_name is
 * the affinity header's name, lower case, NUL-terminated within
 * HTTP_NAME_MAX bytes ("" or NULL: none). The caller zeroes *st first (a
 * BPF map value from a fresh lookup, or memset), so the struct compares
 * equal byte for byte between two parses of one request.
 */
static __always_inline void http_init(struct http_state *st, __u32 chunk_size, __u32 depth,
				      const char *aff_name)
{
	__u32 i, n = 0;
	bool end = !aff_name;

	for (i = 0; i < HTTP_NAME_MAX - 1; i++) {
		char c = end ? 0 : aff_name[i];

		if (!c)
			end = true;
		/* names match case-insensitively: keep the configured one in
		 * lower case, as the bytes it is compared with are lowered */
		st->aff_name[i] = http_lower(c);
		if (!end)
			n = i + 1;
	}
	st->aff_name[HTTP_NAME_MAX - 1] = 0;
	st->aff_len = n;
	st->jwhich = JK_NONE;
	st->hdr = HH_OTHER;
	pfx_init(&st->chain, chunk_size, depth);
}

static __always_inline void http_fail(struct http_state *st, __u8 err)
{
	st->s = HS_ERROR;
	st->err = err;
}

/* ---- JSON body ---------------------------------------------------------- */

static __always_inline void json_stop(struct http_state *st)
{
	st->j = J_STOP;
	st->flags |= HTTP_F_JSON_BAD;
	st->jwhich = JK_NONE;
}

/* A byte of the value of the member being read, as sent. in_str: it is
 * inside the string (not a quote of it), for model and prompt_cache_key
 * whose string contents are what matters. */
static __always_inline void json_value_byte(struct http_state *st, __u8 c, bool in_str)
{
	switch (st->jwhich) {
	case JK_MESSAGES:
	case JK_PROMPT:
		pfx_byte(&st->chain, c);
		break;
	case JK_MODEL:
		if (st->jkind != VK_STRING || !in_str)
			break;
		if (st->model_len < HTTP_MODEL_MAX)
			st->model[st->model_len & (HTTP_MODEL_MAX - 1)] = c;
		if (st->model_len < 0xffffffffu)
			st->model_len++;
		st->model_hash = pfx_fnv_byte(st->model_hash, c);
		break;
	case JK_CACHE_KEY:
		if (st->jkind != VK_STRING || !in_str)
			break;
		if (st->cache_key_len < 0xffffffffu)
			st->cache_key_len++;
		st->cache_key_hash = pfx_fnv_byte(st->cache_key_hash, c);
		break;
	}
}

/* The member's value ended. */
static __always_inline void json_value_end(struct http_state *st)
{
	switch (st->jwhich) {
	case JK_MESSAGES:
	case JK_PROMPT:
		st->flags |= HTTP_F_PROMPT_END;
		break;
	case JK_MODEL:
		if (st->jkind == VK_STRING)
			st->flags |= HTTP_F_MODEL;
		break;
	case JK_CACHE_KEY:
		if (st->jkind == VK_STRING && st->cache_key_len)
			st->flags |= HTTP_F_CACHE_KEY;
		break;
	}
	st->jwhich = JK_NONE;
	st->j = J_AFTER_VALUE;
}

/* A key at the top level ended: which member's value comes next. The
 * first occurrence of a member counts; for the chain, the first of
 * "messages" and "prompt". */
static __always_inline void json_key_end(struct http_state *st)
{
	__u8 which = JK_NONE;
	int k;

	for (k = 0; k < JK_N; k++) {
		if ((st->jkeys & (1u << k)) && st->jpos == ks_len(jk_str(k)))
			which = k;
	}
	if (which == JK_MODEL && (st->flags & HTTP_F_MODEL || st->model_len))
		which = JK_NONE;
	if (which == JK_CACHE_KEY && (st->flags & HTTP_F_CACHE_KEY || st->cache_key_len))
		which = JK_NONE;
	if ((which == JK_MESSAGES || which == JK_PROMPT) &&
	    (st->flags & (HTTP_F_MESSAGES | HTTP_F_PROMPT)))
		which = JK_NONE;
	if (which == JK_MODEL)
		st->model_hash = PFX_FNV_BASIS;
	if (which == JK_CACHE_KEY)
		st->cache_key_hash = PFX_FNV_BASIS;
	st->jwhich = which;
	st->j = J_COLON;
}

/* One byte of a value (st->j == J_VALUE). Returns true when the value
 * ended *before* this byte (a scalar's terminator), which the caller then
 * reads as J_AFTER_VALUE. */
static __always_inline bool json_in_value(struct http_state *st, __u8 c)
{
	bool in_str = st->jbits & JB_IN_STR;
	bool end = false;

	if (st->jkind == VK_SCALAR) {
		if (c == ',' || c == '}' || c == ']' || json_is_ws(c)) {
			json_value_end(st);
			return true;
		}
		json_value_byte(st, c, false);
		return false;
	}
	if (in_str) {
		if (st->jbits & JB_ESC) {
			st->jbits &= ~JB_ESC;
		} else if (c == '\\') {
			st->jbits |= JB_ESC;
		} else if (c == '"') {
			st->jbits &= ~JB_IN_STR;
			in_str = false;
			end = st->jkind == VK_STRING;
		}
		json_value_byte(st, c, in_str);
	} else {
		if (json_is_ws(c))
			return false;
		if (c == '"') {
			st->jbits |= JB_IN_STR;
		} else if (c == '{' || c == '[') {
			if (st->jnest >= HTTP_JSON_NEST) {
				json_stop(st);
				return false;
			}
			st->jnest++;
		} else if (c == '}' || c == ']') {
			st->jnest--;
			end = st->jnest == 0;
		}
		json_value_byte(st, c, false);
	}
	if (end)
		json_value_end(st);
	return false;
}

/* One byte of the de-chunked body. */
static __always_inline void json_byte(struct http_state *st, __u8 c)
{
	__u32 k;

	if (st->j == J_VALUE) {
		if (!json_in_value(st, c))
			return;
		/* a scalar ended at c: read c after the value */
	}
	switch (st->j) {
	case J_START:
		if (json_is_ws(c))
			return;
		if (c == '{') {
			st->flags |= HTTP_F_JSON;
			st->j = J_KEY_OR_END;
			return;
		}
		json_stop(st);
		return;
	case J_KEY_OR_END:
		if (json_is_ws(c))
			return;
		if (c == '"') {
			st->j = J_KEY;
			st->jkeys = (1u << JK_N) - 1;
			st->jpos = 0;
			st->jbits = 0;
			return;
		}
		if (c == '}') {
			st->j = J_END;
			return;
		}
		json_stop(st);
		return;
	case J_KEY:
		if (st->jbits & JB_ESC) {
			st->jbits &= ~JB_ESC;
		} else if (c == '\\') {
			/* an escaped key never names a member we look for */
			st->jbits |= JB_ESC;
			st->jkeys = 0;
		} else if (c == '"') {
			json_key_end(st);
			return;
		}
		for (k = 0; k < JK_N; k++) {
			if (ks_char(jk_str(k), st->jpos) != c)
				st->jkeys &= ~(1u << k);
		}
		if (st->jpos < 0xffff)
			st->jpos++;
		return;
	case J_COLON:
		if (json_is_ws(c))
			return;
		if (c == ':') {
			st->j = J_VALUE_START;
			return;
		}
		json_stop(st);
		return;
	case J_VALUE_START:
		if (json_is_ws(c))
			return;
		if (c == ',' || c == '}' || c == ']' || c == ':') {
			json_stop(st);
			return;
		}
		if (st->jwhich == JK_MESSAGES)
			st->flags |= HTTP_F_MESSAGES;
		if (st->jwhich == JK_PROMPT)
			st->flags |= HTTP_F_PROMPT;
		st->j = J_VALUE;
		st->jbits = 0;
		st->jnest = 0;
		if (c == '"') {
			st->jkind = VK_STRING;
			st->jbits = JB_IN_STR;
		} else if (c == '{' || c == '[') {
			st->jkind = VK_NESTED;
			st->jnest = 1;
		} else {
			st->jkind = VK_SCALAR;
		}
		json_value_byte(st, c, false);
		return;
	case J_AFTER_VALUE:
		if (json_is_ws(c))
			return;
		if (c == ',') {
			st->j = J_KEY_OR_END;
			return;
		}
		if (c == '}') {
			st->j = J_END;
			return;
		}
		json_stop(st);
		return;
	}
	/* J_END, J_STOP: nothing more to learn from the body. */
}

/* ---- HTTP --------------------------------------------------------------- */

/* A body byte, whatever the framing. */
static __always_inline void http_body_byte(struct http_state *st, __u8 c)
{
	st->body_seen++;
	json_byte(st, c);
}

/* The empty line after the headers: how the body is framed. */
static __always_inline void http_headers_end(struct http_state *st)
{
	st->flags |= HTTP_F_HEADERS_DONE;
	st->hdr_len = st->consumed;
	if (st->flags & HTTP_F_TE_OTHER) {
		http_fail(st, HTTP_E_TRANSFER_ENC);
	} else if (st->flags & HTTP_F_CHUNKED) {
		if (st->flags & HTTP_F_CONTENT_LEN)
			http_fail(st, HTTP_E_CL_AND_TE);
		else
			st->s = HS_CHUNK_SIZE;
	} else if (st->content_length) {
		st->left = st->content_length;
		st->s = HS_BODY;
	} else {
		st->s = HS_DONE;
	}
	st->pos = 0;
	st->num = 0;
}

/* A header name ended (at ':'): which header's value follows. */
static __always_inline void http_name_end(struct http_state *st)
{
	__u8 h = HH_OTHER;

	if ((st->cand & (1u << HH_CONTENT_LEN)) && st->pos == ks_len(KS_CONTENT_LENGTH))
		h = HH_CONTENT_LEN;
	else if ((st->cand & (1u << HH_TRANSFER_ENC)) && st->pos == ks_len(KS_TRANSFER_ENCODING))
		h = HH_TRANSFER_ENC;
	else if ((st->cand & (1u << HH_EXPECT)) && st->pos == ks_len(KS_EXPECT))
		h = HH_EXPECT;
	else if ((st->cand & (1u << HH_AFFINITY)) && st->pos == st->aff_len)
		h = HH_AFFINITY;
	/* Only the first affinity header counts. */
	if (h == HH_AFFINITY && (st->flags & HTTP_F_AFFINITY_HDR))
		h = HH_OTHER;
	st->hdr = h;
	st->s = HS_HVALUE;
	st->pos = 0;
	st->num = 0;
	st->ows = 0;
	st->cand = 1;
	if (h == HH_AFFINITY)
		st->aff_hash = PFX_FNV_BASIS;
}

/* A non-whitespace byte of a header value we compare with a constant. */
static __always_inline void http_value_match(struct http_state *st, int id, __u8 c)
{
	if (st->ows || ks_char(id, st->pos) != http_lower(c))
		st->cand = 0;
	if (st->pos < 0xffff)
		st->pos++;
}

static __always_inline void http_value_byte(struct http_state *st, __u8 c)
{
	if (http_is_ws(c)) {
		if (st->pos)
			st->ows = 1;
		return;
	}
	if ((c < 0x20 && c != '\t') || c == 0x7f) {
		http_fail(st, HTTP_E_HEADER);
		return;
	}
	switch (st->hdr) {
	case HH_CONTENT_LEN:
		if (c < '0' || c > '9' || st->ows) {
			http_fail(st, HTTP_E_CONTENT_LEN);
			return;
		}
		st->num = st->num * 10 + (c - '0');
		if (st->num > HTTP_CL_MAX) {
			http_fail(st, HTTP_E_CONTENT_LEN);
			return;
		}
		st->pos++;
		return;
	case HH_TRANSFER_ENC:
		http_value_match(st, KS_CHUNKED, c);
		return;
	case HH_EXPECT:
		http_value_match(st, KS_100_CONTINUE, c);
		return;
	case HH_AFFINITY:
		st->aff_hash = pfx_fnv_byte(st->aff_hash, c);
		if (st->pos < 0xffff)
			st->pos++;
		return;
	}
}

/* The end of a header line. */
static __always_inline void http_value_end(struct http_state *st)
{
	switch (st->hdr) {
	case HH_CONTENT_LEN:
		if (!st->pos ||
		    ((st->flags & HTTP_F_CONTENT_LEN) && st->num != st->content_length)) {
			http_fail(st, HTTP_E_CONTENT_LEN);
			return;
		}
		st->flags |= HTTP_F_CONTENT_LEN;
		st->content_length = st->num;
		break;
	case HH_TRANSFER_ENC:
		/* Only a single "chunked" is understood; a second header, or any
		 * other coding, makes the body unreadable to us. */
		if (st->cand && st->pos == ks_len(KS_CHUNKED) && !(st->flags & HTTP_F_CHUNKED))
			st->flags |= HTTP_F_CHUNKED;
		else
			st->flags |= HTTP_F_TE_OTHER;
		break;
	case HH_EXPECT:
		if (st->cand && st->pos == ks_len(KS_100_CONTINUE))
			st->flags |= HTTP_F_EXPECT_100;
		break;
	case HH_AFFINITY:
		if (st->pos)
			st->flags |= HTTP_F_AFFINITY_HDR;
		break;
	}
	st->hdr = HH_OTHER;
	st->s = HS_HNAME_START;
	st->pos = 0;
}

/* A line ended (LF, after an optional CR) in state st->s. */
static __always_inline void http_line_end(struct http_state *st)
{
	switch (st->s) {
	case HS_RL_END:
		st->s = HS_HNAME_START;
		st->pos = 0;
		return;
	case HS_HNAME_START:
		http_headers_end(st);
		return;
	case HS_HVALUE:
		http_value_end(st);
		return;
	case HS_CHUNK_SIZE:
	case HS_CHUNK_EXT:
		if (!st->pos) {
			http_fail(st, HTTP_E_CHUNK);
			return;
		}
		st->left = st->num;
		st->s = st->num ? HS_CHUNK_DATA : HS_TRAILER_START;
		st->pos = 0;
		st->num = 0;
		return;
	case HS_CHUNK_END:
		st->s = HS_CHUNK_SIZE;
		return;
	case HS_TRAILER_START:
		st->s = HS_DONE;
		return;
	case HS_TRAILER:
		st->s = HS_TRAILER_START;
		return;
	}
	/* A line end anywhere else (in the method, target, version or a
	 * header name) is malformed. */
	if (st->s == HS_VERSION)
		http_fail(st, HTTP_E_VERSION);
	else if (st->s == HS_HNAME)
		http_fail(st, HTTP_E_HEADER);
	else if (st->s == HS_TARGET)
		http_fail(st, HTTP_E_TARGET);
	else
		http_fail(st, HTTP_E_METHOD);
}

/* States in which CR LF (or a bare LF) ends a line. */
static __always_inline bool http_line_state(__u8 s)
{
	return s <= HS_HVALUE || s == HS_CHUNK_SIZE || s == HS_CHUNK_EXT || s == HS_CHUNK_END ||
	       s == HS_TRAILER_START || s == HS_TRAILER;
}

/*
 * Feed one byte. Constant work; never reads anything but c and *st.
 * After HS_DONE or HS_ERROR further bytes change nothing.
 */
static __always_inline void http_byte(struct http_state *st, __u8 c)
{
	__u32 k;
	int d;

	if (st->s >= HS_DONE)
		return;
	st->consumed++;

	if (http_line_state(st->s)) {
		if (st->cr && c != '\n') {
			http_fail(st, HTTP_E_LINE);
			return;
		}
		if (c == '\r') {
			st->cr = 1;
			return;
		}
		if (c == '\n') {
			st->cr = 0;
			/* The version is complete only once all its bytes came. */
			if (st->s == HS_VERSION && st->pos == ks_len(KS_HTTP1) + 1)
				st->s = HS_RL_END;
			http_line_end(st);
			return;
		}
	}

	switch (st->s) {
	case HS_METHOD:
		if (c == ' ' && st->pos) {
			st->method_len = st->pos;
			st->s = HS_TARGET;
			st->pos = 0;
			return;
		}
		if (!http_is_tchar(c) || st->pos >= HTTP_METHOD_MAX) {
			http_fail(st, HTTP_E_METHOD);
			return;
		}
		st->method[st->pos & (HTTP_METHOD_MAX - 1)] = c;
		st->pos++;
		return;
	case HS_TARGET:
		if (c == ' ' && st->path_len) {
			st->s = HS_VERSION;
			st->pos = 0;
			return;
		}
		if (c <= ' ' || c >= 0x7f) {
			http_fail(st, HTTP_E_TARGET);
			return;
		}
		if (st->path_len < HTTP_PATH_MAX)
			st->path[st->path_len & (HTTP_PATH_MAX - 1)] = c;
		if (st->path_len < 0xffff)
			st->path_len++;
		return;
	case HS_VERSION:
		if (st->pos < ks_len(KS_HTTP1)) {
			if (c != ks_char(KS_HTTP1, st->pos)) {
				http_fail(st, HTTP_E_VERSION);
				return;
			}
		} else if (st->pos == ks_len(KS_HTTP1) && (c == '0' || c == '1')) {
			if (c == '1')
				st->flags |= HTTP_F_V11;
		} else {
			http_fail(st, HTTP_E_VERSION);
			return;
		}
		st->pos++;
		return;
	case HS_HNAME_START:
		if (http_is_ws(c)) {
			/* obsolete line folding: refused, as RFC 9112 allows */
			http_fail(st, HTTP_E_HEADER);
			return;
		}
		st->s = HS_HNAME;
		st->pos = 0;
		st->cand = (1u << HH_N) - 1;
		if (!st->aff_len)
			st->cand &= ~(1u << HH_AFFINITY);
		/* c is the name's first byte */
		/* fall through */
	case HS_HNAME:
		if (c == ':' && st->pos) {
			http_name_end(st);
			return;
		}
		if (!http_is_tchar(c)) {
			http_fail(st, HTTP_E_HEADER);
			return;
		}
		c = http_lower(c);
		for (k = 0; k < HH_AFFINITY; k++) {
			if (ks_char(hh_str(k), st->pos) != c)
				st->cand &= ~(1u << k);
		}
		if (st->pos >= st->aff_len ||
		    st->aff_name[st->pos & (HTTP_NAME_MAX - 1)] != (char)c)
			st->cand &= ~(1u << HH_AFFINITY);
		if (st->pos < 0xffff)
			st->pos++;
		return;
	case HS_HVALUE:
		http_value_byte(st, c);
		return;
	case HS_BODY:
		http_body_byte(st, c);
		if (--st->left == 0)
			st->s = HS_DONE;
		return;
	case HS_CHUNK_SIZE:
		d = http_hex(c);
		if (d >= 0) {
			if (st->pos >= HTTP_CHUNK_HEX) {
				http_fail(st, HTTP_E_CHUNK);
				return;
			}
			st->num = (st->num << 4) | d;
			st->pos++;
			return;
		}
		if ((c == ';' || http_is_ws(c)) && st->pos) {
			st->s = HS_CHUNK_EXT;
			return;
		}
		http_fail(st, HTTP_E_CHUNK);
		return;
	case HS_CHUNK_EXT:
		if (c < 0x20 && c != '\t') {
			http_fail(st, HTTP_E_CHUNK);
			return;
		}
		return;
	case HS_CHUNK_DATA:
		http_body_byte(st, c);
		if (--st->left == 0)
			st->s = HS_CHUNK_END;
		return;
	case HS_CHUNK_END:
		http_fail(st, HTTP_E_CHUNK);
		return;
	case HS_TRAILER_START:
	case HS_TRAILER:
		st->s = HS_TRAILER;
		return;
	}
}

/* ---- readiness ------------------------------------------------------------ */

/* Why the front of the request is enough to choose a backend. */
enum {
	HTTP_WAIT = 0,	   /* not yet: hold more */
	HTTP_READY_DONE,   /* the whole request was read */
	HTTP_READY_ERROR,  /* not a request we parse: fall back to the L4 hash */
	HTTP_READY_HOLD,   /* the hold limit was reached */
	HTTP_READY_PREFIX, /* the prompt's chain is complete and the model known */
	HTTP_READY_EXPECT, /* headers done, Expect: 100-continue, no body yet */
};

static __always_inline int http_ready(const struct http_state *st, __u32 hold_limit)
{
	if (st->s == HS_DONE)
		return HTTP_READY_DONE;
	if (st->s == HS_ERROR)
		return HTTP_READY_ERROR;
	if (st->consumed >= hold_limit)
		return HTTP_READY_HOLD;
	if ((st->flags & HTTP_F_MODEL) &&
	    ((st->flags & HTTP_F_PROMPT_END) || st->chain.n >= st->chain.depth_max))
		return HTTP_READY_PREFIX;
	if ((st->flags & (HTTP_F_HEADERS_DONE | HTTP_F_EXPECT_100)) ==
		(HTTP_F_HEADERS_DONE | HTTP_F_EXPECT_100) &&
	    !st->body_seen)
		return HTTP_READY_EXPECT;
	return HTTP_WAIT;
}

#ifndef __bpf__
/* Userspace: feed a buffer. BPF callers loop over packet bytes themselves
 * (bpf_loop), calling http_byte. Returns the bytes taken. */
static inline __u32 http_feed(struct http_state *st, const void *buf, __u32 len)
{
	const __u8 *p = buf;
	__u32 i, before = st->consumed;

	for (i = 0; i < len && st->s < HS_DONE; i++)
		http_byte(st, p[i]);
	return st->consumed - before;
}
#endif

#endif

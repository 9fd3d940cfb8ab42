// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* request.c - validate an OpenAI chat/completions body and extract the prompt. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "request.h"
#include "tokenizer.h"

/* Largest accepted integer for token counts: keeps sums far from overflow. */
#define MAX_TOKEN_FIELD (1ULL << 40)

struct text {
	char *p;
	size_t len, cap;
};

static int text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->p, cap);
		if (!p)
			return -1;
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
	return 0;
}

void emu_error_set(struct emu_error *err, int status, const char *param, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	err->param = param;
	switch (status) {
	case 404:
		err->type = "NotFoundError";
		break;
	case 405:
		err->type = "MethodNotAllowedError";
		break;
	case 413:
		err->type = "RequestEntityTooLargeError";
		break;
	case 500:
		err->type = "InternalServerError";
		break;
	case 503:
		err->type = "ServiceUnavailableError";
		break;
	default:
		err->type = "BadRequestError";
	}
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

static const char *type_name(const struct json_value *v)
{
	static const char *const names[] = {"null",   "boolean", "number",
					    "string", "array",	 "object"};
	return names[v->type];
}

/* Optional boolean field: absent or null keeps *@out. */
static int get_bool(const struct json_value *body, const char *name, bool *out,
		    struct emu_error *err)
{
	const struct json_value *v = json_get(body, name);

	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_BOOL) {
		emu_error_set(err, 400, name, "'%s' must be a boolean, not %s", name, type_name(v));
		return -1;
	}
	*out = v->boolean;
	return 0;
}

/* Optional integer field in [@min, MAX_TOKEN_FIELD]; returns 1 when present. */
static int get_count(const struct json_value *body, const char *name, uint64_t min, uint64_t *out,
		     struct emu_error *err)
{
	const struct json_value *v = json_get(body, name);

	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_NUMBER || !v->is_int) {
		emu_error_set(err, 400, name, "'%s' must be an integer", name);
		return -1;
	}
	if (v->integer < (int64_t)min || (uint64_t)v->integer > MAX_TOKEN_FIELD) {
		emu_error_set(err, 400, name, "'%s' must be at least %llu, got %lld", name,
			      (unsigned long long)min, (long long)v->integer);
		return -1;
	}
	*out = (uint64_t)v->integer;
	return 1;
}

/* Text of a message's content: a string, null, or an array of content parts. */
static int add_content(struct text *t, const struct json_value *c, size_t idx,
		       struct emu_error *err)
{
	const struct json_value *part, *type, *s;

	if (!c || c->type == JSON_NULL)
		return 0;
	if (c->type == JSON_STRING)
		return text_add(t, c->str, c->len);
	if (c->type != JSON_ARRAY) {
		emu_error_set(err, 400, "messages",
			      "messages[%zu].content must be a string or an "
			      "array of content parts, not %s",
			      idx, type_name(c));
		return -1;
	}
	for (part = c->first; part; part = part->next) {
		if (part->type != JSON_OBJECT) {
			emu_error_set(err, 400, "messages",
				      "messages[%zu].content parts must be objects", idx);
			return -1;
		}
		type = json_get(part, "type");
		if (!type || type->type != JSON_STRING) {
			emu_error_set(err, 400, "messages",
				      "messages[%zu].content part without a string 'type'", idx);
			return -1;
		}
		/* images and audio carry no text: they add no tokens here */
		if (strcmp(type->str, "text"))
			continue;
		s = json_get(part, "text");
		if (!s || s->type != JSON_STRING) {
			emu_error_set(err, 400, "messages",
				      "messages[%zu].content text part without a string 'text'",
				      idx);
			return -1;
		}
		if (text_add(t, s->str, s->len))
			return -1;
	}
	return 0;
}

static int chat_prompt(const struct json_value *body, struct text *t, struct emu_error *err)
{
	const struct json_value *msgs = json_get(body, "messages"), *m, *role;
	size_t i = 0;

	if (!msgs || msgs->type == JSON_NULL) {
		emu_error_set(err, 400, "messages", "Field required: 'messages'");
		return -1;
	}
	if (msgs->type != JSON_ARRAY || msgs->len == 0) {
		emu_error_set(err, 400, "messages", "'messages' must be a non-empty array");
		return -1;
	}
	for (m = msgs->first; m; m = m->next, i++) {
		if (m->type != JSON_OBJECT) {
			emu_error_set(err, 400, "messages", "messages[%zu] must be an object", i);
			return -1;
		}
		role = json_get(m, "role");
		if (!role || role->type != JSON_STRING) {
			emu_error_set(err, 400, "messages",
				      "messages[%zu].role is required and must be a string", i);
			return -1;
		}
		if (text_add(t, role->str, role->len) || text_add(t, ": ", 2) ||
		    add_content(t, json_get(m, "content"), i, err) || text_add(t, "\n", 1)) {
			if (!err->status)
				emu_error_set(err, 500, NULL, "out of memory");
			return -1;
		}
	}
	return 0;
}

static int completion_prompt(const struct json_value *body, struct text *t, struct emu_error *err)
{
	const struct json_value *p = json_get(body, "prompt");

	if (!p || p->type == JSON_NULL) {
		emu_error_set(err, 400, "prompt", "Field required: 'prompt'");
		return -1;
	}
	/* a batch of one prompt is the same request */
	if (p->type == JSON_ARRAY && p->len == 1 && p->first->type == JSON_STRING)
		p = p->first;
	if (p->type != JSON_STRING) {
		emu_error_set(err, 400, "prompt",
			      "'prompt' must be a string or a list of one "
			      "string (token-id and batched prompts are not emulated)");
		return -1;
	}
	if (p->len == 0) {
		emu_error_set(err, 400, "prompt", "'prompt' must not be empty");
		return -1;
	}
	if (text_add(t, p->str, p->len)) {
		emu_error_set(err, 500, NULL, "out of memory");
		return -1;
	}
	return 0;
}

static int parse_options(const struct json_value *body, const struct emu_limits *lim,
			 struct emu_request *req, struct emu_error *err)
{
	const struct json_value *model = json_get(body, "model"), *so, *seed, *n;
	uint64_t max_tokens = lim->default_max_tokens, forced = 0, v;
	int explicit_max = 0, r;

	if (model && model->type != JSON_NULL && model->type != JSON_STRING) {
		emu_error_set(err, 400, "model", "'model' must be a string");
		return -1;
	}
	/* an empty or absent model means the served one, as in vLLM */
	if (model && model->type == JSON_STRING && model->len &&
	    (strlen(lim->model) != model->len || memcmp(lim->model, model->str, model->len))) {
		emu_error_set(err, 404, "model", "The model `%.*s` does not exist.",
			      (int)(model->len > 128 ? 128 : model->len), model->str);
		return -1;
	}
	if (get_bool(body, "stream", &req->stream, err))
		return -1;
	so = json_get(body, "stream_options");
	if (so && so->type != JSON_NULL) {
		if (so->type != JSON_OBJECT) {
			emu_error_set(err, 400, "stream_options",
				      "'stream_options' must be an object");
			return -1;
		}
		if (!req->stream) {
			emu_error_set(err, 400, "stream_options",
				      "Stream options can only be defined when `stream=True`.");
			return -1;
		}
		if (get_bool(so, "include_usage", &req->include_usage, err))
			return -1;
	}
	n = json_get(body, "n");
	if (n && n->type != JSON_NULL &&
	    (n->type != JSON_NUMBER || !n->is_int || n->integer != 1)) {
		emu_error_set(err, 400, "n", "only n=1 is emulated");
		return -1;
	}
	r = get_count(body, "max_tokens", 1, &v, err);
	if (r < 0)
		return -1;
	if (r)
		max_tokens = v, explicit_max = 1;
	r = get_count(body, "max_completion_tokens", 1, &v, err);
	if (r < 0)
		return -1;
	if (r)
		max_tokens = v, explicit_max = 1;
	r = get_count(body, "kvlb_output_tokens", 1, &forced, err);
	if (r < 0)
		return -1;
	req->max_tokens = max_tokens;
	req->output_tokens = max_tokens;
	if (forced) {
		/* a replayed trace fixes the length; an explicit limit still caps it */
		if (!explicit_max)
			req->max_tokens = forced > max_tokens ? forced : max_tokens;
		req->output_tokens = forced < req->max_tokens ? forced : req->max_tokens;
	}
	seed = json_get(body, "seed");
	if (seed && seed->type != JSON_NULL) {
		if (seed->type != JSON_NUMBER || !seed->is_int) {
			emu_error_set(err, 400, "seed", "'seed' must be an integer");
			return -1;
		}
		req->text_seed ^= emu_mix((uint64_t)seed->integer);
	}
	if (req->prompt_tokens + req->max_tokens > lim->max_model_len) {
		emu_error_set(err, 400, NULL,
			      "This model's maximum context length is %llu tokens. However, you "
			      "requested %llu tokens (%llu in the messages, %llu in the "
			      "completion). Please reduce the length of the messages or "
			      "completion.",
			      (unsigned long long)lim->max_model_len,
			      (unsigned long long)(req->prompt_tokens + req->max_tokens),
			      (unsigned long long)req->prompt_tokens,
			      (unsigned long long)req->max_tokens);
		return -1;
	}
	return 0;
}

int emu_request_parse(const char *body, size_t len, enum emu_endpoint endpoint,
		      const struct emu_limits *lim, struct emu_request *req, struct emu_error *err)
{
	struct json_doc doc;
	struct text t = {0};
	char jerr[128];
	int r;

	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	req->endpoint = endpoint;
	if (json_parse(body, len, &doc, jerr, sizeof(jerr))) {
		emu_error_set(err, 400, NULL, "Invalid JSON body: %s", jerr);
		return -1;
	}
	if (doc.root->type != JSON_OBJECT) {
		emu_error_set(err, 400, NULL, "The request body must be a JSON object");
		json_free(&doc);
		return -1;
	}
	r = endpoint == EMU_CHAT ? chat_prompt(doc.root, &t, err)
				 : completion_prompt(doc.root, &t, err);
	if (!r) {
		req->prompt = t.p;
		req->prompt_len = t.len;
		req->prompt_tokens = emu_tokens(t.len);
		req->text_seed = emu_hash(endpoint, t.p, t.len);
		r = parse_options(doc.root, lim, req, err);
	}
	json_free(&doc);
	if (r) {
		free(t.p);
		req->prompt = NULL;
		return -1;
	}
	return 0;
}

void emu_request_free(struct emu_request *req)
{
	free(req->prompt);
	req->prompt = NULL;
}

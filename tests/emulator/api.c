// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * api.c - the OpenAI-compatible HTTP surface: /v1/chat/completions,
 * /v1/completions (plain JSON or SSE), /v1/models, /health, /metrics.
 *
 * Every response names the backend (header x-kvlb-backend, and a top-level
 * "kvlb_backend" member in JSON) so tests can see where a balancer sent a
 * request. Completions also report the emulator's own figures in headers:
 * x-kvlb-ttft-ms (emulated milliseconds), x-kvlb-cached-tokens and
 * x-kvlb-prompt-tokens. Streamed replies start when the first token is due,
 * so those headers are known by then.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "emu.h"
#include "json.h"
#include "tokenizer.h"

struct api {
	const struct emu_config *cfg;
	struct event_base *base;
	struct emu_sched *sched;
	struct emu_limits lim;
	uint64_t counter; /* request ids, deterministic given the seed and arrival order */
};

struct http_job {
	struct emu_job job; /* first: the scheduler hands back &job */
	struct api *api;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *hangup; /* the client closed its end */
	bool started;	      /* streamed reply headers sent */
	char id[48];
	long long created;
	uint64_t text_seed;
};

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

static void common_headers(struct api *a, struct evhttp_request *req, const char *ctype)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "x-kvlb-backend", a->cfg->name);
	if (ctype)
		evhttp_add_header(h, "Content-Type", ctype);
}

static void add_jstr(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	json_escape(b, s, strlen(s));
	evbuffer_add(b, "\"", 1);
}

static void send_json(struct api *a, struct evhttp_request *req, int status, struct evbuffer *b)
{
	/* every JSON object we send ends with the backend name */
	evbuffer_add_printf(b, ",\"kvlb_backend\":");
	add_jstr(b, a->cfg->name);
	evbuffer_add(b, "}", 1);
	common_headers(a, req, "application/json");
	evhttp_send_reply(req, status, reason(status), b);
}

static void send_error(struct api *a, struct evhttp_request *req, const struct emu_error *err)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add_printf(b, "{\"object\":\"error\",\"message\":");
	add_jstr(b, err->message);
	evbuffer_add_printf(b, ",\"type\":\"%s\",\"param\":null,\"code\":%d", err->type,
			    err->status);
	if (err->status == 405)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
				  err->param ? err->param : "GET");
	send_json(a, req, err->status, b);
	evbuffer_free(b);
}

static void send_simple_error(struct api *a, struct evhttp_request *req, int status,
			      const char *param, const char *msg)
{
	struct emu_error err;

	emu_error_set(&err, status, param, "%s", msg);
	send_error(a, req, &err);
}

/* ---- completions ---- */

static void usage_json(struct evbuffer *b, const struct http_job *hj)
{
	const struct emu_request *r = &hj->job.req;

	evbuffer_add_printf(b,
			    "{\"prompt_tokens\":%" PRIu64 ",\"total_tokens\":%" PRIu64
			    ",\"completion_tokens\":%" PRIu64
			    ",\"prompt_tokens_details\":{\"cached_tokens\":%" PRIu64 "}}",
			    r->prompt_tokens, r->prompt_tokens + r->output_tokens, r->output_tokens,
			    hj->job.cached_tokens);
}

static const char *finish_reason(const struct http_job *hj)
{
	const struct emu_request *r = &hj->job.req;

	return r->output_tokens >= r->max_tokens ? "\"length\"" : "\"stop\"";
}

static void tokens_text(struct evbuffer *b, const struct http_job *hj, uint64_t from, uint64_t to)
{
	char t[EMU_TOKEN_BYTES];

	/* pseudo-words are letters and spaces: nothing to escape */
	for (; from < to; from++) {
		emu_token_text(hj->text_seed, from, t);
		evbuffer_add(b, t, sizeof(t));
	}
}

static void object_head(struct evbuffer *b, const struct http_job *hj, const char *object)
{
	evbuffer_add_printf(b,
			    "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%lld,\"model\":", hj->id,
			    object, hj->created);
	add_jstr(b, hj->api->cfg->model);
}

static void figure_headers(struct http_job *hj)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(hj->req);
	char v[32];

	snprintf(v, sizeof(v), "%.3f", (hj->job.first_token - hj->job.arrival) * 1e3);
	evhttp_add_header(h, "x-kvlb-ttft-ms", v);
	snprintf(v, sizeof(v), "%" PRIu64, hj->job.cached_tokens);
	evhttp_add_header(h, "x-kvlb-cached-tokens", v);
	snprintf(v, sizeof(v), "%" PRIu64, hj->job.req.prompt_tokens);
	evhttp_add_header(h, "x-kvlb-prompt-tokens", v);
}

static void send_whole(struct http_job *hj)
{
	bool chat = hj->job.req.endpoint == EMU_CHAT;
	uint64_t out = hj->job.req.output_tokens;
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		evhttp_send_error(hj->req, 500, NULL);
		return;
	}
	object_head(b, hj, chat ? "chat.completion" : "text_completion");
	if (chat)
		evbuffer_add_printf(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":"
				       "\"assistant\",\"content\":\"");
	else
		evbuffer_add_printf(b, ",\"choices\":[{\"index\":0,\"text\":\"");
	tokens_text(b, hj, 0, out);
	evbuffer_add_printf(b,
			    "\"%s,\"logprobs\":null,\"finish_reason\":%s,\"stop_reason\":null}]"
			    ",\"usage\":",
			    chat ? ",\"tool_calls\":[]}" : "", finish_reason(hj));
	usage_json(b, hj);
	figure_headers(hj);
	send_json(hj->api, hj->req, 200, b);
	evbuffer_free(b);
}

static void chunk_end(struct evbuffer *b, const struct http_job *hj, bool usage_null)
{
	if (usage_null && hj->job.req.include_usage)
		evbuffer_add_printf(b, ",\"usage\":null");
	evbuffer_add_printf(b, ",\"kvlb_backend\":");
	add_jstr(b, hj->api->cfg->name);
	evbuffer_add(b, "}\n\n", 3);
}

static void stream_tokens(struct http_job *hj, struct evbuffer *b, uint64_t due, bool done)
{
	bool chat = hj->job.req.endpoint == EMU_CHAT;
	const char *object = chat ? "chat.completion.chunk" : "text_completion";
	uint64_t k;

	if (!hj->started && chat) {
		evbuffer_add(b, "data: ", 6);
		object_head(b, hj, object);
		evbuffer_add_printf(b,
				    ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
				    "\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]");
		chunk_end(b, hj, true);
	}
	/* one event per token, as an engine step yields one token per request */
	for (k = hj->job.due_sent; k < due; k++) {
		bool last = done && k + 1 == due;

		evbuffer_add(b, "data: ", 6);
		object_head(b, hj, object);
		evbuffer_add_printf(b, chat ? ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
					    : ",\"choices\":[{\"index\":0,\"text\":\"");
		tokens_text(b, hj, k, k + 1);
		evbuffer_add_printf(b,
				    chat ? "\"},\"logprobs\":null,\"finish_reason\":%s}]"
					 : "\",\"logprobs\":null,\"finish_reason\":%s,"
					   "\"stop_reason\":null}]",
				    last ? finish_reason(hj) : "null");
		chunk_end(b, hj, true);
	}
	hj->job.due_sent = due;
	if (done) {
		if (hj->job.req.include_usage) {
			evbuffer_add(b, "data: ", 6);
			object_head(b, hj, object);
			evbuffer_add_printf(b, ",\"choices\":[],\"usage\":");
			usage_json(b, hj);
			chunk_end(b, hj, false);
		}
		evbuffer_add_printf(b, "data: [DONE]\n\n");
	}
}

static void job_release(struct http_job *hj)
{
	if (hj->evcon)
		evhttp_connection_set_closecb(hj->evcon, NULL, NULL);
	if (hj->hangup)
		event_free(hj->hangup);
	sched_job_free(&hj->job);
	emu_request_free(&hj->job.req);
	free(hj);
}

static void on_progress(struct emu_job *job, uint64_t due, bool done)
{
	struct http_job *hj = (struct http_job *)job;
	struct evbuffer *b;

	if (!job->req.stream) {
		if (done) {
			send_whole(hj);
			job_release(hj);
		}
		return;
	}
	b = evbuffer_new();
	if (!hj->started) {
		figure_headers(hj);
		common_headers(hj->api, hj->req, "text/event-stream");
		evhttp_add_header(evhttp_request_get_output_headers(hj->req), "Cache-Control",
				  "no-cache");
		evhttp_send_reply_start(hj->req, 200, "OK");
	}
	if (b) {
		stream_tokens(hj, b, due, done);
		evhttp_send_reply_chunk(hj->req, b);
		evbuffer_free(b);
	}
	hj->started = true;
	if (done) {
		evhttp_send_reply_end(hj->req);
		job_release(hj);
	}
}

/* The client closed its connection before the answer was complete. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_job *hj = arg;

	(void)evcon;
	sched_abort(hj->api->sched, &hj->job);
	/*
	 * libevent detaches a request from a connection that fails under it and
	 * leaves freeing it to us; one still attached is freed with the connection.
	 */
	if (!evhttp_request_get_connection(hj->req))
		evhttp_request_free(hj->req);
	hj->evcon = NULL;
	job_release(hj);
}

/*
 * libevent stops reading a connection once it has a whole request, so a client
 * that gives up while its request waits or decodes would go unnoticed until
 * the reply. Watching the socket for the peer's close lets the engine drop
 * the request at once, as vLLM aborts a request whose client disconnected.
 */
static void on_hangup(evutil_socket_t fd, short what, void *arg)
{
	struct http_job *hj = arg;

	(void)fd;
	(void)what;
	/* runs on_close() (abort, release) and frees the request with the connection */
	evhttp_connection_free(hj->evcon);
}

static void watch_hangup(struct api *a, struct http_job *hj)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(hj->evcon);
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

	if (fd < 0 || !(event_base_get_features(a->base) & EV_FEATURE_EARLY_CLOSE))
		return;
	hj->hangup = event_new(a->base, fd, EV_CLOSED, on_hangup, hj);
	if (hj->hangup && event_add(hj->hangup, NULL)) {
		event_free(hj->hangup);
		hj->hangup = NULL;
	}
}

static void handle_completion(struct api *a, struct evhttp_request *req, enum emu_endpoint ep)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct emu_error err;
	struct http_job *hj;
	uint64_t id;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		send_simple_error(a, req, 405, "POST", "Method Not Allowed");
		return;
	}
	if (len > a->cfg->max_body) {
		send_simple_error(a, req, 413, NULL, "Request body too large");
		return;
	}
	hj = calloc(1, sizeof(*hj));
	if (!hj) {
		send_simple_error(a, req, 503, NULL, "out of memory");
		return;
	}
	if (emu_request_parse((const char *)evbuffer_pullup(in, -1), len, ep, &a->lim, &hj->job.req,
			      &err)) {
		free(hj);
		send_error(a, req, &err);
		return;
	}
	hj->api = a;
	hj->req = req;
	hj->job.progress = on_progress;
	hj->job.stream_progress = hj->job.req.stream;
	hj->text_seed = hj->job.req.text_seed ^ emu_mix(a->cfg->seed);
	id = emu_mix(a->cfg->seed ^ emu_mix(++a->counter));
	snprintf(hj->id, sizeof(hj->id), "%s%016" PRIx64 "%016" PRIx64,
		 ep == EMU_CHAT ? "chatcmpl-" : "cmpl-", id, emu_mix(id));
	hj->created = (long long)time(NULL);
	if (sched_job_init(a->sched, &hj->job)) {
		emu_request_free(&hj->job.req);
		free(hj);
		send_simple_error(a, req, 503, NULL, "out of memory");
		return;
	}
	hj->evcon = evhttp_request_get_connection(req);
	if (hj->evcon) {
		evhttp_connection_set_closecb(hj->evcon, on_close, hj);
		watch_hangup(a, hj);
	}
	sched_submit(a->sched, &hj->job);
}

/* ---- the rest ---- */

static void handle_models(struct api *a, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add_printf(b, "{\"object\":\"list\",\"data\":[{\"id\":");
	add_jstr(b, a->cfg->model);
	evbuffer_add_printf(b,
			    ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"vllm\","
			    "\"root\":",
			    (long long)time(NULL));
	add_jstr(b, a->cfg->model);
	evbuffer_add_printf(b, ",\"parent\":null,\"max_model_len\":%" PRIu64 ",\"permission\":[]}]",
			    a->cfg->max_model_len);
	send_json(a, req, 200, b);
	evbuffer_free(b);
}

static void handle_metrics(struct api *a, struct evhttp_request *req)
{
	struct emu_metrics_info info = {a->cfg->flavor, a->cfg->model, a->cfg->sched.block_size,
					a->cfg->sched.cache_blocks};
	struct evbuffer *b = evbuffer_new();
	struct emu_gauges g;

	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	sched_gauges(a->sched, &g);
	metrics_render(b, &a->sched->metrics, &g, &info);
	common_headers(a, req, "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void dispatch(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	/* libevent calls us without a URI when the body broke --max-body */
	if (!path) {
		if (evhttp_request_get_response_code(req) == 413)
			send_simple_error(a, req, 413, NULL, "Request body too large");
		else
			send_simple_error(a, req, 400, NULL, "Malformed request");
		return;
	}
	if (!strcmp(path, "/v1/chat/completions")) {
		handle_completion(a, req, EMU_CHAT);
	} else if (!strcmp(path, "/v1/completions")) {
		handle_completion(a, req, EMU_COMPLETION);
	} else if (!strcmp(path, "/health") || !strcmp(path, "/v1/models") ||
		   !strcmp(path, "/metrics")) {
		if (!get) {
			send_simple_error(a, req, 405, "GET, HEAD", "Method Not Allowed");
		} else if (path[1] == 'h') {
			common_headers(a, req, NULL);
			evhttp_send_reply(req, 200, "OK", NULL);
		} else if (path[1] == 'v') {
			handle_models(a, req);
		} else {
			handle_metrics(a, req);
		}
	} else {
		send_simple_error(a, req, 404, NULL, "Not Found");
	}
}

int api_setup(struct evhttp *http, struct event_base *base, const struct emu_config *cfg,
	      struct emu_sched *sched)
{
	static struct api a;

	a = (struct api){.cfg = cfg, .base = base, .sched = sched};
	a.lim.model = cfg->model;
	a.lim.max_model_len = cfg->max_model_len;
	a.lim.default_max_tokens = cfg->default_max_tokens;
	/* accept every method so that a wrong one gets our JSON 405, not libevent's page */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
					     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
					     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
					     EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	/*
	 * libevent answers bodies over its own limit with an HTML page before any
	 * callback runs, so its limit sits above ours: a body somewhat over
	 * --max-body gets our JSON 413, a gross one is refused unread.
	 */
	evhttp_set_max_body_size(http, (ev_ssize_t)(cfg->max_body * 2));
	/* headers are small in practice; unbounded ones would only eat memory */
	evhttp_set_max_headers_size(http, 64 * 1024);
	/* replies without a body (/health) carry no Content-Type, as uvicorn's */
	evhttp_set_default_content_type(http, NULL);
	evhttp_set_gencb(http, dispatch, &a);
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kvlb-emu - an emulated LLM model server for kvlb's tests and benchmarks.
 *
 * One process is one backend: an OpenAI-compatible HTTP API in front of an
 * emulated engine (prefix cache, batch scheduler, timing model) that exposes
 * vLLM- or SGLang-style metrics. Single-threaded and event-driven (libevent).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/http.h>

#include "emu.h"

static const char usage_text[] =
    "Usage: kvlb-emu [OPTIONS]\n"
    "\n"
    "Emulated LLM model server: an OpenAI-compatible HTTP API with a prefix cache,\n"
    "a batch scheduler and a timing model, exposing the metrics of vLLM (or SGLang).\n"
    "It runs no model; it behaves like one where a load balancer can see it.\n"
    "\n"
    "Options:\n"
    "  --listen ADDR:PORT     address to serve on (default 127.0.0.1:8000); IPv6 as\n"
    "                         [ADDR]:PORT. Port 0 picks a free port; the address\n"
    "                         actually bound is printed on stderr either way.\n"
    "  --name NAME            backend name sent in every response (default: the\n"
    "                         host name)\n"
    "  --model NAME           served model name (default kvlb-emu-model)\n"
    "  --flavor vllm|sglang   metric names, labels and buckets to expose\n"
    "                         (default vllm)\n"
    "  --block-size TOKENS    prefix-cache block size (default 16)\n"
    "  --cache-blocks N       prefix-cache capacity in blocks (default 2048)\n"
    "  --max-batch N          most requests running at once; others wait (default 32)\n"
    "  --prefill-rate TOK/S   prompt tokens computed per second (default 8000)\n"
    "  --decode-rate TOK/S    output tokens per second per request (default 40)\n"
    "  --time-scale X         divide every emulated delay by X (default 1); reported\n"
    "                         figures stay in emulated time\n"
    "  --seed N               seed of the generated text and request ids (default 0)\n"
    "  --max-body BYTES       largest request body accepted (default 16777216); a\n"
    "                         larger one gets a JSON 413, one over twice BYTES is\n"
    "                         refused by the HTTP library unread (413, plain page)\n"
    "  --max-model-len TOKENS largest prompt + output length (default 131072)\n"
    "  -h, --help             show this help and exit\n"
    "\n"
    "Endpoints:\n"
    "  POST /v1/chat/completions, POST /v1/completions\n"
    "      OpenAI request bodies; \"stream\": true answers with server-sent events\n"
    "      (\"data: {...}\" lines, last \"data: [DONE]\"); with\n"
    "      \"stream_options\": {\"include_usage\": true} a final chunk carries the usage.\n"
    "      Output length is max_completion_tokens, else max_tokens, else 16; the\n"
    "      non-standard integer field \"kvlb_output_tokens\" forces it (capped by an\n"
    "      explicit limit). \"model\" may be absent or empty; another name than\n"
    "      --model is a 404.\n"
    "  GET /v1/models, GET /health, GET /metrics\n"
    "\n"
    "Tokenization:\n"
    "  The prompt text is, for chat, every message as \"<role>: <content>\\n\" in order\n"
    "  (content a string or the text parts of a content array); for completions, the\n"
    "  prompt string. One token is 4 bytes of that text; a last partial token counts\n"
    "  as one. Every generated token is 4 bytes: a space and three letters, chosen\n"
    "  from --seed, the request's \"seed\" and its prompt, so equal requests get equal\n"
    "  text.\n"
    "\n"
    "Prefix cache:\n"
    "  The prompt's full blocks of --block-size tokens are named by a hash chain,\n"
    "  h(i) = H(h(i-1), bytes of block i). At admission the longest chain of cached\n"
    "  blocks is the hit (usage.prompt_tokens_details.cached_tokens = hit blocks x\n"
    "  block size); the missing blocks are inserted, evicting the least recently\n"
    "  used blocks that no running request holds.\n"
    "\n"
    "Timing (emulated seconds; wall time is that divided by --time-scale):\n"
    "  Requests wait in a FIFO queue while --max-batch are running. An admitted\n"
    "  request's prefill computes its uncached tokens (at least one) at\n"
    "  --prefill-rate, one prefill at a time; its first token comes when that ends,\n"
    "  then one token every 1/--decode-rate. TTFT = queueing + prefill wait +\n"
    "  uncached tokens / prefill rate.\n"
    "\n"
    "Response headers:\n"
    "  x-kvlb-backend       --name (on every response; JSON bodies also carry it as\n"
    "                       \"kvlb_backend\")\n"
    "  x-kvlb-ttft-ms       emulated time to first token, milliseconds\n"
    "  x-kvlb-cached-tokens prompt tokens served from the prefix cache\n"
    "  x-kvlb-prompt-tokens prompt tokens\n"
    "\n"
    "Errors are JSON objects as vLLM sends them:\n"
    "  {\"object\":\"error\",\"message\":...,\"type\":\"BadRequestError\",\"param\":null,\n"
    "   \"code\":400} with status 400 (bad JSON or fields), 404 (unknown path or\n"
    "  model), 405 (wrong method), 413 (body over --max-body).\n"
    "\n"
    "Exit status: 0 after SIGINT or SIGTERM, 1 on a bad option or when the address\n"
    "cannot be bound.\n"
    "\n"
    "Example:\n"
    "  kvlb-emu --listen 127.0.0.1:0 --name pod0 --cache-blocks 4096 --time-scale 60\n";

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "kvlb-emu: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'kvlb-emu --help' for more information.\n");
	exit(1);
}

static uint64_t parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%s wants an integer from %llu to %llu, not '%%s'", opt,
			 (unsigned long long)min, (unsigned long long)max);
		usage_error(msg, s);
	}
	return v;
}

static double parse_rate(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1e12) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%s wants a positive number, not '%%s'", opt);
		usage_error(msg, s);
	}
	return v;
}

/* Split ADDR:PORT or [ADDR]:PORT into @host (size @hostlen) and the port. */
static int split_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	unsigned long p;
	char *end;
	size_t n;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		n = (size_t)(close - s - 1);
		if (n == 0 || n >= hostlen)
			return -1;
		memcpy(host, s + 1, n);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -1;
		n = (size_t)(colon - s);
		if (n == 0 || n >= hostlen)
			return -1;
		memcpy(host, s, n);
	}
	host[n] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static void print_bound(struct evhttp_bound_socket *bs)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	/* tests and scripts read the port from this line when they asked for port 0 */
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &len) == 0 &&
	    ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		fprintf(stderr, "kvlb-emu: listening on [%s]:%u\n", addr, ntohs(s6->sin6_port));
		return;
	}
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		port = ntohs(s4->sin_port);
	}
	fprintf(stderr, "kvlb-emu: listening on %s:%u\n", addr, port);
}

int main(int argc, char **argv)
{
	enum {
		O_LISTEN = 256,
		O_NAME,
		O_MODEL,
		O_FLAVOR,
		O_BLOCK,
		O_CBLOCKS,
		O_BATCH,
		O_PREFILL,
		O_DECODE,
		O_SCALE,
		O_SEED,
		O_BODY,
		O_MODELLEN
	};
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"name", required_argument, NULL, O_NAME},
	    {"model", required_argument, NULL, O_MODEL},
	    {"flavor", required_argument, NULL, O_FLAVOR},
	    {"block-size", required_argument, NULL, O_BLOCK},
	    {"cache-blocks", required_argument, NULL, O_CBLOCKS},
	    {"max-batch", required_argument, NULL, O_BATCH},
	    {"prefill-rate", required_argument, NULL, O_PREFILL},
	    {"decode-rate", required_argument, NULL, O_DECODE},
	    {"time-scale", required_argument, NULL, O_SCALE},
	    {"seed", required_argument, NULL, O_SEED},
	    {"max-body", required_argument, NULL, O_BODY},
	    {"max-model-len", required_argument, NULL, O_MODELLEN},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct emu_config cfg = {
	    .listen = "127.0.0.1:8000",
	    .model = "kvlb-emu-model",
	    .flavor = EMU_VLLM,
	    .sched = {.block_size = 16,
		      .cache_blocks = 2048,
		      .max_batch = 32,
		      .prefill_rate = 8000,
		      .decode_rate = 40,
		      .time_scale = 1},
	    .max_body = 16 << 20,
	    .max_model_len = 131072,
	    .default_max_tokens = 16,
	};
	struct event *sigint, *sigterm;
	struct evhttp_bound_socket *bound;
	struct event_base *base;
	struct emu_sched sched;
	struct evhttp *http;
	char host[256];
	uint16_t port;
	int c;

	if (gethostname(cfg.name, sizeof(cfg.name) - 1) || !cfg.name[0])
		snprintf(cfg.name, sizeof(cfg.name), "kvlb-emu");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			cfg.listen = optarg;
			break;
		case O_NAME:
			if (!*optarg || strlen(optarg) >= sizeof(cfg.name) ||
			    strpbrk(optarg, "\r\n"))
				usage_error(
				    "--name wants 1 to 255 characters on one line, not '%s'",
				    optarg);
			snprintf(cfg.name, sizeof(cfg.name), "%s", optarg);
			break;
		case O_MODEL:
			if (!*optarg || strlen(optarg) > 255)
				usage_error("--model wants 1 to 255 characters, not '%s'", optarg);
			cfg.model = optarg;
			break;
		case O_FLAVOR:
			if (!strcmp(optarg, "vllm"))
				cfg.flavor = EMU_VLLM;
			else if (!strcmp(optarg, "sglang"))
				cfg.flavor = EMU_SGLANG;
			else
				usage_error("--flavor wants vllm or sglang, not '%s'", optarg);
			break;
		case O_BLOCK:
			cfg.sched.block_size =
			    (uint32_t)parse_uint("--block-size", optarg, 1, 65536);
			break;
		case O_CBLOCKS:
			cfg.sched.cache_blocks =
			    (uint32_t)parse_uint("--cache-blocks", optarg, 1, 1U << 26);
			break;
		case O_BATCH:
			cfg.sched.max_batch =
			    (uint32_t)parse_uint("--max-batch", optarg, 1, 1 << 20);
			break;
		case O_PREFILL:
			cfg.sched.prefill_rate = parse_rate("--prefill-rate", optarg);
			break;
		case O_DECODE:
			cfg.sched.decode_rate = parse_rate("--decode-rate", optarg);
			break;
		case O_SCALE:
			cfg.sched.time_scale = parse_rate("--time-scale", optarg);
			break;
		case O_SEED:
			cfg.seed = parse_uint("--seed", optarg, 0, UINT64_MAX);
			break;
		case O_BODY:
			cfg.max_body = parse_uint("--max-body", optarg, 64, 1ULL << 32);
			break;
		case O_MODELLEN:
			cfg.max_model_len = parse_uint("--max-model-len", optarg, 16, 1 << 24);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			/* getopt has said what was wrong */
			fprintf(stderr, "Try 'kvlb-emu --help' for more information.\n");
			return 1;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (split_listen(cfg.listen, host, sizeof(host), &port))
		usage_error("--listen wants ADDR:PORT or [ADDR]:PORT, not '%s'", cfg.listen);

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = base ? evhttp_new(base) : NULL;
	if (!http || sched_init(&sched, base, &cfg.sched, cfg.max_model_len)) {
		fprintf(stderr, "kvlb-emu: out of memory\n");
		return 1;
	}
	bound = evhttp_bind_socket_with_handle(http, host, port);
	if (!bound) {
		fprintf(stderr, "kvlb-emu: cannot listen on %s: %s\n", cfg.listen, strerror(errno));
		return 1;
	}
	/* idle or stalled clients must not pin connections forever */
	evhttp_set_timeout(http, 600);
	api_setup(http, base, &cfg, &sched);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	if (!sigint || !sigterm || evsignal_add(sigint, NULL) || evsignal_add(sigterm, NULL)) {
		fprintf(stderr, "kvlb-emu: cannot set up signals\n");
		return 1;
	}
	print_bound(bound);
	event_base_dispatch(base);

	event_free(sigint);
	event_free(sigterm);
	evhttp_free(http);
	sched_destroy(&sched);
	event_base_free(base);
	return 0;
}

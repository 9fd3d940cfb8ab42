/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sample requests for the parser tests, with what each must parse to.
 * Shared by the unit tests, the BPF verifier test and the fuzzer's seed
 * corpus generator.
 */
#ifndef KVLB_HTTP_SAMPLES_H
#define KVLB_HTTP_SAMPLES_H

#include <string.h>

struct sample {
	const char *name;
	const char *req;
	size_t len;	 /* 0: strlen(req) */
	const char *aff; /* affinity header name; NULL: "x-session-id" */
	__u32 chunk;	 /* chunk size; 0: 64 */
	int want_s;	 /* HS_* after the whole request */
	__u8 want_err;
	__u32 flags;			   /* must be set */
	__u32 no_flags;			   /* must be clear */
	const char *method, *path, *model; /* NULL: not checked */
	long long cl;			   /* -1: not checked */
	int links;			   /* chain links, -1: not checked */
	int body;			   /* body bytes seen, -1: not checked */
	int ready;			   /* http_ready(st, 8192) */
};

static inline size_t sample_len(const struct sample *s)
{
	return s->len ? s->len : strlen(s->req);
}

#define CHAT_BODY                                                                                  \
	"{\"model\":\"llama-3-8b\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a "    \
	"helpful assistant.\"},{\"role\":\"user\",\"content\":\"Hello there, how are you?\"}],"    \
	"\"stream\":true}"

#define F_BODY (HTTP_F_HEADERS_DONE | HTTP_F_JSON | HTTP_F_MODEL | HTTP_F_PROMPT_END)

static const struct sample samples[] = {
    {"chat",
     "POST /v1/chat/completions HTTP/1.1\r\nHost: kvlb\r\nContent-Type: "
     "application/json\r\nContent-Length: 162\r\n\r\n" CHAT_BODY,
     0, NULL, 0, HS_DONE, 0, F_BODY | HTTP_F_MESSAGES | HTTP_F_CONTENT_LEN | HTTP_F_V11,
     HTTP_F_PROMPT | HTTP_F_JSON_BAD | HTTP_F_CHUNKED, "POST", "/v1/chat/completions", "llama-3-8b",
     162, 2, 162, HTTP_READY_DONE},
    {"completions",
     "POST /v1/completions HTTP/1.1\r\nContent-Length: 73\r\n\r\n"
     "{\"model\": \"gpt-x\", \"prompt\": \"Once upon a time\", \"max_tokens\": 7, \"n\": 1}",
     0, NULL, 16, HS_DONE, 0, F_BODY | HTTP_F_PROMPT, HTTP_F_MESSAGES, "POST", "/v1/completions",
     "gpt-x", 73, 2, 73, HTTP_READY_DONE},
    {"chunked",
     "POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     "14\r\n{\"model\":\"m\",\"messag\r\n"
     "19;ext=1\r\nes\":[{\"role\":\"user\",\"cont\r\n"
     "E\r\nent\":\"hi\"}]}  \r\n0\r\nTrailer-A: x\r\n\r\n",
     0, NULL, 16, HS_DONE, 0, F_BODY | HTTP_F_CHUNKED | HTTP_F_MESSAGES, HTTP_F_CONTENT_LEN, "POST",
     NULL, "m", 0, 2, 59, HTTP_READY_DONE},
    {"expect_no_body_yet",
     "POST /v1/completions HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 40\r\n\r\n", 0, NULL,
     0, HS_BODY, 0, HTTP_F_HEADERS_DONE | HTTP_F_EXPECT_100, HTTP_F_JSON, NULL, NULL, NULL, 40, 0,
     0, HTTP_READY_EXPECT},
    {"expect_with_body",
     "POST /v1/completions HTTP/1.1\r\nContent-Length: 33\r\nEXPECT:   100-continue  \r\n\r\n"
     "{\"prompt\":\"abc\",\"model\":\"tiny-1\"}",
     0, NULL, 0, HS_DONE, 0, F_BODY | HTTP_F_EXPECT_100 | HTTP_F_PROMPT, 0, NULL, NULL, "tiny-1",
     33, 1, 33, HTTP_READY_DONE},
    {"odd_case_and_order",
     "POST /v1/chat/completions HTTP/1.1\r\nx-SESSION-id: conv-42\r\nACCEPT: */*\r\n"
     "cOnTeNt-LeNgTh:42\r\nhost: a\r\nTransfer-Encodings: no\r\n\r\n"
     "{\"messages\":[{\"content\":\"x\"}],\"model\":\"m\"}",
     0, NULL, 0, HS_DONE, 0, F_BODY | HTTP_F_AFFINITY_HDR | HTTP_F_MESSAGES,
     HTTP_F_CHUNKED | HTTP_F_TE_OTHER, NULL, NULL, "m", 42, 1, 42, HTTP_READY_DONE},
    {"affinity_header_custom",
     "POST /v1/completions HTTP/1.1\r\nX-Conversation: \t abc def \r\nx-conversation: other\r\n"
     "Content-Length: 2\r\n\r\n{}",
     0, "X-Conversation", 0, HS_DONE, 0, HTTP_F_AFFINITY_HDR | HTTP_F_JSON,
     HTTP_F_MODEL | HTTP_F_PROMPT_END, NULL, NULL, NULL, 2, 0, 2, HTTP_READY_DONE},
    {"affinity_header_empty",
     "POST /v1/completions HTTP/1.1\r\nx-session-id:   \r\nContent-Length: 0\r\n\r\n", 0, NULL, 0,
     HS_DONE, 0, HTTP_F_HEADERS_DONE, HTTP_F_AFFINITY_HDR | HTTP_F_JSON, NULL, NULL, NULL, 0, 0, 0,
     HTTP_READY_DONE},
    {"prompt_cache_key",
     "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 87\r\n\r\n"
     "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"prompt_cache_key\":\"user-1234\","
     "\"model\":\"m\"}",
     0, NULL, 0, HS_DONE, 0, F_BODY | HTTP_F_CACHE_KEY, 0, NULL, NULL, "m", 87, 1, 87,
     HTTP_READY_DONE},
    {"escapes_unicode",
     "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 113\r\n\r\n"
     "{\"model\":\"caf\\u00e9-\xc3\xa9\",\"messages\":[{\"role\":\"user\",\"content\":"
     "\"say \\\"hi\\\" \\\\ then ] } [ { \\u2603 \xf0\x9f\x98\x80 \\n\"}],\"x\":1}",
     0, NULL, 16, HS_DONE, 0, F_BODY | HTTP_F_MESSAGES, HTTP_F_JSON_BAD, NULL, NULL,
     "caf\\u00e9-\xc3\xa9", 113, 5, 113, HTTP_READY_DONE},
    {"escaped_key_not_matched",
     "POST /v1/completions HTTP/1.1\r\nContent-Length: 40\r\n\r\n"
     "{\"mod\\u0065l\":\"a\",\"prompt\":[1,2,3,4,5]}\n",
     0, NULL, 0, HS_DONE, 0, HTTP_F_JSON | HTTP_F_PROMPT | HTTP_F_PROMPT_END, HTTP_F_MODEL, NULL,
     NULL, NULL, 40, 1, 40, HTTP_READY_DONE},
    {"pretty_printed",
     "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 92\r\n\r\n"
     "{\n  \"messages\" : [\n    { \"role\" : \"user\" ,\n      \"content\" : \"a b\" }\n  ] ,"
     "\n  \"model\" : \"m\"\n}",
     0, NULL, 0, HS_DONE, 0, F_BODY | HTTP_F_MESSAGES, HTTP_F_JSON_BAD, NULL, NULL, "m", 92, 1, 92,
     HTTP_READY_DONE},
    {"bare_lf", "POST /v1/completions HTTP/1.0\nContent-Length: 13\n\n{\"prompt\":\"\"}", 0, NULL,
     0, HS_DONE, 0, HTTP_F_JSON | HTTP_F_PROMPT_END, HTTP_F_V11, NULL, NULL, NULL, 13, 1, 13,
     HTTP_READY_DONE},
    {"get_no_body", "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", 0, NULL, 0, HS_DONE, 0,
     HTTP_F_HEADERS_DONE, HTTP_F_JSON, "GET", "/v1/models", NULL, -1, 0, 0, HTTP_READY_DONE},
    {"not_json_body", "POST /v1/completions HTTP/1.1\r\nContent-Length: 11\r\n\r\nprompt=abcd", 0,
     NULL, 0, HS_DONE, 0, HTTP_F_JSON_BAD, HTTP_F_JSON, NULL, NULL, NULL, 11, 0, 11,
     HTTP_READY_DONE},
    {"truncated_headers", "POST /v1/chat/completions HTTP/1.1\r\nContent-Le", 0, NULL, 0, HS_HNAME,
     0, 0, HTTP_F_HEADERS_DONE, "POST", "/v1/chat/completions", NULL, -1, 0, 0, HTTP_WAIT},
    {"truncated_body",
     "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 500\r\n\r\n"
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a long prompt th",
     0, NULL, 16, HS_BODY, 0, HTTP_F_JSON | HTTP_F_MODEL | HTTP_F_MESSAGES, HTTP_F_PROMPT_END, NULL,
     NULL, "m", 500, 3, 67, HTTP_WAIT},
    {"tls_client_hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11, NULL, 0, HS_ERROR,
     HTTP_E_METHOD, 0, HTTP_F_HEADERS_DONE, NULL, NULL, NULL, -1, 0, 0, HTTP_READY_ERROR},
    {"http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, NULL, 0, HS_ERROR, HTTP_E_VERSION, 0,
     0, NULL, NULL, NULL, -1, 0, 0, HTTP_READY_ERROR},
    {"cl_and_te",
     "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, NULL,
     0, HS_ERROR, HTTP_E_CL_AND_TE, 0, 0, NULL, NULL, NULL, -1, 0, 0, HTTP_READY_ERROR},
    {"te_gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, NULL, 0, HS_ERROR,
     HTTP_E_TRANSFER_ENC, HTTP_F_TE_OTHER, HTTP_F_CHUNKED, NULL, NULL, NULL, -1, 0, 0,
     HTTP_READY_ERROR},
    {"cl_not_number", "POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 0, NULL, 0, HS_ERROR,
     HTTP_E_CONTENT_LEN, 0, 0, NULL, NULL, NULL, -1, 0, 0, HTTP_READY_ERROR},
    {"cl_conflict", "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 0, NULL,
     0, HS_ERROR, HTTP_E_CONTENT_LEN, 0, 0, NULL, NULL, NULL, 2, 0, 0, HTTP_READY_ERROR},
    {"cl_huge", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, NULL, 0,
     HS_ERROR, HTTP_E_CONTENT_LEN, 0, 0, NULL, NULL, NULL, -1, 0, 0, HTTP_READY_ERROR},
    {"obs_fold", "POST / HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n", 0, NULL, 0, HS_ERROR,
     HTTP_E_HEADER, 0, 0, NULL, NULL, NULL, -1, 0, 0, HTTP_READY_ERROR},
    {"cr_without_lf", "POST / HTTP/1.1\rX-A: a\r\n\r\n", 0, NULL, 0, HS_ERROR, HTTP_E_LINE, 0, 0,
     NULL, NULL, NULL, -1, 0, 0, HTTP_READY_ERROR},
    {"nul_in_header", "POST / HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 27, NULL, 0, HS_ERROR, HTTP_E_HEADER,
     0, 0, NULL, NULL, NULL, -1, 0, 0, HTTP_READY_ERROR},
    {"chunk_size_huge", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n", 0,
     NULL, 0, HS_ERROR, HTTP_E_CHUNK, HTTP_F_CHUNKED, 0, NULL, NULL, NULL, -1, 0, 0,
     HTTP_READY_ERROR},
    {"chunk_missing_crlf",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}X\r\n0\r\n\r\n", 0, NULL, 0,
     HS_ERROR, HTTP_E_CHUNK, HTTP_F_CHUNKED, 0, NULL, NULL, NULL, -1, 0, 2, HTTP_READY_ERROR},
    {"deep_nesting",
     "POST / HTTP/1.1\r\nContent-Length: 218\r\n\r\n{\"messages\":"
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[]]]]}",
     0, NULL, 0, HS_DONE, 0, HTTP_F_JSON | HTTP_F_JSON_BAD | HTTP_F_MESSAGES, HTTP_F_PROMPT_END,
     NULL, NULL, NULL, 218, 4, 218, HTTP_READY_DONE},
    {"method_too_long", "POSTPOSTPOST / HTTP/1.1\r\n\r\n", 0, NULL, 0, HS_ERROR, HTTP_E_METHOD, 0,
     0, NULL, NULL, NULL, -1, 0, 0, HTTP_READY_ERROR},
    {"pipelined_second_ignored",
     "POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET /b HTTP/1.1\r\n\r\n", 0, NULL, 0, HS_DONE,
     0, HTTP_F_JSON, 0, "POST", "/a", NULL, 2, 0, 2, HTTP_READY_DONE},
    {},
};

#endif

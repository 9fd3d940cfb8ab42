// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"

#define TOKEN_MAX (16 << 10)
#define BODY_MAX  (64 << 20) /* far above any one service's slices */

struct buf {
	char *p;
	size_t len, cap;
	bool too_big;
};

static int ferr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ferr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *user)
{
	struct buf *b = user;
	size_t n = size * nmemb;

	if (b->len + n + 1 > BODY_MAX) {
		b->too_big = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* The token, trimmed; it goes into a header, so line breaks inside it are refused. */
static int read_token(const char *path, char *tok, size_t toklen, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n, i;

	if (!f)
		return ferr(err, errlen, "token file %s: %s", path, strerror(errno));
	n = fread(tok, 1, toklen - 1, f);
	if (ferror(f) || !feof(f)) {
		fclose(f);
		return ferr(err, errlen, "token file %s: unreadable or longer than %zu bytes", path,
			    toklen - 1);
	}
	fclose(f);
	while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' ' ||
		     tok[n - 1] == '\t'))
		n--;
	tok[n] = '\0';
	if (!n)
		return ferr(err, errlen, "token file %s is empty", path);
	for (i = 0; i < n; i++)
		if ((unsigned char)tok[i] < 0x21 || tok[i] == 0x7f)
			return ferr(err, errlen, "token file %s holds control characters or spaces",
				    path);
	return 0;
}

/* The message of a Kubernetes Status object, or "" when body is not one. */
static void status_message(const char *body, size_t len, char *msg, size_t msglen)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *m;

	msg[0] = '\0';
	if (!root)
		return;
	m = json_string_value(json_object_get(root, "message"));
	if (m && json_is_string(json_object_get(root, "kind")) &&
	    !strcmp(json_string_value(json_object_get(root, "kind")), "Status"))
		snprintf(msg, msglen, ": %.300s", m);
	json_decref(root);
}

int api_get(const struct api *a, const char *path, char **body, size_t *len, char *err,
	    size_t errlen)
{
	static char tok[TOKEN_MAX + 1];
	char url[4096], hdr[TOKEN_MAX + 64], msg[320], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct buf b = {};
	CURLcode cc;
	long status = 0;
	CURL *c;
	int rc = -1;

	*body = NULL;
	*len = 0;
	if (read_token(a->token_file, tok, sizeof(tok), err, errlen))
		return -1;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", a->server, path) >= sizeof(url))
		return ferr(err, errlen, "request URL longer than %zu bytes", sizeof(url) - 1);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tok);

	c = curl_easy_init();
	if (!c)
		return ferr(err, errlen, "cannot initialise libcurl");
	hdrs = curl_slist_append(hdrs, hdr);
	hdrs = hdrs ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
	if (!hdrs) {
		ferr(err, errlen, "out of memory");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* The token must never travel in clear text or follow a redirect elsewhere. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (a->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, a->ca_file);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, a->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kvlb-discover");

	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (b.too_big)
			ferr(err, errlen, "GET %s: response larger than %d bytes", url, BODY_MAX);
		else
			ferr(err, errlen, "GET %s: %s", url,
			     cerr[0] ? cerr : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		status_message(b.p ? b.p : "", b.len, msg, sizeof(msg));
		if (status == 401)
			ferr(err, errlen, "GET %s: the API server rejected the token (HTTP 401)%s",
			     url, msg);
		else if (status == 403)
			ferr(err, errlen,
			     "GET %s: forbidden (HTTP 403); the service account needs "
			     "list on endpointslices.discovery.k8s.io%s",
			     url, msg);
		else
			ferr(err, errlen, "GET %s: HTTP %ld%s", url, status, msg);
		goto out;
	}
	if (!b.p) {
		ferr(err, errlen, "GET %s: empty response", url);
		goto out;
	}
	*body = b.p;
	*len = b.len;
	b.p = NULL;
	rc = 0;
out:
	free(b.p);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

struct watch_ctx {
	CURL *c;
	const sigset_t *stop;
	bool event;
	struct buf body; /* of a refused watch, for its message */
};

static size_t on_watch_data(char *data, size_t size, size_t nmemb, void *user)
{
	struct watch_ctx *w = user;
	long status = 0;

	curl_easy_getinfo(w->c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200) {
		/* The first byte of an event is all kvlb needs: it lists again. */
		w->event = true;
		return 0;
	}
	return on_data(data, size, nmemb, &w->body);
}

static int on_watch_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct watch_ctx *w = user;
	sigset_t pending;
	int i;

	(void)dt, (void)dn, (void)ut, (void)un;
	if (sigpending(&pending))
		return 0;
	for (i = 1; i < NSIG; i++)
		if (sigismember(w->stop, i) == 1 && sigismember(&pending, i) == 1)
			return 1;
	return 0;
}

int api_watch(const struct api *a, const char *path, long timeout_s, const sigset_t *stop,
	      char *err, size_t errlen)
{
	static char tok[TOKEN_MAX + 1];
	char url[4096], hdr[TOKEN_MAX + 64], msg[320], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct watch_ctx w = {.stop = stop};
	long status = 0;
	CURLcode cc;
	int rc = -1;

	if (read_token(a->token_file, tok, sizeof(tok), err, errlen))
		return -1;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", a->server, path) >= sizeof(url))
		return ferr(err, errlen, "watch URL longer than %zu bytes", sizeof(url) - 1);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tok);
	w.c = curl_easy_init();
	if (!w.c)
		return ferr(err, errlen, "cannot initialise libcurl");
	hdrs = curl_slist_append(hdrs, hdr);
	hdrs = hdrs ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
	if (!hdrs) {
		ferr(err, errlen, "out of memory");
		goto out;
	}
	curl_easy_setopt(w.c, CURLOPT_URL, url);
	curl_easy_setopt(w.c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(w.c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(w.c, CURLOPT_HTTPHEADER, hdrs);
	if (a->ca_file)
		curl_easy_setopt(w.c, CURLOPT_CAINFO, a->ca_file);
	curl_easy_setopt(w.c, CURLOPT_CONNECTTIMEOUT_MS, a->timeout_ms);
	/* The server ends the watch after timeout_s; this only catches a dead peer. */
	curl_easy_setopt(w.c, CURLOPT_TIMEOUT_MS, timeout_s * 1000 + a->timeout_ms);
	curl_easy_setopt(w.c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w.c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(w.c, CURLOPT_WRITEFUNCTION, on_watch_data);
	curl_easy_setopt(w.c, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(w.c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(w.c, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
	curl_easy_setopt(w.c, CURLOPT_XFERINFODATA, &w);
	curl_easy_setopt(w.c, CURLOPT_USERAGENT, "kvlb-discover");

	cc = curl_easy_perform(w.c);
	if (w.event) {
		rc = 1;
		goto out;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		rc = 2;
		goto out;
	}
	if (cc != CURLE_OK) {
		ferr(err, errlen, "watch %s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(w.c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200 || status == 410) {
		/* Ended quietly, or the version is too old to watch from: list again. */
		rc = 0;
		goto out;
	}
	status_message(w.body.p ? w.body.p : "", w.body.len, msg, sizeof(msg));
	ferr(err, errlen, "watch %s: HTTP %ld%s", url, status, msg);
out:
	free(w.body.p);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(w.c);
	return rc;
}

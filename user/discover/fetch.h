/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* GET requests to the Kubernetes API server over HTTPS, with a bearer token. */
#ifndef KVLB_DISCOVER_FETCH_H
#define KVLB_DISCOVER_FETCH_H

#include <signal.h>
#include <stddef.h>

struct api {
	const char *server;	/* https://HOST:PORT, no trailing path */
	const char *token_file; /* read before every request: kubelet rotates it */
	const char *ca_file;	/* NULL: the system's CA store */
	long timeout_ms;
};

/*
 * GET server + path. Returns 0 with the body (malloc'd, NUL-terminated) in
 * *body, or -1 with a reason in err: transport errors, and any status but
 * 200 with the API server's own message when it sent a Status object.
 */
int api_get(const struct api *a, const char *path, char **body, size_t *len, char *err,
	    size_t errlen);

/*
 * Watch server + path (a list path with watch=1 and a resourceVersion) until
 * the first event, the server ending the watch after timeout_s, or a signal
 * of stop becoming pending. Returns 1 on an event, 0 when the watch ended
 * without one (list again either way), 2 on a stop signal, -1 with a reason
 * in err on failure.
 */
int api_watch(const struct api *a, const char *path, long timeout_s, const sigset_t *stop,
	      char *err, size_t errlen);

#endif

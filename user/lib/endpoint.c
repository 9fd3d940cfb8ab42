// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Parsing and printing of ADDR:PORT endpoints of either family. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "endpoint.h"

static int ep_err(char *err, size_t errlen, const char *fmt, const char *s)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, s);
	return -1;
}

/* Parse host text of known length into ep (family and address). */
static int parse_host(const char *s, size_t n, bool v6_only, struct kvlb_endpoint *ep)
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(&ep->addr, 0, sizeof(ep->addr));
	if (!v6_only && inet_pton(AF_INET, buf, &ep->addr.v4) == 1) {
		ep->family = KVLB_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, ep->addr.v6) == 1) {
		ep->family = KVLB_AF_INET6;
		return 0;
	}
	return -1;
}

int kvlb_addr_parse(const char *s, struct kvlb_endpoint *ep, char *err, size_t errlen)
{
	struct kvlb_endpoint tmp = {};
	size_t n;

	if (!s || !*s)
		return ep_err(err, errlen, "empty address%s", "");
	n = strlen(s);
	/* "[2001:db8::1]" is accepted too, so an address can be copied from an endpoint. */
	if (s[0] == '[' && n > 2 && s[n - 1] == ']') {
		if (parse_host(s + 1, n - 2, true, &tmp))
			return ep_err(err, errlen, "'%s' is not an IPv6 address", s);
	} else if (parse_host(s, n, false, &tmp)) {
		return ep_err(err, errlen, "'%s' is not an IPv4 or IPv6 address", s);
	}
	*ep = tmp;
	return 0;
}

int kvlb_endpoint_parse(const char *s, struct kvlb_endpoint *ep, char *err, size_t errlen)
{
	struct kvlb_endpoint tmp = {};
	const char *host, *port;
	size_t hlen;
	char *end;
	long p;

	if (!s || !*s)
		return ep_err(err, errlen, "empty endpoint: expected ADDR:PORT%s", "");
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return ep_err(err, errlen, "'%s': missing ']' after the IPv6 address", s);
		host = s + 1;
		hlen = (size_t)(close - host);
		if (close[1] != ':')
			return ep_err(err, errlen,
				      "'%s': expected ':PORT' after ']' (e.g. [2001:db8::1]:80)",
				      s);
		port = close + 2;
		if (parse_host(host, hlen, true, &tmp))
			return ep_err(err, errlen, "'%s': not a valid IPv6 address in brackets", s);
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			return ep_err(err, errlen, "'%s': missing ':PORT' (e.g. 192.0.2.10:80)", s);
		if (memchr(s, ':', (size_t)(colon - s)))
			return ep_err(
			    err, errlen,
			    "'%s': an IPv6 address must be in brackets, e.g. [2001:db8::1]:80", s);
		host = s;
		hlen = (size_t)(colon - s);
		port = colon + 1;
		if (parse_host(host, hlen, false, &tmp) || tmp.family != KVLB_AF_INET)
			return ep_err(err, errlen, "'%s': not a valid IPv4 address", s);
	}
	if (!*port)
		return ep_err(err, errlen, "'%s': missing port after ':'", s);
	if (*port < '0' || *port > '9')
		return ep_err(err, errlen, "'%s': port is not a number", s);
	errno = 0;
	p = strtol(port, &end, 10);
	if (*end)
		return ep_err(err, errlen, "'%s': trailing characters after the port", s);
	if (errno || p < 1 || p > 65535)
		return ep_err(err, errlen, "'%s': port must be 1..65535", s);
	tmp.port = (__u16)p;
	*ep = tmp;
	return 0;
}

char *kvlb_addr_format(const struct kvlb_addr *a, __u8 family, char *buf, size_t len)
{
	if (!buf || !len)
		return buf;
	if (family == KVLB_AF_INET) {
		if (!inet_ntop(AF_INET, &a->v4, buf, (socklen_t)len))
			snprintf(buf, len, "?");
	} else if (family == KVLB_AF_INET6) {
		if (!inet_ntop(AF_INET6, a->v6, buf, (socklen_t)len))
			snprintf(buf, len, "?");
	} else {
		snprintf(buf, len, "<family %u>", family);
	}
	return buf;
}

char *kvlb_endpoint_format(const struct kvlb_endpoint *ep, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN + 16];

	if (!buf || !len)
		return buf;
	kvlb_addr_format(&ep->addr, ep->family, a, sizeof(a));
	if (ep->family == KVLB_AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, ep->port);
	else
		snprintf(buf, len, "%s:%u", a, ep->port);
	return buf;
}

bool kvlb_endpoint_equal(const struct kvlb_endpoint *a, const struct kvlb_endpoint *b)
{
	if (a->family != b->family || a->port != b->port)
		return false;
	if (a->family == KVLB_AF_INET)
		return a->addr.v4 == b->addr.v4;
	return memcmp(a->addr.v6, b->addr.v6, sizeof(a->addr.v6)) == 0;
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Parsing and printing of ADDR:PORT endpoints of either family. */
#ifndef KVLB_ENDPOINT_H
#define KVLB_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include "kvlb.h"

/* An address and port as users write them; port in host byte order. */
struct kvlb_endpoint {
	struct kvlb_addr addr;
	__u16 port;
	__u8 family; /* KVLB_AF_INET or KVLB_AF_INET6 */
};

/* Longest text kvlb_endpoint_format() writes, with the NUL. */
#define KVLB_ENDPOINT_STRLEN 56

/*
 * Parse "192.0.2.1:80" or "[2001:db8::1]:80". Returns 0, or -1 with a
 * message in err (what was wrong, not just "invalid").
 */
int kvlb_endpoint_parse(const char *s, struct kvlb_endpoint *ep, char *err, size_t errlen);
/* Parse an address alone ("192.0.2.1", "2001:db8::1"); port is set to 0. */
int kvlb_addr_parse(const char *s, struct kvlb_endpoint *ep, char *err, size_t errlen);
/* Print as parsed; returns buf. */
char *kvlb_endpoint_format(const struct kvlb_endpoint *ep, char *buf, size_t len);
/* Print only the address. */
char *kvlb_addr_format(const struct kvlb_addr *a, __u8 family, char *buf, size_t len);
bool kvlb_endpoint_equal(const struct kvlb_endpoint *a, const struct kvlb_endpoint *b);

#endif

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness for the endpoint parser: any input must be refused with
 * a message or parsed into something that prints back to an equal endpoint.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[128], buf[KVLB_ENDPOINT_STRLEN];
	struct kvlb_endpoint ep, again;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	err[0] = '\0';
	if (kvlb_endpoint_parse(s, &ep, err, sizeof(err)) == 0) {
		if (ep.port == 0 || (ep.family != KVLB_AF_INET && ep.family != KVLB_AF_INET6))
			abort();
		kvlb_endpoint_format(&ep, buf, sizeof(buf));
		if (kvlb_endpoint_parse(buf, &again, err, sizeof(err)) ||
		    !kvlb_endpoint_equal(&ep, &again))
			abort();
	} else if (!err[0]) {
		abort(); /* a refusal must say why */
	}

	err[0] = '\0';
	if (kvlb_addr_parse(s, &ep, err, sizeof(err)) == 0) {
		kvlb_addr_format(&ep.addr, ep.family, buf, sizeof(buf));
		if (kvlb_addr_parse(buf, &again, err, sizeof(err)) ||
		    memcmp(&ep.addr, &again.addr, sizeof(ep.addr)) || ep.family != again.family)
			abort();
	} else if (!err[0]) {
		abort();
	}
	free(s);
	return 0;
}

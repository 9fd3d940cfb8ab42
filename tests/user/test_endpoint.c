// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of ADDR:PORT parsing and printing. */
#include <string.h>
#include "endpoint.h"
#include "unit.h"

struct good {
	const char *in;
	int family;
	unsigned port;
	const char *out; /* as printed back */
};

static const struct good goods[] = {
    {"192.0.2.10:80", KVLB_AF_INET, 80, "192.0.2.10:80"},
    {"0.0.0.0:1", KVLB_AF_INET, 1, "0.0.0.0:1"},
    {"203.0.113.255:65535", KVLB_AF_INET, 65535, "203.0.113.255:65535"},
    {"[2001:db8::1]:80", KVLB_AF_INET6, 80, "[2001:db8::1]:80"},
    {"[2001:DB8:0:0::a]:8000", KVLB_AF_INET6, 8000, "[2001:db8::a]:8000"},
    {"[::1]:443", KVLB_AF_INET6, 443, "[::1]:443"},
    {"[::ffff:192.0.2.1]:80", KVLB_AF_INET6, 80, "[::ffff:192.0.2.1]:80"},
    {"192.0.2.1:080", KVLB_AF_INET, 80, "192.0.2.1:80"},
};

struct bad {
	const char *in;
	const char *msg; /* a word the error must contain */
};

static const struct bad bads[] = {
    {"", "empty"},
    {"192.0.2.10", "missing ':PORT'"},
    {"192.0.2.10:", "missing port"},
    {"192.0.2.10:0", "1..65535"},
    {"192.0.2.10:65536", "1..65535"},
    {"192.0.2.10:70000", "1..65535"},
    {"192.0.2.10:99999999999999999999", "1..65535"},
    {"192.0.2.10:-1", "not a number"},
    {"192.0.2.10:+80", "not a number"},
    {"192.0.2.10: 80", "not a number"},
    {"192.0.2.10:http", "not a number"},
    {"192.0.2.10:80x", "trailing"},
    {"192.0.2.10:80 ", "trailing"},
    {"192.0.2.256:80", "not a valid IPv4"},
    {"192.0.2:80", "not a valid IPv4"},
    {"host.example:80", "not a valid IPv4"},
    {":80", "not a valid IPv4"},
    {"2001:db8::1:80", "brackets"},
    {"2001:db8::1", "brackets"},
    {"[2001:db8::1]", "expected ':PORT'"},
    {"[2001:db8::1]80", "expected ':PORT'"},
    {"[2001:db8::1:80", "missing ']'"},
    {"[192.0.2.1]:80", "IPv6"},
    {"[]:80", "IPv6"},
    {"[2001:db8::1]:80]", "trailing"},
    {"[2001:db8::g]:80", "IPv6"},
};

static void test_good(void)
{
	const char *name = "endpoint_parse_valid";
	char buf[KVLB_ENDPOINT_STRLEN], err[256];
	size_t i;

	CASE_BEGIN();
	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		struct kvlb_endpoint ep, again;

		memset(&ep, 0xa5, sizeof(ep));
		err[0] = 0;
		if (kvlb_endpoint_parse(goods[i].in, &ep, err, sizeof(err))) {
			CHECK(name, 0, "'%s' rejected: %s", goods[i].in, err);
			continue;
		}
		CHECK(name, ep.family == goods[i].family, "'%s': family %u", goods[i].in,
		      ep.family);
		CHECK(name, ep.port == goods[i].port, "'%s': port %u", goods[i].in, ep.port);
		if (ep.family == KVLB_AF_INET)
			CHECK(name, !ep.addr.v6[1] && !ep.addr.v6[2] && !ep.addr.v6[3],
			      "'%s': IPv4 address words 1..3 not zero", goods[i].in);
		kvlb_endpoint_format(&ep, buf, sizeof(buf));
		CHECK(name, !strcmp(buf, goods[i].out), "'%s' printed as '%s', expected '%s'",
		      goods[i].in, buf, goods[i].out);
		CHECK(name, !kvlb_endpoint_parse(buf, &again, err, sizeof(err)),
		      "printed form '%s' does not parse: %s", buf, err);
		CHECK(name, kvlb_endpoint_equal(&ep, &again), "'%s' does not round-trip", buf);
	}
	CASE_END(name);
}

static void test_bad(void)
{
	const char *name = "endpoint_parse_invalid";
	struct kvlb_endpoint ep, before;
	char err[256];
	size_t i;

	CASE_BEGIN();
	memset(&before, 0x5a, sizeof(before));
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		ep = before;
		err[0] = 0;
		CHECK(name, kvlb_endpoint_parse(bads[i].in, &ep, err, sizeof(err)) == -1,
		      "'%s' accepted", bads[i].in);
		CHECK(name, strstr(err, bads[i].msg), "'%s': message '%s' does not say '%s'",
		      bads[i].in, err, bads[i].msg);
		CHECK(name, !memcmp(&ep, &before, sizeof(ep)), "'%s': output changed on error",
		      bads[i].in);
	}
	/* A short error buffer truncates, never overflows (ASan watches). */
	CHECK(name, kvlb_endpoint_parse("[2001:db8::1]", &ep, err, 4) == -1, "accepted");
	CHECK(name, strlen(err) == 3, "message not truncated to the buffer");
	CHECK(name, kvlb_endpoint_parse(NULL, &ep, NULL, 0) == -1, "NULL accepted");
	CASE_END(name);
}

static void test_addr(void)
{
	const char *name = "addr_parse";
	struct kvlb_endpoint ep;
	char buf[KVLB_ENDPOINT_STRLEN], err[256];

	CASE_BEGIN();
	CHECK(name, !kvlb_addr_parse("192.0.2.1", &ep, err, sizeof(err)), "%s", err);
	CHECK(name, ep.family == KVLB_AF_INET && ep.port == 0, "family %u port %u", ep.family,
	      ep.port);
	CHECK(name, !strcmp(kvlb_addr_format(&ep.addr, ep.family, buf, sizeof(buf)), "192.0.2.1"),
	      "printed '%s'", buf);
	CHECK(name, !kvlb_addr_parse("2001:db8:a::10", &ep, err, sizeof(err)), "%s", err);
	CHECK(name, ep.family == KVLB_AF_INET6, "family %u", ep.family);
	CHECK(name, !kvlb_addr_parse("[2001:db8:a::10]", &ep, err, sizeof(err)), "%s", err);
	CHECK(name, kvlb_addr_parse("192.0.2.1:80", &ep, err, sizeof(err)) == -1, "accepted");
	CHECK(name, kvlb_addr_parse("[192.0.2.1]", &ep, err, sizeof(err)) == -1, "accepted");
	CHECK(name, kvlb_addr_parse("", &ep, err, sizeof(err)) == -1, "empty accepted");
	CASE_END(name);
}

static void test_equal(void)
{
	const char *name = "endpoint_equal";
	struct kvlb_endpoint a, b;
	char err[256];

	CASE_BEGIN();
	kvlb_endpoint_parse("192.0.2.1:80", &a, err, sizeof(err));
	kvlb_endpoint_parse("192.0.2.1:80", &b, err, sizeof(err));
	CHECK(name, kvlb_endpoint_equal(&a, &b), "same endpoint differs");
	kvlb_endpoint_parse("192.0.2.1:81", &b, err, sizeof(err));
	CHECK(name, !kvlb_endpoint_equal(&a, &b), "ports differ but equal");
	kvlb_endpoint_parse("[::c000:201]:80", &b, err, sizeof(err));
	CHECK(name, !kvlb_endpoint_equal(&a, &b), "families differ but equal");
	CASE_END(name);
}

int main(void)
{
	test_good();
	test_bad();
	test_addr();
	test_equal();
	return unit_failed;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of kvlbd's configuration parser: what it accepts, and that
 * every error names the line and the reason and leaves nothing behind. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static void test_good(void)
{
	const char *text =
	    "# kvlb\n"
	    "uplink eth0\n"
	    "pod-iface veth1 veth2\n"
	    "pod-iface veth3\t# trailing comment\n"
	    "\n"
	    "vip 192.0.2.10:80 mode http\n"
	    "  backend 203.0.113.11:8000 weight 3 metrics http://203.0.113.11:8000/metrics "
	    "server vllm\n"
	    "  backend 203.0.113.12:8000\r\n"
	    "vip [2001:db8:a::10]:443\n"
	    "  backend [2001:db8:b::11]:8443 server sglang\n";
	struct kvlb_conf c;
	char err[256] = "";

	CASE_BEGIN();
	CHECK("config-good", kvlb_conf_parse(text, "t.conf", &c, err, sizeof(err)) == 0,
	      "error: %s", err);
	CHECK("config-good", !strcmp(c.uplink, "eth0"), "uplink '%s'", c.uplink);
	CHECK("config-good", c.n_pod_ifaces == 3 && !strcmp(c.pod_ifaces[2], "veth3"),
	      "%d pod ifaces", c.n_pod_ifaces);
	CHECK("config-good", c.n_vips == 2 && c.n_backends == 3, "%d vips %d backends", c.n_vips,
	      c.n_backends);
	if (c.n_vips == 2 && c.n_backends == 3) {
		CHECK("config-good", c.vips[0].flags == KVLB_VIP_F_HTTP && c.vips[1].flags == 0,
		      "vip flags %u %u", c.vips[0].flags, c.vips[1].flags);
		CHECK("config-good",
		      c.vips[0].ep.port == 80 && c.vips[1].ep.family == KVLB_AF_INET6,
		      "vip endpoints");
		CHECK("config-good", c.backends[0].weight == 3 && c.backends[1].weight == 1,
		      "weights %u %u", c.backends[0].weight, c.backends[1].weight);
		CHECK("config-good",
		      c.backends[0].server == KVLB_SERVER_VLLM &&
			  c.backends[2].server == KVLB_SERVER_SGLANG,
		      "server kinds");
		CHECK("config-good",
		      !strcmp(c.backends[0].metrics_url, "http://203.0.113.11:8000/metrics") &&
			  c.backends[1].metrics_url[0] == '\0',
		      "metrics urls");
		CHECK("config-good", c.backends[1].vip == 0 && c.backends[2].vip == 1,
		      "backend to vip");
	}
	kvlb_conf_free(&c);
	CASE_END("config-good");
}

/* Each bad text must fail, name "bad.conf:<line>:" and contain the reason. */
static const struct {
	const char *name, *text, *want;
} bad[] = {
    {"unknown-keyword", "uplink eth0\nfrobnicate 1\n", "bad.conf:2: unknown keyword"},
    {"backend-before-vip", "backend 203.0.113.1:80\n", "bad.conf:1: backend before any"},
    {"vip-no-port", "vip 192.0.2.1\n", "bad.conf:1: vip:"},
    {"vip-port-zero", "vip 192.0.2.1:0\n", "bad.conf:1: vip:"},
    {"vip-port-big", "vip 192.0.2.1:70000\n", "bad.conf:1: vip:"},
    {"vip-junk", "vip 192.0.2.1:80x\n", "bad.conf:1: vip:"},
    {"vip-bad-mode", "vip 192.0.2.1:80 mode quic\n", "mode must be"},
    {"vip-dup", "vip 192.0.2.1:80\nvip 192.0.2.1:80\n",
     "bad.conf:2: vip 192.0.2.1:80 defined twice"},
    {"weight-zero", "vip 192.0.2.1:80\nbackend 203.0.113.1:80 weight 0\n",
     "bad.conf:2: backend: weight"},
    {"weight-junk", "vip 192.0.2.1:80\nbackend 203.0.113.1:80 weight 2x\n", "weight must be"},
    {"weight-neg", "vip 192.0.2.1:80\nbackend 203.0.113.1:80 weight -1\n", "weight must be"},
    {"weight-missing", "vip 192.0.2.1:80\nbackend 203.0.113.1:80 weight\n", "usage: backend"},
    {"family-mix", "vip 192.0.2.1:80\nbackend [2001:db8::1]:80\n", "address family"},
    {"backend-dup", "vip 192.0.2.1:80\nbackend 203.0.113.1:80\nbackend 203.0.113.1:80\n",
     "bad.conf:3: backend 203.0.113.1:80 listed twice"},
    {"bad-url", "vip 192.0.2.1:80\nbackend 203.0.113.1:80 metrics ftp://x\n", "metrics URL"},
    {"bad-server", "vip 192.0.2.1:80\nbackend 203.0.113.1:80 server triton\n",
     "unknown server kind"},
    {"uplink-twice", "uplink a\nuplink b\n", "bad.conf:2: 'uplink' given twice"},
    {"uplink-long", "uplink abcdefghijklmnopqrstuvwxyz\n", "longer than 15"},
    {"pod-iface-dup", "pod-iface a a\n", "listed twice"},
    {"pod-iface-empty", "pod-iface\n", "takes one or more"},
};

static void test_bad(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kvlb_conf c;
		char err[256] = "", name[64];
		int rc;

		snprintf(name, sizeof(name), "config-bad-%s", bad[i].name);
		CASE_BEGIN();
		rc = kvlb_conf_parse(bad[i].text, "bad.conf", &c, err, sizeof(err));
		CHECK(name, rc == -1, "accepted");
		CHECK(name, strstr(err, bad[i].want) != NULL, "message '%s' lacks '%s'", err,
		      bad[i].want);
		CHECK(name, c.backends == NULL && c.n_vips == 0 && c.n_backends == 0,
		      "state left behind on error");
		CASE_END(name);
	}
}

static void test_limits(void)
{
	size_t len = 5000;
	char *text = malloc(len + 2);
	struct kvlb_conf c;
	char err[256] = "";
	char path[] = "/tmp/kvlb-config-test-XXXXXX";
	int fd;

	CASE_BEGIN();
	memset(text, 'a', len);
	text[len] = '\n';
	text[len + 1] = '\0';
	CHECK("config-long-line",
	      kvlb_conf_parse(text, "long.conf", &c, err, sizeof(err)) == -1 &&
		  strstr(err, "long.conf:1: line longer than"),
	      "got '%s'", err);
	CASE_END("config-long-line");
	free(text);

	/* Many backends: up to the map's capacity, then a clear error. */
	CASE_BEGIN();
	{
		size_t cap = 64 + (size_t)(KVLB_MAX_BACKENDS + 1) * 40;
		char *big = malloc(cap), *p = big;
		int i;

		p += sprintf(p, "vip 192.0.2.1:80\n");
		for (i = 0; i <= KVLB_MAX_BACKENDS; i++)
			p += sprintf(p, "backend 203.0.113.%d:%d\n", i % 250, 1000 + i);
		CHECK("config-too-many-backends",
		      kvlb_conf_parse(big, "big.conf", &c, err, sizeof(err)) == -1 &&
			  strstr(err, "more than 1024 backends"),
		      "got '%s'", err);
		free(big);
	}
	CASE_END("config-too-many-backends");

	/* A file with a NUL byte is refused as a whole. */
	CASE_BEGIN();
	fd = mkstemp(path);
	if (fd >= 0) {
		static const char bin[] = "uplink eth0\n\0vip 192.0.2.1:80\n";

		CHECK("config-file-nul", write(fd, bin, sizeof(bin) - 1) == sizeof(bin) - 1,
		      "write");
		close(fd);
		CHECK("config-file-nul",
		      kvlb_conf_load(path, &c, err, sizeof(err)) == -1 && strstr(err, "NUL byte"),
		      "got '%s'", err);
		unlink(path);
	}
	CHECK("config-missing-file",
	      kvlb_conf_load("/nonexistent/kvlb.conf", &c, err, sizeof(err)) == -1 &&
		  strstr(err, "/nonexistent/kvlb.conf: No such file"),
	      "got '%s'", err);
	CASE_END("config-file-errors");
}

int main(void)
{
	test_good();
	test_bad();
	test_limits();
	return unit_failed;
}

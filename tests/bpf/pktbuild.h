/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small packet builder for the BPF unit tests and the packet benchmark:
 * Ethernet, up to two VLAN tags, IPv4 (with options, fragment bits) or IPv6
 * (with one extension header), and TCP/UDP/ICMP with correct checksums;
 * TCP with chosen sequence numbers, options and payload bytes, and a parser
 * that reads a TCP frame back.
 * A packet is described by a struct pb_spec so that test tables can hold
 * input and expected output packets as plain data.
 */
#ifndef KVLB_PKTBUILD_H
#define KVLB_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PB_MAX_LEN 1600

/* pb_spec.v6_ext: extension header put between IPv6 and the L4 header. */
enum pb_v6_ext {
	PB_EXT_NONE,
	PB_EXT_FRAG, /* Fragment header (next header 44) */
	PB_EXT_HBH,  /* Hop-by-Hop options (next header 0), 8 bytes */
};

/* pb_spec.pb_flags */
#define PB_F_TCP_FIELDS (1u << 0) /* use seq, ack and win */
#define PB_F_IP_ID	(1u << 1) /* use ip_id */

/* TCP option bytes, written by the pb_opt_* helpers in the order called. */
#define PB_TCPOPT_MAX 40
struct pb_tcpopt {
	uint8_t b[PB_TCPOPT_MAX];
	uint8_t len; /* pb_build refuses a length that is not a multiple of 4 */
};

struct pb_spec {
	uint8_t dmac[6];
	uint8_t smac[6];
	uint16_t ethertype;    /* 0: IPv4/IPv6 from family; else raw ethertype + payload */
	uint8_t n_vlan;	       /* 0, 1 or 2 tags */
	uint16_t vlan_tpid[2]; /* 0 means 0x8100 */
	uint16_t vlan_id[2];
	uint8_t family; /* 4 or 6 */
	const char *saddr;
	const char *daddr;
	uint8_t proto;	    /* 0 means TCP (6) */
	uint8_t ip_opt_len; /* IPv4 option bytes, a multiple of 4, at most 40 */
	uint16_t frag;	    /* IPv4 flags+offset field, host order (0x2000 = MF) */
	uint8_t v6_ext;	    /* enum pb_v6_ext */
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags; /* 0 means ACK */
	uint16_t payload;  /* bytes after the L4 header */
	uint8_t eth_pad;   /* zero bytes after the IP packet (Ethernet minimum-size padding) */
	/* Optional, for tests that follow a TCP conversation: */
	uint8_t pb_flags;		 /* PB_F_* */
	uint32_t seq, ack;		 /* with PB_F_TCP_FIELDS (else 0x01020304, 0x0a0b0c0d) */
	uint16_t win;			 /* with PB_F_TCP_FIELDS (else 65535) */
	uint16_t ip_id;			 /* with PB_F_IP_ID (else 0x1234) */
	const struct pb_tcpopt *tcp_opt; /* TCP options; NULL: none */
	const uint8_t *data;		 /* the payload's bytes; NULL: a fixed pattern */
};

/* Where the headers of a built packet start. */
struct pb_layout {
	size_t len;
	size_t l3_off;
	size_t l4_off;
};

/* Build the packet described by s into buf. Returns its length, or 0 when
 * the spec is invalid or does not fit in cap. */
size_t pb_build(const struct pb_spec *s, uint8_t *buf, size_t cap, struct pb_layout *lay);

/* The Internet checksum of a buffer, folded, not complemented. */
uint16_t pb_csum_fold(uint32_t sum);
uint32_t pb_csum_add(uint32_t sum, const void *p, size_t len);

/*
 * Recompute every checksum of an Ethernet frame from scratch (IPv4 header,
 * TCP/UDP with the pseudo header, ICMP) and check them. Returns 0 when all
 * are valid; otherwise -1 with a reason in err.
 */
int pb_verify_csums(const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Parse a textual IPv4/IPv6 address into 16 bytes (IPv4 in the first 4). */
int pb_addr(const char *s, uint8_t family, uint8_t out[16]);

/* Append one option to o; -1 (o unchanged) when it does not fit. */
int pb_opt_raw(struct pb_tcpopt *o, const void *bytes, size_t n);
int pb_opt_nop(struct pb_tcpopt *o);
int pb_opt_mss(struct pb_tcpopt *o, uint16_t mss);
int pb_opt_ws(struct pb_tcpopt *o, uint8_t shift);
int pb_opt_sack_perm(struct pb_tcpopt *o);
int pb_opt_ts(struct pb_tcpopt *o, uint32_t tsval, uint32_t tsecr);
int pb_opt_sack(struct pb_tcpopt *o, const uint32_t *edges, unsigned int blocks);
/* NOPs up to a multiple of 4 bytes. */
int pb_opt_pad(struct pb_tcpopt *o);

/* What a TCP option list says (pb_parse fills it). */
struct pb_tcpopt_view {
	uint16_t mss; /* 0: absent */
	int ws;	      /* -1: absent */
	bool sack_perm;
	bool ts;
	uint32_t tsval, tsecr;
	unsigned int sack_n;
	uint32_t sack[8]; /* edges, host order */
	bool bad;	  /* a length that runs past the list */
};

/* The headers of an Ethernet frame carrying IPv4/IPv6 and TCP (up to two
 * VLAN tags, no IPv6 extension headers), read back; numbers in host order. */
struct pb_view {
	uint8_t dmac[6], smac[6];
	uint8_t n_vlan;
	uint16_t vlan_id[2];
	uint8_t family;
	size_t l3_off, l4_off, pay_off, pay_len;
	uint8_t src[16], dst[16];
	uint8_t ttl;
	uint16_t ip_id, frag;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags; /* byte 13 */
	uint16_t win;
	uint8_t doff; /* header bytes */
	const uint8_t *opt;
	uint8_t opt_len;
	struct pb_tcpopt_view o;
};

/* Read a frame into v. Returns 0, or -1 with a reason in err (not IP/TCP,
 * truncated, lengths that disagree). */
int pb_parse(const uint8_t *buf, size_t len, struct pb_view *v, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small packet builder for the BPF unit tests and the packet benchmark:
 * Ethernet, up to two VLAN tags, IPv4 (with options, fragment bits) or IPv6
 * (with one extension header), and TCP/UDP/ICMP with correct checksums.
 * A packet is described by a struct pb_spec so that test tables can hold
 * input and expected output packets as plain data.
 */
#ifndef KVLB_PKTBUILD_H
#define KVLB_PKTBUILD_H

#include <stddef.h>
#include <stdint.h>

#define PB_MAX_LEN 1600

/* pb_spec.v6_ext: extension header put between IPv6 and the L4 header. */
enum pb_v6_ext {
	PB_EXT_NONE,
	PB_EXT_FRAG, /* Fragment header (next header 44) */
	PB_EXT_HBH,  /* Hop-by-Hop options (next header 0), 8 bytes */
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

#endif

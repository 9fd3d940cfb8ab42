/* SPDX-License-Identifier: GPL-2.0-only */
/* Includes and small definitions every kvlb BPF file needs. */
#ifndef KVLB_COMMON_BPF_H
#define KVLB_COMMON_BPF_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <asm-generic/errno-base.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kvlb.h"

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

#define IP_MF	  0x2000
#define IP_OFFSET 0x1fff

/* Most VLAN tags kvlb looks through (QinQ). */
#define KVLB_MAX_VLAN_TAGS 2

#endif

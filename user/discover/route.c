// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A pod's traffic enters the node on the interface the node routes the pod's
 * address through (its host-side veth for most CNIs, or a bridge), which is
 * where kvlb's TC program belongs. One rtnetlink request per address; no
 * route table is read or cached.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "route.h"

int route_dev(const struct kvlb_endpoint *ep, char ifname[IF_NAMESIZE], bool *via_gw, char *err,
	      size_t errlen)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req = {};
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_sec = 2};
	char buf[8192];
	struct nlmsghdr *nh;
	struct rtattr *rta;
	size_t alen = ep->family == KVLB_AF_INET ? 4 : 16;
	int fd, oif = 0, attrlen;
	ssize_t n;

	*via_gw = false;
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = ep->family == KVLB_AF_INET ? AF_INET : AF_INET6;
	req.rt.rtm_dst_len = (unsigned char)(alen * 8);
	rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	rta->rta_type = RTA_DST;
	rta->rta_len = (unsigned short)RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), &ep->addr, alen);
	req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		snprintf(err, errlen, "netlink socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "route lookup: %s", strerror(errno));
		close(fd);
		return -1;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "route lookup: %s", strerror(errno));
		return -1;
	}
	nh = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(nh, (unsigned int)n)) {
		snprintf(err, errlen, "route lookup: short netlink reply");
		return -1;
	}
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nh);

		snprintf(err, errlen, "no route: %s", strerror(e->error ? -e->error : EINVAL));
		return -1;
	}
	if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg))) {
		snprintf(err, errlen, "route lookup: unexpected netlink reply");
		return -1;
	}
	attrlen = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(struct rtmsg)));
	for (rta = RTM_RTA(NLMSG_DATA(nh)); RTA_OK(rta, attrlen); rta = RTA_NEXT(rta, attrlen)) {
		if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) >= sizeof(int))
			memcpy(&oif, RTA_DATA(rta), sizeof(int));
		else if (rta->rta_type == RTA_GATEWAY || rta->rta_type == RTA_VIA)
			*via_gw = true;
	}
	if (!oif || !if_indextoname((unsigned int)oif, ifname)) {
		snprintf(err, errlen, "route lookup: no output interface");
		return -1;
	}
	return 0;
}

// See link_messages.h.
#include "link_messages.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mcast {

int OpenLinkWatchSocket(int* fd) {
  int s = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return errno;
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK;
  if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(s);
    return err;
  }
  *fd = s;
  return 0;
}

namespace {

// The IFLA_IFNAME attribute of one ifinfomsg payload, bounded by the message's own length.
std::string IfName(const uint8_t* attrs, size_t len) {
  size_t off = 0;
  while (off + sizeof(rtattr) <= len) {
    rtattr rta;
    std::memcpy(&rta, attrs + off, sizeof(rta));
    if (rta.rta_len < sizeof(rtattr) || rta.rta_len > len - off) break;
    if (rta.rta_type == IFLA_IFNAME) {
      const char* value = reinterpret_cast<const char*>(attrs + off + RTA_LENGTH(0));
      size_t value_len = rta.rta_len - RTA_LENGTH(0);
      return std::string(value, strnlen(value, value_len));
    }
    off += RTA_ALIGN(rta.rta_len);
  }
  return std::string();
}

}  // namespace

size_t ParseLinkMessages(const uint8_t* buf, size_t len, std::vector<LinkEvent>* out) {
  size_t count = 0;
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= len) {
    nlmsghdr nh;
    std::memcpy(&nh, buf + off, sizeof(nh));
    if (nh.nlmsg_len < sizeof(nlmsghdr) || nh.nlmsg_len > len - off) break;
    if ((nh.nlmsg_type == RTM_NEWLINK || nh.nlmsg_type == RTM_DELLINK) &&
        nh.nlmsg_len >= NLMSG_LENGTH(sizeof(ifinfomsg))) {
      ifinfomsg ifi;
      std::memcpy(&ifi, buf + off + NLMSG_HDRLEN, sizeof(ifi));
      if (ifi.ifi_index > 0) {
        const size_t attrs_at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg));
        LinkEvent ev;
        ev.kind = nh.nlmsg_type == RTM_DELLINK ? 1 : 0;
        ev.index = ifi.ifi_index;
        ev.flags = ifi.ifi_flags;
        if (nh.nlmsg_len > attrs_at) ev.name = IfName(buf + off + attrs_at, nh.nlmsg_len - attrs_at);
        out->push_back(std::move(ev));
        count++;
      }
    }
    const size_t step = NLMSG_ALIGN(nh.nlmsg_len);
    if (step == 0 || step > len - off) break;
    off += step;
  }
  return count;
}

int ReadLinkEvents(int fd, std::vector<LinkEvent>* out) {
  alignas(nlmsghdr) uint8_t buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return errno;
    }
    if (n == 0) return 0;
    ParseLinkMessages(buf, static_cast<size_t>(n), out);
  }
}

}  // namespace mcast

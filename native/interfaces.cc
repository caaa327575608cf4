#include "interfaces.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>

namespace mcast {

namespace {

std::string Numeric(const sockaddr* addr, uint32_t* scope_id) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (addr == nullptr) return "";
  if (addr->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, buf, sizeof(buf));
  } else if (addr->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
    if (scope_id != nullptr) *scope_id = sin6->sin6_scope_id;
  }
  return buf;
}

}  // namespace

int ListInterfaces(std::vector<InterfaceRow>* rows) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return errno;
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    InterfaceRow row;
    row.name = it->ifa_name;
    row.index = if_nametoindex(it->ifa_name);
    row.flags = it->ifa_flags;
    int family = it->ifa_addr != nullptr ? it->ifa_addr->sa_family : 0;
    if (family == AF_INET || family == AF_INET6) {
      row.family = family;
      row.address = Numeric(it->ifa_addr, &row.scope_id);
      row.netmask = Numeric(it->ifa_netmask, nullptr);
    } else {
      // AF_PACKET (or no address): keep one bare row per interface name.
      bool seen = std::any_of(rows->begin(), rows->end(),
                              [&](const InterfaceRow& r) { return r.name == row.name; });
      if (seen) continue;
    }
    rows->push_back(std::move(row));
  }
  freeifaddrs(list);
  return 0;
}

}  // namespace mcast

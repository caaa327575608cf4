// The (group, interface) pairs an IPv6 socket has joined. Linux matches IPv6 multicast delivery
// by group only (inet6_mc_check ignores the interface, even with IPV6_MULTICAST_ALL off), so a
// socket joined on link A would also get the group's traffic from link B. IPv4 needs no such
// table: ip_mc_sf_allow already checks the interface. mcast keeps the IPv6 promise with this
// table and counts what it filters.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <vector>

namespace mcast {

class MembershipFilter {
 public:
  // A successful join (any-source or one source; joins of several sources count separately).
  void Add(const in6_addr& group, uint32_t ifindex);
  // A successful leave of what Add() recorded.
  void Remove(const in6_addr& group, uint32_t ifindex);
  // Whether a datagram to `destination` that arrived on `ifindex` belongs to a membership. Only
  // multicast destinations are filtered; a join with ifindex 0 (kernel's choice) admits any.
  bool Admits(const uint8_t* destination, uint32_t ifindex) const;

 private:
  struct Entry {
    in6_addr group;
    uint32_t ifindex;
    int refs;
  };
  std::vector<Entry> entries_;
};

}  // namespace mcast

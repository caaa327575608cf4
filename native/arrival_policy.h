// When an IPv4 socket may do without IP_PKTINFO. Each control message costs the kernel's receive
// path (IP_PKTINFO alone about 9% of a bare recvmmsg drain here), and for a socket bound to a
// group address G that joined G on exactly one interface I, with IP_MULTICAST_ALL off, it tells
// nothing new: the bind admits only datagrams to G and ip_mc_sf_allow only those that arrived on
// I. Such a socket turns IP_PKTINFO off after that join, and its datagrams get (G, I) filled in.
//
// The elision happens at most once per socket, so the known (G, I) never changes: any later join
// of another (group, interface), or IP_MULTICAST_ALL on, turns IP_PKTINFO back on for good
// BEFORE it takes effect, and datagrams still queued from the elided time keep the known values.
// IPv6 always keeps IPV6_PKTINFO: its interface filter (membership_filter.h) needs it.
#pragma once

#include <cstdint>

#include "socket_ops.h"

namespace mcast {

class ArrivalPolicy {
 public:
  // What a membership change asks of IP_PKTINFO: on before it, off after it succeeded.
  struct Plan {
    bool enable_before = false;
    bool disable_after = false;
  };

  // `bound`: the address the socket is bound to. Only an IPv4 socket bound to a multicast
  // address, with IP_MULTICAST_ALL off, can ever elide.
  ArrivalPolicy(int family, const SockAddr& bound, bool multicast_all);

  // Before a join of (group, ifindex); then Joined() once it succeeded.
  Plan PlanJoin(const SockAddr& group, uint32_t ifindex);
  void Joined(const Plan& plan, const SockAddr& group, uint32_t ifindex);
  // Before IP_MULTICAST_ALL is set to `on`: whether IP_PKTINFO must be turned on first.
  bool PlanMulticastAll(bool on);

  // Whether IP_PKTINFO is off (or was at some time), so that a datagram without it gets the
  // known destination and interface.
  bool known() const { return known_; }
  uint32_t ifindex() const { return ifindex_; }
  const uint8_t* destination() const { return destination_; }

 private:
  enum class State { kUndecided, kElided, kNeeded };
  State state_;
  uint32_t bound_group_ = 0;  // network order
  bool known_ = false;
  uint32_t ifindex_ = 0;
  uint8_t destination_[16] = {};
};

}  // namespace mcast

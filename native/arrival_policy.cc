#include "arrival_policy.h"

#include <netinet/in.h>

#include <cstring>

namespace mcast {

namespace {

// The IPv4 address of `addr` in network order, or 0 for another family.
uint32_t IPv4Of(const SockAddr& addr) {
  if (addr.storage.ss_family != AF_INET) return 0;
  sockaddr_in sin;
  std::memcpy(&sin, &addr.storage, sizeof(sin));
  return sin.sin_addr.s_addr;
}

}  // namespace

ArrivalPolicy::ArrivalPolicy(int family, const SockAddr& bound, bool multicast_all)
    : state_(State::kNeeded) {
  const uint32_t address = family == AF_INET ? IPv4Of(bound) : 0;
  if (!multicast_all && IN_MULTICAST(ntohl(address))) {
    state_ = State::kUndecided;
    bound_group_ = address;
  }
}

ArrivalPolicy::Plan ArrivalPolicy::PlanJoin(const SockAddr& group, uint32_t ifindex) {
  Plan plan;
  const bool same_pair = IPv4Of(group) == bound_group_ && ifindex != 0;
  if (state_ == State::kUndecided) {
    // The first join: the one (G, I) this socket will know, or the end of the elision.
    if (same_pair) {
      plan.disable_after = true;
    } else {
      state_ = State::kNeeded;
    }
  } else if (state_ == State::kElided && !(same_pair && ifindex == ifindex_)) {
    plan.enable_before = true;  // a second (group, interface): the kernel must say again
    state_ = State::kNeeded;
  }
  return plan;
}

void ArrivalPolicy::Joined(const Plan& plan, const SockAddr& group, uint32_t ifindex) {
  if (!plan.disable_after || state_ != State::kUndecided) return;
  state_ = State::kElided;
  known_ = true;
  ifindex_ = ifindex;
  const uint32_t address = IPv4Of(group);
  std::memcpy(destination_, &address, sizeof(address));
}

bool ArrivalPolicy::PlanMulticastAll(bool on) {
  if (!on) return false;  // fewer datagrams than before: what is known stays true
  const bool enable = state_ == State::kElided;
  state_ = State::kNeeded;
  return enable;
}

}  // namespace mcast

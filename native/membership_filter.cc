#include "membership_filter.h"

#include <algorithm>
#include <cstring>

namespace mcast {

namespace {

bool SameGroup(const in6_addr& a, const uint8_t* b) { return std::memcmp(&a, b, sizeof(a)) == 0; }

}  // namespace

void MembershipFilter::Add(const in6_addr& group, uint32_t ifindex) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.ifindex == ifindex && SameGroup(e.group, group.s6_addr);
  });
  if (it != entries_.end()) {
    it->refs++;
    return;
  }
  entries_.push_back(Entry{group, ifindex, 1});
}

void MembershipFilter::Remove(const in6_addr& group, uint32_t ifindex) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.ifindex == ifindex && SameGroup(e.group, group.s6_addr);
  });
  if (it != entries_.end() && --it->refs == 0) entries_.erase(it);
}

bool MembershipFilter::Admits(const uint8_t* destination, uint32_t ifindex) const {
  if (destination[0] != 0xff) return true;  // not multicast: nothing to filter
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return (e.ifindex == ifindex || e.ifindex == 0) && SameGroup(e.group, destination);
  });
}

}  // namespace mcast

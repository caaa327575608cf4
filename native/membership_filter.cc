#include "membership_filter.h"

#include <cstring>

namespace mcast {

namespace {

bool SameGroup(const in6_addr& a, const uint8_t* b) { return std::memcmp(&a, b, sizeof(a)) == 0; }

}  // namespace

void MembershipFilter::Add(const in6_addr& group, uint32_t ifindex) {
  for (Entry& e : entries_) {
    if (e.ifindex == ifindex && SameGroup(e.group, group.s6_addr)) {
      e.refs++;
      return;
    }
  }
  entries_.push_back(Entry{group, ifindex, 1});
}

void MembershipFilter::Remove(const in6_addr& group, uint32_t ifindex) {
  for (size_t i = 0; i < entries_.size(); i++) {
    Entry& e = entries_[i];
    if (e.ifindex == ifindex && SameGroup(e.group, group.s6_addr)) {
      if (--e.refs == 0) entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
  }
}

bool MembershipFilter::Admits(const uint8_t* destination, uint32_t ifindex) const {
  if (destination[0] != 0xff) return true;  // not multicast: nothing to filter
  for (const Entry& e : entries_) {
    if ((e.ifindex == ifindex || e.ifindex == 0) && SameGroup(e.group, destination)) return true;
  }
  return false;
}

}  // namespace mcast

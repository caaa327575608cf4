// The host's interfaces and their addresses, from getifaddrs(3) and if_nametoindex(3).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mcast {

// One row per (interface, address); an interface without an IP address gets one row with
// family 0, so that every interface appears.
struct InterfaceRow {
  std::string name;
  uint32_t index = 0;
  unsigned flags = 0;  // IFF_* bits
  int family = 0;      // AF_INET, AF_INET6 or 0
  std::string address;
  std::string netmask;
  uint32_t scope_id = 0;
};

// Returns 0 and fills `rows`, or an errno from getifaddrs.
int ListInterfaces(std::vector<InterfaceRow>* rows);

}  // namespace mcast

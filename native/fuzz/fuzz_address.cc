// libFuzzer target: ParseAddress / FormatAddress, the native parsing of the address text that
// reaches the addon (groups, sources, destinations, bind addresses).
//
// Input layout: [0] family selector (even: AF_INET, odd: AF_INET6), [1..2] port, [3..6] scope id,
// then the text (any bytes; cut at the first NUL, as a C string would be).
// Properties: parsing never reads past the text; whatever parses formats back to text that parses
// to the same address; the formatted text fits INET6_ADDRSTRLEN.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_util.h"
#include "socket_ops.h"

using mcast_fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 7) return 0;
  const int family = (data[0] & 1) != 0 ? AF_INET6 : AF_INET;
  uint16_t port;
  uint32_t scope;
  std::memcpy(&port, data + 1, sizeof(port));
  std::memcpy(&scope, data + 3, sizeof(scope));
  const std::string text(reinterpret_cast<const char*>(data + 7), size - 7);

  mcast::SockAddr addr;
  if (!mcast::ParseAddress(family, text.c_str(), port, scope, &addr)) {
    Check(addr.length == 0);
    return 0;
  }
  Check(addr.storage.ss_family == family);
  Check(addr.length == (family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6)));

  char formatted[INET6_ADDRSTRLEN];
  uint16_t port_back = 0;
  Check(mcast::FormatAddress(addr.get(), formatted, sizeof(formatted), &port_back));
  Check(port_back == port);
  Check(std::memchr(formatted, '\0', sizeof(formatted)) != nullptr);

  mcast::SockAddr again;
  Check(mcast::ParseAddress(family, formatted, port, scope, &again));
  Check(again.length == addr.length);
  Check(std::memcmp(&again.storage, &addr.storage, addr.length) == 0);

  // An unknown family is refused, not misread.
  mcast::SockAddr other;
  Check(!mcast::ParseAddress(AF_UNIX, text.c_str(), port, scope, &other));
  return 0;
}

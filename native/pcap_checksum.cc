// See pcap_checksum.h.
#include "pcap_checksum.h"

#include <cstdint>
#include <cstring>

namespace mcast {

namespace {

constexpr uint8_t kIpprotoUdp = 17;
constexpr size_t kIpv4Header = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kUdpHeader = 8;

uint32_t Fold(uint64_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint32_t>(sum);
}

// Whether source[from, from + bytes) exists (0 bytes need no source).
bool InSource(const uint8_t* source, size_t source_length, int32_t from, int32_t bytes) {
  if (from < 0 || bytes < 0) return false;
  if (bytes == 0) return true;
  return source != nullptr && static_cast<size_t>(from) <= source_length &&
         static_cast<size_t>(bytes) <= source_length - static_cast<size_t>(from);
}

uint16_t Swap16(uint32_t v) { return static_cast<uint16_t>(((v & 0xff) << 8) | ((v >> 8) & 0xff)); }

}  // namespace

uint16_t OnesSum(const uint8_t* p, size_t n, uint32_t initial) {
  // The sum of native-order words is the byte swap of the big-endian one on a little-endian host
  // (RFC 1071, "byte order independence"), so the loop loads whole words and swaps once at the end.
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint32_t a = 0;
    uint32_t b = 0;
    std::memcpy(&a, p + i, 4);
    std::memcpy(&b, p + i + 4, 4);
    sum += static_cast<uint64_t>(a) + b;
  }
  for (; i + 2 <= n; i += 2) {
    uint16_t w = 0;
    std::memcpy(&w, p + i, 2);
    sum += w;
  }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  if (i < n) sum += static_cast<uint32_t>(p[i]) << 8;
  return static_cast<uint16_t>(Fold(static_cast<uint64_t>(Fold(sum)) + initial));
#else
  if (i < n) sum += p[i];
  return static_cast<uint16_t>(Fold(static_cast<uint64_t>(Swap16(Fold(sum))) + initial));
#endif
}

size_t FillPcapFrames(uint8_t* block, size_t length, const uint8_t* source, size_t source_length,
                      const int32_t* jobs, size_t count) {
  for (size_t j = 0; j < count; j++) {
    const int32_t* job = jobs + j * kPcapJobWords;
    const int32_t at = job[0];
    const int32_t flags = job[1];
    if (at < 0) return j;
    const size_t ip = static_cast<size_t>(at);
    const bool v6 = (flags & kChecksumIpv6) != 0;
    const size_t ip_bytes = v6 ? kIpv6Header : kIpv4Header;
    if (ip > length || length - ip < ip_bytes + kUdpHeader) return j;
    uint8_t* h = block + ip;
    const int32_t from = job[2];
    const int32_t copy = job[3];
    const bool from_source = (flags & kCopyPayload) != 0;
    if (from_source) {
      const size_t room = length - ip - ip_bytes - kUdpHeader;
      if (!InSource(source, source_length, from, copy) || static_cast<size_t>(copy) > room) return j;
      if (copy > 0) std::memcpy(h + ip_bytes + kUdpHeader, source + from, static_cast<size_t>(copy));
    }
    if (!v6) {
      h[10] = 0;
      h[11] = 0;
      const uint16_t sum = static_cast<uint16_t>(~OnesSum(h, kIpv4Header));
      h[10] = static_cast<uint8_t>(sum >> 8);
      h[11] = static_cast<uint8_t>(sum & 0xff);
    }
    if ((flags & kChecksumUdp) == 0) continue;
    uint8_t* udp = h + ip_bytes;
    const size_t udp_length = (static_cast<size_t>(udp[4]) << 8) | udp[5];
    if (udp_length < kUdpHeader) return j;
    const size_t payload = udp_length - kUdpHeader;
    // The payload summed where all of it is: in the source (a frame cut by the snap length keeps
    // less in the block than the datagram had), else in the block.
    const uint8_t* bytes = udp + kUdpHeader;
    if (from_source) {
      if (payload > static_cast<size_t>(INT32_MAX) ||
          !InSource(source, source_length, from, static_cast<int32_t>(payload))) {
        return j;
      }
      bytes = source + from;
    } else if (payload > length - ip - ip_bytes - kUdpHeader) {
      return j;
    }
    udp[6] = 0;
    udp[7] = 0;
    // Pseudo-header: the addresses, the protocol and the UDP length (RFC 768, RFC 8200 8.1).
    const uint8_t* addresses = v6 ? h + 8 : h + 12;
    const size_t address_bytes = v6 ? 32 : 8;
    uint32_t sum = OnesSum(addresses, address_bytes, kIpprotoUdp + static_cast<uint32_t>(udp_length));
    sum = OnesSum(udp, kUdpHeader, sum);
    if (payload > 0) sum = OnesSum(bytes, payload, sum);
    uint16_t checksum = static_cast<uint16_t>(~sum);
    if (checksum == 0) checksum = 0xffff;
    udp[6] = static_cast<uint8_t>(checksum >> 8);
    udp[7] = static_cast<uint8_t>(checksum & 0xff);
  }
  return count;
}

}  // namespace mcast

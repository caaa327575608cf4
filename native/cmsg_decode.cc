#include "cmsg_decode.h"

#include <netinet/in.h>
#include <time.h>

#include <cstring>

#include "batch_layout.h"
#include "linux_options.h"

namespace mcast {

namespace {

void PutInt(uint8_t* record, size_t index, int32_t value) {
  std::memcpy(record + index * sizeof(int32_t), &value, sizeof(value));
}

// Copies a control message's payload when it is at least `size` bytes long; a short one (which
// only a broken or hostile control buffer could hold) is ignored.
bool ReadPayload(const cmsghdr* c, void* out, size_t size) {
  if (c->cmsg_len < CMSG_LEN(size)) return false;
  std::memcpy(out, CMSG_DATA(c), size);
  return true;
}

void DecodeSource(const msghdr& hdr, uint8_t* record) {
  const auto* name = static_cast<const sockaddr*>(hdr.msg_name);
  int32_t port = 0;
  if (name != nullptr && hdr.msg_namelen >= sizeof(sockaddr_in) && name->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, name, sizeof(sin));
    std::memcpy(record + layout::kSourceByte, &sin.sin_addr, 4);
    port = ntohs(sin.sin_port);
  } else if (name != nullptr && hdr.msg_namelen >= sizeof(sockaddr_in6) &&
             name->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, name, sizeof(sin6));
    std::memcpy(record + layout::kSourceByte, &sin6.sin6_addr, 16);
    port = ntohs(sin6.sin6_port);
  }
  PutInt(record, layout::kPort, port);
}

}  // namespace

DecodeResult DecodeDatagram(const msghdr& hdr, uint32_t wire_size, uint32_t max_size,
                            uint8_t* record) {
  DecodeResult result;
  std::memset(record, 0, layout::kRecordBytes);
  int32_t flags = 0;
  int32_t ttl = -1;
  result.truncated = (hdr.msg_flags & MSG_TRUNC) != 0 || wire_size > max_size;
  if (result.truncated) flags |= layout::kFlagTruncated;
  DecodeSource(hdr, record);

  if (hdr.msg_control != nullptr) {
    const auto* control_end = static_cast<const uint8_t*>(hdr.msg_control) + hdr.msg_controllen;
    for (cmsghdr* c = CMSG_FIRSTHDR(&hdr); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&hdr), c)) {
      // CMSG_FIRSTHDR does not check the first header's cmsg_len against msg_controllen (found
      // by native/fuzz/fuzz_cmsg.cc): a header that claims more than the buffer holds is
      // malformed, and nothing after it can be trusted.
      const auto room = static_cast<size_t>(control_end - reinterpret_cast<const uint8_t*>(c));
      if (c->cmsg_len > room) break;
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        if (ReadPayload(c, &info, sizeof(info))) {
          result.ifindex = static_cast<uint32_t>(info.ipi_ifindex);
          std::memcpy(result.destination, &info.ipi_addr, 4);
          result.has_pktinfo = true;
        }
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info;
        if (ReadPayload(c, &info, sizeof(info))) {
          result.ifindex = info.ipi6_ifindex;
          std::memcpy(result.destination, &info.ipi6_addr, 16);
          result.has_pktinfo = true;
        }
      } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
        int value;
        if (ReadPayload(c, &value, sizeof(value))) ttl = value;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        result.has_drop_count = ReadPayload(c, &result.drop_count, sizeof(result.drop_count));
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        if (ReadPayload(c, &ts, sizeof(ts))) {
          uint64_t ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
                        static_cast<uint64_t>(ts.tv_nsec);
          std::memcpy(record + layout::kTimestampByte, &ns, sizeof(ns));
          flags |= layout::kFlagTimestamp;
        }
      } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        // The kernel puts the segment size in an int (udp_cmsg_recv); 0 is not a split.
        int segment;
        if (ReadPayload(c, &segment, sizeof(segment)) && segment > 0) {
          result.gro_segment_size = static_cast<uint32_t>(segment);
        }
      }
    }
  }
  if (result.has_pktinfo) {
    flags |= layout::kFlagPktinfo;
    std::memcpy(record + layout::kDestinationByte, result.destination, sizeof(result.destination));
  }
  result.kept = wire_size < max_size ? wire_size : max_size;
  PutInt(record, layout::kSize, static_cast<int32_t>(result.kept));
  PutInt(record, layout::kOriginalSize, static_cast<int32_t>(wire_size));
  result.flags = flags;
  PutInt(record, layout::kFlags, flags);
  PutInt(record, layout::kIfIndex, static_cast<int32_t>(result.ifindex));
  PutInt(record, layout::kTtl, ttl);
  // The kernel sends SO_RXQ_OVFL only once the counter is non-zero: no message means 0.
  PutInt(record, layout::kDropCount, static_cast<int32_t>(result.has_drop_count ? result.drop_count : 0));
  return result;
}

}  // namespace mcast

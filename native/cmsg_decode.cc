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

}  // namespace

void MakeBareRecord(const uint8_t* known_destination, uint32_t known_ifindex, BareRecord* out) {
  std::memset(out->bytes, 0, sizeof(out->bytes));
  out->flags = 0;
  if (known_destination != nullptr) {
    out->flags = layout::kFlagPktinfo;
    std::memcpy(out->bytes + layout::kDestinationByte, known_destination, 16);
    PutInt(out->bytes, layout::kIfIndex, static_cast<int32_t>(known_ifindex));
  }
  PutInt(out->bytes, layout::kFlags, out->flags);
  PutInt(out->bytes, layout::kTtl, -1);
}

DecodeResult DecodeDatagram(const msghdr& hdr, uint32_t wire_size, uint32_t max_size,
                            uint8_t* record) {
  DecodeResult result;
  std::memset(record, 0, layout::kRecordBytes);
  int32_t flags = 0;
  int32_t ttl = -1;
  result.truncated = (hdr.msg_flags & MSG_TRUNC) != 0 || wire_size > max_size;
  if (result.truncated) flags |= layout::kFlagTruncated;
  PutSource(hdr, record);

  const size_t total = hdr.msg_control != nullptr ? hdr.msg_controllen : 0;
  // Walked by offsets rather than with CMSG_NXTHDR, which is a libc call per message, with
  // glibc's bounds (__cmsg_nxthdr): a next header must fit in what is left, and so must its
  // aligned length; a header shorter than a header ends the walk.
  for (size_t at = 0; total >= sizeof(cmsghdr);) {
    const auto* c = reinterpret_cast<const cmsghdr*>(static_cast<const uint8_t*>(hdr.msg_control) + at);
    // CMSG_FIRSTHDR does not check the first header's cmsg_len against msg_controllen (found
    // by native/fuzz/fuzz_cmsg.cc): a header that claims more than the buffer holds is
    // malformed, and nothing after it can be trusted.
    if (c->cmsg_len > total - at) break;
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
    if (c->cmsg_len < sizeof(cmsghdr)) break;
    const size_t next = at + CMSG_ALIGN(c->cmsg_len);
    if (next + sizeof(cmsghdr) > total) break;
    const auto* n = reinterpret_cast<const cmsghdr*>(static_cast<const uint8_t*>(hdr.msg_control) + next);
    if (n->cmsg_len > total - next || CMSG_ALIGN(n->cmsg_len) > total - next) break;
    at = next;
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

// Decoding of one received datagram (its msghdr after recvmmsg) into a metadata record.
// Kept apart from the receive loop so that the fuzz target can feed it arbitrary control data.
#pragma once

#include <sys/socket.h>

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "batch_layout.h"

namespace mcast {

// What decoding one datagram learned: the fields the receive loop acts on (filter, counters,
// GRO split), returned so that it never reads them back out of the record's bytes.
struct DecodeResult {
  bool truncated = false;
  bool has_drop_count = false;
  uint32_t drop_count = 0;  // SO_RXQ_OVFL: the socket's cumulative kernel drop counter
  bool has_pktinfo = false;
  uint32_t ifindex = 0;          // arrival interface (IP_PKTINFO / IPV6_PKTINFO), 0 without
  uint8_t destination[16] = {};  // destination address (IPv4 in the first 4 bytes)
  uint32_t kept = 0;             // bytes delivered: min(wire size, max_size)
  int32_t flags = 0;             // the record's layout::kFlag* bits
  // (SOL_UDP, UDP_GRO): the size of each datagram merged into this receive, 0 when none came.
  uint32_t gro_segment_size = 0;
};

// Writes the record (see batch_layout.h) for a datagram whose header is `hdr` and whose size on
// the wire is `wire_size` (recvmmsg with MSG_TRUNC reports the full size), given that at most
// `max_size` bytes were kept. `record` must have layout::kRecordBytes bytes. Reads only within
// hdr.msg_controllen and hdr.msg_namelen.
DecodeResult DecodeDatagram(const msghdr& hdr, uint32_t wire_size, uint32_t max_size,
                            uint8_t* record);

// The record that every datagram of a socket gets when it came with no control message at all
// (the kernel set msg_controllen below one header): no TTL (-1), no timestamp, drop count 0, and
// the destination and interface the socket knows without IP_PKTINFO (arrival_policy.h), or none.
// Only the sizes, flags' truncation bit, source and offset differ from one such datagram to the
// next. It is the default path of a socket bound to one joined group with no drops so far.
struct BareRecord {
  alignas(8) uint8_t bytes[layout::kRecordBytes];
  int32_t flags;  // the record's kFlags without the truncation bit
};

// `known_destination` null: the socket knows no arrival (its datagrams carry IP_PKTINFO, or do
// without destination and interface).
void MakeBareRecord(const uint8_t* known_destination, uint32_t known_ifindex, BareRecord* out);

// Whether the only control message of `hdr` is an IP_PKTINFO of the kernel's exact size: what an
// IPv4 socket that asks for nothing else (bound to the wildcard, dgram's default, so that the
// destination is not known) gets with each datagram until the first drop. msg_control must be
// aligned for cmsghdr, as RecvBatch's control buffers are.
inline bool IsLonePacketInfo(const msghdr& hdr) {
  if (hdr.msg_control == nullptr || hdr.msg_controllen != CMSG_SPACE(sizeof(in_pktinfo))) return false;
  const auto* c = static_cast<const cmsghdr*>(hdr.msg_control);
  return c->cmsg_len == CMSG_LEN(sizeof(in_pktinfo)) && c->cmsg_level == IPPROTO_IP &&
         c->cmsg_type == IP_PKTINFO;
}

// Copies the source address and port of `hdr.msg_name` (IPv4 or IPv6; none when there is no name
// or it is too short) into the record, whose source bytes and port must be zero already.
inline void PutSource(const msghdr& hdr, uint8_t* record) {
  // Read through memcpy: the name buffer need not be aligned for sockaddr_in6.
  const auto* bytes = static_cast<const uint8_t*>(hdr.msg_name);
  if (bytes == nullptr || hdr.msg_namelen < sizeof(sockaddr_in)) return;
  sa_family_t family;
  std::memcpy(&family, bytes + offsetof(sockaddr, sa_family), sizeof(family));
  uint16_t port;
  if (family == AF_INET) {
    std::memcpy(record + layout::kSourceByte, bytes + offsetof(sockaddr_in, sin_addr), 4);
    std::memcpy(&port, bytes + offsetof(sockaddr_in, sin_port), sizeof(port));
  } else if (family == AF_INET6 && hdr.msg_namelen >= sizeof(sockaddr_in6)) {
    std::memcpy(record + layout::kSourceByte, bytes + offsetof(sockaddr_in6, sin6_addr), 16);
    std::memcpy(&port, bytes + offsetof(sockaddr_in6, sin6_port), sizeof(port));
  } else {
    return;
  }
  const int32_t host_port = ntohs(port);
  std::memcpy(record + layout::kPort * sizeof(int32_t), &host_port, sizeof(host_port));
}

// The record of a datagram whose header holds no control message, from `bare`: byte for byte
// what DecodeDatagram writes, followed by the known arrival when `bare` has one
// (native/fuzz/fuzz_cmsg.cc checks that). Leaves kOffset to the caller. Inline, so that the
// receive loop pays no call per datagram. Returns the bytes kept; `*truncated` says if cut.
// `extra_flags` joins bare.flags (DecodeLonePacketInfo's kFlagPktinfo), so the flags are written
// once.
inline uint32_t DecodeBare(const msghdr& hdr, uint32_t wire_size, uint32_t max_size,
                           const BareRecord& bare, uint8_t* record, bool* truncated,
                           int32_t extra_flags = 0) {
  std::memcpy(record, bare.bytes, layout::kRecordBytes);
  const bool cut = (hdr.msg_flags & MSG_TRUNC) != 0 || wire_size > max_size;
  const uint32_t kept = wire_size < max_size ? wire_size : max_size;
  const int32_t fields[3] = {static_cast<int32_t>(kept), static_cast<int32_t>(wire_size),
                             bare.flags | extra_flags | (cut ? layout::kFlagTruncated : 0)};
  std::memcpy(record + layout::kSize * sizeof(int32_t), &fields[0], sizeof(int32_t));
  std::memcpy(record + layout::kOriginalSize * sizeof(int32_t), &fields[1], sizeof(int32_t));
  std::memcpy(record + layout::kFlags * sizeof(int32_t), &fields[2], sizeof(int32_t));
  PutSource(hdr, record);
  *truncated = cut;
  return kept;
}

// The record of a datagram for which IsLonePacketInfo holds, from `plain` (a BareRecord made
// without a known arrival): byte for byte what DecodeDatagram writes (native/fuzz/fuzz_cmsg.cc
// checks that). Returns the bytes kept.
inline uint32_t DecodeLonePacketInfo(const msghdr& hdr, uint32_t wire_size, uint32_t max_size,
                                     const BareRecord& plain, uint8_t* record, bool* truncated) {
  const uint32_t kept =
      DecodeBare(hdr, wire_size, max_size, plain, record, truncated, layout::kFlagPktinfo);
  in_pktinfo info;
  std::memcpy(&info, CMSG_DATA(static_cast<const cmsghdr*>(hdr.msg_control)), sizeof(info));
  std::memcpy(record + layout::kDestinationByte, &info.ipi_addr, 4);
  const int32_t ifindex = info.ipi_ifindex;
  std::memcpy(record + layout::kIfIndex * sizeof(int32_t), &ifindex, sizeof(ifindex));
  return kept;
}

}  // namespace mcast

// Decoding of one received datagram (its msghdr after recvmmsg) into a metadata record.
// Kept apart from the receive loop so that the fuzz target can feed it arbitrary control data.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

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

}  // namespace mcast

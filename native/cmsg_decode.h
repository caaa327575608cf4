// Decoding of one received datagram (its msghdr after recvmmsg) into a metadata record.
// Kept apart from the receive loop so that the fuzz target can feed it arbitrary control data.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace mcast {

// What decoding one datagram learned beyond its record.
struct DecodeResult {
  bool truncated = false;
  bool has_drop_count = false;
  uint32_t drop_count = 0;  // SO_RXQ_OVFL: the socket's cumulative kernel drop counter
};

// Writes the record (see batch_layout.h) for a datagram whose header is `hdr` and whose size on
// the wire is `wire_size` (recvmmsg with MSG_TRUNC reports the full size), given that at most
// `max_size` bytes were kept. `record` must have layout::kRecordBytes bytes. Reads only within
// hdr.msg_controllen and hdr.msg_namelen.
DecodeResult DecodeDatagram(const msghdr& hdr, uint32_t wire_size, uint32_t max_size,
                            uint8_t* record);

}  // namespace mcast

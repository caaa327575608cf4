// Splitting a UDP_GRO receive back into the datagrams the sender sent. With UDP_GRO the kernel
// may hand one receive several datagrams of one flow, concatenated, with their common size in a
// (SOL_UDP, UDP_GRO) control message; only the last may be shorter. No N-API here: the native
// unit tests and native/fuzz/fuzz_gro.cc drive it directly.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mcast {

// One datagram of a merged receive: where it starts in the receive buffer, its size on the
// wire, and how many of its bytes are delivered (at most the socket's maxMessageSize).
struct GroSegment {
  uint32_t offset = 0;
  uint32_t wire_size = 0;
  uint32_t kept = 0;
};

// The kernel's own cap on datagrams merged into one receive (UDP_GRO_CNT_MAX in
// include/linux/udp.h): a receive slot yields at most this many datagrams.
constexpr size_t kMaxGroSegments = 64;

// Splits `received` bytes (what recvmsg wrote into the buffer) that arrived with a GRO segment
// size of `segment_size` into at most `max_out` segments written to `out`, each cut to `keep`
// bytes. Returns how many segments were written. A `segment_size` of 0, or one not smaller than
// `received`, means one plain datagram. When more than `max_out` segments would be needed (never
// from a kernel that keeps UDP_GRO_CNT_MAX), the last one written takes all the remaining bytes,
// so nothing is lost silently: it shows as a datagram of its real size, truncated to `keep`.
size_t SplitGroSegments(uint32_t received, uint32_t segment_size, uint32_t keep, GroSegment* out,
                        size_t max_out);

// The same split in closed form, for the receive loop, which writes each record itself: `count`
// segments, all but the last `segment_size` bytes long and back to back from offset 0, the last
// at `last_offset` with `last_size` bytes. SplitGroSegments is this plan written out (the GRO
// fuzzer checks both).
struct GroPlan {
  size_t count = 0;
  uint32_t last_offset = 0;
  uint32_t last_size = 0;
};

inline GroPlan PlanGroSplit(uint32_t received, uint32_t segment_size, size_t max_out) {
  GroPlan plan;
  if (max_out == 0) return plan;
  if (segment_size == 0 || segment_size >= received) {
    plan.count = 1;
    plan.last_size = received;
    return plan;
  }
  // One division per merged receive (received > segment_size > 0 here).
  const size_t whole = (size_t{received} + segment_size - 1) / segment_size;
  plan.count = whole < max_out ? whole : max_out;
  plan.last_offset = static_cast<uint32_t>(plan.count - 1) * segment_size;
  plan.last_size = received - plan.last_offset;  // all that is left when out of room
  return plan;
}

}  // namespace mcast

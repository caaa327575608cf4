// Splitting a UDP_GRO receive back into the datagrams the sender sent. With UDP_GRO the kernel
// may hand one receive several datagrams of one flow, concatenated, with their common size in a
// (SOL_UDP, UDP_GRO) control message; only the last may be shorter. No N-API here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mcast {

// The kernel's own cap on datagrams merged into one receive (UDP_GRO_CNT_MAX in
// include/linux/udp.h): a receive slot yields at most this many datagrams.
constexpr size_t kMaxGroSegments = 64;

// Splits `received` bytes (what recvmsg wrote into the buffer) that arrived with a GRO segment
// size of `segment_size` into at most `max_out` datagrams, in closed form, for the receive loop,
// which writes each record itself: `count` datagrams, all but the last `segment_size` bytes long
// and back to back from offset 0, the last at `last_offset` with `last_size` bytes. A
// `segment_size` of 0, or one not smaller than `received`, means one plain datagram. When more
// than `max_out` datagrams would be needed (never from a kernel that keeps UDP_GRO_CNT_MAX), the
// last takes all the remaining bytes, so nothing is lost silently: it shows as a datagram of its
// real size. The native unit tests and native/fuzz/fuzz_gro.cc (against a segment-by-segment
// loop) check it.
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

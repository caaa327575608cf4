// libFuzzer target: PlanGroSplit on arbitrary receive sizes, GRO segment sizes and record room.
// Whatever the input, the datagrams the plan describes (as the receive loop lays them out: all
// but the last one segment size long, back to back from 0) must tile exactly the bytes received,
// each at most one segment size long (only the last shorter, or longer when the room ran out),
// never more than the room, and agree with a segment-by-segment loop.
//
// Input layout: [0..3] bytes received, [4..7] segment size, [12] room (records); [8..11] unused
// (once the kept size, which the receive loop now applies itself), kept so the corpus still fits.
#include <cstddef>
#include <cstdint>

#include "gro_split.h"
#include "fuzz_util.h"

using mcast_fuzz::Check;
using mcast_fuzz::Read32;

namespace {

struct Segment {
  uint32_t offset = 0;
  uint32_t size = 0;
};

// The split as a loop, segment by segment (what the closed form replaced): both must agree on
// every input.
size_t ReferenceSplit(uint32_t received, uint32_t segment_size, Segment* out, size_t max_out) {
  if (max_out == 0) return 0;
  if (segment_size == 0 || segment_size >= received) {
    out[0] = {0, received};
    return 1;
  }
  size_t n = 0;
  uint32_t offset = 0;
  while (offset < received && n < max_out) {
    const uint32_t left = received - offset;
    const uint32_t size = (n + 1 == max_out || left < segment_size) ? left : segment_size;
    out[n++] = {offset, size};
    offset += size;
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 13) return 0;
  // Receives are at most a slot (64 KiB); larger values still must not break the invariants.
  const uint32_t received = Read32(data) % (1u << 20);
  const uint32_t segment = Read32(data + 4) % (1u << 17);
  const size_t room = data[12] % (mcast::kMaxGroSegments + 1);

  const mcast::GroPlan plan = mcast::PlanGroSplit(received, segment, room);
  const size_t n = plan.count;
  Check(n <= room);
  if (room == 0) {
    Check(n == 0);
    return 0;
  }
  Check(n >= 1);
  // The plan laid out the way the receive loop writes its records.
  Segment out[mcast::kMaxGroSegments];
  for (size_t k = 0; k + 1 < n; k++) out[k] = {static_cast<uint32_t>(k) * segment, segment};
  out[n - 1] = {plan.last_offset, plan.last_size};
  uint64_t next = 0;
  for (size_t k = 0; k < n; k++) {
    const Segment& s = out[k];
    Check(s.offset == next);
    const bool last = k + 1 == n;
    if (segment != 0 && segment < received) {
      if (!last) Check(s.size == segment);
      if (last && n < room) Check(s.size <= segment && s.size > 0);
    }
    next += s.size;
  }
  Check(next == received);

  Segment reference[mcast::kMaxGroSegments];
  Check(ReferenceSplit(received, segment, reference, room) == n);
  for (size_t k = 0; k < n; k++) Check(reference[k].offset == out[k].offset && reference[k].size == out[k].size);
  return 0;
}

// libFuzzer target: SplitGroSegments on arbitrary receive sizes, GRO segment sizes, kept sizes
// and record room. Whatever the input, the segments must tile exactly the bytes received, in
// order, each at most one segment size long (only the last shorter, or longer when the room
// ran out), each kept to min(size, keep), and never more than the room.
//
// Input layout: [0..3] bytes received, [4..7] segment size, [8..11] keep, [12] room (records).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gro_split.h"
#include "fuzz_util.h"

using mcast_fuzz::Check;
using mcast_fuzz::Read32;

namespace {

// The split as a loop, segment by segment (what SplitGroSegments did before PlanGroSplit gave it
// in closed form): both must agree on every input.
size_t ReferenceSplit(uint32_t received, uint32_t segment_size, uint32_t keep, mcast::GroSegment* out,
                      size_t max_out) {
  if (max_out == 0) return 0;
  if (segment_size == 0 || segment_size >= received) {
    out[0] = {0, received, received < keep ? received : keep};
    return 1;
  }
  size_t n = 0;
  uint32_t offset = 0;
  while (offset < received && n < max_out) {
    const uint32_t left = received - offset;
    const uint32_t size = (n + 1 == max_out || left < segment_size) ? left : segment_size;
    out[n++] = {offset, size, size < keep ? size : keep};
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
  const uint32_t keep = Read32(data + 8);
  const size_t room = data[12] % (mcast::kMaxGroSegments + 1);

  mcast::GroSegment out[mcast::kMaxGroSegments + 1];
  // A guard entry past the room: the split must never write it.
  std::memset(out, 0xA5, sizeof(out));
  const size_t n = mcast::SplitGroSegments(received, segment, keep, out, room);
  Check(n <= room);
  Check(out[room].offset == 0xA5A5A5A5u);
  if (room == 0) {
    Check(n == 0);
    return 0;
  }
  Check(n >= 1);
  uint64_t next = 0;
  for (size_t k = 0; k < n; k++) {
    const mcast::GroSegment& s = out[k];
    Check(s.offset == next);
    Check(s.kept == (s.wire_size < keep ? s.wire_size : keep));
    const bool last = k + 1 == n;
    if (segment != 0 && segment < received) {
      if (!last) Check(s.wire_size == segment);
      if (last && n < room) Check(s.wire_size <= segment && s.wire_size > 0);
    }
    next += s.wire_size;
  }
  Check(next == received);

  mcast::GroSegment reference[mcast::kMaxGroSegments];
  Check(ReferenceSplit(received, segment, keep, reference, room) == n);
  const mcast::GroPlan plan = mcast::PlanGroSplit(received, segment, room);
  Check(plan.count == n);
  Check(plan.last_offset == out[n - 1].offset && plan.last_size == out[n - 1].wire_size);
  for (size_t k = 0; k < n; k++) {
    Check(reference[k].offset == out[k].offset && reference[k].wire_size == out[k].wire_size &&
          reference[k].kept == out[k].kept);
  }
  return 0;
}

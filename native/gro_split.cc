#include "gro_split.h"

namespace mcast {

size_t SplitGroSegments(uint32_t received, uint32_t segment_size, uint32_t keep, GroSegment* out,
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
    // The last slot out takes whatever is left (see the header).
    const uint32_t size = (n + 1 == max_out || left < segment_size) ? left : segment_size;
    out[n++] = {offset, size, size < keep ? size : keep};
    offset += size;
  }
  return n;
}

}  // namespace mcast

#include "gro_split.h"

namespace mcast {

size_t SplitGroSegments(uint32_t received, uint32_t segment_size, uint32_t keep, GroSegment* out,
                        size_t max_out) {
  const GroPlan plan = PlanGroSplit(received, segment_size, max_out);
  for (size_t k = 0; k < plan.count; k++) {
    const bool last = k + 1 == plan.count;
    const uint32_t size = last ? plan.last_size : segment_size;
    out[k] = {last ? plan.last_offset : static_cast<uint32_t>(k) * segment_size, size,
              size < keep ? size : keep};
  }
  return plan.count;
}

}  // namespace mcast

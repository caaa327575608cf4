#include "feed_copies.h"

#include <algorithm>

namespace mcast {

CopyWindow::CopyWindow(int bits, int lines)
    : size_(size_t{1} << std::clamp(bits, 4, 20)),
      lines_(lines),
      real_mask_((1 << lines) - 1),
      tag_(size_, 0),
      mask_(size_, 0),
      first_ts_(size_, 0) {}

void CopyWindow::First(uint64_t seq, int line, int64_t ts_ns) {
  const size_t slot = seq & (size_ - 1);
  tag_[slot] = seq + 1;
  mask_[slot] = line >= lines_ ? kRetransmitFirst : static_cast<uint16_t>(1 << line);
  timed_ = timed_ || ts_ns != 0;
  if (timed_) first_ts_[slot] = ts_ns;
  if (Recovered(mask_[slot])) recovered_++;
}

void CopyWindow::FirstRange(uint64_t first, uint64_t count, int line, int64_t ts_ns) {
  const uint16_t mask = line >= lines_ ? kRetransmitFirst : static_cast<uint16_t>(1 << line);
  if (Recovered(mask)) recovered_ += count;
  timed_ = timed_ || ts_ns != 0;
  uint64_t* const tags = tag_.data();
  uint16_t* const masks = mask_.data();
  const size_t wrap = size_ - 1;
  for (uint64_t seq = first; seq < first + count; seq++) {
    const size_t slot = seq & wrap;
    tags[slot] = seq + 1;
    masks[slot] = mask;
  }
  if (!timed_) return;
  int64_t* const stamps = first_ts_.data();
  for (uint64_t seq = first; seq < first + count; seq++) stamps[seq & wrap] = ts_ns;
}

bool CopyWindow::Later(uint64_t seq, int line, int64_t ts_ns, int64_t* lag_ns) {
  const size_t slot = seq & (size_ - 1);
  if (tag_[slot] != seq + 1 || line >= lines_) return false;
  const auto bit = static_cast<uint16_t>(1 << line);
  const bool again = (mask_[slot] & bit) != 0;  // this line's own copy once more
  const bool was_recovered = Recovered(mask_[slot]);
  mask_[slot] |= bit;
  if (was_recovered && !Recovered(mask_[slot])) recovered_--;
  if (again || ts_ns == 0 || first_ts_[slot] == 0 || (mask_[slot] & kRetransmitFirst) != 0) {
    return false;
  }
  *lag_ns = ts_ns - first_ts_[slot];
  return true;
}

void CopyWindow::LaterRange(uint64_t first, uint64_t count, int line) {
  if (line >= lines_) return;
  const auto bit = static_cast<uint16_t>(1 << line);
  const uint64_t* const tags = tag_.data();
  uint16_t* const masks = mask_.data();
  const size_t wrap = size_ - 1;
  const auto real = static_cast<uint16_t>(real_mask_);
  uint64_t completed = 0;  // items this copy made whole (counted down from recovered_ once)
  for (uint64_t seq = first; seq < first + count; seq++) {
    const size_t slot = seq & wrap;
    if (tags[slot] != seq + 1) continue;
    const uint16_t was = masks[slot];
    const auto now = static_cast<uint16_t>(was | bit);
    masks[slot] = now;
    // Recovered(was) && !Recovered(now), with kRetransmitFirst the same in both.
    completed += static_cast<uint64_t>((was & kRetransmitFirst) == 0 && (was & real) != real &&
                                       (now & real) == real);
  }
  recovered_ -= completed;
}

bool CopyWindow::SentBy(uint64_t seq, int line) const {
  const size_t slot = seq & (size_ - 1);
  return tag_[slot] == seq + 1 && (mask_[slot] & (1 << line)) != 0;
}

void CopyWindow::Clear() { std::fill(tag_.begin(), tag_.end(), 0); }

}  // namespace mcast

// The copies of a feed's recent numbers, for the arbiter (feed_arbiter.h): which lines supplied
// each number, and when its first copy arrived. From it come the lines' lag (a later copy's
// kernel time minus the first copy's), recoveredFromLine (items some line never supplied), and
// the restart check (did this line send this number already?). A ring of 2^bits slots, reused
// by number modulo its size; plain C++, no N-API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mcast {

class CopyWindow {
 public:
  // `lines` real lines (1 to 8); line index `lines` is the retransmission pseudo-line.
  CopyWindow(int bits, int lines);

  size_t size() const { return size_; }

  // The first copy of `seq`, from `line`, at kernel time `ts_ns` (0: unknown).
  void First(uint64_t seq, int line, int64_t ts_ns);
  // First() for `count` numbers from `first`, all from `line` at `ts_ns`: one tight loop.
  void FirstRange(uint64_t first, uint64_t count, int line, int64_t ts_ns);
  // A later copy. Returns true, with `*lag_ns`, when both copies have kernel times and the
  // first came from another real line.
  bool Later(uint64_t seq, int line, int64_t ts_ns, int64_t* lag_ns);
  // Later() for `count` numbers from `first` without kernel times (so no lag): one tight loop.
  void LaterRange(uint64_t first, uint64_t count, int line);
  // Whether `line` supplied `seq` (false when the window no longer remembers it).
  bool SentBy(uint64_t seq, int line) const;
  // Forgets every number (a reset); what was counted stays counted.
  void Clear();

  // Items whose copies are incomplete: up at a first copy from a line (with more than one
  // line), down when the last missing line's copy follows. A slot that is reused or cleared
  // leaves its item counted as it stands, so the figure is exact once the lines are quiet (and
  // within the window).
  uint64_t recovered() const { return recovered_; }

 private:
  static constexpr uint16_t kRetransmitFirst = 0x8000;
  bool Recovered(uint16_t mask) const {
    return (mask & kRetransmitFirst) == 0 && (mask & real_mask_) != real_mask_;
  }

  size_t size_;
  int lines_;
  int real_mask_;
  std::vector<uint64_t> tag_;  // number + 1 of the slot's item, 0: empty
  std::vector<uint16_t> mask_;  // a bit per line; kRetransmitFirst: the first copy was a retransmission
  std::vector<int64_t> first_ts_;
  // Whether any first copy had a kernel time: until one has, every first_ts_ slot holds 0, and
  // writing 0 again is skipped (a feed without timestamps writes no time per item).
  bool timed_ = false;
  uint64_t recovered_ = 0;
};

}  // namespace mcast

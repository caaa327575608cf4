// The items that wait in the feed arbiter (feed_arbiter.h): numbers in [next, high) that came
// before a number still missing. Early items mostly come in order and are delivered in order,
// so they are kept in a ring indexed by number (no search, no node per item): every waiting
// number is in [next, next + ring size), so no two share a slot. The ring starts small and
// doubles up to the arbiter's maxPending as a power of two, at most kMaxSlots: its size follows
// how far ahead items wait, not how many, so it stops at 2^16 slots (3 MiB) and an item further
// ahead than that (behind a hole of tens of thousands of numbers) waits in an ordered map.
// An item of up to kInlineBytes (a MoldUDP64 message of a market-data feed mostly is) is kept
// in its slot itself: storing and delivering it touches the slot's two cache lines and nothing
// else, with no heap block per item to fill and read back (the loss case of the feed benchmark,
// where most items wait behind a hole, spent a tenth of its user time there).
// A whole MoldUDP64 packet that comes in order above everything seen while a number below it is
// missing (the faster line's next packets, while the other line's copy of a lost one is on its
// way) waits in PendingRuns instead, as one entry: its message blocks copied once, delivered as
// one run when the hole is settled (ArbiterSink::DeliverRun), not an item per message here.
// Plain C++, no N-API; header only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

namespace mcast {

class PendingStore {
 public:
  static constexpr size_t kInlineBytes = 48;
  struct Item {
    int64_t ts_ns = 0;
    int line = 0;
    uint32_t length = 0;
    std::vector<uint8_t> large;  // the bytes of an item longer than kInlineBytes
    uint8_t small[kInlineBytes] = {};  // the bytes of one up to kInlineBytes

    const uint8_t* bytes() const { return length <= kInlineBytes ? small : large.data(); }
    void Assign(const uint8_t* data, uint32_t n) {
      length = n;
      if (n <= kInlineBytes) {
        if (n > 0) std::memcpy(small, data, n);
      } else {
        large.assign(data, data + n);  // reuses the slot's buffer
      }
    }
  };

  // `max_items`: the arbiter's bound on waiting items (the ring grows to cover that many numbers).
  explicit PendingStore(size_t max_items) {
    size_t slots = kMinSlots;
    while (slots < max_items && slots < kMaxSlots) slots <<= 1;
    max_slots_ = slots;
  }

  size_t size() const { return count_ + far_.size(); }
  bool empty() const { return size() == 0; }

  // Whether `seq` waits. `next`: the arbiter's next number (seq >= next).
  bool Contains(uint64_t seq, uint64_t next) const {
    if (seq - next < slots_.size() && slots_[seq & (slots_.size() - 1)].tag == seq + 1) return true;
    return !far_.empty() && far_.count(seq) != 0;
  }

  // Stores `seq` (not waiting yet, seq >= next).
  void Put(uint64_t seq, uint64_t next, int line, const uint8_t* data, uint32_t length,
           int64_t ts_ns) {
    if (seq - next >= slots_.size() && slots_.size() < max_slots_) Grow(seq - next);
    Item* item = nullptr;
    if (seq - next >= slots_.size()) {
      item = &far_[seq];
    } else {
      Slot& slot = slots_[seq & (slots_.size() - 1)];
      slot.tag = seq + 1;
      item = &slot.item;
      count_++;
    }
    item->line = line;
    item->ts_ns = ts_ns;
    item->Assign(data, length);
  }

  // Takes `seq` (= next) out when it waits: its item stays readable until the next Put or Clear
  // (the caller delivers it from there, then hands it to Done). Null when `seq` does not wait.
  Item* Take(uint64_t seq) {
    if (!slots_.empty()) {
      Slot& slot = slots_[seq & (slots_.size() - 1)];
      if (slot.tag == seq + 1) {
        slot.tag = 0;
        count_--;
        return &slot.item;
      }
    }
    if (far_.empty() || far_.begin()->first != seq) return nullptr;
    taken_ = std::move(far_.begin()->second);
    far_.erase(far_.begin());
    return &taken_;
  }

  // After a taken item was delivered: a heap buffer above kKeepBytes is freed, so that what a
  // ring keeps for reuse stays small (slots * kKeepBytes at most); smaller ones are reused.
  static void Done(Item* item) {
    if (item->large.capacity() > kKeepBytes) std::vector<uint8_t>().swap(item->large);
  }
  static constexpr size_t kKeepBytes = 128;

  // The lowest waiting number (at least `next`), or UINT64_MAX when none waits.
  uint64_t Lowest(uint64_t next) const {
    if (count_ > 0) {
      for (uint64_t seq = next; seq - next < slots_.size(); seq++) {
        if (slots_[seq & (slots_.size() - 1)].tag == seq + 1) return seq;
      }
    }
    return far_.empty() ? UINT64_MAX : far_.begin()->first;
  }

  // Forgets every waiting item (the ring's buffers stay, for the next ones).
  void Clear() {
    for (Slot& slot : slots_) slot.tag = 0;
    count_ = 0;
    far_.clear();
  }

 private:
  static constexpr size_t kMinSlots = 1024;
  static constexpr size_t kMaxSlots = size_t{1} << 16;
  struct Slot {
    uint64_t tag = 0;  // number + 1 of the waiting item, 0: free
    Item item;
  };

  // Makes the ring cover `ahead` numbers (up to max_slots_), moving what waits in it.
  void Grow(uint64_t ahead) {
    size_t slots = std::max(slots_.size(), kMinSlots);
    while (slots <= ahead && slots < max_slots_) slots <<= 1;
    if (slots == slots_.size()) return;
    std::vector<Slot> grown(slots);
    for (Slot& slot : slots_) {
      if (slot.tag != 0) grown[(slot.tag - 1) & (slots - 1)] = std::move(slot);
    }
    slots_ = std::move(grown);
    // far_ is empty: it only takes items once the ring is as large as it may grow.
  }

  std::vector<Slot> slots_;  // empty until the first item waits
  size_t max_slots_ = kMinSlots;
  size_t count_ = 0;  // items in the ring
  std::map<uint64_t, Item> far_;
  Item taken_;  // the last item Take() moved out of far_
};

// Whole packets waiting behind a hole (see the top of this file), oldest first. Each one starts
// above every number seen before it came, so they are in number order, disjoint from each other
// and from PendingStore's items and the missing ranges: a first-in first-out ring.
class PendingRuns {
 public:
  struct Run {
    uint64_t first = 0;
    uint16_t count = 0;
    int line = 0;
    int64_t ts_ns = 0;
    std::vector<uint8_t> blocks;  // the message blocks, u16be length + message each
    std::vector<uint32_t> ends;   // where each message ends in `blocks` (MoldPacket::ends)
  };

  // Items (messages) waiting, in every run.
  size_t items() const { return items_; }
  bool empty() const { return size_ == 0; }
  // The oldest run; only when !empty().
  const Run& front() const { return ring_[head_]; }

  // Stores a run that starts above every waiting one (`count` > 0 messages, `ends` as
  // MoldPacket::ends of `blocks`).
  void Push(uint64_t first, uint16_t count, int line, int64_t ts_ns, const uint8_t* blocks,
            size_t bytes, const uint32_t* ends) {
    if (size_ == ring_.size()) Grow();
    Run& run = ring_[(head_ + size_) & (ring_.size() - 1)];
    run.first = first;
    run.count = count;
    run.line = line;
    run.ts_ns = ts_ns;
    run.blocks.assign(blocks, blocks + bytes);  // reuses the slot's buffers
    run.ends.assign(ends, ends + count);
    size_++;
    items_ += count;
  }

  // Takes the oldest run out: it stays readable until the next Push or Clear (the caller
  // delivers it from there). A buffer above kKeepBytes is freed once the next run is taken, so
  // what the ring keeps for reuse stays small.
  const Run& Take() {
    Run& run = ring_[head_];
    head_ = (head_ + 1) & (ring_.size() - 1);
    size_--;
    items_ -= run.count;
    Trim(&taken_);
    std::swap(taken_, run);
    if (size_ == 0) Shrink();
    return taken_;
  }

  void Clear() {
    head_ = 0;
    size_ = 0;
    items_ = 0;
    Shrink();
  }

  // A MoldUDP64 packet of 20 32-byte messages is 680 bytes of blocks; longer buffers are not
  // kept for reuse.
  static constexpr size_t kKeepBytes = 1024;
  // A ring grown past this many runs is freed once it is empty again: what it keeps for reuse
  // stays under about 2 MiB, whatever a burst of loss made wait.
  static constexpr size_t kKeepRuns = 1024;

 private:
  static constexpr size_t kMinRuns = 64;

  static void Trim(Run* run) {
    if (run->blocks.capacity() > kKeepBytes) std::vector<uint8_t>().swap(run->blocks);
    if (run->ends.capacity() * sizeof(uint32_t) > kKeepBytes) std::vector<uint32_t>().swap(run->ends);
  }

  void Shrink() {
    if (ring_.size() <= kKeepRuns) return;
    std::vector<Run>().swap(ring_);
    head_ = 0;
  }

  // Doubles the ring (a power of two), keeping the runs in order.
  void Grow() {
    std::vector<Run> grown(std::max(kMinRuns, ring_.size() * 2));
    for (size_t i = 0; i < size_; i++) grown[i] = std::move(ring_[(head_ + i) & (ring_.size() - 1)]);
    ring_ = std::move(grown);
    head_ = 0;
  }

  std::vector<Run> ring_;  // empty until the first run waits
  size_t head_ = 0;
  size_t size_ = 0;
  size_t items_ = 0;
  Run taken_;
};

}  // namespace mcast

// The feed's kernel duplicate filter: an eBPF socket filter (BPF_PROG_TYPE_SOCKET_FILTER)
// attached to every line socket of one feed, so that the second copy of an item is dropped
// before it is queued and never copied to user space. Plain C++ (no N-API): the instructions are
// assembled here by hand (no BPF toolchain at build time) and loaded with bpf(2).
//
// What the program does with each datagram of line L (payload = after the 8-byte UDP header):
//  - It passes (accepts) anything it does not fully understand: a UDP length that is not the
//    datagram's, a payload longer than maxMessageSize (the line counts it truncated), a short or
//    malformed MoldUDP64 packet (count past the end, a length past the end: the walk is the
//    parser's), a heartbeat / end of session, more than kMaxWalk messages, a number past 2^53-1.
//  - Identity: MoldUDP64 = session + first sequence + count + payload length; a fixed field =
//    the sequence + payload length.
//  - Under a try-lock (one 64-bit compare-and-swap; if another CPU holds it the datagram passes,
//    counted as `contended`), per line it remembers the last first number and session. A line
//    whose numbers go back (first <= its previous first: a reorder, a repeat, a sender restart)
//    or whose session changes bumps the generation and passes: a restart's reused numbers are
//    never compared with the old stream's.
//  - slot[first % kSlots] holds the last accepted identity (generation, line, time). A datagram
//    whose identity equals the slot's, accepted by ANOTHER line in the same generation at most
//    `window_ns` ago, is a duplicate: a record (line, first, count) goes to a ring buffer first
//    (if the ring is full the datagram passes instead), then it is dropped. Anything else is
//    accepted and becomes the slot's identity.
// The records let the arbiter account for every dropped copy exactly as if it had arrived (its
// line's counters, last number, copies, liveness) without its bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "moldudp64.h"

namespace mcast {

struct FeedFilterConfig {
  int lines = 2;  // 1 to 8
  bool moldudp64 = true;
  FixedField field;
  uint32_t max_message_size = 2048;
  uint64_t window_ns = 5000000;
};

// A dropped copy, as the ring buffer carries it.
struct FilteredRecord {
  uint64_t first;
  uint32_t count;
  uint32_t line;
};

class FeedFilter {
 public:
  static constexpr uint32_t kSlots = 4096;
  static constexpr uint32_t kMaxWalk = 256;  // MoldUDP64 messages walked per packet, at most
  static constexpr uint32_t kRingBytes = 256 * 1024;

  // Creates the maps and one program per line. On failure: null, `*error` names the call that
  // failed (with the verifier's log for a refused program) and `*err` is its errno (EPERM:
  // needs CAP_BPF).
  static std::unique_ptr<FeedFilter> Load(const FeedFilterConfig& config, std::string* error,
                                          int* err);
  ~FeedFilter();
  FeedFilter(const FeedFilter&) = delete;
  FeedFilter& operator=(const FeedFilter&) = delete;

  // SO_ATTACH_BPF of line `line`'s program to `socket_fd`. False with *err on failure.
  bool Attach(int line, int socket_fd, int* err) const;

  // Datagrams and items the filter dropped on `line` (exact: counted only once recorded).
  uint64_t Filtered(int line) const;
  uint64_t FilteredItems(int line) const;
  // Datagrams passed because another CPU held the lock.
  uint64_t Contended() const;
  // A new generation: nothing seen before is compared again (a reset of the feed).
  void Invalidate();

  // Reads the next record of the ring buffer into *out: false when there is none.
  bool NextRecord(FilteredRecord* out);

 private:
  FeedFilter() = default;
  const volatile uint64_t* Word(size_t index) const { return state_ + index; }

  int state_fd_ = -1;
  int slots_fd_ = -1;
  int ring_fd_ = -1;
  int progs_[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
  int lines_ = 0;
  uint64_t* state_ = nullptr;  // mmap of the state map's one value
  size_t state_map_bytes_ = 0;
  uint64_t* consumer_ = nullptr;  // ring buffer consumer page
  const uint8_t* producer_ = nullptr;  // producer page, then the data twice
  size_t page_ = 0;
};

}  // namespace mcast

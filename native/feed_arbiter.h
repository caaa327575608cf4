// A/B line arbitration of a sequence-numbered stream, in plain C++ (no N-API) so that the native
// unit tests and the fuzzer drive it with their own clock. The binding (feed_wrap.cc) feeds it
// every datagram of every line and hands what comes out to JS once per drain.
//
// The model: `next` is the number to deliver; numbers in [next, high) are either waiting (an
// early item, copied into the store) or missing (a range, with the time it was noticed). An item
// whose number is `next` is delivered at once from the caller's memory (no copy), then every
// waiting item that follows it. A MoldUDP64 packet that starts at or above `high` while a
// number below it is missing waits whole (PendingRuns), its messages one run. A missing range
// that is still missing `gap_timeout_ms` after it was noticed is first requested from the
// re-request server (with `retransmit`), else declared a gap; gaps are declared in order, only
// at the head. At `max_pending` waiting items the head range is declared a gap at once (an
// overflow), so memory stays bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "feed_copies.h"
#include "feed_pending.h"
#include "moldudp64.h"

namespace mcast {

constexpr int kMaxFeedLines = 8;

enum class ResetReason : int { kEndOfSession = 0, kNewSession = 1, kRestart = 2 };

// Malformed kinds, as indexes of ArbiterLineStats::malformed_by.
enum MalformedKind : int {
  kMalformedShortHeader = 0,
  kMalformedCountPastEnd,
  kMalformedLengthPastEnd,
  kMalformedSequenceTooLarge,
  kMalformedTruncated,
  kMalformedKinds,
};

struct ArbiterConfig {
  int lines = 2;  // the real lines; index `lines` is the retransmission pseudo-line
  bool moldudp64 = true;
  FixedField field;  // when !moldudp64
  int64_t gap_timeout_ms = 5;
  int64_t stale_after_ms = 1000;
  size_t max_pending = 65536;
  bool has_start = false;
  uint64_t start = 0;
  bool retransmit = false;
  int64_t retransmit_timeout_ms = 20;
  uint32_t retransmit_retries = 3;
  uint32_t requests_per_second = 1000;
  // The window of recent numbers whose copies are remembered (lag, recoveredFromLine, restart
  // detection): 2^window_bits numbers, 4 to 20 (the default 16 holds 65536, about 1.2 MB).
  int window_bits = 16;
};

// What the arbiter produces, in order. Pointers are valid during the call only.
class ArbiterSink {
 public:
  virtual ~ArbiterSink() = default;
  // An item in sequence order; `line` == config.lines: it came by retransmission. ts_ns 0: none.
  virtual void Deliver(uint64_t seq, int line, const uint8_t* data, uint32_t length,
                       int64_t ts_ns) = 0;
  // `count` items in sequence order from `first`, all of `line`: the message blocks of one
  // MoldUDP64 packet that ParseMoldUdp64 accepted (`bytes` of u16be length + message each), and
  // where each message ends in them (MoldPacket::ends). The in-order packet's usual path: a
  // sink may copy the blocks in one go (FeedWrap does). By default, one Deliver per message.
  virtual void DeliverRun(uint64_t first, int line, const uint8_t* blocks, size_t bytes,
                          const uint32_t* ends, uint16_t count, int64_t ts_ns);
  // [from, to] is missing on every line and was not recovered.
  virtual void Gap(uint64_t from, uint64_t to) = 0;
  virtual void Stale(int line) = 0;
  virtual void Resume(int line) = 0;
  // `session` / `previous`: kMoldSessionBytes bytes each, or null (fixed-field feeds).
  virtual void Reset(int line, ResetReason reason, const uint8_t* session,
                     const uint8_t* previous) = 0;
  // Ask the re-request server for `count` messages from `from` of `session`.
  virtual void Request(const uint8_t* session, uint64_t from, uint16_t count) = 0;
  // A later copy on `line` arrived `ns` after the first copy (both with kernel timestamps).
  virtual void Lag(int line, int64_t ns) = 0;
};

struct ArbiterLineStats {
  uint64_t packets = 0;
  uint64_t received = 0;
  uint64_t wins = 0;
  uint64_t duplicates = 0;
  uint64_t malformed = 0;
  uint64_t malformed_by[kMalformedKinds] = {};
  uint64_t filtered = 0;  // datagrams the kernel filter dropped (counted in packets too)
  bool stale = false;
};

struct ArbiterStats {
  uint64_t delivered = 0;
  uint64_t gaps = 0;
  uint64_t gap_items = 0;
  uint64_t recovered_by_retransmit = 0;
  uint64_t requests = 0;
  uint64_t pending_high = 0;
  uint64_t overflows = 0;
};

class FeedArbiter {
 public:
  // `now_ms`: the caller's clock (monotonic ms) at creation; lines go stale from then.
  FeedArbiter(const ArbiterConfig& config, int64_t now_ms);

  // One datagram of `line` (0..lines-1, or `lines` for a retransmission answer), received at
  // kernel time `ts_ns` (0: unknown) and caller time `now_ms`. `truncated`: the kernel cut it.
  void OnDatagram(int line, const uint8_t* data, size_t length, bool truncated, int64_t ts_ns,
                  int64_t now_ms, ArbiterSink* sink);

  // A copy that the kernel filter (feed_filter.h) dropped: `count` numbers of `line` from
  // `first`, a duplicate of what another line's socket accepted. It shows the line is alive at
  // once; it is counted (packets, received, duplicates, the line's last number, its copies) as
  // the arriving copy would have been, once every number in it is decided: before that, the
  // other line's copy may still wait in its socket. At most kMaxFilteredWaiting wait: the
  // caller stops reading the filter's records there (its ring fills, and the filter passes).
  void OnFilteredCopy(int line, uint64_t first, uint64_t count, int64_t now_ms, ArbiterSink* sink);
  // Counts the waiting filtered copies whose numbers are decided.
  void SettleFiltered(ArbiterSink* sink);
  size_t filtered_waiting() const { return filtered_.size(); }
  static constexpr size_t kMaxFilteredWaiting = 65536;

  // Acts on the clock: stale lines, requests, gaps whose time has come.
  void Expire(int64_t now_ms, ArbiterSink* sink);

  // When Expire has something to do next (absolute ms), or INT64_MAX.
  int64_t NextDeadline() const;

  const ArbiterConfig& config() const { return config_; }
  const ArbiterStats& stats() const { return stats_; }
  const ArbiterLineStats& line_stats(int line) const { return lines_[line].stats; }
  // Items waiting: one at a time (PendingStore) and in whole packets (PendingRuns).
  size_t pending() const { return pending_.size() + runs_.items(); }
  uint64_t next_sequence() const { return next_; }
  // Items that a line never supplied but another line did (see CopyWindow::recovered).
  uint64_t RecoveredFromLine() const { return copies_.recovered(); }
  // The current MoldUDP64 session (kMoldSessionBytes), or null before the first packet.
  const uint8_t* session() const { return have_session_ ? session_ : nullptr; }

 private:
  struct Missing {
    uint64_t to;
    int64_t deadline;  // INT64_MAX once given up (declared when it reaches the head)
    uint32_t requests;
  };
  // A packet that may start a restart, held until the line's next packet decides.
  struct Candidate {
    std::vector<uint8_t> bytes;
    uint64_t next = 0;  // the number that continues it
    uint64_t items = 0;
    int64_t ts_ns = 0;
  };
  struct Line {
    ArbiterLineStats stats;
    Candidate candidate;
    bool has_candidate = false;
    int64_t last_ms = 0;
    bool has_last = false;
    uint64_t last_seq = 0;  // the line's own last number
    // The highest number of the line's own datagrams, in the order its socket queued them (not
    // raised by the kernel filter's records, which are read ahead of that queue): how far a
    // packet of the line goes back on the line itself. Valid while has_last (Admit).
    bool has_queued = false;
    uint64_t queued_last = 0;
    bool in_epoch = true;   // false: still on the stream before a restart / session change
  };

  void Malformed(int line, ParseStatus status);
  void OnMold(int line, const MoldPacket& packet, int64_t ts_ns, int64_t now_ms, ArbiterSink* sink);
  enum class Admission { kAccept, kDrop, kHeld };
  // Whether the `count` items of `line` from `first` (the datagram `data`) belong to the
  // current stream: accepted, dropped (an old stream's), or held as a restart candidate. May
  // start a new epoch (a confirmed restart), replaying the held packet first.
  Admission Admit(int line, uint64_t first, uint64_t count, const uint8_t* data, size_t length,
                  int64_t ts_ns, int64_t now_ms, ArbiterSink* sink);
  void Replay(int line, const Candidate& held, int64_t now_ms, ArbiterSink* sink);
  // Raises the line's queued_last to `last`.
  static void Queued(Line* l, uint64_t last);
  // Raises the line's own last number to `last` (a line never goes back: see has_last).
  static void NoteLast(Line* l, uint64_t last);
  void OnMoldItems(int line, const MoldPacket& packet, int64_t ts_ns, int64_t now_ms,
                   ArbiterSink* sink);
  void Start(uint64_t first, int64_t now_ms);
  void OnItem(int line, uint64_t seq, const uint8_t* data, uint32_t length, int64_t ts_ns,
              int64_t now_ms, ArbiterSink* sink);
  // A heartbeat or end of session says `next` comes next: what is below it and unseen is missing.
  void NoteNext(uint64_t next, int64_t now_ms);
  void AddMissing(uint64_t from, uint64_t to, int64_t deadline, uint32_t requests);
  // Marks `seq` arrived in its missing range: false when it is not missing.
  bool Fill(uint64_t seq);
  // After an item or a run began to wait: records the high mark, and declares head ranges gaps
  // while more than max_pending items wait.
  void BoundWaiting(ArbiterSink* sink);
  void EraseMissing(std::map<uint64_t, Missing>::iterator it);
  void Duplicate(int line, uint64_t seq, int64_t ts_ns, ArbiterSink* sink);
  // A packet of `count` numbers from `first`, all below `next`: decided already, each a
  // duplicate. Counted and marked in the copy window as one range, with no walk of its messages.
  void Duplicates(int line, uint64_t first, uint64_t count, int64_t ts_ns, ArbiterSink* sink);
  // Stores a waiting item.
  void Wait(int line, uint64_t seq, const uint8_t* data, uint32_t length, int64_t ts_ns);
  void FirstCopy(int line, uint64_t seq, int64_t ts_ns);
  // Delivers waiting items from `next` on, and declares given-up ranges that reach the head.
  void Settle(ArbiterSink* sink);
  // Declares the head missing range a gap and delivers what follows it.
  void DeclareHeadGap(ArbiterSink* sink);
  // Declares the head missing range a gap (nothing delivered yet).
  void GiveUpHead(ArbiterSink* sink);
  // Delivers everything that waits (gaps for the holes) and forgets the stream: before a reset.
  void Flush(ArbiterSink* sink);
  void NewEpoch(int line, ResetReason reason, const uint8_t* new_session, int64_t now_ms,
                ArbiterSink* sink);
  bool TakeRequestToken(int64_t now_ms);
  void CountFiltered(int line, uint64_t first, uint64_t count, ArbiterSink* sink);

  ArbiterConfig config_;
  ArbiterStats stats_;
  Line lines_[kMaxFeedLines + 1];

  bool started_ = false;
  uint64_t next_ = 0;
  uint64_t high_ = 0;  // one past the highest number seen
  PendingStore pending_;
  PendingRuns runs_;
  std::map<uint64_t, Missing> missing_;     // by first number; disjoint
  std::set<std::pair<int64_t, uint64_t>> deadlines_;  // (deadline, from) of missing_ not given up
  ResetReason epoch_reason_ = ResetReason::kRestart;

  bool have_session_ = false;
  uint8_t session_[kMoldSessionBytes] = {};
  bool have_previous_ = false;
  uint8_t previous_[kMoldSessionBytes] = {};
  bool end_seen_ = false;

  // Request rate: at most requests_per_second per one-second window.
  int64_t rate_window_ms_ = 0;
  uint32_t rate_used_ = 0;
  bool rate_blocked_ = false;

  CopyWindow copies_;
  // MoldPacket::ends of the packet being handled (kMoldMaxCount), and of a held packet being
  // replayed while the packet that confirmed it waits (allocated at the first replay).
  std::unique_ptr<uint32_t[]> ends_;
  std::unique_ptr<uint32_t[]> replay_ends_;

  struct FilteredCopy {
    int line;
    uint64_t first;
    uint64_t count;
  };
  // The waiting filtered copies, oldest first: a ring of kMaxFilteredWaiting, allocated at the
  // first copy. Fixed, not a std::deque: a deque's growing map pulls in libstdc++'s
  // __throw_bad_array_new_length (GLIBCXX_3.4.29), above the prebuild's floor (glibc-floor.mjs).
  class FilteredRing {
   public:
    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    const FilteredCopy& front() const { return slots_[head_]; }
    void pop_front() {
      head_ = (head_ + 1) % kMaxFilteredWaiting;
      size_--;
    }
    // The caller keeps at most kMaxFilteredWaiting waiting (OnFilteredCopy's comment).
    void push_back(const FilteredCopy& copy) {
      if (!slots_) slots_ = std::make_unique<FilteredCopy[]>(kMaxFilteredWaiting);
      slots_[(head_ + size_) % kMaxFilteredWaiting] = copy;
      size_++;
    }

   private:
    std::unique_ptr<FilteredCopy[]> slots_;
    size_t head_ = 0;
    size_t size_ = 0;
  };
  FilteredRing filtered_;
};

}  // namespace mcast

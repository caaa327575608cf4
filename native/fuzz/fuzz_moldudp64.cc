// libFuzzer target: the MoldUDP64 parser and the feed arbiter fed with what it parses. Whatever
// the input: every message view stays inside its datagram; the arbiter delivers each number at
// most once and in increasing order (between resets), declares gaps only ahead of what it
// delivered, keeps at most max_pending items waiting, and never crashes.
//
// Input layout: [0] config bits (1: fixed field instead of MoldUDP64, 2: retransmit,
// 4: startSequence 1, 8: a big-endian u32 field at offset 0, else u64 little endian),
// [1] max_pending - 1 (mod 16), [2] gap timeout ms, then datagrams, each:
// [line: 1 byte, 0..2 where 2 is the retransmission pseudo-line] [clock step ms: 1 byte]
// [length: 2 bytes, big endian] [bytes]. The whole rest is also parsed as one packet.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "feed_arbiter.h"
#include "fuzz_util.h"
#include "moldudp64.h"

using mcast_fuzz::Check;

namespace {

class CheckingSink final : public mcast::ArbiterSink {
 public:
  explicit CheckingSink(const mcast::FeedArbiter* arbiter) : arbiter_(arbiter) {}
  void Deliver(uint64_t seq, int line, const uint8_t* data, uint32_t length, int64_t) override {
    Check(!have_last_ || seq > last_);
    Check(seq <= mcast::kMaxSequence);
    Check(line >= 0 && line <= 2);
    Check(length == 0 || data != nullptr);
    volatile uint8_t sum = 0;  // reads every byte: ASan sees any view past its datagram
    for (uint32_t i = 0; i < length; i++) sum = static_cast<uint8_t>(sum + data[i]);
    have_last_ = true;
    last_ = seq;
  }
  void Gap(uint64_t from, uint64_t to) override {
    Check(from <= to);
    Check(!have_last_ || from > last_);
    have_last_ = true;
    last_ = to;
  }
  void Stale(int line) override { Check(line >= 0 && line < 2); }
  void Resume(int line) override { Check(line >= 0 && line < 2); }
  void Reset(int line, mcast::ResetReason, const uint8_t*, const uint8_t*) override {
    Check(line >= 0 && line < 2);
    have_last_ = false;  // a new stream starts
  }
  void Request(const uint8_t* session, uint64_t from, uint16_t count) override {
    Check(session != nullptr && count >= 1 && from <= mcast::kMaxSequence);
  }
  void Lag(int line, int64_t) override { Check(line >= 0 && line < 2); }
  void CheckBound() const {
    Check(arbiter_->pending() <= arbiter_->config().max_pending);
  }

 private:
  const mcast::FeedArbiter* arbiter_;
  bool have_last_ = false;
  uint64_t last_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  {
    mcast::MoldPacket p;
    static std::vector<uint32_t> ends(mcast::kMoldMaxCount);
    if (mcast::ParseMoldUdp64(data + 3, size - 3, &p, ends.data()) == mcast::ParseStatus::kOk) {
      mcast::MoldMessages walk(p);
      const uint8_t* m = nullptr;
      uint16_t length = 0;
      size_t n = 0;
      while (walk.Next(&m, &length)) {
        Check(m >= data + 3 + mcast::kMoldHeaderBytes && m + length <= data + size);
        // The parser's ends say where the walk finds each message.
        Check(n < mcast::kMoldMaxCount && p.ends[n] == static_cast<size_t>(m + length - p.messages));
        n++;
      }
      Check(n == p.messages_count());
    }
  }
  mcast::ArbiterConfig c;
  c.lines = 2;
  c.moldudp64 = (data[0] & 1) == 0;
  c.retransmit = (data[0] & 2) != 0;
  c.has_start = (data[0] & 4) != 0;
  c.start = 1;
  c.field = (data[0] & 8) != 0 ? mcast::FixedField{0, 4, true} : mcast::FixedField{0, 8, false};
  c.max_pending = (data[1] % 16) + 1;
  c.gap_timeout_ms = data[2];
  c.stale_after_ms = 50;
  c.retransmit_timeout_ms = 3;
  c.retransmit_retries = 2;
  c.requests_per_second = 5;
  c.window_bits = 6;  // small: slots are reused, and each run allocates little
  int64_t now = 0;
  mcast::FeedArbiter arbiter(c, now);
  CheckingSink sink(&arbiter);
  size_t at = 3;
  while (size - at >= 4) {
    const int line = data[at] % 3;
    now += data[at + 1];
    const size_t length = (static_cast<size_t>(data[at + 2]) << 8) | data[at + 3];
    at += 4;
    const size_t take = length < size - at ? length : size - at;
    // A copy of exactly the datagram's size, so that ASan sees any read past it.
    std::unique_ptr<uint8_t[]> datagram(new uint8_t[take == 0 ? 1 : take]);
    std::memcpy(datagram.get(), data + at, take);
    arbiter.OnDatagram(line, datagram.get(), take, false, static_cast<int64_t>(now) * 1000, now,
                       &sink);
    sink.CheckBound();
    arbiter.Expire(now, &sink);
    sink.CheckBound();
    at += take;
  }
  // Let every timer run out: whatever waits ends delivered or declared.
  for (int i = 0; i < 8; i++) {
    now += 1000;
    arbiter.Expire(now, &sink);
  }
  // Nothing waits for ever: every missing range timed out and was declared.
  Check(arbiter.pending() == 0);
  return 0;
}

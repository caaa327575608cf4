// MoldUDP64 packets and fixed-field sequence numbers, parsed in place (no copy, no N-API), for
// the feed arbiter (feed_arbiter.h). Every length is checked against the datagram before it is
// read: a datagram that does not parse is reported by kind, never half-used.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mcast {

// Sequence numbers reach JS as exact numbers: at most 2^53 - 1.
constexpr uint64_t kMaxSequence = (uint64_t{1} << 53) - 1;

constexpr size_t kMoldHeaderBytes = 20;
constexpr size_t kMoldSessionBytes = 10;
constexpr uint16_t kMoldEndOfSession = 0xFFFF;
// The most messages a packet can carry (its count field, short of the end of session).
constexpr size_t kMoldMaxCount = 0xFFFE;

enum class ParseStatus {
  kOk,              // messages (count >= 1), a heartbeat or an end of session
  kShortHeader,     // fewer bytes than the header (or than the fixed field)
  kCountPastEnd,    // the datagram ends before `count` messages
  kLengthPastEnd,   // a message's length goes past the end of the datagram
  kSequenceTooLarge,  // a number past 2^53 - 1 (or seq + count past 2^64 - 1)
  kTruncated,       // the kernel cut the datagram (maxMessageSize): never parsed
};

// A parsed MoldUDP64 packet: views into the datagram.
struct MoldPacket {
  const uint8_t* session = nullptr;  // kMoldSessionBytes bytes
  uint64_t sequence = 0;             // number of the first message (the next one, for count 0)
  uint16_t count = 0;                // 0: heartbeat, 0xFFFF: end of session
  const uint8_t* messages = nullptr;  // the message blocks (length u16be + bytes), checked
  size_t messages_bytes = 0;
  // Where each message ends, as an offset from `messages` (so message i is the bytes from
  // ends[i - 1] + 2, or 2, to ends[i]): the parser's own walk, kept when the caller gave room
  // for it, so that nobody walks the lengths again. Null otherwise.
  const uint32_t* ends = nullptr;

  bool heartbeat() const { return count == 0; }
  bool end_of_session() const { return count == kMoldEndOfSession; }
  // Messages carried: 0 for a heartbeat or an end of session.
  uint16_t messages_count() const { return heartbeat() || end_of_session() ? 0 : count; }
};

// Parses and checks a whole packet: the header, every message block, the numbers. With `ends`
// (room for kMoldMaxCount), out->ends is set to it and holds each message's end (see MoldPacket).
ParseStatus ParseMoldUdp64(const uint8_t* data, size_t length, MoldPacket* out,
                           uint32_t* ends = nullptr);

// Walks the messages of a packet that ParseMoldUdp64 accepted.
class MoldMessages {
 public:
  explicit MoldMessages(const MoldPacket& packet)
      : MoldMessages(packet.messages, packet.messages_bytes) {}
  // The message blocks alone (length prefixes and all), e.g. a copy of a packet's.
  MoldMessages(const uint8_t* blocks, size_t bytes) : at_(blocks), end_(blocks + bytes) {}
  // The next message (without its length prefix); false after the last. Inline: the feed's
  // per-message paths call it once per item.
  inline bool Next(const uint8_t** data, uint16_t* length);

 private:
  const uint8_t* at_;
  const uint8_t* end_;
};

// A sequence number in a fixed field: `size` 4 or 8 bytes at `offset`, big or little endian.
struct FixedField {
  uint32_t offset = 0;
  uint32_t size = 8;
  bool big_endian = true;
};

// Reads the field. kShortHeader when the datagram is shorter than offset + size,
// kSequenceTooLarge past 2^53 - 1.
ParseStatus ParseFixedSequence(const uint8_t* data, size_t length, const FixedField& field,
                               uint64_t* sequence);

// Big-endian loads (MoldUDP64 is big endian throughout).
inline uint64_t LoadBe(const uint8_t* p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; i++) v = (v << 8) | p[i];
  return v;
}

inline uint64_t LoadLe(const uint8_t* p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = bytes; i > 0; i--) v = (v << 8) | p[i - 1];
  return v;
}
inline void StoreBe(uint8_t* p, size_t bytes, uint64_t v) {
  for (size_t i = bytes; i > 0; i--) {
    p[i - 1] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

inline bool MoldMessages::Next(const uint8_t** data, uint16_t* length) {
  // The packet was checked whole by ParseMoldUdp64; the bounds are checked again anyway, so a
  // misuse can only end the walk.
  if (end_ - at_ < 2) return false;
  const auto size = static_cast<uint16_t>(LoadBe(at_, 2));
  if (static_cast<size_t>(end_ - at_ - 2) < size) return false;
  *data = at_ + 2;
  *length = size;
  at_ += 2 + static_cast<size_t>(size);
  return true;
}

}  // namespace mcast

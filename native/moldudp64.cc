#include "moldudp64.h"

namespace mcast {

namespace {

// The message walk, with or without keeping each end: two copies, so the walk without pays no
// test per message.
template <bool kKeep>
ParseStatus WalkMessages(const uint8_t* data, size_t length, uint64_t count, uint32_t* ends,
                         size_t* at_out) {
  size_t at = kMoldHeaderBytes;
  if (count > 0 && length - at < 2) return ParseStatus::kCountPastEnd;
  // One test per message on the way: whether 2 more bytes follow it (the next length prefix).
  // Only when not does the walk ask which error it is (at <= length + 65537: no overflow).
  for (uint64_t i = 0; i < count; i++) {
    const size_t size = (static_cast<size_t>(data[at]) << 8) | data[at + 1];
    at += 2 + size;
    if (kKeep) ends[i] = static_cast<uint32_t>(at - kMoldHeaderBytes);
    if (at + 2 > length) {
      if (at > length) return ParseStatus::kLengthPastEnd;
      if (i + 1 < count) return ParseStatus::kCountPastEnd;
    }
  }
  *at_out = at;
  return ParseStatus::kOk;
}

}  // namespace

ParseStatus ParseMoldUdp64(const uint8_t* data, size_t length, MoldPacket* out, uint32_t* ends) {
  if (length < kMoldHeaderBytes) return ParseStatus::kShortHeader;
  MoldPacket p;
  p.session = data;
  p.sequence = LoadBe(data + kMoldSessionBytes, 8);
  p.count = static_cast<uint16_t>(LoadBe(data + kMoldSessionBytes + 8, 2));
  p.messages = data + kMoldHeaderBytes;
  p.messages_bytes = 0;
  const uint64_t count = p.messages_count();
  // seq + count must not wrap 2^64, and the last number must be an exact JS number. For a
  // heartbeat or an end of session the number itself is the next one expected.
  if (count > UINT64_MAX - p.sequence) return ParseStatus::kSequenceTooLarge;
  const uint64_t last = count == 0 ? p.sequence : p.sequence + count - 1;
  if (last > kMaxSequence) return ParseStatus::kSequenceTooLarge;
  // Offsets fit 32 bits: a datagram is at most 64 KiB (callers hold no larger).
  if (length > UINT32_MAX) return ParseStatus::kLengthPastEnd;
  size_t at = kMoldHeaderBytes;
  const ParseStatus walked = ends != nullptr ? WalkMessages<true>(data, length, count, ends, &at)
                                             : WalkMessages<false>(data, length, count, ends, &at);
  if (walked != ParseStatus::kOk) return walked;
  // Bytes after the last message (padding) are ignored, as MoldUDP64 receivers do.
  p.messages_bytes = at - kMoldHeaderBytes;
  p.ends = ends;
  *out = p;
  return ParseStatus::kOk;
}

ParseStatus ParseFixedSequence(const uint8_t* data, size_t length, const FixedField& field,
                               uint64_t* sequence) {
  if (field.offset > length || length - field.offset < field.size) return ParseStatus::kShortHeader;
  const uint8_t* p = data + field.offset;
  const uint64_t v = field.big_endian ? LoadBe(p, field.size) : LoadLe(p, field.size);
  if (v > kMaxSequence) return ParseStatus::kSequenceTooLarge;
  *sequence = v;
  return ParseStatus::kOk;
}

}  // namespace mcast

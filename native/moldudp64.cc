#include "moldudp64.h"

namespace mcast {

ParseStatus ParseMoldUdp64(const uint8_t* data, size_t length, MoldPacket* out) {
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
  size_t at = kMoldHeaderBytes;
  for (uint64_t i = 0; i < count; i++) {
    if (length - at < 2) return ParseStatus::kCountPastEnd;
    const size_t size = (static_cast<size_t>(data[at]) << 8) | data[at + 1];
    at += 2;
    if (length - at < size) return ParseStatus::kLengthPastEnd;
    at += size;
  }
  // Bytes after the last message (padding) are ignored, as MoldUDP64 receivers do.
  p.messages_bytes = at - kMoldHeaderBytes;
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

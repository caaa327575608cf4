// libFuzzer target: DecodeDatagram on arbitrary received-packet metadata. The kernel fills the
// name and control buffers of recvmmsg; this target fills them with anything, of exact sizes
// (allocated separately, so that AddressSanitizer sees any read past either one).
//
// Input layout: [0] flag bits (1: MSG_TRUNC, 2: no control buffer, 4: no name buffer),
// [1..4] wire size, [5..8] kept size, [9] name length, then the name bytes, then the control
// bytes (msg_controllen = what is left).
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "batch_layout.h"
#include "cmsg_decode.h"
#include "fuzz_util.h"

using mcast_fuzz::Check;
using mcast_fuzz::Read32;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHeader = 10;
  if (size < kHeader) return 0;
  const uint8_t flags = data[0];
  const uint32_t wire_size = Read32(data + 1);
  // Kept sizes in the addon are 1..65535; stay in that range, or the record's int32 fields mean
  // nothing.
  const uint32_t max_size = (Read32(data + 5) % 65535) + 1;
  size_t name_len = data[9] % (sizeof(sockaddr_storage) + 1);
  const uint8_t* rest = data + kHeader;
  size_t rest_len = size - kHeader;
  if (name_len > rest_len) name_len = rest_len;

  // new[] gives memory aligned for any fundamental type, as the kernel's buffers are.
  std::unique_ptr<uint8_t[]> name(new uint8_t[name_len == 0 ? 1 : name_len]);
  std::memcpy(name.get(), rest, name_len);
  const size_t control_len = rest_len - name_len;
  std::unique_ptr<uint8_t[]> control(new uint8_t[control_len == 0 ? 1 : control_len]);
  std::memcpy(control.get(), rest + name_len, control_len);

  msghdr hdr{};
  if ((flags & 4) == 0) {
    hdr.msg_name = name.get();
    hdr.msg_namelen = static_cast<socklen_t>(name_len);
  }
  if ((flags & 2) == 0) {
    hdr.msg_control = control.get();
    hdr.msg_controllen = control_len;
  }
  hdr.msg_flags = (flags & 1) != 0 ? MSG_TRUNC : 0;

  alignas(8) uint8_t record[mcast::layout::kRecordBytes + 8];
  std::memset(record, 0xAB, sizeof(record));
  mcast::DecodeResult r = mcast::DecodeDatagram(hdr, wire_size, max_size, record);

  // Properties of every record: never written past its end; the kept size is at most both the
  // wire size and the kept size; truncation is flagged exactly when something was cut.
  for (size_t i = mcast::layout::kRecordBytes; i < sizeof(record); i++) Check(record[i] == 0xAB);
  int32_t kept, original, rec_flags;
  std::memcpy(&kept, record + mcast::layout::kSize * 4, 4);
  std::memcpy(&original, record + mcast::layout::kOriginalSize * 4, 4);
  std::memcpy(&rec_flags, record + mcast::layout::kFlags * 4, 4);
  Check(static_cast<uint32_t>(kept) <= max_size);
  Check(static_cast<uint32_t>(kept) <= wire_size);
  Check(static_cast<uint32_t>(original) == wire_size);
  Check(r.truncated == ((rec_flags & mcast::layout::kFlagTruncated) != 0));
  if (wire_size > max_size) Check(r.truncated);

  // A datagram without control messages: the receive loop's DecodeBare must write exactly what
  // DecodeDatagram writes, and, for a socket that knows its arrival (arrival_policy.h), what
  // DecodeDatagram followed by that arrival writes.
  if (hdr.msg_controllen < sizeof(cmsghdr)) {
    Check(!r.has_pktinfo && !r.has_drop_count && r.gro_segment_size == 0);
    mcast::BareRecord bare;
    mcast::MakeBareRecord(nullptr, 0, &bare);
    alignas(8) uint8_t fast[mcast::layout::kRecordBytes];
    std::memset(fast, 0xCD, sizeof(fast));
    bool cut = false;
    Check(mcast::DecodeBare(hdr, wire_size, max_size, bare, fast, &cut) == r.kept);
    Check(cut == r.truncated);
    Check(std::memcmp(fast, record, sizeof(fast)) == 0);

    uint8_t destination[16];
    for (size_t i = 0; i < sizeof(destination); i++) destination[i] = static_cast<uint8_t>(data[i % size] + i);
    const uint32_t ifindex = Read32(data + 5);
    mcast::MakeBareRecord(destination, ifindex, &bare);
    Check(mcast::DecodeBare(hdr, wire_size, max_size, bare, fast, &cut) == r.kept);
    std::memcpy(record + mcast::layout::kDestinationByte, destination, sizeof(destination));
    const int32_t with_arrival[2] = {rec_flags | mcast::layout::kFlagPktinfo, static_cast<int32_t>(ifindex)};
    static_assert(mcast::layout::kIfIndex == mcast::layout::kFlags + 1, "flags, then the interface");
    std::memcpy(record + mcast::layout::kFlags * 4, with_arrival, sizeof(with_arrival));
    Check(std::memcmp(fast, record, sizeof(fast)) == 0);
  }

  // A lone IP_PKTINFO of the kernel's size: DecodeLonePacketInfo writes what DecodeDatagram does.
  if (mcast::IsLonePacketInfo(hdr)) {
    Check(r.has_pktinfo && !r.has_drop_count && r.gro_segment_size == 0);
    mcast::BareRecord plain;
    mcast::MakeBareRecord(nullptr, 0, &plain);
    alignas(8) uint8_t fast[mcast::layout::kRecordBytes];
    std::memset(fast, 0xCD, sizeof(fast));
    bool cut = false;
    Check(mcast::DecodeLonePacketInfo(hdr, wire_size, max_size, plain, fast, &cut) == r.kept);
    Check(cut == r.truncated);
    Check(std::memcmp(fast, record, sizeof(fast)) == 0);
  }
  return 0;
}

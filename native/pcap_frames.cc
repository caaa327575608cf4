// See pcap_frames.h.
#include "pcap_frames.h"

#include "batch_layout.h"

#include <algorithm>
#include <cstring>


namespace mcast {

namespace {

constexpr uint8_t kIpprotoUdp = 17;
constexpr size_t kEthernetHeader = 14;
constexpr size_t kIpv4Header = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kUdpHeader = 8;
constexpr size_t kEpbHeader = 28;  // type, length, interface, time high, time low, captured, original
constexpr size_t kPcapRecordHeader = 16;
constexpr uint32_t kEnhancedPacketBlock = 6;

uint32_t Fold(uint64_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint32_t>(sum);
}

uint16_t Swap16(uint32_t v) { return static_cast<uint16_t>(((v & 0xff) << 8) | ((v >> 8) & 0xff)); }

// Whether buffer[from, from + bytes) exists (0 bytes need no buffer).
bool InBuffer(const uint8_t* buffer, size_t buffer_length, int32_t from, int32_t bytes) {
  if (from < 0 || bytes < 0) return false;
  if (bytes == 0) return true;
  return buffer != nullptr && static_cast<size_t>(from) <= buffer_length &&
         static_cast<size_t>(bytes) <= buffer_length - static_cast<size_t>(from);
}

void Put32Le(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

void Put16Be(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// The MAC of an address: the group MAC of a multicast group (RFC 1112: 01:00:5e + the low 23
// bits; RFC 2464: 33:33 + the low 32 bits), else 02:00 + the address's last 4 bytes.
void WriteMac(uint8_t* out, const uint8_t* address, bool v6) {
  const uint8_t* last4 = v6 ? address + 12 : address;
  if (!v6 && address[0] >= 224 && address[0] <= 239) {
    const uint8_t mac[6] = {0x01, 0x00, 0x5e, static_cast<uint8_t>(address[1] & 0x7f), address[2], address[3]};
    std::memcpy(out, mac, 6);
    return;
  }
  const bool group = v6 && address[0] == 0xff;
  out[0] = group ? 0x33 : 0x02;
  out[1] = group ? 0x33 : 0x00;
  std::memcpy(out + 2, last4, 4);
}

// Asks for the cache lines of block[from, from + bytes) ready to be written (prefetchw on x86-64,
// which every x86-64 CPU runs, older Intel ones as a no-op; a write prefetch on arm64). The output
// block comes back from the file write cold or in another core's cache: the first store into each
// line of a record stalled (about 115 ns a datagram at 1400 B). (x86-64 needs the asm: without
// -mprfchw, __builtin_prefetch(p, 1) is a read prefetch, and a target("prfchw") function is not
// inlined and, being pure, its call is dropped.)
void PrefetchForWrite(uint8_t* block, size_t from, size_t bytes) {
  for (size_t i = 0; i < bytes; i += 64) {
#if defined(__x86_64__)
    __asm__ volatile("prefetchw %0" : : "m"(block[from + i]));
#else
    __builtin_prefetch(block + from + i, 1, 3);
#endif
  }
}

}  // namespace

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// NativeWordSum's vector loop on 32-byte vectors, 64 bytes a step, for the CPUs with AVX2 (all
// since 2013-2015; the binary targets plain x86-64, so the choice is made at run time): half the
// instructions a byte of the 16-byte loop. Does bytes [0, n & ~63).
template <bool kCopy>
__attribute__((target("avx2"))) uint64_t WideWordSum(uint8_t* out, const uint8_t* p, size_t n) {
  using Lanes = uint64_t __attribute__((vector_size(32)));
  const Lanes mask = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
  Lanes low = {0, 0, 0, 0};
  Lanes high = {0, 0, 0, 0};
  for (size_t i = 0; i + 64 <= n; i += 64) {
    Lanes a;
    Lanes b;
    std::memcpy(&a, p + i, 32);
    std::memcpy(&b, p + i + 32, 32);
    if (kCopy) {
      std::memcpy(out + i, &a, 32);
      std::memcpy(out + i + 32, &b, 32);
    }
    low += (a & mask) + (b & mask);
    high += (a >> 32) + (b >> 32);
  }
  const Lanes total = low + high;
  return static_cast<uint64_t>(Fold(total[0])) + Fold(total[1]) + Fold(total[2]) + Fold(total[3]);
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

// The sum of bytes [p, p + n) as native-order 16-bit words, not folded (n < 2^40 cannot carry
// out of 64 bits), copying them to `out` when kCopy. The sum of native-order words is the byte
// swap of the big-endian one on a little-endian host (RFC 1071, "byte order independence"), so
// the loops load whole words and OnesSum/CopyOnesSum swap once at the end; 64 bytes a step with
// AVX2, 32 with SSE2 (or NEON).
template <bool kCopy>
uint64_t NativeWordSum(uint8_t* out, const uint8_t* p, size_t n) {
  uint64_t sum = 0;
  size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (n >= 64 && HasAvx2()) {
    sum = WideWordSum<kCopy>(out, p, n);
    i = n & ~static_cast<size_t>(63);
  }
#endif
  if (n - i >= 32) {  // (the headers' short sums skip the vector setup)
    // 16 bytes as two 64-bit lanes; each lane's two 32-bit words summed apart (low and high
    // halves), so no carry is lost. Vector extensions, not intrinsics: SSE2 on x86-64, NEON on
    // arm64, from one source.
    using Lanes = uint64_t __attribute__((vector_size(16)));
    const Lanes mask = {0xffffffffu, 0xffffffffu};
    Lanes low = {0, 0};
    Lanes high = {0, 0};
    for (; i + 32 <= n; i += 32) {
      Lanes a;
      Lanes b;
      std::memcpy(&a, p + i, 16);
      std::memcpy(&b, p + i + 16, 16);
      if (kCopy) {
        std::memcpy(out + i, &a, 16);
        std::memcpy(out + i + 16, &b, 16);
      }
      low += (a & mask) + (b & mask);
      high += (a >> 32) + (b >> 32);
    }
    const Lanes total = low + high;
    sum += Fold(total[0]) + static_cast<uint64_t>(Fold(total[1]));
  }
  for (; i + 8 <= n; i += 8) {
    uint32_t a = 0;
    uint32_t b = 0;
    std::memcpy(&a, p + i, 4);
    std::memcpy(&b, p + i + 4, 4);
    if (kCopy) {
      std::memcpy(out + i, &a, 4);
      std::memcpy(out + i + 4, &b, 4);
    }
    sum += static_cast<uint64_t>(a) + b;
  }
  for (; i + 2 <= n; i += 2) {
    uint16_t w = 0;
    std::memcpy(&w, p + i, 2);
    if (kCopy) std::memcpy(out + i, &w, 2);
    sum += w;
  }
  if (i < n) {
    if (kCopy) out[i] = p[i];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    sum += static_cast<uint32_t>(p[i]) << 8;
#else
    sum += p[i];
#endif
  }
  return sum;
}

// The big-endian ones' complement sum from a native-order one, plus `initial`, folded.
uint16_t FinishSum(uint64_t native, uint32_t initial) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return static_cast<uint16_t>(Fold(static_cast<uint64_t>(Fold(native)) + initial));
#else
  return static_cast<uint16_t>(Fold(static_cast<uint64_t>(Swap16(Fold(native))) + initial));
#endif
}

}  // namespace

uint16_t OnesSum(const uint8_t* p, size_t n, uint32_t initial) {
  return FinishSum(NativeWordSum<false>(nullptr, p, n), initial);
}

uint16_t CopyOnesSum(uint8_t* out, const uint8_t* p, size_t n, uint32_t initial) {
  return FinishSum(NativeWordSum<true>(out, p, n), initial);
}

size_t BuildPcapFrames(uint8_t* block, size_t length, const uint8_t* payloads,
                       size_t payloads_length, const uint8_t* addresses, size_t addresses_length,
                       const int32_t* jobs, size_t count) {
  for (size_t j = 0; j < count; j++) {
    const int32_t* job = jobs + j * kPcapJobWords;
    const int32_t flags = job[kJobFlags];
    const bool v6 = (flags & kPcapIpv6) != 0;
    const bool pcapng = (flags & kPcapNg) != 0;
    const int32_t kept = job[kJobKept];
    const int32_t payload_length = job[kJobPayloadLength];
    const int32_t address_bytes = v6 ? 16 : 4;
    const size_t ip_bytes = v6 ? kIpv6Header : kIpv4Header;
    const size_t headers = kEthernetHeader + ip_bytes + kUdpHeader;
    if (job[kJobAt] < 0 || kept < 0 || payload_length < kept || payload_length > 65535 - 8 ||
        !InBuffer(payloads, payloads_length, job[kJobFrom], kept) ||
        !InBuffer(addresses, addresses_length, job[kJobSourceAddress], address_bytes) ||
        !InBuffer(addresses, addresses_length, job[kJobDestinationAddress], address_bytes)) {
      return j;
    }
    const bool udp_sum = (flags & kPcapUdpChecksum) != 0;
    if (udp_sum && !InBuffer(payloads, payloads_length, job[kJobFrom], payload_length)) return j;
    const size_t at = static_cast<size_t>(job[kJobAt]);
    const size_t frame = headers + static_cast<size_t>(kept);
    const size_t record = pcapng ? kEpbHeader + ((frame + 3) & ~static_cast<size_t>(3)) + 4
                                 : kPcapRecordHeader + frame;
    if (job[kJobRecordBytes] < 0 || static_cast<size_t>(job[kJobRecordBytes]) != record ||
        at > length || record > length - at) {
      return j;
    }
    const uint32_t original = static_cast<uint32_t>(headers + static_cast<size_t>(payload_length));
    uint8_t* r = block + at;
    uint8_t* data = r + (pcapng ? kEpbHeader : kPcapRecordHeader);
    const uint32_t high = static_cast<uint32_t>(job[kJobTimeHigh]);
    const uint32_t low = static_cast<uint32_t>(job[kJobTimeLow]);
    if (pcapng) {
      Put32Le(r, kEnhancedPacketBlock);
      Put32Le(r + 4, static_cast<uint32_t>(record));
      Put32Le(r + 8, static_cast<uint32_t>(job[kJobInterface]));
      Put32Le(r + 12, high);
      Put32Le(r + 16, low);
      Put32Le(r + 20, static_cast<uint32_t>(frame));
      Put32Le(r + 24, original);
      // The 0-3 padding bytes: 4 zero bytes (in the record: the trailer follows the padding),
      // the trailer written over their end, rather than a library memset call per record.
      Put32Le(data + frame, 0);
      Put32Le(r + record - 4, static_cast<uint32_t>(record));
    } else {
      const uint64_t ns = (static_cast<uint64_t>(high) << 32) | low;
      Put32Le(r, static_cast<uint32_t>(ns / 1000000000u));
      Put32Le(r + 4, static_cast<uint32_t>(ns % 1000000000u));
      Put32Le(r + 8, static_cast<uint32_t>(frame));
      Put32Le(r + 12, original);
    }
    const uint8_t* source = addresses + job[kJobSourceAddress];
    const uint8_t* destination = addresses + job[kJobDestinationAddress];
    WriteMac(data, destination, v6);
    WriteMac(data + 6, source, v6);
    data[12] = v6 ? 0x86 : 0x08;
    data[13] = v6 ? 0xdd : 0x00;
    uint8_t* ip = data + kEthernetHeader;
    const uint32_t udp_length = kUdpHeader + static_cast<uint32_t>(payload_length);
    const uint8_t ttl = static_cast<uint8_t>(job[kJobTtl]);
    if (v6) {
      Put32Le(ip, 0x60);  // version 6, no traffic class, no flow label
      Put16Be(ip + 4, udp_length);
      ip[6] = kIpprotoUdp;
      ip[7] = ttl;
      std::memcpy(ip + 8, source, 16);
      std::memcpy(ip + 24, destination, 16);
    } else {
      ip[0] = 0x45;
      ip[1] = 0;
      Put16Be(ip + 2, kIpv4Header + udp_length);
      Put16Be(ip + 4, static_cast<uint32_t>(job[kJobIpId]) & 0xffff);
      ip[6] = 0;
      ip[7] = 0;
      ip[8] = ttl;
      ip[9] = kIpprotoUdp;
      ip[10] = 0;
      ip[11] = 0;
      std::memcpy(ip + 12, source, 4);
      std::memcpy(ip + 16, destination, 4);
      Put16Be(ip + 10, static_cast<uint16_t>(~OnesSum(ip, kIpv4Header)));
    }
    uint8_t* udp = ip + ip_bytes;
    Put16Be(udp, static_cast<uint32_t>(job[kJobSourcePort]) & 0xffff);
    Put16Be(udp + 2, static_cast<uint32_t>(job[kJobDestinationPort]) & 0xffff);
    Put16Be(udp + 4, udp_length);
    udp[6] = 0;
    udp[7] = 0;
    const uint8_t* payload = payloads == nullptr ? nullptr : payloads + job[kJobFrom];
    if (udp_sum) {
      // Pseudo-header: the addresses, the protocol and the UDP length (RFC 768, RFC 8200 8.1).
      uint32_t sum = OnesSum(v6 ? ip + 8 : ip + 12, v6 ? 32 : 8, kIpprotoUdp + udp_length);
      sum = OnesSum(udp, kUdpHeader, sum);
      if (kept == payload_length) {
        // The whole payload is kept (the usual case): copied and summed in one pass.
        if (kept > 0) sum = CopyOnesSum(udp + kUdpHeader, payload, static_cast<size_t>(kept), sum);
      } else {
        std::memcpy(udp + kUdpHeader, payload, static_cast<size_t>(kept));
        sum = OnesSum(payload, static_cast<size_t>(payload_length), sum);
      }
      // The complement is 0 only for a sum of 0xffff; 0 means "no checksum", so 0xffff is sent.
      Put16Be(udp + 6, sum == 0xffff ? 0xffff : (~sum & 0xffff));
    } else if (kept > 0) {
      std::memcpy(udp + kUdpHeader, payload, static_cast<size_t>(kept));
    }
  }
  return count;
}

size_t BuildPcapFramesFromRecords(uint8_t* block, size_t length, const uint8_t* slab,
                                  size_t slab_length, const uint8_t* records,
                                  size_t records_length, size_t first, size_t count,
                                  int32_t* state) {
  namespace L = layout;
  const int32_t flags = state[kStateFlags] & (kPcapIpv6 | kPcapNg);
  const bool pcapng = (flags & kPcapNg) != 0;
  const int32_t headers = (flags & kPcapIpv6) != 0 ? 62 : 42;
  const int32_t snaplen = state[kStateSnaplen];
  int64_t used = state[kStateUsed];
  // Masked on entry: the state comes from JS, and the increment below must not overflow whatever
  // it holds (fuzz_pcap_frames found INT32_MAX + 1).
  int32_t ip_id = state[kStateIpId] & 0xffff;
  int64_t payload_bytes = 0;
  int32_t truncated = 0;
  state[kStateStop] = kStopDone;
  size_t done = 0;
  for (; done < count; done++) {
    const size_t i = first + done;
    if (i >= records_length / L::kRecordBytes) {
      state[kStateStop] = kStopBad;
      break;
    }
    const uint8_t* r = records + i * L::kRecordBytes;
    int32_t f[L::kDropCount + 1];
    std::memcpy(f, r, sizeof(f));
    if (f[L::kIfIndex] != state[kStateIfIndex]) {
      state[kStateStop] = kStopInterface;
      break;
    }
    const int32_t size = f[L::kSize];
    const int32_t payload_length = f[L::kOriginalSize];
    if (size < 0 || payload_length < size || payload_length > 65535 - 8 || snaplen < headers) {
      state[kStateStop] = kStopBad;
      break;
    }
    const int32_t frame = headers + size < snaplen ? headers + size : snaplen;
    const int32_t record = pcapng ? 32 + ((frame + 3) & ~3) : 16 + frame;
    // (The int32 words stay in range: a block past 2^31 bytes, or 1 GiB of payload in one call,
    // is cut into calls as a full block is.)
    const uint64_t end = static_cast<uint64_t>(used) + static_cast<uint64_t>(record);
    if (used < 0 || end > length || end > 0x7fffffffu || payload_bytes > (int64_t{1} << 30)) {
      state[kStateStop] = kStopFull;
      break;
    }
    // The next record's lines, while this one is built (assumed of this one's size).
    PrefetchForWrite(block, end, std::min<uint64_t>(record, length - end));
    uint32_t time_low = static_cast<uint32_t>(state[kStateNowLow]);
    uint32_t time_high = static_cast<uint32_t>(state[kStateNowHigh]);
    if ((f[L::kFlags] & L::kFlagTimestamp) != 0) {
      std::memcpy(&time_low, r + L::kTimestampByte, 4);
      std::memcpy(&time_high, r + L::kTimestampByte + 4, 4);
    }
    int32_t job[kPcapJobWords] = {};
    job[kJobAt] = static_cast<int32_t>(used);
    // The UDP checksum needs the whole payload: a datagram the socket cut has none (0).
    job[kJobFlags] = flags | (size >= payload_length ? kPcapUdpChecksum : 0);
    job[kJobFrom] = f[L::kOffset];
    job[kJobKept] = frame - headers;
    job[kJobPayloadLength] = payload_length;
    job[kJobInterface] = state[kStateInterface];
    job[kJobTimeHigh] = static_cast<int32_t>(time_high);
    job[kJobTimeLow] = static_cast<int32_t>(time_low);
    job[kJobSourcePort] = f[L::kPort];
    job[kJobDestinationPort] = state[kStatePort];
    job[kJobTtl] = f[L::kTtl] < 0 ? 64 : f[L::kTtl];
    job[kJobIpId] = ip_id;
    job[kJobSourceAddress] = static_cast<int32_t>(i * L::kRecordBytes + L::kSourceByte);
    job[kJobDestinationAddress] = static_cast<int32_t>(i * L::kRecordBytes + L::kDestinationByte);
    job[kJobRecordBytes] = record;
    if (BuildPcapFrames(block, length, slab, slab_length, records, records_length, job, 1) != 1) {
      state[kStateStop] = kStopBad;
      break;
    }
    used += record;
    ip_id = (ip_id + 1) & 0xffff;
    payload_bytes += payload_length;
    if (frame < headers + payload_length) truncated++;
  }
  state[kStateUsed] = static_cast<int32_t>(used);
  state[kStateIpId] = ip_id;
  state[kStatePayloadBytes] = static_cast<int32_t>(payload_bytes);
  state[kStateTruncated] = truncated;
  return done;
}

}  // namespace mcast

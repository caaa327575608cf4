// The frames of the capture writer (lib/pcap/writer.ts): each received datagram becomes a pcapng
// Enhanced Packet Block or a classic pcap record holding synthetic Ethernet + IPv4/IPv6 + UDP
// headers (the real source, group, ports and TTL, valid checksums) and the payload. Building them
// and summing a 1400-byte payload in JS costs about as much as receiving it; here it is a few
// stores and one pass over the payload that copies and sums it (32-byte vectors with AVX2, else
// 16-byte ones). No N-API: the binding (pcap_frames_napi.cc)
// hands it a whole output block and a list of frames, once per batch.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mcast {

// One's complement sum of bytes [p, p + n) as big-endian 16-bit words (an odd last byte is the
// high half of a word), plus `initial`, folded to 16 bits, not complemented (RFC 1071).
uint16_t OnesSum(const uint8_t* p, size_t n, uint32_t initial = 0);

// Copies bytes [p, p + n) to `out` and returns OnesSum(p, n, initial), in one pass over the
// bytes: the payload is read once for both (a separate sum after memcpy cost 2-3x the copy).
uint16_t CopyOnesSum(uint8_t* out, const uint8_t* p, size_t n, uint32_t initial = 0);

// A frame to build: kPcapJobWords int32 words at these indexes.
constexpr size_t kPcapJobWords = 16;
enum PcapJobWord : size_t {
  kJobAt = 0,              // where the record starts in the block (4-byte aligned for pcapng)
  kJobFlags = 1,           // kPcapIpv6 | kPcapUdpChecksum | kPcapNg
  kJobFrom = 2,            // where the payload starts in the payload source
  kJobKept = 3,            // payload bytes stored (the snap length may keep fewer)
  kJobPayloadLength = 4,   // the payload's length on the wire
  kJobInterface = 5,       // pcapng interface id
  kJobTimeHigh = 6,        // receive time in ns since the epoch: high and low 32 bits
  kJobTimeLow = 7,
  kJobSourcePort = 8,
  kJobDestinationPort = 9,
  kJobTtl = 10,
  kJobIpId = 11,           // IPv4 identification
  kJobSourceAddress = 12,  // offsets of the 4 or 16 address bytes in the address source
  kJobDestinationAddress = 13,
  kJobRecordBytes = 14,    // the record's whole length, as the writer reserved it
};
constexpr int32_t kPcapIpv6 = 1;         // IPv6 (else IPv4)
constexpr int32_t kPcapUdpChecksum = 2;  // the whole payload is in the source: sum it
constexpr int32_t kPcapNg = 4;           // an Enhanced Packet Block (else a pcap record)

// Writes each job's record into `block`: the record header (EPB fields, or pcap seconds and
// nanoseconds), the Ethernet header (RFC 1112 / RFC 2464 group MACs, a locally administered
// unicast MAC from the address otherwise), the IPv4 header with its checksum or the IPv6 header,
// the UDP header, `kept` payload bytes from `payloads`, the pcapng padding and trailer. The UDP
// checksum (with kPcapUdpChecksum) covers the whole payload in the source, so a frame the snap
// length cuts still carries the datagram's real one; without it the field is 0. A sum of 0 is
// written as 0xffff (RFC 768). A job whose record, payload or addresses would run past their
// buffers, or whose lengths disagree, stops the run: nothing is read or written out of bounds.
// Returns the number of jobs done.
size_t BuildPcapFrames(uint8_t* block, size_t length, const uint8_t* payloads,
                       size_t payloads_length, const uint8_t* addresses, size_t addresses_length,
                       const int32_t* jobs, size_t count);

// A receive batch's records (batch_layout.h) framed straight into `block`, as the writer would
// make one job per datagram and call BuildPcapFrames: the per-datagram work of a 'batch'
// listener without a JS step per datagram. `state` is kPcapStateWords int32 words (kState*).
constexpr size_t kPcapStateWords = 12;
enum PcapStateWord : size_t {
  kStateUsed = 0,          // in/out: where the next record goes in the block
  kStateFlags = 1,         // in: kPcapIpv6 | kPcapNg
  kStateSnaplen = 2,       // in: bytes kept of each frame
  kStatePort = 3,          // in: the datagrams' destination port (the socket's)
  kStateIfIndex = 4,       // in: the interface index whose file interface id is known
  kStateInterface = 5,     // in: that interface id
  kStateIpId = 6,          // in/out: the next IPv4 identification (16 bits)
  kStateNowHigh = 7,       // in: the time (ns, high and low 32 bits) of a record without one
  kStateNowLow = 8,
  kStatePayloadBytes = 9,  // out: payload bytes on the wire of the datagrams done
  kStateTruncated = 10,    // out: how many of them have a frame shorter than the original
  kStateStop = 11,         // out: why it stopped (kStop*)
};
constexpr int32_t kStopDone = 0;       // every record asked for
constexpr int32_t kStopInterface = 1;  // the next record arrived on another interface
constexpr int32_t kStopFull = 2;       // the next record does not fit in the rest of the block
constexpr int32_t kStopBad = 3;        // the next record is not a well-formed one of this slab

// Frames records [first, first + count) of `records` (payloads in `slab`). Returns how many it
// did; state[kStateStop] says why it stopped before `count`. Every bound is BuildPcapFrames's.
size_t BuildPcapFramesFromRecords(uint8_t* block, size_t length, const uint8_t* slab,
                                  size_t slab_length, const uint8_t* records,
                                  size_t records_length, size_t first, size_t count,
                                  int32_t* state);

}  // namespace mcast

// The Internet checksums (RFC 1071) of the synthetic IPv4/IPv6 + UDP headers the capture writer
// (lib/pcap/writer.ts) puts in front of each recorded datagram. Summing a 1400-byte payload in JS
// costs more than receiving it; here it runs 8 bytes at a time. No N-API: the binding
// (pcap_checksum_napi.cc) hands it a whole output block and a list of frames, once per batch.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mcast {

// One's complement sum of bytes [p, p + n) as big-endian 16-bit words (an odd last byte is the
// high half of a word), folded to 16 bits, not complemented.
uint16_t OnesSum(const uint8_t* p, size_t n, uint32_t initial = 0);

// What FillPcapFrames does for one frame: a job is kPcapJobWords int32 words,
// [IP header offset in the block, flags, payload offset in the source, payload bytes to copy].
constexpr size_t kPcapJobWords = 4;
constexpr int32_t kChecksumIpv6 = 1;  // the IP header at the offset is IPv6 (else IPv4)
constexpr int32_t kChecksumUdp = 2;   // also the UDP checksum (the whole payload is there)
constexpr int32_t kCopyPayload = 4;   // first copy the payload from the source behind the headers

// For each job: with kCopyPayload copies `payload bytes to copy` from `source` to right after the
// frame's UDP header; then writes the IPv4 header checksum (IPv4) and, with kChecksumUdp, the UDP
// checksum over the pseudo-header, the UDP header (its checksum field is zeroed first) and the
// payload, whose length the UDP header gives, summed in the source with kCopyPayload (so that a
// frame the snap length cuts still carries the datagram's real checksum), else in the block. A
// sum of 0 is written as 0xffff (RFC 768). A job whose headers or payload would run past `length`
// (or past `source_length`) stops the run: nothing is read or written out of bounds. Returns the
// number of jobs done.
size_t FillPcapFrames(uint8_t* block, size_t length, const uint8_t* source, size_t source_length,
                      const int32_t* jobs, size_t count);

}  // namespace mcast

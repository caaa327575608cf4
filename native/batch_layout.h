// The layout of the receive metadata that native code writes and lib/batch.ts reads in place.
// It is exported to JS at init (addon.cc), so the two sides cannot drift apart.
#pragma once

#include <cstddef>

namespace mcast::layout {

// One fixed-size record per datagram in the metadata ArrayBuffer.
constexpr size_t kRecordBytes = 72;

// int32 fields, by int32 index within a record.
constexpr size_t kSize = 0;          // bytes delivered into the slab
constexpr size_t kOriginalSize = 1;  // the datagram's size on the wire
constexpr size_t kFlags = 2;         // kFlag* bits below
constexpr size_t kIfIndex = 3;       // arrival interface (IP_PKTINFO / IPV6_PKTINFO)
constexpr size_t kPort = 4;          // source port
constexpr size_t kTtl = 5;           // TTL / hop limit, -1 when the kernel sent none
constexpr size_t kOffset = 6;        // byte offset of the data in the slab (records skip filtered
                                     // slots; a GRO receive gives several records one slot)
constexpr size_t kDropCount = 7;     // the socket's kernel drop counter (SO_RXQ_OVFL) when this
                                     // datagram was queued, as uint32; 0 until the first drop

// Byte offsets within a record.
constexpr size_t kSourceByte = 32;       // 16 bytes: the source address (IPv4 in the first 4)
constexpr size_t kDestinationByte = 48;  // 16 bytes: the destination (group) address
constexpr size_t kTimestampByte = 64;    // uint64 little endian: receive time in ns

static_assert((kDropCount + 1) * 4 <= kSourceByte, "int32 fields overlap the addresses");

constexpr int kFlagTruncated = 1;
constexpr int kFlagTimestamp = 2;
constexpr int kFlagPktinfo = 4;

}  // namespace mcast::layout

// Batched receive with recvmmsg into caller-owned memory: the slab that holds the datagrams and
// the metadata records (batch_layout.h) are allocated once, by JS, and reused for every batch.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "arrival_policy.h"
#include "cmsg_decode.h"
#include "membership_filter.h"

namespace mcast {

struct RecvCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t batches = 0;
  uint64_t truncated = 0;
  uint32_t kernel_drops = 0;  // last SO_RXQ_OVFL value seen
  uint64_t filtered = 0;      // IPv6 datagrams of a group joined on another interface only
  uint64_t gro_receives = 0;   // receives that carried several datagrams merged (UDP_GRO)
  uint64_t gro_datagrams = 0;  // datagrams that arrived in those receives
};

// The bytes the first `count` records hold in all (their kSize), what PackDatagrams writes:
// false when a record's size is negative or larger than `slab_bytes`.
bool PackedBytes(const uint8_t* records, size_t count, size_t slab_bytes, size_t* total);

// Copies the data of the first `count` records (their kOffset / kSize) from `slab` into `out`,
// back to back, in record order: the 'message' path's one copy per batch. Returns false, having
// copied what fit, when a record points outside the slab or `out` is too small.
bool PackDatagrams(const uint8_t* slab, size_t slab_bytes, const uint8_t* records, size_t count,
                   uint8_t* out, size_t out_bytes, size_t* written);

class RecvBatch {
 public:
  // `slab` holds batch_size slots of `slot_size` bytes, `records` `record_capacity` records
  // (0: batch_size). Datagrams are kept whole up to the slot size (see SetKeep).
  RecvBatch(size_t batch_size, size_t slot_size, uint8_t* slab, uint8_t* records,
            size_t record_capacity = 0);

  // Keeps at most `keep` bytes of each datagram (maxMessageSize) when that is less than the
  // slot: with UDP_GRO the slots hold a whole merged receive (64 KiB) while each datagram split
  // out of it is still cut to maxMessageSize and flagged truncated.
  void SetKeep(uint32_t keep) { keep_ = keep < slot_size_ ? keep : static_cast<uint32_t>(slot_size_); }

  // The destination and interface of datagrams that come without IP_PKTINFO (or, queued while
  // it was off, with an interface of 0): see arrival_policy.h. `policy` outlives this batch.
  void SetArrivalPolicy(const ArrivalPolicy* policy) { arrival_ = policy; }

  // Whether the kernel is asked for each datagram's source (msg_name; default on). Off, it
  // copies no address per datagram and the records' source and port stay zero: the facade
  // (SocketOptions.sourceAddress) refuses to report them then. Call before the first Receive.
  void SetSourceAddress(bool on);

  // One recvmmsg without waiting. Returns the number of receives read from the kernel (>= 1),
  // or -errno (-EAGAIN when the queue is empty); `*delivered` gets how many datagrams have a
  // record: those `filter`, when given, admits, each GRO receive split into its datagrams
  // (so it may exceed the return value). Updates `counters`.
  int Receive(int fd, const MembershipFilter* filter, RecvCounters* counters, int* delivered);

  size_t batch_size() const { return batch_size_; }
  size_t record_capacity() const { return record_capacity_; }

 private:
  // Room for IPV6_PKTINFO, the TTL / hop limit, SO_RXQ_OVFL and SCM_TIMESTAMPNS together.
  static constexpr size_t kControlBytes = 256;
  struct alignas(cmsghdr) Control {
    uint8_t bytes[kControlBytes];
  };

  // Writes the records of one receive that came with a GRO segment size: its first record
  // (already decoded at `first`) is copied for each further datagram, and each gets its own
  // offset, sizes and truncation flag. Counts them. Returns the records used.
  int SplitMerged(uint8_t* first, size_t free_records, const DecodeResult& decoded,
                  uint32_t received, uint32_t slab_offset, RecvCounters* counters);

  size_t batch_size_;
  size_t slot_size_;
  uint32_t keep_;
  size_t record_capacity_;
  uint8_t* records_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  std::vector<sockaddr_storage> names_;
  std::vector<Control> control_;
  socklen_t name_room_ = sizeof(sockaddr_storage);  // 0 without source addresses
  size_t used_ = 0;  // slots the last recvmmsg wrote to, whose lengths need resetting
  const ArrivalPolicy* arrival_ = nullptr;
};

}  // namespace mcast

// Batched receive with recvmmsg into caller-owned memory: the slab that holds the datagrams and
// the metadata records (batch_layout.h) are allocated once, by JS, and reused for every batch.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "membership_filter.h"

namespace mcast {

struct RecvCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t batches = 0;
  uint64_t truncated = 0;
  uint32_t kernel_drops = 0;  // last SO_RXQ_OVFL value seen
  uint64_t filtered = 0;      // IPv6 datagrams of a group joined on another interface only
};

class RecvBatch {
 public:
  // `slab` holds batch_size * max_message_size bytes, `records` batch_size records.
  RecvBatch(size_t batch_size, size_t max_message_size, uint8_t* slab, uint8_t* records);

  // One recvmmsg without waiting. Returns the number of datagrams read from the kernel (>= 1),
  // or -errno (-EAGAIN when the queue is empty); `*delivered` gets how many of them have a
  // record (those `filter`, when given, admits). Updates `counters`.
  int Receive(int fd, const MembershipFilter* filter, RecvCounters* counters, int* delivered);

  size_t batch_size() const { return batch_size_; }

 private:
  // Room for IPV6_PKTINFO, the TTL / hop limit, SO_RXQ_OVFL and SCM_TIMESTAMPNS together.
  static constexpr size_t kControlBytes = 256;
  struct alignas(cmsghdr) Control {
    uint8_t bytes[kControlBytes];
  };

  size_t batch_size_;
  size_t max_message_size_;
  uint8_t* records_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  std::vector<sockaddr_storage> names_;
  std::vector<Control> control_;
  size_t used_ = 0;  // slots the last recvmmsg wrote to, whose lengths need resetting
};

}  // namespace mcast

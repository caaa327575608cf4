// Batched send with sendmmsg: many datagrams to one destination in as few system calls as the
// kernel allows. The header arrays grow to the largest batch seen and are then reused.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "socket_ops.h"

namespace mcast {

struct SendCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  // Sends refused for want of room: EAGAIN (the socket's send buffer) or ENOBUFS (the device
  // queue; reported thanks to IP_RECVERR). Nothing was sent; the caller may retry.
  uint64_t would_block = 0;
  uint64_t async_errors = 0;  // ICMP errors about sent datagrams, from the error queue
  uint64_t gso_sends = 0;     // UDP_SEGMENT messages the kernel accepted (each carries a run)
  uint64_t gso_fallbacks = 0; // times the kernel or device refused UDP_SEGMENT (then: sendmmsg)
};

// A run of consecutive datagrams that leaves as one UDP_SEGMENT message: `count` datagrams from
// index `first`, all of `segment_size` bytes but the last, which may be shorter. A run of one
// (segment_size 0) is a plain datagram.
struct SegmentRun {
  size_t first = 0;
  size_t count = 0;
  uint32_t segment_size = 0;
};

// Cuts `lengths[0..count)` into runs of at most `max_segments` datagrams and `max_bytes` bytes.
// A run ends at a size change; a shorter datagram joins the run before it as its last. Empty
// datagrams travel alone (a segment size of 0 means no segmentation). Clears `out` first.
void PlanSegmentRuns(const iovec* iov, size_t count, size_t max_segments, size_t max_bytes,
                     std::vector<SegmentRun>* out);

// Whether a refused UDP_SEGMENT send means "this path cannot segment" (the kernel, the route or
// the device: EIO for a device without checksum offload, EINVAL, ENOTSUP/EOPNOTSUPP,
// ENOPROTOOPT), after which the socket sends its datagrams with plain sendmmsg.
bool IsSegmentationRefusal(int err);

// The outcome of a send: how many datagrams the kernel accepted, and the error that stopped
// the rest (0 when all went, EAGAIN when a queue was full: the socket's or the device's).
struct SendResult {
  size_t sent = 0;
  int error = 0;
};

class SendBatch {
 public:
  // Prepares slot i to send `length` bytes at `data`. Call Reserve(count) first.
  void Reserve(size_t count);
  void Set(size_t i, const uint8_t* data, size_t length);

  // Sends slots [0, count) to `dest`, retrying on EINTR and after partial sends. With
  // segmentation on, runs of equal-size datagrams leave as UDP_SEGMENT messages (several per
  // sendmmsg); when the path refuses them it falls back to one message per datagram for good,
  // resending from the first datagram not sent: nothing is lost or sent twice.
  SendResult Send(int fd, const SockAddr& dest, size_t count, SendCounters* counters);

  // UDP_SEGMENT on or off for this socket (off by default; the binding turns it on where the
  // kernel has it). Turning it on again after a fallback retries the path.
  void SetSegmentation(bool on) { segmentation_ = on; }
  bool segmentation() const { return segmentation_; }
  // The most segments the kernel took per message so far (UDP_MAX_SEGMENTS: 64 before Linux
  // 6.9 or so, 128 since); learned from EINVAL, never assumed beyond the first try.
  size_t max_segments() const { return max_segments_; }

 private:
  SendResult SendPlain(int fd, size_t first, size_t count, SendCounters* counters);
  // Sends the runs of slots [0, count); stops at the first datagram it could not send and
  // returns how far it came in `*result`. Returns false when the path refused segmentation.
  bool SendSegmented(int fd, const SockAddr& dest, size_t count, SendCounters* counters,
                     SendResult* result);

  // The segment cap tried first: the largest any kernel has had (UDP_MAX_SEGMENTS = 128).
  static constexpr size_t kFirstSegmentCap = 128;
  // The cap of older kernels (UDP_MAX_SEGMENTS = 64), tried after an EINVAL for a longer run.
  static constexpr size_t kOldSegmentCap = 64;
  struct alignas(cmsghdr) SegmentControl {
    uint8_t bytes[CMSG_SPACE(sizeof(uint16_t))];
  };

  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  bool segmentation_ = false;
  size_t max_segments_ = kFirstSegmentCap;
  std::vector<SegmentRun> runs_;
  std::vector<mmsghdr> run_msgs_;
  std::vector<SegmentControl> run_controls_;
};

// Whether the kernel knows UDP_SEGMENT (Linux 4.18+): getsockopt(SOL_UDP, UDP_SEGMENT) works.
bool KernelHasSegmentation(int fd);

// Sends one datagram with sendto.
SendResult SendOne(int fd, const SockAddr& dest, const uint8_t* data, size_t length,
                   SendCounters* counters);

}  // namespace mcast

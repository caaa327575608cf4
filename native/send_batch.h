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

// Limits of one UDP_SEGMENT message.
struct SegmentLimits {
  size_t max_segments = 0;  // datagrams per message (the kernel's UDP_MAX_SEGMENTS)
  size_t max_bytes = 0;     // payload bytes per message (64 KiB less the headers)
  // Datagrams of this size or more travel alone: the path refused such a segment (EMSGSIZE:
  // larger than the route's MTU, where only IP fragmentation can carry it).
  size_t segment_limit = SIZE_MAX;
};

// Cuts the datagrams `iov[0..count)` into runs within `limits`. A run ends at a size change; a
// shorter datagram joins the run before it as its last. Empty datagrams travel alone (a segment
// size of 0 means no segmentation). Clears `out` first.
void PlanSegmentRuns(const iovec* iov, size_t count, const SegmentLimits& limits,
                     std::vector<SegmentRun>* out);

// Whether a refused UDP_SEGMENT send means "this socket or path cannot segment" (EIO: a device
// without checksum offload, xfrm; EINVAL: SO_NO_CHECK, too many segments, older kernels' MTU
// check; ENOTSUP/EOPNOTSUPP/ENOPROTOOPT), after which the socket sends with plain sendmmsg.
bool IsSegmentationRefusal(int err);

// The most payload bytes one UDP_SEGMENT message to `dest` carries (the family's UDP limit).
size_t MaxMessageBytes(const SockAddr& dest);

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
  // Prepares slots [0, count) as `length` bytes at `data` cut into datagrams of `segment` bytes
  // (the last may be shorter). Returns count (0 when length is 0). `segment` must be > 0.
  size_t SetUniform(const uint8_t* data, size_t length, size_t segment);
  // Prepares slots [0, count) as datagram i = `lengths[i]` bytes at `data + offsets[i]` (a
  // gather: datagrams at offsets inside one buffer of `length` bytes, e.g. a capture's block
  // with headers between them). Every datagram must lie within the buffer and hold at most
  // `max_datagram` bytes. Returns count, or the index of the first datagram that does not
  // (the slots are then not to be sent).
  size_t SetGather(const uint8_t* data, size_t length, const uint32_t* offsets,
                   const uint32_t* lengths, size_t count, size_t max_datagram);

  // Sends slots [0, count) to `dest`, retrying on EINTR and after partial sends. With
  // segmentation on, runs of equal-size datagrams leave as UDP_SEGMENT messages (several per
  // sendmmsg); when the path refuses them it falls back to one message per datagram for good,
  // resending from the first datagram not sent: nothing is lost or sent twice.
  SendResult Send(int fd, const SockAddr& dest, size_t count, SendCounters* counters);

  // Sends `length` bytes at `data` as datagrams of `segment` bytes (> 0; the last may be
  // shorter): what SetUniform() and Send() do, but while the path segments it builds one
  // message header per UDP_SEGMENT message, with one iovec, and touches no per-datagram slot.
  // Goes in chunks of kUniformChunk datagrams, so that its arrays stay small for any length.
  SendResult SendUniform(int fd, const SockAddr& dest, const uint8_t* data, size_t length,
                         size_t segment, SendCounters* counters);

  // UDP_SEGMENT on or off for this socket (off by default; the binding turns it on where the
  // kernel has it). Turning it on again after a fallback retries the path.
  void SetSegmentation(bool on) { segmentation_ = on; }
  bool segmentation() const { return segmentation_; }
  // The limits in force: the segment cap tries the largest any kernel has (128) and drops to
  // the older kernels' 64 on an EINVAL for a longer run; the segment size limit is learned from
  // EMSGSIZE. Nothing is sent when the kernel refuses a message, so learning costs no datagram.
  const SegmentLimits& limits() const { return limits_; }

 private:
  static constexpr size_t kUniformChunk = 1024;
  SendResult SendUniformChunk(int fd, const SockAddr& dest, const uint8_t* data, size_t length,
                              size_t segment, SendCounters* counters);
  // After the kernel refused a UDP_SEGMENT message: keeps segmentation on when the refusal
  // taught a lower limit (`limits_` against `before`), else turns it off for good and counts
  // the fallback.
  void AfterRefusal(const SegmentLimits& before, SendCounters* counters);
  void ReserveRuns(size_t runs);
  // The UDP_SEGMENT control message of runs_[r] on run_msgs_[r] (none for a run of one).
  void SetSegmentControl(size_t r);
  // Sends the messages of runs_ (built in run_msgs_), adding what went to `*result`; returns
  // as SendSegmented does.
  bool SendRuns(int fd, SendCounters* counters, SendResult* result);
  SendResult SendPlain(int fd, const SockAddr& dest, size_t first, size_t count,
                       SendCounters* counters);
  // Sends the runs of slots [0, count); stops at the first datagram it could not send and
  // returns how far it came in `*result`. Returns false when the kernel refused a UDP_SEGMENT
  // message: limits_ tell whether to plan again (they changed) or to give segmentation up.
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
  SegmentLimits limits_{kFirstSegmentCap, 0, SIZE_MAX};
  std::vector<SegmentRun> runs_;
  std::vector<mmsghdr> run_msgs_;
  // One iovec per run whose datagrams lie back to back in memory (a packed block, a uniform
  // one): the kernel then walks one iovec per message instead of one per datagram, which
  // costs about 30 ns less per datagram at 64 B here.
  std::vector<iovec> run_iov_;
  std::vector<SegmentControl> run_controls_;
};

// Whether the kernel knows UDP_SEGMENT (Linux 4.18+): getsockopt(SOL_UDP, UDP_SEGMENT) works.
bool KernelHasSegmentation(int fd);

// Sends one datagram with sendto.
SendResult SendOne(int fd, const SockAddr& dest, const uint8_t* data, size_t length,
                   SendCounters* counters);

}  // namespace mcast

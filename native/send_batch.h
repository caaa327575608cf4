// Batched send with sendmmsg: many datagrams to one destination in as few system calls as the
// kernel allows. The header arrays grow to the largest batch seen and are then reused.
#pragma once

#include <sys/socket.h>

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
};

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

  // Sends slots [0, count) to `dest`, retrying on EINTR and after partial sends.
  SendResult Send(int fd, const SockAddr& dest, size_t count, SendCounters* counters);

 private:
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
};

// Sends one datagram with sendto.
SendResult SendOne(int fd, const SockAddr& dest, const uint8_t* data, size_t length,
                   SendCounters* counters);

}  // namespace mcast

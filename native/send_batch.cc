#include "send_batch.h"

#include <errno.h>
#include <limits.h>
#include <sys/uio.h>

// sendmmsg's own cap on vlen (UIO_MAXIOV); glibc exposes it only as IOV_MAX.
#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024
#endif

namespace mcast {

namespace {

void CountSent(SendCounters* counters, size_t packets, uint64_t bytes) {
  counters->packets += packets;
  counters->bytes += bytes;
}

// EAGAIN and ENOBUFS both mean "no room now, nothing sent": one outcome for the caller.
int Classify(int err, SendCounters* counters) {
  if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
    counters->would_block++;
    return EAGAIN;
  }
  return err;
}

// With IP_RECVERR an ICMP error about an EARLIER datagram (port unreachable after a unicast
// send, ...) sets the socket's pending error, and the next send fails with it without sending
// anything, naming the wrong datagram. Such an error is taken off with the error queue, counted
// as asynchronous, and the send is tried once more; an error that comes back is the send's own.
bool TakeAsyncError(int fd, int err, bool* retried, SendCounters* counters) {
  if (*retried || !IsSendSideError(err)) return false;
  *retried = true;
  int last = 0;
  const uint32_t queued = DrainErrorQueue(fd, &last);
  // Nothing queued: the error is this send's own (ENETUNREACH for want of a route, ...).
  if (queued == 0) return false;
  counters->async_errors += queued;
  return true;
}

}  // namespace

void SendBatch::Reserve(size_t count) {
  if (msgs_.size() >= count) return;
  msgs_.resize(count);
  iov_.resize(count);
  // resize() may have moved iov_: point every header at its iovec again.
  for (size_t i = 0; i < count; i++) {
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
}

void SendBatch::Set(size_t i, const uint8_t* data, size_t length) {
  iov_[i].iov_base = const_cast<uint8_t*>(data);
  iov_[i].iov_len = length;
}

SendResult SendBatch::Send(int fd, const SockAddr& dest, size_t count, SendCounters* counters) {
  SendResult result;
  bool retried = false;
  for (size_t i = 0; i < count; i++) {
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_name = const_cast<sockaddr*>(dest.get());
    h.msg_namelen = dest.length;
  }
  while (result.sent < count) {
    size_t chunk = count - result.sent;
    if (chunk > UIO_MAXIOV) chunk = UIO_MAXIOV;
    int n = sendmmsg(fd, &msgs_[result.sent], static_cast<unsigned>(chunk), MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;  // saved: TakeAsyncError makes system calls of its own
      if (err == EINTR) continue;
      if (TakeAsyncError(fd, err, &retried, counters)) continue;
      // After a partial send the kernel reports the error of the first datagram it refused here.
      result.error = Classify(err, counters);
      break;
    }
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) bytes += msgs_[result.sent + static_cast<size_t>(i)].msg_len;
    CountSent(counters, static_cast<size_t>(n), bytes);
    result.sent += static_cast<size_t>(n);
  }
  return result;
}

SendResult SendOne(int fd, const SockAddr& dest, const uint8_t* data, size_t length,
                   SendCounters* counters) {
  SendResult result;
  ssize_t n;
  int err = 0;
  bool retried = false;
  do {
    n = sendto(fd, data, length, MSG_DONTWAIT, dest.get(), dest.length);
    err = n < 0 ? errno : 0;  // saved: TakeAsyncError makes system calls of its own
  } while (n < 0 && (err == EINTR || TakeAsyncError(fd, err, &retried, counters)));
  if (n < 0) {
    result.error = Classify(err, counters);
    return result;
  }
  result.sent = 1;
  CountSent(counters, 1, static_cast<uint64_t>(n));
  return result;
}

}  // namespace mcast

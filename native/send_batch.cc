#include "send_batch.h"

#include <errno.h>
#include <limits.h>
#include <sys/uio.h>

#include <cstring>

#include "linux_options.h"

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

void PlanSegmentRuns(const iovec* iov, size_t count, const SegmentLimits& limits,
                     std::vector<SegmentRun>* out) {
  out->clear();
  size_t i = 0;
  while (i < count) {
    SegmentRun run;
    run.first = i;
    const size_t size = iov[i].iov_len;
    size_t bytes = size;
    size_t j = i + 1;
    if (size > 0 && size < limits.segment_limit) {
      while (j < count && j - i < limits.max_segments && bytes + iov[j].iov_len <= limits.max_bytes) {
        const size_t next = iov[j].iov_len;
        if (next == 0 || next > size) break;
        bytes += next;
        j++;
        if (next < size) break;  // a shorter datagram ends the run
      }
    }
    run.count = j - i;
    run.segment_size = run.count > 1 ? static_cast<uint32_t>(size) : 0;
    out->push_back(run);
    i = j;
  }
}

bool IsSegmentationRefusal(int err) {
  // ENOTSUP is EOPNOTSUPP on Linux: one test covers both.
  return err == EIO || err == EINVAL || err == ENOTSUP || err == ENOPROTOOPT;
}

bool KernelHasSegmentation(int fd) {
  int value = 0;
  socklen_t length = sizeof(value);
  return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &value, &length) == 0;
}

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
  for (size_t i = 0; i < count; i++) {
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_name = const_cast<sockaddr*>(dest.get());
    h.msg_namelen = dest.length;
  }
  while (segmentation_ && result.sent < count) {
    const SegmentLimits before = limits_;
    if (SendSegmented(fd, dest, count, counters, &result)) return result;
    // A lower cap or segment size limit learned: plan the rest again with it.
    if (limits_.max_segments < before.max_segments ||
        limits_.segment_limit < before.segment_limit) {
      continue;
    }
    // The path cannot segment: every datagram not yet sent goes the plain way, now and later.
    segmentation_ = false;
    counters->gso_fallbacks++;
  }
  if (result.sent < count) {
    SendResult rest = SendPlain(fd, result.sent, count, counters);
    result.sent = rest.sent;
    result.error = rest.error;
  }
  return result;
}

SendResult SendBatch::SendPlain(int fd, size_t first, size_t count, SendCounters* counters) {
  SendResult result;
  result.sent = first;
  bool retried = false;
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

bool SendBatch::SendSegmented(int fd, const SockAddr& dest, size_t count, SendCounters* counters,
                              SendResult* result) {
  // The largest UDP payload of the family: one UDP_SEGMENT message is one (unfragmented)
  // IP datagram before the device or the kernel cuts it.
  limits_.max_bytes = dest.get()->sa_family == AF_INET6 ? 65527 : 65507;
  const size_t first = result->sent;
  PlanSegmentRuns(&iov_[first], count - first, limits_, &runs_);
  const size_t runs = runs_.size();
  if (run_msgs_.size() < runs) {
    run_msgs_.resize(runs);
    run_controls_.resize(runs);
  }
  for (size_t r = 0; r < runs; r++) {
    const SegmentRun& run = runs_[r];
    msghdr& h = run_msgs_[r].msg_hdr;
    h = msghdr{};
    h.msg_name = const_cast<sockaddr*>(dest.get());
    h.msg_namelen = dest.length;
    h.msg_iov = &iov_[first + run.first];
    h.msg_iovlen = run.count;
    if (run.segment_size == 0) continue;
    h.msg_control = run_controls_[r].bytes;
    h.msg_controllen = sizeof(run_controls_[r].bytes);
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const auto segment = static_cast<uint16_t>(run.segment_size);
    std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
  }
  bool retried = false;
  size_t done = 0;  // runs sent
  while (done < runs) {
    size_t chunk = runs - done;
    if (chunk > UIO_MAXIOV) chunk = UIO_MAXIOV;
    int n = sendmmsg(fd, &run_msgs_[done], static_cast<unsigned>(chunk), MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (TakeAsyncError(fd, err, &retried, counters)) continue;
      const SegmentRun& refused = runs_[done];
      if (refused.segment_size != 0 && err == EMSGSIZE) {
        // Nothing of this run left: its segments do not fit the route's MTU. Datagrams of
        // this size or more go alone from now on (the kernel fragments them as usual).
        limits_.segment_limit = refused.segment_size;
        return false;
      }
      if (refused.segment_size != 0 && IsSegmentationRefusal(err)) {
        // A run longer than older kernels take: try their cap once before giving up.
        if (err == EINVAL && refused.count > kOldSegmentCap &&
            limits_.max_segments > kOldSegmentCap) {
          limits_.max_segments = kOldSegmentCap;
        }
        return false;
      }
      result->error = Classify(err, counters);
      return true;
    }
    for (int k = 0; k < n; k++) {
      const SegmentRun& run = runs_[done + static_cast<size_t>(k)];
      CountSent(counters, run.count, run_msgs_[done + static_cast<size_t>(k)].msg_len);
      if (run.segment_size != 0) counters->gso_sends++;
      result->sent += run.count;
    }
    done += static_cast<size_t>(n);
  }
  return true;
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

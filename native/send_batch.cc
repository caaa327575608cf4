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

// The largest UDP payload of the family: one UDP_SEGMENT message is one (unfragmented) IP
// datagram before the device or the kernel cuts it.
size_t MaxMessageBytes(const SockAddr& dest) {
  return dest.get()->sa_family == AF_INET6 ? 65527 : 65507;
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

size_t SendBatch::SetUniform(const uint8_t* data, size_t length, size_t segment) {
  const size_t count = (length + segment - 1) / segment;
  Reserve(count);
  for (size_t i = 0; i < count; i++) {
    const size_t at = i * segment;
    Set(i, data + at, length - at < segment ? length - at : segment);
  }
  return count;
}

size_t SendBatch::SetGather(const uint8_t* data, size_t length, const uint32_t* offsets,
                            const uint32_t* lengths, size_t count, size_t max_datagram) {
  Reserve(count);
  for (size_t i = 0; i < count; i++) {
    const size_t at = offsets[i];
    const size_t bytes = lengths[i];
    // Two comparisons, no sum: offset + length cannot overflow here.
    if (at > length || bytes > length - at || bytes > max_datagram) return i;
    Set(i, data + at, bytes);
  }
  return count;
}

SendResult SendBatch::Send(int fd, const SockAddr& dest, size_t count, SendCounters* counters) {
  SendResult result;
  while (segmentation_ && result.sent < count) {
    const SegmentLimits before = limits_;
    if (SendSegmented(fd, dest, count, counters, &result)) return result;
    AfterRefusal(before, counters);
  }
  if (result.sent < count) {
    SendResult rest = SendPlain(fd, dest, result.sent, count, counters);
    result.sent = rest.sent;
    result.error = rest.error;
  }
  return result;
}

void SendBatch::AfterRefusal(const SegmentLimits& before, SendCounters* counters) {
  // A lower cap or segment size limit learned: the caller plans the rest again with it.
  if (limits_.max_segments < before.max_segments || limits_.segment_limit < before.segment_limit) {
    return;
  }
  // The path cannot segment: every datagram not yet sent goes the plain way, now and later.
  segmentation_ = false;
  counters->gso_fallbacks++;
}

SendResult SendBatch::SendUniform(int fd, const SockAddr& dest, const uint8_t* data, size_t length,
                                  size_t segment, SendCounters* counters) {
  SendResult result;
  for (size_t at = 0; at < length;) {
    const size_t bytes = length - at < kUniformChunk * segment ? length - at : kUniformChunk * segment;
    const size_t chunk = (bytes + segment - 1) / segment;
    SendResult r = SendUniformChunk(fd, dest, data + at, bytes, segment, counters);
    result.sent += r.sent;
    result.error = r.error;
    if (r.sent < chunk || r.error != 0) break;
    at += bytes;
  }
  return result;
}

SendResult SendBatch::SendUniformChunk(int fd, const SockAddr& dest, const uint8_t* data,
                                       size_t length, size_t segment, SendCounters* counters) {
  const size_t count = (length + segment - 1) / segment;
  SendResult result;
  limits_.max_bytes = MaxMessageBytes(dest);
  while (segmentation_ && result.sent < count && segment < limits_.segment_limit) {
    size_t per = limits_.max_bytes / segment;
    if (per > limits_.max_segments) per = limits_.max_segments;
    if (per < 2) break;  // one datagram per message: the general path's business
    // Runs of `per` datagrams from the first not sent, each one iovec over its bytes.
    const size_t runs = (count - result.sent + per - 1) / per;
    runs_.resize(runs);
    ReserveRuns(runs);
    for (size_t r = 0; r < runs; r++) {
      const size_t first = result.sent + r * per;
      const size_t n = count - first < per ? count - first : per;
      const size_t from = first * segment;
      const size_t bytes = n * segment < length - from ? n * segment : length - from;
      runs_[r] = SegmentRun{first, n, n > 1 ? static_cast<uint32_t>(segment) : 0};
      msghdr& h = run_msgs_[r].msg_hdr;
      h = msghdr{};
      h.msg_name = const_cast<sockaddr*>(dest.get());
      h.msg_namelen = dest.length;
      run_iov_[r].iov_base = const_cast<uint8_t*>(data + from);
      run_iov_[r].iov_len = bytes;
      h.msg_iov = &run_iov_[r];
      h.msg_iovlen = 1;
      SetSegmentControl(r);
    }
    const SegmentLimits before = limits_;
    if (SendRuns(fd, counters, &result)) return result;
    AfterRefusal(before, counters);
  }
  if (result.sent < count) {
    // The rest one slot per datagram, by the general path (plain sends, or runs of one).
    const size_t at = result.sent * segment;
    SendResult rest = Send(fd, dest, SetUniform(data + at, length - at, segment), counters);
    result.sent += rest.sent;
    result.error = rest.error;
  }
  return result;
}

SendResult SendBatch::SendPlain(int fd, const SockAddr& dest, size_t first, size_t count,
                                 SendCounters* counters) {
  SendResult result;
  result.sent = first;
  for (size_t i = first; i < count; i++) {
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_name = const_cast<sockaddr*>(dest.get());
    h.msg_namelen = dest.length;
  }
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
  limits_.max_bytes = MaxMessageBytes(dest);
  const size_t first = result->sent;
  PlanSegmentRuns(&iov_[first], count - first, limits_, &runs_);
  const size_t runs = runs_.size();
  ReserveRuns(runs);
  for (size_t r = 0; r < runs; r++) {
    const SegmentRun& run = runs_[r];
    msghdr& h = run_msgs_[r].msg_hdr;
    h = msghdr{};
    h.msg_name = const_cast<sockaddr*>(dest.get());
    h.msg_namelen = dest.length;
    const iovec* iov = &iov_[first + run.first];
    // Back to back in memory: one iovec for the whole run.
    const auto* start = static_cast<const uint8_t*>(iov[0].iov_base);
    size_t bytes = iov[0].iov_len;
    size_t k = 1;
    while (k < run.count && iov[k].iov_base == start + bytes) bytes += iov[k++].iov_len;
    if (k == run.count) {
      run_iov_[r].iov_base = iov[0].iov_base;
      run_iov_[r].iov_len = bytes;
      h.msg_iov = &run_iov_[r];
      h.msg_iovlen = 1;
    } else {
      h.msg_iov = const_cast<iovec*>(iov);
      h.msg_iovlen = run.count;
    }
    SetSegmentControl(r);
  }
  return SendRuns(fd, counters, result);
}

void SendBatch::ReserveRuns(size_t runs) {
  if (run_msgs_.size() >= runs) return;
  run_msgs_.resize(runs);
  run_controls_.resize(runs);
  run_iov_.resize(runs);
}

void SendBatch::SetSegmentControl(size_t r) {
  const SegmentRun& run = runs_[r];
  if (run.segment_size == 0) return;
  msghdr& h = run_msgs_[r].msg_hdr;
  h.msg_control = run_controls_[r].bytes;
  h.msg_controllen = sizeof(run_controls_[r].bytes);
  cmsghdr* c = CMSG_FIRSTHDR(&h);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  const auto segment = static_cast<uint16_t>(run.segment_size);
  std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
}

bool SendBatch::SendRuns(int fd, SendCounters* counters, SendResult* result) {
  const size_t runs = runs_.size();
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

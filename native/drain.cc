#include "drain.h"

#include <errno.h>
#include <poll.h>

#include "socket_ops.h"

namespace mcast {

int DrainReadable(RecvBatch* batch, int fd, const MembershipFilter* filter, RecvCounters* counters,
                  DrainSink* sink) {
  int rounds = 0;
  for (int round = 0; round < kMaxRoundsPerWake && sink->Receiving(); round++) {
    int delivered = 0;
    const int n = batch->Receive(fd, filter, counters, &delivered);
    if (n == -EAGAIN || n == -EWOULDBLOCK || n == 0) break;
    if (n < 0 && IsSendSideError(-n)) {
      // recvmmsg returned the socket's pending error; its error-queue entry is the same event.
      int last = -n;
      const uint32_t queued = DrainErrorQueue(fd, &last);
      if (!sink->OnSendErrors(queued > 0 ? queued : 1, -n)) break;
      continue;  // datagrams may still be queued
    }
    if (n < 0) {
      sink->OnError(-n);
      break;
    }
    rounds++;
    if (delivered > 0 && !sink->OnBatch(delivered)) break;
    // A short batch means the queue is empty: skip the recvmmsg that would say EAGAIN.
    if (static_cast<size_t>(n) < batch->batch_size()) break;
  }
  return rounds;
}

namespace {

constexpr int64_t kNsPerMs = 1000000;

}  // namespace

int ReceiveWithin(RecvBatch* batch, int fd, const MembershipFilter* filter, RecvCounters* counters,
                  int timeout_ms, WaitMode mode, int* delivered, uint32_t* send_errors,
                  ClockNs clock) {
  // In nanoseconds: a deadline in whole milliseconds of a truncated clock came up to 1 ms early
  // (a 1 ms spin returned after anything from 0 to 1 ms).
  const int64_t deadline = clock() + int64_t{timeout_ms > 0 ? timeout_ms : 0} * kNsPerMs;
  // Set once the clock has passed the deadline: one more receive follows. Returning at that
  // clock read instead (receive, then check) lost a datagram that came while the thread was
  // preempted between the two: it passed the deadline with the datagram queued and said none.
  bool last = timeout_ms <= 0;
  for (;;) {
    const int n = batch->Receive(fd, filter, counters, delivered);
    if (n < 0 && IsSendSideError(-n)) {
      int last_error = -n;
      const uint32_t queued = DrainErrorQueue(fd, &last_error);
      *send_errors += queued > 0 ? queued : 1;
      continue;
    }
    // Datagrams that the IPv6 filter dropped all of make no batch: wait for more.
    if (n > 0 && *delivered > 0) return n;
    if (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK) return n;
    if (last) return -EAGAIN;
    const int64_t left = deadline - clock();
    if (left <= 0) {
      last = true;
      continue;
    }
    if (mode == WaitMode::kSpin) continue;
    pollfd p{fd, POLLIN, 0};
    // Rounded up: poll(2) counts whole milliseconds, and must not wake before the deadline.
    const int wait_ms = static_cast<int>((left + kNsPerMs - 1) / kNsPerMs);
    if (poll(&p, 1, wait_ms) < 0 && errno != EINTR) return -errno;
  }
}

void MergeDropCount(int fd, RecvCounters* counters) {
  uint32_t drops = counters->kernel_drops;
  if (fd >= 0 && ReadDropCount(fd, &drops) == 0 && drops > counters->kernel_drops) {
    counters->kernel_drops = drops;
  }
}

}  // namespace mcast

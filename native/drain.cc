#include "drain.h"

#include <errno.h>

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

void MergeDropCount(int fd, RecvCounters* counters) {
  uint32_t drops = counters->kernel_drops;
  if (fd >= 0 && ReadDropCount(fd, &drops) == 0 && drops > counters->kernel_drops) {
    counters->kernel_drops = drops;
  }
}

}  // namespace mcast

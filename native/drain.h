// The receive policy of one readable event, in plain C++ (no N-API) so that the native unit
// tests cover it: how many recvmmsg rounds a wake-up makes, what ends it, what an error from
// the receive call means. The binding (socket_wrap_recv.cc) supplies the sink that calls into JS.
#pragma once

#include <cstdint>

#include "membership_filter.h"
#include "pacer.h"
#include "recv_batch.h"

namespace mcast {

// recvmmsg rounds per readable event: enough to drain a burst, few enough that one busy socket
// cannot starve the rest of the loop (libuv's udp.c caps its reads the same way).
constexpr int kMaxRoundsPerWake = 32;

// Where a drain hands what it finds. Each call returns false to end the drain (a callback threw,
// or the socket closed or stopped receiving inside it).
class DrainSink {
 public:
  virtual ~DrainSink() = default;
  // Whether the socket still wants datagrams (checked before every round).
  virtual bool Receiving() const = 0;
  // `delivered` datagrams have records in the batch.
  virtual bool OnBatch(int delivered) = 0;
  // The receive call reported `count` asynchronous errors about datagrams this socket sent
  // (ICMP via IP_RECVERR), the last with errno `err`. Receiving goes on after them.
  virtual bool OnSendErrors(uint32_t count, int err) = 0;
  // The receive call failed with errno `err`; the drain ends.
  virtual void OnError(int err) = 0;
};

// Reads what the socket has, batch by batch, until the queue is empty (EAGAIN, or a batch
// shorter than the batch size), the sink says stop, or kMaxRoundsPerWake rounds are done.
// Returns the number of rounds that read datagrams.
int DrainReadable(RecvBatch* batch, int fd, const MembershipFilter* filter, RecvCounters* counters,
                  DrainSink* sink);

// How ReceiveWithin waits for the first datagram.
enum class WaitMode {
  kBlock,  // poll(2) until readable: the thread sleeps
  kSpin,   // non-blocking receives in a loop: a whole core, the lowest latency (with SO_BUSY_POLL
           // each empty receive also polls the device queue in the kernel for that long)
};

// ReceiveWithin's clock in nanoseconds: MonotonicNs (pacer.h), or a test's own.
using ClockNs = int64_t (*)();

// One batch for a thread that owns its socket: receives at once when datagrams are queued, else
// waits up to `timeout_ms` (0: not at all) as `mode` says. Returns what RecvBatch::Receive
// returns (-EAGAIN when the deadline passed with nothing); IsSendSideError results are taken off
// the error queue and counted in `*send_errors` (the wait goes on). Retries EINTR. The last
// receive always starts after the deadline was seen to pass, so a datagram that came before the
// deadline is returned even when the thread was preempted between a receive and the clock read.
int ReceiveWithin(RecvBatch* batch, int fd, const MembershipFilter* filter, RecvCounters* counters,
                  int timeout_ms, WaitMode mode, int* delivered, uint32_t* send_errors,
                  ClockNs clock = MonotonicNs);

// The kernel's drop count as stats() reports it: SO_RXQ_OVFL comes only with the next datagram
// that makes it in, so SO_MEMINFO's count (all drops so far) raises it when higher.
void MergeDropCount(int fd, RecvCounters* counters);

}  // namespace mcast

// See pacer.h.
#include "pacer.h"

#include <sys/prctl.h>

#include <cerrno>
#include <ctime>

namespace mcast {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t WaitUntil(int64_t deadline_ns, int64_t margin_ns, int64_t* woke_ns) {
  *woke_ns = 0;
  const int64_t wake = deadline_ns - (margin_ns > 0 ? margin_ns : 0);
  int64_t now = MonotonicNs();
  if (wake > now) {
    timespec ts;
    ts.tv_sec = static_cast<time_t>(wake / 1000000000);
    ts.tv_nsec = static_cast<long>(wake % 1000000000);
    // A signal (libuv's handler for SIGINT) interrupts the sleep: go back to it, the handler
    // only queued the signal for the event loop, which runs between datagrams.
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    now = MonotonicNs();
    *woke_ns = now;
  }
  while (now < deadline_ns) now = MonotonicNs();
  return now;
}

int SetTimerSlack(uint64_t ns) {
  return prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(ns), 0, 0, 0) == 0 ? 0 : errno;
}

}  // namespace mcast

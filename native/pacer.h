// The replay pacer's clock and wait (lib/cli/pacer.ts): sleep on an absolute deadline of the
// monotonic clock to a margin before the send time, then spin the rest. A timer wakes up late
// (timer slack, 50 µs by default; the scheduler's wake-up latency), so the sleep stops short by
// the margin and the spin, which reads the clock every ~30 ns, takes the send to the deadline.
// Plain C++, no N-API (pacer_napi.cc binds it); no allocation, so the spin never makes garbage.
#pragma once

#include <cstdint>

namespace mcast {

// CLOCK_MONOTONIC in ns: libuv's uv_hrtime() and so Node's process.hrtime() read the same clock.
int64_t MonotonicNs();

// Sleeps until `deadline_ns - margin_ns` (clock_nanosleep TIMER_ABSTIME: nothing drifts; an
// interrupted sleep resumes), then spins until `deadline_ns`. Returns the clock when it returned
// (>= deadline_ns) and sets *woke_ns to the clock when the sleep ended (0 when it did not sleep).
int64_t WaitUntil(int64_t deadline_ns, int64_t margin_ns, int64_t* woke_ns);

// prctl(PR_SET_TIMERSLACK) for the calling thread: how late the kernel may fire its timers, to
// merge wake-ups (the default is 50 µs). Returns 0 or errno.
int SetTimerSlack(uint64_t ns);

}  // namespace mcast

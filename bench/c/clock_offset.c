/*
 * clock_offset.c - prints CLOCK_REALTIME minus CLOCK_MONOTONIC in nanoseconds (one line).
 *
 * Build:  cc -O2 -Wall -Wextra -o clock_offset clock_offset.c
 *
 * The Node.js receivers of the benchmark read CLOCK_MONOTONIC (process.hrtime, performance.now)
 * with nanosecond resolution, but Node.js has no precise CLOCK_REALTIME, which mc_send writes
 * into every payload. They run this at the start and at the end of a latency run to convert.
 * The offset is taken from the tightest of 20 MONOTONIC/REALTIME/MONOTONIC triples.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static int64_t ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void)
{
    int64_t best_width = INT64_MAX, best = 0;
    for (int i = 0; i < 20; i++) {
        int64_t m1 = ns(CLOCK_MONOTONIC);
        int64_t r = ns(CLOCK_REALTIME);
        int64_t m2 = ns(CLOCK_MONOTONIC);
        if (m2 - m1 < best_width) {
            best_width = m2 - m1;
            best = r - (m1 + (m2 - m1) / 2);
        }
    }
    printf("%lld\n", (long long)best);
    return fflush(stdout) == 0 ? 0 : 1;
}

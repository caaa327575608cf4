/*
 * mc_send.c - reference UDP multicast sender (plain C, Linux) for the mcast benchmarks.
 *
 * Build:  cc -O2 -Wall -Wextra -o mc_send mc_send.c
 *
 * PAYLOAD LAYOUT (every datagram; all integers little endian):
 *   bytes 0..7    u64  sequence number: --seq-start, then +1 per datagram, never skipped
 *                      (a datagram that hits EAGAIN/ENOBUFS is retried with the same number)
 *   bytes 8..15   u64  send time, CLOCK_REALTIME in ns since the Unix epoch, written
 *                      immediately before the send syscall that carries the datagram
 *                      (rewritten on every retry)
 *   bytes 16..    filler: byte i holds (i & 0xff)
 * --size is the whole UDP payload and must be >= 16.  --vary makes the sizes vary (market-data
 * like): datagram k is size - h(k) % (size / 2 + 1) bytes (h a multiplicative hash; at least 16),
 * so that no two neighbours are likely to be of one size (GRO then merges little).
 *
 * Sending: --count N and/or --seconds S (whichever ends first).  --batch 1 uses sendto,
 * --batch N > 1 sendmmsg with up to N datagrams.  --gso sends each batch as UDP_SEGMENT
 * messages (one sendmmsg of messages of up to 64 KiB / 128 segments each; GSO), each message
 * one iovec over its datagrams, which lie back to back (about 25-30 ns per datagram less kernel
 * work than an iovec per datagram; mcast's sendBatch does the same with contiguous data).  --rate 0 sends flat out (full batches);
 * --rate R paces datagram k to t0 + k/R with absolute clock_nanosleep deadlines and sends
 * what is due (up to --batch per call) when it wakes, so the average rate is exact even
 * though each wakeup here overshoots by tens of microseconds.  Interface: IPv4
 * --iface-addr (IP_MULTICAST_IF with an in_addr) or --ifindex (ip_mreqn); IPv6 --ifindex
 * (IPV6_MULTICAST_IF).  --ttl sets IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS (default 1).
 *
 * Output: ONE line of JSON on stdout when done:
 *   {"sent":N,"seconds":S,"pps":X,"cpu_seconds":C,"eagain":N,"batch":B,"size":Z}
 *   seconds = first send to the end of the last send (CLOCK_MONOTONIC);
 *   cpu_seconds = getrusage(RUSAGE_SELF) user+sys over the same interval;
 *   eagain = number of send calls that failed with EAGAIN/ENOBUFS and were retried.
 * Errors: "mc_send: <call>: <strerror>" on stderr, exit 1 (usage errors exit 2).
 * SIGINT/SIGTERM stop the run early; the JSON line is still printed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "mc_send"
#define MAX_BATCH 1024 /* kernel caps sendmmsg vlen at UIO_MAXIOV (1024) */
#define NS 1000000000ULL

struct opts {
    const char *group;
    unsigned port;
    const char *iface_addr;
    unsigned ifindex;
    int ttl;
    size_t size;
    uint64_t count;   /* 0 = unlimited (then --seconds must be given) */
    double seconds;   /* 0 = unlimited */
    uint64_t rate;    /* packets per second, 0 = flat out */
    unsigned batch;
    int family;
    uint64_t seq_start;
    int cpu;          /* -1 = no pinning */
    const char *wait_file;
    int gso;          /* --gso: each batch as UDP_SEGMENT messages */
    int vary;         /* --vary: sizes from size/2 to size, by sequence number */
};

struct sender {
    int fd;
    unsigned batch;
    size_t size;
    struct sockaddr_storage dst;
    socklen_t dstlen;
    char *bufs;              /* batch * size bytes, one payload per slot */
    struct iovec *iov;
    struct mmsghdr *msgs;
    int vary;
    uint64_t next_seq;
    uint64_t sent;
    uint64_t eagain;
    /* --gso: one message per `per_msg` datagrams, each with its UDP_SEGMENT cmsg */
    unsigned per_msg;
    struct mmsghdr *gmsgs;
    struct iovec *giov;      /* one per message: its datagrams are contiguous in bufs */
    char *gctrl;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) { (void)sig; g_stop = 1; }

static __attribute__((noreturn)) void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", PROG, what, strerror(errno));
    exit(1);
}

static __attribute__((noreturn)) void usage_error(const char *msg)
{
    FILE *out = msg ? stderr : stdout; /* msg == NULL: --help */
    if (msg)
        fprintf(stderr, "%s: %s\n", PROG, msg);
    fprintf(out,
            "usage: %s --group A --port P [--iface-addr A | --ifindex N] [--ttl N]\n"
            "       [--size B] (--count N | --seconds S) [--rate PPS] [--batch N]\n"
            "       [--family 4|6] [--seq-start N] [--cpu N] [--wait-file PATH] [--gso]\n"
            "       [--vary]\n",
            PROG);
    exit(msg ? 2 : 0);
}

static uint64_t parse_u64(const char *name, const char *s, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "%s: bad value for --%s: '%s' (range %llu..%llu)\n", PROG, name, s,
                (unsigned long long)min, (unsigned long long)max);
        exit(2);
    }
    return v;
}

static double parse_seconds(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 1e6)
        usage_error("bad value for --seconds");
    return v;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts); /* vDSO; cannot fail for these clocks */
    return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        die("getrusage");
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"group", required_argument, 0, 'g'},      {"port", required_argument, 0, 'p'},
        {"iface-addr", required_argument, 0, 'a'}, {"ifindex", required_argument, 0, 'i'},
        {"ttl", required_argument, 0, 't'},        {"size", required_argument, 0, 's'},
        {"count", required_argument, 0, 'n'},      {"seconds", required_argument, 0, 'd'},
        {"rate", required_argument, 0, 'r'},       {"batch", required_argument, 0, 'b'},
        {"family", required_argument, 0, 'f'},     {"seq-start", required_argument, 0, 'q'},
        {"cpu", required_argument, 0, 'c'},        {"wait-file", required_argument, 0, 'w'},
        {"gso", no_argument, 0, 'G'},              {"vary", no_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    *o = (struct opts){.ttl = 1, .size = 64, .batch = 1, .family = 4, .cpu = -1};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'g': o->group = optarg; break;
        case 'p': o->port = (unsigned)parse_u64("port", optarg, 1, 65535); break;
        case 'a': o->iface_addr = optarg; break;
        case 'i': o->ifindex = (unsigned)parse_u64("ifindex", optarg, 1, INT32_MAX); break;
        case 't': o->ttl = (int)parse_u64("ttl", optarg, 0, 255); break;
        case 's': o->size = parse_u64("size", optarg, 16, 65507); break;
        case 'n': o->count = parse_u64("count", optarg, 1, UINT64_MAX / 2); break;
        case 'd': o->seconds = parse_seconds(optarg); break;
        case 'r': o->rate = parse_u64("rate", optarg, 0, 100000000); break;
        case 'b': o->batch = (unsigned)parse_u64("batch", optarg, 1, MAX_BATCH); break;
        case 'f': o->family = (int)parse_u64("family", optarg, 4, 6); break;
        case 'q': o->seq_start = parse_u64("seq-start", optarg, 0, UINT64_MAX / 2); break;
        case 'c': o->cpu = (int)parse_u64("cpu", optarg, 0, CPU_SETSIZE - 1); break;
        case 'w': o->wait_file = optarg; break;
        case 'G': o->gso = 1; break;
        case 'V': o->vary = 1; break;
        case 'h': usage_error(NULL);
        default: usage_error("unknown option");
        }
    }
    if (optind != argc) usage_error("unexpected argument");
    if (!o->group || !o->port) usage_error("--group and --port are required");
    if (o->family == 5) usage_error("--family must be 4 or 6");
    if (!o->count && !o->seconds) usage_error("give --count and/or --seconds");
    if (o->iface_addr && o->ifindex) usage_error("give only one of --iface-addr, --ifindex");
    if (o->family == 6 && o->iface_addr) usage_error("--iface-addr is IPv4 only; use --ifindex");
}

static void pin_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        die("sched_setaffinity");
}

/* IPv4: IP_MULTICAST_IF takes an in_addr (pick by address) or an ip_mreqn (pick by index). */
static void set_if_v4(int fd, const struct opts *o)
{
    if (o->iface_addr) {
        struct in_addr a;
        if (inet_pton(AF_INET, o->iface_addr, &a) != 1)
            usage_error("bad --iface-addr");
        if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof a) < 0)
            die("setsockopt(IP_MULTICAST_IF)");
    } else if (o->ifindex) {
        struct ip_mreqn m = {.imr_ifindex = (int)o->ifindex};
        if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) < 0)
            die("setsockopt(IP_MULTICAST_IF)");
    }
    /* else: the kernel routes the group (needs e.g. a 224.0.0.0/4 route) */
}

static void setup_v4(struct sender *s, const struct opts *o)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&s->dst;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->group, &sin->sin_addr) != 1 ||
        !IN_MULTICAST(ntohl(sin->sin_addr.s_addr)))
        usage_error("--group must be an IPv4 multicast address (224.0.0.0/4)");
    s->dstlen = sizeof *sin;
    set_if_v4(s->fd, o);
    int ttl = o->ttl;
    if (setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) < 0)
        die("setsockopt(IP_MULTICAST_TTL)");
}

static void setup_v6(struct sender *s, const struct opts *o)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&s->dst;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET6, o->group, &sin6->sin6_addr) != 1 ||
        !IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr))
        usage_error("--group must be an IPv6 multicast address (ff00::/8)");
    sin6->sin6_scope_id = o->ifindex; /* needed for link-local scope groups (ff02::/16) */
    s->dstlen = sizeof *sin6;
    if (o->ifindex) {
        unsigned idx = o->ifindex;
        if (setsockopt(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) < 0)
            die("setsockopt(IPV6_MULTICAST_IF)");
    }
    int hops = o->ttl;
    if (setsockopt(s->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0)
        die("setsockopt(IPV6_MULTICAST_HOPS)");
}

/*
 * Without IP_RECVERR the kernel turns ENOBUFS from a full qdisc/driver queue into a silent
 * success for UDP (udp_send_skb: counted only as SndbufErrors).  With it the send fails with
 * ENOBUFS and we can retry instead of losing the datagram.  Multicast never gets ICMP errors,
 * so nothing else lands on the error queue.  (A qdisc that drops an older packet instead of
 * this one, e.g. fq_codel returning NET_XMIT_CN, still loses silently; lo has no qdisc.)
 */
static void set_recverr(struct sender *s, int family)
{
    int on = 1;
    if (family == 6) {
        if (setsockopt(s->fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on) < 0)
            die("setsockopt(IPV6_RECVERR)");
    } else if (setsockopt(s->fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on) < 0) {
        die("setsockopt(IP_RECVERR)");
    }
}

/* One payload buffer per batch slot, filler written once; msghdrs point at them. */
static void setup_buffers(struct sender *s, const struct opts *o)
{
    s->batch = o->batch;
    s->size = o->size;
    s->bufs = malloc((size_t)s->batch * s->size);
    s->iov = calloc(s->batch, sizeof *s->iov);
    s->msgs = calloc(s->batch, sizeof *s->msgs);
    if (!s->bufs || !s->iov || !s->msgs)
        die("malloc");
    for (unsigned i = 0; i < s->batch; i++) {
        char *p = s->bufs + (size_t)i * s->size;
        for (size_t j = 0; j < s->size; j++)
            p[j] = (char)(j & 0xff);
        s->iov[i] = (struct iovec){.iov_base = p, .iov_len = s->size};
        s->msgs[i].msg_hdr = (struct msghdr){.msg_name = &s->dst, .msg_namelen = s->dstlen,
                                             .msg_iov = &s->iov[i], .msg_iovlen = 1};
    }
    s->next_seq = o->seq_start;
    s->vary = o->vary;
    if (o->gso && o->vary)
        usage_error("--vary and --gso do not go together (a UDP_SEGMENT message has one size)");
    if (o->gso) {
        /* UDP_MAX_SEGMENTS is 128 on this kernel; a message carries at most 64 KiB */
        unsigned per = (unsigned)((o->family == 6 ? 65527 : 65507) / s->size);
        s->per_msg = per > 128 ? 128 : per < 1 ? 1 : per;
        s->gmsgs = calloc(s->batch, sizeof *s->gmsgs);
        s->giov = calloc(s->batch, sizeof *s->giov);
        s->gctrl = calloc(s->batch, CMSG_SPACE(sizeof(uint16_t)));
        if (!s->gmsgs || !s->giov || !s->gctrl)
            die("malloc");
    }
}

static void put_le64(char *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

/* Stamp slots [from, to) with the current CLOCK_REALTIME (one read for the whole call). */
static void stamp(struct sender *s, unsigned from, unsigned to)
{
    uint64_t now = clock_ns(CLOCK_REALTIME);
    for (unsigned i = from; i < to; i++)
        put_le64(s->bufs + (size_t)i * s->size + 8, now);
}

/*
 * The socket is used with MSG_DONTWAIT (like libuv).  EAGAIN = send buffer full (skbs still
 * queued in a qdisc hold it); ENOBUFS = the qdisc dropped this datagram (reported only with
 * IP_RECVERR, see set_recverr).  Either way the datagram was NOT sent: wait for POLLOUT and
 * retry it.  POLLOUT is reported at once for ENOBUFS (the socket buffer is not the problem),
 * so back off briefly as well.
 */
static void wait_writable(struct sender *s, int err)
{
    struct pollfd p = {.fd = s->fd, .events = POLLOUT};
    s->eagain++;
    if (poll(&p, 1, 100) < 0 && errno != EINTR)
        die("poll");
    if (err == ENOBUFS) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, NULL);
    }
}

static int retryable(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

static void send_one(struct sender *s)
{
    for (;;) {
        stamp(s, 0, 1);
        if (sendto(s->fd, s->bufs, s->size, MSG_DONTWAIT, (struct sockaddr *)&s->dst,
                   s->dstlen) >= 0)
            return;
        if (errno == EINTR)
            continue;
        if (!retryable(errno))
            die("sendto");
        wait_writable(s, errno);
    }
}

/*
 * Sends the m messages `msgs`, which carry datagrams [0, n), `per` datagrams each (the last may
 * carry fewer).  sendmmsg may send only a prefix; the rest (and a failed call) is retried, in
 * order, with the datagrams not yet sent stamped again.
 */
static void send_messages(struct sender *s, struct mmsghdr *msgs, unsigned m, unsigned per,
                          unsigned n, const char *what)
{
    unsigned done = 0;
    while (done < m) {
        stamp(s, done * per, n);
        int r = sendmmsg(s->fd, msgs + done, m - done, MSG_DONTWAIT);
        if (r > 0) {
            done += (unsigned)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && !retryable(errno))
            die(what);
        wait_writable(s, r < 0 ? errno : EAGAIN);
    }
}

static void send_many(struct sender *s, unsigned n) { send_messages(s, s->msgs, n, 1, n, "sendmmsg"); }

/* --gso: the n datagrams as UDP_SEGMENT messages of per_msg each (the last may hold fewer). */
static void send_segmented(struct sender *s, unsigned n)
{
    unsigned m = (n + s->per_msg - 1) / s->per_msg;
    for (unsigned j = 0; j < m; j++) {
        unsigned first = j * s->per_msg, cnt = n - first < s->per_msg ? n - first : s->per_msg;
        struct msghdr *h = &s->gmsgs[j].msg_hdr;
        /* the slots lie back to back: one iovec for the message's datagrams */
        s->giov[j] = (struct iovec){.iov_base = s->iov[first].iov_base, .iov_len = cnt * s->size};
        *h = (struct msghdr){.msg_name = &s->dst, .msg_namelen = s->dstlen,
                             .msg_iov = &s->giov[j], .msg_iovlen = 1};
        if (cnt < 2)
            continue;
        h->msg_control = s->gctrl + (size_t)j * CMSG_SPACE(sizeof(uint16_t));
        h->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t seg = (uint16_t)s->size;
        memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
    send_messages(s, s->gmsgs, m, s->per_msg, n, "sendmmsg(UDP_SEGMENT)");
}

/* Send the next n datagrams (n <= batch) with consecutive sequence numbers. */
static void send_n(struct sender *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        put_le64(s->bufs + (size_t)i * s->size, s->next_seq + i);
        if (s->vary) {
            uint64_t h = ((s->next_seq + i) * 2654435761u) >> 8;
            size_t len = s->size - (size_t)(h % (s->size / 2 + 1));
            s->iov[i].iov_len = len < 16 ? 16 : len;
        }
    }
    if (s->gmsgs)
        send_segmented(s, n);
    else if (s->batch == 1)
        send_one(s);
    else
        send_many(s, n);
    s->next_seq += n;
    s->sent += n;
}

static void sleep_until(uint64_t mono_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(mono_ns / NS), .tv_nsec = (long)(mono_ns % NS)};
    /* returns EINTR on a signal: fine, the caller re-checks everything */
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/*
 * Pacing: datagram k (0-based) is due at t0 + k/rate.  Absolute deadlines mean sleep
 * overshoot never accumulates: when we wake late, everything already due is sent at once
 * in bursts of up to --batch (one sendmmsg, or back-to-back sendto for batch 1).
 */
static unsigned paced_count(struct sender *s, uint64_t t0, uint64_t now, uint64_t rate)
{
    uint64_t due = (uint64_t)(((unsigned __int128)(now - t0) * rate) / NS) + 1;
    if (due > s->sent)
        return due - s->sent > s->batch ? s->batch : (unsigned)(due - s->sent);
    uint64_t next = t0 + (uint64_t)(((unsigned __int128)s->sent * NS + rate - 1) / rate);
    sleep_until(next);
    return 0;
}

static void run(struct sender *s, const struct opts *o, uint64_t t0)
{
    uint64_t limit = o->count ? o->count : UINT64_MAX;
    uint64_t end = o->seconds > 0 ? t0 + (uint64_t)(o->seconds * 1e9) : UINT64_MAX;
    while (s->sent < limit && !g_stop) {
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        if (now >= end)
            break;
        unsigned n = o->rate ? paced_count(s, t0, now, o->rate) : s->batch;
        if (n == 0)
            continue;
        if (n > limit - s->sent)
            n = (unsigned)(limit - s->sent);
        send_n(s, n);
    }
}

/* Poll for the file every 0.5 ms; a signal aborts the wait. */
static void wait_for_file(const char *path)
{
    struct stat st;
    struct timespec ts = {0, 500000};
    while (stat(path, &st) < 0) {
        if (errno != ENOENT)
            die("stat(--wait-file)");
        if (g_stop)
            return;
        nanosleep(&ts, NULL);
    }
}

static void install_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: wake sleeps */
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        die("sigaction");
}

int main(int argc, char **argv)
{
    struct opts o;
    struct sender s = {0};
    parse_args(argc, argv, &o);
    if (o.family == 6 && o.size > 65527)
        usage_error("--size too large");
    install_signals();
    if (o.cpu >= 0)
        pin_cpu(o.cpu);
    /* default timer slack is 50 us; pacing at 100k pps needs ~1 us wakeup precision */
    if (prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) < 0)
        die("prctl(PR_SET_TIMERSLACK)");
    s.fd = socket(o.family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (s.fd < 0)
        die("socket");
    if (o.family == 6)
        setup_v6(&s, &o);
    else
        setup_v4(&s, &o);
    set_recverr(&s, o.family);
    setup_buffers(&s, &o);
    if (o.wait_file)
        wait_for_file(o.wait_file);

    double cpu0 = cpu_seconds();
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
    run(&s, &o, t0);
    double secs = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
    double cpu = cpu_seconds() - cpu0;

    printf("{\"sent\":%llu,\"seconds\":%.6f,\"pps\":%.1f,\"cpu_seconds\":%.6f,"
           "\"eagain\":%llu,\"batch\":%u,\"size\":%zu}\n",
           (unsigned long long)s.sent, secs, secs > 0 ? (double)s.sent / secs : 0.0, cpu,
           (unsigned long long)s.eagain, s.batch, s.size);
    if (fflush(stdout) != 0)
        die("write(stdout)");
    close(s.fd);
    return 0;
}

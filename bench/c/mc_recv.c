/*
 * mc_recv.c - reference UDP multicast receiver (plain C, Linux) for the mcast benchmarks.
 *
 * Build:  cc -O2 -Wall -Wextra -o mc_recv mc_recv.c
 *
 * Expects the payload written by mc_send.c (all integers little endian):
 *   bytes 0..7   u64 sequence number (+1 per datagram)
 *   bytes 8..15  u64 send time, CLOCK_REALTIME ns since the Unix epoch
 *   bytes 16..   filler
 * Datagrams shorter than 16 bytes are counted but not sequence-tracked.
 *
 * Modes:
 *   drain: join + bind, print "READY\n" (flushed), wait until --go-file exists (the harness
 *          fills the socket queue meanwhile), then read with non-blocking recvmmsg/recvmsg
 *          until EAGAIN.  seconds/cpu cover only that drain.
 *   live:  join + bind, print "READY\n", then poll(POLLIN) + non-blocking reads until EAGAIN
 *          (the libuv pattern) while a sender runs.  Stops after --count datagrams, or
 *          --idle-ms without data once data has arrived (--first-timeout-ms before that).
 *          seconds = first to last packet (receive moments).
 *
 * Output: one line "READY", then ONE line of JSON:
 *   {"received":N,"bytes":B,"seconds":S,"pps":X,"cpu_seconds":C,"cpu_ns_per_packet":Y,
 *    "kernel_drops":D,"gaps":G,"reordered":R,"duplicates":U,"truncated":T,
 *    "first_seq":F,"last_seq":L,
 *    "batch":B,"rcvbuf":R,"latency_us":{"p50":..,"p99":..,"p999":..}}
 *   kernel_drops: the socket's drop counter (queue full etc.) since the socket was created:
 *                 SO_RXQ_OVFL cmsg of the datagrams read, completed at the end by
 *                 SO_MEMINFO (drops after the last datagram read carry no cmsg).
 *   gaps:         sequence numbers missing between first_seq (lowest seen) and last_seq
 *                 (highest seen); late arrivals fill their gap and count as reordered.
 *   latency_us:   only with --latency; one-way latency = CLOCK_REALTIME right after the
 *                 recv call returned minus the payload send time (same host: same clock);
 *                 at most --max-samples (default 4194304) samples are kept.
 *   truncated:    datagrams larger than --size (MSG_TRUNC); bytes counts what fit.
 *   rcvbuf:       SO_RCVBUF as the kernel reports it (2x the requested size).
 * --metadata asks the kernel for what mcast delivers with every datagram (the same kernel work):
 * the source address (msg_name), IP_PKTINFO / IPV6_RECVPKTINFO and IP_RECVTTL /
 * IPV6_RECVHOPLIMIT control messages, in a 256-byte control buffer per datagram.
 * --metadata=LIST asks for some of them: a comma list of name, pktinfo and ttl (which part of
 * the kernel's cost each one is).
 * --spin (live mode): no poll(); non-blocking reads in a loop on a whole core, the C form of
 * mcast's receiveSync(timeout, 'spin').  --busy-poll US sets SO_BUSY_POLL: each empty read
 * then also polls the device's receive queue in the kernel for up to US µs (where the socket
 * has a NAPI id: veth with GRO on, a NIC; `lo` has none and it changes nothing there).
 * --no-rxq-ovfl leaves SO_RXQ_OVFL off (kernel_drops then comes from SO_MEMINFO alone): what
 * asking for the drop counter costs.
 * --gro sets UDP_GRO and reads into 64 KiB slots (--size is ignored): a receive may then hold
 * several datagrams of one flow merged (a GSO sender on lo, a NIC or veth with GRO), which are
 * counted and sequence-checked one by one at the segment size of the UDP_GRO cmsg.
 * Errors: "mc_recv: <call>: <strerror>" on stderr, exit 1 (usage errors exit 2).
 * SIGINT/SIGTERM stop the run; the JSON line is still printed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif
#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif
#ifndef SO_BUSY_POLL
#define SO_BUSY_POLL 46
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

#define PROG "mc_recv"
#define MAX_BATCH 1024        /* kernel caps recvmmsg vlen at UIO_MAXIOV (1024) */
#define WIN_BITS (1u << 20)   /* reorder/duplicate window, in sequence numbers */
#define NS 1000000000ULL

enum mode { MODE_LIVE, MODE_DRAIN };
/* --metadata parts */
enum { META_NAME = 1, META_PKTINFO = 2, META_TTL = 4, META_ALL = 7 };

struct opts {
    const char *group;
    unsigned port;
    const char *iface_addr;
    unsigned ifindex;
    int family;
    unsigned batch;
    size_t size;
    uint64_t rcvbuf;      /* 0 = kernel default */
    uint64_t count;       /* 0 = unlimited */
    unsigned idle_ms;
    unsigned first_ms;
    enum mode mode;
    const char *go_file;
    int cpu;
    int latency;
    unsigned metadata;    /* --metadata: META_* bits, what to ask for with every datagram */
    uint64_t max_samples; /* latency array capacity when --count is not given */
    int gro;              /* --gro: UDP_GRO, 64 KiB slots, merged receives split by segment size */
    int spin;             /* --spin: live mode without poll(), reads in a loop */
    int busy_poll;        /* --busy-poll US: SO_BUSY_POLL (0: not set) */
    int no_rxq_ovfl;      /* --no-rxq-ovfl: do not ask for SO_RXQ_OVFL (what it costs) */
};

struct rx {
    int fd;
    unsigned batch;
    size_t size;
    char *bufs;
    char *ctrl;           /* one control buffer per slot, for the SO_RXQ_OVFL cmsg */
    size_t ctrl_size;     /* bytes per slot: CTRL_SIZE, or CTRL_SIZE_METADATA */
    struct sockaddr_storage *names; /* --metadata: source address per slot */
    struct iovec *iov;
    struct mmsghdr *msgs;
    /* statistics */
    uint64_t received, bytes, drops, gaps, reordered, dups, truncated;
    int gro;              /* --gro: report how many receives came merged */
    uint64_t gro_receives, gro_datagrams; /* receives holding several datagrams, and those datagrams */
    uint64_t min_seq, max_seq;
    int have_seq;
    uint8_t *window;      /* bit (seq % WIN_BITS) = seen, for seqs in (max_seq-WIN_BITS, max_seq] */
    uint64_t first_ns, last_ns; /* CLOCK_MONOTONIC of the first/last receiving call */
    int64_t *lat;         /* latency samples, ns */
    uint64_t lat_n, lat_cap;
};

#define CTRL_SIZE CMSG_SPACE(sizeof(uint32_t))
#define CTRL_SIZE_METADATA 256

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
            "usage: %s --group A --port P [--ifindex N | --iface-addr A] [--family 4|6]\n"
            "       [--batch N] [--size B] [--rcvbuf B] [--count N] [--idle-ms MS]\n"
            "       [--first-timeout-ms MS] [--mode drain|live] [--go-file PATH]\n"
            "       [--cpu N] [--latency] [--max-samples N] [--metadata[=name,pktinfo,ttl]] [--gro]\n"
            "       [--spin] [--busy-poll US] [--no-rxq-ovfl]\n",
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

static void parse_mode(struct opts *o, const char *s)
{
    if (!strcmp(s, "drain"))
        o->mode = MODE_DRAIN;
    else if (!strcmp(s, "live"))
        o->mode = MODE_LIVE;
    else
        usage_error("--mode must be drain or live");
}

/* "name,pktinfo,ttl" (any of them, in any order) to META_* bits */
static unsigned parse_metadata(const char *list)
{
    static const struct { const char *word; unsigned bit; } parts[] = {
        {"name", META_NAME}, {"pktinfo", META_PKTINFO}, {"ttl", META_TTL}};
    unsigned bits = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        unsigned found = 0;
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
            if (len == strlen(parts[i].word) && !strncmp(p, parts[i].word, len))
                found = parts[i].bit;
        if (!found)
            usage_error("--metadata takes a comma list of name, pktinfo and ttl");
        bits |= found;
        p += len;
        if (*p == ',')
            p++;
    }
    if (!bits)
        usage_error("--metadata= needs at least one of name, pktinfo and ttl");
    return bits;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"group", required_argument, 0, 'g'},   {"port", required_argument, 0, 'p'},
        {"ifindex", required_argument, 0, 'i'}, {"iface-addr", required_argument, 0, 'a'},
        {"family", required_argument, 0, 'f'},  {"batch", required_argument, 0, 'b'},
        {"size", required_argument, 0, 's'},    {"rcvbuf", required_argument, 0, 'R'},
        {"count", required_argument, 0, 'n'},   {"idle-ms", required_argument, 0, 'I'},
        {"mode", required_argument, 0, 'm'},    {"go-file", required_argument, 0, 'G'},
        {"cpu", required_argument, 0, 'c'},     {"latency", no_argument, 0, 'L'},
        {"max-samples", required_argument, 0, 'M'}, {"metadata", optional_argument, 0, 'D'},
        {"first-timeout-ms", required_argument, 0, 'F'}, {"gro", no_argument, 0, 'O'},
        {"spin", no_argument, 0, 'S'},          {"busy-poll", required_argument, 0, 'B'},
        {"no-rxq-ovfl", no_argument, 0, 'X'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    *o = (struct opts){.family = 4, .batch = 1, .size = 2048, .idle_ms = 1000,
                       .first_ms = 10000, .mode = MODE_LIVE, .cpu = -1,
                       .max_samples = 4u << 20};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'g': o->group = optarg; break;
        case 'p': o->port = (unsigned)parse_u64("port", optarg, 1, 65535); break;
        case 'i': o->ifindex = (unsigned)parse_u64("ifindex", optarg, 1, INT32_MAX); break;
        case 'a': o->iface_addr = optarg; break;
        case 'f': o->family = (int)parse_u64("family", optarg, 4, 6); break;
        case 'b': o->batch = (unsigned)parse_u64("batch", optarg, 1, MAX_BATCH); break;
        case 's': o->size = parse_u64("size", optarg, 16, 65536); break;
        case 'R': o->rcvbuf = parse_u64("rcvbuf", optarg, 1, INT32_MAX / 2); break;
        case 'n': o->count = parse_u64("count", optarg, 1, UINT64_MAX / 2); break;
        case 'I': o->idle_ms = (unsigned)parse_u64("idle-ms", optarg, 1, INT32_MAX); break;
        case 'F': o->first_ms = (unsigned)parse_u64("first-timeout-ms", optarg, 1, INT32_MAX); break;
        case 'm': parse_mode(o, optarg); break;
        case 'G': o->go_file = optarg; break;
        case 'c': o->cpu = (int)parse_u64("cpu", optarg, 0, CPU_SETSIZE - 1); break;
        case 'L': o->latency = 1; break;
        case 'D': o->metadata = optarg ? parse_metadata(optarg) : META_ALL; break;
        case 'M': o->max_samples = parse_u64("max-samples", optarg, 1, 1ull << 31); break;
        case 'O': o->gro = 1; break;
        case 'S': o->spin = 1; break;
        case 'X': o->no_rxq_ovfl = 1; break;
        case 'B': o->busy_poll = (int)parse_u64("busy-poll", optarg, 0, 1000000); break;
        case 'h': usage_error(NULL);
        default: usage_error("unknown option");
        }
    }
    if (optind != argc) usage_error("unexpected argument");
    if (!o->group || !o->port) usage_error("--group and --port are required");
    if (o->family == 5) usage_error("--family must be 4 or 6");
    if (o->iface_addr && o->ifindex) usage_error("give only one of --ifindex, --iface-addr");
    if (o->family == 6 && o->iface_addr) usage_error("--iface-addr is IPv4 only; use --ifindex");
    if (o->mode == MODE_DRAIN && !o->go_file) usage_error("--mode drain needs --go-file");
    if (o->gro) o->size = 65536; /* a merged receive holds up to 64 KiB */
}

static void pin_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        die("sched_setaffinity");
}

static void set_int(int fd, int level, int name, int val, const char *what)
{
    if (setsockopt(fd, level, name, &val, sizeof val) < 0)
        die(what);
}

/*
 * SO_RCVBUF is capped at net.core.rmem_max (and the kernel doubles the value for skb
 * overhead); SO_RCVBUFFORCE (CAP_NET_ADMIN) ignores the cap.  Fall back when not allowed.
 */
static void set_rcvbuf(int fd, uint64_t bytes)
{
    int v = (int)bytes;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) == 0)
        return;
    if (errno != EPERM)
        die("setsockopt(SO_RCVBUFFORCE)");
    set_int(fd, SOL_SOCKET, SO_RCVBUF, v, "setsockopt(SO_RCVBUF)");
}

static int get_rcvbuf(int fd)
{
    int v;
    socklen_t len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) < 0)
        die("getsockopt(SO_RCVBUF)");
    return v;
}

/* Parse the group; the socket is bound to group:port so other groups on the port are not seen. */
static socklen_t group_addr(const struct opts *o, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (o->family == 6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)o->port);
        a->sin6_scope_id = o->ifindex; /* required to bind a link-local scope group */
        if (inet_pton(AF_INET6, o->group, &a->sin6_addr) != 1 ||
            !IN6_IS_ADDR_MULTICAST(&a->sin6_addr))
            usage_error("--group must be an IPv6 multicast address (ff00::/8)");
        return sizeof *a;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->group, &a->sin_addr) != 1 || !IN_MULTICAST(ntohl(a->sin_addr.s_addr)))
        usage_error("--group must be an IPv4 multicast address (224.0.0.0/4)");
    return sizeof *a;
}

/* Join by interface index (protocol independent group_req) or by IPv4 interface address. */
static void join(int fd, const struct opts *o, const struct sockaddr_storage *grp)
{
    int level = o->family == 6 ? IPPROTO_IPV6 : IPPROTO_IP;
    if (o->iface_addr) {
        struct ip_mreq m = {.imr_multiaddr = ((const struct sockaddr_in *)grp)->sin_addr};
        if (inet_pton(AF_INET, o->iface_addr, &m.imr_interface) != 1)
            usage_error("bad --iface-addr");
        if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) < 0)
            die("setsockopt(IP_ADD_MEMBERSHIP)");
        return;
    }
    /* ifindex 0 lets the kernel pick the interface from the route to the group */
    struct group_req gr = {.gr_interface = o->ifindex};
    memcpy(&gr.gr_group, grp, sizeof *grp);
    if (setsockopt(fd, level, MCAST_JOIN_GROUP, &gr, sizeof gr) < 0)
        die("setsockopt(MCAST_JOIN_GROUP)");
}

static int open_socket(const struct opts *o)
{
    struct sockaddr_storage grp;
    socklen_t glen = group_addr(o, &grp);
    int fd = socket(o->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        die("socket");
    set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
    /* default 1 = deliver every group joined by ANY socket on this port; we want only ours */
    if (o->family == 6)
        set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, "setsockopt(IPV6_MULTICAST_ALL)");
    else
        set_int(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, "setsockopt(IP_MULTICAST_ALL)");
    /* every datagram then carries the socket's cumulative drop counter as a u32 cmsg
     * (the kernel only attaches it once the counter is non-zero) */
    if (!o->no_rxq_ovfl)
        set_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 1, "setsockopt(SO_RXQ_OVFL)");
    if ((o->metadata & META_PKTINFO) && o->family == 6)
        set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "setsockopt(IPV6_RECVPKTINFO)");
    else if (o->metadata & META_PKTINFO)
        set_int(fd, IPPROTO_IP, IP_PKTINFO, 1, "setsockopt(IP_PKTINFO)");
    if ((o->metadata & META_TTL) && o->family == 6)
        set_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "setsockopt(IPV6_RECVHOPLIMIT)");
    else if (o->metadata & META_TTL)
        set_int(fd, IPPROTO_IP, IP_RECVTTL, 1, "setsockopt(IP_RECVTTL)");
    if (o->gro)
        set_int(fd, SOL_UDP, UDP_GRO, 1, "setsockopt(UDP_GRO)");
    if (o->busy_poll)
        set_int(fd, SOL_SOCKET, SO_BUSY_POLL, o->busy_poll, "setsockopt(SO_BUSY_POLL)");
    if (o->rcvbuf)
        set_rcvbuf(fd, o->rcvbuf);
    if (bind(fd, (struct sockaddr *)&grp, glen) < 0)
        die("bind");
    join(fd, o, &grp);
    return fd;
}

/* Allocate and touch everything up front so no page fault lands inside the measurement. */
static void *alloc_touched(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("malloc");
    memset(p, 0, n);
    return p;
}

static void setup_rx(struct rx *r, const struct opts *o)
{
    r->batch = o->batch;
    r->size = o->size;
    r->bufs = alloc_touched((size_t)r->batch * r->size);
    r->ctrl_size = o->metadata || o->gro ? CTRL_SIZE_METADATA : CTRL_SIZE;
    r->gro = o->gro;
    r->ctrl = alloc_touched((size_t)r->batch * r->ctrl_size);
    r->names = (o->metadata & META_NAME) ? alloc_touched(r->batch * sizeof *r->names) : NULL;
    r->iov = alloc_touched(r->batch * sizeof *r->iov);
    r->msgs = alloc_touched(r->batch * sizeof *r->msgs);
    r->window = alloc_touched(WIN_BITS / 8);
    for (unsigned i = 0; i < r->batch; i++) {
        r->iov[i] = (struct iovec){.iov_base = r->bufs + (size_t)i * r->size, .iov_len = r->size};
        r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
        r->msgs[i].msg_hdr.msg_iovlen = 1;
        r->msgs[i].msg_hdr.msg_name = r->names ? &r->names[i] : NULL;
    }
    if (o->latency) {
        /* one int64 per datagram, capped by --max-samples (default 4 Mi = 32 MiB) */
        r->lat_cap = o->count && o->count < o->max_samples ? o->count : o->max_samples;
        r->lat = alloc_touched(r->lat_cap * sizeof *r->lat);
    }
}

static int win_test(const struct rx *r, uint64_t s) { return r->window[(s % WIN_BITS) >> 3] >> (s & 7) & 1; }
static void win_set(struct rx *r, uint64_t s) { r->window[(s % WIN_BITS) >> 3] |= (uint8_t)(1u << (s & 7)); }
static void win_clear(struct rx *r, uint64_t s) { r->window[(s % WIN_BITS) >> 3] &= (uint8_t)~(1u << (s & 7)); }

/* max_seq moves forward to s: forget the bits of seqs that leave the window. */
static void advance_to(struct rx *r, uint64_t s)
{
    if (s - r->max_seq >= WIN_BITS)
        memset(r->window, 0, WIN_BITS / 8);
    else
        for (uint64_t q = r->max_seq + 1; q <= s; q++)
            win_clear(r, q);
    r->gaps += s - r->max_seq - 1;
    r->max_seq = s;
}

/* A seq at or below max_seq: a duplicate, or a late datagram that fills a gap. */
static void late_seq(struct rx *r, uint64_t s)
{
    int in_window = r->max_seq - s < WIN_BITS;
    if (in_window && win_test(r, s)) {
        r->dups++;
        return;
    }
    r->reordered++;
    if (s < r->min_seq) { /* older than anything seen: the gap grows at the bottom */
        r->gaps += r->min_seq - s - 1;
        r->min_seq = s;
    } else if (r->gaps) {
        r->gaps--;
    }
    if (in_window)
        win_set(r, s);
}

static void track_seq(struct rx *r, uint64_t s)
{
    if (!r->have_seq) {
        r->have_seq = 1;
        r->min_seq = r->max_seq = s;
        win_set(r, s);
    } else if (s > r->max_seq) {
        advance_to(r, s);
        win_set(r, s);
    } else {
        late_seq(r, s);
    }
}

static uint64_t get_le64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

/* The kernel sets msg_controllen to 0 unless the drop counter is non-zero (or, with --gro, a
 * receive carried merged datagrams). Returns the GRO segment size, 0 when none came. */
static unsigned read_drops(struct rx *r, struct msghdr *mh)
{
    unsigned segment = 0;
    if (mh->msg_controllen == 0)
        return 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
            uint32_t d;
            memcpy(&d, CMSG_DATA(c), sizeof d);
            r->drops = d; /* cumulative since socket creation */
        } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int g;
            memcpy(&g, CMSG_DATA(c), sizeof g);
            segment = g > 0 ? (unsigned)g : 0;
        }
    }
    return segment;
}

/*
 * The cmsg counter is the value when the datagram carrying it was queued, so drops after
 * the last datagram we read (e.g. the tail of an overfilled drain queue) never show up in
 * a cmsg.  SO_MEMINFO[SK_MEMINFO_DROPS] (Linux >= 4.15) is the same counter, read now.
 */
static uint64_t final_drops(const struct rx *r)
{
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t len = sizeof mem;
    if (getsockopt(r->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0) {
        if (errno == ENOPROTOOPT)
            return r->drops; /* old kernel: the cmsg value is all we have */
        die("getsockopt(SO_MEMINFO)");
    }
    if (len < (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t) || mem[SK_MEMINFO_DROPS] < r->drops)
        return r->drops;
    return mem[SK_MEMINFO_DROPS];
}

static void account(struct rx *r, unsigned n, uint64_t rt_now)
{
    for (unsigned i = 0; i < n; i++) {
        struct msghdr *mh = &r->msgs[i].msg_hdr;
        unsigned len = r->msgs[i].msg_len;
        const char *p = r->iov[i].iov_base;
        if (mh->msg_flags & MSG_TRUNC) /* datagram was larger than --size; len is what fit */
            r->truncated++;
        unsigned segment = read_drops(r, mh);
        if (segment == 0 || segment >= len)
            segment = len ? len : 1;
        else {
            r->gro_receives++;
            r->gro_datagrams += (len + segment - 1) / segment;
        }
        /* one datagram, or (UDP_GRO) several of `segment` bytes back to back, the last shorter */
        for (unsigned off = 0; off < len || (len == 0 && off == 0); off += segment) {
            unsigned part = len - off < segment ? len - off : segment;
            r->bytes += part;
            r->received++;
            if (part < 16)
                continue;
            track_seq(r, get_le64(p + off));
            if (r->lat && r->lat_n < r->lat_cap)
                r->lat[r->lat_n++] = (int64_t)(rt_now - get_le64(p + off + 8));
        }
    }
}

/*
 * One non-blocking receive call for up to vlen datagrams.  The kernel overwrites
 * msg_controllen with the length it used (0 without a cmsg), so reset it before each call.
 * With MSG_DONTWAIT recvmmsg returns the datagrams queued so far, -1/EAGAIN if none.
 * Returns the count, 0 on EAGAIN, -1 on EINTR.
 */
static int recv_some(struct rx *r, unsigned vlen)
{
    for (unsigned i = 0; i < vlen; i++) {
        r->msgs[i].msg_hdr.msg_control = r->ctrl + (size_t)i * r->ctrl_size;
        r->msgs[i].msg_hdr.msg_controllen = r->ctrl_size;
        r->msgs[i].msg_hdr.msg_namelen = r->names ? sizeof *r->names : 0;
    }
    int n;
    if (r->batch == 1) {
        ssize_t len = recvmsg(r->fd, &r->msgs[0].msg_hdr, MSG_DONTWAIT);
        if (len >= 0)
            r->msgs[0].msg_len = (unsigned)len;
        n = len < 0 ? -1 : 1;
    } else {
        n = recvmmsg(r->fd, r->msgs, vlen, MSG_DONTWAIT, NULL);
    }
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    if (errno == EINTR)
        return -1;
    die(r->batch == 1 ? "recvmsg" : "recvmmsg");
}

static unsigned next_vlen(const struct rx *r, uint64_t count)
{
    if (count && count - r->received < r->batch)
        return (unsigned)(count - r->received);
    return r->batch;
}

/* Read until the queue is empty (EAGAIN) or count is reached.  Returns 1 when done by count. */
static int read_burst(struct rx *r, uint64_t count, int stamp)
{
    for (;;) {
        if (g_stop)
            return 1;
        if (count && r->received >= count)
            return 1;
        int n = recv_some(r, next_vlen(r, count));
        if (n == 0)
            return 0;
        if (n < 0)
            continue;
        uint64_t rt = r->lat ? clock_ns(CLOCK_REALTIME) : 0;
        if (stamp) {
            r->last_ns = clock_ns(CLOCK_MONOTONIC);
            if (r->first_ns == 0)
                r->first_ns = r->last_ns;
        }
        account(r, (unsigned)n, rt);
    }
}

/* Poll for the go file every 1 ms (CPU is measured only after it appears). */
static void wait_for_file(const char *path)
{
    struct stat st;
    struct timespec ts = {0, 1000000};
    while (stat(path, &st) < 0) {
        if (errno != ENOENT)
            die("stat(--go-file)");
        if (g_stop)
            return;
        nanosleep(&ts, NULL);
    }
}

/* drain: the whole queue was filled before the go file; time from go to EAGAIN. */
static double run_drain(struct rx *r, const struct opts *o, double *cpu)
{
    wait_for_file(o->go_file);
    double cpu0 = cpu_seconds();
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
    read_burst(r, o->count, 0);
    uint64_t t1 = clock_ns(CLOCK_MONOTONIC);
    *cpu = cpu_seconds() - cpu0;
    return (double)(t1 - t0) / 1e9;
}

/* live: level-triggered poll, then drain to EAGAIN (what libuv's uv_udp does). */
static double run_live(struct rx *r, const struct opts *o, double *cpu)
{
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    double cpu0 = cpu_seconds(); /* idle time in poll costs no CPU */
    for (;;) {
        int timeout = r->received ? (int)o->idle_ms : (int)o->first_ms;
        int n = poll(&p, 1, timeout);
        if (n < 0 && errno != EINTR)
            die("poll");
        if (g_stop || n == 0)
            break;
        if (n > 0 && read_burst(r, o->count, 1))
            break;
    }
    *cpu = cpu_seconds() - cpu0;
    return (double)(r->last_ns - r->first_ns) / 1e9;
}

/* --spin: live without poll(): read to EAGAIN, again at once, on a whole core.  Stops after
 * --count datagrams or --idle-ms without data (--first-timeout-ms before the first). */
static double run_spin(struct rx *r, const struct opts *o, double *cpu)
{
    double cpu0 = cpu_seconds();
    uint64_t idle_since = clock_ns(CLOCK_MONOTONIC);
    for (;;) {
        uint64_t before = r->received;
        if (read_burst(r, o->count, 1) || g_stop)
            break;
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        uint64_t limit_ms = r->received ? o->idle_ms : o->first_ms;
        if (r->received != before)
            idle_since = now;
        else if (now - idle_since >= limit_ms * 1000000ull)
            break;
    }
    *cpu = cpu_seconds() - cpu0;
    return (double)(r->last_ns - r->first_ns) / 1e9;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* nearest-rank percentile of sorted samples, in microseconds */
static double pct_us(const int64_t *v, uint64_t n, double p)
{
    uint64_t rank = (uint64_t)(p * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1e3;
}

static void print_seq(const char *key, const struct rx *r, uint64_t v)
{
    if (r->have_seq)
        printf(",\"%s\":%llu", key, (unsigned long long)v);
    else
        printf(",\"%s\":null", key);
}

static void report(struct rx *r, double secs, double cpu, int rcvbuf)
{
    double pps = secs > 0 ? (double)r->received / secs : 0.0;
    double nspp = r->received ? cpu * 1e9 / (double)r->received : 0.0;
    printf("{\"received\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"pps\":%.1f,"
           "\"cpu_seconds\":%.6f,\"cpu_ns_per_packet\":%.1f,\"kernel_drops\":%llu,"
           "\"gaps\":%llu,\"reordered\":%llu,\"duplicates\":%llu,\"truncated\":%llu",
           (unsigned long long)r->received, (unsigned long long)r->bytes, secs, pps, cpu, nspp,
           (unsigned long long)r->drops, (unsigned long long)r->gaps,
           (unsigned long long)r->reordered, (unsigned long long)r->dups,
           (unsigned long long)r->truncated);
    print_seq("first_seq", r, r->min_seq);
    print_seq("last_seq", r, r->max_seq);
    printf(",\"batch\":%u,\"rcvbuf\":%d", r->batch, rcvbuf);
    if (r->gro) /* as mcast's stats().groReceives / groDatagrams */
        printf(",\"gro_receives\":%llu,\"gro_datagrams\":%llu", (unsigned long long)r->gro_receives,
               (unsigned long long)r->gro_datagrams);
    if (r->lat) {
        qsort(r->lat, r->lat_n, sizeof *r->lat, cmp_i64);
        if (r->lat_n)
            printf(",\"latency_us\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"samples\":%llu}",
                   pct_us(r->lat, r->lat_n, 0.5), pct_us(r->lat, r->lat_n, 0.99),
                   pct_us(r->lat, r->lat_n, 0.999), (unsigned long long)r->lat_n);
        else
            printf(",\"latency_us\":{\"p50\":null,\"p99\":null,\"p999\":null,\"samples\":0}");
    }
    printf("}\n");
    if (fflush(stdout) != 0)
        die("write(stdout)");
}

static void install_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: interrupt poll */
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        die("sigaction");
}

int main(int argc, char **argv)
{
    struct opts o;
    struct rx r = {0};
    parse_args(argc, argv, &o);
    install_signals();
    if (o.cpu >= 0)
        pin_cpu(o.cpu);
    r.fd = open_socket(&o);
    setup_rx(&r, &o);
    int rcvbuf = get_rcvbuf(r.fd);

    printf("READY\n");
    if (fflush(stdout) != 0)
        die("write(stdout)");

    double cpu = 0;
    double secs = o.mode == MODE_DRAIN ? run_drain(&r, &o, &cpu)
                  : o.spin              ? run_spin(&r, &o, &cpu)
                                        : run_live(&r, &o, &cpu);
    r.drops = final_drops(&r);
    report(&r, secs, cpu, rcvbuf);
    close(r.fd);
    return 0;
}

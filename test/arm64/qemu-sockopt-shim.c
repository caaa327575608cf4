/*
 * Test-only: fills the holes of qemu-user's setsockopt translation for test/arm64/run.mjs.
 *
 * qemu-user (7.2, Debian 12) translates each socket option it knows between the guest and the
 * host, and answers ENOPROTOOPT, without asking the kernel, for the rest. mcast sets four of the
 * rest: MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP, IP_MULTICAST_IF (an open qemu issue, #1837; libuv
 * skips its multicast-interface test under qemu for it), IP_MULTICAST_ALL and SO_RXQ_OVFL. This
 * library, LD_PRELOADed into the emulated (arm64) node only, passes every call through unchanged
 * and steps in only on that ENOPROTOOPT:
 *   MCAST_JOIN_GROUP / MCAST_LEAVE_GROUP (IPv4)  -> IP_ADD / IP_DROP_MEMBERSHIP of the same group
 *                                                  and interface index: the same kernel
 *                                                  membership, in a form qemu knows. qemu takes
 *                                                  the index from an ip_mreqn only at the size of
 *                                                  its own definition (a long index: 16 bytes on
 *                                                  arm64), and the kernel reads the first 12
 *                                                  bytes of that on any arm64 Linux.
 *   IP_MULTICAST_IF (an index, or an address)    -> SO_BINDTODEVICE to that interface: the same
 *                                                  outgoing interface for the multicast sends
 *                                                  (the source address of those on lo reads
 *                                                  0.0.0.0 then: only IP_MULTICAST_IF makes the
 *                                                  kernel pick lo's host-scope 127.0.0.1)
 *   IP_MULTICAST_ALL, SO_RXQ_OVFL                -> reported as done (nothing can reach the kernel)
 * and, before the call, IP_ADD / IP_DROP_MEMBERSHIP with an ip_mreqn (mcast/dgram's join by
 * interface address, as libuv makes it) -> the same ip_mreqn in qemu's 16-byte layout (see above).
 * Each step-in is appended to $MCAST_QEMU_SHIM_LOG; the test accepts exactly these and fails on
 * any other option that needed one. Nothing here is part of the package.
 *
 * The emulated program's children run through qemu again (binfmt_misc), which sets LD_PRELOAD
 * for them from QEMU_SET_ENV; the constructor removes it from this process's environment so that
 * the x64 programs it starts (sh, unshare) are not handed an arm64 library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

__attribute__((constructor)) static void drop_preload(void) { unsetenv("LD_PRELOAD"); }

static void note(const char *what) {
  const char *path = getenv("MCAST_QEMU_SHIM_LOG");
  if (path == NULL) return;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char line[160];
  int n = snprintf(line, sizeof line, "%s\n", what);
  if (n > 0) (void)!write(fd, line, (size_t)n);
  close(fd);
}

/* The index of the interface that has IPv4 `address`. */
static int interface_of(struct in_addr address, int *index) {
  struct ifaddrs *list, *a;
  if (getifaddrs(&list) != 0) return 0;
  *index = 0;
  for (a = list; a != NULL && *index == 0; a = a->ifa_next) {
    if (a->ifa_addr != NULL && a->ifa_addr->sa_family == AF_INET &&
        ((const struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr == address.s_addr) {
      *index = (int)if_nametoindex(a->ifa_name);
    }
  }
  freeifaddrs(list);
  return *index > 0;
}

int setsockopt(int fd, int level, int name, const void *value, socklen_t length) {
  static setsockopt_fn real;
  if (real == NULL) real = (setsockopt_fn)dlsym(RTLD_NEXT, "setsockopt");
  if (level == IPPROTO_IP && (name == IP_ADD_MEMBERSHIP || name == IP_DROP_MEMBERSHIP) &&
      length == sizeof(struct ip_mreqn)) {
    // qemu knows IP_ADD_MEMBERSHIP, but reads an ip_mreqn only at the size of its own definition
    // (a long index: 16 bytes on arm64); at the real 12 bytes it passes the host an uninitialised
    // index (ENODEV). The same membership in qemu's layout, which it converts correctly.
    const struct ip_mreqn *in = value;
    struct {
      struct in_addr imr_multiaddr, imr_address;
      long imr_ifindex;
    } wide;
    memset(&wide, 0, sizeof wide);
    wide.imr_multiaddr = in->imr_multiaddr;
    wide.imr_address = in->imr_address;
    wide.imr_ifindex = in->imr_ifindex;
    note("ip_mreqn in qemu's layout");
    return real(fd, level, name, &wide, sizeof wide);
  }
  int result = real(fd, level, name, value, length);
  if (result == 0 || errno != ENOPROTOOPT) return result;

  if (level == IPPROTO_IP && (name == MCAST_JOIN_GROUP || name == MCAST_LEAVE_GROUP) &&
      length >= sizeof(struct group_req)) {
    const struct group_req *req = value;
    if (req->gr_group.ss_family != AF_INET) return result;
    struct {
      struct in_addr imr_multiaddr, imr_address;
      long imr_ifindex;
    } mreq;
    memset(&mreq, 0, sizeof mreq);
    mreq.imr_multiaddr = ((const struct sockaddr_in *)&req->gr_group)->sin_addr;
    mreq.imr_ifindex = (long)req->gr_interface;
    int op = name == MCAST_JOIN_GROUP ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP;
    note(name == MCAST_JOIN_GROUP ? "MCAST_JOIN_GROUP as IP_ADD_MEMBERSHIP" : "MCAST_LEAVE_GROUP as IP_DROP_MEMBERSHIP");
    return real(fd, IPPROTO_IP, op, &mreq, sizeof mreq);
  }
  if (level == IPPROTO_IP && name == IP_MULTICAST_IF && length >= sizeof(struct in_addr)) {
    // ip_mreqn (index, or address when the index is 0), ip_mreq or in_addr: the address comes
    // first in the last two and second in the first.
    char ifname[IF_NAMESIZE];
    const struct ip_mreqn *mreqn = value;
    int index = length >= sizeof(struct ip_mreqn) ? mreqn->imr_ifindex : 0;
    struct in_addr address = length >= sizeof(struct ip_mreqn) ? mreqn->imr_address : *(const struct in_addr *)value;
    if (index <= 0 && !interface_of(address, &index)) return result;
    if (if_indextoname((unsigned)index, ifname) == NULL) return result;
    note("IP_MULTICAST_IF as SO_BINDTODEVICE");
    return real(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname));
  }
  if ((level == IPPROTO_IP && name == IP_MULTICAST_ALL) || (level == SOL_SOCKET && name == SO_RXQ_OVFL)) {
    note(name == IP_MULTICAST_ALL ? "IP_MULTICAST_ALL passed over" : "SO_RXQ_OVFL passed over");
    return 0;
  }
  char other[64];
  snprintf(other, sizeof other, "UNHANDLED level %d option %d", level, name);
  note(other);
  errno = ENOPROTOOPT;
  return result;
}

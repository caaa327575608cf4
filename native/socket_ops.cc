#include "socket_ops.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "linux_options.h"
#include "sys_compat.h"


namespace mcast {

namespace {

int SetOpt(int fd, int level, int name, const void* value, socklen_t len) {
  return setsockopt(fd, level, name, value, len) == 0 ? 0 : errno;
}

}  // namespace

bool ParseAddress(int family, const char* text, uint16_t port, uint32_t scope_id, SockAddr* out) {
  *out = SockAddr{};
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out->storage);
    if (inet_pton(AF_INET, text, &sin->sin_addr) != 1) return false;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    out->length = sizeof(sockaddr_in);
    return true;
  }
  if (family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
    if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1) return false;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_scope_id = scope_id;
    out->length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

bool FormatAddress(const sockaddr* addr, char* buf, size_t buf_len, uint16_t* port) {
  if (addr->sa_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(addr);
    *port = ntohs(sin->sin_port);
    return inet_ntop(AF_INET, &sin->sin_addr, buf, static_cast<socklen_t>(buf_len)) != nullptr;
  }
  if (addr->sa_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(addr);
    *port = ntohs(sin6->sin6_port);
    return inet_ntop(AF_INET6, &sin6->sin6_addr, buf, static_cast<socklen_t>(buf_len)) != nullptr;
  }
  return false;
}

// Options that must be in place before bind(), and the control messages every datagram carries.
static int PrepareSocket(int fd, const OpenOptions& o, const char** failed_call) {
  struct Step {
    bool wanted;  // whether this socket needs the option at all (family, user's choice)
    int level;
    int name;
    int value;
    const char* call;
  };
  const bool v6 = o.family == AF_INET6;
  const Step steps[] = {
      {o.reuse_addr, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)"},
      {o.reuse_port, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)"},
      // Without this an IPv6 wildcard socket would also take IPv4 traffic of the port.
      {v6 && o.v6only, IPPROTO_IPV6, IPV6_V6ONLY, 1, "setsockopt(IPV6_V6ONLY)"},
      // The kernel default (1) delivers every group joined by any socket on the host to every
      // socket bound to the port: the cross-talk multi-homed receivers must not see.
      {!v6, IPPROTO_IP, IP_MULTICAST_ALL, o.multicast_all ? 1 : 0, "setsockopt(IP_MULTICAST_ALL)"},
      {v6, IPPROTO_IPV6, IPV6_MULTICAST_ALL, o.multicast_all ? 1 : 0,
       "setsockopt(IPV6_MULTICAST_ALL)"},
      {!v6, IPPROTO_IP, IP_PKTINFO, 1, "setsockopt(IP_PKTINFO)"},
      {v6, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "setsockopt(IPV6_RECVPKTINFO)"},
      {!v6 && o.recv_ttl, IPPROTO_IP, IP_RECVTTL, 1, "setsockopt(IP_RECVTTL)"},
      {v6 && o.recv_ttl, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "setsockopt(IPV6_RECVHOPLIMIT)"},
      {true, SOL_SOCKET, SO_RXQ_OVFL, 1, "setsockopt(SO_RXQ_OVFL)"},
      // Without IP_RECVERR the kernel hides ENOBUFS (a full device queue dropped the datagram)
      // from UDP senders and reports success: with it, sendmmsg says so.
      {!v6, IPPROTO_IP, IP_RECVERR, 1, "setsockopt(IP_RECVERR)"},
      {v6, IPPROTO_IPV6, IPV6_RECVERR, 1, "setsockopt(IPV6_RECVERR)"},
      {o.timestamps, SOL_SOCKET, SO_TIMESTAMPNS, 1, "setsockopt(SO_TIMESTAMPNS)"},
  };
  for (const Step& s : steps) {
    if (!s.wanted) continue;
    int err = SetIntOption(fd, s.level, s.name, s.value);
    if (err != 0) {
      *failed_call = s.call;
      return err;
    }
  }
  return 0;
}

int OpenBoundSocket(const OpenOptions& options, const SockAddr& bind_addr, int* fd_out,
                    const char** failed_call) {
  *fd_out = -1;
  int fd = socket(options.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) {
    *failed_call = "socket";
    return errno;
  }
  int err = PrepareSocket(fd, options, failed_call);
  if (err == 0 && bind(fd, bind_addr.get(), bind_addr.length) != 0) {
    err = errno;
    *failed_call = "bind";
  }
  if (err != 0) {
    close(fd);
    return err;
  }
  *fd_out = fd;
  return 0;
}

namespace {

// One row per operation: RFC 3678's protocol-independent option, and the IPv4-only option that
// takes the interface by address (ip_mreqn / ip_mreq_source).
struct MembershipOption {
  const char* label;
  const char* ipv4_label;
  int name;
  int ipv4_name;
};

const MembershipOption kMembershipOptions[] = {
    {"setsockopt(MCAST_JOIN_GROUP)", "setsockopt(IP_ADD_MEMBERSHIP)",
     MCAST_JOIN_GROUP, IP_ADD_MEMBERSHIP},
    {"setsockopt(MCAST_LEAVE_GROUP)", "setsockopt(IP_DROP_MEMBERSHIP)",
     MCAST_LEAVE_GROUP, IP_DROP_MEMBERSHIP},
    {"setsockopt(MCAST_JOIN_SOURCE_GROUP)", "setsockopt(IP_ADD_SOURCE_MEMBERSHIP)",
     MCAST_JOIN_SOURCE_GROUP, IP_ADD_SOURCE_MEMBERSHIP},
    {"setsockopt(MCAST_LEAVE_SOURCE_GROUP)", "setsockopt(IP_DROP_SOURCE_MEMBERSHIP)",
     MCAST_LEAVE_SOURCE_GROUP, IP_DROP_SOURCE_MEMBERSHIP},
    {"setsockopt(MCAST_BLOCK_SOURCE)", "setsockopt(IP_BLOCK_SOURCE)",
     MCAST_BLOCK_SOURCE, IP_BLOCK_SOURCE},
    {"setsockopt(MCAST_UNBLOCK_SOURCE)", "setsockopt(IP_UNBLOCK_SOURCE)",
     MCAST_UNBLOCK_SOURCE, IP_UNBLOCK_SOURCE},
};

const MembershipOption& OptionOf(MembershipOp op) {
  return kMembershipOptions[static_cast<int>(op)];
}

in_addr IPv4Of(const SockAddr& addr) {
  return reinterpret_cast<const sockaddr_in*>(&addr.storage)->sin_addr;
}

}  // namespace

int ShareBoundSocket(const OpenOptions& options, int fd, int* fd_out, const char** failed_call) {
  *fd_out = -1;
  int type = 0;
  int domain = 0;
  socklen_t len = sizeof(type);
  *failed_call = "getsockopt(SO_TYPE)";
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return errno;
  len = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return errno;
  if (type != SOCK_DGRAM || domain != options.family) return EINVAL;
  *failed_call = "fcntl(F_DUPFD_CLOEXEC)";
  const int dup = sys::DupCloexec(fd);
  if (dup < 0) return errno;
  // O_NONBLOCK belongs to the open file, which the owner shares: libuv keeps it set too.
  const int flags = sys::GetStatusFlags(dup);
  int err = flags < 0 || sys::SetStatusFlags(dup, flags | O_NONBLOCK) != 0 ? errno : 0;
  if (err != 0) *failed_call = "fcntl(O_NONBLOCK)";
  OpenOptions after_bind = options;
  after_bind.reuse_addr = false;
  after_bind.reuse_port = false;
  after_bind.v6only = false;
  if (err == 0) err = PrepareSocket(dup, after_bind, failed_call);
  if (err != 0) {
    close(dup);
    return err;
  }
  *fd_out = dup;
  return 0;
}

const char* GuessHandleType(int fd) {
  if (fd < 0) return "UNKNOWN";
  if (isatty(fd) != 0) return "TTY";
  // The file type as fstat's, without fstat's versioned symbol (native/sys_compat.h).
  mode_t mode = 0;
  if (sys::FileType(fd, &mode) != 0) return "UNKNOWN";
  if (S_ISREG(mode) || S_ISCHR(mode)) return "FILE";
  if (S_ISFIFO(mode)) return "PIPE";
  if (!S_ISSOCK(mode)) return "UNKNOWN";
  SockAddr local;
  int type = 0;
  socklen_t len = sizeof(type);
  if (LocalAddress(fd, &local) != 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    return "UNKNOWN";
  }
  const int family = local.storage.ss_family;
  const bool inet = family == AF_INET || family == AF_INET6;
  if (type == SOCK_DGRAM && inet) return "UDP";
  if (type == SOCK_STREAM && inet) return "TCP";
  if (type == SOCK_STREAM && family == AF_UNIX) return "PIPE";
  return "UNKNOWN";
}

int MembershipOptName(MembershipOp op, bool by_address) {
  return by_address ? OptionOf(op).ipv4_name : OptionOf(op).name;
}

const char* MembershipOptLabel(MembershipOp op, bool by_address) {
  return by_address ? OptionOf(op).ipv4_label : OptionOf(op).label;
}

bool MembershipHasSource(MembershipOp op) {
  return op != MembershipOp::kJoin && op != MembershipOp::kLeave;
}

int ChangeMembership(int fd, int /*family*/, MembershipOp op, const SockAddr& group,
                     const SockAddr* source, uint32_t ifindex, const SockAddr* interface_address) {
  const bool v4 = group.storage.ss_family == AF_INET;
  const int level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
  const bool with_source = MembershipHasSource(op);
  if (with_source && (source == nullptr || source->storage.ss_family != group.storage.ss_family)) {
    return EINVAL;
  }
  const bool by_address = v4 && interface_address != nullptr &&
                          interface_address->storage.ss_family == AF_INET;
  const int name = MembershipOptName(op, by_address);
  if (by_address && !with_source) {
    ip_mreqn req{};
    req.imr_multiaddr = IPv4Of(group);
    req.imr_address = IPv4Of(*interface_address);
    req.imr_ifindex = static_cast<int>(ifindex);
    return SetOpt(fd, level, name, &req, sizeof(req));
  }
  if (by_address) {
    // Linux's order: multiaddr, interface, sourceaddr (BSD's differs).
    ip_mreq_source req{};
    req.imr_multiaddr = IPv4Of(group);
    req.imr_interface = IPv4Of(*interface_address);
    req.imr_sourceaddr = IPv4Of(*source);
    return SetOpt(fd, level, name, &req, sizeof(req));
  }
  if (!with_source) {
    group_req req{};
    req.gr_interface = ifindex;
    std::memcpy(&req.gr_group, &group.storage, group.length);
    return SetOpt(fd, level, name, &req, sizeof(req));
  }
  group_source_req req{};
  req.gsr_interface = ifindex;
  std::memcpy(&req.gsr_group, &group.storage, group.length);
  std::memcpy(&req.gsr_source, &source->storage, source->length);
  return SetOpt(fd, level, name, &req, sizeof(req));
}

int SetMulticastInterface(int fd, int family, uint32_t ifindex, const SockAddr* source) {
  if (family == AF_INET6) {
    int index = static_cast<int>(ifindex);
    return SetOpt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof(index));
  }
  // ip_mreqn selects by index. Without an address the kernel picks the source by scope, which
  // on `lo` (127.0.0.1 is host scope) gives 0.0.0.0: so the caller names the address too.
  ip_mreqn req{};
  req.imr_ifindex = static_cast<int>(ifindex);
  if (source != nullptr && source->storage.ss_family == AF_INET) {
    req.imr_address = reinterpret_cast<const sockaddr_in*>(&source->storage)->sin_addr;
  }
  return SetOpt(fd, IPPROTO_IP, IP_MULTICAST_IF, &req, sizeof(req));
}

int SetIntOption(int fd, int level, int name, int value) {
  return SetOpt(fd, level, name, &value, sizeof(value));
}

int GetIntOption(int fd, int level, int name, int* value) {
  socklen_t len = sizeof(*value);
  *value = 0;
  return getsockopt(fd, level, name, value, &len) == 0 ? 0 : errno;
}

int SetBufferSize(int fd, bool receive, int bytes, int* effective) {
  const int plain = receive ? SO_RCVBUF : SO_SNDBUF;
  const int force = receive ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
  // EPERM from the FORCE variant just means no CAP_NET_ADMIN: the plain option is capped by
  // net.core.rmem_max / wmem_max, which the caller reports.
  if (SetIntOption(fd, SOL_SOCKET, force, bytes) != 0) {
    int err = SetIntOption(fd, SOL_SOCKET, plain, bytes);
    if (err != 0) return err;
  }
  return GetIntOption(fd, SOL_SOCKET, plain, effective);
}

int LocalAddress(int fd, SockAddr* out) {
  out->length = sizeof(out->storage);
  return getsockname(fd, out->get(), &out->length) == 0 ? 0 : errno;
}

int Connect(int fd, const SockAddr& peer) {
  return connect(fd, peer.get(), peer.length) == 0 ? 0 : errno;
}

int Disconnect(int fd) {
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  // Linux may answer EAFNOSUPPORT although it did dissolve the association (libuv ignores it).
  if (connect(fd, &unspec, sizeof(unspec)) == 0 || errno == EAFNOSUPPORT) return 0;
  return errno;
}

int PeerAddress(int fd, SockAddr* out) {
  out->length = sizeof(out->storage);
  return getpeername(fd, out->get(), &out->length) == 0 ? 0 : errno;
}

int ReadDropCount(int fd, uint32_t* drops) {
  uint32_t meminfo[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof(meminfo);
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len) != 0) return errno;
  *drops = len > SK_MEMINFO_DROPS * sizeof(uint32_t) ? meminfo[SK_MEMINFO_DROPS] : 0;
  return 0;
}

uint32_t DrainErrorQueue(int fd, int* last_errno) {
  uint32_t count = 0;
  // SO_ERROR (read to clear it) mirrors the newest queued error; it counts on its own only when
  // the queue is empty.
  int pending = 0;
  if (GetIntOption(fd, SOL_SOCKET, SO_ERROR, &pending) == 0 && pending != 0) *last_errno = pending;
  // Bounded: the queue is bounded by the receive buffer, and the loop must not spin.
  for (int i = 0; i < 256; i++) {
    char data[1];
    alignas(cmsghdr) char control[512];
    iovec iov{data, sizeof(data)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
    bool local = false;
    int err = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      const bool is_err = (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR);
      if (is_err && c->cmsg_len >= CMSG_LEN(sizeof(sock_extended_err))) {
        sock_extended_err ee;
        std::memcpy(&ee, CMSG_DATA(c), sizeof(ee));
        err = static_cast<int>(ee.ee_errno);
        local = ee.ee_origin == SO_EE_ORIGIN_LOCAL;
      }
    }
    // The kernel queues a local error (EMSGSIZE over the path MTU with IP_PMTUDISC_DO) only
    // while the send call that caused it fails with the same error: the caller has it already.
    // Counted, it would be reported twice (and the send retried as if an earlier one failed).
    if (local) continue;
    count++;
    if (err != 0) *last_errno = err;
  }
  return count == 0 && pending != 0 ? 1 : count;
}

bool IsSendSideError(int err) {
  switch (err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case EMSGSIZE:
    case EPROTO:
    case ENOPROTOOPT:
      return true;
    default:
      return false;
  }
}

}  // namespace mcast

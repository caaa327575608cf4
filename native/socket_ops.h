// Plain POSIX socket operations for multicast: no N-API in here, so that the fuzz target and the
// native unit tests can use them directly. Every function returns 0 or a positive errno and never
// throws; the caller names the syscall in its error.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace mcast {

// A socket address with its length, as the socket calls want it.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

// Fills `out` from a numeric address string of `family` (AF_INET/AF_INET6), a port and an IPv6
// scope id. Returns false when the text is not an address of that family.
bool ParseAddress(int family, const char* text, uint16_t port, uint32_t scope_id, SockAddr* out);

// Writes the numeric text of `addr` (without port) into `buf` and its port into `*port`.
// Returns false for families other than AF_INET/AF_INET6.
bool FormatAddress(const sockaddr* addr, char* buf, size_t buf_len, uint16_t* port);

// Options fixed at creation: everything needed before bind().
struct OpenOptions {
  int family = AF_INET;
  bool reuse_addr = true;
  bool reuse_port = false;
  bool multicast_all = false;
  bool timestamps = false;
  // IP_RECVTTL / IPV6_RECVHOPLIMIT: one more control message per datagram, whose cost shows in
  // the receive path (2-6% of it in bench/), so only on request.
  bool recv_ttl = false;
  // IPV6_V6ONLY for AF_INET6. When false the kernel default (net.ipv6.bindv6only, normally 0:
  // dual-stack, IPv4 peers seen as ::ffff:a.b.c.d) is left in place, as libuv does.
  bool v6only = true;
};

// Creates a non-blocking, close-on-exec UDP socket, sets the options that must precede bind(),
// asks for the per-datagram control messages mcast always delivers (packet info, kernel drop
// counter) and those `o` asks for (TTL, timestamps), and binds it. On success `*fd_out` owns the descriptor; on failure nothing is
// left open and `*failed_call` names the call that failed.
int OpenBoundSocket(const OpenOptions& options, const SockAddr& bind_addr, int* fd_out,
                    const char** failed_call);

// Takes part in a bound UDP socket that another owner keeps (the cluster primary's, passed to a
// worker): a close-on-exec duplicate of `fd`, non-blocking, with the options OpenBoundSocket
// sets after creation (IP_MULTICAST_ALL, packet info, drop counter, ...). The options that
// must precede bind() are the owner's. Fails with EINVAL when `fd` is no UDP socket of
// `options.family`. On success `*fd_out` owns the duplicate; `fd` stays with its owner.
int ShareBoundSocket(const OpenOptions& options, int fd, int* fd_out, const char** failed_call);

// What kind of descriptor `fd` is, in the words of Node's guessHandleType() (libuv's
// uv_guess_handle): "UDP", "TCP", "PIPE", "TTY", "FILE" or "UNKNOWN".
const char* GuessHandleType(int fd);

// The membership operations of RFC 3678's protocol-independent API (group_req and
// group_source_req take an interface index and work for IPv4 and IPv6 alike).
enum class MembershipOp { kJoin, kLeave, kJoinSource, kLeaveSource, kBlockSource, kUnblockSource };

// The setsockopt name of `op` and its printable name: MCAST_JOIN_GROUP, ... or, for an IPv4
// group whose interface is named by address, IP_ADD_MEMBERSHIP, ... (`by_address`).
int MembershipOptName(MembershipOp op, bool by_address = false);
const char* MembershipOptLabel(MembershipOp op, bool by_address = false);
bool MembershipHasSource(MembershipOp op);

// Applies `op` for `group` (and `source` for the source operations) on interface `ifindex`
// (0 lets the kernel choose by route). The level follows the group's family, not the socket's:
// an IPv6 socket may join IPv4 groups (dual stack), as libuv lets it. An IPv4 group with
// `interface_address` uses the classic IPv4 options (ip_mreqn / ip_mreq_source), as libuv does
// for dgram, so the kernel picks the device by that local address (ENODEV when none has it).
// `family` is the socket's family; it only matters for argument checks.
int ChangeMembership(int fd, int family, MembershipOp op, const SockAddr& group,
                     const SockAddr* source, uint32_t ifindex,
                     const SockAddr* interface_address = nullptr);

// IP_MULTICAST_IF (ip_mreqn: index, and the IPv4 source address to use, which may be null) or
// IPV6_MULTICAST_IF (index).
int SetMulticastInterface(int fd, int family, uint32_t ifindex, const SockAddr* source);

int SetIntOption(int fd, int level, int name, int value);
int GetIntOption(int fd, int level, int name, int* value);

// Asks for a receive (or send) buffer of `bytes`: first the *FORCE variant, which needs
// CAP_NET_ADMIN and ignores net.core.rmem_max/wmem_max, then the plain one. `*effective` gets
// what the kernel reports afterwards (it doubles the request for its own bookkeeping).
int SetBufferSize(int fd, bool receive, int bytes, int* effective);

int LocalAddress(int fd, SockAddr* out);

// connect(2): sets the default destination and makes the kernel drop datagrams from other
// sources. Disconnect() dissolves the association (connect with AF_UNSPEC).
int Connect(int fd, const SockAddr& peer);
int Disconnect(int fd);
int PeerAddress(int fd, SockAddr* out);

// The kernel's exact count of datagrams dropped on this socket (SO_MEMINFO's SK_MEMINFO_DROPS).
// SO_RXQ_OVFL only reports drops on the next datagram that makes it in; this sees them all.
int ReadDropCount(int fd, uint32_t* drops);

// Takes pending asynchronous errors off the socket: SO_ERROR and the IP_RECVERR error queue
// (ICMP errors about datagrams this socket sent). Returns how many there were; `*last_errno`
// gets the errno of the last one. Local errors (SO_EE_ORIGIN_LOCAL) are taken off but not
// counted: each one doubles an error its send call returned.
uint32_t DrainErrorQueue(int fd, int* last_errno);

// Errors a receive call reports on behalf of an earlier send (ICMP via IP_RECVERR): they are
// about a datagram sent, not about receiving, so the receive loop counts them and goes on.
bool IsSendSideError(int err);

}  // namespace mcast

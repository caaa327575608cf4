// rtnetlink link notifications, plain C++ (no N-API): a non-blocking NETLINK_ROUTE socket
// subscribed to RTMGRP_LINK, and the parser of the RTM_NEWLINK / RTM_DELLINK messages it reads.
// lib/ uses them to notice an interface that holds memberships disappear and come back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mcast {

// One interface change: kind 0 = new or changed (RTM_NEWLINK, also renames and up/down),
// kind 1 = deleted (RTM_DELLINK).
struct LinkEvent {
  int kind = 0;
  int index = 0;
  std::string name;
  unsigned flags = 0;
};

// Opens the notification socket (SOCK_NONBLOCK | SOCK_CLOEXEC). Returns 0 or an errno.
int OpenLinkWatchSocket(int* fd);

// Parses the netlink messages in buf[0..len): appends one event per RTM_NEWLINK / RTM_DELLINK
// with an interface index; skips other types; stops at a truncated or malformed header. Returns
// the number of events appended. Never reads outside the buffer.
size_t ParseLinkMessages(const uint8_t* buf, size_t len, std::vector<LinkEvent>* out);

// Reads every pending message (until EAGAIN) into events. Returns 0, or an errno: ENOBUFS means
// the kernel dropped notifications (the socket's buffer overflowed) and the caller must resync.
int ReadLinkEvents(int fd, std::vector<LinkEvent>* out);

}  // namespace mcast

// Native unit tests of the plain socket code (no N-API): control-message decoding, address
// parsing, and the recvmmsg/sendmmsg batches on real UDP sockets. Built by CMakeLists.txt (with
// ASan+UBSan) and run by ctest, by `npm run test:asan` and under valgrind by `npm run valgrind`.
//
// The tests that open sockets send only to 127.0.0.1 / ::1 and join only on `lo`, and run only
// inside the private network namespace of test/harness/run-in-netns.mjs (MCAST_NETNS_SANDBOX
// set); elsewhere they are skipped. Prints "N passed, N failed" at the end.
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <dirent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "batch_layout.h"
#include "cmsg_decode.h"
#include "link_messages.h"
#include "recv_batch.h"
#include "send_batch.h"
#include "socket_ops.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

namespace {

int g_failed_checks = 0;

void Fail(const char* file, int line, const char* what) {
  std::cerr << "  " << file << ":" << line << ": expected " << what << "\n";
  g_failed_checks++;
}

#define EXPECT(cond)                              \
  do {                                            \
    if (!(cond)) Fail(__FILE__, __LINE__, #cond); \
  } while (0)

struct TestCase {
  const char* name;
  bool needs_sandbox;
  std::function<void()> body;
};

std::vector<TestCase>& Registry() {
  static std::vector<TestCase> tests;
  return tests;
}

struct Register {
  Register(const char* name, bool needs_sandbox, std::function<void()> body) {
    Registry().push_back({name, needs_sandbox, std::move(body)});
  }
};

#define TEST(name) \
  void name();     \
  const Register register_##name(#name, false, name); \
  void name()
#define SOCKET_TEST(name) \
  void name();            \
  const Register register_##name(#name, true, name); \
  void name()

int32_t RecordInt(const uint8_t* record, size_t index) {
  int32_t v;
  std::memcpy(&v, record + index * 4, 4);
  return v;
}

// A control buffer laid out as the kernel lays it out.
class Control {
 public:
  template <typename T>
  void Add(int level, int type, const T& payload) {
    const size_t at = bytes_.size();
    bytes_.resize(at + CMSG_SPACE(sizeof(T)), 0);
    cmsghdr header{};
    header.cmsg_len = CMSG_LEN(sizeof(T));
    header.cmsg_level = level;
    header.cmsg_type = type;
    std::memcpy(&bytes_[at], &header, sizeof(header));
    std::memcpy(&bytes_[at] + CMSG_LEN(0), &payload, sizeof(T));
  }
  std::vector<uint64_t> Aligned() const {
    std::vector<uint64_t> out((bytes_.size() + 7) / 8);
    std::memcpy(out.data(), bytes_.data(), bytes_.size());
    return out;
  }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

// Decodes a datagram of `size` bytes from `from` with `control` as the kernel would hand them
// over (maxMessageSize 2048).
template <typename SockaddrT>
mcast::DecodeResult DecodeFrom(SockaddrT& from, const Control& control, uint32_t size, uint8_t* record) {
  std::vector<uint64_t> buf = control.Aligned();
  msghdr hdr{};
  hdr.msg_name = &from;
  hdr.msg_namelen = sizeof(from);
  hdr.msg_control = buf.data();
  hdr.msg_controllen = control.size();
  return mcast::DecodeDatagram(hdr, size, 2048, record);
}

// One recvmmsg without a membership filter; returns what RecvBatch::Receive returns.
int Receive(mcast::RecvBatch* batch, int fd, mcast::RecvCounters* counters) {
  int delivered = 0;
  const int n = batch->Receive(fd, nullptr, counters, &delivered);
  if (n > 0 && delivered != n) return -1000;  // nothing is filtered without a filter
  return n;
}

int OpenFdCount() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (readdir(dir) != nullptr) count++;
  closedir(dir);
  return count;
}

// ---- cmsg decoding --------------------------------------------------------------------------

TEST(DecodesEveryControlMessageOfAnIPv4Datagram) {
  Control control;
  in_pktinfo info{};
  info.ipi_ifindex = 7;
  inet_pton(AF_INET, "239.1.2.3", &info.ipi_addr);
  control.Add(IPPROTO_IP, IP_PKTINFO, info);
  control.Add(IPPROTO_IP, IP_TTL, 33);
  control.Add(SOL_SOCKET, SO_RXQ_OVFL, uint32_t{12});
  timespec ts{};
  ts.tv_sec = 2;
  ts.tv_nsec = 5;
  control.Add(SOL_SOCKET, SCM_TIMESTAMPNS, ts);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_port = htons(4321);
  inet_pton(AF_INET, "10.0.0.9", &from.sin_addr);
  uint8_t record[mcast::layout::kRecordBytes];
  mcast::DecodeResult r = DecodeFrom(from, control, 100, record);
  EXPECT(!r.truncated);
  EXPECT(r.has_drop_count && r.drop_count == 12);
  EXPECT(RecordInt(record, mcast::layout::kSize) == 100);
  EXPECT(RecordInt(record, mcast::layout::kOriginalSize) == 100);
  EXPECT(RecordInt(record, mcast::layout::kIfIndex) == 7);
  EXPECT(RecordInt(record, mcast::layout::kTtl) == 33);
  EXPECT(RecordInt(record, mcast::layout::kDropCount) == 12);
  EXPECT(RecordInt(record, mcast::layout::kPort) == 4321);
  const int32_t flags = RecordInt(record, mcast::layout::kFlags);
  EXPECT(flags == (mcast::layout::kFlagPktinfo | mcast::layout::kFlagTimestamp));
  EXPECT(std::memcmp(record + mcast::layout::kSourceByte, &from.sin_addr, 4) == 0);
  EXPECT(std::memcmp(record + mcast::layout::kDestinationByte, &info.ipi_addr, 4) == 0);
  uint64_t ns;
  std::memcpy(&ns, record + mcast::layout::kTimestampByte, 8);
  EXPECT(ns == 2000000005ull);
}

TEST(DecodesAnIPv6Datagram) {
  Control control;
  in6_pktinfo info{};
  info.ipi6_ifindex = 3;
  inet_pton(AF_INET6, "ff12::1", &info.ipi6_addr);
  control.Add(IPPROTO_IPV6, IPV6_PKTINFO, info);
  control.Add(IPPROTO_IPV6, IPV6_HOPLIMIT, 5);
  sockaddr_in6 from{};
  from.sin6_family = AF_INET6;
  from.sin6_port = htons(9);
  inet_pton(AF_INET6, "fe80::2", &from.sin6_addr);
  uint8_t record[mcast::layout::kRecordBytes];
  mcast::DecodeResult r = DecodeFrom(from, control, 10, record);
  EXPECT(!r.has_drop_count);
  EXPECT(RecordInt(record, mcast::layout::kDropCount) == 0);
  EXPECT(RecordInt(record, mcast::layout::kIfIndex) == 3);
  EXPECT(RecordInt(record, mcast::layout::kTtl) == 5);
  EXPECT(RecordInt(record, mcast::layout::kPort) == 9);
  EXPECT(std::memcmp(record + mcast::layout::kDestinationByte, &info.ipi6_addr, 16) == 0);
}

TEST(FlagsTruncationBySizeAndByMsgTrunc) {
  msghdr hdr{};
  uint8_t record[mcast::layout::kRecordBytes];
  mcast::DecodeResult r = mcast::DecodeDatagram(hdr, 3000, 2048, record);
  EXPECT(r.truncated);
  EXPECT(RecordInt(record, mcast::layout::kSize) == 2048);
  EXPECT(RecordInt(record, mcast::layout::kOriginalSize) == 3000);
  EXPECT(RecordInt(record, mcast::layout::kTtl) == -1);
  hdr.msg_flags = MSG_TRUNC;
  r = mcast::DecodeDatagram(hdr, 10, 2048, record);
  EXPECT(r.truncated);
  EXPECT((RecordInt(record, mcast::layout::kFlags) & mcast::layout::kFlagTruncated) != 0);
}

// Found by fuzz_cmsg: a first header whose cmsg_len claims more than msg_controllen holds was read
// past the end of the control buffer (CMSG_FIRSTHDR does not check cmsg_len).
TEST(IgnoresAControlMessageLongerThanTheBuffer) {
  Control control;
  control.Add(IPPROTO_IP, IP_TTL, 64);
  std::vector<uint64_t> buf = control.Aligned();
  cmsghdr header;
  std::memcpy(&header, buf.data(), sizeof(header));
  header.cmsg_len = 4096;
  std::memcpy(buf.data(), &header, sizeof(header));
  msghdr hdr{};
  hdr.msg_control = buf.data();
  hdr.msg_controllen = control.size();
  uint8_t record[mcast::layout::kRecordBytes];
  mcast::DecodeDatagram(hdr, 1, 1, record);
  EXPECT(RecordInt(record, mcast::layout::kTtl) == -1);
  // A payload cut short by msg_controllen is ignored too.
  header.cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(buf.data(), &header, sizeof(header));
  hdr.msg_controllen = CMSG_LEN(sizeof(int)) - 1;
  mcast::DecodeDatagram(hdr, 1, 1, record);
  EXPECT(RecordInt(record, mcast::layout::kTtl) == -1);
}

// ---- addresses ------------------------------------------------------------------------------

TEST(ParsesAndFormatsAddresses) {
  mcast::SockAddr a;
  EXPECT(mcast::ParseAddress(AF_INET, "239.1.2.3", 5000, 0, &a));
  EXPECT(a.length == sizeof(sockaddr_in));
  char text[INET6_ADDRSTRLEN];
  uint16_t port = 0;
  EXPECT(mcast::FormatAddress(a.get(), text, sizeof(text), &port));
  EXPECT(std::string(text) == "239.1.2.3" && port == 5000);
  EXPECT(mcast::ParseAddress(AF_INET6, "FF02:0::1", 1, 4, &a));
  EXPECT(mcast::FormatAddress(a.get(), text, sizeof(text), &port));
  EXPECT(std::string(text) == "ff02::1" && port == 1);
  EXPECT(reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_scope_id == 4);
  const char* bad[] = {"", "239.1.2", "239.1.2.256", "239.1.2.3 ", "01.2.3.4", "ff02::1%lo", "::g",
                       "1.2.3.4.5"};
  for (const char* text_in : bad) {
    EXPECT(!mcast::ParseAddress(AF_INET, text_in, 0, 0, &a));
    EXPECT(a.length == 0);
  }
  EXPECT(!mcast::ParseAddress(AF_INET, "ff02::1", 0, 0, &a));
  EXPECT(!mcast::ParseAddress(AF_INET6, "239.1.2.3", 0, 0, &a));
  EXPECT(!mcast::ParseAddress(AF_UNIX, "239.1.2.3", 0, 0, &a));
  sockaddr_storage unix_addr{};
  unix_addr.ss_family = AF_UNIX;
  EXPECT(!mcast::FormatAddress(reinterpret_cast<sockaddr*>(&unix_addr), text, sizeof(text), &port));
}

// ---- sockets (inside the sandbox only) -------------------------------------------------------

int Open(int family, const char* address, uint16_t port, mcast::SockAddr* bound) {
  mcast::OpenOptions options;
  options.family = family;
  options.timestamps = true;
  mcast::SockAddr bind_addr;
  if (!mcast::ParseAddress(family, address, port, 0, &bind_addr)) return -1;
  int fd = -1;
  const char* failed = nullptr;
  if (mcast::OpenBoundSocket(options, bind_addr, &fd, &failed) != 0) return -1;
  if (bound != nullptr) mcast::LocalAddress(fd, bound);
  return fd;
}

SOCKET_TEST(OpenBoundSocketLeavesNothingOpenOnFailure) {
  const int before = OpenFdCount();
  mcast::OpenOptions options;
  mcast::SockAddr not_local;
  EXPECT(mcast::ParseAddress(AF_INET, "192.0.2.1", 0, 0, &not_local));
  int fd = 123;
  const char* failed = nullptr;
  EXPECT(mcast::OpenBoundSocket(options, not_local, &fd, &failed) == EADDRNOTAVAIL);
  EXPECT(fd == -1);
  EXPECT(failed != nullptr && std::string(failed) == "bind");
  EXPECT(OpenFdCount() == before);
}

SOCKET_TEST(SendsAndReceivesBatchesWithAccounting) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
  EXPECT(rx >= 0 && tx >= 0);
  constexpr size_t kBatch = 16, kMax = 64, kCount = 40;
  std::vector<uint8_t> slab(kBatch * kMax), records(kBatch * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(kBatch, kMax, slab.data(), records.data());
  mcast::RecvCounters rc;
  EXPECT(Receive(&batch, rx, &rc) == -EAGAIN);

  std::vector<std::vector<uint8_t>> payloads;
  for (size_t i = 0; i < kCount; i++) payloads.emplace_back(i == 3 ? 100 : 10 + i, static_cast<uint8_t>(i));
  mcast::SendBatch sender;
  sender.Reserve(kCount);
  for (size_t i = 0; i < kCount; i++) sender.Set(i, payloads[i].data(), payloads[i].size());
  mcast::SendCounters sc;
  mcast::SendResult sent = sender.Send(tx, rx_addr, kCount, &sc);
  EXPECT(sent.sent == kCount && sent.error == 0);
  EXPECT(sc.packets == kCount);
  EXPECT(mcast::SendOne(tx, rx_addr, payloads[0].data(), 1, &sc).sent == 1);

  size_t got = 0;
  while (got < kCount + 1) {
    const int n = Receive(&batch, rx, &rc);
    if (n <= 0) break;
    for (int i = 0; i < n; i++) {
      const uint8_t* rec = records.data() + static_cast<size_t>(i) * mcast::layout::kRecordBytes;
      const size_t index = got + static_cast<size_t>(i);
      const size_t want = index < kCount ? payloads[index].size() : 1;
      EXPECT(static_cast<size_t>(RecordInt(rec, mcast::layout::kOriginalSize)) == want);
      EXPECT(static_cast<size_t>(RecordInt(rec, mcast::layout::kSize)) == (want < kMax ? want : kMax));
      EXPECT((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagPktinfo) != 0);
      EXPECT((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagTimestamp) != 0);
      EXPECT(slab[static_cast<size_t>(i) * kMax] == (index < kCount ? static_cast<uint8_t>(index) : 0));
    }
    got += static_cast<size_t>(n);
  }
  EXPECT(got == kCount + 1);
  EXPECT(rc.packets == kCount + 1);
  EXPECT(rc.truncated == 1);  // the 100-byte datagram, kept 64
  EXPECT(Receive(&batch, rx, &rc) == -EAGAIN);
  close(rx);
  close(tx);
}

// The kernel shrinks msg_controllen to what a datagram used: a slot must get its full room back
// before it is reused, or a later datagram with more control messages loses some (MSG_CTRUNC).
SOCKET_TEST(GivesAReusedSlotItsFullControlRoomBack) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);  // PKTINFO and timestamps, no TTL
  const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
  EXPECT(rx >= 0 && tx >= 0);
  std::vector<uint8_t> slab(size_t{8} * 64), records(8 * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(8, 64, slab.data(), records.data());
  mcast::RecvCounters rc;
  mcast::SendCounters sc;
  const uint8_t byte = 1;
  EXPECT(mcast::SendOne(tx, rx_addr, &byte, 1, &sc).sent == 1);
  EXPECT(Receive(&batch, rx, &rc) == 1);  // slot 0 now holds two control messages' worth
  EXPECT(RecordInt(records.data(), mcast::layout::kTtl) == -1);
  EXPECT(mcast::SetIntOption(rx, IPPROTO_IP, IP_RECVTTL, 1) == 0);  // one more per datagram
  for (int i = 0; i < 3; i++) EXPECT(mcast::SendOne(tx, rx_addr, &byte, 1, &sc).sent == 1);
  EXPECT(Receive(&batch, rx, &rc) == 3);
  for (size_t i = 0; i < 3; i++) {
    const uint8_t* rec = records.data() + i * mcast::layout::kRecordBytes;
    EXPECT((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagPktinfo) != 0);
    EXPECT((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagTimestamp) != 0);
    EXPECT(RecordInt(rec, mcast::layout::kTtl) == 64);  // IP_TTL default of unicast
  }
  close(rx);
  close(tx);
}

SOCKET_TEST(CountsKernelDropsWithSoRxqOvfl) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
  int effective = 0;
  EXPECT(mcast::SetBufferSize(rx, true, 4096, &effective) == 0);
  std::vector<uint8_t> payload(1000, 1);
  mcast::SendCounters sc;
  size_t accepted = 0;
  for (int i = 0; i < 200; i++) accepted += mcast::SendOne(tx, rx_addr, payload.data(), payload.size(), &sc).sent;
  std::vector<uint8_t> slab(size_t{64} * 2048), records(64 * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(64, 2048, slab.data(), records.data());
  mcast::RecvCounters rc;
  while (Receive(&batch, rx, &rc) > 0) {
  }
  // One more after the drops, so that a datagram carries the final drop count.
  EXPECT(mcast::SendOne(tx, rx_addr, payload.data(), payload.size(), &sc).sent == 1);
  while (Receive(&batch, rx, &rc) > 0) {
  }
  EXPECT(rc.kernel_drops > 0);
  EXPECT(rc.packets + rc.kernel_drops == accepted + 1);
  close(rx);
  close(tx);
}

SOCKET_TEST(MembershipErrnos) {
  const int fd = Open(AF_INET, "0.0.0.0", 0, nullptr);
  const uint32_t lo = if_nametoindex("lo");
  mcast::SockAddr group, source;
  mcast::ParseAddress(AF_INET, "239.9.9.9", 0, 0, &group);
  mcast::ParseAddress(AF_INET, "10.1.1.1", 0, 0, &source);
  using mcast::MembershipOp;
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kLeave, group, nullptr, lo) == EADDRNOTAVAIL);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kJoin, group, nullptr, lo) == 0);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kJoin, group, nullptr, lo) == EADDRINUSE);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kJoin, group, nullptr, 999999) == ENODEV);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kJoinSource, group, nullptr, lo) == EINVAL);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kBlockSource, group, &source, lo) == 0);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kLeave, group, nullptr, lo) == 0);
  mcast::SockAddr unicast;
  mcast::ParseAddress(AF_INET, "10.1.1.1", 0, 0, &unicast);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kJoin, unicast, nullptr, lo) == EINVAL);
  EXPECT(mcast::SetMulticastInterface(fd, AF_INET, 999999, nullptr) == EADDRNOTAVAIL);
  EXPECT(mcast::ChangeMembership(-1, AF_INET, MembershipOp::kJoin, group, nullptr, lo) == EBADF);
  close(fd);
}

// ---- rtnetlink link messages (link_messages.h) ------------------------------------------

// Appends one RTM_NEWLINK / RTM_DELLINK (or any type) message with an IFLA_IFNAME attribute.
void AppendLinkMessage(std::vector<uint8_t>* buf, uint16_t type, int index, const char* name, unsigned flags) {
  const size_t name_len = std::strlen(name) + 1;
  const size_t attr_len = RTA_LENGTH(name_len);
  const size_t msg_len = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(ifinfomsg)) + RTA_ALIGN(attr_len));
  const size_t at = buf->size();
  buf->resize(at + NLMSG_ALIGN(msg_len), 0);
  nlmsghdr nh{};
  nh.nlmsg_len = static_cast<uint32_t>(msg_len);
  nh.nlmsg_type = type;
  std::memcpy(buf->data() + at, &nh, sizeof(nh));
  ifinfomsg ifi{};
  ifi.ifi_index = index;
  ifi.ifi_flags = flags;
  std::memcpy(buf->data() + at + NLMSG_HDRLEN, &ifi, sizeof(ifi));
  rtattr rta{};
  rta.rta_len = static_cast<uint16_t>(attr_len);
  rta.rta_type = IFLA_IFNAME;
  uint8_t* attr = buf->data() + at + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg));
  std::memcpy(attr, &rta, sizeof(rta));
  std::memcpy(attr + RTA_LENGTH(0), name, name_len);
}

TEST(ParsesLinkNewAndDelMessagesAndSkipsOthers) {
  std::vector<uint8_t> buf;
  AppendLinkMessage(&buf, RTM_NEWLINK, 5, "mceth0", IFF_UP | IFF_MULTICAST);
  AppendLinkMessage(&buf, RTM_NEWADDR, 5, "ignored", 0);
  AppendLinkMessage(&buf, RTM_DELLINK, 7, "mcx", 0);
  AppendLinkMessage(&buf, RTM_NEWLINK, 0, "noindex", 0);
  std::vector<mcast::LinkEvent> events;
  EXPECT(mcast::ParseLinkMessages(buf.data(), buf.size(), &events) == 2);
  EXPECT(events.size() == 2);
  EXPECT(events[0].kind == 0 && events[0].index == 5 && events[0].name == "mceth0");
  EXPECT(events[0].flags == (IFF_UP | IFF_MULTICAST));
  EXPECT(events[1].kind == 1 && events[1].index == 7 && events[1].name == "mcx");
}

TEST(StopsAtTruncatedOrMalformedLinkMessages) {
  std::vector<uint8_t> buf;
  AppendLinkMessage(&buf, RTM_NEWLINK, 5, "mceth0", 0);
  AppendLinkMessage(&buf, RTM_DELLINK, 6, "mceth1", 0);
  // Every prefix of the buffer: at most the whole messages it holds, never a read past its end
  // (ASan and valgrind run this test).
  for (size_t len = 0; len <= buf.size(); len++) {
    std::vector<uint8_t> cut(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len));
    std::vector<mcast::LinkEvent> events;
    mcast::ParseLinkMessages(cut.data(), cut.size(), &events);
    EXPECT(events.size() <= 2);
  }
  // A header claiming more than the buffer, and one claiming less than a header: nothing.
  std::vector<uint8_t> bad = buf;
  nlmsghdr nh;
  std::memcpy(&nh, bad.data(), sizeof(nh));
  nh.nlmsg_len = static_cast<uint32_t>(bad.size() + 100);
  std::memcpy(bad.data(), &nh, sizeof(nh));
  std::vector<mcast::LinkEvent> events;
  EXPECT(mcast::ParseLinkMessages(bad.data(), bad.size(), &events) == 0);
  nh.nlmsg_len = 4;
  std::memcpy(bad.data(), &nh, sizeof(nh));
  EXPECT(mcast::ParseLinkMessages(bad.data(), bad.size(), &events) == 0);
  // An attribute of length 0 and a name without its NUL: the event, with what can be read.
  std::vector<uint8_t> odd = buf;
  rtattr rta;
  uint8_t* attr = odd.data() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg));
  std::memcpy(&rta, attr, sizeof(rta));
  rta.rta_len = 0;
  std::memcpy(attr, &rta, sizeof(rta));
  events.clear();
  EXPECT(mcast::ParseLinkMessages(odd.data(), odd.size(), &events) == 2);
  EXPECT(events[0].name.empty() && events[1].name == "mceth1");
}

// Runs `ip ARGS...` (no shell) and returns its exit status, or -1 when it could not run.
int RunIp(std::vector<const char*> args) {
  args.insert(args.begin(), "ip");
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, "ip", nullptr, nullptr, const_cast<char* const*>(args.data()), environ) != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

SOCKET_TEST(ReadsTheLinkNotificationsOfANewAndADeletedInterface) {
  int fd = -1;
  EXPECT(mcast::OpenLinkWatchSocket(&fd) == 0);
  if (fd < 0) return;
  EXPECT(RunIp({"link", "add", "mcnlt0", "type", "veth", "peer", "name", "mcnlt1"}) == 0);
  EXPECT(RunIp({"link", "del", "mcnlt0"}) == 0);
  std::vector<mcast::LinkEvent> events;
  for (int i = 0; i < 50; i++) {
    EXPECT(mcast::ReadLinkEvents(fd, &events) == 0);
    bool deleted = false;
    for (const auto& e : events) deleted = deleted || (e.kind == 1 && e.name == "mcnlt0");
    if (deleted) break;
    usleep(20000);
  }
  bool created = false, deleted = false;
  for (const auto& e : events) {
    created = created || (e.kind == 0 && e.name == "mcnlt0" && e.index > 0);
    deleted = deleted || (e.kind == 1 && e.name == "mcnlt0");
  }
  EXPECT(created);
  EXPECT(deleted);
  close(fd);
}

// A cluster worker's socket: a duplicate of a bound descriptor, the same socket, its owner's fd
// untouched; no UDP socket of the family is refused.
SOCKET_TEST(SharesABoundSocket) {
  mcast::SockAddr bound;
  const int owner = Open(AF_INET, "127.0.0.1", 0, &bound);
  mcast::OpenOptions options;
  int fd = -1;
  const char* failed = nullptr;
  EXPECT(mcast::ShareBoundSocket(options, owner, &fd, &failed) == 0);
  EXPECT(fd >= 0 && fd != owner);
  mcast::SockAddr shared;
  EXPECT(mcast::LocalAddress(fd, &shared) == 0);
  EXPECT(std::memcmp(&shared.storage, &bound.storage, bound.length) == 0);
  close(fd);
  EXPECT(mcast::LocalAddress(owner, &shared) == 0);  // the owner's descriptor is still open
  mcast::OpenOptions v6;
  v6.family = AF_INET6;
  EXPECT(mcast::ShareBoundSocket(v6, owner, &fd, &failed) == EINVAL && fd == -1);
  EXPECT(mcast::ShareBoundSocket(options, 0x7ffffff0, &fd, &failed) == EBADF && fd == -1);
  close(owner);
}

// The interface named by a local IPv4 address (dgram's form): ip_mreqn / ip_mreq_source, and
// the same errnos as libuv's IP_ADD_MEMBERSHIP gives node:dgram.
SOCKET_TEST(MembershipByInterfaceAddress) {
  const int fd = Open(AF_INET, "0.0.0.0", 0, nullptr);
  mcast::SockAddr group, source, loopback, stranger;
  mcast::ParseAddress(AF_INET, "239.9.9.10", 0, 0, &group);
  mcast::ParseAddress(AF_INET, "10.1.1.1", 0, 0, &source);
  mcast::ParseAddress(AF_INET, "127.0.0.1", 0, 0, &loopback);
  mcast::ParseAddress(AF_INET, "192.0.2.77", 0, 0, &stranger);
  using mcast::MembershipOp;
  EXPECT(mcast::MembershipOptName(MembershipOp::kJoin, true) == IP_ADD_MEMBERSHIP);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kJoin, group, nullptr, 0, &stranger) == ENODEV);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kJoin, group, nullptr, 0, &loopback) == 0);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kJoin, group, nullptr, 0, &loopback) == EADDRINUSE);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kBlockSource, group, &source, 0, &loopback) == 0);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kLeave, group, nullptr, 0, &loopback) == 0);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kLeave, group, nullptr, 0, &loopback) == EADDRNOTAVAIL);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kJoinSource, group, &source, 0, &loopback) == 0);
  EXPECT(mcast::ChangeMembership(fd, AF_INET, MembershipOp::kLeaveSource, group, &source, 0, &loopback) == 0);
  close(fd);
  // A dual-stack IPv6 socket joins an IPv4 group at the IPv4 level (the group's family decides).
  const int fd6 = Open(AF_INET6, "::", 0, nullptr);
  EXPECT(mcast::ChangeMembership(fd6, AF_INET6, MembershipOp::kJoin, group, nullptr, 0, &loopback) == 0);
  close(fd6);
}

}  // namespace

int main() {
  const bool sandboxed = std::getenv("MCAST_NETNS_SANDBOX") != nullptr;
  int passed = 0, failed = 0, skipped = 0;
  for (const TestCase& t : Registry()) {
    if (t.needs_sandbox && !sandboxed) {
      std::cout << "SKIP " << t.name << " (run inside test/harness/run-in-netns.mjs)\n";
      skipped++;
      continue;
    }
    const int before = g_failed_checks;
    t.body();
    if (g_failed_checks == before) {
      std::cout << "PASS " << t.name << "\n";
      passed++;
    } else {
      std::cout << "FAIL " << t.name << "\n";
      failed++;
    }
  }
  std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return failed == 0 ? 0 : 1;
}

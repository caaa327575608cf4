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
#include <poll.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "arrival_policy.h"
#include "batch_layout.h"
#include "cmsg_decode.h"
#include "drain.h"
#include "feed_arbiter.h"
#include "gro_split.h"
#include "link_messages.h"
#include "linux_options.h"
#include "message_block.h"
#include "moldudp64.h"
#include "pcap_frames.h"
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

// ---- GRO split and GSO runs -----------------------------------------------------------------

TEST(DecodesTheGroSegmentSizeAndReturnsTheFieldsItActsOn) {
  Control control;
  in_pktinfo info{};
  info.ipi_ifindex = 5;
  inet_pton(AF_INET, "239.9.9.9", &info.ipi_addr);
  control.Add(IPPROTO_IP, IP_PKTINFO, info);
  control.Add(SOL_UDP, UDP_GRO, 1316);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  uint8_t record[mcast::layout::kRecordBytes];
  const mcast::DecodeResult r = DecodeFrom(from, control, 1316 * 3, record);
  EXPECT(r.gro_segment_size == 1316);
  EXPECT(r.has_pktinfo && r.ifindex == 5);
  in_addr dest;
  std::memcpy(&dest, r.destination, 4);
  EXPECT(dest.s_addr == info.ipi_addr.s_addr);
  EXPECT(r.kept == 2048 && r.truncated);  // DecodeFrom keeps 2048: the whole merge is "cut"
  EXPECT(RecordInt(record, mcast::layout::kIfIndex) == 5);

  Control zero;
  zero.Add(SOL_UDP, UDP_GRO, 0);
  EXPECT(DecodeFrom(from, zero, 100, record).gro_segment_size == 0);
}

TEST(SplitsAMergedReceiveBySegmentSize) {
  // 3 × 1000 + 500: back to back from 0, the last shorter.
  mcast::GroPlan plan = mcast::PlanGroSplit(3500, 1000, mcast::kMaxGroSegments);
  EXPECT(plan.count == 4 && plan.last_offset == 3000 && plan.last_size == 500);
  // An exact multiple: no short last one.
  plan = mcast::PlanGroSplit(64 * 64, 64, mcast::kMaxGroSegments);
  EXPECT(plan.count == 64 && plan.last_offset == 63 * 64 && plan.last_size == 64);
  // No segment size, or one not smaller than the receive: one plain datagram.
  plan = mcast::PlanGroSplit(700, 0, 4);
  EXPECT(plan.count == 1 && plan.last_offset == 0 && plan.last_size == 700);
  plan = mcast::PlanGroSplit(700, 700, 4);
  EXPECT(plan.count == 1 && plan.last_offset == 0 && plan.last_size == 700);
  plan = mcast::PlanGroSplit(700, 1316, 4);
  EXPECT(plan.count == 1 && plan.last_size == 700);
  // Out of room: the last record takes the rest, so no byte goes unaccounted.
  plan = mcast::PlanGroSplit(1000, 100, 3);
  EXPECT(plan.count == 3 && plan.last_offset == 200 && plan.last_size == 800);
  plan = mcast::PlanGroSplit(1000, 100, 1);
  EXPECT(plan.count == 1 && plan.last_offset == 0 && plan.last_size == 1000);
  EXPECT(mcast::PlanGroSplit(1000, 100, 0).count == 0);
}

std::vector<mcast::SegmentRun> Plan(const std::vector<size_t>& sizes, size_t max_segments = 128,
                                    size_t max_bytes = 65507, size_t segment_limit = SIZE_MAX) {
  std::vector<iovec> iov(sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) iov[i].iov_len = sizes[i];
  std::vector<mcast::SegmentRun> runs;
  mcast::SegmentLimits limits{max_segments, max_bytes, segment_limit};
  mcast::PlanSegmentRuns(iov.data(), iov.size(), limits, &runs);
  return runs;
}

bool IsRun(const mcast::SegmentRun& r, size_t first, size_t count, uint32_t segment) {
  return r.first == first && r.count == count && r.segment_size == segment;
}

TEST(PlansRunsOfOneSizeWithAShorterLast) {
  auto runs = Plan({100, 100, 100, 50, 100, 100, 200, 0, 0, 7});
  EXPECT(runs.size() == 6);
  EXPECT(IsRun(runs[0], 0, 4, 100));  // the shorter 50 ends the first run
  EXPECT(IsRun(runs[1], 4, 2, 100));  // a larger one starts a new run
  EXPECT(IsRun(runs[2], 6, 1, 0));    // alone: a plain datagram
  EXPECT(IsRun(runs[3], 7, 1, 0));    // empty datagrams travel alone
  EXPECT(IsRun(runs[4], 8, 1, 0));
  EXPECT(IsRun(runs[5], 9, 1, 0));
  EXPECT(Plan({}).empty());
}

TEST(PlansRunsWithinTheSegmentCapThe64KiBAndTheSizeLimit) {
  // 49 × 1316 = 64484 fits 65507, a 50th would not.
  auto runs = Plan(std::vector<size_t>(100, 1316));
  EXPECT(runs.size() == 3 && IsRun(runs[0], 0, 49, 1316) && IsRun(runs[1], 49, 49, 1316) &&
         IsRun(runs[2], 98, 2, 1316));
  runs = Plan(std::vector<size_t>(300, 64), 128);
  EXPECT(runs.size() == 3 && IsRun(runs[0], 0, 128, 64) && IsRun(runs[2], 256, 44, 64));
  runs = Plan(std::vector<size_t>(100, 64), 64);
  EXPECT(runs.size() == 2 && IsRun(runs[0], 0, 64, 64) && IsRun(runs[1], 64, 36, 64));
  // A shorter last one must still fit the byte limit.
  runs = Plan({30000, 30000, 10000}, 128, 65507);
  EXPECT(runs.size() == 2 && IsRun(runs[0], 0, 2, 30000) && IsRun(runs[1], 2, 1, 0));
  // Sizes at or above the learned limit (EMSGSIZE) go alone; smaller ones still segment.
  runs = Plan({2000, 2000, 100, 100}, 128, 65507, 2000);
  EXPECT(runs.size() == 3 && IsRun(runs[0], 0, 1, 0) && IsRun(runs[1], 1, 1, 0) &&
         IsRun(runs[2], 2, 2, 100));
}

// The gather form's check: every datagram within the buffer and within the datagram limit,
// with no sum that could wrap; the answer is the index of the first one that is not.
TEST(GatherChecksEveryDatagramAgainstTheBuffer) {
  std::vector<uint8_t> buffer(100);
  mcast::SendBatch b;
  const uint32_t offsets[] = {0, 50, 90, 100};
  const uint32_t lengths[] = {50, 40, 10, 0};
  EXPECT(b.SetGather(buffer.data(), buffer.size(), offsets, lengths, 4, 65507) == 4);
  const uint32_t past_offsets[] = {0, 91};
  const uint32_t past_lengths[] = {10, 10};
  EXPECT(b.SetGather(buffer.data(), buffer.size(), past_offsets, past_lengths, 2, 65507) == 1);
  const uint32_t beyond[] = {101};
  const uint32_t none[] = {0};
  EXPECT(b.SetGather(buffer.data(), buffer.size(), beyond, none, 1, 65507) == 0);
  const uint32_t most[] = {UINT32_MAX};
  EXPECT(b.SetGather(buffer.data(), buffer.size(), most, most, 1, 65507) == 0);
  const uint32_t zero[] = {0};
  const uint32_t sixty[] = {60};
  EXPECT(b.SetGather(buffer.data(), buffer.size(), zero, sixty, 1, 50) == 0);
  EXPECT(b.SetGather(buffer.data(), buffer.size(), zero, sixty, 1, 60) == 1);
}

TEST(RefusalsThatEndSegmentation) {
  for (int err : {EIO, EINVAL, ENOTSUP, EOPNOTSUPP, ENOPROTOOPT}) EXPECT(mcast::IsSegmentationRefusal(err));
  for (int err : {EAGAIN, ENOBUFS, EMSGSIZE, ENETUNREACH, EPERM}) EXPECT(!mcast::IsSegmentationRefusal(err));
}

mcast::SockAddr V4(const char* text) {
  mcast::SockAddr a;
  mcast::ParseAddress(AF_INET, text, 0, 0, &a);
  return a;
}

TEST(ElidesPacketInfoOnlyForOneMembershipOfTheBoundGroup) {
  using Plan = mcast::ArrivalPolicy::Plan;
  const mcast::SockAddr g = V4("239.1.1.1"), other = V4("239.1.1.2");
  {
    mcast::ArrivalPolicy p(AF_INET, g, false);
    EXPECT(!p.known());
    Plan plan = p.PlanJoin(g, 3);
    EXPECT(plan.disable_after && !plan.enable_before);
    p.Joined(plan, g, 3);
    EXPECT(p.known() && p.ifindex() == 3);
    EXPECT(std::memcmp(p.destination(), &reinterpret_cast<const sockaddr_in*>(&g.storage)->sin_addr, 4) == 0);
    plan = p.PlanJoin(g, 3);  // another source of the same (group, interface)
    EXPECT(!plan.enable_before && !plan.disable_after);
    plan = p.PlanJoin(g, 4);  // a second interface: on before the join, for good
    EXPECT(plan.enable_before && !plan.disable_after);
    p.Joined(plan, g, 4);
    EXPECT(p.known() && p.ifindex() == 3);  // kept for datagrams queued while it was off
    plan = p.PlanJoin(g, 3);
    EXPECT(!plan.enable_before && !plan.disable_after);
  }
  {
    mcast::ArrivalPolicy p(AF_INET, g, false);
    EXPECT(!p.PlanJoin(other, 3).disable_after);  // another group (a bind to g never sees it)
    EXPECT(!p.PlanJoin(g, 3).disable_after);      // decided: never again
  }
  {
    mcast::ArrivalPolicy p(AF_INET, g, false);
    EXPECT(!p.PlanJoin(g, 0).disable_after);  // the kernel's choice of interface is not known
  }
  {
    mcast::ArrivalPolicy p(AF_INET, g, false);
    Plan plan = p.PlanJoin(g, 2);
    p.Joined(plan, g, 2);
    EXPECT(!p.PlanMulticastAll(false));
    EXPECT(p.PlanMulticastAll(true));
    EXPECT(!p.PlanMulticastAll(true));
  }
  mcast::ArrivalPolicy wildcard(AF_INET, V4("0.0.0.0"), false);
  EXPECT(!wildcard.PlanJoin(g, 3).disable_after);
  mcast::ArrivalPolicy all(AF_INET, g, true);
  EXPECT(!all.PlanJoin(g, 3).disable_after);
  mcast::SockAddr g6;
  mcast::ParseAddress(AF_INET6, "ff15::1", 0, 0, &g6);
  mcast::ArrivalPolicy v6(AF_INET6, g6, false);
  EXPECT(!v6.PlanJoin(g6, 3).disable_after);
}

TEST(PacksTheDatagramsOfABatchBackToBack) {
  std::vector<uint8_t> slab(size_t{4} * 16), records(size_t{3} * mcast::layout::kRecordBytes, 0);
  for (size_t i = 0; i < slab.size(); i++) slab[i] = static_cast<uint8_t>(i);
  auto set = [&](size_t i, int32_t offset, int32_t size) {
    std::memcpy(records.data() + i * mcast::layout::kRecordBytes + mcast::layout::kOffset * 4, &offset, 4);
    std::memcpy(records.data() + i * mcast::layout::kRecordBytes + mcast::layout::kSize * 4, &size, 4);
  };
  set(0, 0, 3);
  set(1, 32, 5);  // a record may skip a slot (the IPv6 filter) or share one (GRO)
  set(2, 40, 2);
  std::vector<uint8_t> out(10, 0xee);
  size_t written = 0;
  EXPECT(mcast::PackDatagrams(slab.data(), slab.size(), records.data(), 3, out.data(), out.size(), &written));
  EXPECT(written == 10);
  EXPECT((out == std::vector<uint8_t>{0, 1, 2, 32, 33, 34, 35, 36, 40, 41}));
  size_t total = 0;
  EXPECT(mcast::PackedBytes(records.data(), 3, slab.size(), &total));
  EXPECT(total == 10);  // what PackDatagrams wrote
  set(2, 40, 65);       // larger than the slab
  EXPECT(!mcast::PackedBytes(records.data(), 3, slab.size(), &total));
  set(2, 40, -1);
  EXPECT(!mcast::PackedBytes(records.data(), 3, slab.size(), &total));
  set(2, 40, 2);
  EXPECT(!mcast::PackDatagrams(slab.data(), slab.size(), records.data(), 3, out.data(), 9, &written));
  EXPECT(written == 8);  // what fit before the datagram that did not
  set(1, 62, 5);         // past the slab's end
  EXPECT(!mcast::PackDatagrams(slab.data(), slab.size(), records.data(), 3, out.data(), out.size(), &written));
  set(1, -1, 5);
  EXPECT(!mcast::PackDatagrams(slab.data(), slab.size(), records.data(), 3, out.data(), out.size(), &written));
}

// The capture writer's checksums: OnesSum and CopyOnesSum (64 bytes a step with AVX2 where the
// CPU has it, then 32 with SSE2, then 8, 2, 1) against a byte-at-a-time big-endian word sum, at
// every alignment and every length to 200 (each remainder of every step), with and without an
// initial sum; CopyOnesSum copies exactly n bytes.
TEST(SumsOnesComplementAtEveryAlignmentAndLength) {
  std::vector<uint8_t> bytes(600);
  uint32_t seed = 12345;
  for (uint8_t& b : bytes) {
    seed = seed * 1103515245u + 12345u;
    b = static_cast<uint8_t>(seed >> 16);
  }
  const auto reference = [](const uint8_t* p, size_t n, uint32_t initial) {
    uint64_t sum = initial;
    for (size_t i = 0; i < n; i++) sum += (i % 2 == 0) ? static_cast<uint32_t>(p[i]) << 8 : p[i];
    while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
  };
  std::vector<uint8_t> out(600);
  for (size_t from = 0; from < 16; from++) {
    for (size_t n = 0; from + n <= 560; n += (n < 200 ? 1 : 37)) {
      for (const uint32_t initial : {0u, 17u + 1408u, 0x1fffeu}) {
        const uint16_t want = reference(bytes.data() + from, n, initial);
        EXPECT(mcast::OnesSum(bytes.data() + from, n, initial) == want);
        std::fill(out.begin(), out.end(), uint8_t{0xa5});
        EXPECT(mcast::CopyOnesSum(out.data() + 3, bytes.data() + from, n, initial) == want);
        EXPECT(std::equal(bytes.begin() + static_cast<std::ptrdiff_t>(from),
                          bytes.begin() + static_cast<std::ptrdiff_t>(from + n),
                          out.begin() + 3));
        EXPECT(out[2] == 0xa5 && out[3 + n] == 0xa5);
      }
    }
  }
  // All-ones words: the sum wraps and folds (no carry lost in the wide lanes).
  const std::vector<uint8_t> ones(4096, 0xff);
  EXPECT(mcast::OnesSum(ones.data(), ones.size()) == reference(ones.data(), ones.size(), 0));
  EXPECT(mcast::CopyOnesSum(out.data(), ones.data(), 512, 5) == reference(ones.data(), 512, 5));
}

TEST(SizesMessageBlocksWithinAQuarterOfTheirBytes) {
  using Pool = mcast::MessageBlockPool;
  EXPECT(Pool::BlockCapacity(1) == 4096);
  EXPECT(Pool::BlockCapacity(4096) == 4096);
  EXPECT(Pool::BlockCapacity(4097) == 5120);
  EXPECT(Pool::BlockCapacity(size_t{64} * 1400) == 98304);
  EXPECT(Pool::BlockCapacity(131072) == 131072);
  EXPECT(Pool::BlockCapacity(131073) == 163840);
  for (size_t bytes = 1; bytes < (size_t{5} << 20); bytes = bytes * 3 / 2 + 1) {
    const size_t capacity = Pool::BlockCapacity(bytes);
    EXPECT(capacity >= bytes);
    EXPECT(capacity <= 4096 || capacity * 4 <= bytes * 5);
  }
}

TEST(SmallBatchesShareOneMessageBlockUntilItIsFullOrGivenBack) {
  mcast::MessageBlockPool* pool = mcast::MessageBlockPool::Create();
  size_t offset = 99;
  bool fresh = false;
  uint8_t* a = pool->TakeShared(1000, &offset, &fresh);
  if (a == nullptr) std::abort();  // out of memory: nothing below can run
  EXPECT(fresh && offset == 0 && pool->fresh_blocks() == 1);
  EXPECT(a[1000] == 0 && a[4095] == 0);  // what JS can see past the room is zeroed
  std::memset(a, 7, 1000);
  EXPECT(pool->TakeShared(3000, &offset, &fresh) == a && !fresh && offset == 1000);
  EXPECT(pool->TakeShared(96, &offset, &fresh) == a && !fresh && offset == 4000);
  EXPECT(a[999] == 7);  // rooms never overlap
  uint8_t* b = pool->TakeShared(1, &offset, &fresh);  // a is full: a new block
  EXPECT(b != a && fresh && offset == 0 && pool->outstanding() == 2);
  pool->Unshare();  // JS was handed another block: b takes no more rooms
  uint8_t* c = pool->TakeShared(4096, &offset, &fresh);
  EXPECT(c != b && c != a && fresh && offset == 0);
  pool->Give(c);  // the shared block collected: the next room is in a new (here reused) block
  uint8_t* d = pool->TakeShared(10, &offset, &fresh);
  EXPECT(fresh && offset == 0 && d == c && pool->fresh_blocks() == 3);
  pool->Give(a);
  pool->Give(b);
  pool->Give(d);
  pool->Release();
}

TEST(ReusesMessageBlocksOnlyOnceGivenBack) {
  mcast::MessageBlockPool* pool = mcast::MessageBlockPool::Create(size_t{3} * 8192);
  uint8_t* a = pool->Take(6000);
  uint8_t* b = pool->Take(6000);
  EXPECT(a != b && pool->outstanding() == 2 && pool->fresh_blocks() == 2);
  std::memset(a, 1, 6000);
  std::memset(b, 2, 6000);
  pool->Give(a);
  EXPECT(pool->idle_blocks() == 1 && pool->idle_bytes() == 6144);
  uint8_t* c = pool->Take(5500);  // the same size class: a comes back
  EXPECT(c == a && pool->fresh_blocks() == 2);
  uint8_t* d = pool->Take(9000);  // another class: new
  EXPECT(d != a && d != b && pool->fresh_blocks() == 3);
  EXPECT(b[5999] == 2);  // b was never handed out again
  pool->Give(b);
  pool->Give(c);
  pool->Give(d);
  // The idle limit (24 KiB) holds 6144 + 6144 + 10240 bytes.
  EXPECT(pool->idle_bytes() == 22528 && pool->outstanding() == 0);
  uint8_t* e = pool->Take(100000);
  pool->Give(e);  // over the limit: freed, not kept
  EXPECT(pool->idle_bytes() == 22528);
  // The owner lets go with a block still out: the pool lives until that block comes back.
  uint8_t* f = pool->Take(100);
  pool->Release();
  EXPECT(pool->idle_bytes() == 0 && pool->outstanding() == 1);
  f[99] = 3;
  pool->Give(f);  // frees f and the pool (ASan and valgrind check both)
}

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

// SetSourceAddress(false): the kernel is given no name buffer, so the records' source and port
// stay zero, while the rest of each record is as before; on again, the source is back, also in
// slots whose name length the kernel had shrunk.
SOCKET_TEST(AsksForNoSourceAddressWhenToldNot) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  mcast::SockAddr tx_addr;
  const int tx = Open(AF_INET, "127.0.0.1", 0, &tx_addr);
  EXPECT(rx >= 0 && tx >= 0);
  sockaddr_in tx_in;
  std::memcpy(&tx_in, &tx_addr.storage, sizeof(tx_in));
  std::vector<uint8_t> slab(size_t{8} * 64), records(8 * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(8, 64, slab.data(), records.data());
  mcast::RecvCounters rc;
  mcast::SendCounters sc;
  const uint8_t bytes[5] = {1, 2, 3, 4, 5};
  for (int round = 0; round < 3; round++) {
    const bool source = round != 1;
    batch.SetSourceAddress(source);
    for (int i = 0; i < 3; i++) EXPECT(mcast::SendOne(tx, rx_addr, bytes, 5, &sc).sent == 1);
    EXPECT(Receive(&batch, rx, &rc) == 3);
    for (size_t i = 0; i < 3; i++) {
      const uint8_t* rec = records.data() + i * mcast::layout::kRecordBytes;
      const int want_port = source ? ntohs(tx_in.sin_port) : 0;
      EXPECT(RecordInt(rec, mcast::layout::kPort) == want_port);
      const uint32_t loopback = htonl(INADDR_LOOPBACK), none = 0;
      EXPECT(std::memcmp(rec + mcast::layout::kSourceByte, source ? &loopback : &none, 4) == 0);
      EXPECT(RecordInt(rec, mcast::layout::kSize) == 5);
      EXPECT((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagPktinfo) != 0);
      EXPECT(std::memcmp(rec + mcast::layout::kDestinationByte, &loopback, 4) == 0);
    }
  }
  close(rx);
  close(tx);
}

// Datagrams that come with no control message at all (IP_PKTINFO off, no timestamps, no drops:
// the default one-group socket) take RecvBatch's bare path, which writes each record from a
// template: every byte of every record must still be right, with and without a known arrival,
// and in a batch that mixes them with a merged receive, which carries a control message. So do
// those whose one control message is IP_PKTINFO.
SOCKET_TEST(WritesWholeRecordsOnThePathsThatDoNotDecode) {
  mcast::OpenOptions options;  // no timestamps
  mcast::SockAddr any, rx_addr, tx_addr;
  EXPECT(mcast::ParseAddress(AF_INET, "127.0.0.1", 0, 0, &any));
  int rx = -1;
  const char* failed = nullptr;
  EXPECT(mcast::OpenBoundSocket(options, any, &rx, &failed) == 0);
  EXPECT(mcast::SetIntOption(rx, IPPROTO_IP, IP_PKTINFO, 0) == 0);
  mcast::LocalAddress(rx, &rx_addr);
  const int tx = Open(AF_INET, "127.0.0.1", 0, &tx_addr);
  EXPECT(rx >= 0 && tx >= 0);
  sockaddr_in tx_in;
  std::memcpy(&tx_in, &tx_addr.storage, sizeof(tx_in));
  constexpr size_t kMax = 64;
  std::vector<uint8_t> slab(8 * kMax), records(8 * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(8, kMax, slab.data(), records.data());
  // What a socket bound to 239.1.2.3 that joined it on interface 7 knows (arrival_policy.h).
  mcast::SockAddr group;
  EXPECT(mcast::ParseAddress(AF_INET, "239.1.2.3", 0, 0, &group));
  mcast::ArrivalPolicy known(AF_INET, group, false);
  const mcast::ArrivalPolicy::Plan plan = known.PlanJoin(group, 7);
  known.Joined(plan, group, 7);
  EXPECT(known.known());

  const std::vector<uint8_t> payload(100, 9);
  const size_t sizes[4] = {5, 100, 1, 64};
  mcast::SendCounters sc;
  for (int round = 0; round < 2; round++) {
    if (round == 1) batch.SetArrivalPolicy(&known);
    mcast::RecvCounters rc;
    for (const size_t size : sizes) {
      EXPECT(mcast::SendOne(tx, rx_addr, payload.data(), size, &sc).sent == 1);
    }
    std::memset(records.data(), 0xEE, records.size());
    EXPECT(Receive(&batch, rx, &rc) == 4);
    for (size_t i = 0; i < 4; i++) {
      const uint8_t* rec = records.data() + i * mcast::layout::kRecordBytes;
      const bool cut = sizes[i] > kMax;
      const bool arrival = round > 0;
      EXPECT(RecordInt(rec, mcast::layout::kSize) == static_cast<int32_t>(cut ? kMax : sizes[i]));
      EXPECT(RecordInt(rec, mcast::layout::kOriginalSize) == static_cast<int32_t>(sizes[i]));
      const int32_t flags = (cut ? mcast::layout::kFlagTruncated : 0) | (arrival ? mcast::layout::kFlagPktinfo : 0);
      EXPECT(RecordInt(rec, mcast::layout::kFlags) == flags);
      EXPECT(RecordInt(rec, mcast::layout::kIfIndex) == (arrival ? 7 : 0));
      EXPECT(RecordInt(rec, mcast::layout::kPort) == ntohs(tx_in.sin_port));
      EXPECT(RecordInt(rec, mcast::layout::kTtl) == -1);
      EXPECT(RecordInt(rec, mcast::layout::kOffset) == static_cast<int32_t>(i * kMax));
      EXPECT(RecordInt(rec, mcast::layout::kDropCount) == 0);
      uint8_t source[16] = {127, 0, 0, 1}, destination[16] = {};
      if (arrival) std::memcpy(destination, known.destination(), 4);
      EXPECT(std::memcmp(rec + mcast::layout::kSourceByte, source, 16) == 0);
      EXPECT(std::memcmp(rec + mcast::layout::kDestinationByte, destination, 16) == 0);
      const uint8_t zero[8] = {};
      EXPECT(std::memcmp(rec + mcast::layout::kTimestampByte, zero, 8) == 0);
    }
    EXPECT(rc.packets == 4 && rc.batches == 1 && rc.truncated == 1);
    EXPECT(rc.bytes == 5 + kMax + 1 + 64);
  }

  // IP_PKTINFO on and nothing else (a socket bound to an address it does not know the group
  // of): each datagram's one control message gives its destination and interface.
  EXPECT(mcast::SetIntOption(rx, IPPROTO_IP, IP_PKTINFO, 1) == 0);
  batch.SetArrivalPolicy(nullptr);
  {
    mcast::RecvCounters rc;
    for (const size_t size : sizes) EXPECT(mcast::SendOne(tx, rx_addr, payload.data(), size, &sc).sent == 1);
    std::memset(records.data(), 0xEE, records.size());
    EXPECT(Receive(&batch, rx, &rc) == 4);
    for (size_t i = 0; i < 4; i++) {
      const uint8_t* rec = records.data() + i * mcast::layout::kRecordBytes;
      const bool cut = sizes[i] > kMax;
      EXPECT(RecordInt(rec, mcast::layout::kSize) == static_cast<int32_t>(cut ? kMax : sizes[i]));
      EXPECT(RecordInt(rec, mcast::layout::kOriginalSize) == static_cast<int32_t>(sizes[i]));
      EXPECT(RecordInt(rec, mcast::layout::kFlags) ==
             (mcast::layout::kFlagPktinfo | (cut ? mcast::layout::kFlagTruncated : 0)));
      EXPECT(RecordInt(rec, mcast::layout::kIfIndex) == static_cast<int32_t>(if_nametoindex("lo")));
      EXPECT(RecordInt(rec, mcast::layout::kPort) == ntohs(tx_in.sin_port));
      EXPECT(RecordInt(rec, mcast::layout::kTtl) == -1);
      EXPECT(RecordInt(rec, mcast::layout::kOffset) == static_cast<int32_t>(i * kMax));
      EXPECT(RecordInt(rec, mcast::layout::kDropCount) == 0);
      const uint8_t loopback[16] = {127, 0, 0, 1}, zero[8] = {};
      EXPECT(std::memcmp(rec + mcast::layout::kSourceByte, loopback, 16) == 0);
      EXPECT(std::memcmp(rec + mcast::layout::kDestinationByte, loopback, 16) == 0);
      EXPECT(std::memcmp(rec + mcast::layout::kTimestampByte, zero, 8) == 0);
    }
    EXPECT(rc.packets == 4 && rc.truncated == 1 && rc.bytes == 5 + kMax + 1 + 64);
  }
  EXPECT(mcast::SetIntOption(rx, IPPROTO_IP, IP_PKTINFO, 0) == 0);

  // With UDP_GRO: a plain datagram, a merged receive of 3 × 50 (a UDP_GRO control message),
  // and a plain one cut to 64, in one batch of 64 KiB slots.
  EXPECT(mcast::SetIntOption(rx, SOL_UDP, UDP_GRO, 1) == 0);
  constexpr size_t kSlot = 65536;
  std::vector<uint8_t> gro_slab(4 * kSlot), gro_records(4 * mcast::kMaxGroSegments * mcast::layout::kRecordBytes);
  mcast::RecvBatch gro(4, kSlot, gro_slab.data(), gro_records.data(), 4 * mcast::kMaxGroSegments);
  gro.SetKeep(kMax);
  gro.SetArrivalPolicy(&known);
  EXPECT(mcast::SendOne(tx, rx_addr, payload.data(), 5, &sc).sent == 1);
  mcast::SendBatch sender;
  sender.SetSegmentation(true);
  sender.Reserve(3);
  for (size_t i = 0; i < 3; i++) sender.Set(i, payload.data(), 50);
  EXPECT(sender.Send(tx, rx_addr, 3, &sc).sent == 3);
  EXPECT(mcast::SendOne(tx, rx_addr, payload.data(), 100, &sc).sent == 1);
  std::memset(gro_records.data(), 0xEE, gro_records.size());
  mcast::RecvCounters rc;
  int delivered = 0;
  EXPECT(gro.Receive(rx, nullptr, &rc, &delivered) == 3);
  EXPECT(delivered == 5);
  const int32_t want_size[5] = {5, 50, 50, 50, 64}, want_wire[5] = {5, 50, 50, 50, 100};
  const int32_t want_offset[5] = {0, kSlot, kSlot + 50, kSlot + 100, 2 * kSlot};
  for (size_t i = 0; i < 5; i++) {
    const uint8_t* rec = gro_records.data() + i * mcast::layout::kRecordBytes;
    EXPECT(RecordInt(rec, mcast::layout::kSize) == want_size[i]);
    EXPECT(RecordInt(rec, mcast::layout::kOriginalSize) == want_wire[i]);
    EXPECT(RecordInt(rec, mcast::layout::kOffset) == want_offset[i]);
    EXPECT(RecordInt(rec, mcast::layout::kFlags) ==
           (mcast::layout::kFlagPktinfo | (i == 4 ? mcast::layout::kFlagTruncated : 0)));
    EXPECT(RecordInt(rec, mcast::layout::kIfIndex) == 7);
    EXPECT(RecordInt(rec, mcast::layout::kPort) == ntohs(tx_in.sin_port));
    EXPECT(RecordInt(rec, mcast::layout::kTtl) == -1);
    EXPECT(RecordInt(rec, mcast::layout::kDropCount) == 0);
    const uint8_t source[16] = {127, 0, 0, 1}, zero[8] = {};
    EXPECT(std::memcmp(rec + mcast::layout::kSourceByte, source, 16) == 0);
    EXPECT(std::memcmp(rec + mcast::layout::kDestinationByte, known.destination(), 16) == 0);
    EXPECT(std::memcmp(rec + mcast::layout::kTimestampByte, zero, 8) == 0);
  }
  EXPECT(rc.packets == 5 && rc.gro_receives == 1 && rc.gro_datagrams == 3 && rc.truncated == 1);
  close(rx);
  close(tx);
}

// Sends 200 datagrams of 1000 bytes to a receiver whose buffer holds a few, and reads what
// made it in. Returns how many the kernel accepted from the sender.
size_t OverflowAndDrain(int rx, int tx, const mcast::SockAddr& rx_addr, mcast::RecvBatch* batch,
                        mcast::RecvCounters* rc) {
  int effective = 0;
  EXPECT(mcast::SetBufferSize(rx, true, 4096, &effective) == 0);
  std::vector<uint8_t> payload(1000, 1);
  mcast::SendCounters sc;
  size_t accepted = 0;
  for (int i = 0; i < 200; i++) accepted += mcast::SendOne(tx, rx_addr, payload.data(), payload.size(), &sc).sent;
  while (Receive(batch, rx, rc) > 0) {
  }
  return accepted;
}

SOCKET_TEST(CountsKernelDropsWithSoRxqOvfl) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
  std::vector<uint8_t> slab(size_t{64} * 2048), records(64 * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(64, 2048, slab.data(), records.data());
  mcast::RecvCounters rc;
  const size_t accepted = OverflowAndDrain(rx, tx, rx_addr, &batch, &rc);
  std::vector<uint8_t> payload(1000, 1);
  mcast::SendCounters sc;
  // One more after the drops, so that a datagram carries the final drop count.
  EXPECT(mcast::SendOne(tx, rx_addr, payload.data(), payload.size(), &sc).sent == 1);
  while (Receive(&batch, rx, &rc) > 0) {
  }
  EXPECT(rc.kernel_drops > 0);
  EXPECT(rc.packets + rc.kernel_drops == accepted + 1);
  close(rx);
  close(tx);
}

// A GSO sender and a UDP_GRO receiver on lo: lo passes the UDP_SEGMENT message intact, the
// receive comes merged and RecvBatch splits it into the datagrams sent, with their own offsets.
SOCKET_TEST(SegmentsOnSendAndSplitsMergedReceives) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
  EXPECT(rx >= 0 && tx >= 0);
  EXPECT(mcast::KernelHasSegmentation(tx));
  EXPECT(mcast::SetIntOption(rx, SOL_UDP, UDP_GRO, 1) == 0);
  constexpr size_t kSlots = 4, kSlot = 65536, kRecords = kSlots * mcast::kMaxGroSegments;
  std::vector<uint8_t> slab(kSlots * kSlot), records(kRecords * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(kSlots, kSlot, slab.data(), records.data(), kRecords);
  batch.SetKeep(1000);

  // 50 × 1200 + 10 in one run, then 3 × 10: two UDP_SEGMENT messages.
  std::vector<std::vector<uint8_t>> payloads;
  for (size_t i = 0; i < 54; i++) {
    payloads.emplace_back(i < 50 ? 1200 : 10, static_cast<uint8_t>(i));
  }
  mcast::SendBatch sender;
  sender.SetSegmentation(true);
  sender.Reserve(payloads.size());
  for (size_t i = 0; i < payloads.size(); i++) sender.Set(i, payloads[i].data(), payloads[i].size());
  mcast::SendCounters sc;
  const mcast::SendResult sent = sender.Send(tx, rx_addr, payloads.size(), &sc);
  EXPECT(sent.sent == payloads.size() && sent.error == 0);
  EXPECT(sc.gso_sends == 2 && sc.gso_fallbacks == 0 && sc.packets == payloads.size());
  EXPECT(sc.bytes == 50 * 1200 + 4 * 10);

  mcast::RecvCounters rc;
  int delivered = 0;
  const int n = batch.Receive(rx, nullptr, &rc, &delivered);
  EXPECT(n == 2);
  EXPECT(delivered == 54);
  EXPECT(rc.gro_receives == 2 && rc.gro_datagrams == 54 && rc.packets == 54);
  EXPECT(rc.truncated == 50);  // each 1200-byte datagram kept 1000
  for (int i = 0; i < delivered; i++) {
    const uint8_t* rec = records.data() + static_cast<size_t>(i) * mcast::layout::kRecordBytes;
    const size_t want = i < 50 ? 1200 : 10;
    const int32_t offset = RecordInt(rec, mcast::layout::kOffset);
    const size_t expected_offset = i < 51 ? static_cast<size_t>(i) * 1200 : kSlot + static_cast<size_t>(i - 51) * 10;
    EXPECT(static_cast<size_t>(offset) == expected_offset);
    EXPECT(static_cast<size_t>(RecordInt(rec, mcast::layout::kOriginalSize)) == want);
    EXPECT(static_cast<size_t>(RecordInt(rec, mcast::layout::kSize)) == (want < 1000 ? want : 1000));
    EXPECT(((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagTruncated) != 0) == (want > 1000));
    EXPECT((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagPktinfo) != 0);
    EXPECT(RecordInt(rec, mcast::layout::kIfIndex) == 1);
    EXPECT(slab[static_cast<size_t>(offset)] == static_cast<uint8_t>(i));
  }
  EXPECT(rc.bytes == 50 * 1000 + 4 * 10);

  // Every segment cut, the last one too: 2 × 1200 + 1100 with 1000 kept. Each record keeps its
  // own wire size and flag, and the counters add what was kept.
  const size_t sizes[3] = {1200, 1200, 1100};
  for (size_t i = 0; i < 3; i++) sender.Set(i, payloads[i].data(), sizes[i]);
  EXPECT(sender.Send(tx, rx_addr, 3, &sc).sent == 3 && sc.gso_sends == 3);
  mcast::RecvCounters cut;
  EXPECT(batch.Receive(rx, nullptr, &cut, &delivered) == 1);
  EXPECT(delivered == 3);
  for (size_t i = 0; i < 3; i++) {
    const uint8_t* rec = records.data() + i * mcast::layout::kRecordBytes;
    EXPECT(RecordInt(rec, mcast::layout::kOffset) == static_cast<int32_t>(i * 1200));
    EXPECT(RecordInt(rec, mcast::layout::kSize) == 1000);
    EXPECT(RecordInt(rec, mcast::layout::kOriginalSize) == static_cast<int32_t>(sizes[i]));
    EXPECT((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagTruncated) != 0);
    EXPECT((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagPktinfo) != 0);
    EXPECT(slab[i * 1200] == static_cast<uint8_t>(i));
  }
  EXPECT(cut.gro_receives == 1 && cut.gro_datagrams == 3 && cut.packets == 3);
  EXPECT(cut.truncated == 3 && cut.bytes == 3000);
  close(rx);
  close(tx);
}

// A merged receive with more datagrams than records left: the last record takes all the rest
// (its real size, cut to maxMessageSize and flagged), so nothing goes missing without a trace;
// with one record left, that one record is the whole receive.
SOCKET_TEST(SplitsAMergedReceiveIntoTheRecordsLeft) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
  EXPECT(rx >= 0 && tx >= 0);
  EXPECT(mcast::SetIntOption(rx, SOL_UDP, UDP_GRO, 1) == 0);
  constexpr size_t kSlot = 65536;
  for (const size_t room : {size_t{5}, size_t{1}}) {
    std::vector<uint8_t> slab(kSlot), records(room * mcast::layout::kRecordBytes);
    mcast::RecvBatch batch(1, kSlot, slab.data(), records.data(), room);
    batch.SetKeep(1000);
    std::vector<uint8_t> payload(static_cast<size_t>(20) * 700, 3);
    mcast::SendBatch sender;
    sender.SetSegmentation(true);
    sender.Reserve(20);
    for (size_t i = 0; i < 20; i++) sender.Set(i, payload.data() + i * 700, 700);
    mcast::SendCounters sc;
    EXPECT(sender.Send(tx, rx_addr, 20, &sc).sent == 20 && sc.gso_sends == 1);
    mcast::RecvCounters rc;
    int delivered = 0;
    EXPECT(batch.Receive(rx, nullptr, &rc, &delivered) == 1);
    EXPECT(static_cast<size_t>(delivered) == room);
    for (size_t k = 0; k < room; k++) {
      const uint8_t* rec = records.data() + k * mcast::layout::kRecordBytes;
      const bool last = k + 1 == room;
      const int32_t wire = last ? static_cast<int32_t>((20 - k) * 700) : 700;
      EXPECT(RecordInt(rec, mcast::layout::kOffset) == static_cast<int32_t>(k * 700));
      EXPECT(RecordInt(rec, mcast::layout::kOriginalSize) == wire);
      EXPECT(RecordInt(rec, mcast::layout::kSize) == (wire < 1000 ? wire : 1000));
      EXPECT(((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagTruncated) != 0) == (wire > 1000));
      EXPECT((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagPktinfo) != 0);
      EXPECT((RecordInt(rec, mcast::layout::kFlags) & mcast::layout::kFlagTimestamp) != 0);
      EXPECT(RecordInt(rec, mcast::layout::kIfIndex) == 1);
      EXPECT(RecordInt(rec, mcast::layout::kTtl) == -1);
    }
    EXPECT(rc.gro_receives == 1 && rc.gro_datagrams == room && rc.packets == room);
    EXPECT(rc.truncated == 1 && rc.bytes == (room - 1) * 700 + 1000);
  }
  close(rx);
  close(tx);
}

// SO_NO_CHECK makes the kernel refuse UDP_SEGMENT (EINVAL): the batch falls back to plain
// sendmmsg for good, and every datagram arrives once.
SOCKET_TEST(FallsBackToPlainSendsWhenSegmentationIsRefused) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
  EXPECT(rx >= 0 && tx >= 0);
  EXPECT(mcast::SetIntOption(tx, SOL_SOCKET, SO_NO_CHECK, 1) == 0);
  std::vector<uint8_t> slab(size_t{64} * 256), records(64 * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(64, 256, slab.data(), records.data());
  std::vector<uint8_t> payload(200, 7);
  mcast::SendBatch sender;
  sender.SetSegmentation(true);
  sender.Reserve(10);
  for (size_t i = 0; i < 10; i++) sender.Set(i, payload.data(), payload.size());
  mcast::SendCounters sc;
  EXPECT(sender.Send(tx, rx_addr, 10, &sc).sent == 10);
  EXPECT(sc.gso_fallbacks == 1 && sc.gso_sends == 0 && sc.packets == 10);
  EXPECT(!sender.segmentation());
  EXPECT(sender.Send(tx, rx_addr, 10, &sc).sent == 10);
  EXPECT(sc.gso_fallbacks == 1 && sc.packets == 20);
  mcast::RecvCounters rc;
  int total = 0;
  for (int n; (n = Receive(&batch, rx, &rc)) > 0;) total += n;
  EXPECT(total == 20);
  close(rx);
  close(tx);
}

// SendUniform: one block cut into datagrams of one size, in chunks of 1024 datagrams, one
// UDP_SEGMENT message (one iovec) per run of 128; a refusal falls back without a loss.
SOCKET_TEST(SendsAUniformBlockInChunksAndFallsBackWithoutALoss) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
  EXPECT(rx >= 0 && tx >= 0);
  int effective = 0;
  EXPECT(mcast::SetBufferSize(rx, true, 8 << 20, &effective) == 0);
  constexpr size_t kCount = 2500, kSize = 40, kLast = 7;
  std::vector<uint8_t> block((kCount - 1) * kSize + kLast);
  for (size_t i = 0; i < block.size(); i++) block[i] = static_cast<uint8_t>(i / kSize);
  mcast::SendBatch sender;
  sender.SetSegmentation(true);
  mcast::SendCounters sc;
  const mcast::SendResult sent = sender.SendUniform(tx, rx_addr, block.data(), block.size(), kSize, &sc);
  EXPECT(sent.sent == kCount && sent.error == 0);
  // Chunks of 1024, 1024 and 452 datagrams: 8 + 8 + 4 messages of up to 128 segments.
  EXPECT(sc.gso_sends == 20 && sc.gso_fallbacks == 0 && sc.packets == kCount && sc.bytes == block.size());

  std::vector<uint8_t> buffer(2048);
  size_t got = 0;
  bool exact = true;
  for (ssize_t n; (n = recv(rx, buffer.data(), buffer.size(), MSG_DONTWAIT)) >= 0; got++) {
    const size_t want = got == kCount - 1 ? kLast : kSize;
    exact = exact && static_cast<size_t>(n) == want && buffer[0] == static_cast<uint8_t>(got) &&
            buffer[static_cast<size_t>(n) - 1] == static_cast<uint8_t>(got);
  }
  EXPECT(got == kCount && exact);

  // SO_NO_CHECK: the kernel refuses UDP_SEGMENT; the rest goes as plain datagrams, once each.
  EXPECT(mcast::SetIntOption(tx, SOL_SOCKET, SO_NO_CHECK, 1) == 0);
  mcast::SendCounters fc;
  EXPECT(sender.SendUniform(tx, rx_addr, block.data(), 10 * kSize + kLast, kSize, &fc).sent == 11);
  EXPECT(fc.gso_fallbacks == 1 && fc.gso_sends == 0 && fc.packets == 11 && !sender.segmentation());
  got = 0;
  for (ssize_t n; (n = recv(rx, buffer.data(), buffer.size(), MSG_DONTWAIT)) >= 0; got++) {
    EXPECT(static_cast<size_t>(n) == (got == 10 ? kLast : kSize) && buffer[0] == static_cast<uint8_t>(got));
  }
  EXPECT(got == 11);
  close(rx);
  close(tx);
}

// Drops after the last datagram read show only in SO_MEMINFO: MergeDropCount takes them in.
SOCKET_TEST(MergesTheDropCountOfSoMeminfo) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
  std::vector<uint8_t> slab(size_t{64} * 2048), records(64 * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(64, 2048, slab.data(), records.data());
  mcast::RecvCounters rc;
  const size_t accepted = OverflowAndDrain(rx, tx, rx_addr, &batch, &rc);
  EXPECT(rc.kernel_drops == 0);  // no datagram came after the drops
  mcast::MergeDropCount(rx, &rc);
  EXPECT(rc.kernel_drops > 0 && rc.packets + rc.kernel_drops == accepted);
  const uint32_t merged = rc.kernel_drops;
  rc.kernel_drops = merged + 5;  // a higher count (from a cmsg) is never lowered
  mcast::MergeDropCount(rx, &rc);
  EXPECT(rc.kernel_drops == merged + 5);
  mcast::MergeDropCount(-1, &rc);
  EXPECT(rc.kernel_drops == merged + 5);
  close(rx);
  close(tx);
}

// A sink that records what a drain hands it and may stop after some batches.
class RecordingSink final : public mcast::DrainSink {
 public:
  explicit RecordingSink(int stop_after = 1 << 30) : stop_after_(stop_after) {}
  bool Receiving() const override { return true; }
  bool OnBatch(int delivered) override {
    batches.push_back(delivered);
    return static_cast<int>(batches.size()) < stop_after_;
  }
  bool OnSendErrors(uint32_t count, int err) override {
    send_errors.emplace_back(count, err);
    return true;
  }
  void OnError(int err) override { errors.push_back(err); }
  std::vector<int> batches;
  std::vector<std::pair<uint32_t, int>> send_errors;
  std::vector<int> errors;

 private:
  int stop_after_;
};

SOCKET_TEST(DrainsBatchesUntilAShortOneAndStopsWhenTheSinkSaysSo) {
  mcast::SockAddr rx_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
  std::vector<uint8_t> payload(32, 3);
  mcast::SendCounters sc;
  auto send = [&](int n) {
    for (int i = 0; i < n; i++) mcast::SendOne(tx, rx_addr, payload.data(), payload.size(), &sc);
  };
  std::vector<uint8_t> slab(size_t{16} * 64), records(16 * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(16, 64, slab.data(), records.data());
  mcast::RecvCounters rc;
  send(3 * 16 + 5);
  RecordingSink all;
  EXPECT(mcast::DrainReadable(&batch, rx, nullptr, &rc, &all) == 4);
  EXPECT((all.batches == std::vector<int>{16, 16, 16, 5}));
  RecordingSink empty;
  EXPECT(mcast::DrainReadable(&batch, rx, nullptr, &rc, &empty) == 0 && empty.batches.empty());
  send(40);
  RecordingSink one(1);
  EXPECT(mcast::DrainReadable(&batch, rx, nullptr, &rc, &one) == 1);
  EXPECT((one.batches == std::vector<int>{16}));
  RecordingSink rest;
  mcast::DrainReadable(&batch, rx, nullptr, &rc, &rest);
  EXPECT((rest.batches == std::vector<int>{16, 8}));
  // At most kMaxRoundsPerWake rounds per wake-up, however much is queued.
  int effective = 0;
  mcast::SetBufferSize(rx, true, 4 << 20, &effective);
  send(16 * (mcast::kMaxRoundsPerWake + 2));
  RecordingSink capped;
  EXPECT(mcast::DrainReadable(&batch, rx, nullptr, &rc, &capped) == mcast::kMaxRoundsPerWake);
  RecordingSink tail;
  mcast::DrainReadable(&batch, rx, nullptr, &rc, &tail);
  EXPECT((tail.batches == std::vector<int>{16, 16}));  // the rest, then EAGAIN
  close(rx);
  close(tx);
}

// A connected socket's datagram to a closed port comes back as ICMP: the receive call reports
// ECONNREFUSED, which the drain hands on as a send error and then goes on receiving.
SOCKET_TEST(HandsOnSendSideErrorsAndGoesOn) {
  mcast::SockAddr rx_addr, closed_addr;
  const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
  const int closed = Open(AF_INET, "127.0.0.1", 0, &closed_addr);
  close(closed);  // nobody listens on its port now
  EXPECT(mcast::Connect(rx, closed_addr) == 0);
  std::vector<uint8_t> payload(8, 1);
  mcast::SendCounters sc;
  EXPECT(mcast::SendOne(rx, closed_addr, payload.data(), payload.size(), &sc).sent == 1);
  usleep(20000);  // the ICMP error arrives in softirq context
  std::vector<uint8_t> slab(size_t{8} * 64), records(8 * mcast::layout::kRecordBytes);
  mcast::RecvBatch batch(8, 64, slab.data(), records.data());
  mcast::RecvCounters rc;
  RecordingSink sink;
  mcast::DrainReadable(&batch, rx, nullptr, &rc, &sink);
  EXPECT(sink.send_errors.size() == 1);
  EXPECT(!sink.send_errors.empty() && sink.send_errors[0].second == ECONNREFUSED);
  EXPECT(sink.errors.empty() && sink.batches.empty());
  close(rx);
}

// ReceiveWithin's clock in PreemptedAfterAnEmptyReceive: its first read is the start; its second
// (after the first, empty receive) plays a thread preempted past the deadline while a datagram
// came: it sends one, waits until the socket has it, and says the deadline has passed.
struct Preemption {
  int tx = -1;
  int rx = -1;
  mcast::SockAddr to;
  int reads = 0;
};
Preemption g_preemption;

constexpr int64_t kPreemptedStart = 1000000000;

int64_t PreemptedClock() {
  Preemption& p = g_preemption;
  // Each read 2 ms after the one before: past the 1 ms deadline that the read before set.
  const int64_t now = kPreemptedStart + int64_t{2000000} * p.reads;
  if (p.reads++ != 1) return now;
  const uint8_t byte = 7;
  mcast::SendCounters sc;
  mcast::SendOne(p.tx, p.to, &byte, 1, &sc);
  pollfd readable{p.rx, POLLIN, 0};
  poll(&readable, 1, 2000);
  return now;
}

// A datagram that came before the deadline is returned, though the clock read after the empty
// receive already saw the deadline pass (the old loop returned "none" there, in both modes).
SOCKET_TEST(ReceivesOnceMoreAfterTheDeadlinePassed) {
  for (const mcast::WaitMode mode : {mcast::WaitMode::kSpin, mcast::WaitMode::kBlock}) {
    mcast::SockAddr rx_addr;
    const int rx = Open(AF_INET, "127.0.0.1", 0, &rx_addr);
    const int tx = Open(AF_INET, "127.0.0.1", 0, nullptr);
    EXPECT(rx >= 0 && tx >= 0);
    g_preemption = Preemption{tx, rx, rx_addr, 0};
    std::vector<uint8_t> slab(size_t{8} * 64), records(8 * mcast::layout::kRecordBytes);
    mcast::RecvBatch batch(8, 64, slab.data(), records.data());
    mcast::RecvCounters rc;
    int delivered = 0;
    uint32_t send_errors = 0;
    EXPECT(mcast::ReceiveWithin(&batch, rx, nullptr, &rc, 1, mode, &delivered, &send_errors,
                                PreemptedClock) == 1);
    EXPECT(delivered == 1 && slab[0] == 7);
    EXPECT(g_preemption.reads == 2);
    // Nothing queued and the deadline past: -EAGAIN after one more receive, no wait.
    EXPECT(mcast::ReceiveWithin(&batch, rx, nullptr, &rc, 1, mode, &delivered, &send_errors,
                                PreemptedClock) == -EAGAIN);
    // A timeout of 0: one receive, and the clock read once (the start).
    const int reads = g_preemption.reads;
    EXPECT(mcast::ReceiveWithin(&batch, rx, nullptr, &rc, 0, mode, &delivered, &send_errors,
                                PreemptedClock) == -EAGAIN);
    EXPECT(g_preemption.reads == reads + 1);
    close(rx);
    close(tx);
  }
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

// ---- feeds -----------------------------------------------------------------------------------

#include "feed_cases.inc"  // the feed's test cases, in this registry

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

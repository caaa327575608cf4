#include "recv_batch.h"

#include <errno.h>

#include <cstring>

#include "batch_layout.h"
#include "gro_split.h"

namespace mcast {

namespace {

void PutInt(uint8_t* record, size_t index, int32_t value) {
  std::memcpy(record + index * sizeof(int32_t), &value, sizeof(value));
}

// The destination and interface a socket knows without IP_PKTINFO (arrival_policy.h).
void FillKnownArrival(const ArrivalPolicy& known, uint8_t* record, DecodeResult* r) {
  r->has_pktinfo = true;
  r->ifindex = known.ifindex();
  std::memcpy(r->destination, known.destination(), sizeof(r->destination));
  std::memcpy(record + layout::kDestinationByte, r->destination, sizeof(r->destination));
  PutInt(record, layout::kIfIndex, static_cast<int32_t>(r->ifindex));
  r->flags |= layout::kFlagPktinfo;
  PutInt(record, layout::kFlags, r->flags);
}

}  // namespace

bool PackedBytes(const uint8_t* records, size_t count, size_t slab_bytes, size_t* total) {
  *total = 0;
  for (size_t i = 0; i < count; i++) {
    int32_t size;
    std::memcpy(&size, records + i * layout::kRecordBytes + layout::kSize * sizeof(int32_t), sizeof(size));
    if (size < 0 || static_cast<size_t>(size) > slab_bytes) return false;
    *total += static_cast<size_t>(size);
  }
  return true;
}

bool PackDatagrams(const uint8_t* slab, size_t slab_bytes, const uint8_t* records, size_t count,
                   uint8_t* out, size_t out_bytes, size_t* written) {
  size_t at = 0;
  *written = 0;
  for (size_t i = 0; i < count; i++) {
    const uint8_t* record = records + i * layout::kRecordBytes;
    int32_t offset, size;
    std::memcpy(&offset, record + layout::kOffset * sizeof(int32_t), sizeof(offset));
    std::memcpy(&size, record + layout::kSize * sizeof(int32_t), sizeof(size));
    if (offset < 0 || size < 0 || static_cast<size_t>(offset) + static_cast<size_t>(size) > slab_bytes ||
        at + static_cast<size_t>(size) > out_bytes) {
      return false;
    }
    std::memcpy(out + at, slab + offset, static_cast<size_t>(size));
    at += static_cast<size_t>(size);
    *written = at;
  }
  return true;
}

RecvBatch::RecvBatch(size_t batch_size, size_t slot_size, uint8_t* slab, uint8_t* records,
                     size_t record_capacity)
    : batch_size_(batch_size),
      slot_size_(slot_size),
      keep_(static_cast<uint32_t>(slot_size)),
      record_capacity_(record_capacity == 0 ? batch_size : record_capacity),
      records_(records),
      msgs_(batch_size),
      iov_(batch_size),
      names_(batch_size),
      control_(batch_size) {
  for (size_t i = 0; i < batch_size; i++) {
    iov_[i].iov_base = slab + i * slot_size;
    iov_[i].iov_len = slot_size;
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
    h.msg_name = &names_[i];
    h.msg_control = control_[i].bytes;
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_controllen = kControlBytes;
  }
}

void RecvBatch::SetSourceAddress(bool on) {
  name_room_ = on ? static_cast<socklen_t>(sizeof(sockaddr_storage)) : 0;
  for (size_t i = 0; i < batch_size_; i++) {
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_name = on ? &names_[i] : nullptr;
    h.msg_namelen = name_room_;
  }
}

int RecvBatch::SplitMerged(uint8_t* first, size_t free_records, const DecodeResult& decoded,
                           uint32_t received, uint32_t slab_offset, RecvCounters* counters) {
  const size_t room = free_records < kMaxGroSegments ? free_records : kMaxGroSegments;
  const uint32_t segment = decoded.gro_segment_size;
  const GroPlan plan = PlanGroSplit(received, segment, room);
  if (plan.count == 0) return 0;
  const uint32_t keep = keep_;
  const int32_t plain = decoded.flags & ~layout::kFlagTruncated;
  // Every segment but the last has the same sizes and flags: the first record is written as one
  // of them, and copied whole for the others, which then differ only in their offset.
  const bool segment_cut = keep < segment;
  const uint32_t segment_kept = segment_cut ? keep : segment;
  PutInt(first, layout::kSize, static_cast<int32_t>(segment_kept));
  PutInt(first, layout::kOriginalSize, static_cast<int32_t>(segment));
  PutInt(first, layout::kFlags, plain | (segment_cut ? layout::kFlagTruncated : 0));
  PutInt(first, layout::kOffset, static_cast<int32_t>(slab_offset));
  const size_t last = plan.count - 1;
  uint8_t* record = first;
  uint32_t offset = slab_offset;
  for (size_t k = 1; k <= last; k++) {
    record += layout::kRecordBytes;
    offset += segment;
    std::memcpy(record, first, layout::kRecordBytes);  // the shared metadata
    PutInt(record, layout::kOffset, static_cast<int32_t>(offset));
  }
  // The last one (the first, when the room held only one): its own size, at its own offset.
  const bool last_cut = keep < plan.last_size;
  const uint32_t last_kept = last_cut ? keep : plan.last_size;
  PutInt(record, layout::kSize, static_cast<int32_t>(last_kept));
  PutInt(record, layout::kOriginalSize, static_cast<int32_t>(plan.last_size));
  PutInt(record, layout::kFlags, plain | (last_cut ? layout::kFlagTruncated : 0));
  PutInt(record, layout::kOffset, static_cast<int32_t>(slab_offset + plan.last_offset));
  counters->bytes += uint64_t{segment_kept} * last + last_kept;
  counters->truncated += (segment_cut ? last : 0) + (last_cut ? 1 : 0);
  counters->gro_receives++;
  counters->gro_datagrams += plan.count;
  return static_cast<int>(plan.count);
}

int RecvBatch::Receive(int fd, const MembershipFilter* filter, RecvCounters* counters,
                       int* delivered) {
  *delivered = 0;
  // The kernel overwrites the name and control lengths of the slots it fills: give those their
  // full room back. Only those: at low rates a wake-up reads one datagram, and resetting all
  // the headers would touch batch_size cache lines for it.
  for (size_t i = 0; i < used_; i++) {
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_namelen = name_room_;
    h.msg_controllen = kControlBytes;
    h.msg_flags = 0;
  }
  used_ = 0;
  int n;
  do {
    // MSG_TRUNC makes msg_len the datagram's real size, so a cut datagram is seen as such.
    n = recvmmsg(fd, msgs_.data(), static_cast<unsigned>(batch_size_), MSG_DONTWAIT | MSG_TRUNC,
                 nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  // Also the slot after the last datagram: its receive may have failed after the kernel wrote
  // to its header (a datagram that could not be copied out ends the batch).
  used_ = static_cast<size_t>(n) < batch_size_ ? static_cast<size_t>(n) + 1 : batch_size_;

  // Members and counters in locals: every store into a record (uint8_t*) may alias them, and
  // the compiler would otherwise reload them for each datagram.
  const mmsghdr* const msgs = msgs_.data();
  const size_t capacity = record_capacity_;
  const size_t slot_size = slot_size_;
  const uint32_t keep = keep_;
  const ArrivalPolicy* const arrival = arrival_ != nullptr && arrival_->known() ? arrival_ : nullptr;
  // A datagram that came with no control message (the default socket, bound to its one group,
  // until the first drop) gets this record, its sizes, source and offset: no decoding. The
  // filter needs each datagram's destination, which only IPV6_PKTINFO gives: with a filter,
  // every datagram takes the decoder.
  BareRecord bare;
  MakeBareRecord(arrival != nullptr ? arrival->destination() : nullptr,
                 arrival != nullptr ? arrival->ifindex() : 0, &bare);
  const socklen_t bare_below = filter == nullptr ? sizeof(cmsghdr) : 0;
  // One whose only control message is IP_PKTINFO (an IPv4 socket bound to the wildcard) gets
  // this one and the destination and interface of its IP_PKTINFO. Not on a socket that knows
  // its arrival: there an interface of 0 (queued while IP_PKTINFO was off) takes the known one.
  BareRecord plain;
  MakeBareRecord(nullptr, 0, &plain);
  const bool lone_ok = filter == nullptr && arrival == nullptr;
  uint64_t bytes = 0;
  uint64_t truncated = 0;
  size_t out = 0;
  uint8_t* record = records_;
  uint32_t slab_offset = 0;
  int i = 0;
  // Two loops, each with its own registers: a batch is almost always all bare or all decoded,
  // and from its first datagram with a control message on, the rest of it takes the decoder.
  for (; i < n && out < capacity; i++, slab_offset += static_cast<uint32_t>(slot_size)) {
    const msghdr& hdr = msgs[i].msg_hdr;
    bool cut;
    if (hdr.msg_controllen < bare_below) {
      bytes += DecodeBare(hdr, msgs[i].msg_len, keep, bare, record, &cut);
    } else if (lone_ok && IsLonePacketInfo(hdr)) {
      bytes += DecodeLonePacketInfo(hdr, msgs[i].msg_len, keep, plain, record, &cut);
    } else {
      break;
    }
    PutInt(record, layout::kOffset, static_cast<int32_t>(slab_offset));
    truncated += cut ? 1 : 0;
    out++;
    record += layout::kRecordBytes;
  }
  for (; i < n && out < capacity; i++, slab_offset += static_cast<uint32_t>(slot_size)) {
    const uint32_t wire_size = msgs[i].msg_len;
    DecodeResult r = DecodeDatagram(msgs[i].msg_hdr, wire_size, keep, record);
    if (arrival != nullptr && (!r.has_pktinfo || r.ifindex == 0)) {
      FillKnownArrival(*arrival, record, &r);
    }
    if (r.has_drop_count) counters->kernel_drops = r.drop_count;
    if (filter != nullptr && !filter->Admits(r.destination, r.ifindex)) {
      counters->filtered++;
      continue;  // the next datagram's record takes this place
    }
    if (r.gro_segment_size != 0 && r.gro_segment_size < wire_size) {
      // What the slot holds of the merged receive (all of it: slots are 64 KiB with UDP_GRO).
      const uint32_t received =
          wire_size < slot_size ? wire_size : static_cast<uint32_t>(slot_size);
      const auto used = static_cast<size_t>(
          SplitMerged(record, capacity - out, r, received, slab_offset, counters));
      out += used;
      record += used * layout::kRecordBytes;
      continue;
    }
    PutInt(record, layout::kOffset, static_cast<int32_t>(slab_offset));
    bytes += r.kept;
    if (r.truncated) truncated++;
    out++;
    record += layout::kRecordBytes;
  }
  counters->bytes += bytes;
  counters->truncated += truncated;
  if (out > 0) {
    counters->packets += static_cast<uint64_t>(out);
    counters->batches++;
  }
  *delivered = static_cast<int>(out);
  return n;
}

}  // namespace mcast

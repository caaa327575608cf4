#include "recv_batch.h"

#include <errno.h>

#include <cstring>

#include "batch_layout.h"
#include "cmsg_decode.h"

namespace mcast {

RecvBatch::RecvBatch(size_t batch_size, size_t max_message_size, uint8_t* slab, uint8_t* records)
    : batch_size_(batch_size),
      max_message_size_(max_message_size),
      records_(records),
      msgs_(batch_size),
      iov_(batch_size),
      names_(batch_size),
      control_(batch_size) {
  for (size_t i = 0; i < batch_size; i++) {
    iov_[i].iov_base = slab + i * max_message_size;
    iov_[i].iov_len = max_message_size;
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
    h.msg_name = &names_[i];
    h.msg_control = control_[i].bytes;
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_controllen = kControlBytes;
  }
}

int RecvBatch::Receive(int fd, const MembershipFilter* filter, RecvCounters* counters,
                       int* delivered) {
  *delivered = 0;
  // The kernel overwrites the name and control lengths of the slots it fills: give those their
  // full room back. Only those: at low rates a wake-up reads one datagram, and resetting all
  // the headers would touch batch_size cache lines for it.
  for (size_t i = 0; i < used_; i++) {
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_namelen = sizeof(sockaddr_storage);
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

  int out = 0;
  for (int i = 0; i < n; i++) {
    const uint32_t wire_size = msgs_[i].msg_len;
    uint8_t* record = records_ + static_cast<size_t>(out) * layout::kRecordBytes;
    DecodeResult r = DecodeDatagram(msgs_[i].msg_hdr, wire_size,
                                    static_cast<uint32_t>(max_message_size_), record);
    if (r.has_drop_count) counters->kernel_drops = r.drop_count;
    int32_t ifindex;
    std::memcpy(&ifindex, record + layout::kIfIndex * sizeof(int32_t), sizeof(ifindex));
    if (filter != nullptr &&
        !filter->Admits(record + layout::kDestinationByte, static_cast<uint32_t>(ifindex))) {
      counters->filtered++;
      continue;  // the next datagram's record takes this place
    }
    const int32_t slot = i;
    std::memcpy(record + layout::kSlot * sizeof(int32_t), &slot, sizeof(slot));
    counters->bytes += wire_size < max_message_size_ ? wire_size : max_message_size_;
    if (r.truncated) counters->truncated++;
    out++;
  }
  if (out > 0) {
    counters->packets += static_cast<uint64_t>(out);
    counters->batches++;
  }
  *delivered = out;
  return n;
}

}  // namespace mcast

// libFuzzer target: BuildPcapFrames (the capture writer's records) on arbitrary jobs, block,
// payload and address sizes. Each buffer is a heap allocation of exactly its size, so ASan traps
// any read or write past it; whatever the jobs say, the count done is at most the count given,
// and each record built (one job at a time) lies inside the block with its length in its header;
// the same words read as receive records frame inside the block (BuildPcapFramesFromRecords);
// the checksum helpers agree with a byte-at-a-time sum on the input.
//
// Input layout: [0] block size / 64, [1] payload bytes / 8, [2] address bytes, [3] job count,
// then the jobs' int32 words (kPcapJobWords each, as many as the input holds).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_util.h"
#include "pcap_frames.h"

using mcast_fuzz::Check;
using mcast_fuzz::Read32;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t block_size = static_cast<size_t>(data[0]) * 64;
  const size_t payload_size = static_cast<size_t>(data[1]) * 8;
  const size_t address_size = data[2];
  const size_t words = (size - 4) / 4;
  const size_t count = data[3] % (words / mcast::kPcapJobWords + 2);  // sometimes more than given
  std::vector<int32_t> jobs(words);
  for (size_t i = 0; i < words; i++) jobs[i] = static_cast<int32_t>(Read32(data + 4 + i * 4));
  // Exact-size heap buffers (nullptr for 0 bytes, as an empty Uint8Array may give).
  auto* block = block_size == 0 ? nullptr : new uint8_t[block_size];
  auto* payloads = payload_size == 0 ? nullptr : new uint8_t[payload_size];
  auto* addresses = address_size == 0 ? nullptr : new uint8_t[address_size];
  if (payloads != nullptr) std::memset(payloads, 0x5a, payload_size);
  if (addresses != nullptr) std::memset(addresses, 0xef, address_size);
  const size_t given = words / mcast::kPcapJobWords;
  const size_t wanted = count < given ? count : given;
  const size_t done =
      block == nullptr ? 0
                       : mcast::BuildPcapFrames(block, block_size, payloads, payload_size, addresses,
                                                address_size, jobs.data(), wanted);
  Check(done <= wanted);
  // One job at a time (later jobs may overwrite earlier ones): each record built lies inside the
  // block, with its own length in its header (pcapng) and its frame length after the headers.
  for (size_t j = 0; block != nullptr && j < wanted; j++) {
    const int32_t* job = jobs.data() + j * mcast::kPcapJobWords;
    if (mcast::BuildPcapFrames(block, block_size, payloads, payload_size, addresses, address_size, job, 1) == 0) continue;
    const size_t at = static_cast<size_t>(job[mcast::kJobAt]);
    const size_t record = static_cast<size_t>(job[mcast::kJobRecordBytes]);
    Check(at + record <= block_size);
    uint32_t length = 0;
    std::memcpy(&length, block + at + ((job[mcast::kJobFlags] & mcast::kPcapNg) != 0 ? 4 : 8), 4);
    if ((job[mcast::kJobFlags] & mcast::kPcapNg) != 0) Check(length == record);
    else Check(length == record - 16);
  }
  // The same words as receive records (batch_layout.h) framed by BuildPcapFramesFromRecords, the
  // first 12 as its state: at most the count asked for, and the block's used end inside it.
  if (block != nullptr && words >= mcast::kPcapStateWords) {
    int32_t state[mcast::kPcapStateWords];
    std::memcpy(state, jobs.data(), sizeof(state));
    const int32_t used_before = state[mcast::kStateUsed];
    const size_t framed = mcast::BuildPcapFramesFromRecords(
        block, block_size, payloads, payload_size, reinterpret_cast<const uint8_t*>(jobs.data()),
        words * 4, data[3] % 8, count, state);
    Check(framed <= count);
    if (framed > 0) Check(state[mcast::kStateUsed] > used_before && static_cast<size_t>(state[mcast::kStateUsed]) <= block_size);
  }
  delete[] block;
  delete[] payloads;
  delete[] addresses;
  // The sums on the input itself, at its own alignment: OnesSum and CopyOnesSum agree with a
  // byte-at-a-time big-endian word sum, and the copy is exact.
  uint64_t reference = 0;
  for (size_t i = 0; i < size; i++) reference += (i % 2 == 0) ? static_cast<uint32_t>(data[i]) << 8 : data[i];
  while ((reference >> 16) != 0) reference = (reference & 0xffff) + (reference >> 16);
  Check(mcast::OnesSum(data, size) == reference);
  std::vector<uint8_t> copy(size);
  Check(mcast::CopyOnesSum(copy.data(), data, size) == reference);
  Check(size == 0 || std::memcmp(copy.data(), data, size) == 0);
  return 0;
}

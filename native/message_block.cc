#include "message_block.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <cstring>

namespace mcast {

namespace {

// Each block carries its capacity in a header before the bytes handed out (kept 16-aligned).
constexpr size_t kHeader = 16;

size_t CapacityOf(const uint8_t* block) {
  size_t capacity;
  std::memcpy(&capacity, block - kHeader, sizeof(capacity));
  return capacity;
}

}  // namespace

size_t MessageBlockPool::BlockCapacity(size_t bytes) {
  if (bytes <= kMinBlock) return kMinBlock;
  size_t power = kMinBlock;
  while (power * 2 < bytes) power *= 2;  // power < bytes <= 2 * power
  for (size_t quarters = 5; quarters < 8; quarters++) {
    if (power / 4 * quarters >= bytes) return power / 4 * quarters;
  }
  return power * 2;
}

MessageBlockPool* MessageBlockPool::Create(size_t idle_limit) {
  return new MessageBlockPool(idle_limit);
}

MessageBlockPool::~MessageBlockPool() { FreeIdle(); }

void MessageBlockPool::FreeIdle() {
  for (const SizeClass& c : idle_) {
    for (uint8_t* block : c.blocks) std::free(block - kHeader);
  }
  idle_.clear();
  idle_bytes_ = 0;
}

size_t MessageBlockPool::idle_blocks() const {
  return std::accumulate(idle_.begin(), idle_.end(), size_t{0},
                         [](size_t n, const SizeClass& c) { return n + c.blocks.size(); });
}

uint8_t* MessageBlockPool::Take(size_t bytes) {
  const size_t capacity = BlockCapacity(bytes);
  uint8_t* block = nullptr;
  auto found = std::find_if(idle_.begin(), idle_.end(), [capacity](const SizeClass& c) {
    return c.capacity == capacity && !c.blocks.empty();
  });
  if (found != idle_.end()) {
    block = found->blocks.back();
    found->blocks.pop_back();
    idle_bytes_ -= capacity;
  }
  if (block == nullptr) {
    auto* raw = static_cast<uint8_t*>(std::malloc(kHeader + capacity));
    if (raw == nullptr) return nullptr;
    std::memcpy(raw, &capacity, sizeof(capacity));
    block = raw + kHeader;
    fresh_blocks_++;
  }
  outstanding_++;
  references_++;
  return block;
}

uint8_t* MessageBlockPool::TakeShared(size_t bytes, size_t* offset, bool* fresh) {
  if (shared_ != nullptr && bytes <= kMinBlock - shared_used_) {
    *offset = shared_used_;
    *fresh = false;
    shared_used_ += bytes;
    return shared_;
  }
  uint8_t* block = Take(kMinBlock);
  if (block == nullptr) return nullptr;
  std::memset(block + bytes, 0, kMinBlock - bytes);
  shared_ = block;
  shared_used_ = bytes;
  *offset = 0;
  *fresh = true;
  return block;
}

void MessageBlockPool::Give(uint8_t* block) {
  // Collected (or never handed out): no room may be taken in it any more.
  if (block == shared_) shared_ = nullptr;
  const size_t capacity = CapacityOf(block);
  outstanding_--;
  if (owned_ && idle_bytes_ + capacity <= idle_limit_) {
    auto found = std::find_if(idle_.begin(), idle_.end(),
                              [capacity](const SizeClass& c) { return c.capacity == capacity; });
    if (found == idle_.end()) found = idle_.insert(idle_.end(), SizeClass{capacity, {}});
    found->blocks.push_back(block);
    idle_bytes_ += capacity;
  } else {
    std::free(block - kHeader);
  }
  DropReference();
}

void MessageBlockPool::Release() {
  owned_ = false;
  shared_ = nullptr;
  FreeIdle();
  DropReference();
}

void MessageBlockPool::DropReference() {
  if (--references_ == 0) delete this;
}

}  // namespace mcast

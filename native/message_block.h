// The blocks that the 'message' path copies each batch into, recycled. A fresh block costs a page
// fault per 4 KiB on first touch (5-10 µs each on these VMs: more than the datagrams' whole
// receive), so blocks whose every message has been collected come back here and are reused.
// Plain C++ (no N-API) so that the native unit tests cover it; message_block_napi.cc hands the
// blocks to JS as Buffers whose finalizer returns them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mcast {

class MessageBlockPool {
 public:
  // Returned blocks kept for reuse, at most (more are freed). Blocks come back only when V8
  // collects them, and a young collection comes every few thousand messages: the pool must hold
  // what a socket takes between two collections, or each interval takes new blocks, which meet
  // fresh pages. Measured in the bench's 1400 B drain (4 MiB buffer): a collection every 3
  // drains, about 150 blocks or 15 MiB; with 8 MiB (the old limit) the drains after a collection
  // took 33-49 new blocks and 700-1100 page faults each, with 64 MiB 0-115 once the pool has seen
  // two collections. The pool never holds more than the socket once had outstanding at once.
  static constexpr size_t kDefaultIdleLimit = size_t{64} << 20;
  // The smallest block: one page.
  static constexpr size_t kMinBlock = 4096;

  // The capacity of the block that holds `bytes`: the smallest of 4 KiB and 2^k x 5/4, 6/4, 7/4,
  // 8/4 (k >= 12) that fits, so a block is never more than 1.25 x its bytes, or 4 KiB. The
  // retention rule of the 'message' event (lib/socket.ts, README) is this function.
  static size_t BlockCapacity(size_t bytes);

  // A pool with one reference, its owner's (the socket); see Release.
  static MessageBlockPool* Create(size_t idle_limit = kDefaultIdleLimit);

  // A block of BlockCapacity(bytes) bytes (bytes > 0): a returned one when there is one, else a
  // new one. Each outstanding block holds a reference to the pool. Null when out of memory.
  uint8_t* Take(size_t bytes);
  // Room for `bytes` (0 < bytes <= kMinBlock) in the socket's shared block. Batches that small
  // share one kMinBlock block, back to back, as Buffers share Node's own 8 KiB pool: a socket
  // whose batches hold one datagram each then keeps 4 KiB per 4 KiB received, not per datagram.
  // `*fresh` is true when the room is at the start of a block taken now (the last shared block
  // was full or gone): the caller hands that block to JS, which views the next rooms in it too.
  // Its bytes after the room are zeroed, so what JS can see of it (a view's .buffer) is never
  // an older datagram. Null when out of memory.
  uint8_t* TakeShared(size_t bytes, size_t* offset, bool* fresh);
  // No more rooms in the current shared block (the caller handed JS another block, whose
  // views the next rooms would be taken for).
  void Unshare() { shared_ = nullptr; }

  // Gives a block of Take back (its messages were collected): kept for reuse while the owner
  // holds the pool and the idle limit allows, else freed. Drops the block's reference.
  void Give(uint8_t* block);
  // The owner lets go (socket closed or collected): idle blocks are freed now, outstanding ones
  // when they come back; the pool itself goes with the last reference.
  void Release();

  size_t idle_bytes() const { return idle_bytes_; }
  size_t idle_blocks() const;
  size_t outstanding() const { return outstanding_; }
  // Blocks allocated new (not reused) so far: what the pool saves is visible in tests.
  uint64_t fresh_blocks() const { return fresh_blocks_; }

  MessageBlockPool(const MessageBlockPool&) = delete;
  MessageBlockPool& operator=(const MessageBlockPool&) = delete;

 private:
  explicit MessageBlockPool(size_t idle_limit) : idle_limit_(idle_limit) {}
  ~MessageBlockPool();
  void DropReference();
  void FreeIdle();

  struct SizeClass {
    size_t capacity;
    std::vector<uint8_t*> blocks;
  };
  size_t idle_limit_;
  size_t idle_bytes_ = 0;
  size_t outstanding_ = 0;
  uint64_t fresh_blocks_ = 0;
  bool owned_ = true;
  uint8_t* shared_ = nullptr;  // the block TakeShared fills, outstanding (JS holds it)
  size_t shared_used_ = 0;
  size_t references_ = 1;  // the owner's, plus one per outstanding block
  std::vector<SizeClass> idle_;
};

}  // namespace mcast

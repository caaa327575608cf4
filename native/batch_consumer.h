// A native consumer of a socket's receive batches (a feed's arbiter, native/feed_wrap.h). While
// one is attached, the socket's drain hands it each batch instead of calling JS: the consumer
// decides what reaches JS, and when (once per drain).
#pragma once

#include <cstddef>
#include <cstdint>

namespace mcast {

class BatchConsumer {
 public:
  virtual ~BatchConsumer() = default;
  // `count` records (batch_layout.h) describe datagrams in `slab`, valid during the call only.
  // Returns false to end the drain.
  virtual bool OnLineBatch(int line, const uint8_t* slab, size_t slab_bytes,
                           const uint8_t* records, int count) = 0;
  // The drain of one readable event is over.
  virtual void OnDrainEnd() = 0;
};

}  // namespace mcast

// The N-API side of message_block.h: a pooled block handed to JS as a Buffer.
#pragma once

#include <napi.h>

#include "message_block.h"

namespace mcast {

// Copies the data of the batch's first `count` records from `slab` into a block of `pool`,
// back to back, and returns a Buffer of exactly those bytes over it (one per batch; the
// 'message' views are slices of it). The Buffer's finalizer, run once V8 has collected the
// Buffer and every view of it, gives the block back. Throws (and returns an empty value) when a
// record does not fit the slab or memory runs out.
Napi::Value PackIntoPooledBlock(Napi::Env env, MessageBlockPool* pool, const uint8_t* slab,
                                size_t slab_bytes, const uint8_t* records, size_t count);

}  // namespace mcast

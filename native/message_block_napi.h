// The N-API side of message_block.h: a pooled block handed to JS as a Buffer.
#pragma once

#include <napi.h>

#include "message_block.h"

namespace mcast {

// Copies the data of the batch's first `count` records from `slab` into a block of `pool`,
// back to back, and returns where they are: a Buffer over a new block (the 'message' views are
// slices of it), or, for a batch of at most 4 KiB that fits the rest of the shared block
// returned last, the offset of its bytes in that block (a number; JS keeps the Buffer it got
// last). A batch of more than 4 KiB gets a block of its own, of exactly its bytes; smaller ones
// share a 4 KiB block (MessageBlockPool::TakeShared), which the Buffer spans whole. The
// Buffer's finalizer, run once V8 has collected the Buffer and every view of it, gives the
// block back. Throws (and returns an empty value) when a record does not fit the slab or
// memory runs out.
Napi::Value PackIntoPooledBlock(Napi::Env env, MessageBlockPool* pool, const uint8_t* slab,
                                size_t slab_bytes, const uint8_t* records, size_t count);

}  // namespace mcast

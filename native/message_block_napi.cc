// The one file that makes external Buffers (binding.gyp forbids them everywhere else): a runtime
// that refuses them (Electron's memory cage) gets a copy instead, below.
#undef NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED

#include "message_block_napi.h"

#include <cerrno>

#include "napi_errors.h"
#include "recv_batch.h"

namespace mcast {

namespace {

void GiveBack(napi_env /*env*/, void* data, void* hint) {
  static_cast<MessageBlockPool*>(hint)->Give(static_cast<uint8_t*>(data));
}

}  // namespace

Napi::Value PackIntoPooledBlock(Napi::Env env, MessageBlockPool* pool, const uint8_t* slab,
                                size_t slab_bytes, const uint8_t* records, size_t count) {
  size_t total = 0;
  if (!PackedBytes(records, count, slab_bytes, &total)) return ThrowArgType(env, "records within the slab");
  // Every Buffer returned ends the shared block JS views, unless it is the shared block itself.
  if (total == 0) {
    pool->Unshare();
    return Napi::Buffer<uint8_t>::New(env, 0);
  }
  const bool shared = total <= MessageBlockPool::kMinBlock;
  size_t offset = 0;
  bool fresh = true;
  uint8_t* block = nullptr;
  if (shared) {
    block = pool->TakeShared(total, &offset, &fresh);
  } else {
    pool->Unshare();
    block = pool->Take(total);
  }
  if (block == nullptr) return ThrowSystem(env, ENOMEM, "malloc");
  size_t written = 0;
  if (!PackDatagrams(slab, slab_bytes, records, count, block + offset, total, &written)) {
    if (fresh) pool->Give(block);  // else the room stays unused: JS holds the block
    return ThrowArgType(env, "records within the slab");
  }
  if (!fresh) return Napi::Number::New(env, static_cast<double>(offset));
  // An external Buffer: Node frees its memory through the finalizer only once the backing store
  // is gone (never while a view or a transfer holds it), and marks it untransferable.
  const size_t length = shared ? MessageBlockPool::kMinBlock : total;
  napi_value result;
  const napi_status status = napi_create_external_buffer(env, length, block, GiveBack, pool, &result);
  if (status == napi_ok) return Napi::Value(env, result);
  // Give() also ends the sharing of a shared block: the next small batch takes a new one.
  if (status == napi_no_external_buffers_allowed) {
    Napi::Buffer<uint8_t> copy = Napi::Buffer<uint8_t>::Copy(env, block, total);
    pool->Give(block);
    return copy;
  }
  pool->Give(block);
  return ThrowSystem(env, ENOMEM, "napi_create_external_buffer");
}

}  // namespace mcast

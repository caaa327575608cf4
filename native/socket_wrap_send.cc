// SocketWrap's send side: destinations, send, sendBatch (a list or a packed block), sendBlock,
// sendGather, segmentation, and the wait for a writable socket.
#include "socket_wrap.h"

#include <errno.h>

#include "napi_errors.h"
#include "napi_typed_array.h"
#include "socket_wrap_args.h"

namespace mcast {

Napi::Value SocketWrap::JS_waitWritable(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return info.Env().Undefined();
  want_writable_ = true;
  UpdatePoll();
  return info.Env().Undefined();
}

// Parses (address, port, scopeId) at info[first..first+2].
bool SocketWrap::ParseDestination(const Napi::CallbackInfo& info, size_t first, SockAddr* out) {
  Napi::Env env = info.Env();
  if (!info[first].IsString() || !info[first + 1].IsNumber() || !info[first + 2].IsNumber()) {
    ThrowArgType(env, "(address, port, scopeId)");
    return false;
  }
  // Short destination strings fit on the stack; no allocation on the send path.
  char text[64];
  size_t length = 0;
  if (napi_get_value_string_utf8(env, info[first], text, sizeof(text), &length) != napi_ok ||
      !ParseAddress(family_, text, static_cast<uint16_t>(info[first + 1].As<Napi::Number>().Uint32Value()),
                    info[first + 2].As<Napi::Number>().Uint32Value(), out)) {
    ThrowSystem(env, EINVAL, "inet_pton(destination)");
    return false;
  }
  return true;
}

// send(bytes, address, port, scopeId) -> 1 when sent, 0 when the send queue is full
Napi::Value SocketWrap::JS_send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint8_t* data;
  size_t length;
  if (!GetBytes(env, info[0], &data, &length)) return ThrowArgType(env, "a Uint8Array to send");
  SockAddr dest;
  if (!ParseDestination(info, 1, &dest)) return env.Undefined();
  SendResult r = SendOne(fd_, dest, data, length, &tx_);
  if (r.error != 0 && r.error != EAGAIN) return ThrowSystem(env, r.error, "sendto");
  return Napi::Number::New(env, static_cast<double>(r.sent));
}

// sendBatch's answer: datagrams accepted, or a hard error with `sent` set on it.
static Napi::Value SendOutcome(Napi::Env env, const SendResult& r) {
  if (r.error != 0 && r.error != EAGAIN) {
    Napi::Error error = SystemError(env, r.error, "sendmmsg");
    error.Set("sent", Napi::Number::New(env, static_cast<double>(r.sent)));
    error.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(r.sent));
}

// sendBatch(array of Uint8Array, or one packed block, count, address, port, scopeId[, lengths])
// -> datagrams accepted; a hard error after some were sent is thrown with `sent` set on it.
Napi::Value SocketWrap::JS_sendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (!info[1].IsNumber()) return ThrowArgType(env, "(datagrams, count, ...)");
  const uint32_t count = info[1].As<Napi::Number>().Uint32Value();
  uint8_t* packed;
  size_t packed_bytes;
  const bool is_packed = GetBytes(env, info[0], &packed, &packed_bytes);
  if (!is_packed && !info[0].IsArray()) return ThrowArgType(env, "(datagrams, count, ...)");
  // A count beyond the array would make Reserve() allocate for it, and std::bad_alloc aborts
  // the process (no C++ exceptions here).
  if (!is_packed && count > info[0].As<Napi::Array>().Length()) {
    return ThrowArgType(env, "a count of at most the array's length");
  }
  SockAddr dest;
  if (!ParseDestination(info, 2, &dest)) return env.Undefined();
  if (is_packed) {
    // The datagrams back to back in one block, their lengths in a Uint32Array (info[5]): two
    // N-API calls per batch instead of two per datagram (lib/socket/send.ts packs them).
    if (!info[5].IsTypedArray() ||
        info[5].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
        count > info[5].As<Napi::TypedArray>().ElementLength()) {
      return ThrowArgType(env, "(packed, count, address, port, scopeId, lengths: Uint32Array)");
    }
    const uint32_t* lengths = info[5].As<Napi::Uint32Array>().Data();
    send_batch_.Reserve(count);
    size_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
      if (lengths[i] > packed_bytes - at) return ThrowArgType(env, "lengths within the packed block");
      send_batch_.Set(i, packed + at, lengths[i]);
      at += lengths[i];
    }
  } else {
    napi_value array = info[0];
    send_batch_.Reserve(count);
    for (uint32_t i = 0; i < count; i++) {
      napi_value element;
      uint8_t* data;
      size_t length;
      if (napi_get_element(env, array, i, &element) != napi_ok ||
          !GetBytes(env, element, &data, &length)) {
        return ThrowArgType(env, "an array of Uint8Array");
      }
      send_batch_.Set(i, data, length);
    }
  }
  return SendOutcome(env, send_batch_.Send(fd_, dest, count, &tx_));
}

// setSendDestination(address, port, scopeId): where sendBlock and sendGather send, parsed once here rather
// than on every call (JS calls it when the destination changes).
Napi::Value SocketWrap::JS_setSendDestination(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  SockAddr dest;
  if (!ParseDestination(info, 0, &dest)) return env.Undefined();
  block_dest_ = dest;
  has_block_dest_ = true;
  return env.Undefined();
}

// sendBlock(block, segmentSize) -> datagrams accepted: the block cut into datagrams of
// segmentSize bytes (the last may be shorter), to the setSendDestination one. The fewest
// N-API calls of any send: what a constant-size stream (video) sends, many times a second.
Napi::Value SocketWrap::JS_sendBlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint8_t* data;
  size_t length;
  uint32_t segment = 0;
  // napi_get_value_uint32 refuses a non-number itself: no napi_typeof first (each N-API call
  // costs here; this one runs once per batch).
  if (!GetBytes(env, info[0], &data, &length) || length == 0 ||
      napi_get_value_uint32(env, info[1], &segment) != napi_ok) {
    return ThrowArgType(env, "(block: a non-empty Uint8Array, segmentSize)");
  }
  if (segment == 0) return ThrowArgType(env, "a segmentSize above 0");
  if (!has_block_dest_) return ThrowArgType(env, "a destination (setSendDestination) first");
  return SendOutcome(env, send_batch_.SendUniform(fd_, block_dest_, data, length, segment, &tx_));
}

// sendGather(bytes, offsets, lengths, count) -> datagrams accepted, to the setSendDestination
// one: datagram i is lengths[i] bytes at offsets[i] in `bytes`, read in place (no copy). When
// datagram i lies outside `bytes` or is larger than a UDP datagram, nothing is sent and the
// answer is -(i + 1): the facade names the bad datagram in its error.
Napi::Value SocketWrap::JS_sendGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint8_t* data;
  size_t length;
  const uint32_t* offsets;
  const uint32_t* lengths;
  size_t offset_count;
  size_t length_count;
  uint32_t count = 0;
  if (!GetBytes(env, info[0], &data, &length) ||
      !TypedArray(env, info[1], napi_uint32_array, &offsets, &offset_count) ||
      !TypedArray(env, info[2], napi_uint32_array, &lengths, &length_count) ||
      napi_get_value_uint32(env, info[3], &count) != napi_ok) {
    return ThrowArgType(env, "(bytes: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count)");
  }
  if (count == 0 || count > offset_count || count > length_count) {
    return ThrowArgType(env, "a count from 1 to the length of offsets and of lengths");
  }
  if (!has_block_dest_) return ThrowArgType(env, "a destination (setSendDestination) first");
  const size_t ready =
      send_batch_.SetGather(data, length, offsets, lengths, count, MaxMessageBytes(block_dest_));
  if (ready < count) return Napi::Number::New(env, -static_cast<double>(ready) - 1);
  return SendOutcome(env, send_batch_.Send(fd_, block_dest_, count, &tx_));
}

// setSegmentation(on) -> whether UDP_SEGMENT is now used (false where the kernel lacks it).
Napi::Value SocketWrap::JS_setSegmentation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  send_batch_.SetSegmentation(info[0].ToBoolean() && KernelHasSegmentation(fd_));
  return Napi::Boolean::New(env, send_batch_.segmentation());
}

}  // namespace mcast

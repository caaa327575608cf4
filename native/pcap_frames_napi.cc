// pcapFrames(block: Uint8Array, jobs: Int32Array, count, payloads?: Uint8Array,
// addresses?: Uint8Array): the capture writer's one native call per batch (lib/pcap/writer.ts).
// Thin: it checks the argument types and calls BuildPcapFrames, which checks every bound.
#include <napi.h>

#include "napi_errors.h"
#include "napi_typed_array.h"
#include "pcap_frames.h"

namespace mcast {

namespace {

// An optional Uint8Array argument: absent (undefined) is no bytes.
bool OptionalBytes(const Napi::CallbackInfo& info, size_t index, uint8_t** data, size_t* length) {
  if (info.Length() <= index || info[index].IsUndefined()) return true;
  return TypedArray(info.Env(), info[index], napi_uint8_array, data, length);
}

}  // namespace

// Returns the number of jobs done (all of them for the writer's own, well-formed frames).
Napi::Value PcapFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* block = nullptr;
  size_t length = 0;
  int32_t* jobs = nullptr;
  size_t words = 0;
  uint8_t* payloads = nullptr;
  size_t payloads_length = 0;
  uint8_t* addresses = nullptr;
  size_t addresses_length = 0;
  if (info.Length() < 3 || !TypedArray(env, info[0], napi_uint8_array, &block, &length) ||
      !TypedArray(env, info[1], napi_int32_array, &jobs, &words) || !info[2].IsNumber() ||
      !OptionalBytes(info, 3, &payloads, &payloads_length) ||
      !OptionalBytes(info, 4, &addresses, &addresses_length)) {
    return ThrowArgType(env, "(block: Uint8Array, jobs: Int32Array, count: number, payloads?: Uint8Array, addresses?: Uint8Array)");
  }
  const double wanted = info[2].As<Napi::Number>().DoubleValue();
  const size_t most = words / kPcapJobWords;
  const size_t count = !(wanted > 0) ? 0 : wanted >= static_cast<double>(most) ? most : static_cast<size_t>(wanted);
  return Napi::Number::New(env, static_cast<double>(BuildPcapFrames(block, length, payloads, payloads_length,
                                                                    addresses, addresses_length, jobs, count)));
}

// pcapFramesFromRecords(block: Uint8Array, state: Int32Array(12), records: Uint8Array,
// slab: Uint8Array, first, count): a 'batch' listener's datagrams framed from the receive
// records (BuildPcapFramesFromRecords); returns how many, state says why it stopped.
Napi::Value PcapFramesFromRecords(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* block = nullptr;
  size_t length = 0;
  int32_t* state = nullptr;
  size_t words = 0;
  uint8_t* records = nullptr;
  size_t records_length = 0;
  uint8_t* slab = nullptr;
  size_t slab_length = 0;
  if (info.Length() < 6 || !TypedArray(env, info[0], napi_uint8_array, &block, &length) ||
      !TypedArray(env, info[1], napi_int32_array, &state, &words) || words < kPcapStateWords ||
      !TypedArray(env, info[2], napi_uint8_array, &records, &records_length) ||
      !TypedArray(env, info[3], napi_uint8_array, &slab, &slab_length) || !info[4].IsNumber() ||
      !info[5].IsNumber()) {
    return ThrowArgType(env, "(block: Uint8Array, state: Int32Array(12), records: Uint8Array, slab: Uint8Array, first: number, count: number)");
  }
  const double first = info[4].As<Napi::Number>().DoubleValue();
  const double wanted = info[5].As<Napi::Number>().DoubleValue();
  // Past the records' end, the native loop stops at once (kStopBad): only the range is clamped here.
  const double most = static_cast<double>(records_length);
  const size_t from = !(first > 0) ? 0 : first >= most ? records_length : static_cast<size_t>(first);
  const size_t count = !(wanted > 0) ? 0 : wanted >= most ? records_length : static_cast<size_t>(wanted);
  return Napi::Number::New(env, static_cast<double>(BuildPcapFramesFromRecords(
                                    block, length, slab, slab_length, records, records_length, from, count, state)));
}

}  // namespace mcast

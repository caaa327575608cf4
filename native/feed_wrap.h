// The JS-visible feed (lib/feed): owns a FeedArbiter, takes the drained batches of its line
// sockets in native code (BatchConsumer) and calls JS once per drain with the unique items in
// order, copied back to back into a preallocated buffer, and the events. Duplicates never reach
// JS. Argument checks here are only a guard; lib/feed/options.ts validates everything.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "batch_consumer.h"
#include "feed_arbiter.h"
#include "feed_filter.h"

namespace mcast {

struct AddonData;

class FeedWrap : public Napi::ObjectWrap<FeedWrap>, public BatchConsumer, private ArbiterSink {
 public:
  static Napi::Function Define(Napi::Env env);

  // new Feed(config: Float64Array, onFlush: Function, data: ArrayBuffer, starts: Uint32Array,
  //          lines: Uint8Array, stamps: BigInt64Array, events: Float64Array,
  //          eventSessions: Uint8Array, requests: Float64Array, requestSessions: Uint8Array,
  //          lags: Float64Array)
  // onFlush(items, first, events, requests, lags, nextDelayMs) with `this` undefined.
  explicit FeedWrap(const Napi::CallbackInfo& info);
  ~FeedWrap() override;

  bool OnLineBatch(int line, const uint8_t* slab, size_t slab_bytes, const uint8_t* records,
                   int count) override;
  void OnDrainEnd() override;

 private:
  Napi::Value JS_attach(const Napi::CallbackInfo& info);
  Napi::Value JS_expire(const Napi::CallbackInfo& info);
  Napi::Value JS_stats(const Napi::CallbackInfo& info);
  Napi::Value JS_session(const Napi::CallbackInfo& info);
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  Napi::Value JS_filterStatus(const Napi::CallbackInfo& info);

  void Deliver(uint64_t seq, int line, const uint8_t* data, uint32_t length,
               int64_t ts_ns) override;
  void DeliverRun(uint64_t first, int line, const uint8_t* blocks, size_t bytes,
                  const uint32_t* ends, uint16_t count,
                  int64_t ts_ns) override;
  void Gap(uint64_t from, uint64_t to) override;
  void Stale(int line) override;
  void Resume(int line) override;
  void Reset(int line, ResetReason reason, const uint8_t* session,
             const uint8_t* previous) override;
  void Request(const uint8_t* session, uint64_t from, uint16_t count) override;
  void Lag(int line, int64_t ns) override;

  // Room for one more event: flushes when the list is full.
  double* NextEvent();
  void LineEvent(double kind, int line);
  // Calls JS with what is buffered (nothing when closed or empty).
  void Flush();
  // Makes room for `count` items numbered from `first` and `bytes` of data (each item takes its
  // length plus the 2 bytes before it): flushes first when they do not fit, when events wait
  // (they reach JS before the items that follow them), or when `first` does not continue the
  // buffered items (a flush's items are numbered first + i). False when closed.
  bool Reserve(uint64_t first, size_t count, size_t bytes);
  // Marks `count` items from item_count_ as `line`'s (and their stamps) and counts them.
  void Commit(int line, size_t count, int64_t ts_ns);
  double NextDelay(int64_t now_ms) const;
  // Takes the kernel filter's records of dropped copies into the arbiter.
  void ReadFilter(int64_t now_ms);

  AddonData* addon_ = nullptr;
  std::unique_ptr<FeedArbiter> arbiter_;
  // The kernel duplicate filter, when loaded; else why not (filter_reason_, filter_errno_).
  std::unique_ptr<FeedFilter> filter_;
  std::string filter_reason_;
  int filter_errno_ = 0;
  Napi::FunctionReference on_flush_;
  napi_async_context async_context_ = nullptr;
  bool closed_ = false;
  bool in_callback_ = false;
  // The sockets attached as lines (and the retransmission socket), weakly: expire() reads them
  // before it acts on the clock. One that was collected reads as empty and is skipped.
  std::vector<Napi::ObjectReference> attached_;
  // Batches each line delivered in the current pass of expire()'s reads.
  int pass_batches_[kMaxFeedLines + 1] = {};
  // The earliest deadline JS has been told (its timer fires then), INT64_MAX: none.
  int64_t told_ = INT64_MAX;

  Napi::Reference<Napi::ArrayBuffer> data_ref_;
  Napi::ObjectReference arrays_ref_;  // the typed arrays, kept alive while native code writes them
  uint8_t* data_ = nullptr;
  size_t data_bytes_ = 0;
  // The item table, per item: where its bytes start in data_ (starts_[i + 1] - 2 is where they
  // end: each item's bytes follow a 2-byte gap, a MoldUDP64 block's length prefix), its line
  // (kRetransmitLine: by retransmission) and, with timestamps, its kernel time. Its number is
  // first_ + i (Reserve keeps a flush's numbers consecutive), so none is stored.
  uint32_t* starts_ = nullptr;
  uint8_t* lines_ = nullptr;
  int64_t* stamps_ = nullptr;
  bool timestamps_ = false;
  size_t item_capacity_ = 0;
  uint64_t first_ = 0;
  double* events_ = nullptr;
  uint8_t* event_sessions_ = nullptr;
  size_t event_capacity_ = 0;
  double* requests_ = nullptr;
  uint8_t* request_sessions_ = nullptr;
  size_t request_capacity_ = 0;
  double* lags_ = nullptr;
  size_t lag_capacity_ = 0;

  size_t item_count_ = 0;
  size_t data_used_ = 0;
  size_t event_count_ = 0;
  size_t request_count_ = 0;
  size_t lag_count_ = 0;
};

}  // namespace mcast

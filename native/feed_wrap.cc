#include "feed_wrap.h"

#include <uv.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <iterator>

#include "addon_data.h"
#include "batch_layout.h"
#include "drain.h"
#include "napi_errors.h"
#include "socket_wrap.h"

namespace mcast {

namespace {

// Positions in the config Float64Array (lib/feed/native.ts writes it).
enum ConfigIndex : size_t {
  kCfgLines = 0,
  kCfgMoldUdp64,
  kCfgOffset,
  kCfgSize,
  kCfgBigEndian,
  kCfgGapTimeout,
  kCfgStaleAfter,
  kCfgMaxPending,
  kCfgHasStart,
  kCfgStart,
  kCfgRetransmit,
  kCfgRetransmitTimeout,
  kCfgRetransmitRetries,
  kCfgRequestsPerSecond,
  kCfgKernelFilter,  // 0 off, 1 when permitted, 2 required
  kCfgFilterWindowMs,
  kCfgMaxMessageSize,
  kCfgTimestamps,  // 1: the line sockets take kernel timestamps (the stamps array is read)
  kCfgCount,
};

// An item's line in the lines array when it came by retransmission (JS reads it as -1).
constexpr uint8_t kRetransmitLine = 255;
// The gap before each item's bytes in the data buffer (a MoldUDP64 block's length prefix).
constexpr size_t kItemGap = 2;
constexpr size_t kEventFields = 4;  // kind, a, b, c
constexpr size_t kEventSessionBytes = 2 * kMoldSessionBytes;  // session, previous
constexpr size_t kRequestFields = 2;  // from, count
constexpr size_t kLagFields = 2;      // line, ns

// Event kinds (lib/feed/index.ts reads them).
constexpr double kEventGap = 0;     // a = from, b = to
constexpr double kEventStale = 1;   // a = line
constexpr double kEventResume = 2;  // a = line
constexpr double kEventReset = 3;   // a = line, b = reason, c = bit 0 session, bit 1 previous

int64_t NowMs() { return static_cast<int64_t>(uv_hrtime() / 1000000); }

template <typename T>
bool TypedArrayOf(Napi::Value value, napi_typedarray_type type, T** data, size_t* length) {
  if (!value.IsTypedArray()) return false;
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != type) return false;
  *data = reinterpret_cast<T*>(static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset());
  *length = array.ElementLength();
  return true;
}

}  // namespace

Napi::Function FeedWrap::Define(Napi::Env env) {
  return DefineClass(env, "Feed",
                     {
                         InstanceMethod<&FeedWrap::JS_attach>("attach"),
                         InstanceMethod<&FeedWrap::JS_expire>("expire"),
                         InstanceMethod<&FeedWrap::JS_stats>("stats"),
                         InstanceMethod<&FeedWrap::JS_session>("session"),
                         InstanceMethod<&FeedWrap::JS_close>("close"),
                         InstanceMethod<&FeedWrap::JS_filterStatus>("filterStatus"),
                     });
}

FeedWrap::FeedWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FeedWrap>(info) {
  Napi::Env env = info.Env();
  addon_ = env.GetInstanceData<AddonData>();
  double* config = nullptr;
  size_t config_length = 0;
  size_t stamps_length = 0;
  size_t starts_length = 0;
  size_t lines_length = 0;
  size_t event_length = 0;
  size_t event_session_length = 0;
  size_t request_length = 0;
  size_t request_session_length = 0;
  size_t lag_length = 0;
  if (info.Length() < 11 || !TypedArrayOf(info[0], napi_float64_array, &config, &config_length) ||
      config_length < kCfgCount || !info[1].IsFunction() || !info[2].IsArrayBuffer() ||
      !TypedArrayOf(info[3], napi_uint32_array, &starts_, &starts_length) ||
      !TypedArrayOf(info[4], napi_uint8_array, &lines_, &lines_length) ||
      !TypedArrayOf(info[5], napi_bigint64_array, &stamps_, &stamps_length) ||
      !TypedArrayOf(info[6], napi_float64_array, &events_, &event_length) ||
      !TypedArrayOf(info[7], napi_uint8_array, &event_sessions_, &event_session_length) ||
      !TypedArrayOf(info[8], napi_float64_array, &requests_, &request_length) ||
      !TypedArrayOf(info[9], napi_uint8_array, &request_sessions_, &request_session_length) ||
      !TypedArrayOf(info[10], napi_float64_array, &lags_, &lag_length)) {
    ThrowArgType(env, "(config, onFlush, data, starts, lines, stamps, events, eventSessions, "
                      "requests, requestSessions, lags)");
    return;
  }
  // starts holds one entry more than the items: where the next item's bytes would start.
  item_capacity_ = std::min({starts_length == 0 ? 0 : starts_length - 1, lines_length, stamps_length});
  event_capacity_ = std::min(event_length / kEventFields, event_session_length / kEventSessionBytes);
  request_capacity_ =
      std::min(request_length / kRequestFields, request_session_length / kMoldSessionBytes);
  lag_capacity_ = lag_length / kLagFields;
  Napi::ArrayBuffer data = info[2].As<Napi::ArrayBuffer>();
  data_ = static_cast<uint8_t*>(data.Data());
  data_bytes_ = data.ByteLength();
  // Starts are 32-bit: the data buffer must not be larger.
  if (item_capacity_ == 0 || event_capacity_ == 0 || request_capacity_ == 0 ||
      lag_capacity_ == 0 || data_bytes_ < 65536 + kItemGap || data_bytes_ > UINT32_MAX) {
    ThrowArgType(env, "buffers of at least one entry each and 64 KiB to 4 GiB of data");
    return;
  }
  timestamps_ = config[kCfgTimestamps] != 0;
  starts_[0] = kItemGap;
  data_ref_ = Napi::Persistent(data);
  Napi::Object arrays = Napi::Object::New(env);
  for (uint32_t i = 3; i < 11; i++) arrays.Set(i, info[i]);
  arrays_ref_ = Napi::Persistent(arrays);
  on_flush_ = Napi::Persistent(info[1].As<Napi::Function>());

  ArbiterConfig c;
  c.lines = std::clamp(static_cast<int>(config[kCfgLines]), 1, kMaxFeedLines);
  c.moldudp64 = config[kCfgMoldUdp64] != 0;
  c.field.offset = static_cast<uint32_t>(config[kCfgOffset]);
  c.field.size = config[kCfgSize] == 4 ? 4 : 8;
  c.field.big_endian = config[kCfgBigEndian] != 0;
  c.gap_timeout_ms = static_cast<int64_t>(config[kCfgGapTimeout]);
  c.stale_after_ms = static_cast<int64_t>(config[kCfgStaleAfter]);
  c.max_pending = static_cast<size_t>(config[kCfgMaxPending]);
  c.has_start = config[kCfgHasStart] != 0;
  c.start = static_cast<uint64_t>(config[kCfgStart]);
  c.retransmit = config[kCfgRetransmit] != 0;
  c.retransmit_timeout_ms = static_cast<int64_t>(config[kCfgRetransmitTimeout]);
  c.retransmit_retries = static_cast<uint32_t>(config[kCfgRetransmitRetries]);
  c.requests_per_second = static_cast<uint32_t>(config[kCfgRequestsPerSecond]);
  const int filter_mode = static_cast<int>(config[kCfgKernelFilter]);
  if (filter_mode == 0) {
    filter_reason_ = "off (kernelFilter: false)";
  } else {
    FeedFilterConfig fc;
    fc.lines = c.lines;
    fc.moldudp64 = c.moldudp64;
    fc.field = c.field;
    fc.max_message_size = static_cast<uint32_t>(config[kCfgMaxMessageSize]);
    fc.window_ns = static_cast<uint64_t>(config[kCfgFilterWindowMs]) * 1000000u;
    // Refused (no CAP_BPF, say): the feed works without it; lib/feed decides whether that is
    // an error (kernelFilter: true) from filterStatus().
    filter_ = FeedFilter::Load(fc, &filter_reason_, &filter_errno_);
  }
  const int64_t now = NowMs();
  arbiter_ = std::make_unique<FeedArbiter>(c, now);
  told_ = now + c.stale_after_ms;  // lib/feed arms its first timer for staleAfter
  napi_async_init(env, Value(), Napi::String::New(env, "mcast.Feed"), &async_context_);
}

FeedWrap::~FeedWrap() {
  if (async_context_ != nullptr) napi_async_destroy(Env(), async_context_);
}

// attach(nativeSocket, line): the socket's drained batches come here as `line`
// (lines = the retransmission socket).
Napi::Value FeedWrap::JS_attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsNumber()) return ThrowArgType(env, "(socket, line)");
  Napi::Object object = info[0].As<Napi::Object>();
  if (!object.InstanceOf(addon_->socket_constructor.Value())) return ThrowArgType(env, "a native socket");
  const int line = info[1].As<Napi::Number>().Int32Value();
  if (line < 0 || line > arbiter_->config().lines) return ThrowArgType(env, "a line index");
  SocketWrap* socket = Napi::ObjectWrap<SocketWrap>::Unwrap(object);
  // Null when N-API refuses (a terminating worker) or the socket is being torn down.
  if (socket == nullptr) return env.Undefined();
  if (!closed_ && filter_ != nullptr && line < arbiter_->config().lines && info[2].IsNumber()) {
    int err = 0;
    if (!filter_->Attach(line, info[2].As<Napi::Number>().Int32Value(), &err)) {
      // The lines attached already keep it: a filter drops only what another filtered line
      // accepted, so fewer filtered lines only drop less.
      filter_reason_ = "setsockopt(SO_ATTACH_BPF)";
      filter_errno_ = err;
    }
  }
  socket->SetConsumer(closed_ ? nullptr : this, line, Value());
  // Weak: the socket holds the feed strongly while attached; the other way would be a cycle
  // that GC cannot see through.
  if (!closed_) attached_.push_back(Napi::Weak(object));
  return env.Undefined();
}

bool FeedWrap::OnLineBatch(int line, const uint8_t* slab, size_t slab_bytes,
                           const uint8_t* records, int count) {
  if (closed_) return false;
  if (line >= 0 && line <= kMaxFeedLines) pass_batches_[line]++;
  const int64_t now = NowMs();
  ReadFilter(now);
  // A flush inside OnDatagram calls JS, which may close the feed: closed_ is checked again.
  // cppcheck-suppress knownConditionTrueFalse
  for (int i = 0; i < count && !closed_; i++) {
    const uint8_t* record = records + static_cast<size_t>(i) * layout::kRecordBytes;
    int32_t fields[layout::kDropCount + 1];
    std::memcpy(fields, record, sizeof(fields));
    const auto size = static_cast<uint32_t>(fields[layout::kSize]);
    const auto offset = static_cast<uint32_t>(fields[layout::kOffset]);
    if (offset > slab_bytes || slab_bytes - offset < size) continue;  // never trusted
    int64_t ts = 0;
    if ((fields[layout::kFlags] & layout::kFlagTimestamp) != 0) {
      uint64_t raw = 0;
      std::memcpy(&raw, record + layout::kTimestampByte, sizeof(raw));
      ts = static_cast<int64_t>(raw);
    }
    const bool truncated = (fields[layout::kFlags] & layout::kFlagTruncated) != 0;
    arbiter_->OnDatagram(line, slab + offset, size, truncated, ts, now, this);
  }
  // cppcheck-suppress knownConditionTrueFalse
  if (!closed_ && filter_ != nullptr) arbiter_->SettleFiltered(this);
  // cppcheck-suppress knownConditionTrueFalse
  return !closed_;
}

void FeedWrap::ReadFilter(int64_t now_ms) {
  if (filter_ == nullptr) return;
  FilteredRecord r{};
  // cppcheck-suppress knownConditionTrueFalse
  while (!closed_ && arbiter_->filtered_waiting() < FeedArbiter::kMaxFilteredWaiting &&
         filter_->NextRecord(&r)) {
    arbiter_->OnFilteredCopy(static_cast<int>(r.line), r.first, r.count, now_ms, this);
  }
}

// A drain delivers what it can and never acts on the clock: only expire() does, after it has
// read every line (a drain of line A must not call a number lost whose copy waits on line B).
void FeedWrap::OnDrainEnd() {
  if (closed_) return;
  Flush();
}

// expire() -> ms until the arbiter next needs the clock, or -1: called by the feed's timer.
// It first reads what every line's queue holds: libuv runs due timers before it polls the
// sockets, so a copy that reached line B while the loop was busy (a long listener) is still in
// the kernel. A gap is only what no line holds, delivered or queued.
Napi::Value FeedWrap::JS_expire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_ || in_callback_) return Napi::Number::New(env, -1);
  told_ = INT64_MAX;  // the timer that called this has fired
  // By index, the size read each time: a drain flushes to JS, whose listener may close the feed
  // (close() empties the list).
  // Every queue to its end: one drain reads at most kMaxRoundsPerWake batches, and a line whose
  // queue is deeper than that (the kernel filter leaves the slower line's queue nearly empty, so
  // its copies are read first) must not have its queued copies called lost. Bounded passes: a
  // line that the kernel refills faster than it is read cannot hold the timer forever.
  constexpr int kMaxPasses = 64;
  for (int pass = 0; pass < kMaxPasses; pass++) {
    std::fill(std::begin(pass_batches_), std::end(pass_batches_), 0);
    // cppcheck-suppress knownConditionTrueFalse
    for (size_t i = 0; i < attached_.size() && !closed_; i++) {
      Napi::Object socket = attached_[i].Value();
      if (socket.IsEmpty()) continue;
      // Null in a worker that is being terminated: N-API calls fail there, napi_unwrap too, and
      // a timer may still fire (this crashed the process: SIGSEGV, about 1 run in 40).
      SocketWrap* wrap = Napi::ObjectWrap<SocketWrap>::Unwrap(socket);
      if (wrap == nullptr) continue;
      wrap->DrainNow(socket);
    }
    // cppcheck-suppress knownConditionTrueFalse
    if (closed_) break;
    if (std::none_of(std::begin(pass_batches_), std::end(pass_batches_),
                     [](int n) { return n >= kMaxRoundsPerWake; })) {
      break;
    }
  }
  // cppcheck-suppress knownConditionTrueFalse
  if (closed_) return Napi::Number::New(env, -1);
  const int64_t now = NowMs();
  ReadFilter(now);
  // cppcheck-suppress knownConditionTrueFalse
  if (closed_) return Napi::Number::New(env, -1);
  arbiter_->Expire(now, this);
  if (filter_ != nullptr) arbiter_->SettleFiltered(this);
  Flush();
  const int64_t after = NowMs();
  told_ = std::min(told_, arbiter_->NextDeadline());
  return Napi::Number::New(env, NextDelay(after));
}

double FeedWrap::NextDelay(int64_t now_ms) const {
  const int64_t next = arbiter_->NextDeadline();
  if (next == INT64_MAX) return -1;
  return static_cast<double>(std::max<int64_t>(0, next - now_ms));
}

bool FeedWrap::Reserve(uint64_t first, size_t count, size_t bytes) {
  if (closed_) return false;
  if (event_count_ > 0 || item_capacity_ - item_count_ < count ||
      data_bytes_ - data_used_ < bytes || (item_count_ > 0 && first != first_ + item_count_)) {
    Flush();
    if (closed_) return false;
  }
  if (item_count_ == 0) {
    first_ = first;
    return true;
  }
  // Still holding items only when the flush could not call JS (inside its own callback, where
  // nothing is delivered): never numbered wrongly, nor written past the end.
  return first == first_ + item_count_ && item_capacity_ - item_count_ >= count &&
         data_bytes_ - data_used_ >= bytes;
}

void FeedWrap::Commit(int line, size_t count, int64_t ts_ns) {
  const uint8_t code =
      line >= arbiter_->config().lines ? kRetransmitLine : static_cast<uint8_t>(line);
  std::memset(lines_ + item_count_, code, count);
  // Without timestamps JS never reads the stamps (FeedBatch.timestamp answers undefined).
  if (timestamps_) std::fill_n(stamps_ + item_count_, count, ts_ns);
  item_count_ += count;
}

void FeedWrap::Deliver(uint64_t seq, int line, const uint8_t* data, uint32_t length,
                       int64_t ts_ns) {
  if (!Reserve(seq, 1, kItemGap + length)) return;
  // After a flush the buffer is empty and holds 4 × maxMessageSize (lib/feed): only a datagram
  // longer than that could be cut, and the kernel cut it first.
  const size_t start = data_used_ + kItemGap;
  const size_t kept = std::min<size_t>(length, data_bytes_ - start);
  StoreBe(data_ + data_used_, kItemGap, std::min<size_t>(kept, 0xFFFF));
  std::memcpy(data_ + start, data, kept);
  data_used_ = start + kept;
  starts_[item_count_ + 1] = static_cast<uint32_t>(data_used_ + kItemGap);
  Commit(line, 1, ts_ns);
}

void FeedWrap::DeliverRun(uint64_t first, int line, const uint8_t* blocks, size_t bytes,
                          const uint32_t* ends, uint16_t count, int64_t ts_ns) {
  if (count == 0 || !Reserve(first, count, bytes)) return;
  if (item_capacity_ - item_count_ < count || data_bytes_ - data_used_ < bytes ||
      ends[count - 1] != bytes) {
    ArbiterSink::DeliverRun(first, line, blocks, bytes, ends, count, ts_ns);  // one by one
    return;
  }
  // The packet's message blocks in one copy, length prefixes and all: the prefixes are the gaps
  // before the items, so item i + 1 starts 2 bytes past where item i ends in the copy, and the
  // table takes one number per item, from the parser's ends (no walk of the lengths here).
  std::memcpy(data_ + data_used_, blocks, bytes);
  // starts_[item_count_] (where the first item starts) is written already.
  uint32_t* const next = starts_ + item_count_ + 1;
  const auto base = static_cast<uint32_t>(data_used_ + kItemGap);
  for (uint16_t i = 0; i < count; i++) next[i] = base + ends[i];
  data_used_ += bytes;
  Commit(line, count, ts_ns);
}

double* FeedWrap::NextEvent() {
  if (event_count_ == event_capacity_) Flush();
  if (closed_ || event_count_ == event_capacity_) return nullptr;
  return events_ + (event_count_++) * kEventFields;
}

void FeedWrap::Gap(uint64_t from, uint64_t to) {
  double* e = NextEvent();
  if (e == nullptr) return;
  e[0] = kEventGap;
  e[1] = static_cast<double>(from);
  e[2] = static_cast<double>(to);
  e[3] = 0;
}

void FeedWrap::LineEvent(double kind, int line) {
  double* e = NextEvent();
  if (e == nullptr) return;
  e[0] = kind;
  e[1] = line;
  e[2] = e[3] = 0;
}

void FeedWrap::Stale(int line) { LineEvent(kEventStale, line); }

void FeedWrap::Resume(int line) { LineEvent(kEventResume, line); }

void FeedWrap::Reset(int line, ResetReason reason, const uint8_t* session,
                     const uint8_t* previous) {
  // Nothing the filter saw before a reset is compared again (it bumps its own generation when
  // a line's numbers go back or its session changes; this covers what only the arbiter saw).
  if (filter_ != nullptr) filter_->Invalidate();
  double* e = NextEvent();
  if (e == nullptr) return;
  const size_t index = event_count_ - 1;
  uint8_t* bytes = event_sessions_ + index * kEventSessionBytes;
  if (session != nullptr) std::memcpy(bytes, session, kMoldSessionBytes);
  if (previous != nullptr) std::memcpy(bytes + kMoldSessionBytes, previous, kMoldSessionBytes);
  e[0] = kEventReset;
  e[1] = line;
  e[2] = static_cast<int>(reason);
  e[3] = (session != nullptr ? 1 : 0) | (previous != nullptr ? 2 : 0);
}

void FeedWrap::Request(const uint8_t* session, uint64_t from, uint16_t count) {
  if (closed_) return;
  if (request_count_ == request_capacity_) Flush();
  if (closed_ || request_count_ == request_capacity_) return;
  std::memcpy(request_sessions_ + request_count_ * kMoldSessionBytes, session, kMoldSessionBytes);
  double* r = requests_ + request_count_ * kRequestFields;
  r[0] = static_cast<double>(from);
  r[1] = count;
  request_count_++;
}

void FeedWrap::Lag(int line, int64_t ns) {
  if (closed_) return;
  if (lag_count_ == lag_capacity_) Flush();
  if (closed_ || lag_count_ == lag_capacity_) return;
  double* l = lags_ + lag_count_ * kLagFields;
  l[0] = line;
  l[1] = static_cast<double>(ns);
  lag_count_++;
}

void FeedWrap::Flush() {
  if (closed_ || in_callback_) return;
  // Called with nothing buffered too: a new deadline earlier than the JS timer's (a missing
  // number just noticed) must reach JS.
  const int64_t deadline = arbiter_->NextDeadline();
  if (item_count_ == 0 && event_count_ == 0 && request_count_ == 0 && lag_count_ == 0 &&
      deadline >= told_) {
    return;
  }
  told_ = std::min(told_, deadline);
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  napi_value args[6] = {
      Napi::Number::New(env, static_cast<double>(item_count_)),
      Napi::Number::New(env, static_cast<double>(first_)),
      Napi::Number::New(env, static_cast<double>(event_count_)),
      Napi::Number::New(env, static_cast<double>(request_count_)),
      Napi::Number::New(env, static_cast<double>(lag_count_)),
      Napi::Number::New(env, NextDelay(NowMs())),
  };
  napi_value fn = on_flush_.Value();
  in_callback_ = true;
  // A listener that threw is reported as uncaught (as for any EventEmitter); the feed goes on.
  CallReportingErrors(env, async_context_, Value(), fn, 6, args);
  in_callback_ = false;
  item_count_ = 0;
  data_used_ = 0;
  starts_[0] = kItemGap;
  event_count_ = 0;
  request_count_ = 0;
  lag_count_ = 0;
}

// stats(out: Float64Array(13 + 13 * lines))
Napi::Value FeedWrap::JS_stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double* out = nullptr;
  size_t length = 0;
  const int lines = arbiter_->config().lines;
  if (!TypedArrayOf(info[0], napi_float64_array, &out, &length) ||
      length < 13 + 13 * static_cast<size_t>(lines)) {
    return ThrowArgType(env, "a Float64Array(13 + 13 * lines)");
  }
  // The filter's records first, so that the counts include every copy it dropped so far.
  if (!closed_ && !in_callback_ && filter_ != nullptr) {
    ReadFilter(NowMs());
    if (!closed_) arbiter_->SettleFiltered(this);
  }
  const ArbiterStats& s = arbiter_->stats();
  out[0] = static_cast<double>(s.delivered);
  out[1] = static_cast<double>(s.gaps);
  out[2] = static_cast<double>(s.gap_items);
  out[3] = static_cast<double>(arbiter_->RecoveredFromLine());
  out[4] = static_cast<double>(s.recovered_by_retransmit);
  out[5] = static_cast<double>(s.requests);
  out[6] = static_cast<double>(arbiter_->pending());
  out[7] = static_cast<double>(s.pending_high);
  out[8] = static_cast<double>(s.overflows);
  out[9] = static_cast<double>(arbiter_->next_sequence());
  out[10] = arbiter_->session() != nullptr ? 1 : 0;
  out[11] = filter_ != nullptr ? 1 : 0;
  out[12] = filter_ != nullptr ? static_cast<double>(filter_->Contended()) : 0;
  for (int i = 0; i < lines; i++) {
    const ArbiterLineStats& l = arbiter_->line_stats(i);
    double* o = out + 13 + 13 * static_cast<size_t>(i);
    o[0] = static_cast<double>(l.packets);
    o[1] = static_cast<double>(l.received);
    o[2] = static_cast<double>(l.wins);
    o[3] = static_cast<double>(l.duplicates);
    o[4] = static_cast<double>(l.malformed);
    for (int k = 0; k < kMalformedKinds; k++) o[5 + k] = static_cast<double>(l.malformed_by[k]);
    o[10] = l.stale ? 1 : 0;
    o[11] = static_cast<double>(l.filtered);
    // The kernel's own count (ahead of the records taken): what sk_drops holds of the filter's.
    o[12] = filter_ != nullptr ? static_cast<double>(filter_->Filtered(i)) : 0;
  }
  return env.Undefined();
}

// session() -> the current MoldUDP64 session as latin1 text, or undefined
Napi::Value FeedWrap::JS_session(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* session = arbiter_->session();
  if (session == nullptr) return env.Undefined();
  return Napi::Buffer<uint8_t>::Copy(env, session, kMoldSessionBytes);
}

// filterStatus() -> [loaded, reason, errno]: reason (when not empty) is why the filter is not
// in use on every line: what was off, or the call that failed with errno (lib/feed words it).
Napi::Value FeedWrap::JS_filterStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Boolean::New(env, filter_ != nullptr));
  out.Set(1u, Napi::String::New(env, filter_reason_));
  out.Set(2u, Napi::Number::New(env, filter_errno_));
  return out;
}

Napi::Value FeedWrap::JS_close(const Napi::CallbackInfo& info) {
  closed_ = true;
  on_flush_.Reset();
  attached_.clear();
  return info.Env().Undefined();
}

}  // namespace mcast

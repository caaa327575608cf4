// SocketWrap's receive side: the poll events and the drain (each batch one call into JS, or to
// a feed's consumer), the synchronous receive, the 'message' path's blocks and GRO.
#include "socket_wrap.h"

#include <errno.h>

#include "addon_data.h"
#include "drain.h"
#include "linux_options.h"
#include "message_block_napi.h"
#include "napi_errors.h"

namespace mcast {

void SocketWrap::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* watcher = static_cast<PollWatcher*>(handle->data);
  if (watcher->owner != nullptr) watcher->owner->HandleEvents(status, events);
}

// One callback scope for all the calls into JS that one poll event makes: a drain delivers up to
// kMaxRoundsPerWake batches, and a napi_make_callback per batch (a scope of its own, async
// hooks, a microtask checkpoint and the nextTick queue each time) cost about 860 user-space
// instructions per batch more than napi_call_function (callgrind, warm 64 B drain). So
// microtasks and process.nextTick callbacks queued by a listener run once the event's last batch
// was delivered, as after any I/O callback, not between its batches (README, "Receiving").
class SocketWrap::EventScope {
 public:
  EventScope(SocketWrap* socket, napi_env env, napi_value self) : socket_(socket), env_(env) {
    if (socket->async_context_ != nullptr &&
        napi_open_callback_scope(env, self, socket->async_context_, &scope_) == napi_ok) {
      socket->event_scope_ = scope_;
    } else {
      scope_ = nullptr;
    }
  }
  ~EventScope() {
    if (scope_ == nullptr) return;
    // A close() inside a listener destroyed the async context already (as it may inside a
    // napi_make_callback): the scope keeps its own copy of the ids, and closes the same way.
    socket_->event_scope_ = nullptr;
    napi_close_callback_scope(env_, scope_);
  }
  EventScope(const EventScope&) = delete;
  EventScope& operator=(const EventScope&) = delete;

 private:
  SocketWrap* socket_;
  napi_env env_;
  napi_callback_scope scope_ = nullptr;
};

void SocketWrap::HandleEvents(int status, int events) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  // A local handle keeps the JS object alive across callbacks that may close and drop it.
  napi_value self = Value();
  EventScope event(this, env, self);
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF and stops the poll. On a socket that is still open it
    // means pending asynchronous errors (ICMP about sent datagrams, via IP_RECVERR): take them
    // off, count them, and poll again, so that receiving never stops silently.
    int last = 0;
    const uint32_t errors = DrainErrorQueue(fd_, &last);
    UpdatePoll();
    if (errors > 0) ReportSendErrors(self, errors, last);
    return;
  }
  if ((events & UV_WRITABLE) != 0 && want_writable_) {
    want_writable_ = false;
    UpdatePoll();
    if (!Dispatch(self, addon_->on_writable.Value(), {})) return;
  }
  if ((events & UV_READABLE) != 0 && receiving_) DrainReadable(self);
}

namespace {

// The binding's side of a drain: each event becomes one call into JS, with `this` = the socket.
class JsDrainSink : public DrainSink {
 public:
  JsDrainSink(SocketWrap* socket, napi_value self) : socket_(socket), self_(self) {}
  bool Receiving() const override { return socket_->Receiving(); }
  bool OnBatch(int delivered) override { return socket_->DispatchBatch(self_, delivered); }
  bool OnSendErrors(uint32_t count, int err) override {
    return socket_->ReportSendErrors(self_, count, err);
  }
  // JS gets libuv's sign: a negative errno.
  void OnError(int err) override { socket_->DispatchError(self_, -err, "recvmmsg"); }

 private:
  SocketWrap* socket_;
  napi_value self_;
};

// A drain that hands each batch to a native consumer (a feed's arbiter) instead of JS; the rest
// (errors, send errors) goes to the socket's JS side as usual.
class ConsumerDrainSink final : public JsDrainSink {
 public:
  ConsumerDrainSink(SocketWrap* socket, napi_value self, BatchConsumer* consumer, int line,
                    const uint8_t* slab, size_t slab_bytes, const uint8_t* records)
      : JsDrainSink(socket, self), consumer_(consumer), line_(line), slab_(slab),
        slab_bytes_(slab_bytes), records_(records) {}
  bool OnBatch(int delivered) override {
    return consumer_->OnLineBatch(line_, slab_, slab_bytes_, records_, delivered);
  }

 private:
  BatchConsumer* consumer_;
  int line_;
  const uint8_t* slab_;
  size_t slab_bytes_;
  const uint8_t* records_;
};

}  // namespace

void SocketWrap::SetConsumer(BatchConsumer* consumer, int line, napi_value owner) {
  consumer_ = consumer;
  consumer_line_ = line;
  if (consumer != nullptr) {
    consumer_ref_ = Napi::Persistent(Napi::Object(Env(), owner));
  } else {
    consumer_ref_.Reset();
  }
}

void SocketWrap::DrainReadable(napi_value self) {
  if (consumer_ != nullptr) {
    // A local handle keeps the consumer's object alive through callbacks that detach it.
    napi_value keep = consumer_ref_.Value();
    (void)keep;
    BatchConsumer* consumer = consumer_;
    Napi::ArrayBuffer slab = slab_ref_.Value();
    ConsumerDrainSink sink(this, self, consumer, consumer_line_,
                           static_cast<const uint8_t*>(slab.Data()), slab.ByteLength(),
                           static_cast<const uint8_t*>(records_ref_.Value().Data()));
    mcast::DrainReadable(batch_.get(), fd_, filter_on_ ? filter_.get() : nullptr, &rx_, &sink);
    consumer->OnDrainEnd();
    return;
  }
  JsDrainSink sink(this, self);
  mcast::DrainReadable(batch_.get(), fd_, filter_on_ ? filter_.get() : nullptr, &rx_, &sink);
}

bool SocketWrap::DispatchBatch(napi_value self, int delivered) {
  Napi::Env env = Env();
  return Dispatch(self, addon_->on_batch.Value(), {Napi::Number::New(env, delivered)});
}

void SocketWrap::DispatchError(napi_value self, int err, const char* syscall) {
  Napi::Env env = Env();
  Dispatch(self, addon_->on_error.Value(),
           {Napi::Number::New(env, err), Napi::String::New(env, syscall)});
}

bool SocketWrap::ReportSendErrors(napi_value self, uint32_t count, int err) {
  tx_.async_errors += count;
  // A connected socket reports them, as recv(2) does and dgram users expect (ECONNREFUSED from
  // a closed peer port); an unconnected one only counts them (stats().sendErrors).
  if (!connected_) return true;
  Napi::Env env = Env();
  return Dispatch(self, addon_->on_error.Value(),
                  {Napi::Number::New(env, -err), Napi::String::New(env, "recvmsg")});
}

bool SocketWrap::Dispatch(napi_value self, napi_value fn,
                          std::initializer_list<napi_value> args) {
  if (fn == nullptr) return true;  // setCallbacks() was never called in this environment
  // A listener that threw is reported as uncaught; the socket itself stays usable.
  if (event_scope_ != nullptr) return CallInScopeReportingErrors(Env(), self, fn, args.size(), args.begin());
  return CallReportingErrors(Env(), async_context_, self, fn, args.size(), args.begin());
}

// receiveSync(timeoutMs, spin) -> datagrams in the batch (0: none by the deadline). For a worker
// thread that owns the socket; lib/socket.ts refuses it on the main thread and while listeners
// receive, so the event loop's drain and this never share the batch.
Napi::Value SocketWrap::JS_receiveSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (!info[0].IsNumber()) return ThrowArgType(env, "(timeoutMs, spin)");
  int delivered = 0;
  uint32_t send_errors = 0;
  const int n = ReceiveWithin(batch_.get(), fd_, filter_on_ ? filter_.get() : nullptr, &rx_,
                              info[0].As<Napi::Number>().Int32Value(),
                              info[1].ToBoolean() ? WaitMode::kSpin : WaitMode::kBlock, &delivered,
                              &send_errors);
  tx_.async_errors += send_errors;
  if (n < 0 && n != -EAGAIN) return ThrowSystem(env, -n, "recvmmsg");
  return Napi::Number::New(env, n > 0 ? delivered : 0);
}

// packBatch(count) -> Buffer | offset: the data of the batch's first `count` datagrams, back to
// back, in a block of this socket's pool that comes back once V8 has collected the Buffer and
// every view of it (the 'message' path's one copy per batch; see message_block_napi.h: a small
// batch may go into the block returned last, and gets its offset there). Checked against the
// records and the slab, never trusted.
Napi::Value SocketWrap::JS_packBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (!info[0].IsNumber()) return ThrowArgType(env, "(count)");
  const uint32_t count = info[0].As<Napi::Number>().Uint32Value();
  if (count > batch_->record_capacity()) return ThrowArgType(env, "a count within the batch");
  Napi::ArrayBuffer slab = slab_ref_.Value();
  return PackIntoPooledBlock(env, message_blocks_, static_cast<const uint8_t*>(slab.Data()),
                             slab.ByteLength(), static_cast<const uint8_t*>(records_ref_.Value().Data()),
                             count);
}

// messageBlocks() -> [blocks allocated new, idle blocks, idle bytes, outstanding blocks] of the
// 'message' path's pool (tests check that blocks are reused, and only once collected).
Napi::Value SocketWrap::JS_messageBlocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array result = Napi::Array::New(env, 4);
  const MessageBlockPool* pool = message_blocks_;
  result.Set(0u, Napi::Number::New(env, pool != nullptr ? static_cast<double>(pool->fresh_blocks()) : 0));
  result.Set(1u, Napi::Number::New(env, pool != nullptr ? static_cast<double>(pool->idle_blocks()) : 0));
  result.Set(2u, Napi::Number::New(env, pool != nullptr ? static_cast<double>(pool->idle_bytes()) : 0));
  result.Set(3u, Napi::Number::New(env, pool != nullptr ? static_cast<double>(pool->outstanding()) : 0));
  return result;
}

// enableGro(keep): sets UDP_GRO and keeps `keep` bytes (maxMessageSize) of each datagram; the
// slab's slots, given at construction, must hold a whole merged receive (64 KiB).
Napi::Value SocketWrap::JS_enableGro(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (!info[0].IsNumber()) return ThrowArgType(env, "(keep)");
  int err = SetIntOption(fd_, SOL_UDP, UDP_GRO, 1);
  if (err != 0) return ThrowSystem(env, err, "setsockopt(UDP_GRO)");
  batch_->SetKeep(info[0].As<Napi::Number>().Uint32Value());
  return env.Undefined();
}

}  // namespace mcast

#include "socket_wrap.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "addon_data.h"
#include "batch_layout.h"
#include "drain.h"
#include "linux_options.h"
#include "message_block_napi.h"
#include "napi_errors.h"
#include "napi_typed_array.h"

namespace mcast {

namespace {

bool GetBytes(napi_env env, napi_value value, uint8_t** data, size_t* length) {
  return TypedArray(env, value, napi_uint8_array, data, length);
}

// [address text, port, IPv6 scope id] of a socket address, as address() and peerAddress()
// return it (the facade names the zone of a link-local address, as Node does).
Napi::Value AddressPair(Napi::Env env, const SockAddr& addr) {
  char text[INET6_ADDRSTRLEN] = "";
  uint16_t port = 0;
  FormatAddress(addr.get(), text, sizeof(text), &port);
  const uint32_t scope_id = addr.storage.ss_family == AF_INET6
                                ? reinterpret_cast<const sockaddr_in6*>(&addr.storage)->sin6_scope_id
                                : 0;
  Napi::Array result = Napi::Array::New(env, 3);
  result.Set(0u, Napi::String::New(env, text));
  result.Set(1u, Napi::Number::New(env, port));
  result.Set(2u, Napi::Number::New(env, scope_id));
  return result;
}

}  // namespace

Napi::Function SocketWrap::Define(Napi::Env env) {
  return DefineClass(env, "Socket",
                     {
                         InstanceMethod<&SocketWrap::JS_close>("close"),
                         InstanceMethod<&SocketWrap::JS_setReceiving>("setReceiving"),
                         InstanceMethod<&SocketWrap::JS_waitWritable>("waitWritable"),
                         InstanceMethod<&SocketWrap::JS_ref>("ref"),
                         InstanceMethod<&SocketWrap::JS_unref>("unref"),
                         InstanceMethod<&SocketWrap::JS_membership>("membership"),
                         InstanceMethod<&SocketWrap::JS_setMulticastInterface>(
                             "setMulticastInterface"),
                         InstanceMethod<&SocketWrap::JS_setIntOption>("setIntOption"),
                         InstanceMethod<&SocketWrap::JS_getIntOption>("getIntOption"),
                         InstanceMethod<&SocketWrap::JS_setRawOption>("setRawOption"),
                         InstanceMethod<&SocketWrap::JS_getRawOption>("getRawOption"),
                         InstanceMethod<&SocketWrap::JS_setBufferSize>("setBufferSize"),
                         InstanceMethod<&SocketWrap::JS_address>("address"),
                         InstanceMethod<&SocketWrap::JS_connect>("connect"),
                         InstanceMethod<&SocketWrap::JS_disconnect>("disconnect"),
                         InstanceMethod<&SocketWrap::JS_peerAddress>("peerAddress"),
                         InstanceMethod<&SocketWrap::JS_send>("send"),
                         InstanceMethod<&SocketWrap::JS_sendBatch>("sendBatch"),
                         InstanceMethod<&SocketWrap::JS_setSendDestination>(
                             "setSendDestination"),
                         InstanceMethod<&SocketWrap::JS_sendBlock>("sendBlock"),
                         InstanceMethod<&SocketWrap::JS_sendGather>("sendGather"),
                         InstanceMethod<&SocketWrap::JS_stats>("stats"),
                         InstanceMethod<&SocketWrap::JS_fd>("fd"),
                         InstanceMethod<&SocketWrap::JS_setInterfaceFilter>(
                             "setInterfaceFilter"),
                         InstanceMethod<&SocketWrap::JS_setSegmentation>("setSegmentation"),
                         InstanceMethod<&SocketWrap::JS_enableGro>("enableGro"),
                         InstanceMethod<&SocketWrap::JS_receiveSync>("receiveSync"),
                         InstanceMethod<&SocketWrap::JS_packBatch>("packBatch"),
                         InstanceMethod<&SocketWrap::JS_messageBlocks>("messageBlocks"),
                     });
}

SocketWrap::SocketWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SocketWrap>(info) {
  Napi::Env env = info.Env();
  addon_ = env.GetInstanceData<AddonData>();
  if (info.Length() < 11 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber() ||
      !info[7].IsNumber() || !info[8].IsNumber() || !info[9].IsArrayBuffer() ||
      !info[10].IsArrayBuffer()) {
    ThrowArgType(env, "(family, address, port, reuseAddr, reusePort, multicastAll, timestamps, "
                      "batchSize, maxMessageSize, slab, records[, v6only[, receiveTtl[, scopeId[, sharedFd]]]])");
    return;
  }
  family_ = info[0].As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
  const std::string address = info[1].As<Napi::String>().Utf8Value();
  const uint32_t port = info[2].As<Napi::Number>().Uint32Value();
  OpenOptions options;
  options.family = family_;
  options.reuse_addr = info[3].ToBoolean();
  options.reuse_port = info[4].ToBoolean();
  options.multicast_all = info[5].ToBoolean();
  options.timestamps = info[6].ToBoolean();
  options.v6only = info.Length() < 12 || info[11].IsUndefined() || info[11].ToBoolean();
  options.recv_ttl = info.Length() >= 13 && info[12].ToBoolean();
  // The IPv6 zone of the bind address as an index (sin6_scope_id), resolved by the facade.
  const uint32_t scope_id = info.Length() >= 14 && info[13].IsNumber() ? info[13].As<Napi::Number>().Uint32Value() : 0;
  // A bound descriptor to share instead of binding one (a cluster worker's socket), or -1.
  const int32_t shared_fd = info.Length() >= 15 && info[14].IsNumber() ? info[14].As<Napi::Number>().Int32Value() : -1;
  // Whether to ask the kernel for each datagram's source address (SocketOptions.sourceAddress).
  const bool source_address = info.Length() < 16 || info[15].IsUndefined() || info[15].ToBoolean();
  const uint32_t batch_size = info[7].As<Napi::Number>().Uint32Value();
  const uint32_t max_size = info[8].As<Napi::Number>().Uint32Value();
  Napi::ArrayBuffer slab = info[9].As<Napi::ArrayBuffer>();
  Napi::ArrayBuffer records = info[10].As<Napi::ArrayBuffer>();
  if (batch_size == 0 || max_size == 0 || port > 65535 ||
      slab.ByteLength() < static_cast<size_t>(batch_size) * max_size ||
      records.ByteLength() < static_cast<size_t>(batch_size) * layout::kRecordBytes) {
    ThrowArgType(env, "a slab and records large enough for batchSize and maxMessageSize");
    return;
  }

  SockAddr bind_addr;
  if (!ParseAddress(family_, address.c_str(), static_cast<uint16_t>(port), scope_id, &bind_addr)) {
    ThrowSystem(env, EINVAL, "inet_pton");
    return;
  }
  const char* failed_call = "socket";
  int err = shared_fd >= 0 ? ShareBoundSocket(options, shared_fd, &fd_, &failed_call)
                           : OpenBoundSocket(options, bind_addr, &fd_, &failed_call);
  if (err != 0) {
    ThrowSystem(env, err, failed_call);
    return;
  }
  fd_identity_ = sys::Identify(fd_);
  message_blocks_ = MessageBlockPool::Create();

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  watcher_ = new PollWatcher();
  watcher_->owner = this;
  uv_poll_init(loop, &watcher_->poll, fd_);
  watcher_->poll.data = watcher_;
  // Closes the socket when its environment (main thread or worker) is torn down; libuv's close
  // callback completes the hook, so Node waits for the handle before closing the loop.
  napi_add_async_cleanup_hook(env, OnEnvCleanup, watcher_, &watcher_->cleanup);
  napi_async_init(env, Value(), Napi::String::New(env, "mcast.Socket"), &async_context_);

  slab_ref_ = Napi::Persistent(slab);
  records_ref_ = Napi::Persistent(records);
  // The records may hold more than one per slot: a GRO receive splits into several.
  batch_ = std::make_unique<RecvBatch>(batch_size, max_size, static_cast<uint8_t*>(slab.Data()),
                                       static_cast<uint8_t*>(records.Data()),
                                       records.ByteLength() / layout::kRecordBytes);
  send_batch_.SetSegmentation(KernelHasSegmentation(fd_));
  arrival_ = std::make_unique<ArrivalPolicy>(family_, bind_addr, options.multicast_all);
  batch_->SetArrivalPolicy(arrival_.get());
  if (!source_address) batch_->SetSourceAddress(false);
  if (family_ == AF_INET6) {
    filter_ = std::make_unique<MembershipFilter>();
    filter_on_ = !options.multicast_all;
  }
}

SocketWrap::~SocketWrap() {
  // Reached when the JS object is collected: an unreachable socket must not leak its fd.
  CloseNative();
  if (async_context_ != nullptr) napi_async_destroy(Env(), async_context_);
}

void SocketWrap::CloseNative() {
  if (closed_) return;
  closed_ = true;
  receiving_ = false;
  want_writable_ = false;
  if (watcher_ != nullptr) {
    watcher_->owner = nullptr;
    watcher_->closing = true;
    // uv_close stops the poll and removes the fd from epoll at once, so the fd can go now.
    uv_close(reinterpret_cast<uv_handle_t*>(&watcher_->poll), OnWatcherClosed);
    watcher_ = nullptr;
  }
  if (fd_ >= 0) {
    // Only the socket this object opened. Its number is out (fd(), dgram's _handle.fd, a
    // bind({ fd }) of it), so someone may have closed it and the number may stand for another
    // file by now; from the destructor, which GC runs at any later time, closing it would close
    // that unrelated file. (libuv's uv_close above still drops the number from this loop's epoll
    // set, as it does for any handle whose descriptor was closed under it: libuv's rule, never
    // close a polled descriptor, is the user's to keep.)
    if (sys::StillRefersTo(fd_, fd_identity_)) ::close(fd_);
    fd_ = -1;
  }
  if (message_blocks_ != nullptr) {
    // Blocks still held by kept messages free themselves when they come back.
    message_blocks_->Release();
    message_blocks_ = nullptr;
  }
  consumer_ = nullptr;
}

void SocketWrap::OnWatcherClosed(uv_handle_t* handle) {
  auto* watcher = static_cast<PollWatcher*>(handle->data);
  if (watcher->cleanup != nullptr) napi_remove_async_cleanup_hook(watcher->cleanup);
  delete watcher;
}

void SocketWrap::OnEnvCleanup(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
  auto* watcher = static_cast<PollWatcher*>(arg);
  if (watcher->closing) return;  // its close callback will complete the hook
  SocketWrap* owner = watcher->owner;
  // The environment is going away: no JS, and the async context dies with it.
  owner->async_context_ = nullptr;
  owner->CloseNative();
}

bool SocketWrap::CheckOpen(Napi::Env env) {
  if (!closed_) return true;
  ThrowSystem(env, EBADF, "socket closed");
  return false;
}

void SocketWrap::UpdatePoll() {
  if (closed_ || watcher_ == nullptr) return;
  const int events = (receiving_ ? UV_READABLE : 0) | (want_writable_ ? UV_WRITABLE : 0);
  if (events != 0) {
    uv_poll_start(&watcher_->poll, events, OnPoll);
    if (!pinned_) {
      Ref();
      pinned_ = true;
    }
  } else {
    uv_poll_stop(&watcher_->poll);
    if (pinned_) {
      Unref();
      pinned_ = false;
    }
  }
}

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

Napi::Value SocketWrap::JS_close(const Napi::CallbackInfo& info) {
  CloseNative();
  consumer_ref_.Reset();
  if (pinned_) {
    Unref();
    pinned_ = false;
  }
  if (async_context_ != nullptr) {
    napi_async_destroy(info.Env(), async_context_);
    async_context_ = nullptr;
  }
  return info.Env().Undefined();
}

Napi::Value SocketWrap::JS_setReceiving(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return info.Env().Undefined();
  receiving_ = info[0].ToBoolean();
  UpdatePoll();
  return info.Env().Undefined();
}

Napi::Value SocketWrap::JS_waitWritable(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return info.Env().Undefined();
  want_writable_ = true;
  UpdatePoll();
  return info.Env().Undefined();
}

Napi::Value SocketWrap::JS_ref(const Napi::CallbackInfo& info) {
  if (watcher_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(&watcher_->poll));
  return info.Env().Undefined();
}

Napi::Value SocketWrap::JS_unref(const Napi::CallbackInfo& info) {
  if (watcher_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(&watcher_->poll));
  return info.Env().Undefined();
}

// membership(op, group, source | null, ifindex, interfaceAddress | null): the one membership
// operation of both facades. The group's own family picks the options (an IPv6 socket may join
// IPv4 groups); an IPv4 interface address selects the classic IPv4 options, as dgram's libuv
// uses them. Every successful IPv6 join and leave updates the interface filter here, so that no
// caller can forget it.
Napi::Value SocketWrap::JS_membership(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (!info[0].IsNumber() || !info[1].IsString() || !info[3].IsNumber()) {
    return ThrowArgType(env, "(op, group, source, ifindex, interfaceAddress)");
  }
  const int op_index = info[0].As<Napi::Number>().Int32Value();
  if (op_index < 0 || op_index > static_cast<int>(MembershipOp::kUnblockSource)) {
    return ThrowArgType(env, "a membership operation 0..5");
  }
  const auto op = static_cast<MembershipOp>(op_index);
  const std::string group_text = info[1].As<Napi::String>().Utf8Value();
  SockAddr group, source, iface;
  if (!ParseAddress(AF_INET, group_text.c_str(), 0, 0, &group) &&
      !ParseAddress(AF_INET6, group_text.c_str(), 0, 0, &group)) {
    return ThrowSystem(env, EINVAL, "inet_pton(group)");
  }
  const int group_family = group.storage.ss_family;
  const bool with_source = MembershipHasSource(op);
  if (with_source && (!info[2].IsString() ||
                      !ParseAddress(group_family, info[2].As<Napi::String>().Utf8Value().c_str(),
                                    0, 0, &source))) {
    return ThrowSystem(env, EINVAL, "inet_pton(source)");
  }
  const bool by_address = info.Length() > 4 && info[4].IsString();
  if (by_address &&
      !ParseAddress(AF_INET, info[4].As<Napi::String>().Utf8Value().c_str(), 0, 0, &iface)) {
    return ThrowSystem(env, EINVAL, "inet_pton(interface)");
  }
  const uint32_t ifindex = info[3].As<Napi::Number>().Uint32Value();
  const bool join = op == MembershipOp::kJoin || op == MembershipOp::kJoinSource;
  ArrivalPolicy::Plan plan;
  if (join) plan = arrival_->PlanJoin(group, ifindex);
  if (plan.enable_before) SetPacketInfo(true);
  int err = ChangeMembership(fd_, family_, op, group, with_source ? &source : nullptr, ifindex,
                             by_address ? &iface : nullptr);
  if (err != 0) {
    return ThrowSystem(env, err, MembershipOptLabel(op, by_address && group_family == AF_INET));
  }
  if (join) arrival_->Joined(plan, group, ifindex);
  if (plan.disable_after) SetPacketInfo(false);
  if (filter_ != nullptr && group_family == AF_INET6) {
    const in6_addr& g = reinterpret_cast<const sockaddr_in6*>(&group.storage)->sin6_addr;
    if (op == MembershipOp::kJoin || op == MembershipOp::kJoinSource) filter_->Add(g, ifindex);
    if (op == MembershipOp::kLeave || op == MembershipOp::kLeaveSource) filter_->Remove(g, ifindex);
  }
  return env.Undefined();
}

Napi::Value SocketWrap::JS_setMulticastInterface(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (!info[0].IsNumber()) return ThrowArgType(env, "(ifindex, sourceAddress?)");
  SockAddr source;
  const bool with_source =
      info[1].IsString() &&
      ParseAddress(family_, info[1].As<Napi::String>().Utf8Value().c_str(), 0, 0, &source);
  int err = SetMulticastInterface(fd_, family_, info[0].As<Napi::Number>().Uint32Value(),
                                  with_source ? &source : nullptr);
  if (err != 0) {
    return ThrowSystem(env, err, family_ == AF_INET6 ? "setsockopt(IPV6_MULTICAST_IF)"
                                                     : "setsockopt(IP_MULTICAST_IF)");
  }
  return env.Undefined();
}

// setIntOption(level, name, value, label)
Napi::Value SocketWrap::JS_setIntOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsString()) {
    return ThrowArgType(env, "(level, name, value, label)");
  }
  int err = SetIntOption(fd_, info[0].As<Napi::Number>().Int32Value(),
                         info[1].As<Napi::Number>().Int32Value(),
                         info[2].As<Napi::Number>().Int32Value());
  if (err != 0) return ThrowSystem(env, err, info[3].As<Napi::String>().Utf8Value().c_str());
  return env.Undefined();
}

// getIntOption(level, name, label) -> number
Napi::Value SocketWrap::JS_getIntOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsString()) {
    return ThrowArgType(env, "(level, name, label)");
  }
  int value = 0;
  int err = GetIntOption(fd_, info[0].As<Napi::Number>().Int32Value(),
                         info[1].As<Napi::Number>().Int32Value(), &value);
  if (err != 0) return ThrowSystem(env, err, info[2].As<Napi::String>().Utf8Value().c_str());
  return Napi::Number::New(env, value);
}

// setRawOption(level, name, bytes: Uint8Array)
Napi::Value SocketWrap::JS_setRawOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  uint8_t* data;
  size_t length;
  if (!info[0].IsNumber() || !info[1].IsNumber() || !GetBytes(env, info[2], &data, &length)) {
    return ThrowArgType(env, "(level, name, bytes)");
  }
  if (setsockopt(fd_, info[0].As<Napi::Number>().Int32Value(),
                 info[1].As<Napi::Number>().Int32Value(), data,
                 static_cast<socklen_t>(length)) != 0) {
    return ThrowSystem(env, errno, "setsockopt");
  }
  return env.Undefined();
}

// getRawOption(level, name, size) -> Buffer of the length the kernel returned
Napi::Value SocketWrap::JS_getRawOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    return ThrowArgType(env, "(level, name, size)");
  }
  // Options are small; the cap keeps a wild size from allocating gigabytes (or aborting).
  const uint32_t size = info[2].As<Napi::Number>().Uint32Value();
  if (size > 65536) return ThrowArgType(env, "a size of at most 65536");
  std::vector<uint8_t> bytes(size);
  socklen_t length = static_cast<socklen_t>(bytes.size());
  if (getsockopt(fd_, info[0].As<Napi::Number>().Int32Value(),
                 info[1].As<Napi::Number>().Int32Value(), bytes.data(), &length) != 0) {
    return ThrowSystem(env, errno, "getsockopt");
  }
  return Napi::Buffer<uint8_t>::Copy(env, bytes.data(), length);
}

// setBufferSize(receive: boolean, bytes) -> the size the kernel reports afterwards
Napi::Value SocketWrap::JS_setBufferSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (!info[1].IsNumber()) return ThrowArgType(env, "(receive, bytes)");
  const bool receive = info[0].ToBoolean();
  int effective = 0;
  int err = SetBufferSize(fd_, receive, info[1].As<Napi::Number>().Int32Value(), &effective);
  if (err != 0) return ThrowSystem(env, err, receive ? "setsockopt(SO_RCVBUF)" : "setsockopt(SO_SNDBUF)");
  return Napi::Number::New(env, effective);
}

// address() -> [address, port]
Napi::Value SocketWrap::JS_address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  SockAddr local;
  int err = LocalAddress(fd_, &local);
  if (err != 0) return ThrowSystem(env, err, "getsockname");
  return AddressPair(env, local);
}

// connect(address, port, scopeId)
Napi::Value SocketWrap::JS_connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  SockAddr peer;
  if (!ParseDestination(info, 0, &peer)) return env.Undefined();
  int err = Connect(fd_, peer);
  if (err != 0) return ThrowSystem(env, err, "connect");
  connected_ = true;
  return env.Undefined();
}

Napi::Value SocketWrap::JS_disconnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  int err = Disconnect(fd_);
  if (err != 0) return ThrowSystem(env, err, "connect");
  connected_ = false;
  return env.Undefined();
}

// peerAddress() -> [address, port]; ENOTCONN when not connected
Napi::Value SocketWrap::JS_peerAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  SockAddr peer;
  int err = PeerAddress(fd_, &peer);
  if (err != 0) return ThrowSystem(env, err, "getpeername");
  return AddressPair(env, peer);
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

// stats(out: Float64Array(14)): packets, bytes, batches, truncated, kernelDrops, sent packets,
// sent bytes, sends refused for want of room, filtered, async send errors, UDP_SEGMENT sends,
// segmentation fallbacks, GRO receives, datagrams in them. Works after close, for the final
// figures.
Napi::Value SocketWrap::JS_stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) return ThrowArgType(env, "a Float64Array(14)");
  Napi::TypedArray out = info[0].As<Napi::TypedArray>();
  if (out.TypedArrayType() != napi_float64_array || out.ElementLength() < 14) {
    return ThrowArgType(env, "a Float64Array(14)");
  }
  double* values = out.As<Napi::Float64Array>().Data();  // includes the view's byte offset
  values[0] = static_cast<double>(rx_.packets);
  values[1] = static_cast<double>(rx_.bytes);
  values[2] = static_cast<double>(rx_.batches);
  values[3] = static_cast<double>(rx_.truncated);
  MergeDropCount(fd_, &rx_);
  values[4] = static_cast<double>(rx_.kernel_drops);
  values[5] = static_cast<double>(tx_.packets);
  values[6] = static_cast<double>(tx_.bytes);
  values[7] = static_cast<double>(tx_.would_block);
  values[8] = static_cast<double>(rx_.filtered);
  values[9] = static_cast<double>(tx_.async_errors);
  values[10] = static_cast<double>(tx_.gso_sends);
  values[11] = static_cast<double>(tx_.gso_fallbacks);
  values[12] = static_cast<double>(rx_.gro_receives);
  values[13] = static_cast<double>(rx_.gro_datagrams);
  return env.Undefined();
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

// setSegmentation(on) -> whether UDP_SEGMENT is now used (false where the kernel lacks it).
Napi::Value SocketWrap::JS_setSegmentation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  send_batch_.SetSegmentation(info[0].ToBoolean() && KernelHasSegmentation(fd_));
  return Napi::Boolean::New(env, send_batch_.segmentation());
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

// setInterfaceFilter(on): follows IP(V6)_MULTICAST_ALL, called before it changes: the IPv6
// filter (see membership_filter.h), and IPv4's IP_PKTINFO, which must be on before
// IP_MULTICAST_ALL is (arrival_policy.h).
Napi::Value SocketWrap::JS_setInterfaceFilter(const Napi::CallbackInfo& info) {
  const bool on = info[0].ToBoolean();
  if (filter_ != nullptr) filter_on_ = on;
  if (!closed_ && arrival_ != nullptr && arrival_->PlanMulticastAll(!on)) SetPacketInfo(true);
  return info.Env().Undefined();
}

void SocketWrap::SetPacketInfo(bool on) {
  if (fd_ >= 0 && family_ == AF_INET) SetIntOption(fd_, IPPROTO_IP, IP_PKTINFO, on ? 1 : 0);
}

// fd() -> the descriptor, or -1 once closed (for tests that count open descriptors).
Napi::Value SocketWrap::JS_fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), fd_);
}

}  // namespace mcast

// SocketWrap's life: the class registration, construction (open and bind), close and
// environment teardown, the poll's state, addresses and counters. The other parts are in
// socket_wrap_recv.cc, socket_wrap_send.cc and socket_wrap_options.cc.
#include "socket_wrap.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "addon_data.h"
#include "batch_layout.h"
#include "drain.h"
#include "napi_errors.h"

namespace mcast {

namespace {

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

Napi::Value SocketWrap::JS_ref(const Napi::CallbackInfo& info) {
  if (watcher_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(&watcher_->poll));
  return info.Env().Undefined();
}

Napi::Value SocketWrap::JS_unref(const Napi::CallbackInfo& info) {
  if (watcher_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(&watcher_->poll));
  return info.Env().Undefined();
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

// fd() -> the descriptor, or -1 once closed (for tests that count open descriptors).
Napi::Value SocketWrap::JS_fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), fd_);
}

}  // namespace mcast

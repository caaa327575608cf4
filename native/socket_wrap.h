// The JS-visible socket: owns the descriptor and a uv_poll_t on the environment's own loop, and
// translates JS calls into socket_ops / recv_batch / send_batch. Argument checking here is only a
// guard; lib/socket.ts validates every value and builds the errors users see.
// The one class declaration; its definitions are split by part: socket_wrap.cc (life, state,
// addresses, counters), socket_wrap_recv.cc, socket_wrap_send.cc, socket_wrap_options.cc.
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>

#include "arrival_policy.h"
#include "batch_consumer.h"
#include "membership_filter.h"
#include "message_block.h"
#include "recv_batch.h"
#include "send_batch.h"
#include "socket_ops.h"
#include "sys_compat.h"

namespace mcast {

struct AddonData;
class SocketWrap;

// The libuv side of a socket. It outlives the SocketWrap when needed: libuv owns it from
// uv_close() until the close callback, which frees it and releases the environment cleanup hook.
struct PollWatcher {
  uv_poll_t poll;
  SocketWrap* owner = nullptr;  // null once the socket has closed or been collected
  bool closing = false;
  napi_async_cleanup_hook_handle cleanup = nullptr;
};

class SocketWrap : public Napi::ObjectWrap<SocketWrap> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new Socket(family, address, port, reuseAddr, reusePort, multicastAll, timestamps,
  //            batchSize, maxMessageSize, slab: ArrayBuffer, records: ArrayBuffer
  //            [, v6only = true])
  explicit SocketWrap(const Napi::CallbackInfo& info);
  ~SocketWrap() override;

  // Closes the descriptor and the poll handle without calling into JS (GC, env teardown).
  void CloseNative();

  // For the drain (native/drain.h): whether datagrams are still wanted, and the calls into JS
  // with `self` as `this`; each returns false when the callback threw.
  bool Receiving() const { return receiving_ && !closed_; }
  bool DispatchBatch(napi_value self, int delivered);
  void DispatchError(napi_value self, int err, const char* syscall);
  // Counts ICMP errors about sent datagrams; on a connected socket also emits one 'error'.
  // Returns false when the 'error' listener threw.
  bool ReportSendErrors(napi_value self, uint32_t count, int err);

  // Hands every drained batch to `consumer` as line `line` (a feed), or back to JS (null).
  // `owner` is the consumer's JS object, held while attached.
  void SetConsumer(BatchConsumer* consumer, int line, napi_value owner);
  // Reads what the queue holds now, as a readable event would (`self`: this socket's object).
  // A feed reads its lines so before it acts on the clock (FeedWrap::JS_expire).
  void DrainNow(napi_value self) {
    if (Receiving()) DrainReadable(self);
  }

 private:
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  Napi::Value JS_setReceiving(const Napi::CallbackInfo& info);
  Napi::Value JS_waitWritable(const Napi::CallbackInfo& info);
  Napi::Value JS_ref(const Napi::CallbackInfo& info);
  Napi::Value JS_unref(const Napi::CallbackInfo& info);
  Napi::Value JS_membership(const Napi::CallbackInfo& info);
  Napi::Value JS_setMulticastInterface(const Napi::CallbackInfo& info);
  Napi::Value JS_setIntOption(const Napi::CallbackInfo& info);
  Napi::Value JS_getIntOption(const Napi::CallbackInfo& info);
  Napi::Value JS_setRawOption(const Napi::CallbackInfo& info);
  Napi::Value JS_getRawOption(const Napi::CallbackInfo& info);
  Napi::Value JS_setBufferSize(const Napi::CallbackInfo& info);
  Napi::Value JS_address(const Napi::CallbackInfo& info);
  Napi::Value JS_connect(const Napi::CallbackInfo& info);
  Napi::Value JS_disconnect(const Napi::CallbackInfo& info);
  Napi::Value JS_peerAddress(const Napi::CallbackInfo& info);
  Napi::Value JS_send(const Napi::CallbackInfo& info);
  Napi::Value JS_sendBatch(const Napi::CallbackInfo& info);
  Napi::Value JS_setSendDestination(const Napi::CallbackInfo& info);
  Napi::Value JS_sendBlock(const Napi::CallbackInfo& info);
  Napi::Value JS_sendGather(const Napi::CallbackInfo& info);
  Napi::Value JS_stats(const Napi::CallbackInfo& info);
  Napi::Value JS_fd(const Napi::CallbackInfo& info);
  Napi::Value JS_setInterfaceFilter(const Napi::CallbackInfo& info);
  Napi::Value JS_setSegmentation(const Napi::CallbackInfo& info);
  Napi::Value JS_enableGro(const Napi::CallbackInfo& info);
  Napi::Value JS_receiveSync(const Napi::CallbackInfo& info);
  Napi::Value JS_packBatch(const Napi::CallbackInfo& info);
  Napi::Value JS_messageBlocks(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnWatcherClosed(uv_handle_t* handle);
  static void OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* arg);

  // `self` is this socket's JS object, looked up once per wake-up (it keeps the object alive
  // across callbacks that may close and drop it) and passed on as the callbacks' `this`.
  void HandleEvents(int status, int events);
  void DrainReadable(napi_value self);
  // Starts or stops the poll for the events wanted now, and holds the JS object strongly while
  // any are wanted (a receiving socket must not be collected; an idle one may be).
  void UpdatePoll();
  // Calls one of the environment's dispatch functions with `this` = this socket. Returns false
  // when it threw; the exception is then reported as uncaught, as for any EventEmitter listener.
  bool Dispatch(napi_value self, napi_value fn, std::initializer_list<napi_value> args);
  bool CheckOpen(Napi::Env env);
  bool ParseDestination(const Napi::CallbackInfo& info, size_t first, SockAddr* out);
  // Turns IP_PKTINFO on or off as the arrival policy asks (errors are ignored: with it on, the
  // kernel says what the policy would; off is only an optimisation).
  void SetPacketInfo(bool on);

  AddonData* addon_ = nullptr;
  int fd_ = -1;
  // The socket fd_ was opened as: close only that (see CloseNative).
  sys::FileIdentity fd_identity_;
  int family_ = AF_INET;
  bool receiving_ = false;
  bool want_writable_ = false;
  bool pinned_ = false;
  bool closed_ = false;
  bool connected_ = false;
  PollWatcher* watcher_ = nullptr;
  napi_async_context async_context_ = nullptr;
  // The callback scope HandleEvents holds open while it calls into JS (EventScope), or null:
  // Dispatch then makes each call a napi_make_callback of its own.
  napi_callback_scope event_scope_ = nullptr;
  class EventScope;
  std::unique_ptr<RecvBatch> batch_;
  // IPv4: whether IP_PKTINFO can be off (one membership of the bound group); see arrival_policy.h.
  std::unique_ptr<ArrivalPolicy> arrival_;
  // IPv6 only: what this socket joined, kept always, applied while filter_on_ (multicastAll off).
  std::unique_ptr<MembershipFilter> filter_;
  bool filter_on_ = false;
  SendBatch send_batch_;
  SockAddr block_dest_;  // sendBlock's and sendGather's destination, set by setSendDestination
  bool has_block_dest_ = false;
  RecvCounters rx_;
  SendCounters tx_;
  Napi::Reference<Napi::ArrayBuffer> slab_ref_;
  Napi::Reference<Napi::ArrayBuffer> records_ref_;
  // The blocks of the 'message' path (packBatch), owned with the outstanding ones (see Release).
  MessageBlockPool* message_blocks_ = nullptr;
  BatchConsumer* consumer_ = nullptr;
  int consumer_line_ = 0;
  Napi::ObjectReference consumer_ref_;
};

}  // namespace mcast

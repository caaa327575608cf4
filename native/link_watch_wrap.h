// The JS-visible rtnetlink watcher: a netlink socket (link_messages.h) polled with uv_poll on the
// environment's own loop (no thread), calling back with each batch of link events. It never keeps
// the loop alive by itself (unref'd): it only matters while sockets hold memberships.
#pragma once

#include <napi.h>
#include <uv.h>

namespace mcast {

class LinkWatchWrap;

// Owned by libuv from uv_close() until its close callback, like socket_wrap.h's PollWatcher.
struct LinkPoll {
  uv_poll_t poll;
  LinkWatchWrap* owner = nullptr;
  bool closing = false;
  napi_async_cleanup_hook_handle cleanup = nullptr;
};

class LinkWatchWrap : public Napi::ObjectWrap<LinkWatchWrap> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new LinkWatch(callback(events: [kind, index, name, flags][], overflow: boolean))
  explicit LinkWatchWrap(const Napi::CallbackInfo& info);
  ~LinkWatchWrap() override;

 private:
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  void CloseNative();
  void HandleEvents(int status);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnClosed(uv_handle_t* handle);
  static void OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* arg);

  int fd_ = -1;
  LinkPoll* poll_ = nullptr;
  Napi::FunctionReference callback_;
  napi_async_context async_context_ = nullptr;
};

}  // namespace mcast

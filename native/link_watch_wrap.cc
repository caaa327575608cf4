// See link_watch_wrap.h.
#include "link_watch_wrap.h"

#include <unistd.h>

#include <cerrno>
#include <vector>

#include "link_messages.h"
#include "napi_errors.h"

namespace mcast {

Napi::Function LinkWatchWrap::Define(Napi::Env env) {
  return DefineClass(env, "LinkWatch", {InstanceMethod<&LinkWatchWrap::JS_close>("close")});
}

LinkWatchWrap::LinkWatchWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LinkWatchWrap>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) {
    ThrowArgType(env, "(callback: function)");
    return;
  }
  int err = OpenLinkWatchSocket(&fd_);
  if (err != 0) {
    ThrowSystem(env, err, "socket(AF_NETLINK)");
    return;
  }
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new LinkPoll();
  poll_->owner = this;
  uv_poll_init(loop, &poll_->poll, fd_);
  poll_->poll.data = poll_;
  uv_poll_start(&poll_->poll, UV_READABLE, OnPoll);
  // Interface changes matter only while something else keeps the process running.
  uv_unref(reinterpret_cast<uv_handle_t*>(&poll_->poll));
  napi_add_async_cleanup_hook(env, OnEnvCleanup, poll_, &poll_->cleanup);
  napi_async_init(env, Value(), Napi::String::New(env, "mcast.LinkWatch"), &async_context_);
}

LinkWatchWrap::~LinkWatchWrap() {
  CloseNative();
  if (async_context_ != nullptr) napi_async_destroy(Env(), async_context_);
}

void LinkWatchWrap::CloseNative() {
  if (poll_ != nullptr) {
    poll_->owner = nullptr;
    poll_->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_->poll), OnClosed);
    poll_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void LinkWatchWrap::OnClosed(uv_handle_t* handle) {
  auto* poll = static_cast<LinkPoll*>(handle->data);
  if (poll->cleanup != nullptr) napi_remove_async_cleanup_hook(poll->cleanup);
  delete poll;
}

void LinkWatchWrap::OnEnvCleanup(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
  auto* poll = static_cast<LinkPoll*>(arg);
  if (poll->closing) return;
  LinkWatchWrap* owner = poll->owner;
  owner->async_context_ = nullptr;
  owner->CloseNative();
}

void LinkWatchWrap::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* poll = static_cast<LinkPoll*>(handle->data);
  if (poll->owner != nullptr) poll->owner->HandleEvents(status);
}

void LinkWatchWrap::HandleEvents(int status) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  std::vector<LinkEvent> events;
  int err = status < 0 ? 0 : ReadLinkEvents(fd_, &events);
  const bool overflow = err == ENOBUFS;
  if (status < 0 && poll_ != nullptr) uv_poll_start(&poll_->poll, UV_READABLE, OnPoll);
  if (events.empty() && !overflow) return;
  Napi::Array list = Napi::Array::New(env, events.size());
  for (size_t i = 0; i < events.size(); i++) {
    Napi::Array row = Napi::Array::New(env, 4);
    row.Set(0u, Napi::Number::New(env, events[i].kind));
    row.Set(1u, Napi::Number::New(env, events[i].index));
    row.Set(2u, Napi::String::New(env, events[i].name));
    row.Set(3u, Napi::Number::New(env, events[i].flags));
    list.Set(static_cast<uint32_t>(i), row);
  }
  napi_value args[2] = {list, Napi::Boolean::New(env, overflow)};
  CallReportingErrors(env, async_context_, Value(), callback_.Value(), 2, args);
}

Napi::Value LinkWatchWrap::JS_close(const Napi::CallbackInfo& info) {
  CloseNative();
  return info.Env().Undefined();
}

}  // namespace mcast

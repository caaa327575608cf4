// SocketWrap's socket options: memberships, the outgoing interface, int and raw options, buffer
// sizes, and the interface filter that follows IP(V6)_MULTICAST_ALL.
#include "socket_wrap.h"

#include <errno.h>

#include <string>
#include <vector>

#include "napi_errors.h"
#include "socket_wrap_args.h"

namespace mcast {

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

}  // namespace mcast

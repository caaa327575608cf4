// Addon entry: per-environment data, the Socket class, interface listing, and the constants
// and record layout that lib/ reads instead of hard-coding them.
#include <napi.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <vector>

#include "addon_data.h"
#include "batch_layout.h"
#include "feed_wrap.h"
#include "interfaces.h"
#include "link_watch_wrap.h"
#include "linux_options.h"
#include "napi_errors.h"
#include "socket_ops.h"
#include "socket_wrap.h"


namespace mcast {

// native/pcap_frames_napi.cc
Napi::Value PcapFrames(const Napi::CallbackInfo& info);
Napi::Value PcapFramesFromRecords(const Napi::CallbackInfo& info);
// native/pacer_napi.cc
Napi::Value MonotonicNsJS(const Napi::CallbackInfo& info);
Napi::Value PacerWait(const Napi::CallbackInfo& info);
Napi::Value SetTimerSlackJS(const Napi::CallbackInfo& info);

namespace {

// setCallbacks(onBatch, onError, onWritable): the JS dispatchers every socket calls with
// `this` set to itself.
Napi::Value SetCallbacks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction() || !info[1].IsFunction() || !info[2].IsFunction()) {
    return ThrowArgType(env, "(onBatch, onError, onWritable) functions");
  }
  auto* data = env.GetInstanceData<AddonData>();
  data->on_batch = Napi::Persistent(info[0].As<Napi::Function>());
  data->on_error = Napi::Persistent(info[1].As<Napi::Function>());
  data->on_writable = Napi::Persistent(info[2].As<Napi::Function>());
  return env.Undefined();
}

// listInterfaces() -> [[name, index, flags, family, address, netmask, scopeId], ...]
Napi::Value ListInterfacesJS(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<InterfaceRow> rows;
  int err = ListInterfaces(&rows);
  if (err != 0) return ThrowSystem(env, err, "getifaddrs");
  Napi::Array result = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    const InterfaceRow& r = rows[i];
    Napi::Array row = Napi::Array::New(env, 7);
    row.Set(0u, Napi::String::New(env, r.name));
    row.Set(1u, Napi::Number::New(env, r.index));
    row.Set(2u, Napi::Number::New(env, r.flags));
    row.Set(3u, Napi::Number::New(env, r.family == AF_INET ? 4 : r.family == AF_INET6 ? 6 : 0));
    row.Set(4u, Napi::String::New(env, r.address));
    row.Set(5u, Napi::String::New(env, r.netmask));
    row.Set(6u, Napi::Number::New(env, r.scope_id));
    result.Set(static_cast<uint32_t>(i), row);
  }
  return result;
}

// ifNameToIndex(name) -> index, 0 when there is no such interface.
Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) return ThrowArgType(env, "(name: string)");
  return Napi::Number::New(env, if_nametoindex(info[0].As<Napi::String>().Utf8Value().c_str()));
}

// ifIndexToName(index) -> name, or undefined when there is no such interface.
Napi::Value IfIndexToName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) return ThrowArgType(env, "(index: number)");
  char name[IF_NAMESIZE] = "";
  if (if_indextoname(info[0].As<Napi::Number>().Uint32Value(), name) == nullptr) {
    return env.Undefined();
  }
  return Napi::String::New(env, name);
}

// guessHandleType(fd) -> "UDP", "TCP", "PIPE", "TTY", "FILE" or "UNKNOWN", as Node's.
Napi::Value GuessHandleTypeJS(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) return ThrowArgType(env, "(fd: number)");
  return Napi::String::New(env, GuessHandleType(info[0].As<Napi::Number>().Int32Value()));
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  const std::pair<const char*, int> table[] = {
      {"AF_INET", AF_INET}, {"AF_INET6", AF_INET6},
      {"SOL_SOCKET", SOL_SOCKET}, {"IPPROTO_IP", IPPROTO_IP}, {"IPPROTO_IPV6", IPPROTO_IPV6},
      {"SO_REUSEADDR", SO_REUSEADDR}, {"SO_REUSEPORT", SO_REUSEPORT},
      {"SO_RCVBUF", SO_RCVBUF}, {"SO_SNDBUF", SO_SNDBUF},
      {"SO_RCVBUFFORCE", SO_RCVBUFFORCE}, {"SO_SNDBUFFORCE", SO_SNDBUFFORCE},
      {"SO_BINDTODEVICE", SO_BINDTODEVICE}, {"SO_BROADCAST", SO_BROADCAST},
      {"SO_PRIORITY", SO_PRIORITY}, {"SO_RXQ_OVFL", SO_RXQ_OVFL},
      {"SO_TIMESTAMPNS", SO_TIMESTAMPNS},
      {"IP_TTL", IP_TTL}, {"IP_TOS", IP_TOS}, {"IP_PKTINFO", IP_PKTINFO},
      {"IP_RECVTTL", IP_RECVTTL},
      {"IP_MULTICAST_IF", IP_MULTICAST_IF}, {"IP_MULTICAST_TTL", IP_MULTICAST_TTL},
      {"IP_MULTICAST_LOOP", IP_MULTICAST_LOOP}, {"IP_MULTICAST_ALL", IP_MULTICAST_ALL},
      {"IP_ADD_MEMBERSHIP", IP_ADD_MEMBERSHIP}, {"IP_DROP_MEMBERSHIP", IP_DROP_MEMBERSHIP},
      {"IP_ADD_SOURCE_MEMBERSHIP", IP_ADD_SOURCE_MEMBERSHIP},
      {"IP_DROP_SOURCE_MEMBERSHIP", IP_DROP_SOURCE_MEMBERSHIP},
      {"IPV6_V6ONLY", IPV6_V6ONLY}, {"IPV6_UNICAST_HOPS", IPV6_UNICAST_HOPS},
      {"IPV6_MULTICAST_IF", IPV6_MULTICAST_IF}, {"IPV6_MULTICAST_HOPS", IPV6_MULTICAST_HOPS},
      {"IPV6_MULTICAST_LOOP", IPV6_MULTICAST_LOOP}, {"IPV6_MULTICAST_ALL", IPV6_MULTICAST_ALL},
      {"IPV6_RECVPKTINFO", IPV6_RECVPKTINFO}, {"IPV6_RECVHOPLIMIT", IPV6_RECVHOPLIMIT},
      {"MCAST_JOIN_GROUP", MCAST_JOIN_GROUP}, {"MCAST_LEAVE_GROUP", MCAST_LEAVE_GROUP},
      {"MCAST_JOIN_SOURCE_GROUP", MCAST_JOIN_SOURCE_GROUP},
      {"MCAST_LEAVE_SOURCE_GROUP", MCAST_LEAVE_SOURCE_GROUP},
      {"MCAST_BLOCK_SOURCE", MCAST_BLOCK_SOURCE}, {"MCAST_UNBLOCK_SOURCE", MCAST_UNBLOCK_SOURCE},
      {"IFF_UP", IFF_UP}, {"IFF_LOOPBACK", IFF_LOOPBACK}, {"IFF_MULTICAST", IFF_MULTICAST},
      {"IFF_RUNNING", IFF_RUNNING},
      {"SOL_UDP", SOL_UDP}, {"UDP_SEGMENT", UDP_SEGMENT}, {"UDP_GRO", UDP_GRO},
  };
  for (const auto& [name, value] : table) c.Set(name, Napi::Number::New(env, value));
  return c;
}

Napi::Object Layout(Napi::Env env) {
  Napi::Object l = Napi::Object::New(env);
  l.Set("recordBytes", Napi::Number::New(env, layout::kRecordBytes));
  l.Set("size", Napi::Number::New(env, layout::kSize));
  l.Set("originalSize", Napi::Number::New(env, layout::kOriginalSize));
  l.Set("flags", Napi::Number::New(env, layout::kFlags));
  l.Set("ifIndex", Napi::Number::New(env, layout::kIfIndex));
  l.Set("port", Napi::Number::New(env, layout::kPort));
  l.Set("ttl", Napi::Number::New(env, layout::kTtl));
  l.Set("offset", Napi::Number::New(env, layout::kOffset));
  l.Set("dropCount", Napi::Number::New(env, layout::kDropCount));
  l.Set("sourceByte", Napi::Number::New(env, layout::kSourceByte));
  l.Set("destinationByte", Napi::Number::New(env, layout::kDestinationByte));
  l.Set("timestampByte", Napi::Number::New(env, layout::kTimestampByte));
  l.Set("flagTruncated", Napi::Number::New(env, layout::kFlagTruncated));
  l.Set("flagTimestamp", Napi::Number::New(env, layout::kFlagTimestamp));
  l.Set("flagPktinfo", Napi::Number::New(env, layout::kFlagPktinfo));
  return l;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  // Freed by Node when this environment (main thread or worker) goes away.
  env.SetInstanceData<AddonData>(data);
  Napi::Function socket = SocketWrap::Define(env);
  data->socket_constructor = Napi::Persistent(socket);
  exports.Set("Socket", socket);
  exports.Set("LinkWatch", LinkWatchWrap::Define(env));
  exports.Set("Feed", FeedWrap::Define(env));
  exports.Set("setCallbacks", Napi::Function::New<SetCallbacks>(env, "setCallbacks"));
  exports.Set("listInterfaces", Napi::Function::New<ListInterfacesJS>(env, "listInterfaces"));
  exports.Set("ifNameToIndex", Napi::Function::New<IfNameToIndex>(env, "ifNameToIndex"));
  exports.Set("ifIndexToName", Napi::Function::New<IfIndexToName>(env, "ifIndexToName"));
  exports.Set("guessHandleType", Napi::Function::New<GuessHandleTypeJS>(env, "guessHandleType"));
  exports.Set("constants", Constants(env));
  exports.Set("layout", Layout(env));
  exports.Set("pcapFrames", Napi::Function::New<PcapFrames>(env, "pcapFrames"));
  exports.Set("pcapFramesFromRecords", Napi::Function::New<PcapFramesFromRecords>(env, "pcapFramesFromRecords"));
  exports.Set("monotonicNs", Napi::Function::New<MonotonicNsJS>(env, "monotonicNs"));
  exports.Set("pacerWait", Napi::Function::New<PacerWait>(env, "pacerWait"));
  exports.Set("setTimerSlack", Napi::Function::New<SetTimerSlackJS>(env, "setTimerSlack"));
  return exports;
}

}  // namespace

}  // namespace mcast

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return mcast::Init(env, exports);
}

NODE_API_MODULE(mcast, InitAddon)

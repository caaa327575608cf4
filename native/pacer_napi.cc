// The replay pacer's binding (native/pacer.h): monotonicNs(), pacerWait(deadlineNs, marginNs,
// out: Float64Array(1)) and setTimerSlack(ns). Times are ns as doubles (exact to the ns for
// 104 days of uptime), so no BigInt is made per call.
#include <napi.h>

#include <cmath>

#include "napi_errors.h"
#include "pacer.h"

namespace mcast {

Napi::Value MonotonicNsJS(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(MonotonicNs()));
}

// Returns the clock when the wait ended; out[0] is the clock when its sleep ended (0: no sleep).
Napi::Value PacerWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[2].As<Napi::TypedArray>().ElementLength() < 1) {
    return ThrowArgType(env, "(deadlineNs: number, marginNs: number, out: Float64Array(1))");
  }
  const double deadline = info[0].As<Napi::Number>().DoubleValue();
  const double margin = info[1].As<Napi::Number>().DoubleValue();
  // Refuse what would sleep for ever or not at all by mistake (NaN, ±Infinity, past 2^62 ns).
  if (!std::isfinite(deadline) || !std::isfinite(margin) || std::fabs(deadline) > 4e18 || std::fabs(margin) > 4e18) {
    return ThrowArgType(env, "finite deadlineNs and marginNs");
  }
  int64_t woke = 0;
  const int64_t now = WaitUntil(static_cast<int64_t>(deadline), static_cast<int64_t>(margin), &woke);
  info[2].As<Napi::Float64Array>()[0] = static_cast<double>(woke);
  return Napi::Number::New(env, static_cast<double>(now));
}

// Returns 0 or the errno of prctl(PR_SET_TIMERSLACK).
Napi::Value SetTimerSlackJS(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowArgType(env, "(ns: number)");
  const double ns = info[0].As<Napi::Number>().DoubleValue();
  if (!(ns >= 1) || ns > 1e12) return ThrowArgType(env, "ns from 1 to 1e12");
  return Napi::Number::New(env, SetTimerSlack(static_cast<uint64_t>(ns)));
}

}  // namespace mcast

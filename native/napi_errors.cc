#include "napi_errors.h"

#include <cstring>
#include <string>

namespace mcast {

namespace {

// strerror(3) may share one buffer between threads, and every worker thread has its own
// environment calling in here: strerror_r, whichever of its two flavours libc declares.
[[maybe_unused]] const char* ErrorText(int result, const char* buffer) {  // XSI: 0 or an errno
  return result == 0 ? buffer : "Unknown error";
}
[[maybe_unused]] const char* ErrorText(const char* result, const char* /*buffer*/) {  // GNU
  return result;
}

}  // namespace

Napi::Error SystemError(Napi::Env env, int err, const char* syscall) {
  char buffer[128] = "";
  std::string message = std::string(syscall) + ": " + ErrorText(strerror_r(err, buffer, sizeof(buffer)), buffer);
  Napi::Error error = Napi::Error::New(env, message);
  // libuv's sign, as every Node error carries it: one convention from here up to the user.
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

Napi::Value ThrowSystem(Napi::Env env, int err, const char* syscall) {
  SystemError(env, err, syscall).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowArgType(Napi::Env env, const char* what) {
  Napi::TypeError error = Napi::TypeError::New(env, std::string("mcast binding: expected ") + what);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

namespace {

// After a call that failed: reports its exception as uncaught. Returns false.
bool ReportPendingException(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_valuetype type = napi_undefined;
    if (error != nullptr) napi_typeof(env, error, &type);
    if (type != napi_undefined) napi_fatal_exception(env, error);
  }
  return false;
}

}  // namespace

bool CallReportingErrors(napi_env env, napi_async_context context, napi_value recv, napi_value fn,
                         size_t argc, const napi_value* argv) {
  napi_value result;
  if (napi_make_callback(env, context, recv, fn, argc, argv, &result) == napi_ok) return true;
  return ReportPendingException(env);
}

bool CallInScopeReportingErrors(napi_env env, napi_value recv, napi_value fn, size_t argc,
                                const napi_value* argv) {
  napi_value result;
  if (napi_call_function(env, recv, fn, argc, argv, &result) == napi_ok) return true;
  return ReportPendingException(env);
}

}  // namespace mcast

#include "napi_errors.h"

#include <cstring>
#include <string>

namespace mcast {

Napi::Error SystemError(Napi::Env env, int err, const char* syscall) {
  std::string message = std::string(syscall) + ": " + std::strerror(err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
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

}  // namespace mcast

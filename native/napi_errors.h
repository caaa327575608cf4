// Errors thrown by the binding. Native code tells the errno and the syscall; lib/errors.ts turns
// them into Node-style errors with `code` and a message naming the group, source and interface.
#pragma once

#include <napi.h>

namespace mcast {

// An Error whose message is "SYSCALL: strerror", with `syscall` set and `errno` negative
// (libuv's UV__ERR sign, which Node's errors carry): `err` itself is a positive errno.
Napi::Error SystemError(Napi::Env env, int err, const char* syscall);

// Throws SystemError and returns undefined, for `return ThrowSystem(...)` in methods.
Napi::Value ThrowSystem(Napi::Env env, int err, const char* syscall);

// Throws a TypeError with code ERR_INVALID_ARG_TYPE. The facade validates every argument first,
// so this only guards the binding against direct misuse.
Napi::Value ThrowArgType(Napi::Env env, const char* what);

// napi_make_callback(fn) with `this` = recv. Returns false when it threw: the exception is then
// reported as uncaught (the 'uncaughtException' path), as Node does for an EventEmitter listener;
// during worker termination the exception is empty and nothing is reported.
bool CallReportingErrors(napi_env env, napi_async_context context, napi_value recv, napi_value fn,
                         size_t argc, const napi_value* argv);

// The same inside a callback scope the caller opened (napi_open_callback_scope): a plain
// napi_call_function, without napi_make_callback's per-call scope (async hooks, microtasks and
// process.nextTick run when the caller closes its scope).
bool CallInScopeReportingErrors(napi_env env, napi_value recv, napi_value fn, size_t argc,
                                const napi_value* argv);

}  // namespace mcast

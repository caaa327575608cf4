// Per-environment state of the addon (one per main thread or worker), so that nothing is shared
// between Node environments: the Socket constructor and the JS dispatch functions.
#pragma once

#include <napi.h>

namespace mcast {

struct AddonData {
  Napi::FunctionReference socket_constructor;
  // Set once by lib/binding.ts through setCallbacks(); called with `this` = the native socket.
  // Held here, not per socket, so that a socket's own callbacks never root it: a socket that
  // is not receiving stays collectable.
  Napi::FunctionReference on_batch;
  Napi::FunctionReference on_error;
  Napi::FunctionReference on_writable;
};

}  // namespace mcast

// Argument readers that more than one of the SocketWrap files use.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

#include "napi_typed_array.h"

namespace mcast {

inline bool GetBytes(napi_env env, napi_value value, uint8_t** data, size_t* length) {
  return TypedArray(env, value, napi_uint8_array, data, length);
}

}  // namespace mcast

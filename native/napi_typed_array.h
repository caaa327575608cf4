// Reading a typed array argument in the bindings: one place for napi_get_typedarray_info.
#pragma once

#include <napi.h>

#include <cstddef>

namespace mcast {

// The elements of `value` when it is a typed array of type `want` (`count` elements at `data`);
// false for anything else. The binding throws its own ERR_INVALID_ARG_TYPE then.
template <typename T>
bool TypedArray(napi_env env, napi_value value, napi_typedarray_type want, T** data, size_t* count) {
  napi_typedarray_type type;
  void* base;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, count, &base, &buffer, &offset) != napi_ok ||
      type != want) {
    return false;
  }
  *data = static_cast<T*>(base);
  return true;
}

}  // namespace mcast

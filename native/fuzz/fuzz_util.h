// Helpers shared by the libFuzzer targets: reading input fields and failing a check.
#pragma once

#include <cstdint>
#include <cstring>

namespace mcast_fuzz {

// A 32-bit field of the fuzz input (host byte order; any value is as good as another).
inline uint32_t Read32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// A broken invariant: trap, so that libFuzzer records the input as a crash.
inline void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace mcast_fuzz

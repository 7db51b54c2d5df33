// When to fetch TURN credentials again: 10 minutes before they expire (js-sdk's margin), or
// at 90% of a short ttl, and never sooner than a second.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace mxcall::client {

inline std::chrono::milliseconds turn_refresh_after(std::int64_t ttl_s) {
  const std::int64_t ttl_ms = std::max<std::int64_t>(ttl_s, 1) * 1000;
  return std::chrono::milliseconds(std::max<std::int64_t>(std::min(ttl_ms - 600'000, ttl_ms * 9 / 10), 1000));
}

}  // namespace mxcall::client

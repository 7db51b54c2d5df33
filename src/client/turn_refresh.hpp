// When to fetch TURN credentials again: 10 minutes before they expire (js-sdk's margin), but
// with at most a tenth of the ttl as margin for short ttls, and never sooner than a second.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace mxcall::client {

inline std::chrono::milliseconds turn_refresh_after(std::int64_t ttl_s) {
  const std::int64_t ttl_ms = std::max<std::int64_t>(ttl_s, 1) * 1000;
  const std::int64_t margin = std::min<std::int64_t>(600'000, ttl_ms / 10);
  return std::chrono::milliseconds(std::max<std::int64_t>(ttl_ms - margin, 1000));
}

}  // namespace mxcall::client

// How the transport answers failures: 429 waits what the server asks, 5xx and network errors
// back off exponentially with jitter (capped), other 4xx fail at once with a typed error.
#pragma once

#include <chrono>

namespace mxcall::matrix {

struct RetryPolicy {
  // Attempts for 5xx / network / timeout failures of one logical request (0: unlimited).
  int max_attempts = 10;
  // 429 answers tolerated for one logical request before giving up (0: unlimited).
  int max_rate_limited = 30;
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{10'000};
  // A 429 without Retry-After or retry_after_ms waits this long.
  std::chrono::milliseconds default_rate_limit_wait{2'000};
  // A server asking for more than this is capped (a hostile or broken value must not park us).
  std::chrono::milliseconds max_rate_limit_wait{300'000};

  static RetryPolicy forever() {
    RetryPolicy p;
    p.max_attempts = 0;
    p.max_rate_limited = 0;
    return p;
  }
};

}  // namespace mxcall::matrix

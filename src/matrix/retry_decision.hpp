// The retry decision for one HTTP answer: pure, so every branch is unit-tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "mxcall/error.hpp"
#include "mxcall/matrix/http.hpp"
#include "mxcall/matrix/retry.hpp"

namespace mxcall::matrix {

enum class RetryAction { Done, Retry, Fail };

struct RetryDecision {
  RetryAction action = RetryAction::Done;
  std::chrono::milliseconds delay{0};  // for Retry
  bool rate_limited = false;           // the answer was a 429 / M_LIMIT_EXCEEDED
  Error error;                         // for Fail (and describes the failure for Retry)
};

// Per logical request; decide_retry() updates it with the answer it judges.
struct AttemptCounts {
  int failures = 0;      // 5xx / 408 / network / timeout answers so far
  int rate_limited = 0;  // 429s so far
};

// The Matrix error in a body, if it is one: {"errcode": "...", "error": "..."}.
struct MatrixErrorBody {
  std::string errcode;
  std::string error;
  std::optional<std::int64_t> retry_after_ms;
};
std::optional<MatrixErrorBody> parse_matrix_error(const std::string& body);

// Retry-After is integer seconds or an HTTP date; nullopt when unreadable.
std::optional<std::chrono::milliseconds> parse_retry_after(
    const std::string& value, std::chrono::system_clock::time_point now);

// Exponential backoff with "equal jitter": uniform in [d/2, d], d = min(cap, initial * 2^(n-1)).
std::chrono::milliseconds backoff_delay(const RetryPolicy& p, int failures, std::mt19937_64& rng);

RetryDecision decide_retry(const RetryPolicy& policy, const HttpResponse& response,
                           AttemptCounts& counts, std::chrono::system_clock::time_point now,
                           std::mt19937_64& rng);

bool is_rate_limit(const HttpResponse& response, const std::optional<MatrixErrorBody>& body);

}  // namespace mxcall::matrix

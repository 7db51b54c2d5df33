// Error answers as the transport judges them: the Matrix error body, the Retry-After header
// (first line of the input; the status code is taken from its first byte), and the retry
// decision. Hostile values must never park a request for longer than the policy allows.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>

#include "matrix/retry_decision.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mxcall::matrix;
  if (size == 0) return 0;
  static const int kStatuses[] = {200, 400, 401, 403, 404, 408, 429, 500, 502, 503};
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto newline = input.find('\n');
  HttpResponse r;
  r.status = kStatuses[data[0] % 10];
  if (newline != std::string_view::npos) r.retry_after = std::string(input.substr(0, newline));
  r.body = std::string(newline == std::string_view::npos ? input : input.substr(newline + 1));
  const auto now = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 55);
  if (r.retry_after)
    if (auto wait = parse_retry_after(*r.retry_after, now)) require(wait->count() >= 0);
  (void)parse_matrix_error(r.body);
  RetryPolicy policy;
  AttemptCounts counts;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 3; ++i) {
    const RetryDecision d = decide_retry(policy, r, counts, now, rng);
    if (d.action != RetryAction::Retry) break;
    require(d.delay.count() >= 0 && d.delay <= std::max(policy.max_rate_limit_wait, policy.max_backoff));
  }
  return 0;
}

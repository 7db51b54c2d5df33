#include "matrix/retry_decision.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "util/json_guard.hpp"

namespace mxcall::matrix {

using std::chrono::milliseconds;

std::optional<MatrixErrorBody> parse_matrix_error(const std::string& body) {
  util::JsonLimits limits;
  limits.max_bytes = 1u << 20;
  auto parsed = util::parse_untrusted_json(body, limits);
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  const auto* errcode = util::get_string(*parsed, "errcode");
  if (!errcode) return std::nullopt;
  MatrixErrorBody out;
  out.errcode = *errcode;
  if (const auto* msg = util::get_string(*parsed, "error")) out.error = *msg;
  out.retry_after_ms = util::get_int(*parsed, "retry_after_ms");
  return out;
}

std::optional<milliseconds> parse_retry_after(const std::string& value,
                                              std::chrono::system_clock::time_point now) {
  if (value.empty()) return std::nullopt;
  std::int64_t seconds = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && ptr == value.data() + value.size()) {
    if (seconds < 0) return std::nullopt;
    return milliseconds(std::min<std::int64_t>(seconds, INT64_MAX / 1000) * 1000);
  }
  std::tm tm{};
  const char* end = strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  // In whole seconds: a date far in the future (year 5206...) overflows system_clock's
  // nanoseconds (found by fuzz_http_error; its input is in fuzz/corpus/http_error).
  const std::int64_t when = timegm(&tm);
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (when <= now_s) return milliseconds(0);
  return milliseconds(std::min<std::int64_t>(when - now_s, INT64_MAX / 1000) * 1000);
}

milliseconds backoff_delay(const RetryPolicy& p, int failures, std::mt19937_64& rng) {
  const int shift = std::clamp(failures - 1, 0, 30);
  const auto cap = std::max<std::int64_t>(p.max_backoff.count(), 1);
  const std::int64_t full = std::min<std::int64_t>(cap, p.initial_backoff.count() << shift);
  std::uniform_int_distribution<std::int64_t> jitter(full / 2, std::max<std::int64_t>(full, 1));
  return milliseconds(jitter(rng));
}

bool is_rate_limit(const HttpResponse& response, const std::optional<MatrixErrorBody>& body) {
  if (body && body->errcode == "M_LIMIT_EXCEEDED") return true;
  return response.status == 429 && (!body || body->errcode == "M_UNKNOWN");
}

namespace {

RetryDecision fail(ErrorKind kind, std::string message, int status = 0, std::string errcode = {}) {
  RetryDecision d;
  d.action = RetryAction::Fail;
  d.error = Error{kind, std::move(message), status, std::move(errcode)};
  return d;
}

RetryDecision retry_or_give_up(const RetryPolicy& policy, AttemptCounts& counts,
                               std::mt19937_64& rng, ErrorKind kind, std::string message,
                               int status = 0) {
  ++counts.failures;
  if (policy.max_attempts > 0 && counts.failures >= policy.max_attempts) {
    return fail(kind, message + " (gave up after " + std::to_string(counts.failures) + " attempts)",
                status);
  }
  RetryDecision d;
  d.action = RetryAction::Retry;
  d.delay = backoff_delay(policy, counts.failures, rng);
  d.error = Error{kind, std::move(message), status, {}};
  return d;
}

}  // namespace

RetryDecision decide_retry(const RetryPolicy& policy, const HttpResponse& response,
                           AttemptCounts& counts, std::chrono::system_clock::time_point now,
                           std::mt19937_64& rng) {
  switch (response.outcome) {
    case HttpOutcome::Ok: break;
    case HttpOutcome::ConnectFailed:
      return retry_or_give_up(policy, counts, rng, ErrorKind::Network,
                              "cannot reach the homeserver: " + response.error_text);
    case HttpOutcome::Timeout:
      return retry_or_give_up(policy, counts, rng, ErrorKind::Timeout,
                              "the homeserver did not answer in time: " + response.error_text);
    case HttpOutcome::TooLarge:
      return fail(ErrorKind::InvalidResponse, response.error_text);
    case HttpOutcome::Aborted:
      return fail(ErrorKind::Cancelled, "request cancelled");
    case HttpOutcome::OtherError:
      return fail(ErrorKind::Network, "HTTP failure: " + response.error_text);
  }

  if (response.status >= 200 && response.status < 300) return RetryDecision{};

  const auto body = parse_matrix_error(response.body);
  if (is_rate_limit(response, body)) {
    ++counts.rate_limited;
    if (policy.max_rate_limited > 0 && counts.rate_limited > policy.max_rate_limited) {
      return fail(ErrorKind::RateLimited,
                  "still rate limited after " + std::to_string(counts.rate_limited - 1) + " retries",
                  response.status, "M_LIMIT_EXCEEDED");
    }
    std::optional<milliseconds> wait;
    if (response.retry_after) wait = parse_retry_after(*response.retry_after, now);
    if (!wait && body && body->retry_after_ms && *body->retry_after_ms >= 0)
      wait = milliseconds(*body->retry_after_ms);
    RetryDecision d;
    d.action = RetryAction::Retry;
    d.rate_limited = true;
    d.delay = std::min(wait.value_or(policy.default_rate_limit_wait), policy.max_rate_limit_wait);
    d.error = Error{ErrorKind::RateLimited, "rate limited by the homeserver", response.status,
                    "M_LIMIT_EXCEEDED"};
    return d;
  }

  if (response.status >= 500 || response.status == 408) {
    return retry_or_give_up(policy, counts, rng, ErrorKind::Matrix,
                            "homeserver error " + std::to_string(response.status) +
                                (body ? ": " + body->errcode + " " + body->error : std::string{}),
                            response.status);
  }
  if (body) return fail(ErrorKind::Matrix, body->error, response.status, body->errcode);
  return fail(ErrorKind::Matrix, "HTTP " + std::to_string(response.status) + " without a Matrix error",
              response.status);
}

}  // namespace mxcall::matrix

#include <gtest/gtest.h>

#include <set>

#include "matrix/retry_decision.hpp"
#include "unit/fake_http.hpp"

namespace mxcall::matrix {
namespace {

using std::chrono::milliseconds;
using testing::http_outcome;
using testing::http_status;

const auto kNow = std::chrono::system_clock::from_time_t(1'767'225'600);  // 2026-01-01 00:00:00 UTC

struct RetryDecisionTest : ::testing::Test {
  RetryPolicy policy;
  std::mt19937_64 rng{42};
  AttemptCounts counts;
  RetryDecision judge(const HttpResponse& r) { return decide_retry(policy, r, counts, kNow, rng); }
};

TEST_F(RetryDecisionTest, SuccessIsDone) {
  EXPECT_EQ(judge(testing::http_ok("{}")).action, RetryAction::Done);
}

TEST_F(RetryDecisionTest, RateLimitWaitsRetryAfterMs) {
  auto d = judge(http_status(429, R"({"errcode":"M_LIMIT_EXCEEDED","error":"slow","retry_after_ms":1234})"));
  EXPECT_EQ(d.action, RetryAction::Retry);
  EXPECT_TRUE(d.rate_limited);
  EXPECT_EQ(d.delay, milliseconds(1234));
  EXPECT_EQ(counts.rate_limited, 1);
  EXPECT_EQ(counts.failures, 0);
}

TEST_F(RetryDecisionTest, RetryAfterHeaderWinsOverBody) {
  auto r = http_status(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1234})");
  r.retry_after = "3";
  EXPECT_EQ(judge(r).delay, milliseconds(3000));
}

TEST_F(RetryDecisionTest, RetryAfterHttpDateIsRelativeToNow) {
  auto r = http_status(429);
  r.retry_after = "Thu, 01 Jan 2026 00:00:07 GMT";
  auto d = judge(r);
  EXPECT_TRUE(d.rate_limited);
  EXPECT_EQ(d.delay, milliseconds(7000));
}

TEST_F(RetryDecisionTest, RateLimitWithoutHintUsesDefault) {
  auto d = judge(http_status(429, "not json"));
  EXPECT_TRUE(d.rate_limited);
  EXPECT_EQ(d.delay, policy.default_rate_limit_wait);
}

TEST_F(RetryDecisionTest, HugeRetryAfterIsCapped) {
  auto d = judge(http_status(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":999999999999})"));
  EXPECT_EQ(d.delay, policy.max_rate_limit_wait);
  auto neg = judge(http_status(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":-5})"));
  EXPECT_EQ(neg.delay, policy.default_rate_limit_wait);
}

TEST_F(RetryDecisionTest, LimitExceededErrcodeCountsWhateverTheStatus) {
  EXPECT_TRUE(judge(http_status(400, R"({"errcode":"M_LIMIT_EXCEEDED"})")).rate_limited);
}

TEST_F(RetryDecisionTest, RateLimitGivesUpAfterConfiguredCount) {
  policy.max_rate_limited = 2;
  auto r = http_status(429, R"({"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1})");
  EXPECT_EQ(judge(r).action, RetryAction::Retry);
  EXPECT_EQ(judge(r).action, RetryAction::Retry);
  auto d = judge(r);
  EXPECT_EQ(d.action, RetryAction::Fail);
  EXPECT_EQ(d.error.kind, ErrorKind::RateLimited);
}

TEST_F(RetryDecisionTest, ServerErrorsBackOffExponentiallyWithJitterAndCap) {
  policy.initial_backoff = milliseconds(100);
  policy.max_backoff = milliseconds(1000);
  policy.max_attempts = 0;
  const std::int64_t expected_max[] = {100, 200, 400, 800, 1000, 1000};
  for (auto max : expected_max) {
    auto d = judge(http_status(502));
    ASSERT_EQ(d.action, RetryAction::Retry);
    EXPECT_GE(d.delay.count(), max / 2);
    EXPECT_LE(d.delay.count(), max);
  }
  EXPECT_EQ(counts.failures, 6);
}

TEST_F(RetryDecisionTest, JitterVaries) {
  policy.initial_backoff = milliseconds(1000);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 20; ++i) {
    AttemptCounts fresh;
    seen.insert(decide_retry(policy, http_status(500), fresh, kNow, rng).delay.count());
  }
  EXPECT_GT(seen.size(), 5u);
}

TEST_F(RetryDecisionTest, NetworkFailuresRetryUntilMaxAttempts) {
  policy.max_attempts = 3;
  EXPECT_EQ(judge(http_outcome(HttpOutcome::ConnectFailed)).action, RetryAction::Retry);
  EXPECT_EQ(judge(http_outcome(HttpOutcome::Timeout)).action, RetryAction::Retry);
  auto d = judge(http_outcome(HttpOutcome::ConnectFailed));
  EXPECT_EQ(d.action, RetryAction::Fail);
  EXPECT_EQ(d.error.kind, ErrorKind::Network);
}

TEST_F(RetryDecisionTest, ClientErrorsFailAtOnceWithErrcode) {
  auto d = judge(http_status(403, R"({"errcode":"M_FORBIDDEN","error":"You are not invited"})"));
  EXPECT_EQ(d.action, RetryAction::Fail);
  EXPECT_EQ(d.error.kind, ErrorKind::Matrix);
  EXPECT_EQ(d.error.errcode, "M_FORBIDDEN");
  EXPECT_EQ(d.error.http_status, 403);
  EXPECT_EQ(d.error.message, "You are not invited");
  auto bare = judge(http_status(404, "<html>nope</html>"));
  EXPECT_EQ(bare.action, RetryAction::Fail);
  EXPECT_EQ(bare.error.http_status, 404);
}

TEST_F(RetryDecisionTest, TooLargeAndAbortedAreNotRetried) {
  EXPECT_EQ(judge(http_outcome(HttpOutcome::TooLarge)).error.kind, ErrorKind::InvalidResponse);
  EXPECT_EQ(judge(http_outcome(HttpOutcome::Aborted)).error.kind, ErrorKind::Cancelled);
}

TEST(RetryAfter, ParsesSecondsAndDatesRejectsJunk) {
  EXPECT_EQ(parse_retry_after("0", kNow), milliseconds(0));
  EXPECT_EQ(parse_retry_after("120", kNow), milliseconds(120'000));
  EXPECT_EQ(parse_retry_after("Wed, 31 Dec 2025 23:59:00 GMT", kNow), milliseconds(0));  // past
  EXPECT_FALSE(parse_retry_after("-1", kNow));
  EXPECT_FALSE(parse_retry_after("soon", kNow));
  EXPECT_FALSE(parse_retry_after("", kNow));
}

TEST(RetryAfter, ADateFarInTheFutureDoesNotOverflow) {
  // fuzz_http_error: the year 5206 overflowed system_clock's nanoseconds (UBSan).
  const auto far = parse_retry_after("Wed, 21 Oct 5206 07:28:00 GMT", kNow);
  ASSERT_TRUE(far);
  EXPECT_GT(far->count(), 0);
  const auto soon = parse_retry_after("Thu, 01 Jan 2099 00:00:00 GMT", kNow);
  ASSERT_TRUE(soon);
  EXPECT_GT(*far, *soon);
}

}  // namespace
}  // namespace mxcall::matrix

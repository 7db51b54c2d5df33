#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/seq_queue.hpp"

namespace mxcall::core {
namespace {

using namespace std::chrono_literals;

struct SeqQueueTest : ::testing::Test {
  TimePoint now = TimePoint{} + 1h;
  SeqQueue<std::string> q{Duration(3000)};

  void push(const std::string& call, std::optional<std::int64_t> seq, const std::string& what, bool opens = false) {
    q.push(call, seq, opens, what, now);
  }
  std::vector<std::string> released() {
    std::vector<std::string> out;
    while (auto r = q.pop()) out.push_back(r->item);
    return out;
  }
};

using V = std::vector<std::string>;

TEST_F(SeqQueueTest, PerCallCountersAreReorderedAndDuplicatesDropped) {
  push("A", 1, "a1");
  push("A", 2, "a2");
  EXPECT_TRUE(released().empty());
  push("A", 0, "a0", true);
  EXPECT_EQ(released(), (V{"a0", "a1", "a2"}));
  push("A", 1, "a1 again");
  push("A", 0, "a0 again", true);
  push("A", 4, "a4");
  push("A", 4, "a4 again");
  push("A", 3, "a3");
  EXPECT_EQ(released(), (V{"a3", "a4"}));
  // Another call id (js-sdk: a new MatrixCall) counts from 0 again.
  push("B", 0, "b0", true);
  push("B", 1, "b1");
  EXPECT_EQ(released(), (V{"b0", "b1"}));
  EXPECT_EQ(q.waiting(), 0u);
  EXPECT_FALSE(q.next_deadline());
}

TEST_F(SeqQueueTest, MessagesWithoutSeqBypassOrdering) {
  push("A", 1, "a1");
  push("A", std::nullopt, "plain");
  EXPECT_EQ(released(), (V{"plain"}));
}

TEST_F(SeqQueueTest, AGapThatDoesNotFillReleasesTheBufferAfterTheTimeout) {
  push("A", 0, "a0", true);
  push("A", 2, "a2");
  now += 1s;
  push("A", 3, "a3");
  EXPECT_EQ(released(), (V{"a0"}));
  ASSERT_TRUE(q.next_deadline());
  EXPECT_EQ(*q.next_deadline(), now - 1s + 3s);  // the oldest waiting message decides
  q.tick(now + 1s);
  EXPECT_TRUE(released().empty());
  now += 2s;
  q.tick(now);
  EXPECT_EQ(released(), (V{"a2", "a3"}));
  push("A", 1, "a1 late");  // gave up on it: now a duplicate
  push("A", 4, "a4");
  EXPECT_EQ(released(), (V{"a4"}));
}

TEST_F(SeqQueueTest, AStreamThatNeverSawItsStartIsReleasedAfterTheTimeoutToo) {
  push("A", 5, "a5", true);  // nothing before it on this link: not a continuation
  push("A", 6, "a6");
  EXPECT_TRUE(released().empty());
  now += 3s;
  q.tick(now);
  EXPECT_EQ(released(), (V{"a5", "a6"}));
}

TEST_F(SeqQueueTest, HydrogenCountersContinueAcrossCallIds) {
  // First call: 0..2, then the retried call goes on at 3 with a new call id.
  push("A", 0, "a0", true);
  push("A", 1, "a1");
  push("A", 2, "a2 hangup");
  EXPECT_EQ(released(), (V{"a0", "a1", "a2 hangup"}));
  push("B", 3, "b3 invite", true);
  push("B", 4, "b4");
  EXPECT_EQ(released(), (V{"b3 invite", "b4"}));
  EXPECT_TRUE(q.shared_counter());
  // With a shared counter a call id skips the numbers other call ids used...
  push("C", 5, "c5 invite", true);
  push("B", 6, "b6");
  push("C", 7, "c7");
  EXPECT_EQ(released(), (V{"c5 invite", "b6", "c7"}));
  // ...but not a number nobody used yet.
  push("B", 9, "b9");
  EXPECT_TRUE(released().empty());
  push("C", 8, "c8");
  EXPECT_EQ(released(), (V{"c8", "b9"}));
}

TEST_F(SeqQueueTest, ACallThatStartsMidCounterWaitsForItsPredecessors) {
  push("A", 0, "a0", true);
  EXPECT_EQ(released(), (V{"a0"}));
  // Hydrogen's retry invite (seq 2) overtakes the old call's hangup (seq 1).
  push("B", 2, "b2 invite", true);
  EXPECT_TRUE(released().empty());
  push("A", 1, "a1 hangup");
  EXPECT_EQ(released(), (V{"a1 hangup", "b2 invite"}));
}

TEST_F(SeqQueueTest, OnlyAMessageThatCanOpenACallStartsAStreamMidCounter) {
  push("A", 0, "a0", true);
  EXPECT_EQ(released(), (V{"a0"}));
  push("B", 1, "b1 candidates", false);  // js-sdk call B: its invite (seq 0) is late
  EXPECT_TRUE(released().empty());
  push("B", 0, "b0 invite", true);
  EXPECT_EQ(released(), (V{"b0 invite", "b1 candidates"}));
}

TEST_F(SeqQueueTest, BoundedPerStreamAndInStreams) {
  SeqQueue<int> small(Duration(3000), 4, 2);
  for (int i = 1; i <= 6; ++i) small.push("A", i, false, i, now);
  EXPECT_EQ(small.waiting(), 4u);
  small.push("B", 5, false, 50, now);
  small.push("C", 0, true, 0, now);  // evicts A, the oldest stream
  EXPECT_EQ(small.waiting(), 1u);
  ASSERT_TRUE(small.pop());
  EXPECT_FALSE(small.pop());
}

}  // namespace
}  // namespace mxcall::core

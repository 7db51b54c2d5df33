// The room's call among several call events (core::choose_call) and the hangups that end a
// crashed session's peer calls (core::stale_call_hangups).
#include <gtest/gtest.h>

#include "core/group_choice.hpp"
#include "core/group_restore.hpp"

namespace mxcall::testing {
namespace {

using core::CallCandidate;
using core::choose_call;

TEST(GroupChoice, TheNewestLiveCallWinsAndEqualTimestampsGoToTheSmallerConfId) {
  EXPECT_FALSE(choose_call({}).winner);
  EXPECT_FALSE(choose_call({{"a", 5, true}}).winner);
  EXPECT_EQ(choose_call({{"a", 5, false}, {"b", 7, false}, {"c", 9, true}}).winner, "b");
  EXPECT_EQ(choose_call({{"b", 7, false}, {"a", 5, false}}).winner, "b");  // order of the input is irrelevant
  EXPECT_EQ(choose_call({{"zz", 7, false}, {"yy", 7, false}}).winner, "yy");
  EXPECT_EQ(choose_call({{"yy", 7, false}, {"zz", 7, false}}).winner, "yy");
  EXPECT_TRUE(choose_call({{"a", 5, false}, {"b", 0, true}}).settled);  // a terminated one needs no timestamp
}

TEST(GroupChoice, AnUnknownTimestampMakesTheChoiceAGuess) {
  // Restored from the store's state cache (no origin_server_ts): joining may use the guess,
  // nobody moves on it.
  const auto c = choose_call({{"a", 0, false}, {"b", 7, false}});
  EXPECT_EQ(c.winner, "b");
  EXPECT_FALSE(c.settled);
}

TEST(GroupRestore, StaleCallsGetAHangupFromTheOldSessionWithTheSeqTheirReceiverExpects) {
  core::StaleSession s{"conf1", "DEV", "OLDSESSION", {}};
  s.calls.push_back({"call1", "@b:x", "B1", "SB", 7});
  s.calls.push_back({"call2", "@c:x", "C1", "SC", 0});
  s.calls.push_back({"", "@d:x", "D1", "SD", 3});  // unusable: skipped
  const auto out = core::stale_call_hangups(s, true);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].user_id, "@b:x");
  EXPECT_EQ(out[0].device_id, "B1");
  const auto& env = out[0].envelope;
  EXPECT_EQ(env.conf_id, "conf1");
  EXPECT_EQ(env.device_id, "DEV");
  EXPECT_EQ(env.sender_session_id, "OLDSESSION");
  EXPECT_EQ(env.dest_session_id, "SB");
  EXPECT_EQ(env.seq, 7);
  const auto* h = std::get_if<events::CallHangup>(&env.event);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->common.call_id, "call1");
  EXPECT_EQ(h->common.party_id, "DEV");
  EXPECT_EQ(h->reason, "new_session");
  EXPECT_EQ(out[1].envelope.seq, 0);

  const auto leaving = core::stale_call_hangups(s, false);
  ASSERT_EQ(leaving.size(), 2u);
  EXPECT_EQ(std::get<events::CallHangup>(leaving[0].envelope.event).reason, "user_hangup");
}

}  // namespace
}  // namespace mxcall::testing

// 1:1 calls end to end: real Synapse, real webrtcbin, inside a loopback-only network namespace.
#include <gtest/gtest.h>

#include "calls/call_fixture.hpp"

namespace mxcall::testing {
namespace {

using Kind = CallUpdate::Kind;

TEST(OneToOne, AudioFlowsBothWaysAndHangupReachesThePeer) {
  Party alice("alice", false);
  Party bob("bob", true);
  auto call_id = alice.client().place_call(bob.user_id(), false);
  ASSERT_TRUE(call_id.ok()) << call_id.error();

  auto incoming = bob.wait_kind(Kind::Incoming);
  ASSERT_TRUE(incoming) << "bob never rang";
  EXPECT_EQ(incoming->call_id, *call_id);
  EXPECT_EQ(incoming->peer, alice.user_id());
  ASSERT_TRUE(bob.client().answer(*call_id).ok());

  ASSERT_TRUE(alice.wait_kind(Kind::Connected)) << "alice never connected";
  ASSERT_TRUE(bob.wait_kind(Kind::Connected)) << "bob never connected";
  EXPECT_TRUE(alice.wait_kind(Kind::FirstMedia));
  EXPECT_TRUE(bob.wait_kind(Kind::FirstMedia));
  EXPECT_TRUE(alice.wait_audio(*call_id, 50));
  EXPECT_TRUE(bob.wait_audio(*call_id, 50));

  ASSERT_TRUE(alice.client().hangup(*call_id).ok());
  auto ended = bob.wait_kind(Kind::Ended);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->reason, "user_hangup");
  EXPECT_TRUE(ended->by_remote);
  auto s = alice.client().summary(*call_id);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->connected);
  ASSERT_TRUE(s->invite_to_ice_connected.has_value());
  ASSERT_TRUE(s->invite_to_first_audio.has_value());
  std::printf("setup: invite->answer %lld ms, ->ICE connected %lld ms, ->first audio %lld ms; audio sent %llu received %llu\n",
              static_cast<long long>(s->invite_to_answer->count()),
              static_cast<long long>(s->invite_to_ice_connected->count()),
              static_cast<long long>(s->invite_to_first_audio->count()),
              static_cast<unsigned long long>(s->stats.audio.packets_sent),
              static_cast<unsigned long long>(s->stats.audio.packets_received));
  EXPECT_EQ(alice.client().live_calls(), 0u);
}

TEST(OneToOne, RejectEndsTheCallerSide) {
  Party alice("alice", false);
  Party bob("bob", true);
  auto call_id = alice.client().place_call(bob.user_id(), false);
  ASSERT_TRUE(call_id.ok()) << call_id.error();
  ASSERT_TRUE(bob.wait_kind(Kind::Incoming));
  ASSERT_TRUE(bob.client().reject(*call_id).ok());
  auto ended = alice.wait_kind(Kind::Ended);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->reason, "rejected");
  EXPECT_TRUE(ended->by_remote);
}

}  // namespace
}  // namespace mxcall::testing

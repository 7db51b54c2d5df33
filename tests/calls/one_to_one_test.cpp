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

// A client restarted from its store continues /sync from its saved token, which brings only
// what happened since: the room's members must come from the store, or the next invite from
// the other member of the DM would be dropped as coming from a non-member.
TEST(OneToOne, ClientRestartedFromItsStoreStillRingsForRoomMembers) {
  Party alice("alice", false);
  Party bob("bob", true);
  auto first = alice.client().place_call(bob.user_id(), false);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(bob.wait_call(*first, Kind::Incoming));
  ASSERT_TRUE(bob.client().reject(*first).ok());
  ASSERT_TRUE(alice.wait_call(*first, Kind::Ended));

  bob.restart();
  const auto since = bob.mark();
  auto second = alice.client().place_call(bob.user_id(), false);
  ASSERT_TRUE(second.ok()) << second.error();
  ASSERT_TRUE(bob.wait_for([&](const CallUpdate& u) { return u.kind == Kind::Incoming && u.call_id == *second; },
                           std::chrono::seconds(30), since))
      << "the restarted client did not ring for a member of the room";
  ASSERT_TRUE(bob.client().answer(*second).ok());
  ASSERT_TRUE(alice.wait_call(*second, Kind::Connected));
  EXPECT_TRUE(bob.wait_audio(*second, 20));
  ASSERT_TRUE(alice.client().hangup(*second).ok());
}

// A call placed while the callee's client was stopped rings from the restarted client's first
// sync, reported through ClientOptions::on_update (in place before start() returns).
TEST(OneToOne, ACallPlacedWhileTheCalleeWasStoppedRingsWhenItStarts) {
  Party alice("alice", false);
  Party bob("bob", true);
  auto first = alice.client().place_call(bob.user_id(), false);  // the DM exists from here on
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(bob.wait_call(*first, Kind::Incoming));
  ASSERT_TRUE(bob.client().reject(*first).ok());
  ASSERT_TRUE(alice.wait_call(*first, Kind::Ended));

  std::string second;
  const auto since = bob.mark();
  bob.restart([&] {
    auto id = alice.client().place_call(bob.user_id(), false);
    ASSERT_TRUE(id.ok()) << id.error();
    second = *id;
  });
  ASSERT_FALSE(second.empty());
  ASSERT_TRUE(bob.wait_for([&](const CallUpdate& u) { return u.kind == Kind::Incoming && u.call_id == second; },
                           std::chrono::seconds(30), since))
      << "the invite sent while bob was stopped did not ring when bob started";
  ASSERT_TRUE(bob.client().answer(second).ok());
  ASSERT_TRUE(alice.wait_call(second, Kind::Connected));
  EXPECT_TRUE(bob.wait_audio(second, 20));
  ASSERT_TRUE(alice.client().hangup(second).ok());
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

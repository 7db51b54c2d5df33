// Recovery of a dead media path in the call core: who restarts ICE, and the bound on recovery.
#include <gtest/gtest.h>

#include <algorithm>

#include "unit/call_harness.hpp"

namespace mxcall::testing {
namespace {

using core::CallState;
using core::LinkState;
using namespace std::chrono_literals;

struct CallRecoveryTest : ::testing::Test {
  Room room;
  Device& alice = room.add("@alice:x", "ALICEDEV");  // the caller: impolite
  Device& bob = room.add("@bob:x", "BOBDEV");        // the callee: polite

  void connect() {
    room.place(alice);
    room.pump();
    ASSERT_TRUE(bob.call) << bob.invite_error.value_or("no invite");
    room.input(bob, core::cmd::Answer{false});
    ASSERT_EQ(alice.state(), CallState::Connected);
    ASSERT_EQ(bob.state(), CallState::Connected);
  }
  static long restarts(const Device& d) {
    return std::count(d.peer.ops.begin(), d.peer.ops.end(), "create_offer_restart");
  }
  static std::vector<LinkState> links(const Device& d) {
    std::vector<LinkState> out;
    for (const auto& l : d.all<core::note::LinkChanged>()) out.push_back(l.link);
    return out;
  }
  void disconnect(Device& d) { room.input(d, media::IceStateChanged{1, media::IceState::Disconnected}); }
};

TEST_F(CallRecoveryTest, WhenBothSidesLoseThePathOnlyTheCallerRestarts) {
  connect();
  disconnect(alice);
  disconnect(bob);
  room.advance(2'100ms);  // alice's grace is over, bob's (twice as long) is not
  EXPECT_EQ(restarts(alice), 1);
  // bob answered alice's restart offer instead of restarting himself, and stopped his grace.
  room.advance(10s);
  EXPECT_EQ(restarts(bob), 0);
  EXPECT_EQ(links(bob), (std::vector<LinkState>{LinkState::Disconnected, LinkState::Restarting, LinkState::Up}));
  EXPECT_EQ(bob.call->link(), LinkState::Up);
  EXPECT_EQ(alice.call->link(), LinkState::Up);
  EXPECT_FALSE(bob.call->next_deadline().has_value());
}

TEST_F(CallRecoveryTest, TheCalleeRestartsItselfWhenTheCallerDoesNot) {
  connect();
  disconnect(bob);
  room.advance(2'100ms);
  EXPECT_EQ(restarts(bob), 0);
  room.advance(2'000ms);  // 2 x ice_grace
  EXPECT_EQ(restarts(bob), 1);
  EXPECT_EQ(bob.call->link(), LinkState::Up);
}

TEST_F(CallRecoveryTest, IceFailedOnTheCalleeWaitsForTheCallersRestart) {
  connect();
  room.input(bob, media::IceStateChanged{1, media::IceState::Failed});
  EXPECT_EQ(bob.call->link(), LinkState::Disconnected);
  EXPECT_EQ(restarts(bob), 0);
  room.input(alice, media::IceStateChanged{1, media::IceState::Failed});
  EXPECT_EQ(restarts(alice), 1);  // the caller at once
  room.advance(10s);
  EXPECT_EQ(restarts(bob), 0);
  EXPECT_EQ(bob.call->link(), LinkState::Up);
}

TEST_F(CallRecoveryTest, APeerRestartThatNeverConnectsEndsWithIceFailedOnOurSideToo) {
  connect();
  bob.peer.ice_works = false;  // bob's fresh agent will never connect
  room.input(alice, core::cmd::RestartIce{});
  ASSERT_EQ(restarts(alice), 1);
  EXPECT_EQ(bob.call->link(), LinkState::Restarting);  // the peer's restart offer counts as ours
  room.advance(14'900ms);
  EXPECT_EQ(bob.state(), CallState::Connected);
  room.advance(200ms);  // ice_recovery (15 s) after the restart offer arrived
  EXPECT_EQ(bob.state(), CallState::Ended);
  EXPECT_EQ(bob.call->end_reason(), "ice_failed");
  EXPECT_EQ(restarts(bob), 0);
}

TEST_F(CallRecoveryTest, ARenegotiationWithTheSameUfragIsNoRestart) {
  connect();
  room.input(alice, core::cmd::SetHold{true});
  EXPECT_TRUE(links(bob).empty());
  EXPECT_FALSE(bob.call->next_deadline().has_value());
}

TEST(SdpIceUfrag, FirstUfragLineOfAnySection) {
  EXPECT_EQ(core::sdp_ice_ufrag("v=0\r\nm=audio 9 UDP 111\r\na=ice-ufrag:AbC+\r\na=ice-ufrag:x\r\n"), "AbC+");
  EXPECT_EQ(core::sdp_ice_ufrag("v=0\na=ice-ufrag:sess\nm=audio 9 UDP 111\n"), "sess");
  EXPECT_FALSE(core::sdp_ice_ufrag("v=0\r\nm=audio 9 UDP 111\r\n").has_value());
}

}  // namespace
}  // namespace mxcall::testing

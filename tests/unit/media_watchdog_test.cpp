// The media-inactivity watchdog as a pure function of time, packet count, ICE state and hold.
#include <gtest/gtest.h>

#include "media/media_watchdog.hpp"

namespace mxcall::media {
namespace {

using namespace std::chrono_literals;
using Change = MediaWatchdog::Change;

struct WatchdogTest : ::testing::Test {
  MediaWatchdog dog{3000ms};
  MediaWatchdog::Clock::time_point t{};
  MediaWatchdog::Inputs in{0, true, false, 1};

  // Advances the clock by `d` in 250 ms ticks; returns the first change seen (or None).
  Change run(std::chrono::milliseconds d, std::uint64_t packets_per_tick = 0) {
    Change first = Change::None;
    for (auto left = d; left > 0ms; left -= 250ms) {
      t += 250ms;
      in.packets += packets_per_tick;
      const Change c = dog.update(t, in);
      if (first == Change::None) first = c;
    }
    return first;
  }
};

TEST_F(WatchdogTest, FlowingMediaIsNeverDead) {
  EXPECT_EQ(dog.update(t, in), Change::None);
  EXPECT_EQ(run(60s, 12), Change::None);
  EXPECT_FALSE(dog.dead());
}

TEST_F(WatchdogTest, SilenceWhileIceIsUpIsDeadAfterTheTimeoutAndPacketsRevive) {
  dog.update(t, in);
  EXPECT_EQ(run(2750ms), Change::None);
  EXPECT_EQ(run(250ms), Change::Dead);
  EXPECT_TRUE(dog.dead());
  EXPECT_EQ(run(10s), Change::None);  // reported once
  EXPECT_EQ(run(250ms, 1), Change::Alive);
  EXPECT_FALSE(dog.dead());
  EXPECT_EQ(run(2750ms), Change::None);  // a full timeout again before the next verdict
  EXPECT_EQ(run(250ms), Change::Dead);
}

TEST_F(WatchdogTest, NothingIsJudgedWhileIceIsNotUp) {
  in.ice_up = false;
  dog.update(t, in);
  EXPECT_EQ(run(30s), Change::None);
  in.ice_up = true;  // the clock starts when ICE is up
  EXPECT_EQ(run(2750ms), Change::None);
  EXPECT_EQ(run(250ms), Change::Dead);
}

TEST_F(WatchdogTest, TheAgentsOwnStateClearsTheVerdictSilently) {
  dog.update(t, in);
  ASSERT_EQ(run(3s), Change::Dead);
  in.ice_up = false;  // the agent reported failed/disconnected itself: no Alive
  EXPECT_EQ(run(250ms), Change::None);
  EXPECT_FALSE(dog.dead());
}

TEST_F(WatchdogTest, ExpectedSilenceIsNoEvidenceAndWithdrawsAVerdict) {
  dog.update(t, in);
  in.quiet_expected = true;  // hold, or a peer that sends nothing
  EXPECT_EQ(run(30s), Change::None);
  in.quiet_expected = false;
  EXPECT_EQ(run(2750ms), Change::None);  // the clock starts when silence stops being expected
  ASSERT_EQ(run(250ms), Change::Dead);
  in.quiet_expected = true;  // the peer holds us while we thought the path dead
  EXPECT_EQ(run(250ms), Change::Alive);
}

TEST_F(WatchdogTest, AFreshIceAgentStartsWithACleanSlate) {
  dog.update(t, in);
  ASSERT_EQ(run(3s), Change::Dead);
  in.generation = 2;  // ICE restart: the new agent reports its own states
  EXPECT_EQ(run(250ms), Change::None);
  EXPECT_FALSE(dog.dead());
  EXPECT_EQ(run(250ms, 1), Change::None);  // it carries media...
  EXPECT_EQ(run(2750ms), Change::None);    // ...and is judged by the normal timeout after that
  EXPECT_EQ(run(250ms), Change::Dead);
}

TEST_F(WatchdogTest, AFreshAgentWithoutItsFirstPacketYetSettlesForThreeTimeouts) {
  // libwebrtc moved its media to our fresh agent 6.3 s after that agent was connected.
  dog.update(t, in);
  run(1s, 10);
  in.generation = 2;
  EXPECT_EQ(dog.update(t, in), Change::None);
  EXPECT_EQ(run(6500ms), Change::None);  // a 3 s verdict here restarted ICE mid-handover
  EXPECT_EQ(run(250ms, 1), Change::None);
  EXPECT_EQ(run(2750ms), Change::None);  // once it carried media, the normal timeout applies
  EXPECT_EQ(run(250ms), Change::Dead);
}

TEST_F(WatchdogTest, AFreshAgentThatNeverCarriesMediaIsStillJudgedDead) {
  dog.update(t, in);
  in.generation = 2;
  dog.update(t, in);
  EXPECT_EQ(run(8750ms), Change::None);
  EXPECT_EQ(run(250ms), Change::Dead);  // settle(): 3 x 3 s
  EXPECT_EQ(dog.settle(), 9000ms);
}

TEST_F(WatchdogTest, TheFirstAgentDoesNotSettle) {
  dog.update(t, in);  // the call's first agent: DTLS follows ICE within milliseconds
  EXPECT_EQ(run(2750ms), Change::None);
  EXPECT_EQ(run(250ms), Change::Dead);
}

TEST_F(WatchdogTest, ZeroTimeoutIsOff) {
  MediaWatchdog off{0ms};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(off.update(t + i * 1s, in), Change::None);
}

TEST_F(WatchdogTest, PeriodIsAQuarterOfTheTimeoutWithinBounds) {
  EXPECT_EQ(MediaWatchdog{3000ms}.period(), 250ms);
  EXPECT_EQ(MediaWatchdog{800ms}.period(), 200ms);
  EXPECT_EQ(MediaWatchdog{100ms}.period(), 50ms);
}

}  // namespace
}  // namespace mxcall::media

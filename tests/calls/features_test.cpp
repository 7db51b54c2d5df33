// 1:1 call features end to end (real Synapse, real webrtcbin, loopback-only namespace):
// video added mid-call, turned off and on again, screen share stopped, colliding
// renegotiations, hold and resume, mute metadata, DTMF, two callee devices, glare and the
// invite lifetime.
#include <gtest/gtest.h>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "calls/call_fixture.hpp"
#include "mxcall/log.hpp"

namespace mxcall::testing {
namespace {

using Kind = CallUpdate::Kind;

// alice calls bob, bob answers from his update callback; returns the connected call id.
std::string connect(Party& alice, Party& bob, bool video = false) {
  auto call_id = alice.client().place_call(bob.user_id(), video);
  EXPECT_TRUE(call_id.ok()) << call_id.error();
  if (!call_id.ok()) return {};
  EXPECT_TRUE(bob.wait_call(*call_id, Kind::Incoming));
  EXPECT_TRUE(bob.client().answer(*call_id, video).ok());
  EXPECT_TRUE(alice.wait_call(*call_id, Kind::Connected));
  EXPECT_TRUE(bob.wait_call(*call_id, Kind::Connected));
  return *call_id;
}

std::uint64_t video_received(Party& p, const std::string& call_id) {
  auto s = p.client().summary(call_id);
  return s ? s->stats.video.packets_received : 0;
}

TEST(CallFeatures, VideoAddedMidCallArrivesAndAudioKeepsFlowing) {
  Party alice("alice", false);
  Party bob("bob", true);
  const auto id = connect(alice, bob);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(alice.client().set_video(id, true).ok());
  auto track = bob.wait_for([&](const CallUpdate& u) {
    return u.call_id == id && u.kind == Kind::RemoteTrack && u.media_kind == media::MediaKind::Video;
  });
  ASSERT_TRUE(track) << "bob never received alice's video";
  EXPECT_FALSE(track->screenshare);
  EXPECT_TRUE(bob.wait_for([&](const CallUpdate& u) {
    return u.call_id == id && u.kind == Kind::FirstMedia && u.media_kind == media::MediaKind::Video;
  }));
  const auto before = bob.client().summary(id)->stats.audio.packets_received;
  EXPECT_TRUE(bob.wait_audio(id, before + 50));
  EXPECT_GT(video_received(bob, id), 0u);
}

// Waits until `p`'s video counter of the call passes `packets`.
bool wait_video(Party& p, const std::string& id, std::uint64_t packets, std::chrono::seconds timeout = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (video_received(p, id) >= packets) return true;
    p.wait_for([](const CallUpdate&) { return false; }, std::chrono::milliseconds(100));
  }
  return false;
}

bool remote_video(const CallUpdate& u, const std::string& id, CallUpdate::Kind kind) {
  return u.call_id == id && u.kind == kind && u.media_kind == media::MediaKind::Video;
}

TEST(CallFeatures, VideoTurnedOffIsSeenAsRemovedAndComesBackWhenTurnedOn) {
  Party alice("alice", false);
  Party bob("bob", true);
  const auto id = connect(alice, bob);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(alice.client().set_video(id, true).ok());
  ASSERT_TRUE(bob.wait_for([&](const CallUpdate& u) { return remote_video(u, id, Kind::RemoteTrack); }));
  ASSERT_TRUE(wait_video(bob, id, 20)) << "alice's video never flowed";

  auto since = bob.mark();
  ASSERT_TRUE(alice.client().set_video(id, false).ok());
  auto removed = bob.wait_for([&](const CallUpdate& u) { return remote_video(u, id, Kind::RemoteTrackRemoved); },
                              std::chrono::seconds(20), since);
  ASSERT_TRUE(removed) << "bob was never told alice's video is gone";
  EXPECT_FALSE(removed->screenshare);
  EXPECT_TRUE(bob.wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::RemoteMetadata && u.video_muted; },
                           std::chrono::seconds(5), since));
  // Video stops while audio goes on: 50 audio packets (~1 s) bring no video packet.
  ASSERT_TRUE(bob.wait_audio(id, bob.client().summary(id)->stats.audio.packets_received + 10));  // in flight drains
  const auto video_off = video_received(bob, id);
  EXPECT_TRUE(bob.wait_audio(id, bob.client().summary(id)->stats.audio.packets_received + 50));
  EXPECT_LE(video_received(bob, id), video_off + 1) << "video kept flowing after it was turned off";

  since = bob.mark();
  ASSERT_TRUE(alice.client().set_video(id, true).ok());
  EXPECT_TRUE(bob.wait_for([&](const CallUpdate& u) { return remote_video(u, id, Kind::RemoteTrack); },
                           std::chrono::seconds(20), since))
      << "bob was never told alice's video is back";
  EXPECT_TRUE(wait_video(bob, id, video_off + 20)) << "video did not come back";
  EXPECT_TRUE(bob.wait_audio(id, bob.client().summary(id)->stats.audio.packets_received + 20));
  EXPECT_EQ(alice.client().summary(id)->state, "connected");
}

TEST(CallFeatures, StoppedScreenShareIsSeenAsRemoved) {
  Party alice("alice", false);
  Party bob("bob", true);
  const auto id = connect(alice, bob);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(bob.client().set_screenshare(id, true).ok());  // from the answering side this time
  auto track = alice.wait_for([&](const CallUpdate& u) { return remote_video(u, id, Kind::RemoteTrack); });
  ASSERT_TRUE(track);
  EXPECT_TRUE(track->screenshare);
  ASSERT_TRUE(bob.client().set_screenshare(id, false).ok());
  auto removed = alice.wait_for([&](const CallUpdate& u) { return remote_video(u, id, Kind::RemoteTrackRemoved); });
  ASSERT_TRUE(removed) << "alice was never told the screen share stopped";
  EXPECT_TRUE(removed->screenshare);
  EXPECT_TRUE(alice.wait_audio(id, alice.client().summary(id)->stats.audio.packets_received + 20));
}

// Counts log lines that contain a text (the core logs each colliding renegotiation offer).
class LineCounter : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LineCounter(std::string text) : text_(std::move(text)) {}
  int count() const { return count_.load(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (std::string_view(msg.payload.data(), msg.payload.size()).find(text_) != std::string_view::npos) ++count_;
  }
  void flush_() override {}

 private:
  std::string text_;
  std::atomic<int> count_{0};
};

// Both turn their camera on at the same instant: both offer, the offers cross, the impolite
// caller ignores the callee's, the polite callee answers the caller's and offers again. Tried
// until the offers really collided (they do nearly always: each needs a few ms, a hop ~20).
TEST(CallFeatures, CollidingRenegotiationsSettleWithVideoBothWays) {
  auto collisions = std::make_shared<LineCounter>("colliding renegotiation offer");
  mxcall::log::get()->sinks().push_back(collisions);  // before any client logs
  {
    Party alice("alice", false);
    Party bob("bob", true);
    const auto id = connect(alice, bob);
    ASSERT_FALSE(id.empty());
    for (int attempt = 0; attempt < 5 && collisions->count() == 0; ++attempt) {
      if (attempt > 0) {  // they did not collide: off again, and retry
        ASSERT_TRUE(alice.client().set_video(id, false).ok());
        ASSERT_TRUE(bob.client().set_video(id, false).ok());
        ASSERT_TRUE(alice.wait_for([&](const CallUpdate& u) { return remote_video(u, id, Kind::RemoteTrackRemoved); }));
        ASSERT_TRUE(bob.wait_for([&](const CallUpdate& u) { return remote_video(u, id, Kind::RemoteTrackRemoved); }));
      }
      const auto a0 = alice.mark(), b0 = bob.mark();
      std::thread ta([&] { EXPECT_TRUE(alice.client().set_video(id, true).ok()); });
      std::thread tb([&] { EXPECT_TRUE(bob.client().set_video(id, true).ok()); });
      ta.join();
      tb.join();
      ASSERT_TRUE(alice.wait_for([&](const CallUpdate& u) { return remote_video(u, id, Kind::RemoteTrack); },
                                 std::chrono::seconds(30), a0))
          << "alice never got bob's video";
      ASSERT_TRUE(bob.wait_for([&](const CallUpdate& u) { return remote_video(u, id, Kind::RemoteTrack); },
                               std::chrono::seconds(30), b0))
          << "bob never got alice's video";
    }
    EXPECT_GT(collisions->count(), 0) << "the offers never collided in 5 attempts";
    EXPECT_TRUE(wait_video(alice, id, video_received(alice, id) + 20));
    EXPECT_TRUE(wait_video(bob, id, video_received(bob, id) + 20));
    EXPECT_TRUE(alice.wait_audio(id, alice.client().summary(id)->stats.audio.packets_received + 20));
    EXPECT_TRUE(bob.wait_audio(id, bob.client().summary(id)->stats.audio.packets_received + 20));
    EXPECT_EQ(alice.client().summary(id)->state, "connected");
    EXPECT_EQ(bob.client().summary(id)->state, "connected");
    std::printf("[collision] colliding offers logged %d time(s)\n", collisions->count());
  }
  auto& sinks = mxcall::log::get()->sinks();  // the clients are gone: nothing logs now
  sinks.erase(std::remove(sinks.begin(), sinks.end(), collisions), sinks.end());
}

TEST(CallFeatures, ScreenShareArrivesWithItsPurpose) {
  Party alice("alice", false);
  Party bob("bob", true);
  const auto id = connect(alice, bob);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(alice.client().set_screenshare(id, true).ok());
  auto track = bob.wait_for([&](const CallUpdate& u) {
    return u.call_id == id && u.kind == Kind::RemoteTrack && u.media_kind == media::MediaKind::Video;
  });
  ASSERT_TRUE(track) << "bob never received the screen share";
  EXPECT_TRUE(track->screenshare) << "the stream's purpose (sdp_stream_metadata) was lost";
  EXPECT_TRUE(bob.wait_audio(id, 50));
}

TEST(CallFeatures, HoldStopsMediaToThePeerAndResumeBringsItBack) {
  Party alice("alice", false);
  Party bob("bob", true);
  const auto id = connect(alice, bob);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(bob.wait_audio(id, 20));
  ASSERT_TRUE(alice.client().set_hold(id, true).ok());
  auto held = bob.wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::RemoteHold && u.on_hold; });
  ASSERT_TRUE(held) << "bob never learned he is on hold";
  // While held, bob receives nothing from alice.
  const auto h1 = bob.client().summary(id)->stats.audio.packets_received;
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // a window to observe silence, not a wait for an event
  const auto h2 = bob.client().summary(id)->stats.audio.packets_received;
  EXPECT_LE(h2 - h1, 3u);
  ASSERT_TRUE(alice.client().set_hold(id, false).ok());
  ASSERT_TRUE(bob.wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::RemoteHold && !u.on_hold; }));
  EXPECT_TRUE(bob.wait_audio(id, h2 + 30));
}

TEST(CallFeatures, MuteIsAnnouncedToThePeer) {
  Party alice("alice", false);
  Party bob("bob", true);
  const auto id = connect(alice, bob);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(bob.client().set_muted(id, media::MediaKind::Audio, true).ok());
  EXPECT_TRUE(alice.wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::RemoteMetadata && u.audio_muted; }));
  ASSERT_TRUE(bob.client().set_muted(id, media::MediaKind::Audio, false).ok());
  EXPECT_TRUE(alice.wait_for([&](const CallUpdate& u) {
    return u.call_id == id && u.kind == Kind::RemoteMetadata && !u.audio_muted;
  }));
}

TEST(CallFeatures, DtmfDigitsArrive) {
  Party alice("alice", false);
  Party bob("bob", true);
  const auto id = connect(alice, bob);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(alice.client().send_dtmf(id, "19#").ok());
  std::string digits;
  for (char want : std::string("19#")) {
    auto d = bob.wait_for([&](const CallUpdate& u) { return u.kind == Kind::Dtmf && u.digit == want; });
    if (d) digits.push_back(d->digit);
  }
  EXPECT_EQ(digits, "19#");
}

TEST(CallFeatures, SecondCalleeDeviceStopsRingingWhenTheFirstAnswers) {
  Party alice("alice", false);
  Party bob("bob", true);
  auto bob_phone = Party::second_device(bob, true);
  auto id = alice.client().place_call(bob.user_id(), false);
  ASSERT_TRUE(id.ok()) << id.error();
  ASSERT_TRUE(bob.wait_call(*id, Kind::Incoming));
  ASSERT_TRUE(bob_phone->wait_call(*id, Kind::Incoming)) << "the second device never rang";
  ASSERT_TRUE(bob.client().answer(*id).ok());
  ASSERT_TRUE(alice.wait_call(*id, Kind::Connected));
  auto ended = bob_phone->wait_call(*id, Kind::Ended);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->reason, "answered_elsewhere");
  EXPECT_TRUE(bob.wait_audio(*id, 20));
}

TEST(CallFeatures, UnansweredInviteTimesOut) {
  Party alice("alice", false, [](ClientOptions& o) { o.invite_lifetime = std::chrono::milliseconds(4000); });
  Party bob("bob", true);
  auto id = alice.client().place_call(bob.user_id(), false);
  ASSERT_TRUE(id.ok()) << id.error();
  ASSERT_TRUE(bob.wait_call(*id, Kind::Incoming));
  auto ended = alice.wait_call(*id, Kind::Ended, std::chrono::seconds(15));
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->reason, "invite_timeout");
  auto bob_end = bob.wait_call(*id, Kind::Ended, std::chrono::seconds(5));
  ASSERT_TRUE(bob_end) << "bob kept ringing";
  EXPECT_TRUE(bob_end->by_remote);
}

TEST(CallFeatures, GlareLeavesExactlyOneConnectedCall) {
  Party alice("alice", true);
  Party bob("bob", true);
  // Make the DM first (a rejected call), so both can call at the same instant.
  auto first = alice.client().place_call(bob.user_id(), false);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(bob.wait_call(*first, Kind::Incoming));
  ASSERT_TRUE(bob.client().reject(*first).ok());
  ASSERT_TRUE(alice.wait_call(*first, Kind::Ended));

  Result<std::string> a_call = Error::make(ErrorKind::InvalidArgument, "unset");
  Result<std::string> b_call = Error::make(ErrorKind::InvalidArgument, "unset");
  std::thread ta([&] { a_call = alice.client().place_call(bob.user_id(), false); });
  std::thread tb([&] { b_call = bob.client().place_call(alice.user_id(), false); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a_call.ok() && b_call.ok());
  const std::string winner = std::min(*a_call, *b_call);
  const std::string loser = std::max(*a_call, *b_call);
  ASSERT_TRUE(alice.wait_call(winner, Kind::Connected)) << "alice never connected the winning call";
  ASSERT_TRUE(bob.wait_call(winner, Kind::Connected)) << "bob never connected the winning call";
  // The loser's owner replaced it; the winner's owner never let it ring.
  Party& loser_owner = loser == *a_call ? alice : bob;
  Party& winner_owner = loser == *a_call ? bob : alice;
  auto replaced = loser_owner.wait_call(loser, Kind::Ended);
  ASSERT_TRUE(replaced);
  EXPECT_EQ(replaced->reason, "replaced");
  EXPECT_FALSE(winner_owner.wait_call(loser, Kind::Incoming, std::chrono::milliseconds(200)));
  EXPECT_EQ(alice.client().live_calls(), 1u);
  EXPECT_EQ(bob.client().live_calls(), 1u);
}

}  // namespace
}  // namespace mxcall::testing

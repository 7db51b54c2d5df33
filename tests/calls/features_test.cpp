// 1:1 call features end to end (real Synapse, real webrtcbin, loopback-only namespace):
// video added mid-call, hold and resume, mute metadata, DTMF, two callee devices, glare and
// the invite lifetime.
#include <gtest/gtest.h>

#include <thread>

#include "calls/call_fixture.hpp"

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

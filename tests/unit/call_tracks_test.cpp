// Mid-call track changes in the 1:1 call machine (over the fake media of call_harness.hpp):
// camera and screen share off and on again, the far side told of removed tracks, and
// colliding renegotiation offers (perfect negotiation) seen from each role.
#include <gtest/gtest.h>

#include "unit/call_harness.hpp"

namespace mxcall::testing {
namespace {

using core::CallState;
using core::Signaling;

struct CallTracksTest : ::testing::Test {
  Room room;
  Device& alice = room.add("@alice:x", "ALICEDEV");  // the caller: impolite
  Device& bob = room.add("@bob:x", "BOBDEV");        // the callee: polite

  void SetUp() override {
    room.place(alice);
    room.pump();
    ASSERT_TRUE(bob.call);
    room.input(bob, core::cmd::Answer{false});
    ASSERT_EQ(alice.state(), CallState::Connected);
    ASSERT_EQ(bob.state(), CallState::Connected);
  }

  static std::string stream_of(const Device& d, media::StreamPurpose purpose) {
    for (const auto& [id, meta] : d.call->local_metadata())
      if (meta.purpose == purpose) return id;
    return {};
  }
  // The engine at `d` reports a remote track (media arrived) or its removal.
  void remote_track(Device& d, media::MediaKind kind, const std::string& stream) {
    room.input(d, media::MediaEvent{media::RemoteTrackAdded{1, kind, stream, "1"}});
  }
  void remote_track_gone(Device& d, media::MediaKind kind, const std::string& stream) {
    room.input(d, media::MediaEvent{media::RemoteTrackRemoved{1, kind, stream}});
  }
  static std::vector<events::CallNegotiate> negotiations(const Device& d, media::SdpType type) {
    std::vector<events::CallNegotiate> out;
    for (const auto& n : d.sent_of<events::CallNegotiate>())
      if (n.description.type == type) out.push_back(n);
    return out;
  }
  // The media operations since index `from`, candidates left out.
  static std::vector<std::string> ops_since(const Device& d, std::size_t from) {
    std::vector<std::string> out;
    for (std::size_t i = from; i < d.peer.ops.size(); ++i)
      if (d.peer.ops[i] != "add_candidates") out.push_back(d.peer.ops[i]);
    return out;
  }
};

TEST_F(CallTracksTest, CameraOffAndOnAgainRenegotiatesAndTheFarSideSeesBoth) {
  const std::string stream = stream_of(alice, media::StreamPurpose::UserMedia);
  room.input(alice, core::cmd::SetVideo{true});
  remote_track(bob, media::MediaKind::Video, stream);
  ASSERT_EQ(bob.all<core::note::RemoteTrack>().size(), 2u);  // audio at connect, then video

  const auto offers = negotiations(alice, media::SdpType::Offer).size();
  auto ops = alice.peer.ops.size();
  room.input(alice, core::cmd::SetVideo{false});
  EXPECT_EQ(ops_since(alice, ops), (std::vector<std::string>{"remove_track", "create_offer", "set_remote"}));
  const auto off = negotiations(alice, media::SdpType::Offer);
  ASSERT_EQ(off.size(), offers + 1);
  ASSERT_TRUE(off.back().metadata);
  EXPECT_TRUE(off.back().metadata->at(stream).video_muted) << "the metadata must not claim a camera";
  EXPECT_EQ(alice.call->signaling(), Signaling::Stable);
  EXPECT_EQ(bob.call->signaling(), Signaling::Stable);

  remote_track_gone(bob, media::MediaKind::Video, stream);
  auto gone = bob.all<core::note::RemoteTrackRemoved>();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].kind, media::MediaKind::Video);
  EXPECT_EQ(gone[0].stream_id, stream);
  EXPECT_EQ(gone[0].purpose, media::StreamPurpose::UserMedia);
  remote_track_gone(bob, media::MediaKind::Video, stream);  // reported twice: told once
  EXPECT_EQ(bob.all<core::note::RemoteTrackRemoved>().size(), 1u);

  ops = alice.peer.ops.size();
  room.input(alice, core::cmd::SetVideo{true});
  EXPECT_EQ(ops_since(alice, ops), (std::vector<std::string>{"add_track", "create_offer", "set_remote"}));
  EXPECT_FALSE(negotiations(alice, media::SdpType::Offer).back().metadata->at(stream).video_muted);
  remote_track(bob, media::MediaKind::Video, stream);
  EXPECT_EQ(bob.all<core::note::RemoteTrack>().size(), 3u) << "the camera coming back is announced again";
}

TEST_F(CallTracksTest, ScreenShareDroppedFromTheMetadataIsRemovedAtTheFarSide) {
  room.input(alice, core::cmd::SetScreenShare{true});
  const std::string screen = stream_of(alice, media::StreamPurpose::ScreenShare);
  ASSERT_FALSE(screen.empty());
  remote_track(bob, media::MediaKind::Video, screen);
  auto tracks = bob.all<core::note::RemoteTrack>();
  ASSERT_EQ(tracks.back().purpose, media::StreamPurpose::ScreenShare);

  const auto ops = alice.peer.ops.size();
  room.input(alice, core::cmd::SetScreenShare{false});
  EXPECT_EQ(ops_since(alice, ops), (std::vector<std::string>{"remove_track", "create_offer", "set_remote"}));
  EXPECT_EQ(negotiations(alice, media::SdpType::Offer).back().metadata->count(screen), 0u);
  // The metadata alone tells bob, before (or without) any word from his engine.
  auto gone = bob.all<core::note::RemoteTrackRemoved>();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].stream_id, screen);
  EXPECT_EQ(gone[0].purpose, media::StreamPurpose::ScreenShare);
  remote_track_gone(bob, media::MediaKind::Video, screen);
  EXPECT_EQ(bob.all<core::note::RemoteTrackRemoved>().size(), 1u);
  // The camera stream (audio) is untouched.
  EXPECT_EQ(bob.call->remote_metadata()->size(), 1u);
}

TEST_F(CallTracksTest, RemovedTrackOfAStreamWeNeverAnnouncedIsNotReported) {
  remote_track_gone(bob, media::MediaKind::Video, "unknownstream");
  EXPECT_TRUE(bob.all<core::note::RemoteTrackRemoved>().empty());
}

// Both add their camera in the same turn: both offers cross in the room.
struct CallCollisionTest : CallTracksTest {
  std::size_t alice_ops = 0, bob_ops = 0, alice_sent = 0, bob_sent = 0;
  void collide() {
    alice_ops = alice.peer.ops.size();
    bob_ops = bob.peer.ops.size();
    alice_sent = alice.sent.size();
    bob_sent = bob.sent.size();
    alice.call->handle(core::cmd::SetVideo{true}, room.now);
    bob.call->handle(core::cmd::SetVideo{true}, room.now);
    room.pump();
  }
};

TEST_F(CallCollisionTest, TheImpoliteCallerIgnoresTheCollidingOfferAndAnswersTheReoffer) {
  collide();
  // alice offered once, never applied bob's colliding offer, then applied bob's answer and
  // bob's re-offer, and answered that.
  EXPECT_EQ(ops_since(alice, alice_ops), (std::vector<std::string>{"add_track", "create_offer", "set_remote", "set_remote", "create_answer"}));
  std::vector<media::SdpType> sent;
  for (std::size_t i = alice_sent; i < alice.sent.size(); ++i)
    if (auto* n = std::get_if<events::CallNegotiate>(&alice.sent[i])) sent.push_back(n->description.type);
  EXPECT_EQ(sent, (std::vector<media::SdpType>{media::SdpType::Offer, media::SdpType::Answer}));
  EXPECT_EQ(alice.call->signaling(), Signaling::Stable);
  EXPECT_FALSE(alice.call->next_deadline().has_value()) << "no negotiate timeout left armed";
}

TEST_F(CallCollisionTest, ThePoliteCalleeDropsItsOfferAnswersAndReoffers) {
  collide();
  EXPECT_EQ(ops_since(bob, bob_ops), (std::vector<std::string>{"add_track", "create_offer", "set_remote", "create_answer", "create_offer",
                                           "set_remote"}));
  std::vector<media::SdpType> sent;
  for (std::size_t i = bob_sent; i < bob.sent.size(); ++i)
    if (auto* n = std::get_if<events::CallNegotiate>(&bob.sent[i])) sent.push_back(n->description.type);
  // Its first offer went out before it saw alice's (alice ignores it), then the answer, then
  // the same change offered again.
  EXPECT_EQ(sent, (std::vector<media::SdpType>{media::SdpType::Offer, media::SdpType::Answer, media::SdpType::Offer}));
  EXPECT_EQ(bob.call->signaling(), Signaling::Stable);
  EXPECT_FALSE(bob.call->next_deadline().has_value());
  // The re-offer carries bob's camera.
  const auto reoffer = negotiations(bob, media::SdpType::Offer).back();
  EXPECT_NE(reoffer.description.sdp.find("m=video"), std::string::npos);
  EXPECT_FALSE(reoffer.metadata->begin()->second.video_muted);
}

TEST_F(CallCollisionTest, ThePoliteCalleeStillCreatingItsOfferDropsItWhenItArrives) {
  // bob starts an offer, but his engine has not produced it when alice's offer arrives.
  bob.call->handle(core::cmd::SetVideo{true}, room.now);
  std::vector<core::CallOutput> held;
  while (auto o = bob.call->poll()) held.push_back(*o);  // add_track, create_offer: not performed
  ASSERT_EQ(bob.call->signaling(), Signaling::CreatingOffer);
  const auto bob_sent_before = bob.sent.size();
  room.input(alice, core::cmd::SetHold{true});  // alice's offer reaches bob while he creates his
  EXPECT_TRUE(bob.call->remote_on_hold());
  // bob answered alice and re-offered (that exchange completed); only now does his engine
  // report the offer it was creating when alice's arrived.
  const auto sent_after_answer = bob.sent.size();
  room.input(bob, media::MediaEvent{media::LocalDescriptionReady{1, {media::SdpType::Offer, "v=0\r\nm=audio 9 X 111\r\n"}}});
  EXPECT_EQ(bob.sent.size(), sent_after_answer) << "the offer alice's replaced must not be sent";
  std::vector<media::SdpType> sent;
  for (std::size_t i = bob_sent_before; i < bob.sent.size(); ++i)
    if (auto* n = std::get_if<events::CallNegotiate>(&bob.sent[i])) sent.push_back(n->description.type);
  EXPECT_EQ(sent, (std::vector<media::SdpType>{media::SdpType::Answer, media::SdpType::Offer}));
  EXPECT_EQ(bob.call->signaling(), Signaling::Stable);
  EXPECT_EQ(alice.call->signaling(), Signaling::Stable);
}

TEST_F(CallCollisionTest, AStaleOfferNeverReplacesAnAnswerWaitingForItsCandidates) {
  // bob (polite) restarts ICE; his engine has not produced that offer when alice's own
  // restart offer arrives. bob answers it, and the answer waits for the fresh agent's
  // candidates; then the engine reports the offer it had been creating.
  bob.call->handle(core::cmd::RestartIce{}, room.now);
  while (bob.call->poll()) {}  // create_offer (restart): not performed
  const events::CallCommon from_alice{alice.call->call_id(), std::string("ALICEDEV"), events::CallVersion::V1};
  const std::string offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:alicerestart\r\na=sendrecv\r\n";
  bob.call->handle(core::RemoteSignal{"@alice:x", events::CallNegotiate{from_alice, {media::SdpType::Offer, offer}, 60'000, {}}, 0},
                   room.now);
  std::vector<std::string> ops;
  while (auto o = bob.call->poll()) {
    if (std::holds_alternative<core::op::SetRemoteDescription>(*o)) ops.push_back("set_remote");
    if (std::holds_alternative<core::op::CreateAnswer>(*o)) ops.push_back("create_answer");
  }
  ASSERT_EQ(ops, (std::vector<std::string>{"set_remote", "create_answer"}));
  const std::string answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:bobrestart\r\na=sendrecv\r\n";
  bob.call->handle(media::MediaEvent{media::LocalDescriptionReady{1, {media::SdpType::Answer, answer}}}, room.now);
  bob.call->handle(media::MediaEvent{media::LocalDescriptionReady{1, {media::SdpType::Offer, offer}}}, room.now);
  bob.call->handle(media::MediaEvent{media::GatheringStateChanged{1, media::GatheringState::Complete}}, room.now);
  std::vector<media::SdpType> sent;
  while (auto o = bob.call->poll())
    if (auto* sig = std::get_if<core::SendSignal>(&*o))
      if (auto* n = std::get_if<events::CallNegotiate>(&sig->event)) sent.push_back(n->description.type);
  EXPECT_EQ(sent, (std::vector<media::SdpType>{media::SdpType::Answer})) << "the answer was lost or the stale offer sent";
}

}  // namespace
}  // namespace mxcall::testing

#include "media/fake_engine.hpp"

#include <gtest/gtest.h>

#include "media/sdp_rewrite.hpp"

namespace mxcall::media {
namespace {

using namespace std::chrono_literals;

// Two fake peers wired back to back by the test: descriptions and candidates are forwarded.
struct FakeCall {
  FakeMediaEngine engine;
  PeerId a = 0, b = 0;
  std::vector<MediaEvent> events;
  bool route = true;

  FakeCall() {
    engine.set_event_sink([this](MediaEvent ev) { on(ev); });
    a = engine.create_peer({}).value();
    b = engine.create_peer({}).value();
  }
  PeerId other(PeerId p) const { return p == a ? b : a; }
  void on(const MediaEvent& ev) {
    events.push_back(ev);
    if (!route) return;
    if (auto* d = std::get_if<LocalDescriptionReady>(&ev))
      engine.set_remote_description(other(d->peer), d->description);
    if (auto* r = std::get_if<RemoteDescriptionApplied>(&ev); r && r->type == SdpType::Offer)
      engine.create_answer(r->peer);
    if (auto* c = std::get_if<LocalCandidate>(&ev)) engine.add_remote_candidate(other(c->peer), c->candidate);
  }
  template <typename E>
  std::vector<E> all(PeerId p) const {
    std::vector<E> out;
    for (const auto& ev : events)
      if (auto* e = std::get_if<E>(&ev); e && e->peer == p) out.push_back(*e);
    return out;
  }
  bool ice(PeerId p, IceState s) const {
    for (const auto& e : all<IceStateChanged>(p))
      if (e.state == s) return true;
    return false;
  }
  void start_audio() {
    ASSERT_TRUE(engine.add_track(a, {MediaKind::Audio, StreamPurpose::UserMedia, "sa", "ta", SourceKind::Test, {}, 20}).ok());
    ASSERT_TRUE(engine.add_track(b, {MediaKind::Audio, StreamPurpose::UserMedia, "sb", "tb", SourceKind::Test, {}, 20}).ok());
    engine.create_offer(a);
    engine.deliver();
  }
  void run(std::chrono::milliseconds total) {
    for (auto t = 0ms; t < total; t += 10ms) {
      engine.advance(10ms);
      engine.deliver();
    }
  }
};

TEST(FakeEngine, EventsWaitForDeliver) {
  FakeCall call;
  ASSERT_TRUE(call.engine.add_track(call.a, {MediaKind::Audio, StreamPurpose::UserMedia, "s", "t", SourceKind::Test, {}, 20}).ok());
  call.engine.create_offer(call.a);
  EXPECT_TRUE(call.events.empty());
  EXPECT_GT(call.engine.pending_events(), 0u);
  EXPECT_GT(call.engine.deliver(), 0u);
  EXPECT_EQ(call.engine.pending_events(), 0u);
}

TEST(FakeEngine, OfferHasTracksMidsCandidatesAndEndMarker) {
  FakeCall call;
  call.route = false;
  ASSERT_TRUE(call.engine.add_track(call.a, {MediaKind::Audio, StreamPurpose::UserMedia, "stream1", "t1", SourceKind::Test, {}, 20}).ok());
  ASSERT_TRUE(call.engine.add_track(call.a, {MediaKind::Video, StreamPurpose::UserMedia, "stream1", "t2", SourceKind::Test, {}, 20}).ok());
  call.engine.create_offer(call.a);
  call.engine.deliver();
  auto descs = call.all<LocalDescriptionReady>(call.a);
  ASSERT_EQ(descs.size(), 1u);
  const std::string& sdp = descs[0].description.sdp;
  EXPECT_TRUE(sdp::looks_like_sdp(sdp));
  auto sections = sdp::media_sections(sdp);
  ASSERT_EQ(sections.size(), 2u);
  EXPECT_EQ(sections[0].mid, "0");
  EXPECT_EQ(sections[1].kind, "video");
  EXPECT_EQ(sections[1].stream_id, "stream1");
  EXPECT_NE(sdp.find("a=msid:stream1 t1"), std::string::npos);
  auto cands = call.all<LocalCandidate>(call.a);
  ASSERT_EQ(cands.size(), 2u);
  EXPECT_FALSE(cands[0].candidate.is_end_of_candidates());
  EXPECT_TRUE(cands[1].candidate.is_end_of_candidates());
}

TEST(FakeEngine, ExchangedPeersConnectAndCountPackets) {
  FakeCall call;
  call.start_audio();
  EXPECT_TRUE(call.ice(call.a, IceState::Checking));
  EXPECT_TRUE(call.ice(call.b, IceState::Checking));
  EXPECT_FALSE(call.ice(call.a, IceState::Connected));
  call.run(100ms);
  EXPECT_TRUE(call.ice(call.a, IceState::Connected));
  ASSERT_EQ(call.all<RemoteTrackAdded>(call.b).size(), 1u);
  EXPECT_EQ(call.all<RemoteTrackAdded>(call.b)[0].stream_id, "sa");
  EXPECT_EQ(call.all<FirstMediaDecoded>(call.a).size(), 1u);
  const auto before = call.engine.stats(call.b).audio.packets_received;
  call.run(1000ms);
  EXPECT_EQ(call.engine.stats(call.b).audio.packets_received, before + 50);
  EXPECT_GT(call.engine.stats(call.a).audio.packets_sent, 50u);
}

TEST(FakeEngine, CandidatesBeforeTheRemoteDescriptionAreQueued) {
  FakeCall call;
  call.route = false;
  call.start_audio();
  auto offer = call.all<LocalDescriptionReady>(call.a).at(0).description;
  for (const auto& c : call.all<LocalCandidate>(call.a)) call.engine.add_remote_candidate(call.b, c.candidate);
  call.route = true;
  call.engine.set_remote_description(call.b, offer);
  call.engine.deliver();
  call.run(100ms);
  EXPECT_TRUE(call.ice(call.b, IceState::Connected));
}

TEST(FakeEngine, HoldStopsTheFlowBothWays) {
  FakeCall call;
  call.start_audio();
  call.run(100ms);
  call.engine.set_local_hold(call.a, true);
  call.engine.create_offer(call.a);
  call.engine.deliver();
  auto offers = call.all<LocalDescriptionReady>(call.a);
  EXPECT_NE(offers.back().description.sdp.find("a=sendonly"), std::string::npos);
  EXPECT_NE(call.all<LocalDescriptionReady>(call.b).back().description.sdp.find("a=recvonly"), std::string::npos);
  const auto b0 = call.engine.stats(call.b).audio.packets_received;
  const auto a0 = call.engine.stats(call.a).audio.packets_received;
  call.run(500ms);
  EXPECT_EQ(call.engine.stats(call.b).audio.packets_received, b0);
  EXPECT_EQ(call.engine.stats(call.a).audio.packets_received, a0);
  call.engine.set_local_hold(call.a, false);
  call.engine.create_offer(call.a);
  call.engine.deliver();
  call.run(200ms);
  EXPECT_GT(call.engine.stats(call.b).audio.packets_received, b0);
}

TEST(FakeEngine, IceFailureSwitch) {
  FakeCall call;
  call.engine.fail_ice(true);
  call.start_audio();
  call.run(100ms);
  EXPECT_TRUE(call.ice(call.a, IceState::Failed));
  EXPECT_FALSE(call.ice(call.a, IceState::Connected));
  EXPECT_TRUE(call.all<FirstMediaDecoded>(call.b).empty());
}

TEST(FakeEngine, OperationFailureSwitchAndGarbage) {
  FakeCall call;
  call.engine.fail_operation("create_offer");
  call.engine.create_offer(call.a);
  call.engine.deliver();
  ASSERT_EQ(call.all<OperationFailed>(call.a).size(), 1u);
  EXPECT_EQ(call.all<OperationFailed>(call.a)[0].operation, "create_offer");
  call.engine.fail_operation("create_offer", false);
  call.engine.set_remote_description(call.b, {SdpType::Offer, "garbage"});
  call.engine.create_answer(call.b);
  call.engine.deliver();
  EXPECT_EQ(call.all<OperationFailed>(call.b).size(), 2u);
  call.engine.fail_operation("add_track");
  EXPECT_FALSE(call.engine.add_track(call.a, {}).ok());
}

TEST(FakeEngine, RenegotiationAddsVideoAndDtmfReachesTheFarPeer) {
  FakeCall call;
  call.start_audio();
  call.run(100ms);
  ASSERT_TRUE(call.engine.add_track(call.a, {MediaKind::Video, StreamPurpose::UserMedia, "sa", "va", SourceKind::Test, {}, 20}).ok());
  call.engine.deliver();
  ASSERT_EQ(call.all<NegotiationNeeded>(call.a).size(), 1u);
  call.engine.create_offer(call.a);
  call.engine.deliver();
  call.run(100ms);
  bool video = false;
  for (const auto& t : call.all<RemoteTrackAdded>(call.b)) video = video || t.kind == MediaKind::Video;
  EXPECT_TRUE(video);
  EXPECT_GT(call.engine.stats(call.b).video.packets_received, 0u);
  ASSERT_TRUE(call.engine.send_dtmf(call.a, "12#").ok());
  EXPECT_FALSE(call.engine.send_dtmf(call.a, "x").ok());
  call.engine.deliver();
  std::string digits;
  for (const auto& d : call.all<DtmfReceived>(call.b)) digits += d.digit;
  EXPECT_EQ(digits, "12#");
}

TEST(FakeEngine, RemovedTrackIsReportedGoneAtTheFarPeerAndComesBack) {
  FakeCall call;
  call.start_audio();
  const TrackSpec video{MediaKind::Video, StreamPurpose::UserMedia, "sa", "va", SourceKind::Test, {}, 20};
  ASSERT_TRUE(call.engine.add_track(call.a, video).ok());
  call.engine.create_offer(call.a);
  call.engine.deliver();
  call.run(200ms);
  ASSERT_EQ(call.all<RemoteTrackAdded>(call.b).size(), 2u);

  ASSERT_TRUE(call.engine.remove_track(call.a, "va").ok());
  call.engine.create_offer(call.a);
  call.engine.deliver();
  auto removed = call.all<RemoteTrackRemoved>(call.b);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].kind, MediaKind::Video);
  EXPECT_EQ(removed[0].stream_id, "sa");
  const auto video_in = call.engine.stats(call.b).video.packets_received;
  call.run(500ms);
  EXPECT_EQ(call.engine.stats(call.b).video.packets_received, video_in);

  ASSERT_TRUE(call.engine.add_track(call.a, video).ok());  // the same id: back on its m-line
  call.engine.create_offer(call.a);
  call.engine.deliver();
  call.run(200ms);
  EXPECT_EQ(call.all<RemoteTrackAdded>(call.b).size(), 3u);
  EXPECT_GT(call.engine.stats(call.b).video.packets_received, video_in);
  EXPECT_EQ(call.all<RemoteTrackRemoved>(call.b).size(), 1u);
}

TEST(FakeEngine, IceRestartReconnects) {
  FakeCall call;
  call.start_audio();
  call.run(100ms);
  call.engine.create_offer(call.a, OfferOptions{true});
  call.engine.deliver();
  EXPECT_EQ(call.all<IceStateChanged>(call.a).back().state, IceState::Checking);
  call.run(100ms);
  EXPECT_EQ(call.all<IceStateChanged>(call.a).back().state, IceState::Connected);
  EXPECT_EQ(call.all<IceStateChanged>(call.b).back().state, IceState::Connected);
}

TEST(FakeEngine, ClosePeerDropsItsQueuedEvents) {
  FakeCall call;
  call.route = false;
  call.start_audio();
  call.engine.create_offer(call.b);
  call.engine.close_peer(call.b);
  call.engine.deliver();
  EXPECT_TRUE(call.all<LocalDescriptionReady>(call.b).empty());
  EXPECT_FALSE(call.engine.is_open(call.b));
  EXPECT_EQ(call.engine.stats(call.b).audio.packets_sent, 0u);
}

}  // namespace
}  // namespace mxcall::media

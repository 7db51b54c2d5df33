// Tracks removed and added back mid-call, and colliding renegotiation offers (perfect
// negotiation), on real webrtcbin pairs in a loopback-only network namespace.
#include <gtest/gtest.h>

#include "call_harness.hpp"
#include "media/sdp_rewrite.hpp"

namespace mxcall::media::test {
namespace {

class WebrtcbinTracks : public WebrtcbinTest {
 protected:
  // A's camera on (renegotiated by A) and decoded at B.
  void add_video(CallHarness& h, PeerId who) {
    ASSERT_TRUE(engine().add_track(who, video_track(who == h.A.id ? "streamA" : "streamB")).ok());
    ASSERT_TRUE(h.negotiate(who));
    ASSERT_TRUE(h.wait([&] { return h.side(h.other(who)).decoded.count(MediaKind::Video) > 0; }))
        << "video from peer " << who << " never arrived";
  }
};

std::optional<sdp::Direction> video_direction(const std::string& text) {
  for (const auto& s : sdp::media_sections(text))
    if (s.kind == "video") return s.direction;
  return std::nullopt;
}

TEST_F(WebrtcbinTracks, RemovedVideoStopsIsReportedAndComesBackOnTheSameMline) {
  CallHarness h(engine());
  start_audio_call(h);
  add_video(h, h.A.id);
  expect_video_flows(h, h.B.id);
  const auto mlines = sdp::media_sections(h.A.sent.back().sdp).size();

  ASSERT_TRUE(engine().remove_track(h.A.id, "streamA-video").ok());
  ASSERT_TRUE(h.negotiate(h.A.id));
  EXPECT_EQ(video_direction(h.A.sent.back().sdp), sdp::Direction::RecvOnly) << h.A.sent.back().sdp;
  ASSERT_TRUE(h.wait([&] { return !h.B.removed.empty(); }, 5s)) << "B was never told the video is gone";
  EXPECT_EQ(h.B.removed.front().kind, MediaKind::Video);
  EXPECT_EQ(h.B.removed.front().stream_id, "streamA");
  h.observe(300ms);  // packets in flight drain
  const auto video = h.video_received(h.B.id);
  expect_audio_flows(h, h.B.id, 40);  // ~800 ms of audio: no video meanwhile
  EXPECT_LE(h.video_received(h.B.id), video + 1) << "video kept flowing after its removal";

  const auto added_before = h.B.tracks.size();
  ASSERT_TRUE(engine().add_track(h.A.id, video_track("streamA")).ok());
  ASSERT_TRUE(h.negotiate(h.A.id));
  EXPECT_EQ(video_direction(h.A.sent.back().sdp), sdp::Direction::SendRecv);
  EXPECT_EQ(sdp::media_sections(h.A.sent.back().sdp).size(), mlines) << "no m-line may be added or lost";
  ASSERT_TRUE(h.wait([&] { return h.B.tracks.size() > added_before; }, 5s)) << "B was never told the video is back";
  EXPECT_EQ(h.B.tracks.back().kind, MediaKind::Video);
  EXPECT_EQ(h.B.tracks.back().stream_id, "streamA");
  expect_video_flows(h, h.B.id);
  EXPECT_EQ(h.B.removed.size(), 1u);
  EXPECT_TRUE(h.A.failures.empty() && h.B.failures.empty());
}

TEST_F(WebrtcbinTracks, RemovalOfTheAnswerersVideoIsAnnouncedInItsNextOffer) {
  CallHarness h(engine());
  start_audio_call(h);
  add_video(h, h.B.id);  // B's video on an m-line B offered
  ASSERT_TRUE(engine().remove_track(h.B.id, "streamB-video").ok());
  ASSERT_TRUE(h.negotiate(h.B.id));
  ASSERT_TRUE(h.wait([&] { return !h.A.removed.empty(); }, 5s));
  EXPECT_EQ(h.A.removed.front().stream_id, "streamB");
  // A re-offers (hold, resume) and B's answers still say B does not send video (A has no
  // camera either: inactive).
  engine().set_local_hold(h.A.id, true);
  ASSERT_TRUE(h.negotiate(h.A.id));
  EXPECT_EQ(video_direction(h.B.sent.back().sdp), sdp::Direction::Inactive) << h.B.sent.back().sdp;
  engine().set_local_hold(h.A.id, false);
  ASSERT_TRUE(h.negotiate(h.A.id));
  EXPECT_EQ(video_direction(h.B.sent.back().sdp), sdp::Direction::Inactive) << h.B.sent.back().sdp;
  EXPECT_EQ(h.A.removed.size(), 1u) << "hold is no removal: " << h.A.removed.back().stream_id << " " << to_string(h.A.removed.back().kind);
  expect_audio_flows(h, h.A.id);
}

// Both sides add video and offer at the same instant. A is impolite and ignores B's offer;
// B (polite) drops its own offer, answers A's, and offers again.
TEST_F(WebrtcbinTracks, CollidingOffersResolveThroughThePoliteSide) {
  CallHarness h(engine());
  start_audio_call(h);
  h.route = false;
  ASSERT_TRUE(engine().add_track(h.A.id, video_track("streamA")).ok());
  ASSERT_TRUE(engine().add_track(h.B.id, video_track("streamB")).ok());
  const auto a0 = h.A.sent.size(), b0 = h.B.sent.size();
  engine().create_offer(h.A.id);
  engine().create_offer(h.B.id);
  ASSERT_TRUE(h.wait([&] { return h.A.sent.size() > a0 && h.B.sent.size() > b0; }));
  const SessionDescription a_offer = h.A.sent.back();
  ASSERT_EQ(a_offer.type, SdpType::Offer);
  ASSERT_EQ(h.B.sent.back().type, SdpType::Offer);

  // The polite side applies the impolite side's offer over its own, and answers it.
  const int b_applied = h.B.remote_applied;
  engine().set_remote_description(h.B.id, a_offer);
  ASSERT_TRUE(h.wait([&] { return h.B.remote_applied > b_applied; }));
  engine().create_answer(h.B.id);
  ASSERT_TRUE(h.wait([&] { return h.B.sent.back().type == SdpType::Answer; }));
  // The answer takes a while to reach A (a homeserver hop); B's camera must not send before A
  // has an SDP with its ssrc, or webrtcbin at A takes it for the bundle's first m-line.
  h.observe(600ms);
  const int a_applied = h.A.remote_applied;
  engine().set_remote_description(h.A.id, h.B.sent.back());
  ASSERT_TRUE(h.wait([&] { return h.A.remote_applied > a_applied; }));
  EXPECT_TRUE(h.A.failures.empty() && h.B.failures.empty());
  ASSERT_TRUE(h.wait([&] { return h.B.decoded.count(MediaKind::Video) > 0; })) << "A's video never arrived";

  // Then the polite side offers its change again.
  h.route = true;
  ASSERT_TRUE(h.negotiate(h.B.id));
  ASSERT_TRUE(h.wait([&] { return h.A.decoded.count(MediaKind::Video) > 0; })) << "B's video never arrived";
  expect_video_flows(h, h.A.id);
  expect_video_flows(h, h.B.id);
  expect_audio_flows(h, h.A.id);
  expect_audio_flows(h, h.B.id);
  auto announced = [](const Side& s, const std::string& stream) {
    for (const auto& t : s.tracks)
      if (t.kind == MediaKind::Video && t.stream_id == stream) return true;
    return false;
  };
  EXPECT_TRUE(announced(h.A, "streamB")) << "A decodes B's video but was never told whose it is";
  EXPECT_TRUE(announced(h.B, "streamA"));
  for (const auto& f : h.A.failures) ADD_FAILURE() << "A: " << f.operation << ": " << f.message;
  for (const auto& f : h.B.failures) ADD_FAILURE() << "B: " << f.operation << ": " << f.message;
}

// A colliding offer that arrives while the polite side's own offer is still being created.
TEST_F(WebrtcbinTracks, RemoteOfferWhileOurOfferIsBeingCreatedReplacesIt) {
  CallHarness h(engine());
  start_audio_call(h);
  engine().set_local_hold(h.A.id, true);
  h.route = false;
  const auto a0 = h.A.sent.size();
  engine().create_offer(h.A.id);
  ASSERT_TRUE(h.wait([&] { return h.A.sent.size() > a0; }));
  const SessionDescription a_offer = h.A.sent.back();
  const auto b0 = h.B.sent.size();
  ASSERT_TRUE(engine().add_track(h.B.id, video_track("streamB")).ok());
  engine().create_offer(h.B.id);  // waits for the new track's caps
  engine().set_remote_description(h.B.id, a_offer);
  engine().create_answer(h.B.id);
  ASSERT_TRUE(h.wait([&] { return h.B.sent.size() > b0 && h.B.sent.back().type == SdpType::Answer; }));
  h.observe(300ms);
  for (std::size_t i = b0; i < h.B.sent.size(); ++i)
    EXPECT_EQ(h.B.sent[i].type, SdpType::Answer) << "the replaced offer was still reported";
  engine().set_remote_description(h.A.id, h.B.sent.back());
  h.route = true;
  ASSERT_TRUE(h.wait([&] { return h.A.remote_applied >= 2; }));
  EXPECT_TRUE(h.A.failures.empty() && h.B.failures.empty());
  engine().set_local_hold(h.A.id, false);
  ASSERT_TRUE(h.negotiate(h.A.id));
  expect_audio_flows(h, h.B.id);
  expect_audio_flows(h, h.A.id);
}

}  // namespace
}  // namespace mxcall::media::test

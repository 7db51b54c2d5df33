// The seven traps of STACK.md "webrtcbin with libwebrtc peers (measured)", one test each, on
// real webrtcbin pairs (loopback-only network namespace). Each test fails when its fix in
// src/media is taken out (checked by hand; the fixes carry "libwebrtc trap N" comments).
// Traps only libwebrtc shows are reproduced by making one side's SDP look like libwebrtc's.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "call_harness.hpp"
#include "media/sdp_rewrite.hpp"

namespace mxcall::media::test {
namespace {

class LibwebrtcTraps : public WebrtcbinTest {};

std::vector<sdp::MediaSection> av_sections(const std::string& text) {
  std::vector<sdp::MediaSection> out;
  for (auto& s : sdp::media_sections(text))
    if (s.kind == "audio" || s.kind == "video") out.push_back(std::move(s));
  return out;
}

std::string line_with(const std::string& text, const std::string& prefix) {
  auto at = text.find(prefix);
  return at == std::string::npos ? "" : text.substr(at, text.find_first_of("\r\n", at) - at);
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// The SDP with each audio/video section's first payload type renumbered to libwebrtc's (Opus
// 111, VP8 96): what a libwebrtc peer would offer for the same codecs.
std::string with_libwebrtc_payload_types(const std::string& text) {
  std::istringstream in(text);
  std::string line, out, from, to;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("m=", 0) == 0) {
      std::istringstream m(line);
      std::string kind, port, proto;
      m >> kind >> port >> proto >> from;
      to = kind == "m=audio" ? "111" : kind == "m=video" ? "96" : from;
      line = kind + " " + port + " " + proto + " " + to + line.substr(kind.size() + port.size() + proto.size() + from.size() + 3);
    } else if (!from.empty() && from != to) {
      for (const char* attr : {"a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"})
        if (line.rfind(std::string(attr) + from + " ", 0) == 0) line = attr + to + line.substr(std::string(attr).size() + from.size());
    }
    out += line + "\r\n";
  }
  return out;
}

// Trap 1: one BUNDLE group over every m-line, in the offer and in the answer.
TEST_F(LibwebrtcTraps, Trap1OfferAndAnswerBundleEveryMline) {
  CallHarness h(engine());
  ASSERT_TRUE(engine().add_track(h.A.id, audio_track("streamA")).ok());
  ASSERT_TRUE(engine().add_track(h.A.id, video_track("streamA")).ok());
  ASSERT_TRUE(engine().add_track(h.B.id, audio_track("streamB")).ok());
  ASSERT_TRUE(h.negotiate(h.A.id));
  for (const auto* d : {&h.A.sent.front(), &h.B.sent.front()}) {
    const auto sections = av_sections(d->sdp);
    ASSERT_EQ(sections.size(), 2u) << d->sdp;
    EXPECT_EQ(line_with(d->sdp, "a=group:BUNDLE"), "a=group:BUNDLE " + sections[0].mid + " " + sections[1].mid)
        << to_string(d->type) << ":\n" << d->sdp;
  }
  EXPECT_TRUE(h.wait([&] { return h.connected() && h.audio_both_ways(); }));
}

// Trap 2: the Opus rtpmap names two channels, as libwebrtc insists.
TEST_F(LibwebrtcTraps, Trap2OpusRtpmapHasTwoChannels) {
  CallHarness h(engine());
  ASSERT_TRUE(engine().add_track(h.A.id, audio_track("streamA")).ok());
  ASSERT_TRUE(engine().add_track(h.B.id, audio_track("streamB")).ok());
  ASSERT_TRUE(h.negotiate(h.A.id));
  for (const auto* d : {&h.A.sent.front(), &h.B.sent.front()}) {
    const auto sections = av_sections(d->sdp);
    ASSERT_FALSE(sections.empty());
    ASSERT_FALSE(sections[0].rtpmaps.empty());
    EXPECT_EQ(sections[0].rtpmaps[0], "111 OPUS/48000/2") << d->sdp;
  }
}

// Trap 3: webrtcbin sends only when the payloader's pt is the negotiated one. Answering an
// offer with libwebrtc's payload types (Opus 111, VP8 96), RTP of both kinds flows both ways.
TEST_F(LibwebrtcTraps, Trap3RtpFlowsWithTheNegotiatedPayloadTypes) {
  CallHarness h(engine());
  for (auto [p, stream] : {std::pair{h.A.id, "streamA"}, std::pair{h.B.id, "streamB"}}) {
    ASSERT_TRUE(engine().add_track(p, audio_track(stream)).ok());
    ASSERT_TRUE(engine().add_track(p, video_track(stream)).ok());
  }
  h.rewrite = [&](PeerId from, SessionDescription& d) {
    if (from == h.A.id && d.type == SdpType::Offer) d.sdp = with_libwebrtc_payload_types(d.sdp);
  };
  ASSERT_TRUE(h.negotiate(h.A.id));
  const auto sections = av_sections(h.B.sent.front().sdp);
  ASSERT_EQ(sections.size(), 2u);
  EXPECT_EQ(sections[0].payload_types.front(), 111);
  EXPECT_EQ(sections[1].payload_types.front(), 96);
  ASSERT_TRUE(h.wait([&] { return h.connected(); }));
  expect_audio_flows(h, h.A.id);
  expect_audio_flows(h, h.B.id);
  expect_video_flows(h, h.A.id);
  expect_video_flows(h, h.B.id);
}

// Trap 4: the stream id in the SDP (what js-sdk matches feeds by) is ours, also in an offer
// asked for right after the track was added, before any caps reached webrtcbin.
TEST_F(LibwebrtcTraps, Trap4OfferRightAfterAddTrackCarriesOurStreamId) {
  CallHarness h(engine());
  ASSERT_TRUE(engine().add_track(h.A.id, audio_track("streamA")).ok());
  ASSERT_TRUE(engine().add_track(h.A.id, video_track("streamA")).ok());  // caps after its first frame
  ASSERT_TRUE(engine().add_track(h.B.id, audio_track("streamB")).ok());
  ASSERT_TRUE(h.negotiate(h.A.id));  // create_offer at once
  const auto offered = av_sections(h.A.sent.front().sdp);
  ASSERT_EQ(offered.size(), 2u) << h.A.sent.front().sdp;
  EXPECT_EQ(offered[0].stream_id, "streamA") << h.A.sent.front().sdp;
  EXPECT_EQ(offered[1].stream_id, "streamA") << h.A.sent.front().sdp;
  EXPECT_EQ(av_sections(h.B.sent.front().sdp).at(0).stream_id, "streamB") << h.B.sent.front().sdp;
  ASSERT_TRUE(h.wait([&] { return !h.A.tracks.empty() && !h.B.tracks.empty(); }));
  EXPECT_EQ(h.B.tracks.front().stream_id, "streamA");
  EXPECT_EQ(h.A.tracks.front().stream_id, "streamB");
}

// Trap 5: libwebrtc re-offers with a=setup:actpass. Webrtcbin, already the DTLS server, would
// answer active and flip its role; the engine keeps it passive and media keeps flowing.
TEST_F(LibwebrtcTraps, Trap5ActpassReofferToTheDtlsServerKeepsItsRole) {
  CallHarness h(engine());
  start_audio_call(h);  // A offered actpass, B answered active: A is the DTLS server
  ASSERT_EQ(line_with(h.B.sent.front().sdp, "a=setup:"), "a=setup:active");
  h.rewrite = [&](PeerId from, SessionDescription& d) {
    if (from == h.B.id && d.type == SdpType::Offer) replace_all(d.sdp, "a=setup:active", "a=setup:actpass");
  };
  engine().set_local_hold(h.B.id, true);  // any re-offer from B will do
  ASSERT_TRUE(h.negotiate(h.B.id));
  EXPECT_EQ(line_with(h.A.sent.back().sdp, "a=setup:"), "a=setup:passive") << h.A.sent.back().sdp;
  engine().set_local_hold(h.B.id, false);
  ASSERT_TRUE(h.negotiate(h.B.id));
  EXPECT_EQ(line_with(h.A.sent.back().sdp, "a=setup:"), "a=setup:passive");
  expect_audio_flows(h, h.A.id);
  expect_audio_flows(h, h.B.id);
  EXPECT_TRUE(h.A.failures.empty() && h.B.failures.empty());
}

// Trap 6: webrtcbin fails any direction change but to inactive. Hold and resume only rewrite
// directions in the SDP we send and receive, and drop outgoing buffers; media stops and
// comes back, several times, with no failure on either side.
TEST_F(LibwebrtcTraps, Trap6HoldAndResumeTwiceWithoutDirectionChangesInWebrtcbin) {
  CallHarness h(engine());
  start_audio_call(h);
  for (int round = 0; round < 2; ++round) {
    engine().set_local_hold(h.A.id, true);
    ASSERT_TRUE(h.negotiate(h.A.id));
    EXPECT_EQ(av_sections(h.A.sent.back().sdp).at(0).direction, sdp::Direction::SendOnly);
    EXPECT_EQ(av_sections(h.B.sent.back().sdp).at(0).direction, sdp::Direction::RecvOnly);
    h.observe(300ms);  // packets in flight drain
    const auto held_b = h.audio_received(h.B.id);
    h.observe(600ms);
    EXPECT_LE(h.audio_received(h.B.id), held_b + 2) << "the held side still receives";
    engine().set_local_hold(h.A.id, false);
    ASSERT_TRUE(h.negotiate(h.A.id));
    EXPECT_EQ(av_sections(h.A.sent.back().sdp).at(0).direction, sdp::Direction::SendRecv);
    expect_audio_flows(h, h.B.id);
    expect_audio_flows(h, h.A.id);
  }
  EXPECT_TRUE(h.A.failures.empty() && h.B.failures.empty());
  EXPECT_TRUE(h.A.removed.empty() && h.B.removed.empty()) << "hold is no track removal";
}

// Trap 7: after answering an offer that added video without a camera of our own, turning our
// camera on later must work (a sink pad added after the answer made create-offer fail:
// "Could not reuse transceiver"), and our video reaches the peer.
TEST_F(LibwebrtcTraps, Trap7VideoAddedAfterAnsweringTheirVideoIsSent) {
  CallHarness h(engine());
  start_audio_call(h);
  ASSERT_TRUE(engine().add_track(h.A.id, video_track("streamA")).ok());
  ASSERT_TRUE(h.negotiate(h.A.id));
  ASSERT_TRUE(h.wait([&] { return h.B.decoded.count(MediaKind::Video) > 0; })) << "A's video never arrived";
  // B answered A's video m-line without a camera: its SDP must not claim to send on it.
  EXPECT_EQ(av_sections(h.B.sent.back().sdp).at(1).direction, sdp::Direction::RecvOnly) << h.B.sent.back().sdp;

  ASSERT_TRUE(engine().add_track(h.B.id, video_track("streamB")).ok());
  ASSERT_TRUE(h.negotiate(h.B.id));
  EXPECT_TRUE(h.B.failures.empty()) << h.B.failures.front().message;
  ASSERT_TRUE(h.wait([&] { return h.A.decoded.count(MediaKind::Video) > 0; })) << "B's video never arrived";
  expect_video_flows(h, h.A.id);
  expect_video_flows(h, h.B.id);
  bool announced = false;
  for (const auto& t : h.A.tracks) announced = announced || (t.kind == MediaKind::Video && t.stream_id == "streamB");
  EXPECT_TRUE(announced) << "A never saw B's video stream";
  expect_audio_flows(h, h.A.id);
}

// Trap 7 the other way round: the answerer adds video first; the offerer, which answered that
// without a camera, adds its own afterwards.
TEST_F(LibwebrtcTraps, Trap7VideoAddedByTheOffererAfterAnsweringTheAnswerersVideo) {
  CallHarness h(engine());
  start_audio_call(h);
  ASSERT_TRUE(engine().add_track(h.B.id, video_track("streamB")).ok());
  ASSERT_TRUE(h.negotiate(h.B.id));
  ASSERT_TRUE(h.wait([&] { return h.A.decoded.count(MediaKind::Video) > 0; }));
  ASSERT_TRUE(engine().add_track(h.A.id, video_track("streamA")).ok());
  ASSERT_TRUE(h.negotiate(h.A.id));
  EXPECT_TRUE(h.A.failures.empty()) << h.A.failures.front().message;
  ASSERT_TRUE(h.wait([&] { return h.B.decoded.count(MediaKind::Video) > 0; })) << "A's video never arrived";
  expect_video_flows(h, h.B.id);
}

}  // namespace
}  // namespace mxcall::media::test

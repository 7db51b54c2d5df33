#include "media/sdp_rewrite.hpp"

#include <gtest/gtest.h>

#include "core/call.hpp"
#include "media/ice_servers.hpp"

namespace mxcall::media::sdp {
namespace {

// Shaped like webrtcbin's output: session-level lines, bundled audio + video.
const std::string kOffer =
    "v=0\r\n"
    "o=- 123 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE audio0 video1\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=setup:actpass\r\n"
    "a=ice-ufrag:abcd\r\n"
    "a=ice-pwd:secret\r\n"
    "a=fingerprint:sha-256 AA:BB\r\n"
    "a=sendrecv\r\n"
    "a=rtpmap:111 OPUS/48000/2\r\n"
    "a=ssrc:42 msid:streamA trackA\r\n"
    "a=mid:audio0\r\n"
    "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=bundle-only\r\n"
    "a=setup:actpass\r\n"
    "a=ice-ufrag:abcd\r\n"
    "a=sendrecv\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=msid:streamA trackV\r\n"
    "a=mid:video1\r\n";

// fuzz_sdp finding: a bare CR was kept inside a value ("a=setup:\r<junk>"), so a role or a
// ufrag could carry a line break into a log line or a rewritten description.
TEST(SdpRewrite, ABareCarriageReturnEndsALine) {
  const std::string text = "v=0\r\nm=audio 9 UDP 111\r\na=setup:active\rjunk\na=ice-ufrag:ab\rcd\r\n";
  EXPECT_EQ(setup_role(text), "active");
  EXPECT_EQ(ice_ufrag(text), "ab");
  EXPECT_EQ(core::sdp_ice_ufrag(text), "ab");
  EXPECT_EQ(replace_setup(text, "passive"), "v=0\r\nm=audio 9 UDP 111\r\na=setup:passive\rjunk\na=ice-ufrag:ab\rcd\r\n");
}

// fuzz_sdp finding: "m=audio" (no port, proto or formats) became "m=audio 101", which reads
// as port 101 without formats, so a second pass added telephone-event again.
TEST(SdpRewrite, TelephoneEventIsNotAddedToAMediaLineWithoutFormats) {
  const std::string text = "v=0\r\nm=audio\r\na=mid:0\r\n";
  const std::string once = add_telephone_event(text, 101, 48000);
  EXPECT_EQ(once, text);
  EXPECT_EQ(add_telephone_event(once, 101, 48000), once);
}

TEST(SdpRewrite, RecognisesSdp) {
  EXPECT_TRUE(looks_like_sdp(kOffer));
  EXPECT_FALSE(looks_like_sdp("hello"));
  EXPECT_FALSE(looks_like_sdp("v=0\r\ns=-\r\n"));  // no media
  EXPECT_FALSE(looks_like_sdp(""));
}

TEST(SdpRewrite, ReadsMediaSections) {
  auto sections = media_sections(kOffer);
  ASSERT_EQ(sections.size(), 2u);
  EXPECT_EQ(sections[0].kind, "audio");
  EXPECT_EQ(sections[0].mid, "audio0");
  EXPECT_EQ(sections[0].stream_id, "streamA");  // from the ssrc msid line
  EXPECT_EQ(sections[0].msid_track, "trackA");    // webrtcbin writes its transceiver's name there
  EXPECT_EQ(sections[0].payload_types, std::vector<int>{111});
  EXPECT_FALSE(sections[0].rejected);
  EXPECT_EQ(sections[1].kind, "video");
  EXPECT_EQ(sections[1].stream_id, "streamA");  // from a=msid
  EXPECT_EQ(sections[1].msid_track, "trackV");
  EXPECT_EQ(media_sections("v=0\r\nm=audio 9 X 0\r\na=msid:onlystream\r\n")[0].msid_track, "");
  EXPECT_FALSE(sections[1].rejected);           // port 0 but bundle-only
  EXPECT_EQ(sections[1].direction, Direction::SendRecv);
  auto rejected = media_sections("v=0\r\nm=audio 0 RTP/AVP 0\r\n");
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_TRUE(rejected[0].rejected);
}

TEST(SdpRewrite, HoldDirections) {
  EXPECT_EQ(hold_direction(false, false), Direction::SendRecv);
  EXPECT_EQ(hold_direction(true, false), Direction::SendOnly);
  EXPECT_EQ(hold_direction(false, true), Direction::RecvOnly);
  EXPECT_EQ(hold_direction(true, true), Direction::Inactive);
  EXPECT_EQ(intersect(Direction::SendOnly, Direction::RecvOnly), Direction::Inactive);
  EXPECT_EQ(intersect(Direction::SendRecv, Direction::RecvOnly), Direction::RecvOnly);
  EXPECT_EQ(reverse(Direction::SendOnly), Direction::RecvOnly);
  EXPECT_EQ(reverse(Direction::Inactive), Direction::Inactive);
}

TEST(SdpRewrite, RewritesEveryAudioVideoDirection) {
  auto held = rewrite_directions(kOffer, [](const MediaSection&, Direction d) {
    return intersect(d, Direction::SendOnly);
  });
  EXPECT_EQ(held.find("a=sendrecv"), std::string::npos);
  auto sections = media_sections(held);
  EXPECT_EQ(sections[0].direction, Direction::SendOnly);
  EXPECT_EQ(sections[1].direction, Direction::SendOnly);
  EXPECT_EQ(held.size(), kOffer.size());  // only the direction words changed
}

TEST(SdpRewrite, AddsAMissingDirection) {
  std::string no_dir = "v=0\nm=audio 9 RTP/AVP 0\na=mid:0\nm=application 9 DTLS 5000\na=mid:1\n";
  auto out = rewrite_directions(no_dir, [](const MediaSection&, Direction) { return Direction::Inactive; });
  auto sections = media_sections(out);
  EXPECT_EQ(sections[0].direction, Direction::Inactive);
  EXPECT_FALSE(sections[1].direction.has_value());  // data channels are left alone
  EXPECT_EQ(out.find('\r'), std::string::npos);      // LF endings stay LF
}

TEST(SdpRewrite, NormalisesIncomingHoldToSendrecv) {
  std::string held = rewrite_directions(kOffer, [](const MediaSection&, Direction) { return Direction::SendOnly; });
  auto n = normalise_directions(held);
  EXPECT_TRUE(n.remote_hold);
  EXPECT_EQ(n.by_mid.at("audio0"), Direction::SendOnly);
  for (const auto& s : media_sections(n.sdp)) EXPECT_EQ(s.direction, Direction::SendRecv);

  // recvonly (the peer holds nothing; it has no track) is not a hold.
  std::string recv = rewrite_directions(kOffer, [](const MediaSection&, Direction) { return Direction::RecvOnly; });
  EXPECT_FALSE(normalise_directions(recv).remote_hold);
  EXPECT_FALSE(normalise_directions(kOffer).remote_hold);
}

TEST(SdpRewrite, SetupRole) {
  EXPECT_EQ(setup_role(kOffer), "actpass");
  auto active = force_setup_active(kOffer);
  EXPECT_EQ(setup_role(active), "active");
  EXPECT_EQ(active.find("actpass"), std::string::npos);
  EXPECT_FALSE(setup_role("v=0\r\nm=audio 9 RTP/AVP 0\r\n").has_value());
}

TEST(SdpRewrite, ReplacesFingerprints) {
  auto out = replace_fingerprint(kOffer, "sha-256 01:02");
  EXPECT_NE(out.find("a=fingerprint:sha-256 01:02\r\n"), std::string::npos);
  EXPECT_EQ(out.find("AA:BB"), std::string::npos);
}

TEST(SdpRewrite, DetectsIceRestart) {
  EXPECT_EQ(ice_ufrag(kOffer), "abcd");
  std::string restarted = kOffer;
  for (std::size_t at; (at = restarted.find("ice-ufrag:abcd")) != std::string::npos;)
    restarted.replace(at, 14, "ice-ufrag:wxyz");
  EXPECT_TRUE(is_ice_restart(kOffer, restarted));
  EXPECT_FALSE(is_ice_restart(kOffer, kOffer));
  EXPECT_FALSE(is_ice_restart("", kOffer));  // the first offer is not a restart
}

TEST(SdpRewrite, TelephoneEvent) {
  auto out = add_telephone_event(kOffer, 101, 48000);
  auto sections = media_sections(out);
  EXPECT_EQ(sections[0].payload_types, (std::vector<int>{111, 101}));
  EXPECT_EQ(telephone_event_pt(sections[0], 48000), 101);
  EXPECT_FALSE(telephone_event_pt(sections[1], 48000).has_value());  // not on video
  EXPECT_FALSE(telephone_event_pt(sections[0], 8000).has_value());
  EXPECT_EQ(add_telephone_event(out, 101, 48000), out);  // idempotent
  MediaSection libwebrtc;
  libwebrtc.rtpmaps = {"111 opus/48000/2", "126 telephone-event/8000", "110 telephone-event/48000"};
  EXPECT_EQ(telephone_event_pt(libwebrtc, 48000), 110);
}

TEST(IceServers, ConvertsMatrixUrlsForWebrtcbin) {
  EXPECT_EQ(to_gst_ice_url("stun:stun.example.org:3478", "", ""), "stun://stun.example.org:3478");
  EXPECT_EQ(to_gst_ice_url("turn:turn.example.org:3478?transport=udp", "1700000000:@alice:x", "p/w+d="),
            "turn://1700000000%3A%40alice%3Ax:p%2Fw%2Bd%3D@turn.example.org:3478?transport=udp");
  EXPECT_EQ(to_gst_ice_url("turns:t.example.org:5349?transport=tcp", "u", "c"),
            "turns://u:c@t.example.org:5349?transport=tcp");
  EXPECT_FALSE(to_gst_ice_url("http://x", "", "").has_value());
  EXPECT_FALSE(to_gst_ice_url("turn:", "", "").has_value());
  auto servers = to_gst_ice_servers({IceServer{{"stun:a:1", "turn:b:2", "stun:c:3", "turns:d:4"}, "u", "c"}});
  EXPECT_EQ(servers.stun, "stun://a:1");
  EXPECT_EQ(servers.turn.size(), 2u);
}

}  // namespace
}  // namespace mxcall::media::sdp

// mxcall 1:1 call features against real matrix-js-sdk: video added mid-call by either side,
// camera and screen share turned off (and on again) by either side, hold and resume both
// ways, mute metadata both ways, and an ICE restart started by js-sdk.
#include <cstdio>
#include <thread>

#include "interop/interop_fixture.hpp"

namespace mxcall::testing {
namespace {

bool is_video(const CallUpdate& u) { return u.media_kind == media::MediaKind::Video; }

// (d1) mxcall adds video mid-call (renegotiation offered by mxcall): js-sdk gets a remote video
// track and video packets, and audio keeps flowing.
TEST_F(JsdkInterop, VideoAddedMidCallByMxcallReachesJsdk) {
  const std::string id = mx_calls_js();
  ASSERT_FALSE(id.empty());
  expect_audio_both_ways(id, 20);
  const auto since = js().mark();
  ASSERT_TRUE(mx().client().set_video(id, true).ok());
  auto track = js().wait_named("remote_video", since, id);
  ASSERT_TRUE(track) << "js-sdk never got mxcall's video track";
  auto st = js().wait_stats([](const Json& s) { return js_count(s, "video", "packets_received") >= 30; });
  ASSERT_TRUE(st);
  EXPECT_GE(js_count(*st, "video", "packets_received"), 30u) << st->dump();
  EXPECT_GE(st->value("remote_video_tracks", 0), 1) << st->dump();
  const auto mx_audio = mx().client().summary(id)->stats.audio.packets_received;
  expect_audio_both_ways(id, 30, mx_audio, js_count(*st, "audio", "packets_sent"),
                         js_count(*st, "audio", "packets_received"));
}

// (d2) js-sdk adds video mid-call (upgradeCall through setLocalVideoMuted(false); js-sdk offers):
// mxcall gets a remote video track and decodes video.
TEST_F(JsdkInterop, VideoAddedMidCallByJsdkReachesMxcall) {
  const std::string id = js_calls_mx();
  ASSERT_FALSE(id.empty());
  expect_audio_both_ways(id, 20);
  ASSERT_TRUE(js().command({{"cmd", "video"}, {"on", true}})) << js().last_error();
  auto track = mx().wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::RemoteTrack && is_video(u); });
  ASSERT_TRUE(track) << "mxcall never got js-sdk's video track";
  EXPECT_FALSE(track->screenshare);
  EXPECT_TRUE(mx().wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::FirstMedia && is_video(u); }))
      << "mxcall decoded no video";
  auto s = mx().client().summary(id);
  ASSERT_TRUE(s);
  EXPECT_GT(s->stats.video.packets_received, 0u) << describe_mx(id);
  expect_audio_both_ways(id, 30, s->stats.audio.packets_received);
}

// (e1) mxcall holds js-sdk: js-sdk reports that the remote party put it on hold and gets no audio
// while held; resume brings audio back.
TEST_F(JsdkInterop, HoldByMxcallIsSeenByJsdkAndResumeBringsAudioBack) {
  const std::string id = mx_calls_js();
  ASSERT_FALSE(id.empty());
  expect_audio_both_ways(id, 20);
  auto since = js().mark();
  ASSERT_TRUE(mx().client().set_hold(id, true).ok());
  auto held = js().wait_event([&](const Json& e) { return e.value("event", "") == "remote_hold" && e.value("on", false); },
                              std::chrono::seconds(20), since);
  ASSERT_TRUE(held) << "js-sdk never reported being held";
  auto st = js().stats();
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->value("local_on_hold", false)) << st->dump();  // js-sdk isLocalOnHold(): the peer holds us
  const auto h1 = js_count(*st, "audio", "packets_received");
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // a window to observe silence, not a wait for an event
  st = js().stats();
  ASSERT_TRUE(st);
  const auto h2 = js_count(*st, "audio", "packets_received");
  EXPECT_LE(h2 - h1, 3u) << "js-sdk kept receiving audio while held";

  since = js().mark();
  ASSERT_TRUE(mx().client().set_hold(id, false).ok());
  auto resumed = js().wait_event([&](const Json& e) { return e.value("event", "") == "remote_hold" && !e.value("on", true); },
                                 std::chrono::seconds(20), since);
  ASSERT_TRUE(resumed) << "js-sdk never reported the resume";
  const auto mx_base = mx().client().summary(id)->stats.audio.packets_received;
  expect_audio_both_ways(id, 30, mx_base, js_count(*st, "audio", "packets_sent"), h2);
}

// (e2) js-sdk holds mxcall (setRemoteOnHold: sendonly renegotiation): mxcall gets RemoteHold;
// resume likewise, and audio flows both ways again.
TEST_F(JsdkInterop, HoldByJsdkIsSeenByMxcallAndResumeBringsAudioBack) {
  const std::string id = js_calls_mx();
  ASSERT_FALSE(id.empty());
  expect_audio_both_ways(id, 20);
  auto ok = js().command({{"cmd", "hold"}, {"on", true}});
  ASSERT_TRUE(ok) << js().last_error();
  EXPECT_TRUE(ok->value("remote_on_hold", false));
  ASSERT_TRUE(mx().wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::RemoteHold && u.on_hold; }))
      << "mxcall never learned it is on hold";
  // js-sdk offered sendonly: the held mxcall answers recvonly and must send nothing.
  auto held = js().stats();
  ASSERT_TRUE(held);
  const auto h1 = js_count(*held, "audio", "packets_received");
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // a window to observe silence, not a wait for an event
  held = js().stats();
  ASSERT_TRUE(held);
  EXPECT_LE(js_count(*held, "audio", "packets_received") - h1, 3u) << "mxcall kept sending audio while held";
  ASSERT_TRUE(js().command({{"cmd", "hold"}, {"on", false}})) << js().last_error();
  ASSERT_TRUE(mx().wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::RemoteHold && !u.on_hold; }))
      << "mxcall never learned of the resume";
  auto st = js().stats();
  ASSERT_TRUE(st);
  expect_audio_both_ways(id, 30, mx().client().summary(id)->stats.audio.packets_received,
                         js_count(*st, "audio", "packets_sent"), js_count(*st, "audio", "packets_received"));
}

// (f) Mute metadata both ways: mxcall's mute shows on js-sdk's remote feed, js-sdk's mute
// reaches mxcall as RemoteMetadata.
TEST_F(JsdkInterop, MuteIsAnnouncedBothWays) {
  const std::string id = mx_calls_js();
  ASSERT_FALSE(id.empty());
  auto since = js().mark();
  ASSERT_TRUE(mx().client().set_muted(id, media::MediaKind::Audio, true).ok());
  auto muted = js().wait_event(
      [&](const Json& e) { return e.value("event", "") == "remote_muted" && e.value("audio", false); },
      std::chrono::seconds(20), since);
  ASSERT_TRUE(muted) << "js-sdk's remote feed never showed mxcall muted";
  since = js().mark();
  ASSERT_TRUE(mx().client().set_muted(id, media::MediaKind::Audio, false).ok());
  ASSERT_TRUE(js().wait_event(
      [&](const Json& e) { return e.value("event", "") == "remote_muted" && !e.value("audio", true); },
      std::chrono::seconds(20), since))
      << "js-sdk's remote feed never showed mxcall unmuted";

  auto ok = js().command({{"cmd", "mute"}, {"on", true}});
  ASSERT_TRUE(ok) << js().last_error();
  EXPECT_TRUE(ok->value("audio_muted", false));
  ASSERT_TRUE(mx().wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::RemoteMetadata && u.audio_muted; }))
      << "mxcall never saw js-sdk muted";
  ASSERT_TRUE(js().command({{"cmd", "mute"}, {"on", false}})) << js().last_error();
  // RemoteMetadata updates are kept in order: the unmute is the one after the mute.
  bool seen_mute = false;
  EXPECT_TRUE(mx().wait_for([&](const CallUpdate& u) {
    if (u.call_id != id || u.kind != Kind::RemoteMetadata) return false;
    if (u.audio_muted) seen_mute = true;
    return seen_mute && !u.audio_muted;
  })) << "mxcall never saw js-sdk unmuted";
}

// True when js-sdk receives on no video m-line (RTCRtpTransceiver.currentDirection).
bool jsdk_receives_no_video(const Json& stats) {
  if (!stats.contains("transceivers")) return false;
  for (const auto& t : stats["transceivers"]) {
    const std::string current = t.value("current", "");
    if (t.value("kind", "") == "video" && (current == "recvonly" || current == "sendrecv")) return false;
  }
  return true;
}

// (h1) mxcall turns its camera off mid-call: js-sdk's m-line for it stops receiving and no
// video arrives while audio goes on; turned on again, video comes back on the same m-line.
TEST_F(JsdkInterop, CameraTurnedOffByMxcallIsGoneAtJsdkAndComesBack) {
  const std::string id = mx_calls_js();
  ASSERT_FALSE(id.empty());
  expect_audio_both_ways(id, 20);
  auto since = js().mark();
  ASSERT_TRUE(mx().client().set_video(id, true).ok());
  ASSERT_TRUE(js().wait_named("remote_video", since, id)) << "js-sdk never got mxcall's video";
  auto on = js().wait_stats([](const Json& s) { return js_count(s, "video", "packets_received") >= 30; });
  ASSERT_TRUE(on);
  ASSERT_FALSE(jsdk_receives_no_video(*on)) << on->dump();

  ASSERT_TRUE(mx().client().set_video(id, false).ok());
  auto off = js().wait_stats(jsdk_receives_no_video);
  ASSERT_TRUE(off && jsdk_receives_no_video(*off)) << "js-sdk still receives video: " << (off ? off->dump() : "");
  // Nothing more arrives while audio goes on (50 packets, ~1 s).
  const auto video_off = js_count(*off, "video", "packets_received");
  auto later = js().wait_stats([&](const Json& s) {
    return js_count(s, "audio", "packets_received") >= js_count(*off, "audio", "packets_received") + 50;
  });
  ASSERT_TRUE(later);
  EXPECT_LE(js_count(*later, "video", "packets_received"), video_off + 2) << later->dump();
  EXPECT_EQ(later->value("remote_video_tracks", -1), 0) << "js-sdk's feed still has mxcall's video: " << later->dump();
  std::printf("[removal] js-sdk after mxcall's camera went off: remote video tracks %d, feeds %s\n",
              later->value("remote_video_tracks", -1), later->value("remote_feeds", Json::array()).dump().c_str());

  ASSERT_TRUE(mx().client().set_video(id, true).ok());
  auto back = js().wait_stats([&](const Json& s) {
    return !jsdk_receives_no_video(s) && js_count(s, "video", "packets_received") >= video_off + 30;
  });
  ASSERT_TRUE(back);
  EXPECT_GE(js_count(*back, "video", "packets_received"), video_off + 30) << "video did not come back: " << back->dump();
  EXPECT_EQ(off->value("transceivers", Json::array()).size(), back->value("transceivers", Json::array()).size())
      << "no m-line may be added for the camera coming back";
}

// (h2) mxcall stops its screen share: js-sdk no longer receives it.
TEST_F(JsdkInterop, ScreenShareStoppedByMxcallIsGoneAtJsdk) {
  const std::string id = js_calls_mx();
  ASSERT_FALSE(id.empty());
  expect_audio_both_ways(id, 20);
  const auto since = js().mark();
  ASSERT_TRUE(mx().client().set_screenshare(id, true).ok());
  ASSERT_TRUE(js().wait_named("remote_video", since, id)) << "js-sdk never got mxcall's screen share";
  auto feeds = js().wait_event([&](const Json& e) {
    if (e.value("event", "") != "remote_feeds") return false;
    for (const auto& f : e["feeds"])
      if (f.value("purpose", "") == "m.screenshare") return true;
    return false;
  }, std::chrono::seconds(20), since);
  EXPECT_TRUE(feeds) << "js-sdk never showed a screen-share feed";
  ASSERT_TRUE(mx().client().set_screenshare(id, false).ok());
  auto off = js().wait_stats(jsdk_receives_no_video);
  ASSERT_TRUE(off && jsdk_receives_no_video(*off)) << "js-sdk still receives the screen share: " << (off ? off->dump() : "");
  for (const auto& f : off->value("remote_feeds", Json::array()))
    EXPECT_EQ(f.value("video", -1), 0) << "a js-sdk feed still has video: " << off->dump();
  std::printf("[removal] js-sdk after mxcall's screen share stopped: feeds %s\n",
              off->value("remote_feeds", Json::array()).dump().c_str());
  expect_audio_both_ways(id, 30, mx().client().summary(id)->stats.audio.packets_received,
                         js_count(*off, "audio", "packets_sent"), js_count(*off, "audio", "packets_received"));
}

// (h3) js-sdk stops its screen share (setScreensharingEnabled(false): removeTrack, renegotiate,
// the stream gone from its metadata): mxcall raises RemoteTrackRemoved for it.
TEST_F(JsdkInterop, ScreenShareStoppedByJsdkIsRemovedAtMxcall) {
  const std::string id = js_calls_mx();
  ASSERT_FALSE(id.empty());
  expect_audio_both_ways(id, 20);
  auto ok = js().command({{"cmd", "screenshare"}, {"on", true}});
  ASSERT_TRUE(ok) << js().last_error();
  ASSERT_TRUE(ok->value("screensharing", false)) << ok->dump();
  auto track = mx().wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::RemoteTrack && is_video(u); });
  ASSERT_TRUE(track) << "mxcall never got js-sdk's screen share";
  EXPECT_TRUE(track->screenshare);
  const auto since = mx().mark();
  ASSERT_TRUE(js().command({{"cmd", "screenshare"}, {"on", false}})) << js().last_error();
  auto removed = mx().wait_for(
      [&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::RemoteTrackRemoved && is_video(u); },
      std::chrono::seconds(20), since);
  ASSERT_TRUE(removed) << "mxcall never learned the screen share stopped";
  EXPECT_TRUE(removed->screenshare);
  const auto video = mx().client().summary(id)->stats.video.packets_received;
  EXPECT_TRUE(mx().wait_audio(id, mx().client().summary(id)->stats.audio.packets_received + 50));
  EXPECT_LE(mx().client().summary(id)->stats.video.packets_received, video + 2) << describe_mx(id);
}

// (h4) Trap 7 against libwebrtc: js-sdk adds video, mxcall answers without a camera; turning
// mxcall's camera on afterwards must reach js-sdk (webrtcbin alone cannot: "Could not reuse
// transceiver"), and js-sdk's video keeps arriving.
TEST_F(JsdkInterop, CameraTurnedOnByMxcallAfterAnsweringJsdksVideoReachesJsdk) {
  const std::string id = js_calls_mx();
  ASSERT_FALSE(id.empty());
  expect_audio_both_ways(id, 20);
  ASSERT_TRUE(js().command({{"cmd", "video"}, {"on", true}})) << js().last_error();
  ASSERT_TRUE(mx().wait_for([&](const CallUpdate& u) { return u.call_id == id && u.kind == Kind::FirstMedia && is_video(u); }))
      << "mxcall decoded no video from js-sdk";
  const auto since = js().mark();
  ASSERT_TRUE(mx().client().set_video(id, true).ok());
  ASSERT_TRUE(js().wait_named("remote_video", since, id)) << "js-sdk never got mxcall's video";
  auto st = js().wait_stats([](const Json& s) { return js_count(s, "video", "packets_received") >= 30; });
  ASSERT_TRUE(st);
  EXPECT_GE(js_count(*st, "video", "packets_received"), 30u) << st->dump();
  const auto mx_video = mx().client().summary(id)->stats.video.packets_received;
  auto s = mx().client().summary(id);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (s && s->stats.video.packets_received < mx_video + 30 && std::chrono::steady_clock::now() < until) {
    mx().wait_for([](const CallUpdate&) { return false; }, std::chrono::milliseconds(100));
    s = mx().client().summary(id);
  }
  ASSERT_TRUE(s);
  EXPECT_GE(s->stats.video.packets_received, mx_video + 30) << describe_mx(id);
}

// (g) js-sdk restarts ICE (RTCPeerConnection.restartIce(); js-sdk sends the new offer as
// m.call.negotiate): mxcall answers it with a fresh webrtcbin (new ICE credentials on both
// sides) and audio keeps flowing both ways afterwards.
void ice_restart_case(JsdkInterop& t, Party& mx, NodePeer& js, const std::string& id, const char* label) {
  t.expect_audio_both_ways(id, 20);
  auto before = js.stats();
  ASSERT_TRUE(before);
  const std::string local_ufrag = before->value("local_ufrag", "");
  const std::string remote_ufrag = before->value("remote_ufrag", "");
  ASSERT_FALSE(local_ufrag.empty());
  ASSERT_FALSE(remote_ufrag.empty());

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto ms_since = [&](Clock::time_point at) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(at - t0).count());
  };
  ASSERT_TRUE(js.command({{"cmd", "ice_restart"}})) << js.last_error();
  // mxcall's answer is applied: new ICE credentials on both sides.
  auto renegotiated = js.wait_stats(
      [&](const Json& s) {
        return s.value("local_ufrag", "") != local_ufrag && s.value("remote_ufrag", "") != remote_ufrag;
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(renegotiated);
  EXPECT_NE(renegotiated->value("local_ufrag", ""), local_ufrag) << "js-sdk never restarted ICE: " << renegotiated->dump();
  ASSERT_NE(renegotiated->value("remote_ufrag", ""), remote_ufrag)
      << "mxcall answered the restart with its old ICE credentials: " << renegotiated->dump();
  const auto t_answer = Clock::now();
  // ICE and DTLS up again on the new transport.
  auto after = js.wait_stats([&](const Json& s) { return s.value("connection", "") == "connected"; },
                             std::chrono::seconds(20));
  ASSERT_TRUE(after);
  ASSERT_EQ(after->value("connection", ""), "connected") << after->dump();
  const std::string ice = after->value("ice", "");
  EXPECT_TRUE(ice == "connected" || ice == "completed") << after->dump();
  const auto t_connected = Clock::now();
  // Audio flows again, on both sides, from here on.
  const auto mx_base = mx.client().summary(id)->stats.audio.packets_received;
  t.expect_audio_both_ways(id, 50, mx_base, js_count(*after, "audio", "packets_sent"),
                           js_count(*after, "audio", "packets_received"));
  std::printf("[timing] ICE restart from js-sdk (%s; a=setup js-sdk %s, mxcall %s): mxcall's answer applied at +%lld ms, js-sdk connected (ICE+DTLS) "
              "at +%lld ms, 50 more audio packets both ways at +%lld ms\n",
              label, after->value("local_dtls_setup", "?").c_str(),
              after->value("remote_dtls_setup", "?").c_str(), ms_since(t_answer), ms_since(t_connected), ms_since(Clock::now()));
  std::fflush(stdout);
  auto s = mx.client().summary(id);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->state, "connected");
}

TEST_F(JsdkInterop, IceRestartFromJsdkOnACallJsdkPlaced) {
  const std::string id = js_calls_mx();
  ASSERT_FALSE(id.empty());
  ice_restart_case(*this, mx(), js(), id, "js-sdk placed the call");
}

TEST_F(JsdkInterop, IceRestartFromJsdkOnACallMxcallPlaced) {
  const std::string id = mx_calls_js();
  ASSERT_FALSE(id.empty());
  ice_restart_case(*this, mx(), js(), id, "mxcall placed the call");
}

}  // namespace
}  // namespace mxcall::testing

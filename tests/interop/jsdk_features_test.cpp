// mxcall 1:1 call features against real matrix-js-sdk: video added mid-call by either side,
// hold and resume both ways, mute metadata both ways, and an ICE restart started by js-sdk.
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

// mxcall 1:1 calls against real matrix-js-sdk (43.0.0, @roamhq/wrtc as its WebRTC) over a real
// Synapse in an unencrypted DM: who calls whom, answer, reject, hangup, audio both ways, and
// the setup times each side sees (printed, not asserted).
#include "interop/interop_fixture.hpp"

namespace mxcall::testing {
namespace {

long long ms(const std::optional<std::chrono::milliseconds>& d) { return d ? static_cast<long long>(d->count()) : -1; }

void print_setup(const char* title, Party& mx, const std::string& id, const Json& js_connected) {
  auto s = mx.client().summary(id);
  ASSERT_TRUE(s);
  std::printf("[timing] %s: mxcall invite->answer %lld ms, invite->ICE connected %lld ms, invite->first audio %lld ms; "
              "js-sdk %s setup %lld ms",
              title, ms(s->invite_to_answer), ms(s->invite_to_ice_connected), ms(s->invite_to_first_audio),
              js_connected.value("direction", "?").c_str(), js_connected.value("setup_ms", -1LL));
  if (js_connected.contains("place_to_connected_ms") && js_connected["place_to_connected_ms"].is_number())
    std::printf(", placeCall->connected %lld ms", js_connected["place_to_connected_ms"].get<long long>());
  if (js_connected.contains("answer_to_connected_ms") && js_connected["answer_to_connected_ms"].is_number())
    std::printf(", answer->connected %lld ms", js_connected["answer_to_connected_ms"].get<long long>());
  std::printf("\n");
  std::fflush(stdout);
}

// (a) js-sdk calls mxcall: mxcall answers, audio both ways, js-sdk hangs up.
TEST_F(JsdkInterop, JsdkCallsMxcallAudioBothWaysAndJsdkHangsUp) {
  const auto since = js().mark();
  auto placed = js().command({{"cmd", "call"}, {"user", mx().user_id()}, {"video", false}});
  ASSERT_TRUE(placed) << js().last_error();
  const std::string id = (*placed)["call_id"];
  call_id_ = id;

  auto incoming = mx().wait_call(id, Kind::Incoming);
  ASSERT_TRUE(incoming) << "mxcall never rang";
  EXPECT_EQ(incoming->peer, js().user_id());
  EXPECT_FALSE(incoming->video);
  ASSERT_TRUE(mx().client().answer(id).ok());

  auto mx_connected = mx().wait_call(id, Kind::Connected);
  ASSERT_TRUE(mx_connected) << "mxcall never connected";
  auto js_connected = js().wait_named("connected", since, id);
  ASSERT_TRUE(js_connected) << "js-sdk never connected";
  EXPECT_EQ(js_connected->value("direction", ""), "outbound");
  EXPECT_TRUE(mx().wait_call(id, Kind::FirstMedia)) << "mxcall decoded no audio";
  expect_audio_both_ways(id, 50);
  print_setup("js-sdk calls mxcall", mx(), id, *js_connected);

  ASSERT_TRUE(js().command({{"cmd", "hangup"}})) << js().last_error();
  auto ended = mx().wait_call(id, Kind::Ended);
  ASSERT_TRUE(ended) << "mxcall never saw the hangup";
  EXPECT_EQ(ended->reason, "user_hangup");
  EXPECT_TRUE(ended->by_remote);
  auto js_hangup = js().wait_named("hangup", since, id);
  ASSERT_TRUE(js_hangup);
  EXPECT_EQ(js_hangup->value("by", ""), "local");
  EXPECT_EQ(mx().client().live_calls(), 0u);
}

// (b) mxcall calls js-sdk: js-sdk answers, audio both ways, mxcall hangs up.
TEST_F(JsdkInterop, MxcallCallsJsdkAudioBothWaysAndMxcallHangsUp) {
  const auto since = js().mark();
  auto id = mx().client().place_call(js().user_id(), false);
  ASSERT_TRUE(id.ok()) << id.error();
  call_id_ = *id;

  auto incoming = js().wait_named("incoming", since, *id);
  ASSERT_TRUE(incoming) << "js-sdk never rang";
  EXPECT_FALSE(incoming->value("video", true));
  EXPECT_EQ(incoming->value("peer", ""), mx().user_id());
  ASSERT_TRUE(js().command({{"cmd", "answer"}})) << js().last_error();

  ASSERT_TRUE(mx().wait_call(*id, Kind::Connected)) << "mxcall never connected";
  auto js_connected = js().wait_named("connected", since, *id);
  ASSERT_TRUE(js_connected) << "js-sdk never connected";
  EXPECT_EQ(js_connected->value("direction", ""), "inbound");
  EXPECT_TRUE(mx().wait_call(*id, Kind::FirstMedia)) << "mxcall decoded no audio";
  expect_audio_both_ways(*id, 50);
  print_setup("mxcall calls js-sdk", mx(), *id, *js_connected);

  ASSERT_TRUE(mx().client().hangup(*id).ok());
  auto js_hangup = js().wait_named("hangup", since, *id);
  ASSERT_TRUE(js_hangup) << "js-sdk never saw the hangup";
  EXPECT_EQ(js_hangup->value("reason", ""), "user_hangup");
  EXPECT_EQ(js_hangup->value("by", ""), "remote");
  auto ended = mx().wait_call(*id, Kind::Ended);
  ASSERT_TRUE(ended);
  EXPECT_FALSE(ended->by_remote);
}

// (c) mxcall rejects js-sdk's call: js-sdk's outgoing call ends, as rejected by the remote.
TEST_F(JsdkInterop, MxcallRejectsJsdkCall) {
  const auto since = js().mark();
  auto placed = js().command({{"cmd", "call"}, {"user", mx().user_id()}, {"video", false}});
  ASSERT_TRUE(placed) << js().last_error();
  const std::string id = (*placed)["call_id"];
  call_id_ = id;
  ASSERT_TRUE(mx().wait_call(id, Kind::Incoming)) << "mxcall never rang";
  ASSERT_TRUE(mx().client().reject(id).ok());

  auto js_hangup = js().wait_named("hangup", since, id);
  ASSERT_TRUE(js_hangup) << "js-sdk's call kept going after the reject";
  // js-sdk ends a rejected outgoing call as hung up by the remote party with user_hangup (an
  // m.call.reject carries no reason).
  EXPECT_EQ(js_hangup->value("by", ""), "remote");
  EXPECT_EQ(js_hangup->value("reason", ""), "user_hangup");
  EXPECT_FALSE(js().wait_named("connected", since, id, std::chrono::milliseconds(0)));
  auto ended = mx().wait_call(id, Kind::Ended);
  ASSERT_TRUE(ended);
  EXPECT_FALSE(ended->by_remote);
  EXPECT_EQ(mx().client().live_calls(), 0u);
}

// Back to back: a second call in the same DM right after the first works (js-sdk calls again,
// then mxcall calls again), and the setup times of warm calls.
TEST_F(JsdkInterop, RepeatedCallsInTheSameDmConnect) {
  for (int round = 0; round < 2; ++round) {
    const auto since = js().mark();
    const std::string id = round == 0 ? js_calls_mx() : mx_calls_js();
    ASSERT_FALSE(id.empty());
    auto js_connected = js().wait_named("connected", since, id);
    ASSERT_TRUE(js_connected);
    expect_audio_both_ways(id, 20);
    print_setup(round == 0 ? "js-sdk calls mxcall (warm)" : "mxcall calls js-sdk (warm)", mx(), id, *js_connected);
    ASSERT_TRUE(mx().client().hangup(id).ok());
    ASSERT_TRUE(js().wait_named("hangup", since, id));
    ASSERT_TRUE(mx().wait_call(id, Kind::Ended));
  }
}

}  // namespace
}  // namespace mxcall::testing

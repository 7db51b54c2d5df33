// mxcall against matrix-js-sdk: one mxcall Client (tests/calls/call_fixture.hpp's Party) and one
// js-sdk peer (node, tests/interop/jsdk_peer.mjs) shared by every test of a binary, on the
// binary's own Synapse, in a loopback-only network namespace. Each test makes its own call(s)
// and TearDown ends whatever is still live, so tests do not depend on each other's calls.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <memory>
#include <string>

#include "calls/call_fixture.hpp"
#include "interop/node_peer.hpp"

namespace mxcall::testing {

using Json = nlohmann::json;
using Kind = CallUpdate::Kind;

inline std::uint64_t js_count(const Json& stats, const char* kind, const char* what) {
  if (!stats.contains(kind) || !stats[kind].contains(what)) return 0;
  return stats[kind][what].get<std::uint64_t>();
}

class JsdkInterop : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(std::filesystem::path(MXCALL_INTEROP_DIR) / "node_modules" / "matrix-js-sdk"))
      throw std::runtime_error("matrix-js-sdk is not installed in " MXCALL_INTEROP_DIR ": run scripts/setup");
    mx_ = std::make_unique<Party>("mx", /*auto_join=*/true);
    const std::string js_user = register_unique_user("jsdk", "pw");
    js_ = std::make_unique<NodePeer>(synapse().base_url(), js_user, "pw");
  }
  static void TearDownTestSuite() {
    js_.reset();
    mx_.reset();
  }

  void SetUp() override {
    ASSERT_TRUE(mx_ && js_) << "the shared mxcall client or js-sdk peer did not start";
  }

  void TearDown() override {
    if (call_id_.empty() || !mx_ || !js_) return;
    auto s = mx_->client().summary(call_id_);
    if (s && s->state != "ended") {
      const auto since = js_->mark();
      (void)mx_->client().hangup(call_id_);
      js_->wait_named("hangup", since, call_id_, std::chrono::seconds(10));
    }
    // A call mxcall never saw (or a failed test's leftovers) must not outlive the test on the
    // js-sdk side either; hangup is a no-op there for an ended call.
    js_->command({{"cmd", "hangup"}}, std::chrono::seconds(5));
    mx_->wait_call(call_id_, Kind::Ended, std::chrono::seconds(5));
  }

  Party& mx() { return *mx_; }
  NodePeer& js() { return *js_; }

  // mxcall calls js-sdk, js-sdk answers; both connected. Empty on failure (already reported).
  std::string mx_calls_js(bool video = false) {
    const auto since = js().mark();
    auto id = mx().client().place_call(js().user_id(), video);
    EXPECT_TRUE(id.ok()) << id.error();
    if (!id.ok()) return {};
    call_id_ = *id;
    auto incoming = js().wait_named("incoming", since, *id);
    EXPECT_TRUE(incoming) << "js-sdk never rang for " << *id;
    if (!incoming) return {};
    Json answer = {{"cmd", "answer"}};
    if (video) answer["video"] = true;
    EXPECT_TRUE(js().command(answer)) << js().last_error();
    EXPECT_TRUE(mx().wait_call(*id, Kind::Connected)) << "mxcall never connected";
    EXPECT_TRUE(js().wait_named("connected", since, *id)) << "js-sdk never connected";
    return ::testing::Test::HasFailure() ? std::string() : *id;
  }

  // js-sdk calls mxcall, mxcall answers; both connected.
  std::string js_calls_mx(bool video = false) {
    const auto since = js().mark();
    auto placed = js().command({{"cmd", "call"}, {"user", mx().user_id()}, {"video", video}});
    EXPECT_TRUE(placed) << js().last_error();
    if (!placed) return {};
    const std::string id = (*placed)["call_id"];
    call_id_ = id;
    EXPECT_TRUE(mx().wait_call(id, Kind::Incoming)) << "mxcall never rang for " << id;
    EXPECT_TRUE(mx().client().answer(id, video).ok());
    EXPECT_TRUE(mx().wait_call(id, Kind::Connected)) << "mxcall never connected";
    EXPECT_TRUE(js().wait_named("connected", since, id)) << "js-sdk never connected";
    return ::testing::Test::HasFailure() ? std::string() : id;
  }

  // Audio flows both ways: mxcall's counters and js-sdk's getStats both pass `packets` more than
  // the given baselines.
  void expect_audio_both_ways(const std::string& id, std::uint64_t packets, std::uint64_t mx_base = 0,
                              std::uint64_t js_sent_base = 0, std::uint64_t js_recv_base = 0) {
    EXPECT_TRUE(mx().wait_audio(id, mx_base + packets)) << "mxcall audio counters stalled: "
                                                        << describe_mx(id);
    auto st = js().wait_stats([&](const Json& s) {
      return js_count(s, "audio", "packets_sent") >= js_sent_base + packets &&
             js_count(s, "audio", "packets_received") >= js_recv_base + packets;
    });
    ASSERT_TRUE(st) << "no stats from js-sdk";
    EXPECT_GE(js_count(*st, "audio", "packets_sent"), js_sent_base + packets) << st->dump();
    EXPECT_GE(js_count(*st, "audio", "packets_received"), js_recv_base + packets) << st->dump();
  }

  std::string describe_mx(const std::string& id) {
    auto s = mx().client().summary(id);
    if (!s) return "(no summary)";
    char buf[256];
    std::snprintf(buf, sizeof buf, "state %s; audio sent %llu received %llu; video sent %llu received %llu",
                  s->state.c_str(), static_cast<unsigned long long>(s->stats.audio.packets_sent),
                  static_cast<unsigned long long>(s->stats.audio.packets_received),
                  static_cast<unsigned long long>(s->stats.video.packets_sent),
                  static_cast<unsigned long long>(s->stats.video.packets_received));
    return buf;
  }

  std::string call_id_;  // the call TearDown ends if still live

  static inline std::unique_ptr<Party> mx_;
  static inline std::unique_ptr<NodePeer> js_;
};

}  // namespace mxcall::testing

// A Synapse with tight message rate limits and a TURN secret: the transport honours
// Synapse's real 429s with no loss and no duplicate, and reads real TURN credentials.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>

#include "integration/test_client.hpp"
#include "mxcall/matrix/sender.hpp"

namespace mxcall::testing {

nlohmann::json synapse_overrides() {
  // 1 message/s after a burst of 3: the burst below hits the limit unless every request took
  // over a second (so a loaded CI machine cannot make this test vacuous).
  return {{"rc_message", {{"per_second", 1}, {"burst_count", 3}}},
          {"turn_uris", {"turn:127.0.0.1:3478?transport=udp"}},
          {"turn_shared_secret", "it-secret"},
          {"turn_user_lifetime", "1h"}};
}

namespace {

using matrix::Json;

TEST(RateLimit, BurstIsThrottledByRealSynapseAndArrivesCompleteWithoutDuplicates) {
  auto alice = TestUser::create("alice");
  auto bob = TestUser::create("bob");
  const auto room = make_room(alice, bob);
  ASSERT_FALSE(room.empty());
  bob.start_sync();

  constexpr int kBurst = 12;
  matrix::Sender sender(synapse().base_url(), alice.api->access_token());
  std::atomic<int> answered_429{0};
  sender.set_observer([&](const matrix::HttpRequest&, const matrix::HttpResponse& r) {
    if (r.status == 429) ++answered_429;
  });
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  for (int i = 0; i < kBurst; ++i)
    sender.send_event(room, "m.room.message", Json{{"msgtype", "m.text"}, {"body", std::to_string(i)}},
                      [&](const Result<std::string>& r) { r.ok() ? ++ok : ++failed; });
  ASSERT_TRUE(sender.wait_idle(std::chrono::seconds(120)));
  EXPECT_EQ(ok.load(), kBurst);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(answered_429.load(), 0) << "the burst never hit Synapse's rate limit: the test proves nothing";
  EXPECT_EQ(sender.stats().rate_limited, static_cast<std::uint64_t>(answered_429.load()));

  ASSERT_TRUE(bob.seen->wait([&](const SyncCollector& s) {
    return s.timeline_of_type("m.room.message").size() >= kBurst;
  })) << "not every message arrived";
  auto got = bob.seen->snapshot_of_type("m.room.message");
  EXPECT_EQ(got.size(), static_cast<std::size_t>(kBurst));
  std::set<std::string> bodies;
  for (std::size_t i = 0; i < got.size(); ++i) {
    bodies.insert(got[i].content.value("body", ""));
    EXPECT_EQ(got[i].content.value("body", ""), std::to_string(i)) << "out of order at " << i;
  }
  EXPECT_EQ(bodies.size(), static_cast<std::size_t>(kBurst));
  bob.sync->stop();
}

TEST(Turn, CredentialsComeFromTheHomeserver) {
  auto alice = TestUser::create("alice");
  auto turn = alice.api->turn_server();
  ASSERT_TRUE(turn.ok()) << turn.error();
  ASSERT_TRUE(turn->has_value());
  const auto& t = **turn;
  EXPECT_EQ(t.uris, std::vector<std::string>{"turn:127.0.0.1:3478?transport=udp"});
  EXPECT_EQ(t.ttl_s, 3600);
  EXPECT_NE(t.username.find(alice.user_id), std::string::npos);  // "<expiry>:<user id>"
  EXPECT_FALSE(t.password.empty());
}

}  // namespace
}  // namespace mxcall::testing

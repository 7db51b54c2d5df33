// The simulator's own parts: the homeserver keeps the promises the scenarios rely on (txn
// dedup, to-device until acknowledged, 429s, restarts, per-sender order), and a seed replays.
#include <gtest/gtest.h>

#include "mxcall/log.hpp"
#include "scenarios.hpp"
#include "sim.hpp"
#include "sim_homeserver.hpp"

namespace mxcall::sim {
namespace {

struct Fixture {
  World world{7, false};
  SimConfig config;
  SimHomeserver hs{world, config, Rng(1)};
  DeviceRef alice{"@alice:sim", "A1"}, bob{"@bob:sim", "B1"};
  std::string room;
  Fixture() {
    hs.add_device(alice);
    hs.add_device(bob);
    room = hs.create_room({alice.user_id, bob.user_id});
    world.run_until(10);
  }
  matrix::HttpResponse call(const DeviceRef& d, const HsRequest& r) {
    matrix::HttpResponse out;
    hs.handle(d, r, [&](matrix::HttpResponse x) { out = std::move(x); });
    world.run_until(world.now() + 1);
    return out;
  }
  Json sync(const DeviceRef& d, const std::string& since) {
    return Json::parse(call(d, req::Sync{since, 0, false}).body);
  }
};

TEST(SimHomeserver, RetriedTxnIsStoredOnce) {
  Fixture f;
  const req::SendEvent send{f.room, "m.call.hangup", "txn1", Json{{"call_id", "c"}}};
  const auto first = f.call(f.alice, send);
  const auto again = f.call(f.alice, send);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.body, again.body);
  EXPECT_EQ(f.hs.events_stored(), 3u);  // two joins and the hangup
}

TEST(SimHomeserver, ToDeviceStaysUntilATokenAcknowledgesIt) {
  Fixture f;
  matrix::ToDeviceMessages m;
  m[f.bob.user_id]["*"] = Json{{"k", 1}};
  ASSERT_EQ(f.call(f.alice, req::SendToDevice{"m.test", "t1", m}).status, 200);
  const Json first = f.sync(f.bob, "");
  ASSERT_EQ(first["to_device"]["events"].size(), 1u);
  EXPECT_EQ(f.sync(f.bob, "")["to_device"]["events"].size(), 1u);  // not acknowledged yet
  EXPECT_EQ(f.sync(f.bob, first["next_batch"])["to_device"]["events"].size(), 0u);
  EXPECT_EQ(f.sync(f.bob, "")["to_device"]["events"].size(), 0u);  // deleted
}

TEST(SimHomeserver, RateLimitAnswers429WithRetryAfter) {
  Fixture f;
  f.config.hs.rate_limit = FaultSite{true, 1};
  f.config.hs.burst = 2;
  f.config.hs.refill = 1'000;
  int limited = 0;
  for (int i = 0; i < 3; ++i) {
    const auto r = f.call(f.alice, req::SendEvent{f.room, "m.x", "t" + std::to_string(i), Json::object()});
    if (r.status == 429) {
      ++limited;
      EXPECT_GT(Json::parse(r.body)["retry_after_ms"].get<int>(), 0);
    }
  }
  EXPECT_EQ(limited, 1);
}

TEST(SimHomeserver, RestartResetsParkedPollsAndRefusesWhileDown) {
  Fixture f;
  const std::string since = f.sync(f.alice, "")["next_batch"];
  matrix::HttpResponse parked;
  bool answered = false;
  f.hs.handle(f.alice, req::Sync{since, 30'000, false}, [&](matrix::HttpResponse r) { parked = r; answered = true; });
  f.world.run_until(f.world.now() + 100);
  EXPECT_FALSE(answered);
  f.hs.restart(1'000);
  ASSERT_TRUE(answered);
  EXPECT_EQ(parked.outcome, matrix::HttpOutcome::ConnectFailed);
  EXPECT_EQ(f.call(f.alice, req::SendEvent{f.room, "m.x", "t", Json::object()}).outcome, matrix::HttpOutcome::ConnectFailed);
  f.world.run_until(f.world.now() + 2'000);
  EXPECT_EQ(f.call(f.alice, req::SendEvent{f.room, "m.x", "t", Json::object()}).status, 200);
}

TEST(SimHomeserver, DelayedDeliveryKeepsEachSendersOrder) {
  Fixture f;
  f.config.hs.federation = FaultSite{true, 1};
  f.config.hs.federation_max = 3'000;
  for (int i = 0; i < 20; ++i) f.call(f.alice, req::SendEvent{f.room, "m.x", "t" + std::to_string(i), Json{{"n", i}}});
  f.world.run_until(f.world.now() + 5'000);
  const Json all = f.sync(f.bob, "s2_0");
  int expected = 0;
  for (const auto& ev : all["rooms"]["join"][f.room]["timeline"]["events"]) EXPECT_EQ(ev["content"]["n"], expected++);
  EXPECT_EQ(expected, 10);  // one batch holds at most batch_limit events
}

TEST(SimRun, ASeedReplaysExactlyAndSeedsDiffer) {
  log::set_level(log::Level::Off);
  for (const auto& s : all_scenarios()) {
    RunOptions o;
    o.scenario = s.name;
    o.seed = 42;
    const RunResult a = run_sim(o), b = run_sim(o);
    o.seed = 43;
    const RunResult c = run_sim(o);
    EXPECT_TRUE(a.ok) << a.violation;
    EXPECT_EQ(a.digest, b.digest) << s.name;
    EXPECT_EQ(a.items, b.items) << s.name;
    EXPECT_NE(a.digest, c.digest) << s.name;
  }
}

}  // namespace
}  // namespace mxcall::sim

// Restarts: Synapse killed in the middle of a long-poll and started again (no event lost, the
// since token resumes), and a client restarted from its store (same device, saved token).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <filesystem>
#include <future>

#include "integration/test_client.hpp"
#include "mxcall/matrix/sender.hpp"
#include "mxcall/matrix/session.hpp"

namespace mxcall::testing {
namespace {

using matrix::Json;

std::vector<std::string> bodies(SyncCollector& c) {
  std::vector<std::string> out;
  for (const auto& ev : c.snapshot_of_type("m.room.message")) out.push_back(ev.content.value("body", ""));
  return out;
}

bool wait_for_body(SyncCollector& c, const std::string& body) {
  return c.wait([&](const SyncCollector& s) {
    for (const auto& ev : s.timeline_of_type("m.room.message"))
      if (ev.content.value("body", "") == body) return true;
    return false;
  });
}

TEST(Restart, SynapseKilledDuringLongPollLosesNoEvent) {
  auto alice = TestUser::create("alice");
  auto bob = TestUser::create("bob");
  const auto room = make_room(alice, bob);
  std::atomic<int> sync_requests{0};
  bob.start_sync();
  bob.sync->set_observer([&](const matrix::HttpRequest&, const matrix::HttpResponse&) { ++sync_requests; });

  matrix::RetryPolicy patient;
  patient.initial_backoff = std::chrono::milliseconds(100);
  patient.max_backoff = std::chrono::milliseconds(1000);
  patient.max_attempts = 100;
  matrix::Sender sender(synapse().base_url(), alice.api->access_token(), patient);
  sender.send_event(room, "m.room.message", text("before"));
  ASSERT_TRUE(wait_for_body(*bob.seen, "before"));
  const std::string token_before = bob.sync->since();

  // Bob is now parked in a 30 s long-poll; kill the server under it.
  ASSERT_TRUE(synapse().kill().ok());
  ASSERT_FALSE(synapse().alive());
  std::promise<Result<std::string>> during;
  sender.send_event(room, "m.room.message", text("during"),
                    [&](const Result<std::string>& r) { during.set_value(r); });
  ASSERT_TRUE(synapse().restart().ok());
  auto during_id = during.get_future().get();
  ASSERT_TRUE(during_id.ok()) << during_id.error();
  sender.send_event(room, "m.room.message", text("after"));

  ASSERT_TRUE(wait_for_body(*bob.seen, "after"));
  ASSERT_TRUE(wait_for_body(*bob.seen, "during"));
  EXPECT_EQ(bodies(*bob.seen), (std::vector<std::string>{"before", "during", "after"}));
  // The token moves once the handler of the batch has returned (just after the body was seen).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (bob.sync->since() == token_before && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(bob.sync->since(), token_before);
  EXPECT_GT(bob.sync->stats().retries, 0u) << "the long-poll never noticed the restart";
  bob.sync->stop();
}

TEST(Restart, ClientResumesFromItsSavedTokenAndDevice) {
  auto alice = TestUser::create("alice");
  auto bob = TestUser::create("bob");
  const auto room = make_room(alice, bob);
  char tmpl[] = "/tmp/mxcall-store-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path db = std::filesystem::path(tmpl) / "bob.db";
  const std::string localpart = bob.user_id.substr(1, bob.user_id.find(':') - 1);

  std::string device;
  {
    auto store = std::shared_ptr<store::Store>(store::Store::open(db).value().release());
    matrix::Api api(synapse().base_url());
    auto session = matrix::login_or_restore(api, *store, localpart, bob.password);
    ASSERT_TRUE(session.ok()) << session.error();
    device = session->device_id;
    TestUser first;
    first.api = std::make_unique<matrix::Api>(synapse().base_url());
    first.api->set_access_token(session->access_token);
    first.start_sync(store);
    ASSERT_TRUE(alice.api->send_event(room, "m.room.message", text("first"), matrix::new_txn_id()).ok());
    ASSERT_TRUE(wait_for_body(*first.seen, "first"));
    first.sync->stop();  // the process "exits"
  }
  ASSERT_TRUE(alice.api->send_event(room, "m.room.message", text("while away"), matrix::new_txn_id()).ok());
  {
    auto store = std::shared_ptr<store::Store>(store::Store::open(db).value().release());
    const auto saved_token = store->load_sync_token().value();
    ASSERT_TRUE(saved_token.has_value());
    matrix::Api api(synapse().base_url());
    std::atomic<int> logins{0};
    api.set_observer([&](const matrix::HttpRequest& r, const matrix::HttpResponse&) {
      if (r.url.find("/login") != std::string::npos) ++logins;
    });
    auto session = matrix::login_or_restore(api, *store, localpart, bob.password);
    ASSERT_TRUE(session.ok()) << session.error();
    EXPECT_EQ(session->device_id, device) << "a restart must not create a new device";
    EXPECT_EQ(logins.load(), 0);

    TestUser second;
    second.api = std::make_unique<matrix::Api>(synapse().base_url());
    second.api->set_access_token(session->access_token);
    second.start_sync(store);
    ASSERT_TRUE(wait_for_body(*second.seen, "while away"));
    // Resumed from the saved token: what was seen before the restart is not delivered again.
    EXPECT_EQ(bodies(*second.seen), std::vector<std::string>{"while away"});
    second.sync->stop();
  }
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace mxcall::testing

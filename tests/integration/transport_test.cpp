// The transport against a real Synapse: login, rooms, events through /sync, batched to-device,
// txn-id idempotency, TURN and key endpoints.
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "integration/test_client.hpp"
#include "mxcall/matrix/sender.hpp"

namespace mxcall::testing {
namespace {

using matrix::Json;

TEST(Transport, RegisterLoginAndWhoami) {
  auto alice = TestUser::create("alice");
  auto who = alice.api->whoami();
  ASSERT_TRUE(who.ok()) << who.error();
  EXPECT_EQ(*who, alice.user_id);
  EXPECT_FALSE(alice.device_id.empty());

  matrix::Api wrong(synapse().base_url());
  auto bad = wrong.login_password(alice.user_id, "wrong password");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::Matrix);
  EXPECT_EQ(bad.error().errcode, "M_FORBIDDEN");
  EXPECT_EQ(wrong.stats().requests, 1u);  // a 4xx is never retried
}

TEST(Transport, DirectRoomInviteAndEventArriveThroughSync) {
  auto alice = TestUser::create("alice");
  auto bob = TestUser::create("bob");
  bob.start_sync();
  matrix::CreateRoomRequest req;
  req.invite = {bob.user_id};
  req.is_direct = true;
  req.preset = "trusted_private_chat";
  auto room = alice.api->create_room(req);
  ASSERT_TRUE(room.ok()) << room.error();

  ASSERT_TRUE(bob.seen->wait([&](const SyncCollector& s) {
    for (const auto& inv : s.invites_)
      if (inv.room_id == *room) return true;
    return false;
  })) << "bob never saw the invite";
  for (const auto& inv : bob.seen->invites_) {
    if (inv.room_id != *room) continue;
    EXPECT_EQ(inv.inviter, alice.user_id);
    EXPECT_TRUE(inv.is_direct);
  }
  ASSERT_TRUE(bob.api->join_room(*room).ok());

  matrix::Sender sender(synapse().base_url(), alice.api->access_token());
  std::promise<Result<std::string>> sent;
  sender.send_event(*room, "m.room.message", Json{{"msgtype", "m.text"}, {"body", "ring ring"}},
                    [&](const Result<std::string>& r) { sent.set_value(r); });
  auto event_id = sent.get_future().get();
  ASSERT_TRUE(event_id.ok()) << event_id.error();

  ASSERT_TRUE(bob.seen->wait([&](const SyncCollector& s) {
    for (const auto& ev : s.timeline_)
      if (ev.event_id == *event_id) return true;
    return false;
  }));
  for (const auto& ev : bob.seen->snapshot_of_type("m.room.message")) {
    if (ev.event_id != *event_id) continue;
    EXPECT_EQ(ev.sender, alice.user_id);
    EXPECT_EQ(ev.room_id, *room);
    EXPECT_EQ(ev.content["body"], "ring ring");
    EXPECT_TRUE(ev.age.has_value());
  }
  bob.sync->stop();
}

TEST(Transport, OneSendToDeviceRequestReachesThreeDevicesOfTwoUsers) {
  auto alice = TestUser::create("alice");
  auto bob1 = TestUser::create("bob");
  auto bob2 = bob1.another_device();
  auto carol = TestUser::create("carol");
  ASSERT_NE(bob1.device_id, bob2.device_id);
  for (TestUser* u : {&bob1, &bob2, &carol}) u->start_sync();

  int requests = 0;
  alice.api->set_observer([&](const matrix::HttpRequest&, const matrix::HttpResponse&) { ++requests; });
  matrix::ToDeviceBatch batch;
  batch.event_type = "org.mxcall.test";
  batch.txn_id = matrix::new_txn_id();
  for (TestUser* u : {&bob1, &bob2, &carol})
    batch.messages[u->user_id][u->device_id] = Json{{"for", u->device_id}};
  ASSERT_EQ(batch.device_count(), 3u);
  auto st = alice.api->send_to_device(batch);
  ASSERT_TRUE(st.ok()) << st.error();
  EXPECT_EQ(requests, 1);

  for (TestUser* u : {&bob1, &bob2, &carol}) {
    ASSERT_TRUE(u->seen->wait([](const SyncCollector& s) { return !s.to_device_.empty(); }))
        << u->device_id << " got nothing";
    auto got = u->seen->to_device_snapshot();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].type, "org.mxcall.test");
    EXPECT_EQ(got[0].sender, alice.user_id);
    EXPECT_EQ(got[0].content["for"], u->device_id);  // each device got its own content
    u->sync->stop();
  }
}

TEST(Transport, RepeatedTxnIdIsStoredOnce) {
  auto alice = TestUser::create("alice");
  auto bob = TestUser::create("bob");
  const auto room = make_room(alice, bob, true);
  const auto txn = matrix::new_txn_id();
  auto first = alice.api->send_event(room, "m.room.message", text("once"), txn);
  auto second = alice.api->send_event(room, "m.room.message", text("once"), txn);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  auto third = alice.api->send_event(room, "m.room.message", text("twice"), matrix::new_txn_id());
  ASSERT_TRUE(third.ok());
  EXPECT_NE(*third, *first);

  bob.start_sync();
  ASSERT_TRUE(bob.seen->wait([&](const SyncCollector& s) {
    for (const auto& ev : s.timeline_)
      if (ev.event_id == *third) return true;
    return false;
  }));
  int copies = 0;
  for (const auto& ev : bob.seen->snapshot_of_type("m.room.message")) copies += ev.event_id == *first;
  EXPECT_EQ(copies, 1);
  bob.sync->stop();
}

TEST(Transport, StateEventsAndTypedErrors) {
  auto alice = TestUser::create("alice");
  auto bob = TestUser::create("bob");
  const auto room = make_room(alice, bob, true);
  auto ev = alice.api->send_state(room, "org.matrix.msc3401.call", "call-1",
                                  Json{{"m.intent", "m.room"}, {"m.type", "m.voice"}});
  ASSERT_TRUE(ev.ok()) << ev.error();
  auto back = bob.api->get_state(room, "org.matrix.msc3401.call", "call-1");
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ((*back)["m.intent"], "m.room");

  auto missing = bob.api->get_state(room, "org.matrix.msc3401.call", "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errcode, "M_NOT_FOUND");
  auto stranger = TestUser::create("mallory");
  auto denied = stranger.api->send_event(room, "m.room.message", Json::object(), matrix::new_txn_id());
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().errcode, "M_FORBIDDEN");
}

TEST(Transport, TurnAndKeyEndpointsAnswer) {
  auto alice = TestUser::create("alice");
  auto turn = alice.api->turn_server();
  ASSERT_TRUE(turn.ok()) << turn.error();
  EXPECT_FALSE(turn->has_value());  // this Synapse has no TURN configured

  Json upload = {{"one_time_keys", Json::object()}};
  auto up = alice.api->keys_upload(upload);
  ASSERT_TRUE(up.ok()) << up.error();
  EXPECT_TRUE(up->contains("one_time_key_counts"));
  auto query = alice.api->keys_query(Json{{"device_keys", {{alice.user_id, Json::array()}}}});
  ASSERT_TRUE(query.ok()) << query.error();
  EXPECT_TRUE(query->contains("device_keys"));
  auto claim = alice.api->keys_claim(Json{{"one_time_keys", {{alice.user_id, {{alice.device_id, "signed_curve25519"}}}}}});
  ASSERT_TRUE(claim.ok()) << claim.error();
  EXPECT_TRUE(claim->contains("one_time_keys"));
}

TEST(Transport, StoppingDuringALongPollReturnsPromptly) {
  auto bob = TestUser::create("bob");
  bob.start_sync();
  // The initial sync returns at once; the next request is a 30 s long-poll. Send one event so
  // a batch arrives, after which the loop is certainly parked in a fresh long-poll.
  auto alice = TestUser::create("alice");
  const auto room = make_room(alice, bob);
  ASSERT_TRUE(alice.api->send_event(room, "m.room.message", text("wake"), matrix::new_txn_id()).ok());
  ASSERT_TRUE(bob.seen->wait([](const SyncCollector& s) { return !s.timeline_.empty(); }));
  const auto start = std::chrono::steady_clock::now();
  bob.sync->stop();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(2)) << "stop() waited for the long-poll instead of aborting it";
  EXPECT_FALSE(bob.sync->running());
}

}  // namespace
}  // namespace mxcall::testing

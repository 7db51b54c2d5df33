// GroupDriver over the in-memory homeserver of group_driver_harness.hpp: concurrent first
// joins converge on one call, a crashed device rejoins from its store and ends its old peer
// calls properly, and the keys of a join's peers are fetched ahead of its first delivery.
#include <gtest/gtest.h>

#include <algorithm>

#include "unit/group_driver_harness.hpp"

namespace mxcall::testing {
namespace {

using namespace std::chrono_literals;
using GKind = GroupUpdate::Kind;

std::string conf_of(DriverNode& n) {
  auto s = n.driver->summary(DriverHub::kRoom);
  return s ? s->conf_id : std::string();
}

bool terminated_by(const DriverNode& n, const std::string& conf) {
  for (const auto& [type, key, content] : n.puts)
    if (type == events::type::kGroupCall && key == conf && content.contains("m.terminated")) return true;
  return false;
}

std::vector<nlohmann::json> hangups_in(const std::vector<client::OutgoingToDevice>& messages) {
  std::vector<nlohmann::json> out;
  for (const auto& m : messages)
    if (m.type == "m.call.hangup") out.push_back(m.content);
  return out;
}

void expect_full_mesh(const std::vector<DriverNode*>& nodes, const std::string& conf) {
  for (auto* n : nodes) {
    EXPECT_EQ(conf_of(*n), conf) << n->user;
    const auto connected = n->connected_in(conf);
    for (auto* other : nodes)
      if (other != n) {
        EXPECT_TRUE(connected.count(other->user + "|" + other->device)) << n->user << " -> " << other->user;
      }
  }
}

TEST(GroupDriver, ConcurrentFirstJoinsConvergeOnTheNewestCall) {
  DriverHub hub;
  auto& a = hub.add("@a:x", "A1");
  auto& b = hub.add("@b:x", "B1");
  auto& c = hub.add("@c:x", "C1");
  // Nobody has seen a call: each creates its own.
  std::vector<std::string> created;
  for (auto* n : {&a, &b, &c}) {
    auto conf = n->driver->join(DriverHub::kRoom, {}, hub.now);
    ASSERT_TRUE(conf.ok()) << conf.error();
    created.push_back(*conf);
  }
  EXPECT_EQ(std::set<std::string>(created.begin(), created.end()).size(), 3u);
  hub.run(3s);
  // Their call events went out in the order a, b, c: c's is the newest and wins.
  expect_full_mesh({&a, &b, &c}, created[2]);
  // The others were alone in their calls when they moved: those are terminated.
  EXPECT_TRUE(terminated_by(a, created[0]));
  EXPECT_TRUE(terminated_by(b, created[1]));
  EXPECT_FALSE(terminated_by(c, created[2]));
  for (auto* n : {&a, &b}) {
    const auto left = std::count_if(n->updates.begin(), n->updates.end(),
                                    [](const GroupUpdate& u) { return u.kind == GKind::Left && u.reason == "moved"; });
    EXPECT_EQ(left, 1) << n->user;
  }
  EXPECT_EQ(hub.nodes.size(), 3u);
  EXPECT_EQ(a.driver->live_conf_id(DriverHub::kRoom), created[2]);
}

TEST(GroupDriver, ParticipantsOfACallThatLosesToANewerOneMoveTogetherWithoutTerminatingIt) {
  DriverHub hub;
  auto& a = hub.add("@a:x", "A1");
  auto& b = hub.add("@b:x", "B1");
  auto conf = a.driver->join(DriverHub::kRoom, {}, hub.now);
  ASSERT_TRUE(conf.ok());
  hub.run(100ms);
  ASSERT_EQ(b.driver->live_conf_id(DriverHub::kRoom), *conf);
  ASSERT_TRUE(b.driver->join(DriverHub::kRoom, {}, hub.now).ok());
  hub.run(2s);
  expect_full_mesh({&a, &b}, *conf);

  // Another client (js-sdk, say) wrote a newer call event.
  matrix::RoomEvent ev;
  ev.room_id = DriverHub::kRoom;
  ev.type = std::string(events::type::kGroupCall);
  ev.sender = "@z:x";
  ev.state_key = "newer-conf";
  ev.origin_server_ts = ++hub.unix_ms;
  ev.content = {{"m.intent", "m.prompt"}, {"m.type", "m.voice"}};
  for (auto* n : {&a, &b}) n->driver->on_room_event(ev, hub.now);
  hub.run(3s);
  expect_full_mesh({&a, &b}, "newer-conf");
  // Each still had the other in the old call when it moved: nobody ends it for everyone.
  EXPECT_FALSE(terminated_by(a, *conf));
  EXPECT_FALSE(terminated_by(b, *conf));
}

TEST(GroupDriver, AnUnechoedOrUntimedCallIsNotLeft) {
  DriverHub hub;
  auto& a = hub.add("@a:x", "A1");
  ASSERT_TRUE(a.driver->join(DriverHub::kRoom, {}, hub.now).ok());
  // A call restored from the state cache has no timestamp: no move on a guess.
  matrix::RoomEvent ev;
  ev.room_id = DriverHub::kRoom;
  ev.type = std::string(events::type::kGroupCall);
  ev.sender = "@z:x";
  ev.state_key = "restored";
  ev.origin_server_ts = 0;
  ev.content = {{"m.intent", "m.prompt"}, {"m.type", "m.voice"}};
  a.driver->on_room_event(ev, hub.now);
  hub.run(1s);
  const std::string ours = conf_of(a);
  EXPECT_NE(ours, "restored");
  EXPECT_FALSE(terminated_by(a, ours));
}

TEST(GroupDriver, KeysOfTheListedPeersAreFetchedOnceAheadOfTheFirstDelivery) {
  DriverHub hub;
  auto& a = hub.add("@a:x", "A1");
  auto& b = hub.add("@b:x", "B1");
  auto& c = hub.add("@c:x", "C1");
  auto conf = a.driver->join(DriverHub::kRoom, {}, hub.now);
  ASSERT_TRUE(conf.ok());
  hub.run(100ms);
  EXPECT_TRUE(a.prefetches.empty());  // alone: nobody to fetch
  ASSERT_TRUE(b.driver->join(DriverHub::kRoom, {}, hub.now).ok());
  hub.run(2s);
  ASSERT_TRUE(c.driver->join(DriverHub::kRoom, {}, hub.now).ok());
  hub.run(2s);
  expect_full_mesh({&a, &b, &c}, *conf);

  // c (the largest user) is called by both: their keys in one go, nothing to claim.
  ASSERT_EQ(c.prefetches.size(), 1u);
  EXPECT_EQ(c.prefetches[0].first, (std::vector<core::DeviceKey>{{"@a:x", "A1"}, {"@b:x", "B1"}}));
  EXPECT_TRUE(c.prefetches[0].second.empty());
  // a calls b and c: claims for both, as each of them shows up.
  ASSERT_EQ(a.prefetches.size(), 2u);
  EXPECT_EQ(a.prefetches[0].second, (std::vector<core::DeviceKey>{{"@b:x", "B1"}}));
  EXPECT_EQ(a.prefetches[1].second, (std::vector<core::DeviceKey>{{"@c:x", "C1"}}));
  // b: a calls it (no claim), it calls c (claim).
  ASSERT_EQ(b.prefetches.size(), 2u);
  EXPECT_TRUE(b.prefetches[0].second.empty());
  EXPECT_EQ(b.prefetches[1].second, (std::vector<core::DeviceKey>{{"@c:x", "C1"}}));
  // c's join: member entry out, then the prefetch, then the first delivery.
  const auto at = [&](const std::string& what) { return std::find(c.log.begin(), c.log.end(), what) - c.log.begin(); };
  EXPECT_LT(at("put " + std::string(events::type::kGroupCallMember)), at("prefetch"));
  EXPECT_LT(at("prefetch"), at("flush"));
}

TEST(GroupDriver, ACrashedDeviceRejoinsFromItsStoreAndEndsItsOldPeerCalls) {
  DriverHub hub;
  auto& a = hub.add("@a:x", "A1");
  auto& b = hub.add("@b:x", "B1");
  auto& c = hub.add("@c:x", "C1");
  auto conf = a.driver->join(DriverHub::kRoom, {}, hub.now);
  ASSERT_TRUE(conf.ok());
  hub.run(100ms);
  for (auto* n : {&b, &c}) ASSERT_TRUE(n->driver->join(DriverHub::kRoom, {}, hub.now).ok());
  hub.run(2s);
  expect_full_mesh({&a, &b, &c}, *conf);

  // What b's store knows of its calls: both peer calls, with the seq each would continue at.
  auto stored = b.store->load_group_calls();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  const store::OngoingGroupCall old = stored->at(0);
  EXPECT_EQ(old.conf_id, *conf);
  auto peer_calls = b.store->load_group_peer_calls(DriverHub::kRoom);
  ASSERT_TRUE(peer_calls.ok());
  ASSERT_EQ(peer_calls->size(), 2u);
  const auto b_summary = b.driver->summary(DriverHub::kRoom);
  ASSERT_TRUE(b_summary);
  std::set<std::string> live_ids;
  for (const auto& p : b_summary->peers) live_ids.insert(p.call_id);
  for (const auto& pc : *peer_calls) {
    EXPECT_TRUE(live_ids.count(pc.call_id)) << pc.call_id;
    EXPECT_GT(pc.next_seq, 0);
    EXPECT_FALSE(pc.peer_session_id.empty());
  }

  hub.crash(b);
  auto& b2 = hub.add("@b:x", "B1", b.store);  // same device, same store, room state as restored
  auto rejoined = b2.driver->rejoin(old, *peer_calls, hub.now);
  ASSERT_TRUE(rejoined.ok()) << rejoined.error();
  EXPECT_EQ(*rejoined, *conf);
  // The old calls' hangups went out first, from the old session, with the stored seqs.
  ASSERT_FALSE(b2.deliveries.empty());
  const auto hangups = hangups_in(b2.deliveries[0]);
  ASSERT_EQ(hangups.size(), 2u);
  for (const auto& h : hangups) {
    EXPECT_EQ(h["reason"], "new_session");
    EXPECT_EQ(h["sender_session_id"], old.session_id);
    const auto pc = std::find_if(peer_calls->begin(), peer_calls->end(),
                                 [&](const store::GroupPeerCall& p) { return p.call_id == h["call_id"]; });
    ASSERT_NE(pc, peer_calls->end());
    EXPECT_EQ(h["seq"], pc->next_seq);
  }
  EXPECT_EQ(b2.log.front(), "flush");
  hub.run(3s);
  // The peers ended the old calls on that hangup and connected to the new session.
  for (auto* n : {&a, &c}) {
    std::size_t ended = 0;
    for (const auto& u : n->updates)
      if (u.kind == GKind::PeerEnded && u.user_id == "@b:x" && u.reason == "new_session") ++ended;
    EXPECT_EQ(ended, 1u) << n->user;
  }
  const auto new_session = b2.store->load_group_calls().value().at(0).session_id;
  EXPECT_NE(new_session, old.session_id);
  for (auto* n : {&a, &c}) {
    std::size_t connected = 0;
    for (const auto& u : n->updates)
      if (u.kind == GKind::PeerConnected && u.user_id == "@b:x") ++connected;
    EXPECT_EQ(connected, 2u) << n->user;  // the old call and the new one
  }
  std::size_t b2_connected = 0;
  for (const auto& u : b2.updates) b2_connected += u.kind == GKind::PeerConnected;
  EXPECT_EQ(b2_connected, 2u);
}

TEST(GroupDriver, ARestartAfterTheCallEndedHangsUpAndRemovesTheStaleEntry) {
  DriverHub hub;
  auto& a = hub.add("@a:x", "A1");
  auto& b = hub.add("@b:x", "B1");
  auto conf = a.driver->join(DriverHub::kRoom, {}, hub.now);
  ASSERT_TRUE(conf.ok());
  hub.run(100ms);
  ASSERT_TRUE(b.driver->join(DriverHub::kRoom, {}, hub.now).ok());
  hub.run(2s);
  const auto old = b.store->load_group_calls().value().at(0);
  const auto peer_calls = b.store->load_group_peer_calls(DriverHub::kRoom).value();
  ASSERT_EQ(peer_calls.size(), 1u);
  hub.crash(b);
  ASSERT_TRUE(a.driver->leave(DriverHub::kRoom, hub.now).ok());
  hub.run(100ms);
  // The call was ended for everyone while b was away.
  matrix::RoomEvent ev;
  ev.room_id = DriverHub::kRoom;
  ev.type = std::string(events::type::kGroupCall);
  ev.sender = "@a:x";
  ev.state_key = *conf;
  ev.origin_server_ts = ++hub.unix_ms;
  ev.content = {{"m.intent", "m.prompt"}, {"m.type", "m.voice"}, {"m.terminated", true}};
  hub.history.push_back(ev);

  auto& b2 = hub.add("@b:x", "B1", b.store);
  EXPECT_FALSE(b2.driver->rejoin(old, peer_calls, hub.now).ok());
  ASSERT_EQ(b2.deliveries.size(), 1u);
  const auto hangups = hangups_in(b2.deliveries[0]);
  ASSERT_EQ(hangups.size(), 1u);
  EXPECT_EQ(hangups[0]["reason"], "user_hangup");
  // Our entry is taken out of member state; the store forgets the call.
  ASSERT_EQ(b2.puts.size(), 1u);
  const auto& [type, key, content] = b2.puts[0];
  EXPECT_EQ(type, events::type::kGroupCallMember);
  EXPECT_EQ(key, "@b:x");
  EXPECT_FALSE(content.dump().find("B1") != std::string::npos) << content.dump();
  EXPECT_TRUE(b2.store->load_group_calls().value().empty());
}

}  // namespace
}  // namespace mxcall::testing

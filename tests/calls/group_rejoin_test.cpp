// A 4-party mesh over the real stack (Synapse, olm, webrtcbin in a loopback-only netns):
// sendToDevice requests per join, counted at the transport, are one per signalling round
// (plus the successive requests a round needs when it holds several messages for one
// device); then one participant leaves and rejoins and every pair reconnects with audio.
#include <gtest/gtest.h>

#include <cstdio>

#include "calls/group_fixture.hpp"

namespace mxcall::testing {
namespace {

using GKind = GroupUpdate::Kind;

ClientStats minus(const ClientStats& a, const ClientStats& b) {
  ClientStats d;
  d.to_device_requests = a.to_device_requests - b.to_device_requests;
  d.to_device_messages = a.to_device_messages - b.to_device_messages;
  d.keys_requests = a.keys_requests - b.keys_requests;
  d.to_device_rounds = a.to_device_rounds - b.to_device_rounds;
  d.to_device_round_layers = a.to_device_round_layers - b.to_device_round_layers;
  return d;
}

// Every sendToDevice request seen at the transport belongs to a round, and a round makes one
// request unless it holds k > 1 messages for one device (then k). A round is counted when its
// delivery starts and a request when its answer is in: waits (briefly) for rounds in flight.
void expect_one_request_per_round(Party& p, const std::string& what, const ClientStats& since) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  ClientStats d = minus(p.client().stats(), since);
  while (d.to_device_requests != d.to_device_round_layers && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    d = minus(p.client().stats(), since);
  }
  const std::string who = p.user_id();
  std::printf("[requests] %s %s: %llu sendToDevice requests for %llu rounds (%llu needed: %llu extra for devices "
              "with several messages in a round), %llu messages, %llu keys requests\n",
              who.c_str(), what.c_str(), static_cast<unsigned long long>(d.to_device_requests),
              static_cast<unsigned long long>(d.to_device_rounds), static_cast<unsigned long long>(d.to_device_round_layers),
              static_cast<unsigned long long>(d.to_device_round_layers - d.to_device_rounds),
              static_cast<unsigned long long>(d.to_device_messages), static_cast<unsigned long long>(d.keys_requests));
  EXPECT_EQ(d.to_device_requests, d.to_device_round_layers) << who << " " << what;
  EXPECT_GE(d.to_device_round_layers, d.to_device_rounds) << who << " " << what;
  EXPECT_GE(d.to_device_messages, d.to_device_requests) << who << " " << what << ": an empty request";
}

TEST(GroupRejoin, OneRequestPerRoundThenLeaveAndRejoinReconnectsEveryPair) {
  Party a("ramma", true), b("rbeta", true), c("ralpha", true), d("rdelta", true);
  std::vector<Party*> all{&a, &b, &c, &d};
  const std::string room = make_call_room(a, {&b, &c, &d});

  std::map<Party*, ClientStats> before;
  for (Party* p : all) before[p] = p->client().stats();
  auto conf = a.client().join_group_call(room);
  ASSERT_TRUE(conf.ok()) << conf.error();
  for (Party* p : {&b, &c, &d}) {
    ASSERT_TRUE(wait_sees_call(*p, room, *conf)) << p->user_id() << " never saw the call";
    ASSERT_TRUE(p->client().join_group_call(room).ok());
  }
  for (Party* p : all) ASSERT_TRUE(wait_connected_to(*p, 3)) << p->user_id() << " did not connect to all three others";
  for (Party* p : all) ASSERT_TRUE(p->wait_group_audio(room, 3, 25)) << p->user_id() << ": audio not flowing on every pair";
  for (Party* p : all) expect_one_request_per_round(*p, "join", before[p]);

  // d leaves: everyone else sees it go.
  const std::string d_device = device_of(a, d.user_id());
  ASSERT_FALSE(d_device.empty());
  std::map<Party*, std::string> old_call;
  for (Party* p : {&a, &b, &c}) {
    auto s = p->client().group_summary(room);
    ASSERT_TRUE(s);
    for (const auto& peer : s->peers)
      if (peer.device_id == d_device) old_call[p] = peer.call_id;
    ASSERT_FALSE(old_call[p].empty());
  }
  std::map<Party*, std::size_t> left_seen;
  for (Party* p : all) left_seen[p] = p->group_updates().size();
  ASSERT_TRUE(d.client().leave_group_call(room).ok());
  ASSERT_TRUE(d.wait_group([](const auto& us) { return !us.empty() && us.back().kind == GKind::Left; }));
  for (Party* p : {&a, &b, &c})
    ASSERT_TRUE(p->wait_group([&](const auto& us) {
      for (std::size_t i = left_seen[p]; i < us.size(); ++i)
        if (us[i].kind == GKind::ParticipantLeft && us[i].device_id == d_device) return true;
      return false;
    })) << p->user_id() << " did not see d leave";

  // ... and rejoins (a new session): every pair with d is called again and carries audio.
  for (Party* p : all) before[p] = settled(*p);
  std::map<Party*, std::size_t> rejoin_mark;
  for (Party* p : all) rejoin_mark[p] = p->group_updates().size();
  auto again = d.client().join_group_call(room);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(*again, *conf);
  for (Party* p : {&a, &b, &c}) {
    std::string new_call;
    ASSERT_TRUE(p->wait_group([&](const auto& us) {
      for (std::size_t i = rejoin_mark[p]; i < us.size(); ++i)
        if (us[i].kind == GKind::PeerConnected && us[i].device_id == d_device && us[i].call_id != old_call[p]) {
          new_call = us[i].call_id;
          return true;
        }
      return false;
    })) << p->user_id() << " did not reconnect to d";
    EXPECT_TRUE(wait_peer_audio(*p, room, d.user_id(), d_device, 0, 25, new_call))
        << p->user_id() << ": no audio with d after the rejoin";
  }
  ASSERT_TRUE(d.wait_group([&](const auto& us) {
    std::set<std::string> devices;
    for (std::size_t i = rejoin_mark[&d]; i < us.size(); ++i)
      if (us[i].kind == GKind::PeerConnected) devices.insert(us[i].user_id + "|" + us[i].device_id);
    return devices.size() >= 3;
  })) << "d did not reconnect to all three others";
  EXPECT_TRUE(d.wait_group_audio(room, 3, 25)) << "d: audio not flowing on every pair after the rejoin";
  // The pairs without d kept their calls and their audio.
  for (Party* p : {&a, &b, &c}) {
    auto s = p->client().group_summary(room);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->peers.size(), 3u);
    for (const auto& peer : s->peers)
      if (peer.device_id != d_device) {
        EXPECT_TRUE(wait_peer_audio(*p, room, peer.user_id, peer.device_id, peer.stats.audio.packets_received, 20,
                                    peer.call_id))
            << p->user_id() << ": audio with " << peer.user_id << " stopped";
      }
  }
  for (Party* p : all) expect_one_request_per_round(*p, "rejoin of d", before[p]);
}

}  // namespace
}  // namespace mxcall::testing

// MSC3401 full-mesh group calls over the real stack: real Synapse, olm-encrypted to-device
// signalling, real webrtcbin media in a loopback-only network namespace.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "calls/group_fixture.hpp"

namespace mxcall::testing {
namespace {

using GKind = GroupUpdate::Kind;

TEST(Group, FourParticipantsFormAFullMeshWithAudioOnEveryPair) {
  Party a("gamma", true), b("gbeta", true), c("galpha", true), d("gdelta", true);
  std::vector<Party*> all{&a, &b, &c, &d};
  const std::string room = make_call_room(a, {&b, &c, &d});

  auto conf = a.client().join_group_call(room);
  ASSERT_TRUE(conf.ok()) << conf.error();
  // The others join the call once its event has reached them.
  for (Party* p : {&b, &c, &d}) {
    ASSERT_TRUE(wait_sees_call(*p, room, *conf)) << p->user_id() << " never saw the call";
    auto joined = p->client().join_group_call(room);
    ASSERT_TRUE(joined.ok()) << joined.error();
  }
  for (Party* p : all) {
    ASSERT_TRUE(p->wait_group([](const auto& us) {
      std::set<std::string> devices;
      for (const auto& u : us)
        if (u.kind == GKind::PeerConnected) devices.insert(u.user_id + u.device_id);
      return devices.size() >= 3;
    })) << p->user_id() << " did not connect to all three others";
  }
  for (Party* p : all) EXPECT_TRUE(p->wait_group_audio(room, 3, 25)) << p->user_id() << ": audio not flowing on every pair";

  for (Party* p : all) {
    auto s = p->client().group_summary(room);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->conf_id, *conf);
    const auto st = p->client().stats();
    std::printf("%s: %zu peers; sendToDevice requests %llu carrying %llu messages; keys requests %llu\n",
                p->user_id().c_str(), s->peers.size(), static_cast<unsigned long long>(st.to_device_requests),
                static_cast<unsigned long long>(st.to_device_messages), static_cast<unsigned long long>(st.keys_requests));
    for (const auto& peer : s->peers) {
      std::printf("  %s %s: setup %lld ms, audio sent %llu received %llu, audio encoder feeds %u peers\n",
                  peer.user_id.c_str(), peer.device_id.c_str(), static_cast<long long>(peer.setup ? peer.setup->count() : -1),
                  static_cast<unsigned long long>(peer.stats.audio.packets_sent),
                  static_cast<unsigned long long>(peer.stats.audio.packets_received), peer.stats.audio.encoder_fanout);
      // Encode once: the participant's one Opus encoder feeds all three peer connections.
      EXPECT_EQ(peer.stats.audio.encoder_fanout, 3u) << p->user_id() << " → " << peer.user_id;
    }
  }

  // One leaves: the others see it go and keep their remaining pairs.
  ASSERT_TRUE(d.client().leave_group_call(room).ok());
  for (Party* p : {&a, &b, &c})
    EXPECT_TRUE(p->wait_group([&](const auto& us) {
      for (const auto& u : us)
        if (u.kind == GKind::ParticipantLeft && u.user_id == d.user_id()) return true;
      return false;
    })) << p->user_id() << " did not see the leave";
}

}  // namespace
}  // namespace mxcall::testing

// Olm key requests of a real 4-party join: the keys of a join's peers are fetched ahead (one
// /keys/query for all of them, one /keys/claim for the devices we call), so its signalling
// round needs only sendToDevice. Prints the counts per participant.
#include <gtest/gtest.h>

#include "calls/group_join.hpp"

namespace mxcall::testing {
namespace {

TEST(GroupKeys, AJoinFetchesItsPeersKeysInOneQueryAndAtMostOneClaim) {
  Party a("kyalpha", true), b("kybeta", true), c("kygamma", true), d("kydelta", true);
  const std::vector<Party*> all{&a, &b, &c, &d};
  const std::string room = make_group_room(a, {&b, &c, &d});
  std::map<Party*, ClientStats> before;
  for (Party* p : all) before[p] = p->client().stats();

  auto conf = a.client().join_group_call(room);
  ASSERT_TRUE(conf.ok()) << conf.error();
  std::vector<Party*> in_call{&a};
  for (Party* p : {&b, &c, &d}) {
    const ClientStats at_join = p->client().stats();
    ASSERT_TRUE(join_when_seen(*p, room, *conf)) << p->user_id();
    in_call.push_back(p);
    ASSERT_TRUE(wait_full_mesh(in_call, room, *conf)) << p->user_id() << " did not connect to everyone";
    const ClientStats after = p->client().stats();
    // Its own join: the prefetch's query and claim. A peer's invite can overtake the prefetch's
    // query on the receiving side and cost one query more; nothing else asks for keys.
    EXPECT_LE(after.keys_queries - at_join.keys_queries, 2u) << p->user_id();
    EXPECT_LE(after.keys_claims - at_join.keys_claims, 1u) << p->user_id();
    std::printf("%s joins as participant %zu: %llu queries, %llu claims during its join\n", p->user_id().c_str(),
                in_call.size(), static_cast<unsigned long long>(after.keys_queries - at_join.keys_queries),
                static_cast<unsigned long long>(after.keys_claims - at_join.keys_claims));
  }
  for (Party* p : all) EXPECT_TRUE(p->wait_group_audio(room, 3, 25)) << p->user_id();
  for (Party* p : all) {
    const ClientStats s = p->client().stats();
    const auto uploads = s.keys_requests - s.keys_queries - s.keys_claims;
    std::printf("%s: keys requests %llu (uploads %llu, queries %llu, claims %llu; %llu since the room was made); "
                "sendToDevice %llu\n",
                p->user_id().c_str(), static_cast<unsigned long long>(s.keys_requests),
                static_cast<unsigned long long>(uploads), static_cast<unsigned long long>(s.keys_queries),
                static_cast<unsigned long long>(s.keys_claims),
                static_cast<unsigned long long>(s.keys_requests - before[p].keys_requests),
                static_cast<unsigned long long>(s.to_device_requests));
  }
}

}  // namespace
}  // namespace mxcall::testing

// Group-call bugs the simulator found (tests/sim/regression_seeds.txt, scenario mesh), each
// pinned down on the GroupCall machine alone.
#include <gtest/gtest.h>

#include "unit/group_harness.hpp"

namespace mxcall::testing {
namespace {

// mesh 0x76, 0x121: retries ran out during an outage; once the network was back the pair
// never called again. Any member event now revives a link that gave up (js-sdk places calls
// to every participant without one whenever member state changes).
TEST(GroupSimRegressions, APairThatGaveUpCallsAgainAfterTheNextMemberEvent) {
  Mesh mesh;
  bool ice = false;
  mesh.ice_works = [&](const MeshDevice&, const std::string&) { return ice; };
  auto& a = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(b, core::gcmd::Join{});
  mesh.input(a, core::gcmd::Join{});
  mesh.advance(5min);
  ASSERT_EQ(a.all<core::gnote::PeerGaveUp>().size(), 1u);
  ASSERT_EQ(a.group->link(b.key())->state(), core::PeerLinkState::Done);
  ice = true;
  mesh.advance(5min);
  EXPECT_FALSE(a.connected_to(b));  // nothing happens by itself
  mesh.put_member_state("@bob:x", mesh.member_state.at("@bob:x"));  // e.g. bob's refresh
  mesh.advance(10s);
  EXPECT_TRUE(a.connected_to(b));
  EXPECT_TRUE(b.connected_to(a));
}

// mesh 0x187: another device of our user wrote its member event from a base that still had
// our previous expires_ts; peers would have dropped us before our next refresh.
TEST(GroupSimRegressions, OurEntryPutBackWithAnOlderExpiryIsWrittenAgain) {
  Mesh mesh;
  auto& a1 = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(a1, core::gcmd::Join{});
  mesh.input(b, core::gcmd::Join{});
  ASSERT_TRUE(a1.connected_to(b));
  mesh.advance(50min);  // ALICE1 refreshed at 45 min: its entry now lasts until ~1h45
  const auto& cfg = a1.group->config();
  const std::int64_t old_expiry = Mesh::kStartUnixMs + 3'600'000;  // the join's
  const auto puts = a1.all<core::PutMemberState>().size();
  mesh.put_member_state("@alice:x", member_content(cfg.conf_id, {member_device("ALICE1", cfg.own_session_id, old_expiry),
                                                                 member_device("ALICE2", "s2", old_expiry + 3'600'000)}));
  mesh.advance(5s);  // the reassert waits 2-4 s after our last put
  EXPECT_GT(a1.all<core::PutMemberState>().size(), puts);
  const auto* mine = events::find_device(*events::find_call(mesh.member_state.at("@alice:x"), cfg.conf_id), "ALICE1");
  ASSERT_NE(mine, nullptr);
  EXPECT_GT(mine->expires_ts, old_expiry);
  mesh.advance(20min);  // past the old expiry: bob keeps us
  EXPECT_TRUE(b.connected_to(a1));
  EXPECT_TRUE(b.all<core::gnote::ParticipantLeft>().empty());
}

// mesh 0x103c03, 0x105ee7 (100k soak): devices of one user that rewrote the member event at
// once whenever it showed an older expiry of theirs kept overwriting each other. An older
// expiry that still lasts is now met by refreshing earlier, not by writing at once.
TEST(GroupSimRegressions, OurEntryWithAnOlderButDistantExpiryMovesTheRefreshForward) {
  Mesh mesh;
  auto& a1 = mesh.add("@alice:x", "ALICE1");
  auto& b = mesh.add("@bob:x", "BOB1");
  mesh.input(a1, core::gcmd::Join{});
  mesh.input(b, core::gcmd::Join{});
  ASSERT_TRUE(a1.connected_to(b));
  mesh.advance(50min);  // refreshed at 45 min: our entry lasts until 1h45, next refresh at 1h30
  const auto& cfg = a1.group->config();
  const std::int64_t older = Mesh::kStartUnixMs + 100 * 60'000;  // 1h40: 50 min left
  const auto puts = a1.all<core::PutMemberState>().size();
  mesh.put_member_state("@alice:x", member_content(cfg.conf_id, {member_device("ALICE1", cfg.own_session_id, older),
                                                                 member_device("ALICE2", "s2", older)}));
  mesh.advance(1min);
  EXPECT_EQ(a1.all<core::PutMemberState>().size(), puts);  // no write while it lasts
  mesh.advance(35min);  // 1h26: the refresh came at 1h25 (15 min before 1h40), not at 1h30
  EXPECT_EQ(a1.all<core::PutMemberState>().size(), puts + 1);
  const auto* mine = events::find_device(*events::find_call(mesh.member_state.at("@alice:x"), cfg.conf_id), "ALICE1");
  ASSERT_NE(mine, nullptr);
  EXPECT_GT(mine->expires_ts, older);
  ASSERT_NE(events::find_device(*events::find_call(mesh.member_state.at("@alice:x"), cfg.conf_id), "ALICE2"), nullptr);
  mesh.advance(30min);  // past 1h40: bob keeps us (ALICE2, which nobody refreshes, is gone)
  EXPECT_TRUE(b.connected_to(a1));
  for (const auto& left : b.all<core::gnote::ParticipantLeft>()) EXPECT_NE(left.device_id, "ALICE1");
}

}  // namespace
}  // namespace mxcall::testing

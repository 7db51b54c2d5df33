// Three clients join a room without a call at the same instant: each writes its own call event,
// then all of them end up in one call (the newest event wins, core/group_choice.hpp) with every
// pair connected and audio flowing. Real Synapse, olm, webrtcbin.
#include <gtest/gtest.h>

#include <barrier>

#include "calls/group_join.hpp"

namespace mxcall::testing {
namespace {

using GKind = GroupUpdate::Kind;

TEST(GroupConverge, SimultaneousFirstJoinsEndInOneCallWithEveryPairConnected) {
  Party a("cvalpha", true), b("cvbeta", true), c("cvgamma", true);
  const std::vector<Party*> all{&a, &b, &c};
  const std::string room = make_group_room(a, {&b, &c});

  std::barrier start(3);
  std::vector<std::string> created(3);
  std::vector<std::thread> joiners;
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < all.size(); ++i)
    joiners.emplace_back([&, i] {
      start.arrive_and_wait();
      auto conf = all[i]->client().join_group_call(room);
      if (conf.ok()) created[i] = *conf;
    });
  for (auto& t : joiners) t.join();
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_FALSE(created[i].empty()) << all[i]->user_id() << " could not join";
  const std::size_t distinct = std::set<std::string>(created.begin(), created.end()).size();

  // Wait until everyone is in the same call.
  std::string conf;
  const auto until = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < until) {
    std::set<std::string> confs;
    for (Party* p : all)
      if (auto s = p->client().group_summary(room)) confs.insert(s->conf_id);
      else confs.insert("");
    if (confs.size() == 1 && !confs.begin()->empty()) {
      conf = *confs.begin();
      // Settled only once nobody still has a move pending: the room's live call is this one.
      bool agreed = true;
      for (Party* p : all) agreed = agreed && p->client().live_group_call(room) == conf;
      if (agreed) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(conf.empty()) << "the participants never met in one call";
  const long long same_call_ms = ms_since(t0);
  ASSERT_TRUE(wait_full_mesh(all, room, conf)) << "not every pair connected in " << conf;
  const long long connected_ms = ms_since(t0);
  for (Party* p : all) EXPECT_TRUE(p->wait_group_audio(room, 2, 25)) << p->user_id() << ": no audio on every pair";
  const long long audio_ms = ms_since(t0);

  // Whoever moved said so; a call nobody else was in was terminated, so one call stays live.
  // (A call event that reached someone only after it had moved makes it move once more.)
  std::size_t moved = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::size_t moves = 0;
    for (const auto& u : all[i]->group_updates()) moves += u.kind == GKind::Left && u.reason == "moved";
    if (created[i] != conf) {
      EXPECT_GE(moves, 1u) << all[i]->user_id() << " reached " << conf << " without moving";
    }
    moved += moves;
  }
  for (Party* p : all) EXPECT_EQ(p->client().live_group_call(room), conf);
  std::printf("%zu calls created at once, %zu moves; join -> one call %lld ms; -> all pairs connected %lld ms; -> audio %lld ms\n",
              distinct, moved, same_call_ms, connected_ms, audio_ms);
}

}  // namespace
}  // namespace mxcall::testing

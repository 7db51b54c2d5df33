// A participant of a running mesh crashes (its Client goes away without leaving) and a new
// Client starts on the same store: it rejoins from the store — the group_calls row and the
// cached room state, no history — ends its old peer calls (group_peer_calls: call ids,
// sessions, seqs) and every pair reconnects with audio. Real Synapse, olm, webrtcbin.
#include <gtest/gtest.h>

#include "calls/group_join.hpp"
#include "mxcall/store.hpp"

namespace mxcall::testing {
namespace {

using GKind = GroupUpdate::Kind;

TEST(GroupRestart, ACrashedParticipantRejoinsFromItsStoreAndEveryPairReconnects) {
  Party a("rsalpha", true), b("rsbeta", true);
  Party c("rsgamma", true, [](ClientOptions& o) { o.leave_group_calls_on_stop = false; });  // stops like a crash
  const std::vector<Party*> all{&a, &b, &c};
  const std::string room = make_group_room(a, {&b, &c});
  auto conf = a.client().join_group_call(room);
  ASSERT_TRUE(conf.ok()) << conf.error();
  for (Party* p : {&b, &c}) ASSERT_TRUE(join_when_seen(*p, room, *conf)) << p->user_id();
  ASSERT_TRUE(wait_full_mesh(all, room, *conf)) << "the first mesh never formed";
  for (Party* p : all) ASSERT_TRUE(p->wait_group_audio(room, 2, 25)) << p->user_id();

  // What c's store knows of its peer calls: the live ones, each with the seq it continues at.
  const auto c_before = c.client().group_summary(room);
  ASSERT_TRUE(c_before);
  std::set<std::string> old_calls;
  for (const auto& peer : c_before->peers) old_calls.insert(peer.call_id);
  ASSERT_EQ(old_calls.size(), 2u);
  {
    auto st = store::Store::open(c.store_path());  // a second connection (WAL) beside the client's
    ASSERT_TRUE(st.ok()) << st.error();
    auto rows = (*st)->load_group_peer_calls(room);
    ASSERT_TRUE(rows.ok()) << rows.error();
    std::set<std::string> stored;
    for (const auto& r : *rows) {
      stored.insert(r.call_id);
      EXPECT_GT(r.next_seq, 0) << r.call_id;
      EXPECT_FALSE(r.peer_session_id.empty());
    }
    EXPECT_EQ(stored, old_calls);
    auto calls = (*st)->load_group_calls();
    ASSERT_TRUE(calls.ok());
    ASSERT_EQ(calls->size(), 1u);
    EXPECT_EQ(calls->at(0).conf_id, *conf);
  }

  const std::size_t mark_a = a.group_updates().size(), mark_b = b.group_updates().size();
  const auto t0 = Clock::now();
  c.restart();  // stop without leaving (no hangups, no member update), then a new Client on the store
  const long long started_ms = ms_since(t0);
  // The rejoin happened inside Client::start, from the store alone.
  const auto in_call = c.client().group_calls();
  ASSERT_EQ(in_call, std::vector<std::string>{room});
  ASSERT_EQ(c.client().group_summary(room)->conf_id, *conf);

  // The others see c's new entry (a new session) ...
  const auto seen_new_entry = [&](Party& p, std::size_t mark) {
    return p.wait_group([&](const auto& us) {
      for (std::size_t i = mark; i < us.size(); ++i)
        if (us[i].kind == GKind::ParticipantJoined && us[i].user_id == c.user_id()) return true;
      return false;
    });
  };
  ASSERT_TRUE(seen_new_entry(a, mark_a));
  ASSERT_TRUE(seen_new_entry(b, mark_b));
  const long long entry_ms = ms_since(t0);
  // ... and every pair is connected again, on new calls.
  ASSERT_TRUE(wait_full_mesh(all, room, *conf)) << "the mesh did not re-form";
  for (Party* p : {&a, &b}) {
    auto s = p->client().group_summary(room);
    ASSERT_TRUE(s);
    for (const auto& peer : s->peers)
      if (peer.user_id == c.user_id()) {
        EXPECT_FALSE(old_calls.count(peer.call_id)) << p->user_id() << " kept the old call";
      }
  }
  const long long connected_ms = ms_since(t0);
  for (Party* p : all) EXPECT_TRUE(p->wait_group_audio(room, 2, 25)) << p->user_id() << ": no audio on every pair";
  const long long audio_ms = ms_since(t0);

  // The old calls ended on both sides as replaced by a new session.
  for (Party* p : {&a, &b}) {
    std::size_t ended = 0;
    for (const auto& u : p->group_updates())
      if (u.kind == GKind::PeerEnded && old_calls.count(u.call_id)) {
        ++ended;
        EXPECT_EQ(u.reason, "new_session") << p->user_id();
      }
    EXPECT_EQ(ended, 1u) << p->user_id();
  }
  std::printf("restart -> Client::start returned (rejoined from the store) %lld ms; -> peers saw the new entry %lld ms; "
              "-> all pairs connected %lld ms; -> audio on every pair %lld ms\n",
              started_ms, entry_ms, connected_ms, audio_ms);
}

}  // namespace
}  // namespace mxcall::testing

// The store's room state cache and ongoing group calls (schema 2): round trips, upserts,
// cascades, and a schema-1 file (a session and a sync token) migrated without losing them.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "mxcall/store.hpp"
#include "store/migrations.hpp"
#include "store/sqlite.hpp"

namespace fs = std::filesystem;
using mxcall::store::GroupPeerCall;
using mxcall::store::OngoingGroupCall;
using mxcall::store::StateEntry;
using mxcall::store::Store;

namespace {

std::unique_ptr<Store> memory_store() {
  auto s = Store::open_in_memory();
  if (!s.ok()) throw std::runtime_error(s.error().describe());
  return std::move(s).value();
}

struct TempFile {
  fs::path path = fs::temp_directory_path() / ("mxcall-store-calls-" + std::to_string(::getpid()) + ".db");
  ~TempFile() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix, ec);
  }
};

TEST(StoreRoomState, UpsertsAndLoadsAndForgetsPerRoom) {
  auto store = memory_store();
  ASSERT_TRUE(store->save_room_state({{"!a:s", "m.room.member", "@x:s", R"({"membership":"join"})"},
                                      {"!a:s", "org.matrix.msc3401.call.member", "@x:s", R"({"m.calls":[]})"},
                                      {"!b:s", "m.room.member", "@y:s", R"({"membership":"invite"})"}}));
  // A later event for the same (room, type, state key) replaces the first.
  ASSERT_TRUE(store->save_room_state({{"!a:s", "m.room.member", "@x:s", R"({"membership":"leave"})"}}));
  auto all = store->load_room_state();
  ASSERT_TRUE(all.ok()) << all.error();
  ASSERT_EQ(all->size(), 3u);
  bool saw_leave = false;
  for (const auto& e : *all)
    if (e.room_id == "!a:s" && e.event_type == "m.room.member") saw_leave = e.content == R"({"membership":"leave"})";
  EXPECT_TRUE(saw_leave);

  ASSERT_TRUE(store->forget_room("!a:s"));
  all = store->load_room_state();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].room_id, "!b:s");
  EXPECT_TRUE(store->save_room_state({}));  // nothing to do is fine
}

TEST(StoreGroupCalls, RoundTripUpdateAndRemoveWithPeerCalls) {
  auto store = memory_store();
  OngoingGroupCall call{"!r:s", "conf1", "sessA", true, false, true, 1'700'000'000'000};
  ASSERT_TRUE(store->save_group_call(call));
  std::vector<GroupPeerCall> peers{{"c1", "@b:s", "DEVB", "sB", 3}, {"c2", "@c:s", "DEVC", "sC", 0}};
  ASSERT_TRUE(store->save_group_peer_calls("!r:s", peers));

  auto calls = store->load_group_calls();
  ASSERT_TRUE(calls.ok()) << calls.error();
  ASSERT_EQ(calls->size(), 1u);
  EXPECT_EQ((*calls)[0], call);
  auto loaded = store->load_group_peer_calls("!r:s");
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  EXPECT_EQ(*loaded, peers);

  // Saving again replaces (a new session after a restart), and the peer list is replaced too.
  call.session_id = "sessB";
  call.audio_muted = true;
  ASSERT_TRUE(store->save_group_call(call));
  ASSERT_TRUE(store->save_group_peer_calls("!r:s", {{"c3", "@b:s", "DEVB", "sB2", 1}}));
  calls = store->load_group_calls();
  ASSERT_EQ(calls->size(), 1u);
  EXPECT_EQ((*calls)[0], call);
  loaded = store->load_group_peer_calls("!r:s");
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].call_id, "c3");

  // Removing the call removes its peer calls.
  ASSERT_TRUE(store->remove_group_call("!r:s"));
  EXPECT_TRUE(store->load_group_calls()->empty());
  EXPECT_TRUE(store->load_group_peer_calls("!r:s")->empty());
}

TEST(StoreGroupCalls, PeerCallsOfAnUnknownGroupCallAreAnErrorAndChangeNothing) {
  auto store = memory_store();
  auto st = store->save_group_peer_calls("!nope:s", {{"c1", "@b:s", "DEVB", "sB", 0}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, mxcall::ErrorKind::Store);
  EXPECT_TRUE(store->load_group_peer_calls("!nope:s")->empty());
}

TEST(StoreGroupCalls, SurviveReopen) {
  TempFile f;
  {
    auto s = Store::open(f.path);
    ASSERT_TRUE(s.ok()) << s.error();
    ASSERT_TRUE((*s)->save_group_call({"!r:s", "conf", "sess", false, false, false, 5}));
    ASSERT_TRUE((*s)->save_room_state({{"!r:s", "org.matrix.msc3401.call", "conf", R"({"m.intent":"m.room"})"}}));
  }
  auto s = Store::open(f.path);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ((*s)->load_group_calls()->size(), 1u);
  EXPECT_EQ((*s)->load_room_state()->size(), 1u);
}

// A file written by the first release (schema 1) opens at the latest schema with its session
// and sync token intact.
TEST(StoreGroupCalls, SchemaOneFileIsMigratedKeepingItsData) {
  TempFile f;
  {
    auto db = mxcall::store::sqlite::Database::open(
        f.path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, f.path.string());
    ASSERT_TRUE(db.ok()) << db.error();
    auto v = mxcall::store::apply_migrations(*db, mxcall::store::schema_migrations().first(1));
    ASSERT_TRUE(v.ok()) << v.error();
    ASSERT_EQ(*v, 1);
    ASSERT_TRUE(db->exec("INSERT INTO session VALUES (1, 'http://h', '@u:h', 'DEV', 'tok');"
                         "INSERT INTO sync_state VALUES (1, 's_42');",
                         "seeding"));
  }
  auto s = Store::open(f.path);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ((*s)->schema_version(), Store::latest_schema_version());
  auto session = (*s)->load_session();
  ASSERT_TRUE(session.ok() && session->has_value());
  EXPECT_EQ((*session)->device_id, "DEV");
  EXPECT_EQ(*(*s)->load_sync_token(), std::optional<std::string>("s_42"));
  EXPECT_TRUE((*s)->load_group_calls()->empty());
}

}  // namespace

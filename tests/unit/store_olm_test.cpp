// The store's olm tables (schema 2), the migration from schema 1, and the pickle key file.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <sqlite3.h>

#include "mxcall/store.hpp"
#include "store/migrations.hpp"
#include "store/sqlite.hpp"

namespace fs = std::filesystem;
using mxcall::ErrorKind;
using mxcall::store::DeviceKeysRecord;
using mxcall::store::OlmAccountRecord;
using mxcall::store::OlmSessionRecord;
using mxcall::store::Session;
using mxcall::store::Store;
namespace sqlite = mxcall::store::sqlite;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mxcall-store-olm-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::shared_ptr<Store> memory_store() {
  auto store = Store::open_in_memory();
  if (!store) throw std::runtime_error(store.error().describe());
  return std::shared_ptr<Store>(std::move(store).value().release());
}

OlmAccountRecord sample_account() { return {"@alice:example.org", "ALICE1", "pickled-account", false}; }

// Fills every olm table with one row.
void fill_olm_tables(Store& store) {
  ASSERT_TRUE(store.save_olm_account(sample_account(), {{"curveA", "s1", "pickle-1", 10, 20}}).ok());
  ASSERT_TRUE(store.save_device_keys({{"@bob:example.org", "BOB1", "curveB", "edB", "{}", false}},
                                     {"@bob:example.org"})
                  .ok());
}

std::size_t olm_rows(Store& store) {
  std::size_t n = store.load_olm_account().value().has_value() ? 1 : 0;
  n += store.load_olm_sessions().value().size();
  n += store.load_device_keys().value().size();
  n += store.load_tracked_users().value().size();
  return n;
}

}  // namespace

TEST(StoreOlm, AccountAndSessionsRoundTrip) {
  auto store = memory_store();
  EXPECT_FALSE(store->load_olm_account().value().has_value());
  OlmAccountRecord account = sample_account();
  ASSERT_TRUE(store->save_olm_account(account).ok());
  account.pickle = "pickled-again";
  account.device_keys_published = true;
  ASSERT_TRUE(store->save_olm_account(account, {{"curveA", "s1", "p1", 10, 10}, {"curveA", "s2", "p2", 11, 30}}).ok());
  auto loaded = store->load_olm_account();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->pickle, "pickled-again");
  EXPECT_TRUE((*loaded)->device_keys_published);
  EXPECT_EQ((*loaded)->device_id, "ALICE1");

  ASSERT_TRUE(store->save_olm_session({"curveA", "s1", "p1-new", 99, 40}).ok());  // created_ms is kept
  ASSERT_TRUE(store->save_olm_session({"curveB", "s3", "p3", 12, 12}).ok());
  auto sessions = store->load_olm_sessions();
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 3u);
  for (const auto& s : *sessions) {
    if (s.session_id != "s1") continue;
    EXPECT_EQ(s.pickle, "p1-new");
    EXPECT_EQ(s.created_ms, 10);
    EXPECT_EQ(s.last_received_ms, 40);
  }
  ASSERT_TRUE(store->delete_olm_session("curveA", "s2").ok());
  EXPECT_EQ(store->load_olm_sessions()->size(), 2u);
}

TEST(StoreOlm, DeviceKeysAndTrackedUsers) {
  auto store = memory_store();
  ASSERT_TRUE(store->save_device_keys({{"@bob:example.org", "BOB1", "c1", "e1", R"({"a":1})", false},
                                       {"@bob:example.org", "BOB2", "c2", "e2", "{}", false}},
                                      {"@bob:example.org"})
                  .ok());
  ASSERT_TRUE(store->save_device_keys({{"@bob:example.org", "BOB2", "c2", "e2", "{}", true}}, {}).ok());
  auto devices = store->load_device_keys();
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].keys_json, R"({"a":1})");
  EXPECT_FALSE((*devices)[0].deleted);
  EXPECT_TRUE((*devices)[1].deleted);

  auto tracked = store->load_tracked_users();
  ASSERT_TRUE(tracked.ok());
  EXPECT_EQ(*tracked, (std::map<std::string, bool>{{"@bob:example.org", false}}));
  ASSERT_TRUE(store->mark_users_outdated({"@bob:example.org", "@stranger:example.org"}).ok());
  EXPECT_EQ(store->load_tracked_users().value(), (std::map<std::string, bool>{{"@bob:example.org", true}}));
}

TEST(StoreOlm, AnotherDevicesSessionOrClearingDropsOlmState) {
  auto store = memory_store();
  const Session alice{"http://hs", "@alice:example.org", "ALICE1", "token"};
  ASSERT_TRUE(store->save_session(alice).ok());
  fill_olm_tables(*store);
  ASSERT_EQ(olm_rows(*store), 4u);

  Session refreshed = alice;
  refreshed.access_token = "token2";
  ASSERT_TRUE(store->save_session(refreshed).ok());
  EXPECT_EQ(olm_rows(*store), 4u);  // same device: kept

  Session other = alice;
  other.device_id = "ALICE2";
  ASSERT_TRUE(store->save_session(other).ok());
  EXPECT_EQ(olm_rows(*store), 0u);

  fill_olm_tables(*store);
  ASSERT_TRUE(store->clear_session().ok());
  EXPECT_EQ(olm_rows(*store), 0u);
}

TEST(StoreOlm, SchemaOneDatabaseMigratesAndKeepsItsData) {
  TempDir dir;
  const fs::path path = dir / "v1.db";
  {
    auto db = sqlite::Database::open(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, path.string());
    ASSERT_TRUE(db.ok());
    auto migrated = mxcall::store::apply_migrations(*db, mxcall::store::schema_migrations().first(1));
    ASSERT_TRUE(migrated.ok()) << migrated.error();
    ASSERT_EQ(*migrated, 1);
    ASSERT_TRUE(db->exec("INSERT INTO session VALUES (1, 'http://hs', '@a:hs', 'DEV', 'tok');"
                         "INSERT INTO sync_state VALUES (1, 's42');",
                         "seeding")
                    .ok());
  }
  {
    auto store = Store::open(path);
    ASSERT_TRUE(store.ok()) << store.error();
    EXPECT_EQ((*store)->schema_version(), Store::latest_schema_version());
    EXPECT_EQ((*store)->load_session().value()->device_id, "DEV");
    EXPECT_EQ((*store)->load_sync_token().value().value_or(""), "s42");
    fill_olm_tables(**store);
  }
  auto reopened = Store::open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.error();
  EXPECT_EQ(olm_rows(**reopened), 4u);
  EXPECT_EQ((*reopened)->load_olm_sessions().value()[0].pickle, "pickle-1");
}

TEST(PickleKey, CreatedOnceOwnerOnlyAndStable) {
  TempDir dir;
  const fs::path store_path = dir / "sub/store.db";
  auto first = mxcall::store::load_or_create_pickle_key(store_path);
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(first->size(), 32u);
  const fs::path key_path = dir / "sub/store.db.key";
  ASSERT_TRUE(fs::is_regular_file(key_path));
  struct stat st {};
  ASSERT_EQ(::stat(key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "sub"), fs::directory_iterator()), 1);  // no temp left

  auto second = mxcall::store::load_or_create_pickle_key(store_path);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
  auto other = mxcall::store::load_or_create_pickle_key(dir / "other.db");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *first);
}

TEST(PickleKey, DamagedKeyFileIsAnErrorAndLeftAlone) {
  TempDir dir;
  const fs::path store_path = dir / "store.db";
  {
    std::ofstream out(dir / "store.db.key", std::ios::binary);
    out << "short";
  }
  auto key = mxcall::store::load_or_create_pickle_key(store_path);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().kind, ErrorKind::Store);
  EXPECT_NE(key.error().message.find("5 bytes instead of 32"), std::string::npos) << key.error();
  EXPECT_EQ(fs::file_size(dir / "store.db.key"), 5u);
  EXPECT_FALSE(mxcall::store::load_or_create_pickle_key(fs::path()).ok());
}

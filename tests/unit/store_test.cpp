// Unit tests for the SQLite store: src/store/{sqlite,migrations,store}.cpp.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "mxcall/store.hpp"
#include "store/migrations.hpp"
#include "store/sqlite.hpp"

namespace fs = std::filesystem;
using mxcall::ErrorKind;
using mxcall::store::Migration;
using mxcall::store::Session;
using mxcall::store::Store;
namespace sqlite = mxcall::store::sqlite;

namespace {

constexpr int kRawFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mxcall-store-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  fs::path operator/(const std::string& name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<std::size_t>(fs::file_size(path)), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<std::size_t>(in.gcount()) != bytes.size()) throw std::runtime_error("short read");
  return bytes;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::set<std::string> directory_listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

Session sample_session() {
  return Session{"http://127.0.0.1:8008", "@alice:localhost", "ALICEDEVICE", "syt_YWxpY2U_secret_token"};
}

std::unique_ptr<Store> open_ok(const fs::path& path) {
  auto store = Store::open(path);
  EXPECT_TRUE(store.ok()) << store.error();
  return store.ok() ? std::move(store).value() : nullptr;
}

sqlite::Database raw_open(const fs::path& path) {
  auto db = sqlite::Database::open(path.string(), kRawFlags, path.string());
  if (!db) throw std::runtime_error(db.error().describe());
  return std::move(db).value();
}

std::int64_t raw_int(const sqlite::Database& db, std::string_view sql) {
  auto value = db.query_int(sql, "test query");
  if (!value) throw std::runtime_error(value.error().describe());
  return *value;
}

void raw_exec(const sqlite::Database& db, std::string_view sql) {
  auto done = db.exec(sql, "test script");
  if (!done) throw std::runtime_error(done.error().describe());
}

bool has_substr(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void expect_same_session(const Session& a, const Session& b) {
  EXPECT_EQ(a.homeserver, b.homeserver);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.device_id, b.device_id);
  EXPECT_EQ(a.access_token, b.access_token);
}

}  // namespace

// ---- fresh databases ---------------------------------------------------------------------

TEST(Store, FreshFileIsCreatedWithParentsAtLatestSchema) {
  TempDir dir;
  const fs::path path = dir / "a/b/c/store.db";
  {
    auto store = open_ok(path);
    ASSERT_NE(store, nullptr);
    EXPECT_GE(Store::latest_schema_version(), 1);
    EXPECT_EQ(store->schema_version(), Store::latest_schema_version());
    auto session = store->load_session();
    ASSERT_TRUE(session.ok()) << session.error();
    EXPECT_FALSE(session->has_value());
    auto token = store->load_sync_token();
    ASSERT_TRUE(token.ok()) << token.error();
    EXPECT_FALSE(token->has_value());
  }
  ASSERT_TRUE(fs::is_regular_file(path));

  // It holds a secret: owner-only.
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto db = raw_open(path);
  EXPECT_EQ(raw_int(db, "PRAGMA user_version"), Store::latest_schema_version());
  EXPECT_EQ(raw_int(db, "PRAGMA application_id"), mxcall::store::kApplicationId);
  auto mode = db.query_text("PRAGMA journal_mode", "test");
  ASSERT_TRUE(mode.ok()) << mode.error();
  EXPECT_EQ(*mode, "wal");
}

TEST(Store, EmptyFileIsTreatedAsNewDatabase) {
  TempDir dir;
  const fs::path path = dir / "empty.db";
  write_bytes(path, "");
  ASSERT_EQ(fs::file_size(path), 0u);
  {
    auto store = open_ok(path);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->schema_version(), Store::latest_schema_version());
    ASSERT_TRUE(store->save_sync_token("s1").ok());
  }
  auto reopened = open_ok(path);
  ASSERT_NE(reopened, nullptr);
  auto token = reopened->load_sync_token();
  ASSERT_TRUE(token.ok()) << token.error();
  EXPECT_EQ(token->value_or(""), "s1");
}

TEST(Store, InMemoryStoreWorksAndIsPrivateToItsInstance) {
  auto first = Store::open_in_memory();
  ASSERT_TRUE(first.ok()) << first.error();
  auto second = Store::open_in_memory();
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ((*first)->schema_version(), Store::latest_schema_version());

  ASSERT_TRUE((*first)->save_session(sample_session()).ok());
  ASSERT_TRUE((*first)->save_sync_token("m1").ok());

  auto session = (*first)->load_session();
  ASSERT_TRUE(session.ok()) << session.error();
  ASSERT_TRUE(session->has_value());
  expect_same_session(**session, sample_session());
  EXPECT_EQ((*first)->load_sync_token().value().value_or(""), "m1");

  auto other = (*second)->load_session();
  ASSERT_TRUE(other.ok()) << other.error();
  EXPECT_FALSE(other->has_value());
}

// ---- round trips and overwrite semantics -----------------------------------------------

TEST(Store, SessionRoundTripSurvivesReopen) {
  TempDir dir;
  const fs::path path = dir / "store.db";
  {
    auto store = open_ok(path);
    ASSERT_NE(store, nullptr);
    auto saved = store->save_session(sample_session());
    ASSERT_TRUE(saved.ok()) << saved.error();
  }
  auto store = open_ok(path);
  ASSERT_NE(store, nullptr);
  auto loaded = store->load_session();
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  ASSERT_TRUE(loaded->has_value());
  expect_same_session(**loaded, sample_session());
}

TEST(Store, SyncTokenRoundTripSurvivesReopen) {
  TempDir dir;
  const fs::path path = dir / "store.db";
  {
    auto store = open_ok(path);
    ASSERT_NE(store, nullptr);
    auto saved = store->save_sync_token("s72594_4483_1934");
    ASSERT_TRUE(saved.ok()) << saved.error();
  }
  auto store = open_ok(path);
  ASSERT_NE(store, nullptr);
  auto token = store->load_sync_token();
  ASSERT_TRUE(token.ok()) << token.error();
  ASSERT_TRUE(token->has_value());
  EXPECT_EQ(**token, "s72594_4483_1934");
}

TEST(Store, SaveSyncTokenOverwritesPreviousToken) {
  TempDir dir;
  const fs::path path = dir / "store.db";
  {
    auto store = open_ok(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->save_sync_token("first").ok());
    ASSERT_TRUE(store->save_sync_token("second").ok());
    EXPECT_EQ(store->load_sync_token().value().value_or(""), "second");
  }
  auto store = open_ok(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->load_sync_token().value().value_or(""), "second");
  // Still a single row.
  auto db = raw_open(path);
  EXPECT_EQ(raw_int(db, "SELECT count(*) FROM sync_state"), 1);
}

TEST(Store, SaveSessionForSameDeviceOverwritesAndKeepsSyncToken) {
  TempDir dir;
  const fs::path path = dir / "store.db";
  {
    auto store = open_ok(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->save_session(sample_session()).ok());
    ASSERT_TRUE(store->save_sync_token("s1").ok());
    Session refreshed = sample_session();
    refreshed.access_token = "syt_new_token";
    refreshed.homeserver = "https://matrix.example.org";
    auto saved = store->save_session(refreshed);
    ASSERT_TRUE(saved.ok()) << saved.error();
  }
  auto store = open_ok(path);
  ASSERT_NE(store, nullptr);
  auto loaded = store->load_session();
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->access_token, "syt_new_token");
  EXPECT_EQ((*loaded)->homeserver, "https://matrix.example.org");
  EXPECT_EQ(store->load_sync_token().value().value_or("<none>"), "s1");
  auto db = raw_open(path);
  EXPECT_EQ(raw_int(db, "SELECT count(*) FROM session"), 1);
}

TEST(Store, SaveSessionForAnotherDeviceOrUserDropsSyncToken) {
  auto opened = Store::open_in_memory();
  ASSERT_TRUE(opened.ok()) << opened.error();
  Store& store = **opened;

  ASSERT_TRUE(store.save_session(sample_session()).ok());
  ASSERT_TRUE(store.save_sync_token("alice-device-1-token").ok());
  Session new_device = sample_session();
  new_device.device_id = "ALICEDEVICE2";
  ASSERT_TRUE(store.save_session(new_device).ok());
  EXPECT_FALSE(store.load_sync_token().value().has_value());

  ASSERT_TRUE(store.save_sync_token("alice-device-2-token").ok());
  Session bob = new_device;
  bob.user_id = "@bob:localhost";
  ASSERT_TRUE(store.save_session(bob).ok());
  EXPECT_FALSE(store.load_sync_token().value().has_value());
  expect_same_session(store.load_session().value().value(), bob);
}

TEST(Store, ClearSessionForgetsSessionAndSyncTokenAcrossReopen) {
  TempDir dir;
  const fs::path path = dir / "store.db";
  {
    auto store = open_ok(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->save_session(sample_session()).ok());
    ASSERT_TRUE(store->save_sync_token("s1").ok());
    auto cleared = store->clear_session();
    ASSERT_TRUE(cleared.ok()) << cleared.error();
    EXPECT_FALSE(store->load_session().value().has_value());
    EXPECT_FALSE(store->load_sync_token().value().has_value());
  }
  auto store = open_ok(path);
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->load_session().value().has_value());
  EXPECT_FALSE(store->load_sync_token().value().has_value());
  // Clearing nothing is fine, and the store stays usable.
  EXPECT_TRUE(store->clear_session().ok());
  ASSERT_TRUE(store->save_session(sample_session()).ok());
  EXPECT_TRUE(store->load_session().value().has_value());
}

TEST(Store, AwkwardStringsRoundTripExactly) {
  TempDir dir;
  const fs::path path = dir / "store.db";

  std::string control;
  for (int c = 1; c < 32; ++c) control.push_back(static_cast<char>(c));
  control.push_back('\x7f');
  std::string high_bytes;  // not valid UTF-8: stored as the same bytes anyway
  for (int c = 0x80; c <= 0xff; ++c) high_bytes.push_back(static_cast<char>(c));

  const Session awkward{
      "https://ex'ample.org/\"path\"?q='; DROP TABLE session; --",
      "@ünïcødé:例え.jp 🎉 \u200b\u202e",
      control + "\\%_*?[]",
      high_bytes + std::string(1 << 20, 'x'),  // and a megabyte
  };
  const std::string token = "it's \"quoted\" \xf0\x9f\x93\x9e " + control + high_bytes;
  {
    auto store = open_ok(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->save_session(awkward).ok());
    ASSERT_TRUE(store->save_sync_token(token).ok());
  }
  auto store = open_ok(path);
  ASSERT_NE(store, nullptr);
  auto loaded = store->load_session();
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  ASSERT_TRUE(loaded->has_value());
  expect_same_session(**loaded, awkward);
  EXPECT_EQ(store->load_sync_token().value().value_or(""), token);
}

TEST(Store, EmptyStringsRoundTripAsEmptyNotMissing) {
  auto opened = Store::open_in_memory();
  ASSERT_TRUE(opened.ok()) << opened.error();
  ASSERT_TRUE((*opened)->save_session(Session{}).ok());
  ASSERT_TRUE((*opened)->save_sync_token("").ok());
  auto session = (*opened)->load_session();
  ASSERT_TRUE(session.ok()) << session.error();
  ASSERT_TRUE(session->has_value());
  expect_same_session(**session, Session{});
  auto token = (*opened)->load_sync_token();
  ASSERT_TRUE(token.ok()) << token.error();
  ASSERT_TRUE(token->has_value());
  EXPECT_EQ(**token, "");
}

// ---- concurrency -------------------------------------------------------------------------

TEST(Store, ConcurrentSaveSyncTokenEndsWithOneWrittenValue) {
  TempDir dir;
  auto store = open_ok(dir / "store.db");
  ASSERT_NE(store, nullptr);

  constexpr int kThreads = 4;
  constexpr int kWrites = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        if (!store->save_sync_token("t" + std::to_string(t) + "-" + std::to_string(i)).ok()) ++failures;
        if (!store->load_sync_token().ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);

  // The last write overall is some thread's last write.
  std::set<std::string> last_writes;
  for (int t = 0; t < kThreads; ++t) last_writes.insert("t" + std::to_string(t) + "-" + std::to_string(kWrites - 1));
  auto token = store->load_sync_token();
  ASSERT_TRUE(token.ok()) << token.error();
  ASSERT_TRUE(token->has_value());
  EXPECT_TRUE(last_writes.count(**token)) << **token;
}

TEST(Store, TwoStoresOnOneFileWriteConcurrentlyWithoutBusyErrors) {
  TempDir dir;
  const fs::path path = dir / "store.db";
  auto a = open_ok(path);
  auto b = open_ok(path);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);

  std::atomic<int> failures{0};
  std::thread writer_a([&] {
    for (int i = 0; i < 100; ++i) {
      if (!a->save_sync_token("a" + std::to_string(i)).ok()) ++failures;
      Session s = sample_session();
      s.access_token = "a" + std::to_string(i);
      if (!a->save_session(s).ok()) ++failures;
    }
  });
  std::thread writer_b([&] {
    for (int i = 0; i < 100; ++i) {
      if (!b->save_sync_token("b" + std::to_string(i)).ok()) ++failures;
      if (!b->load_session().ok()) ++failures;
      if (i % 10 == 0 && !b->clear_session().ok()) ++failures;
    }
  });
  writer_a.join();
  writer_b.join();
  EXPECT_EQ(failures.load(), 0);
  auto token = a->load_sync_token();
  ASSERT_TRUE(token.ok()) << token.error();
}

// ---- existing files: migrate, or refuse and leave untouched -----------------------------

TEST(Store, VersionZeroDatabaseIsMigratedToLatest) {
  TempDir dir;
  const fs::path path = dir / "v0.db";
  {
    // A real SQLite file (pages on disk) with no tables and user_version 0.
    auto db = raw_open(path);
    raw_exec(db, "PRAGMA journal_mode = DELETE; CREATE TABLE scratch (x); DROP TABLE scratch;");
    EXPECT_EQ(raw_int(db, "PRAGMA user_version"), 0);
  }
  ASSERT_GT(fs::file_size(path), 0u);

  {
    auto store = open_ok(path);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->schema_version(), Store::latest_schema_version());
    ASSERT_TRUE(store->save_session(sample_session()).ok());
  }
  auto db = raw_open(path);
  EXPECT_EQ(raw_int(db, "PRAGMA user_version"), Store::latest_schema_version());
  EXPECT_EQ(raw_int(db, "SELECT count(*) FROM session"), 1);
}

TEST(Store, NewerSchemaIsRefusedAndFileLeftByteIdentical) {
  TempDir dir;
  const int newer = Store::latest_schema_version() + 1;
  // As mxcall leaves it (WAL), and in rollback-journal mode, where any write to the header
  // (switching to WAL, say) would show in the bytes.
  for (const std::string mode : {"WAL", "DELETE"}) {
    SCOPED_TRACE(mode);
    const fs::path path = dir / ("newer-" + mode + ".db");
    {
      auto store = open_ok(path);
      ASSERT_NE(store, nullptr);
      ASSERT_TRUE(store->save_session(sample_session()).ok());
    }
    {
      auto db = raw_open(path);
      raw_exec(db, "PRAGMA journal_mode = " + mode + "; PRAGMA user_version = " + std::to_string(newer));
    }
    const std::string before = read_bytes(path);
    const auto listing = directory_listing(dir.path());
    ASSERT_FALSE(before.empty());

    auto refused = Store::open(path);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().kind, ErrorKind::Store);
    const std::string& message = refused.error().message;
    EXPECT_TRUE(has_substr(message, "newer mxcall")) << message;
    EXPECT_TRUE(has_substr(message, "schema " + std::to_string(newer))) << message;
    EXPECT_TRUE(has_substr(message, "up to " + std::to_string(Store::latest_schema_version()))) << message;
    EXPECT_TRUE(has_substr(message, path.filename().string())) << message;

    EXPECT_EQ(read_bytes(path), before);
    EXPECT_EQ(directory_listing(dir.path()), listing);
  }
}

TEST(Store, GarbageFileIsRefusedAndLeftByteIdentical) {
  TempDir dir;
  std::string big;
  for (int i = 0; i < 8192; ++i) big.push_back(static_cast<char>((i * 7919 + 13) % 251));
  const std::vector<std::string> contents = {
      "hello",                                              // shorter than an SQLite header
      "this is not a database, it is a shopping list\n" + big,
      std::string("SQLite format 3\0", 16) + big,           // right magic, nonsense after it
  };
  for (std::size_t i = 0; i < contents.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    const fs::path path = dir / ("garbage" + std::to_string(i) + ".db");
    write_bytes(path, contents[i]);
    const auto listing = directory_listing(dir.path());

    auto refused = Store::open(path);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().kind, ErrorKind::Store);
    EXPECT_TRUE(has_substr(refused.error().message, path.filename().string())) << refused.error();
    if (i < 2) {
      EXPECT_TRUE(has_substr(refused.error().message, "not an mxcall database")) << refused.error();
      EXPECT_TRUE(has_substr(refused.error().message, "file is not a database")) << refused.error();
    }
    EXPECT_EQ(read_bytes(path), contents[i]);
    EXPECT_EQ(directory_listing(dir.path()), listing);  // no -wal/-shm/-journal left behind
  }
}

TEST(Store, ForeignSqliteDatabasesAreRefusedAndLeftByteIdentical) {
  TempDir dir;
  const std::vector<std::string> setups = {
      "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me');",  // tables, version 0
      "PRAGMA application_id = 42; PRAGMA user_version = 1;",                  // another app's id
      "PRAGMA user_version = 7; CREATE TABLE t (x);",                           // versioned, no id
  };
  for (std::size_t i = 0; i < setups.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    const fs::path path = dir / ("foreign" + std::to_string(i) + ".db");
    {
      auto db = raw_open(path);
      raw_exec(db, "PRAGMA journal_mode = DELETE;");
      raw_exec(db, setups[i]);
    }
    const std::string before = read_bytes(path);
    const auto listing = directory_listing(dir.path());

    auto refused = Store::open(path);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().kind, ErrorKind::Store);
    EXPECT_TRUE(has_substr(refused.error().message, "not an mxcall database")) << refused.error();
    EXPECT_EQ(read_bytes(path), before);
    EXPECT_EQ(directory_listing(dir.path()), listing);
  }
}

TEST(Store, PathThatIsADirectoryFailsWithStoreError) {
  TempDir dir;
  auto refused = Store::open(dir.path());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::Store);
  EXPECT_TRUE(has_substr(refused.error().message, dir.path().filename().string())) << refused.error();
}

TEST(Store, EmptyPathFailsWithStoreError) {
  auto refused = Store::open(fs::path());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::Store);
}

// ---- the migration runner ---------------------------------------------------------------

namespace {

constexpr Migration kThreeSteps[] = {
    {1, "one", "CREATE TABLE one (x INTEGER NOT NULL);"},
    {2, "two", "CREATE TABLE two (y TEXT); INSERT INTO two VALUES ('seed');"},
    {3, "three", "ALTER TABLE one ADD COLUMN z TEXT NOT NULL DEFAULT 'zed';"},
};

sqlite::Database memory_db() {
  auto db = sqlite::Database::open(":memory:", kRawFlags, ":memory:");
  if (!db) throw std::runtime_error(db.error().describe());
  return std::move(db).value();
}

}  // namespace

TEST(StoreMigrations, BuiltInListIsNumberedFromOneInOrder) {
  const auto list = mxcall::store::schema_migrations();
  ASSERT_FALSE(list.empty());
  for (std::size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(list[i].version, static_cast<int>(i) + 1);
    EXPECT_FALSE(list[i].name.empty());
    EXPECT_FALSE(list[i].sql.empty());
  }
  EXPECT_EQ(Store::latest_schema_version(), static_cast<int>(list.size()));
}

TEST(StoreMigrations, OlderDatabaseGetsOnlyPendingStepsAndKeepsData) {
  auto db = memory_db();
  auto first = mxcall::store::apply_migrations(db, std::span(kThreeSteps).first(1));
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(*first, 1);
  raw_exec(db, "INSERT INTO one (x) VALUES (41), (42);");

  auto rest = mxcall::store::apply_migrations(db, kThreeSteps);
  ASSERT_TRUE(rest.ok()) << rest.error();
  EXPECT_EQ(*rest, 3);
  EXPECT_EQ(raw_int(db, "PRAGMA user_version"), 3);
  EXPECT_EQ(raw_int(db, "SELECT sum(x) FROM one WHERE z = 'zed'"), 83);
  EXPECT_EQ(raw_int(db, "SELECT count(*) FROM two"), 1);

  // Nothing pending: a no-op (the seed row is not inserted twice).
  auto again = mxcall::store::apply_migrations(db, kThreeSteps);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(*again, 3);
  EXPECT_EQ(raw_int(db, "SELECT count(*) FROM two"), 1);
  EXPECT_FALSE(db.in_transaction());
}

TEST(StoreMigrations, FailingStepRollsBackItsSqlAndVersionBump) {
  constexpr Migration broken[] = {
      {1, "one", "CREATE TABLE one (x INTEGER);"},
      {2, "two", "CREATE TABLE two (y TEXT); INSERT INTO nowhere VALUES (1);"},
  };
  auto db = memory_db();
  auto result = mxcall::store::apply_migrations(db, broken);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().kind, ErrorKind::Store);
  EXPECT_TRUE(has_substr(result.error().message, "migrating to schema 2")) << result.error();
  EXPECT_TRUE(has_substr(result.error().message, "no such table: nowhere")) << result.error();

  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(raw_int(db, "PRAGMA user_version"), 1);  // step 1 committed on its own
  EXPECT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'one'"), 1);
  EXPECT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'two'"), 0);
}

TEST(StoreMigrations, DatabaseNewerThanListIsRefusedUnchanged) {
  auto db = memory_db();
  ASSERT_TRUE(mxcall::store::apply_migrations(db, kThreeSteps).ok());
  auto refused = mxcall::store::apply_migrations(db, std::span(kThreeSteps).first(2));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(has_substr(refused.error().message, "written by a newer mxcall: schema 3, this build knows up to 2"))
      << refused.error();
  EXPECT_EQ(raw_int(db, "PRAGMA user_version"), 3);
}

TEST(StoreMigrations, MisnumberedListIsRejected) {
  constexpr Migration gap[] = {
      {1, "one", "CREATE TABLE one (x);"},
      {3, "three", "CREATE TABLE three (x);"},
  };
  auto db = memory_db();
  auto result = mxcall::store::apply_migrations(db, gap);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(raw_int(db, "PRAGMA user_version"), 0);
  EXPECT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_master"), 0);
}

// ---- the SQLite wrapper -----------------------------------------------------------------

TEST(StoreSqlite, ErrorsNameTheDatabaseTheActionAndSqlitesMessage) {
  auto db = memory_db();
  auto bad = db.prepare("SELEC 1", "counting the spoons");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::Store);
  EXPECT_TRUE(has_substr(bad.error().message, ":memory:")) << bad.error();
  EXPECT_TRUE(has_substr(bad.error().message, "counting the spoons")) << bad.error();
  EXPECT_TRUE(has_substr(bad.error().message, "syntax error")) << bad.error();

  raw_exec(db, "CREATE TABLE single (id INTEGER PRIMARY KEY CHECK (id = 1));");
  auto insert = db.prepare("INSERT INTO single (id) VALUES (?1)", "inserting a row");
  ASSERT_TRUE(insert.ok()) << insert.error();
  ASSERT_TRUE(insert->bind(1, std::int64_t{2}).ok());
  auto ran = insert->run();
  ASSERT_FALSE(ran.ok());
  EXPECT_TRUE(has_substr(ran.error().message, "inserting a row")) << ran.error();
  EXPECT_TRUE(has_substr(ran.error().message, "CHECK constraint failed")) << ran.error();
}

TEST(StoreSqlite, PrepareRejectsASecondStatement) {
  auto db = memory_db();
  EXPECT_TRUE(db.prepare("SELECT 1; -- a comment\n  ", "one statement").ok());
  auto two = db.prepare("SELECT 1; SELECT 2", "two statements");
  ASSERT_FALSE(two.ok());
  EXPECT_TRUE(has_substr(two.error().message, "single SQL statement")) << two.error();
}

TEST(StoreSqlite, TransactionRollsBackUnlessCommitted) {
  auto db = memory_db();
  raw_exec(db, "CREATE TABLE t (x INTEGER);");
  {
    auto tx = sqlite::Transaction::begin(db, "adding a row I will regret");
    ASSERT_TRUE(tx.ok()) << tx.error();
    EXPECT_TRUE(db.in_transaction());
    raw_exec(db, "INSERT INTO t VALUES (1);");
  }  // dropped without commit
  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(raw_int(db, "SELECT count(*) FROM t"), 0);
  {
    auto tx = sqlite::Transaction::begin(db, "adding a row");
    ASSERT_TRUE(tx.ok()) << tx.error();
    raw_exec(db, "INSERT INTO t VALUES (2);");
    auto committed = tx->commit();
    ASSERT_TRUE(committed.ok()) << committed.error();
    EXPECT_FALSE(tx->commit().ok());  // only once
  }
  EXPECT_EQ(raw_int(db, "SELECT count(*) FROM t"), 1);

  // A nested BEGIN is an error, not a crash, and leaves the outer transaction alone.
  auto outer = sqlite::Transaction::begin(db, "outer");
  ASSERT_TRUE(outer.ok()) << outer.error();
  auto inner = sqlite::Transaction::begin(db, "inner");
  EXPECT_FALSE(inner.ok());
  EXPECT_TRUE(db.in_transaction());
}

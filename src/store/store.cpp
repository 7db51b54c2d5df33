#include "mxcall/store.hpp"

#include <cerrno>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include "store/migrations.hpp"
#include "store/sqlite.hpp"
#include "store/store_impl.hpp"
#include "util/logging.hpp"

namespace mxcall::store {

namespace fs = std::filesystem;

namespace {

constexpr int kOpenFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
constexpr int kBusyTimeoutMs = 5000;

Error not_mxcall_database(std::string_view label, std::string_view why) {
  return sqlite::make_error(label, "refusing to open it",
                            "not an mxcall database (" + std::string(why) + "); it was left untouched");
}

// The store holds an access token: create the file owner-only before SQLite does (SQLite
// then gives its -wal/-shm files the same permissions). An existing file is left as is.
Status create_private_file(const fs::path& path, std::string_view label) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return ok_status();
  }
  const int err = errno;
  if (err == EEXIST) return ok_status();
  return sqlite::make_error(label, "creating the database file",
                            std::error_code(err, std::generic_category()).message());
}

// Everything after the connection exists: identify the file, refuse what is not ours or
// too new (before anything could write to it), configure the connection, migrate.
Result<int> prepare_database(const sqlite::Database& db) {
  const std::string& label = db.label();

  // Connection-level settings only: nothing here touches the file.
  if (auto set = db.exec("PRAGMA busy_timeout = " + std::to_string(kBusyTimeoutMs), "setting the busy timeout");
      !set) {
    return std::move(set).error();
  }

  // The first read of the file. A file that is not SQLite fails here, before any write.
  auto objects = db.query_int("SELECT count(*) FROM sqlite_master", "reading the schema");
  if (!objects) {
    const int primary = db.extended_error_code() & 0xff;
    if (primary == SQLITE_NOTADB) return not_mxcall_database(label, "file is not a database");
    return std::move(objects).error();
  }
  auto version = read_schema_version(db);
  if (!version) return version;
  auto application_id = read_application_id(db);
  if (!application_id) return std::move(application_id).error();

  const int latest = latest_migration_version();
  if (*application_id != 0 && *application_id != kApplicationId) {
    return not_mxcall_database(label, "it belongs to another application: application_id " +
                                          std::to_string(*application_id));
  }
  if (*application_id == 0 && *version != 0) {
    return not_mxcall_database(label, "a schema version " + std::to_string(*version) +
                                          " not written by mxcall");
  }
  if (*version == 0 && *objects != 0) {
    return not_mxcall_database(label, "it already holds tables of its own");
  }
  if (*version < 0) {
    return not_mxcall_database(label, "invalid schema version " + std::to_string(*version));
  }
  if (*version > latest) return newer_schema_error(label, *version, latest);

  if (db.file_backed()) {
    auto mode = db.query_text("PRAGMA journal_mode = WAL", "switching to WAL journaling");
    if (!mode) return std::move(mode).error();
    if (*mode != "wal") {
      MXLOG_WARN("store {}: WAL journaling unavailable here, using journal_mode={}", label, *mode);
    }
  }
  if (auto set = db.exec("PRAGMA synchronous = NORMAL", "setting synchronous=NORMAL"); !set) {
    return std::move(set).error();
  }
  if (auto set = db.exec("PRAGMA foreign_keys = ON", "enabling foreign keys"); !set) {
    return std::move(set).error();
  }
  return apply_migrations(db, schema_migrations());
}

}  // namespace

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const fs::path& path) {
  if (path.empty()) {
    return Error::make(ErrorKind::Store, "store: opening the database: the path is empty");
  }
  // Absolute, so that a name such as "file:x" can never be read as an SQLite URI and the
  // log names the real place.
  std::error_code ec;
  fs::path full = fs::absolute(path, ec);
  if (ec) full = path;  // not lexically_normal(): "symlink/.." must mean what the kernel says
  const std::string label = full.string();

  if (const fs::path parent = full.parent_path(); !parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) {
      return sqlite::make_error(label, "creating the directory " + parent.string(), ec.message());
    }
  }
  if (auto created = create_private_file(full, label); !created) return std::move(created).error();

  auto db = sqlite::Database::open(full.string(), kOpenFlags, label);
  if (!db) return std::move(db).error();
  auto version = prepare_database(*db);
  if (!version) return std::move(version).error();

  auto impl = std::make_unique<Impl>(std::move(db).value());
  impl->schema_version = *version;
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<std::unique_ptr<Store>> Store::open_in_memory() {
  auto db = sqlite::Database::open(":memory:", kOpenFlags, ":memory:");
  if (!db) return std::move(db).error();
  auto version = prepare_database(*db);
  if (!version) return std::move(version).error();

  auto impl = std::make_unique<Impl>(std::move(db).value());
  impl->schema_version = *version;
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

int Store::latest_schema_version() { return latest_migration_version(); }

int Store::schema_version() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->schema_version;
}

Result<std::optional<Session>> Store::load_session() const {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->db.prepare(
      "SELECT homeserver, user_id, device_id, access_token FROM session WHERE id = 1",
      "loading the session");
  if (!statement) return std::move(statement).error();
  auto row = statement->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<Session>{};
  Session session{statement->column_text(0), statement->column_text(1), statement->column_text(2),
                  statement->column_text(3)};
  return std::optional<Session>(std::move(session));
}

// Keeps the sync token when the same device logs in again (a new access token); drops it
// when the session now belongs to another user or device, whose /sync position it is not.
Status Store::save_session(const Session& session) {
  std::lock_guard lock(impl_->mutex);
  const sqlite::Database& db = impl_->db;
  constexpr std::string_view what = "saving the session";

  auto tx = sqlite::Transaction::begin(db, what);
  if (!tx) return std::move(tx).error();

  auto previous = db.prepare("SELECT user_id, device_id FROM session WHERE id = 1", what);
  if (!previous) return std::move(previous).error();
  auto row = previous->step();
  if (!row) return std::move(row).error();
  const bool other_device =
      *row && (previous->column_text(0) != session.user_id || previous->column_text(1) != session.device_id);
  previous->reset();
  if (other_device) {
    // The sync position, the olm identity, room state and group calls belong to the previous
    // user or device.
    if (auto dropped = db.exec(std::string("DELETE FROM sync_state; DELETE FROM room_state; DELETE FROM group_calls; ") +
                                   std::string(kOlmStateReset),
                               what);
        !dropped)
      return dropped;
  }

  auto upsert = db.prepare(
      "INSERT INTO session (id, homeserver, user_id, device_id, access_token) VALUES (1, ?1, ?2, ?3, ?4) "
      "ON CONFLICT (id) DO UPDATE SET homeserver = excluded.homeserver, user_id = excluded.user_id, "
      "device_id = excluded.device_id, access_token = excluded.access_token",
      what);
  if (!upsert) return std::move(upsert).error();
  for (const auto& [index, text] : {std::pair<int, const std::string*>{1, &session.homeserver},
                                    {2, &session.user_id},
                                    {3, &session.device_id},
                                    {4, &session.access_token}}) {
    if (auto bound = upsert->bind(index, *text); !bound) return bound;
  }
  if (auto ran = upsert->run(); !ran) return ran;
  return tx->commit();
}

Status Store::clear_session() {
  std::lock_guard lock(impl_->mutex);
  const sqlite::Database& db = impl_->db;
  constexpr std::string_view what = "clearing the session";

  auto tx = sqlite::Transaction::begin(db, what);
  if (!tx) return std::move(tx).error();
  if (auto deleted = db.exec(std::string("DELETE FROM session; DELETE FROM sync_state; DELETE FROM room_state; "
                                         "DELETE FROM group_calls; ") +
                                 std::string(kOlmStateReset),
                             what);
      !deleted)
    return deleted;
  return tx->commit();
}

Result<std::optional<std::string>> Store::load_sync_token() const {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->db.prepare("SELECT next_batch FROM sync_state WHERE id = 1", "loading the sync token");
  if (!statement) return std::move(statement).error();
  auto row = statement->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<std::string>{};
  return std::optional<std::string>(statement->column_text(0));
}

Status Store::save_sync_token(const std::string& next_batch) {
  std::lock_guard lock(impl_->mutex);
  // One statement, so one implicit transaction.
  auto statement = impl_->db.prepare(
      "INSERT INTO sync_state (id, next_batch) VALUES (1, ?1) "
      "ON CONFLICT (id) DO UPDATE SET next_batch = excluded.next_batch",
      "saving the sync token");
  if (!statement) return std::move(statement).error();
  if (auto bound = statement->bind(1, next_batch); !bound) return bound;
  return statement->run();
}

}  // namespace mxcall::store

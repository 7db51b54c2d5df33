// Persistent client state in SQLite (WAL): the login session and the /sync token today;
// olm sessions, ongoing calls and members join it in later schema versions.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "mxcall/error.hpp"

namespace mxcall::store {

struct Session {
  std::string homeserver;  // base URL, e.g. http://127.0.0.1:8008
  std::string user_id;
  std::string device_id;
  std::string access_token;
};

// Thread-safe: every method may be called from any thread (one internal mutex).
class Store {
 public:
  // Opens or creates the database and applies pending migrations, each in one transaction.
  // A file that is not a database, or one written by a newer mxcall (a schema version this
  // build does not know), gives ErrorKind::Store with a message saying so; nothing is changed.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path);
  static Result<std::unique_ptr<Store>> open_in_memory();
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  static int latest_schema_version();
  int schema_version() const;

  Result<std::optional<Session>> load_session() const;
  Status save_session(const Session& session);
  // Forgets the session and everything tied to it (sync token).
  Status clear_session();

  Result<std::optional<std::string>> load_sync_token() const;
  Status save_sync_token(const std::string& next_batch);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxcall::store

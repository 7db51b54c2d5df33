// The store's schema as numbered migrations. The schema version lives in PRAGMA user_version:
// 0 is an empty database, N means migrations 1..N have been applied.
//
// To change the schema, append one entry to the list in migrations.cpp (never edit or
// reorder a released one). Each migration runs in its own transaction together with its
// user_version bump, with foreign_keys=ON (a migration that rebuilds a referenced table
// has to cope with that: PRAGMA foreign_keys cannot change inside a transaction).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "mxcall/error.hpp"
#include "store/sqlite.hpp"

namespace mxcall::store {

struct Migration {
  int version;            // the schema version once this has run: 1, 2, 3...
  std::string_view name;  // what it adds, for logs and errors
  std::string_view sql;   // one or more statements
};

// PRAGMA application_id of an mxcall store ("mxca" in ASCII), set by migration 1.
inline constexpr std::int64_t kApplicationId = 0x6D786361;

// Every migration this build knows, oldest first; entry i produces version i + 1.
std::span<const Migration> schema_migrations() noexcept;
// The version the newest known migration produces.
int latest_migration_version() noexcept;

// PRAGMA user_version.
Result<int> read_schema_version(const sqlite::Database& db);

// PRAGMA application_id (0 when never set).
Result<std::int64_t> read_application_id(const sqlite::Database& db);

// The refusal for a database written by a newer mxcall.
Error newer_schema_error(std::string_view label, int found, int latest);

// Brings `db` up to the last entry of `migrations` (which must be numbered 1, 2, 3... in
// order) and returns the resulting version. Each pending migration is applied in its own
// IMMEDIATE transaction together with its user_version bump: a failure leaves the database
// at the previous version with nothing of the failed step applied. A database whose version
// is above the list is refused untouched. Safe against another process migrating the same
// file at the same time (the version is re-read under the write lock).
Result<int> apply_migrations(const sqlite::Database& db, std::span<const Migration> migrations);

}  // namespace mxcall::store

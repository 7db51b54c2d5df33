#include "store/migrations.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "util/logging.hpp"

namespace mxcall::store {

namespace {

// Append only. Single-row tables use `id INTEGER PRIMARY KEY CHECK (id = 1)`.
constexpr Migration kMigrations[] = {
    {1, "login session and sync token", R"sql(
-- Marks the file as mxcall's (see kApplicationId in migrations.hpp).
PRAGMA application_id = 1836606305;
-- The login session: at most one row.
CREATE TABLE session (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  homeserver   TEXT NOT NULL,
  user_id      TEXT NOT NULL,
  device_id    TEXT NOT NULL,
  access_token TEXT NOT NULL
);
-- Where the next /sync continues from: at most one row.
CREATE TABLE sync_state (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  next_batch TEXT NOT NULL
);
)sql"},
    {2, "olm account, sessions and device keys", R"sql(
-- Our olm account (identity and one-time keys), pickled and encrypted with the pickle key:
-- at most one row, for the device of the session.
CREATE TABLE olm_account (
  id                     INTEGER PRIMARY KEY CHECK (id = 1),
  user_id                TEXT NOT NULL,
  device_id              TEXT NOT NULL,
  pickle                 TEXT NOT NULL,
  device_keys_published  INTEGER NOT NULL DEFAULT 0
);
-- Olm sessions with other devices, by the other side's curve25519 key; pickled and encrypted.
CREATE TABLE olm_sessions (
  sender_key        TEXT NOT NULL,
  session_id        TEXT NOT NULL,
  pickle            TEXT NOT NULL,
  created_ms        INTEGER NOT NULL,
  last_received_ms  INTEGER NOT NULL,
  PRIMARY KEY (sender_key, session_id)
) WITHOUT ROWID;
-- Validated device keys from /keys/query. A device's keys are never replaced by different
-- ones; a device the server stopped listing is kept as deleted so its id cannot come back
-- with other keys.
CREATE TABLE olm_devices (
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  curve25519  TEXT NOT NULL,
  ed25519     TEXT NOT NULL,
  keys_json   TEXT NOT NULL,
  deleted     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, device_id)
) WITHOUT ROWID;
CREATE INDEX olm_devices_by_curve25519 ON olm_devices (curve25519);
-- Users whose device lists we follow; outdated = 1 until the next /keys/query for them.
CREATE TABLE olm_tracked_users (
  user_id   TEXT PRIMARY KEY,
  outdated  INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
    {3, "room state cache and ongoing group calls", R"sql(
-- The room state the client acts on (memberships, MSC3401 call and member events), kept so a
-- client restarted from its sync token knows who is in which room and which calls run,
-- without an initial sync or a scan of room history.
CREATE TABLE room_state (
  room_id    TEXT NOT NULL,
  event_type TEXT NOT NULL,
  state_key  TEXT NOT NULL,
  content    TEXT NOT NULL,  -- the event content, JSON
  PRIMARY KEY (room_id, event_type, state_key)
) WITHOUT ROWID;
-- Group calls this device is in: rejoined at start.
CREATE TABLE group_calls (
  room_id     TEXT PRIMARY KEY,
  conf_id     TEXT NOT NULL,
  session_id  TEXT NOT NULL,  -- the session the peers know us by
  video       INTEGER NOT NULL,
  audio_muted INTEGER NOT NULL,
  video_muted INTEGER NOT NULL,
  joined_at   INTEGER NOT NULL  -- unix ms
);
-- The peer calls of a group call, so a restarted device can end them properly (hangups with
-- the right call id and seq) before it rejoins.
CREATE TABLE group_peer_calls (
  room_id         TEXT NOT NULL REFERENCES group_calls (room_id) ON DELETE CASCADE,
  call_id         TEXT NOT NULL,
  user_id         TEXT NOT NULL,
  device_id       TEXT NOT NULL,
  peer_session_id TEXT NOT NULL,
  next_seq        INTEGER NOT NULL,
  PRIMARY KEY (room_id, call_id)
) WITHOUT ROWID;
)sql"},
};

constexpr bool numbered_in_order(std::span<const Migration> list) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].version != static_cast<int>(i) + 1) return false;
  }
  return true;
}
static_assert(numbered_in_order(kMigrations), "migrations must be numbered 1, 2, 3... in order");

static_assert(kApplicationId == 1836606305, "keep migration 1 in step with kApplicationId");

std::string step_name(const Migration& migration) {
  return "migrating to schema " + std::to_string(migration.version) + " (" +
         std::string(migration.name) + ")";
}

}  // namespace

std::span<const Migration> schema_migrations() noexcept { return kMigrations; }

int latest_migration_version() noexcept { return static_cast<int>(std::size(kMigrations)); }

Result<int> read_schema_version(const sqlite::Database& db) {
  auto version = db.query_int("PRAGMA user_version", "reading the schema version");
  if (!version) return std::move(version).error();
  return static_cast<int>(*version);
}

Result<std::int64_t> read_application_id(const sqlite::Database& db) {
  return db.query_int("PRAGMA application_id", "reading the application id");
}

Error newer_schema_error(std::string_view label, int found, int latest) {
  return sqlite::make_error(
      label, "refusing to open it",
      "written by a newer mxcall: schema " + std::to_string(found) + ", this build knows up to " +
          std::to_string(latest) + " (nothing was changed)");
}

Result<int> apply_migrations(const sqlite::Database& db, std::span<const Migration> migrations) {
  if (!numbered_in_order(migrations)) {
    return sqlite::make_error(db.label(), "migrating", "the migration list is not numbered 1, 2, 3...");
  }
  const int latest = static_cast<int>(migrations.size());

  auto initial = read_schema_version(db);
  if (!initial) return initial;
  int current = *initial;
  if (current < 0) {
    return sqlite::make_error(db.label(), "migrating", "invalid schema version " + std::to_string(current));
  }
  if (current > latest) return newer_schema_error(db.label(), current, latest);

  while (current < latest) {
    const Migration& migration = migrations[static_cast<std::size_t>(current)];
    const std::string what = step_name(migration);
    auto tx = sqlite::Transaction::begin(db, what);
    if (!tx) return std::move(tx).error();

    // Under the write lock now: another connection may have migrated in the meantime.
    auto locked = read_schema_version(db);
    if (!locked) return locked;
    if (*locked > latest) return newer_schema_error(db.label(), *locked, latest);
    if (*locked != current) {
      current = *locked;
      continue;  // the guard rolls back the empty transaction
    }

    if (auto applied = db.exec(migration.sql, what); !applied) return std::move(applied).error();
    const std::string bump = "PRAGMA user_version = " + std::to_string(migration.version);
    if (auto bumped = db.exec(bump, what); !bumped) return std::move(bumped).error();
    if (auto committed = tx->commit(); !committed) return std::move(committed).error();

    if (db.file_backed()) {
      MXLOG_INFO("store: migrated {} from schema {} to {}", db.label(), current, migration.version);
    } else {
      MXLOG_DEBUG("store: migrated {} from schema {} to {}", db.label(), current, migration.version);
    }
    current = migration.version;
  }
  return current;
}

}  // namespace mxcall::store

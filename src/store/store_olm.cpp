// The olm part of the store (schema 2): account, sessions, device keys, tracked users.
#include <string>
#include <utility>

#include "mxcall/store.hpp"
#include "store/sqlite.hpp"
#include "store/store_impl.hpp"

namespace mxcall::store {

namespace {

Status bind_all(sqlite::Statement& statement, std::initializer_list<std::string_view> texts) {
  int index = 1;
  for (std::string_view text : texts) {
    if (auto bound = statement.bind(index++, text); !bound) return bound;
  }
  return ok_status();
}

Status upsert_session(const sqlite::Database& db, const OlmSessionRecord& s, std::string_view what) {
  auto statement = db.prepare(
      "INSERT INTO olm_sessions (sender_key, session_id, pickle, created_ms, last_received_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (sender_key, session_id) DO UPDATE SET "
      "pickle = excluded.pickle, last_received_ms = excluded.last_received_ms",
      what);
  if (!statement) return std::move(statement).error();
  if (auto bound = bind_all(*statement, {s.sender_key, s.session_id, s.pickle}); !bound) return bound;
  if (auto bound = statement->bind(4, s.created_ms); !bound) return bound;
  if (auto bound = statement->bind(5, s.last_received_ms); !bound) return bound;
  return statement->run();
}

Status set_tracked(const sqlite::Database& db, const std::string& user_id, bool outdated, bool only_if_tracked,
                   std::string_view what) {
  auto statement = db.prepare(
      only_if_tracked ? "UPDATE olm_tracked_users SET outdated = ?2 WHERE user_id = ?1"
                      : "INSERT INTO olm_tracked_users (user_id, outdated) VALUES (?1, ?2) "
                        "ON CONFLICT (user_id) DO UPDATE SET outdated = excluded.outdated",
      what);
  if (!statement) return std::move(statement).error();
  if (auto bound = statement->bind(1, user_id); !bound) return bound;
  if (auto bound = statement->bind(2, std::int64_t{outdated ? 1 : 0}); !bound) return bound;
  return statement->run();
}

}  // namespace

Result<std::optional<OlmAccountRecord>> Store::load_olm_account() const {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->db.prepare(
      "SELECT user_id, device_id, pickle, device_keys_published FROM olm_account WHERE id = 1",
      "loading the olm account");
  if (!statement) return std::move(statement).error();
  auto row = statement->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<OlmAccountRecord>{};
  return std::optional<OlmAccountRecord>(OlmAccountRecord{statement->column_text(0), statement->column_text(1),
                                                          statement->column_text(2), statement->column_int(3) != 0});
}

Status Store::save_olm_account(const OlmAccountRecord& account, const std::vector<OlmSessionRecord>& sessions) {
  std::lock_guard lock(impl_->mutex);
  const sqlite::Database& db = impl_->db;
  constexpr std::string_view what = "saving the olm account";
  auto tx = sqlite::Transaction::begin(db, what);
  if (!tx) return std::move(tx).error();
  auto statement = db.prepare(
      "INSERT INTO olm_account (id, user_id, device_id, pickle, device_keys_published) VALUES (1, ?1, ?2, ?3, ?4) "
      "ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, device_id = excluded.device_id, "
      "pickle = excluded.pickle, device_keys_published = excluded.device_keys_published",
      what);
  if (!statement) return std::move(statement).error();
  if (auto bound = bind_all(*statement, {account.user_id, account.device_id, account.pickle}); !bound) return bound;
  if (auto bound = statement->bind(4, std::int64_t{account.device_keys_published ? 1 : 0}); !bound) return bound;
  if (auto ran = statement->run(); !ran) return ran;
  for (const auto& session : sessions) {
    if (auto saved = upsert_session(db, session, what); !saved) return saved;
  }
  return tx->commit();
}

Result<std::vector<OlmSessionRecord>> Store::load_olm_sessions() const {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->db.prepare(
      "SELECT sender_key, session_id, pickle, created_ms, last_received_ms FROM olm_sessions "
      "ORDER BY sender_key, last_received_ms, created_ms",
      "loading olm sessions");
  if (!statement) return std::move(statement).error();
  std::vector<OlmSessionRecord> out;
  for (;;) {
    auto row = statement->step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.push_back({statement->column_text(0), statement->column_text(1), statement->column_text(2),
                   statement->column_int(3), statement->column_int(4)});
  }
  return out;
}

Status Store::save_olm_session(const OlmSessionRecord& session) {
  std::lock_guard lock(impl_->mutex);
  return upsert_session(impl_->db, session, "saving an olm session");  // one statement: atomic
}

Status Store::delete_olm_session(const std::string& sender_key, const std::string& session_id) {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->db.prepare("DELETE FROM olm_sessions WHERE sender_key = ?1 AND session_id = ?2",
                                     "deleting an olm session");
  if (!statement) return std::move(statement).error();
  if (auto bound = bind_all(*statement, {sender_key, session_id}); !bound) return bound;
  return statement->run();
}

Result<std::vector<DeviceKeysRecord>> Store::load_device_keys() const {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->db.prepare(
      "SELECT user_id, device_id, curve25519, ed25519, keys_json, deleted FROM olm_devices ORDER BY user_id, device_id",
      "loading device keys");
  if (!statement) return std::move(statement).error();
  std::vector<DeviceKeysRecord> out;
  for (;;) {
    auto row = statement->step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    out.push_back({statement->column_text(0), statement->column_text(1), statement->column_text(2),
                   statement->column_text(3), statement->column_text(4), statement->column_int(5) != 0});
  }
  return out;
}

Result<std::map<std::string, bool>> Store::load_tracked_users() const {
  std::lock_guard lock(impl_->mutex);
  auto statement = impl_->db.prepare("SELECT user_id, outdated FROM olm_tracked_users", "loading tracked users");
  if (!statement) return std::move(statement).error();
  std::map<std::string, bool> out;
  for (;;) {
    auto row = statement->step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    out[statement->column_text(0)] = statement->column_int(1) != 0;
  }
  return out;
}

Status Store::save_device_keys(const std::vector<DeviceKeysRecord>& devices,
                               const std::vector<std::string>& queried_users) {
  std::lock_guard lock(impl_->mutex);
  const sqlite::Database& db = impl_->db;
  constexpr std::string_view what = "saving device keys";
  auto tx = sqlite::Transaction::begin(db, what);
  if (!tx) return std::move(tx).error();
  for (const auto& d : devices) {
    auto statement = db.prepare(
        "INSERT INTO olm_devices (user_id, device_id, curve25519, ed25519, keys_json, deleted) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (user_id, device_id) DO UPDATE SET "
        "curve25519 = excluded.curve25519, ed25519 = excluded.ed25519, keys_json = excluded.keys_json, "
        "deleted = excluded.deleted",
        what);
    if (!statement) return std::move(statement).error();
    if (auto bound = bind_all(*statement, {d.user_id, d.device_id, d.curve25519, d.ed25519, d.keys_json}); !bound)
      return bound;
    if (auto bound = statement->bind(6, std::int64_t{d.deleted ? 1 : 0}); !bound) return bound;
    if (auto ran = statement->run(); !ran) return ran;
  }
  for (const auto& user : queried_users) {
    if (auto set = set_tracked(db, user, false, false, what); !set) return set;
  }
  return tx->commit();
}

Status Store::mark_users_outdated(const std::vector<std::string>& users) {
  std::lock_guard lock(impl_->mutex);
  const sqlite::Database& db = impl_->db;
  constexpr std::string_view what = "marking device lists outdated";
  auto tx = sqlite::Transaction::begin(db, what);
  if (!tx) return std::move(tx).error();
  for (const auto& user : users) {
    if (auto set = set_tracked(db, user, true, true, what); !set) return set;
  }
  return tx->commit();
}

}  // namespace mxcall::store

// Internal to src/store: the state behind mxcall::store::Store, shared by its source files
// (store.cpp: session and sync token; store_olm.cpp: olm state).
#pragma once

#include <mutex>
#include <string_view>
#include <utility>

#include "mxcall/store.hpp"
#include "store/sqlite.hpp"

namespace mxcall::store {

struct Store::Impl {
  mutable std::mutex mutex;
  sqlite::Database db;
  int schema_version = 0;

  explicit Impl(sqlite::Database database) : db(std::move(database)) {}
};

// Forgets every olm table's rows (a new device starts without the previous one's identity).
inline constexpr std::string_view kOlmStateReset =
    "DELETE FROM olm_account; DELETE FROM olm_sessions; DELETE FROM olm_devices; DELETE FROM olm_tracked_users;";

}  // namespace mxcall::store

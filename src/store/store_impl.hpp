// Store's private state, shared by the files that implement its parts.
#pragma once

#include <mutex>

#include "mxcall/store.hpp"
#include "store/sqlite.hpp"

namespace mxcall::store {

struct Store::Impl {
  mutable std::mutex mutex;
  sqlite::Database db;
  int schema_version = 0;

  explicit Impl(sqlite::Database database) : db(std::move(database)) {}
};

}  // namespace mxcall::store

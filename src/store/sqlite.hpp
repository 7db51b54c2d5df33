// A tiny RAII layer over the SQLite C API: a connection, prepared statements and a
// transaction guard. Every failure comes back as an ErrorKind::Store Error whose message
// names the database, what was being done and SQLite's own explanation.
// Not thread-safe by itself: the owner (Store) serialises access.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mxcall/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace mxcall::store::sqlite {

// "store <label>: <what>: <detail>" as ErrorKind::Store.
Error make_error(std::string_view label, std::string_view what, std::string_view detail);

class Statement;

class Database {
 public:
  // Opens `filename` with sqlite3_open_v2 `flags` and turns on extended result codes.
  // `label` names the database in messages (a path, or ":memory:").
  static Result<Database> open(const std::string& filename, int flags, std::string label);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  const std::string& label() const noexcept { return label_; }
  sqlite3* handle() const noexcept { return db_; }

  // The extended result code of the most recent failed call on this connection.
  int extended_error_code() const noexcept;
  // An Error for the most recent failure on this connection (uses sqlite3_errmsg).
  Error last_error(std::string_view what) const;

  // Compiles exactly one statement; trailing whitespace/comments are allowed, more SQL is not.
  Result<Statement> prepare(std::string_view sql, std::string_view what) const;
  // Runs every statement in `sql` (a script) to completion, discarding result rows.
  Status exec(std::string_view sql, std::string_view what) const;
  // The first column of the first row of a one-statement query (an error if there is no row).
  Result<std::int64_t> query_int(std::string_view sql, std::string_view what) const;
  Result<std::string> query_text(std::string_view sql, std::string_view what) const;

  // True while an explicit transaction is open on this connection.
  bool in_transaction() const noexcept;
  // False for in-memory (and temporary) databases.
  bool file_backed() const noexcept;

 private:
  Database(sqlite3* db, std::string label) noexcept;
  void close() noexcept;

  sqlite3* db_ = nullptr;
  std::string label_;
};

class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQL (?1, ?2...). Text is copied by SQLite.
  Status bind(int index, std::string_view text);
  Status bind(int index, std::int64_t value);
  Status bind_null(int index);

  // Advances: true when a result row is ready, false when the statement has finished.
  Result<bool> step();
  // Steps to completion, ignoring any rows.
  Status run();
  // Makes the statement runnable again and clears its bindings.
  void reset() noexcept;

  // Columns of the current row are 0-based.
  bool column_is_null(int column) const noexcept;
  std::int64_t column_int(int column) const noexcept;
  std::string column_text(int column) const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, std::string label, std::string what) noexcept;
  Error error(std::string_view detail_prefix) const;

  sqlite3_stmt* stmt_ = nullptr;
  std::string label_;
  std::string what_;
};

// BEGIN on construction; ROLLBACK on destruction unless commit() succeeded.
// The Database must outlive the guard.
class Transaction {
 public:
  enum class Mode { Deferred, Immediate, Exclusive };

  // IMMEDIATE by default: the write lock is taken up front, so the busy timeout applies
  // instead of a later lock upgrade failing with SQLITE_BUSY.
  static Result<Transaction> begin(const Database& db, std::string_view what,
                                   Mode mode = Mode::Immediate);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Status commit();
  // Rolls back now (the destructor does this too). Safe to call more than once.
  void rollback() noexcept;

 private:
  Transaction(const Database& db, std::string what);

  const Database* db_ = nullptr;  // null once committed or rolled back
  std::string label_;
  std::string what_;
};

}  // namespace mxcall::store::sqlite

#include "store/sqlite.hpp"

#include <climits>
#include <cstdint>
#include <utility>

#include <sqlite3.h>

#include "util/logging.hpp"

namespace mxcall::store::sqlite {

namespace {

// SQLITE_TRANSIENT without the old-style cast of the C macro: SQLite copies the bound value.
sqlite3_destructor_type transient() noexcept {
  return reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));
}

std::string describe_code(const char* message, int code) {
  std::string detail = message != nullptr ? message : "unknown error";
  detail += " (sqlite code ";
  detail += std::to_string(code);
  detail += ')';
  return detail;
}

std::string connection_detail(sqlite3* db) {
  if (db == nullptr) return "no database connection";
  return describe_code(sqlite3_errmsg(db), sqlite3_extended_errcode(db));
}

}  // namespace

Error make_error(std::string_view label, std::string_view what, std::string_view detail) {
  std::string message = "store ";
  message += label;
  message += ": ";
  message += what;
  if (!detail.empty()) {
    message += ": ";
    message += detail;
  }
  return Error::make(ErrorKind::Store, std::move(message));
}

// ---- Database ----------------------------------------------------------------------------

Database::Database(sqlite3* db, std::string label) noexcept : db_(db), label_(std::move(label)) {}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), label_(std::move(other.label_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    label_ = std::move(other.label_);
  }
  return *this;
}

Database::~Database() { close(); }

void Database::close() noexcept {
  if (db_ == nullptr) return;
  // close_v2 never leaves the handle half-open: unfinalised statements (there should be
  // none) only delay the actual release.
  const int rc = sqlite3_close_v2(db_);
  if (rc != SQLITE_OK) {
    MXLOG_WARN("store {}: closing the database: {}", label_, describe_code(sqlite3_errstr(rc), rc));
  }
  db_ = nullptr;
}

Result<Database> Database::open(const std::string& filename, int flags, std::string label) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(filename.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    // sqlite3_open_v2 usually hands back a handle even on failure; it carries the message
    // and must still be closed.
    std::string detail = raw != nullptr ? connection_detail(raw) : describe_code(sqlite3_errstr(rc), rc);
    sqlite3_close_v2(raw);
    return make_error(label, "opening the database", detail);
  }
  sqlite3_extended_result_codes(raw, 1);
  return Database(raw, std::move(label));
}

int Database::extended_error_code() const noexcept {
  return db_ != nullptr ? sqlite3_extended_errcode(db_) : SQLITE_MISUSE;
}

Error Database::last_error(std::string_view what) const {
  return make_error(label_, what, connection_detail(db_));
}

Result<Statement> Database::prepare(std::string_view sql, std::string_view what) const {
  if (db_ == nullptr) return make_error(label_, what, "the database is closed");
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) return make_error(label_, what, "SQL text too long");
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, &tail) != SQLITE_OK) {
    return last_error(what);
  }
  if (raw == nullptr) return make_error(label_, what, "no SQL statement to prepare");
  Statement statement(raw, label_, std::string(what));

  // Anything after the first statement must be whitespace or comments: compiling it must
  // give no statement. (A second statement would otherwise be silently ignored.)
  const std::size_t consumed = static_cast<std::size_t>(tail - sql.data());
  if (consumed < sql.size()) {
    sqlite3_stmt* extra = nullptr;
    const int rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(sql.size() - consumed), &extra, nullptr);
    sqlite3_finalize(extra);
    if (rc != SQLITE_OK || extra != nullptr) {
      return make_error(label_, what, "expected a single SQL statement");
    }
  }
  return statement;
}

Status Database::exec(std::string_view sql, std::string_view what) const {
  if (db_ == nullptr) return make_error(label_, what, "the database is closed");
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) return make_error(label_, what, "SQL text too long");
  const char* cursor = sql.data();
  const char* const end = sql.data() + sql.size();
  while (cursor < end) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db_, cursor, static_cast<int>(end - cursor), &raw, &tail) != SQLITE_OK) {
      return last_error(what);
    }
    if (raw == nullptr) break;  // only whitespace or comments were left
    Statement statement(raw, label_, std::string(what));
    if (auto ran = statement.run(); !ran) return std::move(ran).error();
    cursor = tail;
  }
  return ok_status();
}

Result<std::int64_t> Database::query_int(std::string_view sql, std::string_view what) const {
  auto statement = prepare(sql, what);
  if (!statement) return std::move(statement).error();
  auto row = statement->step();
  if (!row) return std::move(row).error();
  if (!*row) return make_error(label_, what, "the query returned no row");
  return statement->column_int(0);
}

Result<std::string> Database::query_text(std::string_view sql, std::string_view what) const {
  auto statement = prepare(sql, what);
  if (!statement) return std::move(statement).error();
  auto row = statement->step();
  if (!row) return std::move(row).error();
  if (!*row) return make_error(label_, what, "the query returned no row");
  return statement->column_text(0);
}

bool Database::in_transaction() const noexcept {
  return db_ != nullptr && sqlite3_get_autocommit(db_) == 0;
}

bool Database::file_backed() const noexcept {
  if (db_ == nullptr) return false;
  const char* name = sqlite3_db_filename(db_, "main");
  return name != nullptr && name[0] != '\0';
}

// ---- Statement ---------------------------------------------------------------------------

Statement::Statement(sqlite3_stmt* stmt, std::string label, std::string what) noexcept
    : stmt_(stmt), label_(std::move(label)), what_(std::move(what)) {}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      label_(std::move(other.label_)),
      what_(std::move(other.what_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    label_ = std::move(other.label_);
    what_ = std::move(other.what_);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }  // a null statement is a no-op

Error Statement::error(std::string_view detail_prefix) const {
  std::string detail(detail_prefix);
  detail += connection_detail(stmt_ != nullptr ? sqlite3_db_handle(stmt_) : nullptr);
  return make_error(label_, what_, detail);
}

Status Statement::bind(int index, std::string_view text) {
  // A null pointer would bind SQL NULL; an empty view must still be the empty string.
  const char* data = text.data() != nullptr ? text.data() : "";
  if (sqlite3_bind_text64(stmt_, index, data, text.size(), transient(), SQLITE_UTF8) != SQLITE_OK) {
    return error("binding parameter " + std::to_string(index) + ": ");
  }
  return ok_status();
}

Status Statement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, static_cast<sqlite3_int64>(value)) != SQLITE_OK) {
    return error("binding parameter " + std::to_string(index) + ": ");
  }
  return ok_status();
}

Status Statement::bind_null(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) {
    return error("binding parameter " + std::to_string(index) + ": ");
  }
  return ok_status();
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error("");
}

Status Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return std::move(row).error();
    if (!*row) return ok_status();
  }
}

void Statement::reset() noexcept {
  // The return value repeats the last step's error, which was already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::column_is_null(int column) const noexcept {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int(int column) const noexcept {
  return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, column));
}

std::string Statement::column_text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  const int bytes = sqlite3_column_bytes(stmt_, column);  // after column_text, as documented
  if (text == nullptr || bytes <= 0) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(bytes));
}

// ---- Transaction -------------------------------------------------------------------------

Transaction::Transaction(const Database& db, std::string what)
    : db_(&db), label_(db.label()), what_(std::move(what)) {}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      label_(std::move(other.label_)),
      what_(std::move(other.what_)) {}

Transaction::~Transaction() { rollback(); }

Result<Transaction> Transaction::begin(const Database& db, std::string_view what, Mode mode) {
  std::string_view sql = "BEGIN IMMEDIATE";
  switch (mode) {
    case Mode::Deferred: sql = "BEGIN DEFERRED"; break;
    case Mode::Immediate: sql = "BEGIN IMMEDIATE"; break;
    case Mode::Exclusive: sql = "BEGIN EXCLUSIVE"; break;
  }
  std::string context = std::string(what) + " (starting a transaction)";
  if (auto begun = db.exec(sql, context); !begun) return std::move(begun).error();
  return Transaction(db, std::string(what));
}

Status Transaction::commit() {
  if (db_ == nullptr) {
    return make_error(label_, what_, "committing a transaction that is no longer open");
  }
  if (auto committed = db_->exec("COMMIT", what_ + " (committing)"); !committed) {
    // A failed COMMIT may leave the transaction open (SQLITE_BUSY) or may have rolled it
    // back already; rollback() copes with both.
    rollback();
    return committed;
  }
  db_ = nullptr;
  return ok_status();
}

void Transaction::rollback() noexcept {
  const Database* db = std::exchange(db_, nullptr);
  if (db == nullptr || !db->in_transaction()) return;
  const int rc = sqlite3_exec(db->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    MXLOG_WARN("store {}: {}: rolling back failed: {}", db->label(), what_, connection_detail(db->handle()));
  }
}

}  // namespace mxcall::store::sqlite

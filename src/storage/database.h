#pragma once
// The database seam: a small SQL interface with two back ends, SQLite (one
// machine, the default) and PostgreSQL (several machines).
//
// SQL is written once, in the subset both back ends understand, with `?`
// placeholders (the PostgreSQL back end rewrites them to $1, $2, …). Times are
// BIGINT milliseconds since the Unix epoch, booleans are BIGINT 0/1, ids TEXT.
//
// Thread safety: a Database is shared by all threads; each call to Run or
// Transaction gets a connection of its own from a pool. A Session must not
// outlive the callback it was handed to.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace vidmill::storage {

// NULL, integer, real, or text (text may hold arbitrary bytes).
using Value = std::variant<std::monostate, int64_t, double, std::string>;

inline Value Null() { return std::monostate{}; }
inline Value OptionalText(const std::optional<std::string>& text) {
  return text ? Value(*text) : Null();
}

class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool IsNull(size_t column) const;
  // Conversions are lenient between numeric types; NULL reads as 0 / "".
  int64_t Int(size_t column) const;
  double Double(size_t column) const;
  bool Bool(size_t column) const { return Int(column) != 0; }
  std::string Text(size_t column) const;
  std::optional<std::string> OptText(size_t column) const;

 private:
  std::vector<Value> values_;
};

using Rows = std::vector<Row>;

enum class Dialect { kSqlite, kPostgres };

class Session {
 public:
  virtual ~Session() = default;
  // Runs one statement and returns its rows (empty for statements without any).
  virtual Result<Rows> Query(std::string_view sql, const std::vector<Value>& params) = 0;
  // Runs one statement and returns the number of rows it changed.
  virtual Result<int64_t> Execute(std::string_view sql, const std::vector<Value>& params) = 0;
  virtual Dialect dialect() const = 0;

  // Convenience: the first row, or NotFound(what) when there is none.
  Result<Row> QueryOne(std::string_view sql, const std::vector<Value>& params,
                       std::string_view what);
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Dialect dialect() const = 0;

  // Runs `fn` inside one transaction: committed when fn returns OK, rolled back
  // otherwise. SQLite takes the write lock at BEGIN (IMMEDIATE) so two writers
  // never deadlock; transient contention (busy, serialization failure,
  // connection lost) is retried a few times before Unavailable is returned.
  // `fn` may therefore run more than once and must not have side effects
  // outside the database.
  virtual Status Transaction(const std::function<Status(Session&)>& fn) = 0;

  // Runs `fn` on a pooled connection in autocommit mode (each statement is its
  // own transaction). For reads and single-statement writes.
  virtual Status Run(const std::function<Status(Session&)>& fn) = 0;

  // Checks that the database answers (used by the health endpoint).
  virtual Status Ping() = 0;

  // The file the database lives in, for a local one (SQLite); nullopt for a
  // server.
  virtual std::optional<std::string> LocalFile() const { return std::nullopt; }
};

// Whether `status` is a write the database refused for a full disk (SQLite's
// SQLITE_FULL, PostgreSQL's 53100): Unavailable, like any fault of the disk,
// but one that freeing space on that disk cures.
bool IsDiskFull(const Status& status);
inline constexpr std::string_view kDiskFullPrefix = "database disk full: ";

// InvalidArgument for a URL of a scheme other than postgresql://,
// postgres:// or sqlite:// (anything without "://" is a SQLite path).
Status CheckDatabaseUrlScheme(const std::string& url);

// Opens the database named by `url`:
//   "postgresql://user:pass@host:port/db" (or "postgres://…") → PostgreSQL,
//   "sqlite:///path/to/file.db" or a plain path                → SQLite.
// Applies the schema migrations before returning (serialised across
// processes, so nodes that start together do not race).
Result<std::unique_ptr<Database>> OpenDatabase(const std::string& url);

}  // namespace vidmill::storage
